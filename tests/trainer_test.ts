/**
 * GBDT trainer (src/model/train/): parameters, LightGBM's RNG and binning, gradients, split gains,
 * leaf-wise growth limits, NaN handling, determinism, early stopping, the text-model round trip,
 * quality on the real LightGBM validation data in shared/lightgbm, and `model fit`.
 */
import assert from "node:assert/strict";
import { fitCommand } from "../src/cli/model_fit.ts";
import { parseLightGbmModel, writeLightGbmModel } from "../src/model/lightgbm_text.ts";
import { type GbdtModel, leafIndex, predictRaw, transform, type Tree } from "../src/model/tree.ts";
import {
  featureInfo,
  findBinMapper,
  K_ZERO_THRESHOLD,
  nextUp,
  valueToBin,
} from "../src/model/train/binning.ts";
import { binTrainingData } from "../src/model/train/binned_data.ts";
import { train, type TrainData } from "../src/model/train/gbdt.ts";
import { auc, evalMetric } from "../src/model/train/metrics.ts";
import { createObjective, TrainDataError } from "../src/model/train/objectives.ts";
import { ParamError, parseParams } from "../src/model/train/params.ts";
import { radixSortF64 } from "../src/model/train/radix.ts";
import { deriveSeeds, LgbRandom } from "../src/model/train/rng.ts";
import { findBestThreshold, leafOutput, S, SPLIT_REC } from "../src/model/train/split.ts";
import { syntheticData } from "../bench/trainer_bench.ts";

const SHARED = new URL("../../shared/lightgbm/", import.meta.url);
const sharedLines = (name: string) =>
  Deno.readTextFileSync(new URL(name, SHARED)).trim().split("\n");

/** The 2,000 real LightGBM validation rows: label first, 30 features. */
function realRows(from: number, to: number): TrainData {
  const rows = sharedLines("binary_valid_2000.csv").slice(from, to).map((l) =>
    l.split(",").map(Number)
  );
  const n = rows.length;
  const values = new Float64Array(n * 30), labels = new Float64Array(n);
  rows.forEach((r, i) => {
    labels[i] = r[0];
    values.set(r.slice(1), i * 30);
  });
  return { numRows: n, numFeatures: 30, values, labels };
}

/** Rows [from, to) of the bench's synthetic data with the chosen label. */
function synth(n: number, label: "yBin" | "yReg" | "yMc", from = 0): TrainData {
  const d = syntheticData(from + n, 7);
  return {
    numRows: n,
    numFeatures: 30,
    values: d.x.slice(from * 30, (from + n) * 30),
    labels: d[label].slice(from, from + n),
  };
}

function depth(t: Tree, node = 0): number {
  if (t.numLeaves <= 1 || node < 0) return 0;
  return 1 + Math.max(depth(t, t.leftChild[node]), depth(t, t.rightChild[node]));
}

function rowOf(d: TrainData, i: number): Float64Array {
  const out = new Float64Array(d.numFeatures);
  for (let f = 0; f < d.numFeatures; f++) out[f] = d.values[i * d.numFeatures + f];
  return out;
}

/** Raw scores of `d` under `m` (class-major, as the trainer's metrics take them). */
function scoreAll(m: GbdtModel, d: TrainData): Float64Array {
  const k = m.numTreePerIteration;
  const out = new Float64Array(k * d.numRows);
  for (let i = 0; i < d.numRows; i++) {
    const r = predictRaw(m, rowOf(d, i));
    for (let c = 0; c < k; c++) out[c * d.numRows + i] = r[c];
  }
  return out;
}

