/**
 * SimExchange (src/venue): matching, fees, rejections, positions, funding, liquidation and the
 * accounting identity. Real books come from shared/data (Binance USDT-M BTCUSDT top-15, 1 s);
 * hand-made books are used where exact arithmetic is asserted; a seeded random walk drives the
 * property test.
 */
import assert from "node:assert/strict";
import type { BookEvent, BookLevel, MarketEvent } from "../src/market/events.ts";
import { SimExchange } from "../src/venue/sim_exchange.ts";
import type { PlaceOrderRequest, Rejection, SimOrder } from "../src/venue/types.ts";

import {
  book,
  BTC,
  checkIdentity,
  fills,
  mark,
  near,
  ok,
  rejected,
  requests,
  trade,
  venue,
} from "./helpers/venue_fixtures.ts";

const BOOK_CSV = decodeURIComponent(
  new URL("../../shared/data/binance_usdm_BTCUSDT_20240718T2357_book15_1s.csv", import.meta.url)
    .pathname,
);

function settled(ts: number, rate: number): MarketEvent {
  return {
    kind: "funding",
    symbol: "BTCUSDT",
    ts,
    recvTs: ts,
    fundingRate: rate,
    nextFundingTime: null,
    intervalHours: 8,
    type: "settled",
  };
}

function isRejection(r: SimOrder | Rejection): r is Rejection {
  return "code" in r;
}

const newReq = requests("t");
const req = (p: Partial<PlaceOrderRequest>): PlaceOrderRequest => newReq({ size: 0.01, ...p });

// ---- real data: Binance USDT-M BTCUSDT top-15 snapshots, 1 s -----------------------------------

function loadBooks(n: number): BookEvent[] {
  const lines = Deno.readTextFileSync(BOOK_CSV).trim().split("\n");
  const out: BookEvent[] = [];
  for (const line of lines.slice(1, n + 1)) {
    const c = line.split(",");
    const bids: BookLevel[] = [];
    const asks: BookLevel[] = [];
    for (let i = 0; i < 15; i++) {
      bids.push([c[2 + 2 * i], c[3 + 2 * i]]);
      asks.push([c[32 + 2 * i], c[33 + 2 * i]]);
    }
    const ts = Number(c[0]);
    out.push({
      kind: "book",
      channel: "books15",
      symbol: "BTCUSDT",
      ts,
      recvTs: ts,
      action: "snapshot",
      bids,
      asks,
      seq: null,
      checksum: null,
      top: null,
    });
  }
  return out;
}

Deno.test("market buy walks the levels: exact VWAP, taker fee, depletion, depth remainder cancelled", () => {
  const v = venue();
  v.onEvent(book(1000, [[99.9, 3]], [[100, 1], [101, 2], [102, 5]]));
  const o = ok(v.placeOrder(req({ size: 2.5 })));
  assert.equal(o.status, "filled");
  // 1 × 100 + 1.5 × 101 = 251.5 USDT over 2.5 BTC.
  near(o.avgPrice, 251.5 / 2.5);
  near(o.fee, 251.5 * 0.0006);
  const [f] = fills(v.log);
  assert.equal(f.liquidity, "taker");
  near(f.price, 100.6);
  const [p] = v.positions();
  assert.equal(p.holdSide, "long");
  near(p.size, 2.5);
  near(p.entryPrice, 100.6);
  near(p.margin, 251.5 / 10);
  // The consumed liquidity is gone until the next book message: 0.5 left at 101, then 102.
  const o2 = ok(v.placeOrder(req({ size: 1 })));
  near(o2.avgPrice, (0.5 * 101 + 0.5 * 102) / 1);
  // Larger than the visible depth (4.5 left): fills what is visible, the rest is cancelled.
  const o3 = ok(v.placeOrder(req({ size: 10 })));
  assert.equal(o3.status, "cancelled");
  assert.equal(o3.cancelReason, "insufficient_depth");
  near(o3.filledSize, 4.5);
  near(o3.avgPrice, 102);
  checkIdentity(v, 10_000);
});

