/**
 * Self-contained HTML backtest report: one file that opens offline (no network, no external
 * files). Charts are drawn in the page by TradingView Lightweight Charts™ (Apache-2.0), whose
 * standalone production bundle is inlined. It is imported as text so `deno bundle` and
 * `deno compile` embed it in the module graph: the report needs no node_modules at run time.
 *
 * Page: key metrics vs buy-and-hold / flat, per-symbol candlesticks with entry/exit markers,
 * equity with a drawdown pane, a trade net-PnL histogram, a monthly-returns heatmap, the trades
 * table (first 500 rows) and the run parameters. All times UTC. Large inputs are downsampled
 * (price bars and equity to ≤ 5,000 points each) so a month of 1 m bars stays near 1 MB.
 * The page's script and self-check (writes `<pre id="render-check">`) live in report_page.ts.
 */
import lwcSource from "../../node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js" with {
  type: "text",
};
import type { Metrics } from "./metrics.ts";
import { escapeHtml, renderTables } from "./report_tables.ts";
import { PAGE_CSS, PAGE_SCRIPT, PRE_SCRIPT } from "./report_page.ts";
import type { BacktestResult, EquityPoint } from "./runner.ts";
import type { RoundTrip } from "./trades.ts";

/** One OHLC price bar: `ts` is the bar start (epoch ms UTC), prices USDT. */
export interface PriceBar {
  ts: number;
  open: number;
  high: number;
  low: number;
  close: number;
}

export interface ReportInput {
  /** Page title, e.g. "regime · BTCUSDT, ETHUSDT · 2025-05-04 → 2025-06-03". */
  title: string;
  /** Equity curve and fills. */
  result: BacktestResult;
  trades: readonly RoundTrip[];
  metrics: Metrics;
  /** Price bars per symbol for the price panes (bar start ts ms, USDT), ascending by ts. */
  prices: Record<string, PriceBar[]>;
  /** Run parameters shown in a table (strategy, config values, data source). */
  params: Record<string, string | number | boolean>;
}

/** Caps that keep the page responsive (points drawn per chart, markers per symbol). */
export const MAX_PRICE_BARS = 5_000;
export const MAX_EQUITY_POINTS = 5_000;
export const MAX_MARKERS_PER_SYMBOL = 2_000;

/** Bucket widths tried by downsampleOhlc, smallest first (ms). */
const BUCKETS_MS = [1, 5, 15, 30, 60, 180, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200]
  .map((s) => s * 1000).concat([1, 3, 7, 30].map((d) => d * 86_400_000));

/**
 * Aggregates bars into time-aligned buckets (bucket start = floor(ts / width) · width, UTC) so
 * at most `maxBars` remain: open = first open, close = last close, high = max, low = min. The
 * width is the smallest of 1 s … 30 d that is ≥ the mean input spacing and yields ≤ maxBars
 * buckets over the span (else span / (maxBars − 2)); inputs within the cap are returned as a copy. Returns the bars and the
 * width used (ms, 0 when not aggregated). Throws RangeError when ts is not strictly ascending.
 */
export function downsampleOhlc(
  bars: readonly PriceBar[],
  maxBars = MAX_PRICE_BARS,
): { bars: PriceBar[]; widthMs: number } {
  if (!(maxBars >= 3)) throw new RangeError(`maxBars must be ≥ 3, got ${maxBars}`);
  for (let i = 1; i < bars.length; i++) {
    if (!(bars[i].ts > bars[i - 1].ts)) {
      throw new RangeError(
        `price bars must be strictly ascending by ts: bar ${i} ts ${bars[i].ts} after ${
          bars[i - 1].ts
        }`,
      );
    }
  }
  if (bars.length <= maxBars) return { bars: bars.map((b) => ({ ...b })), widthMs: 0 };
  const span = bars[bars.length - 1].ts - bars[0].ts;
  const step = (span / (bars.length - 1)) || 1;
  // Aligned buckets over a span cut at most ⌊span / width⌋ + 2 of them (both ends partial),
  // so this bound keeps the cap whatever the alignment.
  let width = BUCKETS_MS.find((w) => w >= step && Math.floor(span / w) + 2 <= maxBars);
  if (width === undefined) width = Math.ceil(span / (maxBars - 2)) || 1;
  const out: PriceBar[] = [];
  let cur: PriceBar | undefined;
  for (const b of bars) {
    const start = Math.floor(b.ts / width) * width;
    if (cur && cur.ts === start) {
      if (b.high > cur.high) cur.high = b.high;
      if (b.low < cur.low) cur.low = b.low;
      cur.close = b.close;
    } else {
      cur = { ts: start, open: b.open, high: b.high, low: b.low, close: b.close };
      out.push(cur);
    }
  }
  return { bars: out, widthMs: width };
}

