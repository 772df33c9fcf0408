/**
 * Records and wire helpers of the simulator's private API: what the private exchange keeps
 * about orders, fills, plans and position legs (private_exchange.ts, private_ledger.ts), the
 * parsed request types, and the number / enum formatting shared by the Bitget JSON builders
 * (private_format.ts, private_format_account.ts). Conventions are stated in private_format.ts.
 */
import type { ContractSpec } from "../market/contracts.ts";
import type {
  HoldSide,
  MarginMode,
  PlanType,
  SimAccount,
  SimOrder,
  SimPlanOrder,
  SimPosition,
  TriggerType,
} from "../venue/types.ts";

export type PosMode = "one_way" | "hedge";
/** place-tpsl-order plan types served (profit_plan / loss_plan = pos_profit / pos_loss with a size). */
export type WirePlanType = PlanType | "profit_plan" | "loss_plan";

/** One accepted order (API placement or a triggered plan's market order). */
export interface OrderRec {
  /** Bitget-style id: 19-digit decimal string. */
  orderId: string;
  /** SimExchange's own id of the order. */
  simId: string;
  clientOid: string;
  symbol: string;
  spec: ContractSpec;
  /** As placed: one-way = trade direction, hedge = position direction (API.md §5.3). */
  side: "buy" | "sell";
  /** Direction against the book. */
  direction: "buy" | "sell";
  /** Hedge mode: open|close; one-way: null. */
  tradeSide: "open" | "close" | null;
  posMode: PosMode;
  marginMode: MarginMode;
  leverage: number;
  orderType: "market" | "limit";
  /** As requested (market orders: gtc, as real detail bodies show). */
  force: string;
  /** Limit price (USDT) or null. */
  price: number | null;
  /** Base coin. */
  size: number;
  /** Closing order (one-way reduceOnly, or hedge tradeSide close). */
  reduceOnly: boolean;
  presetTp: number | null;
  presetSl: number | null;
  presetType: TriggerType;
  status: SimOrder["status"];
  cancelReason: string | null;
  filledSize: number;
  avgPrice: number;
  /** Fees paid (USDT, ≥ 0). */
  fee: number;
  /** Σ realized PnL of its fills (USDT). */
  profit: number;
  /** `normal` (limit), `market`, or `<planType>_market` for a triggered plan. */
  orderSource: string;
  /** How many place-order requests carried this clientOid. */
  placeRequests: number;
  cTime: number;
  uTime: number;
  fills: FillRec[];
}

/** One execution. */
export interface FillRec {
  tradeId: string;
  orderId: string;
  clientOid: string;
  symbol: string;
  spec: ContractSpec;
  /** The order's side (REST fills); `direction` is the trade direction (`fill` push). */
  side: "buy" | "sell";
  direction: "buy" | "sell";
  tradeSide: string;
  posMode: PosMode;
  orderType: "market" | "limit";
  /** USDT; a taker fill's VWAP over the levels it took. */
  price: number;
  /** Base coin. */
  size: number;
  /** Fee paid (USDT, ≥ 0). */
  fee: number;
  /** Realized PnL (USDT). */
  profit: number;
  scope: "taker" | "maker";
  ts: number;
}

/** One TP/SL plan (place-tpsl-order or a preset price of an order). */
export interface PlanRec {
  orderId: string;
  clientOid: string;
  planType: WirePlanType;
  spec: ContractSpec;
  plan: SimPlanOrder;
  posMode: PosMode;
  marginMode: MarginMode;
  cTime: number;
  uTime: number;
}

/** Per position leg bookkeeping the venue does not keep. */
export interface PositionMeta {
  posId: string;
  /** Σ realized PnL since the leg opened (USDT). */
  achieved: number;
  /** Σ trading fees paid on the leg (USDT, ≥ 0). */
  fees: number;
  /** Σ funding received (USDT, negative = paid). */
  funding: number;
  cTime: number;
  uTime: number;
}

