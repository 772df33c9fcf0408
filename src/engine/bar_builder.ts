/**
 * Closed bars for strategies, built from the market stream so a bar is never seen before its
 * close: from trades (raw replays, live) or from finer stored candles (candle replays), for any
 * interval that is a multiple of the source's. A bar closes when the first event at or after
 * its end time arrives (`advance`), or when a candle ending exactly on the boundary is added.
 * Bucketing is on the UTC epoch grid (bar start = floor(ts / interval) × interval), as Bitget's
 * candles are (API.md §3.5). Buckets without trades produce no bar (a gap, not a flat bar).
 * Incomplete bars are never delivered: the first bucket of each symbol when cut from trades (the
 * stream started inside it), and a bucket missing any of its finer candles.
 */
import type { CandleEvent, TradeEvent } from "../market/events.ts";
import { intervalMs } from "../store/readers.ts";
import type { ClosedBar } from "../strategy/types.ts";

interface Building {
  /** Finer candles added (candles path) or -1 for a bucket that started mid-way (trades path). */
  parts: number;
  ts: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** Builds bars of one interval for every symbol. */
export class BarBuilder {
  readonly intervalMs: number;
  private readonly open = new Map<string, Building>();
  private readonly funding = new Map<string, number>();
  private readonly seen = new Set<string>();

  /** Throws StoreError on an interval `intervalMs()` does not know (e.g. "7m"). */
  constructor(readonly interval: string) {
    this.intervalMs = intervalMs(interval);
  }

  /** Remembers the last settled funding rate (ratio) of `symbol`, attached to later bars. */
  setFunding(symbol: string, rate: number): void {
    this.funding.set(symbol, rate);
  }

  /**
   * Closes every bar that ended at or before `now` (ms), appending them to `out` in symbol
   * insertion order. Call before applying an event at time `now`.
   */
  advance(now: number, out: ClosedBar[]): void {
    for (const [symbol, b] of this.open) {
      // A candle bucket's last candle arrives exactly at its end (candles are replayed at their
      // close), so only a later time proves it missing; a trade at the end starts the next bucket.
      const end = b.ts + this.intervalMs;
      if (b.parts > 0 ? end < now : end <= now) {
        this.close(symbol, b, out);
        this.open.delete(symbol);
      }
    }
  }

  /** Adds a trade (price USDT, size base coin) to its bucket; closes the previous one if due. */
  addTrade(t: TradeEvent, out: ClosedBar[]): void {
    this.add(t.symbol, t.ts, t.price, t.price, t.price, t.price, t.size, 0, out);
  }

  /**
   * Adds a finer candle (interval must divide this builder's). The candle is complete, so when it
   * ends on this builder's boundary the bar closes at once. Candles of the builder's own interval
   * pass straight through.
   */
  addCandle(c: CandleEvent, out: ClosedBar[]): void {
    const w = intervalMs(c.interval);
    if (w > this.intervalMs || this.intervalMs % w !== 0) return;
    this.add(c.symbol, c.ts, c.open, c.high, c.low, c.close, c.volume, 1, out);
    const b = this.open.get(c.symbol);
    if (b && c.ts + w === b.ts + this.intervalMs) {
      // Complete only when every finer candle of the bucket arrived.
      this.close(c.symbol, b, out, b.parts === this.intervalMs / w);
      this.open.delete(c.symbol);
    }
  }

  private add(
    symbol: string,
    ts: number,
    o: number,
    h: number,
    l: number,
    c: number,
    v: number,
    part: number,
    out: ClosedBar[],
  ): void {
    const start = Math.floor(ts / this.intervalMs) * this.intervalMs;
    let b = this.open.get(symbol);
    if (b && b.ts !== start) {
      if (start < b.ts) return; // late print for a closed bucket: the bar was already delivered
      this.close(symbol, b, out);
      b = undefined;
    }
    if (!b) {
      // Trades: the stream's first bucket per symbol began before we were listening.
      const first = part === 0 && !this.seen.has(symbol);
      this.seen.add(symbol);
      this.open.set(symbol, {
        parts: first ? -1 : part,
        ts: start,
        open: o,
        high: h,
        low: l,
        close: c,
        volume: v,
      });
      return;
    }
    if (b.parts >= 0) b.parts += part;
    if (h > b.high) b.high = h;
    if (l < b.low) b.low = l;
    b.close = c;
    b.volume += v;
  }

  /**
   * Delivers `b` when complete: a trade bucket (parts 0) unless it is the stream's first, a candle
   * bucket only from addCandle (`complete`); anywhere else a candle bucket lacks its last candle.
   */
  private close(symbol: string, b: Building, out: ClosedBar[], complete = b.parts === 0): void {
    if (!complete) return;
    out.push({
      symbol,
      interval: this.interval,
      intervalMs: this.intervalMs,
      ts: b.ts,
      open: b.open,
      high: b.high,
      low: b.low,
      close: b.close,
      volume: b.volume,
      fundingRate: this.funding.get(symbol) ?? NaN,
    });
  }
}
