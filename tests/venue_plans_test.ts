/**
 * SimExchange plan orders (src/venue/plans.ts): stop-loss / take-profit / trailing stop on mark
 * or last price, preset SL/TP of place-order, cancellation when the leg goes flat, rejections.
 * Real Binance USDT-M BTCUSDT top-15 books and 1 s trade prints from shared/data drive the
 * trigger-time tests; hand-made books are used where exact fill prices are asserted.
 */
import assert from "node:assert/strict";
import type { BookEvent, BookLevel } from "../src/market/events.ts";
import { newPlan, triggerFillPrice } from "../src/venue/plans.ts";
import { SimExchange } from "../src/venue/sim_exchange.ts";
import type {
  PlaceOrderRequest,
  PlaceTpslRequest,
  PlanEvent,
  SimPlanOrder,
  VenueEvent,
} from "../src/venue/types.ts";

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

const DATA = (f: string) =>
  decodeURIComponent(new URL(`../../shared/data/${f}`, import.meta.url).pathname);
const BOOK_CSV = DATA("binance_usdm_BTCUSDT_20240718T2357_book15_1s.csv");
const TRADES_CSV = DATA("binance_usdm_BTCUSDT_20240718T2357_trades_1s.csv");

const req = requests("o");
let oid = 0;
function plan(p: Partial<PlaceTpslRequest>): PlaceTpslRequest {
  return {
    clientOid: `p${++oid}`,
    symbol: "BTCUSDT",
    holdSide: "long",
    planType: "pos_loss",
    triggerType: "mark_price",
    ...p,
  };
}

const planEvents = (log: VenueEvent[], clientOid: string): SimPlanOrder[] =>
  log.filter((e): e is PlanEvent => e.type === "plan" && e.plan.clientOid === clientOid)
    .map((e) => e.plan);

/** VWAP of taking `size` from best-first levels (independent of the venue's book walk). */
function vwap(levels: readonly (readonly [number, number])[], size: number): number {
  let left = size;
  let notional = 0;
  for (const [p, s] of levels) {
    const take = Math.min(left, s);
    notional += take * p;
    left -= take;
    if (left <= 1e-12) break;
  }
  assert.ok(left <= 1e-12, "levels too thin for the expected walk");
  return notional / size;
}

// ---- real data --------------------------------------------------------------------------------

interface RealSecond {
  book: BookEvent;
  bids: [number, number][];
  /** Last trade print of the second and its total size, or null without trades. */
  last: { price: number; size: number; side: "buy" | "sell" } | null;
}

function loadSeconds(): RealSecond[] {
  const rows = Deno.readTextFileSync(BOOK_CSV).trim().split("\n").slice(1);
  const trades = new Map<number, string[]>();
  for (const line of Deno.readTextFileSync(TRADES_CSV).trim().split("\n").slice(1)) {
    const c = line.split(",");
    trades.set(Number(c[0]), c);
  }
  return rows.map((line) => {
    const c = line.split(",");
    const bids: BookLevel[] = [];
    const asks: BookLevel[] = [];
    for (let i = 0; i < 15; i++) {
      bids.push([c[2 + 2 * i], c[3 + 2 * i]]);
      asks.push([c[32 + 2 * i], c[33 + 2 * i]]);
    }
    const ts = Number(c[0]);
    const t = trades.get(ts);
    const buy = t ? Number(t[2]) : 0;
    const sell = t ? Number(t[3]) : 0;
    return {
      book: {
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
      },
      bids: bids.map(([p, s]) => [Number(p), Number(s)]),
      last: t && t[5] !== ""
        ? { price: Number(t[5]), size: buy + sell, side: buy >= sell ? "buy" : "sell" }
        : null,
    };
  });
}

// ---- tests ------------------------------------------------------------------------------------

