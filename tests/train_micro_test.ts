/**
 * `bitget-bot train --features micro` on real Binance USDⓈ-M BTCUSDT data (../shared/data: 514 s
 * of top-15 book snapshots + 1 s trade summaries, imported into a temporary SQLite database):
 * the dataset's book features come from the stored 15 levels (imb3 and depth_total_usdt finite),
 * and its rows equal what the live path computes: MicroSampler fed the books15 BookEvents the
 * store replays (iterateEvents), then MicroEngine (runMicroBatch is MicroEngine.update per row).
 *
 * What the live-path comparison covers: the DB holds no tick trades (a trades-1s import stores
 * per-second summaries in agg_1s), so the sampler sees book events only; its records then take the
 * trade flow of each second (buy/sell volume, count, vwap, last trade price) from the same agg_1s
 * summaries. The book fields (all eight) therefore go through the live sampler, the flow fields
 * through the stored summary on both sides.
 */
import assert from "node:assert/strict";
import { parseTrainArgs, runTrain } from "../src/cli/train.ts";
import { runMicroBatch } from "../src/features/micro.ts";
import { type MicroInput, MicroSampler } from "../src/features/micro_input.ts";
import { columnIndex, MICRO_FEATURES } from "../src/features/registry.ts";
import { readBundle } from "../src/model/bundle.ts";
import { loadMicroInputs, type MicroBookSources } from "../src/model/dataset.ts";
import { importCsv } from "../src/store/import_csv.ts";
import { iterateEvents, readAgg } from "../src/store/readers.ts";
import { Store } from "../src/store/store.ts";

const DATA = new URL("../../shared/data/", import.meta.url).pathname;
const BOOK15 = `${DATA}binance_usdm_BTCUSDT_20230404T2358_book15_1s.csv`;
const TRADES = `${DATA}binance_usdm_BTCUSDT_20230404T2358_trades_1s.csv`;
const ALL = Number.MAX_SAFE_INTEGER;

async function microDb(): Promise<{ dir: string; db: string }> {
  const dir = await Deno.makeTempDir({ prefix: "train_micro_test_" });
  const db = `${dir}/m.db`;
  const store = Store.open(db, { create: true });
  try {
    const b = await importCsv(store, BOOK15, "book15-1s", "BTCUSDT");
    const t = await importCsv(store, TRADES, "trades-1s", "BTCUSDT");
    assert.equal(b.imported, 514);
    assert.ok(t.imported > 500, `trade seconds ${t.imported}`); // seconds without trades skip
  } finally {
    store.close();
  }
  return { dir, db };
}

/** Live path: MicroSampler over the replayed books15 events + the stored per-second trade flow. */
function liveInputs(store: Store): MicroInput[] {
  const sampler = new MicroSampler("BTCUSDT", "books15");
  const recs: MicroInput[] = [];
  let lastTs = 0;
  for (
    const e of iterateEvents(store, {
      symbols: ["BTCUSDT"],
      from: 0,
      to: ALL,
      kinds: ["book"],
      bookChannels: ["books15"],
    })
  ) {
    sampler.push(e, recs);
    lastTs = e.ts;
  }
  sampler.advance(lastTs, recs);
  const flow = new Map(readAgg(store, "agg_1s", "BTCUSDT", 0, ALL).map((a) => [a.bucketTs, a]));
  let last = NaN;
  return recs.map((r) => {
    const a = flow.get(r.ts - 1000);
    if (a?.close != null) last = a.close;
    return {
      ...r,
      buyVolume: a?.buyVolume ?? 0,
      sellVolume: a?.sellVolume ?? 0,
      tradeCount: a?.tradeCount ?? 0,
      vwap: a?.vwap ?? NaN,
      last,
      afterGap: false,
    };
  });
}

Deno.test("train micro: book features from books15 levels, rows equal the live sampler + engine", async () => {
  const { dir, db } = await microDb();
  try {
    // Inputs: every second has a books15 row except the one after the last frame (agg fallback).
    const store = Store.open(db, { readonly: true });
    let stored: MicroInput[], live: MicroInput[];
    const src: MicroBookSources = { books15: 0, aggTop: 0 };
    try {
      stored = loadMicroInputs(store, "BTCUSDT", 0, ALL, src);
      live = liveInputs(store);
    } finally {
      store.close();
    }
    assert.equal(src.books15, 514);
    assert.ok(src.aggTop <= 1, `agg fallbacks ${src.aggTop}`);
    assert.equal(live.length, 514);
    const byTs = new Map(stored.map((r) => [r.ts, r]));
    const bookKeys = [
      "mid",
      "spreadBps",
      "imbalance1",
      "imbalance3",
      "imbalance5",
      "depthTotal",
      "depth5bps",
      "depth10bps",
    ] as const;
    for (const r of live) {
      const s = byTs.get(r.ts);
      assert.ok(s, `no stored record at ${r.ts}`);
      for (const k of bookKeys) {
        assert.ok(Object.is(s[k], r[k]), `${k} at ${r.ts}: ${s[k]} vs ${r[k]}`);
      }
      assert.ok(Number.isFinite(s.imbalance3) && s.depthTotal > 0);
    }

    const opts = parseTrainArgs([
      db,
      "--features",
      "micro",
      "--symbols",
      "BTCUSDT",
      "--horizon",
      "10",
      "--fee-bps",
      "0",
      "--slippage-bps",
      "0",
      "--spread-bps",
      "0",
      "--out",
      `${dir}/micro`,
      "num_iterations=5",
      "min_data_in_leaf=5",
    ]);
    assert.notEqual(opts, "help");
    if (opts === "help") return;
    const r = await runTrain({ ...opts, log: () => {} });
    const d = r.dataset;
    assert.ok(d.rows > 400, `rows ${d.rows}`);
    assert.equal(r.model.trees.length, 5 * 3);
    const { meta } = await readBundle(`${dir}/micro`);
    assert.deepEqual(meta.featureNames, [...MICRO_FEATURES]);
    assert.equal(r.training.featureSet, "micro");

    // imb3 and depth_total_usdt are finite on (almost) every row — NaN before this change.
    const C = columnIndex(MICRO_FEATURES);
    for (const f of ["imb3", "depth_total_usdt"] as const) {
      let finite = 0;
      for (let i = 0; i < d.rows; i++) if (Number.isFinite(d.values[i * d.cols + C[f]])) finite++;
      assert.ok(finite >= 0.95 * d.rows, `${f} finite on ${finite}/${d.rows} rows`);
    }

    // Dataset rows = MicroEngine over the live-path inputs, bit for bit.
    const m = runMicroBatch(live);
    const row = new Map(Array.from(m.ts, (t, i) => [t, i]));
    let compared = 0;
    for (let i = 0; i < d.rows; i++) {
      const j = row.get(d.ts[i]);
      assert.ok(j !== undefined, `dataset ts ${d.ts[i]} not produced by the live path`);
      for (let c = 0; c < d.cols; c++) {
        const a = d.values[i * d.cols + c], b = m.values[j * m.cols + c];
        assert.ok(Object.is(a, b), `${d.featureNames[c]} at ${d.ts[i]}: ${a} vs ${b}`);
      }
      compared++;
    }
    assert.equal(compared, d.rows);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
