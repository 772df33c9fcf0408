/**
 * The daemon's retraining thread (model/train/train_worker.ts via train_client.ts) gives what an
 * inline run gives, on real rows (the 2023 BTCUSDT book and trade seconds, micro features): the
 * same trees, and the ONNX bytes and compiled-ensemble plan it prepares off the main thread
 * (model/prepared.ts) equal what the main thread would have made — the same bundle SHA-256, the
 * same scores through the compiled ensemble and through onnxruntime.
 */
import assert from "node:assert/strict";
import { readBundle, writeBundle } from "../src/model/bundle.ts";
import { buildDataset } from "../src/model/dataset.ts";
import { preparedOf } from "../src/model/prepared.ts";
import { Scorer } from "../src/model/scorer.ts";
import { train, type TrainData } from "../src/model/train/gbdt.ts";
import { trainInWorker } from "../src/model/train/train_client.ts";
import { retrainParams } from "../src/strategy/retrain.ts";
import { Store } from "../src/store/store.ts";
import { microDb2023 } from "./helpers/micro_2023.ts";

async function rows(dir: string): Promise<TrainData> {
  const db = `${dir}/m.db`;
  await microDb2023(db);
  const store = Store.open(db, { readonly: true });
  try {
    const ds = buildDataset(store, {
      features: "micro",
      symbols: ["BTCUSDT"],
      horizon: 10,
      interval: "1s",
      from: 0,
      to: Number.MAX_SAFE_INTEGER,
      costs: { takerFeeBps: 0, slippageBps: 0, spreadBps: 0 },
    });
    return {
      numRows: ds.rows,
      numFeatures: ds.cols,
      values: Float64Array.from(ds.values, Math.fround),
      labels: Float64Array.from(ds.cls),
      featureNames: [...ds.featureNames],
    };
  } finally {
    store.close();
  }
}

Deno.test("training worker: same model as inline; its prepared ONNX and plan equal the main thread's", async () => {
  const dir = await Deno.makeTempDir({ prefix: "train_worker_test_" });
  const data = await rows(dir);
  assert.ok(data.numRows > 400, `rows ${data.numRows}`);
  const params = retrainParams("multiclass", {
    num_iterations: 15,
    num_leaves: 7,
    min_data_in_leaf: 10,
  });
  const inline = (await train(data, params)).model;
  const worked = await trainInWorker(data, params);
  assert.deepEqual(worked.trees, inline.trees);
  assert.ok(preparedOf(worked), "the worker's export is remembered");
  assert.equal(preparedOf(inline), undefined);

  // Bundles: identical bytes whether exported here or on the worker.
  const a = await writeBundle(`${dir}/inline`, inline);
  const b = await writeBundle(`${dir}/worker`, worked);
  assert.equal(b.meta.onnx.sha256, a.meta.onnx.sha256);
  assert.equal(b.meta.rawOnnx!.sha256, a.meta.rawOnnx!.sha256);
  assert.deepEqual(
    (await readBundle(`${dir}/worker`)).onnx,
    (await readBundle(`${dir}/inline`)).onnx,
  );

  // Scores: the compiled ensemble from the worker's plan, the one compiled here, onnxruntime.
  const sw = await Scorer.fromModel(worked);
  const si = await Scorer.fromModel(inline);
  const so = await Scorer.fromModel(inline, { compiled: false });
  try {
    assert.equal(sw.engine, "compiled");
    const n = data.numRows, f = data.numFeatures;
    const x = Float32Array.from(data.values);
    const ref = await so.scoreBatch(x, n);
    let audited = 0;
    for (let r = 0; r < n; r++) {
      const row = x.subarray(r * f, (r + 1) * f);
      // An audited row (1 in 64, inline reference) is onnxruntime's own answer: not compared.
      const w = sw.trySync(row), i = si.trySync(row);
      if (!w || !i) {
        audited++;
        continue;
      }
      for (let k = 0; k < sw.width; k++) {
        assert.ok(Object.is(w[k], ref[r * sw.width + k]), `row ${r} class ${k}`);
        assert.ok(Object.is(i[k], w[k]));
      }
    }
    assert.ok(audited <= 2 * Math.ceil(n / 64), `audited ${audited}`);
    await sw.settle();
  } finally {
    await Promise.all([sw.release(), si.release(), so.release()]);
  }
});
