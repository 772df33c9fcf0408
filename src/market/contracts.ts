/**
 * Contract specifications of a USDT-M perpetual, from REST `GET /api/v2/mix/market/contracts`
 * (API.md §4.1). Sizes are base-coin quantities; prices USDT; fee rates are ratios
 * (0.0006 = 6 bps).
 */
export interface ContractSpec {
  symbol: string;
  baseCoin: string;
  quoteCoin: string;
  /** Price decimals (`pricePlace`). */
  pricePlace: number;
  /** Tick multiplier (`priceEndStep`): tick = priceEndStep × 10^−pricePlace. */
  priceEndStep: number;
  /** Minimum price increment (USDT). */
  tickSize: number;
  /** Size decimals (`volumePlace`). */
  volumePlace: number;
  /** Size step / lot size (`sizeMultiplier`, base coin). */
  lotSize: number;
  /** Minimum order size (`minTradeNum`, base coin). */
  minTradeNum: number;
  /** Minimum order notional (`minTradeUSDT`, USDT). */
  minTradeUSDT: number;
  makerFeeRate: number;
  takerFeeRate: number;
  minLever: number;
  maxLever: number;
  /** Funding interval in hours (`fundInterval`). */
  fundIntervalHours: number;
  /** `normal`, `maintain`, `limit_open`, `off`, … */
  status: string;
  /** Max size of one market / limit order (base coin). */
  maxMarketOrderQty: number;
  maxOrderQty: number;
}

/** Thrown when a contracts entry lacks a field or has a non-numeric number field. */
export class ContractParseError extends Error {
  override name = "ContractParseError";
}

function num(o: Record<string, unknown>, k: string, fallback?: number): number {
  const v = o[k];
  if ((v === undefined || v === "" || v === null) && fallback !== undefined) return fallback;
  const n = typeof v === "number" ? v : Number(v);
  if (typeof v !== "string" && typeof v !== "number" || !Number.isFinite(n)) {
    throw new ContractParseError(`contract ${o.symbol}: field ${k}=${JSON.stringify(v)}`);
  }
  return n;
}

/** Parses one `data[]` entry of the contracts response (numbers arrive as strings). */
export function parseContract(o: Record<string, unknown>): ContractSpec {
  if (typeof o.symbol !== "string") throw new ContractParseError("contract without symbol");
  const pricePlace = num(o, "pricePlace");
  const priceEndStep = num(o, "priceEndStep", 1);
  return {
    symbol: o.symbol,
    baseCoin: String(o.baseCoin ?? ""),
    quoteCoin: String(o.quoteCoin ?? ""),
    pricePlace,
    priceEndStep,
    tickSize: Number((priceEndStep * 10 ** -pricePlace).toFixed(pricePlace)),
    volumePlace: num(o, "volumePlace"),
    lotSize: num(o, "sizeMultiplier"),
    minTradeNum: num(o, "minTradeNum"),
    minTradeUSDT: num(o, "minTradeUSDT", 5),
    makerFeeRate: num(o, "makerFeeRate", 0.0002),
    takerFeeRate: num(o, "takerFeeRate", 0.0006),
    minLever: num(o, "minLever", 1),
    maxLever: num(o, "maxLever", 125),
    fundIntervalHours: num(o, "fundInterval", 8),
    status: String(o.symbolStatus ?? "normal"),
    maxMarketOrderQty: num(o, "maxMarketOrderQty", Infinity),
    maxOrderQty: num(o, "maxOrderQty", Infinity),
  };
}

/** A size (base coin) as the decimal string Bitget expects: `volumePlace` decimals (API.md §4.1). */
export function formatSize(spec: ContractSpec, size: number): string {
  return size.toFixed(spec.volumePlace);
}

/** A price (USDT) as the decimal string Bitget expects: `pricePlace` decimals (API.md §4.1). */
export function formatPrice(spec: ContractSpec, price: number): string {
  return price.toFixed(spec.pricePlace);
}