Deno.test("real BTCUSDT book15: every taker fill price lies within the book at its time", () => {
  const books = loadBooks(60);
  const v = venue({ initialBalance: 1_000_000 });
  let n = 0;
  for (let i = 0; i < books.length; i++) {
    const ev = books[i];
    v.onEvent(ev);
    const side = i % 2 === 0 ? "buy" : "sell";
    const levels = side === "buy" ? ev.asks : ev.bids;
    const before = v.log.length;
    ok(v.placeOrder(req({ side, size: [0.001, 0.05, 0.5, 2][i % 4] })));
    for (const f of fills(v.log.slice(before))) {
      const best = Number(levels[0][0]);
      const worst = Number(levels[levels.length - 1][0]);
      const [lo, hi] = side === "buy" ? [best, worst] : [worst, best];
      assert.ok(
        f.price >= lo - 1e-9 && f.price <= hi + 1e-9,
        `fill ${f.price} outside [${lo}, ${hi}]`,
      );
      // VWAP recomputed independently from the event's levels.
      let left = f.size;
      let notional = 0;
      for (const [p, s] of levels) {
        const take = Math.min(left, Number(s));
        notional += take * Number(p);
        left -= take;
        if (left <= 1e-12) break;
      }
      near(f.price, notional / f.size, 1e-6, "VWAP");
      near(f.fee, f.price * f.size * BTC.takerFeeRate, 1e-9, "fee");
      n++;
    }
  }
  assert.equal(n, books.length);
  checkIdentity(v, 1_000_000);
});

Deno.test("limit order rests; fills as maker only when traded through or its queue is consumed", () => {
  const v = venue();
  v.onEvent(book(1000, [[99.9, 2], [99.8, 1]], [[100, 1], [100.1, 1]]));
  const o = ok(v.placeOrder(req({ orderType: "limit", price: 99.9, size: 1 })));
  assert.equal(o.status, "live");
  assert.equal(o.queueAhead, 2);
  v.onEvent(trade(1100, 100, 5, "buy")); // above our bid: nothing
  v.onEvent(trade(1200, 99.9, 1.5, "sell")); // at our price, queue 2 → 0.5 left ahead
  assert.equal(v.order(o.clientOid)!.filledSize, 0);
  v.onEvent(trade(1300, 99.9, 0.8, "sell")); // 0.3 beyond the queue → partial maker fill
  let cur = v.order(o.clientOid)!;
  near(cur.filledSize, 0.3);
  assert.equal(cur.status, "partially_filled");
  v.onEvent(trade(1400, 99.8, 0.01, "sell")); // strictly through → the rest fills at 99.9
  cur = v.order(o.clientOid)!;
  assert.equal(cur.status, "filled");
  near(cur.avgPrice, 99.9);
  near(cur.fee, 99.9 * 1 * 0.0002);
  assert.ok(fills(v.log).every((f) => f.liquidity === "maker" && f.price === 99.9));

  // A marketable limit fills its crossing part as taker and rests the rest.
  // The book still shows 99.9 × 2 and 99.8 × 1 (trades do not change the displayed book).
  const o2 = ok(v.placeOrder(req({ side: "sell", orderType: "limit", price: 99.8, size: 3.5 })));
  assert.equal(o2.status, "partially_filled");
  near(o2.filledSize, 3);
  near(o2.avgPrice, (2 * 99.9 + 1 * 99.8) / 3);
  near(o2.fee, (2 * 99.9 + 99.8) * 0.0006);
  checkIdentity(v, 10_000);
});

