/**
 * Ingest workers end to end on real sockets: a WebSocket server written here replays the first
 * frames of the real 2024 recording to whoever subscribes; a WorkerPool runs one module worker per
 * shard; batches, stats, logs and the stop protocol are checked against an in-process Normalizer
 * run over the same frames. Also: a crashing worker is restarted, and per-worker permissions
 * (run in a subprocess with --unstable-worker-options).
 */
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { Normalizer } from "../src/bitget/normalize.ts";
import { classifyFrame, type DataFrame, subKey } from "../src/bitget/wire.ts";
import type {
  BatchMessage,
  LogMessage,
  RunnerSettings,
  StatsMessage,
} from "../src/ingest/messages.ts";
import { planShards } from "../src/ingest/shards.ts";
import { WorkerPool } from "../src/ingest/worker_pool.ts";
import { CHANNELS, type MarketEvent } from "../src/market/events.ts";
import { createLogger } from "../src/ops/log.ts";

const RECORDING = new URL(
  "../../shared/data/bitget_replay/bitget_v2_public_BTCUSDT-ETHUSDT_20240718T2357.jsonl.gz",
  import.meta.url,
);
const N_LINES = 6000;

/** The first N data frames of the recording, as raw text (acks dropped). */
function recordedFrames(): string[] {
  const text = new TextDecoder().decode(gunzipSync(Deno.readFileSync(RECORDING)));
  const out: string[] = [];
  for (const line of text.split("\n").slice(0, N_LINES)) {
    if (!line.includes('"action"')) continue;
    out.push(line.slice(line.indexOf(',"msg":') + 7, -1));
  }
  return out;
}

/**
 * Replays `frames` to each connection, limited to the keys it subscribed (acked per arg), in
 * chunks of 100 frames every 5 ms, after its first subscribe message. Answers `ping`.
 */
function replayServer(frames: string[]) {
  const keyOf = frames.map((t) => {
    const f = classifyFrame(JSON.parse(t)) as DataFrame;
    return subKey(f.arg.instId, f.arg.channel);
  });
  const sent: Record<string, number> = {};
  let conns = 0;
  const srv = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    conns++;
    const keys = new Set<string>();
    let started = false;
    socket.onmessage = (e) => {
      if (e.data === "ping") return socket.send("pong");
      const m = JSON.parse(String(e.data));
      for (const arg of m.args) {
        keys.add(subKey(arg.instId, arg.channel));
        socket.send(JSON.stringify({ event: m.op, arg }));
      }
      if (started) return;
      started = true;
      let i = 0;
      const pump = () => {
        if (socket.readyState !== WebSocket.OPEN) return;
        for (let n = 0; n < 100 && i < frames.length; i++) {
          if (!keys.has(keyOf[i])) continue;
          socket.send(frames[i]);
          sent[keyOf[i]] = (sent[keyOf[i]] ?? 0) + 1;
          n++;
        }
        if (i < frames.length) setTimeout(pump, 5);
      };
      setTimeout(pump, 20);
    };
    socket.onerror = () => {};
    return response;
  });
  return {
    url: `ws://127.0.0.1:${srv.addr.port}/v2/ws/public`,
    sent,
    conns: () => conns,
    close: () => srv.shutdown(),
  };
}

function settings(url: string): RunnerSettings {
  return {
    wsUrl: url,
    instType: "USDT-FUTURES",
    ws: {
      maxMessagesPerSecond: 8,
      maxArgsPerMessage: 15,
      pingInterval: 500,
      staleAfter: 5000,
      reconnectMinDelay: 50,
      reconnectMaxDelay: 500,
      maxSubscribesPerHour: 200,
    },
    batchMaxMs: 50,
    batchMaxEvents: 1000,
    statsIntervalMs: 200,
    logLevel: "info",
  };
}

const tally = (events: MarketEvent[]) => {
  const t: Record<string, number> = {};
  for (const e of events) {
    const k = `${e.symbol}|${e.kind}${e.kind === "book" ? `|${e.channel}` : ""}`;
    t[k] = (t[k] ?? 0) + 1;
  }
  return t;
};

