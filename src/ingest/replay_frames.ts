/**
 * A Bitget v2 replay recording (`{"recv_ms", "msg"}` JSON lines, optionally gzip — the format of
 * shared/data/bitget_replay and `sample/`) turned into the MarketEvents of each frame, through the
 * collector's own parser and Normalizer (wire.ts, normalize.ts). Benchmarks and store tests use it
 * so they run on exactly the events an ingest worker produces from real-data-shaped input.
 */
import { gunzipSync } from "node:zlib";
import { classifyFrame } from "../bitget/wire.ts";
import { Normalizer } from "../bitget/normalize.ts";
import type { Channel, MarketEvent } from "../market/events.ts";
import type { ReplayFrame } from "../store/bench_support.ts";

/**
 * Decodes a recording into frames in arrival order (subscribe acks skipped); `maxFrames` limits
 * the output.
 * @throws Error naming the line when a data frame is malformed (recordings are known-good).
 */
export async function loadReplayFrames(
  path: string | URL,
  maxFrames = Infinity,
): Promise<ReplayFrame[]> {
  let bytes: Uint8Array = await Deno.readFile(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  const lines = new TextDecoder().decode(bytes).split("\n");
  const normalizer = new Normalizer();
  const frames: ReplayFrame[] = [];
  for (let n = 0; n < lines.length && frames.length < maxFrames; n++) {
    const line = lines[n];
    if (line === "") continue;
    const { recv_ms: recvTs, msg } = JSON.parse(line) as { recv_ms: number; msg: unknown };
    const f = classifyFrame(msg);
    if (f.type !== "data") {
      if (f.type === "malformed") throw new Error(`${path}:${n + 1}: ${f.reason}: ${f.detail}`);
      continue;
    }
    const events: MarketEvent[] = [];
    const err = normalizer.apply(f, recvTs, events);
    if (err) throw new Error(`${path}:${n + 1}: ${err.reason}: ${err.detail}`);
    frames.push({ symbol: f.arg.instId, channel: f.arg.channel as Channel, events });
  }
  return frames;
}
