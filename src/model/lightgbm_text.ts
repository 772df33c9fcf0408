/**
 * LightGBM v4 text model format: reader and writer for {@link GbdtModel}.
 *
 * Layout follows LightGBM 4.x `GBDT::SaveModelToString` (src/boosting/gbdt_model_text.cpp) and
 * `Tree::ToString` (src/io/tree.cpp): a header of `key=value` lines, `tree_sizes` (byte length of
 * every `Tree=i` block, which LightGBM's loader uses as offsets), the tree blocks, `end of trees`,
 * `feature_importances:`, the `parameters:` block and (as the Python package writes it)
 * `pandas_categorical:null`. Number formatting matches LightGBM exactly so that a parsed LightGBM
 * file is written back byte for byte: thresholds, leaf values and leaf weights as `{:.17g}`
 * (17 significant digits, which always round-trips a double), split gains and internal node
 * statistics as `{:g}` (6 significant digits), shrinkage through a default C++ stream (6 digits).
 *
 * Unsupported (rejected with {@link ModelFormatError}): categorical splits (`num_cat>0`), linear trees,
 * `average_output` (random forest) and objectives other than binary/multiclass/regression.
 */

import { type GbdtModel, MISSING_NAN, type Objective, type Tree } from "./tree.ts";

/** A LightGBM model file that is malformed, truncated or uses an unsupported feature. */
export class ModelFormatError extends Error {
  /**
   * @param detail what is wrong and what was expected
   * @param line 1-based line number in the model text, when known
   * @param field the header key / tree field concerned, when known
   */
  constructor(detail: string, readonly line?: number, readonly field?: string) {
    const where = [line !== undefined ? `line ${line}` : "", field ? `field "${field}"` : ""]
      .filter((s) => s).join(", ");
    super(`LightGBM model${where ? ` (${where})` : ""}: ${detail}`);
    this.name = "ModelFormatError";
  }
}

/** Options for {@link writeLightGbmModel}. */
export interface WriteOptions {
  /** Append `pandas_categorical:null` as the Python package does (default true; the CLI omits it). */
  pandasCategorical?: boolean;
}

const NON_ASCII = /[\u0080-\uffff]/;
const FLOAT_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INT_RE = /^[+-]?\d+$/;

function parseFloatToken(tok: string, line: number, field: string): number {
  if (FLOAT_RE.test(tok)) return Number(tok);
  const t = tok.toLowerCase();
  if (t === "inf" || t === "+inf" || t === "infinity") return Infinity;
  if (t === "-inf" || t === "-infinity") return -Infinity;
  if (t === "nan" || t === "-nan") return NaN;
  throw new ModelFormatError(`"${tok}" is not a number`, line, field);
}

function parseIntToken(tok: string, line: number, field: string): number {
  if (!INT_RE.test(tok)) throw new ModelFormatError(`"${tok}" is not an integer`, line, field);
  return Number(tok);
}

/** One `key=value` line with its 1-based line number. */
interface Entry {
  value: string;
  line: number;
}

function splitTokens(s: string): string[] {
  return s.trim() === "" ? [] : s.trim().split(/\s+/);
}

function numArray(e: Entry | undefined, n: number, field: string, int: boolean, blockLine: number) {
  if (!e) {
    throw new ModelFormatError(`missing (tree starting at line ${blockLine})`, blockLine, field);
  }
  const toks = splitTokens(e.value);
  if (toks.length !== n) {
    throw new ModelFormatError(`expected ${n} values, found ${toks.length}`, e.line, field);
  }
  return toks.map((t) => int ? parseIntToken(t, e.line, field) : parseFloatToken(t, e.line, field));
}

function optArray(e: Entry | undefined, n: number, field: string, int: boolean, line: number) {
  return e ? numArray(e, n, field, int, line) : new Array<number>(n).fill(0);
}

