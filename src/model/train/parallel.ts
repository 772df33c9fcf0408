/**
 * Trainer threads: the main thread plus T−1 Web Workers. Workers first bin their share of the
 * features (message passing), then share the binned data, the partition, the ordered gradients
 * and the histogram pool through SharedArrayBuffers and run histogram / partition jobs. Histogram
 * work is split by feature (thread t takes every T-th feature of the job's list) and partition
 * work by row chunk, so no two threads write the same memory. Job dispatch is one Atomics.notify
 * and completion one Atomics.wait (measured ≈ 30 µs round trip on this machine), so small jobs
 * run on the main thread alone.
 */
// First: captures the Web Worker constructor before anything can initialise ORT (worker_ctor.ts).
import { spawnWorker } from "../../ops/worker_ctor.ts";
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
  JOB_GRAD,
  JOB_HIST,
  JOB_PARTITION,
  JOB_QUIT,
  MAX_THREADS,
  runHistogramJob,
} from "./histogram.ts";
import type { ObjectiveFn } from "./objectives.ts";
import type { TrainParams } from "./params.ts";
import { runPartitionJob } from "./partition.ts";
import { workerUrl } from "../../ops/worker_url.ts";

/** Smallest job (histogram: rows × features; partition: rows × 8) worth waking the workers for. */
export const PARALLEL_MIN_WORK = 64_000;

/** Runs thread t of nt's share of the job in ctx.ctrl (shared by main thread and workers). */
export function runJob(
  ctx: HistContext,
  obj: ObjectiveFn,
  type: number,
  t: number,
  nt: number,
): void {
  if (type === JOB_HIST) runHistogramJob(ctx, t, nt);
  else if (type === JOB_PARTITION) runPartitionJob(ctx, t, nt);
  else if (type === JOB_GRAD) {
    const n = ctx.numRows, chunk = Math.ceil(n / nt);
    obj.gradients(ctx.scores, ctx.grad, ctx.hess, t * chunk, Math.min(n, (t + 1) * chunk));
  }
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
  | {
    kind: "attach";
    ctx: HistContext;
    t: number;
    nt: number;
    /** To rebuild the objective in the worker (closures do not cross threads). */
    params: TrainParams;
    labels: Float64Array;
  };

/** A worker could not be started or failed while binning / attaching (before any job ran). */
export class WorkerStartError extends Error {
  override name = "WorkerStartError";
}

/** Sends `msg` and resolves with the worker's next message. */
function request<T>(w: Worker, msg: WorkerRequest): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    w.onmessage = (e) => resolve(e.data as T);
    w.onerror = (e) => {
      e.preventDefault();
      reject(new WorkerStartError(`trainer worker failed: ${e.message}`));
    };
    w.postMessage(msg);
  });
}

export class TrainerThreads {
  private jobCtx: HistContext | null = null;
  private obj: ObjectiveFn | null = null;

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

  /**
   * Spawns `threads − 1` workers (at most MAX_THREADS threads in all).
   * @throws WorkerStartError when a worker cannot be created (e.g. no read permission on its module)
   */
  static start(threads: number): TrainerThreads {
    const nt = Math.max(1, Math.min(threads, MAX_THREADS));
    const workers: Worker[] = [];
    try {
      for (let t = 1; t < nt; t++) {
        workers.push(
          spawnWorker(workerUrl("hist_worker", import.meta.url).href, { type: "module" }),
        );
      }
    } catch (e) {
      for (const w of workers) w.terminate();
      throw new WorkerStartError(
        `cannot start trainer worker: ${e instanceof Error ? e.message : e}`,
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
    if (ArrayBuffer.isView(x.values)) sab.set(x.values as unknown as ArrayLike<number>);
    else for (let i = 0; i < sab.length; i++) sab[i] = x.values[i];
    const sx: FeatureMatrix = { numRows: x.numRows, numFeatures: x.numFeatures, values: sab };
    const pending = this.workers.map((w, k) =>
      request<BinnedColumns>(w, { kind: "bin", x: sx, features: share(k + 1), rows, opts })
    );
    const mine = binColumns(sx, share(0), rows, opts);
    const parts = [mine, ...(await Promise.all(pending))];
    return assembleBinned(x.numRows, x.numFeatures, parts, true);
  }

  /**
   * Hands the shared job context and the objective (rebuilt in each worker from `params` and
   * `labels`) to the workers and waits until each entered its job loop.
   */
  async attach(
    ctx: HistContext,
    obj: ObjectiveFn,
    params: TrainParams,
    labels: Float64Array,
  ): Promise<void> {
    this.jobCtx = ctx;
    this.obj = obj;
    const nt = this.threads;
    await Promise.all(
      this.workers.map((w, k) =>
        request<string>(w, { kind: "attach", ctx, t: k + 1, nt, params, labels })
      ),
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
    const obj = this.obj!;
    if (nw === 0 || work < PARALLEL_MIN_WORK) {
      c[C.NT] = 1;
      runJob(ctx, obj, type, 0, 1);
      return 1;
    }
    c[C.TYPE] = type;
    c[C.NT] = nw + 1;
    Atomics.store(c, C.BARRIER, 0);
    Atomics.store(c, C.DONE, 0);
    Atomics.add(c, C.SEQ, 1);
    Atomics.notify(c, C.SEQ);
    runJob(ctx, obj, type, 0, nw + 1);
    for (;;) {
      const done = Atomics.load(c, C.DONE);
      if (done >= nw) break;
      Atomics.wait(c, C.DONE, done, 10_000);
    }
    if (Atomics.load(c, C.ERR) !== 0) throw new Error("internal: a trainer worker job failed");
    return nw + 1;
  }

  /** Gradients/hessians of all classes from ctx.scores into ctx.grad/hess, rows split by thread. */
  gradients(): void {
    const ctx = this.ctx;
    this.run(JOB_GRAD, ctx.numRows * (ctx.grad.length / ctx.numRows) * 8);
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
