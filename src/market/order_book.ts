/**
 * A price-level order book that keeps the exchange's price/size strings (needed for the Bitget
 * checksum, API.md §2.1 rule 3) and applies Bitget merge rules (API.md §2.1):
 * snapshot replaces the book; in an update a size that is numerically 0 deletes the level, an
 * existing price gets its size replaced, a new price is inserted in order.
 *
 * Layout, for speed on deep books (the replay recordings grow to 5–10k levels per side): each side
 * keeps parallel arrays sorted **worst-first**, so the best level is the last element. Almost all
 * changes land near the best price, so an insert or delete is a binary search plus a splice that
 * moves only the few elements after it — with best-first arrays every such splice moved the whole
 * side (measured: splice + memmove were half of the Normalizer's time). The level strings live in
 * a pool addressed by small-integer slots and the sorted array holds slot numbers: shifting small
 * integers is a plain memory move, shifting object pointers pays a GC write barrier per element.
 * Readers use best-first indices (`price(0)` is the best) and never see the layout.
 */
import type { BookLevel, BookTop } from "./events.ts";

/** Best-first read access to one side (0 = best level). */
export interface LevelView {
  readonly count: number;
  price(i: number): number;
  size(i: number): number;
  /** Total size of the levels priced at or better than `limit` (base coin). */
  sizeWithin(limit: number): number;
}

class Side implements LevelView {
  /** Prices, worst first (bids ascending, asks descending). */
  private readonly px: number[] = [];
  private readonly sz: number[] = [];
  /** Pool slot of each level, parallel to `px`. */
  private readonly slots: number[] = [];
  private readonly pool: BookLevel[] = [];
  private readonly free: number[] = [];
  private cache: BookLevel[] | null = null;
  /** +1 for bids (best = highest), −1 for asks (best = lowest). */
  constructor(private readonly dir: 1 | -1) {}

  get count(): number {
    return this.px.length;
  }

  /** Price of level `i` (0 = best); undefined beyond the book. O(1). */
  price(i: number): number {
    return this.px[this.px.length - 1 - i];
  }

  /** Size of level `i` (0 = best, base coin). O(1). */
  size(i: number): number {
    return this.sz[this.sz.length - 1 - i];
  }

  sizeWithin(limit: number): number {
    const px = this.px;
    const sz = this.sz;
    const d = this.dir;
    let t = 0;
    // Walk from the best level (the end) while the price is at or better than the limit.
    for (let i = px.length - 1; i >= 0 && (px[i] - limit) * d >= 0; i--) t += sz[i];
    return t;
  }

  /**
   * All levels best first, as the exchange's strings. Built on first read after a change (O(depth));
   * hot paths read the top with `topLevels(n)` or `level(i)` instead.
   */
  get levels(): BookLevel[] {
    if (this.cache === null) this.cache = this.topLevels(this.slots.length);
    return this.cache;
  }

  /** Level `i` (0 = best) as the exchange's strings, or undefined. O(1). */
  level(i: number): BookLevel | undefined {
    const s = this.slots[this.slots.length - 1 - i];
    return s === undefined ? undefined : this.pool[s];
  }

  /** The best `n` levels (a fresh array), best first. O(n). */
  topLevels(n: number): BookLevel[] {
    const m = Math.min(n, this.slots.length);
    const last = this.slots.length - 1;
    const out = new Array<BookLevel>(m);
    for (let i = 0; i < m; i++) out[i] = this.pool[this.slots[last - i]];
    return out;
  }

  /** Best `n` prices and sizes as fresh best-first arrays. */
  top(n: number): { prices: number[]; sizes: number[] } {
    const m = Math.min(n, this.px.length);
    const last = this.px.length - 1;
    const prices = new Array<number>(m);
    const sizes = new Array<number>(m);
    for (let i = 0; i < m; i++) {
      prices[i] = this.px[last - i];
      sizes[i] = this.sz[last - i];
    }
    return { prices, sizes };
  }

  clear(): void {
    this.px.length = 0;
    this.sz.length = 0;
    this.slots.length = 0;
    this.pool.length = 0;
    this.free.length = 0;
    this.cache = null;
  }

  /** Array index of `price`, or the bitwise complement of its insertion point (worst-first). */
  private find(price: number): number {
    const p = this.px;
    let lo = 0;
    let hi = p.length - 1;
    const d = this.dir;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = p[mid];
      if (v === price) return mid;
      // Worse levels come first: v worse than price (lower bid / higher ask) → search right.
      if ((price - v) * d > 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return ~lo;
  }

  set(level: BookLevel): void {
    const price = Number(level[0]);
    const size = Number(level[1]);
    if (!Number.isFinite(price) || !Number.isFinite(size) || size < 0) {
      throw new RangeError(`bad book level ${JSON.stringify(level)}`);
    }
    this.cache = null;
    const i = this.find(price);
    if (size === 0) {
      if (i >= 0) {
        this.free.push(this.slots[i]);
        this.px.splice(i, 1);
        this.slots.splice(i, 1);
        this.sz.splice(i, 1);
      }
      return;
    }
    if (i >= 0) {
      this.pool[this.slots[i]] = level;
      this.sz[i] = size;
      return;
    }
    const at = ~i;
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.pool.length;
      this.pool.push(level);
    } else this.pool[slot] = level;
    if (at === this.px.length) {
      this.px.push(price);
      this.slots.push(slot);
      this.sz.push(size);
    } else {
      this.px.splice(at, 0, price);
      this.slots.splice(at, 0, slot);
      this.sz.splice(at, 0, size);
    }
  }

