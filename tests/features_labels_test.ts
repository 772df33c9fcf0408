/**
 * Labels on real BTCUSDT 1-minute closes and 1 s mids: hand-checked rows, horizon end, holes,
 * known gaps, per-row spread, and the property that a label reads no price outside (t, t+h]
 * besides its own entry price.
 */
import assert from "node:assert/strict";
import {
  CLASS_FLAT,
  CLASS_LONG,
  CLASS_SHORT,
  classify,
  costThresholdBps,
  LABEL_CLASSES,
  type LabelParams,
  makeLabels,
  NO_LABEL,
} from "../src/features/labels.ts";
import {
  microInputsFromRecords,
  readBook15Csv,
  readOhlcvCsv,
  readTrades1sCsv,
} from "../src/features/sample_data.ts";

const DATA = new URL("../../shared/data/", import.meta.url);
const text = (f: string) => Deno.readTextFileSync(new URL(f, DATA));
const BTC1 = readOhlcvCsv(text("binance_usdm_BTCUSDT_1m_20250504-20250603.csv")).slice(0, 5000);
const TS = BTC1.map((b) => b.ts);
const CLOSE = BTC1.map((b) => b.close);
/** Taker 6 bps per side, 0.1 bps spread, 1 bp slippage per side → 14.1 bps round trip. */
const P: LabelParams = {
  horizon: 15,
  stepMs: 60_000,
  takerFeeBps: 6,
  spreadBps: 0.1,
  slippageBps: 1,
};

Deno.test("class mapping and cost threshold", () => {
  assert.deepEqual([...LABEL_CLASSES], ["flat", "long", "short"]);
  assert.deepEqual([CLASS_FLAT, CLASS_LONG, CLASS_SHORT, NO_LABEL], [0, 1, 2, -1]);
  assert.equal(costThresholdBps(6, 0.1, 1), 14.1);
  assert.equal(classify(14.2, 14.1), CLASS_LONG);
  assert.equal(classify(14.1, 14.1), CLASS_FLAT, "a move equal to the cost is not worth it");
  assert.equal(classify(-14.2, 14.1), CLASS_SHORT);
  assert.equal(classify(NaN, 14.1), NO_LABEL);
});

Deno.test("hand-checked labels on real 1m closes (h = 15 bars)", () => {
  const l = makeLabels(TS, CLOSE, P);
  // Worked out from the CSV closes: ln(c[i+15]/c[i])·1e4 against ±14.1 bps.
  const rows: [number, number, number, number, number][] = [
    // [row, bar start, close, close 15 bars later, expected fwd bps]
    [0, 1746372780000, 95502.7, 95449.6, -5.561598511115627],
    [101, 1746378840000, 95417.1, 95295.2, -12.783655443402768],
    [102, 1746378900000, 95410.7, 95255.1, -16.321756134886595],
    [121, 1746380040000, 95240.9, 95377.0, 14.279878555723277],
  ];
  for (const [i, ts, c0, c1, fwd] of rows) {
    assert.equal(TS[i], ts);
    assert.equal(CLOSE[i], c0);
    assert.equal(CLOSE[i + 15], c1);
    assert.ok(Math.abs(l.fwdRetBps[i] - fwd) < 1e-9, `row ${i}: ${l.fwdRetBps[i]} vs ${fwd}`);
  }
  assert.deepEqual([l.cls[0], l.cls[101], l.cls[102], l.cls[121]], [
    CLASS_FLAT,
    CLASS_FLAT,
    CLASS_SHORT,
    CLASS_LONG,
  ]);
  assert.equal(l.thresholdBps[0], 14.1);
  // The last 15 rows have no price 15 bars ahead.
  const n = TS.length;
  assert.ok(!Number.isNaN(l.fwdRetBps[n - 16]));
  for (let i = n - 15; i < n; i++) assert.ok(Number.isNaN(l.fwdRetBps[i]) && l.cls[i] === NO_LABEL);
  // All three classes occur in 5000 real minutes.
  for (const k of [0, 1, 2]) assert.ok(l.cls.includes(k), `class ${k} present`);
});