Deno.test("post_only crossing is cancelled; ioc / fok remainders are cancelled", () => {
  const v = venue();
  v.onEvent(book(1000, [[99.9, 1]], [[100, 1], [100.5, 1]]));
  const po = ok(
    v.placeOrder(req({ orderType: "limit", price: 100, size: 0.1, force: "post_only" })),
  );
  assert.equal(po.status, "cancelled");
  assert.equal(po.cancelReason, "post_only_would_take");
  assert.equal(po.filledSize, 0);
  const po2 = ok(
    v.placeOrder(req({ orderType: "limit", price: 99.9, size: 0.1, force: "post_only" })),
  );
  assert.equal(po2.status, "live");
  const fok = ok(v.placeOrder(req({ orderType: "limit", price: 100, size: 2, force: "fok" })));
  assert.equal(fok.status, "cancelled");
  assert.equal(fok.filledSize, 0);
  const ioc = ok(v.placeOrder(req({ orderType: "limit", price: 100, size: 2, force: "ioc" })));
  assert.equal(ioc.status, "cancelled");
  near(ioc.filledSize, 1);
  assert.equal(v.account().orderMargin > 0, true); // po2 still reserves margin
  ok(v.cancelOrder(po2.clientOid));
  assert.equal(v.account().orderMargin, 0);
  rejected(v.cancelOrder(po2.clientOid), "40768");
});

Deno.test("rejections carry Bitget codes: lot, tick, minimum size, minimum notional, margin", () => {
  const v = venue({ initialBalance: 100 });
  v.onEvent(book(1000, [[99.9, 100]], [[100, 100]]));
  rejected(v.placeOrder(req({ size: 0.0015 })), "40808");
  rejected(v.placeOrder(req({ orderType: "limit", price: 99.95, size: 0.1 })), "40808");
  const tiny = new SimExchange({ contracts: [{ ...BTC, minTradeNum: 0.01 }], initialBalance: 100 });
  tiny.onEvent(book(1000, [[99.9, 100]], [[100, 100]]));
  rejected(tiny.placeOrder(req({ size: 0.005 })), "43006");
  rejected(v.placeOrder(req({ size: 0.04 })), "45110"); // 4 USDT < 5 USDT
  rejected(v.placeOrder(req({ size: 10 })), "40762"); // 1000 USDT / 10x = 100 + fee > 100
  rejected(v.placeOrder(req({ symbol: "NOPEUSDT" })), "40102");
  rejected(v.placeOrder(req({ orderType: "limit", size: 0.1 })), "40020");
  rejected(v.placeOrder(req({ clientOid: "x".repeat(50) })), "40304");
  rejected(v.placeOrder(req({ reduceOnly: true })), "22002");
  const placed = ok(v.placeOrder(req({ size: 9 }))); // 90 + 0.54 fee ≤ 100
  rejected(v.placeOrder(req({ clientOid: placed.clientOid })), "40305");
  assert.equal(v.log.filter((e) => e.type === "fill").length, 1);
});

Deno.test("one-way: reduceOnly only reduces; an opposite order nets through zero", () => {
  const v = venue();
  v.onEvent(book(1000, [[100, 10]], [[100.1, 10]]));
  ok(v.placeOrder(req({ size: 1 })));
  const r = ok(v.placeOrder(req({ side: "sell", size: 2, reduceOnly: true })));
  assert.equal(r.status, "cancelled");
  assert.equal(r.cancelReason, "reduce_only_no_position");
  near(r.filledSize, 1);
  assert.equal(v.positions().length, 0);
  const f = fills(v.log).at(-1)!;
  near(f.realizedPnl, 1 * (100 - 100.1));
  // Without reduceOnly a bigger opposite order closes and opens the other side.
  ok(v.placeOrder(req({ size: 1 })));
  ok(v.placeOrder(req({ side: "sell", size: 3 })));
  const [p] = v.positions();
  assert.equal(p.holdSide, "short");
  near(p.size, 2);
  near(p.entryPrice, 100);
  checkIdentity(v, 10_000);
});

