/**
 * Aggregates the ingest workers' periodic stats into one status line: messages/s per channel
 * (summed over shards), receive lag (worst shard p50/p99, ms), reconnects, gaps, malformed frames,
 * checksum failures, commit latency, database size and peak RSS.
 */
import type { StatsMessage, WorkerStoreStats } from "../ingest/messages.ts";
import type { BatchWriterStats } from "../store/batch_writer.ts";

function fileSize(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

export class StatusBoard {
  private readonly shards = new Map<number, StatsMessage>();
  /** Gap events seen (all sources). */
  gaps = 0;

  update(s: StatsMessage): void {
    this.shards.set(s.shard, s);
  }

  private sum(f: (s: StatsMessage) => number): number {
    let t = 0;
    for (const s of this.shards.values()) t += f(s);
    return t;
  }

  private shardVals(f: (t: WorkerStoreStats) => number): number[] {
    const out: number[] = [];
    for (const s of this.shards.values()) if (s.store) out.push(f(s.store));
    return out;
  }

  private shardSum(f: (t: WorkerStoreStats) => number): number {
    return this.shardVals(f).reduce((a, b) => a + b, 0);
  }

  totalReconnects(): number {
    return this.sum((s) => s.reconnects);
  }

  totalMalformed(): number {
    return this.sum((s) => Object.values(s.malformed).reduce((a, b) => a + b, 0));
  }

  totalChecksumFailures(): number {
    return this.sum((s) => s.checksumFailures);
  }

  /** Flat key/values for one structured log line. */
  line(
    w: BatchWriterStats,
    latency: { p50: number; p99: number },
    dbPath: string,
    peakRss: number,
  ): Record<string, unknown> {
    const perChannel: Record<string, number> = {};
    let lag50 = 0;
    let lag99 = 0;
    let replayed = false;
    for (const s of this.shards.values()) {
      for (const [ch, v] of Object.entries(s.framesPerSec)) {
        perChannel[ch] = (perChannel[ch] ?? 0) + v;
      }
      if (s.lagMs) {
        lag50 = Math.max(lag50, s.lagMs.p50);
        lag99 = Math.max(lag99, s.lagMs.p99);
        replayed ||= s.lagMs.replayed;
      }
    }
    const msgs = Object.entries(perChannel).map(([k, v]) => `${k}:${v.toFixed(1)}`).join(",");
    const dbBytes = fileSize(dbPath) + fileSize(dbPath + "-wal");
    return {
      msgsPerSec: msgs,
      lagP50Ms: lag50,
      lagP99Ms: lag99,
      ...(replayed ? { lagClock: "replay" } : {}),
      reconnects: this.totalReconnects(),
      gaps: this.gaps + this.shardSum((t) => t.gaps),
      malformed: this.totalMalformed(),
      checksumFailures: this.totalChecksumFailures(),
      rows: w.rows + this.shardSum((t) => t.rows),
      pending: w.pending + this.shardSum((t) => t.pending),
      commitP99Ms: Number(
        Math.max(w.commitP99Ms || 0, ...this.shardVals((t) => t.commitP99Ms))
          .toFixed(2),
      ),
      // Worst shard (REST-only main writer as a floor): per-shard percentiles do not add up.
      latencyP50Ms: Math.max(latency.p50 || 0, ...this.shardVals((t) => t.latencyP50Ms)),
      latencyP99Ms: Math.max(latency.p99 || 0, ...this.shardVals((t) => t.latencyP99Ms)),
      dbMB: Number((dbBytes / 1e6).toFixed(1)),
      rssMB: Number((peakRss / 1e6).toFixed(1)),
    };
  }
}
