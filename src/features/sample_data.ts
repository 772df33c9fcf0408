/**
 * Readers that turn the recorded CSV exports in shared/data (see its MANIFEST.md) into feature
 * engine inputs: 1m/15m OHLCV → `Bar`, 8 h funding history → `FundingSettlement`, and the 1 s
 * top-15 book + 1 s trade-flow files (plus optional ticker samples) → `MicroInput`. Used by the
 * feature tests, the feature benchmark and research scripts; the live daemon reads SQLite.
 *
 * Every reader throws a RangeError naming the file, line and column of a malformed value.
 */
import type { Bar, FundingSettlement } from "./candle.ts";
import { microBookFromLevels, type MicroInput } from "./micro_input.ts";

interface Csv {
  header: string[];
  rows: string[][];
  /** 1-based file line of each row (for messages). */
  lines: number[];
}

function parseCsv(text: string, file: string): Csv {
  const all = text.split(/\r?\n/);
  const header = (all[0] ?? "").split(",");
  if (header.length < 2) throw new RangeError(`${file}: no CSV header on line 1`);
  const rows: string[][] = [];
  const lines: number[] = [];
  for (let i = 1; i < all.length; i++) {
    if (all[i] === "") continue;
    const r = all[i].split(",");
    if (r.length !== header.length) {
      throw new RangeError(`${file}:${i + 1}: ${r.length} fields, header has ${header.length}`);
    }
    rows.push(r);
    lines.push(i + 1);
  }
  return { header, rows, lines };
}

function col(csv: Csv, name: string, file: string): number {
  const j = csv.header.indexOf(name);
  if (j < 0) throw new RangeError(`${file}: missing column "${name}" in header`);
  return j;
}

/** Number in a cell; an empty cell gives NaN only when `allowEmpty`. */
function num(csv: Csv, i: number, j: number, file: string, allowEmpty = false): number {
  const s = csv.rows[i][j];
  if (s === "" && allowEmpty) return NaN;
  const v = Number(s);
  if (s === "" || !Number.isFinite(v)) {
    throw new RangeError(
      `${file}:${csv.lines[i]}: column "${csv.header[j]}" is not a number: "${s}"`,
    );
  }
  return v;
}

/** OHLCV CSV (`open_time_ms, …, open, high, low, close, volume`) → bars in file order. */
export function readOhlcvCsv(text: string, file = "ohlcv.csv"): Bar[] {
  const csv = parseCsv(text, file);
  const [t, o, h, l, c, v] = ["open_time_ms", "open", "high", "low", "close", "volume"].map((n) =>
    col(csv, n, file)
  );
  return csv.rows.map((_, i) => ({
    ts: num(csv, i, t, file),
    open: num(csv, i, o, file),
    high: num(csv, i, h, file),
    low: num(csv, i, l, file),
    close: num(csv, i, c, file),
    volume: num(csv, i, v, file),
  }));
}

/** Funding CSV (`funding_time_ms, …, funding_rate`) → settlements in file order. */
export function readFundingCsv(text: string, file = "funding.csv"): FundingSettlement[] {
  const csv = parseCsv(text, file);
  const t = col(csv, "funding_time_ms", file);
  const r = col(csv, "funding_rate", file);
  return csv.rows.map((_, i) => ({ ts: num(csv, i, t, file), rate: num(csv, i, r, file) }));
}

/** One row of a `*_book15_1s.csv` file: best-first levels (bids descending, asks ascending). */
export interface Book15Row {
  ts: number;
  bidPx: number[];
  bidSz: number[];
  askPx: number[];
  askSz: number[];
}

