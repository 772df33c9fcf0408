/**
 * Feature engine latency bench on real data, next to a plain-loop baseline measured in the same
 * run with the same timer.
 *
 * - micro: the BTCUSDT 2023 and 2024 1 s recordings (book15 + trades, 2023 with ticker fields
 *   from its mark price stream), re-timed back to back into one continuous stream long enough for
 *   the 60-min windows to fill and be recomputed (default 8 passes ≈ 2.2 h of samples).
 * - candle: 30 days of BTCUSDT 1m bars (43 199 bars).
 * - baseline: the same loop and timer around a function that only sums the input's numeric
 *   fields, so its figures are the harness floor (timer + call + loop).
 *
 * Per-update latency is timed around each `update` call with performance.now(); p50/p99 in µs.
 * Throughput runs the batch function without per-update timing.
 *
 * Run: `deno run --allow-read bench/features_bench.ts [passes]` (prints a table);
 * `runFeaturesBench()` returns the figures.
 */
import { type Bar, CandleEngine, runCandleBatch } from "../src/features/candle.ts";
import { MicroEngine, runMicroBatch } from "../src/features/micro.ts";
import type { MicroInput } from "../src/features/micro_input.ts";
import {
  microInputsFromRecords,
  readBook15Csv,
  readOhlcvCsv,
  readTrades1sCsv,
  type TickerSample,
} from "../src/features/sample_data.ts";

const DATA = new URL("../../shared/data/", import.meta.url);
const text = (f: string) => Deno.readTextFileSync(new URL(f, DATA));

export interface LatencyStats {
  name: string;
  updates: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  /** Batch throughput without per-update timing (updates per second); NaN for baselines. */
  perSecond: number;
}

export interface FeaturesBenchResult {
  micro: LatencyStats;
  microBaseline: LatencyStats;
  candle: LatencyStats;
  candleBaseline: LatencyStats;
}

/** Mark/index/funding samples from the 2023 replay's ticker frames (real Binance values). */
async function tickers2023(): Promise<TickerSample[]> {
  const gz = await Deno.readFile(
    new URL("bitget_replay/bitget_v2_public_BTCUSDT_20230404T2358.jsonl.gz", DATA),
  );
  const body = new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip"));
  const out: TickerSample[] = [];
  for (const line of (await new Response(body).text()).split("\n")) {
    if (!line.includes('"ticker"')) continue;
    const msg = JSON.parse(line).msg;
    if (!msg.data) continue;
    const d = msg.data[0];
    out.push({
      ts: Number(d.ts),
      markPrice: Number(d.markPrice),
      indexPrice: Number(d.indexPrice),
      fundingRate: Number(d.fundingRate),
      nextFundingTime: Number(d.nextFundingTime),
      openInterest: Number(d.holdingAmount),
    });
  }
  return out;
}

/** The two BTC recordings back to back, repeated `passes` times, on one continuous 1 s grid. */
export async function microStream(passes: number): Promise<MicroInput[]> {
  const a = microInputsFromRecords(
    readBook15Csv(text("binance_usdm_BTCUSDT_20230404T2358_book15_1s.csv")),
    readTrades1sCsv(text("binance_usdm_BTCUSDT_20230404T2358_trades_1s.csv")),
    await tickers2023(),
  );
  const b = microInputsFromRecords(
    readBook15Csv(text("binance_usdm_BTCUSDT_20240718T2357_book15_1s.csv")),
    readTrades1sCsv(text("binance_usdm_BTCUSDT_20240718T2357_trades_1s.csv")),
  );
  const out: MicroInput[] = [];
  let ts = a[0].ts;
  for (let p = 0; p < passes; p++) {
    for (const r of [...a, ...b]) {
      out.push({ ...r, nextFundingTime: r.nextFundingTime - r.ts + ts, ts });
      ts += 1000;
    }
  }
  return out;
}

function stats(name: string, us: Float64Array, perSecond: number): LatencyStats {
  const s = us.slice().sort();
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return {
    name,
    updates: s.length,
    p50Us: q(0.5),
    p99Us: q(0.99),
    maxUs: s[s.length - 1],
    perSecond,
  };
}

function timeEach<T>(items: readonly T[], f: (x: T) => unknown): Float64Array {
  const us = new Float64Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const t0 = performance.now();
    f(items[i]);
    us[i] = (performance.now() - t0) * 1000;
  }
  return us;
}

/** Runs the bench; `passes` sets the length of the micro stream (≈ 1000 s per pass). */
export async function runFeaturesBench(passes = 8): Promise<FeaturesBenchResult> {
  const micro = await microStream(passes);
  const bars: Bar[] = readOhlcvCsv(text("binance_usdm_BTCUSDT_1m_20250504-20250603.csv"));
  let sink = 0;
  // Warm the JIT on a first pass of each path before measuring.
  runMicroBatch(micro.slice(0, 3000));
  runCandleBatch(bars.slice(0, 3000), 60_000);

  const me = new MicroEngine();
  const microUs = timeEach(micro, (r) => me.update(r));
  const microBase = timeEach(micro, (r) => {
    sink += r.mid + r.spreadBps + r.imbalance1 + r.imbalance5 + r.buyVolume + r.sellVolume +
      r.tradeCount + r.markPrice + r.openInterest;
  });
  let t0 = performance.now();
  runMicroBatch(micro);
  const microRate = micro.length / ((performance.now() - t0) / 1000);

  const ce = new CandleEngine(60_000);
  const candleUs = timeEach(bars, (b) => ce.update(b));
  const candleBase = timeEach(bars, (b) => {
    sink += b.open + b.high + b.low + b.close + b.volume;
  });
  t0 = performance.now();
  runCandleBatch(bars, 60_000);
  const candleRate = bars.length / ((performance.now() - t0) / 1000);
  if (sink === 42) console.log("");
  return {
    micro: stats("micro (40 features)", microUs, microRate),
    microBaseline: stats("micro baseline (sum inputs)", microBase, NaN),
    candle: stats("candle 1m (31 features)", candleUs, candleRate),
    candleBaseline: stats("candle baseline (sum inputs)", candleBase, NaN),
  };
}

if (import.meta.main) {
  const passes = Number(Deno.args[0] ?? 8);
  const r = await runFeaturesBench(passes);
  console.log("path                           updates   p50 µs   p99 µs   max µs   updates/s");
  for (const s of [r.micro, r.microBaseline, r.candle, r.candleBaseline]) {
    console.log(
      `${s.name.padEnd(30)} ${String(s.updates).padStart(7)} ${s.p50Us.toFixed(2).padStart(8)} ${
        s.p99Us.toFixed(2).padStart(8)
      } ${s.maxUs.toFixed(1).padStart(8)} ${
        Number.isNaN(s.perSecond)
          ? "-".padStart(11)
          : Math.round(s.perSecond).toString().padStart(11)
      }`,
    );
  }
}
