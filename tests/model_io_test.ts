/**
 * LightGBM text format (read/write against the real LightGBM 4.6 model in shared/lightgbm), the
 * number formatting, corrupt/truncated files, the numeric CSV loader and model bundles.
 */
import assert from "node:assert/strict";
import {
  featureImportance,
  formatG,
  ModelFormatError,
  parseLightGbmModel,
  writeLightGbmModel,
} from "../src/model/lightgbm_text.ts";
import { CsvFormatError, featureMatrix, parseNumericCsv } from "../src/model/csv.ts";
import { BundleError, readBundle, readBundleMeta, writeBundle } from "../src/model/bundle.ts";
import { type GbdtModel, leafIndex, predictRaw, transform } from "../src/model/tree.ts";
import { randomModel } from "../bench/scoring_bench.ts";

const SHARED = new URL("../../shared/lightgbm/", import.meta.url);
const modelText = Deno.readTextFileSync(new URL("binary_model.txt", SHARED));
const lines = (name: string) => Deno.readTextFileSync(new URL(name, SHARED)).trim().split("\n");

Deno.test("real LightGBM model: header, trees and parameters are read", () => {
  const m = parseLightGbmModel(modelText);
  assert.deepEqual(m.objective, { name: "binary", sigmoid: 1 });
  assert.equal(m.numTreePerIteration, 1);
  assert.equal(m.trees.length, 100);
  assert.equal(m.featureNames.length, 30);
  assert.equal(m.featureNames[29], "Column_29");
  assert.equal(m.featureInfos[6], "[0:10]");
  assert.equal(m.trees[0].shrinkage, 1); // boost_from_average tree
  assert.equal(m.trees[1].shrinkage, 0.05);
  assert.equal(m.trees[0].threshold[0], -0.019565954999999999);
  assert.equal(m.parameters?.learning_rate, "0.05");
  assert.equal(m.parameters?.monotone_constraints, "");
  // Split importance recomputed from the trees equals the file's feature_importances block.
  const split = featureImportance(m, "split");
  assert.equal(split[3], 760);
  assert.equal(split[2], 674);
  assert.equal(split[23], 1);
});

Deno.test("real LightGBM model: TS tree walk reproduces LightGBM raw scores and probabilities", () => {
  const m = parseLightGbmModel(modelText);
  const rows = lines("binary_valid_2000.csv").map((l) => l.split(",").slice(1).map(Number));
  const raw = lines("binary_pred_raw_2000.txt").map(Number);
  const prob = lines("binary_pred_prob_2000.txt").map(Number);
  assert.equal(rows.length, 2000);
  let maxRaw = 0, maxProb = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = predictRaw(m, rows[i]);
    maxRaw = Math.max(maxRaw, Math.abs(r[0] - raw[i]));
    maxProb = Math.max(maxProb, Math.abs(transform(m, r)[0] - prob[i]));
  }
  assert.ok(maxRaw < 1e-12, `raw max error ${maxRaw}`);
  assert.ok(maxProb < 1e-12, `prob max error ${maxProb}`);
});

Deno.test("writer reproduces the real LightGBM file byte for byte (tree_sizes, numbers, trailer)", () => {
  const m = parseLightGbmModel(modelText);
  assert.equal(writeLightGbmModel(m, { pandasCategorical: false }), modelText);
  const withPandas = writeLightGbmModel(m);
  assert.ok(withPandas.endsWith("end of parameters\n\npandas_categorical:null\n"));
  const again = parseLightGbmModel(withPandas);
  assert.deepEqual(again, m);
  assert.equal(writeLightGbmModel(again), withPandas);
});

function handModels(): GbdtModel[] {
  const multi = randomModel(3, {
    iterations: 4,
    objective: { name: "multiclass", numClass: 3 },
    numLeaves: 7,
    numFeatures: 5,
    decisionTypes: [0, 2, 8, 10, 4, 6],
  });
  const reg = randomModel(4, {
    iterations: 5,
    objective: { name: "regression" },
    numLeaves: 15,
    numFeatures: 4,
  });
  // A single-leaf tree among normal ones (LightGBM writes these when no split has gain).
  reg.trees[2] = {
    numLeaves: 1,
    splitFeature: [],
    splitGain: [],
    threshold: [],
    decisionType: [],
    leftChild: [],
    rightChild: [],
    leafValue: [0.125],
    leafWeight: [0],
    leafCount: [0],
    internalValue: [],
    internalWeight: [],
    internalCount: [],
    shrinkage: 0.1,
  };
  const bin = randomModel(5, {
    iterations: 3,
    objective: { name: "binary", sigmoid: 0.7 },
    numLeaves: 4,
    numFeatures: 3,
  });
  return [multi, reg, bin];
}

