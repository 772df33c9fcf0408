/**
 * `bitget-bot train` end to end on real Binance 1m candles + settled funding (../shared/data),
 * imported into a temporary SQLite database: bundle written, metrics finite, walk-forward windows
 * ordered with a purge gap > horizon, ONNX scores equal to the trainer's own predictions, the drift
 * section built from the (float32) training rows, and the user errors (exit 2).
 */
import assert from "node:assert/strict";
import { parseTrainArgs, runTrain, trainCommand } from "../src/cli/train.ts";
import { readBundle } from "../src/model/bundle.ts";
import { readTrainingSection } from "../src/model/dataset.ts";
import { DriftReference } from "../src/model/drift.ts";
import { Scorer } from "../src/model/scorer.ts";
import { spearman } from "../src/model/train_metrics.ts";
import { walkForwardSplit } from "../src/model/walk_forward.ts";
import { importCsv } from "../src/store/import_csv.ts";
import { Store } from "../src/store/store.ts";
import { MlConfigSchema } from "../src/strategy/ml_config.ts";
import { resolveModel } from "../src/strategy/ml_model.ts";

const DATA = new URL("../../shared/data/", import.meta.url).pathname;
const BTC_1M = `${DATA}binance_usdm_BTCUSDT_1m_20250504-20250603.csv`;
const BTC_FUND = `${DATA}binance_usdm_BTCUSDT_funding_8h_20250306-20250603.csv`;
const ETH_1M = `${DATA}binance_usdm_ETHUSDT_1m_20250504-20250615.csv`;
const FROM = Date.parse("2025-05-10T00:00:00Z");
const TO = Date.parse("2025-05-14T00:00:00Z"); // 4 days of 1m bars per symbol

let dbPromise: Promise<{ dir: string; db: string }> | null = null;
/** One imported database shared by the tests of this file. */
function database(): Promise<{ dir: string; db: string }> {
  dbPromise ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "train_cmd_test_" });
    const db = `${dir}/t.db`;
    const store = Store.open(db, { create: true });
    await importCsv(store, BTC_1M, "candles-1m", "BTCUSDT");
    await importCsv(store, BTC_FUND, "funding", "BTCUSDT");
    await importCsv(store, ETH_1M, "candles-1m", "ETHUSDT");
    store.close();
    return { dir, db };
  })();
  return dbPromise;
}

async function quietly<T>(f: () => Promise<T>): Promise<{ value: T; err: string }> {
  const orig = console.error, origLog = console.log;
  let err = "";
  console.error = (...a: unknown[]) => (err += a.join(" ") + "\n");
  console.log = () => {};
  try {
    return { value: await f(), err };
  } finally {
    console.error = orig;
    console.log = origLog;
  }
}

