/**
 * The work of one ingest shard, independent of where it runs (a Web Worker in production,
 * in-process in tests): one PublicWsConnection + one Normalizer, events batched to `post`.
 *
 * Batches go out every `batchMaxMs` (default 50 ms) or `batchMaxEvents` (default 1000), whichever
 * comes first; stats every `statsIntervalMs`. Keep this module free of npm imports: the worker may
 * run with read access to `src/` only.
 */
import { LagClock } from "../market/replay_clock.ts";
import { Normalizer } from "../bitget/normalize.ts";
import { PublicWsConnection } from "../bitget/public_ws.ts";
import { type DataFrame, type MalformedFrame, subKey } from "../bitget/wire.ts";
import type { Channel, MarketEvent } from "../market/events.ts";
import type { Level, Logger } from "../ops/log.ts";
import type { FromWorker, RunnerSettings, StatsMessage } from "./messages.ts";
import type { ShardPlan } from "./shards.ts";

const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
/** Receive-lag samples kept per stats interval (reservoir sampling beyond this). */
const LAG_RESERVOIR = 4096;
/** Malformed frames logged per stats interval (the rest are only counted). */
const MALFORMED_LOG_LIMIT = 5;

/** A Logger that forwards lines as `log` messages. */
export function postingLogger(
  shard: number,
  post: (m: FromWorker) => void,
  level: Level = "info",
  base: Record<string, unknown> = {},
): Logger {
  const min = RANK[level];
  const emit = (lv: Level, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[lv] >= min) {
      post({ type: "log", shard, level: lv, msg, fields: { ...base, ...fields } });
    }
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (f) => postingLogger(shard, post, level, { ...base, ...f }),
  };
}

/** p-quantile (0..1) of an ascending sample (nearest rank). */
function quantile(sorted: Float64Array, p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round(p * (sorted.length - 1))));
  return sorted[i];
}

export class ShardRunner {
  private readonly conn: PublicWsConnection;
  private readonly normalizer: Normalizer;
  private readonly log: Logger;
  private events: MarketEvent[] = [];
  private frameCounts: Record<string, number> = {};
  private firstRecvTs = 0;
  private batchTimer: ReturnType<typeof setTimeout> | undefined;
  private statsTimer: ReturnType<typeof setInterval> | undefined;
  private readonly batchMaxMs: number;
  private readonly batchMaxEvents: number;
  private readonly statsIntervalMs: number;
  // Interval statistics.
  private intervalStart = performance.now();
  private channelFrames: Record<string, number> = {};
  private lag = new Float64Array(LAG_RESERVOIR);
  private lagN = 0;
  private lagSeen = 0;
  private readonly lagClock = new LagClock();
  private malformedLogged = 0;
  private readonly wireMalformed: Record<string, number> = {};
  private stopping = false;

  constructor(
    readonly shard: ShardPlan,
    settings: RunnerSettings,
    private readonly post: (m: FromWorker) => void,
  ) {
    this.batchMaxMs = settings.batchMaxMs ?? 50;
    this.batchMaxEvents = settings.batchMaxEvents ?? 1000;
    this.statsIntervalMs = settings.statsIntervalMs ?? 10_000;
    this.log = postingLogger(shard.id, post, settings.logLevel ?? "info", { shard: shard.id });
    this.normalizer = new Normalizer({
      onResync: (symbol, channel) => {
        this.log.warn("book out of sync, resubscribing", { symbol, channel });
        this.conn.resync(symbol, channel);
      },
    });
    this.conn = new PublicWsConnection(
      { url: settings.wsUrl, instType: settings.instType, ...settings.ws, logger: this.log },
      {
        onData: (f, recvTs) => this.onData(f, recvTs),
        onGap: (g) => this.push(g),
        onMalformed: (m) => this.onMalformed(m, this.wireMalformed),
        onDisconnect: () => this.normalizer.resetBooks(),
        onSubscribeError: (info) => {
          // Recorded as a zero-length gap so the store's gap table shows the refused channel.
          const now = Date.now();
          this.push({
            kind: "gap",
            symbol: info.symbol,
            channel: info.channel as Channel,
            ts: now,
            recvTs: now,
            startTs: now,
            endTs: now,
            reason: "subscribe_error",
            detail: `code ${info.code}: ${info.msg}`,
          });
        },
      },
    );
    this.conn.subscribe(shard.keys);
  }

