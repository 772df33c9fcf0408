/**
 * Types of the simulated venue (backtests and paper trading), in Bitget v2 terms (API.md §5.3):
 * sizes are base-coin quantities, prices and money USDT, times epoch ms UTC, rates are ratios
 * (0.0006 = 6 bps). Rejections carry Bitget's error codes (API.md §7).
 */
import type { ContractSpec } from "../market/contracts.ts";

/** Order request, mirroring the fields of `POST /api/v2/mix/order/place-order` (API.md §5.3). */
export interface PlaceOrderRequest {
  /** Caller's id, `[0-9a-zA-Z-+_#]`, shorter than 50 chars, unique per venue. */
  clientOid: string;
  symbol: string;
  /** One-way mode: trade direction. Hedge mode: position direction (buy = long, sell = short). */
  side: "buy" | "sell";
  orderType: "market" | "limit";
  /** Base-coin quantity; a multiple of `lotSize`, at least `minTradeNum`. */
  size: number;
  /** Limit price (USDT), a multiple of `tickSize`; required for limit orders. */
  price?: number;
  /** One-way mode only: the order may only shrink the position. */
  reduceOnly?: boolean;
  /** Hedge mode only (required there): open or close the `side` leg. */
  tradeSide?: "open" | "close";
  /** Limit orders only; default `gtc`. */
  force?: "gtc" | "ioc" | "fok" | "post_only";
  /**
   * Bitget `presetStopLossPrice` (USDT, tick-aligned): when the opening part of this order
   * fills, a `pos_loss` plan (clientOid `${clientOid}-sl`) is placed on the leg it opened.
   * Opening orders only.
   */
  presetStopLossPrice?: number;
  /** Bitget `presetStopSurplusPrice`: likewise a `pos_profit` plan, clientOid `${clientOid}-tp`. */
  presetStopSurplusPrice?: number;
}

/** A refused request: Bitget error code (API.md §7) and a message naming the offending field. */
export interface Rejection {
  code: string;
  msg: string;
}

export type OrderStatus =
  | "pending" // accepted, not yet active (order latency)
  | "live"
  | "partially_filled"
  | "filled"
  | "cancelled";

/** Venue-side state of one order (a copy is handed out; mutate nothing). */
export interface SimOrder {
  orderId: string;
  clientOid: string;
  symbol: string;
  side: "buy" | "sell";
  /** Direction against the book: buy takes asks / rests on the bid side. */
  direction: "buy" | "sell";
  tradeSide: "open" | "close" | null;
  orderType: "market" | "limit";
  force: "gtc" | "ioc" | "fok" | "post_only";
  price: number | null;
  size: number;
  reduceOnly: boolean;
  filledSize: number;
  /** Size-weighted average fill price (0 before any fill). */
  avgPrice: number;
  /** Fees paid so far (USDT, positive = paid). */
  fee: number;
  status: OrderStatus;
  /** Why a cancelled order was cancelled (`user`, `ioc_remainder`, `fok_unfilled`, …). */
  cancelReason: string | null;
  createdAt: number;
  /** Clock time at which the order reaches the matching engine (createdAt + latency). */
  activeAt: number;
  /** Displayed size at the order's price when it started resting (queue approximation). */
  queueAhead: number;
  /**
   * The exchange's exact decimal strings (Bitget venue); absent on the simulated exchange.
   * `fee` positive = paid; `avgPrice` null before any fill.
   */
  exact?: { size: string; filledSize: string; avgPrice: string | null; fee: string };
}

export type HoldSide = "long" | "short";

/** One position leg. One-way mode holds at most one non-empty leg per symbol. */
export interface SimPosition {
  symbol: string;
  holdSide: HoldSide;
  /** The venue's margin mode (`SimExchangeConfig.marginMode`). */
  marginMode: MarginMode;
  /** Base coin, > 0. */
  size: number;
  /** Size-weighted average entry price (USDT). */
  entryPrice: number;
  leverage: number;
  /** Margin posted = entry notional / leverage (USDT); counts as used in `available`. */
  margin: number;
  markPrice: number;
  unrealizedPnl: number;
  /**
   * Mark price at which the leg is liquidated. Isolated: positions.ts `liquidationPrice`.
   * Crossed: the mark of this symbol at which the whole account reaches its maintenance margin,
   * other symbols' marks held fixed (margin.ts `crossLiquidationPrice`; both legs of a hedged
   * symbol share it). A value ≤ 0 means the leg cannot be liquidated by its own price
   * (Bitget reports `liquidationPrice` ≤ 0 the same way, API.md §5.6); NaN when no finite
   * price exists.
   */
  liquidationPrice: number;
}

