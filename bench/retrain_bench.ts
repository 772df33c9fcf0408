/**
 * Retraining never stalls decisions (issue 9): the real `ml` strategy (shipped models/default,
 * candle style) on the real 30-day BTCUSDT + ETHUSDT 1m candles (../shared/data, settled funding
 * attached), run with the daemon's lifecycle options (`background: true`, `train: trainInWorker`:
 * every retrain trains on a real worker thread, src/live/daemon.ts), retraining on a short
 * schedule. Each decision (`onBar` through to its returned signals, awaited when it returns a
 * Promise) is timed with performance.now() and classified by whether a retrain was in flight
 * (lifecycle busy, seen through `lifecycleIdle()`) when the hook was called or when it returned;
 * a decision that starts a retrain (building its rows happens inside that hook) counts as
 * "during". Both classes come from the same run, interleaved, counted from the first promotion on
 * (both then score with retrained models of the same size); the figure is
 * p99(during) / p99(without), goal ≤ 2×. Never asserted. The schedule is the only trigger and
 * drift checks are off: the lifecycle skips its drift check while a retrain is in flight, so it
 * would weigh on the no-retrain class alone.
 *
 * Pace. The bars are fed back to back, not at their real 1-minute pace, but with a wall-clock
 * floor per decision (`paceUs`): between decisions the loop yields to the event loop
 * (setImmediate) until the next slot, so the worker's answer, the new scorer and the swap run
 * between decisions as they would live. The floor ties bar time to wall time, so a retrain that
 * takes a few hundred ms spans a few thousand decisions and the schedule (`everyMs`) leaves idle
 * decisions between retrains.
 *
 * Also printed (not part of the goal): the event-loop wait before each decision beyond its slot
 * — main-thread work outside the hook (the worker's reply, building the new model's scorer, the
 * swap) delays the next decision by that much.
 *
 * Usage: deno run --unstable-worker-options --allow-read=.,../shared,/tmp --allow-env bench/retrain_bench.ts [--quick]
 */
import { setImmediate } from "node:timers";
import { attachSettledFunding, type Bar } from "../src/features/candle.ts";
import { trainInWorker } from "../src/model/train/train_client.ts";
import {
  createMlStrategy,
  type LifecycleEvent,
  type MlStrategy,
  parseMlConfig,
} from "../src/strategy/ml.ts";
import type {
  ClosedBar,
  PositionView,
  Signal,
  SignalResult,
  StrategyView,
} from "../src/strategy/types.ts";
import { data } from "../tests/helpers/backtest_data.ts";

const MODEL = decodeURIComponent(new URL("../models/default", import.meta.url).pathname);
const MIN = 60_000;
const HOUR = 3_600_000;

export interface RetrainBenchOptions {
  /** Days of bars fed (from the start of the 30 days). */
  days: number;
  /** Rows a retrain trains on: [t − trainWindowMs, t] of both symbols. */
  trainWindowMs: number;
  /** Retrain schedule (epoch grid), bar time. */
  everyMs: number;
  /** Trainer parameters (LightGBM names). */
  params: Record<string, number>;
  /** Wall-clock floor per decision, µs (module doc). */
  paceUs: number;
}

export const RETRAIN_BENCH_FULL: RetrainBenchOptions = {
  days: 30,
  trainWindowMs: 48 * HOUR,
  everyMs: 48 * HOUR,
  params: { num_iterations: 50, num_leaves: 15, min_data_in_leaf: 50 },
  paceUs: 500,
};

export const RETRAIN_BENCH_QUICK: RetrainBenchOptions = {
  ...RETRAIN_BENCH_FULL,
  days: 10,
  trainWindowMs: 24 * HOUR,
  paceUs: 250,
};

export interface LatencyClass {
  n: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

export interface RetrainBenchResult {
  options: RetrainBenchOptions;
  bars: number;
  /** Decisions in the statistics (from the first promotion on, see runRetrainBench). */
  decisions: number;
  wallSeconds: number;
  /** Retrains that trained a model, skipped ones (too few rows), and models promoted. */
  retrains: number;
  skipped: number;
  promoted: number;
  lifecycleErrors: string[];
  /** Per trained retrain: rows and build + worker training time (ms, the retrain event). */
  rowsUsed: number[];
  trainMs: number[];
  /** Wall time from the decision that started a retrain to the next decision without one, ms. */
  busyMs: number[];
  /** Per promoted retrain: the worker's answer to the promotion (scorer built, swapped), ms. */
  swapMs: number[];
  /** Hook latency: with no retrain in flight, with one in flight, and the decisions that started one. */
  without: LatencyClass;
  during: LatencyClass;
  starting: LatencyClass;
  ratio: number;
  /**
   * The same classes, hooks that answered synchronously only (compiled ensemble; the others
   * awaited onnxruntime: 1 scored row in 64 is audited through it, model/scorer.ts).
   */
  syncWithout: LatencyClass;
  syncDuring: LatencyClass;
  /** Event-loop wait before a decision beyond its pace slot, by the same classification. */
  waitWithout: LatencyClass;
  waitDuring: LatencyClass;
}

function stats(us: number[]): LatencyClass {
  if (us.length === 0) return { n: 0, p50Us: NaN, p99Us: NaN, maxUs: NaN };
  const s = Float64Array.from(us).sort();
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, p50Us: q(0.5), p99Us: q(0.99), maxUs: s[s.length - 1] };
}

