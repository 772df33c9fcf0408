/**
 * PublicWsConnection against tiny WebSocket servers written here (real sockets on 127.0.0.1):
 * pacing, ping cadence, stale detection, reconnect + resubscribe + gap events, abnormal closes,
 * subscribe errors (30001) and rate-limit errors (30006), the subscribe budget, and batching.
 */
import assert from "node:assert/strict";
import {
  chunkArgs,
  MAX_ARG_BYTES,
  PublicWsConnection,
  type PublicWsHandlers,
  type PublicWsOptions,
  reconnectDelay,
  SendPacer,
} from "../src/bitget/public_ws.ts";
import type { DataFrame, SubArg } from "../src/bitget/wire.ts";
import type { GapEvent } from "../src/market/events.ts";

interface Received {
  t: number;
  text: string;
}

interface ServerConn {
  socket: WebSocket;
  received: Received[];
  openedAt: number;
}

type OnMessage = (conn: ServerConn, text: string) => void;

/** A Deno.serve WebSocket server recording every client message with its receive time. */
function wsServer(onMessage: OnMessage, onOpen?: (conn: ServerConn) => void) {
  const conns: ServerConn[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    const conn: ServerConn = { socket, received: [], openedAt: performance.now() };
    conns.push(conn);
    socket.onopen = () => onOpen?.(conn);
    socket.onmessage = (e) => {
      conn.received.push({ t: performance.now(), text: String(e.data) });
      onMessage(conn, String(e.data));
    };
    socket.onerror = () => {};
    return response;
  });
  const url = `ws://127.0.0.1:${server.addr.port}/v2/ws/public`;
  return {
    url,
    conns,
    async close() {
      for (const c of conns) {
        try {
          c.socket.close();
        } catch { /* already closed */ }
      }
      await server.shutdown();
    },
  };
}

/** Answers `ping` with `pong` and acks every subscribe arg (Bitget behaviour, API.md §1.2). */
const bitgetLike: OnMessage = (conn, text) => {
  if (text === "ping") {
    conn.socket.send("pong");
    return;
  }
  const m = JSON.parse(text);
  for (const arg of m.args) conn.socket.send(JSON.stringify({ event: m.op, arg }));
};

function opts(url: string, over: Partial<PublicWsOptions> = {}): PublicWsOptions {
  return {
    url,
    instType: "USDT-FUTURES",
    maxMessagesPerSecond: 8,
    maxArgsPerMessage: 15,
    pingInterval: 30_000,
    staleAfter: 45_000,
    reconnectMinDelay: 20,
    reconnectMaxDelay: 200,
    maxSubscribesPerHour: 200,
    ...over,
  };
}

