/**
 * Scoring latency bench: onnxruntime-web (WASM, 1 thread) against a plain TypeScript tree walk of
 * the same ensemble, measured in the same run.
 *
 * Model: deterministic synthetic multiclass GBDT, 300 iterations × 3 classes = 900 trees of 31
 * leaves over 30 features (random splits: structure and sizes matter for latency, not accuracy).
 * Reports single-row latency p50/p99 (µs) and batch throughput (rows/s, batch 1024).
 *
 * Run: `deno run -A bench/scoring_bench.ts` (prints a table); `runScoringBench()` returns figures.
 */

import { exportOnnx } from "../src/model/onnx_export.ts";
import { createSession, ort } from "../src/model/ort.ts";
import { type GbdtModel, predictRaw, transform, type Tree } from "../src/model/tree.ts";
import { newTree } from "../src/model/train/grown_tree.ts";

/** Deterministic 32-bit PRNG (mulberry32), uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RandomTreeOptions {
  numLeaves: number;
  numFeatures: number;
  /** decision_type values to draw from (default [2]: missing None, default left). */
  decisionTypes?: number[];
  /** Threshold generator (default uniform in [−2, 2)). */
  threshold?: (rnd: () => number) => number;
  /** Leaf value generator (default uniform in [−0.1, 0.1)). */
  leafValue?: (rnd: () => number) => number;
}

/**
 * Grows one random tree leaf-wise with LightGBM's node numbering (splitting leaf L makes internal
 * node n = numLeaves−1 whose left child keeps leaf L and right child is the new leaf).
 */
export function randomTree(rnd: () => number, o: RandomTreeOptions): Tree {
  const ni = o.numLeaves - 1;
  const t: Tree = newTree(0.1);
  const types = o.decisionTypes ?? [2];
  const thr = o.threshold ?? ((r) => r() * 4 - 2);
  // Parent slot of each leaf: [node, isLeft], node −1 for the root leaf.
  const leafParent: [number, boolean][] = [[-1, true]];
  for (let n = 0; n < ni; n++) {
    const leaf = Math.floor(rnd() * t.numLeaves);
    const [p, isLeft] = leafParent[leaf];
    if (p >= 0) (isLeft ? t.leftChild : t.rightChild)[p] = n;
    const newLeaf = t.numLeaves++;
    t.splitFeature.push(Math.floor(rnd() * o.numFeatures));
    t.splitGain.push(1 + Math.round(rnd() * 1000));
    t.threshold.push(thr(rnd));
    t.decisionType.push(types[Math.floor(rnd() * types.length)]);
    t.leftChild.push(~leaf);
    t.rightChild.push(~newLeaf);
    t.internalValue.push(0);
    t.internalWeight.push(1);
    t.internalCount.push(2);
    leafParent[leaf] = [n, true];
    leafParent[newLeaf] = [n, false];
  }
  const lv = o.leafValue ?? ((r) => r() * 0.2 - 0.1);
  for (let l = 0; l < t.numLeaves; l++) {
    t.leafValue.push(lv(rnd));
    t.leafWeight.push(1);
    t.leafCount.push(1);
  }
  return t;
}

/** A synthetic ensemble: `iterations × numClass` trees (numClass 1 → binary or regression). */
export function randomModel(
  seed: number,
  opts: RandomTreeOptions & { iterations: number; objective: GbdtModel["objective"] },
): GbdtModel {
  const rnd = mulberry32(seed);
  const k = opts.objective.name === "multiclass" ? opts.objective.numClass : 1;
  const trees = Array.from({ length: opts.iterations * k }, () => randomTree(rnd, opts));
  return {
    objective: opts.objective,
    numTreePerIteration: k,
    featureNames: Array.from({ length: opts.numFeatures }, (_, i) => `f${i}`),
    featureInfos: Array.from({ length: opts.numFeatures }, () => "[-3:3]"),
    trees,
  };
}

