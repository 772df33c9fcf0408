/**
 * Training parameters with LightGBM's names, aliases and defaults (LightGBM docs, "Parameters").
 * `parseParams` takes `key=value` pairs the way LightGBM's CLI does and resolves aliases; an
 * unknown name, a malformed value or a value out of range is a `ParamError` naming the parameter.
 */
import { deriveSeeds } from "./rng.ts";

export type ObjectiveName = "binary" | "multiclass" | "regression";
export type MetricName =
  | "binary_logloss"
  | "auc"
  | "binary_error"
  | "multi_logloss"
  | "multi_error"
  | "l2"
  | "rmse"
  | "l1";

/** Resolved training parameters (LightGBM semantics, camelCase names). */
export interface TrainParams {
  objective: ObjectiveName;
  numClass: number;
  numIterations: number;
  learningRate: number;
  numLeaves: number;
  maxDepth: number;
  minDataInLeaf: number;
  minSumHessianInLeaf: number;
  lambdaL1: number;
  lambdaL2: number;
  minGainToSplit: number;
  featureFraction: number;
  baggingFraction: number;
  baggingFreq: number;
  earlyStoppingRound: number;
  /** Validation metrics in order; the first drives early stopping. Empty → objective default. */
  metric: MetricName[];
  maxBin: number;
  minDataInBin: number;
  binConstructSampleCnt: number;
  dataRandomSeed: number;
  baggingSeed: number;
  featureFractionSeed: number;
  /** Master seed if given (sub-seeds derived from it unless set explicitly). */
  seed: number | null;
  sigmoid: number;
  boostFromAverage: boolean;
  featurePreFilter: boolean;
  /** Threads for histogram construction: 0 → all cores (at most 2 here), 1 → no workers. */
  numThreads: number;
  verbosity: number;
}

/** A user error in the parameters (unknown name, bad value). */
export class ParamError extends Error {
  override name = "ParamError";
}

type Kind = "int" | "float" | "bool" | "objective" | "metric";
interface Spec {
  key: keyof TrainParams;
  kind: Kind;
  aliases: string[];
  /** Returns an error text when the value is out of range. */
  check?: (v: number) => string | null;
}

const pos = (v: number) => (v > 0 ? null : "must be > 0");
const nonNeg = (v: number) => (v >= 0 ? null : "must be >= 0");
const frac = (v: number) => (v > 0 && v <= 1 ? null : "must be in (0, 1]");

