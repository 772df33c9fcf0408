/**
 * Gradient boosting loop with LightGBM's semantics (`src/boosting/gbdt.cpp` TrainOneIter,
 * BoostFromAverage, UpdateScore, EvalAndCheckEarlyStopping; `bagging.hpp`; `col_sampler.hpp`):
 *
 * - iteration 0 starts from the objective's average score (boost_from_average) and folds it into
 *   the first tree of each class (Tree::AddBias, shrinkage reset to 1);
 * - gradients for all classes are computed once per iteration from the current scores;
 * - bagging: every `bagging_freq` iterations each row is kept with probability
 *   `bagging_fraction` (one LightGBM Random per 1024-row block, seeded bagging_seed + block);
 * - feature_fraction: each tree samples round(fraction × usable features) (≥ 2) features with
 *   Random(feature_fraction_seed);
 * - an iteration whose trees all have one leaf ends training (and is dropped after the first);
 * - early stopping on the first validation metric: stop when it has not improved for
 *   `early_stopping_round` iterations and drop the trees after the best iteration.
 *
 * Same data + same parameters (seed) ⇒ the same model, whatever the thread count: histogram
 * sums are accumulated per feature by one thread in row order.
 */
import { type GbdtModel, MISSING_NAN, type Tree } from "../tree.ts";
import { featureInfo } from "./binning.ts";
import type { BinnedData, FeatureMatrix } from "./binned_data.ts";
import { binnedLeaf, type GrownTree, TreeLearner } from "./learner.ts";
import { TrainerThreads } from "./parallel.ts";
import { evalMetric, higherIsBetter } from "./metrics.ts";
import { checkLabels, createObjective, TrainDataError } from "./objectives.ts";
import { effectiveMetrics, type MetricName, paramsToLightGbm, type TrainParams } from "./params.ts";
import { validate } from "./params.ts";
import { LgbRandom } from "./rng.ts";

/** Training or validation data: row-major features plus one label per row. */
export interface TrainData extends FeatureMatrix {
  labels: Float64Array;
  /** Feature names in column order (default `Column_<i>` as LightGBM names CSV columns). */
  featureNames?: string[];
}

/** Per-iteration validation record and the summary of a training run. */
export interface TrainHistory {
  /** Metric names, in the order of each `valid[i]` entry. */
  metrics: MetricName[];
  /** valid[i][m]: metric m on the validation data after iteration i+1 (empty without valid). */
  valid: number[][];
  /** 1-based iteration with the best first metric (last iteration without validation data). */
  bestIteration: number;
  /** Iterations kept in the model. */
  numIterations: number;
  /** True when early stopping ended training. */
  stoppedEarly: boolean;
  /** Per input feature: number of splits / total split gain in the kept trees. */
  importanceSplit: number[];
  importanceGain: number[];
  /** Histogram threads used (main thread included). */
  threads: number;
}

export interface TrainOptions {
  /** Called after each iteration with its 1-based number and validation metric values. */
  onIteration?: (iteration: number, values: number[], metrics: MetricName[]) => void;
}

/** Threads for `num_threads`: 0 → hardware concurrency (≤ 4); small data stays single-threaded. */
function chooseThreads(p: TrainParams, rows: number, features: number): number {
  const hw = navigator.hardwareConcurrency || 1;
  const want = p.numThreads > 0 ? p.numThreads : Math.min(hw, 4);
  if (want <= 1 || rows * features < 200_000) return 1;
  return want;
}

function checkMatrix(d: TrainData, what: string): void {
  if (d.numRows <= 0) throw new TrainDataError(`${what}: no rows`);
  if (d.numFeatures <= 0) throw new TrainDataError(`${what}: no feature columns`);
  if (d.values.length !== d.numRows * d.numFeatures) {
    throw new TrainDataError(
      `${what}: ${d.values.length} values for ${d.numRows} rows × ${d.numFeatures} features`,
    );
  }
  if (d.labels.length !== d.numRows) {
    throw new TrainDataError(`${what}: ${d.labels.length} labels for ${d.numRows} rows`);
  }
}

/**
 * Trains a GBDT model.
 * @param data training rows (row-major features, labels)
 * @param params resolved parameters (see params.ts; LightGBM names and defaults)
 * @param valid optional validation data for metrics and early stopping
 * @returns the model (LightGBM text-model shaped) and the training history
 * @throws TrainDataError for bad data (see objectives.ts checkLabels, shape mismatches),
 *   ParamError for inconsistent parameters
 */
export async function train(
  data: TrainData,
  params: TrainParams,
  valid?: TrainData,
  opts: TrainOptions = {},
): Promise<{ model: GbdtModel; history: TrainHistory }> {
  validate(params);
  checkMatrix(data, "training data");
  if (valid) {
    checkMatrix(valid, "validation data");
    if (valid.numFeatures !== data.numFeatures) {
      throw new TrainDataError(
        `validation data has ${valid.numFeatures} features, training data ${data.numFeatures}`,
      );
    }
    checkLabels(params, valid.labels, "validation data");
  }
  const obj = createObjective(params, data.labels);
  const threads = chooseThreads(params, data.numRows, data.numFeatures);
  const engine = TrainerThreads.start(threads);
  try {
    const binned = await engine.bin(data, params);
    const learner = await TreeLearner.create(binned, params, obj.constantHessian, engine);
    return boost(data, valid, binned, learner, params, obj, opts);
  } finally {
    engine.close();
  }
}

