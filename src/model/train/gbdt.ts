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
import { binnedLeaf, type GrownTree } from "./grown_tree.ts";
import { type BoostBuffers, TreeLearner } from "./learner.ts";
import { TrainerThreads, WorkerStartError } from "./parallel.ts";
import { evalMetric, higherIsBetter } from "./metrics.ts";
import { checkLabels, createObjective, type ObjectiveFn, TrainDataError } from "./objectives.ts";
import { effectiveMetrics, type MetricName, paramsToLightGbm, type TrainParams } from "./params.ts";
import { validate } from "./params.ts";
import { LgbRandom } from "./rng.ts";
import { Bagger, sampleFeatures } from "./sampling.ts";

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
  if (d.featureNames) {
    if (d.featureNames.length !== d.numFeatures) {
      throw new TrainDataError(
        `${what}: ${d.featureNames.length} feature names for ${d.numFeatures} features`,
      );
    }
    const bad = d.featureNames.find((s) => s === "" || /\s/.test(s));
    if (bad !== undefined) {
      throw new TrainDataError(
        `${what}: feature name "${bad}" is empty or has whitespace (LightGBM's text model separates names by spaces)`,
      );
    }
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
  try {
    return await trainOn(threads, data, valid, params, obj, opts);
  } catch (e) {
    // Workers unavailable (permissions, embedding): the single-thread path gives the same model.
    if (threads > 1 && e instanceof WorkerStartError) {
      return await trainOn(1, data, valid, params, obj, opts);
    }
    throw e;
  }
}

async function trainOn(
  threads: number,
  data: TrainData,
  valid: TrainData | undefined,
  params: TrainParams,
  obj: ObjectiveFn,
  opts: TrainOptions,
): Promise<{ model: GbdtModel; history: TrainHistory }> {
  const engine = TrainerThreads.start(threads);
  try {
    const binned = await engine.bin(data, params);
    const K = obj.numTreePerIteration, n = data.numRows;
    const shared = engine.threads > 1;
    const buf = (bytes: number) => shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
    const boostBuf: BoostBuffers = {
      objective: obj,
      params,
      labels: shared ? copyShared(data.labels) : data.labels,
      scores: new Float64Array(buf(8 * K * n)),
      grad: new Float32Array(buf(4 * K * n)),
      hess: new Float32Array(buf(4 * K * n)),
    };
    const learner = await TreeLearner.create(binned, params, engine, boostBuf);
    return boost(data, valid, binned, learner, engine, boostBuf, opts);
  } finally {
    engine.close();
  }
}

function copyShared(a: Float64Array): Float64Array {
  const out = new Float64Array(new SharedArrayBuffer(a.byteLength));
  out.set(a);
  return out;
}

function boost(
  data: TrainData,
  valid: TrainData | undefined,
  binned: BinnedData,
  learner: TreeLearner,
  engine: TrainerThreads,
  bb: BoostBuffers,
  opts: TrainOptions,
): { model: GbdtModel; history: TrainHistory } {
  const n = data.numRows;
  const p = bb.params, obj = bb.objective;
  const K = obj.numTreePerIteration;
  const { scores, grad, hess } = bb;
  const vn = valid ? valid.numRows : 0;
  const vScores = new Float64Array(K * vn);
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
    engine.gradients();
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
        tree = constantTree(0);
      }
      if (tree.numLeaves <= 1 && iter === 0) {
        tree = constantTree(init[k]);
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

/** One-leaf tree with output `v`, shrinkage 1 (LightGBM AsConstantTree / an unsplit Tree). */
function constantTree(v: number): Tree {
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
    shrinkage: 1,
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
