/**
 * Messages between the main thread and the ingest workers (structured-clone friendly).
 *
 * main → worker: `start` (once, right after the worker is created), `stop`.
 * worker → main: `batch` (every ~50 ms or 1000 events), `stats` (every statsIntervalMs), `log`,
 * `stopped` (after the final batch).
 */
import type { MarketEvent } from "../market/events.ts";
import type { ShardPlan } from "./shards.ts";

/** Everything a worker needs; built on the main thread from the Config (see `runnerSettings`). */
export interface RunnerSettings {
  wsUrl: string;
  instType: string;
  ws: {
    maxMessagesPerSecond: number;
    maxArgsPerMessage: number;
    pingInterval: number;
    staleAfter: number;
    reconnectMinDelay: number;
    reconnectMaxDelay: number;
    maxSubscribesPerHour: number;
    /** Uptime after which the reconnect backoff resets (ms). */
    healthyAfter?: number;
  };
  /** Longest a batch waits before it is posted (ms, default 50). */
  batchMaxMs?: number;
  /** Events per batch before an early post (default 1000). */
  batchMaxEvents?: number;
  /** Stats cadence (ms, default 10 000). */
  statsIntervalMs?: number;
  logLevel?: "debug" | "info" | "warn" | "error";
  /** When set, the worker commits its own batches to this database (see ingest_worker.ts). */
  store?: WorkerStoreSettings;
}

/** Per-shard writer settings: the database the main thread created and migrated. */
export interface WorkerStoreSettings {
  path: string;
  /** ms; config `store.batchMaxAge`. */
  batchMaxAge: number;
  batchMaxEvents: number;
  runId: number;
  /**
   * `PRAGMA wal_autocheckpoint` of the writer's connection (pages); 0 = never from this
   * connection (the collector's main thread checkpoints instead). Absent: SQLite's default.
   */
  walAutocheckpoint?: number;
}

/** A shard writer's totals (since the worker started). Latencies: frame receive → commit, ms. */
export interface WorkerStoreStats {
  frames: number;
  events: number;
  rows: number;
  /** Rows written per raw table (cumulative). */
  rowsByTable: Record<string, number>;
  /** Gap events stored, by reason (cumulative). */
  gapsByReason: Record<string, number>;
  duplicates: number;
  batches: number;
  pending: number;
  gaps: number;
  failedCommits: number;
  droppedEvents: number;
  commitP99Ms: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Wall time (epoch ms) of the first receive and the last commit with rows; 0 if none. */
  firstRecvTs: number;
  lastCommitTs: number;
}

export interface StartMessage {
  type: "start";
  shard: ShardPlan;
  settings: RunnerSettings;
}

export interface StopMessage {
  type: "stop";
}

export type ToWorker = StartMessage | StopMessage;

export interface BatchMessage {
  type: "batch";
  shard: number;
  events: MarketEvent[];
  /** Data frames per `SYMBOL|channel` in this batch. */
  frameCounts: Record<string, number>;
  /** Local receive time (epoch ms) of the first frame in this batch. */
  firstRecvTs: number;
}

/**
 * Periodic worker statistics. `framesPerSec` and `lagMs` cover the last interval; the other
 * counters are totals since the worker started (diff them for rates).
 */
export interface StatsMessage {
  type: "stats";
  shard: number;
  /** Epoch ms when the stats were taken. */
  ts: number;
  intervalMs: number;
  /** Data frames per second per channel over the interval. */
  framesPerSec: Record<string, number>;
  /**
   * Receive lag = recvTs − exchange push ts (ms) over the interval; null without samples. Against
   * a replayed recording (`replayed`) it is relative to the first frame's offset
   * (market/replay_clock.ts).
   */
  lagMs: { p50: number; p99: number; samples: number; replayed: boolean } | null;
  connection: string;
  reconnects: number;
  malformed: Record<string, number>;
  checksumFailures: number;
  sequenceGaps: number;
  subscribeErrors: number;
  duplicateTrades: number;
  subscriptions: { pending: number; active: number; failed: number };
  /** Present when the worker writes its own batches. */
  store?: WorkerStoreStats;
}

export interface LogMessage {
  type: "log";
  shard: number;
  level: "debug" | "info" | "warn" | "error";
  msg: string;
  fields: Record<string, unknown>;
}

export interface StoppedMessage {
  type: "stopped";
  shard: number;
  /** Final writer totals and the receive → commit latency histogram (LatencyHistogram.sparse). */
  store?: WorkerStoreStats & { latency: [bucket: number, count: number][] };
}

export type FromWorker = BatchMessage | StatsMessage | LogMessage | StoppedMessage;
