/**
 * Runs trainer jobs (histograms, partition) on the main thread plus T−1 Web Workers that share
 * the binned data, the partition, the ordered gradients and the histogram pool through
 * SharedArrayBuffers. Histogram work is split by feature (thread t takes every T-th feature of the
 * job's list) and partition work by row chunk, so no two threads write the same memory. Dispatch is
 * one Atomics.notify and completion one Atomics.wait (measured ≈ 30 µs round trip on this
 * machine), so small jobs run on the main thread alone.
 */
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

export class HistEngine {
  private constructor(
    readonly ctx: HistContext,
    private readonly workers: Worker[],
  ) {}

  /** Threads in use (main included). */
  get threads(): number {
    return this.workers.length + 1;
  }

  /**
   * Starts `threads − 1` workers (at most MAX_THREADS in all) over `ctx`, whose shared arrays must
   * be SharedArrayBuffer-backed when threads > 1, and waits until each has loaded.
   * @throws Error when a worker fails to start
   */
  static async create(ctx: HistContext, threads: number): Promise<HistEngine> {
    const nt = Math.min(threads, MAX_THREADS);
    const workers: Worker[] = [];
    const ready: Promise<void>[] = [];
    for (let t = 1; t < nt; t++) {
      const w = new Worker(new URL("./hist_worker.ts", import.meta.url).href, { type: "module" });
      ready.push(
        new Promise<void>((resolve, reject) => {
          w.onmessage = () => resolve();
          w.onerror = (e) => {
            e.preventDefault();
            reject(new Error(`trainer worker failed to start: ${e.message}`));
          };
        }),
      );
      w.postMessage({ ctx, t, nt });
      workers.push(w);
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      for (const w of workers) w.terminate();
      throw e;
    }
    return new HistEngine(ctx, workers);
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
    Atomics.store(c, C.DONE, 0);
    Atomics.add(c, C.SEQ, 1);
    Atomics.notify(c, C.SEQ);
    runJob(ctx, type, 0, nw + 1);
    for (;;) {
      const done = Atomics.load(c, C.DONE);
      if (done >= nw) break;
      Atomics.wait(c, C.DONE, done, 10_000);
    }
    return nw + 1;
  }

  /** Stops the workers (they leave their wait loop and close). */
  close(): void {
    if (this.workers.length === 0) return;
    const c = this.ctx.ctrl;
    c[C.TYPE] = JOB_QUIT;
    Atomics.add(c, C.SEQ, 1);
    Atomics.notify(c, C.SEQ);
    for (const w of this.workers) w.terminate();
    this.workers.length = 0;
  }
}
