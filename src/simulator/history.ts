/**
 * History data behind the simulator's `history-candles` and `history-fund-rate` endpoints,
 * loaded from the CSV layouts of shared/data (MANIFEST.md):
 *
 * - candles: `open_time_ms,open_time_utc,open,high,low,close,volume` (volume in base coin);
 * - funding: `funding_time_ms,funding_time_utc,funding_rate` (rate as a ratio).
 *
 * Paging reproduces Bitget's v2 rules (API.md §4.7, §4.9; Bitget docs "Get Historical
 * Candlestick" / "Get Historical Funding Rates"):
 *
 * - history-candles returns bars whose start time lies in [startTime, endTime], ascending, at most
 *   `limit` (default 100, max 200) of them, and when more match it keeps the **latest** ones —
 *   Bitget aligns the window on endTime (ccxt's bitget.fetchOHLCV: "exchange aligns from endTime").
 *   A client pages backwards with endTime = first returned start − 1. endTime defaults to now;
 *   startTime − endTime over 90 days is an error.
 * - history-fund-rate returns settlements newest first, `pageSize` (default 20, max 100) per
 *   page, page `pageNo` (1-based).
 */

/** One candle row as Bitget's REST sends it: 7 decimal strings (API.md §4.8). */
export type CandleRow = [
  ts: string,
  open: string,
  high: string,
  low: string,
  close: string,
  baseVolume: string,
  quoteVolume: string,
];

/** Bitget REST granularities (API.md §4.8) → bar length in ms (months as 31 days: lookup only). */
export const GRANULARITY_MS: Record<string, number> = {
  "1m": 60_000,
  "3m": 180_000,
  "5m": 300_000,
  "15m": 900_000,
  "30m": 1_800_000,
  "1H": 3_600_000,
  "4H": 14_400_000,
  "6H": 21_600_000,
  "12H": 43_200_000,
  "1D": 86_400_000,
  "3D": 259_200_000,
  "1W": 604_800_000,
  "1M": 2_678_400_000,
  "6Hutc": 21_600_000,
  "12Hutc": 43_200_000,
  "1Dutc": 86_400_000,
  "3Dutc": 259_200_000,
  "1Wutc": 604_800_000,
  "1Mutc": 2_678_400_000,
};

/** Candles of one symbol and granularity, ascending by start time. */
export interface CandleSeries {
  symbol: string;
  granularity: string;
  startMs: Float64Array;
  rows: CandleRow[];
}

/** Funding settlements of one symbol, ascending by time. */
export interface FundingSeries {
  symbol: string;
  rows: { fundingTime: string; fundingRate: string; ms: number }[];
}

/** Thrown for an unreadable or malformed history CSV; names file and line. */
export class HistoryFileError extends Error {
  override name = "HistoryFileError";
}

async function readLines(path: string, header: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new HistoryFileError(`cannot read ${path}: ${(e as Error).message}`);
  }
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  if (lines[0]?.trim() !== header) {
    throw new HistoryFileError(`${path}:1: expected header "${header}", got "${lines[0] ?? ""}"`);
  }
  return lines;
}

const DECIMAL = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;

/** Strips trailing fractional zeros: "27000.50" → "27000.5", "1.000" → "1" (Bitget REST style). */
export function trimZeros(s: string): string {
  if (!s.includes(".")) return s;
  const t = s.replace(/0+$/, "");
  return t.endsWith(".") ? t.slice(0, -1) : t;
}

/**
 * A decimal string without exponent, shifted exactly on the digits (no float rounding):
 * "-1.3e-7" → "-0.00000013", "1.5e3" → "1500". Bitget sends plain decimals; the CSVs written by
 * Python/pandas may carry exponents. Other strings are returned unchanged.
 */
export function plainDecimal(s: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?[eE]([+-]?\d+)$/.exec(s);
  if (!m) return s;
  const [, sign, int, frac = "", exp] = m;
  let digits = int + frac;
  let point = int.length + Number(exp);
  if (point <= 0) {
    digits = "0".repeat(1 - point) + digits;
    point = 1;
  } else if (point > digits.length) {
    digits += "0".repeat(point - digits.length);
  }
  let out = digits.slice(0, point) + (point < digits.length ? "." + digits.slice(point) : "");
  out = trimZeros(out.replace(/^0+(?=\d)/, ""));
  return sign && /[1-9]/.test(out) ? "-" + out : out;
}

/** CSV decimal → Bitget REST string: plain notation, no trailing fractional zeros. */
function restDecimal(s: string): string {
  return trimZeros(plainDecimal(s));
}

/**
 * Loads a candle CSV. `quoteVolume` is not in the CSV and is derived as
 * volume × (high + low + close) / 3 (typical price), rounded to 4 decimals.
 * Throws HistoryFileError for a bad header, a non-numeric field, or unsorted/duplicate times.
 */