/** An equity sample with its drawdown from the running peak of the full curve (fraction ≥ 0). */
export interface EquityDdPoint {
  ts: number;
  equity: number;
  drawdown: number;
}

/**
 * Reduces an equity curve to ≤ `maxPoints` (≥ 4) points. Drawdown is computed on the full curve
 * first (1 − E_t / max_{s≤t} E_s), then the curve is cut into ⌊(maxPoints − 2) / 2⌋ equal-count
 * buckets and each keeps its lowest and highest equity point in time order, plus the first and
 * last points. The peak and trough that define the maximum drawdown are each the max / min of
 * their bucket, so the maximum drawdown of the output equals that of the input exactly.
 */
export function downsampleEquity(
  equity: readonly EquityPoint[],
  maxPoints = MAX_EQUITY_POINTS,
): EquityDdPoint[] {
  if (maxPoints < 4) throw new RangeError(`maxPoints must be ≥ 4, got ${maxPoints}`);
  const full: EquityDdPoint[] = new Array(equity.length);
  let peak = -Infinity;
  for (let i = 0; i < equity.length; i++) {
    const e = equity[i].equity;
    if (e > peak) peak = e;
    full[i] = { ts: equity[i].ts, equity: e, drawdown: peak > 0 ? 1 - e / peak : 0 };
  }
  if (full.length <= maxPoints) return full;
  const buckets = Math.floor((maxPoints - 2) / 2);
  const size = Math.ceil((full.length - 2) / buckets);
  const out: EquityDdPoint[] = [full[0]];
  for (let s = 1; s < full.length - 1; s += size) {
    const end = Math.min(s + size, full.length - 1);
    let lo = s;
    let hi = s;
    for (let i = s + 1; i < end; i++) {
      if (full[i].equity < full[lo].equity) lo = i;
      if (full[i].equity > full[hi].equity) hi = i;
    }
    if (lo === hi) out.push(full[lo]);
    else if (lo < hi) out.push(full[lo], full[hi]);
    else out.push(full[hi], full[lo]);
  }
  out.push(full[full.length - 1]);
  return out;
}

/** Compounded monthly returns (calendar months, UTC) and their yearly products. */
export interface MonthlyReturns {
  /** month 1–12; ret = E(last sample of month) / E(last sample before the month) − 1. */
  months: { year: number; month: number; ret: number }[];
  /** ret = Π (1 + monthly ret) − 1 over that year's months in the curve. */
  years: { year: number; ret: number }[];
}

/**
 * Monthly returns from an equity curve (ts ascending, ms). The first month is measured from the
 * first sample. Months without samples are absent (not 0). Throws RangeError on a non-positive
 * equity base (returns undefined).
 */
export function monthlyReturns(equity: readonly { ts: number; equity: number }[]): MonthlyReturns {
  const months: MonthlyReturns["months"] = [];
  if (equity.length === 0) return { months, years: [] };
  let base = equity[0].equity;
  let key = -1;
  let last = base;
  const close = () => {
    if (!(base > 0)) throw new RangeError(`equity base ${base} USDT: returns undefined`);
    months.push({ year: Math.floor(key / 12), month: (key % 12) + 1, ret: last / base - 1 });
    base = last;
  };
  for (const p of equity) {
    const d = new Date(p.ts);
    const k = d.getUTCFullYear() * 12 + d.getUTCMonth();
    if (k !== key && key !== -1) close();
    key = k;
    last = p.equity;
  }
  close();
  const years: MonthlyReturns["years"] = [];
  for (const m of months) {
    const y = years.at(-1);
    if (y && y.year === m.year) y.ret = (1 + y.ret) * (1 + m.ret) - 1;
    else years.push({ year: m.year, ret: m.ret });
  }
  return { months, years };
}

/**
 * Histogram of values (trade net PnL, USDT) with about √n bins (5 … 40) whose edges are
 * multiples of the bin width, so no bin straddles zero. Returns bin [lo, hi) ranges (the top
 * bin includes its upper edge) and counts, empty bins included; [] for no values.
 */
