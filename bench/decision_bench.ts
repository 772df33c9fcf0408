/**
 * Per-decision latency on real 1m candles (ETHUSDT, ../shared/data) with the shipped default
 * model: (a) the candle feature update alone, (b) feature update + ORT score of that row in the
 * same thread, (c) one bar through the feature/score worker (post → features + score → reply).
 * p50/p99 over every bar after a warm-up; figures are relative (shared 2-core machine), never
 * asserted.
 *
 * Usage: deno run --unstable-worker-options --allow-read=.,../shared,/tmp --allow-env bench/decision_bench.ts [--quick]
 */
import { type Bar, CandleEngine } from "../src/features/candle.ts";
import { ScoringClient } from "../src/features/scoring_client.ts";
import { FEATURE_SETS, project, projection } from "../src/features/registry.ts";
import { readBundleMeta } from "../src/model/bundle.ts";
import { Scorer } from "../src/model/scorer.ts";

const BUNDLE = new URL("../models/default", import.meta.url).pathname;
const CSV = new URL(
  "../../shared/data/binance_usdm_ETHUSDT_1m_20250504-20250615.csv",
  import.meta.url,
).pathname;

export interface LatencyStats {
  n: number;
  p50Us: number;
  p99Us: number;
  meanUs: number;
}

export interface DecisionBenchResult {
  bars: number;
  featuresOnly: LatencyStats;
  featuresPlusScore: LatencyStats;
  workerRoundTrip: LatencyStats;
}

function stats(us: number[]): LatencyStats {
  const s = Float64Array.from(us).sort();
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return {
    n: s.length,
    p50Us: q(0.5),
    p99Us: q(0.99),
    meanUs: s.reduce((a, b) => a + b, 0) / s.length,
  };
}

async function loadBars(n: number): Promise<Bar[]> {
  const lines = (await Deno.readTextFile(CSV)).trim().split("\n").slice(1, n + 1);
  return lines.map((l) => {
    const [ts, , o, h, lo, c, v] = l.split(",");
    return { ts: +ts, open: +o, high: +h, low: +lo, close: +c, volume: +v, fundingRate: 1e-4 };
  });
}

/** Runs the three measurements over `bars` real 1m bars (first 500 bars warm up, not timed). */
export async function runDecisionBench(bars = 20_000): Promise<DecisionBenchResult> {
  const data = await loadBars(bars);
  const warm = Math.min(500, data.length >> 2);
  const meta = await readBundleMeta(BUNDLE);
  const idx = projection(FEATURE_SETS.candle, meta.featureNames);

  const fOnly: number[] = [];
  let eng = new CandleEngine(60_000);
  for (let i = 0; i < data.length; i++) {
    const t0 = performance.now();
    eng.update(data[i]);
    const dt = performance.now() - t0;
    if (i >= warm) fOnly.push(dt * 1000);
  }

  const scorer = await Scorer.load(BUNDLE, meta.featureNames);
  await scorer.warmUp(3000);
  const row = new Float64Array(idx.length);
  const both: number[] = [];
  eng = new CandleEngine(60_000);
  for (let i = 0; i < data.length; i++) {
    const t0 = performance.now();
    await scorer.scoreOne(project(eng.update(data[i]), idx, row));
    const dt = performance.now() - t0;
    if (i >= warm) both.push(dt * 1000);
  }
  await scorer.release();

  const client = await ScoringClient.start({
    bundle: BUNDLE,
    featureSet: "candle",
    intervalMs: 60_000,
    warmUpRuns: 3000,
  });
  const rt: number[] = [];
  try {
    const n = Math.min(data.length, 5000);
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await client.scoreBars("ETHUSDT", [data[i]]);
      const dt = performance.now() - t0;
      if (i >= warm) rt.push(dt * 1000);
    }
  } finally {
    client.close();
  }
  return {
    bars: data.length,
    featuresOnly: stats(fOnly),
    featuresPlusScore: stats(both),
    workerRoundTrip: stats(rt),
  };
}

/** One line per measurement. */
export function formatDecisionBench(r: DecisionBenchResult): string {
  const f = (s: LatencyStats) =>
    `p50 ${s.p50Us.toFixed(1)} µs  p99 ${s.p99Us.toFixed(1)} µs  mean ${
      s.meanUs.toFixed(1)
    } µs  (n=${s.n})`;
  return [
    `decision latency, default model, ${r.bars} real ETHUSDT 1m bars:`,
    `  feature update alone        ${f(r.featuresOnly)}`,
    `  features + ORT score        ${f(r.featuresPlusScore)}`,
    `  via score worker (1 bar)    ${f(r.workerRoundTrip)}`,
  ].join("\n");
}

if (import.meta.main) {
  const r = await runDecisionBench(Deno.args.includes("--quick") ? 5000 : 20_000);
  console.log(formatDecisionBench(r));
}