/** A leg with what its REST / push shape needs. */
export interface PositionView {
  pos: SimPosition;
  spec: ContractSpec;
  meta: PositionMeta;
  posMode: PosMode;
  /** Base coin held by open close orders. */
  frozen: number;
  /** Unfilled base coin of open orders opening this leg. */
  openDelegate: number;
  /** Maintenance margin / margin of the leg (isolated) or of the account (crossed). */
  marginRatio: number;
  mmr: number;
  tp: PlanRec | null;
  sl: PlanRec | null;
}

/** Account summary with what its REST / push shape needs. */
export interface AccountView {
  acct: SimAccount;
  marginMode: MarginMode;
  posMode: PosMode;
  positions: SimPosition[];
  mmr: number;
  /** BTCUSDT mark (for btcEquity), NaN when unknown. */
  btcMark: number;
}

/** Success with a value, or a Bitget error code and message (API.md §7). */
export type Outcome<T> = { ok: true; value: T } | { ok: false; code: string; msg: string };

export const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });
export const fail = <T>(code: string, msg: string): Outcome<T> => ({ ok: false, code, msg });

/** A parsed place-order request (enums lower-case, numbers parsed; API.md §5.3). */
export interface PlaceParams {
  clientOid: string | null;
  symbol: string;
  side: "buy" | "sell";
  orderType: "market" | "limit";
  /** Base coin. */
  size: number;
  /** USDT; limit orders. */
  price?: number;
  force: "gtc" | "ioc" | "fok" | "post_only";
  reduceOnly: boolean;
  /** Hedge mode only. */
  tradeSide?: "open" | "close";
  /** Preset take-profit / stop-loss trigger prices (USDT). */
  presetTp?: number;
  presetSl?: number;
}

/** A parsed place-tpsl-order request (API.md §5.7). */
export interface TpslParams {
  clientOid: string | null;
  symbol: string;
  planType: WirePlanType;
  holdSide: HoldSide;
  /** USDT. */
  triggerPrice?: number;
  triggerType: TriggerType;
  /** Ratio (0.01 = 1 %), moving_plan only. */
  rangeRate?: number;
  /** Base coin. */
  size?: number;
}

export type PrivateChannel = "orders" | "fill" | "positions" | "account" | "orders-algo";

/** One push: `data` items for subscribers of `channel` (and of `symbol`, when not null). */
export interface PrivatePush {
  channel: PrivateChannel;
  symbol: string | null;
  data: Record<string, unknown>[];
  /** Exchange time, epoch ms. */
  ts: number;
}

export type Obj = Record<string, unknown>;

/** `x` rounded to `places` decimals, trailing zeros trimmed; "0" for −0 and non-finite. */
export function dec(x: number, places: number): string {
  if (!Number.isFinite(x)) return "0";
  let s = x.toFixed(places);
  if (s.includes(".")) s = s.replace(/\.?0+$/, "");
  return s === "-0" ? "0" : s;
}

export const money = (x: number) => dec(x, 8);
export const fixed = (x: number, d: number) => {
  const s = (Number.isFinite(x) ? x : 0).toFixed(d);
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
};
export const size = (x: number, s: ContractSpec) => dec(x, s.volumePlace);
export const px = (x: number, s: ContractSpec) => dec(x, s.pricePlace);
export const avg = (x: number, s: ContractSpec) => dec(x, Math.min(s.pricePlace + 4, 12));

export const posModeWire = (m: PosMode) => m === "hedge" ? "hedge_mode" : "one_way_mode";

export function statusWire(s: SimOrder["status"]): string {
  if (s === "pending") return "live";
  return s === "cancelled" ? "canceled" : s;
}

/** Hedge: open|close; one-way: `buy_single` / `sell_single` (API.md §5.3). */
export function tradeSideWire(
  o: { posMode: PosMode; tradeSide: string | null; direction: string },
) {
  return o.posMode === "hedge" ? o.tradeSide ?? "" : `${o.direction}_single`;
}

export const posSide = (o: OrderRec) =>
  o.posMode === "hedge" ? (o.side === "buy" ? "long" : "short") : "net";
export const cancelReason = (o: OrderRec) => o.cancelReason === "user" ? "normal_cancel" : "";
