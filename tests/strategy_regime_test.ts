/**
 * The `regime` strategy on real Binance USDT-M bars (shared/data): BTC/ETH 15m (Mar–Apr 2025) and
 * BTC 1m (May 2025, interval "1m"). A small in-test StrategyView plays the engine: positions open
 * and close from the strategy's own signals, and protective stops / take-profits fire on the next
 * bars' high/low (then onPositionClosed is called, as the engine does). Properties checked against
 * independent recomputation: regimes follow ADX, warm-up, stop sides, no same-side re-entry, exit
 * rules, the high-volatility size scale, tradable gating, gap restart and causality.
 */
import assert from "node:assert/strict";
import { CandleEngine } from "../src/features/candle.ts";
import { Atr, Ema } from "../src/features/indicators.ts";
import { CANDLE_FEATURES } from "../src/features/registry.ts";
import { StrategyConfigError } from "../src/strategy/config_parse.ts";
import {
  createRegimeStrategy,
  parseRegimeConfig,
  type RegimeConfig,
  RegimeConfigSchema,
} from "../src/strategy/regime.ts";
import type {
  ClosedBar,
  EnterSignal,
  PositionView,
  Signal,
  StrategyView,
  TradingStrategy,
} from "../src/strategy/types.ts";
import { readCsvBars } from "./helpers/backtest_data.ts";

const readBars = readCsvBars;

const BTC15 = readBars("binance_usdm_BTCUSDT_15m_20250306-20250413.csv", "BTCUSDT", "15m", 900_000);
const ETH15 = readBars("binance_usdm_ETHUSDT_15m_20250306-20250413.csv", "ETHUSDT", "15m", 900_000);
const BTC1 = readBars("binance_usdm_BTCUSDT_1m_20250504-20250603.csv", "BTCUSDT", "1m", 60_000);

interface Rec {
  bar: number;
  symbol: string;
  name: string;
  value: number;
}
interface Emitted {
  bar: number;
  signal: Signal;
  /** Position before the signal. */
  before: PositionView | null;
}

/** The engine's part, reduced to what a bar strategy sees (see file doc). */
class Harness implements StrategyView {
  time = 0;
  readonly symbols: string[];
  readonly positions = new Map<string, PositionView & { stop?: number; tp?: number }>();
  readonly records: Rec[] = [];
  readonly emitted: Emitted[] = [];
  readonly venueCloses: { bar: number; symbol: string; reason: string }[] = [];
  private last = new Map<string, number>();
  barIndex = -1;
  constructor(
    readonly strategy: TradingStrategy,
    symbols: string[],
    readonly isTradable: (symbol: string, ts: number) => boolean = () => true,
    readonly venueStops = true,
  ) {
    this.symbols = symbols;
  }
  position(s: string): PositionView | null {
    return this.positions.get(s) ?? null;
  }
  mid(): number {
    return NaN;
  }
  spreadBps(): number {
    return NaN;
  }
  markPrice(s: string): number {
    return this.last.get(s) ?? NaN;
  }
  lastPrice(s: string): number {
    return this.last.get(s) ?? NaN;
  }
  takerFeeRate(): number {
    return 0.0006;
  }
  tradable(s: string): boolean {
    return this.isTradable(s, this.time);
  }
  record(symbol: string, name: string, value: number): void {
    this.records.push({ bar: this.barIndex, symbol, name, value });
  }

  /** Delivers `bar` at its close: venue stops first (they fire inside the bar), then the strategy. */
  feed(bar: ClosedBar, index: number): void {
    this.barIndex = index;
    this.time = bar.ts + bar.intervalMs;
    const p = this.positions.get(bar.symbol);
    if (p && this.venueStops) {
      const long = p.side === "long";
      const stopHit = p.stop !== undefined && (long ? bar.low <= p.stop : bar.high >= p.stop);
      const tpHit = p.tp !== undefined && (long ? bar.high >= p.tp : bar.low <= p.tp);
      if (stopHit || tpHit) {
        this.positions.delete(bar.symbol);
        const reason = stopHit ? "stop_loss" : "take_profit";
        this.venueCloses.push({ bar: index, symbol: bar.symbol, reason });
        this.strategy.onPositionClosed?.(bar.symbol, reason, this.time);
      }
    }
    this.last.set(bar.symbol, bar.close);
    const out = this.strategy.onBar!(bar, this) as Signal[] | void;
    for (const s of out ?? []) {
      const before = this.positions.get(s.symbol) ?? null;
      this.emitted.push({ bar: index, signal: s, before: before && { ...before } });
      if (s.kind === "exit") this.positions.delete(s.symbol);
      else {
        this.positions.set(s.symbol, {
          side: s.side,
          size: 1,
          entryPrice: s.price,
          openedAt: before?.side === s.side ? before.openedAt : this.time,
          stop: s.stopPrice,
          tp: s.takeProfitPrice,
        });
      }
    }
  }
}

