/**
 * The ml model's lifecycle (strategy/lifecycle.ts, model/drift.ts): PSI against hand-computed
 * values, then a backtest of the real 30-day BTC+ETH 1m month with retraining on — drift alarms
 * from the PSI of the live window against the training rows, drift-triggered retrains, shadows
 * and their verdicts, all in the run's events, and no retrain reading a label after its time.
 */
import assert from "node:assert/strict";
import { runNoRetrain, wantsBaseline } from "../src/backtest/retrain_baseline.ts";
import { binOf, DriftReference, psi, PSI_FLOOR } from "../src/model/drift.ts";
import { runPlan } from "../src/backtest/session.ts";
import { parseConfig } from "../src/config/config.ts";
import type { MlStrategy } from "../src/strategy/ml.ts";
import { sharpeOf } from "../src/strategy/lifecycle.ts";
import { candleDb, CONTRACTS_JSON, SYMBOLS } from "./helpers/backtest_data.ts";

Deno.test("PSI: Σ (A − E)·ln(A/E) by hand; deciles, missing-value bin, floor", () => {
  // E = [0.5, 0.5], A = [0.9, 0.1]: 0.4·ln 1.8 + (−0.4)·ln 0.2.
  const want = 0.4 * Math.log(1.8) + -0.4 * Math.log(0.2);
  assert.ok(Math.abs(psi([0.5, 0.5], [90, 10]) - want) < 1e-12);
  assert.equal(psi([0.25, 0.25, 0.5], [25, 25, 50]), 0);
  // An empty bin is floored, not infinite.
  const floored = (PSI_FLOOR - 0.5) * Math.log(PSI_FLOOR / 0.5) + 0.5 * Math.log(1 / 0.5);
  assert.ok(Math.abs(psi([0.5, 0.5], [0, 10]) - floored) < 1e-12);
  assert.ok(Number.isNaN(psi([1], [0])));

  assert.equal(binOf([1, 2, 3], 0.5), 0);
  assert.equal(binOf([1, 2, 3], 1), 0); // edges are inclusive upper bounds
  assert.equal(binOf([1, 2, 3], 2.5), 2);
  assert.equal(binOf([1, 2, 3], 9), 3);
  assert.equal(binOf([1, 2, 3], NaN), 4);

  // 1000 training rows 0…999 → 9 decile edges, 10 % per value bin, 0 missing.
  const train = Float64Array.from({ length: 1000 }, (_, i) => i);
  const ref = DriftReference.fromRows(train, 1000, ["x"], 10);
  const f = ref.features[0];
  assert.deepEqual(f.edges, [99, 199, 299, 399, 499, 599, 699, 799, 899]);
  assert.deepEqual(f.expected, [...Array(10).fill(0.1), 0]);
  // The same population: PSI 0; shifted by half its range: far above 0.25; half missing: too.
  assert.equal(ref.psiOf(train, 1000)[0], 0);
  const shifted = train.map((v) => v + 500);
  assert.ok(ref.psiOf(shifted, 1000)[0] > 1);
  const missing = train.map((v, i) => (i % 2 ? NaN : v));
  assert.ok(ref.psiOf(missing, 1000)[0] > 0.25);
  // A JSON round trip (a bundle's `drift` section) keeps the reference.
  const back = DriftReference.fromJSON(JSON.parse(JSON.stringify(ref)));
  assert.equal(back.psiOf(shifted, 1000)[0], ref.psiOf(shifted, 1000)[0]);
  // Tied quantiles merge: a constant feature has one edge.
  assert.deepEqual(
    DriftReference.fromRows(new Float64Array(50).fill(3), 50, ["c"]).features[0].edges,
    [3],
  );

  assert.ok(Math.abs(sharpeOf([1, 2, 3]) - 2) < 1e-12); // mean 2 / sd 1
  assert.ok(Number.isNaN(sharpeOf([1, 1, 1])));
});

