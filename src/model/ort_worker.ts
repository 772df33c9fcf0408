/**
 * The onnxruntime reference worker (a Web Worker; start it through ort_reference.ts): one
 * onnxruntime-web session over the ONNX bytes it is sent, scoring row batches on its own thread.
 * The compiled ensemble (compiled_ensemble.ts) scores on the caller's thread; this worker is the
 * reference it is checked against (probe rows at load, then an audit sample), so onnxruntime's
 * start-up (WASM compilation, ~0.7 s) and its per-call cost never sit on the decision path.
 *
 * Protocol (structured clone; row buffers are transferred):
 *  → `{type:"init", onnx, outputName, numFeatures, wasmPath?}` ← `{type:"ready"}` or `{type:"error"}`
 *  → `{type:"score", id, rows, n}` ← `{type:"scores", id, out}` (n × width float32, row-major)
 *    or `{type:"error", id, message}`.
 */
import { createSession, ort } from "./ort.ts";

export type ToOrtWorker =
  | {
    type: "init";
    onnx: Uint8Array;
    /** Graph output returned (`probabilities` or `scores`). */
    outputName: string;
    numFeatures: number;
    wasmPath?: string;
  }
  | { type: "score"; id: number; rows: Float32Array; n: number };

export type FromOrtWorker =
  | { type: "ready" }
  | { type: "scores"; id: number; out: Float32Array }
  | { type: "error"; id: number | null; message: string };

// deno-lint-ignore no-explicit-any
const self_ = globalThis as any;
// Score requests may arrive while the session is still being created: they wait for it.
let session: Promise<ort.InferenceSession> | null = null;
let outputName = "";
let numFeatures = 0;

function post(m: FromOrtWorker, transfer: Transferable[] = []): void {
  self_.postMessage(m, transfer);
}

self_.onmessage = async (e: MessageEvent<ToOrtWorker>) => {
  const m = e.data;
  if (m.type === "init") {
    outputName = m.outputName;
    numFeatures = m.numFeatures;
    session = createSession(m.onnx, { wasmPath: m.wasmPath });
    try {
      await session;
      post({ type: "ready" });
    } catch (err) {
      post({ type: "error", id: null, message: (err as Error).message });
    }
    return;
  }
  try {
    if (!session) throw new Error("score before init");
    const ready = await session;
    const input = new ort.Tensor("float32", m.rows, [m.n, numFeatures]);
    const res = await ready.run({ features: input }, [outputName]);
    // A copy: the tensor's data may be a view of onnxruntime's WASM heap.
    const out = Float32Array.from(res[outputName].data as Float32Array);
    post({ type: "scores", id: m.id, out }, [out.buffer]);
  } catch (err) {
    post({ type: "error", id: m.id, message: (err as Error).message });
  }
};
