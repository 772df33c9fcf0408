/**
 * `bitget-bot train --objective binary|regression` on two days of real Binance BTCUSDT 1m bars
 * (../shared/data, imported into a temporary SQLite database): the written bundle scored by
 * onnxruntime-web (Scorer) equals the trainer's own model walk (tree.ts predictRaw + transform on
 * the same float32-rounded features) on every validation row — to 1e-6 in probability (binary)
 * and 1e-5 bps (regression). The multiclass case is in train_cmd_test.ts.
 */
import assert from "node:assert/strict";
import { parseTrainArgs, runTrain, type TrainRunResult } from "../src/cli/train.ts";
import { readBundle } from "../src/model/bundle.ts";
import { Scorer } from "../src/model/scorer.ts";
import { predictRaw, transform } from "../src/model/tree.ts";
import { importCsv } from "../src/store/import_csv.ts";
import { Store } from "../src/store/store.ts";

const DATA = new URL("../../shared/data/", import.meta.url).pathname;
const BTC_1M = `${DATA}binance_usdm_BTCUSDT_1m_20250504-20250603.csv`;
const BTC_FUND = `${DATA}binance_usdm_BTCUSDT_funding_8h_20250306-20250603.csv`;
const FROM = Date.parse("2025-05-10T00:00:00Z");
const TO = FROM + 2 * 86_400_000;

async function trainObjective(
  dir: string,
  db: string,
  objective: "binary" | "regression",
): Promise<TrainRunResult> {
  const opts = parseTrainArgs([
    db,
    "--features=candle",
    "--symbols=BTCUSDT",
    "--horizon=5",
    `--from=${FROM}`,
    `--to=${TO}`,
    `--objective=${objective}`,
    `--out=${dir}/${objective}`,
    "num_iterations=30",
    "num_leaves=15",
    "min_data_in_leaf=5",
  ]);
  assert.notEqual(opts, "help");
  if (opts === "help") throw new Error("unreachable");
  return await runTrain({ ...opts, log: () => {} });
}

/**
 * Max |ONNX − model walk| over the validation rows, and the same against runTrain's validPred.
 * The model walk: width-1 model output p (probability of "long" / bps), compared with the
 * ONNX column holding the same quantity.
 */
async function compare(dir: string, r: TrainRunResult, name: string) {
  const { meta } = await readBundle(`${dir}/${name}`);
  assert.equal(meta.objective.name, name);
  assert.deepEqual(meta.featureNames, [...r.dataset.featureNames]);
  const scorer = await Scorer.load(`${dir}/${name}`, meta.featureNames);
  try {
    const d = r.dataset, c = d.cols, rows = r.split.valid, n = rows.length;
    const x = new Float32Array(n * c);
    rows.forEach((row, i) => x.set(d.values.subarray(row * c, (row + 1) * c), i * c));
    const onnx = await scorer.scoreBatch(x, n);
    assert.equal(scorer.width, r.width);
    let walkDiff = 0, runDiff = 0, spread = 0, prev = NaN;
    const raw = new Float64Array(r.model.numTreePerIteration);
    for (let i = 0; i < n; i++) {
      // Same float32-rounded features the ONNX graph sees (Float32Array above).
      const p = transform(r.model, predictRaw(r.model, x.subarray(i * c, (i + 1) * c), raw))[0];
      const got = name === "binary" ? onnx[i * 2 + 1] : onnx[i];
      if (name === "binary") {
        assert.ok(Math.abs(onnx[i * 2] - (1 - p)) < 1e-6, `row ${i}: P(not long) ${onnx[i * 2]}`);
      }
      walkDiff = Math.max(walkDiff, Math.abs(got - p));
      for (let k = 0; k < r.width; k++) {
        runDiff = Math.max(runDiff, Math.abs(onnx[i * r.width + k] - r.validPred[i * r.width + k]));
      }
      if (i > 0 && p !== prev) spread++;
      prev = p;
    }
    // A model that predicts one constant would make the comparison trivial.
    assert.ok(spread > n / 10, `only ${spread} changes in ${n} predictions`);
    return { n, walkDiff, runDiff };
  } finally {
    await scorer.release();
  }
}

Deno.test("train parity: binary and regression bundles score like the trainer's model walk", async () => {
  const dir = await Deno.makeTempDir({ prefix: "train_parity_test_" });
  try {
    const db = `${dir}/t.db`;
    const store = Store.open(db, { create: true });
    try {
      await importCsv(store, BTC_1M, "candles-1m", "BTCUSDT");
      await importCsv(store, BTC_FUND, "funding", "BTCUSDT");
    } finally {
      store.close();
    }

    const bin = await trainObjective(dir, db, "binary");
    assert.equal(bin.width, 2);
    assert.equal(bin.model.objective.name, "binary");
    const b = await compare(dir, bin, "binary");
    assert.ok(b.n > 100, `valid rows ${b.n}`);
    assert.ok(b.walkDiff <= 1e-6, `binary max |onnx − walk| = ${b.walkDiff}`);
    assert.ok(b.runDiff <= 1e-6, `binary max |onnx − validPred| = ${b.runDiff}`);

    const reg = await trainObjective(dir, db, "regression");
    assert.equal(reg.width, 1);
    const g = await compare(dir, reg, "regression");
    assert.ok(g.walkDiff <= 1e-5, `regression max |onnx − walk| = ${g.walkDiff} bps`);
    assert.ok(g.runDiff <= 1e-5, `regression max |onnx − validPred| = ${g.runDiff} bps`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