Deno.test("hedge mode: long and short legs, tradeSide open/close, close capped by the leg", () => {
  const v = venue({ positionMode: "hedge" });
  v.onEvent(book(1000, [[100, 10]], [[100.1, 10]]));
  rejected(v.placeOrder(req({ size: 1 })), "40774"); // tradeSide missing
  rejected(v.placeOrder(req({ size: 1, tradeSide: "open", reduceOnly: true })), "40774");
  ok(v.placeOrder(req({ side: "buy", tradeSide: "open", size: 1 })));
  ok(v.placeOrder(req({ side: "sell", tradeSide: "open", size: 2 })));
  const legs = v.positions();
  assert.deepEqual(legs.map((p) => [p.holdSide, p.size]), [["long", 1], ["short", 2]]);
  v.onEvent(book(2000, [[101, 10]], [[101.1, 10]]));
  rejected(v.placeOrder(req({ side: "buy", tradeSide: "close", size: 1.5 })), "40757");
  // Close long = a sell against the bids at 101: pnl = 0.5 × (101 − 100.1).
  const c = ok(v.placeOrder(req({ side: "buy", tradeSide: "close", size: 0.5 })));
  assert.equal(c.direction, "sell");
  near(fills(v.log).at(-1)!.realizedPnl, 0.5 * (101 - 100.1));
  // Close short = a buy at 101.1: pnl = 2 × (100 − 101.1).
  ok(v.placeOrder(req({ side: "sell", tradeSide: "close", size: 2 })));
  near(fills(v.log).at(-1)!.realizedPnl, 2 * (100 - 101.1));
  assert.deepEqual(v.positions().map((p) => [p.holdSide, p.size]), [["long", 0.5]]);
  checkIdentity(v, 10_000);
});

Deno.test("funding: longs pay and shorts receive when rate > 0, each settlement once", () => {
  const v = venue({ positionMode: "hedge" });
  v.onEvent(book(1000, [[100, 10]], [[100.1, 10]]));
  v.onEvent(mark(1000, 100));
  ok(v.placeOrder(req({ side: "buy", tradeSide: "open", size: 1 })));
  ok(v.placeOrder(req({ side: "sell", tradeSide: "open", size: 3 })));
  const before = v.account().balance;
  v.onEvent(settled(8 * 3600_000, 0.0001));
  v.onEvent(settled(8 * 3600_000, 0.0001)); // duplicate settlement: ignored
  const pays = v.log.filter((e) => e.type === "funding");
  assert.equal(pays.length, 2);
  near(pays.find((e) => e.holdSide === "long")!.amount, -1 * 100 * 0.0001);
  near(pays.find((e) => e.holdSide === "short")!.amount, 3 * 100 * 0.0001);
  near(v.account().balance - before, 2 * 100 * 0.0001);
  // Ticker path: the settlement fires when a ticker's time passes the announced nextFundingTime.
  const tk = (ts: number, rate: number, next: number): MarketEvent => ({
    kind: "ticker",
    symbol: "BTCUSDT",
    ts,
    recvTs: ts,
    last: 100,
    bid: 100,
    ask: 100.1,
    bidSize: 1,
    askSize: 1,
    markPrice: 100,
    indexPrice: 100,
    fundingRate: rate,
    nextFundingTime: next,
    openInterest: 0,
    open24h: 0,
    high24h: 0,
    low24h: 0,
    baseVolume24h: 0,
    quoteVolume24h: 0,
  });
  v.onEvent(tk(9 * 3600_000, -0.0002, 16 * 3600_000));
  assert.equal(v.log.filter((e) => e.type === "funding").length, 2);
  v.onEvent(tk(16 * 3600_000 + 5, 0.0003, 24 * 3600_000));
  const last = v.log.filter((e) => e.type === "funding").slice(2);
  assert.equal(last.length, 2);
  // The rate in force before the settlement (−0.0002) applies: longs receive.
  near(last.find((e) => e.holdSide === "long")!.amount, 1 * 100 * 0.0002);
  near(last.find((e) => e.holdSide === "short")!.amount, -3 * 100 * 0.0002);
  checkIdentity(v, 10_000);
});

