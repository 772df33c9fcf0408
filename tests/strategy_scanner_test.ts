/**
 * The symbol scanner on real Binance USDT-M bars (shared/data): BTC and ETH 15m (Mar–Apr 2025)
 * and 1m (May 2025). Components are checked against an independent path (the candle feature
 * engine's adx14 / atr14_bps / roc10 / vol_ratio20 and a direct-loop Wilder ATR for the long
 * window), scores against a direct cross-sectional computation; plus topN, the warm-up rule,
 * staleness, gap restart, determinism and order independence.
 */
import assert from "node:assert/strict";
import { CandleEngine } from "../src/features/candle.ts";
import { CANDLE_FEATURES } from "../src/features/registry.ts";
import { StrategyConfigError } from "../src/strategy/config_parse.ts";
import {
  parseScannerConfig,
  Scanner,
  type ScannerConfig,
  ScannerConfigSchema,
  type ScannerRank,
} from "../src/strategy/scanner.ts";
import type { ClosedBar } from "../src/strategy/types.ts";
import { readCsvBars } from "./helpers/backtest_data.ts";

const readBars = readCsvBars;

const BTC15 = readBars("binance_usdm_BTCUSDT_15m_20250306-20250413.csv", "BTCUSDT", "15m", 900_000);
const ETH15 = readBars("binance_usdm_ETHUSDT_15m_20250306-20250413.csv", "ETHUSDT", "15m", 900_000);
const SYMS = ["BTCUSDT", "ETHUSDT"];
assert.equal(BTC15.length, ETH15.length);
assert.ok(BTC15.every((b, i) => b.ts === ETH15[i].ts), "the two 15m files share their bar times");

/** Direct-loop Wilder ATR(n): first value at index n (mean of TR 1..n), then Wilder smoothing. */
function wilderAtr(bars: ClosedBar[], n: number): number[] {
  const out = new Array<number>(bars.length).fill(NaN);
  let atr = 0;
  for (let i = 1; i < bars.length; i++) {
    const b = bars[i];
    const pc = bars[i - 1].close;
    const tr = Math.max(b.high - b.low, Math.abs(b.high - pc), Math.abs(b.low - pc));
    if (i <= n) {
      atr += tr / n;
      if (i === n) out[i] = atr;
    } else out[i] = atr = (atr * (n - 1) + tr) / n;
  }
  return out;
}

/** Candle-engine columns (adx14, atr14 in USDT, roc10, vol_ratio20) per bar. */
function candleRef(bars: ClosedBar[]) {
  const eng = new CandleEngine(bars[0].intervalMs);
  const j = (n: string) => CANDLE_FEATURES.indexOf(n as (typeof CANDLE_FEATURES)[number]);
  const [adx, atr, roc, vr] = ["adx14", "atr14_bps", "roc10", "vol_ratio20"].map(j);
  return bars.map((b) => {
    const r = eng.update(b);
    return { adx: r[adx], atr: (r[atr] * b.close) / 1e4, roc: r[roc], vr: r[vr] };
  });
}

/** Feeds both symbols bar by bar (BTC first) and calls `at(i, scanner)` after each time step. */
function sweep(cfg: ScannerConfig, at: (i: number, s: Scanner) => void, order = SYMS): Scanner {
  const s = new Scanner(cfg, SYMS);
  const bars: Record<string, ClosedBar[]> = { BTCUSDT: BTC15, ETHUSDT: ETH15 };
  for (let i = 0; i < BTC15.length; i++) {
    for (const sym of order) s.onBar(bars[sym][i]);
    at(i, s);
  }
  return s;
}

const near = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

