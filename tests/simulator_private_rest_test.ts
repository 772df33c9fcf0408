/**
 * Private REST of the loopback simulator (src/simulator/private_*.ts, auth.ts): real sockets on
 * 127.0.0.1 against `startSimulator` on the bundled real recording, the market driven by a public
 * connection at speed max (so the exchange ends at the recording's final book and mark, which the
 * expectations read from the file itself). Client-side signing: src/bitget/sign.ts.
 */
import assert from "node:assert/strict";
import { buildQuery } from "../src/bitget/sign.ts";
import {
  A,
  assertError,
  assertOk,
  CREDS,
  driveMarket,
  finalBook,
  finalMark,
  marketOrder,
  near,
  O,
  P,
  PT,
  signed,
  TAKER_FEE,
  walk,
  withSim,
} from "./helpers/simulator_private.ts";

const ACCOUNTS = A + "accounts";

Deno.test("auth: each failed check answers its Bitget code in the error envelope (HTTP 400)", async () => {
  await withSim({ speed: "max" }, async (sim) => {
    assertOk(await signed(sim, "GET", ACCOUNTS, PT));
    const drop = (name: string) => (h: Record<string, string>) => delete h[name];
    const set = (name: string, v: string) => (h: Record<string, string>) => (h[name] = v);
    const cases: [string, Parameters<typeof signed>[4]][] = [
      ["40001", { headers: drop("ACCESS-KEY") }],
      ["40002", { headers: drop("ACCESS-SIGN") }],
      ["40011", { headers: drop("ACCESS-PASSPHRASE") }],
      ["40005", { headers: drop("ACCESS-TIMESTAMP") }],
      ["40005", { ts: "17213470x" }],
      ["40008", { ts: String(Date.now() - 31_000) }],
      ["40008", { ts: String(Date.now() + 31_000) }],
      ["40006", { creds: { ...CREDS, apiKey: "bg_unknown" } }],
      ["40012", { headers: set("ACCESS-PASSPHRASE", "not-the-passphrase") }],
      ["40009", { creds: { ...CREDS, secret: "another-secret" } }],
      ["40009", { headers: set("ACCESS-SIGN", "AAAA" + "=".repeat(40)) }],
      // The server signs the query exactly as received: a re-ordered query is a different prehash.
      ["40009", { query: "symbol=BTCUSDT&productType=USDT-FUTURES", signQuery: buildQuery(PT) }],
      ["40099", { demo: true }],
    ];
    for (const [code, o] of cases) {
      assertError(await signed(sim, "GET", ACCOUNTS, PT, o), code);
    }
    // Signed as sent (unsorted, extra parameter) is fine.
    const raw = "symbol=BTCUSDT&productType=USDT-FUTURES";
    assertOk(await signed(sim, "GET", ACCOUNTS, {}, { query: raw }));
    // POST: the raw body bytes are signed — whitespace matters (API.md §6).
    const body = JSON.stringify({ productType: "USDT-FUTURES", posMode: "one_way_mode" });
    const path = A + "set-position-mode";
    assertOk(await signed(sim, "POST", path, {}, { bodyText: body }));
    assertError(
      await signed(sim, "POST", path, {}, { bodyText: body.replace(":", ": "), signBody: body }),
      "40009",
    );
    // A wrong content type on a POST.
    assertError(
      await signed(sim, "POST", path, {}, {
        bodyText: body,
        headers: set("Content-Type", "text/plain"),
      }),
      "40007",
    );
    // Unknown private path: 404 40404.
    assertError(await signed(sim, "GET", O + "no-such-endpoint", PT), "40404", 404);
    const rest = sim.status().rest;
    assert.equal(rest[ACCOUNTS].errors, cases.length);
  });

  // A demo simulator wants `paptrading: 1` (API.md §8).
  await withSim({ speed: "max", env: "demo" }, async (sim) => {
    assertError(await signed(sim, "GET", ACCOUNTS, PT), "40099");
    assertOk(await signed(sim, "GET", ACCOUNTS, PT, { demo: true }));
  });

  // No key configured: every key is unknown.
  await withSim({ speed: "max", credentials: undefined }, async (sim) => {
    if (!sim.privateApi) assertError(await signed(sim, "GET", ACCOUNTS, PT), "40006");
  });
});