  /** Replaces the side with levels given best-first (as Bitget sends snapshots). */
  load(levels: readonly BookLevel[]): void {
    this.clear();
    // Worst level first: each next level is better, so it is appended (no shifting).
    for (let i = levels.length - 1; i >= 0; i--) this.set(levels[i]);
  }
}

export class OrderBook {
  readonly bids = new Side(1);
  readonly asks = new Side(-1);
  /** Last applied exchange sequence number (null until a message with `seq` was applied). */
  seq: number | null = null;
  /** Exchange time (ms) of the last applied message. */
  ts = 0;

  clear(): void {
    this.bids.clear();
    this.asks.clear();
    this.seq = null;
    this.ts = 0;
  }

  /** Replaces the whole book. */
  snapshot(bids: readonly BookLevel[], asks: readonly BookLevel[]): void {
    this.bids.load(bids);
    this.asks.load(asks);
  }

  /** Applies a delta (either side may be empty). Throws RangeError on a malformed level. */
  update(bids: readonly BookLevel[], asks: readonly BookLevel[]): void {
    for (const l of bids) this.bids.set(l);
    for (const l of asks) this.asks.set(l);
  }

  get depth(): { bids: number; asks: number } {
    return { bids: this.bids.count, asks: this.asks.count };
  }

  /** Best `n` levels per side, best first, as the exchange's strings. */
  top(n: number): { bids: BookLevel[]; asks: BookLevel[] } {
    return { bids: this.bids.topLevels(n), asks: this.asks.topLevels(n) };
  }

  /** True when the best bid is at or above the best ask (a broken book). */
  crossed(): boolean {
    return this.bids.count > 0 && this.asks.count > 0 &&
      this.bids.price(0) >= this.asks.price(0);
  }

  /** Top-of-book summary (see `BookTop` for units), or null when a side is empty. */
  summary(): BookTop | null {
    return summarize(this.bids, this.asks);
  }
}

function imbalance(b: number, a: number): number {
  const t = b + a;
  return t > 0 ? (b - a) / t : 0;
}

class ArrayView implements LevelView {
  constructor(
    private readonly px: readonly number[],
    private readonly sz: readonly number[],
    private readonly dir: 1 | -1,
  ) {}
  sizeWithin(limit: number): number {
    let t = 0;
    for (let i = 0; i < this.px.length && (this.px[i] - limit) * this.dir >= 0; i++) {
      t += this.sz[i];
    }
    return t;
  }
  get count(): number {
    return this.px.length;
  }
  price(i: number): number {
    return this.px[i];
  }
  size(i: number): number {
    return this.sz[i];
  }
}

function sumN(v: LevelView, n: number): number {
  const m = Math.min(n, v.count);
  let t = 0;
  for (let i = 0; i < m; i++) t += v.size(i);
  return t;
}

/**
 * Top-of-book summary from best-first price/size arrays (shared by the live book and by
 * recomputations from stored top-15 rows, so both use one formula).
 */
export function bookTop(
  bidPx: readonly number[],
  bidSz: readonly number[],
  askPx: readonly number[],
  askSz: readonly number[],
): BookTop | null {
  return summarize(new ArrayView(bidPx, bidSz, 1), new ArrayView(askPx, askSz, -1));
}

/** Summary of two best-first sides; see `BookTop` for the formulas and units. */
export function summarize(bids: LevelView, asks: LevelView): BookTop | null {
  if (bids.count === 0 || asks.count === 0) return null;
  const bestBid = bids.price(0);
  const bestAsk = asks.price(0);
  const mid = (bestBid + bestAsk) / 2;
  const within = (bps: number): number =>
    bids.sizeWithin(mid * (1 - bps / 1e4)) + asks.sizeWithin(mid * (1 + bps / 1e4));
  const b0 = bids.size(0);
  const a0 = asks.size(0);
  return {
    bestBid,
    bestAsk,
    bestBidSize: b0,
    bestAskSize: a0,
    mid,
    spreadBps: ((bestAsk - bestBid) / mid) * 1e4,
    imbalance1: imbalance(b0, a0),
    imbalance5: imbalance(sumN(bids, 5), sumN(asks, 5)),
    imbalance15: imbalance(sumN(bids, 15), sumN(asks, 15)),
    depth5bps: within(5),
    depth10bps: within(10),
  };
}
