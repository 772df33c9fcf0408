/**
 * Isolated-margin position legs: entry averaging, realized PnL on reduction, margin release,
 * liquidation price. Pure arithmetic, no events.
 */
import type { HoldSide } from "./types.ts";

/** Mutable leg state held by the venue (`size` = 0 means flat). */
export interface Leg {
  holdSide: HoldSide;
  size: number;
  entryPrice: number;
  margin: number;
  leverage: number;
}

export function newLeg(holdSide: HoldSide, leverage: number): Leg {
  return { holdSide, size: 0, entryPrice: 0, margin: 0, leverage };
}

/** Sizes below this (base coin) are treated as zero, absorbing float residue of partial closes. */
export const SIZE_EPS = 1e-12;

/**
 * Adds `size` at `price` to the leg: entry becomes the size-weighted average and
 * `size × price / leverage` USDT of margin is posted. Returns the margin added.
 */
export function openLeg(leg: Leg, size: number, price: number): number {
  const total = leg.size + size;
  leg.entryPrice = (leg.entryPrice * leg.size + price * size) / total;
  leg.size = total;
  const m = size * price / leg.leverage;
  leg.margin += m;
  return m;
}

/**
 * Removes `size` (≤ leg.size) at `price`. Returns the realized PnL
 * (long: size × (price − entry); short: size × (entry − price)) and the margin released
 * (pro rata to the size closed; the whole remaining margin when the leg goes flat).
 */
export function closeLeg(
  leg: Leg,
  size: number,
  price: number,
): { pnl: number; released: number } {
  const pnl = leg.holdSide === "long"
    ? size * (price - leg.entryPrice)
    : size * (leg.entryPrice - price);
  let released: number;
  if (size >= leg.size - SIZE_EPS) {
    released = leg.margin;
    leg.size = 0;
    leg.margin = 0;
    leg.entryPrice = 0;
  } else {
    released = leg.margin * size / leg.size;
    leg.margin -= released;
    leg.size -= size;
  }
  return { pnl, released };
}

/** Unrealized PnL of the leg at `mark` (USDT). */
export function unrealized(leg: Leg, mark: number): number {
  if (leg.size === 0) return 0;
  return leg.holdSide === "long"
    ? leg.size * (mark - leg.entryPrice)
    : leg.size * (leg.entryPrice - mark);
}

/**
 * Isolated liquidation price: the mark price P at which margin + unrealized PnL equals the
 * maintenance margin `mmr × size × P`.
 * Long:  M + s(P − E) = mmr·s·P  ⇒  P = (s·E − M) / (s(1 − mmr))
 * Short: M + s(E − P) = mmr·s·P  ⇒  P = (s·E + M) / (s(1 + mmr))
 * A long with margin ≥ notional (leverage 1) gets a price ≤ 0: it cannot be liquidated.
 */
export function liquidationPrice(leg: Leg, mmr: number): number {
  if (leg.size === 0) return NaN;
  const s = leg.size;
  return leg.holdSide === "long"
    ? (s * leg.entryPrice - leg.margin) / (s * (1 - mmr))
    : (s * leg.entryPrice + leg.margin) / (s * (1 + mmr));
}
