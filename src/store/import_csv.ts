/**
 * CSV import into the store. Kinds and targets:
 * - `candles-1m`, `candles-15m` (`open,high,low,close,volume[,quote_volume]`) → `candles`,
 *   source `import` (the same upsert as live bars: an identical bar already stored is skipped);
 * - `funding` (`funding_rate`) → `funding_rates`, type `settled` (and the 1m/15m funding column);
 * - `book15-1s` (`bid_px_0,bid_sz_0,…,ask_px_N,ask_sz_N`) → `books15` rows with the CSV's exact
 *   decimal strings, plus agg_1s book metrics via bookTop (order_book.ts), exactly as a live
 *   books15 frame; a row identical to a stored one (symbol, ts, levels) is skipped;
 * - `trades-1s` (`n_trades,taker_buy_qty,taker_sell_qty,vwap,last_px`, one row per interval
 *   (ts−1000, ts] as in the shared files' MANIFEST) → agg_1s trade columns of bucket ts − 1000,
 *   only where that bucket holds no trades yet.
 *
 * The whole file is parsed and validated before anything is written (bad number, missing
 * column, non-increasing time → ImportError naming file, line and column), then written in one
 * transaction, so a failed import leaves the database unchanged and a re-import adds nothing.
 * Imported rows have no local receive time; `recv_ts`/`updated_ts` hold the import time.
 */
import type { BookEvent, BookLevel, CandleEvent, FundingEvent } from "../market/events.ts";
import { bookTop } from "../market/order_book.ts";
import { Aggregator, prepareTradeSummary1s } from "./aggregates.ts";
import {
  cellError,
  type CsvTable,
  findColumn,
  findTimeColumn,
  ImportError,
  parseNumberCell,
  parseTimeCell,
  readCsv,
  requireColumn,
} from "./csv_file.ts";
import type { Store } from "./store.ts";

export { ImportError } from "./csv_file.ts";

export const IMPORT_KINDS = [
  "candles-1m",
  "candles-15m",
  "funding",
  "book15-1s",
  "trades-1s",
] as const;
export type ImportKind = typeof IMPORT_KINDS[number];

/** Pre-aggregated trade flow of one second (trades-1s). Volumes base coin, prices USDT. */
export interface TradeSecond {
  bucketTs: number;
  count: number;
  buyVolume: number;
  sellVolume: number;
  /** NaN when the second had no trades. */
  vwap: number;
  last: number;
}

/** A validated file, ready to write. */
export type ParsedImport =
  & { file: string; kind: ImportKind; symbol: string; times: number[] }
  & (
    | { target: "candles"; candles: CandleEvent[] }
    | { target: "funding_rates"; funding: FundingEvent[] }
    | { target: "books15"; books: BookEvent[] }
    | { target: "agg_1s"; seconds: TradeSecond[] }
  );

export interface ImportResult {
  file: string;
  kind: ImportKind;
  symbol: string;
  /** Table written. */
  table: string;
  rows: number;
  imported: number;
  /** Rows already present (re-import, or a bucket that already holds trades). */
  skipped: number;
  /** Time span of the file's rows, epoch ms (null for an empty file). */
  firstTs: number | null;
  lastTs: number | null;
}

function readTimes(t: CsvTable): number[] {
  const col = findTimeColumn(t);
  const times = new Array<number>(t.rows.length);
  for (let r = 0; r < t.rows.length; r++) {
    times[r] = parseTimeCell(t, r, col);
    if (r > 0 && times[r] <= times[r - 1]) {
      throw cellError(
        t,
        r,
        col,
        `time ${new Date(times[r]).toISOString()} is not after the previous row's ` +
          `${new Date(times[r - 1]).toISOString()} (rows must be strictly increasing in time)`,
      );
    }
  }
  return times;
}

function parseCandles(t: CsvTable, times: number[], symbol: string, kind: ImportKind, now: number) {
  const interval = kind === "candles-1m" ? "1m" : "15m";
  const width = kind === "candles-1m" ? 60_000 : 900_000;
  const tcol = findTimeColumn(t);
  const [o, h, l, c, v] = ["open", "high", "low", "close", "volume"].map((n) =>
    requireColumn(t, [n])
  );
  const qv = findColumn(t, ["quote_volume", "quote_asset_volume", "quoteVolume", "turnover"]);
  const out: CandleEvent[] = [];
  for (let r = 0; r < t.rows.length; r++) {
    if (times[r] % width !== 0) {
      throw cellError(t, r, tcol, `${times[r]} is not aligned to ${interval} bars`);
    }
    const [open, high, low, close, volume] = [o, h, l, c, v].map((i) => parseNumberCell(t, r, i));
    if (!(high >= Math.max(open, close, low) && low <= Math.min(open, close))) {
      throw cellError(
        t,
        r,
        h,
        `inconsistent bar (open ${open} high ${high} low ${low} close ${close})`,
      );
    }
    if (volume < 0) throw cellError(t, r, v, `negative volume ${volume}`);
    out.push({
      kind: "candle",
      symbol,
      ts: times[r],
      recvTs: now,
      interval,
      open,
      high,
      low,
      close,
      volume,
      quoteVolume: qv >= 0 ? parseNumberCell(t, r, qv, true) : NaN,
    });
  }
  return out;
}

