/**
 * Ingest benchmark (issue: collect). Two processes over loopback, as in production:
 * `bitget-bot replay <full real 2024 BTC+ETH recording> --speed max` and `bitget-bot collect`.
 *
 * - pipeline: rows/s and frames/s from the first frame received to the last commit (socket →
 *   worker parse/normalize → postMessage → writer → committed rows), receive→commit latency
 *   p50/p99, peak RSS of the collector process;
 * - baseline, same run: raw `node:sqlite` batched INSERT rate of the same rows
 *   (store/bench_support.ts, the writer's exact statements, parameters pre-built) and the store
 *   writer alone on the same events;
 * - steady state: peak RSS and latency collecting 2 symbols on all 6 channels at 2× real speed.
 */
import { DatabaseSync } from "node:sqlite";
import { compareIngestRates } from "../src/store/bench_support.ts";
import { loadReplayFrames } from "../src/ingest/replay_frames.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const REC = new URL(
  "../../shared/data/bitget_replay/bitget_v2_public_BTCUSDT-ETHUSDT_20240718T2357.jsonl.gz",
  import.meta.url,
).pathname;

export interface IngestBenchResult {
  frames: number;
  rows: number;
  pipelineFramesPerSec: number;
  pipelineRowsPerSec: number;
  rawRowsPerSec: number;
  writerRowsPerSec: number;
  /** pipeline rows/s ÷ raw batched-insert rows/s (goal ≥ 0.5). */
  ratio: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  peakRssMB: number;
  steady: { seconds: number; frames: number; peakRssMB: number; latencyP50Ms: number; p99: number };
}

const PERMS = [
  "--allow-net=127.0.0.1",
  "--allow-sys=hostname",
  "--allow-env=BITGET_*,LOG_TOKENS,LOG_STREAM",
  "--unstable-worker-options",
];

async function startReplay(speed: string): Promise<{ child: Deno.ChildProcess; port: number }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...PERMS,
      `--allow-read=src,${REC}`,
      "src/main.ts",
      "replay",
      REC,
      "--speed",
      speed,
      // The relay only matters for drop@N faults; without it the simulator costs less CPU on
      // this shared 2-core machine.
      "--no-relay",
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (!buf.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("replay exited before listening");
    buf += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return { child, port: JSON.parse(buf.split("\n")[0]).port };
}

function committed(db: string): number {
  try {
    const d = new DatabaseSync(db, { readOnly: true });
    try {
      return (d.prepare("SELECT COALESCE(SUM(frames),0) AS n FROM ingest_counts").get() as {
        n: number;
      }).n;
    } finally {
      d.close();
    }
  } catch {
    return 0;
  }
}

async function collect(
  dir: string,
  port: number,
  until: { frames?: number; duration?: string },
): Promise<Record<string, number>> {
  await Deno.writeTextFile(`${dir}/config.yaml`, "log:\n  statusInterval: 1h\n");
  const db = `${dir}/bench.db`;
  const args = [
    "run",
    ...PERMS,
    `--allow-read=src,${dir}`,
    `--allow-write=${dir}`,
    "src/main.ts",
    "collect",
    "--config",
    `${dir}/config.yaml`,
    "--db",
    db,
    "--symbols",
    "BTCUSDT",
    "ETHUSDT",
    "--ws-url",
    `ws://127.0.0.1:${port}/v2/ws/public`,
    "--rest-url",
    `http://127.0.0.1:${port}`,
    "--log-format",
    "json",
    ...(until.duration ? ["--duration", until.duration] : []),
  ];
  const child = new Deno.Command(Deno.execPath(), { args, cwd: ROOT, stdout: "piped" }).spawn();
  if (until.frames !== undefined) {
    const end = Date.now() + 300_000;
    while (committed(db) < until.frames && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill("SIGTERM");
  }
  const out = new TextDecoder().decode((await child.output()).stdout);
  const line = out.split("\n").find((l) => l.includes('"collect stopped"'));
  if (!line) throw new Error(`collector did not finish cleanly:\n${out.slice(-2000)}`);
  return JSON.parse(line);
}

export async function runIngestBench(opts: { steadySeconds?: number } = {}): Promise<
  IngestBenchResult
> {
  const dir = await Deno.makeTempDir({ prefix: "bitget-ingest-bench-" });
  try {
    const frames = await loadReplayFrames(REC);
    const total = frames.length;
    const base = compareIngestRates(frames, dir, 3, 5_000);

    const r = await startReplay("max");
    let s: Record<string, number>;
    try {
      s = await collect(dir, r.port, { frames: total });
    } finally {
      r.child.kill("SIGTERM");
      await r.child.status;
    }
    const windowS = (s.lastCommitTs - s.firstRecvTs) / 1000;

    const steadySeconds = opts.steadySeconds ?? 30;
    const dir2 = await Deno.makeTempDir({ dir, prefix: "steady-" });
    const r2 = await startReplay("2");
    let st: Record<string, number>;
    try {
      st = await collect(dir2, r2.port, { duration: `${steadySeconds}s` });
    } finally {
      r2.child.kill("SIGTERM");
      await r2.child.status;
    }
    return {
      frames: s.frames,
      rows: s.rows,
      pipelineFramesPerSec: s.frames / windowS,
      pipelineRowsPerSec: s.rows / windowS,
      rawRowsPerSec: base.raw.rowsPerSec,
      writerRowsPerSec: base.writer.rowsPerSec,
      ratio: s.rows / windowS / base.raw.rowsPerSec,
      latencyP50Ms: s.latencyP50Ms,
      latencyP99Ms: s.latencyP99Ms,
      peakRssMB: s.peakRssBytes / 1e6,
      steady: {
        seconds: steadySeconds,
        frames: st.frames,
        peakRssMB: st.peakRssBytes / 1e6,
        latencyP50Ms: st.latencyP50Ms,
        p99: st.latencyP99Ms,
      },
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

export function formatIngestBench(r: IngestBenchResult): string {
  const f = (n: number) => Math.round(n).toLocaleString("en-US");
  return [
    `ingest (full 2024 BTC+ETH recording, ${f(r.frames)} frames → ${f(r.rows)} rows, speed max)`,
    `  pipeline socket→commit   ${f(r.pipelineRowsPerSec)} rows/s  (${
      f(r.pipelineFramesPerSec)
    } frames/s)`,
    `  raw node:sqlite insert   ${f(r.rawRowsPerSec)} rows/s  (same rows, same run)`,
    `  store writer alone       ${f(r.writerRowsPerSec)} rows/s`,
    `  ratio pipeline/raw       ${r.ratio.toFixed(2)}  (goal ≥ 0.50)`,
    `  receive→commit latency   p50 ${r.latencyP50Ms.toFixed(1)} ms, p99 ${
      r.latencyP99Ms.toFixed(1)
    } ms (burst)`,
    `  peak RSS (burst)         ${r.peakRssMB.toFixed(0)} MB`,
    `  steady 2× real speed, ${r.steady.seconds} s, 2 symbols × 6 channels: ${
      f(r.steady.frames)
    } frames, peak RSS ${r.steady.peakRssMB.toFixed(0)} MB (goal ≤ 150), latency p50 ${
      r.steady.latencyP50Ms.toFixed(1)
    } ms, p99 ${r.steady.p99.toFixed(1)} ms`,
  ].join("\n");
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  console.log(formatIngestBench(await runIngestBench({ steadySeconds: quick ? 10 : 30 })));
}
