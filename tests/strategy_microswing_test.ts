/**
 * The `microswing` strategy on the real order-book/trade recordings in shared/data/bitget_replay
 * (Binance USDT-M activity in Bitget v2 wire format: 2023 BTCUSDT with real mark/index, 2024
 * BTCUSDT+ETHUSDT), decoded by the collector's own parser and Normalizer (loadReplayFrames).
 *
 * An in-test StrategyView plays the engine: positions open/close from the strategy's signals,
 * and the venue's stop-loss / take-profit fire when the book mid crosses them (then
 * onPositionClosed is called). Every decision is checked against an independent run of the
 * feature layer (a separate MicroSampler + runMicroBatch over the same events): gates, triggers,
 * ATR stop/target distances, one decision per second, cooldown, max holding time, causality.
 */
import assert from "node:assert/strict";
import { Atr } from "../src/features/indicators.ts";
import { runMicroBatch } from "../src/features/micro.ts";
import { type MicroInput, MicroSampler } from "../src/features/micro_input.ts";
import { matrixColumn } from "../src/features/matrix.ts";
import { loadReplayFrames } from "../src/ingest/replay_frames.ts";
import type { MarketEvent } from "../src/market/events.ts";
import { StrategyConfigError } from "../src/strategy/config_parse.ts";
import {
  createMicroswingStrategy,
  type MicroswingConfig,
  MicroswingConfigSchema,
  parseMicroswingConfig,
} from "../src/strategy/microswing.ts";
import type {
  ClosedBar,
  PositionView,
  Signal,
  StrategyView,
  TradingStrategy,
} from "../src/strategy/types.ts";

const REPLAY = new URL("../../shared/data/bitget_replay/", import.meta.url);
const DATA = new URL("../../shared/data/", import.meta.url);

async function replayEvents(file: string): Promise<MarketEvent[]> {
  const frames = await loadReplayFrames(new URL(file, REPLAY));
  return frames.flatMap((f) => f.events);
}
const REC2023 = await replayEvents("bitget_v2_public_BTCUSDT_20230404T2358.jsonl.gz");
const REC2024 = await replayEvents("bitget_v2_public_BTCUSDT-ETHUSDT_20240718T2357.jsonl.gz");
const TAKER_FEE = 0.0006;

interface Rec {
  ev: number;
  symbol: string;
  name: string;
  value: number;
}
interface Emitted {
  ev: number;
  time: number;
  signal: Signal;
  before: PositionView | null;
}
interface Closed {
  symbol: string;
  time: number;
  openedAt: number;
  reason: string;
}

