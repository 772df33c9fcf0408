/**
 * ShardRunner in-process (the code a worker runs) against a WebSocket server written here that
 * serves the real Bitget v1 UNIUSDT books sequence in v2 clothing: a corrupted checksum makes the
 * runner resubscribe `books` through its connection and emit a checksum gap once the new
 * snapshot arrives; a server close yields a disconnect gap; stop() posts the final batch.
 */
import assert from "node:assert/strict";
import type { FromWorker, RunnerSettings, StatsMessage } from "../src/ingest/messages.ts";
import { ShardRunner } from "../src/ingest/shard_runner.ts";
import type { BookEvent, GapEvent, MarketEvent } from "../src/market/events.ts";

const SEQ = new URL(
  "../../shared/bitget/fixtures/cryptofeed_v1_real/ws_v1_mix_books_sequence_UNIUSDT.jsonl",
  import.meta.url,
);

/** v1 frames → v2 text frames (instType USDT-FUTURES, envelope ts = data ts + shift). */
function frames(shiftMs: number, corruptAt = -1): string[] {
  return Deno.readTextFileSync(SEQ).split("\n").filter((l) => l.trim()).map((l, i) => {
    const m = JSON.parse(l);
    m.arg.instType = "USDT-FUTURES";
    m.data[0].ts = String(Number(m.data[0].ts) + shiftMs);
    m.ts = Number(m.data[0].ts);
    if (i === corruptAt) m.data[0].checksum += 1;
    return JSON.stringify(m);
  });
}

async function until(cond: () => boolean, what: string, timeoutMs = 15_000) {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("runner: checksum failure → resubscribe through the connection → gap; disconnect gap; stop", async () => {
  const ops: string[] = [];
  let subscribes = 0;
  const sockets: WebSocket[] = [];
  const srv = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    sockets.push(socket);
    socket.onmessage = (e) => {
      if (e.data === "ping") return socket.send("pong");
      const m = JSON.parse(String(e.data));
      ops.push(m.op);
      for (const arg of m.args) socket.send(JSON.stringify({ event: m.op, arg }));
      if (m.op !== "subscribe") return;
      subscribes++;
      // 1st subscribe: the sequence with update 8 corrupted. Later ones: the sequence again,
      // shifted in time (a fresh snapshot + valid updates, as after a resubscribe).
      const seq = subscribes === 1 ? frames(0, 8) : frames(subscribes * 60_000);
      for (const f of seq) socket.send(f);
    };
    socket.onerror = () => {};
    return response;
  });
  const settings: RunnerSettings = {
    wsUrl: `ws://127.0.0.1:${srv.addr.port}/`,
    instType: "USDT-FUTURES",
    ws: {
      maxMessagesPerSecond: 8,
      maxArgsPerMessage: 15,
      pingInterval: 30_000,
      staleAfter: 45_000,
      reconnectMinDelay: 20,
      reconnectMaxDelay: 100,
      maxSubscribesPerHour: 200,
    },
    batchMaxMs: 20,
    statsIntervalMs: 60_000,
  };
  const posted: FromWorker[] = [];
  const runner = new ShardRunner(
    { id: 3, keys: [{ symbol: "UNIUSDT", channel: "books" }] },
    settings,
    (m) => posted.push(m),
  );
  const events = () => posted.flatMap((m) => m.type === "batch" ? m.events : []) as MarketEvent[];
  const gaps = () => events().filter((e): e is GapEvent => e.kind === "gap");
  runner.start();
  try {
    await until(() => gaps().length === 1, "checksum gap");
    assert.deepEqual(ops, ["subscribe", "unsubscribe", "subscribe"]);
    const g = gaps()[0];
    assert.equal(g.reason, "checksum");
    assert.equal(g.symbol, "UNIUSDT");
    const first = frames(0).map((t) => JSON.parse(t).ts);
    assert.equal(g.startTs, first[7], "last good update before the corrupted one");
    assert.equal(g.endTs, first[0] + 2 * 60_000, "the snapshot after the resubscribe");
    await until(() => events().filter((e) => e.kind === "book").length === 8 + 20, "books");
    const books = events().filter((e): e is BookEvent => e.kind === "book");
    assert.equal(books[8].action, "snapshot");

    // The server drops the connection: reconnect, resubscribe, disconnect gap.
    sockets[0].close(1000, "forced disconnect");
    await until(() => gaps().length === 2, "disconnect gap");
    const d = gaps()[1];
    assert.equal(d.reason, "disconnect");
    assert.equal(d.startTs, first.at(-1)! + 2 * 60_000);
    assert.equal(d.endTs, first[0] + 3 * 60_000);
  } finally {
    await runner.stop();
    await srv.shutdown();
  }
  const stats = posted.filter((m): m is StatsMessage => m.type === "stats").at(-1)!;
  assert.equal(stats.shard, 3);
  assert.equal(stats.checksumFailures, 1);
  assert.ok(stats.reconnects >= 1);
  assert.ok(posted.some((m) => m.type === "log" && m.msg === "book out of sync, resubscribing"));
  const frameTotal = posted.reduce(
    (s, m) =>
      s + (m.type === "batch" ? Object.values(m.frameCounts).reduce((a, b) => a + b, 0) : 0),
    0,
  );
  assert.equal(frameTotal, 60, "three times the 20-frame sequence");
});
