/**
 * Warm-up at start (run.warmup): a daemon restarted over the database an earlier run recorded
 * replays the stored market data through the engine before its feed starts, so the strategy
 * decides from the first live bar instead of waiting out its features' warm-up.
 *
 * The real 2024 recording is cut in two at a frame boundary: a first paper run records the first
 * part; a second paper run over the same database replays the second part with warm-up on. A
 * third run over the second part with a fresh database (nothing to warm from) is the baseline.
 * microswing records its decision values only once its features are ready, so the time from the
 * first live frame to the first recorded value measures the warm-up: seconds when warmed, the
 * features' 60 s windows when cold. The `books` channel is left out of both parts (the daemon
 * keeps books15; an incremental channel cut in the middle would start without its snapshot).
 */
import assert from "node:assert/strict";
import { REC_2024, sim } from "./helpers/collect_harness.ts";
import { runConfigYaml, runInProcess } from "./helpers/run_harness.ts";

interface Line {
  recv_ms: number;
  msg: { event?: string; arg?: { channel?: string }; data?: { ts?: string }[]; ts?: number };
}

async function readRecording(path: string): Promise<Line[]> {
  const f = await Deno.open(path);
  const text = await new Response(f.readable.pipeThrough(new DecompressionStream("gzip"))).text();
  return text.split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as Line);
}

/** Writes the subscribe acks plus the data frames of [from, to) (recv time) to `path`. */
async function writePart(lines: Line[], from: number, to: number, path: string): Promise<number> {
  const keep = lines.filter((l) =>
    l.msg.arg?.channel !== "books" &&
    (l.msg.event !== undefined || (l.recv_ms >= from && l.recv_ms < to))
  );
  await Deno.writeTextFile(path, keep.map((l) => JSON.stringify(l)).join("\n") + "\n");
  const first = keep.find((l) => l.msg.event === undefined)!;
  return Number(first.msg.ts ?? first.msg.data?.[0]?.ts);
}

async function paperRun(dir: string, recording: string, warmup: string) {
  await Deno.mkdir(dir, { recursive: true });
  const s = await sim({ recording, speed: "max", onEnd: "idle" });
  try {
    return await runInProcess(s, {
      dir,
      mode: "paper",
      strategy: "microswing",
      configYaml: runConfigYaml().replace("warmup: 0", `warmup: ${warmup}`),
      until: () => {
        const c = s.status().connections.filter((x) => !x.closed);
        return c.length > 0 && c.every((x) => x.done);
      },
      timeoutMs: 120_000,
    });
  } finally {
    await s.close();
  }
}

Deno.test({
  name: "run: warm-up from the database the last run recorded — decides from the first live bar",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "bitget-warmup-" });
    const lines = await readRecording(REC_2024);
    const data = lines.filter((l) => l.msg.event === undefined);
    const cut = data[0].recv_ms + 300_000; // 5 of the recording's 8 minutes, then the rest
    const part1 = `${tmp}/part1.jsonl`;
    const part2 = `${tmp}/part2.jsonl`;
    await writePart(lines, -Infinity, cut, part1);
    const live0 = await writePart(lines, cut, Infinity, part2);

    const first = await paperRun(`${tmp}/a`, part1, "0");
    assert.equal(first.summary.warmupEvents, 0);
    assert.ok(first.summary.events > 1000, `first run events ${first.summary.events}`);

    const warm = await paperRun(`${tmp}/a`, part2, "10m");
    const cold = await paperRun(`${tmp}/b`, part2, "10m");

    assert.ok(
      warm.summary.warmupEvents > 1000,
      `stored events replayed at start: ${warm.summary.warmupEvents}`,
    );
    assert.equal(cold.summary.warmupEvents, 0, "a fresh database has nothing to warm from");
    const firstRecord = (r: typeof warm) => Math.min(...r.summary.records.map((x) => x.ts)) - live0;
    const warmGap = firstRecord(warm);
    const coldGap = firstRecord(cold);
    console.log(
      `first decision value after the first live frame: warm ${warmGap} ms ` +
        `(${warm.summary.warmupEvents} events replayed), cold ${coldGap} ms`,
    );
    assert.ok(warmGap < 5_000, `warmed: first decision value ${warmGap} ms after the first frame`);
    assert.ok(coldGap >= 60_000, `cold: features wait out their 60 s windows (${coldGap} ms)`);
  },
});