Deno.test("trading: a market buy fills inside the book; detail, fills, positions, accounts, status agree", async () => {
  await withSim({ speed: "max" }, async (sim) => {
    const market = await driveMarket(sim);
    const { vwap, worst } = walk(finalBook("BTCUSDT").asks, 0.01);
    const bestAsk = finalBook("BTCUSDT").asks[0][0];
    const mark = finalMark("BTCUSDT");
    const fee = vwap * 0.01 * TAKER_FEE;

    const placed = await signed(sim, "POST", O + "place-order", marketOrder("buy-1", "buy"));
    assertOk(placed);
    assert.equal(placed.body.data.clientOid, "buy-1");
    assert.match(placed.body.data.orderId, /^\d{19}$/);
    const orderId = placed.body.data.orderId;

    // detail by clientOid and by orderId: the same order.
    const q = { ...PT, symbol: "BTCUSDT" };
    const byOid = await signed(sim, "GET", O + "detail", { ...q, clientOid: "buy-1" });
    const byId = await signed(sim, "GET", O + "detail", { ...q, orderId });
    assertOk(byOid);
    assert.deepEqual(byId.body.data, byOid.body.data);
    const d = byOid.body.data;
    assert.equal(d.orderId, orderId);
    assert.equal(d.state, "filled");
    assert.equal(d.size, "0.01");
    assert.equal(d.baseVolume, "0.01");
    assert.ok(Number(d.priceAvg) >= bestAsk && Number(d.priceAvg) <= worst, d.priceAvg);
    near(d.priceAvg, vwap, 1e-6, "priceAvg");
    near(d.fee, -fee, 1e-8, "fee (negative = charged)");
    assert.deepEqual(
      [d.side, d.orderType, d.posSide, d.tradeSide, d.posMode, d.reduceOnly, d.marginMode],
      ["buy", "market", "net", "buy_single", "one_way_mode", "NO", "isolated"],
    );
    assert.equal(d.price, undefined, "market orders carry no price");
    assertError(await signed(sim, "GET", O + "detail", { ...q, clientOid: "nope" }), "40109");

    // fills
    const fills = await signed(sim, "GET", O + "fills", { ...PT, symbol: "BTCUSDT" });
    assertOk(fills);
    assert.equal(fills.body.data.fillList.length, 1);
    const f = fills.body.data.fillList[0];
    assert.match(f.tradeId, /^\d{19}$/);
    assert.equal(f.orderId, orderId);
    assert.equal(f.baseVolume, "0.01");
    assert.equal(f.tradeScope, "taker");
    assert.equal(f.side, "buy");
    near(f.price, vwap, 1e-6, "fill price");
    near(f.feeDetail[0].totalFee, -fee, 1e-8, "fill fee");
    assert.equal(fills.body.data.endId, f.tradeId);

    // positions
    const all = await signed(sim, "GET", P + "all-position", PT);
    assertOk(all);
    assert.equal(all.body.data.length, 1);
    const p = all.body.data[0];
    assert.deepEqual(
      [p.symbol, p.holdSide, p.total, p.available, p.leverage, p.marginMode, p.posMode],
      ["BTCUSDT", "long", "0.01", "0.01", "10", "isolated", "one_way_mode"],
    );
    near(p.openPriceAvg, vwap, 1e-6, "openPriceAvg");
    near(p.markPrice, mark, 1e-9, "markPrice");
    near(p.unrealizedPL, (mark - vwap) * 0.01, 1e-7, "unrealizedPL");
    near(p.marginSize, vwap * 0.01 / 10, 1e-7, "marginSize");
    const single = await signed(sim, "GET", P + "single-position", {
      ...q,
      marginCoin: "USDT",
    });
    assert.equal(single.body.data[0].total, "0.01");
    assert.equal(single.body.data[0].autoMargin, "off");
    const eth = await signed(sim, "GET", P + "single-position", {
      ...PT,
      symbol: "ETHUSDT",
      marginCoin: "USDT",
    });
    assert.deepEqual(eth.body.data, []);

    // accounts
    const acc = (await signed(sim, "GET", ACCOUNTS, PT)).body.data[0];
    assert.equal(acc.marginCoin, "USDT");
    near(acc.accountEquity, 10_000 - fee + (mark - vwap) * 0.01, 1e-6, "accountEquity");
    near(acc.available, 10_000 - fee - vwap * 0.01 / 10, 1e-6, "available");
    const one = (await signed(sim, "GET", A + "account", { ...q, marginCoin: "USDT" })).body.data;
    assert.deepEqual(
      [one.posMode, one.marginMode, one.crossedMarginLeverage, one.isolatedLongLever],
      ["one_way_mode", "isolated", "10", "10"],
    );

    // lists
    const pending = await signed(sim, "GET", O + "orders-pending", PT);
    assert.deepEqual(pending.body.data, { entrustedList: null, endId: null });
    const hist = await signed(sim, "GET", O + "orders-history", PT);
    assert.equal(hist.body.data.entrustedList.length, 1);
    assert.equal(hist.body.data.entrustedList[0].status, "filled");

    // /sim/status
    const st = sim.status();
    assert.equal(st.orders.length, 1);
    const o = st.orders[0];
    assert.deepEqual(
      [o.clientOid, o.orderId, o.symbol, o.side, o.size, o.filledSize, o.state, o.placeRequests],
      ["buy-1", orderId, "BTCUSDT", "buy", 0.01, 0.01, "filled", 1],
    );
    assert.equal(st.fills.length, 1);
    assert.equal(st.fills[0].tradeId, f.tradeId);
    near(st.fills[0].price, vwap, 1e-6, "status fill price");
    near(st.fills[0].fee, fee, 1e-9, "status fee (paid, positive)");
    assert.equal(st.positions.length, 1);
    assert.deepEqual([st.positions[0].symbol, st.positions[0].holdSide], ["BTCUSDT", "long"]);
    near(st.positions[0].size, 0.01, 1e-12, "status size");
    near(st.account.balance, 10_000 - fee, 1e-6, "status balance");
    assert.equal(st.placeRequests, 1);
    assert.equal(st.duplicateClientOids, 0);
    await market.close();
  });
});

