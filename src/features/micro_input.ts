/**
 * The per-second input record of the `micro` feature engine, and the two ways to make it:
 *
 * - live: `MicroSampler` consumes normalized market events (book, trade, ticker, mark, funding,
 *   open interest, gap) and emits one `MicroInput` per whole second;
 * - stored: a reader of agg_1s / books15 / trades rows fills the same record, using
 *   `microBookFromLevels` on stored top-15 levels (or `microBookFromTop` on a stored BookTop).
 *
 * Book fields. `BookTop` carries imbalance over 1/5/15 levels; the micro set wants 1/3/5 and the
 * total depth. Both are computed here from levels (`microBookFromLevels`, the same `bookTop()`
 * formula plus top-3 imbalance and total depth). A source that only has a `BookTop` gets
 * `imbalance3` and `depthTotal` = NaN (the features imb3 and depth_total_usdt become missing), so
 * store the 15 levels (books15) if those features matter. Depth within X bps and the total are
 * counted over the levels given, at most the top 15 per side, on both paths, so a full-depth live
 * book and a stored books15 row give the same numbers.
 *
 * Time. A record at `ts` (a whole second, epoch ms) holds the book and ticker state as of `ts`
 * and the trades with time in (ts − 1000, ts], like the stored trades_1s rows.
 */
import type { BookLevel, BookTop, MarketEvent } from "../market/events.ts";
import { bookTop, OrderBook } from "../market/order_book.ts";

/** Book part of a micro input. Prices USDT, sizes/depths base coin, spread bps of mid. */
export interface MicroBook {
  mid: number;
  spreadBps: number;
  imbalance1: number;
  /** Top-3 imbalance; NaN when built from a BookTop only. */
  imbalance3: number;
  imbalance5: number;
  /** Bid + ask size over the levels given (≤ 15 per side); NaN when built from a BookTop only. */
  depthTotal: number;
  depth5bps: number;
  depth10bps: number;
}

/** One 1 s sample for the micro engine (see file doc for time semantics). */
export interface MicroInput extends MicroBook {
  /** Sample time, epoch ms, a multiple of 1000. */
  ts: number;
  /** Taker buy / sell volume in (ts − 1 s, ts], base coin (0 when no trades). */
  buyVolume: number;
  sellVolume: number;
  tradeCount: number;
  /** Volume-weighted trade price in the second, USDT; NaN without trades. */
  vwap: number;
  /** Last trade price known at ts, USDT; NaN before the first trade/ticker. */
  last: number;
  /** Ticker state as of ts; NaN while unknown. */
  markPrice: number;
  indexPrice: number;
  /** Current funding rate as a ratio per funding interval. */
  fundingRate: number;
  /** Next funding settlement, epoch ms. */
  nextFundingTime: number;
  /** Open interest, base coin. */
  openInterest: number;
  /** True when the source knows data is missing right before this sample (engine resets). */
  afterGap?: boolean;
}

/** Levels per side used for depth totals (books15 depth; see file doc). */
export const MICRO_BOOK_LEVELS = 15;

function imb(bid: number, ask: number): number {
  const t = bid + ask;
  return t > 0 ? (bid - ask) / t : 0;
}

function sumTop(sz: ArrayLike<number>, n: number): number {
  let s = 0;
  const m = Math.min(n, sz.length);
  for (let i = 0; i < m; i++) s += sz[i];
  return s;
}

/**
 * Book fields from best-first price/size arrays (bids descending, asks ascending), using at most
 * `MICRO_BOOK_LEVELS` levels per side. Returns null when a side is empty.
 * Formulas: `bookTop()` (market/order_book.ts) plus top-3 imbalance and total depth.
 */
export function microBookFromLevels(
  bidPx: readonly number[],
  bidSz: readonly number[],
  askPx: readonly number[],
  askSz: readonly number[],
): MicroBook | null {
  const n = MICRO_BOOK_LEVELS;
  const top = bidPx.length > n || askPx.length > n
    ? bookTop(bidPx.slice(0, n), bidSz.slice(0, n), askPx.slice(0, n), askSz.slice(0, n))
    : bookTop(bidPx, bidSz, askPx, askSz);
  if (!top) return null;
  return {
    mid: top.mid,
    spreadBps: top.spreadBps,
    imbalance1: top.imbalance1,
    imbalance3: imb(sumTop(bidSz, 3), sumTop(askSz, 3)),
    imbalance5: top.imbalance5,
    depthTotal: sumTop(bidSz, n) + sumTop(askSz, n),
    depth5bps: top.depth5bps,
    depth10bps: top.depth10bps,
  };
}

/** Book fields from a `BookTop` alone: imbalance3 and depthTotal are NaN (see file doc). */
export function microBookFromTop(top: BookTop): MicroBook {
  return {
    mid: top.mid,
    spreadBps: top.spreadBps,
    imbalance1: top.imbalance1,
    imbalance3: NaN,
    imbalance5: top.imbalance5,
    depthTotal: NaN,
    depth5bps: top.depth5bps,
    depth10bps: top.depth10bps,
  };
}

function parseLevels(levels: readonly BookLevel[], px: number[], sz: number[]): void {
  px.length = 0;
  sz.length = 0;
  const m = Math.min(levels.length, MICRO_BOOK_LEVELS);
  for (let i = 0; i < m; i++) {
    px.push(Number(levels[i][0]));
    sz.push(Number(levels[i][1]));
  }
}

