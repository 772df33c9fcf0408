/**
 * Trainer threads: the main thread plus T−1 Web Workers. Workers first bin their share of the
 * features (message passing), then share the binned data, the partition, the ordered gradients
 * and the histogram pool through SharedArrayBuffers and run histogram / partition jobs. Histogram
 * work is split by feature (thread t takes every T-th feature of the job's list) and partition
 * work by row chunk, so no two threads write the same memory. Job dispatch is one Atomics.notify
 * and completion one Atomics.wait (measured ≈ 30 µs round trip on this machine), so small jobs
 * run on the main thread alone.
 */
import {
  assembleBinned,
  binColumns,
  type BinnedColumns,
  type BinnedData,
  type BinningOptions,
  binSampleRows,
  type FeatureMatrix,
} from "./binned_data.ts";
import {
  C,
  type HistContext,
  JOB_HIST,
  JOB_PARTITION,
  JOB_QUIT,
  MAX_THREADS,
  runHistogramJob,
} from "./histogram.ts";
import { runPartitionJob } from "./partition.ts";

/** Smallest job (histogram: rows × features; partition: rows × 8) worth waking the workers for. */
export const PARALLEL_MIN_WORK = 64_000;

/** Runs thread t of nt's share of the job in ctx.ctrl (shared by main thread and workers). */
export function runJob(ctx: HistContext, type: number, t: number, nt: number): void {
  if (type === JOB_HIST) runHistogramJob(ctx, t, nt);
  else if (type === JOB_PARTITION) runPartitionJob(ctx, t, nt);
}

/** Messages to a worker. */
export type WorkerRequest =
  | {
    kind: "bin";
    x: FeatureMatrix;
    features: number[];
    rows: number[] | null;
    opts: BinningOptions;
  }
  | { kind: "attach"; ctx: HistContext; t: number; nt: number };

/** Sends `msg` and resolves with the worker's next message. */
function request<T>(w: Worker, msg: WorkerRequest): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    w.onmessage = (e) => resolve(e.data as T);
    w.onerror = (e) => {
      e.preventDefault();
      reject(new Error(`trainer worker failed: ${e.message}`));
    };
    w.postMessage(msg);
  });
}

export class TrainerThreads {
  private jobCtx: HistContext | null = null;

  private constructor(private readonly workers: Worker[]) {}

  /** Threads in use (main included). */
  get threads(): number {
    return this.workers.length + 1;
  }

  /** The shared job context (after `attach`). */
  get ctx(): HistContext {
    if (!this.jobCtx) throw new Error("internal: trainer threads not attached");
    return this.jobCtx;
  }

  /** Spawns `threads − 1` workers (at most MAX_THREADS threads in all). */
  static start(threads: number): TrainerThreads {
    const nt = Math.max(1, Math.min(threads, MAX_THREADS));
    const workers: Worker[] = [];
    for (let t = 1; t < nt; t++) {
      workers.push(
        new Worker(new URL("./hist_worker.ts", import.meta.url).href, { type: "module" }),
      );
    }
    return new TrainerThreads(workers);
  }

  /**
   * Bins `x` with every thread taking every T-th feature (binned_data.ts binColumns), the bins
   * ending on a SharedArrayBuffer when there are workers.
   * @throws Error when a worker fails
   */
  async bin(x: FeatureMatrix, opts: BinningOptions): Promise<BinnedData> {
    const nt = this.threads;
    const rows = binSampleRows(x.numRows, opts);
    const share = (t: number) =>
      Array.from({ length: x.numFeatures }, (_, f) => f).filter((f) => f % nt === t);
    if (nt === 1) {
      return assembleBinned(x.numRows, x.numFeatures, [binColumns(x, share(0), rows, opts)], false);
    }
    // One shared copy of the raw values for all workers (structured clone would copy per worker).
    const sab = new Float64Array(new SharedArrayBuffer(8 * x.numRows * x.numFeatures));
    for (let i = 0; i < sab.length; i++) sab[i] = x.values[i];
    const sx: FeatureMatrix = { numRows: x.numRows, numFeatures: x.numFeatures, values: sab };
    const pending = this.workers.map((w, k) =>
      request<BinnedColumns>(w, { kind: "bin", x: sx, features: share(k + 1), rows, opts })
    );
    const mine = binColumns(sx, share(0), rows, opts);
    const parts = [mine, ...(await Promise.all(pending))];
    return assembleBinned(x.numRows, x.numFeatures, parts, true);
  }

  /** Hands the shared job context to the workers and waits until each entered its job loop. */
  async attach(ctx: HistContext): Promise<void> {
    this.jobCtx = ctx;
    const nt = this.threads;
    await Promise.all(
      this.workers.map((w, k) => request<string>(w, { kind: "attach", ctx, t: k + 1, nt })),
    );
  }

  /**
   * Runs the job of `type` described in ctx.ctrl; `work` is its size in row×feature updates.
   * @returns the number of threads it ran on (also left in ctx.ctrl[C.NT])
   */
  run(type: number, work: number): number {
    const ctx = this.ctx;
    const c = ctx.ctrl;
    const nw = this.workers.length;
    if (nw === 0 || work < PARALLEL_MIN_WORK) {
      c[C.NT] = 1;
      runJob(ctx, type, 0, 1);
      return 1;
    }
    c[C.TYPE] = type;
    c[C.NT] = nw + 1;
    Atomics.store(c, C.BARRIER, 0);
    Atomics.store(c, C.DONE, 0);
    Atomics.add(c, C.SEQ, 1);
    Atomics.notify(c, C.SEQ);
    runJob(ctx, type, 0, nw + 1);
    for (;;) {
      const done = Atomics.load(c, C.DONE);
      if (done >= nw) break;
      Atomics.wait(c, C.DONE, done, 10_000);
    }
    if (Atomics.load(c, C.ERR) !== 0) throw new Error("internal: a trainer worker job failed");
    return nw + 1;
  }

  /** Stops the workers (they leave their job loop, or are terminated before attaching). */
  close(): void {
    if (this.workers.length === 0) return;
    if (this.jobCtx) {
      const c = this.jobCtx.ctrl;
      c[C.TYPE] = JOB_QUIT;
      Atomics.add(c, C.SEQ, 1);
      Atomics.notify(c, C.SEQ);
    }
    for (const w of this.workers) w.terminate();
    this.workers.length = 0;
  }
}
