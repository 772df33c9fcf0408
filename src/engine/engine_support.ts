/**
 * Configuration and small helpers of the TradingEngine: the `risk:` section of config.yaml
 * (sizing method, RiskManager limits, stop trigger, kill-switch action), per-symbol return
 * series for the correlation cap, and tick rounding of stop / target prices.
 */
import { z } from "zod";
import type { ContractSpec } from "../market/contracts.ts";
import { DEFAULT_RISK_CONFIG } from "../risk/limits.ts";

const ratio = (def: number, max = 1) => z.number().min(0).max(max).default(def);

/** `risk.sizing`: how an entry is sized before the risk limits cut it (src/risk/sizing.ts). */
export const SizingConfigSchema = z.object({
  /**
   * fixed_fraction: notional = fraction × equity; risk_per_trade: lose riskPerTrade × equity at
   * the stop (fees included); vol_target: notional = equity × targetVol / annualised bar vol;
   * kelly: kellyScale × Kelly fraction from the signal's win probability and payoff.
   * A signal lacking the method's input (no stop, no volatility, no probability) falls back to
   * fixed_fraction.
   */
  method: z.enum(["fixed_fraction", "risk_per_trade", "vol_target", "kelly"]).default(
    "risk_per_trade",
  ),
  /** Fraction of equity as notional (ratio). */
  fraction: ratio(0.2, 100),
  /** Equity lost when the stop is hit (ratio). */
  riskPerTrade: ratio(0.005),
  /** Annualised volatility target (ratio, 0.3 = 30 %/yr). */
  targetVol: ratio(0.3, 10),
  /** Multiplier on the Kelly fraction (0.25 = quarter Kelly). */
  kellyScale: ratio(0.25),
}).strict();

/** `risk:` — RiskManager limits (src/risk/limits.ts) plus engine behaviour. */
export const EngineConfigSchema = z.object({
  sizing: SizingConfigSchema.default({}),
  /** Max gross notional / equity (x). */
  maxLeverage: z.number().positive().default(DEFAULT_RISK_CONFIG.maxLeverage),
  /** Σ risk-to-stop ≤ heatCap × equity (ratio). */
  heatCap: ratio(DEFAULT_RISK_CONFIG.heatCap),
  maxPositions: z.number().int().min(0).default(DEFAULT_RISK_CONFIG.maxPositions),
  /** Pearson correlation of bar returns above which a second same-side position is blocked. */
  correlationLimit: z.number().min(-1).max(1).default(DEFAULT_RISK_CONFIG.correlationLimit),
  /** Bars in the correlation window. */
  correlationWindow: z.number().int().min(2).default(DEFAULT_RISK_CONFIG.correlationWindow),
  minCorrelationSamples: z.number().int().min(2).default(DEFAULT_RISK_CONFIG.minCorrelationSamples),
  /** Daily loss kill-switch (ratio of start-of-UTC-day equity). */
  dailyLoss: ratio(DEFAULT_RISK_CONFIG.dailyLoss),
  /** Max drawdown kill-switch (ratio of peak equity); latched. */
  maxDrawdown: ratio(DEFAULT_RISK_CONFIG.maxDrawdown),
  /** No new exposure when the spread exceeds this (bps). */
  maxSpreadBps: z.number().min(0).default(DEFAULT_RISK_CONFIG.maxSpreadBps),
  /** No new exposure when visible depth on the taking side < depthMultiple × notional. */
  depthMultiple: z.number().min(0).default(DEFAULT_RISK_CONFIG.depthMultiple),
  /** Minimum adverse move to liquidation (ratio of mark). */
  minLiqDistance: ratio(DEFAULT_RISK_CONFIG.minLiqDistance),
  /** Maintenance margin rate (ratio) for liquidation estimates and the simulated venue. */
  maintenanceMarginRate: ratio(DEFAULT_RISK_CONFIG.maintenanceMarginRate),
  /** Risk per unit for positions without a stop (ratio of mark). */
  assumedStopFraction: ratio(DEFAULT_RISK_CONFIG.assumedStopFraction),
  /** Price that triggers stop-loss / take-profit / trailing plans (Bitget triggerType). */
  stopTrigger: z.enum(["mark_price", "fill_price"]).default("mark_price"),
  /** When a kill-switch trips: close every position, or only stop opening new ones. */
  haltAction: z.enum(["flatten", "reduce_only"]).default("flatten"),
}).strict();

export type EngineSettings = z.infer<typeof EngineConfigSchema>;

/** What the TradingEngine needs: the `risk:` section plus run options. */
export interface EngineConfig {
  sizing: EngineSettings["sizing"];
  risk: Omit<EngineSettings, "sizing" | "stopTrigger" | "haltAction">;
  stopTrigger: EngineSettings["stopTrigger"];
  haltAction: EngineSettings["haltAction"];
  /** Close all positions after the last event (backtests). */
  closeAtEnd: boolean;
  /** Venue order latency (ms): an exit in flight blocks re-entry for this long. */
  latencyMs: number;
}

/** Splits the `risk:` section into the engine's parts. */
export function engineConfig(
  s: EngineSettings,
  run: { closeAtEnd: boolean; latencyMs: number },
): EngineConfig {
  const { sizing, stopTrigger, haltAction, ...risk } = s;
  return { sizing, risk, stopTrigger, haltAction, ...run };
}

/** One entry decision: what the strategy asked, what sizing gave, what risk approved. */
export interface EngineDecision {
  ts: number;
  symbol: string;
  side: "long" | "short";
  reason: string;
  /** Reference (mid) price, USDT. */
  price: number;
  /** Size after sizing and sizeScale (base coin). */
  sized: number;
  /** Opening size the RiskManager approved (base coin). */
  approved: number;
  notes: string[];
}

/** Rolling log returns of bar closes per symbol (oldest first), bounded to `window`. */
export class ReturnSeries {
  private readonly last = new Map<string, number>();
  private readonly series = new Map<string, number[]>();

  constructor(private readonly window: number) {}

  add(symbol: string, close: number): void {
    const prev = this.last.get(symbol);
    this.last.set(symbol, close);
    if (prev === undefined || !(prev > 0) || !(close > 0)) return;
    let s = this.series.get(symbol);
    if (!s) this.series.set(symbol, s = []);
    s.push(Math.log(close / prev));
    // Trim in chunks: amortised O(1) per bar instead of a shift per bar.
    if (s.length > 2 * this.window) s.splice(0, s.length - this.window);
  }

  get(symbol: string): readonly number[] | undefined {
    const s = this.series.get(symbol);
    return s && s.length > this.window ? s.slice(s.length - this.window) : s;
  }
}

/**
 * Rounds a stop-loss (`sl`) or take-profit (`tp`) price to the contract's tick, away from the
 * entry (a long's stop down, its target up; mirrored for a short), so rounding never moves a
 * trigger closer to the entry. Returned with `pricePlace` decimals (Bitget rejects more, API.md §4.1).
 */
export function roundStop(
  price: number,
  side: "long" | "short",
  spec: ContractSpec,
  kind: "sl" | "tp",
): number {
  const down = (side === "long") === (kind === "sl");
  const q = price / spec.tickSize;
  const ticks = down ? Math.floor(q + 1e-9) : Math.ceil(q - 1e-9);
  return Number((ticks * spec.tickSize).toFixed(spec.pricePlace));
}
