/**
 * Harness of the trading-daemon tests: the real loopback simulator (in-process, real sockets)
 * and the real daemon — in-process through `runDaemon` (parity, with the decision values), or as
 * the `bitget-bot run` CLI in a child process with the product's permission set (signals, exit
 * codes, SIGKILL). Keys for the simulator's private API are test values, never real ones.
 */
import { DatabaseSync } from "node:sqlite";
import { type Config, parseConfig } from "../../src/config/config.ts";
import { type DaemonSummary, runDaemon } from "../../src/live/daemon.ts";
import { createLogger, type Logger } from "../../src/ops/log.ts";
import type { Simulator, SimulatorOptions } from "../../src/simulator/server.ts";
import assert from "node:assert/strict";
import { ROOT, sim } from "./collect_harness.ts";

/** Credentials the tests give the simulator and the daemon (not real Bitget keys). */
export const TEST_KEYS = {
  apiKey: "bb-test-key-7f3a91c2",
  secret: "bb-test-secret-5d8e20b4c6a1",
  passphrase: "bb-test-pass-93kq",
};

export const TEST_ENV = {
  BITGET_API_KEY: TEST_KEYS.apiKey,
  BITGET_API_SECRET: TEST_KEYS.secret,
  BITGET_PASSPHRASE: TEST_KEYS.passphrase,
};

/** Config YAML of the daemon tests: short intervals, no warm-up, JSON logs. */
export function runConfigYaml(extra = ""): string {
  // Port 0: every test daemon gets a free metrics port (no clash between tests or with a bot
  // running on this machine at the default 127.0.0.1:9464).
  return `
metrics:
  listen: 127.0.0.1:0
log:
  statusInterval: 1s
  format: json
ws:
  reconnectMinDelay: 100ms
  reconnectMaxDelay: 1s
  pingInterval: 2s
  staleAfter: 5s
store:
  batchMaxAge: 100ms
run:
  warmup: 0
  killFileInterval: 200ms
  smoke:
    interval: 5s
    maxRoundTrips: 4
${extra}`;
}