function parseFunding(t: CsvTable, times: number[], symbol: string, now: number): FundingEvent[] {
  const col = requireColumn(t, ["funding_rate", "fundingRate", "rate"]);
  return t.rows.map((_, r) => ({
    kind: "funding",
    symbol,
    ts: times[r],
    recvTs: now,
    fundingRate: parseNumberCell(t, r, col),
    nextFundingTime: null,
    intervalHours: null,
    type: "settled",
  }));
}

/** Reads the levels of one side; empty trailing pairs are allowed (a thin book). */
function side(t: CsvTable, r: number, cols: [number, number][], dir: 1 | -1): BookLevel[] {
  const out: BookLevel[] = [];
  let prev = NaN;
  let ended = false;
  for (const [pc, sc] of cols) {
    const ps = t.rows[r][pc].trim();
    const ss = t.rows[r][sc].trim();
    if (ps === "" && ss === "") {
      ended = true;
      continue;
    }
    if (ended) throw cellError(t, r, pc, "level after an empty level");
    const p = parseNumberCell(t, r, pc);
    const s = parseNumberCell(t, r, sc);
    if (p <= 0) throw cellError(t, r, pc, `price ${p} is not positive`);
    if (s < 0) throw cellError(t, r, sc, `size ${s} is negative`);
    if (out.length > 0 && (p - prev) * dir <= 0) {
      throw cellError(t, r, pc, `price ${p} out of order (bids must descend, asks ascend)`);
    }
    prev = p;
    out.push([ps, ss]);
  }
  return out;
}

function levelColumns(t: CsvTable, prefix: "bid" | "ask"): [number, number][] {
  const cols: [number, number][] = [];
  for (let i = 0;; i++) {
    const p = findColumn(t, [`${prefix}_px_${i}`]);
    const s = findColumn(t, [`${prefix}_sz_${i}`]);
    if (p < 0 && s < 0) break;
    if (p < 0 || s < 0) requireColumn(t, [p < 0 ? `${prefix}_px_${i}` : `${prefix}_sz_${i}`]);
    cols.push([p, s]);
  }
  if (cols.length === 0) requireColumn(t, [`${prefix}_px_0`]);
  return cols;
}

function parseBooks(t: CsvTable, times: number[], symbol: string, now: number): BookEvent[] {
  const bidCols = levelColumns(t, "bid");
  const askCols = levelColumns(t, "ask");
  const out: BookEvent[] = [];
  for (let r = 0; r < t.rows.length; r++) {
    const bids = side(t, r, bidCols, -1);
    const asks = side(t, r, askCols, 1);
    if (bids.length === 0 || asks.length === 0) {
      throw cellError(t, r, bids.length === 0 ? bidCols[0][0] : askCols[0][0], "empty book side");
    }
    if (Number(bids[0][0]) >= Number(asks[0][0])) {
      throw cellError(t, r, askCols[0][0], `crossed book (bid ${bids[0][0]} >= ask ${asks[0][0]})`);
    }
    const num = (ls: BookLevel[], i: 0 | 1) => ls.map((l) => Number(l[i]));
    out.push({
      kind: "book",
      channel: "books15",
      symbol,
      ts: times[r],
      recvTs: now,
      action: "snapshot",
      bids,
      asks,
      seq: null,
      checksum: null,
      top: bookTop(num(bids, 0), num(bids, 1), num(asks, 0), num(asks, 1)),
    });
  }
  return out;
}

