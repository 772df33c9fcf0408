/**
 * Trainer worker (see parallel.ts): bins its share of the features on request, then receives the
 * shared job context, blocks in Atomics.wait on the job sequence number and runs its share of
 * each histogram or partition job until told to quit.
 */
/// <reference lib="deno.worker" />
import { binColumns } from "./binned_data.ts";
import { C, JOB_QUIT } from "./histogram.ts";
import { createObjective } from "./objectives.ts";
import { runJob, type WorkerRequest } from "./parallel.ts";

self.onmessage = (e: MessageEvent<WorkerRequest>) => {
  const msg = e.data;
  if (msg.kind === "bin") {
    const res = binColumns(msg.x, msg.features, msg.rows, msg.opts);
    const transfer = res.cols.flatMap((c) => (c ? [c.buffer as ArrayBuffer] : []));
    self.postMessage(res, { transfer });
    return;
  }
  const { ctx, t, nt } = msg;
  const obj = createObjective(msg.params, msg.labels);
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
    try {
      runJob(ctx, obj, type, t, nt);
    } catch (err) {
      // Report instead of dying silently: the main thread is blocked waiting for DONE.
      console.error(`trainer worker ${t}: ${err instanceof Error ? err.stack : err}`);
      Atomics.store(c, C.ERR, 1);
    }
    Atomics.add(c, C.DONE, 1);
    Atomics.notify(c, C.DONE);
  }
  self.close();
};
