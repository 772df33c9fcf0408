/**
 * Private WebSocket of the loopback simulator (src/simulator/private_ws.ts): login and its
 * failures, subscribe acks and snapshots, pushes when an order fills, and the `private-drop@N`
 * fault cutting the TCP connection without a close frame. Real sockets against `startSimulator`
 * on the bundled real recording; the market is driven by a public connection at speed max.
 */
import assert from "node:assert/strict";
import { hmacBase64, wsLoginFrame, wsLoginPrehash } from "../src/bitget/sign.ts";
import {
  CREDS,
  driveMarket,
  finalBook,
  marketOrder,
  near,
  O,
  signed,
  TAKER_FEE,
  until,
  walk,
  withSim,
  WsClient,
} from "./helpers/simulator_private.ts";

const seconds = (dt = 0) => String(Math.floor((Date.now() + dt) / 1000));
const arg = (channel: string, instId = "default") => ({
  instType: "USDT-FUTURES",
  channel,
  instId,
});
const ACCOUNT_ARG = { instType: "USDT-FUTURES", channel: "account", coin: "default" };

async function loggedIn(url: string): Promise<WsClient> {
  const c = new WsClient(url);
  await c.opened;
  c.send(wsLoginFrame(CREDS, seconds()));
  await until(() => c.msgs.length > 0, "login ack");
  assert.deepEqual(JSON.parse(c.msgs[0]), { event: "login", code: 0, msg: "" });
  return c;
}

Deno.test("login: ack with code 0; each failure is an error event and a close; 30004 before login", async () => {
  await withSim({ speed: "max" }, async (sim) => {
    const ok = await loggedIn(sim.privateWsUrl);
    ok.send("ping");
    await until(() => ok.msgs.includes("pong"), "pong");
    await ok.close();

    const login = (over: Record<string, unknown>) => {
      const ts = seconds();
      const a = {
        apiKey: CREDS.apiKey,
        passphrase: CREDS.passphrase,
        timestamp: ts,
        sign: hmacBase64(CREDS.secret, wsLoginPrehash(ts)),
        ...over,
      };
      return JSON.stringify({ op: "login", args: [a] });
    };
    const old = seconds(-60_000);
    const cases: [number, string][] = [
      [30011, login({ apiKey: "bg_unknown" })],
      [30012, login({ passphrase: "wrong" })],
      [30015, login({ sign: hmacBase64("other-secret", wsLoginPrehash(seconds())) })],
      [30014, login({ timestamp: old, sign: hmacBase64(CREDS.secret, wsLoginPrehash(old)) })],
      [30013, login({ timestamp: "soon" })],
      [30005, JSON.stringify({ op: "login", args: [] })],
    ];
    for (const [code, frame] of cases) {
      const c = new WsClient(sim.privateWsUrl);
      await c.opened;
      c.send(frame);
      const e = await c.closed;
      assert.equal(c.msgs.length, 1, `${code}: ${c.msgs}`);
      const m = JSON.parse(c.msgs[0]);
      assert.deepEqual([m.event, m.code, typeof m.msg], ["error", code, "string"]);
      assert.equal(e.code, 1000);
    }

    // Subscribing before login: 30004, the connection stays open; after login it works.
    const c = new WsClient(sim.privateWsUrl);
    await c.opened;
    c.send({ op: "subscribe", args: [arg("orders")] });
    await until(() => c.msgs.length === 1, "30004");
    const e = JSON.parse(c.msgs[0]);
    assert.deepEqual([e.event, e.code, e.op, e.arg], ["error", 30004, "subscribe", arg("orders")]);
    c.send(wsLoginFrame(CREDS, seconds()));
    c.send({ op: "subscribe", args: [arg("orders")] });
    await until(() => c.msgs.length === 4, "login, ack and snapshot");
    assert.deepEqual(JSON.parse(c.msgs[2]), { event: "subscribe", arg: arg("orders") });
    // positions only takes instId default; unknown channels → 30001.
    c.send({ op: "subscribe", args: [arg("positions", "BTCUSDT"), arg("equity-x")] });
    await until(() => c.msgs.length === 6, "two errors");
    assert.deepEqual(c.parsed().slice(4).map((m) => m.code), [30001, 30001]);
    await c.close();
    assert.equal(sim.status().privateConnections, 1 + cases.length + 1);
  });
});