/** Account summary (USDT). */
export interface SimAccount {
  /** Cash: initial + Σ realized PnL − Σ fees + Σ funding received. */
  balance: number;
  /** balance + Σ unrealized PnL at mark. */
  equity: number;
  /** Margin posted by open positions (entry notional / leverage, both margin modes). */
  positionMargin: number;
  /** Margin reserved for the opening part of pending/live orders. */
  orderMargin: number;
  /**
   * balance − positionMargin − orderMargin (unrealized gains are not spendable). The same in
   * crossed mode: unrealized losses do not reduce it (Bitget's `crossedMaxAvailable` does).
   */
  available: number;
  unrealizedPnl: number;
  /** Running totals since construction (for the accounting identity). */
  totalRealizedPnl: number;
  totalFees: number;
  /** Net funding received (negative = paid). */
  totalFunding: number;
}

export interface FillEvent {
  type: "fill";
  ts: number;
  orderId: string;
  clientOid: string;
  symbol: string;
  direction: "buy" | "sell";
  /** Average price of this fill (USDT); for a taker fill the VWAP of the consumed levels. */
  price: number;
  size: number;
  /** Fee paid (USDT, ≥ 0) = price × size × rate. */
  fee: number;
  liquidity: "maker" | "taker";
  /** PnL realized by the closing part of this fill (USDT). */
  realizedPnl: number;
  /** Set when the order was submitted by a triggered plan (stop-loss, take-profit, trailing). */
  planType?: PlanType;
  /** Exchange trade id (Bitget `tradeId`); absent on the simulated exchange. */
  tradeId?: string;
  /** The exchange's exact decimal strings (Bitget venue); absent on the simulated exchange. */
  exact?: { price: string; size: string; fee: string };
}

export interface OrderUpdateEvent {
  type: "order";
  ts: number;
  order: SimOrder;
}

export interface FundingPaymentEvent {
  type: "funding";
  ts: number;
  symbol: string;
  holdSide: HoldSide;
  size: number;
  markPrice: number;
  rate: number;
  /** Signed: positive = received, negative = paid (USDT). */
  amount: number;
}

export interface LiquidationEvent {
  type: "liquidation";
  ts: number;
  symbol: string;
  holdSide: HoldSide;
  size: number;
  entryPrice: number;
  /**
   * Price the leg is closed at: isolated = its computed liquidation price; crossed = the mark
   * price at the time of the account liquidation.
   */
  price: number;
  markPrice: number;
  /**
   * What was lost (USDT, ≤ 0 unless an insurance-fund top-up applies). Isolated: −margin, the
   * whole isolated margin. Crossed: this leg's share of the account balance, which goes to 0
   * (margin.ts `crossLiquidationLosses`).
   */
  realizedPnl: number;
}

/** Bitget `place-tpsl-order` plan types (API.md §5.7) supported by the venue. */
export type PlanType = "pos_loss" | "pos_profit" | "moving_plan";
/**
 * Price a plan watches: `mark_price` = the mark (ticker/mark events, else the venue's fallback
 * mark), `fill_price` = the last trade print.
 */
export type TriggerType = "mark_price" | "fill_price";
/** Bitget margin modes (API.md §5.2). */
export type MarginMode = "isolated" | "crossed";

