/**
 * `bitget-bot collect` end to end: the real CLI in a child process against the loopback simulator
 * over real sockets, replaying the full real recordings in ../shared/data/bitget_replay at
 * `--speed max`. Checks exact frame accounting, aggregates against a recomputation from the raw
 * tables, zero checksum mismatches, and a clean SIGTERM.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { OrderBook } from "../src/market/order_book.ts";
import type { BookLevel } from "../src/market/events.ts";
import {
  allDelivered,
  logLines,
  peekCount,
  REC_2023,
  REC_2024,
  recordingCounts,
  sim,
  spawnCollector,
  testConfig,
  waitFor,
} from "./helpers/collect_harness.ts";

function close(a: number, b: number, what: string): void {
  const tol = 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  assert.ok(Math.abs(a - b) <= tol, `${what}: stored ${a} vs recomputed ${b}`);
}

interface TradeRow {
  symbol: string;
  trade_id: string;
  ts: number;
  price: number;
  size: number;
  side: string;
}

/** (ts, numeric trade id) order, ids compared by length then text. */
function before(a: TradeRow, b: TradeRow): boolean {
  if (a.ts !== b.ts) return a.ts < b.ts;
  if (a.trade_id.length !== b.trade_id.length) return a.trade_id.length < b.trade_id.length;
  return a.trade_id < b.trade_id;
}

/** Recomputes trade stats per bucket from raw `trades` and compares them with `table`. */
function checkTradeAggregates(db: DatabaseSync, table: string, intervalMs: number): number {
  const trades = db.prepare("SELECT symbol, trade_id, ts, price, size, side FROM trades")
    .all() as unknown as TradeRow[];
  const buckets = new Map<string, {
    n: number;
    v: number;
    bv: number;
    sv: number;
    q: number;
    hi: number;
    lo: number;
    first: TradeRow;
    last: TradeRow;
  }>();
  for (const t of trades) {
    const key = `${t.symbol}|${Math.floor(t.ts / intervalMs) * intervalMs}`;
    const b = buckets.get(key);
    if (!b) {
      buckets.set(key, {
        n: 1,
        v: t.size,
        bv: t.side === "buy" ? t.size : 0,
        sv: t.side === "sell" ? t.size : 0,
        q: t.price * t.size,
        hi: t.price,
        lo: t.price,
        first: t,
        last: t,
      });
      continue;
    }
    b.n++;
    b.v += t.size;
    if (t.side === "buy") b.bv += t.size;
    else b.sv += t.size;
    b.q += t.price * t.size;
    b.hi = Math.max(b.hi, t.price);
    b.lo = Math.min(b.lo, t.price);
    if (before(t, b.first)) b.first = t;
    if (before(b.last, t)) b.last = t;
  }
  const rows = db.prepare(
    `SELECT symbol, bucket_ts, trade_count, volume, buy_volume, sell_volume, vwap, open, high,
            low, close FROM ${table} WHERE trade_count > 0`,
  ).all() as Record<string, number & string>[];
  assert.equal(rows.length, buckets.size, `${table}: buckets with trades`);
  for (const r of rows) {
    const b = buckets.get(`${r.symbol}|${r.bucket_ts}`);
    assert.ok(b, `${table}: unexpected bucket ${r.symbol} ${r.bucket_ts}`);
    const at = `${table} ${r.symbol} ${new Date(r.bucket_ts).toISOString()}`;
    assert.equal(r.trade_count, b.n, `${at} trade_count`);
    close(r.volume, b.v, `${at} volume`);
    close(r.buy_volume, b.bv, `${at} buy_volume`);
    close(r.sell_volume, b.sv, `${at} sell_volume`);
    close(r.vwap, b.q / b.v, `${at} vwap`);
    assert.equal(r.high, b.hi, `${at} high`);
    assert.equal(r.low, b.lo, `${at} low`);
    assert.equal(r.open, b.first.price, `${at} open`);
    assert.equal(r.close, b.last.price, `${at} close`);
  }
  return rows.length;
}