Deno.test("hedge: long SL on mark and short SL on last trigger at their prices and walk the book", () => {
  const v = venue({ positionMode: "hedge" });
  v.onEvent(book(1000, [[99.9, 10]], [[100, 10]]));
  v.onEvent(mark(1000, 100));
  ok(v.placeOrder(req({ side: "buy", tradeSide: "open", size: 1 })));
  ok(v.placeOrder(req({ side: "sell", tradeSide: "open", size: 1 })));
  const lSl = ok(v.placeTpsl(plan({ holdSide: "long", planType: "pos_loss", triggerPrice: 95 })));
  const lTp = ok(
    v.placeTpsl(plan({ holdSide: "long", planType: "pos_profit", triggerPrice: 110 })),
  );
  const sSl = ok(v.placeTpsl(plan({
    holdSide: "short",
    planType: "pos_loss",
    triggerPrice: 106,
    triggerType: "fill_price",
  })));
  const sTp = ok(v.placeTpsl(plan({
    holdSide: "short",
    planType: "pos_profit",
    triggerPrice: 90,
    triggerType: "fill_price",
  })));
  assert.equal(v.planOrders().length, 4);
  assert.deepEqual(planEvents(v.log, lSl.clientOid).map((p) => p.status), ["live"]);

  const bids: [number, number][] = [[95, 0.4], [94.9, 0.4], [94.5, 5]];
  v.onEvent(book(2000, bids, [[95.1, 10]]));
  v.onEvent(mark(2100, 95.1));
  v.onEvent(trade(2150, 94)); // a print below 95 does not move a mark_price plan
  assert.equal(v.planOrders().length, 4);
  v.onEvent(mark(2200, 95)); // long pos_loss: mark ≤ 95
  const [trig] = planEvents(v.log, lSl.clientOid).slice(1);
  assert.equal(trig.status, "triggered");
  assert.equal(trig.triggeredAt, 2200);
  const o = v.order(lSl.clientOid)!;
  assert.equal(o.reduceOnly, true);
  assert.equal(o.orderType, "market");
  assert.equal(o.status, "filled");
  near(o.avgPrice, vwap(bids, 1));
  const f = fills(v.log).at(-1)!;
  assert.equal(f.planType, "pos_loss");
  assert.equal(f.clientOid, lSl.clientOid);
  near(f.realizedPnl, 1 * (vwap(bids, 1) - 100));
  // The long went flat: its take-profit is cancelled; the short's plans stay.
  assert.deepEqual(
    planEvents(v.log, lTp.clientOid).map((p) => [p.status, p.cancelReason]),
    [["live", null], ["cancelled", "position_closed"]],
  );
  assert.deepEqual(v.planOrders().map((p) => p.clientOid), [sSl.clientOid, sTp.clientOid]);

  const asks: [number, number][] = [[105.1, 0.3], [105.5, 5]];
  v.onEvent(book(3000, [[105, 10]], asks));
  v.onEvent(mark(3100, 107)); // a fill_price plan ignores the mark
  v.onEvent(trade(3200, 105.9));
  assert.equal(v.planOrders().length, 2);
  v.onEvent(trade(3300, 106)); // short pos_loss: last ≥ 106
  const so = v.order(sSl.clientOid)!;
  assert.equal(so.direction, "buy");
  assert.equal(so.status, "filled");
  near(so.avgPrice, vwap(asks, 1));
  near(fills(v.log).at(-1)!.realizedPnl, 1 * (99.9 - vwap(asks, 1)));
  assert.equal(planEvents(v.log, sTp.clientOid).at(-1)!.cancelReason, "position_closed");
  assert.equal(v.positions().length, 0);
  assert.equal(v.planOrders().length, 0);
  checkIdentity(v, 10_000);
});

Deno.test("one-way: long TP on last price and short TP on mark price", () => {
  const v = venue();
  v.onEvent(book(1000, [[99.9, 10]], [[100, 10]]));
  v.onEvent(mark(1000, 100));
  v.onEvent(trade(1000, 100));
  ok(v.placeOrder(req({ size: 1 })));
  const tp = ok(v.placeTpsl(plan({
    planType: "pos_profit",
    triggerPrice: 103,
    triggerType: "fill_price",
  })));
  v.onEvent(book(2000, [[103.2, 10]], [[103.3, 10]]));
  v.onEvent(trade(2100, 102.9));
  v.onEvent(mark(2200, 104)); // mark beyond the target: fill_price plan does not care
  assert.equal(v.planOrders().length, 1);
  v.onEvent(trade(2300, 103));
  const f = fills(v.log).at(-1)!;
  assert.equal(f.clientOid, tp.clientOid);
  assert.equal(f.planType, "pos_profit");
  near(f.price, 103.2);
  near(f.realizedPnl, 103.2 - 100);
  assert.equal(v.positions().length, 0);

  ok(v.placeOrder(req({ side: "sell", size: 2 }))); // short 2 @ 103.2
  const stp = ok(
    v.placeTpsl(plan({ holdSide: "short", planType: "pos_profit", triggerPrice: 97 })),
  );
  v.onEvent(book(3000, [[96.9, 10]], [[97, 10]]));
  v.onEvent(trade(3100, 96)); // a print through the target does not move a mark_price plan
  v.onEvent(mark(3200, 97.1));
  assert.equal(v.planOrders().length, 1);
  v.onEvent(mark(3300, 97));
  const g = fills(v.log).at(-1)!;
  assert.equal(g.clientOid, stp.clientOid);
  assert.equal(g.direction, "buy");
  near(g.price, 97);
  near(g.size, 2);
  near(g.realizedPnl, 2 * (103.2 - 97));
  checkIdentity(v, 10_000);
});

