/**
 * The engine's contract with its drivers — the centre that backtest, paper and live trading all
 * drive. A driver (backtest/runner.ts over stored data; live/live_driver.ts over the public
 * WebSocket) feeds a {@link Trader} market events on a clock, hands it the venue events, and
 * places the {@link Intent}s it returns on a venue (venue/venue.ts). Nothing here knows which
 * venue or which data source is behind the context.
 *
 * Units: prices USDT, sizes base coin, times epoch ms UTC, ratios as fractions.
 */
import type { ContractSpec } from "../market/contracts.ts";
import type { CandleEvent, MarketEvent } from "../market/events.ts";
import type {
  HoldSide,
  PlaceOrderRequest,
  PlaceTpslRequest,
  PlanType,
  SimAccount,
  SimPosition,
  TriggerType,
  VenueEvent,
} from "../venue/types.ts";

/** What a strategy wants: an order request without clientOid, plus a reason tag for trades.csv. */
export interface OrderIntent {
  kind?: "order";
  symbol: string;
  side: "buy" | "sell";
  /** Base coin; must respect the contract's lot size (see roundToLot). */
  size: number;
  orderType?: "market" | "limit";
  price?: number;
  reduceOnly?: boolean;
  force?: PlaceOrderRequest["force"];
  /** Free text recorded as the exit reason when this order closes a trade. */
  reason?: string;
  /** Bitget `presetStopLossPrice`: a pos_loss plan on the resulting position (USDT). */
  stopLossPrice?: number;
  /** Bitget `presetStopSurplusPrice`: a pos_profit plan on the resulting position (USDT). */
  takeProfitPrice?: number;
}

/** A position plan order (stop-loss, take-profit or trailing stop), Bitget `place-tpsl-order`. */
export interface TpslIntent {
  kind: "tpsl";
  symbol: string;
  holdSide: HoldSide;
  planType: PlanType;
  triggerType: TriggerType;
  /** pos_loss / pos_profit trigger price; moving_plan optional activation price (USDT). */
  triggerPrice?: number;
  /** moving_plan callback ratio (0.01 = 1 %). */
  rangeRate?: number;
}

export type Intent = OrderIntent | TpslIntent;

/** Exit reason written for fills of triggered plan orders. */
export const PLAN_REASON: Readonly<Record<PlanType, string>> = {
  pos_loss: "stop_loss",
  pos_profit: "take_profit",
  moving_plan: "trailing_stop",
};

/** A value a strategy recorded at a decision (see StrategyContext.record). */
export interface SignalRecord {
  ts: number;
  symbol: string;
  name: string;
  value: number;
}

/** Read-only view handed to traders. Prices USDT, times epoch ms. */
export interface StrategyContext {
  /** Engine time (ms): the latest exchange event time seen (backtest, paper and live alike). */
  readonly time: number;
  readonly symbols: readonly string[];
  contract(symbol: string): ContractSpec;
  positions(): SimPosition[];
  account(): SimAccount;
  /** Last book mid of `symbol` (NaN before its first book). */
  mid(symbol: string): number;
  /** Spread of the last book of `symbol`, (ask − bid) / mid in bps (NaN before its first book). */
  spreadBps(symbol: string): number;
  /** Last trade price or bar close of `symbol` (NaN before any). */
  lastPrice(symbol: string): number;
  /** True when trading `symbol` now is refused because the time lies in a data gap. */
  inGap(symbol: string): boolean;
  /** Appends a decision value to the driver's records (look-ahead check, parity, diagnostics). */
  record(symbol: string, name: string, value: number): void;
  /**
   * Live venues only: true while a market order for `symbol` is on its way (sent, not yet filled,
   * cancelled or refused) — no second entry or exit is sent meanwhile, however far the engine
   * clock moved (a burst of snapshot events can cover seconds of exchange time in one turn).
   * The backtest and paper drivers leave it out: their venue answers within its latency model.
   */
  orderInFlight?(symbol: string): boolean;
}

/** Book depth the engine's depth kill-switch reads (the venue's book in paper/backtest). */
export interface DepthView {
  /** Σ price × size (USDT) over the visible levels an order of `side` would take. */
  depthUsdt(symbol: string, side: "buy" | "sell"): number;
}

type Intents = Intent[] | void;
/** A hook result: intents now, or a Promise of them (a strategy that awaits ONNX scoring). */
export type MaybeAsync = Intents | Promise<Intents>;

/**
 * Something a driver runs: the TradingEngine (strategy → sizing → risk) or a reference strategy
 * (buy-and-hold, flat). All hooks are optional; each returns the orders to place now.
 */
export interface Trader {
  readonly name: string;
  /** Called once before the first event with the book view and the context. */
  attach?(depth: DepthView, ctx: StrategyContext): void;
  /** Every market event, after the venue applied it. */
  onEvent?(ev: MarketEvent, ctx: StrategyContext): MaybeAsync;
  /** Every closed bar (candles mode, or raw mode when candles are replayed). */
  onBar?(bar: CandleEvent, ctx: StrategyContext): MaybeAsync;
  /** Every venue event (fills, plan triggers, funding, liquidations), as it happens. */
  onVenueEvent?(ev: VenueEvent): void;
  /** After the last event (backtests): e.g. close positions. */
  onEnd?(ctx: StrategyContext): MaybeAsync;
}

/** The venue request of an order intent under `clientOid` (one-way position mode). */
export function orderRequest(it: OrderIntent, clientOid: string): PlaceOrderRequest {
  return {
    clientOid,
    symbol: it.symbol,
    side: it.side,
    orderType: it.orderType ?? "market",
    size: it.size,
    price: it.price,
    reduceOnly: it.reduceOnly,
    force: it.force,
    presetStopLossPrice: it.stopLossPrice,
    presetStopSurplusPrice: it.takeProfitPrice,
  };
}

/** The venue request of a plan intent under `clientOid`. */
export function tpslRequest(it: TpslIntent, clientOid: string): PlaceTpslRequest {
  return {
    clientOid,
    symbol: it.symbol,
    holdSide: it.holdSide,
    planType: it.planType,
    triggerType: it.triggerType,
    triggerPrice: it.triggerPrice,
    rangeRate: it.rangeRate,
  };
}