Deno.test("write → read round trip is identical for multiclass, regression (single-leaf tree), binary", () => {
  for (const m of handModels()) {
    const text = writeLightGbmModel(m);
    const back = parseLightGbmModel(text);
    assert.equal(writeLightGbmModel(back), text, `${m.objective.name}: text differs`);
    // Thresholds and leaf values survive exactly (17 significant digits round-trip a double).
    back.trees.forEach((t, i) => {
      assert.deepEqual(t.threshold, m.trees[i].threshold);
      assert.deepEqual(t.leafValue, m.trees[i].leafValue);
      assert.deepEqual(t.decisionType, m.trees[i].decisionType);
    });
    assert.deepEqual(back.objective, m.objective);
    const row = [0.3, -1.2, NaN, 0, 2].slice(0, m.featureNames.length);
    assert.deepEqual(predictRaw(back, row), predictRaw(m, row));
  }
  const reg = handModels()[1];
  const text = writeLightGbmModel(reg);
  assert.match(text, /Tree=2\nnum_leaves=1\nnum_cat=0\nsplit_feature=\nsplit_gain=\nthreshold=\n/);
  assert.equal(leafIndex(parseLightGbmModel(text).trees[2], [1, 2, 3, 4]), 0);
  // LightGBM re-saves a loaded single-leaf tree with an empty leaf_weight; that reads back too.
  const resaved = text.replace(/(Tree=2\n(?:.*\n)*?leaf_weight=)0\n/, "$1\n");
  assert.notEqual(resaved, text);
  assert.deepEqual(parseLightGbmModel(resaved.replace(/tree_sizes=.*\n/, "")).trees[2].leafWeight, [
    0,
  ]);
  assert.match(text, /objective=regression\n/);
  assert.match(writeLightGbmModel(handModels()[2]), /objective=binary sigmoid:0.7\n/);
  assert.match(writeLightGbmModel(handModels()[0]), /num_class=3\nnum_tree_per_iteration=3\n/);
});

Deno.test("formatG matches C printf %g (half-to-even on exact ties, exponent form, inf/nan)", () => {
  const cases: [number, number, string][] = [
    [1234.125, 6, "1234.12"], // exact tie → even
    [1234.375, 6, "1234.38"], // exact tie → even (up)
    [2.5, 1, "2"],
    [3.5, 1, "4"],
    [0.05, 17, "0.050000000000000003"],
    [-0.019565954999999999, 17, "-0.019565954999999999"],
    [1e-7, 6, "1e-07"],
    [0.0001, 6, "0.0001"],
    [0.00001, 6, "1e-05"],
    [123456, 6, "123456"],
    [1234567, 6, "1.23457e+06"],
    [999999.5, 6, "1e+06"],
    [100, 17, "100"],
    [1e300, 17, "1.0000000000000001e+300"],
    [5e-324, 17, "4.9406564584124654e-324"],
    [-4.84947e-07, 6, "-4.84947e-07"],
    [0, 17, "0"],
    [-0, 6, "-0"],
    [Infinity, 17, "inf"],
    [-Infinity, 6, "-inf"],
    [NaN, 6, "nan"],
  ];
  for (const [x, p, want] of cases) assert.equal(formatG(x, p), want, `${x} %.${p}g`);
});

function expectFormatError(text: string, match: RegExp, line?: number) {
  assert.throws(() => parseLightGbmModel(text), (e: unknown) => {
    assert.ok(e instanceof ModelFormatError, `expected ModelFormatError, got ${e}`);
    assert.match(e.message, match);
    if (line !== undefined) assert.equal(e.line, line, e.message);
    return true;
  });
}

