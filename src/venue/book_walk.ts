/**
 * Taker matching against the visible book: walk the opposite side from the best level, consume
 * up to a size and (optionally) a limit price, and deplete the consumed levels so that a second
 * order before the next book message cannot take the same liquidity twice.
 */
import type { OrderBook } from "../market/order_book.ts";

/** Result of a walk: base-coin size filled and its USDT notional (VWAP = notional / filled). */
export interface WalkResult {
  filled: number;
  notional: number;
  /** Best and worst price touched (NaN when nothing filled). */
  best: number;
  worst: number;
}

/**
 * Takes up to `size` (base coin) from the asks (`direction` buy) or bids (sell), levels priced at
 * or better than `limit` only (NaN = no limit).
 * Mutates `book`: consumed levels shrink or disappear.
 */
export function walkBook(
  book: OrderBook,
  direction: "buy" | "sell",
  size: number,
  limit: number,
): WalkResult {
  const side = direction === "buy" ? book.asks : book.bids;
  const hasLimit = !Number.isNaN(limit);
  let filled = 0;
  let notional = 0;
  let best = NaN;
  let worst = NaN;
  const changed: [string, string][] = [];
  const eps = 1e-12 * Math.max(1, size);
  for (let i = 0; i < side.count && size - filled > eps; i++) {
    const px = side.price(i);
    if (hasLimit && (direction === "buy" ? px > limit : px < limit)) break;
    const avail = side.size(i);
    const take = Math.min(avail, size - filled);
    filled += take;
    notional += take * px;
    if (i === 0) best = px;
    worst = px;
    const left = avail - take;
    // Level strings are only needed for checksums, which the venue never computes.
    changed.push([String(px), left > 1e-12 ? String(left) : "0"]);
  }
  if (changed.length > 0) {
    if (direction === "buy") book.update([], changed);
    else book.update(changed, []);
  }
  return { filled, notional, best, worst };
}
