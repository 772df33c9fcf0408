/**
 * Configuration of the `ml` strategy (strategy/ml.ts) and of its walk-forward retrainer
 * (strategy/retrain.ts), validated with zod. Durations accept `90s`, `10m`, `48h` or a number of
 * ms (config/duration.ts); bps = 1e-4; probabilities are fractions in [0, 1].
 */
import { z } from "zod";
import { zDuration } from "../config/zod_duration.ts";

/** A duration written as text (`10m`) or ms; parsed to ms with a message naming the bad value. */
const Duration = zDuration();

/**
 * How retraining labels rows when there is no bundle to copy it from (or the bundle was not
 * written by `bitget-bot train` and has no `training` section). With a bundle that has one, its
 * label definition is used and this section must be absent (labels must match the bundle's).
 */
export const MlLabelSchema = z.object({
  /** Feature set: candle (closed bars of `interval`) or micro (1 s samples). */
  features: z.enum(["candle", "micro"]),
  /** Candle interval ("1m", "15m"); ignored for micro. */
  interval: z.string().default("1m"),
  objective: z.enum(["multiclass", "binary", "regression"]).default("multiclass"),
  /** Label horizon in steps (bars or seconds). */
  horizon: z.number().int().min(1),
  /** Label cost threshold parts (features/labels.ts costThresholdBps), bps. */
  takerFeeBps: z.number().min(0).default(6),
  slippageBps: z.number().min(0).default(1),
  /** Full spread, bps; null = the observed spread of each 1 s sample (micro only). */
  spreadBps: z.number().min(0).nullable().default(1),
}).strict();
export type MlLabelConfig = z.infer<typeof MlLabelSchema>;

/** Walk-forward retraining (strategy/retrain.ts). */
export const RetrainSchema = z.object({
  enabled: z.boolean().default(false),
  /** Rows whose decision time lies in [t − trainWindowMs, t] may train the model at time t. */
  trainWindowMs: Duration.default("48h"),
  /** Retrain at every multiple of everyMs (epoch-aligned grid), at the first decision at/after it. */
  everyMs: Duration.default("1h"),
  /** A retrain with fewer labelled rows is skipped (logged) and the current model kept. */
  minRows: z.number().int().min(1).default(1000),
  /**
   * Trainer parameters with LightGBM names (model/train/params.ts), e.g. { num_iterations: 50,
   * learning_rate: 0.05, num_leaves: 15 }. The objective (and num_class) come from the label
   * definition and may not be given.
   */
  params: z.record(z.union([z.string(), z.number(), z.boolean()])).default({}),
  /** Label definition when the bundle has none (see MlLabelSchema). */
  label: MlLabelSchema.optional(),
  /**
   * Feature drift (model/drift.ts): every driftCheckMs, the PSI of each feature over the last
   * driftWindowMs against the live model's training rows; any feature above psiThreshold raises
   * a drift alarm and a retrain (at most one triggered retrain per minIntervalMs).
   */
  driftWindowMs: Duration.default("6h"),
  driftCheckMs: Duration.default("15m"),
  psiThreshold: z.number().positive().default(0.25),
  psiBins: z.number().int().min(2).max(100).default(10),
  /**
   * Features whose PSI raises no alarm (still measured and exported). Default: the funding
   * features, which move on Bitget's 8 h funding cycle — the countdown to the next funding (a
   * clock), the last settled rate (a step every 8 h) and the predicted rate (drifts within the
   * cycle and resets at each settlement). A window shorter than the cycle sees one or two of
   * their values and always looks drifted: on the 30-day month with the defaults, every drift
   * alarm named funding_settled_bps (PSI ≈ 5).
   */
  driftExclude: z.array(z.string().min(1)).default([
    "funding_time_min",
    "funding_settled_bps",
    "funding_rate_bps",
  ]),
  /**
   * Performance decay: the Sharpe ratio (mean / standard deviation, per decision, after costs)
   * of the live model's last sharpeWindow matured entry decisions; below sharpeThreshold it
   * raises a decay alarm and a retrain. null = off.
   */
  sharpeThreshold: z.number().nullable().default(0),
  sharpeWindow: z.number().int().min(5).default(50),
  /** Least time between two retrains triggered by drift or decay (the schedule is not held). */
  minIntervalMs: Duration.default("15m"),
  /**
   * A retrained model shadows the live one this long before it may trade: it is promoted only
   * if, on the rows of that window whose labels matured, its logloss (classifiers) is at most
   * the live model's, or its information coefficient (regression) at least the live model's.
   * 0 = promote at once (no shadow).
   */
  shadowForMs: Duration.default("1h"),
  /** A shadow with fewer matured rows than this is rejected (too little evidence). */
  minShadowRows: z.number().int().min(1).default(100),
}).strict();
export type RetrainConfig = z.infer<typeof RetrainSchema>;