Deno.test("trailing stop follows the best price, triggers at best × (1 − rangeRate), walks the book", () => {
  const v = venue();
  v.onEvent(book(1000, [[99.9, 10]], [[100, 10]]));
  v.onEvent(trade(1000, 100));
  ok(v.placeOrder(req({ size: 2 })));
  const r = 0.05;
  const ts = ok(v.placeTpsl(plan({
    planType: "moving_plan",
    triggerType: "fill_price",
    rangeRate: r,
    triggerPrice: 102, // activation price
  })));
  assert.equal(ts.extreme, null);
  const extreme = () => v.planOrders()[0].extreme;
  v.onEvent(trade(1100, 101));
  assert.equal(extreme(), null); // not active yet
  v.onEvent(trade(1200, 95)); // well below: an inactive trail does not trigger
  assert.equal(extreme(), null);
  v.onEvent(trade(1300, 102));
  assert.equal(extreme(), 102);
  v.onEvent(trade(1400, 110));
  v.onEvent(trade(1500, 108));
  assert.equal(extreme(), 110);
  const thr = 110 * (1 - r);
  const bids: [number, number][] = [[thr, 0.5], [104.4, 0.5], [104, 5]];
  v.onEvent(book(1600, bids, [[104.6, 5]]));
  v.onEvent(trade(1700, thr + 0.1));
  assert.equal(v.planOrders().length, 1);
  v.onEvent(trade(1800, thr));
  assert.equal(v.planOrders().length, 0);
  const o = v.order(ts.clientOid)!;
  assert.equal(o.status, "filled");
  near(o.filledSize, 2);
  near(o.avgPrice, vwap(bids, 2)); // 0.5 @ 104.5, 0.5 @ 104.4, 1 @ 104
  assert.equal(fills(v.log).at(-1)!.planType, "moving_plan");
  const trig = planEvents(v.log, ts.clientOid).at(-1)!;
  assert.equal(trig.status, "triggered");
  assert.equal(trig.extreme, 110);

  // Short, no activation price, on the mark: the trail starts at the mark at creation.
  ok(v.placeOrder(req({ side: "sell", size: 1 })));
  v.onEvent(mark(2000, 100));
  const st = ok(v.placeTpsl(plan({ holdSide: "short", planType: "moving_plan", rangeRate: 0.02 })));
  assert.equal(st.extreme, 100);
  v.onEvent(mark(2100, 95));
  v.onEvent(mark(2200, 96));
  assert.equal(v.planOrders()[0].extreme, 95);
  v.onEvent(mark(2300, 95 * 1.02 - 0.01));
  assert.equal(v.planOrders().length, 1);
  v.onEvent(mark(2400, 95 * 1.02));
  assert.equal(v.planOrders().length, 0);
  assert.equal(v.order(st.clientOid)!.direction, "buy");
  checkIdentity(v, 10_000);
});

Deno.test("real BTCUSDT prints: trailing stop on last price fires at the first print 0.1 % under the running high", () => {
  const secs = loadSeconds();
  const v = venue({ initialBalance: 1_000_000 });
  const start = 230; // 2024-07-19 00:00:53 UTC, before the rally to 63 999.1 and the drop
  for (let i = 0; i <= start; i++) {
    v.onEvent(secs[i].book);
    const t = secs[i].last;
    if (t) v.onEvent(trade(secs[i].book.ts, t.price, t.size, t.side));
  }
  const size = 3;
  ok(v.placeOrder(req({ size })));
  const r = 0.001;
  const p = ok(
    v.placeTpsl(plan({ planType: "moving_plan", triggerType: "fill_price", rangeRate: r })),
  );
  // Expected trigger, recomputed from the print series alone.
  let best = p.extreme!;
  let want = -1;
  for (let i = start + 1; i < secs.length && want < 0; i++) {
    const t = secs[i].last;
    if (!t) continue;
    best = Math.max(best, t.price);
    if (t.price <= best * (1 - r)) want = i;
  }
  assert.ok(want > start, "the window must contain a 0.1 % pullback");
  for (let i = start + 1; i < secs.length; i++) {
    v.onEvent(secs[i].book);
    const t = secs[i].last;
    if (t) v.onEvent(trade(secs[i].book.ts, t.price, t.size, t.side));
    if (i < want) assert.equal(v.planOrders().length, 1, `early trigger at ${i}`);
  }
  const trig = planEvents(v.log, p.clientOid).at(-1)!;
  assert.equal(trig.triggeredAt, secs[want].book.ts);
  near(trig.extreme!, best, 1e-9, "running high");
  const f = fills(v.log).find((e) => e.clientOid === p.clientOid)!;
  assert.equal(f.ts, secs[want].book.ts);
  // The stop's fill lies within the book at its time: the VWAP of walking its bids.
  const bids = secs[want].bids;
  assert.ok(f.price <= bids[0][0] && f.price >= bids[bids.length - 1][0]);
  near(f.price, vwap(bids, size), 1e-6, "stop VWAP");
  assert.equal(v.positions().length, 0);
  checkIdentity(v, 1_000_000);
});

