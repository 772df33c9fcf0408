/**
 * Candle feature engine on real Binance USDT-M bars: hand-computed values at fixed timestamps,
 * live (bar by bar) vs batch equality, no look-ahead, warm-ups as declared in the registry, gap
 * resets, settled funding, input errors and the closed-bar filter. (Every feature against a
 * textbook reference over whole series is in features_indicators_test.ts.)
 */
import assert from "node:assert/strict";
import {
  attachSettledFunding,
  type Bar,
  CandleEngine,
  ClosedBarFilter,
  runCandleBatch,
} from "../src/features/candle.ts";
import { type FeatureMatrix, matrixColumn, matrixRow } from "../src/features/matrix.ts";
import { CANDLE_FEATURES, featureDef } from "../src/features/registry.ts";
import { readFundingCsv, readOhlcvCsv } from "../src/features/sample_data.ts";
import type { CandleEvent } from "../src/market/events.ts";

const DATA = new URL("../../shared/data/", import.meta.url);
const text = (f: string) => Deno.readTextFileSync(new URL(f, DATA));
const BTC15 = readOhlcvCsv(text("binance_usdm_BTCUSDT_15m_20250306-20250413.csv"));
const ETH15 = readOhlcvCsv(text("binance_usdm_ETHUSDT_15m_20250306-20250413.csv"));
const BTC1 = readOhlcvCsv(text("binance_usdm_BTCUSDT_1m_20250504-20250603.csv"));
const M15 = 900_000;

function value(m: FeatureMatrix, row: number, name: string): number {
  return matrixRow(m, row)[m.names.indexOf(name)];
}

/** Bit-level equality of two rows, NaN positions included. */
function sameRow(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.equal(a.length, b.length);
  for (let j = 0; j < a.length; j++) {
    assert.ok(Object.is(a[j], b[j]), `${what} col ${CANDLE_FEATURES[j]}: ${a[j]} vs ${b[j]}`);
  }
}

Deno.test("hand-computed values on the first BTCUSDT 15m bars of 2025-03-06", () => {
  // Rows 0..20 of the CSV (10:30 … 15:30 UTC). Expected values were worked out from the listed
  // OHLCV with the textbook formulas (Python, float64), not with this code:
  //   ret_1b@1 = ln(91249.9/91216.2)·1e4; ret_5b@5 = ln(91319.2/91216.2)·1e4
  //   rsi14@14: gains/losses of closes 0..14, simple means, 100 − 100/(1+G/L)
  //   atr14@14: mean of TR₁..TR₁₄ / close₁₄ · 1e4;  ±DI14@14: Σ±DM₁..₁₄ / ΣTR₁..₁₄ · 100
  //   @19: SMA/σ_pop of closes 0..19, Σ ln(H/L)², GK terms, typical-price VWAP, 20-bar range
  assert.deepEqual(BTC15[0], {
    ts: 1741257000000,
    open: 91616.5,
    high: 91616.5,
    low: 91164.2,
    close: 91216.2,
    volume: 2530.9,
  });
  assert.deepEqual(BTC15[19], {
    ts: 1741274100000,
    open: 90593.9,
    high: 91344.8,
    low: 90411.7,
    close: 90843.5,
    volume: 6752.564,
  });
  const m = runCandleBatch(BTC15.slice(0, 25), M15);
  const expect: [number, string, number][] = [
    [1, "ret_1b_bps", 3.69383686977198],
    [5, "ret_5b_bps", 11.285483356314701],
    [10, "roc10", -1.0465246304932618],
    [11, "ema12_dist_bps", -90.61098763701693],
    [13, "obv_slope14", -0.7957888237531597],
    [14, "rsi14", 18.186372745490843],
    [14, "atr14_bps", 48.513740349408536],
    [14, "plus_di14", 4.824763282482918],
    [14, "minus_di14", 39.70607574960573],
    [19, "bb_pctb20", 0.6304796678494281],
    [19, "bb_width20", 0.02997488535968125],
    [19, "parkinson20_bps", 46.22341594630043],
    [19, "gk20_bps", 48.628883389572],
    [19, "vwap20_dev_bps", 64.66238073702574],
    [19, "range_pos20", 0.6964461024936187],
    [19, "vol_ratio20", 1.658467370120333],
    [19, "vol_price_corr20", -0.5811221515529038],
    [20, "rv20_bps", 38.73424569895663],
  ];
  for (const [row, name, want] of expect) {
    const got = value(m, row, name);
    assert.ok(
      Math.abs(got - want) <= 1e-9 * Math.abs(want),
      `${name}@${row}: got ${got}, hand ${want}`,
    );
  }
  // break20@20: high 91420 < max high of bars 0..19 (91616.5), low 90561.5 > min low → 0.
  assert.equal(value(m, 20, "break20"), 0);
  // trend_hhll for bars 1..24 (higher high & higher low = 1, lower/lower = −1).
  const hhll = [0, -1, 1, 1, 0, -1, -1, -1, -1, 0, 0, 1, -1, -1, 1, 0, 0, 1, 1, 1, 0, 0, -1, 0];
  assert.deepEqual(Array.from(matrixColumn(m, "trend_hhll")).slice(1), hhll);
});

