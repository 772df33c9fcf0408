/**
 * `deno task demo`: the main job on the bundled real sample, with no network and no keys.
 *
 * 1. starts the loopback Bitget v2 simulator on 127.0.0.1 serving `sample/…45s.jsonl.gz` at real speed;
 * 2. runs the real collector (ingest worker, REST pollers, SQLite writer) against it for 30 s
 *    into `data/demo.db` (a fresh file each run);
 * 3. prints `stats` for that file.
 *
 * Usage: deno task demo [--duration 30s] [--db data/demo.db]
 */
import { parseArgs } from "node:util";
import { startSimulator } from "../src/simulator/server.ts";
import { parseConfig } from "../src/config/config.ts";
import { parseDuration } from "../src/config/duration.ts";
import { createLogger } from "../src/ops/log.ts";
import { runCollector } from "../src/collector/collector.ts";
import { statsCommand } from "../src/cli/stats.ts";

const SAMPLE = new URL(
  "../sample/bitget_v2_public_BTCUSDT-ETHUSDT_20240718T2357_45s.jsonl.gz",
  import.meta.url,
);

const { values } = parseArgs({
  args: Deno.args,
  options: { duration: { type: "string", default: "30s" }, db: { type: "string" } },
});
const db = values.db ?? "data/demo.db";
for (const suffix of ["", "-wal", "-shm"]) {
  await Deno.remove(db + suffix).catch(() => {});
}

const log = createLogger({ format: "text" });
const sim = await startSimulator({ recording: SAMPLE.pathname, speed: 1 });
log.info("simulator listening", { wsUrl: sim.wsUrl, restUrl: sim.restUrl });
const config = parseConfig({
  exchange: { wsPublicUrl: sim.wsUrl, restUrl: sim.restUrl },
  collect: { symbols: ["BTCUSDT", "ETHUSDT"], db },
  log: { statusInterval: "5s" },
});
try {
  const summary = await runCollector({
    config,
    symbols: config.collect.symbols,
    channels: ["ticker", "trade", "books15", "books", "candle1m", "candle15m"],
    dbPath: db,
    durationMs: parseDuration(values.duration),
    logger: log,
    handleSignals: true,
    argv: ["demo"],
  });
  console.log(
    `\ncollected ${summary.frames} frames → ${summary.rows} rows in ${summary.batches} commits; ` +
      `receive→commit latency p50 ${summary.commitLatency.p50.toFixed(1)} ms, ` +
      `p99 ${summary.commitLatency.p99.toFixed(1)} ms; peak RSS ${
        (summary.peakRssBytes / 1e6).toFixed(0)
      } MB\n`,
  );
} finally {
  await sim.close();
}
Deno.exit(await statsCommand([db]));