Deno.test("an adverse mark move liquidates at the computed isolated liquidation price", () => {
  const mmr = 0.004;
  const v = venue({ leverage: 10, maintenanceMarginRate: mmr, positionMode: "hedge" });
  v.onEvent(book(1000, [[99.9, 10]], [[100, 10]]));
  v.onEvent(mark(1000, 100));
  ok(v.placeOrder(req({ side: "buy", tradeSide: "open", size: 2 })));
  ok(v.placeOrder(req({ side: "sell", tradeSide: "open", size: 1 })));
  const close = ok(
    v.placeOrder(req({ side: "buy", tradeSide: "close", orderType: "limit", price: 120, size: 1 })),
  );
  assert.equal(close.status, "live");
  // Long 2 @ 100, margin 20: P = (2·100 − 20) / (2 · 0.996).
  const lpLong = (200 - 20) / (2 * (1 - mmr));
  near(v.positions()[0].liquidationPrice, lpLong);
  v.onEvent(mark(2000, lpLong + 0.01));
  assert.equal(v.log.filter((e) => e.type === "liquidation").length, 0);
  const bal = v.account().balance;
  v.onEvent(mark(3000, 90));
  const liq = v.log.filter((e) => e.type === "liquidation");
  assert.equal(liq.length, 1);
  assert.equal(liq[0].holdSide, "long");
  near(liq[0].price, lpLong);
  near(liq[0].realizedPnl, -20); // the whole isolated margin
  near(v.account().balance - bal, -20);
  assert.equal(v.order(close.clientOid)!.status, "cancelled");
  assert.deepEqual(v.positions().map((p) => p.holdSide), ["short"]);
  // Short 1 @ 99.9, margin 9.99: P = (99.9 + 9.99) / 1.004.
  const lpShort = (99.9 + 9.99) / (1 + mmr);
  v.onEvent(mark(4000, 115));
  const liq2 = v.log.filter((e) => e.type === "liquidation");
  assert.equal(liq2.length, 2);
  near(liq2[1].price, lpShort);
  assert.equal(v.positions().length, 0);
  near(v.account().positionMargin, 0);
  checkIdentity(v, 10_000);
});

Deno.test("order latency: matched against the book at placement time + latency", () => {
  const v = venue({ latencyMs: 50 });
  v.onEvent(book(1000, [[99.9, 1]], [[100, 1]]));
  const o = ok(v.placeOrder(req({ size: 0.5 })));
  assert.equal(o.status, "pending");
  assert.equal(o.activeAt, 1050);
  v.onEvent(book(1040, [[100.9, 1]], [[101, 1]])); // the market moves before the order arrives
  assert.equal(v.order(o.clientOid)!.status, "pending");
  v.onEvent(book(1060, [[102.9, 1]], [[103, 1]])); // arrives at 1050, before this update
  const done = v.order(o.clientOid)!;
  assert.equal(done.status, "filled");
  near(done.avgPrice, 101);
  assert.equal(fills(v.log)[0].ts, 1050);
});

Deno.test("property: random orders and events keep the accounting identity within 1e-8", () => {
  let s = 0x9e3779b9;
  const rnd = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  for (const mode of ["one_way", "hedge"] as const) {
    const v = venue({ positionMode: mode, leverage: 20, latencyMs: 20 });
    let mid = 60_000;
    const live: string[] = [];
    for (let step = 0; step < 1500; step++) {
      const ts = 1000 + step * 100;
      mid = Math.round((mid * (1 + (rnd() - 0.5) * 0.004)) * 10) / 10;
      const r = rnd();
      if (r < 0.4) {
        const bids: [number, number][] = [];
        const asks: [number, number][] = [];
        for (let i = 0; i < 15; i++) {
          bids.push([
            Math.round((mid - 0.1 * (i + 1) * (1 + i)) * 10) / 10,
            Math.ceil(rnd() * 2000) / 1000,
          ]);
          asks.push([
            Math.round((mid + 0.1 * (i + 1) * (1 + i)) * 10) / 10,
            Math.ceil(rnd() * 2000) / 1000,
          ]);
        }
        v.onEvent(book(ts, bids, asks));
      } else if (r < 0.7) {
        v.onEvent(
          trade(
            ts,
            mid + (rnd() < 0.5 ? -1 : 1) * Math.round(rnd() * 20) / 10,
            rnd() * 2,
            rnd() < 0.5 ? "buy" : "sell",
          ),
        );
      } else if (r < 0.85) v.onEvent(mark(ts, mid * (1 + (rnd() - 0.5) * 0.1)));
      else if (r < 0.88) v.onEvent(settled(ts, (rnd() - 0.5) * 0.002));
      else {
        const side = rnd() < 0.5 ? "buy" : "sell";
        const limit = rnd() < 0.5;
        const p: Partial<PlaceOrderRequest> = {
          side,
          size: Math.ceil(rnd() * 300) / 1000,
          orderType: limit ? "limit" : "market",
          price: limit ? Math.round((mid + (rnd() - 0.5) * 20) * 10) / 10 : undefined,
          force: limit
            ? (["gtc", "ioc", "fok", "post_only"] as const)[Math.floor(rnd() * 4)]
            : undefined,
        };
        if (mode === "hedge") p.tradeSide = rnd() < 0.6 ? "open" : "close";
        else p.reduceOnly = rnd() < 0.2;
        const res = v.placeOrder(req(p));
        if (!isRejection(res)) live.push(res.clientOid);
        if (rnd() < 0.2 && live.length > 0) v.cancelOrder(live[Math.floor(rnd() * live.length)]);
      }
      checkIdentity(v, 10_000);
      const a = v.account();
      assert.ok(a.orderMargin >= -1e-9, `order margin ${a.orderMargin}`);
      for (const p of v.positions()) assert.ok(p.size > 0 && p.margin > 0);
    }
    assert.ok(fills(v.log).length > 50, `only ${fills(v.log).length} fills`);
    // The walk must exercise every path the identity depends on.
    assert.ok(fills(v.log).some((f) => f.liquidity === "maker"), "no maker fill");
    assert.ok(v.log.some((e) => e.type === "liquidation"), "no liquidation");
    assert.ok(v.log.some((e) => e.type === "funding"), "no funding payment");
  }
});

