/**
 * `deno task bench [--quick] [--only ingest,store,features,scoring,decision,trainer,backtest,retrain,run]`: every capability's
 * figure next to a baseline measured in the same run (never a timed assertion). The machine is
 * shared, so compare the ratios, not absolute times across runs.
 */
import { parseArgs } from "node:util";
import { formatIngestBench, runIngestBench } from "./ingest_bench.ts";
import { runFeaturesBench } from "./features_bench.ts";
import { formatScoringBench, runScoringBench } from "./scoring_bench.ts";
import { runTrainerBench } from "./trainer_bench.ts";
import { formatDecisionBench, runDecisionBench } from "./decision_bench.ts";
import { compareIngestRates } from "../src/store/bench_support.ts";
import { formatBacktestBench, runBacktestBench } from "./backtest_bench.ts";
import { formatIngestProfile, runIngestProfile } from "./ingest_profile.ts";
import { formatRunBench, runRunBench } from "./run_bench.ts";
import {
  formatRetrainBench,
  RETRAIN_BENCH_FULL,
  RETRAIN_BENCH_QUICK,
  runRetrainBench,
} from "./retrain_bench.ts";
import { loadReplayFrames } from "../src/ingest/replay_frames.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { quick: { type: "boolean" }, only: { type: "string" }, json: { type: "boolean" } },
});
const quick = values.quick ?? false;
const only = values.only ? new Set(values.only.split(",")) : null;
const want = (k: string) => only === null || only.has(k);
const results: Record<string, unknown> = {};
const say = (s: string) => {
  if (!values.json) console.log(s);
};

if (want("ingest")) {
  const r = await runIngestBench({ steadySeconds: quick ? 10 : 30 });
  results.ingest = r;
  say(formatIngestBench(r) + "\n");
  const prof = await runIngestProfile(quick ? 1 : 3);
  results.ingestProfile = prof;
  say(formatIngestProfile(prof) + "\n");
}

if (want("store")) {
  const dir = await Deno.makeTempDir({ prefix: "bitget-store-bench-" });
  try {
    const frames = await loadReplayFrames(
      new URL(
        "../../shared/data/bitget_replay/bitget_v2_public_BTCUSDT_20230404T2358.jsonl.gz",
        import.meta.url,
      ),
    );
    const c = compareIngestRates(frames, dir, quick ? 2 : 5, 5_000);
    results.store = c;
    say(
      [
        "store writer (2023 BTC recording, 5,000-event batches, best of rounds)",
        `  raw node:sqlite insert   ${Math.round(c.raw.rowsPerSec)} rows/s`,
        `  BatchWriter (+aggregates, tallies) ${Math.round(c.writer.rowsPerSec)} rows/s  ratio ${
          c.ratio.toFixed(2)
        }  commit p50 ${c.writer.p50Ms.toFixed(1)} ms p99 ${c.writer.p99Ms.toFixed(1)} ms`,
        "",
      ].join("\n"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (want("features")) {
  const r = await runFeaturesBench(quick ? 2 : 8);
  results.features = r;
  say("features (real data; per-update latency next to a plain loop over the same inputs)");
  for (const s of [r.micro, r.microBaseline, r.candle, r.candleBaseline]) {
    say(
      `  ${s.name.padEnd(30)} p50 ${s.p50Us.toFixed(2)} µs  p99 ${s.p99Us.toFixed(2)} µs${
        Number.isNaN(s.perSecond) ? "" : `  ${Math.round(s.perSecond)} updates/s`
      }`,
    );
  }
  say("");
}

if (want("scoring")) {
  const r = await runScoringBench(quick ? { singleRuns: 1000, batchRuns: 3, warmUp: 1000 } : {});
  results.scoring = r;
  say(formatScoringBench(r) + "\n");
}

if (want("decision")) {
  const r = await runDecisionBench(quick ? 5_000 : 20_000);
  results.decision = r;
  say(formatDecisionBench(r) + "\n");
}

if (want("trainer")) {
  results.trainer = await runTrainerBench({ quick, print: !values.json });
}

if (want("backtest")) {
  const r = await runBacktestBench(quick);
  results.backtest = r;
  say(formatBacktestBench(r) + "\n");
}

if (want("retrain")) {
  const r = await runRetrainBench(quick ? RETRAIN_BENCH_QUICK : RETRAIN_BENCH_FULL);
  results.retrain = r;
  say(formatRetrainBench(r) + "\n");
}

if (want("run")) {
  const r = await runRunBench(quick ? 20 : 60);
  results.run = r;
  say(formatRunBench(r) + "\n");
}

if (values.json) console.log(JSON.stringify(results, null, 2));
