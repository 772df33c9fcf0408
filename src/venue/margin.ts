/**
 * Cross-margin arithmetic of the simulated venue (Bitget `marginMode: crossed`, API.md §5.2):
 * account health, per-symbol liquidation price in closed form, and how the loss of an account
 * liquidation is split over the legs. Pure functions, no events.
 *
 * Model (one flat maintenance margin rate `mmr`, as the isolated mode in positions.ts):
 *   equity      = balance + Σ unrealized PnL of every leg at its mark
 *   maintenance = Σ mmr × size × mark over every leg
 *   the account is liquidated when equity ≤ maintenance; every leg is then closed at its mark
 *   and the whole remaining equity is lost, so the balance ends at exactly 0 (never below).
 * Where Bitget differs: it uses tiered maintenance rates by position notional (risk-limit
 * tiers), may first reduce a position to a lower tier instead of closing everything, charges a
 * liquidation fee, and hands the position to its liquidation engine at the bankruptcy price with
 * an insurance fund and auto-deleveraging behind it. Here the equity left at the liquidation
 * (≤ maintenance) is forfeited as a whole — the same convention as the isolated mode, where the
 * whole isolated margin is lost — and a deficit (a mark that gapped past the bankruptcy point)
 * is absorbed by an implicit insurance fund, so the balance never goes below 0.
 */
import { type Leg, unrealized } from "./positions.ts";

/**
 * Contribution of one leg to the account's liquidation distance (USDT):
 * unrealized PnL at `mark` − maintenance margin `mmr × size × mark`. 0 for a flat leg.
 */
export function legSlack(leg: Leg, mark: number, mmr: number): number {
  if (leg.size <= 0) return 0;
  return unrealized(leg, mark) - mmr * leg.size * mark;
}

/**
 * Cross liquidation price of one symbol: the mark P of this symbol at which the account's
 * equity equals its maintenance margin, every other symbol's mark held fixed.
 *
 * `others` = balance + Σ over the other symbols' legs of (unrealized − mmr·size·mark) (USDT).
 * With this symbol's long leg (s_L, E_L) and short leg (s_S, E_S) (a size is 0 when flat):
 *   f(P) = others + s_L(P − E_L) + s_S(E_S − P) − mmr(s_L + s_S)P = A + D·P
 *   A = others − s_L·E_L + s_S·E_S,   D = s_L − s_S − mmr(s_L + s_S)
 *   P* = −A / D; the account is liquidated for P ≤ P* when D > 0 (net long), P ≥ P* when D < 0.
 * A single long gives P* = (s·E − others) / (s(1 − mmr)), a single short
 * P* = (s·E + others) / (s(1 + mmr)): the isolated formulas with the isolated margin replaced by
 * the whole cross buffer. Both legs of a hedged symbol move with the same mark, so they share P*.
 * Returns NaN when both legs are flat or D = 0 (no single price). A long may get P* ≤ 0: its own
 * price cannot liquidate the account (Bitget reports liquidationPrice ≤ 0 likewise, API.md §5.6).
 */
export function crossLiquidationPrice(long: Leg, short: Leg, others: number, mmr: number): number {
  const sL = long.size > 0 ? long.size : 0;
  const sS = short.size > 0 ? short.size : 0;
  if (sL === 0 && sS === 0) return NaN;
  const a = others - sL * long.entryPrice + sS * short.entryPrice;
  const d = sL - sS - mmr * (sL + sS);
  if (Math.abs(d) < 1e-15 * (sL + sS)) return NaN;
  return -a / d;
}

/** One leg taking part in an account liquidation, with its symbol's mark (USDT). */
export interface CrossLegAtMark {
  leg: Leg;
  mark: number;
}

/**
 * Realized PnL booked per leg when the account is liquidated with `balance` (USDT) of cash.
 * Each leg is closed at its mark (price PnL u_i); the equity left, R = balance + Σ u_i, is
 * forfeited pro rata to the legs' maintenance margins mmr·s_i·m_i (by notional when mmr = 0).
 * Leg i books u_i − R·w_i; the total is −balance, so the balance ends at 0. When R < 0 (a gap
 * past the bankruptcy point) the same split hands the deficit to the insurance fund.
 */
export function crossLiquidationLosses(
  balance: number,
  legs: readonly CrossLegAtMark[],
  mmr: number,
): number[] {
  let equity = balance;
  let weight = 0;
  for (const { leg, mark } of legs) {
    equity += unrealized(leg, mark);
    weight += Math.max(mmr, 1e-12) * leg.size * mark;
  }
  return legs.map(({ leg, mark }) => {
    const w = weight > 0 ? Math.max(mmr, 1e-12) * leg.size * mark / weight : 1 / legs.length;
    return unrealized(leg, mark) - equity * w;
  });
}