function parseTradeSeconds(t: CsvTable, times: number[]): TradeSecond[] {
  const [nc, bc, sc] = [["n_trades", "trades", "count"], ["taker_buy_qty"], ["taker_sell_qty"]]
    .map((names) => requireColumn(t, names));
  const vc = requireColumn(t, ["vwap"]);
  const lc = requireColumn(t, ["last_px", "last", "close"]);
  return t.rows.map((_, r) => {
    const count = parseNumberCell(t, r, nc);
    if (!Number.isInteger(count) || count < 0) {
      throw cellError(t, r, nc, `${count} is not a trade count`);
    }
    const buyVolume = parseNumberCell(t, r, bc);
    const sellVolume = parseNumberCell(t, r, sc);
    if (buyVolume < 0 || sellVolume < 0) throw cellError(t, r, bc, "negative volume");
    const has = count > 0;
    return {
      bucketTs: times[r] - 1000,
      count,
      buyVolume,
      sellVolume,
      vwap: parseNumberCell(t, r, vc, !has),
      last: parseNumberCell(t, r, lc, !has),
    };
  });
}

/**
 * Reads and validates `file` for `kind` without touching any database.
 * @throws ImportError naming file, line and column of the first bad cell.
 */
export async function parseImport(
  file: string,
  kind: ImportKind,
  symbol: string,
  now: number = Date.now(),
): Promise<ParsedImport> {
  if (!IMPORT_KINDS.includes(kind)) {
    throw new ImportError(`unknown import kind ${kind}; expected ${IMPORT_KINDS.join(", ")}`, file);
  }
  const t = await readCsv(file);
  const times = readTimes(t);
  const base = { file, kind, symbol, times };
  switch (kind) {
    case "candles-1m":
    case "candles-15m":
      return { ...base, target: "candles", candles: parseCandles(t, times, symbol, kind, now) };
    case "funding":
      return { ...base, target: "funding_rates", funding: parseFunding(t, times, symbol, now) };
    case "book15-1s":
      return { ...base, target: "books15", books: parseBooks(t, times, symbol, now) };
    case "trades-1s":
      return { ...base, target: "agg_1s", seconds: parseTradeSeconds(t, times) };
  }
}

/**
 * Writes a parsed file in one transaction; returns rows imported and skipped. `onProgress` is
 * called with (rows written, rows in the file) as the write goes on.
 */
export function writeImport(
  store: Store,
  p: ParsedImport,
  runId?: number,
  onProgress: (done: number, total: number) => void = () => {},
): ImportResult {
  let imported = 0;
  let rows = 0;
  if (p.target === "candles" || p.target === "funding_rates") {
    const evs = p.target === "candles" ? p.candles : p.funding;
    const r = store.writeBatch(evs, undefined, runId, { candleSource: "import" });
    imported = p.target === "candles" ? r.rows.candles : r.rows.funding_rates;
    rows = evs.length;
  } else if (p.target === "books15") {
    const agg = new Aggregator(store.db);
    const ins = store.db.prepare(
      `INSERT INTO books15 (symbol, ts, recv_ts, seq, checksum, bids, asks)
       SELECT ?1, ?2, ?3, NULL, NULL, ?4, ?5 WHERE NOT EXISTS (
         SELECT 1 FROM books15 WHERE symbol = ?1 AND ts = ?2 AND bids = ?4 AND asks = ?5)`,
    );
    rows = p.books.length;
    store.transaction(() => {
      let n = 0;
      for (const b of p.books) {
        if ((++n & 1023) === 0) onProgress(n, rows);
        const r = ins.run(b.symbol, b.ts, b.recvTs, JSON.stringify(b.bids), JSON.stringify(b.asks));
        if (r.changes > 0) {
          imported++;
          agg.book(b);
        }
      }
      agg.flush();
    });
  } else {
    const stmt = prepareTradeSummary1s(store.db);
    rows = p.seconds.length;
    store.transaction(() => {
      let n = 0;
      for (const s of p.seconds) {
        if ((++n & 1023) === 0) onProgress(n, rows);
        const volume = s.buyVolume + s.sellVolume;
        const vwap = Number.isFinite(s.vwap) ? s.vwap : null;
        const r = stmt.run(
          p.symbol,
          s.bucketTs,
          s.count,
          volume,
          s.buyVolume,
          s.sellVolume,
          vwap === null ? 0 : vwap * volume,
          vwap,
          Number.isFinite(s.last) ? s.last : null,
        );
        imported += Number(r.changes);
      }
    });
  }
  onProgress(rows, rows);
  return {
    file: p.file,
    kind: p.kind,
    symbol: p.symbol,
    table: p.target,
    rows,
    imported,
    skipped: rows - imported,
    firstTs: p.times.length ? p.times[0] : null,
    lastTs: p.times.length ? p.times[p.times.length - 1] : null,
  };
}

/** Parses then writes `file` (see module doc). */
export async function importCsv(
  store: Store,
  file: string,
  kind: ImportKind,
  symbol: string,
  runId?: number,
): Promise<ImportResult> {
  return writeImport(store, await parseImport(file, kind, symbol), runId);
}