Deno.test("params: LightGBM defaults, aliases, seed derivation and clear errors", () => {
  const d = parseParams([]);
  assert.equal(d.objective, "regression");
  assert.equal(d.numIterations, 100);
  assert.equal(d.learningRate, 0.1);
  assert.equal(d.numLeaves, 31);
  assert.equal(d.minDataInLeaf, 20);
  assert.equal(d.minSumHessianInLeaf, 1e-3);
  assert.equal(d.maxBin, 255);
  const p = parseParams([
    "application=multiclass",
    "num_class=3",
    "n_estimators=7",
    "eta=0.3",
    "max_leaves=15",
    "min_child_samples=5",
    "min_child_weight=0.5",
    "subsample=0.8",
    "subsample_freq=2",
    "colsample_bytree=0.7",
    "reg_alpha=0.1",
    "reg_lambda=2",
    "min_split_gain=0.01",
    "n_iter_no_change=4",
    "seed=42",
  ]);
  assert.deepEqual(
    [p.objective, p.numClass, p.numIterations, p.learningRate, p.numLeaves, p.minDataInLeaf],
    ["multiclass", 3, 7, 0.3, 15, 5],
  );
  assert.deepEqual(
    [p.minSumHessianInLeaf, p.baggingFraction, p.baggingFreq, p.featureFraction, p.lambdaL1],
    [0.5, 0.8, 2, 0.7, 0.1],
  );
  assert.deepEqual([p.lambdaL2, p.minGainToSplit, p.earlyStoppingRound], [2, 0.01, 4]);
  // Sub-seeds exactly as the real LightGBM run with seed=42 printed them in its model file.
  const block = Deno.readTextFileSync(new URL("binary_model.txt", SHARED));
  const printed = (k: string) => Number(block.match(new RegExp(`\\[${k}: (\\d+)\\]`))![1]);
  assert.equal(p.dataRandomSeed, printed("data_random_seed"));
  assert.equal(p.baggingSeed, printed("bagging_seed"));
  assert.equal(p.featureFractionSeed, printed("feature_fraction_seed"));
  const s = deriveSeeds(42);
  assert.deepEqual([s.dropSeed, s.objectiveSeed, s.extraSeed], [
    printed("drop_seed"),
    printed("objective_seed"),
    printed("extra_seed"),
  ]);
  assert.throws(() => parseParams(["num_leafs=31"]), /unknown parameter "num_leafs"/);
  assert.throws(() => parseParams(["num_trees=5", "num_round=6"]), /given twice/);
  assert.throws(() => parseParams(["learning_rate=fast"]), /expected a number/);
  assert.throws(() => parseParams(["objective=multiclass"]), /num_class >= 2/);
  assert.throws(() => parseParams(["objective=binary", "metric=l2"]), /does not apply/);
  assert.throws(() => parseParams(["bagging_fraction=1.5"]), ParamError);
});

Deno.test("rng: LightGBM LCG stream and Sample", () => {
  const r = new LgbRandom(42);
  assert.equal(r.nextShort(0, 32767), 175); // data_random_seed for seed=42
  const s = new LgbRandom(3).sample(100, 30);
  assert.equal(s.length, 30);
  assert.ok(s.every((v, i) => v >= 0 && v < 100 && (i === 0 || v > s[i - 1])));
  const few = new LgbRandom(3).sample(10_000, 5);
  assert.equal(new Set(few).size, 5);
});

Deno.test("binning: real LightGBM thresholds on the integer feature are our bin bounds", () => {
  const d = realRows(0, 2000);
  const col = Array.from({ length: d.numRows }, (_, i) => d.values[i * 30 + 6]);
  const m = findBinMapper(col, 255, 3, 20, true);
  assert.equal(featureInfo(m), "[0:10]"); // as in the real model's feature_infos
  const model = parseLightGbmModel(Deno.readTextFileSync(new URL("binary_model.txt", SHARED)));
  const lgb = new Set<number>();
  for (const t of model.trees) {
    t.splitFeature.forEach((f, k) => f === 6 && lgb.add(t.threshold[k]));
  }
  assert.ok(lgb.size >= 5);
  const ours = new Set(m.upperBounds);
  for (const th of lgb) assert.ok(ours.has(th), `LightGBM threshold ${th} not a bin bound`);
  // 0..10 are 11 distinct values: a zero bin then one bin per value, bounds at nextafter(k+½).
  assert.deepEqual(
    Array.from(m.upperBounds),
    [K_ZERO_THRESHOLD, ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => nextUp(k + 0.5)), Infinity],
  );
});