function run(
  bars: ClosedBar[],
  cfg: Partial<RegimeConfig> = {},
  tradable?: (s: string, ts: number) => boolean,
): Harness {
  const strategy = createRegimeStrategy(RegimeConfigSchema.parse(cfg));
  const h = new Harness(strategy, [...new Set(bars.map((b) => b.symbol))], tradable);
  bars.forEach((b, i) => h.feed(b, i));
  return h;
}

/** Independent SMA / population σ of closes[i−n+1..i] (direct loop). */
function smaSd(closes: number[], i: number, n: number): [number, number] {
  let s = 0;
  for (let j = i - n + 1; j <= i; j++) s += closes[j];
  const m = s / n;
  let v = 0;
  for (let j = i - n + 1; j <= i; j++) v += (closes[j] - m) ** 2;
  return [m, Math.sqrt(v / n)];
}

/** Type-7 quantile of a copy of xs. */
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  return lo >= s.length - 1 ? s[s.length - 1] : s[lo] + (h - lo) * (s[lo + 1] - s[lo]);
}

function checkSingleSymbol(bars: ClosedBar[], h: Harness, cfg: RegimeConfig): void {
  const closes = bars.map((b) => b.close);
  // Independent indicator series.
  const eng = new CandleEngine(bars[0].intervalMs);
  const adxCol = CANDLE_FEATURES.indexOf("adx14");
  const adx = bars.map((b) => eng.update(b)[adxCol]);
  const atrInd = new Atr(14);
  const atrPct = bars.map((b) => atrInd.update(b.high, b.low, b.close) / b.close);
  const atr = atrPct.map((p, i) => p * closes[i]);
  const ef = new Ema(9);
  const es = new Ema(21);
  const crossState: number[] = [];
  let st = 0;
  for (const c of closes) {
    const d = ef.update(c) - es.update(c);
    if (d === d) st = d > 0 ? 1 : d < 0 ? -1 : st;
    crossState.push(st);
  }
  const warm = 14 + cfg.volLookback; // 0-based index of the first decision bar
  const byBar = new Map<number, Map<string, number>>();
  for (const r of h.records) {
    if (!byBar.has(r.bar)) byBar.set(r.bar, new Map());
    byBar.get(r.bar)!.set(r.name, r.value);
  }
  // Warm-up: the first decision is exactly at the first bar where every indicator is ready.
  assert.equal(Math.min(...byBar.keys()), warm, "first decision bar");
  assert.equal(byBar.size, bars.length - warm, "one decision per bar after warm-up");
  assert.ok(h.emitted.every((e) => e.bar >= warm), "no signal during warm-up");

  const regimes = new Set<number>();
  for (const [i, rec] of byBar) {
    const a = rec.get("adx")!;
    assert.ok(Math.abs(a - adx[i]) < 1e-9, `adx at bar ${i}: ${a} vs ${adx[i]}`);
    const expect = a >= cfg.adxTrend ? 1 : a < cfg.adxRange ? -1 : 0;
    assert.equal(rec.get("regime"), expect, `regime at bar ${i}`);
    regimes.add(expect);
    assert.equal(rec.get("ema_cross"), crossState[i], `ema_cross at bar ${i}`);
    const hv = atrPct[i] > quantile(atrPct.slice(i - cfg.volLookback, i), cfg.volQuantile);
    assert.equal(rec.get("high_vol"), hv ? 1 : 0, `high_vol at bar ${i}`);
  }
  assert.deepEqual([...regimes].sort(), [-1, 0, 1], "trend, neutral and range regimes all occur");

  let trendEntries = 0;
  let rangeEntries = 0;
  let crossExits = 0;
  let middleExits = 0;
  for (const { bar: i, signal: s, before } of h.emitted) {
    const rec = byBar.get(i)!;
    const close = closes[i];
    const [mid, sd] = smaSd(closes, i, 20);
    const crossUp = crossState[i - 1] === -1 && crossState[i] === 1;
    const crossDown = crossState[i - 1] === 1 && crossState[i] === -1;
    if (s.kind === "enter") {
      assert.notEqual(before?.side, s.side, `enter ${s.side} at bar ${i} while already ${s.side}`);
      assert.equal(s.price, close);
      const long = s.side === "long";
      assert.ok(long ? s.stopPrice! < close : s.stopPrice! > close, `stop on the losing side ${i}`);
      if (s.takeProfitPrice !== undefined) {
        assert.ok(long ? s.takeProfitPrice > close : s.takeProfitPrice < close, `tp side ${i}`);
      }
      const hv = rec.get("high_vol") === 1;
      assert.equal(s.sizeScale, hv ? cfg.highVolSizeScale : 1, `sizeScale at bar ${i}`);
      if (s.reason.startsWith("regime trend")) {
        trendEntries++;
        assert.equal(rec.get("regime"), 1);
        assert.ok(long ? crossUp : crossDown, `trend entry on a crossover (bar ${i})`);
        const dist = cfg.atrStopMult * atr[i];
        assert.ok(Math.abs(Math.abs(close - s.stopPrice!) - dist) < 1e-6 * close, "ATR stop");
      } else {
        rangeEntries++;
        assert.ok(s.reason.startsWith("regime range"), s.reason);
        assert.equal(rec.get("regime"), -1);
        const band = long ? mid - 2 * sd : mid + 2 * sd;
        assert.ok(long ? close < band : close > band, `range entry beyond the band (bar ${i})`);
        assert.ok(Math.abs(s.takeProfitPrice! - mid) < 1e-6 * close, "tp at the middle band");
        const stop = long ? band - cfg.atrStopMult * atr[i] : band + cfg.atrStopMult * atr[i];
        assert.ok(Math.abs(s.stopPrice! - stop) < 1e-6 * close, `band ∓ ATR stop (bar ${i})`);
      }
      if (s.reason.includes("flip: opposite EMA crossover")) crossExits++;
      if (s.reason.includes("flip: close crossed the middle band")) middleExits++;
    } else {
      assert.ok(before, `exit at bar ${i} without a position`);
      if (s.reason.includes("opposite EMA crossover")) {
        crossExits++;
        assert.ok(before.side === "long" ? crossDown : crossUp, `opposite cross at bar ${i}`);
      } else {
        assert.ok(s.reason.includes("middle band"), s.reason);
        middleExits++;
        assert.ok(before.side === "long" ? close >= mid : close <= mid, `middle exit bar ${i}`);
      }
    }
  }
  assert.ok(
    trendEntries > 0 && rangeEntries > 0,
    `entries trend ${trendEntries} range ${rangeEntries}`,
  );
  assert.ok(crossExits > 0 && middleExits > 0, `exits cross ${crossExits} middle ${middleExits}`);
  const scaled = h.emitted.filter((e) => e.signal.kind === "enter" && e.signal.sizeScale === 0.5);
  assert.ok(scaled.length > 0, "some entries are on high-volatility bars");
  console.log(
    `  ${bars[0].symbol} ${
      bars[0].interval
    }: ${bars.length} bars, entries trend ${trendEntries} / ` +
      `range ${rangeEntries} (${scaled.length} at size 0.5), exits cross ${crossExits} / middle ` +
      `${middleExits}, venue stops/targets ${h.venueCloses.length}`,
  );
}