function parseObjective(e: Entry | undefined, numClass: number): Objective {
  if (!e) throw new ModelFormatError("missing objective", undefined, "objective");
  const [name, ...rest] = splitTokens(e.value);
  const params = new Map<string, string>();
  for (const r of rest) {
    const i = r.indexOf(":");
    params.set(i < 0 ? r : r.slice(0, i), i < 0 ? "" : r.slice(i + 1));
  }
  if (name === "binary") {
    const s = params.has("sigmoid")
      ? parseFloatToken(params.get("sigmoid")!, e.line, "objective")
      : 1;
    if (!(s > 0) || !Number.isFinite(s)) {
      throw new ModelFormatError(`sigmoid must be > 0, got ${s}`, e.line, "objective");
    }
    return { name: "binary", sigmoid: s };
  }
  if (name === "multiclass") {
    const k = parseIntToken(params.get("num_class") ?? "", e.line, "objective");
    if (k !== numClass || k < 2) {
      throw new ModelFormatError(`num_class:${k} does not match num_class=${numClass}`, e.line);
    }
    return { name: "multiclass", numClass: k };
  }
  if (name === "regression" && rest.length === 0) return { name: "regression" };
  throw new ModelFormatError(
    `objective "${e.value}" is not supported (expected binary, multiclass or regression)`,
    e.line,
    "objective",
  );
}

/** Checks that the child pointers form one tree reaching every node and leaf exactly once. */
function checkStructure(t: Tree, line: number): void {
  const seenNode = new Uint8Array(t.numLeaves - 1);
  const seenLeaf = new Uint8Array(t.numLeaves);
  const stack = [0];
  seenNode[0] = 1;
  while (stack.length) {
    const n = stack.pop()!;
    for (const c of [t.leftChild[n], t.rightChild[n]]) {
      if (c >= 0) {
        if (c >= t.numLeaves - 1 || seenNode[c]) {
          throw new ModelFormatError(
            `node ${n} has bad child ${c}`,
            line,
            "left_child/right_child",
          );
        }
        seenNode[c] = 1;
        stack.push(c);
      } else {
        const leaf = ~c;
        if (leaf >= t.numLeaves || seenLeaf[leaf]) {
          throw new ModelFormatError(
            `node ${n} has bad leaf child ${c}`,
            line,
            "left_child/right_child",
          );
        }
        seenLeaf[leaf] = 1;
      }
    }
  }
  if (seenNode.includes(0) || seenLeaf.includes(0)) {
    throw new ModelFormatError(
      "some nodes or leaves are unreachable",
      line,
      "left_child/right_child",
    );
  }
}