/** Replays raw `books` rows through an order book; compares per-second last state with agg_1s. */
function checkBookAggregates(db: DatabaseSync, symbol: string): number {
  const book = new OrderBook();
  const lastPerSecond = new Map<number, ReturnType<OrderBook["summary"]>>();
  const rows = db.prepare(
    "SELECT ts, action, bids, asks FROM books WHERE symbol = ? ORDER BY id",
  ).iterate(symbol) as Iterable<{ ts: number; action: string; bids: string; asks: string }>;
  for (const r of rows) {
    const bids = JSON.parse(r.bids) as BookLevel[];
    const asks = JSON.parse(r.asks) as BookLevel[];
    if (r.action === "snapshot") book.snapshot(bids, asks);
    else book.update(bids, asks);
    lastPerSecond.set(Math.floor(r.ts / 1000) * 1000, book.summary());
  }
  const agg = db.prepare(
    `SELECT bucket_ts, mid, spread_bps, best_bid, best_ask, best_bid_size, best_ask_size,
            imbalance1, imbalance5, imbalance15, depth5bps, depth10bps
       FROM agg_1s WHERE symbol = ? AND book_src = 'books'`,
  ).all(symbol) as Record<string, number>[];
  assert.equal(agg.length, lastPerSecond.size, `${symbol}: seconds with a full-depth book`);
  for (const a of agg) {
    const top = lastPerSecond.get(a.bucket_ts);
    assert.ok(top, `${symbol}: agg_1s second ${a.bucket_ts} has no book rows`);
    const at = `${symbol} ${new Date(a.bucket_ts).toISOString()}`;
    close(a.mid, top.mid, `${at} mid`);
    close(a.spread_bps, top.spreadBps, `${at} spread_bps`);
    close(a.best_bid, top.bestBid, `${at} best_bid`);
    close(a.best_ask, top.bestAsk, `${at} best_ask`);
    close(a.best_bid_size, top.bestBidSize, `${at} best_bid_size`);
    close(a.best_ask_size, top.bestAskSize, `${at} best_ask_size`);
    close(a.imbalance1, top.imbalance1, `${at} imbalance1`);
    close(a.imbalance5, top.imbalance5, `${at} imbalance5`);
    close(a.imbalance15, top.imbalance15, `${at} imbalance15`);
    close(a.depth5bps, top.depth5bps, `${at} depth5bps`);
    close(a.depth10bps, top.depth10bps, `${at} depth10bps`);
  }
  return agg.length;
}