Deno.test("train: candle 1m multiclass on real BTC+ETH bars writes a consistent bundle", async () => {
  const { dir, db } = await database();
  const lines: string[] = [];
  const opts = parseTrainArgs([
    db,
    "--features",
    "candle",
    "--symbols",
    "BTCUSDT",
    "ETHUSDT",
    "--horizon",
    "10",
    "--from",
    new Date(FROM).toISOString(),
    "--to",
    String(TO),
    "--out",
    `${dir}/m`,
    "num_iterations=20",
    "num_leaves=7",
  ]);
  assert.notEqual(opts, "help");
  if (opts === "help") return;
  assert.deepEqual(opts.symbols, ["BTCUSDT", "ETHUSDT"]);
  const r = await runTrain({ ...opts, log: (l) => lines.push(l) });

  // Per-iteration metric lines in LightGBM's format.
  assert.match(lines.find((l) => l.startsWith("[1]"))!, /^\[1\]\tvalid_1's multi_logloss: [\d.]+$/);
  for (const k of ["multi_logloss", "auc_macro_ovr", "accuracy", "ic", "hit_rate", "trades"]) {
    assert.ok(Number.isFinite(r.metrics[k]), `${k} = ${r.metrics[k]}`);
  }
  assert.ok(r.metrics.auc_macro_ovr > 0 && r.metrics.auc_macro_ovr < 1);
  assert.ok(r.metrics.hit_rate >= 0 && r.metrics.hit_rate <= 1);

  // Walk-forward: train strictly before valid, purge gap longer than the 10-bar horizon, and no
  // training label (price at t + horizon) inside the validation window.
  const s = r.split;
  const horizonMs = 10 * 60_000;
  assert.ok(s.trainStartMs <= s.trainEndMs && s.trainEndMs < s.validStartMs);
  assert.ok(s.validStartMs <= s.validEndMs);
  assert.ok(s.gapMs > horizonMs, `gap ${s.gapMs}`);
  for (const i of s.train) assert.ok(r.dataset.ts[i] + horizonMs < s.validStartMs);
  for (const i of s.valid) assert.ok(r.dataset.ts[i] >= s.validStartMs);
  assert.ok(s.trainStartMs >= FROM && s.validEndMs < TO);
  // Both symbols are in both windows (pooled, time-ordered).
  const symsIn = (rows: Int32Array) => new Set(Array.from(rows, (i) => r.dataset.symbolIndex[i]));
  assert.equal(symsIn(s.train).size, 2);
  assert.equal(symsIn(s.valid).size, 2);

  // Bundle: metadata and training section.
  const { meta } = await readBundle(`${dir}/m`);
  assert.deepEqual(meta.featureNames, [...r.dataset.featureNames]);
  assert.deepEqual(meta.classes, ["flat", "long", "short"]);
  assert.equal(meta.label?.horizonMs, horizonMs);
  assert.equal(meta.thresholds.cost_bps, 15);
  assert.equal(meta.validationMetrics.accuracy, r.metrics.accuracy);
  assert.ok(meta.featureImportance.some((f) => f.gain > 0));
  const t = await readTrainingSection(`${dir}/m.json`);
  assert.equal(t.featureSet, "candle");
  assert.equal(t.engine.intervalMs, 60_000);
  assert.equal(t.windows.valid.startMs, s.validStartMs);
  assert.equal(t.windows.gapMs, s.gapMs);

  // Drift section: the PSI reference of the training rows (not validation), float32 as trained.
  const drift = meta.drift;
  assert.ok(drift, "bundle has a drift section");
  assert.equal(drift.rows, s.train.length);
  assert.deepEqual(drift.features.map((f) => f.name), meta.featureNames);
  for (const f of drift.features) {
    assert.equal(f.expected.length, f.edges.length + 2, f.name);
    const sum = f.expected.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-9, `${f.name}: expected shares sum to ${sum}`);
  }
  const cols = r.dataset.cols;
  const trainRows = new Float32Array(s.train.length * cols);
  s.train.forEach((row, i) =>
    trainRows.set(r.dataset.values.subarray(row * cols, (row + 1) * cols), i * cols)
  );
  const selfPsi = DriftReference.fromJSON(drift).psiOf(trainRows, s.train.length);
  assert.equal(selfPsi.length, meta.featureNames.length);
  selfPsi.forEach((p, j) => assert.ok(p < 1e-9, `${meta.featureNames[j]}: PSI vs itself ${p}`));
  const setup = await resolveModel(MlConfigSchema.parse({}), `${dir}/m`);
  try {
    assert.ok(setup.drift, "resolveModel yields the bundle's drift reference");
    assert.equal(setup.drift.rows, s.train.length);
  } finally {
    await setup.scorer?.release();
  }

  // ONNX scores of the written bundle = the trainer's predictions on the validation rows.
  const scorer = await Scorer.load(`${dir}/m`, meta.featureNames);
  const c = r.dataset.cols, n = s.valid.length;
  const x = new Float32Array(n * c);
  s.valid.forEach((row, i) => x.set(r.dataset.values.subarray(row * c, (row + 1) * c), i * c));
  const out = await scorer.scoreBatch(x, n);
  let maxDiff = 0;
  for (let i = 0; i < n * 3; i++) maxDiff = Math.max(maxDiff, Math.abs(out[i] - r.validPred[i]));
  assert.ok(maxDiff < 1e-5, `max |onnx − trainer| = ${maxDiff}`);
  await scorer.release();
});

Deno.test("train: regression objective reports RMSE and IC through the CLI entry point", async () => {
  const { dir, db } = await database();
  const { value: code } = await quietly(() =>
    trainCommand([
      db,
      "--features=candle",
      "--symbols=BTCUSDT",
      "--horizon=5",
      `--from=${FROM}`,
      `--to=${FROM + 2 * 86_400_000}`,
      "--objective=regression",
      `--out=${dir}/reg`,
      "num_iterations=10",
    ])
  );
  assert.equal(code, 0);
  const { meta } = await readBundle(`${dir}/reg`);
  assert.equal(meta.objective.name, "regression");
  assert.ok(meta.validationMetrics.rmse > 0);
  assert.ok(Number.isFinite(meta.validationMetrics.ic));
});

