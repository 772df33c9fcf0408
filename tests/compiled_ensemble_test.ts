/**
 * The compiled ensemble (model/compiled_ensemble.ts) against onnxruntime-web, bit for bit: random
 * multiclass and regression models in both ONNX precisions, every decision type, rows at and
 * around the thresholds, NaN and ±Infinity; the real LightGBM binary model (LOGISTIC is left to
 * onnxruntime); expf against Math.exp; and the Scorer's audit.
 */
import assert from "node:assert/strict";
import { compileEnsemble } from "../src/model/compiled_ensemble.ts";
import { expf } from "../src/model/expf.ts";
import { parseLightGbmModel } from "../src/model/lightgbm_text.ts";
import { exportOnnx, type OnnxPrecision } from "../src/model/onnx_export.ts";
import { createSession, ort } from "../src/model/ort.ts";
import { Scorer, SCORER_AUDIT_EVERY } from "../src/model/scorer.ts";
import { mulberry32, randomModel } from "../bench/scoring_bench.ts";
import { probeRows } from "./helpers/model_probe.ts";

const SHARED = new URL("../../shared/lightgbm/", import.meta.url);

const rows = probeRows;

async function ortScores(onnx: Uint8Array, name: string, x: Float32Array, n: number, f: number) {
  const s = await createSession(onnx);
  try {
    const out = await s.run({ features: new ort.Tensor("float32", x, [n, f]) }, [name]);
    return out[name].data as Float32Array;
  } finally {
    await s.release();
  }
}

Deno.test("compiled ensemble = onnxruntime bit for bit: multiclass/regression, double/float", async () => {
  const types = [0, 2, 4, 6, 8, 10];
  const models = [
    randomModel(21, {
      iterations: 30,
      objective: { name: "multiclass", numClass: 4 },
      numLeaves: 15,
      numFeatures: 7,
      decisionTypes: types,
    }),
    randomModel(22, {
      iterations: 50,
      objective: { name: "regression" },
      numLeaves: 9,
      numFeatures: 5,
      decisionTypes: types,
    }),
  ];
  let compared = 0;
  for (const m of models) {
    const n = 4000, f = m.featureNames.length;
    const x = rows(m, n, 7);
    for (const precision of ["double", "float"] as OnnxPrecision[]) {
      for (const output of ["transformed", "raw"] as const) {
        const onnx = exportOnnx(m, { precision, output });
        const c = compileEnsemble(onnx);
        assert.ok(c, `${m.objective.name} ${precision} ${output} compiles`);
        const want = await ortScores(onnx, c.outputName, x, n, f);
        const got = new Float32Array(n * c.width);
        for (let r = 0; r < n; r++) c.scoreRow(x, r, got, r * c.width);
        for (let i = 0; i < got.length; i++) {
          if (!Object.is(got[i], want[i])) {
            assert.fail(
              `${m.objective.name} ${precision} ${output} value ${i}: ${got[i]} vs ${want[i]}`,
            );
          }
        }
        compared += got.length;
      }
    }
  }
  assert.equal(compared, 4000 * 4 * 4 + 4000 * 4); // every value of every variant
});

Deno.test("the real LightGBM binary model (LOGISTIC, two-class weights) compiles, bit for bit", async () => {
  const m = parseLightGbmModel(Deno.readTextFileSync(new URL("binary_model.txt", SHARED)));
  const n = 4000, f = m.featureNames.length;
  const x = rows(m, n, 3);
  for (const output of ["transformed", "raw"] as const) {
    const onnx = exportOnnx(m, { output });
    const c = compileEnsemble(onnx)!;
    assert.ok(c, output);
    const want = await ortScores(onnx, c.outputName, x, n, f);
    const got = new Float32Array(n * c.width);
    for (let r = 0; r < n; r++) c.scoreRow(x, r, got, r * c.width);
    assert.deepEqual(got, want, output);
  }
  const s = await Scorer.fromModel(m);
  assert.equal(s.engine, "compiled", String(s.compiledOff));
  await s.release();
  // A graph it does not reproduce is refused with the reason.
  const bad = exportOnnx(m);
  let why = "";
  assert.equal(compileEnsemble(bad.subarray(0, 10), (r) => why = r), null, why);
});

Deno.test("expf: e^x in float32, equal to fround(Math.exp) except near rounding ties", () => {
  assert.equal(expf(0), 1);
  assert.equal(expf(1), Math.fround(Math.E));
  assert.equal(expf(-Infinity), 0);
  assert.equal(expf(Infinity), Infinity);
  assert.ok(Number.isNaN(expf(NaN)));
  assert.equal(expf(89), Infinity);
  assert.equal(expf(-104), 0);
  const rnd = mulberry32(5);
  let differ = 0;
  for (let i = 0; i < 200_000; i++) {
    const x = Math.fround(rnd() * 60 - 30);
    const a = expf(x), b = Math.fround(Math.exp(x));
    if (a !== b) {
      differ++;
      // Never more than one float32 step apart.
      const f = new Float32Array([a, b]);
      const u = new Uint32Array(f.buffer);
      assert.ok(Math.abs(u[0] - u[1]) === 1, `x=${x}: ${a} vs ${b}`);
    }
  }
  assert.ok(differ < 400, `${differ} of 200,000 differ by one step`);
});