/** LightGBM name → spec. Aliases are the ones LightGBM's docs list for each parameter. */
const SPECS: Record<string, Spec> = {
  objective: {
    key: "objective",
    kind: "objective",
    aliases: ["objective_type", "app", "application", "loss"],
  },
  num_class: { key: "numClass", kind: "int", aliases: ["num_classes"], check: pos },
  num_iterations: {
    key: "numIterations",
    kind: "int",
    aliases: [
      "num_iteration",
      "n_iter",
      "num_tree",
      "num_trees",
      "num_round",
      "num_rounds",
      "nrounds",
      "num_boost_round",
      "n_estimators",
      "max_iter",
    ],
    check: nonNeg,
  },
  learning_rate: {
    key: "learningRate",
    kind: "float",
    aliases: ["shrinkage_rate", "eta"],
    check: pos,
  },
  num_leaves: {
    key: "numLeaves",
    kind: "int",
    aliases: ["num_leaf", "max_leaves", "max_leaf", "max_leaf_nodes"],
    check: (v) => (v >= 2 && v <= 131072 ? null : "must be in [2, 131072]"),
  },
  max_depth: { key: "maxDepth", kind: "int", aliases: [] },
  min_data_in_leaf: {
    key: "minDataInLeaf",
    kind: "int",
    aliases: ["min_data_per_leaf", "min_data", "min_child_samples", "min_samples_leaf"],
    check: nonNeg,
  },
  min_sum_hessian_in_leaf: {
    key: "minSumHessianInLeaf",
    kind: "float",
    aliases: ["min_sum_hessian_per_leaf", "min_sum_hessian", "min_hessian", "min_child_weight"],
    check: nonNeg,
  },
  lambda_l1: {
    key: "lambdaL1",
    kind: "float",
    aliases: ["reg_alpha", "l1_regularization"],
    check: nonNeg,
  },
  lambda_l2: {
    key: "lambdaL2",
    kind: "float",
    aliases: ["reg_lambda", "lambda", "l2_regularization"],
    check: nonNeg,
  },
  min_gain_to_split: {
    key: "minGainToSplit",
    kind: "float",
    aliases: ["min_split_gain"],
    check: nonNeg,
  },
  feature_fraction: {
    key: "featureFraction",
    kind: "float",
    aliases: ["sub_feature", "colsample_bytree"],
    check: frac,
  },
  bagging_fraction: {
    key: "baggingFraction",
    kind: "float",
    aliases: ["sub_row", "subsample", "bagging"],
    check: frac,
  },
  bagging_freq: { key: "baggingFreq", kind: "int", aliases: ["subsample_freq"], check: nonNeg },
  early_stopping_round: {
    key: "earlyStoppingRound",
    kind: "int",
    aliases: ["early_stopping_rounds", "early_stopping", "n_iter_no_change"],
    check: nonNeg,
  },
  metric: { key: "metric", kind: "metric", aliases: ["metrics", "metric_types"] },
  max_bin: {
    key: "maxBin",
    kind: "int",
    aliases: ["max_bins"],
    check: (v) => (v > 1 && v <= 65535 ? null : "must be in [2, 65535]"),
  },
  min_data_in_bin: { key: "minDataInBin", kind: "int", aliases: [], check: pos },
  bin_construct_sample_cnt: {
    key: "binConstructSampleCnt",
    kind: "int",
    aliases: ["subsample_for_bin"],
    check: pos,
  },
  data_random_seed: { key: "dataRandomSeed", kind: "int", aliases: ["data_seed"] },
  bagging_seed: { key: "baggingSeed", kind: "int", aliases: ["bagging_fraction_seed"] },
  feature_fraction_seed: { key: "featureFractionSeed", kind: "int", aliases: [] },
  seed: { key: "seed", kind: "int", aliases: ["random_seed", "random_state"] },
  sigmoid: { key: "sigmoid", kind: "float", aliases: [], check: pos },
  boost_from_average: { key: "boostFromAverage", kind: "bool", aliases: [] },
  feature_pre_filter: { key: "featurePreFilter", kind: "bool", aliases: [] },
  num_threads: {
    key: "numThreads",
    kind: "int",
    aliases: ["num_thread", "nthread", "nthreads", "n_jobs"],
  },
  verbosity: { key: "verbosity", kind: "int", aliases: ["verbose"] },
};

const ALIAS: Map<string, string> = new Map();
for (const [name, s] of Object.entries(SPECS)) {
  ALIAS.set(name, name);
  for (const a of s.aliases) ALIAS.set(a, name);
}

const OBJECTIVE_ALIASES: Record<string, ObjectiveName> = {
  binary: "binary",
  multiclass: "multiclass",
  softmax: "multiclass",
  regression: "regression",
  regression_l2: "regression",
  l2: "regression",
  mean_squared_error: "regression",
  mse: "regression",
  l2_root: "regression",
  root_mean_squared_error: "regression",
  rmse: "regression",
};

const METRIC_ALIASES: Record<string, MetricName> = {
  binary_logloss: "binary_logloss",
  binary: "binary_logloss",
  auc: "auc",
  binary_error: "binary_error",
  multi_logloss: "multi_logloss",
  multiclass: "multi_logloss",
  softmax: "multi_logloss",
  multi_error: "multi_error",
  l2: "l2",
  mean_squared_error: "l2",
  mse: "l2",
  regression_l2: "l2",
  regression: "l2",
  rmse: "rmse",
  root_mean_squared_error: "rmse",
  l2_root: "rmse",
  l1: "l1",
  mean_absolute_error: "l1",
  mae: "l1",
  regression_l1: "l1",
};