function parseTree(kv: Map<string, Entry>, blockLine: number, numFeatures: number): Tree {
  const get = (k: string) => kv.get(k);
  const nl = get("num_leaves");
  if (!nl) throw new ModelFormatError("missing", blockLine, "num_leaves");
  const numLeaves = parseIntToken(nl.value, nl.line, "num_leaves");
  if (numLeaves < 1) {
    throw new ModelFormatError(`must be ≥ 1, got ${numLeaves}`, nl.line, "num_leaves");
  }
  const nc = get("num_cat");
  if (!nc) throw new ModelFormatError("missing", blockLine, "num_cat");
  if (parseIntToken(nc.value, nc.line, "num_cat") !== 0) {
    throw new ModelFormatError("categorical splits are not supported", nc.line, "num_cat");
  }
  const lin = get("is_linear");
  if (lin && lin.value.trim() !== "0") {
    throw new ModelFormatError("linear trees are not supported", lin.line, "is_linear");
  }
  const ni = numLeaves - 1;
  const internal = (f: string, int: boolean) =>
    ni === 0 ? [] : numArray(get(f), ni, f, int, blockLine);
  const sh = get("shrinkage");
  const tree: Tree = {
    numLeaves,
    splitFeature: internal("split_feature", true),
    splitGain: optArray(get("split_gain"), ni, "split_gain", false, blockLine),
    threshold: internal("threshold", false),
    decisionType: ni === 0
      ? []
      : optArray(get("decision_type"), ni, "decision_type", true, blockLine),
    leftChild: internal("left_child", true),
    rightChild: internal("right_child", true),
    leafValue: numArray(get("leaf_value"), numLeaves, "leaf_value", false, blockLine),
    // LightGBM does not load leaf_weight of a single-leaf tree and re-saves it empty.
    leafWeight: numLeaves === 1 && get("leaf_weight")?.value.trim() === ""
      ? [0]
      : optArray(get("leaf_weight"), numLeaves, "leaf_weight", false, blockLine),
    leafCount: optArray(get("leaf_count"), numLeaves, "leaf_count", true, blockLine),
    internalValue: optArray(get("internal_value"), ni, "internal_value", false, blockLine),
    internalWeight: optArray(get("internal_weight"), ni, "internal_weight", false, blockLine),
    internalCount: optArray(get("internal_count"), ni, "internal_count", true, blockLine),
    shrinkage: sh ? parseFloatToken(sh.value.trim(), sh.line, "shrinkage") : 1,
  };
  for (let i = 0; i < ni; i++) {
    const f = tree.splitFeature[i];
    if (f < 0 || f >= numFeatures) {
      throw new ModelFormatError(
        `feature index ${f} out of range 0..${numFeatures - 1}`,
        get("split_feature")!.line,
        "split_feature",
      );
    }
    const dt = tree.decisionType[i];
    if (dt & 1) {
      throw new ModelFormatError(
        "categorical splits are not supported",
        blockLine,
        "decision_type",
      );
    }
    if (dt < 0 || dt > 15 || ((dt >> 2) & 3) > MISSING_NAN) {
      throw new ModelFormatError(`invalid decision_type ${dt}`, blockLine, "decision_type");
    }
    if (Number.isNaN(tree.threshold[i])) {
      throw new ModelFormatError(`threshold of node ${i} is NaN`, blockLine, "threshold");
    }
  }
  if (tree.leafValue.some((v) => !Number.isFinite(v))) {
    throw new ModelFormatError("leaf values must be finite", get("leaf_value")!.line, "leaf_value");
  }
  if (ni > 0) checkStructure(tree, blockLine);
  return tree;
}

/**
 * Parses a LightGBM text model (v3/v4 layout, as written by LightGBM ≥ 3.0 `save_model`).
 * Line endings may be `\n` or `\r\n`. Checks `tree_sizes` against the actual tree blocks.
 *
 * @throws ModelFormatError naming the line and field for malformed, truncated or unsupported files.
 */