Deno.test("real BTCUSDT books: SL and TP on the mark (book-mid fallback) fire at the first crossing mid", () => {
  const secs = loadSeconds();
  const v = venue({ initialBalance: 1_000_000, positionMode: "hedge" });
  const start = 265;
  for (let i = 0; i <= start; i++) v.onEvent(secs[i].book);
  ok(v.placeOrder(req({ side: "buy", tradeSide: "open", size: 1 })));
  ok(v.placeOrder(req({ side: "sell", tradeSide: "open", size: 1 })));
  const mid = (i: number) =>
    (Number(secs[i].book.bids[0][0]) + Number(secs[i].book.asks[0][0])) / 2;
  const m0 = v.positions()[0].markPrice;
  near(m0, mid(start));
  const sl = Math.round((m0 - 60) * 10) / 10;
  const tp = Math.round((m0 - 100) * 10) / 10;
  const lsl = ok(v.placeTpsl(plan({ holdSide: "long", planType: "pos_loss", triggerPrice: sl })));
  const stp = ok(
    v.placeTpsl(plan({ holdSide: "short", planType: "pos_profit", triggerPrice: tp })),
  );
  const first = (lvl: number) => {
    for (let i = start + 1; i < secs.length; i++) if (mid(i) <= lvl) return i;
    return -1;
  };
  const [iSl, iTp] = [first(sl), first(tp)];
  assert.ok(iSl > start && iTp > iSl, `crossings ${iSl} ${iTp}`);
  for (let i = start + 1; i < secs.length; i++) v.onEvent(secs[i].book);
  for (const [p, i, dir] of [[lsl, iSl, "sell"], [stp, iTp, "buy"]] as const) {
    assert.equal(planEvents(v.log, p.clientOid).at(-1)!.triggeredAt, secs[i].book.ts);
    const f = fills(v.log).find((e) => e.clientOid === p.clientOid)!;
    assert.equal(f.direction, dir);
    const side = dir === "sell" ? secs[i].book.bids : secs[i].book.asks;
    near(f.price, vwap(side.map(([a, b]) => [Number(a), Number(b)] as const), 1), 1e-6);
  }
  assert.equal(v.positions().length, 0);
  checkIdentity(v, 1_000_000);
});

Deno.test("plans: partial size, kept on partial close, cancelled when the leg goes flat by any means", () => {
  const v = venue();
  v.onEvent(book(1000, [[99.9, 10]], [[100, 10]]));
  v.onEvent(mark(1000, 100));
  ok(v.placeOrder(req({ size: 3 })));
  const part = ok(v.placeTpsl(plan({ triggerPrice: 98, size: 0.5 })));
  const sl = ok(v.placeTpsl(plan({ triggerPrice: 90 })));
  const tp = ok(v.placeTpsl(plan({ planType: "pos_profit", triggerPrice: 120 })));
  const tr = ok(v.placeTpsl(plan({ planType: "moving_plan", rangeRate: 0.05 })));
  v.onEvent(book(2000, [[97.9, 10]], [[98, 10]]));
  v.onEvent(mark(2000, 98));
  near(v.order(part.clientOid)!.filledSize, 0.5); // only the plan's size is closed
  near(v.positions()[0].size, 2.5);
  assert.equal(v.planOrders().length, 3);
  ok(v.placeOrder(req({ side: "sell", size: 1, reduceOnly: true })));
  assert.equal(v.planOrders().length, 3); // a partial close keeps them
  ok(v.placeOrder(req({ side: "sell", size: 1.5, reduceOnly: true })));
  assert.equal(v.planOrders().length, 0);
  for (const p of [sl, tp, tr]) {
    assert.equal(planEvents(v.log, p.clientOid).at(-1)!.cancelReason, "position_closed");
  }
  // One-way flip: the long's plans go, the new short takes its own.
  ok(v.placeOrder(req({ size: 1 })));
  const l2 = ok(v.placeTpsl(plan({ triggerPrice: 90 })));
  ok(v.placeOrder(req({ side: "sell", size: 2 })));
  assert.equal(planEvents(v.log, l2.clientOid).at(-1)!.cancelReason, "position_closed");
  assert.equal(v.positions()[0].holdSide, "short");
  // Isolated liquidation of the short cancels its plan.
  const s2 = ok(v.placeTpsl(plan({ holdSide: "short", planType: "pos_profit", triggerPrice: 80 })));
  const n = v.log.length;
  v.onEvent(mark(3000, 150));
  const after = v.log.slice(n).map((e) => e.type);
  assert.deepEqual(after, ["liquidation", "plan"]);
  assert.equal(planEvents(v.log, s2.clientOid).at(-1)!.cancelReason, "position_closed");
  // User cancel.
  ok(v.placeOrder(req({ size: 1 })));
  const u = ok(v.placeTpsl(plan({ triggerPrice: 140 })));
  assert.equal(v.cancelPlan(u.clientOid), true);
  assert.equal(v.cancelPlan(u.clientOid), false);
  assert.equal(v.cancelPlan("nope"), false);
  assert.equal(planEvents(v.log, u.clientOid).at(-1)!.cancelReason, "user");
  assert.equal(v.planOrders("BTCUSDT").length, 0);
  checkIdentity(v, 10_000);
});