function boost(
  data: TrainData,
  valid: TrainData | undefined,
  binned: BinnedData,
  learner: TreeLearner,
  p: TrainParams,
  obj: ReturnType<typeof createObjective>,
  opts: TrainOptions,
): { model: GbdtModel; history: TrainHistory } {
  const n = data.numRows;
  const K = obj.numTreePerIteration;
  const scores = new Float64Array(K * n);
  const vn = valid ? valid.numRows : 0;
  const vScores = new Float64Array(K * vn);
  const grad = new Float32Array(K * n), hess = new Float32Array(K * n);
  const init = new Float64Array(K);
  if (p.boostFromAverage) {
    for (let k = 0; k < K; k++) {
      const s = obj.initScore(k);
      if (Math.abs(s) > 1e-15) init[k] = s;
      scores.fill(init[k], k * n, (k + 1) * n);
      vScores.fill(init[k], k * vn, (k + 1) * vn);
    }
  }
  const metrics = effectiveMetrics(p);
  const history: TrainHistory = {
    metrics,
    valid: [],
    bestIteration: 0,
    numIterations: 0,
    stoppedEarly: false,
    importanceSplit: [],
    importanceGain: [],
    threads: learner.threads,
  };
  const trees: Tree[] = [];
  const nu = binned.used.length;
  const allFeatures = Int32Array.from({ length: nu }, (_, j) => j);
  const featRng = new LgbRandom(p.featureFractionSeed);
  const bagger = new Bagger(n, p);
  const inBag = new Uint8Array(n);
  let bestScore = -Infinity;
  let bestIter = 0;
  for (let iter = 0; iter < p.numIterations; iter++) {
    obj.gradients(scores, grad, hess);
    const bag = bagger.bag(iter);
    let anySplit = false;
    const iterTrees: Tree[] = [];
    for (let k = 0; k < K; k++) {
      let tree: Tree;
      if (obj.classNeedTrain(k) && nu > 0) {
        const features = sampleFeatures(p, nu, featRng, allFeatures);
        const g = learner.grow(grad, hess, k * n, bag?.rows ?? null, bag?.count ?? n, features);
        tree = g.tree;
        if (tree.numLeaves > 1) {
          anySplit = true;
          addTrainScores(g, learner.idx, scores, k * n);
          if (bag) addOutOfBag(g, binned, bag.rows, bag.count, inBag, scores, k * n);
          if (valid) addRaw(tree, valid, vScores, k * vn);
          if (iter === 0 && init[k] !== 0) addBias(tree, init[k]);
        }
      } else {
        tree = constantTree(0, p.learningRate);
      }
      if (tree.numLeaves <= 1 && iter === 0) {
        tree = constantTree(init[k], p.learningRate);
      }
      iterTrees.push(tree);
    }
    if (!anySplit) {
      // LightGBM: no tree could split; keep the first (constant) iteration only.
      if (iter === 0) trees.push(...iterTrees);
      break;
    }
    trees.push(...iterTrees);
    const it = iter + 1;
    if (valid && metrics.length) {
      const vals = metrics.map((m) => evalMetric(m, vScores, valid.labels, K, p.sigmoid));
      history.valid.push(vals);
      opts.onIteration?.(it, vals, metrics);
      const cur = higherIsBetter(metrics[0]) ? vals[0] : -vals[0];
      if (cur > bestScore) {
        bestScore = cur;
        bestIter = it;
      } else if (p.earlyStoppingRound > 0 && it - bestIter >= p.earlyStoppingRound) {
        trees.length = bestIter * K;
        history.stoppedEarly = true;
        break;
      }
    } else {
      opts.onIteration?.(it, [], metrics);
    }
  }
  history.numIterations = Math.ceil(trees.length / K);
  history.bestIteration = bestIter > 0 ? bestIter : history.numIterations;
  const imp = importance(trees, data.numFeatures);
  history.importanceSplit = imp.split;
  history.importanceGain = imp.gain;
  const model: GbdtModel = {
    objective: p.objective === "binary"
      ? { name: "binary", sigmoid: p.sigmoid }
      : p.objective === "multiclass"
      ? { name: "multiclass", numClass: p.numClass }
      : { name: "regression" },
    numTreePerIteration: K,
    featureNames: data.featureNames ??
      Array.from({ length: data.numFeatures }, (_, i) => `Column_${i}`),
    featureInfos: binned.mappers.map(featureInfo),
    trees,
    parameters: paramsToLightGbm(p),
  };
  return { model, history };
}

/** LightGBM col_sampler: per-tree feature subset, or all features when fraction is 1. */
function sampleFeatures(
  p: TrainParams,
  nu: number,
  rng: LgbRandom,
  all: Int32Array,
): Int32Array {
  if (p.featureFraction >= 1) return all;
  const cnt = Math.max(Math.round(nu * p.featureFraction), Math.min(2, nu));
  return Int32Array.from(rng.sample(nu, cnt));
}

