/**
 * ONNX export scored by onnxruntime-web against LightGBM (the real model in shared/lightgbm) and
 * against the TypeScript tree walk: missing-value semantics, threshold edges, sigmoid scaling,
 * bundles through the Scorer, and the `model predict` CLI end to end.
 */
import assert from "node:assert/strict";
import { exportOnnx, float32AtOrBelow, type OnnxPrecision } from "../src/model/onnx_export.ts";
import { createSession, ort } from "../src/model/ort.ts";
import { parseLightGbmModel } from "../src/model/lightgbm_text.ts";
import { writeBundle } from "../src/model/bundle.ts";
import { BundleError } from "../src/model/bundle.ts";
import { checkFeatureNames, FeatureMismatchError, Scorer } from "../src/model/scorer.ts";
import {
  type GbdtModel,
  K_ZERO_THRESHOLD,
  predictRaw,
  transform,
  type Tree,
} from "../src/model/tree.ts";
import { randomModel } from "../bench/scoring_bench.ts";
import { probeRows } from "./helpers/model_probe.ts";

const SHARED = new URL("../../shared/lightgbm/", import.meta.url);
const read = (name: string) => Deno.readTextFileSync(new URL(name, SHARED));
const column = (name: string) => read(name).trim().split("\n").map(Number);
const PRECISIONS: OnnxPrecision[] = ["double", "float"];
const Z = K_ZERO_THRESHOLD;

/** Runs an exported model on n rows; returns the named output. */
async function runOnnx(
  model: GbdtModel,
  x: Float32Array,
  n: number,
  opts: { output?: "raw" | "transformed"; precision?: OnnxPrecision; fetch?: string } = {},
): Promise<ort.Tensor> {
  const session = await createSession(exportOnnx(model, opts));
  const f = model.featureNames.length;
  const name = opts.fetch ??
    (opts.output === "raw" || model.objective.name === "regression" ? "scores" : "probabilities");
  const out = await session.run({ features: new ort.Tensor("float32", x, [n, f]) }, [name]);
  await session.release();
  return out[name];
}

function validRows(): { x: Float32Array; n: number } {
  const rows = read("binary_valid_2000.csv").trim().split("\n");
  const x = new Float32Array(rows.length * 30);
  rows.forEach((l, i) => x.set(l.split(",").slice(1).map(Number), i * 30));
  return { x, n: rows.length };
}

Deno.test("real LightGBM model through ONNX/ORT reproduces LightGBM raw scores and probabilities within 1e-6", async () => {
  const m = parseLightGbmModel(read("binary_model.txt"));
  const raw = column("binary_pred_raw_2000.txt");
  const prob = column("binary_pred_prob_2000.txt");
  const { x, n } = validRows();
  assert.equal(n, 2000);
  for (const precision of PRECISIONS) {
    const r = (await runOnnx(m, x, n, { output: "raw", precision })).data as Float32Array;
    const p = (await runOnnx(m, x, n, { precision })).data as Float32Array;
    const l = (await runOnnx(m, x, n, { precision, fetch: "label" })).data as BigInt64Array;
    let eRaw = 0, eProb = 0;
    for (let i = 0; i < n; i++) {
      eRaw = Math.max(eRaw, Math.abs(r[i] - raw[i]));
      eProb = Math.max(eProb, Math.abs(p[2 * i + 1] - prob[i]), Math.abs(p[2 * i] - (1 - prob[i])));
      assert.equal(l[i], prob[i] > 0.5 ? 1n : 0n);
    }
    // Double precision sums like LightGBM (only the float32 output rounds); float32 sums drift
    // by ~1e-6 over 100 trees (documented in onnx_export.ts), probabilities stay within 1e-6.
    assert.ok(eRaw < (precision === "double" ? 1e-6 : 5e-6), `${precision} raw max error ${eRaw}`);
    assert.ok(eProb < 1e-6, `${precision} probability max error ${eProb}`);
  }
});

Deno.test("float32AtOrBelow: largest float32 not above the threshold", () => {
  const next32 = (f: number, dir: 1 | -1) => {
    const a = new Float32Array([f]);
    const i = new Int32Array(a.buffer);
    i[0] += (f >= 0 ? 1 : -1) * dir;
    return a[0];
  };
  for (
    const t of [0.1, -0.1, 1 / 3, -2.7182818, 1e-30, -1e-30, 123456.789, 0.5, -0.5, 0, 1e39, -1e39]
  ) {
    const f = float32AtOrBelow(t);
    assert.equal(Math.fround(f), f, `${t}: not a float32`);
    assert.ok(f <= t, `${t}: ${f} above`);
    if (Number.isFinite(f) && f !== 0) assert.ok(next32(f, 1) > t, `${t}: ${f} not the largest`);
  }
  assert.equal(float32AtOrBelow(0.5), 0.5);
  assert.equal(float32AtOrBelow(1e39), 3.4028234663852886e38);
  assert.equal(float32AtOrBelow(-1e39), -Infinity);
  assert.equal(float32AtOrBelow(-1e-46), -1.401298464324817e-45);
});