export function histogram(values: readonly number[]): { lo: number; hi: number; count: number }[] {
  const xs = values.filter(Number.isFinite);
  if (xs.length === 0) return [];
  let min = Infinity;
  let max = -Infinity;
  for (const x of xs) {
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const target = Math.min(40, Math.max(5, Math.ceil(Math.sqrt(xs.length))));
  const w = max > min ? (max - min) / target : Math.max(Math.abs(min) * 0.01, 1e-9);
  const k0 = Math.floor(min / w);
  const n = Math.max(1, Math.floor(max / w) - k0 + 1);
  const out = Array.from(
    { length: n },
    (_, i) => ({ lo: (k0 + i) * w, hi: (k0 + i + 1) * w, count: 0 }),
  );
  for (const x of xs) out[Math.min(n - 1, Math.floor(x / w) - k0)].count++;
  return out;
}

/** JSON safe inside a <script> element: "<" is escaped so no "</script>" or "<!--" can occur. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(
    /\u2029/g,
    "\\u2029",
  );
}

const round = (x: number, d: number) => Number(x.toFixed(d));
/** Decimals that show ~6 significant digits of the smallest price, 2 … 8. */
function priceDecimals(bars: readonly PriceBar[]): number {
  let min = Infinity;
  for (const b of bars) if (b.low > 0 && b.low < min) min = b.low;
  if (!Number.isFinite(min)) return 2;
  return Math.min(8, Math.max(2, 5 - Math.floor(Math.log10(min))));
}

/** Start of the bar containing ts (binary search over bar starts); the first bar before all. */
function barAt(bars: readonly PriceBar[], ts: number): number {
  let lo = 0;
  let hi = bars.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (bars[mid].ts <= ts) lo = mid;
    else hi = mid - 1;
  }
  return bars[lo].ts;
}

export { escapeHtml };

/**
 * The library's attribution notice (its Apache-2.0 licence asks for it plus a link to
 * https://www.tradingview.com/ on the page): the lines of the bundle's `@license` header.
 */