Deno.test("scanner: components equal an independent recomputation; scores and topN", () => {
  const cfg = ScannerConfigSchema.parse({
    rocPeriod: 10,
    volumeWindow: 20,
    momentumMode: "signed",
    topN: 1,
    weights: { trendStrength: 1, atrExpansion: 2, momentum: 0.5, volumeSpike: 1 },
  });
  const ref = { BTCUSDT: candleRef(BTC15), ETHUSDT: candleRef(ETH15) };
  const atrLong = { BTCUSDT: wilderAtr(BTC15, 96), ETHUSDT: wilderAtr(ETH15, 96) };
  const warm = 96; // 0-based index of the first ready bar: the long ATR needs 97 bars
  const leaders = new Set<string>();
  let checked = 0;
  sweep(cfg, (i, s) => {
    const ranking = s.ranking();
    assert.equal(ranking.length, 2);
    if (i < warm) {
      assert.ok(ranking.every((r) => Number.isNaN(r.rank) && r.tradable), `warm-up bar ${i}`);
      assert.ok(SYMS.every((sym) => s.isTradable(sym)), "everything tradable while none is ready");
      return;
    }
    const by = new Map(ranking.map((r) => [r.symbol, r]));
    for (const sym of SYMS as ("BTCUSDT" | "ETHUSDT")[]) {
      const r = by.get(sym)!;
      const x = ref[sym][i];
      near(r.trendStrength, x.adx, `${sym} adx @${i}`);
      near(r.atrExpansion, x.atr / atrLong[sym][i], `${sym} atr expansion @${i}`);
      near(r.momentum, x.roc, `${sym} roc @${i}`);
      near(r.volumeSpike, x.vr, `${sym} volume spike @${i}`);
    }
    // Score: weighted sum of cross-sectional z-scores (two symbols: ±1 per distinct component).
    const [a, b] = SYMS.map((sym) => by.get(sym)!);
    const w = cfg.weights;
    const z = (x: number, y: number) => (x === y ? 0 : x > y ? 1 : -1);
    const scoreA = w.trendStrength * z(a.trendStrength, b.trendStrength) +
      w.atrExpansion * z(a.atrExpansion, b.atrExpansion) + w.momentum * z(a.momentum, b.momentum) +
      w.volumeSpike * z(a.volumeSpike, b.volumeSpike);
    near(a.score, scoreA, `score @${i}`);
    near(b.score, -scoreA, `score @${i}`);
    const top = ranking[0];
    assert.equal(top.rank, 1);
    assert.equal(ranking[1].rank, 2);
    assert.ok(top.score >= ranking[1].score);
    if (top.score === ranking[1].score) assert.equal(top.symbol, "BTCUSDT", "ties by name");
    // topN = 1: exactly the leader is tradable.
    assert.deepEqual(SYMS.filter((sym) => s.isTradable(sym)), [top.symbol]);
    assert.ok(top.tradable && !ranking[1].tradable);
    leaders.add(top.symbol);
    checked++;
  });
  assert.equal(checked, BTC15.length - warm);
  assert.deepEqual([...leaders].sort(), SYMS, "both symbols lead at times");
  assert.equal(new Scanner(cfg, SYMS).isTradable("SOLUSDT"), false, "unknown symbol");
});

Deno.test("scanner: rank method and absolute momentum; topN ≥ symbols makes all ready tradable", () => {
  const cfg = ScannerConfigSchema.parse({ scoreMethod: "rank", topN: 3 });
  sweep(cfg, (i, s) => {
    const r = s.ranking();
    if (Number.isNaN(r[0].rank)) return;
    for (const x of r) assert.ok(x.momentum >= 0, "abs momentum");
    // Rank scores over two symbols are 0/1 per component (0.5 each when tied).
    const [a, b] = r;
    near(a.score + b.score, 4, `rank scores sum to Σw @${i}`);
    assert.ok(SYMS.every((sym) => s.isTradable(sym)));
  });
});

Deno.test("scanner: deterministic and independent of the symbol order within a bar time", () => {
  const cfg = ScannerConfigSchema.parse({});
  const a: ScannerRank[][] = [];
  const b: ScannerRank[][] = [];
  const c: ScannerRank[][] = [];
  sweep(cfg, (_i, s) => a.push(s.ranking()));
  sweep(cfg, (_i, s) => b.push(s.ranking()));
  sweep(cfg, (_i, s) => c.push(s.ranking()), [...SYMS].reverse());
  assert.deepEqual(a, b);
  assert.deepEqual(a, c);
});

