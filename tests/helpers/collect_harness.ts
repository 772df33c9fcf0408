/**
 * End-to-end harness: the real loopback simulator (in-process, real sockets) and the real
 * `bitget-bot collect` CLI in a child process with the product's permission set (network to
 * loopback only, read `src` + the temp dir, write the temp dir, env BITGET_*).
 */
import { DatabaseSync } from "node:sqlite";
import {
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from "../../src/simulator/server.ts";

export const ROOT = new URL("../../", import.meta.url).pathname;
export const SHARED = new URL("../../../shared/", import.meta.url).pathname;
export const REC_2024 =
  `${SHARED}data/bitget_replay/bitget_v2_public_BTCUSDT-ETHUSDT_20240718T2357.jsonl.gz`;
export const REC_2023 =
  `${SHARED}data/bitget_replay/bitget_v2_public_BTCUSDT_20230404T2358.jsonl.gz`;
export const SAMPLE = `${ROOT}sample/bitget_v2_public_BTCUSDT-ETHUSDT_20240718T2357_45s.jsonl.gz`;

export { type Simulator, startSimulator };

export function sim(opts: SimulatorOptions): Promise<Simulator> {
  return startSimulator(opts);
}

/** Config YAML for tests: short intervals so faults resolve quickly. */
export function testConfig(extra: { maxChannelsPerConnection?: number; staleAfter?: string } = {}) {
  return `
metrics:
  listen: 127.0.0.1:0
ws:
  maxChannelsPerConnection: ${extra.maxChannelsPerConnection ?? 48}
  reconnectMinDelay: 100ms
  reconnectMaxDelay: 1s
  staleAfter: ${extra.staleAfter ?? "5s"}
  pingInterval: 2s
rest:
  symbolPriceInterval: 500ms
  openInterestInterval: 1s
  fundingRateInterval: 1s
  fundingTimeInterval: 2s
store:
  batchMaxAge: 100ms
log:
  statusInterval: 1s
  format: json
`;
}

export interface CollectorProc {
  child: Deno.ChildProcess;
  dir: string;
  db: string;
  /** Resolves with exit code and all output once the process ends. */
  done: Promise<{ code: number; signal: string | null; stdout: string; stderr: string }>;
}

/** Spawns `collect` against the simulator; `dir` is a fresh temp dir holding config and DB. */
export async function spawnCollector(
  s: Simulator | null,
  args: string[],
  config = testConfig(),
  dir?: string,
): Promise<CollectorProc> {
  dir ??= await Deno.makeTempDir({ prefix: "bitget-collect-" });
  await Deno.writeTextFile(`${dir}/config.yaml`, config);
  const db = `${dir}/bitget.db`;
  const urls = s ? ["--ws-url", s.wsUrl, "--rest-url", s.restUrl] : [];
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      `--allow-read=src,${dir}`,
      `--allow-write=${dir}`,
      "--allow-env=BITGET_*,LOG_TOKENS,LOG_STREAM,DISCORD_WEBHOOK_URL,ALERT_WEBHOOK_URL",
      "--allow-sys=hostname",
      "--unstable-worker-options",
      "src/main.ts",
      "collect",
      "--config",
      `${dir}/config.yaml`,
      "--db",
      db,
      ...urls,
      ...args,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const done = (async () => {
    const out = await child.output();
    const dec = new TextDecoder();
    return {
      code: out.code,
      signal: out.signal,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
    };
  })();
  return { child, dir, db, done };
}

export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
  everyMs = 100,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** True once `n` connections are open and each has been sent the whole recording. */
export function allDelivered(s: Simulator, n: number): boolean {
  const st = s.status();
  const open = st.connections.filter((c) => !c.closed);
  return open.length >= n && open.every((c) => c.done);
}

/** JSON log lines of a collector's stdout (non-JSON lines skipped). */
export function logLines(stdout: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const l of stdout.split("\n")) {
    if (!l.startsWith("{")) continue;
    try {
      out.push(JSON.parse(l));
    } catch {
      // a partial line at a kill boundary
    }
  }
  return out;
}

/** Data frames per "SYMBOL|channel" and the distinct trade ids of a recording. */
export async function recordingCounts(
  path: string,
): Promise<{ frames: Map<string, number>; tradeIds: Map<string, Set<string>>; lastTs: number }> {
  const stream = (await Deno.open(path)).readable.pipeThrough(new DecompressionStream("gzip"))
    .pipeThrough(new TextDecoderStream());
  let buf = "";
  const frames = new Map<string, number>();
  const tradeIds = new Map<string, Set<string>>();
  let lastTs = 0;
  const take = (line: string) => {
    if (!line) return;
    const { msg } = JSON.parse(line);
    if (!msg.action) return;
    const key = `${msg.arg.instId}|${msg.arg.channel}`;
    frames.set(key, (frames.get(key) ?? 0) + 1);
    lastTs = Math.max(lastTs, msg.ts);
    if (msg.arg.channel === "trade") {
      const set = tradeIds.get(msg.arg.instId) ?? new Set();
      for (const t of msg.data) set.add(t.tradeId);
      tradeIds.set(msg.arg.instId, set);
    }
  };
  for await (const chunk of stream) {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      take(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  }
  take(buf);
  return { frames, tradeIds, lastTs };
}

/**
 * One number from a database another process is writing (a read-only connection beside the
 * writer; WAL allows it): `sql` must select a single column `n`. 0 while the file does not exist.
 */
export function peekCount(path: string, sql: string): number {
  try {
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      return (db.prepare(sql).get() as { n: number | null } | undefined)?.n ?? 0;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}
