/**
 * The Web Worker constructor of this thread, captured when this module is evaluated, and
 * `spawnWorker` to start module workers with it.
 *
 * Why: onnxruntime-web's threaded emscripten glue (ort-wasm-simd-threaded), once initialised in
 * a thread, takes Deno for Node and replaces `globalThis.Worker` with Node's worker_threads
 * `Worker` class. That class cannot run a `{ type: "module" }` worker with `onmessage` /
 * `postMessage` semantics, so any `new Worker(url, { type: "module" })` issued afterwards in the
 * same thread fails or misbehaves (ingest shards, trainer threads, the score worker). Every worker
 * spawner therefore imports this module first among its imports: ES modules evaluate their
 * dependencies in import order before any code runs, so the capture happens at program load,
 * before any ORT session can exist (ORT initialises only asynchronously, at run time).
 */

/** `globalThis.Worker` as it was when this module was first evaluated (the Web Worker class). */
export const WebWorker: typeof Worker = globalThis.Worker;

/**
 * Starts a Web Worker with the constructor captured at load (see file doc), whatever
 * `globalThis.Worker` is now.
 * @param url worker module URL (ops/worker_url.ts `workerUrl`)
 * @param options WorkerOptions, normally `{ type: "module" }` (plus Deno's `deno.permissions`)
 * @throws Error when this thread had no Web Worker class at load, or what `new Worker` throws
 *   (bad URL, missing read permission on the module, …)
 */
export function spawnWorker(url: string | URL, options?: WorkerOptions): Worker {
  if (typeof WebWorker !== "function") {
    throw new Error("spawnWorker: this thread had no Web Worker constructor when it started");
  }
  return new WebWorker(url, options);
}