Deno.test("duplicate clientOid → 40786 and the order count stays 1", async () => {
  await withSim({ speed: "max" }, async (sim) => {
    const market = await driveMarket(sim);
    assertOk(await signed(sim, "POST", O + "place-order", marketOrder("dup-1", "buy")));
    const again = await signed(sim, "POST", O + "place-order", marketOrder("dup-1", "sell"));
    assertError(again, "40786");
    assert.equal(again.body.msg, "Duplicate clientOid");
    const st = sim.status();
    assert.equal(st.orders.length, 1);
    assert.equal(st.orders[0].placeRequests, 2);
    assert.equal(st.placeRequests, 2);
    assert.equal(st.duplicateClientOids, 1);
    assert.equal(st.fills.length, 1);
    await market.close();
  });
});

Deno.test("order-timeout@1: the order is executed but the client never gets a response", async () => {
  await withSim({ speed: "max", faults: ["order-timeout@1"] }, async (sim) => {
    const market = await driveMarket(sim);
    await assert.rejects(() =>
      signed(sim, "POST", O + "place-order", marketOrder("lost-1", "buy"))
    );
    const d = await signed(sim, "GET", O + "detail", {
      ...PT,
      symbol: "BTCUSDT",
      clientOid: "lost-1",
    });
    assertOk(d);
    assert.equal(d.body.data.state, "filled");
    // The client's retry with the same clientOid is refused: the first attempt went through.
    assertError(
      await signed(sim, "POST", O + "place-order", marketOrder("lost-1", "buy")),
      "40786",
    );
    const st = sim.status();
    assert.equal(st.orders.length, 1);
    assert.equal(st.orders[0].placeRequests, 2);
    assert.deepEqual(st.faults.fired.map((f) => f.spec), ["order-timeout@1"]);
    assert.deepEqual(st.faults.pending, []);
    await market.close();
  });
});

