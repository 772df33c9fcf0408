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
}

export type HoldSide = "long" | "short";

/** One position leg (isolated margin). One-way mode holds at most one non-empty leg per symbol. */
export interface SimPosition {
  symbol: string;
  holdSide: HoldSide;
  /** Base coin, > 0. */
  size: number;
  /** Size-weighted average entry price (USDT). */
  entryPrice: number;
  leverage: number;
  /** Isolated margin posted = entry notional / leverage (USDT). */
  margin: number;
  markPrice: number;
  unrealizedPnl: number;
  /** Price at which the leg is liquidated (see `liquidationPrice`). */
  liquidationPrice: number;
}

/** Account summary (USDT). */
export interface SimAccount {
  /** Cash: initial + Σ realized PnL − Σ fees + Σ funding received. */
  balance: number;
  /** balance + Σ unrealized PnL at mark. */
  equity: number;
  /** Isolated margin of open positions. */
  positionMargin: number;
  /** Margin reserved for the opening part of pending/live orders. */
  orderMargin: number;
  /** balance − positionMargin − orderMargin (unrealized gains are not spendable). */
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
  /** The computed liquidation price the leg is closed at. */
  price: number;
  markPrice: number;
  /** Realized PnL = −margin: the whole isolated margin is lost (rest goes to the insurance fund). */
  realizedPnl: number;
}

export type VenueEvent = FillEvent | OrderUpdateEvent | FundingPaymentEvent | LiquidationEvent;

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
  /** Maintenance margin rate (ratio). Default 0.004. */
  maintenanceMarginRate?: number;
  /** Delay between placeOrder and the order reaching the book (ms). Default 0. */
  latencyMs?: number;
  /** Called for every venue event, in order. */
  onEvent?: (ev: VenueEvent) => void;
  /** Keep all venue events in `SimExchange.log` (default true). */
  keepLog?: boolean;
}
