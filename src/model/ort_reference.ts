/**
 * Main-thread handle of the onnxruntime reference worker (ort_worker.ts): `score(rows, n)` resolves
 * with onnxruntime's n × width float32 scores, computed on the worker's thread. Requests are
 * answered in order. Used by model/scorer.ts to check the compiled ensemble without running
 * onnxruntime on the decision thread.
 */
// First: captures the Web Worker constructor before anything can initialise ORT (worker_ctor.ts).
import { spawnWorker } from "../ops/worker_ctor.ts";
import { workerUrl } from "../ops/worker_url.ts";
import type { FromOrtWorker, ToOrtWorker } from "./ort_worker.ts";

/** The worker failed to start, refused the model, failed on a batch, or was closed. */
export class OrtReferenceError extends Error {
  override name = "OrtReferenceError";
}

type Pending = { resolve: (out: Float32Array) => void; reject: (e: Error) => void };

/** A running reference worker. close() when done: a live worker keeps the process running. */
export class OrtReference {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private dead: OrtReferenceError | null = null;
  /** Resolves once the session is loaded; rejects with the worker's reason. */
  readonly ready: Promise<void>;

  /**
   * Starts the worker and loads `onnx` in it (asynchronously: `score` may be called at once, its
   * requests wait for the session).
   * @param onnx model bytes (copied; the caller keeps its array)
   * @param outputName graph output to return
   * @param numFeatures input width
   */
  constructor(onnx: Uint8Array, outputName: string, numFeatures: number, wasmPath?: string) {
    const w = spawnWorker(workerUrl("ort_worker", import.meta.url).href, { type: "module" });
    this.worker = w;
    let started: (() => void) | null = null;
    let refused: ((e: Error) => void) | null = null;
    this.ready = new Promise<void>((res, rej) => {
      started = res;
      refused = rej;
    });
    // Nobody may await `ready` (score() reports the same failure); no unhandled rejection.
    this.ready.catch(() => {});
    w.onmessage = (e: MessageEvent<FromOrtWorker>) => {
      const m = e.data;
      if (m.type === "ready") return started!();
      if (m.type === "scores") {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        return p?.resolve(m.out);
      }
      const err = new OrtReferenceError(`onnxruntime reference worker: ${m.message}`);
      if (m.id === null) {
        refused!(err);
        return this.fail(err);
      }
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      p?.reject(err);
    };
    w.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      const err = new OrtReferenceError(`onnxruntime reference worker crashed: ${e.message}`);
      refused!(err);
      this.fail(err);
    };
    const init: ToOrtWorker = {
      type: "init",
      // A copy made by the Uint8Array constructor: `onnx` may be a Node Buffer (protobufjs), whose
      // slice() is a view, and transferring a view's buffer would detach the caller's bytes.
      onnx: new Uint8Array(onnx),
      outputName,
      numFeatures,
      wasmPath,
    };
    w.postMessage(init, [init.onnx.buffer as ArrayBuffer]);
  }

  private readonly worker: Worker;

  /**
   * Scores `n` rows (row-major; the buffer is transferred to the worker and unusable afterwards).
   * @throws OrtReferenceError (rejection) when the worker refused the model or died.
   */
  score(rows: Float32Array, n: number): Promise<Float32Array> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const m: ToOrtWorker = { type: "score", id, rows, n };
      this.worker.postMessage(m, [rows.buffer as ArrayBuffer]);
    });
  }

  /** Terminates the worker; pending requests reject. */
  close(): void {
    this.fail(new OrtReferenceError("onnxruntime reference worker closed"));
  }

  private fail(err: OrtReferenceError): void {
    if (this.dead) return;
    this.dead = err;
    this.worker.terminate();
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