Deno.test("subscribe: ack then snapshot; a fill pushes orders (with fill fields), fill, positions, account", async () => {
  await withSim({ speed: "max" }, async (sim) => {
    const market = await driveMarket(sim);
    const c = await loggedIn(sim.privateWsUrl);
    const subs = [arg("orders"), arg("fill"), arg("positions"), ACCOUNT_ARG, arg("orders-algo")];
    c.send({ op: "subscribe", args: subs });
    // Per arg: its ack, then (except for fill) a snapshot of the current state.
    await until(() => c.msgs.length === 1 + 5 + 4, "acks and snapshots");
    const m = c.parsed().slice(1);
    assert.deepEqual(m[0], { event: "subscribe", arg: subs[0] });
    assert.deepEqual([m[1].action, m[1].arg, m[1].data], ["snapshot", subs[0], []]);
    assert.deepEqual(m[2], { event: "subscribe", arg: subs[1] });
    assert.deepEqual(m[3], { event: "subscribe", arg: subs[2] });
    assert.deepEqual(m[4].data, []);
    assert.deepEqual(m[5], { event: "subscribe", arg: ACCOUNT_ARG });
    assert.equal(m[6].data[0].marginCoin, "USDT");
    assert.equal(m[6].data[0].available, "10000.00000000");
    assert.equal(typeof m[6].ts, "number");
    assert.deepEqual(m[8].data, []);

    const before = c.msgs.length;
    const placed = await signed(sim, "POST", O + "place-order", marketOrder("ws-1", "buy"));
    assert.equal(placed.status, 200);
    const orderId = placed.body.data.orderId;
    const pushes = () => c.parsed().slice(before);
    const of = (ch: string) => pushes().filter((p) => p.arg?.channel === ch);
    await until(
      () => of("positions").length >= 1 && of("account").length >= 1 && of("fill").length >= 1,
      "pushes after the fill",
    );
    for (const p of pushes()) {
      assert.equal(p.action, "snapshot");
      assert.equal(typeof p.ts, "number");
    }
    const { vwap } = walk(finalBook("BTCUSDT").asks, 0.01);
    const filled = of("orders").map((p) => p.data[0]).find((o) => o.status === "filled");
    assert.ok(filled, JSON.stringify(of("orders")));
    assert.equal(filled.orderId, orderId);
    assert.equal(filled.clientOid, "ws-1");
    assert.equal(filled.baseVolume, "0.01");
    assert.equal(filled.accBaseVolume, "0.01");
    assert.equal(filled.tradeScope, "T");
    assert.equal(filled.fillFeeCoin, "USDT");
    assert.match(filled.tradeId, /^\d{19}$/);
    assert.equal(filled.reduceOnly, "no");
    near(filled.fillPrice, vwap, 1e-6, "fillPrice");
    near(filled.fillFee, -vwap * 0.01 * TAKER_FEE, 1e-8, "fillFee");
    const fill = of("fill")[0].data[0];
    assert.deepEqual(
      [fill.orderId, fill.clientOid, fill.tradeId, fill.tradeScope, fill.side],
      [orderId, "ws-1", filled.tradeId, "taker", "buy"],
    );
    const pos = of("positions").at(-1).data;
    assert.equal(pos.length, 1);
    assert.deepEqual([pos[0].instId, pos[0].holdSide, pos[0].total], ["BTCUSDT", "long", "0.01"]);
    assert.equal(pos[0].leverage, 10, "leverage is a JSON number in the positions push");
    assert.match(pos[0].posId, /^\d{19}$/);
    const acc = of("account").at(-1).data[0];
    near(acc.available, 10_000 - vwap * 0.01 * (TAKER_FEE + 0.1), 1e-6, "available");
    assert.equal(of("orders-algo").length, 0);

    const st = sim.status();
    assert.equal(st.privateSessions.length, 1);
    assert.equal(st.privateSessions[0].loggedIn, true);
    assert.equal(st.privateSessions[0].pushesSent, 4 + pushes().length);
    await c.close();
    await market.close();
  });
});

Deno.test("private-drop@N: after N pushes the TCP connection is cut with no close frame", async () => {
  await withSim({ speed: "max", faults: ["private-drop@2"] }, async (sim) => {
    const c = await loggedIn(sim.privateWsUrl);
    c.send({ op: "subscribe", args: [ACCOUNT_ARG, arg("positions"), arg("orders")] });
    const e = await c.closed;
    assert.equal(e.wasClean, false);
    assert.equal(e.code, 0, "Deno reports an abnormal close (no close frame) as code 0");
    assert.equal(c.data().length, 2, "both snapshots arrived before the cut");
    const st = sim.status();
    assert.deepEqual(st.faults.fired.map((f) => f.spec), ["private-drop@2"]);
    assert.equal(st.privateSessions[0].closeReason, "fault private-drop@2");
    // Fires once: a new connection is served normally.
    const again = await loggedIn(sim.privateWsUrl);
    again.send({ op: "subscribe", args: [ACCOUNT_ARG, arg("positions"), arg("orders")] });
    await until(() => again.data().length === 3, "three snapshots");
    await again.close();
  });
});