function csvRows(file: string): string[][] {
  return Deno.readTextFileSync(data(file)).trim().split("\n").slice(1).map((l) => l.split(","));
}

/** 1m bars of a shared/data CSV in [from, to) (bar start) with the last settled funding. */
function loadBars(file: string, funding: string, from: number, to: number): Bar[] {
  const bars: Bar[] = csvRows(file)
    .map((r) => ({ ts: +r[0], open: +r[2], high: +r[3], low: +r[4], close: +r[5], volume: +r[6] }))
    .filter((b) => b.ts >= from && b.ts < to);
  const settled = csvRows(funding).map((r) => ({ ts: +r[0], rate: +r[2] }));
  return attachSettledFunding(bars, settled, MIN);
}

/** BTCUSDT + ETHUSDT closed bars of the first `days` of the BTC file, close-time order. */
function loadStream(days: number): ClosedBar[] {
  const btcAll = loadBars(
    "binance_usdm_BTCUSDT_1m_20250504-20250603.csv",
    "binance_usdm_BTCUSDT_funding_8h_20250306-20250603.csv",
    -Infinity,
    Infinity,
  );
  const from = btcAll[0].ts,
    to = Math.min(btcAll[btcAll.length - 1].ts + MIN, from + days * 1440 * MIN);
  const bySym: [string, Bar[]][] = [
    ["BTCUSDT", btcAll.filter((b) => b.ts < to)],
    [
      "ETHUSDT",
      loadBars(
        "binance_usdm_ETHUSDT_1m_20250504-20250615.csv",
        "binance_usdm_ETHUSDT_funding_8h_20250306-20250615.csv",
        from,
        to,
      ),
    ],
  ];
  const out: ClosedBar[] = [];
  for (const [symbol, bars] of bySym) {
    for (const b of bars) {
      out.push({
        symbol,
        interval: "1m",
        intervalMs: MIN,
        ts: b.ts,
        open: b.open,
        high: b.high,
        low: b.low,
        close: b.close,
        volume: b.volume,
        fundingRate: b.fundingRate ?? NaN,
      });
    }
  }
  return out.sort((a, b) => a.ts - b.ts || (a.symbol < b.symbol ? -1 : 1));
}

interface Held extends PositionView {
  stop?: number;
  tp?: number;
}

/**
 * The bench's StrategyView: positions opened and closed by the strategy's own signals, the
 * signalled stop / take-profit triggered against each later bar's high/low (reported through
 * onPositionClosed, as the engine's plan orders would). Records are counted, not kept.
 */
class View implements StrategyView {
  time = 0;
  records = 0;
  readonly pos = new Map<string, Held>();
  readonly px = new Map<string, number>();
  constructor(readonly symbols: string[]) {}
  position(s: string): PositionView | null {
    return this.pos.get(s) ?? null;
  }
  mid(s: string): number {
    return this.px.get(s) ?? NaN;
  }
  spreadBps(): number {
    return 1;
  }
  markPrice(s: string): number {
    return this.mid(s);
  }
  lastPrice(s: string): number {
    return this.mid(s);
  }
  takerFeeRate(): number {
    return 0.0006;
  }
  tradable(): boolean {
    return true;
  }
  record(): void {
    this.records++;
  }

  /** Bar `b` closes: price, then plan-order stops of an open position. */
  onBar(b: ClosedBar, s: MlStrategy): void {
    this.time = b.ts + b.intervalMs;
    this.px.set(b.symbol, b.close);
    const p = this.pos.get(b.symbol);
    if (!p) return;
    const long = p.side === "long";
    const hitStop = p.stop !== undefined && (long ? b.low <= p.stop : b.high >= p.stop);
    const hitTp = p.tp !== undefined && (long ? b.high >= p.tp : b.low <= p.tp);
    if (hitStop || hitTp) {
      this.pos.delete(b.symbol);
      s.onPositionClosed!(b.symbol, hitStop ? "stop_loss" : "take_profit", this.time);
    }
  }

