/**
 * The store writer of one ingest shard, running inside its worker: the shard's batches go straight
 * into a BatchWriter on the worker's own SQLite connection instead of being cloned to the main
 * thread. On the real 2024 recording that structured clone cost about as much CPU as the writes
 * themselves, and with every batch funnelled through one thread the writer capped ingest.
 *
 * Why several writers are safe here: SQLite (WAL) runs one write transaction at a time and the
 * others wait (busy timeout); each shard owns its symbols' raw rows; aggregate buckets are merged
 * with delta upserts that are exact in any order (store/aggregates.ts), so the main thread's REST
 * events and the shards can update the same 1m bucket. A kill loses at most each shard's open
 * batch (config `store.batchMaxAge`), and frame tallies commit with their rows as before.
 */
import type { BatchMessage, WorkerStoreSettings, WorkerStoreStats } from "./messages.ts";
import { Store } from "../store/store.ts";
import { BatchWriter } from "../store/batch_writer.ts";
import { LatencyHistogram } from "../ops/latency.ts";

export class ShardWriter {
  private readonly store: Store;
  private readonly writer: BatchWriter;
  private readonly latency = new LatencyHistogram();
  private pendingRecv: number[] = [];
  private gaps = 0;
  private readonly gapsByReason: Record<string, number> = {};
  private firstRecvTs = 0;
  private lastCommitTs = 0;

  /**
   * Opens the database the main thread created and migrated.
   * @throws StoreError when it cannot be opened (the worker reports it and the pool restarts it).
   */
  constructor(
    s: WorkerStoreSettings,
    onError: (msg: string, fields: Record<string, unknown>) => void,
  ) {
    this.store = Store.open(s.path);
    if (s.walAutocheckpoint !== undefined) {
      this.store.db.exec(
        `PRAGMA wal_autocheckpoint = ${Math.max(0, Math.floor(s.walAutocheckpoint))}`,
      );
    }
    this.writer = new BatchWriter(this.store, {
      batchMaxAge: s.batchMaxAge,
      batchMaxEvents: s.batchMaxEvents,
      runId: s.runId,
      onCommit: () => {
        const now = Date.now();
        if (this.pendingRecv.length > 0) this.lastCommitTs = now;
        for (const t of this.pendingRecv) this.latency.add(now - t);
        this.pendingRecv = [];
      },
      onError: (err, dropped) =>
        onError("commit failed", { error: String(err), droppedEvents: dropped }),
    });
  }

  /** Queues one batch of the shard (committed within `batchMaxAge`). */
  push(b: BatchMessage): void {
    const events = b.events;
    if (this.firstRecvTs === 0 && events.length > 0) this.firstRecvTs = events[0].recvTs;
    for (let i = 0; i < events.length; i++) {
      this.pendingRecv.push(events[i].recvTs);
      const ev = events[i];
      if (ev.kind === "gap") {
        this.gaps++;
        this.gapsByReason[ev.reason] = (this.gapsByReason[ev.reason] ?? 0) + 1;
      }
    }
    this.writer.pushAll(events, b.frameCounts);
  }

  stats(): WorkerStoreStats {
    const w = this.writer.stats();
    return {
      frames: w.frames,
      events: w.events,
      rows: w.rows,
      rowsByTable: w.rowsByTable,
      gapsByReason: { ...this.gapsByReason },
      duplicates: w.duplicates,
      batches: w.batches,
      pending: w.pending,
      gaps: this.gaps,
      failedCommits: w.failedCommits,
      droppedEvents: w.droppedEvents,
      commitP99Ms: Number.isNaN(w.commitP99Ms) ? 0 : w.commitP99Ms,
      latencyP50Ms: this.latency.quantile(0.5) || 0,
      latencyP99Ms: this.latency.quantile(0.99) || 0,
      firstRecvTs: this.firstRecvTs,
      lastCommitTs: this.lastCommitTs,
    };
  }

  /** Commits what is pending, closes the connection, returns the totals and latency histogram. */
  close(): WorkerStoreStats & { latency: [number, number][] } {
    this.writer.close();
    this.store.close();
    return { ...this.stats(), latency: this.latency.sparse() };
  }
}