async function until(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const keys = (symbols: string[], channels: string[]) =>
  symbols.flatMap((symbol) => channels.map((channel) => ({ symbol, channel })));

function argsOf(received: Received[], op: string): SubArg[] {
  return received.filter((r) => r.text !== "ping").map((r) => JSON.parse(r.text))
    .filter((m) => m.op === op).flatMap((m) => m.args);
}

/**
 * Max number of messages inside any half-open window (t − w, t] of server receive times. Tests use
 * w = 900 ms: a receive can only be late, never early, so a stall of the (shared) event loop right
 * after one receive can make a correctly paced sequence look up to the stall length denser.
 */
function maxPerSlidingSecond(times: number[], w = 900): number {
  let best = 0;
  for (let i = 0; i < times.length; i++) {
    let n = 0;
    for (let j = i; j >= 0 && times[j] > times[i] - w; j--) n++;
    best = Math.max(best, n);
  }
  return best;
}

function dataPush(channel: string, instId: string, ts: number, data: unknown[]): string {
  return JSON.stringify({
    action: "snapshot",
    arg: { instType: "USDT-FUTURES", channel, instId },
    data,
    ts,
  });
}

Deno.test("SendPacer: never more than ⌊rate⌋ sends in a sliding second, evenly spaced", () => {
  for (const rate of [10, 8, 2.5, 1, 0.5]) {
    const p = new SendPacer(rate, 0);
    const sent: number[] = [];
    let now = 0;
    while (sent.length < 40) {
      const w = p.waitMs(now);
      if (w === 0) {
        p.record(now);
        sent.push(now);
      } else now += w;
    }
    assert.ok(maxPerSlidingSecond(sent) <= Math.max(1, Math.floor(rate)), `rate ${rate}`);
    for (let i = 1; i < sent.length; i++) assert.ok(sent[i] - sent[i - 1] >= 1000 / rate - 1e-9);
  }
});

Deno.test("chunkArgs: ≤ maxArgs per message and ≤ 4096 bytes of args", () => {
  const args: SubArg[] = [];
  for (let i = 0; i < 100; i++) {
    args.push({ instType: "USDT-FUTURES", channel: "books", instId: `SYM${i}`.padEnd(400, "X") });
  }
  const groups = chunkArgs(args, 15);
  assert.equal(groups.flat().length, 100);
  for (const g of groups) {
    assert.ok(g.length <= 15);
    assert.ok(new TextEncoder().encode(JSON.stringify(g)).length <= MAX_ARG_BYTES);
  }
  assert.ok(groups.length > Math.ceil(100 / 15), "byte cap must split before the count cap");
  const small = chunkArgs(args.slice(0, 40).map((a) => ({ ...a, instId: "BTCUSDT" })), 15);
  assert.deepEqual(small.map((g) => g.length), [15, 15, 10]);
});

Deno.test("pacing: subscribes and pings stay under maxMessagesPerSecond at the server", async () => {
  const srv = wsServer(bitgetLike);
  const rate = 5;
  const conn = new PublicWsConnection(
    opts(srv.url, { maxMessagesPerSecond: rate, maxArgsPerMessage: 1, pingInterval: 150 }),
  );
  // 10 single-arg subscribe messages plus pings every 150 ms compete for 5 messages/s.
  conn.subscribe(keys(["BTCUSDT", "ETHUSDT"], ["ticker", "trade", "books", "books15", "candle1m"]));
  conn.start();
  try {
    await until(() => argsOf(srv.conns[0]?.received ?? [], "subscribe").length === 10, "subs");
    const rec = srv.conns[0].received;
    assert.ok(rec.some((r) => r.text === "ping"), "pings are sent while subscribing");
    assert.ok(maxPerSlidingSecond(rec.map((r) => r.t)) <= rate, "server saw a burst over the cap");
    await until(() => conn.stats().subscriptions.active === 10, "acks");
  } finally {
    await conn.stop();
    await srv.close();
  }
});

Deno.test("ping cadence: text ping every pingInterval, pong counted", async () => {
  const srv = wsServer(bitgetLike);
  const interval = 100;
  const conn = new PublicWsConnection(opts(srv.url, { pingInterval: interval }));
  conn.start();
  try {
    await until(
      () => (srv.conns[0]?.received.filter((r) => r.text === "ping").length ?? 0) >= 4,
      "4 pings",
    );
    const pings = srv.conns[0].received.filter((r) => r.text === "ping").map((r) => r.t);
    // Never faster than the interval on average (receive times can only be late; 100 ms slack
    // for a late first receive).
    const span = pings.at(-1)! - pings[0];
    assert.ok(span >= (pings.length - 1) * interval - 100, `${pings.length} pings in ${span} ms`);
    await until(() => conn.stats().pongs >= 3, "pongs");
  } finally {
    await conn.stop();
    await srv.close();
  }
});

Deno.test("stale: silent server → abandon socket, reconnect, resubscribe, stale gap on resume", async () => {
  let silent = true;
  const srv = wsServer((c, text) => {
    if (!silent) bitgetLike(c, text);
  });
  const gaps: GapEvent[] = [];
  const conn = new PublicWsConnection(
    opts(srv.url, { pingInterval: 50, staleAfter: 250 }),
    { onGap: (g) => gaps.push(g) },
  );
  conn.subscribe([{ symbol: "BTCUSDT", channel: "ticker" }]);
  conn.start();
  try {
    await until(() => srv.conns.length >= 2, "reconnect after stale");
    silent = false;
    // The server pushes data on the new connection; the stale gap closes there.
    await until(() => argsOf(srv.conns.at(-1)!.received, "subscribe").length === 1, "resub");
    srv.conns.at(-1)!.socket.send(dataPush("ticker", "BTCUSDT", 1_700_000_000_000, []));
    await until(() => gaps.length === 1, "gap");
    assert.equal(gaps[0].reason, "stale");
    assert.equal(gaps[0].channel, "ticker");
    assert.equal(gaps[0].endTs, 1_700_000_000_000);
  } finally {
    await conn.stop();
    await srv.close();
  }
});

Deno.test("reconnect: server close → backoff, paced resubscribe of everything, one gap per key", async () => {
  const srv = wsServer(bitgetLike);
  const gaps: GapEvent[] = [];
  const frames: DataFrame[] = [];
  let disconnects = 0;
  const handlers: PublicWsHandlers = {
    onGap: (g) => gaps.push(g),
    onData: (f) => frames.push(f),
    onDisconnect: () => disconnects++,
  };
  const conn = new PublicWsConnection(
    opts(srv.url, { maxArgsPerMessage: 2, maxMessagesPerSecond: 5 }),
    handlers,
  );
  const subs = keys(["BTCUSDT", "ETHUSDT"], ["ticker", "trade", "books15"]);
  conn.subscribe(subs);
  conn.start();
  try {
    await until(() => conn.stats().subscriptions.active === 6, "first subscribe");
    const first = srv.conns[0];
    for (const { symbol, channel } of subs) {
      first.socket.send(dataPush(channel, symbol, 1000, []));
    }
    await until(() => frames.length === 6, "data before the drop");
    first.socket.close(1000, "daily disconnect");
    await until(() => srv.conns.length === 2, "reconnect");
    await until(() => argsOf(srv.conns[1].received, "subscribe").length === 6, "resubscribe");
    const second = srv.conns[1];
    // maxArgsPerMessage 2 → three subscribe messages, paced.
    const subMsgs = second.received.filter((r) => r.text.includes('"subscribe"'));
    assert.equal(subMsgs.length, 3);
    assert.ok(maxPerSlidingSecond(subMsgs.map((r) => r.t)) <= 5);
    assert.equal(disconnects, 1);
    for (const { symbol, channel } of subs) second.socket.send(dataPush(channel, symbol, 5000, []));
    await until(() => gaps.length === 6, "gaps");
    for (const g of gaps) {
      assert.equal(g.reason, "disconnect");
      assert.equal(g.startTs, 1000);
      assert.equal(g.endTs, 5000);
      assert.match(g.detail, /close code 1000/);
    }
    assert.equal(new Set(gaps.map((g) => `${g.symbol}|${g.channel}`)).size, 6);
  } finally {
    await conn.stop();
    await srv.close();
  }
});

/** Raw TCP server doing the WebSocket handshake (RFC 6455 §4.2.2), then dropping the TCP link. */
function abruptServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let accepted = 0;
  const loop = (async () => {
    for await (const c of listener) {
      accepted++;
      const buf = new Uint8Array(4096);
      const n = await c.read(buf);
      const req = new TextDecoder().decode(buf.subarray(0, n ?? 0));
      const key = /Sec-WebSocket-Key: *(.+)\r\n/i.exec(req)?.[1].trim() ?? "";
      const digest = await crypto.subtle.digest(
        "SHA-1",
        new TextEncoder().encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
      );
      const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
      await c.write(new TextEncoder().encode(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
      ));
      await new Promise((r) => setTimeout(r, 30));
      c.close(); // no close frame: an abnormal closure for the client
    }
  })().catch(() => {});
  return {
    url: `ws://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`,
    accepted: () => accepted,
    async close() {
      listener.close();
      await loop;
    },
  };
}

