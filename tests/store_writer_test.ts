/**
 * The writer: BatchWriter commit triggers (size, age, flush, close), frame tallies committed
 * with their rows, failed-commit handling, whole-batch atomicity, the writer's rows equal the raw
 * benchmark's rows, contracts/runs/gaps, and the writer-vs-raw insert rate on recorded data
 * (printed, not asserted: the machine is shared).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Store, StoreError } from "../src/store/store.ts";
import { BatchWriter, quantile } from "../src/store/batch_writer.ts";
import { compareIngestRates, type ReplayFrame } from "../src/store/bench_support.ts";
import { loadReplayFrames } from "../src/ingest/replay_frames.ts";
import { eventRow, levelsJson, RAW_INSERT_SQL } from "../src/store/raw_rows.ts";
import { readContracts, readGaps } from "../src/store/readers.ts";
import { parseContract } from "../src/market/contracts.ts";
import type { BookLevel, TradeEvent } from "../src/market/events.ts";

const SHARED = new URL("../../shared/data/bitget_replay/", import.meta.url);
const REPLAY = new URL("bitget_v2_public_BTCUSDT-ETHUSDT_20240718T2357.jsonl.gz", SHARED);

let framesCache: ReplayFrame[] | null = null;
async function frames(): Promise<ReplayFrame[]> {
  return framesCache ??= await loadReplayFrames(REPLAY);
}

async function withDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const n = (s: Store, sql: string) =>
  Number(Object.values(s.db.prepare(sql).get() as Record<string, unknown>)[0]);

function trade(i: number, ts = 1721347022000 + i): TradeEvent {
  return {
    kind: "trade",
    symbol: "BTCUSDT",
    ts,
    recvTs: ts + 3.25,
    tradeId: String(5_000_000 + i),
    price: 64000 + (i % 7) / 10,
    size: 0.001 * (1 + (i % 5)),
    side: i % 2 ? "buy" : "sell",
  };
}

Deno.test("BatchWriter commits by size, by age, on flush and on close; stats add up", async () => {
  await withDir(async (dir) => {
    const store = Store.open(join(dir, "w.db"), { create: true });
    const w = new BatchWriter(store, { batchMaxAge: 60_000, batchMaxEvents: 100 });
    for (let i = 0; i < 250; i++) w.push(trade(i));
    let st = w.stats();
    assert.equal(st.batches, 2);
    assert.equal(st.pending, 50);
    assert.equal(n(store, "SELECT count(*) FROM trades"), 200);
    assert.ok(w.flush());
    assert.equal(w.stats().batches, 3);
    assert.equal(w.flush(), null, "nothing pending");
    w.close();
    assert.throws(() => w.push(trade(999)), /closed/);

    // Age trigger: a small batch is committed by the timer without any further push.
    const aged = new BatchWriter(store, { batchMaxAge: 20, batchMaxEvents: 1_000_000 });
    for (let i = 300; i < 310; i++) aged.push(trade(i));
    assert.equal(aged.stats().pending, 10);
    for (let waited = 0; aged.stats().pending > 0 && waited < 10_000; waited += 10) {
      await new Promise((r) => setTimeout(r, 10));
    }
    st = aged.stats();
    assert.equal(st.pending, 0);
    assert.equal(st.batches, 1);
    assert.ok(st.lastCommitMs >= 0 && st.lastLatencyMs >= st.lastCommitMs);
    assert.ok(st.commitP99Ms >= st.commitP50Ms);
    aged.close();
    assert.equal(n(store, "SELECT count(*) FROM trades"), 260);
    store.close();
  });
});

Deno.test("frame tallies commit with their rows: stored frames == frames received", async () => {
  await withDir(async (dir) => {
    const fs = (await frames()).slice(0, 6000);
    const store = Store.open(join(dir, "f.db"), { create: true });
    const runId = store.beginRun({ command: "collect", args: ["--test"], version: "test" });
    const w = new BatchWriter(store, { batchMaxAge: 60_000, batchMaxEvents: 777, runId });
    const received: Record<string, number> = {};
    for (const f of fs) {
      const key = `${f.symbol}|${f.channel}`;
      received[key] = (received[key] ?? 0) + 1;
      w.pushAll(f.events, { [key]: 1 });
    }
    w.close();
    store.endRun(runId, "ok");
    const stored = Object.fromEntries(
      (store.db.prepare("SELECT symbol, channel, frames FROM ingest_counts WHERE run_id = ?")
        .all(runId) as { symbol: string; channel: string; frames: number }[])
        .map((r) => [`${r.symbol}|${r.channel}`, r.frames]),
    );
    assert.deepEqual(stored, received);
    const st = w.stats();
    assert.equal(st.frames, fs.length);
    assert.equal(st.events, fs.reduce((a, f) => a + f.events.length, 0));
    // rows = rows written: inserts, plus candle rows rewritten by a changed push of the bar.
    const inserted = ["books", "books15", "trades", "tickers"]
      .reduce((a, t) => a + n(store, `SELECT count(*) FROM ${t}`), 0);
    const candleWrites = st.rows - inserted;
    const candleEvents = fs.flatMap((f) => f.events).filter((e) => e.kind === "candle").length;
    assert.ok(candleWrites >= n(store, "SELECT count(*) FROM candles"));
    assert.ok(candleWrites <= candleEvents);
    assert.equal(st.duplicates, candleEvents - candleWrites, "unchanged candle pushes");
    const run = store.db.prepare("SELECT * FROM runs WHERE id = ?").get(runId) as Record<
      string,
      unknown
    >;
    assert.equal(run.status, "ok");
    assert.equal(run.command, "collect");
    assert.ok(Number(run.ended_ts) >= Number(run.started_ts));
    store.close();
  });
});

Deno.test("a failing batch is rolled back whole: no rows, no aggregates, no tallies", async () => {
  await withDir((dir) => {
    const store = Store.open(join(dir, "a.db"), { create: true });
    const evs = Array.from({ length: 50 }, (_, i) => trade(i));
    assert.throws(() => store.writeBatch(evs, { "no-bar-key": 3 }), StoreError);
    for (const t of ["trades", "agg_1s", "agg_1m", "agg_15m", "ingest_counts"]) {
      assert.equal(n(store, `SELECT count(*) FROM ${t}`), 0, t);
    }
    // The same events then commit normally (no stale aggregate deltas left behind).
    const r = store.writeBatch(evs, { "BTCUSDT|trade": 1 });
    assert.equal(r.rows.trades, 50);
    assert.equal(n(store, "SELECT sum(trade_count) FROM agg_1m"), 50);

    // BatchWriter: retries, then drops after maxAttempts and reports it.
    const errors: [unknown, number][] = [];
    const w = new BatchWriter(store, {
      batchMaxAge: 60_000,
      batchMaxEvents: 10,
      maxAttempts: 2,
      onError: (e, dropped) => errors.push([e, dropped]),
    });
    w.pushAll([trade(100)], { "bad": 1 });
    assert.equal(w.flush(), null);
    assert.equal(errors.length, 1);
    assert.equal(errors[0][1], 0, "first failure keeps the batch for a retry");
    assert.equal(w.flush(), null);
    assert.equal(errors[1][1], 1, "second failure drops it");
    assert.equal(w.stats().droppedEvents, 1);
    assert.equal(w.stats().failedCommits, 2);
    w.pushAll([trade(101)], { "BTCUSDT|trade": 1 });
    assert.ok(w.flush());
    w.close();
    assert.equal(n(store, "SELECT count(*) FROM trades"), 51);
    store.close();
  });
});

Deno.test("malformed events are counted as rejected and skipped, the rest commits", async () => {
  await withDir((dir) => {
    const store = Store.open(join(dir, "m.db"), { create: true });
    const good = trade(1);
    const r = store.writeBatch([
      { ...trade(2), ts: 1721347022000.5 },
      { ...trade(3), recvTs: NaN },
      { ...trade(4), price: NaN },
      { ...trade(5), size: Infinity },
      {
        kind: "funding",
        symbol: "BTCUSDT",
        ts: 1,
        recvTs: 1,
        fundingRate: NaN,
        nextFundingTime: null,
        intervalHours: null,
        type: "current",
      },
      { kind: "oi", symbol: "BTCUSDT", ts: 1, recvTs: 1, openInterest: NaN },
      {
        kind: "gap",
        symbol: "BTCUSDT",
        channel: "books",
        ts: 5,
        recvTs: 5,
        startTs: NaN,
        endTs: 5,
        reason: "stale",
        detail: "",
      },
      {
        kind: "candle",
        symbol: "BTCUSDT",
        ts: 60_000,
        recvTs: 1,
        interval: "1m",
        open: 1,
        high: NaN,
        low: 1,
        close: 1,
        volume: 1,
        quoteVolume: NaN,
      },
      good,
      {
        kind: "ticker",
        symbol: "BTCUSDT",
        ts: 1721347022001,
        recvTs: 1721347022002,
        last: 1,
        bid: NaN,
        ask: 2,
        bidSize: 1,
        askSize: 1,
        markPrice: 1,
        indexPrice: 1,
        fundingRate: 0,
        nextFundingTime: 1721347200000.4,
        openInterest: 1,
        open24h: 1,
        high24h: 1,
        low24h: 1,
        baseVolume24h: 1,
        quoteVolume24h: 1,
      },
    ]);
    assert.equal(r.rejected, 8);
    assert.equal(r.rows.trades, 1);
    assert.equal(r.rows.tickers, 1);
    const t = store.db.prepare("SELECT bid, next_funding_time FROM tickers").get() as Record<
      string,
      unknown
    >;
    assert.deepEqual({ ...t }, { bid: null, next_funding_time: 1721347200000 });
    store.close();
  });
});

Deno.test("writer rows are byte-identical to the raw benchmark's rows", async () => {
  await withDir(async (dir) => {
    const events = (await frames()).slice(0, 4000).flatMap((f) => f.events);
    const a = Store.open(join(dir, "writer.db"), { create: true });
    a.writeBatch(events);
    const b = Store.open(join(dir, "raw.db"), { create: true });
    b.db.exec("BEGIN");
    for (const e of events) {
      const r = eventRow(e);
      b.db.prepare(RAW_INSERT_SQL[r.table]).run(...r.params);
    }
    b.db.exec("COMMIT");
    for (
      const [t, order] of [
        ["books", "id"],
        ["books15", "id"],
        ["trades", "symbol, trade_id"],
        ["tickers", "id"],
        ["candles", "symbol, interval, start_ts"],
      ]
    ) {
      const q = `SELECT * FROM ${t} ORDER BY ${order}`;
      const ra = a.db.prepare(q).all();
      assert.ok(ra.length > 0, t);
      assert.deepEqual(ra, b.db.prepare(q).all(), t);
    }
    a.close();
    b.close();
  });
});

Deno.test("levelsJson equals JSON.stringify, including strings that need escaping", () => {
  const cases: BookLevel[][] = [
    [],
    [["63943.9", "46.3720"]],
    [["1", "2"], ["3", "0"]],
    [['1"', "2"]],
    [["1\\", "2\n"]],
  ];
  for (const c of cases) assert.equal(levelsJson(c), JSON.stringify(c));
});

Deno.test("contracts upsert (recorded REST body), runs and gaps", async () => {
  await withDir(async (dir) => {
    const body = JSON.parse(
      await Deno.readTextFile(new URL("rest/20240718T2357/start/contracts.json", SHARED)),
    ) as { data: Record<string, unknown>[] };
    const specs = body.data.map(parseContract);
    const store = Store.open(join(dir, "c.db"), { create: true });
    assert.equal(store.upsertContracts(specs, body.data, 1721347022835), specs.length);
    assert.equal(store.upsertContracts(specs, body.data, 1721347022999), specs.length);
    const back = readContracts(store);
    assert.equal(back.length, specs.length);
    for (const c of back) {
      const { raw, updatedTs, ...spec } = c;
      assert.deepEqual(spec, specs.find((s) => s.symbol === c.symbol));
      assert.deepEqual(raw, body.data.find((d) => d.symbol === c.symbol));
      assert.equal(updatedTs, 1721347022999);
    }
    const btc = back.find((c) => c.symbol === "BTCUSDT")!;
    assert.equal(btc.tickSize, 0.1);
    assert.equal(btc.lotSize, 0.0001);

    const run = store.beginRun({ command: "collect", args: [], version: "t", host: "h" });
    const id = store.recordGap({
      kind: "gap",
      symbol: "BTCUSDT",
      channel: "books",
      ts: 2000,
      recvTs: 2000,
      startTs: 1000,
      endTs: 2000,
      reason: "checksum",
      detail: "crc mismatch",
    }, run);
    assert.ok(id > 0);
    const gaps = readGaps(store, "BTCUSDT", 0, 10_000);
    assert.equal(gaps.length, 1);
    assert.equal(gaps[0].runId, run);
    assert.equal(gaps[0].reason, "checksum");
    store.endRun(run, "interrupted", 3000);
    assert.throws(() => store.endRun(run + 100, "ok"), /no run/);
    store.close();
  });
});

Deno.test("quantile: nearest rank", () => {
  assert.ok(Number.isNaN(quantile([], 0.5)));
  assert.equal(quantile([5, 1, 3], 0.5), 3);
  assert.equal(quantile(Array.from({ length: 100 }, (_, i) => i + 1), 0.99), 99);
});

Deno.test("ingest rate: BatchWriter vs raw node:sqlite batched INSERT on recorded data", async () => {
  await withDir(async (dir) => {
    const fs = await frames();
    const cmp = compareIngestRates(fs, dir, 3);
    assert.equal(cmp.writer.rows, cmp.raw.rows, "same rows written by both paths");
    assert.ok(cmp.raw.rows > 50_000);
    console.log(
      `ingest: raw ${cmp.raw.rowsPerSec.toFixed(0)} rows/s, BatchWriter ` +
        `${cmp.writer.rowsPerSec.toFixed(0)} rows/s (incl. aggregates + tallies), ratio ` +
        `${cmp.ratio.toFixed(2)} (target >= 0.5); commit p50 ${cmp.writer.p50Ms.toFixed(1)} ms ` +
        `p99 ${cmp.writer.p99Ms.toFixed(1)} ms per 5000 events; best of ${cmp.rounds}`,
    );
  });
});
