/**
 * HTML tables of the backtest report (report_html.ts): key metrics vs the buy-and-hold and flat
 * benchmarks, run facts, the monthly-returns heatmap, the trades table (first 500 rows) and the
 * run parameters. Every text that comes from data (symbols, reasons, parameter names/values) is
 * HTML-escaped. Times are printed in UTC.
 */
import type { MonthlyReturns, ReportInput } from "./report_html.ts";

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESC[c]);
}
const ESC: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Rows shown in the trades table; the rest is noted (trades.csv has them all). */
export const MAX_TRADE_ROWS = 500;

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

const dash = "–";
/** Percent of a fraction; returns carry a sign, levels (drawdown, win rate) do not. */
const pct = (x: number | null | undefined, d = 2, signed = true) =>
  x === null || x === undefined || !Number.isFinite(x)
    ? dash
    : `${signed && x > 0 ? "+" : ""}${(x * 100).toFixed(d)}%`;
const level = (x: number | null | undefined, d = 2) => pct(x, d, false);
const num = (x: number | null | undefined, d = 2) =>
  x === null || x === undefined || !Number.isFinite(x)
    ? dash
    : x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
/** Price with ~6 significant digits (2 … 8 decimals). */
const price = (x: number) =>
  Number.isFinite(x) && x !== 0
    ? num(x, Math.min(8, Math.max(2, 5 - Math.floor(Math.log10(Math.abs(x))))))
    : num(x);
const utc = (ts: number) =>
  Number.isFinite(ts) ? new Date(ts).toISOString().slice(0, 16).replace("T", " ") : dash;
/** Duration as "2d 3h", "4h 05m", "12m 30s". */
export function fmtDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return dash;
  const s = Math.round(ms / 1000);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${String(m).padStart(2, "0")}m`;
  return `${m}m ${String(s % 60).padStart(2, "0")}s`;
}
const signCls = (x: number) => x > 0 ? "pos" : x < 0 ? "neg" : "";

/** Max drawdown (fraction) of a curve, nulls skipped. */
function maxDrawdown(curve: readonly (number | null)[]): number | null {
  let peak = -Infinity;
  let dd = 0;
  let any = false;
  for (const v of curve) {
    if (v === null) continue;
    any = true;
    if (v > peak) peak = v;
    else if (peak > 0) dd = Math.max(dd, 1 - v / peak);
  }
  return any ? dd : null;
}

const row = (cells: string[], head = false) =>
  `<tr>${cells.map((c, i) => head || i === 0 ? `<th>${c}</th>` : `<td>${c}</td>`).join("")}</tr>`;

export interface TableInputs {
  input: ReportInput;
  monthly: MonthlyReturns;
  /** Buy-and-hold equity at every sample of the full equity curve (USDT), for its drawdown. */
  bhCurve: readonly (number | null)[];
}

/** All tables as HTML fragments. */
export function renderTables(
  t: TableInputs,
): { summary: string; monthly: string; trades: string; params: string } {
  return {
    summary: summaryTables(t),
    monthly: monthlyTable(t.monthly),
    trades: tradesTable(t.input),
    params: paramsTable(t.input.params),
  };
}

function summaryTables({ input, bhCurve }: TableInputs): string {
  const m = input.metrics;
  const r = input.result;
  const e0 = m.initialEquity;
  const bh = m.benchmarkBuyAndHoldReturn;
  const bench = [
    row(["", "Strategy", "Buy &amp; hold", "Flat"], true),
    row(["Total return", pct(m.totalReturn), pct(bh), pct(m.benchmarkFlatReturn)]),
    row(["Final equity (USDT)", num(m.finalEquity), num(e0 * (1 + bh)), num(e0)]),
    row(["Excess return vs benchmark", dash, pct(m.totalReturn - bh), pct(m.totalReturn)]),
    row(["Max drawdown", level(m.maxDrawdown), level(maxDrawdown(bhCurve)), level(0)]),
  ];
  const stats: [string, string][] = [
    ["CAGR", pct(m.cagr)],
    ["Sharpe (annualized, rf 0)", num(m.sharpe)],
    ["Sortino", num(m.sortino)],
    ["Calmar", num(m.calmar)],
    ["Max drawdown duration", fmtDuration(m.maxDrawdownDurationMs)],
    ["Trades", String(m.trades)],
    ["Win rate", level(m.winRate, 1)],
    ["Profit factor", num(m.profitFactor)],
    ["Expectancy (USDT / trade)", num(m.expectancyUsdt)],
    ["Avg holding", fmtDuration(m.avgHoldingMs)],
    ["Longest win / loss streak", `${m.longestWinStreak} / ${m.longestLossStreak}`],
    ["Exposure (time in market)", level(m.exposure, 1)],
    ["Turnover (× initial)", num(m.turnover)],
    ["Fees (USDT)", num(m.totalFees)],
    ["Slippage vs mid (USDT)", num(m.totalSlippage)],
    ["Funding received (USDT)", num(m.totalFunding)],
    ["Realized PnL (USDT)", num(m.totalRealizedPnl)],
  ];
  const facts: [string, string][] = [
    ["Strategy", escapeHtml(r.strategy)],
    ["Period (UTC)", `${utc(r.startTs)} → ${utc(r.endTs)}`],
    ["Span", fmtDuration(m.spanMs)],
    ["Initial balance (USDT)", num(r.initialBalance)],
    [
      "Equity samples",
      `${r.equity.length.toLocaleString("en-US")} every ${fmtDuration(r.sampleMs)}`,
    ],
    ["Market events", r.events.toLocaleString("en-US")],
    ["Fills", r.fills.length.toLocaleString("en-US")],
    ["Rejected orders", String(r.rejections.length)],
    ["Blocked in gaps", String(r.blockedIntents)],
    ["Liquidations", String(r.liquidations.length)],
    ["Open positions at end", String(r.finalPositions.length)],
  ];
  const kv = (rows: [string, string][]) => rows.map(([k, v]) => row([k, v])).join("");
  return `<div class="grid">
