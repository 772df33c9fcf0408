/**
 * The `ml` strategy (src/strategy/ml.ts) on real data: 30 days of Binance USDⓈ-M BTCUSDT and
 * ETHUSDT 1m bars with their settled funding (../shared/data), the shipped `models/default`
 * bundle, and a Bitget v2 books15/trade/ticker replay for the micro style.
 *
 * The StrategyView here is a harness, not a mock of an external system: it keeps the position the
 * strategy's own signals open and close, triggers the signalled stop / take-profit against each
 * later bar's high/low (stop first when a bar touches both) and reports that close through
 * onPositionClosed, as the engine's plan orders would.
 */
import assert from "node:assert/strict";
import { attachSettledFunding, type Bar, runCandleBatch } from "../src/features/candle.ts";
import { makeLabels } from "../src/features/labels.ts";
import { runMicroBatch } from "../src/features/micro.ts";
import { type MicroInput, MicroSampler } from "../src/features/micro_input.ts";
import { featureSet, projection } from "../src/features/registry.ts";
import { loadReplayFrames } from "../src/ingest/replay_frames.ts";
import type { MarketEvent } from "../src/market/events.ts";
import { readBundleMeta, writeBundle } from "../src/model/bundle.ts";
import { Scorer } from "../src/model/scorer.ts";
import { train } from "../src/model/train/gbdt.ts";
import { parseParams } from "../src/model/train/params.ts";
import { parseTrainArgs, runTrain } from "../src/cli/train.ts";
import { importCsv } from "../src/store/import_csv.ts";
import { Store } from "../src/store/store.ts";
import {
  createMlStrategy,
  type MlStrategy,
  parseMlConfig,
  type RetrainLogEntry,
} from "../src/strategy/ml.ts";
import type {
  ClosedBar,
  EnterSignal,
  PositionView,
  Signal,
  StrategyView,
} from "../src/strategy/types.ts";

const DATA = new URL("../../shared/data/", import.meta.url).pathname;
const MODEL = new URL("../models/default", import.meta.url).pathname;
const MIN = 60_000;

function csvRows(file: string): string[][] {
  return Deno.readTextFileSync(DATA + file).trim().split("\n").slice(1).map((l) => l.split(","));
}

/** 1m bars of `sym` in [from, to) (bar start) with the last settled funding at each close. */
function loadBars(sym: string, file: string, funding: string, from: number, to: number): Bar[] {
  const bars: Bar[] = csvRows(file)
    .map((r) => ({ ts: +r[0], open: +r[2], high: +r[3], low: +r[4], close: +r[5], volume: +r[6] }))
    .filter((b) => b.ts >= from && b.ts < to);
  assert.ok(bars.length > 0, `${sym}: no bars`);
  const settled = csvRows(funding).map((r) => ({ ts: +r[0], rate: +r[2] }));
  return attachSettledFunding(bars, settled, MIN);
}

const BTC_FILE = "binance_usdm_BTCUSDT_1m_20250504-20250603.csv";
const ETH_FILE = "binance_usdm_ETHUSDT_1m_20250504-20250615.csv";
const BTC_FUND = "binance_usdm_BTCUSDT_funding_8h_20250306-20250603.csv";
const ETH_FUND = "binance_usdm_ETHUSDT_funding_8h_20250306-20250615.csv";

let cached: { btc: Bar[]; eth: Bar[] } | null = null;
/** The 30 days both symbols cover (the BTC file's span). */
function data30(): { btc: Bar[]; eth: Bar[] } {
  if (cached) return cached;
  const btc = loadBars("BTCUSDT", BTC_FILE, BTC_FUND, 0, Infinity);
  const eth = loadBars("ETHUSDT", ETH_FILE, ETH_FUND, btc[0].ts, btc[btc.length - 1].ts + MIN);
  cached = { btc, eth };
  return cached;
}

