/**
 * The stored counterpart of the live `MicroSampler` (features/micro_input.ts): 1 s `MicroInput`
 * records of one symbol rebuilt from the store, so the micro training rows see the same inputs
 * as the live feature worker.
 *
 * Book fields of the record at second T (epoch ms, a multiple of 1000):
 * - the last `books15` row with ts in (T − 1000, T] (order ts, recv_ts, id — the replay order of
 *   event_iterator.ts), through `microBookFromLevels`: the MicroSampler rule for the books15
 *   channel (a record at T holds the book as of T). All eight book fields are filled, including
 *   imbalance3 and depthTotal;
 * - only when that second has no books15 row: the BookTop summary stored in agg_1s bucket
 *   T − 1000 (its last book event in [T − 1000, T): a full-depth `books` stream, or the books15
 *   frame stamped exactly T − 1000), in the `microBookFromTop` shape, so imbalance3 and depthTotal are
 *   NaN (missing) on those rows. The live sampler would instead carry the last books15 frame
 *   forward; the difference is limited to seconds without any books15 frame.
 * A second with neither gives no record (the engine fills short holes forward, micro.ts).
 *
 * Trade flow of T: agg_1s bucket T − 1000 (trades of the second; a trades-1s import stores the
 * interval (T − 1000, T] there). Ticker fields: the last stored ticker with ts ≤ T. `last`: the
 * newer of the last trade price in agg_1s and the ticker's last price.
 *
 * Cost: books15 rows are streamed from one index-ordered cursor and only the last row of each
 * second has its JSON levels parsed, so memory is one record per second, not per frame.
 */
import {
  MICRO_BOOK_LEVELS,
  type MicroBook,
  microBookFromLevels,
  type MicroInput,
} from "../features/micro_input.ts";
import type { BookLevel } from "../market/events.ts";
import { readAgg, readTickers } from "../store/readers.ts";
import { type Row, SOURCES } from "../store/row_mappers.ts";
import type { Store } from "../store/store.ts";

/** Counts of how each record's book was built (see file doc). */
export interface MicroBookSources {
  /** Records whose book came from a books15 row of the second (all fields). */
  books15: number;
  /** Records that fell back to the agg_1s BookTop (imbalance3, depthTotal NaN). */
  aggTop: number;
}

/** Parses up to MICRO_BOOK_LEVELS levels of a stored JSON side into px/sz (reused arrays). */
function parseSide(json: unknown, px: number[], sz: number[]): void {
  const levels = JSON.parse(String(json)) as BookLevel[];
  px.length = 0;
  sz.length = 0;
  const m = Math.min(levels.length, MICRO_BOOK_LEVELS);
  for (let i = 0; i < m; i++) {
    px.push(Number(levels[i][0]));
    sz.push(Number(levels[i][1]));
  }
}

/**
 * 1 s micro inputs of `symbol` with ts in [from, to) (epoch ms), time-ordered, built as the file
 * doc describes. `sources`, when given, receives how many records used each book source.
 * Throws StoreError/SyntaxError only on a corrupt store (unparsable level JSON).
 */
export function loadMicroInputs(
  store: Store,
  symbol: string,
  from: number,
  to: number,
  sources?: MicroBookSources,
): MicroInput[] {
  const agg = readAgg(store, "agg_1s", symbol, from - 1000, to - 1000);
  const tickers = readTickers(store, symbol, 0, to);
  const cursor = store.db.prepare(SOURCES.books15.sql).iterate(symbol, from - 1000, to) as Iterator<
    Row
  >;
  const pull = (): Row | null => {
    const r = cursor.next();
    return r.done ? null : r.value as Row;
  };
  const secondOf = (r: Row) => Math.ceil(Number(r.ts) / 1000) * 1000;
  let pending = pull();
  /** The last books15 row of the next second that has one, with that second. */
  const takeSecond = (): { ts: number; row: Row } | null => {
    if (pending === null) return null;
    const sec = secondOf(pending);
    let last = pending;
    while ((pending = pull()) !== null && secondOf(pending) === sec) last = pending;
    return { ts: sec, row: last };
  };
  const bidPx: number[] = [], bidSz: number[] = [], askPx: number[] = [], askSz: number[] = [];
  const out: MicroInput[] = [];
  let k = -1;
  let last = NaN;
  let lastTs = -Infinity;
  let ai = 0;
  try {
    let bk = takeSecond();
    while (bk !== null && bk.ts < from) bk = takeSecond();
    while (ai < agg.length || bk !== null) {
      const aT = ai < agg.length ? agg[ai].bucketTs + 1000 : Infinity;
      const bT = bk !== null ? bk.ts : Infinity;
      const ts = Math.min(aT, bT);
      if (ts >= to) break;
      const a = aT === ts ? agg[ai++] : null;
      let book: MicroBook | null = null;
      if (bk !== null && bT === ts) {
        parseSide(bk.row.bids, bidPx, bidSz);
        parseSide(bk.row.asks, askPx, askSz);
        book = microBookFromLevels(bidPx, bidSz, askPx, askSz);
        if (book && sources) sources.books15++;
        bk = takeSecond();
      }
      if (a !== null && a.close !== null) {
        last = a.close;
        lastTs = a.lastTs ?? a.bucketTs;
      }
      if (book === null && a !== null && a.mid != null && a.mid > 0) {
        // agg_1s keeps the BookTop fields only: the microBookFromTop shape (imb3, depth NaN).
        book = {
          mid: a.mid,
          spreadBps: a.spreadBps ?? NaN,
          imbalance1: a.imbalance1 ?? NaN,
          imbalance3: NaN,
          imbalance5: a.imbalance5 ?? NaN,
          depthTotal: NaN,
          depth5bps: a.depth5bps ?? NaN,
          depth10bps: a.depth10bps ?? NaN,
        };
        if (sources) sources.aggTop++;
      }
      if (book === null) continue; // no book in the second
      while (k + 1 < tickers.length && tickers[k + 1].ts <= ts) k++;
      const t = k >= 0 ? tickers[k] : null;
      out.push({
        ts,
        ...book,
        buyVolume: a?.buyVolume ?? 0,
        sellVolume: a?.sellVolume ?? 0,
        tradeCount: a?.tradeCount ?? 0,
        vwap: a?.vwap ?? NaN,
        last: t && t.ts > lastTs ? t.last : last,
        markPrice: t?.markPrice ?? NaN,
        indexPrice: t?.indexPrice ?? NaN,
        fundingRate: t?.fundingRate ?? NaN,
        nextFundingTime: t?.nextFundingTime ?? NaN,
        openInterest: t?.openInterest ?? NaN,
      });
    }
  } finally {
    cursor.return?.();
  }
  return out;
}