/** The engine's part for an event strategy (see file doc). */
class Harness implements StrategyView {
  time = -Infinity;
  readonly positions = new Map<string, PositionView & { stop?: number; tp?: number }>();
  readonly records: Rec[] = [];
  readonly emitted: Emitted[] = [];
  readonly closed: Closed[] = [];
  private readonly mids = new Map<string, number>();
  private readonly spreads = new Map<string, number>();
  private evIndex = -1;
  constructor(
    readonly strategy: TradingStrategy,
    readonly symbols: string[],
    readonly tradableFn: (s: string) => boolean = () => true,
    /** When true the "engine" declines every entry (risk said no): no position opens. */
    readonly declineEntries = false,
  ) {}
  position(s: string): PositionView | null {
    return this.positions.get(s) ?? null;
  }
  mid(s: string): number {
    return this.mids.get(s) ?? NaN;
  }
  spreadBps(s: string): number {
    return this.spreads.get(s) ?? NaN;
  }
  markPrice(s: string): number {
    return this.mid(s);
  }
  lastPrice(s: string): number {
    return this.mid(s);
  }
  takerFeeRate(): number {
    return TAKER_FEE;
  }
  tradable(s: string): boolean {
    return this.tradableFn(s);
  }
  record(symbol: string, name: string, value: number): void {
    this.records.push({ ev: this.evIndex, symbol, name, value });
  }
  private close(symbol: string, reason: string): void {
    const p = this.positions.get(symbol)!;
    this.positions.delete(symbol);
    this.closed.push({ symbol, time: this.time, openedAt: p.openedAt, reason });
  }
  bar(b: ClosedBar): void {
    this.strategy.onBar?.(b, this);
  }
  feed(ev: MarketEvent, i: number): void {
    this.evIndex = i;
    if (ev.ts > this.time) this.time = ev.ts;
    if (ev.kind === "book" && ev.top) {
      const mid = ev.top.mid;
      this.mids.set(ev.symbol, mid);
      this.spreads.set(ev.symbol, ev.top.spreadBps);
      const p = this.positions.get(ev.symbol);
      if (p) {
        const long = p.side === "long";
        const stop = p.stop !== undefined && (long ? mid <= p.stop : mid >= p.stop);
        const tp = p.tp !== undefined && (long ? mid >= p.tp : mid <= p.tp);
        if (stop || tp) {
          const reason = stop ? "stop_loss" : "take_profit";
          this.close(ev.symbol, reason);
          this.strategy.onPositionClosed?.(ev.symbol, reason, this.time);
        }
      }
    }
    const out = this.strategy.onEvent!(ev, this) as Signal[] | void;
    for (const s of out ?? []) {
      const before = this.positions.get(s.symbol) ?? null;
      this.emitted.push({ ev: i, time: this.time, signal: s, before: before && { ...before } });
      if (s.kind === "exit") {
        assert.ok(before, `exit of ${s.symbol} without a position`);
        this.close(s.symbol, s.reason);
      } else {
        assert.ok(!before, `enter on ${s.symbol} while in a position`);
        if (this.declineEntries) continue;
        this.positions.set(s.symbol, {
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

function run(
  events: MarketEvent[],
  cfg: Partial<MicroswingConfig>,
  opts: { bars?: ClosedBar[]; tradable?: (s: string) => boolean; decline?: boolean } = {},
): Harness {
  const strategy = createMicroswingStrategy(MicroswingConfigSchema.parse(cfg));
  const h = new Harness(strategy, ["BTCUSDT", "ETHUSDT"], opts.tradable, opts.decline);
  for (const b of opts.bars ?? []) h.bar(b);
  events.forEach((e, i) => h.feed(e, i));
  return h;
}

/** Independent feature reference: per symbol, the micro row of the newest second per event. */
function reference(events: MarketEvent[], symbol: string) {
  const sampler = new MicroSampler(symbol, "books15");
  const samples: MicroInput[] = [];
  const rowAt = new Map<number, number>();
  events.forEach((e, i) => {
    const n = samples.length;
    sampler.push(e, samples);
    if (samples.length > n && e.symbol === symbol) rowAt.set(i, samples.length - 1);
  });
  const m = runMicroBatch(samples);
  const col = (name: string) => matrixColumn(m, name);
  return {
    samples,
    rowAt,
    z: col("flow_delta_z_60s"),
    spread: col("spread_bps"),
    rv60: col("rv_60s"),
    imb: col("imb5_chg_5s"),
    markLast: col("mark_last_bps"),
  };
}

const near = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

const CFG: Partial<MicroswingConfig> = { zEntry: 2.5, cooldownMs: 30_000, maxHoldMs: 90_000 };

/**
 * Checks every decision and signal of `h` against the independent reference (see file doc).
 * `atrOf(symbol, sampleRow)` gives the expected ATR; returns counts.
 */
function checkRun(
  events: MarketEvent[],
  h: Harness,
  cfg: MicroswingConfig,
  atrOf?: (symbol: string, mid: number, rv60: number) => number,
) {
  const refs = new Map(h.symbols.map((s) => [s, reference(events, s)]));
  const atrExpected = atrOf ??
    ((_s: string, mid: number, rv60: number) =>
      cfg.fallbackRangeFactor * (rv60 / Math.sqrt(60)) * Math.sqrt(900) * 1e-4 * mid);
  // One decision per second per symbol, on the newest second emitted by the event.
  const decisions = h.records.filter((r) => r.name === "flow_z");
  const lastSec = new Map<string, number>();
  for (const d of decisions) {
    const ref = refs.get(d.symbol)!;
    const row = ref.rowAt.get(d.ev);
    assert.ok(row !== undefined, `decision at event ${d.ev} without a new second`);
    const ts = ref.samples[row].ts;
    assert.ok(ts > (lastSec.get(d.symbol) ?? -Infinity), `two decisions in second ${ts}`);
    lastSec.set(d.symbol, ts);
    near(d.value, ref.z[row], "recorded flow_z");
  }
  const recAt = (ev: number, sym: string, name: string) =>
    h.records.find((r) => r.ev === ev && r.symbol === sym && r.name === name)!.value;

  let enters = 0;
  for (const e of h.emitted) {
    const s = e.signal;
    if (s.kind !== "enter") continue;
    enters++;
    const ref = refs.get(s.symbol)!;
    const row = ref.rowAt.get(e.ev)!;
    const x = ref.samples[row];
    const dir = s.side === "long" ? 1 : -1;
    // Gates, from the independent features and from what the strategy recorded.
    assert.ok(ref.spread[row] <= cfg.maxSpreadBps, "spread gate");
    assert.ok(recAt(e.ev, s.symbol, "spread_bps") <= cfg.maxSpreadBps, "recorded spread gate");
    const rv = ref.rv60[row];
    assert.ok(rv >= cfg.minVolBps && rv <= cfg.maxVolBps, `vol gate ${rv}`);
    near(recAt(e.ev, s.symbol, "vol_bps"), rv, "recorded vol");
    // Triggers: flow required, plus imbalance or mark in the same direction.
    assert.ok(dir * ref.z[row] >= cfg.zEntry, `flow z ${ref.z[row]} for ${s.side}`);
    const dev = -ref.markLast[row];
    near(recAt(e.ev, s.symbol, "mark_dev_bps"), dev, "recorded mark deviation");
    near(recAt(e.ev, s.symbol, "imb_shift"), ref.imb[row], "recorded imbalance shift");
    assert.ok(
      dir * ref.imb[row] >= cfg.imbShift || dir * dev >= cfg.markDevBps,
      `confirmation: imb ${ref.imb[row]} dev ${dev}`,
    );
    // Orders: mid entry, ATR-multiple stop and target, trailing ratio.
    assert.equal(s.price, x.mid);
    const atr = atrExpected(s.symbol, x.mid, rv);
    near(recAt(e.ev, s.symbol, "atr"), atr, "recorded atr");
    near(dir * (s.price - s.stopPrice!), cfg.atrStopMult * atr, "stop distance");
    near(dir * (s.takeProfitPrice! - s.price), cfg.atrTargetMult * atr, "target distance");
    assert.equal(s.trailingRatio, cfg.trailingRatio);
    assert.ok(cfg.atrTargetMult * atr / x.mid >= cfg.minTargetCostMult * 2 * TAKER_FEE);
    // Cooldown after the last close of this symbol.
    const prev = h.closed.filter((c) => c.symbol === s.symbol && c.time <= e.time).at(-1);
    if (prev) assert.ok(e.time - prev.time >= cfg.cooldownMs, `cooldown ${e.time - prev.time}`);
  }
  // Max holding time: exits for it are due, and no position outlives it by more than a second
  // (decisions come once per second while events arrive).
  let maxHoldExits = 0;
  for (const c of h.closed) {
    const held = c.time - c.openedAt;
    if (c.reason.includes("max holding")) {
      maxHoldExits++;
      assert.ok(held >= cfg.maxHoldMs, `max-hold exit after ${held} ms`);
    }
    assert.ok(held < cfg.maxHoldMs + 2000, `position held ${held} ms`);
  }
  for (const [sym, p] of h.positions) {
    assert.ok(h.time - p.openedAt < cfg.maxHoldMs + 2000, `${sym} still open too long`);
  }
  return { enters, decisions: decisions.length, maxHoldExits, closes: h.closed.length };
}

Deno.test("microswing: 2024 BTC+ETH recording — gates, triggers, ATR orders, cooldown, max hold", () => {
  const cfg = MicroswingConfigSchema.parse(CFG);
  const h = run(REC2024, cfg);
  const r = checkRun(REC2024, h, cfg);
  assert.ok(r.enters >= 4, `entries: ${r.enters}`);
  assert.ok(r.maxHoldExits > 0, "some positions reach the max holding time");
  const reentries = h.emitted.filter((e) =>
    e.signal.kind === "enter" &&
    h.closed.some((c) => c.symbol === e.signal.symbol && c.time < e.time)
  );
  assert.ok(reentries.length > 0, "entries after an exit exist (cooldown exercised)");
  assert.deepEqual(new Set(h.emitted.map((e) => e.signal.symbol)), new Set(["BTCUSDT", "ETHUSDT"]));
  console.log(
    `  2024: ${JSON.stringify(r)}, venue closes ${
      h.closed.filter((c) => !c.reason.startsWith("microswing")).length
    }`,
  );
});

Deno.test("microswing: 2023 BTC recording (real mark/index) with defaults but zEntry 2.5", () => {
  const cfg = MicroswingConfigSchema.parse({ zEntry: 2.5 });
  const h = run(REC2023, cfg);
  const r = checkRun(REC2023, h, cfg);
  assert.ok(r.enters >= 1, `entries: ${r.enters}`);
  console.log(`  2023: ${JSON.stringify(r)}`);
});

Deno.test("microswing: venue stops/targets and declined entries start the cooldown", () => {
  // Tight stop/target so the venue closes positions inside the 8-minute recording.
  const cfg = MicroswingConfigSchema.parse({
    ...CFG,
    atrStopMult: 0.3,
    atrTargetMult: 0.6,
    minTargetCostMult: 0,
  });
  const h = run(REC2024, cfg);
  checkRun(REC2024, h, cfg);
  const venue = h.closed.filter((c) => c.reason === "stop_loss" || c.reason === "take_profit");
  assert.ok(venue.length >= 2, `venue closes: ${venue.length}`);
  // Declined entries: the strategy sees no position and waits a cooldown before trying again.
  const d = run(REC2024, CFG, { decline: true });
  const enters = d.emitted.filter((e) => e.signal.kind === "enter");
  assert.ok(enters.length >= 2);
  for (const sym of ["BTCUSDT", "ETHUSDT"]) {
    const times = enters.filter((e) => e.signal.symbol === sym).map((e) => e.time);
    for (let i = 1; i < times.length; i++) {
      assert.ok(
        times[i] - times[i - 1] >= CFG.cooldownMs!,
        `${sym} retried after ${times[i] - times[i - 1]} ms`,
      );
    }
  }
});

Deno.test("microswing: failing gates block every entry but decisions are still recorded", () => {
  const base = run(REC2024, CFG);
  assert.ok(base.emitted.some((e) => e.signal.kind === "enter"));
  // BTC's spread is 0.016 bps and ETH's 0.029 bps in this recording.
  for (const extra of [{ maxSpreadBps: 0.01 }, { minVolBps: 19, maxVolBps: 20 }]) {
    const h = run(REC2024, { ...CFG, ...extra });
    assert.equal(h.emitted.length, 0, JSON.stringify(extra));
    assert.equal(h.records.length, base.records.length);
  }
  const blocked = run(REC2024, CFG, { tradable: (s) => s !== "ETHUSDT" });
  assert.ok(blocked.emitted.length > 0);
  assert.ok(blocked.emitted.every((e) => e.signal.symbol === "BTCUSDT"), "not tradable → no entry");
  // No ATR source at all: nothing to size a stop with, so no entry.
  assert.equal(run(REC2024, { ...CFG, atrFallback: "none" }).emitted.length, 0);
});

Deno.test("microswing: all three triggers required", () => {
  const cfg = MicroswingConfigSchema.parse({
    ...CFG,
    zEntry: 2,
    required: ["flow", "imbalance", "mark"],
    minOptional: 0,
  });
  const h = run(REC2024, cfg);
  const refs = new Map(h.symbols.map((s) => [s, reference(REC2024, s)]));
  let n = 0;
  for (const e of h.emitted) {
    if (e.signal.kind !== "enter") continue;
    n++;
    const ref = refs.get(e.signal.symbol)!;
    const row = ref.rowAt.get(e.ev)!;
    const dir = e.signal.side === "long" ? 1 : -1;
    assert.ok(dir * ref.z[row] >= 2);
    assert.ok(dir * ref.imb[row] >= cfg.imbShift);
    assert.ok(dir * -ref.markLast[row] >= cfg.markDevBps);
  }
  assert.ok(n > 0, "some entries with all three triggers");
});

Deno.test("microswing: bar ATR (15m ClosedBars) replaces the fallback once atrPeriod+1 bars exist", () => {
  // Real BTC 15m bars (Mar 2025), rescaled to the 2023 recording's price level and re-timed so
  // the last one closes when the recording starts: a real 15m bar shape at the right level.
  const lines = Deno.readTextFileSync(
    new URL("binance_usdm_BTCUSDT_15m_20250306-20250413.csv", DATA),
  )
    .trim().split("\n").slice(1, 31);
  const firstMid = REC2023.find((e) => e.kind === "book" && e.top)!;
  const start = Math.floor(firstMid.ts / 900_000) * 900_000;
  const raw = lines.map((l) => l.split(",").map(Number));
  const k = (firstMid as { top: { mid: number } }).top.mid / raw.at(-1)![5];
  const bars: ClosedBar[] = raw.map((c, i) => ({
    symbol: "BTCUSDT",
    interval: "15m",
    intervalMs: 900_000,
    ts: start - (raw.length - i) * 900_000,
    open: c[2] * k,
    high: c[3] * k,
    low: c[4] * k,
    close: c[5] * k,
    volume: c[6],
    fundingRate: NaN,
  }));
  const atr = new Atr(14);
  for (const b of bars) atr.update(b.high, b.low, b.close);
  const cfg = MicroswingConfigSchema.parse({ zEntry: 2.5 });
  const h = run(REC2023, cfg, { bars });
  const r = checkRun(REC2023, h, cfg, () => atr.value);
  assert.ok(r.enters >= 1);
  assert.ok(
    h.emitted.every((e) => e.signal.kind === "exit" || /ATR\(15m bars\)/.test(e.signal.reason)),
  );
  // Too few bars (atrPeriod = 14 needs 15): the fallback is used.
  const few = run(REC2023, cfg, { bars: bars.slice(-14) });
  checkRun(REC2023, few, cfg);
  // 1m bars are not the ATR interval and are ignored.
  const oneMin = run(REC2023, cfg, { bars: bars.map((b) => ({ ...b, interval: "1m" })) });
  assert.deepEqual(oneMin.emitted, few.emitted);
});

Deno.test("microswing: causal — a prefix of the events gives the same signals and records", () => {
  const full = run(REC2024, CFG);
  for (const frac of [0.3, 0.7]) {
    const cut = Math.floor(REC2024.length * frac);
    const pre = run(REC2024.slice(0, cut), CFG);
    assert.deepEqual(pre.emitted, full.emitted.filter((e) => e.ev < cut), `signals, ${frac}`);
    assert.deepEqual(pre.records, full.records.filter((r) => r.ev < cut), `records, ${frac}`);
  }
});

Deno.test("microswing: config errors name the field", () => {
  assert.throws(
    () => parseMicroswingConfig({ minVolBps: 30 }),
    (e: Error) =>
      e instanceof StrategyConfigError && /minVolBps: got 30: must be ≤ maxVolBps/.test(e.message),
  );
  assert.throws(
    () => parseMicroswingConfig({ required: ["flow", "flow"] }),
    /required: got \["flow","flow"\]: lists a trigger twice/,
  );
  assert.throws(
    () => parseMicroswingConfig({ required: ["flow", "mark"], minOptional: 2 }),
    /minOptional/,
  );
  assert.throws(() => parseMicroswingConfig({ required: ["volume"] }), /required\.0: got "volume"/);
  assert.throws(() => parseMicroswingConfig({ zEntry: -1 }), /zEntry: got -1/);
  const d = parseMicroswingConfig(undefined);
  assert.deepEqual(createMicroswingStrategy(d).barIntervals, ["15m"]);
  assert.equal(d.required.join(), "flow");
  assert.equal(d.minOptional, 1);
});
