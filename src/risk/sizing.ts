/**
 * Position sizing for USDT-M perpetuals. Every function returns a size in base coin that has
 * been capped by leverage and fitted to the exchange's order limits (contract spec from
 * `GET /api/v2/mix/market/contracts`, API.md §4.1): rounded DOWN to `lotSize`, and set to 0
 * with a reason when below `minTradeNum` (base coin) or `minTradeUSDT` (notional, USDT).
 * Prices and equity are USDT; fractions are ratios (0.01 = 1 %).
 */
import type { ContractSpec } from "../market/contracts.ts";

/** The part of a ContractSpec that bounds an order's size. */
export type ExchangeLimits = Pick<
  ContractSpec,
  "lotSize" | "minTradeNum" | "minTradeUSDT" | "maxLever"
>;

/** Thrown for non-finite or out-of-range sizing inputs; the message names the field. */
export class RiskInputError extends Error {
  override name = "RiskInputError";
}

/** Result of a sizing call. `size` is final (lot-aligned, ≥ min or 0). */
export interface SizeResult {
  /** Final order size (base coin). */
  size: number;
  /** size × price (USDT). */
  notional: number;
  /** Size before leverage caps and exchange rounding (base coin). */
  rawSize: number;
  /** Why the size was capped or zeroed (empty when the raw size passed through). */
  reasons: string[];
}

/** Common inputs: account equity (USDT), reference price (USDT), contract limits. */
export interface SizingContext {
  equity: number;
  price: number;
  contract: ExchangeLimits;
  /** Configured leverage cap (notional / equity); the tighter of this and contract.maxLever wins. */
  maxLeverage: number;
}

export function requirePositive(v: number, what: string): void {
  if (!Number.isFinite(v) || v <= 0) {
    throw new RiskInputError(`${what} must be a finite number > 0, got ${v}`);
  }
}

function requireFraction(v: number, what: string): void {
  if (!Number.isFinite(v) || v < 0) {
    throw new RiskInputError(`${what} must be a finite number ≥ 0, got ${v}`);
  }
}

/** Decimals of a lot step such as 0.001 → 3 (used to strip float noise after flooring). */
function stepDecimals(step: number): number {
  const s = String(step);
  if (s.includes("e-")) return Number(s.split("e-")[1]);
  const dot = s.indexOf(".");
  return dot < 0 ? 0 : s.length - dot - 1;
}

/**
 * Rounds a size DOWN to a multiple of `lotSize` (base coin). A relative epsilon of 1e-9 keeps
 * 0.3/0.1-style float noise from dropping a whole lot.
 */
export function floorToLot(size: number, lotSize: number): number {
  if (!(size > 0)) return 0;
  const lots = Math.floor(size / lotSize + 1e-9);
  return Number((lots * lotSize).toFixed(stepDecimals(lotSize)));
}

/**
 * Caps a raw size by leverage (size·price ≤ equity·min(maxLeverage, contract.maxLever)), rounds
 * down to the lot size and zeroes it below `minTradeNum` / `minTradeUSDT` (API.md §4.1).
 */
export function fitToLimits(rawSize: number, ctx: SizingContext): SizeResult {
  requirePositive(ctx.equity, "equity");
  requirePositive(ctx.price, "price");
  requirePositive(ctx.maxLeverage, "maxLeverage");
  requirePositive(ctx.contract.lotSize, "contract.lotSize");
  const reasons: string[] = [];
  let size = Math.max(0, rawSize);
  const lev = Math.min(ctx.maxLeverage, ctx.contract.maxLever);
  const levCap = ctx.equity * lev / ctx.price;
  if (size > levCap) {
    size = levCap;
    reasons.push(`capped by leverage ${lev}x`);
  }
  size = floorToLot(size, ctx.contract.lotSize);
  if (size > 0 && size < ctx.contract.minTradeNum) {
    reasons.push(`size ${size} below minTradeNum ${ctx.contract.minTradeNum}`);
    size = 0;
  } else if (size > 0 && size * ctx.price < ctx.contract.minTradeUSDT) {
    reasons.push(`notional ${size * ctx.price} below minTradeUSDT ${ctx.contract.minTradeUSDT}`);
    size = 0;
  } else if (size === 0 && rawSize > 0) {
    reasons.push(`size below one lot ${ctx.contract.lotSize}`);
  }
  return { size, notional: size * ctx.price, rawSize, reasons };
}

/** Fixed fraction of equity: notional = fraction · equity, size = notional / price. */
export function fixedFractionSize(ctx: SizingContext, fraction: number): SizeResult {
  requireFraction(fraction, "fraction");
  requirePositive(ctx.price, "price");
  return fitToLimits(fraction * ctx.equity / ctx.price, ctx);
}

/**
 * Risk per trade from the stop distance: lose `riskFraction · equity` (USDT) if stopped out,
 * fees included. Loss per base coin = |entry − stop| + takerFeeRate·(entry + stop) (taker fee
 * on the entry and on the stop fill), so size = equity·r / (|entry − stop| + fee·(entry + stop)).
 * `ctx.price` is the entry. Throws RiskInputError when stop = entry.
 */
export function riskPerTradeSize(
  ctx: SizingContext,
  stopPrice: number,
  riskFraction: number,
  takerFeeRate: number,
): SizeResult {
  requirePositive(stopPrice, "stopPrice");
  requireFraction(riskFraction, "riskFraction");
  requireFraction(takerFeeRate, "takerFeeRate");
  const dist = Math.abs(ctx.price - stopPrice);
  if (dist === 0) throw new RiskInputError("stopPrice equals entry price");
  const perUnit = dist + takerFeeRate * (ctx.price + stopPrice);
  return fitToLimits(ctx.equity * riskFraction / perUnit, ctx);
}

/**
 * Volatility targeting (Moreira & Muir 2017, "Volatility-Managed Portfolios"):
 * notional = equity · targetVol / realisedVol, both vols in the same units (e.g. annualised).
 */
export function volTargetSize(
  ctx: SizingContext,
  targetVol: number,
  realisedVol: number,
): SizeResult {
  requireFraction(targetVol, "targetVol");
  requirePositive(realisedVol, "realisedVol");
  requirePositive(ctx.price, "price");
  return fitToLimits(ctx.equity * targetVol / realisedVol / ctx.price, ctx);
}

/**
 * Kelly fraction for a binary bet (Kelly 1956; Thorp 2006 "The Kelly criterion in blackjack,
 * sports betting and the stock market"): f* = p − (1 − p)/b, with p = win probability and
 * b = average win / average loss. Returns max(0, scale · f*).
 */
export function kellyFraction(winProb: number, payoff: number, scale: number): number {
  if (!(winProb >= 0 && winProb <= 1)) {
    throw new RiskInputError(`winProb must be in [0, 1], got ${winProb}`);
  }
  requirePositive(payoff, "payoff (win/loss ratio)");
  requireFraction(scale, "kelly scale");
  return Math.max(0, scale * (winProb - (1 - winProb) / payoff));
}

/** Fractional Kelly sizing: notional = max(0, scale·(p − (1−p)/b)) · equity. */
export function kellySize(
  ctx: SizingContext,
  winProb: number,
  payoff: number,
  scale: number,
): SizeResult {
  return fixedFractionSize(ctx, kellyFraction(winProb, payoff, scale));
}