Deno.test("live bar-by-bar output equals the batch matrix exactly (BTC 1m, ETH 15m)", () => {
  for (const [bars, iv] of [[BTC1, 60_000], [ETH15, M15]] as const) {
    const batch = runCandleBatch(bars, iv);
    const live = new CandleEngine(iv);
    let finite = 0;
    for (let i = 0; i < bars.length; i++) {
      const row = live.update({ ...bars[i] });
      sameRow(row, matrixRow(batch, i), `row ${i}`);
      for (const v of row) if (v === v) finite++;
    }
    assert.ok(finite > bars.length * 25, "mostly finite after warm-up");
  }
});

Deno.test("no look-ahead: changing or removing all bars after t leaves rows ≤ t unchanged", () => {
  const bars = BTC15;
  const full = runCandleBatch(bars, M15);
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (const t of [0, 19, 33, 100, 1234, bars.length - 2]) {
    const cut = runCandleBatch(bars.slice(0, t + 1), M15);
    const changed: Bar[] = bars.map((b, i) => {
      if (i <= t) return b;
      const c = b.close * (0.8 + 0.4 * rnd());
      return { ts: b.ts, open: c, high: c * 1.01, low: c * 0.99, close: c, volume: 1e4 * rnd() };
    });
    const alt = runCandleBatch(changed, M15);
    for (let i = 0; i <= t; i++) {
      sameRow(matrixRow(cut, i), matrixRow(full, i), `truncated at ${t}, row ${i}`);
      sameRow(matrixRow(alt, i), matrixRow(full, i), `changed after ${t}, row ${i}`);
    }
    if (t + 1 < bars.length) {
      const differs = Array.from(matrixRow(alt, t + 1)).some((v, j) =>
        !Object.is(v, matrixRow(full, t + 1)[j])
      );
      assert.ok(differs, "the changed bar itself does change its row");
    }
  }
});

Deno.test("warm-up of every candle feature is as declared in the registry", () => {
  const m = runCandleBatch(BTC1.slice(0, 500), 60_000);
  for (const f of CANDLE_FEATURES) {
    if (f === "funding_settled_bps") continue;
    const col = matrixColumn(m, f);
    const first = col.findIndex((v) => !Number.isNaN(v));
    assert.equal(first, featureDef(f).warmup, `${f}: first finite row`);
    assert.ok(col.slice(first).every((v) => !Number.isNaN(v)), `${f}: finite after warm-up`);
  }
});