Deno.test("a missing row or a known gap removes exactly the labels whose horizon spans it", () => {
  const hole = 1000;
  const ts = TS.filter((_, i) => i !== hole);
  const px = CLOSE.filter((_, i) => i !== hole);
  const l = makeLabels(ts, px, P);
  // Rows 985..999 reach across the missing bar 1000; row 984 ends at 999; row 1000 (= bar 1001) is after it.
  assert.ok(!Number.isNaN(l.fwdRetBps[984]));
  for (let i = 985; i <= 999; i++) assert.equal(l.cls[i], NO_LABEL, `row ${i}`);
  assert.ok(!Number.isNaN(l.fwdRetBps[1000]));
  // Same effect from a gap record on complete data: nothing known strictly between bars 1999 and 2001.
  const g = makeLabels(TS, CLOSE, { ...P, gaps: [{ startTs: TS[1999], endTs: TS[2001] }] });
  const full = makeLabels(TS, CLOSE, P);
  for (let i = 0; i < TS.length; i++) {
    // (t, t + 15 min] overlaps (TS[1999], TS[2001]) for rows 1985..2000.
    const blocked = i >= 1985 && i <= 2000;
    if (blocked) assert.equal(g.cls[i], NO_LABEL, `row ${i} blocked`);
    else {assert.ok(
        Object.is(g.fwdRetBps[i], full.fwdRetBps[i]) && g.cls[i] === full.cls[i],
        `row ${i} unchanged`,
      );}
  }
});

Deno.test("no look-ahead beyond the horizon, and only p[t+h] is read from inside it", () => {
  const base = makeLabels(TS, CLOSE, P);
  for (const i of [0, 500, 2500, 4980]) {
    const h = P.horizon;
    // Change every price except p[i] and p[i+h]: label i must not move.
    const px = CLOSE.map((c, k) => (k === i || k === i + h ? c : c * 1.05));
    const l = makeLabels(TS, px, P);
    assert.ok(Object.is(l.fwdRetBps[i], base.fwdRetBps[i]) && l.cls[i] === base.cls[i], `row ${i}`);
    // Changing p[i+h] does move it.
    const px2 = CLOSE.map((c, k) => (k === i + h ? c * 1.01 : c));
    if (i + h < TS.length) assert.notEqual(makeLabels(TS, px2, P).fwdRetBps[i], base.fwdRetBps[i]);
  }
});

Deno.test("micro labels over real 1 s mids with the observed spread per row", () => {
  const rows = microInputsFromRecords(
    readBook15Csv(text("binance_usdm_BTCUSDT_20240718T2357_book15_1s.csv")),
    readTrades1sCsv(text("binance_usdm_BTCUSDT_20240718T2357_trades_1s.csv")),
  );
  const ts = rows.map((r) => r.ts),
    mid = rows.map((r) => r.mid),
    spread = rows.map((r) => r.spreadBps);
  const l = makeLabels(ts, mid, {
    horizon: 30,
    stepMs: 1000,
    takerFeeBps: 0.5,
    spreadBps: spread,
    slippageBps: 0.2,
  });
  assert.equal(l.thresholdBps[0], 1 + spread[0] + 0.4);
  assert.ok(Math.abs(l.fwdRetBps[10] - Math.log(mid[40] / mid[10]) * 1e4) < 1e-12);
  assert.equal(l.cls.filter((c) => c === NO_LABEL).length, 30, "only the last 30 s are unlabelled");
});

Deno.test("bad label inputs are rejected with a reason", () => {
  assert.throws(() => makeLabels([1, 2], [1], P), /2 rows but price has 1/);
  assert.throws(() => makeLabels([2, 1], [1, 1], P), /strictly increasing/);
  assert.throws(() => makeLabels(TS, CLOSE, { ...P, horizon: 0 }), /horizon/);
  assert.throws(() => makeLabels(TS, CLOSE, { ...P, spreadBps: [1, 2] }), /spreadBps has 2 values/);
  assert.throws(() => makeLabels(TS, CLOSE, { ...P, takerFeeBps: -1 }), /≥ 0/);
});