Deno.test("scanner: warm-up rule — a ready symbol is ranked, a warming one is not tradable", () => {
  const cfg = ScannerConfigSchema.parse({ topN: 3 });
  const s = new Scanner(cfg, SYMS);
  const late = 300; // ETH starts 300 bars later
  for (let i = 0; i < 600; i++) {
    s.onBar(BTC15[i]);
    if (i >= late) s.onBar(ETH15[i]);
    const r = s.ranking();
    const eth = r.find((x) => x.symbol === "ETHUSDT")!;
    if (i < 96) {
      assert.ok(s.isTradable("BTCUSDT") && s.isTradable("ETHUSDT"), `no opinion yet @${i}`);
    } else if (i < late + 96) {
      assert.ok(s.isTradable("BTCUSDT"), `BTC ready @${i}`);
      assert.ok(!s.isTradable("ETHUSDT") && Number.isNaN(eth.rank), `ETH warming @${i}`);
      assert.equal(r[0].symbol, "BTCUSDT");
      assert.equal(r[0].score, 0, "a single ready symbol has z-scores 0");
    } else assert.ok(s.isTradable("ETHUSDT") && eth.rank >= 1, `ETH ready @${i}`);
  }
});

Deno.test("scanner: a symbol whose bars stop is dropped; a hole restarts its warm-up", () => {
  const cfg = ScannerConfigSchema.parse({ topN: 3 });
  const s = new Scanner(cfg, SYMS);
  for (let i = 0; i < 400; i++) {
    s.onBar(BTC15[i]);
    if (i < 300) s.onBar(ETH15[i]);
    const tradableEth = s.isTradable("ETHUSDT");
    // At i = 300 ETH's last bar is one interval old (still fresh); from 301 on it is stale.
    assert.equal(tradableEth, i <= 300, `ETH tradable @${i}`);
  }
  // ETH resumes after a hole: its indicators restart, so it needs a full warm-up again.
  for (let i = 400; i < 600; i++) {
    s.onBar(BTC15[i]);
    s.onBar(ETH15[i]);
    assert.equal(s.isTradable("ETHUSDT"), i >= 400 + 96, `ETH after hole @${i}`);
  }
});

Deno.test("scanner: 1m bars with interval 1m; other intervals ignored", () => {
  const btc = readBars("binance_usdm_BTCUSDT_1m_20250504-20250603.csv", "BTCUSDT", "1m", 60_000);
  const eth = readBars("binance_usdm_ETHUSDT_1m_20250504-20250615.csv", "ETHUSDT", "1m", 60_000);
  const s = new Scanner(ScannerConfigSchema.parse({ interval: "1m", topN: 1 }), SYMS);
  const ethAt = new Map(eth.map((b) => [b.ts, b]));
  const leads: Record<string, number> = { BTCUSDT: 0, ETHUSDT: 0 };
  for (const b of btc) {
    s.onBar(b);
    s.onBar(ethAt.get(b.ts)!);
    s.onBar({ ...b, interval: "15m", intervalMs: 900_000, ts: b.ts - 1 }); // ignored
    const top = s.ranking()[0];
    if (top.rank === 1) leads[top.symbol]++;
  }
  assert.ok(leads.BTCUSDT > 1000 && leads.ETHUSDT > 1000, JSON.stringify(leads));
  console.log(`  1m leaders over ${btc.length} bars: ${JSON.stringify(leads)}`);
});

Deno.test("scanner: config and input errors", () => {
  assert.throws(
    () => parseScannerConfig({ atrLong: 10 }),
    (e: Error) =>
      e instanceof StrategyConfigError && /atrLong: got 10: must be > atrShort/.test(e.message),
  );
  assert.throws(
    () =>
      parseScannerConfig({
        weights: { trendStrength: 0, atrExpansion: 0, momentum: 0, volumeSpike: 0 },
      }),
    /weights: .*at least one weight/,
  );
  assert.throws(() => parseScannerConfig({ topN: 0 }), /topN: got 0/);
  assert.throws(() => parseScannerConfig({ weights: { volume: 1 } }), /unknown field\(s\) volume/);
  assert.throws(() => new Scanner(ScannerConfigSchema.parse({}), []), /at least one symbol/);
  assert.throws(() => new Scanner(ScannerConfigSchema.parse({}), ["A", "A"]), /listed twice/);
  const s = new Scanner(ScannerConfigSchema.parse({}), SYMS);
  s.onBar(BTC15[5]);
  assert.throws(() => s.onBar(BTC15[4]), /bars must follow each other/);
  assert.throws(() => s.onBar({ ...BTC15[6], volume: -1 }), /volume must be a finite number ≥ 0/);
});