/** Row subsampling state (LightGBM bagging with per-1024-row-block generators). */
class Bagger {
  private readonly rngs: LgbRandom[] = [];
  private readonly rows: Int32Array;
  private count = 0;
  private readonly active: boolean;

  constructor(private readonly n: number, private readonly p: TrainParams) {
    this.active = p.baggingFreq > 0 && p.baggingFraction < 1;
    this.rows = new Int32Array(this.active ? n : 0);
    if (this.active) {
      for (let b = 0; b < Math.ceil(n / 1024); b++) {
        this.rngs.push(new LgbRandom(p.baggingSeed + b));
      }
    }
  }

  /** The bag for iteration `iter` (resampled every bagging_freq iterations), or null. */
  bag(iter: number): { rows: Int32Array; count: number } | null {
    if (!this.active) return null;
    if (iter % this.p.baggingFreq === 0) {
      let c = 0;
      const frac = this.p.baggingFraction;
      for (let i = 0; i < this.n; i++) {
        if (this.rngs[i >> 10].nextFloat() < frac) this.rows[c++] = i;
      }
      this.count = c;
    }
    return { rows: this.rows, count: this.count };
  }
}

/** Adds leaf values to the in-bag rows' scores, using the learner's final partition. */
function addTrainScores(g: GrownTree, idx: Int32Array, scores: Float64Array, off: number): void {
  const lv = g.tree.leafValue;
  for (let l = 0; l < lv.length; l++) {
    const v = lv[l];
    const end = g.leafBegin[l] + g.leafCount[l];
    for (let i = g.leafBegin[l]; i < end; i++) scores[off + idx[i]] += v;
  }
}

/** Adds the tree's prediction to out-of-bag rows (traversal over the training bins). */
function addOutOfBag(
  g: GrownTree,
  d: BinnedData,
  rows: Int32Array,
  count: number,
  inBag: Uint8Array,
  scores: Float64Array,
  off: number,
): void {
  inBag.fill(0);
  for (let i = 0; i < count; i++) inBag[rows[i]] = 1;
  const lv = g.tree.leafValue;
  for (let r = 0; r < d.numRows; r++) {
    if (!inBag[r]) scores[off + r] += lv[binnedLeaf(g, d.bins, d.numRows, r)];
  }
}

/**
 * Adds the tree's prediction for every row of `d` (raw values) to `scores[off + row]`, walking the
 * exported thresholds exactly as tree.ts leafIndex does (value ≤ threshold goes left; NaN takes
 * the default direction when the node's missing type is NaN, else counts as 0). Thresholds are
 * bin upper bounds, so this equals the binned decision the trainer made.
 */
function addRaw(t: Tree, d: TrainData, scores: Float64Array, off: number): void {
  const lv = t.leafValue;
  const nf = d.numFeatures, x = d.values;
  const { splitFeature, threshold, decisionType, leftChild, rightChild } = t;
  for (let r = 0; r < d.numRows; r++) {
    const base = r * nf;
    let node = 0;
    while (node >= 0) {
      let v = x[base + splitFeature[node]];
      const dt = decisionType[node];
      let left: boolean;
      if (v !== v) {
        if (((dt >> 2) & 3) === MISSING_NAN) left = (dt & 2) !== 0;
        else {
          v = 0;
          left = v <= threshold[node];
        }
      } else left = v <= threshold[node];
      node = left ? leftChild[node] : rightChild[node];
    }
    scores[off + r] += lv[~node];
  }
}

/** LightGBM Tree::AddBias: fold the initial score into every leaf and internal value. */
function addBias(t: Tree, v: number): void {
  for (let l = 0; l < t.leafValue.length; l++) t.leafValue[l] += v;
  for (let k = 0; k < t.internalValue.length; k++) t.internalValue[k] += v;
  t.shrinkage = 1;
}

/** One-leaf tree with output `v` (LightGBM AsConstantTree for the first iteration). */
function constantTree(v: number, shrinkage: number): Tree {
  return {
    numLeaves: 1,
    splitFeature: [],
    splitGain: [],
    threshold: [],
    decisionType: [],
    leftChild: [],
    rightChild: [],
    leafValue: [v],
    leafWeight: [0],
    leafCount: [0],
    internalValue: [],
    internalWeight: [],
    internalCount: [],
    shrinkage: v !== 0 ? 1 : shrinkage,
  };
}

/** Feature importance by split count and by total gain over `trees` (LightGBM FeatureImportance). */
export function importance(
  trees: Tree[],
  numFeatures: number,
): { split: number[]; gain: number[] } {
  const split = new Array<number>(numFeatures).fill(0);
  const gain = new Array<number>(numFeatures).fill(0);
  for (const t of trees) {
    for (let k = 0; k < t.numLeaves - 1; k++) {
      split[t.splitFeature[k]]++;
      gain[t.splitFeature[k]] += t.splitGain[k];
    }
  }
  return { split, gain };
}