/** The `ml` strategy settings. */
export const MlConfigSchema = z.object({
  /**
   * Model bundle (`models/<name>`, or its .json), or a model registry folder (its live version,
   * model/model_registry.ts); null = none (needs retrain with a label).
   */
  model: z.string().min(1).nullable().default("models/default"),
  /** Classifiers: minimum probability of the entered side. */
  minProb: z.number().min(0).max(1).default(0.4),
  /** Classifiers: minimum p(side) − p(opposite side) (binary: p − (1 − p)). */
  minMargin: z.number().min(0).max(1).default(0.1),
  /** Regression: edge over costs needed to enter, bps (enter when |pred| ≥ entryBps + cost). */
  entryBps: z.number().min(0).default(0),
  /** Regression: exit a long when pred < −exitBps (a short when pred > exitBps). */
  exitBps: z.number().min(0).default(0),
  /** Slippage + spread allowance over the round trip, bps, added to 2 × taker fee. */
  slippageBps: z.number().min(0).default(2),
  /** Exit when the model signals the opposite side (classifiers) or its prediction flips (regression). */
  exitOnReversal: z.boolean().default(true),
  /** Stop-loss distance from the decision price, bps (fallback when the ATR is not known). */
  stopLossBps: z.number().positive().optional(),
  /** Take-profit distance from the decision price, bps (fallback when the ATR is not known). */
  takeProfitBps: z.number().positive().optional(),
  /** Stop-loss distance as a multiple of the ATR feature (atr14_bps / atr15m_bps) when finite. */
  stopLossAtr: z.number().positive().optional(),
  /** Take-profit distance as a multiple of the ATR feature when finite. */
  takeProfitAtr: z.number().positive().optional(),
  /** Trailing stop callback, bps of the best price since entry. */
  trailingBps: z.number().positive().optional(),
  /** No new entry on a symbol for this long after its position closed (any reason). */
  cooldownMs: Duration.default(0),
  /**
   * Exit (reason "max_hold") once a position is this old. Default: the label horizon clamped to
   * the style's holding range (candle 5–10 min, micro 5–30 s).
   */
  maxHoldMs: Duration.optional(),
  /**
   * Steps (bars / seconds) after a start or a data hole before decisions start. Default: candle —
   * the longest warm-up of the model's features (registry.ts); micro — the 60 s windows (longer
   * z-score / ATR features stay missing, as in training on short recordings).
   */
  warmupSteps: z.number().int().min(0).optional(),
  /**
   * Single-row scoring engine: `compiled` (default) scores with the compiled ensemble where it
   * equals onnxruntime bit for bit (checked at load and audited on 1 row in 64, model/scorer.ts),
   * else onnxruntime; `onnxruntime` always uses onnxruntime.
   */
  scoring: z.enum(["compiled", "onnxruntime"]).default("compiled"),
  /** Multiplier on the engine's computed size, in (0, 1]. */
  sizeScale: z.number().gt(0).max(1).optional(),
  retrain: RetrainSchema.default({}),
}).strict();
export type MlConfig = z.infer<typeof MlConfigSchema>;

/**
 * Parses raw config input (e.g. from YAML) into an MlConfig with defaults applied.
 * @throws RangeError listing every problem as `ml.<path>: <message>`.
 */
export function parseMlConfig(input: unknown): MlConfig {
  const r = MlConfigSchema.safeParse(input ?? {});
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `ml.${i.path.join(".") || "(root)"}: ${i.message}`);
  throw new RangeError(`invalid ml strategy config:\n  ${issues.join("\n  ")}`);
}