Deno.test("binning: hand-checked bounds, zero bin, NaN bin, max_bin and value→bin", () => {
  const m = findBinMapper([1, 1, 1, 2, 2, 2, 3, 3, 3], 255, 3, 0, false);
  assert.deepEqual(Array.from(m.upperBounds), [
    K_ZERO_THRESHOLD,
    nextUp(1.5),
    nextUp(2.5),
    Infinity,
  ]);
  const m4 = findBinMapper([1, 1, 1, 2, 2, 2, 3, 3, 3], 255, 4, 0, false);
  assert.deepEqual(Array.from(m4.upperBounds), [K_ZERO_THRESHOLD, nextUp(2.5), Infinity]);
  // Negatives, zeros and NaN: zero bin bounded by ±kZeroThreshold, NaN bin last.
  const vals: number[] = [];
  const r = new LgbRandom(5);
  for (let i = 0; i < 5000; i++) vals.push(r.nextFloat() * 10 - 5);
  for (let i = 0; i < 500; i++) vals.push(0, NaN);
  const mn = findBinMapper(vals, 32, 3, 0, false);
  assert.ok(mn.numBin <= 32);
  assert.equal(mn.missingType, 2);
  assert.ok(Number.isNaN(mn.upperBounds[mn.numBin - 1]));
  const zb = valueToBin(mn, 0);
  assert.equal(mn.upperBounds[zb], K_ZERO_THRESHOLD);
  assert.equal(mn.upperBounds[zb - 1], -K_ZERO_THRESHOLD);
  assert.equal(valueToBin(mn, NaN), mn.numBin - 1);
  for (const v of vals.filter((x) => !Number.isNaN(x))) {
    const b = valueToBin(mn, v);
    assert.ok(v <= mn.upperBounds[b] && (b === 0 || v > mn.upperBounds[b - 1]));
  }
  // A constant positive column gets an empty zero bin plus its value's bin; feature_pre_filter
  // drops it (no boundary leaves ≥ 1 row on both sides), as it drops one that cannot leave
  // min_data_in_leaf rows on both sides.
  const c = findBinMapper([4, 4, 4, 4], 255, 3, 1, true);
  assert.deepEqual([c.numBin, c.isTrivial], [2, true]);
  assert.equal(findBinMapper([...Array(30).fill(1), 2], 255, 1, 20, true).isTrivial, true);
});

Deno.test("binning: radix sort and the one-sweep column binning equal sort + binary search", () => {
  const r = new LgbRandom(11);
  const n = 3000;
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = (r.nextFloat() - 0.5) * 10 ** r.nextInt(-3, 6);
  v[0] = -0;
  v[1] = 0;
  v[2] = 1e300;
  v[3] = -1e300;
  const sorted = v.slice().sort();
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  const w = v.slice();
  radixSortF64(w, perm, n);
  assert.deepEqual(Array.from(w), Array.from(sorted));
  for (let i = 0; i < n; i++) assert.equal(w[i], v[perm[i]]);
  const d = synth(4000, "yBin");
  // Sampled boundaries (bin_construct_sample_cnt < rows: binary search per value) and the
  // full-sample sweep must both agree with valueToBin.
  const sampled = binTrainingData(d, parseParams(["bin_construct_sample_cnt=700"]));
  for (let j = 0; j < sampled.used.length; j++) {
    const f = sampled.used[j];
    for (let i = 0; i < d.numRows; i += 7) {
      const v = d.values[i * 30 + f] as number;
      assert.equal(sampled.bins[j * d.numRows + i], valueToBin(sampled.mappers[f], v));
    }
  }
  const b = binTrainingData(d, parseParams(["max_bin=63"]));
  for (let j = 0; j < b.used.length; j++) {
    const m = b.mappers[b.used[j]];
    for (let i = 0; i < d.numRows; i++) {
      assert.equal(
        b.bins[j * d.numRows + i],
        valueToBin(m, d.values[i * 30 + b.used[j]] as number),
      );
    }
  }
});

