/**
 * A tree as the learner grows it: the model-form Tree (src/model/tree.ts, LightGBM text layout)
 * plus the binned view of its splits that the booster uses to update scores of out-of-bag rows,
 * and the partition ranges of its leaves.
 */
import type { Tree } from "../tree.ts";

/** A grown tree plus what the booster needs to update scores without re-reading raw values. */
export interface GrownTree {
  /** The tree in model form, leaf and internal values multiplied by `shrinkage`. */
  tree: Tree;
  /** Per internal node: used-feature index, threshold bin, default-left flag, NaN bin (−1: none). */
  nodeJ: Int32Array;
  nodeThr: Int32Array;
  nodeDefLeft: Uint8Array;
  nodeNanBin: Int32Array;
  /** Per leaf: its rows are idx[leafBegin, leafBegin + leafCount) of the learner's partition. */
  leafBegin: Int32Array;
  leafCount: Int32Array;
}

/** LightGBM Common::AvoidInf: thresholds are finite in the text model (±1e300). */
export function avoidInf(x: number): number {
  if (Number.isNaN(x)) return 0;
  if (x >= 1e300) return 1e300;
  if (x <= -1e300) return -1e300;
  return x;
}

/** LightGBM MaybeRoundToZero: |x| ≤ kZeroThreshold (1e-35f) becomes 0. */
export function roundToZero(x: number): number {
  return Math.abs(x) > 1.0000000180025095e-35 ? x : 0;
}

/** An empty one-leaf tree to grow into (arrays filled by the learner). */
export function newTree(shrinkage: number): Tree {
  return {
    numLeaves: 1,
    splitFeature: [],
    splitGain: [],
    threshold: [],
    decisionType: [],
    leftChild: [],
    rightChild: [],
    leafValue: [],
    leafWeight: [],
    leafCount: [],
    internalValue: [],
    internalWeight: [],
    internalCount: [],
    shrinkage,
  };
}

/** Leaf reached by `row` of binned data `bins` (column-major, `n` rows) in a grown tree. */
export function binnedLeaf(
  g: GrownTree,
  bins: Uint8Array | Uint16Array,
  n: number,
  row: number,
): number {
  const t = g.tree;
  if (t.numLeaves <= 1) return 0;
  let node = 0;
  while (node >= 0) {
    const b = bins[g.nodeJ[node] * n + row];
    const left = b === g.nodeNanBin[node] ? g.nodeDefLeft[node] === 1 : b <= g.nodeThr[node];
    node = left ? t.leftChild[node] : t.rightChild[node];
  }
  return ~node;
}