/** `*_book15_1s.csv` (ts_ms, last_depth_E_ms, bid_px_0, bid_sz_0, …, ask_sz_14) → rows. */
export function readBook15Csv(text: string, file = "book15_1s.csv"): Book15Row[] {
  const csv = parseCsv(text, file);
  const t = col(csv, "ts_ms", file);
  const idx = (side: string, what: string) =>
    Array.from({ length: 15 }, (_, k) => col(csv, `${side}_${what}_${k}`, file));
  const bp = idx("bid", "px"), bs = idx("bid", "sz"), ap = idx("ask", "px"), as = idx("ask", "sz");
  return csv.rows.map((_, i) => {
    const row: Book15Row = { ts: num(csv, i, t, file), bidPx: [], bidSz: [], askPx: [], askSz: [] };
    for (let k = 0; k < 15; k++) {
      // A thin book leaves trailing levels empty.
      const b = num(csv, i, bp[k], file, true);
      if (b === b) {
        row.bidPx.push(b);
        row.bidSz.push(num(csv, i, bs[k], file));
      }
      const a = num(csv, i, ap[k], file, true);
      if (a === a) {
        row.askPx.push(a);
        row.askSz.push(num(csv, i, as[k], file));
      }
    }
    return row;
  });
}

/** One row of a `*_trades_1s.csv` file: trades in (ts − 1 s, ts]; vwap/last NaN without trades. */
export interface Trades1sRow {
  ts: number;
  count: number;
  buy: number;
  sell: number;
  vwap: number;
  last: number;
}

/** `*_trades_1s.csv` (ts_ms, n_trades, taker_buy_qty, taker_sell_qty, vwap, last_px) → rows. */
export function readTrades1sCsv(text: string, file = "trades_1s.csv"): Trades1sRow[] {
  const csv = parseCsv(text, file);
  const [t, n, b, s, w, l] = [
    "ts_ms",
    "n_trades",
    "taker_buy_qty",
    "taker_sell_qty",
    "vwap",
    "last_px",
  ]
    .map((c) => col(csv, c, file));
  return csv.rows.map((_, i) => ({
    ts: num(csv, i, t, file),
    count: num(csv, i, n, file),
    buy: num(csv, i, b, file),
    sell: num(csv, i, s, file),
    vwap: num(csv, i, w, file, true),
    last: num(csv, i, l, file, true),
  }));
}

/** Ticker state at time `ts` (epoch ms); NaN fields are unknown. */
export interface TickerSample {
  ts: number;
  markPrice: number;
  indexPrice: number;
  fundingRate: number;
  nextFundingTime: number;
  openInterest: number;
}

/**
 * Joins book and trade rows on `ts` into micro inputs (both must hold the same seconds in the
 * same order, RangeError otherwise). `last` is the latest trade price carried forward; ticker
 * fields are those of the latest sample with ts ≤ the row time (NaN before the first one;
 * `tickers` must be in time order).
 */
export function microInputsFromRecords(
  books: readonly Book15Row[],
  trades: readonly Trades1sRow[],
  tickers: readonly TickerSample[] = [],
): MicroInput[] {
  if (books.length !== trades.length) {
    throw new RangeError(`${books.length} book rows but ${trades.length} trade rows`);
  }
  let last = NaN;
  let k = -1;
  return books.map((b, i) => {
    const tr = trades[i];
    if (tr.ts !== b.ts) throw new RangeError(`row ${i}: book ts ${b.ts} ≠ trades ts ${tr.ts}`);
    const book = microBookFromLevels(b.bidPx, b.bidSz, b.askPx, b.askSz);
    if (!book) throw new RangeError(`row ${i} (ts ${b.ts}): book has an empty side`);
    if (tr.count > 0 && tr.last === tr.last) last = tr.last;
    while (k + 1 < tickers.length && tickers[k + 1].ts <= b.ts) k++;
    const tk = k >= 0 ? tickers[k] : undefined;
    return {
      ts: b.ts,
      ...book,
      buyVolume: tr.buy,
      sellVolume: tr.sell,
      tradeCount: tr.count,
      vwap: tr.count > 0 ? tr.vwap : NaN,
      last,
      markPrice: tk?.markPrice ?? NaN,
      indexPrice: tk?.indexPrice ?? NaN,
      fundingRate: tk?.fundingRate ?? NaN,
      nextFundingTime: tk?.nextFundingTime ?? NaN,
      openInterest: tk?.openInterest ?? NaN,
    };
  });
}