/** One split on feature 0 with threshold `thr`; leaves: left = 1, right = 2. */
function stump(thr: number, decisionType: number): GbdtModel {
  const t: Tree = {
    numLeaves: 2,
    splitFeature: [0],
    splitGain: [1],
    threshold: [thr],
    decisionType: [decisionType],
    leftChild: [-1],
    rightChild: [-2],
    leafValue: [1, 2],
    leafWeight: [1, 1],
    leafCount: [1, 1],
    internalValue: [0],
    internalWeight: [2],
    internalCount: [2],
    shrinkage: 1,
  };
  return {
    objective: { name: "regression" },
    numTreePerIteration: 1,
    featureNames: ["x"],
    featureInfos: ["none"],
    trees: [t],
  };
}

/**
 * LightGBM's prediction path written out independently: the input reader keeps only |v| > 1e-35f
 * (c_api.cpp), then NumericalDecision (tree.h). true = left.
 */
function lightgbmGoesLeft(v: number, thr: number, missing: number, defaultLeft: boolean): boolean {
  if (Math.abs(v) <= Z) v = 0;
  if (Number.isNaN(v) && missing !== 2) v = 0;
  if (missing === 1 && v >= -Z && v <= Z) return defaultLeft;
  if (missing === 2 && Number.isNaN(v)) return defaultLeft;
  return v <= thr;
}

Deno.test("missing values and thresholds: every decision type, at and around the threshold and zero", async () => {
  const thresholds = [0.1, -0.1, 0.5, 0, -Z, Z, Z / 2, -2 * Z, 2 * Z, 1.5, -1.5, 1e-36, -1e-36];
  for (const missing of [0, 1, 2]) {
    for (const defaultLeft of [false, true]) {
      for (const thr of thresholds) {
        const probe = [
          NaN,
          0,
          -0,
          1e-36,
          -1e-36,
          Z,
          -Z,
          2 * Z,
          -2 * Z,
          Infinity,
          -Infinity,
          0.5,
          -0.5,
          Math.fround(thr),
          float32AtOrBelow(thr),
          Math.fround(thr * (1 + 1e-7)),
          Math.fround(thr * (1 - 1e-7)),
        ];
        const x = Float32Array.from(probe);
        const m = stump(thr, (missing << 2) | (defaultLeft ? 2 : 0));
        for (const precision of PRECISIONS) {
          const y = (await runOnnx(m, x, x.length, { precision })).data as Float32Array;
          x.forEach((v, i) => {
            const want = lightgbmGoesLeft(v, thr, missing, defaultLeft) ? 1 : 2;
            const ctx =
              `missing=${missing} defaultLeft=${defaultLeft} thr=${thr} x=${v} ${precision}`;
            assert.equal(predictRaw(m, [v])[0], want, `TS walk: ${ctx}`);
            assert.equal(y[i], want, `ONNX: ${ctx}`);
          });
        }
      }
    }
  }
  // Spelled-out cases: value exactly at the threshold goes left; 0.1f is above 0.1 (double) → right.
  const at = (thr: number, v: number, p: OnnxPrecision) =>
    runOnnx(stump(thr, 0), Float32Array.of(v), 1, { precision: p }).then((t) => t.data[0]);
  for (const p of PRECISIONS) {
    assert.equal(await at(0.5, 0.5, p), 1);
    assert.equal(await at(0.1, Math.fround(0.1), p), 2);
    assert.equal(await at(0.1, float32AtOrBelow(0.1), p), 1);
  }
});

/** Thresholds mixing plain doubles, float32 values and the zero band edges. */
const edgyThreshold = (r: () => number) => {
  const u = r();
  if (u < 0.08) return 0;
  if (u < 0.14) return u < 0.11 ? Z : -Z;
  if (u < 0.2) return (r() - 0.5) * 4 * Z;
  if (u < 0.45) return Math.fround(r() * 4 - 2);
  return r() * 4 - 2;
};
const dyadicLeaf = (r: () => number) => Math.round(r() * 64 - 32) / 64; // float32 sums stay exact

