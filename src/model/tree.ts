/**
 * In-memory gradient-boosted tree ensemble with LightGBM's semantics, mirroring its v4 text model
 * format (LightGBM `src/io/tree.cpp` Tree::ToString / `gbdt_model_text.cpp`). The trainer produces
 * it, the LightGBM text reader/writer (de)serializes it, the ONNX exporter converts it.
 *
 * Node indexing follows LightGBM: internal nodes 0..numLeaves-2; a child index ≥ 0 is an internal
 * node, a negative child `c` is leaf `~c` (i.e. −c−1).
 *
 * `decisionType` bit layout (LightGBM tree.h): bit 0 categorical, bit 1 default_left,
 * bits 2–3 missing type (0 None, 1 Zero, 2 NaN). Numerical split: go left when value ≤ threshold.
 */

export const MISSING_NONE = 0;
export const MISSING_ZERO = 1;
export const MISSING_NAN = 2;
/** LightGBM `kZeroThreshold` (meta.h, the float 1e-35f): inputs with |v| ≤ this are read as 0. */
export const K_ZERO_THRESHOLD = Math.fround(1e-35);

/** One tree; arrays are indexed by internal node (length numLeaves−1) or leaf (numLeaves). */
export interface Tree {
  numLeaves: number;
  /** Feature index (into the model's feature list) per internal node. */
  splitFeature: number[];
  /** Gain of each split (for importance). */
  splitGain: number[];
  /** Numerical threshold per internal node: value ≤ threshold goes left. */
  threshold: number[];
  /** LightGBM decision_type bit field per internal node (see file doc). */
  decisionType: number[];
  leftChild: number[];
  rightChild: number[];
  /** Output of each leaf (already multiplied by the learning rate, as LightGBM stores it). */
  leafValue: number[];
  /** Sum of hessians per leaf. */
  leafWeight: number[];
  /** Training rows per leaf. */
  leafCount: number[];
  internalValue: number[];
  internalWeight: number[];
  internalCount: number[];
  /** Learning rate applied to this tree. */
  shrinkage: number;
}

export type Objective =
  | { name: "binary"; sigmoid: number }
  | { name: "multiclass"; numClass: number }
  | { name: "regression" };

/** A whole ensemble; trees are laid out iteration-major: tree i belongs to class i % numClass. */
export interface GbdtModel {
  objective: Objective;
  /** Trees per iteration: numClass for multiclass, else 1. */
  numTreePerIteration: number;
  featureNames: string[];
  /** LightGBM `feature_infos` strings (`[min:max]` or `none`), one per feature. */
  featureInfos: string[];
  trees: Tree[];
  /** Extra training parameters to write in the `parameters:` block (name → value text). */
  parameters?: Record<string, string>;
}

/** Number of model outputs (raw scores) per row. */
export function numOutputs(m: GbdtModel): number {
  return m.objective.name === "multiclass" ? m.objective.numClass : 1;
}

/** Leaf index reached by `row` in `tree` (LightGBM Tree::GetLeaf / NumericalDecision). */
export function leafIndex(tree: Tree, row: ArrayLike<number>): number {
  if (tree.numLeaves <= 1) return 0;
  let node = 0;
  while (node >= 0) {
    let v = row[tree.splitFeature[node]];
    // LightGBM's parsers and dense-row predictor keep only values with |v| > kZeroThreshold (or
    // NaN): anything in the zero band reaches the trees as 0 (c_api.cpp, RowFunctionFromDense…).
    if (v >= -K_ZERO_THRESHOLD && v <= K_ZERO_THRESHOLD) v = 0;
    const dt = tree.decisionType[node];
    const missing = (dt >> 2) & 3;
    if (Number.isNaN(v) && missing !== MISSING_NAN) v = 0;
    let left: boolean;
    if ((missing === MISSING_ZERO && v === 0) || (missing === MISSING_NAN && Number.isNaN(v))) {
      left = (dt & 2) !== 0;
    } else {
      left = v <= tree.threshold[node];
    }
    node = left ? tree.leftChild[node] : tree.rightChild[node];
  }
  return ~node;
}

/** Raw scores (log-odds / class margins / value) for one row, summed in double precision. */
export function predictRaw(m: GbdtModel, row: ArrayLike<number>, out?: Float64Array): Float64Array {
  const k = m.numTreePerIteration;
  const res = out ?? new Float64Array(k);
  res.fill(0);
  const trees = m.trees;
  for (let i = 0; i < trees.length; i++) {
    const t = trees[i];
    res[i % k] += t.leafValue[leafIndex(t, row)];
  }
  return res;
}

/** Applies the objective's output transform to raw scores (sigmoid / softmax / identity). */
export function transform(m: GbdtModel, raw: Float64Array): Float64Array {
  const o = m.objective;
  if (o.name === "binary") return Float64Array.of(1 / (1 + Math.exp(-o.sigmoid * raw[0])));
  if (o.name === "multiclass") {
    let mx = -Infinity;
    for (const v of raw) mx = Math.max(mx, v);
    const e = raw.map((v) => Math.exp(v - mx));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  }
  return Float64Array.from(raw);
}
