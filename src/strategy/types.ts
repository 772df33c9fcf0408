/**
 * The strategy contract shared by backtest, paper and live trading.
 *
 * A strategy turns closed bars and market events into Signals ("enter long with this stop",
 * "exit"). It never sizes or places orders: the TradingEngine (src/engine/engine.ts) sizes an
 * entry (src/risk/sizing.ts), passes it through the RiskManager (src/risk/limits.ts), places it on
 * the venue and attaches the stop-loss / take-profit / trailing plan orders. Keeping strategies
 * pure makes the same module run against the simulated exchange and Bitget.
 *
 * Units: prices USDT, times epoch ms UTC, ratios as fractions (0.01 = 1 %), bps = 1e-4.
 */
import type { MarketEvent } from "../market/events.ts";

/** A closed OHLCV bar handed to strategies, delivered at (never before) its close time. */
export interface ClosedBar {
  symbol: string;
  /** "1m" or "15m" (any interval the engine was asked for). */
  interval: string;
  /** Bar length (ms). */
  intervalMs: number;
  /** Bar start (epoch ms). The bar is delivered at `ts + intervalMs`. */
  ts: number;
  open: number;
  high: number;
  low: number;
  close: number;
  /** Base-coin volume. */
  volume: number;
  /** Last settled funding rate (ratio) at or before the bar close; NaN when unknown. */
  fundingRate: number;
}

/** Where a stop is evaluated: Bitget's `triggerType` (API.md §5.3 plan orders). */
export type TriggerType = "mark_price" | "fill_price";

/** Open a position (or flip an opposite one). */
export interface EnterSignal {
  kind: "enter";
  symbol: string;
  side: "long" | "short";
  /** Price the decision was taken at (bar close or book mid), USDT. */
  price: number;
  /** Protective stop-loss trigger price (USDT). Required by risk-per-trade sizing. */
  stopPrice?: number;
  /** Take-profit trigger price (USDT). */
  takeProfitPrice?: number;
  /** Trailing stop callback as a ratio of the best price since entry (0.01 = 1 %). */
  trailingRatio?: number;
  /** Multiplier on the engine's computed size, in (0, 1] (e.g. 0.5 when volatility is high). */
  sizeScale?: number;
  /**
   * Exact order size (base coin, a lot multiple): the engine skips sizing; the RiskManager's
   * limits still apply. For deployment checks (the `smoke` strategy), not for trading.
   */
  fixedSize?: number;
  /** Probability that the trade wins (fractional-Kelly sizing). */
  winProb?: number;
  /** Average win / average loss (fractional-Kelly sizing). */
  payoff?: number;
  /** Per-bar return volatility (ratio) for volatility-target sizing. */
  volatility?: number;
  /** Why (recorded in trades.csv as the entry reason). */
  reason: string;
}

/** Close the whole position on `symbol` with a reduce-only market order. */
export interface ExitSignal {
  kind: "exit";
  symbol: string;
  reason: string;
}

export type Signal = EnterSignal | ExitSignal;

/** The strategy's current position on a symbol (one-way mode). */
export interface PositionView {
  side: "long" | "short";
  /** Base coin, > 0. */
  size: number;
  entryPrice: number;
  /** Time the position was opened from flat (ms). */
  openedAt: number;
}

/** Read-only market and account view handed to strategies. */
export interface StrategyView {
  /** Simulated (backtest) or wall (live) time, epoch ms. */
  readonly time: number;
  readonly symbols: readonly string[];
  position(symbol: string): PositionView | null;
  /** Book mid (USDT); NaN before the first book. */
  mid(symbol: string): number;
  /** (ask − bid) / mid in bps; NaN before the first book. */
  spreadBps(symbol: string): number;
  /** Mark price (USDT); falls back to mid / last trade before the first mark. */
  markPrice(symbol: string): number;
  /** Last trade price or bar close (USDT); NaN before any. */
  lastPrice(symbol: string): number;
  /** Taker fee rate of the symbol (ratio), for cost-aware thresholds. */
  takerFeeRate(symbol: string): number;
  /** False when the scanner ranks `symbol` outside the top-N, or it is in a data gap. */
  tradable(symbol: string): boolean;
  /**
   * Records a decision value (e.g. the model's probability, a z-score) at the current time.
   * The look-ahead check compares these between a full and a truncated run.
   */
  record(symbol: string, name: string, value: number): void;
}

/** Return type of a strategy hook; a Promise only when the hook must await (e.g. ONNX scoring). */
export type SignalResult = Signal[] | void | Promise<Signal[] | void>;

/** A trading strategy module. Every hook is optional. */
export interface TradingStrategy {
  readonly name: string;
  /** Bar intervals the strategy wants `onBar` for (e.g. ["1m"] or ["15m"]). */
  readonly barIntervals: readonly string[];
  /** Each closed bar, at its close time, in time order across symbols. */
  onBar?(bar: ClosedBar, view: StrategyView): SignalResult;
  /** Each market event (book, trade, ticker, mark, funding) after the venue applied it. */
  onEvent?(ev: MarketEvent, view: StrategyView): SignalResult;
  /** Called when the engine closed a position by a stop / take-profit / liquidation. */
  onPositionClosed?(symbol: string, reason: string, time: number): void;
  /**
   * Called once when the run ends (the backtest's last event, or the daemon's stop), also after a
   * failed run: settles work left in the background and frees what the strategy holds.
   * @throws when a result the strategy gave during the run turns out invalid (the caller fails
   *   the run), e.g. model/scorer.ts ScorerAuditError.
   */
  finish?(): Promise<void>;
}