export function parseLightGbmModel(text: string): GbdtModel {
  const lines = text.split("\n");
  // Byte offset of each line start (for the tree_sizes check); model text is normally ASCII.
  const enc = new TextEncoder();
  const offsets = new Array<number>(lines.length + 1);
  offsets[0] = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    offsets[i + 1] = offsets[i] + (NON_ASCII.test(l) ? enc.encode(l).length : l.length) + 1;
    if (l.endsWith("\r")) lines[i] = l.slice(0, -1);
  }
  if (lines[0] !== "tree") {
    throw new ModelFormatError(`first line must be "tree", got "${lines[0].slice(0, 40)}"`, 1);
  }
  const header = new Map<string, Entry>();
  let i = 1;
  for (; i < lines.length && !lines[i].startsWith("Tree="); i++) {
    const l = lines[i];
    if (l === "") continue;
    if (l === "end of trees") break;
    const eq = l.indexOf("=");
    if (eq < 0) {
      if (l === "average_output") {
        throw new ModelFormatError("average_output (random forest) is not supported", i + 1);
      }
      throw new ModelFormatError(`expected key=value, got "${l.slice(0, 60)}"`, i + 1);
    }
    header.set(l.slice(0, eq), { value: l.slice(eq + 1), line: i + 1 });
  }
  const req = (k: string): Entry => {
    const e = header.get(k);
    if (!e) throw new ModelFormatError("missing from the header", undefined, k);
    return e;
  };
  const ver = req("version").value;
  if (ver !== "v4" && ver !== "v3") {
    throw new ModelFormatError(
      `unsupported version "${ver}" (expected v4)`,
      req("version").line,
      "version",
    );
  }
  const intOf = (k: string) => parseIntToken(req(k).value, req(k).line, k);
  const numClass = intOf("num_class");
  intOf("label_index");
  const maxFeatureIdx = intOf("max_feature_idx");
  const numFeatures = maxFeatureIdx + 1;
  const objective = parseObjective(header.get("objective"), numClass);
  const k = objective.name === "multiclass" ? objective.numClass : 1;
  if (objective.name !== "multiclass" && numClass !== 1) {
    throw new ModelFormatError(
      `num_class=${numClass} with objective ${objective.name}`,
      req("num_class").line,
    );
  }
  const tpi = header.has("num_tree_per_iteration") ? intOf("num_tree_per_iteration") : numClass;
  if (tpi !== k) {
    throw new ModelFormatError(
      `expected ${k}, got ${tpi}`,
      req("num_tree_per_iteration").line,
      "num_tree_per_iteration",
    );
  }
  const featureNames = splitTokens(req("feature_names").value);
  if (featureNames.length !== numFeatures) {
    throw new ModelFormatError(
      `${featureNames.length} names for max_feature_idx=${maxFeatureIdx}`,
      req("feature_names").line,
      "feature_names",
    );
  }
  const featureInfos = splitTokens(req("feature_infos").value);
  if (featureInfos.length !== numFeatures) {
    throw new ModelFormatError(
      `${featureInfos.length} entries for ${numFeatures} features`,
      req("feature_infos").line,
      "feature_infos",
    );
  }

  // Tree blocks.
  const trees: Tree[] = [];
  const blockBytes: number[] = [];
  while (i < lines.length && lines[i].startsWith("Tree=")) {
    const start = i;
    const idx = lines[i].slice(5);
    if (idx !== String(trees.length)) {
      throw new ModelFormatError(`expected Tree=${trees.length}, got "${lines[i]}"`, i + 1);
    }
    const kv = new Map<string, Entry>();
    for (i++; i < lines.length && lines[i] !== ""; i++) {
      // A whole block ends with a blank line, so reaching the text after the last "\n" here means
      // the file was cut inside this tree.
      if (i === lines.length - 1) {
        throw new ModelFormatError("file ends inside a tree (truncated)", i + 1);
      }
      const eq = lines[i].indexOf("=");
      if (eq < 0) {
        throw new ModelFormatError(`expected key=value, got "${lines[i].slice(0, 60)}"`, i + 1);
      }
      kv.set(lines[i].slice(0, eq), { value: lines[i].slice(eq + 1), line: i + 1 });
    }
    if (i >= lines.length) throw new ModelFormatError("file ends inside a tree (truncated)", i);
    trees.push(parseTree(kv, start + 1, numFeatures));
    while (i < lines.length && lines[i] === "") i++;
    blockBytes.push(offsets[i] - offsets[start]);
  }
  if (i >= lines.length || lines[i] !== "end of trees") {
    throw new ModelFormatError(
      i >= lines.length
        ? `"end of trees" not found (truncated file?)`
        : `unexpected "${lines[i].slice(0, 60)}"`,
      Math.min(i + 1, lines.length),
    );
  }
  if (trees.length === 0 || trees.length % k !== 0) {
    throw new ModelFormatError(`${trees.length} trees is not a positive multiple of ${k}`, i + 1);
  }
  const ts = header.get("tree_sizes");
  if (ts) {
    const sizes = splitTokens(ts.value).map((t) => parseIntToken(t, ts.line, "tree_sizes"));
    if (sizes.length !== trees.length) {
      throw new ModelFormatError(
        `${sizes.length} sizes for ${trees.length} trees`,
        ts.line,
        "tree_sizes",
      );
    }
    sizes.forEach((s, j) => {
      if (s !== blockBytes[j]) {
        throw new ModelFormatError(
          `Tree=${j} block is ${blockBytes[j]} bytes, tree_sizes says ${s}`,
          ts.line,
          "tree_sizes",
        );
      }
    });
  }

  // Trailer: feature_importances (recomputed on write) and the parameters block.
  let parameters: Record<string, string> | undefined;
  for (i++; i < lines.length; i++) {
    if (lines[i] !== "parameters:") continue;
    parameters = {};
    const open = i + 1;
    for (i++; i < lines.length && lines[i] !== "end of parameters"; i++) {
      const m = /^\[([^:\]]+): ?(.*)\]$/.exec(lines[i]);
      if (m) parameters[m[1]] = m[2];
      else if (lines[i] !== "") {
        throw new ModelFormatError(`bad parameter line "${lines[i].slice(0, 60)}"`, i + 1);
      }
    }
    if (i >= lines.length) {
      throw new ModelFormatError(
        `"end of parameters" not found (truncated file?)`,
        open,
        "parameters",
      );
    }
    break;
  }
  return { objective, numTreePerIteration: k, featureNames, featureInfos, trees, parameters };
}