/** Position TP/SL or trailing stop, as `POST /api/v2/mix/order/place-tpsl-order` (API.md §5.7). */
export interface PlaceTpslRequest {
  /** Shares the namespace of order clientOids (unique per venue); same charset/length rules. */
  clientOid: string;
  symbol: string;
  /** The position leg (one-way mode: the side of the current position). */
  holdSide: HoldSide;
  planType: PlanType;
  /**
   * pos_loss / pos_profit: trigger price (USDT, tick-aligned), required. moving_plan: optional
   * activation price — the trail starts once the price reaches it (long: ≥, short: ≤).
   */
  triggerPrice?: number;
  triggerType: TriggerType;
  /** moving_plan only: callback ratio, Bitget `rangeRate` (0.01 = 1 %), in (0, 0.1]. */
  rangeRate?: number;
  /** Base coin (lot multiple); absent = the whole position at trigger time. */
  size?: number;
}

/** Venue-side state of one plan (a copy is handed out). */
export interface SimPlanOrder {
  clientOid: string;
  symbol: string;
  holdSide: HoldSide;
  planType: PlanType;
  triggerType: TriggerType;
  triggerPrice: number | null;
  rangeRate: number | null;
  size: number | null;
  status: "live" | "triggered" | "cancelled";
  createdAt: number;
  triggeredAt: number | null;
  /**
   * moving_plan: best price since creation/activation (max for a long, min for a short); null
   * while not active (activation price not reached, or no price seen yet). Other plans: null.
   */
  extreme: number | null;
  /** `user` (cancelPlan) or `position_closed` (the leg went flat, incl. liquidation). */
  cancelReason: string | null;
}

/** A plan was created, triggered or cancelled (`plan.status` says which). */
export interface PlanEvent {
  type: "plan";
  ts: number;
  plan: SimPlanOrder;
}

/** The venue's positions changed (Bitget `positions` push, or a REST re-read): all open legs. */
export interface PositionsEvent {
  type: "positions";
  ts: number;
  positions: SimPosition[];
}

/** The account changed (Bitget `account` push, or a REST re-read). */
export interface AccountEvent {
  type: "account";
  ts: number;
  account: SimAccount;
}

export type VenueEvent =
  | FillEvent
  | OrderUpdateEvent
  | FundingPaymentEvent
  | LiquidationEvent
  | PlanEvent
  | PositionsEvent
  | AccountEvent;

/** Venue configuration. */
export interface SimExchangeConfig {
  /** Contract specs of tradable symbols (tick, lot, minimums, fee rates, leverage bounds). */
  contracts: readonly ContractSpec[];
  /** Starting cash (USDT). */
  initialBalance: number;
  /** `one_way` (netting) or `hedge` (long and short legs), API.md §5.3. Default one_way. */
  positionMode?: "one_way" | "hedge";
  /** Default leverage for every symbol (clamped to [minLever, maxLever]). Default 10. */
  leverage?: number;
  /** Maintenance margin rate (ratio, one flat tier). Default 0.004. */
  maintenanceMarginRate?: number;
  /**
   * `isolated` (default): each leg is liquidated on its own margin. `crossed`: unrealized PnL is
   * shared and the account is liquidated when equity ≤ Σ maintenance margin (see margin.ts).
   */
  marginMode?: MarginMode;
  /** Trigger source of plans made from preset stop-loss / take-profit prices (fill_price). */
  presetTriggerType?: TriggerType;
  /**
   * Fill model of the reduce-only market order a triggered plan submits (sim_exchange.ts doc).
   * `book` (default): it walks the venue's book at activation, like any market order.
   * `trigger`: it fills in full, as taker, at the plan's trigger level — or at the first price
   * beyond it when the market gapped through it — moved adversely by `planFillSlippageBps` and
   * rounded to the tick adversely; the book is neither consulted nor depleted. Meant for candle
   * replays, whose synthetic book would otherwise decide the stop's fill.
   */
  planFill?: "book" | "trigger";
  /** `planFill: "trigger"` only: adverse slippage applied to the trigger fill (bps, ≥ 0). Default 1. */
  planFillSlippageBps?: number;
  /** Delay between placeOrder and the order reaching the book (ms). Default 0. */
  latencyMs?: number;
  /** Called for every venue event, in order. */
  onEvent?: (ev: VenueEvent) => void;
  /** Keep all venue events in `SimExchange.log` (default true). */
  keepLog?: boolean;
}