/** Runs the daemon in-process against `sim` until `until()` holds, then stops it. */
export async function runInProcess(
  sim: Simulator,
  o: {
    dir: string;
    mode: "paper" | "live";
    strategy: Config["run"]["strategy"];
    symbols?: string[];
    configYaml?: string;
    until: () => boolean | Promise<boolean>;
    timeoutMs?: number;
    logger?: Logger;
  },
): Promise<{ summary: DaemonSummary; db: string; config: Config }> {
  const yaml = (await import("yaml")).default;
  const config = parseConfig(yaml.parse(o.configYaml ?? runConfigYaml()) ?? {}, "test");
  const db = `${o.dir}/bitget.db`;
  config.run.db = db;
  config.run.killFile = `${o.dir}/KILL`;
  config.run.mode = o.mode;
  config.run.strategy = o.strategy;
  const ac = new AbortController();
  const logs: string[] = [];
  const daemon = runDaemon({
    config,
    run: config.run,
    symbols: o.symbols ?? ["BTCUSDT", "ETHUSDT"],
    restUrl: sim.restUrl,
    wsPublicUrl: sim.wsUrl,
    wsPrivateUrl: sim.wsUrl.replace("/public", "/private"),
    credentials: o.mode === "live" ? TEST_KEYS : null,
    logger: o.logger ?? createLogger({ format: "json", sink: (l) => logs.push(l) }),
    signal: ac.signal,
    keepRecords: true,
  });
  const deadline = Date.now() + (o.timeoutMs ?? 90_000);
  let failed: unknown = null;
  daemon.catch((e) => (failed = e));
  while (!failed && !(await o.until()) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  ac.abort();
  if (failed) throw failed;
  const summary = await daemon;
  return { summary, db, config };
}

/** Rows of `sql` from a database file (read-only connection). */
export function rows<T = Record<string, unknown>>(path: string, sql: string, ...args: unknown[]) {
  const d = new DatabaseSync(path, { readOnly: true });
  try {
    return d.prepare(sql).all(...(args as (string | number)[])) as T[];
  } finally {
    d.close();
  }
}

export interface RunProc {
  child: Deno.ChildProcess;
  done: Promise<{ code: number; signal: string | null; stdout: string; stderr: string }>;
}

/** Spawns `bitget-bot run` with the product's permissions (net: loopback only). */
export function spawnRun(dir: string, args: string[], env: Record<string, string> = {}): RunProc {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      `--allow-read=src,models,node_modules,${dir}`,
      `--allow-write=${dir}`,
      "--allow-env=BITGET_*,LOG_TOKENS,LOG_STREAM,DISCORD_WEBHOOK_URL,ALERT_WEBHOOK_URL",
      "--allow-sys=hostname",
      "--unstable-worker-options",
      "src/main.ts",
      "run",
      "--config",
      `${dir}/config.yaml`,
      "--db",
      `${dir}/bitget.db`,
      ...args,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    // Real keys a developer may have exported never reach a test daemon.
    env: {
      NO_COLOR: "1",
      BITGET_API_KEY: "",
      BITGET_API_SECRET: "",
      BITGET_PASSPHRASE: "",
      ...env,
    },
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
  return { child, done };
}

// ---- the simulator's private books vs the daemon's journal ------------------------------------

export interface SimOrder {
  clientOid: string;
  orderId: string;
  symbol: string;
  side: string;
  size: number;
  filledSize: number;
  state: string;
  placeRequests: number;
}
export interface SimFill {
  tradeId: string;
  orderId: string;
  clientOid: string;
  symbol: string;
  side: string;
  price: number;
  size: number;
}

export function simPrivate(s: Simulator) {
  const st = s.status() as unknown as {
    orders: SimOrder[];
    fills: SimFill[];
    positions: { symbol: string; holdSide: string; size: number }[];
    placeRequests: number;
    duplicateClientOids: number;
  };
  return st;
}

/** The simulator with the test keys; `faults` armed at start, `opts` passed through. */
export async function liveSim(
  recording: string,
  speed: number | "max",
  faults: string[] = [],
  opts: Partial<SimulatorOptions> = {},
) {
  return await sim({ recording, speed, onEnd: "idle", credentials: TEST_KEYS, faults, ...opts });
}

export const simUrls = (s: Simulator) => [
  "--rest-url",
  s.restUrl,
  "--ws-url",
  s.wsUrl,
  "--private-ws-url",
  s.wsUrl.replace("/public", "/private"),
];

/** The daemon's journal equals the simulator's books, order for order and fill for fill. */
export function assertJournalEqualsSim(db: string, s: Simulator): void {
  const st = simPrivate(s);
  const mine = new Map(
    rows<{
      client_oid: string;
      venue_order_id: string | null;
      symbol: string;
      side: string;
      size: string;
      filled_size: string;
      state: string;
      kind: string;
    }>(db, "SELECT * FROM orders WHERE mode = 'live'").map((r) => [r.client_oid, r]),
  );
  const theirs = new Set<string>();
  for (const o of st.orders) {
    theirs.add(o.clientOid);
    const m = mine.get(o.clientOid);
    assert.ok(m, `simulator order ${o.clientOid} is in the daemon's orders table`);
    assert.equal(
      m.venue_order_id,
      o.orderId,
      `${o.clientOid} orderId: ${JSON.stringify({ m, o })}`,
    );
    assert.equal(m.symbol, o.symbol);
    assert.ok(Math.abs(Number(m.filled_size) - o.filledSize) < 1e-12, `${o.clientOid} filled`);
    const state = o.state === "canceled" ? "cancelled" : o.state;
    assert.equal(m.state, state, `${o.clientOid} state`);
  }
  for (const [oid, m] of mine) {
    if (m.kind !== "order") continue;
    const placed = !["rejected", "not_placed"].includes(m.state);
    assert.equal(theirs.has(oid), placed, `daemon order ${oid} (${m.state}) vs simulator`);
  }
  const fills = rows<{ trade_id: string; client_oid: string; price: string; size: string }>(
    db,
    "SELECT trade_id, client_oid, price, size FROM fills WHERE mode = 'live'",
  );
  assert.equal(
    fills.length,
    st.fills.length,
    `one fill row per simulator fill: ${JSON.stringify({ fills, sim: st.fills })}`,
  );
  const byId = new Map(fills.map((f) => [f.trade_id, f]));
  for (const f of st.fills) {
    const m = byId.get(f.tradeId);
    assert.ok(m, `fill ${f.tradeId} recorded`);
    assert.equal(m.client_oid, f.clientOid);
    // The wire carries averages with 4 more decimals than the tick (the status: unrounded).
    assert.ok(
      Math.abs(Number(m.price) - f.price) < 1e-4 * f.price * 1e-4 &&
        Math.abs(Number(m.size) - f.size) < 1e-12,
      `fill ${f.tradeId}: ${JSON.stringify({ m, f })}`,
    );
  }
  // No clientOid was accepted twice: the simulator holds each at most once and the daemon knows it.
  assert.equal(new Set(st.orders.map((o) => o.clientOid)).size, st.orders.length);
}

/** The journal's expected positions (last snapshot + later fills) equal the simulator's. */
export function assertPositionsAgree(db: string, s: Simulator): void {
  const snap = rows<{ symbol: string; hold_side: string; size: string }>(
    db,
    `SELECT symbol, hold_side, size FROM positions_snapshots
     WHERE snap = (SELECT MAX(snap) FROM positions_snapshots WHERE mode = 'live')`,
  );
  const exch = simPrivate(s).positions;
  for (const p of snap) {
    const have = exch.filter((x) => x.symbol === p.symbol && x.holdSide === p.hold_side)
      .reduce((t, x) => t + x.size, 0);
    if (p.hold_side === "flat") {
      assert.equal(exch.filter((x) => x.symbol === p.symbol).length, 0, `${p.symbol} flat`);
    } else assert.ok(Math.abs(have - Number(p.size)) < 1e-12, `${p.symbol} ${p.hold_side}`);
  }
}