Deno.test("placeTpsl rejections carry Bitget codes and name the field", () => {
  const v = venue();
  v.onEvent(book(1000, [[99.9, 10]], [[100, 10]]));
  v.onEvent(mark(1000, 100));
  rejected(v.placeTpsl(plan({ symbol: "NOPEUSDT", triggerPrice: 90 })), "40102", "NOPEUSDT");
  rejected(v.placeTpsl(plan({ triggerPrice: 90 })), "22002", "long");
  ok(v.placeOrder(req({ size: 1 })));
  rejected(v.placeTpsl(plan({ holdSide: "short", triggerPrice: 110 })), "22002", "short");
  rejected(v.placeTpsl(plan({ triggerPrice: 100 })), "45122", "triggerPrice"); // = mark
  rejected(v.placeTpsl(plan({ triggerPrice: 101 })), "45122", "triggerPrice");
  rejected(v.placeTpsl(plan({ planType: "pos_profit", triggerPrice: 99.9 })), "45122");
  // The reference is the plan's own trigger source: last print 98 vs mark 100.
  v.onEvent(trade(1100, 98));
  rejected(v.placeTpsl(plan({ triggerPrice: 98.5, triggerType: "fill_price" })), "45122");
  ok(v.placeTpsl(plan({ triggerPrice: 98.5, triggerType: "mark_price" })));
  rejected(v.placeTpsl(plan({ triggerPrice: 95.05 })), "40808", "triggerPrice");
  rejected(v.placeTpsl(plan({ triggerPrice: -1 })), "40020", "triggerPrice");
  rejected(v.placeTpsl(plan({ planType: "pos_profit" })), "40020", "triggerPrice");
  rejected(v.placeTpsl(plan({ planType: "moving_plan" })), "40020", "rangeRate");
  for (const rr of [0, -0.01, 0.11]) {
    rejected(v.placeTpsl(plan({ planType: "moving_plan", rangeRate: rr })), "43011", "rangeRate");
  }
  ok(v.placeTpsl(plan({ planType: "moving_plan", rangeRate: 0.1 })));
  rejected(v.placeTpsl(plan({ triggerPrice: 90, rangeRate: 0.01 })), "40020", "rangeRate");
  rejected(v.placeTpsl(plan({ triggerPrice: 90, size: 0.0015 })), "40808", "size");
  rejected(v.placeTpsl(plan({ triggerPrice: 90, size: 0 })), "40020", "size");
  rejected(
    v.placeTpsl(plan({ triggerPrice: 90, planType: "loss_plan" as "pos_loss" })),
    "40020",
    "planType",
  );
  rejected(
    v.placeTpsl(plan({ triggerPrice: 90, triggerType: "last" as "fill_price" })),
    "40020",
    "triggerType",
  );
  rejected(v.placeTpsl(plan({ triggerPrice: 90, clientOid: "x".repeat(50) })), "40304");
  // One namespace for orders and plans.
  const o = ok(v.placeOrder(req({ size: 0.1 })));
  rejected(v.placeTpsl(plan({ triggerPrice: 90, clientOid: o.clientOid })), "40305");
  const p = ok(v.placeTpsl(plan({ triggerPrice: 90 })));
  rejected(v.placeOrder(req({ clientOid: p.clientOid })), "40305");
  // Short side mirrored (hedge mode).
  const h = venue({ positionMode: "hedge" });
  h.onEvent(book(1000, [[99.9, 10]], [[100, 10]]));
  h.onEvent(mark(1000, 100));
  ok(h.placeOrder(req({ side: "sell", tradeSide: "open", size: 1 })));
  rejected(h.placeTpsl(plan({ holdSide: "short", triggerPrice: 99 })), "45122");
  rejected(
    h.placeTpsl(plan({ holdSide: "short", planType: "pos_profit", triggerPrice: 101 })),
    "45122",
  );
  ok(h.placeTpsl(plan({ holdSide: "short", triggerPrice: 101 })));
  assert.equal(h.planOrders().length, 1);
});

