/**
 * What the `ml` strategy needs to know about its model, resolved once at start-up: the feature
 * style (candle bars of an interval, or 1 s micro samples), the model's input names and their
 * position in the engine's output (registry.ts `projection`), the output kind and class meaning,
 * the label definition retraining must reproduce, and the ORT scorer.
 *
 * The model path may name a bundle or a model registry folder (model/model_registry.ts): a
 * registry resolves to its live version's bundle, and `registry` records where it came from.
 *
 * Sources, first found wins: the bundle's `training` section (written by `bitget-bot train`,
 * model/dataset.ts TrainingSectionSchema); else the bundle's feature names (all candle → candle on
 * 1m bars, all micro → micro) with `retrain.label` for the label; with no bundle, `retrain.label`.
 *
 * The decision rule turns one row of model outputs into a verdict (see {@link DecisionRule}).
 */
import type { MicroOptions } from "../features/micro.ts";
import { featureDef, featureSet, type FeatureSetName, projection } from "../features/registry.ts";
import { LABEL_CLASSES } from "../features/labels.ts";
import { type BundleMeta, readBundleMeta } from "../model/bundle.ts";
import { DatasetError, readTrainingSection, type TrainingSection } from "../model/dataset.ts";
import { Scorer, type ScorerOptions } from "../model/scorer.ts";
import { parseDuration } from "../config/duration.ts";
import type { MlConfig } from "./ml_config.ts";
import type { LabelSpec } from "./retrain.ts";
import { DriftReference } from "../model/drift.ts";
import { ModelRegistry } from "../model/model_registry.ts";

export type ModelKind = "multiclass" | "binary" | "regression";

/** The resolved model description (see file doc). */
export interface ModelSetup {
  style: FeatureSetName;
  /** Candle bar interval ("1m", "15m") or "1s" for micro. */
  interval: string;
  /** Step between decisions of one symbol, ms (bar length or 1000). */
  stepMs: number;
  /** Model input names, in input order. */
  featureNames: readonly string[];
  /** modelRow[j] = engineRow[projection[j]]. */
  projection: Int32Array;
  kind: ModelKind;
  /** Names of the output columns (classifiers), e.g. ["flat","long","short"]. */
  classes: readonly string[] | null;
  /** Label definition for retraining; null when unknown (retraining then refused). */
  label: LabelSpec | null;
  /** Label horizon, ms (NaN when unknown). */
  horizonMs: number;
  micro: MicroOptions;
  /** Loaded bundle scorer; null without a bundle. */
  scorer: Scorer | null;
  /** Bundle name, or null. */
  bundle: string | null;
  /** Bundle path as resolved (a registry's live bundle), or null. */
  bundlePath: string | null;
  /** The bundle's PSI reference (its training rows' bins), or null when it has none. */
  drift: DriftReference | null;
  /** The registry the bundle is the live version of, or null for a plain bundle path. */
  registry: { dir: string; version: string } | null;
}

/** A configuration / bundle combination the strategy cannot run with. */
export class MlSetupError extends Error {
  override name = "MlSetupError";
}

function styleOf(names: readonly string[], where: string): FeatureSetName {
  for (const s of ["candle", "micro"] as const) {
    const set = new Set(featureSet(s).features);
    if (names.every((n) => set.has(n))) return s;
  }
  throw new MlSetupError(
    `${where}: its features are neither all candle nor all micro features: ${names.join(", ")}`,
  );
}

function stepOf(style: FeatureSetName, interval: string, where: string): number {
  if (style === "micro") return 1000;
  let ms: number;
  try {
    ms = parseDuration(interval);
  } catch {
    ms = NaN;
  }
  if (!(ms > 0) || !/^\d+[mhd]$/.test(interval)) {
    throw new MlSetupError(`${where}: candle interval "${interval}" is not like 1m or 15m`);
  }
  return ms;
}

/**
 * Reads the bundle (if any) and the config into a {@link ModelSetup}, loading the ORT scorer
 * (hash-checked, features verified).
 * @throws MlSetupError for an unusable combination (no bundle and no retrain label, features of
 *   both sets, classes without long/short, a label given both ways); BundleError for a bad bundle.
 */