  start(): void {
    this.conn.start();
    this.intervalStart = performance.now();
    this.statsTimer = setInterval(() => this.postStats(), this.statsIntervalMs);
  }

  /**
   * Stops reading: closes the socket, emits gaps still open (disconnect gaps, books awaiting a
   * snapshot) with endTs = now, posts the final batch and final stats. Resolves when done.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.statsTimer);
    await this.conn.stop();
    const now = Date.now();
    for (const g of this.normalizer.closeOpenGaps(now, now, "unresolved at stop")) this.push(g);
    this.flush();
    this.postStats();
  }

  private onData(f: DataFrame, recvTs: number): void {
    if (this.stopping) return;
    const key = subKey(f.arg.instId, f.arg.channel);
    this.frameCounts[key] = (this.frameCounts[key] ?? 0) + 1;
    this.channelFrames[f.arg.channel] = (this.channelFrames[f.arg.channel] ?? 0) + 1;
    if (f.ts !== null) this.sampleLag(this.lagClock.lag(recvTs - f.ts));
    if (this.firstRecvTs === 0) this.firstRecvTs = recvTs;
    const err = this.normalizer.apply(f, recvTs, this.events);
    if (err) this.onMalformed(err, null);
    this.afterPush();
  }

  private push(e: MarketEvent): void {
    if (this.firstRecvTs === 0) this.firstRecvTs = e.recvTs;
    this.events.push(e);
    this.afterPush();
  }

  private afterPush(): void {
    if (this.events.length >= this.batchMaxEvents) this.flush();
    else if (this.batchTimer === undefined && this.events.length > 0) {
      this.batchTimer = setTimeout(() => this.flush(), this.batchMaxMs);
    }
  }

  private flush(): void {
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    if (this.events.length === 0 && Object.keys(this.frameCounts).length === 0) return;
    this.post({
      type: "batch",
      shard: this.shard.id,
      events: this.events,
      frameCounts: this.frameCounts,
      firstRecvTs: this.firstRecvTs,
    });
    this.events = [];
    this.frameCounts = {};
    this.firstRecvTs = 0;
  }

  private sampleLag(ms: number): void {
    this.lagSeen++;
    if (this.lagN < LAG_RESERVOIR) this.lag[this.lagN++] = ms;
    else {
      const j = Math.floor(Math.random() * this.lagSeen);
      if (j < LAG_RESERVOIR) this.lag[j] = ms;
    }
  }

  private onMalformed(m: MalformedFrame, counts: Record<string, number> | null): void {
    if (counts) counts[m.reason] = (counts[m.reason] ?? 0) + 1;
    if (this.malformedLogged++ < MALFORMED_LOG_LIMIT) {
      this.log.warn("malformed frame", { reason: m.reason, detail: m.detail, excerpt: m.excerpt });
    }
  }

  /** Builds the stats message for the interval since the last call and resets the interval. */
  statsSnapshot(): StatsMessage {
    const now = performance.now();
    const secs = Math.max(1e-3, (now - this.intervalStart) / 1000);
    const framesPerSec: Record<string, number> = {};
    for (const [ch, n] of Object.entries(this.channelFrames)) framesPerSec[ch] = n / secs;
    let lagMs: StatsMessage["lagMs"] = null;
    if (this.lagN > 0) {
      const s = this.lag.slice(0, this.lagN).sort();
      lagMs = {
        p50: quantile(s, 0.5),
        p99: quantile(s, 0.99),
        samples: this.lagSeen,
        replayed: this.lagClock.replayed,
      };
    }
    const c = this.normalizer.counters;
    const malformed: Record<string, number> = { ...this.wireMalformed };
    for (const [k, v] of Object.entries(c.malformed)) malformed[k] = (malformed[k] ?? 0) + v;
    const ws = this.conn.stats();
    this.intervalStart = now;
    this.channelFrames = {};
    this.lagN = 0;
    this.lagSeen = 0;
    this.malformedLogged = 0;
    return {
      type: "stats",
      shard: this.shard.id,
      ts: Date.now(),
      intervalMs: secs * 1000,
      framesPerSec,
      lagMs,
      connection: ws.state,
      reconnects: ws.reconnects,
      malformed,
      checksumFailures: c.checksumFailures,
      sequenceGaps: c.sequenceGaps,
      subscribeErrors: ws.subscribeErrors,
      duplicateTrades: c.duplicateTrades,
      subscriptions: ws.subscriptions,
    };
  }

  private postStats(): void {
    this.post(this.statsSnapshot());
  }
}
