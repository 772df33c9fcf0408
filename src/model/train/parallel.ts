/**
 * Runs histogram jobs on the main thread plus T−1 Web Workers that share the binned data,
 * the partition, the ordered gradients and the histogram pool through SharedArrayBuffers.
 * Work is split by feature (thread t takes every T-th feature of the job's list), so no two
 * threads write the same histogram bins. Dispatch is one Atomics.notify and completion one
 * Atomics.wait (measured ≈ 30 µs round trip on this machine), so small jobs — fewer than
 * `PARALLEL_MIN_WORK` row×feature updates — run on the main thread alone.
 */
import { C, type HistContext, JOB_QUIT, JOB_RUN, runHistogramJob } from "./histogram.ts";

/** Smallest job (rows × features) worth waking the workers for (≈ 2× the sync cost). */
export const PARALLEL_MIN_WORK = 64_000;

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
   * Starts `threads − 1` workers over `ctx` (whose shared arrays must be SharedArrayBuffer-backed
   * when threads > 1) and waits until each has loaded.
   * @throws Error when a worker fails to start
   */
  static async create(ctx: HistContext, threads: number): Promise<HistEngine> {
    const workers: Worker[] = [];
    const ready: Promise<void>[] = [];
    for (let t = 1; t < threads; t++) {
      const w = new Worker(new URL("./hist_worker.ts", import.meta.url).href, { type: "module" });
      ready.push(
        new Promise<void>((resolve, reject) => {
          w.onmessage = () => resolve();
          w.onerror = (e) => {
            e.preventDefault();
            reject(new Error(`histogram worker failed to start: ${e.message}`));
          };
        }),
      );
      w.postMessage({ ctx, t, nt: threads });
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

  /** Runs the job currently described in ctx.ctrl; `work` = rows × features it touches. */
  run(work: number): void {
    const ctx = this.ctx;
    const c = ctx.ctrl;
    const nw = this.workers.length;
    if (nw === 0 || work < PARALLEL_MIN_WORK) {
      runHistogramJob(ctx, 0, 1);
      return;
    }
    c[C.TYPE] = JOB_RUN;
    Atomics.store(c, C.DONE, 0);
    Atomics.add(c, C.SEQ, 1);
    Atomics.notify(c, C.SEQ);
    runHistogramJob(ctx, 0, nw + 1);
    for (;;) {
      const done = Atomics.load(c, C.DONE);
      if (done >= nw) break;
      Atomics.wait(c, C.DONE, done, 10_000);
    }
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
