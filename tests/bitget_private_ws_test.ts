/**
 * BitgetPrivateWs against a small Bitget-like private WebSocket server written here (real sockets
 * on 127.0.0.1) that verifies the login signature with sign.ts (seconds timestamp, ±30 s window,
 * API.md §3.1): login before subscriptions, paced subscribes, parsed pushes from the doc fixtures,
 * malformed frames, reconnect + re-login + resubscribe, stale sockets and login refusals.
 */
import assert from "node:assert/strict";
import { hmacBase64, sameSignature, wsLoginPrehash } from "../src/bitget/sign.ts";
import {
  BitgetPrivateWs,
  type PrivateDisconnectInfo,
  type PrivatePush,
  type PrivateWsHandlers,
  type PrivateWsOptions,
} from "../src/bitget/private_ws.ts";

const FIX = new URL("../../shared/bitget/fixtures/docs/", import.meta.url);
const fixtureText = (f: string) =>
  JSON.stringify(JSON.parse(Deno.readTextFileSync(new URL(f, FIX))));
const CREDS = {
  apiKey: "bg_ws_9d2c7e1f4a",
  secret: "ws_secret_5e8a1b3c9f",
  passphrase: "WsPass_77q",
};
const SKEW = 45_000; // the server clock runs 45 s ahead; the client's now() must follow it

interface Msg {
  t: number;
  text: string;
}
interface Conn {
  socket: WebSocket;
  received: Msg[];
  loggedIn: boolean;
  loginAckAt: number | null;
  /** Login checks on this connection (signature, seconds, window). */
  loginOk: boolean | null;
}
interface ServerOpts {
  /** Refuse every login with this code. */
  refuseLogin?: number | string;
  /** Delay before the login ack (ms). */
  ackDelay?: number;
  /** Ack code as a string "0" (doc form) instead of the number 0. */
  stringAck?: boolean;
  /** Don't answer pings on connection #i (0-based) → the client must call it stale. */
  silentOn?: number;
  onSubscribed?: (conn: Conn, index: number) => void;
}

function server(o: ServerOpts = {}) {
  const conns: Conn[] = [];
  const srv = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    const conn: Conn = { socket, received: [], loggedIn: false, loginAckAt: null, loginOk: null };
    const index = conns.push(conn) - 1;
    socket.onerror = () => {};
    socket.onmessage = (e) => {
      const text = String(e.data);
      conn.received.push({ t: performance.now(), text });
      if (text === "ping") {
        if (o.silentOn !== index) socket.send("pong");
        return;
      }
      const m = JSON.parse(text);
      if (m.op === "login") {
        const a = m.args[0];
        const ts = Number(a.timestamp);
        conn.loginOk = /^\d{10}$/.test(a.timestamp) &&
          Math.abs(ts * 1000 - (Date.now() + SKEW)) <= 30_000 &&
          a.apiKey === CREDS.apiKey && a.passphrase === CREDS.passphrase &&
          sameSignature(a.sign, hmacBase64(CREDS.secret, wsLoginPrehash(a.timestamp)));
        if (o.refuseLogin !== undefined || !conn.loginOk) {
          socket.send(
            JSON.stringify({ event: "error", code: o.refuseLogin ?? 30005, msg: "login failed" }),
          );
          setTimeout(() => socket.readyState === WebSocket.OPEN && socket.close(), 10);
          return;
        }
        setTimeout(() => {
          conn.loggedIn = true;
          conn.loginAckAt = performance.now();
          socket.send(JSON.stringify({ event: "login", code: o.stringAck ? "0" : 0, msg: "" }));
        }, o.ackDelay ?? 0);
        return;
      }
      if (m.op === "subscribe") {
        if (!conn.loggedIn) {
          socket.send(JSON.stringify({ event: "error", code: 30004, msg: "User needs to log in" }));
          return;
        }
        for (const arg of m.args) socket.send(JSON.stringify({ event: "subscribe", arg }));
        if (subscribedArgs(conn).length === 4) o.onSubscribed?.(conn, index);
      }
    };
    return response;
  });
  return {
    url: `ws://127.0.0.1:${srv.addr.port}/v2/ws/private`,
    conns,
    async close() {
      for (const c of conns) {
        try {
          c.socket.close();
        } catch { /* closed */ }
      }
      await srv.shutdown();
    },
  };
}

function subscribedArgs(conn: Conn): unknown[] {
  return conn.received.filter((m) => m.text !== "ping").map((m) => JSON.parse(m.text))
    .filter((m) => m.op === "subscribe").flatMap((m) => m.args);
}

function opts(url: string, over: Partial<PrivateWsOptions> = {}): PrivateWsOptions {
  return {
    url,
    credentials: CREDS,
    now: () => Date.now() + SKEW,
    reconnectMinDelay: 20,
    reconnectMaxDelay: 100,
    ...over,
  };
}