Deno.test("train: symbols with different spans train on the common span, and say so", async () => {
  const { dir, db } = await database();
  // BTC 1m ends 2025-06-03, ETH 1m runs to 2025-06-15: without --to the validation window (the
  // latest rows) would hold ETH alone.
  const opts = parseTrainArgs([
    db,
    "--features=candle",
    "--symbols=BTCUSDT,ETHUSDT",
    "--horizon=10",
    "--from=2025-05-30",
    `--out=${dir}/common`,
    "num_iterations=5",
    "num_leaves=7",
  ]);
  assert.notEqual(opts, "help");
  if (opts === "help") return;
  const lines: string[] = [];
  await runTrain({ ...opts, log: (l) => lines.push(l) });
  const said = lines.find((l) => l.startsWith("symbols cover different spans"));
  assert.ok(said, lines.join("\n"));
  assert.match(said, /common span 2025-05-30T00:00:00\.000Z → 2025-06-03T15:31:00\.000Z/);
  const valid = lines.find((l) => l.startsWith("train "))!;
  const end = valid.match(/valid \S+ → (\S+)/)![1];
  assert.ok(Date.parse(end) <= Date.parse("2025-06-04T00:00:00Z"), valid);
});

Deno.test("train: user errors exit 2 with a clear message", async () => {
  const { dir, db } = await database();
  const base = ["--features=candle", "--horizon=10", `--out=${dir}/bad`];
  const cases: [string[], RegExp][] = [
    [[db, ...base, "--symbols=DOGEUSDT"], /no 1m candles for DOGEUSDT/],
    [[db, ...base, "--symbols=BTCUSDT", "--from=2030-01-01", "--to=2030-02-01"], /no 1m candles/],
    [
      [db, "--features=candle", "--symbols=BTCUSDT", "--horizon=100000"],
      /horizon 100000 .* too long/,
    ],
    [
      [db, ...base, "--symbols=BTCUSDT", `--from=${FROM}`, `--to=${FROM + 12 * 60_000}`],
      /empty training window/,
    ],
    [[
      db,
      ...base,
      "--symbols=BTCUSDT",
      `--from=${FROM}`,
      `--to=${FROM + 86_400_000}`,
      "--fee-bps=500",
    ], /constant label/],
    [[db, ...base, "--symbols=BTCUSDT", "num_leaves=1"], /num_leaves/],
    [[db, ...base, "--symbols=btc"], /upper-case symbol/],
    [
      [db, "--features=book", "--symbols=BTCUSDT", "--horizon=5"],
      /--features must be candle or micro/,
    ],
    [[`${dir}/missing.db`, ...base, "--symbols=BTCUSDT"], /missing\.db/],
  ];
  for (const [args, re] of cases) {
    const { value: code, err } = await quietly(() => trainCommand(args));
    assert.equal(code, 2, `${args.join(" ")} → ${code}: ${err}`);
    assert.match(err, re, args.join(" "));
  }
});

Deno.test("walkForwardSplit keeps tied times together and purges labels reaching validation", () => {
  const ts = [0, 0, 60, 60, 120, 120, 180, 180, 240, 240].map((x) => x * 1000);
  const s = walkForwardSplit(ts, { validFraction: 0.3, horizonMs: 60_000 });
  assert.deepEqual(Array.from(s.valid), [6, 7, 8, 9]);
  assert.deepEqual(Array.from(s.train), [0, 1, 2, 3]); // t=120 s: 120 + 60 = 180 = validStart
  assert.equal(s.purgedRows, 2);
  assert.ok(s.gapMs > 60_000);
});

Deno.test("spearman: ranks with ties, perfect monotone = 1", () => {
  assert.equal(spearman([1, 2, 3, 4], [10, 20, 30, 1000]), 1);
  assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])));
});

Deno.test("the shipped default model loads and matches its training section", async () => {
  const path = new URL("../models/default", import.meta.url).pathname;
  const { meta } = await readBundle(path);
  const t = await readTrainingSection(path);
  assert.equal(t.featureSet, "candle");
  assert.ok(meta.trees <= 200);
  assert.ok((await Deno.stat(`${path}.onnx`)).size <= 2 * 1024 * 1024);
  assert.ok(t.windows.train.endMs + t.horizonMs < t.windows.valid.startMs);
});

Deno.test({
  name: "dispose the shared database",
  sanitizeResources: false,
  fn: async () => {
    if (dbPromise) await Deno.remove((await dbPromise).dir, { recursive: true });
  },
});