const LWC_NOTICE = (lwcSource.match(/@license([\s\S]*?)\*\//)?.[1] ?? "")
  .split("\n").map((l) => l.replace(/^\s*\*\s?/, "").trim()).filter((l) => l.length > 0);

const BUY = "#26a69a";
const SELL = "#ef5350";
const OPEN_END = "#787b86";

interface Marker {
  time: number;
  position: "aboveBar" | "belowBar";
  shape: "arrowUp" | "arrowDown";
  color: string;
  text?: string;
}

/**
 * Entry and exit markers of one symbol, snapped to the (downsampled) bar containing the fill:
 * buys are green up-arrows below the bar, sells red down-arrows above; exits carry the exit
 * reason; trades still open at the end get a grey exit marker.
 */
function markersFor(trades: readonly RoundTrip[], bars: readonly PriceBar[]): Marker[] {
  const out: Marker[] = [];
  const mk = (ts: number, buy: boolean, color: string, text?: string): Marker => ({
    time: barAt(bars, ts) / 1000,
    position: buy ? "belowBar" : "aboveBar",
    shape: buy ? "arrowUp" : "arrowDown",
    color,
    ...(text === undefined ? {} : { text }),
  });
  for (const t of trades) {
    const long = t.side === "long";
    out.push(mk(t.entryTs, long, long ? BUY : SELL));
    if (Number.isFinite(t.exitTs)) {
      const open = t.exitReason === "open_at_end";
      out.push(mk(t.exitTs, !long, open ? OPEN_END : long ? SELL : BUY, t.exitReason));
    }
  }
  return out.sort((a, b) => a.time - b.time);
}

/** Buy-and-hold equity (equal weight, bar closes, no costs) at each ts, starting at `e0`. */
function buyAndHoldCurve(
  prices: Record<string, PriceBar[]>,
  ts: readonly number[],
  e0: number,
): (number | null)[] {
  const syms = Object.keys(prices).filter((s) => prices[s].length > 0);
  if (syms.length === 0) return ts.map(() => null);
  const idx = syms.map(() => 0);
  return ts.map((t) => {
    let sum = 0;
    for (let k = 0; k < syms.length; k++) {
      const b = prices[syms[k]];
      while (idx[k] + 1 < b.length && b[idx[k] + 1].ts <= t) idx[k]++;
      sum += b[idx[k]].close / b[0].close - 1;
    }
    return round(e0 * (1 + sum / syms.length), 4);
  });
}

const fmtWidth = (ms: number) =>
  ms % 86_400_000 === 0
    ? `${ms / 86_400_000}d`
    : ms % 3_600_000 === 0
    ? `${ms / 3_600_000}h`
    : ms % 60_000 === 0
    ? `${ms / 60_000}m`
    : `${ms / 1000}s`;

/**
 * Renders the report page (see module doc). Throws RangeError on an empty equity curve or price
 * bars that are not strictly ascending (message names the symbol).
 */
export function renderReportHtml(input: ReportInput): string {
  const { result, trades } = input;
  if (result.equity.length === 0) throw new RangeError("report: the equity curve is empty");
  const symbols = Object.keys(input.prices).sort();
  const charts = symbols.map((symbol) => {
    let ds: ReturnType<typeof downsampleOhlc>;
    try {
      ds = downsampleOhlc(input.prices[symbol]);
    } catch (e) {
      throw new RangeError(`report: ${symbol}: ${(e as Error).message}`);
    }
    const mine = trades.filter((t) => t.symbol === symbol);
    const all = ds.bars.length ? markersFor(mine, ds.bars) : [];
    const d = priceDecimals(ds.bars);
    return {
      symbol,
      precision: d,
      sourceBars: input.prices[symbol].length,
      aggregatedTo: ds.widthMs ? fmtWidth(ds.widthMs) : null,
      bars: ds.bars.map((b) => [b.ts / 1000, b.open, b.high, b.low, b.close]),
      markers: all.slice(0, MAX_MARKERS_PER_SYMBOL),
      markersDropped: Math.max(0, all.length - MAX_MARKERS_PER_SYMBOL),
    };
  });
  const eq = downsampleEquity(result.equity);
  const bh = buyAndHoldCurve(input.prices, eq.map((p) => p.ts), result.initialBalance);
  // Chart times are whole seconds and must be strictly ascending: keep the last per second.
  const equityRows: (number | null)[][] = [];
  for (let i = 0; i < eq.length; i++) {
    const row = [
      Math.floor(eq[i].ts / 1000),
      round(eq[i].equity, 4),
      -round(eq[i].drawdown * 100, 4),
      bh[i],
    ];
    if (equityRows.length && equityRows[equityRows.length - 1][0] === row[0]) equityRows.pop();
    equityRows.push(row);
  }
  const hist = histogram(trades.map((t) => t.netPnl));
  const data = {
    symbols: charts,
    equity: equityRows,
    hist: hist.map((b) => [round((b.lo + b.hi) / 2, 6), b.count]),
    histWidth: hist.length ? hist[0].hi - hist[0].lo : 0,
    colors: { buy: BUY, sell: SELL },
  };
  const monthly = monthlyReturns(result.equity);
  const bhFull = buyAndHoldCurve(
    input.prices,
    result.equity.map((p) => p.ts),
    result.initialBalance,
  );
  const tables = renderTables({ input, monthly, bhCurve: bhFull });
  const title = escapeHtml(input.title);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${PAGE_CSS}</style>
<script>${PRE_SCRIPT}</script>
</head>
<body>
<h1>${title}</h1>
${tables.summary}
<h2>Prices and trades</h2>
${
    charts.map((c, i) =>
      `<h3>${escapeHtml(c.symbol)} <span class="note">${c.sourceBars.toLocaleString("en-US")} bars${
        c.aggregatedTo ? `, drawn as ${c.aggregatedTo} OHLC` : ""
      }${c.markersDropped ? `; first ${MAX_MARKERS_PER_SYMBOL} markers shown` : ""}</span></h3>` +
      (c.bars.length
        ? `<div class="pricebox"><div class="hover note">&nbsp;</div>` +
          `<div class="chart price" data-chart="price-${i}" data-symbol="${
            escapeHtml(c.symbol)
          }"></div></div>`
        : `<p class="empty">No price bars for this symbol.</p>`)
    ).join("\n")
  }
<h2>Equity and drawdown</h2>
<p class="note">Equity (USDT, line), buy &amp; hold of the same symbols (equal weight, bar closes, no
costs, dashed); lower pane: drawdown below the running peak (%).</p>
<div class="chart equity" data-chart="equity"></div>
<h2>Trade net PnL distribution</h2>
${
    hist.length
      ? `<p class="note">${trades.length} trades; net PnL after fees and funding (USDT), bins of ${
        Number(data.histWidth.toPrecision(4))
      } USDT (label = bin centre).</p>\n<div class="chart pnl" data-chart="pnl"></div>`
      : `<p class="empty">No trades: nothing to distribute.</p>`
  }
<h2>Monthly returns</h2>
${tables.monthly}
<h2>Trades</h2>
${tables.trades}
<h2>Parameters</h2>
${tables.params}
<h2>Render check</h2>
<pre id="render-check">pending</pre>
<footer>
<p>Charts: ${LWC_NOTICE.map(escapeHtml).join(" · ")} ·
<a href="https://www.tradingview.com/">https://www.tradingview.com/</a>. Lightweight Charts
incorporates parts of tslib (c) Microsoft Corporation (BSD Zero Clause License). All times UTC.</p>
</footer>
<script>${lwcSource.replace(/<\/script/gi, "<\\/script")}</script>
<script type="application/json" id="report-data">${scriptJson(data)}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

/** Renders and writes the report to `path` (parent folders created). Throws Deno.errors.*. */
export async function writeReportHtml(path: string, input: ReportInput): Promise<void> {
  const html = renderReportHtml(input);
  const slash = path.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
  await Deno.writeTextFile(path, html);
}
