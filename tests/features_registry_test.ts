/**
 * The feature registry (one declaration per feature, sets in engine order, projection onto a
 * model's feature list) and the shared-data readers' error reporting.
 */
import assert from "node:assert/strict";
import { CandleEngine } from "../src/features/candle.ts";
import { matrixColumn, matrixRow } from "../src/features/matrix.ts";
import { MicroEngine } from "../src/features/micro.ts";
import {
  allFeatures,
  CANDLE_FEATURES,
  FEATURE_SETS,
  featureDef,
  featureSet,
  MICRO_FEATURES,
  project,
  projection,
} from "../src/features/registry.ts";
import { readBook15Csv, readOhlcvCsv, readTrades1sCsv } from "../src/features/sample_data.ts";
import { runCandleBatch } from "../src/features/candle.ts";

Deno.test("every feature is declared once with all metadata", () => {
  const all = allFeatures();
  assert.equal(all.length, MICRO_FEATURES.length + CANDLE_FEATURES.length);
  assert.equal(new Set(all.map((d) => d.name)).size, all.length, "names are unique");
  for (const d of all) {
    assert.match(d.name, /^[a-z][a-z0-9_]*$/, `${d.name}: snake_case name`);
    for (const k of ["unit", "window", "formula", "source"] as const) {
      assert.ok(d[k].trim().length > 0, `${d.name}: ${k} is empty`);
    }
    assert.ok(d.inputs.length > 0, `${d.name}: inputs`);
    assert.ok(Number.isInteger(d.warmup) && d.warmup >= 0, `${d.name}: warmup`);
    assert.equal(featureDef(d.name), d);
  }
  assert.equal(MICRO_FEATURES.length, 40);
  assert.equal(CANDLE_FEATURES.length, 31);
});

Deno.test("engines output their set in registry order", () => {
  assert.deepEqual(new MicroEngine().names, FEATURE_SETS.micro.features);
  assert.deepEqual(new CandleEngine(60_000).names, FEATURE_SETS.candle.features);
  assert.equal(featureSet("micro"), FEATURE_SETS.micro);
  assert.throws(() => featureSet("tick"), /unknown feature set "tick"/);
  assert.throws(() => featureDef("rsi15"), /unknown feature "rsi15"/);
});

Deno.test("projection maps an engine row onto a model's feature order", () => {
  const bars = readOhlcvCsv(
    Deno.readTextFileSync(
      new URL("../../shared/data/binance_usdm_ETHUSDT_15m_20250306-20250413.csv", import.meta.url),
    ),
  );
  const m = runCandleBatch(bars.slice(0, 100), 900_000);
  const names = ["rsi14", "atr14_bps", "ret_1b_bps"];
  const idx = projection(FEATURE_SETS.candle, names);
  const out = project(matrixRow(m, 99), idx, new Float64Array(3));
  assert.deepEqual(Array.from(out), names.map((n) => matrixColumn(m, n)[99]));
  assert.throws(
    () => projection(FEATURE_SETS.candle, ["rsi14", "imb1", "nope"]),
    /has no feature\(s\) imb1, nope/,
  );
  assert.throws(() => projection(FEATURE_SETS.micro, ["imb1", "imb1"]), /listed twice/);
});

Deno.test("shared-data readers name the file, line and column of bad input", () => {
  const ok = "open_time_ms,open_time_utc,open,high,low,close,volume\n1,x,1,2,0.5,1.5,10\n";
  assert.equal(readOhlcvCsv(ok, "a.csv")[0].close, 1.5);
  assert.throws(
    () => readOhlcvCsv(ok + "2,x,1,2,0.5,abc,10\n", "a.csv"),
    /a\.csv:3: column "close" is not a number: "abc"/,
  );
  assert.throws(() => readOhlcvCsv(ok + "2,x,1\n", "a.csv"), /a\.csv:3: 3 fields, header has 7/);
  assert.throws(
    () => readOhlcvCsv("open_time_ms,open\n", "b.csv"),
    /b\.csv: missing column "high"/,
  );
  assert.throws(() => readBook15Csv("ts_ms,x\n", "c.csv"), /c\.csv: missing column "bid_px_0"/);
  assert.throws(
    () =>
      readTrades1sCsv(
        "ts_ms,n_trades,taker_buy_qty,taker_sell_qty,vwap,last_px\n1,,0,0,,\n",
        "d.csv",
      ),
    /d\.csv:2: column "n_trades" is not a number/,
  );
});