Deno.test("a missing bar resets every indicator; the rows after it equal a fresh start", () => {
  const hole = 700;
  const bars = [...BTC1.slice(0, hole), ...BTC1.slice(hole + 1, 1500)];
  const m = runCandleBatch(bars, 60_000);
  const fresh = runCandleBatch(BTC1.slice(hole + 1, 1500), 60_000);
  for (let i = hole; i < bars.length; i++) {
    sameRow(matrixRow(m, i), matrixRow(fresh, i - hole), `row ${i}`);
  }
  assert.ok(Number.isNaN(value(m, hole, "ret_1b_bps")), "no return across the hole");
  assert.ok(!Number.isNaN(value(m, hole - 1, "adx14")));
});

Deno.test("settled funding: the last settlement at or before the bar close, from the real history", () => {
  const funding = readFundingCsv(text("binance_usdm_BTCUSDT_funding_8h_20250306-20250603.csv"));
  const bars = attachSettledFunding(BTC15, funding, M15);
  const m = runCandleBatch(bars, M15);
  const col = matrixColumn(m, "funding_settled_bps");
  // First settlement 2025-03-06T16:00Z (rate 0.00006818) = close of the 15:45 bar (row 21).
  assert.equal(funding[0].ts, 1741276800000);
  assert.equal(BTC15[21].ts + M15, funding[0].ts);
  assert.ok(Number.isNaN(col[20]), "before the first settlement: unknown");
  assert.equal(col[21], 0.00006818 * 1e4);
  assert.equal(col[52], 0.00006818 * 1e4, "unchanged until the next settlement");
  // Next settlement 2025-03-07T00:00Z (−0.00000612) closes the 23:45 bar.
  const k = BTC15.findIndex((b) => b.ts + M15 === funding[1].ts);
  assert.equal(col[k - 1], 0.00006818 * 1e4);
  assert.equal(col[k], -0.00000612 * 1e4);
  assert.throws(() => attachSettledFunding(BTC15, [funding[1], funding[0]], M15), /time order/);
});

Deno.test("bad bars are rejected with the bar time and the reason", () => {
  const e = new CandleEngine(60_000);
  const b = BTC1[0];
  e.update(b);
  assert.throws(() => e.update(b), /ts=1746372780000.*grid/);
  assert.throws(() => e.update({ ...BTC1[1], ts: b.ts + 30_000 }), /60000 ms grid/);
  assert.throws(() => e.update({ ...BTC1[1], high: b.low - 1 }), /low ≤ open, close ≤ high/);
  assert.throws(() => e.update({ ...BTC1[1], volume: -1 }), /volume must be ≥ 0/);
  assert.throws(() => e.update({ ...BTC1[1], close: NaN }), /low ≤ open/);
  assert.throws(
    () => runCandleBatch([BTC1[0], BTC1[2], BTC1[1]], 60_000),
    /^RangeError: row 2: bar at/,
  );
  assert.throws(() => new CandleEngine(0), /intervalMs/);
});

Deno.test("ClosedBarFilter releases each bar's last push when the next bar starts", () => {
  const f = new ClosedBarFilter("1m");
  const ev = (b: Bar, close: number, iv = "1m"): CandleEvent => ({
    kind: "candle",
    symbol: "BTCUSDT",
    ts: b.ts,
    recvTs: b.ts,
    interval: iv,
    open: b.open,
    high: Math.max(b.high, close),
    low: Math.min(b.low, close),
    close,
    volume: b.volume,
    quoteVolume: NaN,
  });
  assert.equal(f.push(ev(BTC1[0], BTC1[0].open)), null);
  assert.equal(f.push(ev(BTC1[0], BTC1[0].close)), null);
  assert.equal(f.push(ev(BTC1[0], BTC1[0].close, "15m")), null, "other interval ignored");
  const closed = f.push(ev(BTC1[1], BTC1[1].open));
  assert.deepEqual(closed, BTC1[0]);
  assert.throws(() => f.push(ev(BTC1[0], BTC1[0].close)), /before/);
});
