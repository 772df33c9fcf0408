/**
 * The collector's Prometheus metrics and `/healthz` (config `metrics:`, ops/metrics/). The ingest
 * shards run on worker threads and report a stats message every `log.statusInterval / 2`
 * (ingest/shard_runner.ts): frames per channel over the interval, cumulative reconnects and
 * malformed frames, and their store writer's cumulative rows by table and gaps by reason. Those
 * are folded into the counters here (cumulative tallies through `Totals`, so a restarted shard
 * never makes a counter go down); REST answers and the main thread's own writer (REST samples)
 * are counted directly.
 *
 * `/healthz` is 200 only while every shard's connection is open and each has reported data frames
 * within `metrics.staleAfter`.
 */
import type { Config } from "../config/config.ts";
import type { StatsMessage } from "../ingest/messages.ts";
import type { Logger } from "../ops/log.ts";
import { BotMetrics } from "../ops/metrics/registry.ts";
import { type HealthStatus, type MetricsServer, serveMetrics } from "../ops/metrics/server.ts";
import { Totals } from "../ops/metrics/totals.ts";
import type { BatchWriterStats } from "../store/batch_writer.ts";
import { VERSION } from "../version.ts";

interface ShardSeen {
  connection: string;
  /** Epoch ms of the last stats message that carried data frames (NaN: none yet). */
  lastFramesTs: number;
}

export class CollectTelemetry {
  readonly metrics = new BotMetrics({ version: VERSION });
  private server: MetricsServer | null = null;
  private readonly totals = new Totals();
  private readonly shards = new Map<number, ShardSeen>();
  private readonly startedTs = Date.now();

  private constructor(
    private readonly config: Config,
    private readonly shardCount: number,
    private readonly mainWriter: () => BatchWriterStats,
  ) {}

  /**
   * Serves the endpoint unless `metrics.listen` is `off`. An address that cannot be bound is
   * logged as an error and collection goes on without it (recording never stops for monitoring).
   */
  static start(o: {
    config: Config;
    shards: number;
    /** The main thread's writer (REST samples), read before each scrape. */
    mainWriter: () => BatchWriterStats;
    logger: Logger;
    onListen?: (addr: { hostname: string; port: number }) => void;
  }): CollectTelemetry {
    const t = new CollectTelemetry(o.config, o.shards, o.mainWriter);
    const listen = o.config.metrics.listen;
    if (listen === "off") return t;
    try {
      t.server = serveMetrics({
        listen,
        metrics: t.metrics,
        health: () => t.health(),
        beforeRender: () => t.storeRows("main", o.mainWriter().rowsByTable),
        onListen: (addr) => {
          o.logger.info("metrics endpoint listening", {
            url: `http://${addr.hostname}:${addr.port}/metrics`,
          });
          o.onListen?.(addr);
        },
      });
    } catch (e) {
      o.logger.error("metrics endpoint not served", {
        listen,
        error: (e as Error).message,
        hint: "set metrics.listen to a free host:port allowed by --allow-net, or off",
      });
    }
    return t;
  }

  /** One shard stats message (WorkerPool onStats). */
  shardStats(s: StatsMessage): void {
    const m = this.metrics;
    let frames = 0;
    for (const ch in s.framesPerSec) {
      // framesPerSec = frames / interval exactly (shard_runner.ts), so this is the frame count.
      const n = Math.round(s.framesPerSec[ch] * s.intervalMs / 1000);
      m.frame(ch, n);
      frames += n;
      if (s.lagMs) m.setFeedLag(ch, s.lagMs.p50 / 1000);
    }
    const key = `s${s.shard}`;
    for (const r in s.malformed) {
      m.malformedFrame(r, this.totals.delta(`${key}:m:${r}`, s.malformed[r]));
    }
    const rc = this.totals.delta(`${key}:reconnects`, s.reconnects);
    for (let i = 0; i < rc; i++) m.reconnect("public");
    if (s.store) {
      this.storeRows(key, s.store.rowsByTable);
      for (const r in s.store.gapsByReason) {
        const d = this.totals.delta(`${key}:g:${r}`, s.store.gapsByReason[r]);
        for (let i = 0; i < d; i++) m.gap(r);
      }
    }
    const prev = this.shards.get(s.shard);
    this.shards.set(s.shard, {
      connection: s.connection,
      lastFramesTs: frames > 0 ? s.ts : prev?.lastFramesTs ?? NaN,
    });
  }

  /** A REST answer: endpoint path and HTTP status, or timeout/network. */
  rest(endpoint: string, status: number | string): void {
    this.metrics.restRequest(endpoint, status);
  }

  /** A gap the main thread stored (REST side). */
  gap(reason: string): void {
    this.metrics.gap(reason);
  }

  private storeRows(key: string, rowsByTable: Readonly<Record<string, number>>): void {
    for (const t in rowsByTable) {
      this.metrics.rows(t, this.totals.delta(`${key}:r:${t}`, rowsByTable[t]));
    }
  }

  /** `/healthz`: see the module doc. */
  health(): HealthStatus {
    const now = Date.now();
    const stale = this.config.metrics.staleAfter;
    const reasons: string[] = [];
    for (let id = 0; id < this.shardCount; id++) {
      const s = this.shards.get(id);
      if (!s) {
        if (now - this.startedTs > stale) reasons.push(`shard ${id}: no stats reported`);
        else reasons.push(`shard ${id}: starting`);
        continue;
      }
      if (s.connection !== "open") reasons.push(`shard ${id}: connection ${s.connection}`);
      const since = now - (Number.isFinite(s.lastFramesTs) ? s.lastFramesTs : this.startedTs);
      if (since > stale) {
        reasons.push(`shard ${id}: no data frame for ${Math.round(since / 1000)} s`);
      }
    }
    return { ok: reasons.length === 0, reasons };
  }

  /** Counts the main writer's last rows and stops the endpoint. */
  async close(): Promise<void> {
    this.storeRows("main", this.mainWriter().rowsByTable);
    await this.server?.shutdown();
    this.server = null;
  }
}
