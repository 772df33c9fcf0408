/**
 * A model's ONNX bytes and compiled-ensemble plan, made where the model was trained. The daemon
 * trains on a worker thread (train/train_worker.ts); exporting the model to ONNX (protobuf
 * encoding, ~50 ms for 150 trees) and planning its compiled ensemble (decoding that ONNX again,
 * ~70 ms) are done there too, so the main thread — which takes every decision — only receives
 * them. {@link Scorer.fromModel} and {@link writeBundle} use what is remembered for a model
 * instead of doing the work again; the bytes are exactly what they would have produced
 * (exportOnnx with the same options), so nothing downstream can tell.
 */
import { type EnsemblePlan, planEnsemble } from "./compiled_ensemble.ts";
import { exportOnnx } from "./onnx_export.ts";
import type { GbdtModel } from "./tree.ts";
import { VERSION } from "../version.ts";

export interface PreparedModel {
  /** exportOnnx(model, { output: "transformed", precision: "double", producerVersion }). */
  transformed: Uint8Array;
  /** exportOnnx(model, { output: "raw", precision: "double", producerVersion }). */
  raw: Uint8Array;
  /** planEnsemble of the graph a Scorer uses (raw for regression, else transformed). */
  plan: EnsemblePlan | null;
  /** Why there is no plan ("" when there is one). */
  refusal: string;
}

const remembered = new WeakMap<GbdtModel, PreparedModel>();

/** Exports and plans `model` (see file doc); runs on the thread that calls it. */
export function prepareModel(model: GbdtModel): PreparedModel {
  const opts = { precision: "double", producerVersion: VERSION } as const;
  const transformed = exportOnnx(model, { ...opts, output: "transformed" });
  const raw = exportOnnx(model, { ...opts, output: "raw" });
  let refusal = "";
  let plan: EnsemblePlan | null = null;
  try {
    plan = planEnsemble(
      model.objective.name === "regression" ? raw : transformed,
      (r) => (refusal = r),
    );
  } catch (e) {
    refusal = `cannot compile: ${(e as Error).message}`;
  }
  return { transformed, raw, plan, refusal };
}

/** Keeps `p` for `model` (a model object received from the training worker). */
export function rememberPrepared(model: GbdtModel, p: PreparedModel): void {
  remembered.set(model, p);
}

/** What was prepared for `model`, if anything. */
export function preparedOf(model: GbdtModel): PreparedModel | undefined {
  return remembered.get(model);
}
