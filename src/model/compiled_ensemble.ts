/**
 * A TreeEnsemble ONNX graph (as model/onnx_export.ts writes it) scored in JavaScript: the trees
 * are flattened into typed arrays and walked by one small loop, so a row is scored in a few
 * microseconds, synchronously, with none of onnxruntime-web's per-call cost (tensor creation,
 * WASM heap copies, the async run). It reproduces onnxruntime's arithmetic bit for bit
 * (onnxruntime/core/providers/cpu/ml/tree_ensemble_common.h, tree_ensemble_aggregator.h and
 * ml_common.h):
 *  - BRANCH_LEQ / BRANCH_LT on the input converted to the ensemble's type (float32 values are exact
 *    in double); NaN goes to the true child only where `nodes_missing_value_tracks_true` says so
 *    (a comparison with NaN is false);
 *  - leaf weights summed per target in tree order, in double (`*_as_tensor` attributes) or in
 *    float32 (classic attributes, every sum rounded with Math.fround);
 *  - post_transform NONE as is; SOFTMAX and LOGISTIC on the sums cast to float32, in float32,
 *    with the C library's expf (model/expf.ts);
 *  - the output rounded to float32.
 * Any other graph shape returns null (with the reason) and stays on onnxruntime.
 *
 * Exactness is a claim to keep checking, not to trust: model/scorer.ts compares the compiled
 * scores with onnxruntime's on probe rows at load and keeps auditing a share of the rows.
 */
import { expf } from "./expf.ts";
import { type AttributeJson, AttrType, decodeModel } from "./onnx_proto.ts";

/** A compiled ensemble: `width` outputs per row over `numFeatures` float32 inputs. */
export interface CompiledEnsemble {
  readonly numFeatures: number;
  readonly width: number;
  /** The graph output it reproduces (`probabilities` or `scores`). */
  readonly outputName: string;
  /** Per input feature, the thresholds its branch nodes compare with (x ≤ t form). */
  readonly thresholds: readonly (readonly number[])[];
  /** Scores row `r` of `rows` (row-major, numFeatures values each) into `out[o … o + width)`. */
  scoreRow(rows: Float32Array, r: number, out: Float32Array, o: number): void;
}

const td = new TextDecoder();

function attrMap(attrs: AttributeJson[]): Map<string, AttributeJson> {
  return new Map(attrs.map((a) => [a.name, a]));
}

/** The numbers of a FLOATS, INTS or (double) TENSOR attribute; null when absent. */
function nums(a: AttributeJson | undefined): number[] | null {
  if (!a) return null;
  if (a.type === AttrType.TENSOR) return a.t?.doubleData?.map(Number) ?? null;
  if (a.type === AttrType.FLOATS) return a.floats ?? null;
  if (a.type === AttrType.INTS) return a.ints?.map(Number) ?? null;
  return null;
}

const nd64 = new Float64Array(1);
const nd64u = new BigInt64Array(nd64.buffer);

/** The largest double below `t` (t finite or +Infinity). */
function nextDown(t: number): number {
  if (t === 0) return -Number.MIN_VALUE;
  nd64[0] = t;
  nd64u[0] += t > 0 ? -1n : 1n;
  return nd64[0];
}

/**
 * What a compiled ensemble is made of: flat typed arrays and flags, no functions, so it crosses a
 * thread boundary by structured clone (the training worker plans the retrained model's ensemble
 * off the main thread; {@link ensembleFromPlan} rebuilds the scorer in microseconds).
 */
export interface EnsemblePlan {
  numFeatures: number;
  width: number;
  outputName: string;
  thresholds: number[][];
  dbl: boolean;
  softmax: boolean;
  logistic: boolean;
  oneWeight: boolean;
  roots: Int32Array;
  link: Int32Array;
  thr: Float64Array;
  nanTrue: Uint8Array;
  lStart: Int32Array;
  lCls: Int32Array;
  lW: Float64Array;
  treeCls: Int32Array;
  leafVal: Float64Array;
}