Deno.test("hand-built multiclass and regression models: ONNX equals the TS walk (exact sums)", async () => {
  const types = [0, 2, 4, 6, 8, 10];
  const models = [
    randomModel(11, {
      iterations: 20,
      objective: { name: "multiclass", numClass: 3 },
      numLeaves: 15,
      numFeatures: 6,
      decisionTypes: types,
      threshold: edgyThreshold,
      leafValue: dyadicLeaf,
    }),
    randomModel(12, {
      iterations: 40,
      objective: { name: "regression" },
      numLeaves: 9,
      numFeatures: 4,
      decisionTypes: types,
      threshold: edgyThreshold,
      leafValue: dyadicLeaf,
    }),
  ];
  for (const m of models) {
    const n = 3000;
    const f = m.featureNames.length;
    const k = m.numTreePerIteration;
    const x = probeRows(m, n, 99);
    for (const precision of PRECISIONS) {
      const raw = (await runOnnx(m, x, n, { output: "raw", precision })).data as Float32Array;
      const out = (await runOnnx(m, x, n, { precision })).data as Float32Array;
      for (let i = 0; i < n; i++) {
        const row = x.subarray(i * f, i * f + f);
        const want = predictRaw(m, row);
        const prob = transform(m, want);
        for (let c = 0; c < k; c++) {
          assert.equal(
            raw[i * k + c],
            want[c],
            `${m.objective.name} ${precision} row ${i} class ${c}`,
          );
          assert.ok(
            Math.abs(out[i * k + c] - prob[c]) < 1e-6,
            `${m.objective.name} ${precision} output row ${i}`,
          );
        }
      }
    }
    if (k === 3) {
      const label = (await runOnnx(m, x, n, { fetch: "label" })).data as BigInt64Array;
      for (let i = 0; i < n; i++) {
        const r = predictRaw(m, x.subarray(i * f, i * f + f));
        const best = r.indexOf(Math.max(...r));
        if (r.filter((v) => v === r[best]).length === 1) assert.equal(Number(label[i]), best);
      }
    }
  }
});

Deno.test("binary sigmoid:k and all-positive leaf values give [1−p, p] with p = σ(k·raw)", async () => {
  for (
    const [sigmoid, leaf] of [[2, dyadicLeaf], [0.5, (r: () => number) => 0.25 + r()]] as const
  ) {
    const m = randomModel(21, {
      iterations: 6,
      objective: { name: "binary", sigmoid },
      numLeaves: 5,
      numFeatures: 3,
      leafValue: leaf,
    });
    const n = 500;
    const x = probeRows(m, n, 5);
    for (const precision of PRECISIONS) {
      const p = (await runOnnx(m, x, n, { precision })).data as Float32Array;
      for (let i = 0; i < n; i++) {
        const raw = predictRaw(m, x.subarray(i * 3, i * 3 + 3))[0];
        const want = 1 / (1 + Math.exp(-sigmoid * raw));
        assert.ok(
          Math.abs(p[2 * i + 1] - want) < 1e-6,
          `k=${sigmoid} ${precision} row ${i}: ${p[2 * i + 1]} vs ${want}`,
        );
        assert.ok(Math.abs(p[2 * i] - (1 - want)) < 1e-6);
      }
    }
  }
});

Deno.test("MISSING_ZERO splits whose default side is opposite to zero's side: repeated subtrees, bounded", async () => {
  // Chain of nodes, each with threshold 1 (zero would go left) and default right: every node needs
  // both subtrees repeated. A short chain exports and scores exactly; a long one is refused.
  const chain = (depth: number): GbdtModel => {
    const m = stump(1, 4);
    const t = m.trees[0];
    for (let d = 1; d < depth; d++) {
      t.splitFeature.push(0);
      t.splitGain.push(1);
      t.threshold.push(1 + d);
      t.decisionType.push(4);
      t.leftChild.push(t.leftChild[d - 1]);
      t.rightChild.push(-(d + 2));
      t.leftChild[d - 1] = d;
      t.leafValue.push(d + 2);
      t.internalValue.push(0);
      t.internalWeight.push(1);
      t.internalCount.push(1);
      t.leafWeight.push(1);
      t.leafCount.push(1);
    }
    t.numLeaves = depth + 1;
    return m;
  };
  const m = chain(6);
  const x = Float32Array.of(NaN, 0, 1e-36, -Z, 0.5, 1, 1.5, 2.5, 3, 4.5, 6, 7, -3, Infinity);
  for (const precision of PRECISIONS) {
    const y = (await runOnnx(m, x, x.length, { precision })).data as Float32Array;
    x.forEach((v, i) => assert.equal(y[i], predictRaw(m, [v])[0], `x=${v} ${precision}`));
  }
  assert.throws(() => exportOnnx(chain(20)), /needs more than 65536 nodes/);
});