export async function resolveModel(
  cfg: MlConfig,
  path: string | null,
  reference: ScorerOptions["reference"] = "inline",
): Promise<ModelSetup> {
  const rl = cfg.retrain.label;
  if (path === null) {
    if (!cfg.retrain.enabled || !rl) {
      throw new MlSetupError(
        "ml: no model bundle: set ml.model, or enable ml.retrain with a ml.retrain.label " +
          "(features, interval, objective, horizon) so a model is trained from the stream",
      );
    }
    const stepMs = stepOf(rl.features, rl.interval, "ml.retrain.label");
    const names = featureSet(rl.features).features;
    return {
      style: rl.features,
      interval: rl.features === "micro" ? "1s" : rl.interval,
      stepMs,
      featureNames: names,
      projection: projection(featureSet(rl.features), names),
      kind: rl.objective,
      classes: classesOf(rl.objective),
      label: { ...rl, stepMs },
      horizonMs: rl.horizon * stepMs,
      micro: {},
      scorer: null,
      bundle: null,
      bundlePath: null,
      drift: null,
      registry: null,
    };
  }
  let registry: ModelSetup["registry"] = null;
  if (await ModelRegistry.isRegistry(path)) {
    const reg = await ModelRegistry.open(path);
    const live = await reg.live();
    if (!live) {
      throw new MlSetupError(
        `ml: model registry ${path} has no live version: bitget-bot model promote <version>`,
      );
    }
    registry = { dir: reg.dir, version: live.version };
    path = live.bundle;
  }
  const meta = await readBundleMeta(path);
  let training: TrainingSection | null = null;
  try {
    training = await readTrainingSection(path);
  } catch (e) {
    if (!(e instanceof DatasetError)) throw e; // no training section: a LightGBM import
  }
  const where = `bundle ${meta.name}`;
  const style = training?.featureSet ?? styleOf(meta.featureNames, where);
  const interval = style === "micro" ? "1s" : training?.interval ?? rl?.interval ?? "1m";
  const stepMs = stepOf(style, interval, where);
  let idx: Int32Array;
  try {
    idx = projection(featureSet(style), meta.featureNames);
  } catch (e) {
    throw new MlSetupError(`${where}: ${e instanceof Error ? e.message : e}`);
  }
  const kind: ModelKind = meta.objective.name;
  const classes = kind === "regression" ? null : meta.classes ?? classesOf(kind);
  if (kind === "multiclass" && !(classes?.includes("long") && classes.includes("short"))) {
    throw new MlSetupError(`${where}: multiclass classes ${classes} lack "long" and "short"`);
  }
  let label: LabelSpec | null = null;
  if (training) {
    if (rl) {
      throw new MlSetupError(
        `ml.retrain.label: ${where} defines its label (${training.labelDefinition}); ` +
          `retraining reuses it, remove ml.retrain.label`,
      );
    }
    label = {
      objective: training.objective,
      horizon: training.horizon,
      stepMs: training.stepMs,
      takerFeeBps: training.costs.takerFeeBps,
      slippageBps: training.costs.slippageBps,
      spreadBps: training.costs.spreadBps,
    };
  } else if (rl) {
    if (rl.features !== style || rl.objective !== kind) {
      throw new MlSetupError(
        `ml.retrain.label (${rl.features}, ${rl.objective}) does not match ${where} (${style}, ${kind})`,
      );
    }
    label = { ...rl, stepMs };
  }
  if (cfg.retrain.enabled && !label) {
    throw new MlSetupError(
      `ml.retrain: ${where} has no training section; give ml.retrain.label (horizon, costs)`,
    );
  }
  const horizonMs = training?.horizonMs ?? meta.label?.horizonMs ?? NaN;
  const e = training?.engine ?? {};
  const micro: MicroOptions = {
    maxFillMs: e.maxFillMs,
    longWindow: e.longWindow,
    atrBarMs: e.atrBarMs,
  };
  const scorer = await Scorer.load(path, meta.featureNames, {
    compiled: cfg.scoring !== "onnxruntime",
    reference,
  });
  return {
    style,
    interval,
    stepMs,
    featureNames: meta.featureNames,
    projection: idx,
    kind,
    classes,
    label,
    horizonMs,
    micro,
    scorer,
    bundle: meta.name,
    bundlePath: path,
    drift: bundleDrift(meta),
    registry,
  };
}

/**
 * The bundle's PSI reference, or null when it has none. A reference for other columns than the
 * model's is unusable: drift checks then start from the stream (lifecycle.ts).
 */
export function bundleDrift(meta: BundleMeta): DriftReference | null {
  return meta.drift && meta.drift.features.map((f) => f.name).join() === meta.featureNames.join()
    ? DriftReference.fromJSON(meta.drift)
    : null;
}