/**
 * Compiles the ensemble of an ONNX model, or returns null (with no error) when the graph is not
 * one this module reproduces exactly (see module doc).
 */
export function compileEnsemble(
  onnx: Uint8Array,
  refused: (reason: string) => void = () => {},
): CompiledEnsemble | null {
  const plan = planEnsemble(onnx, refused);
  return plan ? ensembleFromPlan(plan) : null;
}

/** The parse-and-check half of {@link compileEnsemble} (same refusals); null when refused. */
export function planEnsemble(
  onnx: Uint8Array,
  refused: (reason: string) => void = () => {},
): EnsemblePlan | null {
  const no = (reason: string) => {
    refused(reason);
    return null;
  };
  const m = decodeModel(onnx);
  const nodes = m.graph?.node ?? [];
  const ens = nodes.find((n) =>
    n.opType === "TreeEnsembleClassifier" || n.opType === "TreeEnsembleRegressor"
  );
  if (!ens || ens.domain !== "ai.onnx.ml") return no("no ai.onnx.ml TreeEnsemble node");
  const others = nodes.filter((n) => n !== ens);
  // Only the exporter's layouts: the ensemble alone, or Cast(features → double) → ensemble.
  if (others.length > 1 || (others.length === 1 && others[0].opType !== "Cast")) {
    return no(`graph has other nodes: ${others.map((n) => n.opType).join(", ")}`);
  }
  const input = m.graph?.input?.[0];
  const dims = input?.type?.tensorType?.shape?.dim ?? [];
  const d1 = dims[1];
  const numFeatures = d1 && "dimValue" in d1 ? Number(d1.dimValue) : NaN;
  if (!(numFeatures > 0)) return no("input width unknown");
  const a = attrMap(ens.attribute ?? []);
  const classifier = ens.opType === "TreeEnsembleClassifier";
  const post = td.decode(a.get("post_transform")?.s ?? new Uint8Array());
  if (classifier ? post !== "SOFTMAX" && post !== "LOGISTIC" : !(post === "" || post === "NONE")) {
    return no(`post_transform ${post} is not reproduced exactly`);
  }
  const agg = td.decode(a.get("aggregate_function")?.s ?? new TextEncoder().encode("SUM"));
  if (agg !== "SUM") return no(`aggregate_function ${agg}`);
  if (a.has("base_values") || a.has("base_values_as_tensor")) return no("base_values");
  const dbl = a.has("nodes_values_as_tensor");
  const pre = classifier ? "class_" : "target_";
  const values = nums(a.get(dbl ? "nodes_values_as_tensor" : "nodes_values"));
  const treeIds = nums(a.get("nodes_treeids"));
  const nodeIds = nums(a.get("nodes_nodeids"));
  const featureIds = nums(a.get("nodes_featureids"));
  const trueIds = nums(a.get("nodes_truenodeids"));
  const falseIds = nums(a.get("nodes_falsenodeids"));
  const tracks = nums(a.get("nodes_missing_value_tracks_true")) ?? [];
  const modes = (a.get("nodes_modes")?.strings ?? []).map((s) => td.decode(s));
  const wTree = nums(a.get(pre + "treeids"));
  const wNode = nums(a.get(pre + "nodeids"));
  const wId = nums(a.get(pre + "ids"));
  const wVal = nums(a.get(pre + (dbl ? "weights_as_tensor" : "weights")));
  if (
    !values || !treeIds || !nodeIds || !featureIds || !trueIds || !falseIds || !wTree || !wNode ||
    !wId || !wVal
  ) return no("missing node or weight attributes");
  const width = classifier
    ? (nums(a.get("classlabels_int64s"))?.length ?? 0)
    : Number(a.get("n_targets")?.i ?? 1);
  if (!(width >= 1) || (classifier && width < 2)) return no(`output width ${width}`);

  // Trees: attribute index by (tree, node id).
  const byTree = new Map<number, Map<number, number>>();
  for (let i = 0; i < treeIds.length; i++) {
    let t = byTree.get(treeIds[i]);
    if (!t) byTree.set(treeIds[i], t = new Map());
    t.set(nodeIds[i], i);
  }
  // Flat arrays, one slot per branch node: a child index ≥ 0 is a branch, ~k the k-th leaf.
  const treeOrder = [...byTree.keys()].sort((x, y) => x - y);
  const nBranch = modes.filter((m) => m !== "LEAF").length;
  // Per branch j: link[3j] = feature, link[3j+1] = true child, link[3j+2] = false child.
  const link = new Int32Array(3 * nBranch);
  // thr[j]: the node goes to its true child ⇔ x ≤ thr[j] (BRANCH_LT t is stored as the largest
  // double below t: for doubles, x < t ⇔ x ≤ nextDown(t), exactly).
  const thr = new Float64Array(nBranch);
  const nanTrue = new Uint8Array(nBranch);
  const roots = new Int32Array(treeOrder.length);
  const leafStart: number[] = [];
  const leafCls: number[] = [];
  const leafW: number[] = [];
  const weightsOf = new Map<string, [number, number][]>();
  for (let i = 0; i < wTree.length; i++) {
    const key = `${wTree[i]}:${wNode[i]}`;
    let l = weightsOf.get(key);
    if (!l) weightsOf.set(key, l = []);
    l.push([wId[i], dbl ? wVal[i] : Math.fround(wVal[i])]);
  }
  let nextBranch = 0;
  try {
    treeOrder.forEach((tid, ti) => {
      const t = byTree.get(tid)!;
      const place = (id: number, depth: number): number => {
        if (depth > 4096) throw new RangeError("tree too deep");
        const i = t.get(id);
        if (i === undefined) throw new RangeError(`tree ${tid}: no node ${id}`);
        if (modes[i] === "LEAF") {
          const k = leafStart.length;
          leafStart.push(leafCls.length);
          for (const [c, w] of weightsOf.get(`${tid}:${id}`) ?? []) {
            if (!(c >= 0 && c < width)) throw new RangeError(`weight for target ${c}`);
            leafCls.push(c);
            leafW.push(w);
          }
          return ~k;
        }
        if (modes[i] !== "BRANCH_LEQ" && modes[i] !== "BRANCH_LT") {
          throw new RangeError(`mode ${modes[i]}`);
        }
        const j = nextBranch++;
        const f = featureIds[i];
        if (!(f >= 0 && f < numFeatures)) throw new RangeError(`feature ${f}`);
        const t0 = dbl ? values[i] : Math.fround(values[i]);
        thr[j] = modes[i] === "BRANCH_LT" ? nextDown(t0) : t0;
        nanTrue[j] = tracks[i] === 1 ? 1 : 0;
        link[3 * j] = f;
        link[3 * j + 1] = place(trueIds[i], depth + 1);
        link[3 * j + 2] = place(falseIds[i], depth + 1);
        return j;
      };
      roots[ti] = place(0, 0);
    });
  } catch (e) {
    return no((e as Error).message);
  }
  leafStart.push(leafCls.length);
  const lStart = Int32Array.from(leafStart);
  const lCls = Int32Array.from(leafCls);
  const lW = Float64Array.from(leafW);
  const softmax = classifier && post === "SOFTMAX";
  const logistic = classifier && post === "LOGISTIC";
  const nTrees = roots.length;
  // LightGBM's trees each add one value to one target (multiclass: tree i → class i mod K). Where
  // every leaf of every tree holds exactly one weight, for its tree's target, a leaf is read as
  // one value with the target per tree: no per-leaf weight list (a quarter of the row's time).
  const treeCls = new Int32Array(nTrees).fill(-1);
  let oneWeight = true;
  for (let t = 0; t < nTrees && oneWeight; t++) {
    const stack = [roots[t]];
    while (stack.length && oneWeight) {
      const n = stack.pop()!;
      if (n >= 0) {
        stack.push(link[3 * n + 1], link[3 * n + 2]);
        continue;
      }
      const k = ~n;
      if (lStart[k + 1] - lStart[k] !== 1) oneWeight = false;
      else if (treeCls[t] === -1) treeCls[t] = lCls[lStart[k]];
      else if (treeCls[t] !== lCls[lStart[k]]) oneWeight = false;
    }
  }
  const leafVal = new Float64Array(leafStart.length - 1);
  if (oneWeight) { for (let k = 0; k < leafVal.length; k++) leafVal[k] = lW[lStart[k]]; }
  const thresholds: number[][] = Array.from({ length: numFeatures }, () => []);
  for (let j = 0; j < nBranch; j++) thresholds[link[3 * j]].push(thr[j]);
  return {
    numFeatures,
    width,
    outputName: classifier ? "probabilities" : "scores",
    thresholds,
    dbl,
    softmax,
    logistic,
    oneWeight,
    roots,
    link,
    thr,
    nanTrue,
    lStart,
    lCls,
    lW,
    treeCls,
    leafVal,
  };
}

