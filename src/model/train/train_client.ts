/**
 * Trains on a worker thread (train_worker.ts): the same `train()` of gbdt.ts with the same rows
 * and parameters, so the model is the one an inline run would give; only the thread differs.
 * One worker per call, terminated when it answers (a retrain is minutes apart; the ~50 ms start
 * is nothing beside training).
 */
// First: captures the Web Worker constructor before anything can initialise ORT (worker_ctor.ts).
import { spawnWorker } from "../../ops/worker_ctor.ts";
import { workerUrl } from "../../ops/worker_url.ts";
import type { GbdtModel } from "../tree.ts";
import { type PreparedModel, rememberPrepared } from "../prepared.ts";
import type { TrainData } from "./gbdt.ts";
import { TrainDataError } from "./objectives.ts";
import type { TrainParams } from "./params.ts";

/**
 * Trains `data` with `params` on a new worker thread.
 * @throws TrainDataError when the trainer refuses the rows (as inline), Error otherwise
 */
export function trainInWorker(data: TrainData, params: TrainParams): Promise<GbdtModel> {
  return new Promise((resolve, reject) => {
    let w: Worker;
    try {
      w = spawnWorker(workerUrl("train_worker", import.meta.url).href, { type: "module" });
    } catch (e) {
      reject(e);
      return;
    }
    w.onmessage = (e: MessageEvent) => {
      w.terminate();
      const m = e.data;
      if (m.ok) {
        rememberPrepared(m.model as GbdtModel, m.prepared as PreparedModel);
        resolve(m.model as GbdtModel);
      } else if (m.name === "TrainDataError") reject(new TrainDataError(m.message));
      else reject(new Error(`training worker: ${m.name}: ${m.message}`));
    };
    w.onerror = (e) => {
      e.preventDefault();
      w.terminate();
      reject(new Error(`training worker crashed: ${e.message}`));
    };
    // The rows are copied for the worker: the caller's arrays stay usable.
    const values = Float64Array.from(data.values);
    const labels = Float64Array.from(data.labels);
    const copy: TrainData = { ...data, values, labels };
    w.postMessage({ data: copy, params }, [values.buffer, labels.buffer]);
  });
}
