/**
 * The daemon's market feed: one Bitget public WebSocket connection on the main thread (the
 * collector's PublicWsConnection and Normalizer: pacing, pings, reconnects, book checksums and
 * sequence checks) delivering each frame's MarketEvents synchronously, so a decision is taken
 * in the same turn as the frame that caused it (tick-to-order latency), and recording them.
 *
 * Receive times are stamped with a µs wall clock (`preciseNow`): every event of one frame shares
 * it and no two frames do, so the database the daemon records replays, in receive order, exactly
 * the sequence the daemon traded on (backtest `order: recv`).
 *
 * Gap state per symbol (`inGap`): from a disconnect, or a book the Normalizer had to resync,
 * until that symbol's next book snapshot. No new exposure is taken meanwhile (engine gap guard).
 */
import { LagClock } from "../market/replay_clock.ts";
import { Normalizer } from "../bitget/normalize.ts";
import { PublicWsConnection } from "../bitget/public_ws.ts";
import { type DataFrame, type MalformedFrame, subKey } from "../bitget/wire.ts";
import type { Channel, GapEvent, MarketEvent } from "../market/events.ts";
import type { Logger } from "../ops/log.ts";
import type { RunnerSettings } from "../ingest/messages.ts";

/** Epoch ms with µs resolution (performance.timeOrigin + performance.now()). */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

export interface FeedOptions {
  url: string;
  instType: string;
  symbols: readonly string[];
  channels: readonly Channel[];
  ws: RunnerSettings["ws"];
  logger: Logger;
}

export interface FeedHandlers {
  /** The events of one data frame (`frames` = "SYMBOL|channel" of it), in the frame's order. */
  onEvents(events: MarketEvent[], frameKey: string): void;
  /** A gap (disconnect, resync, subscribe error) for the record. */
  onGap?(gap: GapEvent): void;
}

export interface FeedStats {
  state: string;
  frames: number;
  reconnects: number;
  malformed: number;
  checksumFailures: number;
  sequenceGaps: number;
  /** Wall ms since the last data frame (NaN before the first). */
  sinceLastFrameMs: number;
  /**
   * Receive lag p50 over the last interval: receive time − exchange push time (ms). Against a
   * replayed recording the exchange times are old: the lag is then taken relative to the first
   * frame's (`replayed` true).
   */
  lagP50Ms: number;
  replayed: boolean;
}

/** Cumulative tallies of the feed (the Prometheus counters' source; see telemetry.ts). */
export interface FeedCounts {
  /** Data frames received by channel. */
  frames: Record<string, number>;
  /** Frames dropped as malformed, by reason (ws/protocol and normalizer reasons). */
  malformed: Record<string, number>;
  /** Receive lag of the last frame by channel, ms (replayed recordings: relative, see LagClock). */
  lagMs: Record<string, number>;
}

export class MarketFeed {
  private readonly conn: PublicWsConnection;
  private readonly normalizer: Normalizer;
  private readonly gapped = new Set<string>();
  private readonly out: MarketEvent[] = [];
  private frames = 0;
  private malformed = 0;
  private readonly counts: FeedCounts = { frames: {}, malformed: {}, lagMs: {} };
  private lastFrame = NaN;
  private readonly lagClock = new LagClock();
  private lags: number[] = [];