/** The scorer of a plan ({@link planEnsemble}); no checks repeated. */
export function ensembleFromPlan(p: EnsemblePlan): CompiledEnsemble {
  const { numFeatures, width, dbl, softmax, logistic, oneWeight, roots, link, thr, nanTrue } = p;
  const { lStart, lCls, lW, treeCls, leafVal } = p;
  const nTrees = roots.length;
  const s = new Float64Array(width);
  return {
    numFeatures,
    width,
    outputName: p.outputName,
    thresholds: p.thresholds,
    scoreRow(rows, row, out, o) {
      s.fill(0);
      const off = row * numFeatures;
      for (let t = 0; t < nTrees; t++) {
        let n = roots[t];
        while (n >= 0) {
          const v = rows[off + link[3 * n]];
          // onnxruntime: true child when x ≤ t; NaN compares false, so it goes to the true
          // child only where the node tracks missing values to it.
          n = v <= thr[n] || (v !== v && nanTrue[n] === 1) ? link[3 * n + 1] : link[3 * n + 2];
        }
        const leaf = ~n;
        if (oneWeight) {
          const c = treeCls[t];
          s[c] = dbl ? s[c] + leafVal[leaf] : Math.fround(s[c] + leafVal[leaf]);
        } else if (dbl) {
          for (let k = lStart[leaf], e = lStart[leaf + 1]; k < e; k++) s[lCls[k]] += lW[k];
        } else {
          for (let k = lStart[leaf], e = lStart[leaf + 1]; k < e; k++) {
            s[lCls[k]] = Math.fround(s[lCls[k]] + lW[k]);
          }
        }
      }
      if (softmax) {
        // onnxruntime: the sums are cast to float32, then ComputeSoftmax runs in float32 with
        // expf (ml_common.h); every operation is rounded to float32 here in the same order.
        let max = -3.4028234663852886e38; // −FLT_MAX
        for (let c = 0; c < width; c++) {
          const v = Math.fround(s[c]);
          s[c] = v;
          if (v > max) max = v;
        }
        let sum = 0;
        for (let c = 0; c < width; c++) {
          s[c] = expf(Math.fround(s[c] - max));
          sum = Math.fround(sum + s[c]);
        }
        for (let c = 0; c < width; c++) out[o + c] = s[c] / sum;
      } else if (logistic) {
        // ComputeLogistic(float v) = 1 / (1 + expf(−|v|)), mirrored for v < 0 (ml_common.h).
        for (let c = 0; c < width; c++) {
          const v = Math.fround(s[c]);
          const e = Math.fround(1 / Math.fround(1 + expf(-Math.abs(v))));
          out[o + c] = v < 0 ? Math.fround(1 - e) : e;
        }
      } else {
        for (let c = 0; c < width; c++) out[o + c] = s[c];
      }
    },
  };
}
