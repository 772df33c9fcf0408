/**
 * The feature/score worker against the shipped default bundle and real Binance 1m bars: features
 * computed in the worker equal runCandleBatch on the same bars exactly, scores equal
 * Scorer.scoreBatch on those features, state carries across batches, and mismatching bundles are
 * refused with the reason.
 */
import assert from "node:assert/strict";
import { type Bar, runCandleBatch } from "../src/features/candle.ts";
import { ScoringClient, ScoringWorkerError } from "../src/features/scoring_client.ts";
import { Scorer } from "../src/model/scorer.ts";

const BUNDLE = new URL("../models/default", import.meta.url).pathname;
const CSV = new URL(
  "../../shared/data/binance_usdm_ETHUSDT_1m_20250504-20250615.csv",
  import.meta.url,
).pathname;

async function realBars(n: number): Promise<Bar[]> {
  const text = await Deno.readTextFile(CSV);
  return text.trim().split("\n").slice(1, n + 1).map((l) => {
    const [ts, , o, h, lo, c, v] = l.split(",");
    return { ts: +ts, open: +o, high: +h, low: +lo, close: +c, volume: +v, fundingRate: 1e-4 };
  });
}

Deno.test("score worker: features = runCandleBatch, scores = Scorer.scoreBatch", async () => {
  const bars = await realBars(300);
  const client = await ScoringClient.start({
    bundle: BUNDLE,
    featureSet: "candle",
    intervalMs: 60_000,
    returnFeatures: true,
  });
  try {
    assert.equal(client.width, 3);
    assert.deepEqual(client.classes, ["flat", "long", "short"]);
    // Three uneven batches: the worker's engine state must carry across them.
    const got = [
      ...await client.scoreBars("ETHUSDT", bars.slice(0, 1)),
      ...await client.scoreBars("ETHUSDT", bars.slice(1, 120)),
      ...await client.scoreBars("ETHUSDT", bars.slice(120)),
    ];
    const ref = runCandleBatch(bars, 60_000);
    assert.equal(got.length, bars.length);
    const x = new Float32Array(ref.rows * ref.cols);
    for (let i = 0; i < ref.rows; i++) {
      assert.equal(got[i].ts, bars[i].ts);
      assert.equal(got[i].symbol, "ETHUSDT");
      const want = ref.values.subarray(i * ref.cols, (i + 1) * ref.cols);
      assert.deepEqual(Array.from(got[i].features!), Array.from(want), `row ${i}`);
      x.set(want, i * ref.cols);
    }
    const scorer = await Scorer.load(BUNDLE, client.featureNames);
    const want = await scorer.scoreBatch(x, ref.rows);
    for (let i = 0; i < ref.rows; i++) {
      assert.deepEqual(got[i].scores, Array.from(want.subarray(i * 3, i * 3 + 3)), `row ${i}`);
    }
    await scorer.release();

    // A second symbol has its own state; reset restarts the warm-ups.
    const other = await client.scoreBars("BTCUSDT", bars.slice(0, 2));
    assert.deepEqual(
      Array.from(other[1].features!),
      Array.from(ref.values.subarray(ref.cols, 2 * ref.cols)),
    );
    client.reset("ETHUSDT");
    const again = await client.scoreBars("ETHUSDT", bars.slice(0, 1));
    assert.deepEqual(again[0].scores, got[0].scores);

    // A bar off the grid is reported for that request; the worker keeps serving.
    await assert.rejects(
      client.scoreBars("ETHUSDT", [{ ...bars[5], ts: bars[0].ts + 30_000 }]),
      (e: Error) => e instanceof ScoringWorkerError && /grid/.test(e.message),
    );
    const ok = await client.scoreBars("XRPUSDT", bars.slice(0, 1));
    assert.equal(ok.length, 1);
  } finally {
    client.close();
  }
});

Deno.test("score worker: refuses a bundle for another feature set or interval", async () => {
  await assert.rejects(
    ScoringClient.start({ bundle: BUNDLE, featureSet: "micro" }),
    (e: Error) =>
      e instanceof ScoringWorkerError && /trained on the "candle" feature set/.test(e.message),
  );
  await assert.rejects(
    ScoringClient.start({ bundle: BUNDLE, featureSet: "candle", intervalMs: 900_000 }),
    (e: Error) => e instanceof ScoringWorkerError && /60000 ms bars/.test(e.message),
  );
});

Deno.test("score worker: refuses a bundle whose features the set does not produce", async () => {
  const dir = await Deno.makeTempDir({ prefix: "score_worker_test_" });
  try {
    for (const f of ["default.onnx", "default.raw.onnx"]) {
      await Deno.copyFile(new URL(`../models/${f}`, import.meta.url), `${dir}/${f}`);
    }
    const meta = JSON.parse(await Deno.readTextFile(`${BUNDLE}.json`));
    meta.featureNames[3] = "vwap60_dev_bps";
    await Deno.writeTextFile(`${dir}/default.json`, JSON.stringify(meta));
    await assert.rejects(
      ScoringClient.start({ bundle: `${dir}/default`, featureSet: "candle", intervalMs: 60_000 }),
      (e: Error) =>
        e instanceof ScoringWorkerError && /has no feature\(s\) vwap60_dev_bps/.test(e.message),
    );
    await assert.rejects(
      ScoringClient.start({ bundle: `${dir}/nothing`, featureSet: "candle", intervalMs: 60_000 }),
      (e: Error) => e instanceof ScoringWorkerError && /nothing\.json/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