async function until(cond: () => boolean, what: string, timeoutMs = 30_000) {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("worker pool: one worker per shard, batches equal in-process normalization", async () => {
  const frames = recordedFrames();
  const srv = replayServer(frames);
  // Expected: the same frames through one Normalizer.
  const expected: MarketEvent[] = [];
  const n = new Normalizer();
  for (const t of frames) n.apply(classifyFrame(JSON.parse(t)) as DataFrame, 0, expected);

  const shards = planShards(["BTCUSDT", "ETHUSDT"], CHANNELS, 6);
  assert.equal(shards.length, 2);
  const batches: BatchMessage[] = [];
  const stats: StatsMessage[] = [];
  const logs: LogMessage[] = [];
  const pool = new WorkerPool({
    settings: settings(srv.url),
    shards,
    onBatch: (b) => batches.push(b),
    onStats: (s) => stats.push(s),
    onLog: (l) => logs.push(l),
  });
  pool.start();
  const frameTotal = () =>
    batches.reduce((s, b) => s + Object.values(b.frameCounts).reduce((a, x) => a + x, 0), 0);
  try {
    await until(() => frameTotal() === frames.length, "all frames through the workers");
    await until(() => new Set(stats.map((s) => s.shard)).size === 2, "stats from both shards");
  } finally {
    const res = await pool.stop(5000);
    assert.deepEqual(res, { clean: 2, terminated: 0 });
    await srv.close();
  }
  assert.equal(pool.running, 0);
  const got = batches.flatMap((b) => b.events);
  assert.deepEqual(tally(got), tally(expected));
  assert.equal(got.filter((e) => e.kind === "gap").length, 0);

  // frameCounts per key equal what the server sent; each key on exactly one shard.
  const counts: Record<string, number> = {};
  for (const b of batches) {
    for (const [k, v] of Object.entries(b.frameCounts)) counts[k] = (counts[k] ?? 0) + v;
    assert.ok(b.events.length <= 1000 + 50, "batch size bounded");
    if (b.events.length > 0) assert.ok(b.firstRecvTs > 0 && b.firstRecvTs <= b.events[0].recvTs);
    const shardKeys = new Set(shards[b.shard].keys.map((k) => subKey(k.symbol, k.channel)));
    for (const k of Object.keys(b.frameCounts)) {
      assert.ok(shardKeys.has(k), `${k} on shard ${b.shard}`);
    }
  }
  assert.deepEqual(counts, srv.sent);

  const withFrames = stats.filter((s) => Object.keys(s.framesPerSec).length > 0);
  assert.ok(withFrames.length > 0);
  assert.ok(withFrames.some((s) => s.lagMs !== null && s.lagMs.samples > 0));
  const last = stats.filter((s) => s.shard === 0).at(-1)!;
  assert.equal(last.checksumFailures, 0);
  assert.deepEqual(last.malformed, {});
  assert.equal(last.subscriptions.failed, 0);
  assert.equal(last.subscriptions.active + last.subscriptions.pending, 6);
  assert.ok(logs.some((l) => l.msg === "connected"), "worker logs are forwarded");
});

Deno.test("worker pool: a crashing worker is restarted, stop() still completes", async () => {
  const dir = await Deno.makeTempDir();
  const url = new URL(`file://${dir}/crashing_worker.ts`);
  await Deno.writeTextFile(
    url,
    `self.onmessage = (e) => { if (e.data.type === "start") throw new Error("boom"); };\n`,
  );
  const lines: string[] = [];
  const pool = new WorkerPool({
    settings: settings("ws://127.0.0.1:9/"),
    shards: planShards(["BTCUSDT"], ["ticker"], 6),
    onBatch: () => {},
    workerUrl: url,
    restartDelayMs: 20,
    logger: createLogger({ format: "json", sink: (l) => lines.push(l) }),
  });
  pool.start();
  try {
    await until(
      () => lines.filter((l) => l.includes("ingest worker crashed")).length >= 2,
      "restarts",
    );
    assert.ok(lines.some((l) => l.includes("boom")));
  } finally {
    await pool.stop(500);
    await Deno.remove(dir, { recursive: true });
  }
  assert.equal(pool.running, 0);
});

Deno.test("worker pool: restricted worker permissions (subprocess with --unstable-worker-options)", async () => {
  const frames = recordedFrames().slice(0, 1500);
  const srv = replayServer(frames);
  const dir = await Deno.makeTempDir();
  const repo = new URL("../", import.meta.url);
  // A probe worker next to a copy of nothing: read root = its parent dir; it reports what it may do.
  await Deno.mkdir(`${dir}/probe`);
  await Deno.writeTextFile(
    `${dir}/probe/worker.ts`,
    `self.onmessage = async (e) => {
  if (e.data.type !== "start") return;
  const r = async (f) => { try { await f(); return "allowed"; } catch (err) { return err.name; } };
  const fields = {
    readOwnDir: await r(() => Deno.readTextFile(new URL("./worker.ts", import.meta.url))),
    readEtc: await r(() => Deno.readTextFile("/etc/hostname")),
    env: await r(() => Deno.env.get("HOME")),
    netWs: (await Deno.permissions.query({ name: "net", host: "127.0.0.1:${
      new URL(srv.url).port
    }" })).state,
    netOther: await r(() => Deno.connect({ hostname: "example.com", port: 443 })),
  };
  self.postMessage({ type: "log", shard: 0, level: "info", msg: "probe", fields });
};\n`,
  );
  const script = `${dir}/run.ts`;
  await Deno.writeTextFile(
    script,
    `import { WorkerPool } from ${JSON.stringify(new URL("src/ingest/worker_pool.ts", repo).href)};
import { planShards } from ${JSON.stringify(new URL("src/ingest/shards.ts", repo).href)};
const settings = ${JSON.stringify(settings(srv.url))};
const result = { probe: null, events: 0 };
const probe = new WorkerPool({ settings, shards: planShards(["BTCUSDT"], ["ticker"], 6),
  onBatch: () => {}, onLog: (l) => { if (l.msg === "probe") result.probe = l.fields; },
  restrictPermissions: true, workerUrl: new URL("file://${dir}/probe/worker.ts") });
probe.start();
while (!result.probe) await new Promise((r) => setTimeout(r, 10));
await probe.stop(200);
const pool = new WorkerPool({ settings, shards: planShards(["BTCUSDT", "ETHUSDT"], ["books", "trade"], 12),
  onBatch: (b) => { result.events += b.events.length; }, restrictPermissions: true });
pool.start();
const end = Date.now() + 20000;
while (result.events < ${
      frames.length / 4
    } && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
await pool.stop(3000);
console.log(JSON.stringify(result));
`,
  );
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--unstable-worker-options",
        "--allow-net=127.0.0.1",
        `--allow-read=${dir},${new URL("src/", repo).pathname}`,
        "--allow-env=HOME",
        script,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const result = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
    assert.deepEqual(result.probe, {
      readOwnDir: "allowed",
      readEtc: "NotCapable",
      env: "NotCapable",
      netWs: "granted",
      netOther: "NotCapable",
    });
    assert.ok(result.events > 0, "the real ingest worker runs with only net + read of src/");
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});