Deno.test("buy-and-hold on real BTCUSDT books: equity change = price PnL − fees + funding", () => {
  const books = loadBooks(480);
  const v = venue({ initialBalance: 100_000, leverage: 5 });
  v.onEvent(books[0]);
  const size = 0.5;
  const entry = ok(v.placeOrder(req({ size })));
  assert.equal(entry.status, "filled");
  let fundTs = books[0].ts;
  for (let i = 1; i < books.length; i++) {
    v.onEvent(books[i]);
    if (i % 100 === 0) {
      v.onEvent(mark(books[i].ts, Number(books[i].bids[0][0])));
      v.onEvent(settled(++fundTs + books[i].ts, 0.0001 * (i % 200 === 0 ? -1 : 1)));
    }
  }
  const exit = ok(v.placeOrder(req({ side: "sell", size })));
  assert.equal(exit.status, "filled");
  const funding = v.log.filter((e) => e.type === "funding").reduce((t, e) => t + e.amount, 0);
  assert.equal(v.log.filter((e) => e.type === "funding").length, 4);
  const fees = (entry.avgPrice + exit.avgPrice) * size * BTC.takerFeeRate;
  const expected = (exit.avgPrice - entry.avgPrice) * size - fees + funding;
  near(v.account().equity - 100_000, expected, 1e-8, "buy-and-hold");
  assert.equal(v.positions().length, 0);
  checkIdentity(v, 100_000);
});

Deno.test("bookTop / depthUsdt read the venue's book, including its own depletion", () => {
  const v = venue();
  assert.equal(v.bookTop("BTCUSDT"), null);
  assert.equal(v.depthUsdt("NOPEUSDT", "buy"), 0);
  v.onEvent(book(1000, [[99.9, 3], [99.8, 1]], [[100, 1], [101, 2]]));
  assert.deepEqual(v.bookTop("BTCUSDT"), { bid: 99.9, ask: 100, bidSize: 3, askSize: 1 });
  near(v.depthUsdt("BTCUSDT", "buy"), 100 + 202);
  near(v.depthUsdt("BTCUSDT", "sell"), 3 * 99.9 + 99.8);
  ok(v.placeOrder(req({ size: 1.5 }))); // takes 1 @ 100 and 0.5 @ 101
  assert.deepEqual(v.bookTop("BTCUSDT"), { bid: 99.9, ask: 101, bidSize: 3, askSize: 1.5 });
  near(v.depthUsdt("BTCUSDT", "buy"), 1.5 * 101);
});
