/**
 * Exports a {@link GbdtModel} to ONNX (ai.onnx.ml opset 3 TreeEnsemble operators), reproducing
 * LightGBM's prediction semantics exactly for float32 inputs.
 *
 * Graph: input `features` float32 [N, F] (F = model features, in model order); with the default
 * `precision: "double"` a Cast to float64 feeds the ensemble, so branches compare `double(x) <= t`
 * and leaf values are summed in double exactly as LightGBM does (onnxruntime's TreeEnsemble uses
 * the input type for thresholds and sums); outputs stay float32.
 *  - binary / multiclass, `output: "transformed"` → `TreeEnsembleClassifier` without ZipMap, outputs
 *    `label` int64 [N] and `probabilities` float32 [N, C] (C = 2 for binary: [1−p, p]).
 *  - regression, or `output: "raw"` → `TreeEnsembleRegressor`, output `scores` float32 [N, K]
 *    (K = numClass for multiclass, else 1): the sum of leaf values, LightGBM's raw score.
 *
 * Mapping of LightGBM's numerical decision (tree.h `NumericalDecision`) onto ONNX nodes:
 *  - `precision: "float"`: LightGBM compares `double(x) <= threshold`, the float ensemble compares
 *    in float32. For a float32 input x, `x <= t` ⇔ `x <= t32` where t32 = the largest float32 ≤ t,
 *    so every threshold is rounded *down* to float32 (not to nearest) and BRANCH_LEQ takes exactly
 *    LightGBM's branch. (Double precision needs no such rounding.)
 *  - LightGBM reads every |x| ≤ 1e-35f (kZeroThreshold, "the zero band") as 0 before the trees
 *    (its parsers and dense-row predictor drop such values as sparse zeros). A plain comparison
 *    already sends the band to 0's side unless t lies inside [−1e-35f, 1e-35f); such thresholds
 *    become `x <= 1e-35f` (t ≥ 0) or `x < −1e-35f` (t < 0), exact in float32 and in double.
 *  - missing type NaN: NaN goes to the default side → `missing_value_tracks_true = default_left`.
 *  - missing type None: LightGBM maps NaN to 0 → NaN follows 0's branch: tracks_true = (0 ≤ t).
 *  - missing type Zero: NaN→0 and the zero band go to the default side. When the default side is
 *    the side 0 falls on anyway, one node suffices (threshold or the ±1e-35f edge); otherwise the
 *    value line reads L|R|L|R, which a binary tree can only express by repeating both child
 *    subtrees once (extra BRANCH_LT/BRANCH_LEQ nodes at ±1e-35f). The exporter does that, and
 *    refuses (Error) if repetition would blow a tree up past {@link MAX_NODES_PER_TREE}.
 *  - binary `sigmoid:k`: the classifier's leaf weights are k·leaf so ONNX LOGISTIC gives
 *    1/(1+exp(−k·raw)); the raw regressor keeps the unscaled leaves.
 *  - binary probabilities are written as a two-class ensemble (weights −w for class 0, +w for
 *    class 1) with post_transform LOGISTIC: onnxruntime's one-class binary path skips the logistic
 *    when all weights are ≥ 0 (tree_ensemble_aggregator.h), the two-class path never does.
 * With `precision: "float"` onnxruntime accumulates leaf values in float32: over 100 trees the raw
 * score drifts ~1e-6 from LightGBM's double sum (measured 1.5e-6 on the shared fixture), against
 * ≤ half a float32 ulp of the output with "double".
 */

import {
  type GbdtModel,
  K_ZERO_THRESHOLD,
  MISSING_NAN,
  MISSING_ZERO,
  numOutputs,
  type Tree,
} from "./tree.ts";
import {
  type AttributeJson,
  AttrType,
  DataType,
  encodeModel,
  type ValueInfoJson,
} from "./onnx_proto.ts";

/** Refuse to export a tree whose ONNX form (after MISSING_ZERO subtree repetition) exceeds this. */
export const MAX_NODES_PER_TREE = 1 << 16;

/** What the exported graph computes. */
export type OnnxOutputKind = "transformed" | "raw";