function recorder() {
  const ev = {
    logins: [] as Array<{ reconnect: boolean }>,
    opens: [] as Array<{ reconnect: boolean }>,
    pushes: [] as PrivatePush[],
    disconnects: [] as PrivateDisconnectInfo[],
    malformed: [] as string[],
    authErrors: [] as Array<[number | null, string]>,
    errors: [] as Array<{ code: number | null; channel: string | null }>,
  };
  const handlers: PrivateWsHandlers = {
    onLogin: (i) => ev.logins.push(i),
    onOpen: (i) => ev.opens.push(i),
    onPush: (p) => ev.pushes.push(p),
    onDisconnect: (d) => ev.disconnects.push(d),
    onMalformed: (r) => ev.malformed.push(r),
    onAuthError: (c, l) => ev.authErrors.push([c, l]),
    onError: (e) => ev.errors.push(e),
  };
  return { ev, handlers };
}

async function until(cond: () => boolean, what: string, ms = 4000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const EXPECTED_ARGS = [
  { instType: "USDT-FUTURES", channel: "orders", instId: "default" },
  { instType: "USDT-FUTURES", channel: "positions", instId: "default" },
  { instType: "USDT-FUTURES", channel: "account", coin: "default" },
  { instType: "USDT-FUTURES", channel: "orders-algo", instId: "default" },
];

Deno.test("login signed in seconds; subscriptions after the ack; pushes parsed", async () => {
  const srv = server({
    ackDelay: 150,
    onSubscribed: (c) => {
      for (const f of ["orders", "positions", "account", "orders_algo"]) {
        c.socket.send(fixtureText(`ws_private_${f}.json`));
      }
    },
  });
  const { ev, handlers } = recorder();
  const ws = new BitgetPrivateWs(opts(srv.url), handlers);
  try {
    ws.start();
    await until(() => ev.pushes.length === 4, "4 pushes");
    const c = srv.conns[0];
    assert.equal(c.loginOk, true);
    const login = JSON.parse(c.received[0].text);
    assert.equal(login.op, "login");
    assert.match(login.args[0].timestamp, /^\d{10}$/); // seconds, from the skewed now()
    assert.ok(Math.abs(Number(login.args[0].timestamp) * 1000 - (Date.now() + SKEW)) < 5000);
    const subs = c.received.filter((m) => m.text.includes('"subscribe"'));
    assert.ok(subs.length > 0 && subs.every((m) => m.t >= c.loginAckAt!), "subscribe before ack");
    assert.deepEqual(subscribedArgs(c), EXPECTED_ARGS);
    assert.deepEqual(ev.logins, [{ reconnect: false }]);
    assert.deepEqual(ev.opens, [{ reconnect: false }]);
    const by = Object.fromEntries(ev.pushes.map((p) => [p.channel, p]));
    const orders = by.orders;
    assert.ok(orders.channel === "orders");
    assert.equal(orders.data[0].orderId, "13333333333333333333");
    assert.equal(orders.data[0].status, "live");
    assert.equal(orders.action, "snapshot");
    assert.equal(orders.ts, 1760461517285);
    assert.ok(orders.recvTs > 0);
    const pos = by.positions;
    assert.ok(pos.channel === "positions");
    assert.equal(pos.data[0].leverage, "20");
    const acc = by.account;
    assert.ok(acc.channel === "account" && acc.data[0].available === "11.98545761");
    const algo = by["orders-algo"];
    assert.ok(algo.channel === "orders-algo" && algo.data[0].triggerPrice === "27000.000000000");
    const s = ws.stats();
    assert.equal(s.state, "open");
    assert.deepEqual(s.pushes, { orders: 1, positions: 1, account: 1, "orders-algo": 1 });
    assert.deepEqual(Object.values(s.subscriptions), ["active", "active", "active", "active"]);
    assert.equal(s.logins, 1);
  } finally {
    await ws.stop();
    await srv.close();
  }
});

Deno.test("outbound pacing: login + 4 subscribe messages at ≤ 3 msgs/s", async () => {
  const srv = server();
  const ws = new BitgetPrivateWs(opts(srv.url, { maxMessagesPerSecond: 3, maxArgsPerMessage: 1 }));
  try {
    ws.start();
    await until(() => srv.conns[0]?.received.length === 5, "5 messages", 5000);
    const t = srv.conns[0].received.map((m) => m.t);
    // 5 messages at 3/s: the 4th can go no earlier than ~1 s after the first.
    assert.ok(t[3] - t[0] >= 800, `4th after ${t[3] - t[0]} ms`);
    assert.deepEqual(subscribedArgs(srv.conns[0]), EXPECTED_ARGS);
  } finally {
    await ws.stop();
    await srv.close();
  }
});

Deno.test("malformed frames are counted and reported, never fatal", async () => {
  const good = JSON.parse(Deno.readTextFileSync(new URL("ws_private_orders.json", FIX)));
  const badRow = { ...good, data: [{ ...good.data[0], size: "abc" }, good.data[0]] };
  const srv = server({
    onSubscribed: (c) => {
      c.socket.send("not json");
      c.socket.send(JSON.stringify({ foo: 1 }));
      c.socket.send(JSON.stringify({ ...good, arg: { ...good.arg, channel: "mystery" } }));
      c.socket.send(JSON.stringify(badRow));
      c.socket.send(new Uint8Array([1, 2, 3]));
      c.socket.send(JSON.stringify(good));
    },
  });
  const { ev, handlers } = recorder();
  const ws = new BitgetPrivateWs(opts(srv.url), handlers);
  try {
    ws.start();
    await until(() => ev.pushes.length === 2, "2 pushes");
    assert.equal(ev.pushes[0].data.length, 1); // the good row of the mixed frame
    assert.equal(ws.stats().malformed, 5);
    assert.deepEqual(ev.malformed.map((r) => r.split(":")[0]), [
      "json",
      "shape",
      "channel",
      "row",
      "binary",
    ]);
    assert.match(ev.malformed[3], /orders data\[0\]: size: expected a decimal string/);
    assert.equal(ws.stats().state, "open");
    assert.equal(srv.conns.length, 1);
  } finally {
    await ws.stop();
    await srv.close();
  }
});

Deno.test("server cuts the socket → reconnect, re-login, resubscribe, onLogin({reconnect:true})", async () => {
  const srv = server({
    stringAck: true,
    onSubscribed: (c, i) => {
      if (i === 0) setTimeout(() => c.socket.close(), 20);
      else c.socket.send(fixtureText("ws_private_account.json"));
    },
  });
  const { ev, handlers } = recorder();
  const ws = new BitgetPrivateWs(opts(srv.url), handlers);
  try {
    ws.start();
    await until(() => ev.pushes.length === 1, "push after reconnect");
    assert.equal(srv.conns.length, 2);
    assert.ok(srv.conns.every((c) => c.loginOk));
    assert.deepEqual(subscribedArgs(srv.conns[1]), EXPECTED_ARGS);
    assert.deepEqual(ev.logins, [{ reconnect: false }, { reconnect: true }]);
    assert.equal(ev.disconnects.length, 1);
    assert.equal(ev.disconnects[0].wasLoggedIn, true);
    assert.equal(ev.disconnects[0].cause, "close");
    const s = ws.stats();
    assert.equal(s.connects, 2);
    assert.equal(s.reconnects, 1);
    assert.equal(s.logins, 2);
  } finally {
    await ws.stop();
    await srv.close();
  }
});

Deno.test("pings on schedule; a silent socket goes stale and is replaced", async () => {
  const srv = server({ silentOn: 0 });
  const { ev, handlers } = recorder();
  const ws = new BitgetPrivateWs(opts(srv.url, { pingInterval: 60, staleAfter: 300 }), handlers);
  try {
    ws.start();
    await until(() => ev.logins.length === 2, "second login");
    assert.equal(ev.disconnects[0].cause, "stale");
    const pings = srv.conns[0].received.filter((m) => m.text === "ping").length;
    assert.ok(pings >= 2, `pings ${pings}`);
    await until(() => ws.stats().pongs > 0, "pong on the new socket");
  } finally {
    await ws.stop();
    await srv.close();
  }
});

Deno.test("login refused → onAuthError (no secrets), gives up after maxAuthFailures", async () => {
  const srv = server({ refuseLogin: "30015" });
  const { ev, handlers } = recorder();
  const ws = new BitgetPrivateWs(opts(srv.url, { maxAuthFailures: 2 }), handlers);
  try {
    ws.start();
    await until(() => ws.stats().state === "auth_failed", "auth_failed");
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(srv.conns.length, 2);
    assert.equal(ev.authErrors.length, 2);
    const [code, line] = ev.authErrors[0];
    assert.equal(code, 30015);
    assert.match(line, /BITGET_API_SECRET/);
    assert.match(line, /--mode demo/);
    for (const s of [CREDS.apiKey, CREDS.secret, CREDS.passphrase]) assert.ok(!line.includes(s));
    assert.equal(ev.logins.length, 0);
    assert.ok(ev.disconnects.every((d) => d.cause === "auth"));
    assert.equal(ws.stats().authFailures, 2);
  } finally {
    await ws.stop();
    await srv.close();
  }
  // A wrong secret is refused by the server's own signature check (30005).
  const srv2 = server();
  const r2 = recorder();
  const bad = new BitgetPrivateWs(
    opts(srv2.url, { credentials: { ...CREDS, secret: "wrong_secret_123" }, maxAuthFailures: 1 }),
    r2.handlers,
  );
  try {
    bad.start();
    await until(() => bad.stats().state === "auth_failed", "auth_failed");
    assert.equal(srv2.conns[0].loginOk, false);
    assert.equal(r2.ev.authErrors[0][0], 30005);
  } finally {
    await bad.stop();
    await srv2.close();
  }
});