/**
 * Feature importance as LightGBM computes it (GBDT::FeatureImportance): `split` counts the splits
 * on each feature, `gain` sums their split gains; splits with gain ≤ 0 are not counted.
 * @returns one value per feature, in model feature order.
 */
export function featureImportance(model: GbdtModel, kind: "split" | "gain"): number[] {
  const out = new Array<number>(model.featureNames.length).fill(0);
  for (const t of model.trees) {
    for (let n = 0; n < t.numLeaves - 1; n++) {
      if (t.splitGain[n] > 0) out[t.splitFeature[n]] += kind === "split" ? 1 : t.splitGain[n];
    }
  }
  return out;
}

/**
 * Formats a double like C's `printf("%.{precision}g")` / fmt `{:.{precision}g}` (the formatting
 * LightGBM uses): `precision` significant digits, exact decimal expansion rounded half-to-even,
 * trailing zeros removed, exponent form when the exponent is < −4 or ≥ precision, `inf`/`nan`.
 */
export function formatG(x: number, precision: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  const p = Math.max(1, precision);
  const sign = x < 0 ? "-" : "";
  // Exact decimal digits of |x| = mant·2^e2 via BigInt (mant·5^−e2 / 10^−e2 when e2 < 0).
  F64[0] = Math.abs(x);
  const expBits = (U32[1] >>> 20) & 0x7ff;
  let mant = (BigInt(U32[1] & 0xfffff) << 32n) | BigInt(U32[0]);
  let e2 = -1074;
  if (expBits !== 0) {
    mant |= 1n << 52n;
    e2 = expBits - 1075;
  }
  let digits: string;
  let exp10: number; // decimal exponent of the leading digit
  if (e2 >= 0) {
    digits = (mant << BigInt(e2)).toString();
    exp10 = digits.length - 1;
  } else {
    digits = (mant * 5n ** BigInt(-e2)).toString();
    exp10 = digits.length - 1 + e2;
  }
  if (digits.length > p) {
    const rest = digits.slice(p);
    let head = digits.slice(0, p);
    const r0 = rest.charCodeAt(0) - 48;
    const tail = /[1-9]/.test(rest.slice(1));
    const up = r0 > 5 || (r0 === 5 && (tail || (head.charCodeAt(p - 1) - 48) % 2 === 1));
    if (up) {
      const inc = (BigInt(head) + 1n).toString();
      if (inc.length > p) exp10++;
      head = inc.slice(0, p);
    }
    digits = head;
  }
  digits = digits.replace(/0+$/, "") || "0";
  if (exp10 < -4 || exp10 >= p) {
    const frac = digits.slice(1);
    const e = Math.abs(exp10);
    return `${sign}${digits[0]}${frac ? "." + frac : ""}e${exp10 < 0 ? "-" : "+"}${
      e < 10 ? "0" : ""
    }${e}`;
  }
  if (exp10 < 0) return `${sign}0.${"0".repeat(-exp10 - 1)}${digits}`;
  const intPart = digits.slice(0, exp10 + 1).padEnd(exp10 + 1, "0");
  const frac = digits.slice(exp10 + 1);
  return `${sign}${intPart}${frac ? "." + frac : ""}`;
}