const DEFAULTS = RegimeConfigSchema.parse({});

Deno.test("regime: BTC 15m — regimes follow ADX, warm-up, stops, exits, size scale", () => {
  checkSingleSymbol(BTC15, run(BTC15), DEFAULTS);
});

Deno.test("regime: ETH 15m with a trend take-profit of 2R", () => {
  const cfg = RegimeConfigSchema.parse({ trendTakeProfitR: 2 });
  const h = run(ETH15, cfg);
  checkSingleSymbol(ETH15, h, cfg);
  for (const { signal: s } of h.emitted) {
    if (s.kind !== "enter" || !s.reason.startsWith("regime trend")) continue;
    const risk = Math.abs(s.price - s.stopPrice!);
    assert.ok(Math.abs(Math.abs(s.takeProfitPrice! - s.price) - 2 * risk) < 1e-9 * s.price);
  }
});

Deno.test("regime: a 1m database works with interval 1m (30 days of BTC)", () => {
  const cfg = RegimeConfigSchema.parse({ interval: "1m" });
  const h = run(BTC1, cfg);
  checkSingleSymbol(BTC1, h, cfg);
  // 15m bars are ignored by a 1m strategy.
  const s = createRegimeStrategy(cfg);
  const h2 = new Harness(s, ["BTCUSDT"]);
  BTC15.slice(0, 300).forEach((b, i) => h2.feed(b, i));
  assert.equal(h2.records.length + h2.emitted.length, 0);
  assert.deepEqual(s.barIntervals, ["1m"]);
});