Deno.test("abnormal close (no close frame) → reconnects repeatedly with backoff", async () => {
  const srv = abruptServer();
  const codes: number[] = [];
  const conn = new PublicWsConnection(opts(srv.url), {
    onDisconnect: (i) => codes.push(i.code),
  });
  conn.subscribe([{ symbol: "BTCUSDT", channel: "trade" }]);
  conn.start();
  try {
    await until(() => srv.accepted() >= 3 && codes.length >= 3, "three reconnects");
    // Deno reports an abnormal closure as code 0 (browsers: 1006); either way it reconnects.
    for (const c of codes) assert.ok(c === 0 || c === 1006, `close code ${c}`);
    assert.ok(conn.stats().reconnects >= 3);
  } finally {
    await conn.stop();
    await srv.close();
  }
});

Deno.test("error 30001 on subscribe → that subscription failed, reported once, not retried", async () => {
  const srv = wsServer((c, text) => {
    if (text === "ping") return c.socket.send("pong");
    const m = JSON.parse(text);
    for (const arg of m.args) {
      if (arg.instId === "NOPEUSDT") {
        // Real frames carry a numeric code, the docs a string (API.md §1.2): send the string form.
        c.socket.send(JSON.stringify({
          event: "error",
          arg,
          code: "30001",
          msg: `instType:USDT-FUTURES,channel:${arg.channel},instId:NOPEUSDT doesn't exist`,
          op: "subscribe",
        }));
      } else c.socket.send(JSON.stringify({ event: m.op, arg }));
    }
  });
  const errors: Array<{ symbol: string; code: number | null }> = [];
  const conn = new PublicWsConnection(opts(srv.url), {
    onSubscribeError: (e) => errors.push(e),
  });
  conn.subscribe(keys(["BTCUSDT", "NOPEUSDT"], ["ticker"]));
  conn.start();
  try {
    await until(() => errors.length === 1 && conn.stats().subscriptions.active === 1, "error");
    assert.deepEqual(errors[0].symbol, "NOPEUSDT");
    assert.equal(errors[0].code, 30001);
    assert.equal(conn.stats().subscriptions.failed, 1);
    // After a reconnect only the good subscription is sent again.
    srv.conns[0].socket.close();
    await until(() => srv.conns.length === 2 && srv.conns[1].received.length > 0, "resub");
    await until(() => conn.stats().subscriptions.active === 1, "active again");
    const resent = argsOf(srv.conns[1].received, "subscribe").map((a) => a.instId);
    assert.deepEqual(resent, ["BTCUSDT"]);
    assert.equal(errors.length, 1);
  } finally {
    await conn.stop();
    await srv.close();
  }
});