/** LightGBM's defaults (seed unset: data_random_seed 1, bagging_seed 3, feature_fraction_seed 2). */
export function defaultParams(): TrainParams {
  return {
    objective: "regression",
    numClass: 1,
    numIterations: 100,
    learningRate: 0.1,
    numLeaves: 31,
    maxDepth: -1,
    minDataInLeaf: 20,
    minSumHessianInLeaf: 1e-3,
    lambdaL1: 0,
    lambdaL2: 0,
    minGainToSplit: 0,
    featureFraction: 1,
    baggingFraction: 1,
    baggingFreq: 0,
    earlyStoppingRound: 0,
    metric: [],
    maxBin: 255,
    minDataInBin: 3,
    binConstructSampleCnt: 200000,
    dataRandomSeed: 1,
    baggingSeed: 3,
    featureFractionSeed: 2,
    seed: null,
    sigmoid: 1,
    boostFromAverage: true,
    featurePreFilter: true,
    numThreads: 0,
    verbosity: 1,
  };
}

function parseBool(name: string, s: string): boolean {
  const v = s.toLowerCase();
  if (v === "true" || v === "1" || v === "+") return true;
  if (v === "false" || v === "0" || v === "-") return false;
  throw new ParamError(`parameter ${name}: expected true/false, got "${s}"`);
}

function parseNumber(name: string, s: string, int: boolean): number {
  const t = s.trim();
  const v = Number(t);
  if (t === "" || !Number.isFinite(v)) {
    throw new ParamError(`parameter ${name}: expected a number, got "${s}"`);
  }
  if (int && !Number.isInteger(v)) {
    throw new ParamError(`parameter ${name}: expected an integer, got "${s}"`);
  }
  return v;
}

/** Metric list for `metric=a,b`; "" / "None" / "na" / "null" select none. */
function parseMetrics(s: string): MetricName[] {
  const out: MetricName[] = [];
  for (const raw of s.split(",")) {
    const m = raw.trim().toLowerCase();
    if (m === "" || m === "none" || m === "na" || m === "null") continue;
    const r = METRIC_ALIASES[m];
    if (!r) {
      throw new ParamError(
        `parameter metric: unknown metric "${raw}" (known: ${
          Object.keys(METRIC_ALIASES).join(", ")
        })`,
      );
    }
    if (!out.includes(r)) out.push(r);
  }
  return out;
}

/** A `key=value` that sets the objective or the class count (or an alias of either). */
export const OBJECTIVE_PARAM =
  /^(objective|objective_type|app|application|loss|num_class|num_classes)=/i;

/**
 * `TrainParams` for `objective` (with num_class=3 for multiclass) from the `given` key=value
 * strings, each of `defaults` added unless the same parameter (or an alias) is given: the given
 * value wins. Callers reject given objective/num_class first (see OBJECTIVE_PARAM).
 * @throws ParamError as parseParams.
 */
export function paramsWithDefaults(
  objective: ObjectiveName,
  given: readonly string[],
  defaults: readonly string[],
): TrainParams {
  const merged = [`objective=${objective}`, ...(objective === "multiclass" ? ["num_class=3"] : [])];
  merged.push(...given);
  for (const d of defaults) {
    try {
      parseParams([...merged, d]);
      merged.push(d);
    } catch (e) {
      // Given already (possibly via an alias): that value wins. Other errors surface below.
      if (!(e instanceof ParamError && /given twice/.test(e.message))) merged.push(d);
    }
  }
  return parseParams(merged);
}

/**
 * Resolves `key=value` strings (or a name→value record) into `TrainParams`, starting from
 * `defaultParams()`. Aliases map to LightGBM's main name; giving a parameter twice (also via an
 * alias) is an error. `seed` derives data/bagging/feature-fraction seeds as LightGBM does unless
 * those are given explicitly.
 * @throws ParamError on an unknown name, a malformed or out-of-range value, a missing
 *   `num_class` for multiclass, or `num_class` ≠ 1 for binary/regression.
 */