Deno.test("ml backtest with the lifecycle on the 30-day month: drift alarms, drift retrains, shadow verdicts", async () => {
  const db = await candleDb();
  db.store.close();
  try {
    const retrain = {
      enabled: true,
      trainWindowMs: "48h",
      everyMs: "7d",
      minRows: 2000,
      driftWindowMs: "6h",
      driftCheckMs: "1h",
      psiThreshold: 0.25,
      minIntervalMs: "4d",
      shadowForMs: "6h",
      minShadowRows: 200,
      sharpeThreshold: null,
      params: { num_iterations: 20, learning_rate: 0.1, num_leaves: 15, min_data_in_leaf: 50 },
    };
    const run = await runPlan({
      db: db.path,
      strategy: "ml",
      symbols: SYMBOLS,
      from: NaN,
      to: NaN,
      config: parseConfig({ strategies: { ml: { retrain } } }),
      contractsFile: CONTRACTS_JSON,
    });
    const ml = run.trading as MlStrategy;
    const ev = ml.lifecycleEvents;
    const of = (t: string) => ev.filter((e) => e.type === t);
    const retrains = ev.filter((e) => e.type === "retrain");
    const drift = of("drift_alarm");
    console.log(
      `  ${drift.length} drift alarms, ${retrains.length} retrains ` +
        `(${retrains.map((r) => r.type === "retrain" && r.trigger).join(",")}), ` +
        `${of("promoted").length} promoted, ${
          of("rejected").length
        } rejected; final ${ml.modelVersion}`,
    );
    // The first retrain comes from the weekly schedule (the default bundle has no drift
    // reference); from then on the live model's training rows are the reference.
    assert.ok(retrains.length >= 2, JSON.stringify(retrains));
    assert.ok(drift.length >= 1, "no drift alarm on a month of crypto data");
    for (const d of drift) {
      assert.ok(d.type === "drift_alarm" && d.features.length > 0);
      for (const f of d.features) assert.ok(f.psi > 0.25, `${f.name} ${f.psi}`);
    }
    assert.ok(retrains.some((r) => r.type === "retrain" && r.trigger === "drift"));
    // Every trained retrain shadows (a live model exists) and gets exactly one verdict.
    const trained = retrains.filter((r) => r.type === "retrain" && r.version !== null);
    for (const r of trained) {
      if (r.type !== "retrain") continue;
      const start = ev.find((e) => e.type === "shadow_start" && e.version === r.version);
      const verdicts = ev.filter((e) =>
        (e.type === "promoted" || e.type === "rejected") && e.version === r.version
      );
      const isLast = r === trained[trained.length - 1];
      // A shadow still open at the end of the month has no verdict yet.
      assert.ok(start, `shadow of ${r.version}`);
      assert.ok(verdicts.length === 1 || (isLast && verdicts.length === 0), r.version!);
      for (const v of verdicts) {
        if (v.type !== "promoted" && v.type !== "rejected") continue;
        assert.ok(start.type === "shadow_start" && v.ts >= start.untilTs + 15 * 60_000);
        if (v.candidate && v.live) {
          assert.ok(v.candidate.rows >= 200 && v.candidate.rows === v.live.rows);
          const better = v.candidate.logloss <= v.live.logloss;
          assert.equal(v.type === "promoted", better, v.reason);
        }
      }
    }
    // No look-ahead: no retrain read a label ending after its decision time.
    for (const e of ml.retrainLog) {
      if (e.skipped === null) assert.ok(e.lastLabelEndTs <= e.time && e.lastRowTs <= e.time);
    }
    assert.ok(run.trades.length > 0);

    // Against the same run without retraining (what `backtest` prints beside it): while no
    // candidate is promoted, the shadows never touch a decision, so the two runs agree exactly
    // up to the first promotion — and all the way when none was promoted.
    const plan = {
      db: db.path,
      strategy: "ml" as const,
      symbols: SYMBOLS,
      from: NaN,
      to: NaN,
      config: parseConfig({ strategies: { ml: { retrain } } }),
      contractsFile: CONTRACTS_JSON,
    };
    assert.ok(wantsBaseline(plan));
    const base = await runNoRetrain(plan);
    const firstPromotion = of("promoted")[0]?.ts ?? Infinity;
    const before = (t: { exitTs: number }) => t.exitTs < firstPromotion;
    const baseRun = await runPlan({
      ...plan,
      config: parseConfig({ strategies: { ml: { retrain: { ...retrain, enabled: false } } } }),
    });
    assert.deepEqual(baseRun.metrics, base);
    assert.deepEqual(
      run.trades.filter(before).map((t) => [t.symbol, t.entryTs, t.exitTs, t.netPnl]),
      baseRun.trades.filter(before).map((t) => [t.symbol, t.entryTs, t.exitTs, t.netPnl]),
    );
    if (firstPromotion === Infinity) assert.deepEqual(run.metrics, base);
    console.log(
      `  return ${(run.metrics.totalReturn * 100).toFixed(2)} % with retraining, ` +
        `${(base.totalReturn * 100).toFixed(2)} % without`,
    );
  } finally {
    await Deno.remove(db.dir, { recursive: true });
  }
});
