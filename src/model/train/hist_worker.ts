/**
 * Trainer worker: receives the shared HistContext once, then blocks in Atomics.wait on the job
 * sequence number and runs its share of each histogram or partition job (see parallel.ts).
 */
/// <reference lib="deno.worker" />
import { C, type HistContext, JOB_QUIT } from "./histogram.ts";
import { runJob } from "./parallel.ts";

self.onmessage = (e: MessageEvent<{ ctx: HistContext; t: number; nt: number }>) => {
  const { ctx, t, nt } = e.data;
  const c = ctx.ctrl;
  // Read the sequence number before announcing readiness, so no job posted after "ready" is missed.
  let seen = Atomics.load(c, C.SEQ);
  self.postMessage("ready");
  for (;;) {
    Atomics.wait(c, C.SEQ, seen);
    const seq = Atomics.load(c, C.SEQ);
    if (seq === seen) continue;
    seen = seq;
    const type = c[C.TYPE];
    if (type === JOB_QUIT) break;
    runJob(ctx, type, t, nt);
    Atomics.add(c, C.DONE, 1);
    Atomics.notify(c, C.DONE);
  }
  self.close();
};
