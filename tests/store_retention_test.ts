/**
 * Retention deletes raw book frames past `rawBooksRetention` and other raw rows past
 * `rawOtherRetention`, in chunks, and never touches aggregates, candles, settled funding, gaps.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Store } from "../src/store/store.ts";
import { runRetention } from "../src/store/retention.ts";
import type { BookLevel, MarketEvent } from "../src/market/events.ts";

const DAY = 86_400_000;
const NOW = Date.UTC(2025, 5, 1);

function eventsAt(ts: number, symbol: string, i: number): MarketEvent[] {
  const lv: BookLevel[] = [["100.0", "1"]];
  const top = {
    bestBid: 100,
    bestAsk: 100.1,
    bestBidSize: 1,
    bestAskSize: 1,
    mid: 100.05,
    spreadBps: 9.995,
    imbalance1: 0,
    imbalance5: 0,
    imbalance15: 0,
    depth5bps: 2,
    depth10bps: 2,
  };
  const asks: BookLevel[] = [["100.1", "1"]];
  return [
    {
      kind: "book",
      channel: "books",
      symbol,
      ts,
      recvTs: ts,
      action: "snapshot",
      bids: lv,
      asks,
      seq: i,
      checksum: 0,
      top,
    },
    {
      kind: "book",
      channel: "books15",
      symbol,
      ts,
      recvTs: ts,
      action: "snapshot",
      bids: lv,
      asks,
      seq: i,
      checksum: 0,
      top,
    },
    { kind: "trade", symbol, ts, recvTs: ts, tradeId: String(i), price: 100, size: 1, side: "buy" },
    { kind: "mark", symbol, ts, recvTs: ts, markPrice: 100, indexPrice: 99, last: 100 },
    {
      kind: "ticker",
      symbol,
      ts,
      recvTs: ts,
      last: 100,
      bid: 100,
      ask: 100.1,
      bidSize: 1,
      askSize: 1,
      markPrice: 100,
      indexPrice: 99,
      fundingRate: 1e-4,
      nextFundingTime: ts + 1000,
      openInterest: 5,
      open24h: 99,
      high24h: 101,
      low24h: 98,
      baseVolume24h: 10,
      quoteVolume24h: 1000,
    },
    { kind: "oi", symbol, ts, recvTs: ts, openInterest: 5 },
    {
      kind: "funding",
      symbol,
      ts,
      recvTs: ts,
      fundingRate: 1e-4,
      nextFundingTime: null,
      intervalHours: 8,
      type: "current",
    },
    {
      kind: "funding",
      symbol,
      ts,
      recvTs: ts,
      fundingRate: 1e-4,
      nextFundingTime: null,
      intervalHours: 8,
      type: "settled",
    },
    {
      kind: "candle",
      symbol,
      ts: Math.floor(ts / 60_000) * 60_000,
      recvTs: ts,
      interval: "1m",
      open: 1,
      high: 1,
      low: 1,
      close: 1,
      volume: 1,
      quoteVolume: 1,
    },
  ];
}

Deno.test("retention: chunked deletes per table class, history kept", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = Store.open(join(dir, "r.db"), { create: true });
    // 30 rows per symbol and table, one per day from 30 days ago to yesterday, two symbols.
    const evs: MarketEvent[] = [];
    for (const symbol of ["BTCUSDT", "ETHUSDT"]) {
      for (let d = 30; d >= 1; d--) evs.push(...eventsAt(NOW - d * DAY + 1234, symbol, 100 + d));
    }
    store.writeBatch(evs);
    const count = (t: string, where = "") =>
      Number(
        (store.db.prepare(`SELECT count(*) AS n FROM ${t} ${where}`).get() as { n: number }).n,
      );
    const aggBefore = ["agg_1s", "agg_1m", "agg_15m"].map((t) => count(t));

    // 0 = keep everything.
    const none = await runRetention(store, { rawBooksRetention: 0, rawOtherRetention: 0 }, NOW);
    assert.equal(Object.values(none.deleted).reduce((a, b) => a + b, 0), 0);

    // Books older than 7 days, other raw rows older than 20 days; chunks of 4 rows.
    const r = await runRetention(
      store,
      { rawBooksRetention: 7 * DAY, rawOtherRetention: 20 * DAY, chunkRows: 4 },
      NOW,
    );
    // Days 8..30 are older than 7 d (23 per symbol); days 21..30 older than 20 d (10 per symbol).
    assert.equal(r.deleted.books, 46);
    assert.equal(r.deleted.books15, 46);
    for (const t of ["trades", "tickers", "mark_prices", "open_interest", "funding_rates"]) {
      assert.equal(r.deleted[t], 20, t);
    }
    assert.ok(r.chunks >= 2 * (46 / 4), "ran in small chunks");
    assert.equal(count("books"), 14);
    assert.equal(count("books", `WHERE ts < ${NOW - 7 * DAY}`), 0);
    assert.equal(count("trades"), 40);
    assert.equal(count("trades", `WHERE ts < ${NOW - 20 * DAY}`), 0);
    assert.equal(count("funding_rates", "WHERE type = 'settled'"), 60, "settled history kept");
    assert.equal(count("funding_rates", "WHERE type = 'current'"), 40);
    assert.equal(count("candles"), 60, "candles kept");
    assert.deepEqual(["agg_1s", "agg_1m", "agg_15m"].map((t) => count(t)), aggBefore);

    // Idempotent.
    const again = await runRetention(
      store,
      { rawBooksRetention: 7 * DAY, rawOtherRetention: 20 * DAY, chunkRows: 4 },
      NOW,
    );
    assert.equal(Object.values(again.deleted).reduce((a, b) => a + b, 0), 0);
    store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