Deno.test("objectives: gradients, hessians and initial scores as LightGBM computes them", () => {
  const bin = createObjective(parseParams(["objective=binary"]), Float64Array.of(1, 0, 1, 1));
  assert.ok(Math.abs(bin.initScore(0) - Math.log(3)) < 1e-12);
  const g = new Float32Array(4), h = new Float32Array(4);
  bin.gradients(Float64Array.of(0, Math.log(3), 0, 0), g, h);
  assert.deepEqual([g[0], h[0]], [-0.5, 0.25]); // y=1, s=0: −1/(1+e⁰), ½·½
  assert.ok(Math.abs(g[1] - 0.75) < 1e-7 && Math.abs(h[1] - 0.1875) < 1e-7); // y=0, s=ln 3
  const mc = createObjective(
    parseParams(["objective=multiclass", "num_class=3"]),
    Float64Array.of(0, 0, 1, 2),
  );
  assert.ok(Math.abs(mc.initScore(0) - Math.log(0.5)) < 1e-12);
  assert.ok(Math.abs(mc.initScore(2) - Math.log(0.25)) < 1e-12);
  const gm = new Float32Array(12), hm = new Float32Array(12);
  mc.gradients(new Float64Array(12), gm, hm);
  // Row 0 (label 0), equal scores: p = ⅓, g = p − 1 / p, h = K/(K−1)·p(1−p) = 1.5·⅓·⅔ = ⅓.
  assert.ok(Math.abs(gm[0] - -2 / 3) < 1e-7 && Math.abs(gm[4] - 1 / 3) < 1e-7);
  assert.ok(Math.abs(hm[0] - 1 / 3) < 1e-7 && Math.abs(hm[8] - 1 / 3) < 1e-7);
  const reg = createObjective(parseParams([]), Float64Array.of(1, 2, 6));
  assert.equal(reg.initScore(0), 3);
  const gr = new Float32Array(3), hr = new Float32Array(3);
  reg.gradients(Float64Array.of(3, 3, 3), gr, hr);
  assert.deepEqual([...gr, ...hr], [2, 1, -3, 1, 1, 1]);
  assert.equal(reg.constantHessian, 1);
});

Deno.test("split: gain, threshold and outputs on a hand-computed histogram", () => {
  // Bins (Σg, Σh, n): (−4, 2, 2) (1, 1, 1) (3, 2, 2); parent G = 0, H = 5.
  const hist = Float64Array.of(-4, 2, 2, 1, 1, 1, 3, 2, 2);
  const out = new Float64Array(SPLIT_REC);
  const cfg = {
    minDataInLeaf: 1,
    minSumHessianInLeaf: 0,
    lambdaL1: 0,
    lambdaL2: 1,
    minGainToSplit: 0,
  };
  assert.ok(findBestThreshold(hist, 0, 3, 0, 0, 5, 5, cfg, out, 0));
  // t=0: 16/3 + 16/4 = 9.333; t=1: 9/4 + 9/3 = 5.25; parent 0²/6 = 0.
  assert.equal(out[S.THRESHOLD], 0);
  assert.ok(Math.abs(out[S.GAIN] - 28 / 3) < 1e-9);
  assert.equal(out[S.LEFT_CNT], 2);
  assert.ok(Math.abs(leafOutput(out[S.LEFT_G], out[S.LEFT_H], 0, 1) - 4 / 3) < 1e-9);
  // With λ1 = 1: ThresholdL1 shrinks |G| by 1: t=0 → 3²/3 + 3²/4 = 5.25 (t=1: 1 + 4/3).
  findBestThreshold(hist, 0, 3, 0, 0, 5, 5, { ...cfg, lambdaL1: 1 }, out, 0);
  assert.equal(out[S.THRESHOLD], 0);
  assert.ok(Math.abs(out[S.GAIN] - 5.25) < 1e-9);
  // min_data_in_leaf = 3 rules out both thresholds.
  assert.ok(!findBestThreshold(hist, 0, 3, 0, 0, 5, 5, { ...cfg, minDataInLeaf: 3 }, out, 0));
  assert.equal(out[S.GAIN], -Infinity);
  // NaN bin last: (−4,2,2) (3,2,2) | NaN (−3,2,2): NaN rows belong with the negative bin, so
  // the right-to-left scan (NaN left, default_left) wins over NaN-right.
  const nanHist = Float64Array.of(-4, 2, 2, 3, 2, 2, -3, 2, 2);
  findBestThreshold(nanHist, 0, 3, 2, -4, 6, 6, { ...cfg, lambdaL2: 0 }, out, 0);
  assert.equal(out[S.THRESHOLD], 0);
  assert.equal(out[S.DEFAULT_LEFT], 1);
  assert.equal(out[S.LEFT_CNT], 4);
  const nanRight = Float64Array.of(-4, 2, 2, 3, 2, 2, 5, 2, 2);
  findBestThreshold(nanRight, 0, 3, 2, 4, 6, 6, { ...cfg, lambdaL2: 0 }, out, 0);
  assert.equal(out[S.DEFAULT_LEFT], 0);
  assert.equal(out[S.LEFT_CNT], 2);
});

