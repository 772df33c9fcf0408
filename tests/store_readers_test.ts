/**
 * Readers give back what the writer stored (recorded replay events), over half-open ranges, and
 * `iterateEvents` replays them in time order with book tops equal to the live ones.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Store } from "../src/store/store.ts";
import { loadReplayFrames } from "../src/ingest/replay_frames.ts";
import {
  intervalMs,
  iterateEvents,
  readAgg,
  readBooks,
  readBooks15,
  readCandles,
  readFundingRates,
  readMarkPrices,
  readOpenInterest,
  readTickers,
  readTrades,
} from "../src/store/readers.ts";
import type { BookEvent, MarketEvent, TradeEvent } from "../src/market/events.ts";

const REPLAY = new URL(
  "../../shared/data/bitget_replay/bitget_v2_public_BTCUSDT-ETHUSDT_20240718T2357.jsonl.gz",
  import.meta.url,
);

const strip = <T extends object>(o: T, ...keys: string[]) =>
  Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));

Deno.test("readers round-trip recorded events; iterator replays them in time order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const events = (await loadReplayFrames(REPLAY, 12_000)).flatMap((f) => f.events);
    const path = join(dir, "r.db");
    const w = Store.open(path, { create: true });
    w.writeBatch(events);
    const extra: MarketEvent[] = [
      {
        kind: "mark",
        symbol: "BTCUSDT",
        ts: 1721347030000,
        recvTs: 1721347030005,
        markPrice: 64000.5,
        indexPrice: 63994.1,
        last: 64000.4,
      },
      {
        kind: "funding",
        symbol: "BTCUSDT",
        ts: 1721347030001,
        recvTs: 1721347030006,
        fundingRate: 0.0001,
        nextFundingTime: 1721347200000,
        intervalHours: 8,
        type: "current",
      },
      {
        kind: "oi",
        symbol: "BTCUSDT",
        ts: 1721347030002,
        recvTs: 1721347030007,
        openInterest: 52637.1184,
      },
    ];
    w.writeBatch(extra);
    w.close();
    const s = Store.open(path, { readonly: true });
    const from = Math.min(...events.map((e) => e.ts));
    const to = Math.max(...events.map((e) => e.ts)) + 1;
    for (const symbol of ["BTCUSDT", "ETHUSDT"]) {
      const mine = events.filter((e) => e.symbol === symbol);
      const trades = mine.filter((e): e is TradeEvent => e.kind === "trade");
      const key = (t: TradeEvent) => [t.ts, t.tradeId.length, t.tradeId] as const;
      const sorted = [...trades].sort((a, b) => {
        const [x, y] = [key(a), key(b)];
        return x[0] - y[0] || x[1] - y[1] || (x[2] < y[2] ? -1 : x[2] > y[2] ? 1 : 0);
      });
      assert.deepEqual(readTrades(s, symbol, from, to), sorted);
      const books = mine.filter((e): e is BookEvent => e.kind === "book" && e.channel === "books");
      const rb = readBooks(s, symbol, from, to);
      assert.equal(rb.length, books.length);
      assert.deepEqual(rb.map((b) => strip(b, "id")), books.map((b) => strip(b, "kind", "top")));
      const b15 = mine.filter((e): e is BookEvent => e.kind === "book" && e.channel === "books15");
      assert.deepEqual(
        readBooks15(s, symbol, from, to).map((b) => [b.ts, b.seq, b.bids, b.asks]),
        b15.map((b) => [b.ts, b.seq, b.bids, b.asks]),
      );
      const tickers = mine.filter((e) => e.kind === "ticker");
      assert.deepEqual(readTickers(s, symbol, from, to), tickers);
      // Half-open range: a bound at a row's ts includes it at `from`, excludes it at `to`.
      const t0 = trades[100].ts;
      assert.ok(readTrades(s, symbol, t0, t0 + 1).every((t) => t.ts === t0));
      assert.equal(readTrades(s, symbol, from, t0).filter((t) => t.ts === t0).length, 0);
      const bars = readCandles(s, symbol, "1m", from - 60_000, to);
      assert.ok(bars.length >= 2);
      assert.ok(bars.every((b) => b.source === "ws" && b.interval === "1m"));
      const agg = readAgg(s, "agg_1m", symbol, from - 60_000, to);
      assert.equal(agg.reduce((a, r) => a + r.tradeCount, 0), trades.length);
      assert.ok(agg.every((r) => r.markPrice !== null && r.openInterest !== null));
    }
    assert.deepEqual(readMarkPrices(s, "BTCUSDT", 0, Infinity), [extra[0]]);
    assert.deepEqual(readFundingRates(s, "BTCUSDT", 0, Infinity), [extra[1]]);
    assert.deepEqual(readOpenInterest(s, "BTCUSDT", 0, Infinity), [extra[2]]);

    // Iterator: every stored event of the chosen kinds, nondecreasing (ts, recvTs).
    const got = [...iterateEvents(s, { symbols: ["BTCUSDT", "ETHUSDT"], from, to: to + 1 })];
    const expected = events.filter((e) => e.kind !== "candle").length + extra.length;
    assert.equal(got.length, expected);
    for (let i = 1; i < got.length; i++) {
      const [a, b] = [got[i - 1], got[i]];
      assert.ok(a.ts < b.ts || (a.ts === b.ts && a.recvTs <= b.recvTs), `order at ${i}`);
    }
    // Book tops rebuilt during replay equal the tops computed live.
    const liveTop = new Map(
      events.filter((e): e is BookEvent => e.kind === "book" && e.channel === "books")
        .map((e) => [`${e.symbol}|${e.seq}`, e.top]),
    );
    let compared = 0;
    for (const e of got) {
      if (e.kind === "book" && e.channel === "books") {
        assert.deepEqual(e.top, liveTop.get(`${e.symbol}|${e.seq}`));
        compared++;
      }
    }
    assert.equal(compared, liveTop.size);
    // Candles are replayed at bar close, never before.
    const withBars = [
      ...iterateEvents(s, {
        symbols: ["BTCUSDT"],
        from,
        to,
        kinds: ["candle", "trade"],
        candleIntervals: ["1m"],
      }),
    ];
    let closed = -Infinity; // latest bar close replayed so far
    let bars = 0;
    for (const e of withBars) {
      if (e.kind === "candle") {
        closed = Math.max(closed, e.ts + 60_000);
        bars++;
      } else assert.ok(e.ts >= closed, "no trade of a bar comes after the bar");
    }
    assert.ok(bars >= 2);
    // Stopping early releases the cursors.
    let k = 0;
    for (const _ of iterateEvents(s, { symbols: ["BTCUSDT"], from, to })) if (++k > 10) break;
    s.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("intervalMs: Bitget and lower-case intervals; unknown is an error", () => {
  assert.equal(intervalMs("1m"), 60_000);
  assert.equal(intervalMs("15m"), 900_000);
  assert.equal(intervalMs("4H"), 4 * 3_600_000);
  assert.equal(intervalMs("1D"), 86_400_000);
  assert.throws(() => intervalMs("1M"), /unknown candle interval/);
});
