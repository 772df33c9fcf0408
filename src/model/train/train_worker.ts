/**
 * One training run on its own thread (start it through train_client.ts): receives the rows and
 * the resolved parameters, trains with gbdt.ts and posts the model back. The daemon retrains
 * here so a training run never holds up a decision (strategy/lifecycle.ts, background mode).
 *
 * Protocol (structured clone; the row buffers are transferred):
 *  → `{ data: TrainData, params: TrainParams }`
 *  ← `{ ok: true, model: GbdtModel }` or `{ ok: false, name, message }` (name = the error class,
 *    so TrainDataError survives the thread boundary).
 */
/// <reference lib="deno.worker" />
import { train, type TrainData } from "./gbdt.ts";
import type { TrainParams } from "./params.ts";

self.onmessage = async (e: MessageEvent<{ data: TrainData; params: TrainParams }>) => {
  try {
    const { model } = await train(e.data.data, e.data.params);
    self.postMessage({ ok: true, model });
  } catch (err) {
    const x = err as Error;
    self.postMessage({ ok: false, name: x.name, message: x.message });
  }
};