Deno.test("reject-order:CODE[:K] refuses the next K place-order requests with CODE", async () => {
  await withSim({ speed: "max", faults: ["reject-order:43012"] }, async (sim) => {
    const market = await driveMarket(sim);
    const r = await signed(sim, "POST", O + "place-order", marketOrder("rej-1", "buy"));
    assertError(r, "43012");
    assert.equal(r.body.msg, "Insufficient balance");
    assertOk(await signed(sim, "POST", O + "place-order", marketOrder("rej-2", "buy")));
    // Armed at run time: the next two are refused.
    const armed = await fetch(`${sim.restUrl}/sim/fault`, {
      method: "POST",
      body: JSON.stringify({ spec: "reject-order:40762:2" }),
    });
    assert.equal(armed.status, 200);
    await armed.body?.cancel();
    for (const oid of ["rej-3", "rej-4"]) {
      assertError(await signed(sim, "POST", O + "place-order", marketOrder(oid, "sell")), "40762");
    }
    assertOk(await signed(sim, "POST", O + "place-order", marketOrder("rej-5", "sell")));
    const st = sim.status();
    assert.deepEqual(st.orders.map((o) => o.clientOid), ["rej-2", "rej-5"]);
    assert.equal(st.placeRequests, 5);
    assert.deepEqual(
      st.faults.fired.map((f) => f.spec),
      ["reject-order:43012", "reject-order:40762", "reject-order:40762"],
    );
    await market.close();
  });
});