Deno.test("regime: causal — a prefix run gives the same signals and records up to its end", () => {
  const full = run(BTC15);
  for (const cut of [500, 1777, 3000]) {
    const pre = run(BTC15.slice(0, cut));
    assert.deepEqual(pre.emitted, full.emitted.filter((e) => e.bar < cut), `signals, cut ${cut}`);
    assert.deepEqual(pre.records, full.records.filter((r) => r.bar < cut), `records, cut ${cut}`);
  }
});

Deno.test("regime: two symbols interleaved equal each symbol alone", () => {
  const merged = [...BTC15, ...ETH15].sort((a, b) => a.ts - b.ts || (a.symbol < b.symbol ? -1 : 1));
  const both = run(merged);
  for (const [sym, bars] of [["BTCUSDT", BTC15], ["ETHUSDT", ETH15]] as const) {
    const alone = run(bars);
    const idx = merged.map((b, i) => (b.symbol === sym ? i : -1)).filter((i) => i >= 0);
    const local = new Map(idx.map((g, l) => [g, l]));
    const mine = both.emitted.filter((e) => e.signal.symbol === sym)
      .map((e) => ({ ...e, bar: local.get(e.bar)! }));
    assert.deepEqual(mine, alone.emitted, `${sym} signals`);
  }
});

Deno.test("regime: not tradable → no entries, exits still managed", () => {
  const day = 86_400_000;
  // Tradable on even UTC days only.
  const tradable = (_s: string, ts: number) => Math.floor(ts / day) % 2 === 0;
  const h = run(BTC15, {}, tradable);
  let exitsOnOddDays = 0;
  for (const { bar, signal } of h.emitted) {
    const ts = BTC15[bar].ts + BTC15[bar].intervalMs;
    if (signal.kind === "enter") {
      assert.ok(tradable("BTCUSDT", ts), `enter on a blocked day ${bar}`);
    } else if (!tradable("BTCUSDT", ts)) exitsOnOddDays++;
  }
  assert.ok(exitsOnOddDays > 0, "positions are still exited while not tradable");
  assert.ok(h.emitted.some((e) => e.signal.kind === "enter"));
});

Deno.test("regime: a hole in the bars restarts the warm-up", () => {
  const cut = 1500;
  const holed = [...BTC15.slice(0, cut), ...BTC15.slice(cut + 7)];
  const h = run(holed);
  const warm = 14 + DEFAULTS.volLookback;
  const decided = new Set(h.records.map((r) => r.bar));
  for (let i = cut; i < cut + warm; i++) assert.ok(!decided.has(i), `decision at ${i} after hole`);
  assert.ok(decided.has(cut + warm) && decided.has(cut - 1));
  assert.ok(h.emitted.every((e) => e.bar < cut || e.bar >= cut + warm));
});

Deno.test("regime: bad input and config give clear errors", () => {
  assert.throws(
    () => parseRegimeConfig({ adxRange: 30 }),
    (e: Error) =>
      e instanceof StrategyConfigError && /adxRange: got 30: must be ≤ adxTrend/.test(e.message),
  );
  assert.throws(() => parseRegimeConfig({ emaFast: 30 }), /emaFast: got 30: must be < emaSlow/);
  assert.throws(() => parseRegimeConfig({ atrStopMul: 2 }), /unknown field\(s\) atrStopMul/);
  assert.throws(() => parseRegimeConfig({ interval: "15 min" }), /interval: got "15 min"/);
  assert.deepEqual(parseRegimeConfig(undefined), DEFAULTS);
  assert.throws(
    () => createRegimeStrategy({ ...DEFAULTS, adxTrend: 10 }),
    StrategyConfigError,
  );
  const s = createRegimeStrategy(DEFAULTS);
  const h = new Harness(s, ["BTCUSDT"]);
  h.feed(BTC15[10], 0);
  assert.throws(() => h.feed(BTC15[9], 1), /bar BTCUSDT 15m at ts=\d+: bars must follow/);
  assert.throws(
    () => h.feed({ ...BTC15[11], low: BTC15[11].high + 1 }, 1),
    /need 0 < low ≤ open, close ≤ high/,
  );
});

Deno.test("regime: enter signals are well-formed EnterSignals", () => {
  const h = run(BTC15);
  for (const { signal } of h.emitted) {
    if (signal.kind !== "enter") continue;
    const s: EnterSignal = signal;
    assert.equal(s.symbol, "BTCUSDT");
    assert.ok(s.sizeScale! > 0 && s.sizeScale! <= 1);
    assert.ok(Number.isFinite(s.stopPrice) && s.reason.length > 0);
  }
});