/**
 * Literal transcription of LightGBM's FeatureHistogram::FindBestThresholdSequentially (both
 * directions, per-bin limit tests) used as the reference for the optimized split.ts.
 */
function referenceSplit(
  hist: Float64Array,
  numBin: number,
  nanBin: boolean,
  sumG: number,
  sumHRaw: number,
  numData: number,
  cfg: { minDataInLeaf: number; minSumHessianInLeaf: number; lambdaL1: number; lambdaL2: number },
): { gain: number; thr: number; defaultLeft: number; lc: number } {
  const eps = Math.fround(1e-15);
  const sumH = sumHRaw + 2 * eps;
  const tl1 = (x: number) => Math.sign(x) * Math.max(0, Math.abs(x) - cfg.lambdaL1);
  const gainOf = (g: number, h: number) => tl1(g) ** 2 / (h + cfg.lambdaL2);
  const shift = gainOf(sumG, sumH);
  const na = numBin > 2 && nanBin;
  let best = { gain: -Infinity, thr: -1, defaultLeft: nanBin && !na ? 0 : 1, lc: 0 };
  for (const dir of na ? [-1, 1] : [-1]) {
    let sg = 0, sh = eps, sc = 0, bg = -Infinity, bt = -1, blc = 0;
    const ts = dir === -1
      ? Array.from({ length: numBin - 1 - (na ? 1 : 0) }, (_, k) => numBin - 1 - (na ? 1 : 0) - k)
      : Array.from({ length: numBin - 1 }, (_, k) => k);
    for (const t of ts) {
      sg += hist[t * 3];
      sh += hist[t * 3 + 1];
      sc += hist[t * 3 + 2];
      if (sc < cfg.minDataInLeaf || sh < cfg.minSumHessianInLeaf) continue;
      if (numData - sc < cfg.minDataInLeaf || sumH - sh < cfg.minSumHessianInLeaf) break;
      const g = gainOf(sg, sh) + gainOf(sumG - sg, sumH - sh);
      if (g <= shift) continue;
      if (g > bg) {
        bg = g;
        bt = dir === -1 ? t - 1 : t;
        blc = dir === -1 ? numData - sc : sc;
      }
    }
    if (bg > best.gain + shift) {
      best = { gain: bg - shift, thr: bt, defaultLeft: dir === -1 ? 1 : 0, lc: blc };
    }
  }
  // LightGBM: "fix the direction error when only have 2 bins" — NaN goes right.
  if (nanBin && !na) best.defaultLeft = 0;
  return best;
}

Deno.test("split: optimized scan equals LightGBM's per-bin loop on random histograms", () => {
  const r = new LgbRandom(123);
  const out = new Float64Array(SPLIT_REC);
  for (let k = 0; k < 3000; k++) {
    const numBin = 2 + r.nextInt(0, 40);
    const nanBin = r.nextFloat() < 0.4;
    const hist = new Float64Array(numBin * 3);
    let G = 0, H = 0, N = 0;
    for (let b = 0; b < numBin; b++) {
      const c = r.nextFloat() < 0.2 ? 0 : r.nextInt(0, 30);
      const g = c ? (r.nextFloat() - 0.45) * c : 0;
      // Some bins carry the tiny negative hessians histogram subtraction leaves behind.
      const h = c ? r.nextFloat() * c * 0.25 : r.nextFloat() < 0.3 ? -1e-17 : 0;
      hist.set([g, h, c], b * 3);
      G += g;
      H += h;
      N += c;
    }
    const cfg = {
      minDataInLeaf: r.nextInt(0, 12),
      minSumHessianInLeaf: r.nextFloat() < 0.5 ? 1e-3 : r.nextFloat() * 3,
      lambdaL1: r.nextFloat() < 0.3 ? r.nextFloat() * 2 : 0,
      lambdaL2: r.nextFloat() < 0.5 ? r.nextFloat() * 2 : 0,
      minGainToSplit: 0,
    };
    const ref = referenceSplit(hist, numBin, nanBin, G, H, N, cfg);
    findBestThreshold(hist, 0, numBin, nanBin ? 2 : 0, G, H, N, cfg, out, 0);
    const what = `case ${k}: ${JSON.stringify(ref)} vs ${Array.from(out)}`;
    assert.equal(out[S.THRESHOLD], ref.thr, what);
    if (ref.thr >= 0) {
      assert.ok(Math.abs(out[S.GAIN] - ref.gain) <= 1e-9 * Math.max(1, ref.gain), what);
      assert.equal(out[S.DEFAULT_LEFT], ref.defaultLeft, what);
      assert.equal(out[S.LEFT_CNT], ref.lc, what);
    }
  }
});