Deno.test("preset SL/TP of placeOrder become pos_loss / pos_profit plans when the opening part fills", () => {
  const v = venue();
  v.onEvent(book(1000, [[99.9, 10]], [[100, 10]]));
  v.onEvent(trade(1000, 100));
  rejected(v.placeOrder(req({ presetStopLossPrice: 100.5 })), "45122", "presetStopLossPrice");
  rejected(v.placeOrder(req({ presetStopSurplusPrice: 99 })), "45122", "presetStopSurplusPrice");
  rejected(v.placeOrder(req({ presetStopLossPrice: 98.05 })), "40808", "presetStopLossPrice");
  rejected(v.placeOrder(req({ presetStopLossPrice: 98, clientOid: "y".repeat(48) })), "40304");
  const o = ok(v.placeOrder(req({ presetStopLossPrice: 98, presetStopSurplusPrice: 103 })));
  assert.equal(o.status, "filled");
  const plans = v.planOrders();
  assert.deepEqual(
    plans.map((p) => [p.clientOid, p.planType, p.holdSide, p.triggerPrice, p.triggerType, p.size]),
    [
      [`${o.clientOid}-sl`, "pos_loss", "long", 98, "fill_price", null],
      [`${o.clientOid}-tp`, "pos_profit", "long", 103, "fill_price", null],
    ],
  );
  rejected(v.placeOrder(req({ clientOid: `${o.clientOid}-sl` })), "40305");
  rejected(
    v.placeOrder(req({ side: "sell", reduceOnly: true, presetStopLossPrice: 110 })),
    "40020",
    "presetStopLossPrice",
  );
  // A resting limit gets its plans only when it fills.
  const lim = ok(v.placeOrder(req({ orderType: "limit", price: 99, presetStopLossPrice: 97 })));
  assert.equal(lim.status, "live");
  assert.equal(v.planOrders().length, 2);
  v.onEvent(trade(1100, 98.9, 1, "sell")); // prints through 99: maker fill
  assert.equal(v.order(lim.clientOid)!.status, "filled");
  assert.deepEqual(v.planOrders().map((p) => p.clientOid).at(-1), `${lim.clientOid}-sl`);
  // The first stop closes the whole leg (size null) and the others go with it.
  v.onEvent(book(1200, [[98, 10]], [[98.1, 10]]));
  v.onEvent(trade(1300, 98, 1, "sell"));
  assert.equal(fills(v.log).at(-1)!.planType, "pos_loss");
  near(fills(v.log).at(-1)!.size, 2);
  assert.equal(v.positions().length, 0);
  assert.equal(v.planOrders().length, 0);
  checkIdentity(v, 10_000);
});

Deno.test("preset on the mark with latency: the stop's order reaches the book latencyMs later", () => {
  const v = venue({ presetTriggerType: "mark_price", latencyMs: 50, positionMode: "hedge" });
  v.onEvent(book(1000, [[99.9, 10]], [[100, 10]]));
  v.onEvent(mark(1000, 100));
  const o = ok(
    v.placeOrder(req({ side: "sell", tradeSide: "open", size: 1, presetStopLossPrice: 105 })),
  );
  assert.equal(o.status, "pending");
  assert.equal(v.planOrders().length, 0);
  v.onEvent(book(1100, [[99.9, 10]], [[100, 10]])); // the order arrived at 1050
  const [p] = v.planOrders();
  assert.equal(p.createdAt, 1050);
  assert.equal(p.holdSide, "short");
  assert.equal(p.triggerType, "mark_price");
  v.onEvent(mark(1200, 105));
  assert.equal(v.order(p.clientOid)!.status, "pending");
  v.onEvent(book(1240, [[106, 10]], [[106.1, 0.4], [106.5, 10]]));
  v.onEvent(book(1300, [[110, 10]], [[110.1, 10]]));
  const f = fills(v.log).at(-1)!;
  assert.equal(f.ts, 1250);
  assert.equal(f.planType, "pos_loss");
  near(f.price, 0.4 * 106.1 + 0.6 * 106.5); // the book in force at 1250
  checkIdentity(v, 10_000);
});

// ---- planFill "trigger": stops fill at their level (candle-replay fill model) ----

/** A thin book far from the stop levels: a book walk would fill elsewhere, or not in full. */
const FAR_BIDS: [number, number][] = [[58000, 0.1]];
const FAR_ASKS: [number, number][] = [[62000, 0.1]];

/** Places a market order and lets its latency run out against the current book. */
function openAt(v: SimExchange, lat: number, p: Partial<PlaceOrderRequest>): void {
  ok(v.placeOrder(req(p)));
  v.advanceTime(v.now + lat);
}

