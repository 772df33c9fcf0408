/**
 * The collect service: WebSocket shards (one ingest worker each) and REST pollers feed one
 * BatchWriter that owns the SQLite file; retention and a periodic status line run beside them.
 *
 * Order of start-up is chosen so that bad input writes nothing: the database file is checked
 * (existing → must be a bitget-bot database), then the symbols are checked against Bitget's
 * contracts (unknown → CollectError, exit 2), and only then is the file created.
 *
 * Shutdown (SIGTERM/SIGINT, `--duration`, or an AbortSignal): stop the workers (each posts its final
 * batch), stop the pollers, commit, end the run; bounded by `shutdownDeadlineMs`.
 */
import type { Config } from "../config/config.ts";
import type { Channel, MarketEvent } from "../market/events.ts";
import type { ContractSpec } from "../market/contracts.ts";
import type { Logger } from "../ops/log.ts";
import { BitgetPublicRest, BitgetRestError } from "../bitget/rest_public.ts";
import { Store } from "../store/store.ts";
import { BatchWriter } from "../store/batch_writer.ts";
import { runRetention } from "../store/retention.ts";
import { channelsPerConnection, planShards } from "../ingest/shards.ts";
import { runnerSettings, WorkerPool } from "../ingest/worker_pool.ts";
import type { StoppedMessage } from "../ingest/messages.ts";
import { pollerIntervals, RestPollers } from "../ingest/pollers.ts";
import { LatencyHistogram } from "../ops/latency.ts";
import { CollectTelemetry } from "./telemetry.ts";
import { StatusBoard } from "./status.ts";
import { VERSION } from "../version.ts";

/** A user-facing failure with the exit code the CLI should return (2 = bad input, 1 = runtime). */
export class CollectError extends Error {
  override name = "CollectError";
  constructor(message: string, readonly exitCode: 1 | 2) {
    super(message);
  }
}

export interface CollectorOptions {
  config: Config;
  symbols: string[];
  channels: Channel[];
  dbPath: string;
  /** Stop after this many ms (undefined = until a signal). */
  durationMs?: number;
  logger: Logger;
  /** Stops the collector when aborted (in-process use: demo, tests, benchmarks). */
  signal?: AbortSignal;
  /** Listen for SIGTERM/SIGINT (the CLI does; in-process callers usually not). */
  handleSignals?: boolean;
  /** Give each ingest worker only net to the WS host and read of its source. */
  restrictWorkerPermissions?: boolean;
  /** Command-line arguments recorded in `runs`. */
  argv?: readonly string[];
  /** Hard limit for the whole shutdown (ms). Default 4500 (systemd gets exit 0 within 5 s). */
  shutdownDeadlineMs?: number;
  /** Called with the metrics endpoint's bound address (tests listen on port 0). */
  onMetricsListen?: (addr: { hostname: string; port: number }) => void;
}

export interface CollectSummary {
  runId: number;
  durationMs: number;
  frames: number;
  events: number;
  rows: number;
  duplicates: number;
  batches: number;
  gaps: number;
  reconnects: number;
  malformed: number;
  checksumFailures: number;
  /** Frame receive → commit latency (ms). */
  commitLatency: { count: number; p50: number; p99: number; max: number };
  peakRssBytes: number;
  /**
   * Ingest window of the WebSocket data: receive time of the first frame and wall time of the last
   * shard commit with rows (ms); REST data only when no shard wrote.
   */
  firstRecvTs: number;
  lastCommitTs: number;
  stopReason: string;
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "";
  }
}

/** Throws CollectError unless `path` is absent or a bitget-bot database. Writes nothing. */
function checkDatabase(path: string): void {
  try {
    Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw new CollectError(`cannot access database ${path}: ${(e as Error).message}`, 1);
  }
  try {
    Store.open(path, { readonly: true }).close();
  } catch (e) {
    throw new CollectError((e as Error).message, 2);
  }
}

/** Fetches contract specs; throws CollectError naming every configured symbol Bitget lacks. */
async function checkSymbols(
  rest: BitgetPublicRest,
  symbols: readonly string[],
  productType: string,
): Promise<{ specs: ContractSpec[]; raw: Record<string, unknown>[] }> {
  let res: Awaited<ReturnType<BitgetPublicRest["contracts"]>>;
  try {
    res = await rest.contracts();
  } catch (e) {
    const why = e instanceof BitgetRestError ? e.message : String(e);
    throw new CollectError(`cannot fetch contracts from ${rest.opts.baseUrl}: ${why}`, 1);
  }
  const known = new Map(res.specs.map((s) => [s.symbol, s]));
  const unknown = symbols.filter((s) => !known.has(s));
  if (unknown.length > 0) {
    throw new CollectError(
      `unknown symbol(s) ${unknown.join(", ")}: not listed in ${productType} contracts ` +
        `(${known.size} listed, e.g. ${[...known.keys()].slice(0, 5).join(", ")})`,
      2,
    );
  }
  const wanted = new Set(symbols);
  return {
    specs: res.specs.filter((s) => wanted.has(s.symbol)),
    raw: (res.raw as Record<string, unknown>[]).filter((r) => wanted.has(String(r.symbol))),
  };
}