export async function loadCandleCsv(
  path: string,
  symbol: string,
  granularity: string,
): Promise<CandleSeries> {
  if (!(granularity in GRANULARITY_MS)) {
    throw new HistoryFileError(
      `${path}: unknown granularity "${granularity}" (expected one of ${
        Object.keys(GRANULARITY_MS).join(", ")
      })`,
    );
  }
  const lines = await readLines(path, "open_time_ms,open_time_utc,open,high,low,close,volume");
  const starts: number[] = [];
  const rows: CandleRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i].split(",");
    const where = `${path}:${i + 1}`;
    if (f.length !== 7) throw new HistoryFileError(`${where}: expected 7 fields, got ${f.length}`);
    const ms = Number(f[0]);
    if (!Number.isSafeInteger(ms)) {
      throw new HistoryFileError(`${where}: bad open_time_ms "${f[0]}"`);
    }
    for (let j = 2; j < 7; j++) {
      if (!DECIMAL.test(f[j])) {
        throw new HistoryFileError(`${where}: field ${j + 1} "${f[j]}" is not a decimal`);
      }
    }
    if (starts.length > 0 && ms <= starts[starts.length - 1]) {
      throw new HistoryFileError(`${where}: open_time_ms not strictly increasing`);
    }
    const typical = (Number(f[3]) + Number(f[4]) + Number(f[5])) / 3;
    const quote = trimZeros((Number(f[6]) * typical).toFixed(4));
    starts.push(ms);
    rows.push([
      f[0],
      restDecimal(f[2]),
      restDecimal(f[3]),
      restDecimal(f[4]),
      restDecimal(f[5]),
      restDecimal(f[6]),
      quote,
    ]);
  }
  return { symbol, granularity, startMs: Float64Array.from(starts), rows };
}

/** Loads a funding CSV. Throws HistoryFileError for a bad header, field, or unsorted times. */
export async function loadFundingCsv(path: string, symbol: string): Promise<FundingSeries> {
  const lines = await readLines(path, "funding_time_ms,funding_time_utc,funding_rate");
  const rows: FundingSeries["rows"] = [];
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i].split(",");
    const where = `${path}:${i + 1}`;
    if (f.length !== 3) throw new HistoryFileError(`${where}: expected 3 fields, got ${f.length}`);
    const ms = Number(f[0]);
    if (!Number.isSafeInteger(ms)) {
      throw new HistoryFileError(`${where}: bad funding_time_ms "${f[0]}"`);
    }
    if (!DECIMAL.test(f[2])) {
      throw new HistoryFileError(`${where}: funding_rate "${f[2]}" is not a decimal`);
    }
    if (rows.length > 0 && ms <= rows[rows.length - 1].ms) {
      throw new HistoryFileError(`${where}: funding_time_ms not strictly increasing`);
    }
    rows.push({ fundingTime: f[0], fundingRate: restDecimal(f[2]), ms });
  }
  return { symbol, rows };
}

/** Bitget's maximum startTime→endTime span for history-candles (API.md §4.8/§4.9). */
export const MAX_SPAN_MS = 90 * 86_400_000;

/**
 * The rows Bitget's history-candles would return: start time in [startMs, endMs], ascending, the
 * latest `limit` of them. `startMs` null = no lower bound. Only completed bars (start +
 * granularity ≤ nowMs) are returned.
 */
export function candlePage(
  s: CandleSeries,
  startMs: number | null,
  endMs: number,
  limit: number,
  nowMs: number,
): CandleRow[] {
  const len = GRANULARITY_MS[s.granularity];
  const last = Math.min(endMs, nowMs - len);
  // hi = index after the last bar with start <= last
  let lo = 0;
  let hi = s.startMs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (s.startMs[mid] <= last) lo = mid + 1;
    else hi = mid;
  }
  const end = lo;
  let begin = Math.max(0, end - limit);
  if (startMs !== null) {
    while (begin < end && s.startMs[begin] < startMs) begin++;
  }
  return s.rows.slice(begin, end);
}

/** Page `pageNo` (1-based) of `pageSize` settlements, newest first. */
export function fundingPage(
  s: FundingSeries,
  pageSize: number,
  pageNo: number,
): { symbol: string; fundingRate: string; fundingTime: string }[] {
  const out: { symbol: string; fundingRate: string; fundingTime: string }[] = [];
  const first = s.rows.length - 1 - (pageNo - 1) * pageSize;
  for (let i = first; i >= 0 && i > first - pageSize; i--) {
    const r = s.rows[i];
    out.push({ symbol: s.symbol, fundingRate: r.fundingRate, fundingTime: r.fundingTime });
  }
  return out;
}