Deno.test("truncated model files fail with ModelFormatError", () => {
  for (const frac of [0, 0.001, 0.01, 0.2, 0.5, 0.8, 0.95]) {
    const cut = modelText.slice(0, Math.floor(modelText.length * frac));
    assert.throws(() => parseLightGbmModel(cut), ModelFormatError, `cut at ${frac}`);
  }
  // Every cut before the trees end or inside the parameters block is detected (a file cut between
  // "end of trees" and "parameters:" still holds the whole model, as LightGBM also accepts).
  const endTrees = modelText.indexOf("end of trees");
  const params = modelText.indexOf("parameters:");
  for (let k = 1; k < 80; k++) {
    const at = Math.floor((modelText.length * k) / 80) - (k % 7);
    if (at > endTrees + 12 && at <= params + 11) continue;
    assert.throws(
      () => parseLightGbmModel(modelText.slice(0, at)),
      ModelFormatError,
      `cut at byte ${at}`,
    );
  }
  expectFormatError(modelText.slice(0, endTrees), /end of trees" not found/);
  expectFormatError(
    modelText.slice(0, modelText.indexOf("[num_gpu")),
    /end of parameters" not found/,
  );
  // Cut inside the last line of a tree block.
  const t5 = modelText.indexOf("Tree=5\n");
  expectFormatError(modelText.slice(0, modelText.indexOf("shrinkage", t5) + 5), /truncated/);
});

Deno.test("corrupt model files name the line and field", () => {
  const ls = modelText.split("\n");
  const lineOf = (prefix: string, from = 0) =>
    ls.findIndex((l, i) => i >= from && l.startsWith(prefix));
  const edit = (idx: number, f: (l: string) => string) =>
    ls.map((l, i) => (i === idx ? f(l) : l)).join("\n");

  const thr = lineOf("threshold=");
  const e1 = edit(thr, (l) => l.replace("-0.34461214999999995", "-0.3446x"));
  expectFormatError(e1, /field "threshold".*"-0.3446x" is not a number/, thr + 1);

  const lv = lineOf("leaf_value=");
  expectFormatError(
    edit(lv, (l) => l.replace(/ \S+$/, "")),
    /field "leaf_value".*expected 31 values, found 30/,
    lv + 1,
  );

  const tree3 = lineOf("Tree=3");
  const sf = lineOf("split_feature=", tree3);
  expectFormatError(edit(sf, (l) => l.replace("=", "=30 ").replace(/ \S+$/, "")), /out of range/);

  const lc = lineOf("left_child=", tree3);
  expectFormatError(edit(lc, (l) => l.replace(/=\S+/, "=7")), /left_child\/right_child/);

  expectFormatError(
    edit(lineOf("num_cat=", tree3), () => "num_cat=1"),
    /categorical splits are not supported/,
  );
  expectFormatError(
    edit(lineOf("decision_type=", tree3), (l) => l.replace("=2", "=3")),
    /categorical/,
  );
  expectFormatError(edit(lineOf("is_linear=", tree3), () => "is_linear=1"), /linear trees/);
  expectFormatError(edit(0, () => "treee"), /first line must be "tree"/, 1);
  expectFormatError(edit(lineOf("objective="), () => "objective=lambdarank"), /not supported/);
  expectFormatError(edit(lineOf("version="), () => "version=v9"), /unsupported version/);
  expectFormatError(
    edit(lineOf("tree_sizes="), (l) => l.replace("3479", "3480")),
    /Tree=1 block is 3479 bytes/,
  );
  expectFormatError(edit(lineOf("Tree=7"), () => "Tree=8"), /expected Tree=7/);
  expectFormatError(
    edit(lineOf("feature_names="), (l) => l.replace(" Column_29", "")),
    /feature_names/,
  );
  expectFormatError(
    ls.filter((l) => !l.startsWith("max_feature_idx=")).join("\n"),
    /max_feature_idx/,
  );
  // An extra byte inside a tree (hand edit) breaks the tree_sizes offsets LightGBM relies on.
  expectFormatError(edit(lineOf("shrinkage=", tree3), () => "shrinkage=0.050"), /Tree=3 block/);
});

Deno.test("numeric CSV: header detection, missing values, errors with line and column", () => {
  const a = parseNumericCsv("1,2.5,-3e2\n4,,nan\n\n5,inf,NA\n");
  assert.equal(a.header, undefined);
  assert.equal(a.rows, 3);
  assert.equal(a.cols, 3);
  assert.deepEqual(Array.from(a.data.subarray(0, 3)), [1, 2.5, -300]);
  assert.ok(Number.isNaN(a.data[4]) && Number.isNaN(a.data[5]) && Number.isNaN(a.data[8]));
  assert.equal(a.data[7], Infinity);

  const h = parseNumericCsv("label,f0,f1\r\n1,0.5,0.25\r\n0,1,2\r\n");
  assert.deepEqual(h.header, ["label", "f0", "f1"]);
  assert.equal(h.rows, 2);
  const { x, labels } = featureMatrix(h, 2, true);
  assert.deepEqual(Array.from(x), [0.5, 0.25, 1, 2]);
  assert.deepEqual(Array.from(labels!), [1, 0]);
  assert.throws(
    () => featureMatrix(h, 3, true),
    /3 columns, the model needs 3 features \+ the label/,
  );

  const t = parseNumericCsv("1\t2\n3\t4\n");
  assert.equal(t.cols, 2);

  assert.throws(() => parseNumericCsv("1,2,3\n4,abc,6\n", { source: "x.csv" }), (e: unknown) => {
    assert.ok(e instanceof CsvFormatError);
    assert.equal(e.line, 2);
    assert.equal(e.column, 2);
    assert.match(e.message, /^x\.csv: line 2, column 2: "abc" is not a number/);
    return true;
  });
  assert.throws(() => parseNumericCsv("1,2\n3\n"), /line 2: expected 2 fields, found 1/);
  assert.throws(() => parseNumericCsv("\n\n"), /no data rows/);
  assert.throws(() => parseNumericCsv("a,b\n"), /no data rows/);
});

Deno.test("bundle: write, read with hash check, tampering and bad metadata refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const m = parseLightGbmModel(modelText);
    const res = await writeBundle(`${dir}/m/bin`, m, {
      classes: ["down", "up"],
      label: { definition: "mid return over 60 s > 0", horizonMs: 60_000 },
      thresholds: { long: 0.6 },
      validationMetrics: { auc: 0.839529, binary_logloss: 0.504294 },
      createdAt: new Date(Date.UTC(2025, 0, 2)),
    });
    assert.ok(res.rawOnnx?.endsWith("bin.raw.onnx"));
    const meta = await readBundleMeta(`${dir}/m/bin.json`);
    assert.deepEqual(meta.featureNames, m.featureNames);
    assert.equal(meta.createdAt, "2025-01-02T00:00:00.000Z");
    assert.equal(meta.outputWidth, 2);
    assert.equal(meta.trees, 100);
    assert.equal(meta.leaves, 3100);
    assert.equal(meta.featureImportance.find((f) => f.feature === "Column_3")?.split, 760);
    const { onnx } = await readBundle(`${dir}/m/bin`);
    assert.equal(onnx.length > 1000, true);
    await readBundle(`${dir}/m/bin.onnx`, "raw");

    // Flip one byte of the ONNX file: the hash check refuses it.
    const bytes = await Deno.readFile(res.onnx);
    bytes[bytes.length - 10] ^= 1;
    await Deno.writeFile(res.onnx, bytes);
    await assert.rejects(readBundle(`${dir}/m/bin`), (e: unknown) => {
      assert.ok(e instanceof BundleError);
      assert.match(e.message, /SHA-256 .* does not match/);
      return true;
    });

    const j = JSON.parse(await Deno.readTextFile(res.json));
    j.featureNames = "Column_0";
    await Deno.writeTextFile(res.json, JSON.stringify(j));
    await assert.rejects(readBundleMeta(res.json), /featureNames: Expected array/);
    await Deno.writeTextFile(res.json, "{");
    await assert.rejects(readBundleMeta(res.json), /not valid JSON/);
    await assert.rejects(readBundleMeta(`${dir}/nope`), /cannot read bundle metadata/);
    await assert.rejects(
      writeBundle(`${dir}/bad`, m, { classes: ["a", "b", "c"] }),
      /classes has 3 names/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