Deno.test("Scorer: bundle load, scoreOne == scoreBatch, raw scorer, feature mismatch refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const m = parseLightGbmModel(read("binary_model.txt"));
    await writeBundle(`${dir}/bin`, m, { classes: ["down", "up"] });
    const { x } = validRows();
    const s = await Scorer.load(`${dir}/bin`, m.featureNames);
    assert.equal(s.width, 2);
    const batch = await s.scoreBatch(x, 50);
    for (let i = 0; i < 50; i += 7) {
      const one = await s.scoreOne(x.subarray(i * 30, i * 30 + 30));
      assert.deepEqual(Array.from(one), Array.from(batch.subarray(2 * i, 2 * i + 2)));
    }
    await assert.rejects(s.scoreBatch(x.subarray(0, 10), 1), RangeError);
    await s.release();
    const raw = await Scorer.load(`${dir}/bin.json`, m.featureNames, { raw: true });
    const r = await raw.scoreBatch(x, 3);
    const want = column("binary_pred_raw_2000.txt");
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(r[i] - want[i]) < 1e-6);
    await raw.release();

    const names = [...m.featureNames];
    [names[3], names[4]] = [names[4], names[3]];
    await assert.rejects(Scorer.load(`${dir}/bin`, names), (e: unknown) => {
      assert.ok(e instanceof FeatureMismatchError);
      assert.deepEqual(e.misordered.map((d) => d.name), ["Column_3", "Column_4"]);
      assert.match(
        e.message,
        /misordered: Column_3 \(model #3, given #4\), Column_4 \(model #4, given #3\)/,
      );
      return true;
    });
    assert.throws(() => checkFeatureNames(["a", "b", "c"], ["a", "c", "d"]), (e: unknown) => {
      assert.ok(e instanceof FeatureMismatchError);
      assert.deepEqual(e.missing, ["b"]);
      assert.deepEqual(e.extra, ["d"]);
      assert.match(e.message, /missing: b; extra: d; misordered: c \(model #2, given #1\)/);
      return true;
    });
    checkFeatureNames(["a", "b"], ["a", "b"]);
    await Deno.writeFile(`${dir}/bin.onnx`, new Uint8Array([1, 2, 3]));
    await assert.rejects(Scorer.load(`${dir}/bin`, m.featureNames), BundleError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const repo = new URL("..", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--allow-read=${repo},${new URL("../../shared", import.meta.url).pathname},/tmp`,
      "--allow-write=/tmp",
      "--allow-env=BITGET_*",
      `${repo}src/main.ts`,
      "model",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("model predict CLI end to end on the shared CSV (text model and imported bundle)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = new URL("binary_model.txt", SHARED).pathname;
    const csv = new URL("binary_valid_2000.csv", SHARED).pathname;
    const prob = column("binary_pred_prob_2000.txt");
    const raw = column("binary_pred_raw_2000.txt");

    const p = await cli(["predict", model, "--csv", csv, "--label-first"]);
    assert.equal(p.code, 0, p.stderr);
    const got = p.stdout.trim().split("\n").map(Number);
    assert.equal(got.length, 2000);
    got.forEach((v, i) => assert.ok(Math.abs(v - prob[i]) < 1e-6, `row ${i}: ${v} vs ${prob[i]}`));

    const imp = await cli(["import", model, "--out", `${dir}/bin`]);
    assert.equal(imp.code, 0, imp.stderr);
    const r = await cli([
      "predict",
      `${dir}/bin`,
      "--csv",
      csv,
      "--label-first",
      "--raw",
      "--out",
      `${dir}/raw.txt`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const gotRaw = (await Deno.readTextFile(`${dir}/raw.txt`)).trim().split("\n").map(Number);
    gotRaw.forEach((v, i) => assert.ok(Math.abs(v - raw[i]) < 1e-6, `raw row ${i}`));

    const ins = await cli(["inspect", `${dir}/bin.json`]);
    assert.equal(ins.code, 0, ins.stderr);
    assert.match(ins.stdout, /objective: +binary \(sigmoid:1\)/);
    assert.match(ins.stdout, /Column_3 +760/);

    // Bad input: a non-numeric token is reported with line and column, exit 1, no stack trace.
    const lines = (await Deno.readTextFile(csv)).split("\n");
    lines[4] = lines[4].replace(/,[^,]+/, ",oops");
    await Deno.writeTextFile(`${dir}/bad.csv`, lines.join("\n"));
    const bad = await cli(["predict", model, "--csv", `${dir}/bad.csv`, "--label-first"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /line 5, column 2: "oops" is not a number/);
    assert.doesNotMatch(bad.stderr, /at .*\.ts:\d+/);
    // Without --label-first the column count is wrong for the model.
    const cols = await cli(["predict", model, "--csv", csv]);
    assert.equal(cols.code, 1);
    assert.match(cols.stderr, /31 columns, the model needs 30 features/);
    const usage = await cli(["predict", model]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--csv <file> is required/);
    const fit = await cli(["fit", "--help"]);
    // `model fit` is dispatched to the trainer's module (its usage, or the placeholder's message).
    assert.match(fit.stdout + fit.stderr, /model fit/);
    assert.doesNotMatch(fit.stderr, /unknown subcommand/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