const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);

const hp = (a: number[]) => a.map((v) => formatG(v, 17)).join(" ");
const lp = (a: number[]) => a.map((v) => formatG(v, 6)).join(" ");
const ints = (a: number[]) => a.join(" ");

function treeToString(t: Tree): string {
  return `num_leaves=${t.numLeaves}\nnum_cat=0\nsplit_feature=${ints(t.splitFeature)}\n` +
    `split_gain=${lp(t.splitGain)}\nthreshold=${hp(t.threshold)}\n` +
    `decision_type=${ints(t.decisionType)}\nleft_child=${ints(t.leftChild)}\n` +
    `right_child=${ints(t.rightChild)}\nleaf_value=${hp(t.leafValue)}\n` +
    `leaf_weight=${hp(t.leafWeight)}\nleaf_count=${ints(t.leafCount)}\n` +
    `internal_value=${lp(t.internalValue)}\ninternal_weight=${lp(t.internalWeight)}\n` +
    `internal_count=${ints(t.internalCount)}\nis_linear=0\nshrinkage=${
      formatG(t.shrinkage, 6)
    }\n\n`;
}

function objectiveString(o: Objective): string {
  if (o.name === "binary") return `binary sigmoid:${formatG(o.sigmoid, 6)}`;
  if (o.name === "multiclass") return `multiclass num_class:${o.numClass}`;
  return "regression";
}

/**
 * Serializes a model in LightGBM's v4 text layout (readable by LightGBM's `Booster(model_file=)` and
 * CLI `input_model=`). The `parameters:` block comes from `model.parameters`, or is a minimal one
 * derived from the model when absent. Feature importances are recomputed from the trees using
 * `saved_feature_importance_type` from the parameters (0 = split counts, 1 = gains; default 0).
 */
export function writeLightGbmModel(model: GbdtModel, opts: WriteOptions = {}): string {
  const o = model.objective;
  const numClass = o.name === "multiclass" ? o.numClass : 1;
  const blocks = model.trees.map((t, i) => `Tree=${i}\n${treeToString(t)}\n`);
  const enc = new TextEncoder();
  const sizes = blocks.map((b) => NON_ASCII.test(b) ? enc.encode(b).length : b.length);
  let s =
    `tree\nversion=v4\nnum_class=${numClass}\nnum_tree_per_iteration=${model.numTreePerIteration}\n` +
    `label_index=0\nmax_feature_idx=${model.featureNames.length - 1}\nobjective=${
      objectiveString(o)
    }\n` +
    `feature_names=${model.featureNames.join(" ")}\nfeature_infos=${
      model.featureInfos.join(" ")
    }\n` +
    `tree_sizes=${sizes.join(" ")}\n\n${blocks.join("")}end of trees\n`;
  const params = model.parameters ?? {
    boosting: "gbdt",
    objective: o.name,
    num_class: String(numClass),
    num_iterations: String(model.trees.length / model.numTreePerIteration),
    ...(o.name === "binary" ? { sigmoid: formatG(o.sigmoid, 6) } : {}),
  };
  const kind = params["saved_feature_importance_type"] === "1" ? "gain" : "split";
  const imp = featureImportance(model, kind)
    .map((v, f) => ({ v: Math.trunc(v), name: model.featureNames[f] }))
    .filter((p) => p.v > 0);
  // Stable sort by decreasing importance, as LightGBM's std::stable_sort.
  imp.sort((a, b) => b.v - a.v);
  s += `\nfeature_importances:\n${imp.map((p) => `${p.name}=${p.v}\n`).join("")}`;
  s += `\nparameters:\n${Object.entries(params).map(([k, v]) => `[${k}: ${v}]\n`).join("")}\n`;
  s += "end of parameters\n";
  if (opts.pandasCategorical ?? true) s += "\npandas_categorical:null\n";
  return s;
}