Deno.test("orders: limits rest and cancel, presets and TP/SL plans, flash close, settings, limits", async () => {
  await withSim({ speed: "max" }, async (sim) => {
    const market = await driveMarket(sim);
    const bid = finalBook("BTCUSDT").bids[0][0];
    const q = { ...PT, symbol: "BTCUSDT" };
    // A limit buy far below the book rests.
    const limit = {
      ...marketOrder("lim-1", "buy"),
      orderType: "LIMIT",
      force: "GTC",
      price: String(bid - 1000),
    };
    assertOk(await signed(sim, "POST", O + "place-order", limit));
    let pending = (await signed(sim, "GET", O + "orders-pending", q)).body.data;
    assert.equal(pending.entrustedList.length, 1);
    assert.deepEqual(
      [
        pending.entrustedList[0].status,
        pending.entrustedList[0].price,
        pending.entrustedList[0].force,
      ],
      ["live", String(bid - 1000), "gtc"],
    );
    assert.ok(Number((await signed(sim, "GET", ACCOUNTS, PT)).body.data[0].locked) > 0);
    const cancel = await signed(sim, "POST", O + "cancel-order", { ...q, clientOid: "lim-1" });
    assertOk(cancel);
    assert.equal(cancel.body.data.clientOid, "lim-1");
    assertError(
      await signed(sim, "POST", O + "cancel-order", { ...q, clientOid: "lim-1" }),
      "40768",
    );
    pending = (await signed(sim, "GET", O + "orders-pending", q)).body.data;
    assert.equal(pending.entrustedList, null);
    const hist = (await signed(sim, "GET", O + "orders-history", q)).body.data.entrustedList;
    assert.deepEqual([hist[0].status, hist[0].cancelReason], ["canceled", "normal_cancel"]);

    // A market buy with preset SL/TP: two pos_* plans on the long leg.
    const mark = finalMark("BTCUSDT");
    const sl = String(Math.floor(mark * 0.95));
    const tp = String(Math.ceil(mark * 1.05));
    assertOk(
      await signed(sim, "POST", O + "place-order", {
        ...marketOrder("pre-1", "buy", "0.02"),
        presetStopLossPrice: sl,
        presetStopSurplusPrice: tp,
      }),
    );
    const plans = await signed(sim, "GET", O + "orders-plan-pending", {
      ...PT,
      planType: "profit_loss",
    });
    assertOk(plans);
    const list = plans.body.data.entrustedList;
    assert.deepEqual(
      list.map((x: Record<string, string>) => [x.clientOid, x.planType, x.triggerPrice]).sort(),
      [["pre-1-sl", "pos_loss", sl], ["pre-1-tp", "pos_profit", tp]],
    );
    const pos = (await signed(sim, "GET", P + "all-position", PT)).body.data[0];
    assert.deepEqual([pos.stopLoss, pos.takeProfit], [sl, tp]);
    // place-tpsl-order: one-way holdSide is buy/sell (API.md §5.7); long/short → 40774.
    const tpsl = {
      ...PT,
      marginCoin: "USDT",
      symbol: "BTCUSDT",
      planType: "moving_plan",
      rangeRate: "0.01",
      size: "0.01",
      triggerType: "mark_price",
    };
    assertError(
      await signed(sim, "POST", O + "place-tpsl-order", { ...tpsl, holdSide: "long" }),
      "40774",
    );
    const trail = await signed(sim, "POST", O + "place-tpsl-order", {
      ...tpsl,
      holdSide: "buy",
      clientOid: "trail-1",
    });
    assertOk(trail);
    assert.match(trail.body.data.orderId, /^\d{19}$/);
    const cp = await signed(sim, "POST", O + "cancel-plan-order", {
      ...PT,
      planType: "profit_loss",
      orderIdList: [{ clientOid: "trail-1" }, { clientOid: "missing" }],
    });
    assertOk(cp);
    assert.deepEqual(cp.body.data.successList.map((x: { clientOid: string }) => x.clientOid), [
      "trail-1",
    ]);
    assert.equal(cp.body.data.failureList[0].clientOid, "missing");

    // Settings refuse while a position is open.
    assertError(
      await signed(sim, "POST", A + "set-position-mode", { ...PT, posMode: "hedge_mode" }),
      "40920",
    );
    assertError(
      await signed(sim, "POST", A + "set-margin-mode", {
        ...q,
        marginCoin: "USDT",
        marginMode: "crossed",
      }),
      "45117",
    );
    const lev = await signed(sim, "POST", A + "set-leverage", {
      ...q,
      marginCoin: "usdt",
      leverage: "20",
    });
    assertOk(lev);
    assert.deepEqual([lev.body.data.longLeverage, lev.body.data.shortLeverage], ["20", "20"]);

    // Flash close: the leg goes flat, its plans are cancelled; a second call within 1 s → 429.
    const close = await signed(sim, "POST", O + "close-positions", q);
    assertOk(close);
    assert.equal(close.body.data.successList.length, 1);
    assertError(await signed(sim, "POST", O + "close-positions", q), "429", 429);
    assert.deepEqual((await signed(sim, "GET", P + "all-position", PT)).body.data, []);
    const after = await signed(sim, "GET", O + "orders-plan-pending", {
      ...PT,
      planType: "profit_loss",
    });
    assert.deepEqual(after.body.data, { entrustedList: null, endId: null });

    // Flat: switch to hedge mode; an open long is reported as such.
    assertOk(await signed(sim, "POST", A + "set-position-mode", { ...PT, posMode: "HEDGE_MODE" }));
    assertOk(
      await signed(sim, "POST", O + "place-order", {
        ...marketOrder("h-1", "buy"),
        tradeSide: "Open",
      }),
    );
    const hp = (await signed(sim, "GET", P + "all-position", PT)).body.data[0];
    assert.deepEqual([hp.holdSide, hp.posMode, hp.leverage], ["long", "hedge_mode", "20"]);
    const hd = (await signed(sim, "GET", O + "detail", { ...q, clientOid: "h-1" })).body.data;
    assert.deepEqual([hd.posSide, hd.tradeSide, hd.posMode], ["long", "open", "hedge_mode"]);
    // Hedge mode needs tradeSide.
    assertError(await signed(sim, "POST", O + "place-order", marketOrder("h-2", "buy")), "40774");
    await market.close();
  });
});
