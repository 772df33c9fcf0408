/**
 * Runs one ingest Web Worker per shard and routes their messages to callbacks on the main thread.
 *
 * A worker that crashes (uncaught error) is terminated and restarted after `restartDelayMs`
 * without touching the other shards. `stop(deadlineMs)` asks every worker to stop (each posts its
 * final batch, then `stopped`) and terminates those that have not answered by the deadline.
 *
 * Permissions: with `restrictPermissions: true` each worker gets only `net` to the WebSocket host
 * and `read` of the source tree it is loaded from. That uses `Worker` `deno.permissions`, which
 * needs the `--unstable-worker-options` flag — without the flag Deno ends the whole process
 * (exit code 70) when the worker is created, so the option defaults to false.
 */
// First: captures the Web Worker constructor before anything can initialise ORT (worker_ctor.ts).
import { spawnWorker } from "../ops/worker_ctor.ts";
import type { Config } from "../config/config.ts";
import type { Logger } from "../ops/log.ts";
import { silentLogger } from "../ops/log.ts";
import type {
  BatchMessage,
  FromWorker,
  LogMessage,
  RunnerSettings,
  StatsMessage,
  StoppedMessage,
  ToWorker,
} from "./messages.ts";
import type { ShardPlan } from "./shards.ts";
import { workerUrl } from "../ops/worker_url.ts";

export interface WorkerPoolOptions {
  settings: RunnerSettings;
  shards: ShardPlan[];
  onBatch: (b: BatchMessage) => void;
  onStats?: (s: StatsMessage) => void;
  onLog?: (l: LogMessage) => void;
  /** A worker's final message (with its writer totals when it wrote its own batches). */
  onStopped?: (m: StoppedMessage) => void;
  /** Per-worker permissions (net: WS host, read: source tree); needs --unstable-worker-options. */
  restrictPermissions?: boolean;
  /** Worker module (tests may substitute); defaults to ./ingest_worker.ts. */
  workerUrl?: URL;
  /** Delay before a crashed worker is restarted (ms, default 1000). */
  restartDelayMs?: number;
  logger?: Logger;
}

/** Worker settings from the validated config (`exchange`, `ws`, `log` sections). */
export function runnerSettings(config: Config): RunnerSettings {
  return {
    wsUrl: config.exchange.wsPublicUrl,
    instType: config.exchange.productType,
    ws: { ...config.ws },
    // Half the status period, so every status line sees fresh worker figures.
    statsIntervalMs: Math.max(500, Math.floor(config.log.statusInterval / 2)),
    logLevel: config.log.level,
  };
}

interface Slot {
  shard: ShardPlan;
  worker: Worker | null;
  stopped: boolean;
  restartTimer: ReturnType<typeof setTimeout> | undefined;
  onStopped: (() => void) | null;
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private stopping = false;
  private readonly log: Logger;
  private readonly url: URL;

  constructor(private readonly opts: WorkerPoolOptions) {
    this.log = (opts.logger ?? silentLogger).child({ component: "worker-pool" });
    this.url = opts.workerUrl ?? workerUrl("ingest_worker", import.meta.url);
  }

  /** Starts one worker per shard. */
  start(): void {
    for (const shard of this.opts.shards) {
      const slot: Slot = {
        shard,
        worker: null,
        stopped: false,
        restartTimer: undefined,
        onStopped: null,
      };
      this.slots.push(slot);
      this.spawn(slot);
    }
  }

  /** Number of live workers. */
  get running(): number {
    return this.slots.filter((s) => s.worker !== null).length;
  }

  private workerOptions(): WorkerOptions {
    if (!this.opts.restrictPermissions) return { type: "module" };
    const ws = new URL(this.opts.settings.wsUrl);
    // The source tree the worker is loaded from (…/src/), so its imports can be read.
    const srcRoot = new URL("../", this.url);
    const path = this.opts.settings.store?.path;
    const db = path ? path.slice(0, Math.max(0, path.lastIndexOf("/"))) || "." : null;
    return {
      type: "module",
      deno: {
        permissions: {
          net: [ws.host],
          // A shard that writes its own batches needs its database (and the -wal/-shm beside it).
          read: db ? [srcRoot, db] : [srcRoot],
          write: db ? [db] : false,
          env: false,
          run: false,
          ffi: false,
          sys: false,
          import: false,
        },
      },
    } as WorkerOptions;
  }

  private spawn(slot: Slot): void {
    if (this.stopping) return;
    const w = spawnWorker(this.url, this.workerOptions());
    slot.worker = w;
    w.onmessage = (e: MessageEvent<FromWorker>) => this.route(slot, e.data);
    w.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.log.error("ingest worker crashed", { shard: slot.shard.id, err: e.message });
      this.crashed(slot, w);
    };
    w.onmessageerror = () => {
      this.log.error("ingest worker message could not be decoded", { shard: slot.shard.id });
    };
    const start: ToWorker = { type: "start", shard: slot.shard, settings: this.opts.settings };
    w.postMessage(start);
  }

  private crashed(slot: Slot, w: Worker): void {
    if (slot.worker !== w) return;
    w.terminate();
    slot.worker = null;
    if (this.stopping) {
      slot.stopped = true;
      slot.onStopped?.();
      return;
    }
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      this.spawn(slot);
    }, this.opts.restartDelayMs ?? 1000);
  }

  private route(slot: Slot, m: FromWorker): void {
    switch (m.type) {
      case "batch":
        this.opts.onBatch(m);
        break;
      case "stats":
        this.opts.onStats?.(m);
        break;
      case "log":
        this.opts.onLog?.(m);
        break;
      case "stopped":
        this.opts.onStopped?.(m);
        slot.stopped = true;
        slot.worker = null;
        slot.onStopped?.();
        break;
    }
  }

  /**
   * Stops every worker: each gets `stop`, posts its final batch and `stopped`; workers that have
   * not answered within `deadlineMs` are terminated (their last batch is lost). Resolves with the
   * number of clean stops and of terminations.
   */
  async stop(deadlineMs = 5000): Promise<{ clean: number; terminated: number }> {
    this.stopping = true;
    const waits: Promise<boolean>[] = [];
    for (const slot of this.slots) {
      clearTimeout(slot.restartTimer);
      const w = slot.worker;
      if (!w || slot.stopped) continue;
      waits.push(
        new Promise<boolean>((resolve) => {
          const t = setTimeout(() => {
            slot.onStopped = null;
            w.terminate();
            slot.worker = null;
            resolve(false);
          }, deadlineMs);
          slot.onStopped = () => {
            clearTimeout(t);
            resolve(true);
          };
          const stop: ToWorker = { type: "stop" };
          w.postMessage(stop);
        }),
      );
    }
    const results = await Promise.all(waits);
    const clean = results.filter((x) => x).length;
    if (clean < results.length) {
      this.log.warn("ingest workers terminated at deadline", { n: results.length - clean });
    }
    return { clean, terminated: results.length - clean };
  }
}