/**
 * Why the bundle `meta` cannot replace the running model of `setup` without a restart (other
 * inputs or another output kind), or null when it can.
 */
export function swapProblem(setup: ModelSetup, meta: BundleMeta): string | null {
  if (meta.featureNames.join() !== setup.featureNames.join()) {
    return `its ${meta.featureNames.length} features differ from the running model's ` +
      `${setup.featureNames.length} (restart the daemon to change the feature set)`;
  }
  if (meta.objective.name !== setup.kind) {
    return `its objective ${meta.objective.name} differs from the running ${setup.kind}`;
  }
  return null;
}

/** Class names of a model this project trains (labels.ts classes; binary = long vs not). */
export function classesOf(kind: ModelKind): string[] | null {
  return kind === "multiclass"
    ? [...LABEL_CLASSES]
    : kind === "binary"
    ? ["not_long", "long"]
    : null;
}

/**
 * Default warm-up (steps) before decisions: candle — the longest registry warm-up of the model's
 * features; micro — at most 60 (the 60 s windows; see ml_config.ts warmupSteps).
 */
export function defaultWarmup(setup: Pick<ModelSetup, "style" | "featureNames">): number {
  const w = Math.max(0, ...setup.featureNames.map((n) => featureDef(n).warmup));
  return setup.style === "micro" ? Math.min(w, 60) : w;
}

/** The rule's verdict for one row of outputs (reused object). */
export interface Verdict {
  /** +1 enter long, −1 enter short, 0 none. */
  side: number;
  /** The model argues for closing a long / a short (reversal). */
  exitLong: boolean;
  exitShort: boolean;
  /** Probability of the entered side (classifiers), NaN otherwise. */
  prob: number;
}

/**
 * Entry / reversal rule on one row of model outputs.
 * - multiclass: long when p(long) ≥ minProb and p(long) − p(short) ≥ minMargin; short mirrored;
 *   a long is reversed when the short condition holds and vice versa.
 * - binary (p = P(long beats cost)): long when p ≥ minProb and p − (1 − p) ≥ minMargin; no
 *   shorts (the label is "long or not"); a long is reversed when 1 − p passes the same test.
 * - regression (predicted forward return, bps): long when pred ≥ entryBps + costBps, short when
 *   pred ≤ −(entryBps + costBps); a long is reversed when pred < −exitBps, a short when
 *   pred > exitBps.
 */
export class DecisionRule {
  private readonly iLong: number;
  private readonly iShort: number;

  constructor(
    readonly kind: ModelKind,
    readonly classes: readonly string[] | null,
    private readonly cfg: Pick<MlConfig, "minProb" | "minMargin" | "entryBps" | "exitBps">,
  ) {
    // Binary outputs are [1 − p, p] (scorer.ts) whatever the class names say.
    this.iLong = kind === "binary" ? 1 : classes ? classes.indexOf("long") : -1;
    this.iShort = classes ? classes.indexOf("short") : -1;
  }

  /** Names of the recorded output columns: `p_<class>` or `pred_bps`. */
  outputNames(): string[] {
    return this.classes ? this.classes.map((c) => `p_${c}`) : ["pred_bps"];
  }

  /** Fills `v` from `out` (one output row); `costBps` = round-trip cost (regression only). */
  decide(out: ArrayLike<number>, costBps: number, v: Verdict): void {
    const { minProb, minMargin } = this.cfg;
    v.side = 0;
    v.exitLong = v.exitShort = false;
    v.prob = NaN;
    if (this.kind === "regression") {
      const pred = out[0];
      const thr = this.cfg.entryBps + costBps;
      if (pred >= thr) v.side = 1;
      else if (pred <= -thr) v.side = -1;
      v.exitLong = pred < -this.cfg.exitBps;
      v.exitShort = pred > this.cfg.exitBps;
      return;
    }
    if (this.kind === "binary") {
      const p = out[1], q = 1 - p;
      if (p >= minProb && p - q >= minMargin) {
        v.side = 1;
        v.prob = p;
      }
      v.exitLong = q >= minProb && q - p >= minMargin;
      return;
    }
    const pl = out[this.iLong], ps = out[this.iShort];
    const long = pl >= minProb && pl - ps >= minMargin;
    const short = ps >= minProb && ps - pl >= minMargin;
    if (long && !short) {
      v.side = 1;
      v.prob = pl;
    } else if (short && !long) {
      v.side = -1;
      v.prob = ps;
    }
    v.exitLong = short;
    v.exitShort = long;
  }
}
