/**
 * Turns validated Bitget v2 data pushes (`wire.ts`) into MarketEvents, one Normalizer per
 * connection. Hot path: no schema library; the exchange's level arrays are passed through as the
 * event's `bids`/`asks` without copying.
 *
 * `books` maintenance (API.md §2): snapshot replaces the local book, update merges; the CRC32
 * checksum is verified on every update and on snapshots whose checksum ≠ 0 (§2.2 caveats); `seq`
 * continuity is checked — with `pseq` present require `pseq == last seq`, else `seq > last seq`
 * (§2.3). On a mismatch the book is dropped, later updates are ignored until a new snapshot, the
 * owner is asked to resubscribe (`onResync`, §2.4), and a GapEvent is emitted when that snapshot
 * arrives (startTs = last good message, endTs = the snapshot).
 */
import type {
  BookEvent,
  BookLevel,
  CandleEvent,
  Channel,
  GapEvent,
  MarketEvent,
  TickerEvent,
  TradeEvent,
} from "../market/events.ts";
import { bookTop, OrderBook } from "../market/order_book.ts";
import { bookChecksum, CHECKSUM_DEPTH } from "./checksum.ts";
import {
  type DataFrame,
  excerptOf,
  isKnownChannel,
  malformed,
  type MalformedFrame,
  type MalformedReason,
  num,
} from "./wire.ts";

export interface NormalizerOptions {
  /**
   * Called once per failure when a symbol's `books` must be resubscribed (unsubscribe +
   * subscribe) to get a fresh snapshot. The connection owns the socket, so it does the sending.
   */
  onResync?: (symbol: string, channel: "books") => void;
  /** Recent trade ids remembered per symbol for de-duplication (default 4096). */
  tradeDedupeSize?: number;
}

/** Counters since construction (monotonic; the owner diffs them for rates). */
export interface NormalizerCounters {
  frames: number;
  events: number;
  malformed: Record<string, number>;
  checksumFailures: number;
  sequenceGaps: number;
  /** `books` updates ignored because the book awaited a snapshot. */
  updatesWithoutSnapshot: number;
  duplicateTrades: number;
}

interface BookState {
  book: OrderBook;
  ready: boolean;
  /** Exchange ts of the last message applied successfully. */
  lastGoodTs: number;
  /** Open gap (failure seen, snapshot not yet received). */
  gap: { reason: "checksum" | "sequence"; startTs: number; detail: string } | null;
}

/** Fixed-size memory of recent trade ids (Set + ring for eviction). */
class RecentIds {
  private readonly ring: string[];
  private readonly set = new Set<string>();
  private at = 0;
  constructor(private readonly size: number) {
    this.ring = new Array<string>(size);
  }
  /** Returns true when `id` was already seen; otherwise remembers it. */
  seen(id: string): boolean {
    if (this.set.has(id)) return true;
    const old = this.ring[this.at];
    if (old !== undefined) this.set.delete(old);
    this.ring[this.at] = id;
    this.at = (this.at + 1) % this.size;
    this.set.add(id);
    return false;
  }
}

function isLevelArray(v: unknown): v is BookLevel[] {
  return Array.isArray(v);
}

/**
 * Shape check of `[price, size]` levels: arrays of two strings (JSON numbers are turned into
 * strings in place so the checksum sees exchange-style text). Numeric validity is not checked here
 * on purpose: `books` levels are converted once by OrderBook (which throws RangeError on a bad
 * number) and `books15` levels by `onBooks15` — converting twice would double the hot-path cost.
 * Returns an error detail or null.
 */
function checkLevels(levels: unknown[], side: string): string | null {
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i];
    if (!Array.isArray(l) || l.length < 2) return `${side}[${i}] is not [price, size]`;
    if (typeof l[0] !== "string") {
      if (typeof l[0] !== "number") return `${side}[${i}] price is not a string`;
      l[0] = String(l[0]);
    }
    if (typeof l[1] !== "string") {
      if (typeof l[1] !== "number") return `${side}[${i}] size is not a string`;
      l[1] = String(l[1]);
    }
  }
  return null;
}