/** Runs the collector until stopped; resolves with a summary once everything is committed. */
export async function runCollector(opts: CollectorOptions): Promise<CollectSummary> {
  const { config, logger: log } = opts;
  const started = Date.now();
  checkDatabase(opts.dbPath);
  const rest = new BitgetPublicRest({
    baseUrl: config.exchange.restUrl,
    productType: config.exchange.productType,
    ratePerSecond: config.rest.ratePerSecond,
    timeout: config.rest.timeout,
    logger: log,
    onResponse: (endpoint, status) => tel?.rest(endpoint, status),
  });
  let tel: CollectTelemetry | null = null;
  const contracts = await checkSymbols(rest, opts.symbols, config.exchange.productType);

  let store: Store;
  try {
    store = Store.open(opts.dbPath, { create: true });
  } catch (e) {
    throw new CollectError((e as Error).message, 1);
  }
  const runId = store.beginRun({
    command: "collect",
    args: opts.argv ?? [],
    version: VERSION,
    host: hostname(),
    startedTs: started,
  });
  store.upsertContracts(contracts.specs, contracts.raw);

  const latency = new LatencyHistogram();
  let pendingRecv: number[] = [];
  let firstRecvTs = 0;
  let lastCommitTs = 0;
  const board = new StatusBoard();
  const writer = new BatchWriter(store, {
    batchMaxAge: config.store.batchMaxAge,
    batchMaxEvents: config.store.batchMaxEvents,
    runId,
    onCommit: () => {
      const now = Date.now();
      if (pendingRecv.length > 0) lastCommitTs = now;
      for (const t of pendingRecv) latency.add(now - t);
      pendingRecv = [];
    },
    onError: (err, dropped) =>
      log.error("commit failed", { error: String(err), droppedEvents: dropped }),
  });
  const push = (events: MarketEvent[], frames?: Record<string, number>) => {
    if (firstRecvTs === 0 && events.length > 0) firstRecvTs = events[0].recvTs;
    for (const ev of events) {
      pendingRecv.push(ev.recvTs);
      if (ev.kind === "gap") {
        board.gaps++;
        tel?.gap(ev.reason);
      }
    }
    writer.pushAll(events, frames);
  };

  const minConnections = config.ws.minConnections === "auto"
    ? navigator.hardwareConcurrency
    : config.ws.minConnections;
  const shards = planShards(
    opts.symbols,
    opts.channels,
    channelsPerConnection(
      opts.symbols.length,
      opts.channels.length,
      config.ws.maxChannelsPerConnection,
      minConnections,
    ),
  );
  // Each shard commits its own batches (ingest/shard_writer.ts); this thread writes REST data.
  const shardTotals: NonNullable<StoppedMessage["store"]>[] = [];
  const pool = new WorkerPool({
    settings: {
      ...runnerSettings(config),
      store: {
        path: opts.dbPath,
        batchMaxAge: config.store.batchMaxAge,
        batchMaxEvents: config.store.batchMaxEvents,
        runId,
        // Checkpoints cost a third of a shard writer's time (PRAGMA wal_checkpoint copies WAL
        // pages into the database and syncs it) when they run inside its commits; the main
        // thread runs them instead (below), off the ingest path.
        walAutocheckpoint: 0,
      },
    },
    onStopped: (m) => {
      if (m.store) {
        shardTotals.push(m.store);
        latency.merge(m.store.latency);
      }
    },
    shards,
    restrictPermissions: opts.restrictWorkerPermissions,
    logger: log,
    onBatch: (b) => push(b.events, b.frameCounts),
    onStats: (s) => {
      board.update(s);
      tel?.shardStats(s);
    },
    onLog: (l) => log[l.level](l.msg, { shard: l.shard, ...l.fields }),
  });
  const pollers = new RestPollers(
    rest,
    opts.symbols,
    pollerIntervals(config.rest),
    {
      onEvents: (events) => push(events),
      onContracts: (specs) => store.upsertContracts(specs),
      onFundingTimes: (rows) => store.recordFundingTimes(rows),
    },
    log,
  );

  log.info("collect started", {
    db: opts.dbPath,
    symbols: opts.symbols.join(","),
    channels: opts.channels.join(","),
    shards: shards.length,
    wsUrl: config.exchange.wsPublicUrl,
    restUrl: config.exchange.restUrl,
    runId,
  });
  tel = CollectTelemetry.start({
    config,
    shards: shards.length,
    mainWriter: () => writer.stats(),
    logger: log,
    onListen: opts.onMetricsListen,
  });
  pool.start();
  pollers.start();

  let peakRss = Deno.memoryUsage().rss;
  const status = setInterval(() => {
    peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
    log.info("status", board.line(writer.stats(), latency.summary(), opts.dbPath, peakRss));
  }, config.log.statusInterval);
  // PASSIVE never waits for the shard writers: it copies what is committed and returns.
  const checkpoint = setInterval(() => {
    try {
      store.db.exec("PRAGMA wal_checkpoint(PASSIVE)");
    } catch (e) {
      log.warn("checkpoint failed", { error: String(e) });
    }
  }, CHECKPOINT_INTERVAL_MS);
  let retentionBusy = false;
  const retention = setInterval(async () => {
    if (retentionBusy) return;
    retentionBusy = true;
    try {
      const r = await runRetention(store, config.store);
      const n = Object.values(r.deleted).reduce((a, b) => a + b, 0);
      if (n > 0) log.info("retention", { deleted: n, chunks: r.chunks });
    } catch (e) {
      log.warn("retention failed", { error: String(e) });
    } finally {
      retentionBusy = false;
    }
  }, config.store.retentionCheckInterval);

  const stopReason = await waitForStop(opts);
  log.info("collect stopping", { reason: stopReason });
  clearInterval(status);
  clearInterval(retention);
  clearInterval(checkpoint);

  const deadline = Date.now() + (opts.shutdownDeadlineMs ?? 4500);
  const poolStop = await pool.stop(Math.max(500, deadline - Date.now() - 1000));
  await Promise.race([pollers.stop(), sleep(Math.max(0, deadline - Date.now() - 500))]);
  writer.close();
  await tel.close();
  peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
  const ws = writer.stats();
  store.endRun(runId, "ok");
  store.close();
  const sum = (f: (t: NonNullable<StoppedMessage["store"]>) => number) =>
    shardTotals.reduce((a, t) => a + f(t), 0);
  // The ingest window is the WebSocket data's (first frame received → last shard commit); REST
  // polls start earlier and go on until the stop, so they only count when no shard wrote.
  const wsFirst = shardTotals.map((t) => t.firstRecvTs).filter((t) => t > 0);
  if (wsFirst.length > 0) {
    firstRecvTs = Math.min(...wsFirst);
    lastCommitTs = Math.max(...shardTotals.map((t) => t.lastCommitTs));
  }
  const summary: CollectSummary = {
    runId,
    durationMs: Date.now() - started,
    frames: ws.frames + sum((t) => t.frames),
    events: ws.events + sum((t) => t.events),
    rows: ws.rows + sum((t) => t.rows),
    duplicates: ws.duplicates + sum((t) => t.duplicates),
    batches: ws.batches + sum((t) => t.batches),
    gaps: board.gaps + sum((t) => t.gaps),
    reconnects: board.totalReconnects(),
    malformed: board.totalMalformed(),
    checksumFailures: board.totalChecksumFailures(),
    commitLatency: latency.summary(),
    peakRssBytes: peakRss,
    firstRecvTs,
    lastCommitTs,
    stopReason,
  };
  const { commitLatency: _, ...flat } = summary;
  log.info("collect stopped", {
    ...flat,
    latencyP50Ms: summary.commitLatency.p50,
    latencyP99Ms: summary.commitLatency.p99,
    workersTerminated: poolStop.terminated,
  });
  return summary;
}

/** How often the main thread checkpoints the WAL the shard writers fill (ms). */
const CHECKPOINT_INTERVAL_MS = 1000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves with the reason the collector should stop. */
function waitForStop(opts: CollectorOptions): Promise<string> {
  return new Promise((resolve) => {
    const cleanups: (() => void)[] = [];
    const done = (why: string) => {
      for (const c of cleanups) c();
      resolve(why);
    };
    if (opts.durationMs !== undefined) {
      const t = setTimeout(() => done("duration"), opts.durationMs);
      cleanups.push(() => clearTimeout(t));
    }
    if (opts.signal) {
      if (opts.signal.aborted) return done("aborted");
      const h = () => done("aborted");
      opts.signal.addEventListener("abort", h, { once: true });
      cleanups.push(() => opts.signal!.removeEventListener("abort", h));
    }
    if (opts.handleSignals) {
      for (const sig of ["SIGTERM", "SIGINT"] as const) {
        const h = () => done(sig);
        Deno.addSignalListener(sig, h);
        cleanups.push(() => Deno.removeSignalListener(sig, h));
      }
    }
  });
}