for (const lat of [0, 50]) {
  Deno.test(`planFill trigger, latency ${lat} ms: long SL, short SL, long TP fill at level ∓ 1 bp, tick-rounded adversely`, () => {
    const v = venue({
      positionMode: "hedge",
      planFill: "trigger",
      latencyMs: lat,
      initialBalance: 100_000,
    });
    v.onEvent(book(1000, [[59999.9, 10]], [[60000, 10]]));
    v.onEvent(mark(1000, 60000));
    v.onEvent(trade(1000, 60000));
    openAt(v, lat, { side: "buy", tradeSide: "open", size: 1 }); // long 1 @ 60000
    openAt(v, lat, { side: "sell", tradeSide: "open", size: 1 }); // short 1 @ 59999.9
    const lSl = ok(v.placeTpsl(plan({ holdSide: "long", triggerPrice: 59000.3 })));
    const sSl = ok(v.placeTpsl(plan({
      holdSide: "short",
      triggerPrice: 60500.5,
      triggerType: "fill_price",
    })));

    v.onEvent(book(2000, FAR_BIDS, FAR_ASKS));
    v.onEvent(mark(2100, 59100));
    v.onEvent(mark(2200, 58990)); // crosses 59000.3 from above: fills at the level, not at 58990
    if (lat > 0) {
      assert.equal(v.order(lSl.clientOid)!.status, "pending");
      v.onEvent(book(2300, FAR_BIDS, FAR_ASKS));
    }
    // 59000.3 × (1 − 1e-4) = 58994.39997 → down to the tick: 58994.3.
    const f = fills(v.log).at(-1)!;
    assert.equal(f.clientOid, lSl.clientOid);
    assert.equal(f.ts, 2200 + lat);
    assert.equal(f.planType, "pos_loss");
    assert.equal(f.liquidity, "taker");
    assert.equal(f.direction, "sell");
    assert.equal(f.price, 58994.3);
    near(f.size, 1);
    near(f.fee, 58994.3 * 0.0006, 1e-9, "taker fee");
    near(f.realizedPnl, 58994.3 - 60000, 1e-8, "long SL pnl");
    assert.equal(v.order(lSl.clientOid)!.status, "filled");
    // Neither limited by nor depleting the (far, thin) book.
    assert.deepEqual(v.bookTop("BTCUSDT"), { bid: 58000, ask: 62000, bidSize: 0.1, askSize: 0.1 });

    v.onEvent(trade(3000, 60400));
    v.onEvent(trade(3100, 60600)); // short pos_loss: last ≥ 60500.5
    v.advanceTime(3100 + lat);
    // 60500.5 × (1 + 1e-4) = 60506.55005 → up to the tick: 60506.6.
    const g = fills(v.log).at(-1)!;
    assert.equal(g.clientOid, sSl.clientOid);
    assert.equal(g.direction, "buy");
    assert.equal(g.ts, 3100 + lat);
    assert.equal(g.price, 60506.6);
    near(g.realizedPnl, 59999.9 - 60506.6, 1e-8, "short SL pnl");
    assert.equal(v.positions().length, 0);

    v.onEvent(book(4000, [[60999.9, 10]], [[61000, 10]]));
    openAt(v, lat, { side: "buy", tradeSide: "open", size: 2 }); // long 2 @ 61000
    const lTp = ok(v.placeTpsl(plan({
      holdSide: "long",
      planType: "pos_profit",
      triggerPrice: 61500,
      triggerType: "fill_price",
    })));
    v.onEvent(book(5000, FAR_BIDS, FAR_ASKS));
    v.onEvent(trade(5100, 61400));
    v.onEvent(trade(5200, 61650)); // a take-profit fills at its level too, not at the print
    v.advanceTime(5200 + lat);
    // 61500 × (1 − 1e-4) = 61493.85 → down to the tick: 61493.8.
    const h = fills(v.log).at(-1)!;
    assert.equal(h.clientOid, lTp.clientOid);
    assert.equal(h.planType, "pos_profit");
    assert.equal(h.price, 61493.8);
    near(h.size, 2);
    near(h.realizedPnl, 2 * (61493.8 - 61000), 1e-8, "long TP pnl");
    assert.equal(v.positions().length, 0);
    checkIdentity(v, 100_000);
    near(
      v.account().balance,
      100_000 + v.account().totalRealizedPnl - v.account().totalFees,
      1e-8,
      "balance = initial + realized − fees",
    );
  });
}

Deno.test("planFill trigger: a stop whose source was already beyond the level fills at the gapping print", () => {
  const v = venue({
    planFill: "trigger",
    latencyMs: 50,
    planFillSlippageBps: 0,
    initialBalance: 100_000,
  });
  v.onEvent(book(1000, [[59999.9, 10]], [[60000, 10]]));
  v.onEvent(trade(1000, 60000));
  // The preset stop exists only once the opening order arrives (1050); by then prints went
  // through its level, so the first print after creation fills the stop at that print.
  ok(v.placeOrder(req({ size: 1, presetStopLossPrice: 59000.3 })));
  v.onEvent(book(1020, [[58899.9, 10]], [[58900, 10]]));
  v.onEvent(trade(1020, 58900, 1, "sell"));
  v.onEvent(book(1060, FAR_BIDS, FAR_ASKS)); // opening order filled at 1050 @ 58900
  const [sl] = v.planOrders();
  assert.equal(sl.createdAt, 1050);
  v.onEvent(trade(1100, 58800, 1, "sell")); // prev print 58900 < 59000.3: a gap
  v.advanceTime(1200);
  const f = fills(v.log).at(-1)!;
  assert.equal(f.clientOid, sl.clientOid);
  assert.equal(f.ts, 1150);
  assert.equal(f.price, 58800);
  near(f.realizedPnl, 58800 - 58900, 1e-8);
  checkIdentity(v, 100_000);
});