Deno.test("metrics: AUC with ties, logloss, multi_error", () => {
  // Pairs (pos, neg): 0.8>0.3 ✓, 0.8>0.5 ✓, 0.5=0.5 ½, 0.5>0.3 ✓ → 3.5 / 4.
  assert.equal(auc([0.8, 0.5, 0.5, 0.3], [1, 1, 0, 0]), 0.875);
  assert.equal(auc([1, 2], [1, 1]), 1);
  const ll = evalMetric("binary_logloss", Float64Array.of(0, 0), Float64Array.of(1, 0), 1);
  assert.ok(Math.abs(ll - Math.log(2)) < 1e-12);
  // Class-major scores of 2 rows × 3 classes; row 1 ties its true class → counted as an error.
  const s = Float64Array.of(2, 1, 0, 1, 0, 0);
  assert.equal(evalMetric("multi_error", s, Float64Array.of(0, 1), 3), 0.5);
});

Deno.test("leaf-wise growth obeys num_leaves, max_depth and min_data_in_leaf on every tree", async () => {
  const d = synth(6000, "yReg");
  for (const cfg of [["num_leaves=15", "max_depth=3", "min_data_in_leaf=50"], ["num_leaves=31"]]) {
    const p = parseParams(["num_iterations=15", ...cfg]);
    const { model } = await train(d, p);
    let full = 0;
    for (const t of model.trees) {
      assert.ok(t.numLeaves <= p.numLeaves);
      if (p.maxDepth > 0) assert.ok(depth(t) <= p.maxDepth, `depth ${depth(t)}`);
      assert.ok(t.leafCount.every((c) => c >= p.minDataInLeaf), `leaf counts ${t.leafCount}`);
      assert.equal(t.leafCount.reduce((a, b) => a + b, 0), d.numRows);
      assert.equal(t.internalCount[0], d.numRows);
      if (t.numLeaves === p.numLeaves) full++;
    }
    // Leaf-wise: with max_depth 3, 8 leaves at most; without, trees fill up to num_leaves.
    if (p.maxDepth === 3) assert.ok(model.trees.every((t) => t.numLeaves <= 8));
    else assert.ok(full > 0);
  }
});

Deno.test("NaN rows follow the learned default direction (both directions)", async () => {
  for (const nanLabel of [1, 0]) {
    const r = new LgbRandom(9);
    const n = 4000;
    const values = new Float64Array(n * 2), labels = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const isNan = r.nextFloat() < 0.3;
      const x = r.nextFloat() * 4 - 2;
      values[i * 2] = isNan ? NaN : x;
      values[i * 2 + 1] = r.nextFloat();
      labels[i] = isNan ? nanLabel : x > 0.5 ? 1 : 0;
    }
    const d = { numRows: n, numFeatures: 2, values, labels };
    const p = parseParams(["objective=binary", "num_iterations=30", "num_leaves=4"]);
    const { model } = await train(d, p);
    const root = model.trees[0];
    assert.equal(root.splitFeature[0], 0);
    assert.equal((root.decisionType[0] >> 2) & 3, 2, "missing type NaN");
    // NaN rows (label nanLabel) join the side of the class they share: x > 0.5 (right) for 1.
    assert.equal((root.decisionType[0] & 2) !== 0, nanLabel === 0);
    const pNan = transform(model, predictRaw(model, [NaN, 0.5]))[0];
    const pLow = transform(model, predictRaw(model, [-1, 0.5]))[0];
    const pHigh = transform(model, predictRaw(model, [1.5, 0.5]))[0];
    assert.ok(nanLabel === 1 ? pNan > 0.9 : pNan < 0.1, `p(NaN) = ${pNan}`);
    assert.ok(pLow < 0.1 && pHigh > 0.9);
  }
});

