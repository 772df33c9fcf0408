/**
 * onnxruntime-web (WASM backend) set up for a server process: one thread, the `.wasm` binary read
 * from disk (never fetched), so scoring works offline and inside a `deno compile` binary that
 * `--include`s `node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm`.
 *
 * Where the `.wasm` comes from, first readable wins:
 *  1. `wasmPath` passed to {@link initOrt};
 *  2. the environment variable `BITGET_ORT_WASM` (a file path);
 *  3. next to the resolved `onnxruntime-web` module (`import.meta.resolve`);
 *  4. `node_modules/onnxruntime-web/dist/` relative to this source file (the compiled binary's
 *     embedded file system keeps the repository layout), then relative to the working directory;
 *  5. in a bundle (scripts/bundle.ts), beside the bundle's `.js`.
 */

import * as ort from "onnxruntime-web";

export { ort };

/** Environment variable naming the onnxruntime-web `.wasm` file to load. */
export const ORT_WASM_ENV = "BITGET_ORT_WASM";
/** The WASM build used by onnxruntime-web 1.22's default (non-WebGPU) backend. */
export const ORT_WASM_FILE = "ort-wasm-simd-threaded.wasm";

export interface OrtInitOptions {
  /** Path or file URL of `ort-wasm-simd-threaded.wasm`; overrides every other location. */
  wasmPath?: string | URL;
}

/** The onnxruntime-web `.wasm` binary could not be read from any candidate location. */
export class OrtInitError extends Error {
  override name = "OrtInitError";
}

let ready: Promise<string> | undefined;

function envPath(): string | undefined {
  try {
    return Deno.env.get(ORT_WASM_ENV) || undefined;
  } catch {
    return undefined; // no --allow-env: fall through to the package locations
  }
}

/** Candidate locations of the `.wasm` file, in the order they are tried. */
export function ortWasmCandidates(opts: OrtInitOptions = {}): (string | URL)[] {
  const out: (string | URL)[] = [];
  if (opts.wasmPath) return [opts.wasmPath];
  const env = envPath();
  if (env) return [env];
  try {
    out.push(new URL(ORT_WASM_FILE, import.meta.resolve("onnxruntime-web")));
  } catch {
    // unresolvable specifier (unusual bundling): the fixed paths below still apply
  }
  const rel = `node_modules/onnxruntime-web/dist/${ORT_WASM_FILE}`;
  out.push(new URL(`../../${rel}`, import.meta.url));
  // A bundle (scripts/bundle.ts) ships the .wasm beside its .js; import.meta.url is the bundle's.
  if (import.meta.url.endsWith(".js")) out.push(new URL(`./${ORT_WASM_FILE}`, import.meta.url));
  try {
    out.push(`${Deno.cwd()}/${rel}`);
  } catch {
    // no --allow-read for the cwd
  }
  return out;
}

async function load(opts: OrtInitOptions): Promise<string> {
  const tried: string[] = [];
  for (const c of ortWasmCandidates(opts)) {
    try {
      const bytes = await Deno.readFile(c);
      ort.env.wasm.numThreads = 1; // no worker threads: deterministic, no SharedArrayBuffer needs
      ort.env.wasm.proxy = false;
      ort.env.wasm.wasmBinary = bytes;
      ort.env.logLevel = "error";
      return String(c);
    } catch (e) {
      tried.push(`${c} (${e instanceof Error ? e.message : e})`);
    }
  }
  throw new OrtInitError(
    `onnxruntime-web: cannot read ${ORT_WASM_FILE}; set ${ORT_WASM_ENV} to its path. Tried:\n  ` +
      tried.join("\n  "),
  );
}

/**
 * Configures onnxruntime-web once per process (later calls return the first result; the runtime
 * cannot be re-initialized with another binary).
 * @returns the location the `.wasm` was read from.
 * @throws OrtInitError listing every location tried when the `.wasm` cannot be read.
 */
export function initOrt(opts: OrtInitOptions = {}): Promise<string> {
  if (!ready) {
    ready = load(opts);
    ready.catch(() => ready = undefined); // allow a retry with another path after a failure
  }
  return ready;
}

/**
 * Creates an inference session on the WASM execution provider from ONNX bytes.
 * @throws Error from onnxruntime when the model is invalid or uses an unsupported operator.
 */
export async function createSession(
  onnx: Uint8Array,
  opts: OrtInitOptions = {},
): Promise<ort.InferenceSession> {
  await initOrt(opts);
  return await ort.InferenceSession.create(onnx, {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
}