Deno.test("triggerFillPrice: level vs gap vs unknown previous price, both sides, slippage and tick", () => {
  const p = (hold: "long" | "short", planType: "pos_loss" | "pos_profit", trig: number) => ({
    ...newPlan(plan({ holdSide: hold, planType, triggerPrice: trig }), 0, NaN),
  });
  // Long SL (a sell): crossed from above → the level; already below → the print.
  assert.equal(triggerFillPrice(p("long", "pos_loss", 100), 99, 100.5, 0, BTC), 100);
  assert.equal(triggerFillPrice(p("long", "pos_loss", 100), 99, 99.5, 0, BTC), 99);
  // Short SL (a buy): mirrored; 10 bps up from 100 = 100.1, from 103 = 103.103 → 103.2.
  assert.equal(triggerFillPrice(p("short", "pos_loss", 100), 103, 99, 10, BTC), 100.1);
  assert.equal(triggerFillPrice(p("short", "pos_loss", 100), 103, 101, 10, BTC), 103.2);
  // Long TP (a sell): gapped up through the target → the (better) print.
  assert.equal(triggerFillPrice(p("long", "pos_profit", 100), 104, 99, 0, BTC), 100);
  assert.equal(triggerFillPrice(p("long", "pos_profit", 100), 104, 101, 0, BTC), 104);
  // Short TP (a buy) gapped down.
  assert.equal(triggerFillPrice(p("short", "pos_profit", 100), 96, 98, 0, BTC), 96);
  // No previous price: the worse of level and print for the order.
  assert.equal(triggerFillPrice(p("long", "pos_loss", 100), 97, NaN, 0, BTC), 97);
  assert.equal(triggerFillPrice(p("long", "pos_profit", 100), 104, NaN, 0, BTC), 100);
  assert.equal(triggerFillPrice(p("short", "pos_loss", 100), 102, NaN, 0, BTC), 102);
});

Deno.test("planFill trigger: a trailing stop fills at best × (1 − rangeRate) less the slippage", () => {
  for (const lat of [0, 50]) {
    const v = venue({
      planFill: "trigger",
      planFillSlippageBps: 2,
      latencyMs: lat,
      initialBalance: 100_000,
    });
    v.onEvent(book(1000, [[59999.9, 10]], [[60000, 10]]));
    v.onEvent(trade(1000, 60000));
    openAt(v, lat, { size: 1 }); // long 1 @ 60000
    const ts = ok(v.placeTpsl(plan({
      planType: "moving_plan",
      triggerType: "fill_price",
      rangeRate: 0.01,
    })));
    v.onEvent(book(2000, FAR_BIDS, FAR_ASKS));
    v.onEvent(trade(2100, 61000));
    v.onEvent(trade(2200, 60500));
    assert.equal(v.planOrders().length, 1);
    v.onEvent(trade(2300, 60300)); // ≤ 61000 × 0.99 = 60390
    v.advanceTime(2300 + lat);
    // 60390 × (1 − 2e-4) = 60377.922 → 60377.9.
    const f = fills(v.log).at(-1)!;
    assert.equal(f.clientOid, ts.clientOid);
    assert.equal(f.planType, "moving_plan");
    assert.equal(f.ts, 2300 + lat);
    assert.equal(f.price, 60377.9);
    near(f.realizedPnl, 60377.9 - 60000, 1e-8);
    checkIdentity(v, 100_000);
  }
});

Deno.test("planFill trigger: a liquidation before the stop's order arrives still cancels it", () => {
  const v = venue({ planFill: "trigger", latencyMs: 50, initialBalance: 100_000 });
  v.onEvent(book(1000, [[59999.9, 10]], [[60000, 10]]));
  v.onEvent(mark(1000, 60000));
  openAt(v, 50, { size: 1 });
  const sl = ok(v.placeTpsl(plan({ triggerPrice: 59000.3 })));
  v.onEvent(mark(2000, 58990)); // triggers; the order arrives at 2050
  v.onEvent(mark(2010, 50000)); // below the 10× isolated liquidation price
  v.advanceTime(2100);
  const o = v.order(sl.clientOid)!;
  assert.equal(o.status, "cancelled");
  assert.equal(o.cancelReason, "position_liquidated");
  assert.equal(fills(v.log).filter((f) => f.planType).length, 0);
  assert.equal(v.log.filter((e) => e.type === "liquidation").length, 1);
  checkIdentity(v, 100_000);
});

Deno.test("planFill config: bad mode or slippage is a RangeError naming the field", () => {
  assert.throws(
    () => venue({ planFill: "close" as unknown as "book" }),
    (e: unknown) => e instanceof RangeError && e.message.includes("planFill"),
  );
  for (const bps of [-1, NaN, 10_000]) {
    assert.throws(
      () => venue({ planFill: "trigger", planFillSlippageBps: bps }),
      (e: unknown) => e instanceof RangeError && e.message.includes("planFillSlippageBps"),
    );
  }
});
