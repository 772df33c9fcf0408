/**
 * The events the daemon alerts on (Discord and/or a JSON webhook). Every event carries `type`,
 * `ts` (epoch ms of the fact, not of delivery) and `mode` (paper / demo / live).
 *
 * Units: money in USDT (numbers), sizes in contracts and prices as the exchange gave them (string
 * or number, shown verbatim), ratios as fractions (0.05 = 5 %), durations in ms. `pnlUsdt` is the
 * realised PnL net of fees; `feesUsdt` the fees paid (already inside `pnlUsdt`).
 *
 * Severity picks the Discord colour; critical events are the last ones a full queue drops.
 */

export const ALERT_TYPES = [
  "trade_opened",
  "trade_closed",
  "regime_change",
  "model_promoted",
  "model_rejected",
  "drift_alarm",
  "halt",
  "kill_switch",
  "reconnect_storm",
  "error",
  "daily_summary",
] as const;
export type AlertType = typeof ALERT_TYPES[number];

export const ALERT_MODES = ["paper", "demo", "live"] as const;
export type AlertMode = typeof ALERT_MODES[number];

export type TradeSide = "long" | "short";
/** Contracts or a price, as Bitget sent it (`"0.010"`) or as a number. */
export type Decimal = string | number;

interface Base {
  /** Epoch ms of the fact. */
  ts: number;
  mode: AlertMode;
}

export interface TradeOpenedEvent extends Base {
  type: "trade_opened";
  symbol: string;
  side: TradeSide;
  size: Decimal;
  price: Decimal;
  notionalUsdt: number;
  clientOid: string;
}

export interface TradeClosedEvent extends Base {
  type: "trade_closed";
  symbol: string;
  side: TradeSide;
  size: Decimal;
  entryPrice: Decimal;
  exitPrice: Decimal;
  /** Realised PnL net of fees. */
  pnlUsdt: number;
  feesUsdt: number;
  holdMs: number;
}

export interface RegimeChangeEvent extends Base {
  type: "regime_change";
  symbol: string;
  from: string;
  to: string;
}

/** Model metrics by name (auc, sharpe, …): numbers, or text for labels. */
export type Metrics = Record<string, number | string>;

export interface ModelPromotedEvent extends Base {
  type: "model_promoted";
  version: string;
  /** The version it replaces; null for the first model. */
  previous: string | null;
  reason: string;
  metrics: Metrics;
}

export interface ModelRejectedEvent extends Base {
  type: "model_rejected";
  version: string;
  reason: string;
  metrics: Metrics;
}

export interface DriftAlarmEvent extends Base {
  type: "drift_alarm";
  /** Features whose population stability index crossed `threshold`. */
  features: { name: string; psi: number }[];
  threshold: number;
}

/** Trading halted: the day's loss (USDT, positive = loss) or the drawdown (ratio) hit its limit. */
export type HaltEvent =
  & Base
  & { type: "halt" }
  & (
    | { kind: "daily_loss"; valueUsdt: number; limit: number }
    | { kind: "drawdown"; ratio: number; limit: number }
  );

export interface KillSwitchEvent extends Base {
  type: "kill_switch";
  /** signal: SIGINT/SIGTERM-style operator stop; file: the kill file; risk: a risk rule. */
  source: "signal" | "file" | "risk";
  detail: string;
}

export interface ReconnectStormEvent extends Base {
  type: "reconnect_storm";
  /** The feed / connection name (e.g. "public-1", "private"). */
  feed: string;
  /** Reconnects seen within `windowMs`. */
  count: number;
  windowMs: number;
}

export interface ErrorEvent extends Base {
  type: "error";
  /** Component or operation, e.g. "oms.place". */
  where: string;
  message: string;
}

export interface DailySummaryEvent extends Base {
  type: "daily_summary";
  /** UTC date of the trading day summarised, YYYY-MM-DD. */
  date: string;
  trades: number;
  pnlUsdt: number;
  feesUsdt: number;
  /** Last equity seen; null when none was recorded. */
  equityUsdt: number | null;
  /** Largest peak-to-trough equity drop of the day, as a ratio of the peak. */
  maxDrawdown: number;
}

export type AlertEvent =
  | TradeOpenedEvent
  | TradeClosedEvent
  | RegimeChangeEvent
  | ModelPromotedEvent
  | ModelRejectedEvent
  | DriftAlarmEvent
  | HaltEvent
  | KillSwitchEvent
  | ReconnectStormEvent
  | ErrorEvent
  | DailySummaryEvent;

/** info: neutral (blue); good: a gain or an improvement (green); bad: needs attention (red). */
export type Severity = "info" | "good" | "bad";

export function severity(e: AlertEvent): Severity {
  switch (e.type) {
    case "trade_opened":
    case "regime_change":
    case "model_rejected":
      return "info";
    case "trade_closed":
      return e.pnlUsdt > 0 ? "good" : e.pnlUsdt < 0 ? "bad" : "info";
    case "daily_summary":
      return e.pnlUsdt > 0 ? "good" : e.pnlUsdt < 0 ? "bad" : "info";
    case "model_promoted":
      return "good";
    case "drift_alarm":
    case "halt":
    case "kill_switch":
    case "reconnect_storm":
    case "error":
      return "bad";
  }
}

const CRITICAL: ReadonlySet<AlertType> = new Set<AlertType>([
  "halt",
  "kill_switch",
  "model_promoted",
  "daily_summary",
]);

/** Events a full queue keeps while it holds any other (halt, kill switch, promotion, summary). */
export function isCritical(e: AlertEvent): boolean {
  return CRITICAL.has(e.type);
}