/**
 * Turns one symbol's live market events into 1 s `MicroInput` records.
 *
 * `push(event, out)` first appends a record for every whole second T with last < T < event.ts
 * (all data with time ≤ T has been seen, assuming events arrive in time order), then applies the
 * event. `advance(nowMs, out)` emits every second T ≤ nowMs; call it from the clock (live, a
 * little after each second so late events are in; in a replay, with the event time). An event
 * whose time is at or before the last emitted second is counted in the next second (the past is
 * not rewritten). A `GapEvent` clears the book (no records until a new book) and marks the next
 * record `afterGap`. Book source: `books15` snapshots (levels parsed at emission), or a full
 * `books` stream kept in an `OrderBook`, chosen by `bookChannel`.
 */
export class MicroSampler {
  private readonly book = new OrderBook();
  private hasBook = false;
  private lastBids: readonly BookLevel[] = [];
  private lastAsks: readonly BookLevel[] = [];
  private lastEmitted = NaN;
  private buy = 0;
  private sell = 0;
  private count = 0;
  private notional = 0;
  private last = NaN;
  private mark = NaN;
  private index = NaN;
  private funding = NaN;
  private nextFunding = NaN;
  private oi = NaN;
  private gap = false;
  private readonly bidPx: number[] = [];
  private readonly bidSz: number[] = [];
  private readonly askPx: number[] = [];
  private readonly askSz: number[] = [];

  constructor(
    readonly symbol: string,
    readonly bookChannel: "books15" | "books" = "books15",
  ) {}

  /** Emits completed seconds before `e.ts` into `out`, then applies `e` (other symbols ignored). */
  push(e: MarketEvent, out: MicroInput[]): void {
    if (e.symbol !== this.symbol) return;
    // First event: the first record is the first whole second at or after it.
    if (this.lastEmitted !== this.lastEmitted) {
      this.lastEmitted = Math.ceil(e.ts / 1000) * 1000 - 1000;
    }
    this.advance(e.ts - 1, out);
    switch (e.kind) {
      case "book":
        if (e.channel !== this.bookChannel) return;
        if (e.channel === "books15") {
          this.lastBids = e.bids;
          this.lastAsks = e.asks;
          this.hasBook = e.bids.length > 0 && e.asks.length > 0;
        } else {
          if (e.action === "snapshot") this.book.snapshot(e.bids, e.asks);
          else this.book.update(e.bids, e.asks);
          this.hasBook = this.book.depth.bids > 0 && this.book.depth.asks > 0;
        }
        return;
      case "trade": {
        if (e.side === "buy") this.buy += e.size;
        else this.sell += e.size;
        this.count++;
        this.notional += e.price * e.size;
        this.last = e.price;
        return;
      }
      case "ticker":
        this.last = e.last;
        this.mark = e.markPrice;
        this.index = e.indexPrice;
        this.funding = e.fundingRate;
        this.nextFunding = e.nextFundingTime;
        this.oi = e.openInterest;
        return;
      case "mark":
        this.mark = e.markPrice;
        this.index = e.indexPrice;
        return;
      case "funding":
        if (e.type === "current") {
          this.funding = e.fundingRate;
          if (e.nextFundingTime !== null) this.nextFunding = e.nextFundingTime;
        }
        return;
      case "oi":
        this.oi = e.openInterest;
        return;
      case "gap":
        this.hasBook = false;
        this.book.clear();
        this.gap = true;
        this.clearFlow();
        return;
      case "candle":
        return;
    }
  }

  /** Emits a record for every whole second T ≤ nowMs not emitted yet (none without a book). */
  advance(nowMs: number, out: MicroInput[]): void {
    if (this.lastEmitted !== this.lastEmitted) return;
    const target = Math.floor(nowMs / 1000) * 1000;
    if (!this.hasBook && this.lastEmitted < target) {
      // No book: nothing to emit; flow seen meanwhile belongs to no record.
      this.lastEmitted = target;
      this.clearFlow();
      return;
    }
    while (this.lastEmitted < target) {
      const t = this.lastEmitted + 1000;
      this.lastEmitted = t;
      const b = this.bookFields();
      if (b) {
        const vol = this.buy + this.sell;
        out.push({
          ts: t,
          ...b,
          buyVolume: this.buy,
          sellVolume: this.sell,
          tradeCount: this.count,
          vwap: this.count > 0 && vol > 0 ? this.notional / vol : NaN,
          last: this.last,
          markPrice: this.mark,
          indexPrice: this.index,
          fundingRate: this.funding,
          nextFundingTime: this.nextFunding,
          openInterest: this.oi,
          afterGap: this.gap,
        });
        this.gap = false;
      }
      this.clearFlow();
    }
  }

  private clearFlow(): void {
    this.buy =
      this.sell =
      this.count =
      this.notional =
        0;
  }

  private bookFields(): MicroBook | null {
    if (this.bookChannel === "books15") {
      parseLevels(this.lastBids, this.bidPx, this.bidSz);
      parseLevels(this.lastAsks, this.askPx, this.askSz);
      return microBookFromLevels(this.bidPx, this.bidSz, this.askPx, this.askSz);
    }
    // The top 15 levels are all the micro set reads (microBookFromLevels).
    const b = this.book.bids.top(MICRO_BOOK_LEVELS);
    const a = this.book.asks.top(MICRO_BOOK_LEVELS);
    return microBookFromLevels(b.prices, b.sizes, a.prices, a.sizes);
  }
}