/** Figures returned by {@link runScoringBench}. Latencies in microseconds. */
export interface ScoringBenchResult {
  trees: number;
  leavesPerTree: number;
  features: number;
  /** Default export (`precision: "double"`: float64 compare and sum, LightGBM parity). */
  ort: { singleP50Us: number; singleP99Us: number; batchRowsPerSec: number };
  /** `precision: "float"` export (float32 compare and sum). */
  ortFloat: { singleP50Us: number; singleP99Us: number; batchRowsPerSec: number };
  tsWalk: { singleP50Us: number; singleP99Us: number; batchRowsPerSec: number };
  /** GbdtModel → ONNX bytes (double precision), and onnxruntime session creation, in ms. */
  exportMs: number;
  sessionMs: number;
  onnxBytes: number;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Builds the model, measures ORT and the TS walk, and returns the figures. */
export async function runScoringBench(
  opts: { singleRuns?: number; batchRuns?: number; warmUp?: number } = {},
): Promise<ScoringBenchResult> {
  const singleRuns = opts.singleRuns ?? 5000;
  const batchRuns = opts.batchRuns ?? 10;
  const warmUp = opts.warmUp ?? 5000;
  const F = 30;
  const model = randomModel(12345, {
    iterations: 300,
    objective: { name: "multiclass", numClass: 3 },
    numLeaves: 31,
    numFeatures: F,
  });
  const t0 = performance.now();
  const onnx = exportOnnx(model);
  const t1 = performance.now();
  const session = await createSession(onnx);
  const t2 = performance.now();
  const sessionF = await createSession(exportOnnx(model, { precision: "float" }));
  const rnd = mulberry32(7);
  const B = 1024;
  const x = new Float32Array(B * F).map(() => rnd() * 4 - 2);

  const timeSingle = async (score: (row: Float32Array) => unknown) => {
    const lat: number[] = [];
    // Warm-up first: V8 tiers hot WASM/JS functions up over the first few thousand calls; a cold
    // onnxruntime-web session stalls for milliseconds on ~1–2% of those (see Scorer.warmUp).
    for (let i = 0; i < warmUp + singleRuns; i++) {
      const row = x.subarray((i % B) * F, (i % B) * F + F);
      const t0 = performance.now();
      await score(row);
      if (i >= warmUp) lat.push((performance.now() - t0) * 1000);
    }
    lat.sort((a, b) => a - b);
    return { p50: pct(lat, 0.5), p99: pct(lat, 0.99) };
  };
  const timeBatch = async (scoreAll: () => unknown) => {
    await scoreAll();
    const t0 = performance.now();
    for (let r = 0; r < batchRuns; r++) await scoreAll();
    return (B * batchRuns) / ((performance.now() - t0) / 1000);
  };

  const ortOne = (s: ort.InferenceSession) => (row: Float32Array) =>
    s.run({ features: new ort.Tensor("float32", row, [1, F]) }, ["probabilities"]);
  const ortAll = (s: ort.InferenceSession) => () =>
    s.run({ features: new ort.Tensor("float32", x, [B, F]) }, ["probabilities"]);
  const raw = new Float64Array(3);
  const tsOne = (row: Float32Array) => transform(model, predictRaw(model, row, raw));
  const ortFSingle = await timeSingle(ortOne(sessionF));
  const ortSingle = await timeSingle(ortOne(session));
  const tsSingle = await timeSingle(tsOne);
  const ortBatch = await timeBatch(ortAll(session));
  const ortFBatch = await timeBatch(ortAll(sessionF));
  const tsBatch = await timeBatch(() => {
    for (let i = 0; i < B; i++) tsOne(x.subarray(i * F, i * F + F));
  });
  await session.release();
  await sessionF.release();
  return {
    trees: model.trees.length,
    leavesPerTree: 31,
    features: F,
    ort: { singleP50Us: ortSingle.p50, singleP99Us: ortSingle.p99, batchRowsPerSec: ortBatch },
    ortFloat: {
      singleP50Us: ortFSingle.p50,
      singleP99Us: ortFSingle.p99,
      batchRowsPerSec: ortFBatch,
    },
    tsWalk: { singleP50Us: tsSingle.p50, singleP99Us: tsSingle.p99, batchRowsPerSec: tsBatch },
    exportMs: t1 - t0,
    sessionMs: t2 - t1,
    onnxBytes: onnx.length,
  };
}

/** Formats the figures as a compact table. */
export function formatScoringBench(r: ScoringBenchResult): string {
  const row = (name: string, v: ScoringBenchResult["ort"]) =>
    `${name.padEnd(22)}${v.singleP50Us.toFixed(1).padStart(10)}${
      v.singleP99Us.toFixed(1).padStart(10)
    }${Math.round(v.batchRowsPerSec).toLocaleString("en-US").padStart(14)}`;
  return [
    `scoring: ${r.trees} trees × ${r.leavesPerTree} leaves, ${r.features} features (multiclass 3)`,
    `${"".padEnd(22)}${"p50 µs".padStart(10)}${"p99 µs".padStart(10)}${
      "rows/s @1024".padStart(14)
    }`,
    row("ORT wasm (double)", r.ort),
    row("ORT wasm (float)", r.ortFloat),
    row("TypeScript tree walk", r.tsWalk),
    `ONNX export ${r.exportMs.toFixed(0)} ms (${(r.onnxBytes / 1e6).toFixed(2)} MB), ` +
    `session create ${r.sessionMs.toFixed(0)} ms`,
  ].join("\n");
}

if (import.meta.main) {
  console.log(formatScoringBench(await runScoringBench()));
}