Deno.test("same seed → identical model (bagging, feature_fraction), whatever the threads", async () => {
  const d = synth(20_000, "yBin");
  const args = [
    "objective=binary",
    "num_iterations=12",
    "bagging_fraction=0.7",
    "bagging_freq=2",
    "feature_fraction=0.6",
  ];
  const fit = async (extra: string[]) =>
    writeLightGbmModel((await train(d, parseParams([...args, ...extra]))).model);
  const a = await fit(["seed=7", "num_threads=1"]);
  assert.equal(await fit(["seed=7", "num_threads=1"]), a);
  assert.equal(await fit(["seed=7", "num_threads=2"]), a);
  assert.notEqual(await fit(["seed=8", "num_threads=1"]), a);
  // feature_fraction=0.6 of 30 features: each tree splits on at most 18 distinct features.
  const m = parseLightGbmModel(a);
  assert.ok(m.trees.every((t) => new Set(t.splitFeature).size <= 18));
});

Deno.test("real LightGBM data: quality in LightGBM's range; text model round-trips exactly", async () => {
  // binary_valid_2000.csv rows 0–1599 train, 1600–1999 validate; parameters of binary_train.conf.
  const tr = realRows(0, 1600), va = realRows(1600, 2000);
  const p = parseParams([
    "objective=binary",
    "metric=binary_logloss,auc",
    "num_iterations=100",
    "num_leaves=31",
    "learning_rate=0.05",
    "max_bin=255",
    "min_data_in_leaf=20",
    "seed=42",
  ]);
  const { model, history } = await train(tr, p, va);
  const [ll, a] = history.valid[history.valid.length - 1];
  // Real LightGBM (trained on 160,000 rows) on the same 400 rows: logloss 0.4976, AUC 0.8421.
  const raw = Float64Array.from(sharedLines("binary_pred_raw_2000.txt").slice(1600).map(Number));
  const lgbLl = evalMetric("binary_logloss", raw, va.labels, 1);
  const lgbAuc = auc(raw, va.labels);
  assert.ok(Math.abs(ll - lgbLl) < 0.03, `logloss ${ll} vs LightGBM ${lgbLl}`);
  assert.ok(a > lgbAuc - 0.03, `AUC ${a} vs LightGBM ${lgbAuc}`);
  assert.ok(history.valid[0][0] > ll + 0.1, "logloss fell over the iterations");
  assert.equal(model.trees[0].shrinkage, 1); // boost_from_average folded into tree 0
  assert.equal(model.trees[1].shrinkage, 0.05);
  // The exported thresholds route every training row to the leaf the binned partition put it in.
  for (const t of model.trees.slice(0, 10)) {
    const counts = new Array<number>(t.numLeaves).fill(0);
    for (let i = 0; i < tr.numRows; i++) counts[leafIndex(t, rowOf(tr, i))]++;
    assert.deepEqual(counts, t.leafCount);
  }
  const direct = scoreAll(model, va);
  assert.equal(evalMetric("binary_logloss", direct, va.labels, 1), ll);
  // LightGBM text → parse → same predictions, bit for bit.
  const text = writeLightGbmModel(model);
  const back = parseLightGbmModel(text);
  assert.deepEqual(scoreAll(back, va), direct);
  assert.equal(writeLightGbmModel(back), text);
});