export interface OnnxExportOptions {
  /** "transformed" (default): probabilities / regression value; "raw": raw scores. */
  output?: OnnxOutputKind;
  /** Written to ModelProto.producer_version. */
  producerVersion?: string;
  /** Extra ModelProto.metadata_props entries. */
  metadata?: Record<string, string>;
  /**
   * "double" (default): the graph casts `features` to float64 and the ensemble compares and sums in
   * double, as LightGBM does (thresholds and weights in the `*_as_tensor` double attributes).
   * "float": the classic float32 ensemble (thresholds rounded down to float32, float32 sums).
   */
  precision?: OnnxPrecision;
}

/** Arithmetic of the exported tree ensemble (see {@link OnnxExportOptions.precision}). */
export type OnnxPrecision = "double" | "float";

const F32 = new Float32Array(1);
const I32 = new Int32Array(F32.buffer);

/** Largest float32 ≤ t (t finite or ±Infinity). See the file doc for why thresholds round down. */
export function float32AtOrBelow(t: number): number {
  const f = Math.fround(t);
  if (f <= t || Number.isNaN(t)) return f;
  // f > t: step one float32 towards −∞.
  if (f === 0) return -Math.fround(1.401298464324817e-45);
  F32[0] = f;
  I32[0] += f > 0 ? -1 : 1;
  return F32[0];
}

interface Flat {
  nodeIds: number[];
  featureIds: number[];
  values: number[];
  modes: string[];
  trueIds: number[];
  falseIds: number[];
  tracksTrue: number[];
  /** ONNX node id of each leaf occurrence, with the LightGBM leaf index. */
  leafNodes: { id: number; leaf: number }[];
}

/** Emits one LightGBM tree as ONNX nodes (preorder ids starting at 0). */
function flattenTree(t: Tree, thresholdOf: (t: number) => number): Flat {
  const f: Flat = {
    nodeIds: [],
    featureIds: [],
    values: [],
    modes: [],
    trueIds: [],
    falseIds: [],
    tracksTrue: [],
    leafNodes: [],
  };
  const z = K_ZERO_THRESHOLD;
  let next = 0;
  const push = (feature: number, value: number, mode: string, tracks: number) => {
    const id = next++;
    if (id >= MAX_NODES_PER_TREE) {
      throw new Error(
        `ONNX export: tree needs more than ${MAX_NODES_PER_TREE} nodes (MISSING_ZERO splits whose ` +
          "default side is opposite to zero's side are repeated); retrain with zero_as_missing=false",
      );
    }
    f.nodeIds.push(id);
    f.featureIds.push(feature);
    f.values.push(value);
    f.modes.push(mode);
    f.trueIds.push(0);
    f.falseIds.push(0);
    f.tracksTrue.push(tracks);
    return id;
  };
  const link = (id: number, yes: number, no: number) => {
    f.trueIds[id] = yes;
    f.falseIds[id] = no;
  };
  // A branch node: `mode` on `value`, true → emitted `yes()`, false → emitted `no()`.
  const branch = (
    feat: number,
    value: number,
    mode: string,
    tracks: number,
    yes: () => number,
    no: () => number,
  ) => {
    const id = push(feat, value, mode, tracks);
    const a = yes();
    link(id, a, no());
    return id;
  };
  const emit = (c: number): number => {
    if (c < 0) {
      const id = push(0, 0, "LEAF", 0);
      f.leafNodes.push({ id, leaf: ~c });
      return id;
    }
    const feat = t.splitFeature[c];
    const thr = t.threshold[c];
    const t32 = thresholdOf(thr);
    const dt = t.decisionType[c];
    const missing = (dt >> 2) & 3;
    const defLeft = (dt & 2) !== 0;
    const L = () => emit(t.leftChild[c]);
    const R = () => emit(t.rightChild[c]);
    if (missing !== MISSING_ZERO) {
      // NaN type: NaN → default side; None: NaN → 0's side. The zero band always takes 0's side.
      const nanLeft = missing === MISSING_NAN ? defLeft : 0 <= thr;
      const tracks = nanLeft ? 1 : 0;
      if (thr >= -z && thr < z) {
        // Threshold inside the band: x < −z → left, band → 0's side, x > z → right.
        return 0 <= thr
          ? branch(feat, z, "BRANCH_LEQ", tracks, L, R)
          : branch(feat, -z, "BRANCH_LT", tracks, L, R);
      }
      return branch(feat, t32, "BRANCH_LEQ", tracks, L, R);
    }
    // MISSING_ZERO: [−z, z] and NaN go to the default side.
    if (thr >= -z && thr < z) {
      // x < −z → left, x > z → right, zero band → default.
      return defLeft
        ? branch(feat, z, "BRANCH_LEQ", 1, L, R)
        : branch(feat, -z, "BRANCH_LT", 0, L, R);
    }
    const zeroLeft = thr >= z; // which side the zero band takes under a plain comparison
    if (zeroLeft === defLeft) return branch(feat, t32, "BRANCH_LEQ", defLeft ? 1 : 0, L, R);
    if (defLeft) {
      // thr < −z: x ≤ t → L; t < x < −z → R; zero band → L; x > z → R.
      return branch(
        feat,
        t32,
        "BRANCH_LEQ",
        1,
        L,
        () => branch(feat, -z, "BRANCH_LT", 0, R, () => branch(feat, z, "BRANCH_LEQ", 0, L, R)),
      );
    }
    // thr ≥ z: x < −z → L; zero band (and NaN) → R; z < x ≤ t → L; x > t → R.
    return branch(
      feat,
      -z,
      "BRANCH_LT",
      0,
      L,
      () => branch(feat, z, "BRANCH_LEQ", 1, R, () => branch(feat, t32, "BRANCH_LEQ", 0, L, R)),
    );
  };
  emit(t.numLeaves <= 1 ? -1 : 0);
  return f;
}