export function parseParams(input: string[] | Record<string, string>): TrainParams {
  const pairs: [string, string][] = Array.isArray(input)
    ? input.map((kv) => {
      const eq = kv.indexOf("=");
      if (eq <= 0) throw new ParamError(`expected key=value, got "${kv}"`);
      return [kv.slice(0, eq).trim(), kv.slice(eq + 1).trim()];
    })
    : Object.entries(input);
  const p = defaultParams();
  const seen = new Map<string, string>();
  for (const [rawName, value] of pairs) {
    const name = ALIAS.get(rawName.toLowerCase());
    if (!name) {
      throw new ParamError(
        `unknown parameter "${rawName}" (known: ${Object.keys(SPECS).join(", ")})`,
      );
    }
    if (seen.has(name)) {
      throw new ParamError(`parameter ${name} given twice (as ${seen.get(name)} and ${rawName})`);
    }
    seen.set(name, rawName);
    const spec = SPECS[name];
    const rec = p as unknown as Record<string, unknown>;
    switch (spec.kind) {
      case "bool":
        rec[spec.key] = parseBool(name, value);
        break;
      case "objective": {
        const o = OBJECTIVE_ALIASES[value.toLowerCase()];
        if (!o) {
          throw new ParamError(
            `parameter objective: unsupported "${value}" (supported: binary, multiclass, regression)`,
          );
        }
        p.objective = o;
        break;
      }
      case "metric":
        p.metric = parseMetrics(value);
        break;
      default: {
        const v = parseNumber(name, value, spec.kind === "int");
        const err = spec.check?.(v);
        if (err) throw new ParamError(`parameter ${name}=${value}: ${err}`);
        rec[spec.key] = v;
      }
    }
  }
  if (p.seed !== null) {
    const d = deriveSeeds(p.seed);
    if (!seen.has("data_random_seed")) p.dataRandomSeed = d.dataRandomSeed;
    if (!seen.has("bagging_seed")) p.baggingSeed = d.baggingSeed;
    if (!seen.has("feature_fraction_seed")) p.featureFractionSeed = d.featureFractionSeed;
  }
  validate(p);
  return p;
}

/** Cross-parameter checks shared by `parseParams` and programmatic callers of `train`. */
export function validate(p: TrainParams): void {
  if (p.objective === "multiclass") {
    if (p.numClass < 2) {
      throw new ParamError("objective=multiclass needs num_class >= 2 (e.g. num_class=3)");
    }
  } else if (p.numClass !== 1) {
    throw new ParamError(`num_class=${p.numClass} only applies to objective=multiclass`);
  }
  const allowed: Record<ObjectiveName, MetricName[]> = {
    binary: ["binary_logloss", "auc", "binary_error"],
    multiclass: ["multi_logloss", "multi_error"],
    regression: ["l2", "rmse", "l1"],
  };
  for (const m of p.metric) {
    if (!allowed[p.objective].includes(m)) {
      throw new ParamError(
        `metric ${m} does not apply to objective=${p.objective} (use ${
          allowed[p.objective].join(", ")
        })`,
      );
    }
  }
}

/** Metrics actually evaluated: the given list, else the objective's default (LightGBM). */
export function effectiveMetrics(p: TrainParams): MetricName[] {
  if (p.metric.length) return p.metric;
  return p.objective === "binary"
    ? ["binary_logloss"]
    : p.objective === "multiclass"
    ? ["multi_logloss"]
    : ["l2"];
}

/** The parameters as LightGBM names → value text, for the model's `parameters:` block. */
export function paramsToLightGbm(p: TrainParams): Record<string, string> {
  const obj = p.objective;
  return {
    boosting: "gbdt",
    objective: obj,
    num_class: String(p.numClass),
    num_iterations: String(p.numIterations),
    learning_rate: String(p.learningRate),
    num_leaves: String(p.numLeaves),
    max_depth: String(p.maxDepth),
    min_data_in_leaf: String(p.minDataInLeaf),
    min_sum_hessian_in_leaf: String(p.minSumHessianInLeaf),
    bagging_fraction: String(p.baggingFraction),
    bagging_freq: String(p.baggingFreq),
    bagging_seed: String(p.baggingSeed),
    feature_fraction: String(p.featureFraction),
    feature_fraction_seed: String(p.featureFractionSeed),
    early_stopping_round: String(p.earlyStoppingRound),
    lambda_l1: String(p.lambdaL1),
    lambda_l2: String(p.lambdaL2),
    min_gain_to_split: String(p.minGainToSplit),
    max_bin: String(p.maxBin),
    min_data_in_bin: String(p.minDataInBin),
    bin_construct_sample_cnt: String(p.binConstructSampleCnt),
    data_random_seed: String(p.dataRandomSeed),
    boost_from_average: p.boostFromAverage ? "1" : "0",
    sigmoid: String(p.sigmoid),
    metric: effectiveMetrics(p).join(","),
    ...(p.seed !== null ? { seed: String(p.seed) } : {}),
  };
}