<table class="metrics"><caption>vs benchmarks</caption>${bench.join("")}</table>
<table class="metrics"><caption>Strategy statistics</caption>${kv(stats)}</table>
<table class="metrics"><caption>Run</caption>${kv(facts)}</table>
</div>
<p class="note">Buy &amp; hold: equal-weight long of every symbol from its first to its last book mid
(drawdown from bar closes, no costs). Flat: no trades. Trade statistics use net PnL after fees and
funding.</p>`;
}

function monthlyTable({ months, years }: MonthlyReturns): string {
  if (months.length === 0) return `<p class="empty">No equity samples.</p>`;
  let maxAbs = 0;
  for (const m of months) maxAbs = Math.max(maxAbs, Math.abs(m.ret));
  const cell = (x: number | undefined) => {
    if (x === undefined) return `<td class="na"></td>`;
    const a = maxAbs > 0 ? 0.12 + 0.68 * Math.abs(x) / maxAbs : 0;
    const bg = x > 0
      ? `rgba(38,166,154,${a.toFixed(3)})`
      : x < 0
      ? `rgba(239,83,80,${a.toFixed(3)})`
      : "transparent";
    return `<td style="background:${bg}">${pct(x)}</td>`;
  };
  const rows = years.map((y) => {
    const byMonth = new Map(months.filter((m) => m.year === y.year).map((m) => [m.month, m.ret]));
    return `<tr><th>${y.year}</th>${
      MONTHS.map((_, i) => cell(byMonth.get(i + 1))).join("")
    }<td class="year ${signCls(y.ret)}">${pct(y.ret)}</td></tr>`;
  });
  return `<table class="heat">${row(["Year", ...MONTHS, "Year"], true)}${rows.join("")}</table>
<p class="note">Compounded from the equity curve: a month's return is its last equity over the
previous month's last (the first month starts at the first sample); a year is the product of its
months. Partial months are included as they are.</p>`;
}

function tradesTable(input: ReportInput): string {
  const trades = input.trades;
  if (trades.length === 0) return `<p class="empty">No trades.</p>`;
  const head = row(
    [
      "#",
      "Symbol",
      "Side",
      "Entry (UTC)",
      "Entry price",
      "Exit (UTC)",
      "Exit price",
      "Size",
      "Notional",
      "Fees",
      "Funding",
      "Net PnL",
      "Return",
      "Holding",
      "Exit reason",
    ],
    true,
  );
  const shown = trades.slice(0, MAX_TRADE_ROWS);
  const body = shown.map((t, i) =>
    `<tr><td>${i + 1}</td><td>${escapeHtml(t.symbol)}</td><td class="${
      t.side === "long" ? "pos" : "neg"
    }">${t.side}</td><td>${utc(t.entryTs)}</td><td>${price(t.entryPrice)}</td><td>${
      utc(t.exitTs)
    }</td><td>${price(t.exitPrice)}</td><td>${Number(t.size.toPrecision(10))}</td><td>${
      num(t.notional)
    }</td><td>${num(t.fees)}</td><td>${num(t.funding)}</td><td class="${signCls(t.netPnl)}">${
      num(t.netPnl)
    }</td><td>${pct(t.notional > 0 ? t.netPnl / t.notional : null)}</td><td>${
      fmtDuration(t.exitTs - t.entryTs)
    }</td><td>${escapeHtml(t.exitReason)}</td></tr>`
  );
  const note = trades.length > MAX_TRADE_ROWS
    ? `<p class="note truncated">Showing the first ${MAX_TRADE_ROWS} of ${
      trades.length.toLocaleString(
        "en-US",
      )
    } trades (all are in trades.csv).</p>`
    : `<p class="note">${trades.length} trades. Return = net PnL / entry notional.</p>`;
  return `${note}<div class="scroll"><table class="trades">${head}${body.join("")}</table></div>`;
}

function paramsTable(params: ReportInput["params"]): string {
  const keys = Object.keys(params);
  if (keys.length === 0) return `<p class="empty">No parameters recorded.</p>`;
  return `<table class="params">${
    keys.map((k) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(String(params[k]))}</td></tr>`)
      .join("")
  }</table>`;
}