Deno.test("error 30006 → client closes if the server does not, longer backoff", async () => {
  let first = true;
  const srv = wsServer((c, text) => {
    if (text === "ping") return c.socket.send("pong");
    const m = JSON.parse(text);
    if (first) {
      first = false;
      c.socket.send(JSON.stringify({ event: "error", code: 30006, msg: "request too many" }));
      return;
    }
    for (const arg of m.args) c.socket.send(JSON.stringify({ event: m.op, arg }));
  });
  let closedAt = 0;
  const min = 20;
  const conn = new PublicWsConnection(
    opts(srv.url, { reconnectMinDelay: min, reconnectMaxDelay: 1000, rateLimitCloseAfter: 50 }),
    { onDisconnect: () => closedAt = performance.now() },
  );
  conn.subscribe([{ symbol: "BTCUSDT", channel: "ticker" }]);
  conn.start();
  try {
    await until(() => srv.conns.length === 2, "reconnect after 30006");
    const delay = srv.conns[1].openedAt - closedAt;
    // Penalized backoff: attempt ≥ 3 → ceiling min·2³ = 160 ms, delay ≥ ceiling/2 = 80 ms.
    assert.ok(delay >= 80 - 5, `reconnected after ${delay} ms`);
    assert.equal(conn.stats().rateLimitErrors, 1);
    await until(() => conn.stats().subscriptions.active === 1, "subscribed on the new socket");
  } finally {
    await conn.stop();
    await srv.close();
  }
});

