/**
 * Buffers market events for the store's single writer and commits them in short transactions:
 * when the open batch is `batchMaxAge` ms old or holds `batchMaxEvents` events (config `store`
 * section), on `flush()` and on `close()`. A kill loses at most the open batch (the committed
 * ones are in the WAL, store.ts).
 *
 * Frame tallies pushed with events are committed in the same transaction as the events' rows,
 * so `ingest_counts` always equals the frames whose rows are stored.
 */
import type { MarketEvent } from "../market/events.ts";
import type { BatchResult, Store, WriteOptions } from "./store.ts";

export interface BatchWriterOptions {
  /** Longest a batch stays open, ms (config `store.batchMaxAge`). */
  batchMaxAge: number;
  /** Events per batch before an early commit (config `store.batchMaxEvents`). */
  batchMaxEvents: number;
  /** Run id stamped on frame tallies and gaps. */
  runId?: number;
  /** Commit durations kept for the p50/p99 figures. Default 512. */
  statsWindow?: number;
  /** Consecutive failed commits of one batch before it is dropped. Default 3. */
  maxAttempts?: number;
  /**
   * Called on a failed commit (`dropped` = events discarded after the last attempt). Without it
   * a failed commit throws from `flush()` (from the timer: an uncaught error, i.e. fail loudly).
   */
  onError?: (err: unknown, dropped: number) => void;
  /** Called after each commit. */
  onCommit?: (r: BatchResult, durationMs: number) => void;
  writeOptions?: WriteOptions;
}

export interface BatchWriterStats {
  batches: number;
  events: number;
  /** Rows written across all raw tables. */
  rows: number;
  /** Rows written per raw table (cumulative; tables with none are absent). */
  rowsByTable: Record<string, number>;
  duplicates: number;
  rejected: number;
  frames: number;
  failedCommits: number;
  droppedEvents: number;
  /** Events waiting in the open batch. */
  pending: number;
  /** Duration of the last commit (transaction), ms. */
  lastCommitMs: number;
  /** Age of the last committed batch's oldest event when its commit finished, ms. */
  lastLatencyMs: number;
  /** Commit duration percentiles over the last `statsWindow` commits, ms. */
  commitP50Ms: number;
  commitP99Ms: number;
}

/** Value at quantile `q` (0..1) of `xs` (nearest rank); NaN when empty. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

export class BatchWriter {
  private events: MarketEvent[] = [];
  private frames: Record<string, number> = {};
  private hasFrames = false;
  private openedAt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private attempts = 0;
  private closed = false;
  private readonly durations: number[] = [];
  private durIdx = 0;
  private readonly rowsByTable: Record<string, number> = {};
  private readonly st = {
    batches: 0,
    events: 0,
    rows: 0,
    duplicates: 0,
    rejected: 0,
    frames: 0,
    failedCommits: 0,
    droppedEvents: 0,
    lastCommitMs: NaN,
    lastLatencyMs: NaN,
  };

  constructor(private readonly store: Store, private readonly opts: BatchWriterOptions) {
    if (!(opts.batchMaxAge >= 0) || !(opts.batchMaxEvents >= 1)) {
      throw new RangeError(
        `BatchWriter: batchMaxAge must be >= 0 ms and batchMaxEvents >= 1 ` +
          `(got ${opts.batchMaxAge}, ${opts.batchMaxEvents})`,
      );
    }
  }

  /** Adds one event to the open batch. */
  push(ev: MarketEvent): void {
    this.checkOpen();
    this.startBatch();
    this.events.push(ev);
    if (this.events.length >= this.opts.batchMaxEvents) this.flush();
  }

  /**
   * Adds events and the frame tallies they came from (`"SYMBOL|channel"` → frames), e.g. one
   * message of an ingest worker. The tallies commit with the batch that holds these events.
   */
  pushAll(events: readonly MarketEvent[], frames?: Readonly<Record<string, number>>): void {
    this.checkOpen();
    this.startBatch();
    for (let i = 0; i < events.length; i++) this.events.push(events[i]);
    if (frames) {
      for (const k in frames) {
        this.frames[k] = (this.frames[k] ?? 0) + frames[k];
        this.hasFrames = true;
      }
    }
    if (this.events.length >= this.opts.batchMaxEvents) this.flush();
  }

  /** Commits the open batch now; returns its result (null when empty or when the commit failed). */
  flush(): BatchResult | null {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.events.length === 0 && !this.hasFrames) return null;
    const t0 = performance.now();
    let r: BatchResult;
    try {
      r = this.store.writeBatch(
        this.events,
        this.hasFrames ? this.frames : undefined,
        this.opts.runId,
        this.opts.writeOptions,
      );
    } catch (e) {
      this.st.failedCommits++;
      this.attempts++;
      let dropped = 0;
      if (this.attempts >= (this.opts.maxAttempts ?? 3)) {
        dropped = this.events.length;
        this.st.droppedEvents += dropped;
        this.reset();
      } else if (!this.closed) {
        this.timer = setTimeout(() => this.flush(), Math.max(1, this.opts.batchMaxAge));
      }
      if (!this.opts.onError) throw e;
      this.opts.onError(e, dropped);
      return null;
    }
    const t1 = performance.now();
    const dur = t1 - t0;
    const s = this.st;
    s.batches++;
    s.events += r.events;
    for (const k in r.rows) {
      const n = r.rows[k as keyof typeof r.rows];
      s.rows += n;
      if (n > 0) this.rowsByTable[k] = (this.rowsByTable[k] ?? 0) + n;
    }
    s.duplicates += r.duplicates;
    s.rejected += r.rejected;
    s.frames += r.frames;
    s.lastCommitMs = dur;
    s.lastLatencyMs = t1 - this.openedAt;
    const w = this.opts.statsWindow ?? 512;
    if (this.durations.length < w) this.durations.push(dur);
    else this.durations[this.durIdx++ % w] = dur;
    this.reset();
    this.opts.onCommit?.(r, dur);
    return r;
  }

  /** Commits what is pending and stops the timer; later pushes throw. */
  close(): BatchResult | null {
    if (this.closed) return null;
    const r = this.flush();
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    return r;
  }

  stats(): BatchWriterStats {
    return {
      ...this.st,
      rowsByTable: { ...this.rowsByTable },
      pending: this.events.length,
      commitP50Ms: quantile(this.durations, 0.5),
      commitP99Ms: quantile(this.durations, 0.99),
    };
  }

  private checkOpen(): void {
    if (this.closed) throw new Error("BatchWriter is closed");
  }

  private startBatch(): void {
    if (this.events.length > 0 || this.hasFrames) return;
    this.openedAt = performance.now();
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.opts.batchMaxAge);
    }
  }

  private reset(): void {
    this.events = [];
    this.frames = {};
    this.hasFrames = false;
    this.attempts = 0;
  }
}
