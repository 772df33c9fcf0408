/**
 * Historical download: pages Bitget `history-candles` (≤ 200 rows and ≤ 90 days per request,
 * API.md §4.9) and `history-fund-rate` (pageSize ≤ 100, newest first, §4.7) into a HistoryStore.
 *
 * Resumable: candles restart after the newest stored bar (`lastCandleTs`). Funding history is
 * small (3 rows a day) and is re-read from the newest page down to `from`; the store is expected to
 * upsert by (symbol, time). Rate limits are the REST client's (token bucket per endpoint).
 */
import type { ContractSpec } from "../market/contracts.ts";
import type { CandleEvent, FundingEvent } from "../market/events.ts";
import type { BitgetPublicRest } from "./rest_public.ts";

/** What the download needs from the database (implemented by the store). */
export interface HistoryStore {
  /** Start time (epoch ms) of the newest stored candle for (symbol, interval), or null. */
  lastCandleTs(symbol: string, interval: string): number | null;
  /** Upserts candles (one symbol and interval per call, ascending). */
  writeCandles(events: CandleEvent[]): void;
  /** Upserts settled funding rates. */
  writeFunding(events: FundingEvent[]): void;
  /** Upserts contract specs with the exchange's raw `data[]` entries (API.md §4.1). */
  writeContracts(specs: ContractSpec[], raw: Record<string, unknown>[]): void;
}

/** Candle intervals the download supports: label → [Bitget granularity, bar length in ms]. */
export const CANDLE_INTERVALS: Record<string, [granularity: string, ms: number]> = {
  "1m": ["1m", 60_000],
  "3m": ["3m", 180_000],
  "5m": ["5m", 300_000],
  "15m": ["15m", 900_000],
  "30m": ["30m", 1_800_000],
  "1h": ["1H", 3_600_000],
  "4h": ["4H", 14_400_000],
};

/** Rows per history-candles request (API.md §4.9). */
export const CANDLE_PAGE_ROWS = 200;
/** Longest span per history-candles request (API.md §4.9). */
export const MAX_SPAN_MS = 90 * 86_400_000;
/** history-fund-rate page size (API.md §4.7). */
export const FUNDING_PAGE_SIZE = 100;
/** Safety bound on funding pages (100 rows × 1000 pages ≫ any listing history). */
const MAX_FUNDING_PAGES = 1000;

export interface DownloadResult {
  symbol: string;
  what: string;
  rows: number;
  requests: number;
  /** First and last row time written (epoch ms), null when nothing was written. */
  firstTs: number | null;
  lastTs: number | null;
}

export type Progress = (line: string) => void;

const iso = (t: number) => new Date(t).toISOString().replace(".000Z", "Z");

/**
 * Stores the current contract specs of `symbols` from REST `contracts` (one request for the whole
 * USDT-FUTURES product type, API.md §4.1), so a backtest on the downloaded candles uses today's
 * tick size, lot size and fees. A symbol the exchange does not list is named in a progress line
 * (its candle requests then fail with Bitget's own error). Throws BitgetRestError.
 */
export async function downloadContracts(
  rest: BitgetPublicRest,
  store: HistoryStore,
  symbols: string[],
  progress: Progress = () => {},
): Promise<DownloadResult> {
  const all = await rest.contracts();
  const want = new Set(symbols);
  const specs = all.specs.filter((c) => want.has(c.symbol));
  const raw = all.raw.filter((r) => want.has(String(r.symbol)));
  store.writeContracts(specs, raw);
  const missing = symbols.filter((s) => !specs.some((c) => c.symbol === s));
  if (missing.length > 0) {
    progress(`contracts: ${missing.join(", ")} not listed by the exchange (USDT-FUTURES)`);
  }
  return {
    symbol: specs.map((c) => c.symbol).join(","),
    what: "contracts",
    rows: specs.length,
    requests: 1,
    firstTs: null,
    lastTs: null,
  };
}

/**
 * Downloads completed candles of one symbol and interval for [from, to) (epoch ms). Starts after
 * the newest stored bar when that is later than `from`. `now` bounds `to` to completed bars.
 * Throws RangeError for an unknown interval and BitgetRestError when a request fails after retries
 * (everything written before stays written, so a rerun resumes).
 */
