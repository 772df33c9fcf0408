/**
 * The order journal and the order manager on the real simulated exchange (SimVenue) and real
 * SQLite: deterministic clientOids, the row committed before the venue sees the order, fills
 * recorded once, expected positions from snapshots + fills, adoption, and the exactly-once
 * rules — 40786 means placed, a lost answer is resolved by asking the venue, a request the venue
 * never got is re-sent under the same clientOid only after the venue said twice it has none.
 * Lost answers are injected by a thin wrapper around SimVenue (the loopback simulator's
 * `order-timeout` fault covers the same over real sockets in run_live_test.ts).
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { OrderJournal } from "../src/oms/journal.ts";
import { OrderManager } from "../src/oms/oms.ts";
import { silentLogger } from "../src/ops/log.ts";
import { Store } from "../src/store/store.ts";
import { SimVenue } from "../src/venue/sim_venue.ts";
import type { PlaceOrderRequest } from "../src/venue/types.ts";
import { OutcomeUnknownError, type Venue } from "../src/venue/venue.ts";
import { book, BTC } from "./helpers/venue_fixtures.ts";

async function setup(runs = 1) {
  const dir = await Deno.makeTempDir({ prefix: "bitget-oms-" });
  const path = `${dir}/t.db`;
  const store = Store.open(path, { create: true });
  let runId = 0;
  for (let i = 0; i < runs; i++) {
    runId = store.beginRun({ command: "run", args: [], version: "test", host: "t" });
  }
  return { dir, path, store, runId };
}

function venue(latencyMs = 0) {
  const v = new SimVenue({ contracts: [BTC], initialBalance: 10_000, leverage: 5, latencyMs });
  v.onMarketEvent(book(1_000, [[60000.0, 5]], [[60000.1, 5]]));
  return v;
}

const oms = (v: Venue, j: OrderJournal) =>
  new OrderManager({
    venue: v,
    journal: j,
    contracts: new Map([[BTC.symbol, BTC]]),
    log: silentLogger,
    engineTime: () => 1_000,
    resolve: { queryDelaysMs: [0, 5, 5, 5, 5], pushWaitMs: 10, maxResends: 2 },
  });

Deno.test("journal: clientOids bb<tag>-<run>-<seq>, tag kept per database, charset and length", async () => {
  const { path, store, runId } = await setup(3);
  const j = new OrderJournal(store.db, "paper", runId);
  const a = j.nextClientOid();
  const b = j.nextClientOid();
  assert.match(a.clientOid, /^bb[0-9a-z]{6}-3-1$/);
  assert.equal(b.clientOid, a.clientOid.replace(/-1$/, "-2"));
  assert.ok(a.clientOid.length < 50 && /^[0-9a-zA-Z\-+_#]+$/.test(a.clientOid));
  assert.ok(j.isOurs(a.clientOid) && !j.isOurs("bbzzzzzz-3-1"));
  store.close();
  const again = Store.open(path);
  assert.equal(new OrderJournal(again.db, "live", 4).prefix, j.prefix, "tag stored in the file");
  again.close();
});

Deno.test("oms: the order row is committed before the venue sees the order; fills once", async () => {
  const { path, store, runId } = await setup();
  const j = new OrderJournal(store.db, "paper", runId);
  const v = venue();
  const seen: string[] = [];
  const probe = new DatabaseSync(path, { readOnly: true });
  const orig = v.placeOrder.bind(v);
  v.placeOrder = (req: PlaceOrderRequest) => {
    // Another connection sees the committed row at the moment the venue receives the request.
    const row = probe.prepare("SELECT state FROM orders WHERE client_oid = ?").get(req.clientOid);
    seen.push(String((row as { state?: string } | undefined)?.state));
    return orig(req);
  };
  const m = oms(v, j);
  v.subscribe((ev) => m.onVenueEvent(ev));
  const r = m.submit({ symbol: "BTCUSDT", side: "buy", size: 0.002, reason: "t" });
  assert.equal(r, undefined, "the simulated venue answers synchronously");
  assert.deepEqual(seen, ["sent"]);
  const rows = j.allOrders();
  assert.equal(rows.length, 1);
  assert.equal(rows[0].state, "filled");
  assert.equal(rows[0].filledSize, "0.002");
  assert.equal(rows[0].avgPrice, "60000.1");
  const fills = j.fills();
  assert.equal(fills.length, 1);
  assert.equal(fills[0].price, "60000.1");
  assert.equal(fills[0].tradeId, `sim-${rows[0].venueOrderId}-1`);
  // The same fill delivered again is not recorded twice.
  assert.equal(j.insertFill({ ...fills[0], id: undefined }), false);
  probe.close();
  store.close();
});

Deno.test("oms: expected positions from snapshots plus later fills (one-way)", async () => {
  const { store, runId } = await setup();
  const j = new OrderJournal(store.db, "paper", runId);
  const v = venue();
  const m = oms(v, j);
  v.subscribe((ev) => m.onVenueEvent(ev));
  m.submit({ symbol: "BTCUSDT", side: "buy", size: 0.003 });
  m.submit({ symbol: "BTCUSDT", side: "sell", size: 0.001, reduceOnly: true });
  assert.deepEqual(j.expectedPositions(["BTCUSDT"], "one_way").get("BTCUSDT"), {
    long: 0.002,
    short: 0,
  });
  j.snapshot("adopt", [{ symbol: "BTCUSDT", holdSide: "long", size: "0.005" }]);
  m.submit({ symbol: "BTCUSDT", side: "sell", size: 0.002, reduceOnly: true });
  const e = j.expectedPositions(["BTCUSDT"], "one_way").get("BTCUSDT")!;
  assert.ok(Math.abs(e.long - 0.003) < 1e-12 && e.short === 0, JSON.stringify(e));
  store.close();
});

Deno.test("oms: hedge account — one-way intents become close/open orders per leg", async () => {
  const { store, runId } = await setup();
  const j = new OrderJournal(store.db, "paper", runId);
  const v = new SimVenue({
    contracts: [BTC],
    initialBalance: 10_000,
    leverage: 5,
    positionMode: "hedge",
  });
  v.onMarketEvent(book(1_000, [[60000.0, 5]], [[60000.1, 5]]));
  const m = new OrderManager({
    venue: v,
    journal: j,
    contracts: new Map([[BTC.symbol, BTC]]),
    log: silentLogger,
    engineTime: () => 1_000,
    positionMode: "hedge",
  });
  v.subscribe((ev) => m.onVenueEvent(ev));
  m.submit({ symbol: "BTCUSDT", side: "buy", size: 0.003 });
  // A flip as the engine sends it (one-way terms): sell 0.005 = close the long, open 0.002 short.
  m.submit({ symbol: "BTCUSDT", side: "sell", size: 0.005 });
  const legs = v.positions().map((p) => `${p.holdSide}:${p.size}`);
  assert.deepEqual(legs, ["short:0.002"]);
  const rows = j.allOrders().map((r) => `${r.side}/${r.tradeSide}/${r.size}/${r.state}`);
  assert.deepEqual(rows, [
    "buy/open/0.003/filled",
    "buy/close/0.003/filled",
    "sell/open/0.002/filled",
  ]);
  assert.deepEqual(j.expectedPositions(["BTCUSDT"], "hedge").get("BTCUSDT"), {
    long: 0,
    short: 0.002,
  });
  // An exit of the short (engine: buy reduce-only) closes the short leg.
  m.submit({ symbol: "BTCUSDT", side: "buy", size: 0.002, reduceOnly: true });
  assert.equal(v.positions().length, 0);
  store.close();
});

Deno.test("oms: 40786 (duplicate clientOid) is an order already placed, not a failure", async () => {
  const { store, runId } = await setup();
  const j = new OrderJournal(store.db, "live", runId);
  const v = venue();
  let calls = 0;
  const orig = v.placeOrder.bind(v);
  const wrapped = Object.assign(Object.create(v), {
    placeOrder: (req: PlaceOrderRequest) => {
      calls++;
      orig(req); // the exchange has it …
      return Promise.resolve({ code: "40786", msg: "Duplicate clientOid" }); // … and says so
    },
    order: (s: string, oid: string) => Promise.resolve(v.order(s, oid)),
  });
  const m = oms(wrapped, j);
  v.subscribe((ev) => m.onVenueEvent(ev));
  await m.submit({ symbol: "BTCUSDT", side: "buy", size: 0.001 });
  await m.idle();
  assert.equal(calls, 1);
  assert.equal(j.allOrders()[0].state, "filled");
  assert.equal(m.counters.duplicatesAnswered, 1);
  assert.equal(m.counters.rejected, 0);
  store.close();
});

Deno.test("oms: a lost answer is resolved by asking the venue; never sent twice", async () => {
  const { store, runId } = await setup();
  const j = new OrderJournal(store.db, "live", runId);
  const v = venue();
  let calls = 0;
  const orig = v.placeOrder.bind(v);
  const wrapped = Object.assign(Object.create(v), {
    placeOrder: (req: PlaceOrderRequest) => {
      calls++;
      orig(req);
      return Promise.reject(new OutcomeUnknownError("place-order", req.clientOid, "timeout"));
    },
    order: (s: string, oid: string) => Promise.resolve(v.order(s, oid)),
  });
  const m = oms(wrapped, j);
  // No venue events reach the manager: only the lookup can settle it.
  await m.submit({ symbol: "BTCUSDT", side: "buy", size: 0.001 });
  await m.idle();
  assert.equal(calls, 1, "placed once");
  const row = j.allOrders()[0];
  assert.equal(row.state, "filled");
  assert.equal(row.placeAttempts, 1);
  assert.equal(m.counters.resolvedByQuery, 1);
  store.close();
});

Deno.test("oms: a request the venue never got is re-sent under the same clientOid, once", async () => {
  const { store, runId } = await setup();
  const j = new OrderJournal(store.db, "live", runId);
  const v = venue();
  const oids: string[] = [];
  const orig = v.placeOrder.bind(v);
  const wrapped = Object.assign(Object.create(v), {
    placeOrder: (req: PlaceOrderRequest) => {
      oids.push(req.clientOid);
      // The first request is lost on the way (never reaches the exchange, no answer).
      if (oids.length === 1) {
        return Promise.reject(new OutcomeUnknownError("place-order", req.clientOid, "reset"));
      }
      return Promise.resolve(orig(req));
    },
    order: (s: string, oid: string) => Promise.resolve(v.order(s, oid)),
  });
  const m = oms(wrapped, j);
  v.subscribe((ev) => m.onVenueEvent(ev));
  await m.submit({ symbol: "BTCUSDT", side: "buy", size: 0.001 });
  await m.idle();
  assert.equal(oids.length, 2);
  assert.equal(oids[0], oids[1], "the same clientOid");
  const row = j.allOrders()[0];
  assert.equal(row.state, "filled");
  assert.equal(row.placeAttempts, 2);
  assert.equal(j.fills().length, 1, "one order on the exchange, one fill");
  store.close();
});

Deno.test("oms: a cancel whose answer is lost is settled by asking the venue; sent once", async () => {
  const { store, runId } = await setup();
  const j = new OrderJournal(store.db, "live", runId);
  const v = venue();
  let cancels = 0;
  const origCancel = v.cancelOrder.bind(v);
  const wrapped = Object.assign(Object.create(v), {
    // The exchange executes the cancel, its answer never comes back.
    cancelOrder: (s: string, oid: string) => {
      cancels++;
      origCancel(s, oid);
      return Promise.reject(new OutcomeUnknownError("cancel-order", oid, "timeout"));
    },
    order: (s: string, oid: string) => Promise.resolve(v.order(s, oid)),
  });
  const m = oms(wrapped, j);
  // A resting limit buy below the bid; no venue events reach the manager after placement.
  m.submit({ symbol: "BTCUSDT", side: "buy", size: 0.001, orderType: "limit", price: 59_000 });
  await m.idle();
  const oid = j.allOrders()[0].clientOid;
  assert.equal(j.get(oid)!.state, "live");
  assert.equal(await m.cancel("BTCUSDT", oid), "cancelled");
  assert.equal(cancels, 1, "the exchange said cancelled: not sent again");
  assert.equal(m.counters.cancelsUnknown, 1);
  assert.equal(j.get(oid)!.state, "cancelled");
  store.close();
});

Deno.test("oms: a cancel lost on the way is sent again only while the venue shows the order open", async () => {
  const { store, runId } = await setup();
  const j = new OrderJournal(store.db, "live", runId);
  const v = venue();
  let cancels = 0;
  const origCancel = v.cancelOrder.bind(v);
  const wrapped = Object.assign(Object.create(v), {
    cancelOrder: (s: string, oid: string) => {
      cancels++;
      // The first cancel never reaches the exchange (reset before it was read).
      if (cancels === 1) {
        return Promise.reject(new OutcomeUnknownError("cancel-order", oid, "reset"));
      }
      return Promise.resolve(origCancel(s, oid));
    },
    order: (s: string, oid: string) => Promise.resolve(v.order(s, oid)),
  });
  const m = oms(wrapped, j);
  m.submit({ symbol: "BTCUSDT", side: "buy", size: 0.001, orderType: "limit", price: 59_000 });
  await m.idle();
  const oid = j.allOrders()[0].clientOid;
  assert.equal(await m.cancel("BTCUSDT", oid), "cancelled");
  assert.equal(cancels, 2, "re-sent once, after the venue still showed the order live");
  store.close();
});

Deno.test("oms: a cancel refused because the order filled records the fill, not a cancel", async () => {
  const { store, runId } = await setup();
  const j = new OrderJournal(store.db, "live", runId);
  const v = venue();
  const m = oms(v, j);
  m.submit({ symbol: "BTCUSDT", side: "buy", size: 0.001, orderType: "limit", price: 59_000 });
  await m.idle();
  const oid = j.allOrders()[0].clientOid;
  // The market trades through the limit: the order fills before the cancel arrives; the
  // manager hears of it only through the lookup.
  v.onMarketEvent(book(2_000, [[58_900, 5]], [[58_950, 5]]));
  assert.equal(v.order("BTCUSDT", oid)?.status, "filled");
  assert.equal(await m.cancel("BTCUSDT", oid), "filled");
  assert.equal(j.get(oid)!.filledSize, "0.001");
  // (The simulated venue reports fills as events only; the Bitget venue's REST `fills` lookup
  // after such a cancel is covered against the loopback simulator in run_live_test.ts.)
  store.close();
});

Deno.test("oms: adoption of an order with this database's tag the journal does not know", async () => {
  const { store, runId } = await setup();
  const j = new OrderJournal(store.db, "live", runId);
  const v = venue();
  const m = oms(v, j);
  v.subscribe((ev) => m.onVenueEvent(ev));
  const foreign = `${j.prefix}${runId}-77`;
  v.placeOrder({
    clientOid: foreign,
    symbol: "BTCUSDT",
    side: "buy",
    orderType: "limit",
    price: 59_000,
    size: 0.001,
  });
  v.placeOrder({
    clientOid: "someone-else-1",
    symbol: "BTCUSDT",
    side: "buy",
    orderType: "limit",
    price: 59_000,
    size: 0.001,
  });
  const rows = j.allOrders();
  assert.equal(rows.length, 1, "only the tagged order is adopted");
  assert.equal(rows[0].clientOid, foreign);
  assert.equal(rows[0].adopted, true);
  assert.equal(rows[0].state, "live");
  store.close();
});
