/**
 * Tick-to-order latency of `run --mode live` against the loopback simulator (a child process
 * replaying the real 2024 recording, with its signed private REST): for every place-order, the
 * time from the public WebSocket frame that caused it being received (the feed's µs receive
 * stamp) to (a) the order manager handing the request to the venue (journal row committed) and
 * (b) `fetch` being called with the signed request (bitget/rest_private.ts onRequestWritten) — the
 * last point this process controls before the socket write. Beside it, measured in the same run:
 * the decision latency alone (the engine's onEvent for the events that produced an order, and for
 * all events). The smoke strategy on one symbol orders on a fixed market-time interval, below
 * Bitget's 10 place-orders/s, so the rate limiter never holds a request back.
 *
 * Figures are relative to this shared 2-core machine and never asserted.
 */
import { parseConfig } from "../src/config/config.ts";
import { runDaemon } from "../src/live/daemon.ts";
import { silentLogger } from "../src/ops/log.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const REC = new URL(
  "../../shared/data/bitget_replay/bitget_v2_public_BTCUSDT-ETHUSDT_20240718T2357.jsonl.gz",
  import.meta.url,
).pathname;
const KEYS = { apiKey: "bench-key", secret: "bench-secret", passphrase: "bench-pass" };

export interface Quantiles {
  n: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface RunBenchResult {
  seconds: number;
  orders: number;
  tickToHandoff: Quantiles;
  tickToFetch: Quantiles;
  decisionOrdering: Quantiles;
  decisionAll: Quantiles;
}

function q(xs: number[]): Quantiles {
  const s = Float64Array.from(xs).sort();
  const at = (p: number) => s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN;
  return { n: s.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: s.length ? s[s.length - 1] : NaN };
}

const now = () => performance.timeOrigin + performance.now();

/** Runs the daemon for `seconds` of wall time against a simulator child process. */
export async function runRunBench(seconds = 60): Promise<RunBenchResult> {
  const sim = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      `--allow-read=src,${REC}`,
      "--allow-env=BITGET_*",
      "src/main.ts",
      "replay",
      REC,
      "--speed",
      "4",
    ],
    cwd: ROOT,
    env: {
      BITGET_API_KEY: KEYS.apiKey,
      BITGET_API_SECRET: KEYS.secret,
      BITGET_PASSPHRASE: KEYS.passphrase,
    },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = sim.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let first = "";
  while (!first.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    first += value;
  }
  const { restUrl, wsUrl } = JSON.parse(first.split("\n")[0]);
  const dir = await Deno.makeTempDir({ prefix: "bitget-run-bench-" });
  const config = parseConfig({
    log: { statusInterval: "10s" },
    run: {
      mode: "live",
      strategy: "smoke",
      db: `${dir}/bench.db`,
      tradingDb: "", // the journal shares the recording database, as by default
      killFile: `${dir}/KILL`,
      warmup: 0,
      // 0.8 s of market time at 4× speed = one order every 200 ms of wall time.
      smoke: { interval: "800ms", maxRoundTrips: 1000 },
    },
  }, "bench");
  const handoff: number[] = [];
  const fetchAt: number[] = [];
  const pending: number[] = [];
  const decOrdering: number[] = [];
  const decAll: number[] = [];
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(), seconds * 1000);
  try {
    const summary = await runDaemon({
      config,
      run: config.run,
      symbols: ["BTCUSDT"],
      restUrl,
      wsPublicUrl: wsUrl,
      wsPrivateUrl: wsUrl.replace("/public", "/private"),
      credentials: KEYS,
      logger: silentLogger,
      signal: ac.signal,
      onSend: (_oid, recv) => {
        const t1 = now();
        handoff.push(t1 - recv);
        pending.push(recv);
      },
      // place-order requests leave in the order they were handed over (one FIFO limiter).
      onRequestWritten: (endpoint, perf) => {
        if (!endpoint.endsWith("/place-order")) return;
        const recv = pending.shift();
        if (recv !== undefined) fetchAt.push(performance.timeOrigin + perf - recv);
      },
      onDecision: (ms, n) => {
        if (n > 0) decOrdering.push(ms);
        if (decAll.length < 200_000) decAll.push(ms);
      },
    });
    return {
      seconds,
      orders: summary.orders,
      tickToHandoff: q(handoff),
      tickToFetch: q(fetchAt),
      decisionOrdering: q(decOrdering),
      decisionAll: q(decAll),
    };
  } finally {
    clearTimeout(t);
    sim.kill("SIGTERM");
    await sim.status;
    reader.releaseLock();
    await sim.stdout.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

export function formatRunBench(r: RunBenchResult): string {
  const f = (x: Quantiles) =>
    `p50 ${x.p50Ms.toFixed(3)} ms  p99 ${x.p99Ms.toFixed(3)} ms  max ${
      x.maxMs.toFixed(2)
    } ms  (n ${x.n})`;
  return [
    `run --mode live, smoke on BTCUSDT vs the loopback simulator (2024 recording at 4×, ${r.seconds} s, ${r.orders} orders)`,
    `  tick → place-order fetch() call   ${f(r.tickToFetch)}   (goal p99 ≤ 2 ms)`,
    `  tick → handed to the venue        ${f(r.tickToHandoff)}`,
    `  decision alone, ordering events   ${f(r.decisionOrdering)}`,
    `  decision alone, every event       ${f(r.decisionAll)}`,
  ].join("\n");
}

if (import.meta.main) {
  console.log(formatRunBench(await runRunBench(Number(Deno.args[0] ?? 60))));
}