export async function downloadCandles(
  rest: BitgetPublicRest,
  store: HistoryStore,
  symbol: string,
  interval: string,
  from: number,
  to: number,
  progress: Progress = () => {},
  now = Date.now(),
  onFraction: (done: number) => void = () => {},
): Promise<DownloadResult> {
  const spec = CANDLE_INTERVALS[interval];
  if (!spec) {
    throw new RangeError(
      `unknown interval "${interval}": expected one of ${Object.keys(CANDLE_INTERVALS).join(", ")}`,
    );
  }
  const [granularity, iv] = spec;
  const res: DownloadResult = {
    symbol,
    what: `candles ${interval}`,
    rows: 0,
    requests: 0,
    firstTs: null,
    lastTs: null,
  };
  let start = Math.ceil(from / iv) * iv;
  const last = store.lastCandleTs(symbol, interval);
  if (last !== null && last + iv > start) start = last + iv;
  // Only completed bars: the bar starting at floor(now/iv)·iv is still forming.
  const end = Math.min(Math.floor(to / iv) * iv, Math.floor(now / iv) * iv);
  const total = Math.max(1, end - start);
  const first = start;
  let lastPrint = 0;
  while (start < end) {
    // Window [start, start + 199 bars]: ≤ 200 bars whether Bitget reads endTime as inclusive or
    // exclusive (exclusive just yields 199 and the next page starts one bar earlier).
    const pageEnd = Math.min(end, start + (CANDLE_PAGE_ROWS - 1) * iv, start + MAX_SPAN_MS);
    const rows = await rest.historyCandles({
      symbol,
      granularity,
      interval,
      startTime: start,
      endTime: pageEnd,
      limit: CANDLE_PAGE_ROWS,
    });
    res.requests++;
    const fresh = rows.filter((r) => r.ts >= start && r.ts < end);
    if (fresh.length > 0) {
      store.writeCandles(fresh);
      res.rows += fresh.length;
      res.firstTs ??= fresh[0].ts;
      res.lastTs = fresh[fresh.length - 1].ts;
      start = res.lastTs + iv;
    } else {
      start = pageEnd; // nothing in this window (before listing, or an exchange outage)
    }
    onFraction(Math.min(1, (start - first) / total));
    const t = performance.now();
    if (t - lastPrint >= 1000 || start >= end) {
      lastPrint = t;
      const pct = Math.min(100, ((start - first) / total) * 100).toFixed(1);
      progress(
        `${symbol} ${interval} ${iso(Math.min(start, end))} ${pct}% rows=${res.rows} ` +
          `requests=${res.requests}`,
      );
    }
  }
  if (res.requests === 0) progress(`${symbol} ${interval} up to date (nothing before ${iso(end)})`);
  return res;
}

/**
 * Downloads settled funding rates of one symbol with fundingTime in [from, to) (epoch ms),
 * paging newest → oldest until a page reaches back before `from` or runs out.
 */
export async function downloadFunding(
  rest: BitgetPublicRest,
  store: HistoryStore,
  symbol: string,
  from: number,
  to: number,
  progress: Progress = () => {},
): Promise<DownloadResult> {
  const res: DownloadResult = {
    symbol,
    what: "funding",
    rows: 0,
    requests: 0,
    firstTs: null,
    lastTs: null,
  };
  let prevFirst: number | null = null;
  for (let pageNo = 1; pageNo <= MAX_FUNDING_PAGES; pageNo++) {
    const page = await rest.historyFundRate({ symbol, pageSize: FUNDING_PAGE_SIZE, pageNo });
    res.requests++;
    if (page.length === 0) break;
    // A server that ignores pageNo would return the same page forever.
    if (prevFirst !== null && page[0].ts === prevFirst) break;
    prevFirst = page[0].ts;
    const fresh = page.filter((r) => r.ts >= from && r.ts < to).sort((a, b) => a.ts - b.ts);
    if (fresh.length > 0) {
      store.writeFunding(fresh);
      res.rows += fresh.length;
      res.firstTs = res.firstTs === null ? fresh[0].ts : Math.min(res.firstTs, fresh[0].ts);
      res.lastTs = Math.max(res.lastTs ?? -Infinity, fresh[fresh.length - 1].ts);
    }
    const oldest = Math.min(...page.map((r) => r.ts));
    progress(`${symbol} funding page ${pageNo} back to ${iso(oldest)} rows=${res.rows}`);
    if (oldest < from || page.length < FUNDING_PAGE_SIZE) break;
  }
  return res;
}

export interface DownloadPlan {
  symbols: string[];
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
  intervals: string[];
  funding: boolean;
}

/** Runs the whole plan symbol by symbol; returns one result per (symbol, dataset). */
export async function downloadHistory(
  rest: BitgetPublicRest,
  store: HistoryStore,
  plan: DownloadPlan,
  progress: Progress = () => {},
  now = Date.now(),
  onFraction: (done: number) => void = () => {},
): Promise<DownloadResult[]> {
  const out: DownloadResult[] = [await downloadContracts(rest, store, plan.symbols, progress)];
  // Whole-run fraction: each (symbol, interval) candle task and each funding task is one share.
  const tasks = plan.symbols.length * (plan.intervals.length + (plan.funding ? 1 : 0));
  let finished = 0;
  const share = (f: number) => onFraction((finished + f) / tasks);
  for (const symbol of plan.symbols) {
    for (const interval of plan.intervals) {
      out.push(
        await downloadCandles(
          rest,
          store,
          symbol,
          interval,
          plan.from,
          plan.to,
          progress,
          now,
          share,
        ),
      );
      share(1);
      finished++;
    }
    if (plan.funding) {
      out.push(await downloadFunding(rest, store, symbol, plan.from, plan.to, progress));
      share(1);
      finished++;
    }
  }
  return out;
}