const te = new TextEncoder();
const ints = (name: string, v: number[]): AttributeJson => ({ name, type: AttrType.INTS, ints: v });
const floats = (name: string, v: number[]): AttributeJson => ({
  name,
  type: AttrType.FLOATS,
  floats: v,
});
const int = (name: string, v: number): AttributeJson => ({ name, type: AttrType.INT, i: v });
const doubles = (name: string, v: number[]): AttributeJson => ({
  name,
  type: AttrType.TENSOR,
  t: { dims: [v.length], dataType: DataType.DOUBLE, doubleData: v },
});
const str = (name: string, v: string): AttributeJson => ({
  name,
  type: AttrType.STRING,
  s: te.encode(v),
});

function tensorInfo(name: string, elemType: number, dims: (number | string)[]): ValueInfoJson {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => typeof d === "number" ? { dimValue: d } : { dimParam: d }) },
      },
    },
  };
}

/**
 * Builds the ONNX model bytes for `model` (see the file doc for graph layout and semantics).
 * @throws Error when a MISSING_ZERO tree cannot be expressed within {@link MAX_NODES_PER_TREE}.
 */
export function exportOnnx(model: GbdtModel, opts: OnnxExportOptions = {}): Uint8Array {
  const kind = opts.output ?? "transformed";
  const obj = model.objective;
  const k = numOutputs(model);
  const classifier = kind === "transformed" && obj.name !== "regression";
  const scale = classifier && obj.name === "binary" ? obj.sigmoid : 1;
  const dbl = (opts.precision ?? "double") === "double";
  const thresholdOf = dbl ? (t: number) => t : float32AtOrBelow;

  const nodeAttrs = {
    treeIds: [] as number[],
    nodeIds: [] as number[],
    featureIds: [] as number[],
    values: [] as number[],
    modes: [] as Uint8Array[],
    trueIds: [] as number[],
    falseIds: [] as number[],
    tracksTrue: [] as number[],
  };
  const tgt = {
    treeIds: [] as number[],
    nodeIds: [] as number[],
    ids: [] as number[],
    w: [] as number[],
  };
  const modeBytes = new Map<string, Uint8Array>();
  model.trees.forEach((tree, ti) => {
    const fl = flattenTree(tree, thresholdOf);
    for (let j = 0; j < fl.nodeIds.length; j++) {
      nodeAttrs.treeIds.push(ti);
      nodeAttrs.nodeIds.push(fl.nodeIds[j]);
      nodeAttrs.featureIds.push(fl.featureIds[j]);
      nodeAttrs.values.push(fl.values[j]);
      let mb = modeBytes.get(fl.modes[j]);
      if (!mb) modeBytes.set(fl.modes[j], mb = te.encode(fl.modes[j]));
      nodeAttrs.modes.push(mb);
      nodeAttrs.trueIds.push(fl.trueIds[j]);
      nodeAttrs.falseIds.push(fl.falseIds[j]);
      nodeAttrs.tracksTrue.push(fl.tracksTrue[j]);
    }
    const cls = ti % k;
    for (const { id, leaf } of fl.leafNodes) {
      const w = tree.leafValue[leaf] * scale;
      if (classifier && obj.name === "binary") {
        tgt.treeIds.push(ti, ti);
        tgt.nodeIds.push(id, id);
        tgt.ids.push(0, 1);
        tgt.w.push(-w, w);
      } else {
        tgt.treeIds.push(ti);
        tgt.nodeIds.push(id);
        tgt.ids.push(cls);
        tgt.w.push(w);
      }
    }
  });

  const common: AttributeJson[] = [
    ints("nodes_treeids", nodeAttrs.treeIds),
    ints("nodes_nodeids", nodeAttrs.nodeIds),
    ints("nodes_featureids", nodeAttrs.featureIds),
    dbl
      ? doubles("nodes_values_as_tensor", nodeAttrs.values)
      : floats("nodes_values", nodeAttrs.values),
    { name: "nodes_modes", type: AttrType.STRINGS, strings: nodeAttrs.modes },
    ints("nodes_truenodeids", nodeAttrs.trueIds),
    ints("nodes_falsenodeids", nodeAttrs.falseIds),
    ints("nodes_missing_value_tracks_true", nodeAttrs.tracksTrue),
  ];
  const nFeat = model.featureNames.length;
  const ensembleInput = dbl ? "features_f64" : "features";
  const cast = {
    input: ["features"],
    output: ["features_f64"],
    name: "Cast",
    opType: "Cast",
    domain: "",
    attribute: [int("to", DataType.DOUBLE)],
  };
  let node;
  let outputs: ValueInfoJson[];
  if (classifier) {
    const nClass = obj.name === "multiclass" ? obj.numClass : 2;
    node = {
      input: [ensembleInput],
      output: ["label", "probabilities"],
      name: "TreeEnsembleClassifier",
      opType: "TreeEnsembleClassifier",
      domain: "ai.onnx.ml",
      attribute: [
        ...common,
        ints("classlabels_int64s", Array.from({ length: nClass }, (_, i) => i)),
        ints("class_treeids", tgt.treeIds),
        ints("class_nodeids", tgt.nodeIds),
        ints("class_ids", tgt.ids),
        dbl ? doubles("class_weights_as_tensor", tgt.w) : floats("class_weights", tgt.w),
        str("post_transform", obj.name === "binary" ? "LOGISTIC" : "SOFTMAX"),
      ],
    };
    outputs = [
      tensorInfo("label", DataType.INT64, ["N"]),
      tensorInfo("probabilities", DataType.FLOAT, ["N", nClass]),
    ];
  } else {
    node = {
      input: [ensembleInput],
      output: ["scores"],
      name: "TreeEnsembleRegressor",
      opType: "TreeEnsembleRegressor",
      domain: "ai.onnx.ml",
      attribute: [
        ...common,
        int("n_targets", k),
        ints("target_treeids", tgt.treeIds),
        ints("target_nodeids", tgt.nodeIds),
        ints("target_ids", tgt.ids),
        dbl ? doubles("target_weights_as_tensor", tgt.w) : floats("target_weights", tgt.w),
        str("post_transform", "NONE"),
        str("aggregate_function", "SUM"),
      ],
    };
    outputs = [tensorInfo("scores", DataType.FLOAT, ["N", k])];
  }
  const meta: Record<string, string> = {
    objective: JSON.stringify(obj),
    output_kind: kind,
    precision: dbl ? "double" : "float",
    feature_names: JSON.stringify(model.featureNames),
    ...opts.metadata,
  };
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }, { domain: "ai.onnx.ml", version: 3 }],
    producerName: "bitget-bot",
    producerVersion: opts.producerVersion ?? "",
    docString: `GBDT (${obj.name}, ${model.trees.length} trees) exported from LightGBM semantics`,
    graph: {
      name: "gbdt",
      node: dbl ? [cast, node] : [node],
      input: [tensorInfo("features", DataType.FLOAT, ["N", nFeat])],
      output: outputs,
    },
    metadataProps: Object.entries(meta).map(([key, value]) => ({ key, value })),
  });
}