async function fullReplay(recording: string, maxChannels: number, shards: number): Promise<void> {
  const expected = await recordingCounts(recording);
  const s = await sim({ recording, speed: "max" });
  try {
    const c = await spawnCollector(
      s,
      ["--symbols", ...new Set([...expected.frames.keys()].map((k) => k.split("|")[0]))],
      testConfig({ maxChannelsPerConnection: maxChannels }),
    );
    await waitFor("every frame sent", () => allDelivered(s, shards), 120_000);
    const total = [...expected.frames.values()].reduce((a, b) => a + b, 0);
    await waitFor(
      "every frame committed",
      () => peekCount(c.db, "SELECT SUM(frames) AS n FROM ingest_counts") >= total,
      120_000,
      200,
    );
    const t0 = Date.now();
    c.child.kill("SIGTERM");
    const res = await c.done;
    const stopMs = Date.now() - t0;
    assert.equal(res.code, 0, `collect exit code (stderr: ${res.stderr.slice(-2000)})`);
    assert.ok(stopMs < 5000, `SIGTERM → exit took ${stopMs} ms`);
    const stopped = logLines(res.stdout).find((l) => l.msg === "collect stopped");
    assert.ok(stopped, "final 'collect stopped' log line");
    assert.equal(stopped.malformed, 0);
    assert.equal(stopped.checksumFailures, 0);
    assert.equal("commitLatency" in stopped, false, "no undefined field in the stop line");
    // The recording is from 2024: lag is measured against its replayed clock, not its age.
    const statuses = logLines(res.stdout).filter((l) =>
      l.msg === "status" && Number(l.lagP50Ms) > 0
    );
    for (const st of statuses) {
      assert.equal(st.lagClock, "replay");
      assert.ok(
        Number(st.lagP50Ms) < 600_000,
        `lagP50Ms ${st.lagP50Ms} is feed lag, not the data's age`,
      );
    }

    const db = new DatabaseSync(c.db, { readOnly: true });
    try {
      // Every data frame stored exactly once: tallies committed with the rows equal the recording.
      const counts = db.prepare(
        "SELECT symbol, channel, SUM(frames) AS n FROM ingest_counts GROUP BY symbol, channel",
      ).all() as { symbol: string; channel: string; n: number }[];
      const got = new Map(counts.map((r) => [`${r.symbol}|${r.channel}`, r.n]));
      assert.deepEqual(got, expected.frames);
      for (
        const [table, channel] of [["books", "books"], ["books15", "books15"], [
          "tickers",
          "ticker",
        ]]
      ) {
        for (
          const r of db.prepare(`SELECT symbol, COUNT(*) AS n FROM ${table} GROUP BY symbol`)
            .all() as { symbol: string; n: number }[]
        ) {
          assert.equal(r.n, expected.frames.get(`${r.symbol}|${channel}`), `${table} ${r.symbol}`);
        }
      }
      for (const [symbol, ids] of expected.tradeIds) {
        const n = db.prepare("SELECT COUNT(*) AS n FROM trades WHERE symbol = ?").get(symbol) as {
          n: number;
        };
        assert.equal(n.n, ids.size, `trades ${symbol}`);
      }
      const gaps = db.prepare("SELECT reason, COUNT(*) AS n FROM gaps GROUP BY reason").all();
      assert.deepEqual(gaps, [], "no gaps on a clean replay (so zero checksum mismatches)");
      // Aggregates equal a recomputation from the raw tables.
      for (const [t, iv] of [["agg_1s", 1e3], ["agg_1m", 60e3], ["agg_15m", 900e3]] as const) {
        assert.ok(checkTradeAggregates(db, t, iv) > 0);
      }
      for (const symbol of expected.tradeIds.keys()) {
        assert.ok(checkBookAggregates(db, symbol) > 400, `${symbol}: book seconds`);
      }
      // Every row's time is the exchange's (the replay clock), never today's wall clock: within
      // the pushes' span, give or take one 15m bucket.
      const span = db.prepare("SELECT MIN(ts) AS a, MAX(ts) AS b FROM books15").get() as {
        a: number;
        b: number;
      };
      const timed: [string, string][] = [
        ["books", "ts"],
        ["trades", "ts"],
        ["tickers", "ts"],
        ["mark_prices", "ts"],
        ["funding_rates", "ts"],
        ["open_interest", "ts"],
        ["funding_times", "ts"],
        ["agg_1s", "bucket_ts"],
        ["agg_1m", "bucket_ts"],
        ["agg_15m", "bucket_ts"],
      ];
      let polled = 0;
      for (const [table, col] of timed) {
        const r = db.prepare(
          `SELECT MIN(${col}) AS a, MAX(${col}) AS b, COUNT(*) AS n FROM ${table}`,
        )
          .get() as { a: number | null; b: number | null; n: number };
        if (r.n === 0) continue;
        if (table === "funding_rates" || table === "open_interest") polled += r.n;
        assert.ok(
          r.a! >= span.a - 900_000 && r.b! <= span.b + 900_000,
          `${table}.${col} ${new Date(r.a!).toISOString()} … ${new Date(r.b!).toISOString()} ` +
            `outside the recording's ${new Date(span.a).toISOString()} … ` +
            `${new Date(span.b).toISOString()}`,
        );
      }
      assert.ok(polled > 0, "the REST pollers wrote rows");
      const ic = db.prepare("PRAGMA integrity_check").get() as Record<string, string>;
      assert.equal(Object.values(ic)[0], "ok");
    } finally {
      db.close();
    }
    await Deno.remove(c.dir, { recursive: true });
  } finally {
    await s.close();
  }
}

Deno.test({
  name: "collect: full 2024 BTC+ETH recording at speed max, 2 shards — exact counts, aggregates",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () => fullReplay(REC_2024, 6, 2),
});

Deno.test({
  name: "collect: full 2023 BTC recording at speed max, 1 shard — exact counts, aggregates",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () => fullReplay(REC_2023, 48, 1),
});