/** Both symbols' bars as ClosedBars in close-time order (BTC first at equal times). */
function stream(bySym: Record<string, Bar[]>, from = -Infinity, to = Infinity): ClosedBar[] {
  const out: ClosedBar[] = [];
  for (const [symbol, bars] of Object.entries(bySym)) {
    for (const b of bars) {
      if (b.ts < from || b.ts >= to) continue;
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
  const order = Object.keys(bySym);
  return out.sort((a, b) => a.ts - b.ts || order.indexOf(a.symbol) - order.indexOf(b.symbol));
}

interface Rec {
  i: number;
  time: number;
  symbol: string;
  name: string;
  value: number;
}
interface Held extends PositionView {
  stop?: number;
  tp?: number;
}
interface Close {
  symbol: string;
  time: number;
  openedAt: number;
  reason: string;
}

/** The test's StrategyView: own-signal positions, plan-order stops, recorded values. */
class Harness implements StrategyView {
  time = 0;
  /** Index of the input being processed (bars or events). */
  i = -1;
  feeRate = 0.0006;
  readonly pos = new Map<string, Held>();
  readonly px = new Map<string, number>();
  readonly records: Rec[] = [];
  readonly entries: { time: number; sig: EnterSignal }[] = [];
  readonly closes: Close[] = [];
  /** Times a decision hook ran per symbol while flat (for the entry-rule check). */
  readonly flatAt = new Set<string>();

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
    return this.feeRate;
  }
  tradable(): boolean {
    return true;
  }
  record(symbol: string, name: string, value: number): void {
    this.records.push({ i: this.i, time: this.time, symbol, name, value });
  }

  close(symbol: string, reason: string): void {
    const p = this.pos.get(symbol)!;
    this.closes.push({ symbol, time: this.time, openedAt: p.openedAt, reason });
    this.pos.delete(symbol);
  }

  apply(sigs: Signal[] | void): void {
    for (const s of sigs ?? []) {
      if (s.kind === "exit") {
        assert.ok(this.pos.has(s.symbol), `exit ${s.reason} on flat ${s.symbol}`);
        this.close(s.symbol, s.reason);
      } else {
        assert.ok(!this.pos.has(s.symbol), `enter on open ${s.symbol}`);
        this.entries.push({ time: this.time, sig: s });
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

/** Feeds closed bars at their close time; plan-order stops/TPs are checked on each later bar. */
async function driveBars(s: MlStrategy, bars: ClosedBar[], h: Harness): Promise<void> {
  for (let i = 0; i < bars.length; i++) {
    const b = bars[i];
    h.i = i;
    h.time = b.ts + b.intervalMs;
    h.px.set(b.symbol, b.close);
    const p = h.pos.get(b.symbol);
    if (p) {
      const long = p.side === "long";
      const hitStop = p.stop !== undefined && (long ? b.low <= p.stop : b.high >= p.stop);
      const hitTp = p.tp !== undefined && (long ? b.high >= p.tp : b.low <= p.tp);
      if (hitStop || hitTp) {
        const reason = hitStop ? "stop_loss" : "take_profit";
        h.close(b.symbol, reason);
        s.onPositionClosed!(b.symbol, reason, h.time);
      }
    }
    if (!h.pos.has(b.symbol)) h.flatAt.add(`${h.time}|${b.symbol}`);
    const r = s.onBar!(b, h);
    h.apply(r instanceof Promise ? await r : r);
  }
}

/** Records grouped by `${time}|${symbol}` → name → value. */
function byDecision(recs: Rec[]): Map<string, Record<string, number>> {
  const m = new Map<string, Record<string, number>>();
  for (const r of recs) {
    const k = `${r.time}|${r.symbol}`;
    const o = m.get(k) ?? {};
    o[r.name] = r.value;
    m.set(k, o);
  }
  return m;
}

/** Batch path: runCandleBatch → model order (float32) → Scorer.scoreBatch, per bar close. */
async function batchScores(
  bars: Bar[],
  scorer: Scorer,
  names: readonly string[],
): Promise<
  { out: Float32Array; feats: Float64Array; cols: number; closeIdx: Map<number, number> }
> {
  const m = runCandleBatch(bars, MIN);
  const idx = projection(featureSet("candle"), names);
  const rows = new Float32Array(m.rows * idx.length);
  for (let i = 0; i < m.rows; i++) {
    for (let j = 0; j < idx.length; j++) rows[i * idx.length + j] = m.values[i * m.cols + idx[j]];
  }
  const out = await scorer.scoreBatch(rows, m.rows);
  const closeIdx = new Map(bars.map((b, i) => [b.ts + MIN, i]));
  return { out, feats: m.values, cols: m.cols, closeIdx };
}

const CFG = {
  minProb: 0.35,
  minMargin: 0.05,
  stopLossBps: 30,
  takeProfitBps: 45,
  cooldownMs: "5m",
  maxHoldMs: "10m",
};

Deno.test("ml strategy: default bundle over 30 days of BTC+ETH 1m bars — rule, stops, cooldown, max hold, ORT parity, causality", async () => {
  const { btc, eth } = data30();
  const bars = stream({ BTCUSDT: btc, ETHUSDT: eth });
  const cfg = parseMlConfig({ ...CFG, model: MODEL });
  const s = await createMlStrategy(cfg, {});
  assert.equal(s.setup.style, "candle");
  assert.deepEqual(s.barIntervals, ["1m"]);
  const h = new Harness(["BTCUSDT", "ETHUSDT"]);
  const t0 = performance.now();
  await driveBars(s, bars, h);
  const ms = performance.now() - t0;
  console.log(
    `  full chain: ${bars.length} bars in ${ms.toFixed(0)} ms = ${
      (ms * 1000 / bars.length).toFixed(1)
    } µs/bar; ${s.scoredRows} rows scored; ${h.entries.length} entries, ${h.closes.length} closes`,
  );
  await s.close();
  assert.ok(h.entries.length >= 50, `entries ${h.entries.length}`);

  // 1. Entry rule: every decision taken while flat enters exactly when the recorded probabilities
  //    pass minProb and minMargin (and on the side that passes).
  const dec = byDecision(h.records);
  const entryAt = new Map(h.entries.map((e) => [`${e.time}|${e.sig.symbol}`, e.sig]));
  let flatDecisions = 0;
  for (const [k, r] of dec) {
    if (!h.flatAt.has(k)) continue;
    flatDecisions++;
    const long = r.p_long >= CFG.minProb && r.p_long - r.p_short >= CFG.minMargin;
    const short = r.p_short >= CFG.minProb && r.p_short - r.p_long >= CFG.minMargin;
    const want = long ? "long" : short ? "short" : null;
    assert.equal(entryAt.get(k)?.side ?? null, want, `decision ${k}: ${JSON.stringify(r)}`);
    assert.equal(r.action, want === "long" ? 1 : want === "short" ? -1 : 0);
    if (want) assert.equal(entryAt.get(k)!.winProb, want === "long" ? r.p_long : r.p_short);
  }
  for (const k of entryAt.keys()) assert.ok(dec.has(k), `entry ${k} without recorded scores`);
  assert.ok(flatDecisions > 10_000, `flat decisions ${flatDecisions}`);

  // 2. Stop / take-profit at the configured distance from the decision price (the bar close).
  const closeOf = new Map(bars.map((b) => [`${b.ts + MIN}|${b.symbol}`, b.close]));
  for (const { time, sig } of h.entries) {
    const p = closeOf.get(`${time}|${sig.symbol}`)!;
    assert.equal(sig.price, p);
    const d = sig.side === "long" ? 1 : -1;
    assert.ok(Math.abs(sig.stopPrice! - p * (1 - d * 30e-4)) <= 1e-9 * p);
    assert.ok(Math.abs(sig.takeProfitPrice! - p * (1 + d * 45e-4)) <= 1e-9 * p);
    assert.equal(sig.payoff, 1.5);
  }
  const reasons = new Set(h.closes.map((c) => c.reason));
  for (const r of ["stop_loss", "take_profit", "max_hold"]) assert.ok(reasons.has(r), `no ${r}`);

  // 3. Cooldown: no entry on a symbol within 5 min of its previous close (any reason).
  for (const c of h.closes) {
    const early = h.entries.find((e) =>
      e.sig.symbol === c.symbol && e.time >= c.time && e.time < c.time + 5 * MIN
    );
    assert.equal(early, undefined, `entry ${early?.time} within cooldown of close ${c.time}`);
  }
  // 4. Max hold: max_hold exits at the first bar close ≥ 10 min after the entry; nothing older.
  for (const c of h.closes) {
    const age = c.time - c.openedAt;
    assert.ok(age <= 10 * MIN, `${c.symbol} held ${age} ms (${c.reason})`);
    if (c.reason === "max_hold") assert.equal(age, 10 * MIN);
  }

  // 5. Scores equal the independent batch path on the same bars (runCandleBatch + scoreBatch).
  const meta = await readBundleMeta(MODEL);
  const scorer = await Scorer.load(MODEL, meta.featureNames);
  let compared = 0;
  for (const [sym, sb] of [["BTCUSDT", btc], ["ETHUSDT", eth]] as const) {
    const b = await batchScores(sb, scorer, meta.featureNames);
    for (const r of h.records) {
      if (r.symbol !== sym || !r.name.startsWith("p_")) continue;
      const i = b.closeIdx.get(r.time)!;
      const col = meta.classes!.indexOf(r.name.slice(2));
      const want = b.out[i * 3 + col];
      assert.ok(
        Math.abs(r.value - want) <= 1e-6,
        `${sym} ${r.time} ${r.name}: ${r.value} vs ${want}`,
      );
      compared++;
    }
  }
  await scorer.release();
  assert.equal(compared, s.scoredRows * 3);

  // 6. Causality: a run on a prefix of the stream records exactly what the full run recorded
  //    while processing that prefix (a cut in the middle of one close time included).
  const cut = Math.floor(bars.length * 0.3) + 1;
  const s2 = await createMlStrategy(cfg, {});
  const h2 = new Harness(["BTCUSDT", "ETHUSDT"]);
  await driveBars(s2, bars.slice(0, cut), h2);
  await s2.close();
  const fullPrefix = h.records.filter((r) => r.i < cut);
  assert.ok(fullPrefix.length > 1000);
  assert.deepEqual(h2.records, fullPrefix);
  assert.deepEqual(h2.entries, h.entries.filter((e) => e.time <= bars[cut - 1].ts + MIN));
});

Deno.test("ml strategy: ATR-based stops use the bar's atr14_bps; config errors are clear", async () => {
  const { btc } = data30();
  const part = btc.slice(0, 3 * 1440);
  const cfg = parseMlConfig({
    ...CFG,
    model: MODEL,
    stopLossAtr: 1.5,
    takeProfitAtr: 2.5,
    stopLossBps: 30,
  });
  const s = await createMlStrategy(cfg, {});
  const h = new Harness(["BTCUSDT"]);
  await driveBars(s, stream({ BTCUSDT: part }), h);
  await s.close();
  assert.ok(h.entries.length > 5, `entries ${h.entries.length}`);
  const m = runCandleBatch(part, MIN);
  const atrCol = m.names.indexOf("atr14_bps");
  for (const { time, sig } of h.entries) {
    const i = part.findIndex((b) => b.ts + MIN === time);
    const atr = m.values[i * m.cols + atrCol];
    assert.ok(atr > 0);
    const d = sig.side === "long" ? 1 : -1;
    const p = sig.price;
    assert.ok(Math.abs(sig.stopPrice! - p * (1 - (d * 1.5 * atr) / 1e4)) <= 1e-9 * p);
    assert.ok(Math.abs(sig.takeProfitPrice! - p * (1 + (d * 2.5 * atr) / 1e4)) <= 1e-9 * p);
  }

  assert.throws(
    () => parseMlConfig({ cooldownMs: "5 minutes" }),
    /ml\.cooldownMs: invalid duration/,
  );
  assert.throws(() => parseMlConfig({ minProb: 2 }), /ml\.minProb/);
  assert.throws(() => parseMlConfig({ bogus: 1 }), /ml\.\(root\).*bogus/);
  await assert.rejects(
    createMlStrategy(parseMlConfig({ model: null }), {}),
    /no model bundle/,
  );
  await assert.rejects(
    createMlStrategy(
      parseMlConfig({
        model: MODEL,
        retrain: { enabled: true, params: { objective: "binary" } },
      }),
      {},
    ),
    /objective comes from the model's label definition/,
  );
});

Deno.test("ml strategy: walk-forward retraining over 5 days (48 h window, every 24 h)", async () => {
  const { btc, eth } = data30();
  const from = btc[0].ts, to = from + 5 * 1440 * MIN;
  const bars = stream({ BTCUSDT: btc, ETHUSDT: eth }, from, to);
  const W = 48 * 3600_000, E = 24 * 3600_000, H = 15 * MIN;
  const cfg = parseMlConfig({
    ...CFG,
    model: MODEL,
    retrain: {
      enabled: true,
      // The schedule alone, each model promoted at once (the lifecycle has its own test).
      shadowForMs: 0,
      sharpeThreshold: null,
      psiThreshold: 1e9,
      trainWindowMs: "48h",
      everyMs: "24h",
      minRows: 3000,
      params: { num_iterations: 20, learning_rate: 0.1, num_leaves: 15, min_data_in_leaf: 50 },
    },
  });
  const s = await createMlStrategy(cfg, {});
  const h = new Harness(["BTCUSDT", "ETHUSDT"]);
  await driveBars(s, bars, h);
  await s.close();

  // Expected schedule: every midnight UTC after the first bar, up to the last close.
  const firstClose = bars[0].ts + MIN, lastClose = bars[bars.length - 1].ts + MIN;
  const grid: number[] = [];
  for (let g = (Math.floor(firstClose / E) + 1) * E; g <= lastClose; g += E) grid.push(g);
  const log = s.retrainLog;
  assert.equal(log.length, grid.length);
  const trained = log.filter((e) => e.skipped === null);
  for (const [k, e] of log.entries()) {
    assert.equal(e.scheduledTs, grid[k]);
    assert.equal(e.time, grid[k]); // 1m closes fall on the grid
    // Rows the strategy had seen by then: every bar closed before t, plus BTC's bar at t
    // (BTC is delivered first; the retrain runs inside its hook).
    const seen = bars.filter((b) =>
      b.ts + MIN < e.time || (b.ts + MIN === e.time && b.symbol === "BTCUSDT")
    );
    // A row is labelled when the same symbol's bar closing H later has been seen too.
    const seenAt = new Set(seen.map((b) => `${b.ts + MIN}|${b.symbol}`));
    const want = seen.filter((b) =>
      b.ts + MIN >= e.time - W && seenAt.has(`${b.ts + MIN + H}|${b.symbol}`)
    ).length;
    if (want < 3000) {
      assert.match(e.skipped ?? "", /minRows/);
      continue;
    }
    assert.equal(e.skipped, null);
    assert.equal(e.rowsUsed, want);
    assert.ok(e.lastLabelEndTs <= e.time, `label end ${e.lastLabelEndTs} after ${e.time}`);
    assert.equal(e.lastLabelEndTs, e.time); // BTC's row decided at t − 15 min
    assert.equal(e.firstRowTs, Math.max(firstClose, e.time - W));
    assert.equal(e.trees, 20 * 3);
  }
  assert.ok(trained.length >= 3, `trained ${trained.length} of ${log.length}`);
  console.log(
    `  retrains: ${trained.length} trained / ${log.length} due; rows ${
      trained.map((e) => e.rowsUsed).join(", ")
    }; train ms ${trained.map((e) => e.trainMs.toFixed(0)).join(", ")}`,
  );

  // Predictions change after a retrain: the recorded probabilities after the first retrain differ
  // from the bundle's on the same bars, and the recorded model version counts the retrains.
  const first = trained[0].time;
  const meta = await readBundleMeta(MODEL);
  const scorer = await Scorer.load(MODEL, meta.featureNames);
  const b = await batchScores(btc.filter((x) => x.ts < to), scorer, meta.featureNames);
  await scorer.release();
  let before = 0, after = 0, changed = 0;
  for (const r of h.records) {
    if (r.symbol !== "BTCUSDT" || r.name !== "p_long") continue;
    const bundle = b.out[b.closeIdx.get(r.time)! * 3 + 1];
    if (r.time < first) {
      assert.ok(Math.abs(r.value - bundle) <= 1e-6);
      before++;
    } else {
      after++;
      if (Math.abs(r.value - bundle) > 1e-3) changed++;
    }
  }
  assert.ok(before > 100 && after > 100, `before ${before} after ${after}`);
  assert.ok(changed > 0.9 * after, `only ${changed}/${after} predictions changed`);
  const versions = h.records.filter((r) => r.name === "model").map((r) => r.value);
  assert.equal(Math.max(...versions), trained.length);

  // Causality with retraining: a prefix run (cut 7 h after the second trained model, between
  // BTC's and ETH's bar of one close time) records exactly what the full run recorded over that
  // prefix, and its retrain log is the full run's up to the cut.
  const cut = bars.findIndex((x) => x.ts + MIN === trained[1].time + 7 * 3600_000) + 1;
  assert.ok(cut > 0 && bars[cut - 1].symbol === "BTCUSDT");
  const s2 = await createMlStrategy(cfg, {});
  const h2 = new Harness(["BTCUSDT", "ETHUSDT"]);
  await driveBars(s2, bars.slice(0, cut), h2);
  await s2.close();
  assert.ok(h2.records.some((r) => r.name === "model" && r.value === 2));
  assert.deepEqual(h2.records, h.records.filter((r) => r.i < cut));
  const strip = (e: RetrainLogEntry) => ({ ...e, trainMs: 0 });
  assert.deepEqual(
    s2.retrainLog.map(strip),
    log.filter((e) => e.time <= bars[cut - 1].ts + MIN).map(strip),
  );
});

Deno.test("ml strategy: no bundle + retraining trades only once the first model exists", async () => {
  const { btc, eth } = data30();
  const from = btc[0].ts, to = from + 3 * 1440 * MIN;
  const bars = stream({ BTCUSDT: btc, ETHUSDT: eth }, from, to);
  const cfg = parseMlConfig({
    ...CFG,
    model: null,
    retrain: {
      enabled: true,
      sharpeThreshold: null,
      psiThreshold: 1e9,
      trainWindowMs: "24h",
      everyMs: "12h",
      minRows: 1000,
      params: { num_iterations: 10, min_data_in_leaf: 50 },
      label: { features: "candle", interval: "1m", objective: "multiclass", horizon: 10 },
    },
  });
  const s = await createMlStrategy(cfg, {});
  assert.equal(s.setup.featureNames.length, featureSet("candle").features.length);
  const h = new Harness(["BTCUSDT", "ETHUSDT"]);
  await driveBars(s, bars, h);
  await s.close();
  const firstModel = s.retrainLog.find((e) => e.skipped === null);
  assert.ok(firstModel, "no retrain trained a model");
  assert.ok(h.records.length > 0);
  assert.ok(h.records.every((r) => r.time >= firstModel.time));
  assert.ok(h.entries.every((e) => e.time >= firstModel.time));
  assert.ok(
    h.records.some((r) => r.time === firstModel.time && r.name === "model" && r.value === 1),
  );
});

Deno.test("ml strategy: regression bundle — entry threshold = entryBps + 2 × taker fee + slippage", async () => {
  const { btc } = data30();
  const trainBars = btc.slice(0, 10 * 1440), testBars = btc.slice(10 * 1440, 13 * 1440);
  // A tiny regression model of the 15-bar forward return (bps) on real bars, trained here.
  const m = runCandleBatch(trainBars, MIN);
  const lab = makeLabels(
    Float64Array.from(trainBars, (b) => b.ts),
    Float64Array.from(trainBars, (b) => b.close),
    { horizon: 15, stepMs: MIN, takerFeeBps: 0, slippageBps: 0, spreadBps: 0 },
  );
  const keep: number[] = [];
  for (let i = 0; i < m.rows; i++) if (Number.isFinite(lab.fwdRetBps[i])) keep.push(i);
  const values = new Float64Array(keep.length * m.cols);
  keep.forEach((r, k) => {
    for (let j = 0; j < m.cols; j++) values[k * m.cols + j] = Math.fround(m.values[r * m.cols + j]);
  });
  const { model } = await train(
    {
      numRows: keep.length,
      numFeatures: m.cols,
      values,
      labels: Float64Array.from(keep, (r) => lab.fwdRetBps[r]),
      featureNames: [...m.names],
    },
    parseParams([
      "objective=regression",
      "num_iterations=40",
      "learning_rate=0.1",
      "num_leaves=31",
      "min_data_in_leaf=50",
      "num_threads=1",
      "seed=7",
    ]),
  );
  const dir = await Deno.makeTempDir({ prefix: "strategy_ml_test_" });
  try {
    await writeBundle(`${dir}/reg`, model, {
      label: { definition: "fwd 15 bars", horizonMs: 15 * MIN },
    });
    const fee = 0.0002, slip = 1, entry = 0.5; // cost = 2 × 2 + 1 = 5 bps, threshold 5.5 bps
    const cfg = parseMlConfig({
      model: `${dir}/reg`,
      entryBps: entry,
      slippageBps: slip,
      exitBps: 1,
    });
    const s = await createMlStrategy(cfg, {});
    assert.equal(s.setup.kind, "regression");
    assert.equal(s.setup.interval, "1m"); // no training section: inferred candle, default 1m
    const h = new Harness(["BTCUSDT"]);
    h.feeRate = fee;
    await driveBars(s, stream({ BTCUSDT: testBars }), h);
    await s.close();

    // Scores = Scorer.fromModel on the independent batch rows.
    const direct = await Scorer.fromModel(model);
    const b = await batchScores(testBars, direct, model.featureNames);
    await direct.release();
    const dec = byDecision(h.records);
    const thr = entry + 2 * fee * 1e4 + slip;
    let nearMiss = 0, entered = 0, reversals = 0;
    for (const [k, r] of dec) {
      const t = Number(k.split("|")[0]);
      const want = b.out[b.closeIdx.get(t)!];
      assert.ok(Math.abs(r.pred_bps - want) <= 1e-4 * Math.max(1, Math.abs(want)), `${k}`);
      assert.ok(Math.abs(r.cost_bps - (2 * fee * 1e4 + slip)) <= 1e-12);
      if (!h.flatAt.has(k)) {
        if (r.action === 2) reversals++;
        continue;
      }
      const side = r.pred_bps >= thr ? 1 : r.pred_bps <= -thr ? -1 : 0;
      assert.equal(r.action, side, `${k}: pred ${r.pred_bps} thr ${thr}`);
      if (side !== 0) entered++;
      else if (Math.abs(r.pred_bps) >= entry) nearMiss++; // beats entryBps, not the costs
    }
    assert.ok(entered > 0, "no regression entry");
    assert.ok(nearMiss > 0, "no prediction between entryBps and entryBps + cost");
    // Reversal exits: a long is closed when pred < −exitBps (and a short when pred > exitBps).
    for (const c of h.closes.filter((c) => c.reason === "reversal")) {
      const r = dec.get(`${c.time}|BTCUSDT`)!;
      const side = h.entries.findLast((e) => e.time === c.openedAt)!.sig.side;
      assert.ok(side === "long" ? r.pred_bps < -1 : r.pred_bps > 1, `reversal at ${c.time}`);
    }
    assert.equal(reversals, h.closes.filter((c) => c.reason === "reversal").length);
    console.log(
      `  regression: ${entered} entries, ${nearMiss} near misses, ${reversals} reversals`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ml strategy: micro bundle on a Bitget books15/trade/ticker replay decides ≤ once per second", async () => {
  const dir = await Deno.makeTempDir({ prefix: "strategy_ml_micro_" });
  try {
    // A micro model trained from the 1 s top-15 book + trade-flow recording of the same session.
    const db = `${dir}/m.db`;
    const store = Store.open(db, { create: true });
    try {
      await importCsv(
        store,
        `${DATA}binance_usdm_BTCUSDT_20240718T2357_book15_1s.csv`,
        "book15-1s",
        "BTCUSDT",
      );
      await importCsv(
        store,
        `${DATA}binance_usdm_BTCUSDT_20240718T2357_trades_1s.csv`,
        "trades-1s",
        "BTCUSDT",
      );
    } finally {
      store.close();
    }
    const opts = parseTrainArgs([
      db,
      ...["--features", "micro", "--symbols", "BTCUSDT", "--horizon", "10"],
      ...["--fee-bps", "0", "--slippage-bps", "0", "--spread-bps", "0", "--out", `${dir}/micro`],
      "num_iterations=10",
      "min_data_in_leaf=5",
    ]);
    if (opts === "help") throw new Error("unexpected help");
    await runTrain({ ...opts, log: () => {} });

    const frames = await loadReplayFrames(
      new URL(
        "bitget_replay/bitget_v2_public_BTCUSDT-ETHUSDT_20240718T2357.jsonl.gz",
        `file://${DATA}`,
      ),
    );
    const events: MarketEvent[] = frames.flatMap((f) => f.events);
    const s = await createMlStrategy(parseMlConfig({ model: `${dir}/micro`, minProb: 0.4 }), {});
    assert.equal(s.setup.style, "micro");
    assert.deepEqual(s.barIntervals, []);
    const h = new Harness(["BTCUSDT", "ETHUSDT"]);
    // Independent path: the same sampler → engine → scorer, batch-scored afterwards.
    const meta = await readBundleMeta(`${dir}/micro`);
    const samplers = new Map(h.symbols.map((x) => [x, new MicroSampler(x, "books15")]));
    const inputs = new Map<string, MicroInput[]>(h.symbols.map((x) => [x, []]));
    /** Per decision time: the index (per symbol) of the last sample emitted by then. */
    const lastSample = new Map<string, number>();
    for (let i = 0; i < events.length; i++) {
      const ev = events[i];
      h.i = i;
      h.time = ev.ts;
      if (ev.kind === "book" && ev.channel === "books15" && ev.bids.length && ev.asks.length) {
        h.px.set(ev.symbol, (Number(ev.bids[0][0]) + Number(ev.asks[0][0])) / 2);
      }
      const sm = samplers.get(ev.symbol);
      if (sm) {
        const arr = inputs.get(ev.symbol)!;
        const n0 = arr.length;
        sm.push(ev, arr);
        if (arr.length > n0) lastSample.set(`${ev.ts}|${ev.symbol}`, arr.length - 1);
      }
      if (h.pos.has(ev.symbol) && h.time - h.pos.get(ev.symbol)!.openedAt > 60_000) {
        assert.fail(`${ev.symbol} position older than its max hold`);
      }
      const r = s.onEvent!(ev, h);
      h.apply(r instanceof Promise ? await r : r);
    }
    await s.close();

    const dec = byDecision(h.records);
    assert.ok(dec.size > 300, `decisions ${dec.size}`);
    // At most one decision per symbol per second.
    const perSecond = new Map<string, number>();
    for (const k of dec.keys()) {
      const [t, sym] = k.split("|");
      const sk = `${Math.floor(Number(t) / 1000)}|${sym}`;
      perSecond.set(sk, (perSecond.get(sk) ?? 0) + 1);
    }
    for (const [k, n] of perSecond) assert.ok(n <= 1, `${n} decisions in second ${k}`);
    // Recorded scores = batch scoring of the same samples through runMicroBatch.
    const scorer = await Scorer.load(`${dir}/micro`, meta.featureNames);
    const idx = projection(featureSet("micro"), meta.featureNames);
    let compared = 0;
    for (const sym of h.symbols) {
      const mm = runMicroBatch(inputs.get(sym)!, {});
      const rows = new Float32Array(mm.rows * idx.length);
      for (let i = 0; i < mm.rows; i++) {
        for (let j = 0; j < idx.length; j++) {
          rows[i * idx.length + j] = mm.values[i * mm.cols + idx[j]];
        }
      }
      const out = await scorer.scoreBatch(rows, mm.rows);
      for (const [k, r] of dec) {
        if (!k.endsWith(`|${sym}`)) continue;
        const i = lastSample.get(k)!;
        for (const [c, name] of meta.classes!.entries()) {
          assert.ok(Math.abs(r[`p_${name}`] - out[i * 3 + c]) <= 1e-6, `${k} p_${name}`);
        }
        compared++;
      }
    }
    await scorer.release();
    assert.equal(compared, dec.size);
    console.log(
      `  micro: ${events.length} events, ${dec.size} decisions, ${h.entries.length} entries`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
