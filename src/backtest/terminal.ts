/**
 * Terminal output of a backtest: the summary table (strategy beside the buy-and-hold and flat
 * benchmarks) printed at the end, and a progress bar redrawn on stderr while replaying when
 * stderr is a TTY (nothing is drawn otherwise, so logs and pipes stay clean).
 */
import type { Metrics } from "./metrics.ts";

const pct = (x: number | null) =>
  x === null || !Number.isFinite(x) ? "—" : `${(x * 100).toFixed(2)} %`;
const num = (x: number | null, d = 2) => x === null || !Number.isFinite(x) ? "—" : x.toFixed(d);
const usdt = (x: number) => `${x.toFixed(2)} USDT`;

function dur(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return "—";
  const s = ms / 1000;
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} d`;
}

/**
 * The end-of-run summary as aligned text lines: headline metrics with the buy-and-hold and flat
 * benchmark returns beside the strategy's, then trade statistics and cost totals.
 */
export function formatSummary(title: string, m: Metrics): string {
  const rows: [string, string, string, string][] = [
    ["", "strategy", "buy & hold", "flat"],
    [
      "total return",
      pct(m.totalReturn),
      pct(m.benchmarkBuyAndHoldReturn),
      pct(m.benchmarkFlatReturn),
    ],
    ["final equity", usdt(m.finalEquity), "", usdt(m.initialEquity)],
  ];
  const single: [string, string][] = [
    ["CAGR", pct(m.cagr)],
    ["Sharpe / Sortino", `${num(m.sharpe)} / ${num(m.sortino)}`],
    ["Calmar", num(m.calmar)],
    ["max drawdown", `${pct(m.maxDrawdown)} over ${dur(m.maxDrawdownDurationMs)}`],
    ["trades", String(m.trades)],
    ["win rate", pct(m.winRate)],
    ["profit factor", num(m.profitFactor)],
    ["expectancy", m.expectancyUsdt === null ? "—" : usdt(m.expectancyUsdt)],
    ["avg holding", dur(m.avgHoldingMs)],
    ["exposure / turnover", `${pct(m.exposure)} / ${num(m.turnover)}×`],
    ["fees / slippage", `${usdt(m.totalFees)} / ${usdt(m.totalSlippage)}`],
    ["funding (net received)", usdt(m.totalFunding)],
    ["streaks win / loss", `${m.longestWinStreak} / ${m.longestLossStreak}`],
  ];
  const w = [24, 18, 14, 18];
  const line = (c: string[]) =>
    c.map((x, i) => i === 0 ? x.padEnd(w[0]) : x.padStart(w[i])).join(" ");
  const out = [title, "─".repeat(w.reduce((a, b) => a + b + 1, -1))];
  for (const r of rows) out.push(line(r));
  for (const [k, v] of single) out.push(line([k, v]));
  return out.join("\n");
}

/** A one-line progress bar on stderr, redrawn at most every 100 ms (TTY only). */
export class ProgressBar {
  private last = 0;
  private readonly started = performance.now();
  private readonly enc = new TextEncoder();
  readonly enabled: boolean;

  /** `from`/`to` bound the simulated time (ms) the bar spans. */
  constructor(private readonly from: number, private readonly to: number, enabled?: boolean) {
    this.enabled = enabled ?? Deno.stderr.isTerminal();
  }

  /** Redraws for simulated time `ts` (ms) after `events` events. */
  update(ts: number, events: number): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.last < 100) return;
    this.last = now;
    const f = Math.min(1, Math.max(0, (ts - this.from) / (this.to - this.from)));
    const width = 30;
    const done = Math.round(f * width);
    const rate = events / ((now - this.started) / 1000);
    const day = new Date(ts).toISOString().slice(0, 16).replace("T", " ");
    const text =
      `\r[${"#".repeat(done)}${"-".repeat(width - done)}] ${(f * 100).toFixed(0).padStart(3)} % ` +
      `${day} UTC  ${(events / 1e6).toFixed(2)} M events  ${(rate / 1e3).toFixed(0)} k ev/s `;
    Deno.stderr.writeSync(this.enc.encode(text));
  }

  /** Clears the line. */
  done(): void {
    if (this.enabled) Deno.stderr.writeSync(this.enc.encode("\r\x1b[2K"));
  }
}
