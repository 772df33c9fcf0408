/**
 * Where ingest's time goes, stage by stage, on the full real 2024 BTC+ETH recording (63k frames),
 * in one thread so each stage is timed alone (the pipeline runs them in shard workers and the
 * writer, over sockets and postMessage):
 *  1. JSON.parse of each frame's text (what a worker receives);
 *  2. classifyFrame: the wire-format validation of the parsed frame;
 *  3. Normalizer.apply: book maintenance, the CRC32 check of every `books` update, event building;
 *     of which 3a, the CRC32 alone (checksum string + CRC32 of the same books, recomputed);
 *  4. the store writer: row building plus SQLite (BatchWriter, the production writer; each shard
 *     worker runs its own, so there is no structured clone between the stages any more).
 * Each stage is the best of `rounds` over the same input; shares are of the sum. Run with
 * `--cpu-prof` for the function-level view (the figures here are what the README publishes).
 */
import { gunzipSync } from "node:zlib";
import { bookChecksum } from "../src/bitget/checksum.ts";
import { Normalizer } from "../src/bitget/normalize.ts";
import { classifyFrame, type DataFrame } from "../src/bitget/wire.ts";
import type { MarketEvent } from "../src/market/events.ts";
import { measureWriterRate, type ReplayFrame } from "../src/store/bench_support.ts";
import type { Channel } from "../src/market/events.ts";

const REC = new URL(
  "../../shared/data/bitget_replay/bitget_v2_public_BTCUSDT-ETHUSDT_20240718T2357.jsonl.gz",
  import.meta.url,
);

export interface StageFigure {
  stage: string;
  ms: number;
  share: number;
}

export interface IngestProfile {
  frames: number;
  events: number;
  rows: number;
  stages: StageFigure[];
}

function best(rounds: number, fn: () => void): number {
  let b = Infinity;
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    fn();
    b = Math.min(b, performance.now() - t0);
  }
  return b;
}

export async function runIngestProfile(rounds = 3): Promise<IngestProfile> {
  const text = new TextDecoder().decode(gunzipSync(await Deno.readFile(REC)));
  const texts: string[] = [];
  const recv: number[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    const o = JSON.parse(line) as { recv_ms: number; msg: unknown };
    texts.push(JSON.stringify(o.msg));
    recv.push(o.recv_ms);
  }
  let parsed: unknown[] = [];
  const tParse = best(rounds, () => {
    parsed = texts.map((t) => JSON.parse(t));
  });
  let data: DataFrame[] = [];
  let dataRecv: number[] = [];
  const tClassify = best(rounds, () => {
    data = [];
    dataRecv = [];
    for (let i = 0; i < parsed.length; i++) {
      const f = classifyFrame(parsed[i]);
      if (f.type === "data") {
        data.push(f);
        dataRecv.push(recv[i]);
      }
    }
  });
  // Normalizer.apply mutates nothing in the frames, so each round replays the same input.
  let frames: ReplayFrame[] = [];
  const tNormalize = best(rounds, () => {
    const n = new Normalizer();
    frames = [];
    for (let i = 0; i < data.length; i++) {
      const events: MarketEvent[] = [];
      n.apply(data[i], dataRecv[i], events);
      frames.push({ symbol: data[i].arg.instId, channel: data[i].arg.channel as Channel, events });
    }
  });
  // CRC32 alone: the checksum string and CRC32 of each `books` book as the normalizer checks it.
  const books = frames.filter((f) => f.channel === "books").flatMap((f) => f.events)
    .filter((e) => e.kind === "book") as Extract<MarketEvent, { kind: "book" }>[];
  let sink = 0;
  const tCrc = best(rounds, () => {
    for (const b of books) sink ^= bookChecksum(b.bids, b.asks);
  });
  const dir = await Deno.makeTempDir({ prefix: "ingest-profile-" });
  let writeMs = Infinity, rows = 0;
  try {
    for (let i = 0; i < rounds; i++) {
      const w = measureWriterRate(frames, dir, 5_000);
      writeMs = Math.min(writeMs, w.seconds * 1000);
      rows = w.rows;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  if (sink === 0.5) console.log(sink);
  const stages: [string, number][] = [
    ["JSON.parse", tParse],
    ["classifyFrame (wire validation)", tClassify],
    ["Normalizer.apply excl. CRC32 (books, events)", Math.max(0, tNormalize - tCrc)],
    ["CRC32 check of books updates", tCrc],
    ["store writer (rows + SQLite)", writeMs],
  ];
  const total = stages.reduce((a, [, ms]) => a + ms, 0);
  return {
    frames: data.length,
    events: frames.reduce((a, f) => a + f.events.length, 0),
    rows,
    stages: stages.map(([stage, ms]) => ({ stage, ms, share: ms / total })),
  };
}

export function formatIngestProfile(p: IngestProfile): string {
  const out = [
    `ingest, where the time goes (one thread, ${p.frames.toLocaleString("en")} frames → ` +
    `${p.events.toLocaleString("en")} events → ${
      p.rows.toLocaleString("en")
    } rows; best of rounds)`,
  ];
  for (const s of p.stages) {
    out.push(
      `  ${s.stage.padEnd(46)} ${s.ms.toFixed(0).padStart(6)} ms  ${
        (s.share * 100).toFixed(1).padStart(5)
      } %`,
    );
  }
  return out.join("\n");
}

if (import.meta.main) console.log(formatIngestProfile(await runIngestProfile()));
