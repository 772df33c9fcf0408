/**
 * One training run on its own thread (start it through train_client.ts): receives the rows and
 * the resolved parameters, trains with gbdt.ts and posts the model back. The daemon retrains
 * here so a training run never holds up a decision (strategy/lifecycle.ts, background mode).
 *
 * Protocol (structured clone; the row buffers are transferred):
 *  → `{ data: TrainData, params: TrainParams }`
 *  ← `{ ok: true, model: GbdtModel, prepared: PreparedModel }` (model/prepared.ts) or `{ ok: false, name, message }` (name = the error class,
 *    so TrainDataError survives the thread boundary).
 */
/// <reference lib="deno.worker" />
import { prepareModel } from "../prepared.ts";
import { train, type TrainData } from "./gbdt.ts";
import type { TrainParams } from "./params.ts";

self.onmessage = async (e: MessageEvent<{ data: TrainData; params: TrainParams }>) => {
  try {
    const { model } = await train(e.data.data, e.data.params);
    // Its ONNX export and compiled-ensemble plan too, so the main thread does neither.
    const prepared = prepareModel(model);
    self.postMessage({ ok: true, model, prepared });
  } catch (err) {
    const x = err as Error;
    self.postMessage({ ok: false, name: x.name, message: x.message });
  }
};