Deno.test("Scorer: compiled single rows, 1 in 64 through onnxruntime, audited, equal to scoreBatch", async () => {
  const m = randomModel(31, {
    iterations: 20,
    objective: { name: "multiclass", numClass: 3 },
    numLeaves: 15,
    numFeatures: 6,
    decisionTypes: [0, 2, 8, 10],
  });
  const s = await Scorer.fromModel(m);
  assert.equal(s.engine, "compiled", String(s.compiledOff));
  const n = 640, f = m.featureNames.length;
  const x = rows(m, n, 11);
  const batch = await s.scoreBatch(x, n);
  const before = { ...s.counters };
  let viaOrt = 0;
  for (let r = 0; r < n; r++) {
    const row = x.subarray(r * f, r * f + f);
    let out = s.trySync(row);
    if (!out) {
      viaOrt++;
      out = await s.scoreOne(row);
    }
    assert.deepEqual([...out], [...batch.subarray(r * 3, r * 3 + 3)], `row ${r}`);
  }
  assert.equal(viaOrt, n / SCORER_AUDIT_EVERY);
  assert.equal(s.counters.compiled - before.compiled, n - viaOrt);
  assert.equal(s.counters.audited - before.audited, viaOrt);
  assert.equal(s.counters.mismatches, 0);
  const off = await Scorer.fromModel(m, { compiled: false });
  assert.equal(off.engine, "onnxruntime");
  assert.equal(off.compiledOff, "disabled");
  await s.release();
  await off.release();
});

Deno.test("Scorer, reference worker: every row compiled, 1 in 64 audited off-thread; a difference fails settle()", async () => {
  const m = randomModel(32, {
    iterations: 20,
    objective: { name: "multiclass", numClass: 3 },
    numLeaves: 15,
    numFeatures: 6,
    decisionTypes: [0, 2, 8, 10],
  });
  const inline = await Scorer.fromModel(m);
  const s = await Scorer.fromModel(m, { reference: "worker" });
  assert.equal(s.engine, "compiled", String(s.compiledOff));
  const n = 1000, f = m.featureNames.length;
  const x = rows(m, n, 12);
  const ref = await inline.scoreBatch(x, n);
  for (let r = 0; r < n; r++) {
    const out = s.trySync(x.subarray(r * f, r * f + f));
    assert.ok(out, `row ${r}: never left to onnxruntime in worker mode`);
    assert.deepEqual([...out], [...ref.subarray(r * 3, r * 3 + 3)], `row ${r}`);
  }
  const c = await s.settle();
  assert.equal(c.compiled, n);
  assert.equal(c.onnxruntime, 0, "the worker's rows are audits, not results");
  assert.equal(c.audited, Math.floor(n / SCORER_AUDIT_EVERY));
  assert.equal(c.mismatches, 0);
  await s.release();

  // A compiled ensemble that drifts from onnxruntime (perturbed here on purpose) is caught by the
  // worker's audit: compilation goes off for the rows after it, and settle() throws.
  const bad = await Scorer.fromModel(m, { reference: "worker" });
  await bad.settle(); // the probe rows passed
  // deno-lint-ignore no-explicit-any
  const comp = (bad as any).compiled;
  const orig = comp.scoreRow.bind(comp);
  comp.scoreRow = (rs: Float32Array, r: number, out: Float32Array, o: number) => {
    orig(rs, r, out, o);
    out[o] = Math.fround(out[o] * (1 + 1e-6));
  };
  for (let r = 0; r < 2 * SCORER_AUDIT_EVERY; r++) bad.trySync(x.subarray(r * f, r * f + f));
  await assert.rejects(bad.settle(), (e: Error) => {
    assert.equal(e.name, "ScorerAuditError");
    assert.match(e.message, /differs from onnxruntime on an audited row.*scoring: onnxruntime/);
    return true;
  });
  assert.equal(bad.engine, "onnxruntime");
  assert.ok(bad.counters.mismatches >= 1);
  // Rows after the difference are scored by onnxruntime (through the worker), not compiled.
  const row = x.subarray(0, f);
  assert.equal(bad.trySync(row), null);
  assert.deepEqual([...await bad.scoreOne(row)], [...ref.subarray(0, 3)]);
  await bad.release();
  await inline.release();
});
