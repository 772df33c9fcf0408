/**
 * Worker spawning after onnxruntime-web has initialised in this thread (src/ops/worker_ctor.ts):
 * ORT's threaded glue swaps `globalThis.Worker` for Node's worker_threads class, yet the trainer
 * still runs 2 threads and a WorkerPool still starts the real ingest worker, because both spawn
 * through the constructor captured at module load.
 */
import assert from "node:assert/strict";
import { WorkerPool } from "../src/ingest/worker_pool.ts";
import type { RunnerSettings, StatsMessage } from "../src/ingest/messages.ts";
import { planShards } from "../src/ingest/shards.ts";
import { readBundleMeta } from "../src/model/bundle.ts";
import { createSession, initOrt, ort } from "../src/model/ort.ts";
import { train } from "../src/model/train/gbdt.ts";
import { parseParams } from "../src/model/train/params.ts";
import { predictRaw } from "../src/model/tree.ts";
import { spawnWorker, WebWorker } from "../src/ops/worker_ctor.ts";
import { mulberry32 } from "../bench/scoring_bench.ts";

const DEFAULT_MODEL = new URL("../models/default", import.meta.url);

function settings(): RunnerSettings {
  return {
    wsUrl: "ws://127.0.0.1:9/", // nothing listens: the worker keeps reconnecting, stats still flow
    instType: "USDT-FUTURES",
    ws: {
      maxMessagesPerSecond: 8,
      maxArgsPerMessage: 15,
      pingInterval: 500,
      staleAfter: 5000,
      reconnectMinDelay: 50,
      reconnectMaxDelay: 500,
      maxSubscribesPerHour: 200,
    },
    batchMaxMs: 50,
    batchMaxEvents: 1000,
    statsIntervalMs: 100,
    logLevel: "info",
  };
}

async function until(cond: () => boolean, what: string, timeoutMs = 20_000) {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test({
  name: "worker_ctor: trainer threads and ingest workers start after ORT initialised in-thread",
  // ORT keeps its wasm runtime (and its own worker_threads hooks) for the process lifetime.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await initOrt();
    const session = await createSession(await Deno.readFile(`${DEFAULT_MODEL.pathname}.onnx`));
    const width = (await readBundleMeta(DEFAULT_MODEL.pathname)).featureNames.length;
    const run = await session.run({
      features: new ort.Tensor("float32", new Float32Array(width).fill(NaN), [1, width]),
    });
    assert.ok(Object.values(run).every((t) => t.data.length > 0));
    await session.release();
    // The hazard worker_ctor.ts guards against; without it this test would not test the fix.
    assert.notEqual(globalThis.Worker, WebWorker, "ORT no longer replaces globalThis.Worker");

    // Trainer: 2 threads (1 worker) on a matrix large enough for the parallel path.
    const rnd = mulberry32(7);
    const n = 25_000, c = 10;
    const values = new Float64Array(n * c);
    const labels = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < c; j++) {
        const v = Math.fround(rnd() * 2 - 1);
        values[i * c + j] = v;
        s += (j + 1) * v;
      }
      labels[i] = s + 0.1 * (rnd() - 0.5);
    }
    const data = { numRows: n, numFeatures: c, values, labels };
    const params = parseParams([
      "objective=regression",
      "num_iterations=5",
      "num_threads=2",
      "verbosity=-1",
    ]);
    const two = await train(data, params);
    assert.equal(two.history.threads, 2);
    const one = await train(
      data,
      parseParams([
        "objective=regression",
        "num_iterations=5",
        "num_threads=1",
        "verbosity=-1",
      ]),
    );
    assert.equal(one.history.threads, 1);
    // Same model either way (the parallel path is exact).
    for (let i = 0; i < 100; i++) {
      const row = values.subarray(i * c, (i + 1) * c);
      assert.equal(predictRaw(two.model, row)[0], predictRaw(one.model, row)[0]);
    }

    // Ingest: a WorkerPool runs the real ingest worker module; its stats arrive, stop is clean.
    const stats: StatsMessage[] = [];
    const pool = new WorkerPool({
      settings: settings(),
      shards: planShards(["BTCUSDT"], ["ticker"], 6),
      onBatch: () => {},
      onStats: (s) => stats.push(s),
    });
    pool.start();
    try {
      await until(() => stats.length > 0, "stats from the ingest worker");
    } finally {
      const res = await pool.stop(3000);
      assert.equal(res.clean, 1);
    }

    // A bare module worker through spawnWorker answers a message.
    const dir = await Deno.makeTempDir({ prefix: "worker_ctor_test_" });
    try {
      const url = new URL(`file://${dir}/echo.ts`);
      await Deno.writeTextFile(url, `self.onmessage = (e) => self.postMessage(e.data * 2);\n`);
      const w = spawnWorker(url, { type: "module" });
      const got = await new Promise<number>((resolve, reject) => {
        w.onmessage = (e: MessageEvent<number>) => resolve(e.data);
        w.onerror = (e) => reject(new Error(e.message));
        w.postMessage(21);
      });
      w.terminate();
      assert.equal(got, 42);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