  apply(sigs: Signal[] | void): void {
    for (const s of sigs ?? []) {
      if (s.kind === "exit") this.pos.delete(s.symbol);
      else {
        this.pos.set(s.symbol, {
          side: s.side,
          size: 1,
          entryPrice: s.price,
          openedAt: this.time,
          stop: s.stopPrice,
          tp: s.takeProfitPrice,
        });
      }
    }
  }
}

const tick = () => new Promise<void>((r) => setImmediate(r));

/**
 * Whether background lifecycle work is in flight: `lifecycleIdle()` settles within a few
 * microtask hops when nothing runs; work in flight waits on the training worker's message (a
 * macrotask), which no number of microtask hops delivers.
 */
async function lifecycleBusy(s: MlStrategy): Promise<boolean> {
  let idle = false;
  s.lifecycleIdle().then(() => (idle = true));
  for (let k = 0; k < 32 && !idle; k++) await null;
  return !idle;
}

export async function runRetrainBench(o: RetrainBenchOptions): Promise<RetrainBenchResult> {
  const bars = loadStream(o.days);
  const cfg = parseMlConfig({
    model: MODEL,
    minProb: 0.35,
    minMargin: 0.05,
    stopLossBps: 30,
    takeProfitBps: 45,
    cooldownMs: "5m",
    maxHoldMs: "10m",
    retrain: {
      enabled: true,
      trainWindowMs: o.trainWindowMs,
      everyMs: o.everyMs,
      minRows: 1000,
      params: o.params,
      // The schedule alone, each new model promoted at once. Drift checks off: the lifecycle
      // skips them while a retrain is in flight, so with them on (every 15 min of bar time, the
      // PSI of 6 h of rows inside the hook) the no-retrain class alone would carry that cost
      // and flatter the ratio.
      driftCheckMs: 3650 * 24 * HOUR,
      psiThreshold: 1e9,
      sharpeThreshold: null,
      shadowForMs: 0,
    },
  });
  const errors: string[] = [];
  const events: LifecycleEvent[] = [];
  const eventAt: number[] = [];
  let promotions = 0;
  // The daemon's lifecycle options (src/live/daemon.ts): background work, a worker thread.
  const s = await createMlStrategy(cfg, {
    reference: "worker",
    lifecycle: {
      background: true,
      train: trainInWorker,
      onEvent: (e) => {
        events.push(e);
        if (e.type === "promoted") promotions++;
        eventAt.push(performance.now());
      },
      onError: (e) => errors.push(e.message),
    },
  });
  const view = new View(["BTCUSDT", "ETHUSDT"]);
  const lat = { without: [] as number[], during: [] as number[], starting: [] as number[] };
  const wait = { without: [] as number[], during: [] as number[] };
  const sync = { without: [] as number[], during: [] as number[] };
  const busyMs: number[] = [];
  let busySince = NaN;
  let counted = 0;
  const t0 = performance.now();
  let slot = t0;
  let busy = await lifecycleBusy(s);
  try {
    for (let i = 0; i < bars.length; i++) {
      // Yield until this decision's slot (the worker's reply and the swap run here).
      slot += o.paceUs / 1000;
      const yieldAt = performance.now();
      do await tick(); while (performance.now() < slot);
      const waitUs = (performance.now() - Math.max(slot, yieldAt)) * 1000;
      const busyBefore = await lifecycleBusy(s);
      // A wait counts as during a retrain when one was in flight as it began or as it ended.
      const waitDuring = busy || busyBefore;
      if (busy && !busyBefore) {
        busyMs.push(performance.now() - busySince);
        busySince = NaN;
      }
      const b = bars[i];
      view.onBar(b, s);
      const a = performance.now();
      const r: SignalResult = s.onBar!(b, view);
      const viaPromise = r instanceof Promise;
      const sigs = viaPromise ? await r : r;
      const us = (performance.now() - a) * 1000;
      view.apply(sigs);
      busy = await lifecycleBusy(s);
      if (!busyBefore && busy) busySince = a;
      if (performance.now() - slot > 50) slot = performance.now(); // no burst after a stall
      // Statistics from the first promotion on: both classes then score with retrained models of
      // the same parameters (the bundle's larger model, and the JIT warm-up, stay out).
      if (promotions === 0) continue;
      counted++;
      if (busyBefore || busy) {
        lat.during.push(us);
        if (!viaPromise) sync.during.push(us);
      } else {
        lat.without.push(us);
        if (!viaPromise) sync.without.push(us);
      }
      if (!busyBefore && busy) lat.starting.push(us);
      (waitDuring ? wait.during : wait.without).push(waitUs);
    }
    await s.lifecycleIdle();
    if (busySince === busySince) busyMs.push(performance.now() - busySince);
  } finally {
    await s.finish?.();
    await s.close();
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  const rt = events.filter((e) => e.type === "retrain");
  const trained = rt.filter((e) => e.version !== null);
  // Wall time from a trained retrain's event (the worker answered) to its promotion: the new
  // model's scorer built and swapped in, on the main thread.
  const swapMs: number[] = [];
  events.forEach((e, k) => {
    if (e.type !== "retrain" || e.version === null) return;
    const p = events.findIndex((x, j) => j > k && x.type === "promoted");
    if (p > k) swapMs.push(eventAt[p] - eventAt[k]);
  });
  const without = stats(lat.without), during = stats(lat.during);
  return {
    options: o,
    bars: bars.length,
    decisions: counted,
    wallSeconds,
    retrains: trained.length,
    skipped: rt.length - trained.length,
    promoted: events.filter((e) => e.type === "promoted").length,
    lifecycleErrors: errors,
    rowsUsed: trained.map((e) => e.rowsUsed),
    trainMs: trained.map((e) => e.trainMs),
    busyMs,
    swapMs,
    without,
    during,
    starting: stats(lat.starting),
    ratio: during.p99Us / without.p99Us,
    syncWithout: stats(sync.without),
    syncDuring: stats(sync.during),
    waitWithout: stats(wait.without),
    waitDuring: stats(wait.during),
  };
}

/** The printed block: both classes, the ratio and the goal. */
export function formatRetrainBench(r: RetrainBenchResult): string {
  const o = r.options;
  const f = (s: LatencyClass) =>
    `p50 ${s.p50Us.toFixed(1)} µs  p99 ${s.p99Us.toFixed(1)} µs  max ${
      s.maxUs.toFixed(0)
    } µs  (n=${s.n})`;
  const med = (xs: number[]) => {
    if (xs.length === 0) return NaN;
    const s = [...xs].sort((a, b) => a - b);
    return s[s.length >> 1];
  };
  const met = r.ratio <= 2;
  const out = [
    `retrain vs decisions, ml (models/default) on ${r.bars} real BTCUSDT+ETHUSDT 1m bars ` +
    `(${o.days} days), background lifecycle + worker-thread training (the daemon's options):`,
    `  schedule every ${o.everyMs / HOUR} h on the last ${o.trainWindowMs / HOUR} h, params ${
      JSON.stringify(o.params)
    }, pace ≥ ${o.paceUs} µs/decision, ${r.wallSeconds.toFixed(1)} s wall`,
    `  retrains: ${r.retrains} trained (${r.skipped} skipped for rows, ${r.promoted} promoted, ${r.lifecycleErrors.length} errors); median ${
      Math.round(med(r.rowsUsed))
    } rows, build + train ${Math.round(med(r.trainMs))} ms, in flight ${
      Math.round(med(r.busyMs))
    } ms (median)`,
    `  decisions timed (from the first promotion on): ${r.decisions} (${r.during.n} during a retrain, ${r.without.n} without)`,
    `  hook latency, no retrain in flight   ${f(r.without)}`,
    `  hook latency, retrain in flight      ${f(r.during)}`,
    `    of which the hooks starting one    ${f(r.starting)}`,
    `  synchronous hooks only (no onnxruntime audit): without p99 ${
      r.syncWithout.p99Us.toFixed(1)
    } µs (n=${r.syncWithout.n}), during p99 ${
      r.syncDuring.p99Us.toFixed(1)
    } µs (n=${r.syncDuring.n})`,
    `  p99 during ÷ p99 without ${r.ratio.toFixed(2)}× (goal ≤ 2×): ${met ? "met" : "NOT met"}`,
    `  event-loop wait before a decision (not in the goal): without ${
      r.waitWithout.p99Us.toFixed(0)
    } µs p99 / ${r.waitWithout.maxUs.toFixed(0)} µs max; during ${
      r.waitDuring.p99Us.toFixed(0)
    } µs p99 / ${r.waitDuring.maxUs.toFixed(0)} µs max; worker answer → new model live ${
      Math.round(med(r.swapMs))
    } ms median, ${
      Math.round(r.swapMs.length ? Math.max(...r.swapMs) : NaN)
    } ms max (scorer built and swapped on the main thread)`,
  ];
  if (r.lifecycleErrors.length) out.push(`  lifecycle errors: ${r.lifecycleErrors.join("; ")}`);
  if (r.during.n < 100) {
    out.push(`  (only ${r.during.n} decisions fell during a retrain: the p99 is not meaningful)`);
  }
  return out.join("\n");
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  const r = await runRetrainBench(quick ? RETRAIN_BENCH_QUICK : RETRAIN_BENCH_FULL);
  console.log(formatRetrainBench(r));
}