const CANDLE_INTERVAL: Record<string, string> = { candle1m: "1m", candle15m: "15m" };

/** Required numeric ticker fields (API.md §1.4); all arrive as strings. */
const TICKER_FIELDS: readonly string[] = [
  "lastPr",
  "bidPr",
  "askPr",
  "bidSz",
  "askSz",
  "markPrice",
  "indexPrice",
  "fundingRate",
  "nextFundingTime",
  "holdingAmount",
  "open24h",
  "high24h",
  "low24h",
  "baseVolume",
  "quoteVolume",
];

/**
 * One per connection: data pushes in, MarketEvents out (`apply`), with one OrderBook per symbol for
 * `books` and recent trade ids per symbol for de-duplication. Not thread-safe; not shared.
 */
export class Normalizer {
  readonly counters: NormalizerCounters = {
    frames: 0,
    events: 0,
    malformed: {},
    checksumFailures: 0,
    sequenceGaps: 0,
    updatesWithoutSnapshot: 0,
    duplicateTrades: 0,
  };
  private readonly books = new Map<string, BookState>();
  private readonly trades = new Map<string, RecentIds>();
  private readonly dedupeSize: number;
  private readonly onResync: (symbol: string, channel: "books") => void;
  // Scratch arrays for books15 summaries (reused: bookTop does not keep them).
  private readonly bp: number[] = [];
  private readonly bs: number[] = [];
  private readonly ap: number[] = [];
  private readonly as: number[] = [];

  constructor(opts: NormalizerOptions = {}) {
    this.dedupeSize = Math.max(16, opts.tradeDedupeSize ?? 4096);
    this.onResync = opts.onResync ?? (() => {});
  }

  /** The live `books` book of a symbol (undefined before its first snapshot). Read-only use. */
  book(symbol: string): OrderBook | undefined {
    const st = this.books.get(symbol);
    return st && st.ready ? st.book : undefined;
  }

  /**
   * Forgets all books (call after a reconnect: Bitget sends a fresh snapshot after resubscribing,
   * API.md §1.1). Open checksum/sequence gaps are kept and closed by that snapshot.
   */
  resetBooks(): void {
    for (const st of this.books.values()) {
      st.ready = false;
      st.book.clear();
    }
  }

  /**
   * Closes every gap still waiting for a snapshot (e.g. at shutdown) and returns them with
   * `endTs` = `endTs` argument (epoch ms).
   */
  closeOpenGaps(endTs: number, recvTs: number, note: string): GapEvent[] {
    const out: GapEvent[] = [];
    for (const [symbol, st] of this.books) {
      if (!st.gap) continue;
      out.push(this.gapEvent(symbol, st, endTs, recvTs, `${st.gap.detail}; ${note}`));
      st.gap = null;
    }
    return out;
  }

  private countMalformed(reason: MalformedReason): void {
    const m = this.counters.malformed;
    m[reason] = (m[reason] ?? 0) + 1;
  }

  /**
   * Normalizes one data push, appending events to `out`. `recvTs` is the local receive time
   * (epoch ms). Returns null on success or a MalformedFrame (counted by reason; events of valid
   * items before the bad one may already be appended). Never throws.
   */
  apply(frame: DataFrame, recvTs: number, out: MarketEvent[]): MalformedFrame | null {
    this.counters.frames++;
    const before = out.length;
    const err = this.dispatch(frame, recvTs, out);
    this.counters.events += out.length - before;
    if (err !== null) this.countMalformed(err.reason);
    return err;
  }

  private dispatch(frame: DataFrame, recvTs: number, out: MarketEvent[]): MalformedFrame | null {
    const ch = frame.arg.channel;
    if (!isKnownChannel(ch)) return malformed("channel", `channel ${ch} not normalized`, frame);
    switch (ch) {
      case "books":
        return this.onBooks(frame, recvTs, out);
      case "books15":
        return this.onBooks15(frame, recvTs, out);
      case "trade":
        return this.onTrades(frame, recvTs, out);
      case "ticker":
        return this.onTicker(frame, recvTs, out);
      default:
        return this.onCandles(frame, ch, recvTs, out);
    }
  }

