/**
 * Records what the daemon receives (public WebSocket frames and REST poller samples) into the
 * database, in the collector's schema and through the collector's own store writer, running in
 * a worker (record_worker.ts) so SQLite commits never stall a decision.
 *
 * Events are posted in batches every `batchMaxMs` (default 50 ms) or `batchMaxEvents` (1000),
 * as an ingest shard does; the worker commits them within `store.batchMaxAge`. A kill loses at
 * most those two windows. Frame tallies (`ingest_counts`) commit with their rows.
 */
import { spawnWorker } from "../ops/worker_ctor.ts";
import type { MarketEvent } from "../market/events.ts";
import type { WorkerStoreSettings, WorkerStoreStats } from "../ingest/messages.ts";
import type { Logger } from "../ops/log.ts";
import { workerUrl } from "../ops/worker_url.ts";
import type { FromRecorder, ToRecorder } from "./record_worker.ts";

export interface RecorderOptions {
  store: WorkerStoreSettings;
  logger: Logger;
  batchMaxMs?: number;
  batchMaxEvents?: number;
  /** Worker permissions (needs --unstable-worker-options); default: inherit. */
  permissions?: Deno.PermissionOptionsObject;
}

export class Recorder {
  private readonly worker: Worker;
  private events: MarketEvent[] = [];
  private frameCounts: Record<string, number> = {};
  private firstRecvTs = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly batchMaxMs: number;
  private readonly batchMaxEvents: number;
  private stopped: Promise<WorkerStoreStats | null> | null = null;
  private onStopped: ((s: WorkerStoreStats | null) => void) | null = null;
  private statsWaiters: ((s: WorkerStoreStats | null) => void)[] = [];
  private failed = false;

  /** Starts the worker. Throws what `new Worker` throws (e.g. missing read permission). */
  constructor(private readonly o: RecorderOptions) {
    this.batchMaxMs = o.batchMaxMs ?? 50;
    this.batchMaxEvents = o.batchMaxEvents ?? 1000;
    const opts: WorkerOptions = { type: "module" };
    if (o.permissions) {
      (opts as WorkerOptions & { deno: unknown }).deno = { permissions: o.permissions };
    }
    this.worker = spawnWorker(workerUrl("record_worker", import.meta.url), opts);
    this.worker.onmessage = (e: MessageEvent<FromRecorder>) => this.route(e.data);
    this.worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.failed = true;
      o.logger.error("recorder worker failed: market data is no longer recorded", {
        err: e.message,
      });
      this.onStopped?.(null);
      for (const w of this.statsWaiters) w(null);
      this.statsWaiters = [];
    };
    this.post({ type: "start", store: o.store });
  }

  private post(m: ToRecorder): void {
    if (!this.failed) this.worker.postMessage(m);
  }

  private route(m: FromRecorder): void {
    if (m.type === "log") this.o.logger.error(m.msg, m.fields);
    else if (m.type === "stats") {
      for (const w of this.statsWaiters) w(m.store);
      this.statsWaiters = [];
    } else if (m.type === "stopped") this.onStopped?.(m.store);
  }

  /** Queues the events of one frame (`frameKey` "SYMBOL|channel", or null for REST samples). */
  push(events: readonly MarketEvent[], frameKey: string | null): void {
    if (this.stopped) return;
    if (frameKey !== null) this.frameCounts[frameKey] = (this.frameCounts[frameKey] ?? 0) + 1;
    for (const ev of events) {
      if (this.firstRecvTs === 0) this.firstRecvTs = ev.recvTs;
      this.events.push(ev);
    }
    if (this.events.length >= this.batchMaxEvents) this.flush();
    else if (this.timer === undefined) this.timer = setTimeout(() => this.flush(), this.batchMaxMs);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.events.length === 0 && Object.keys(this.frameCounts).length === 0) return;
    this.post({
      type: "batch",
      shard: -1,
      events: this.events,
      frameCounts: this.frameCounts,
      firstRecvTs: this.firstRecvTs,
    });
    this.events = [];
    this.frameCounts = {};
    this.firstRecvTs = 0;
  }

  /** The writer's totals so far (null when the worker failed). */
  stats(): Promise<WorkerStoreStats | null> {
    if (this.failed || this.stopped) return Promise.resolve(null);
    return new Promise((r) => {
      this.statsWaiters.push(r);
      this.post({ type: "stats" });
    });
  }

  /**
   * Posts the last batch, lets the worker commit and close; resolves with its totals, or null
   * when it did not answer within `deadlineMs` (it is then terminated: its open batch is lost).
   */
  stop(deadlineMs = 3000): Promise<WorkerStoreStats | null> {
    if (this.stopped) return this.stopped;
    this.flush();
    this.stopped = new Promise<WorkerStoreStats | null>((resolve) => {
      if (this.failed) return resolve(null);
      const t = setTimeout(() => {
        this.worker.terminate();
        resolve(null);
      }, deadlineMs);
      this.onStopped = (s) => {
        clearTimeout(t);
        resolve(s);
      };
      this.post({ type: "stop" });
    });
    return this.stopped;
  }
}