  constructor(private readonly o: FeedOptions, private readonly h: FeedHandlers) {
    const log = o.logger.child({ component: "feed" });
    for (const s of o.symbols) this.gapped.add(s); // nothing known before the first snapshot
    this.normalizer = new Normalizer({
      onResync: (symbol, channel) => {
        log.warn("book out of sync, resubscribing", { symbol, channel });
        this.gapped.add(symbol);
        this.conn.resync(symbol, channel);
      },
    });
    this.conn = new PublicWsConnection(
      {
        url: o.url,
        instType: o.instType,
        ...o.ws,
        logger: log,
        name: "feed",
        recvClock: preciseNow,
      },
      {
        onData: (f, recvTs) => this.onData(f, recvTs),
        onGap: (g) => h.onGap?.(g),
        onMalformed: (m) => this.onMalformed(m, log),
        onDisconnect: () => {
          this.normalizer.resetBooks();
          for (const s of o.symbols) this.gapped.add(s);
        },
        onSubscribeError: (info) => {
          const now = Date.now();
          h.onGap?.({
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
    const keys = [];
    for (const symbol of o.symbols) {
      for (const channel of o.channels) keys.push({ symbol, channel });
    }
    this.conn.subscribe(keys);
  }

  start(): void {
    this.conn.start();
  }

  /** True while `symbol` has no trustworthy book (see module doc). */
  inGap(symbol: string): boolean {
    return this.gapped.has(symbol);
  }

  private onData(f: DataFrame, recvTs: number): void {
    this.frames++;
    this.lastFrame = performance.now();
    const ch = f.arg.channel;
    this.counts.frames[ch] = (this.counts.frames[ch] ?? 0) + 1;
    if (f.ts !== null) {
      const lag = this.lagClock.lag(recvTs - f.ts);
      if (this.lags.length < 4096) this.lags.push(lag);
      this.counts.lagMs[ch] = lag;
    }
    const out = this.out;
    out.length = 0;
    const err = this.normalizer.apply(f, recvTs, out);
    if (err) {
      this.onMalformed(err, null);
      return;
    }
    for (const ev of out) {
      if (ev.kind === "book" && (ev.channel === "books15" || ev.action === "snapshot")) {
        this.gapped.delete(ev.symbol);
      }
    }
    if (out.length > 0) this.h.onEvents(out.slice(), subKey(f.arg.instId, f.arg.channel));
  }

  private onMalformed(m: MalformedFrame, log: Logger | null): void {
    this.malformed++;
    this.counts.malformed[m.reason] = (this.counts.malformed[m.reason] ?? 0) + 1;
    if (this.malformed <= 5) {
      (log ?? this.o.logger).warn("malformed frame", { reason: m.reason, detail: m.detail });
    }
  }

  /**
   * Cumulative frames by channel, malformed frames by reason, and the last receive lag (ms) by
   * channel; unlike `stats` it resets nothing (the metrics sampler reads it).
   */
  feedCounts(): Readonly<FeedCounts> {
    return this.counts;
  }

  /** Connection state, reconnects and wall ms since the last data frame; resets nothing. */
  feedHealth(): { state: string; reconnects: number; sinceLastFrameMs: number } {
    const ws = this.conn.stats();
    return {
      state: ws.state,
      reconnects: ws.reconnects,
      sinceLastFrameMs: Number.isNaN(this.lastFrame) ? NaN : performance.now() - this.lastFrame,
    };
  }

  /** Statistics; resets the lag window. */
  stats(): FeedStats {
    const c = this.normalizer.counters;
    const ws = this.conn.stats();
    const lags = this.lags.sort((a, b) => a - b);
    const p50 = lags.length > 0 ? lags[Math.floor(lags.length / 2)] : NaN;
    this.lags = [];
    return {
      state: ws.state,
      frames: this.frames,
      reconnects: ws.reconnects,
      malformed: this.malformed,
      checksumFailures: c.checksumFailures,
      sequenceGaps: c.sequenceGaps,
      sinceLastFrameMs: Number.isNaN(this.lastFrame) ? NaN : performance.now() - this.lastFrame,
      lagP50Ms: p50,
      replayed: this.lagClock.replayed,
    };
  }

  /** Closes the socket; returns the gaps still open (endTs = now), for the record. */
  async stop(): Promise<GapEvent[]> {
    await this.conn.stop();
    const now = Date.now();
    return this.normalizer.closeOpenGaps(now, now, "unresolved at stop");
  }
}