Deno.test("resync: unsubscribe then subscribe of the same arg, coalesced", async () => {
  const srv = wsServer(bitgetLike);
  const conn = new PublicWsConnection(opts(srv.url));
  conn.subscribe(keys(["BTCUSDT", "ETHUSDT"], ["books"]));
  conn.start();
  try {
    await until(() => conn.stats().subscriptions.active === 2, "subscribed");
    conn.resync("BTCUSDT", "books");
    conn.resync("ETHUSDT", "books");
    await until(() => argsOf(srv.conns[0].received, "subscribe").length === 4, "resubscribed");
    const ops = srv.conns[0].received.filter((r) => r.text !== "ping").map((r) =>
      JSON.parse(r.text)
    );
    assert.equal(ops.length, 3, "one subscribe, then one unsubscribe + one subscribe for both");
    assert.equal(ops[1].op, "unsubscribe");
    assert.deepEqual(ops[1].args.map((a: SubArg) => a.instId).sort(), ["BTCUSDT", "ETHUSDT"]);
    assert.equal(ops[2].op, "subscribe");
  } finally {
    await conn.stop();
    await srv.close();
  }
});

Deno.test("subscribe budget: no more than maxSubscribesPerHour args per connection", async () => {
  const srv = wsServer(bitgetLike);
  const conn = new PublicWsConnection(opts(srv.url, { maxSubscribesPerHour: 3 }));
  conn.subscribe(keys(["BTCUSDT"], ["ticker", "trade", "books", "books15", "candle1m"]));
  conn.start();
  try {
    await until(() => conn.stats().subscriptions.active === 3, "3 acks");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(argsOf(srv.conns[0].received, "subscribe").length, 3);
    assert.equal(conn.stats().subscriptions.pending, 2);
    assert.equal(conn.stats().queued, 1, "the rest waits for the hour window");
  } finally {
    await conn.stop();
    await srv.close();
  }
});

Deno.test("reconnectDelay: full jitter under min·2^attempt capped at max; penalty ≥ ceiling/2", () => {
  for (let attempt = 0; attempt < 12; attempt++) {
    const ceiling = Math.min(30_000, 1000 * 2 ** attempt);
    assert.equal(reconnectDelay(attempt, 1000, 30_000, false, () => 0), 0);
    assert.ok(reconnectDelay(attempt, 1000, 30_000, false, () => 0.999999) < ceiling);
    assert.equal(reconnectDelay(attempt, 1000, 30_000, true, () => 0), ceiling / 2);
  }
  assert.equal(reconnectDelay(20, 1000, 30_000, false, () => 0.5), 15_000);
});

Deno.test("backoff grows on repeated failures and resets after a healthy period", async () => {
  let rejectFirst = 3;
  const srv = wsServer(bitgetLike, (c) => {
    if (rejectFirst-- > 0) c.socket.close(1011, "try again");
  });
  const attempts: number[] = [];
  const conn: PublicWsConnection = new PublicWsConnection(
    opts(srv.url, { reconnectMinDelay: 5, reconnectMaxDelay: 40, healthyAfter: 100 }),
    { onDisconnect: () => attempts.push(conn.stats().backoffAttempt) },
  );
  conn.start();
  try {
    await until(() => srv.conns.length === 4, "fourth connection stays up");
    assert.deepEqual(attempts, [0, 1, 2], "attempt counter grows while connections fail");
    await until(() => conn.stats().backoffAttempt === 0, "reset after healthyAfter");
    srv.conns[3].socket.close(1000, "bye");
    await until(() => srv.conns.length === 5, "reconnect");
    assert.equal(attempts.at(-1), 0);
  } finally {
    await conn.stop();
    await srv.close();
  }
});