Deno.test("multiclass: probabilities sum to 1, K trees per iteration, priors in tree 0", async () => {
  const d = synth(6000, "yMc"), v = synth(2000, "yMc", 6000);
  const p = parseParams(["objective=multiclass", "num_class=3", "num_iterations=20"]);
  const { model, history } = await train(d, p, v);
  assert.equal(model.trees.length, 60);
  assert.ok(history.valid[19][0] < history.valid[0][0]);
  for (let i = 0; i < 200; i++) {
    const pr = transform(model, predictRaw(model, rowOf(v, i)));
    assert.equal(pr.length, 3);
    assert.ok(Math.abs(pr.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  }
  // Tree k of iteration 0 carries log(prior_k) in every leaf (LightGBM AddBias).
  const prior = [0, 1, 2].map((k) => d.labels.filter((y) => y === k).length / d.numRows);
  for (let k = 0; k < 3; k++) {
    const t = model.trees[k];
    const w = t.leafCount.reduce((s, c, l) => s + c * t.leafValue[l], 0) / d.numRows;
    assert.ok(Math.abs(w - Math.log(prior[k])) < 0.05, `class ${k}: ${w} vs ${Math.log(prior[k])}`);
  }
});

Deno.test("early stopping truncates the model to the best iteration", async () => {
  const d = synth(800, "yBin"), v = synth(800, "yBin", 800);
  const p = parseParams([
    "objective=binary",
    "num_iterations=400",
    "learning_rate=0.3",
    "min_data_in_leaf=5",
    "early_stopping_round=5",
  ]);
  const { model, history } = await train(d, p, v);
  assert.ok(history.stoppedEarly);
  const ll = history.valid.map((r) => r[0]);
  const best = ll.indexOf(Math.min(...ll)) + 1;
  assert.equal(history.bestIteration, best);
  assert.equal(ll.length, best + 5);
  assert.equal(model.trees.length, best);
  assert.equal(history.numIterations, best);
});

Deno.test("bad training data gives clear errors", async () => {
  const d = synth(200, "yBin");
  const p = parseParams(["objective=binary", "num_iterations=2"]);
  await assert.rejects(
    () => train({ ...d, labels: new Float64Array(200).fill(1) }, p),
    /binary label is constant \(all 1\)/,
  );
  const nan = d.labels.slice();
  nan[7] = NaN;
  await assert.rejects(() => train({ ...d, labels: nan }, p), /row 8 is NaN/);
  const mc = parseParams(["objective=multiclass", "num_class=3", "num_iterations=2"]);
  const three = d.labels.map((_, i) => i % 4);
  await assert.rejects(() => train({ ...d, labels: three }, mc), TrainDataError);
  await assert.rejects(
    () => train(d, p, { ...synth(10, "yBin"), numFeatures: 29, values: new Float64Array(290) }),
    /validation data has 29 features/,
  );
});

Deno.test("model fit CLI: trains, writes model.txt + bundle; bad input exits 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tr = sharedLines("binary_valid_2000.csv");
    await Deno.writeTextFile(`${dir}/train.csv`, tr.slice(0, 1500).join("\n") + "\n");
    await Deno.writeTextFile(`${dir}/valid.csv`, tr.slice(1500).join("\n") + "\n");
    const code = await fitCommand([
      `${dir}/train.csv`,
      "--valid",
      `${dir}/valid.csv`,
      "--out",
      `${dir}/out`,
      "--quiet",
      "objective=binary",
      "num_trees=20",
      "shrinkage_rate=0.1",
      "metric=auc",
    ]);
    assert.equal(code, 0);
    const m = parseLightGbmModel(await Deno.readTextFile(`${dir}/out/model.txt`));
    assert.equal(m.trees.length, 20);
    const meta = JSON.parse(await Deno.readTextFile(`${dir}/out/model.json`));
    assert.ok(meta.validationMetrics.auc > 0.75);
    assert.ok((await Deno.stat(`${dir}/out/model.onnx`)).size > 0);
    const bad = async (name: string, text: string, extra: string[] = []) => {
      await Deno.writeTextFile(`${dir}/${name}`, text);
      return await fitCommand([`${dir}/${name}`, "--out", `${dir}/o2`, ...extra]);
    };
    assert.equal(await bad("empty.csv", ""), 2);
    assert.equal(await bad("ragged.csv", "1,2,3\n0,1\n"), 2);
    assert.equal(await bad("nanlabel.csv", "1,2\nnan,3\n0,4\n", ["objective=binary"]), 2);
    assert.equal(await bad("const.csv", "1,2\n1,3\n1,4\n", ["objective=binary"]), 2);
    assert.equal(
      await bad("range.csv", "0,2\n3,3\n1,4\n", ["objective=multiclass", "num_class=3"]),
      2,
    );
    assert.equal(await bad("ok.csv", "0,2\n1,3\n", ["num_leavs=3"]), 2);
    assert.equal(await fitCommand([`${dir}/train.csv`]), 2); // --out missing
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