  private itemTs(item: Record<string, unknown>, frame: DataFrame, recvTs: number): number {
    const t = num(item.ts);
    if (Number.isFinite(t)) return t;
    return frame.ts ?? recvTs;
  }

  private onBooks(frame: DataFrame, recvTs: number, out: MarketEvent[]): MalformedFrame | null {
    const symbol = frame.arg.instId;
    let st = this.books.get(symbol);
    if (st === undefined) {
      st = { book: new OrderBook(), ready: false, lastGoodTs: 0, gap: null };
      this.books.set(symbol, st);
    }
    for (const raw of frame.data) {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        return malformed("data", "books item is not an object", frame);
      }
      const item = raw as Record<string, unknown>;
      const bids = item.bids;
      const asks = item.asks;
      if (!isLevelArray(bids) || !isLevelArray(asks)) {
        return malformed("level", "books item needs bids and asks arrays", frame);
      }
      const bad = checkLevels(bids, "bids") ?? checkLevels(asks, "asks");
      if (bad !== null) return malformed("level", bad, frame);
      const checksum = item.checksum === undefined ? null : num(item.checksum);
      const seq = item.seq === undefined ? null : num(item.seq);
      const pseq = item.pseq === undefined ? null : num(item.pseq);
      if (
        (checksum !== null && !Number.isInteger(checksum)) ||
        (seq !== null && !Number.isFinite(seq)) || (pseq !== null && !Number.isFinite(pseq))
      ) {
        return malformed("field", "books checksum/seq/pseq not numeric", frame);
      }
      const ts = this.itemTs(item, frame, recvTs);
      const book = st.book;

      if (frame.action === "snapshot") {
        try {
          book.snapshot(bids, asks);
        } catch (e) {
          // A non-numeric level: the book is unusable; resync after reporting the frame.
          this.fail(
            symbol,
            st,
            "checksum",
            `snapshot rejected: ${(e as Error).message}`,
            ts,
            false,
          );
          return malformed("level", (e as Error).message, frame);
        }
        book.seq = seq;
        book.ts = ts;
        if (checksum !== null && checksum !== 0) {
          const mine = bookChecksum(
            book.bids.topLevels(CHECKSUM_DEPTH),
            book.asks.topLevels(CHECKSUM_DEPTH),
          );
          if (mine !== checksum) {
            this.fail(symbol, st, "checksum", `snapshot checksum ${checksum} ≠ local ${mine}`, ts);
            continue;
          }
        }
        if (st.gap !== null) {
          out.push(this.gapEvent(symbol, st, ts, recvTs, st.gap.detail));
          st.gap = null;
        }
        st.ready = true;
        st.lastGoodTs = ts;
      } else {
        if (!st.ready) {
          this.counters.updatesWithoutSnapshot++;
          continue;
        }
        if (seq !== null && book.seq !== null) {
          const okSeq = pseq !== null ? pseq === book.seq : seq > book.seq;
          if (!okSeq) {
            const d = pseq !== null
              ? `pseq ${pseq} ≠ last seq ${book.seq}`
              : `seq ${seq} ≤ last seq ${book.seq}`;
            this.fail(symbol, st, "sequence", d, ts);
            continue;
          }
        }
        try {
          book.update(bids, asks);
        } catch (e) {
          // Part of the update may already be applied: drop the book and resync.
          this.fail(symbol, st, "checksum", `update rejected: ${(e as Error).message}`, ts, false);
          return malformed("level", (e as Error).message, frame);
        }
        if (checksum !== null) {
          const mine = bookChecksum(
            book.bids.topLevels(CHECKSUM_DEPTH),
            book.asks.topLevels(CHECKSUM_DEPTH),
          );
          if (mine !== checksum) {
            this.fail(symbol, st, "checksum", `update checksum ${checksum} ≠ local ${mine}`, ts);
            continue;
          }
        }
        if (seq !== null) book.seq = seq;
        book.ts = ts;
        st.lastGoodTs = ts;
      }
      const ev: BookEvent = {
        kind: "book",
        channel: "books",
        symbol,
        ts,
        recvTs,
        action: frame.action,
        bids,
        asks,
        seq,
        checksum,
        top: book.summary(),
      };
      out.push(ev);
    }
    return null;
  }

  private fail(
    symbol: string,
    st: BookState,
    reason: "checksum" | "sequence",
    detail: string,
    ts: number,
    count = true,
  ): void {
    // A rejected (non-numeric) level is counted as malformed by the caller, not as a mismatch;
    // its gap still says "checksum": the book's integrity is what was lost.
    if (count && reason === "checksum") this.counters.checksumFailures++;
    else if (count) this.counters.sequenceGaps++;
    st.ready = false;
    st.book.clear();
    // A second failure before the gap closed (e.g. a bad snapshot after the resync) keeps the
    // first failure's start and asks for another resync; the connection's subscribe budget bounds
    // how often that can happen.
    if (st.gap === null) st.gap = { reason, startTs: st.lastGoodTs || ts, detail };
    this.onResync(symbol, "books");
  }

  private gapEvent(
    symbol: string,
    st: BookState,
    endTs: number,
    recvTs: number,
    detail: string,
  ): GapEvent {
    const g = st.gap!;
    return {
      kind: "gap",
      symbol,
      channel: "books",
      ts: endTs,
      recvTs,
      startTs: g.startTs,
      endTs,
      reason: g.reason,
      detail,
    };
  }

  private onBooks15(frame: DataFrame, recvTs: number, out: MarketEvent[]): MalformedFrame | null {
    const symbol = frame.arg.instId;
    for (const raw of frame.data) {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        return malformed("data", "books15 item is not an object", frame);
      }
      const item = raw as Record<string, unknown>;
      const bids = item.bids;
      const asks = item.asks;
      if (!isLevelArray(bids) || !isLevelArray(asks)) {
        return malformed("level", "books15 item needs bids and asks arrays", frame);
      }
      const bad = checkLevels(bids, "bids") ?? checkLevels(asks, "asks");
      if (bad !== null) return malformed("level", bad, frame);
      const seq = item.seq === undefined ? null : num(item.seq);
      const checksum = item.checksum === undefined ? null : num(item.checksum);
      const { bp, bs, ap, as } = this;
      bp.length =
        bs.length =
        ap.length =
        as.length =
          0;
      let sum = 0;
      for (const l of bids) {
        const p = +l[0];
        const q = +l[1];
        bp.push(p);
        bs.push(q);
        sum += p + q;
      }
      for (const l of asks) {
        const p = +l[0];
        const q = +l[1];
        ap.push(p);
        as.push(q);
        sum += p + q;
      }
      // One finiteness test for all levels: NaN or ±Infinity anywhere poisons the sum.
      if (!Number.isFinite(sum)) return malformed("level", "books15 level not numeric", frame);
      const ev: BookEvent = {
        kind: "book",
        channel: "books15",
        symbol,
        ts: this.itemTs(item, frame, recvTs),
        recvTs,
        action: "snapshot",
        bids,
        asks,
        seq: seq !== null && Number.isFinite(seq) ? seq : null,
        checksum: checksum !== null && Number.isFinite(checksum) ? checksum : null,
        top: bookTop(bp, bs, ap, as),
      };
      out.push(ev);
    }
    return null;
  }

  private onTrades(frame: DataFrame, recvTs: number, out: MarketEvent[]): MalformedFrame | null {
    const symbol = frame.arg.instId;
    let ids = this.trades.get(symbol);
    if (ids === undefined) {
      ids = new RecentIds(this.dedupeSize);
      this.trades.set(symbol, ids);
    }
    // Bitget sends newest first (API.md §1.5); emit oldest first so downstream sees time order.
    const data = frame.data;
    for (let i = data.length - 1; i >= 0; i--) {
      const raw = data[i];
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        return malformed("data", "trade item is not an object", frame);
      }
      const t = raw as Record<string, unknown>;
      const id = t.tradeId;
      const side = t.side;
      const price = num(t.price);
      const size = num(t.size);
      const ts = num(t.ts);
      if (typeof id !== "string" && typeof id !== "number") {
        return malformed("field", "trade without tradeId", frame);
      }
      if (side !== "buy" && side !== "sell") {
        return malformed("field", `trade side ${excerptOf(side)} not buy/sell`, frame);
      }
      if (!(price > 0) || !(size >= 0) || !Number.isFinite(ts + price + size)) {
        return malformed("field", "trade price/size/ts not numeric", frame);
      }
      const tradeId = String(id);
      if (ids.seen(tradeId)) {
        this.counters.duplicateTrades++;
        continue;
      }
      const ev: TradeEvent = { kind: "trade", symbol, ts, recvTs, tradeId, price, size, side };
      out.push(ev);
    }
    return null;
  }

  private onTicker(frame: DataFrame, recvTs: number, out: MarketEvent[]): MalformedFrame | null {
    const symbol = frame.arg.instId;
    for (const raw of frame.data) {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        return malformed("data", "ticker item is not an object", frame);
      }
      const t = raw as Record<string, unknown>;
      const st = t.symbolType;
      if (st !== undefined && typeof st !== "string" && typeof st !== "number") {
        return malformed("field", "ticker symbolType not string/number", frame);
      }
      for (let i = 0; i < TICKER_FIELDS.length; i++) {
        const field = TICKER_FIELDS[i];
        if (!Number.isFinite(num(t[field]))) {
          return malformed("field", `ticker ${field} = ${excerptOf(t[field])} not numeric`, frame);
        }
      }
      const ev: TickerEvent = {
        kind: "ticker",
        symbol,
        ts: this.itemTs(t, frame, recvTs),
        recvTs,
        last: num(t.lastPr),
        bid: num(t.bidPr),
        ask: num(t.askPr),
        bidSize: num(t.bidSz),
        askSize: num(t.askSz),
        markPrice: num(t.markPrice),
        indexPrice: num(t.indexPrice),
        fundingRate: num(t.fundingRate),
        nextFundingTime: num(t.nextFundingTime),
        openInterest: num(t.holdingAmount),
        open24h: num(t.open24h),
        high24h: num(t.high24h),
        low24h: num(t.low24h),
        baseVolume24h: num(t.baseVolume),
        quoteVolume24h: num(t.quoteVolume),
      };
      out.push(ev);
    }
    return null;
  }

  private onCandles(
    frame: DataFrame,
    channel: Channel,
    recvTs: number,
    out: MarketEvent[],
  ): MalformedFrame | null {
    const symbol = frame.arg.instId;
    const interval = CANDLE_INTERVAL[channel];
    for (const row of frame.data) {
      const bad = candleRowError(row);
      if (bad !== null) return malformed("data", bad, frame);
      const r = row as unknown[];
      const ev: CandleEvent = {
        kind: "candle",
        symbol,
        ts: num(r[0]),
        recvTs,
        interval,
        open: num(r[1]),
        high: num(r[2]),
        low: num(r[3]),
        close: num(r[4]),
        volume: num(r[5]),
        quoteVolume: num(r[6]),
      };
      out.push(ev);
    }
    return null;
  }
}

/**
 * Validates a candle row: WS rows have 8 columns, REST rows 7 (API.md §1.7, §4.8):
 * `[startTime ms, open, high, low, close, baseVolume, quoteVolume(, usdtVolume)]`.
 * Returns an error detail or null.
 */
export function candleRowError(row: unknown): string | null {
  if (!Array.isArray(row) || row.length < 7) return "candle row is not an array of ≥ 7 values";
  for (let i = 0; i < 7; i++) {
    if (!Number.isFinite(num(row[i]))) {
      return `candle column ${i} = ${excerptOf(row[i])} not numeric`;
    }
  }
  return null;
}
