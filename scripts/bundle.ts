/**
 * Offline proof of compile-readiness: `deno compile` needs to download its `denort` runtime, which an
 * offline machine cannot do, so this bundles exactly what the compile tasks embed — the entry point,
 * every worker module, and onnxruntime-web's `.wasm` with its glue `.mjs` — into `dist/bundle/`. Running
 * `dist/bundle/main.js` with the compile tasks' permission flags and no `node_modules` then shows the
 * program needs nothing else (tests/compile_ready_test.ts does this).
 *
 * Usage: deno task bundle [outDir]
 */
export const BUNDLE_ENTRIES: Record<string, string> = {
  "main.js": "src/main.ts",
  "ingest_worker.js": "src/ingest/ingest_worker.ts",
  "hist_worker.js": "src/model/train/hist_worker.ts",
  "score_worker.js": "src/features/score_worker.ts",
  "record_worker.js": "src/live/record_worker.ts",
  "ort_worker.js": "src/model/ort_worker.ts",
  "train_worker.js": "src/model/train/train_worker.ts",
};

/** onnxruntime-web's WASM binary and the emscripten glue module it imports at run time. */
export const ORT_FILES = [
  "node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm",
  "node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.mjs",
];

/** Bundles into `outDir`; throws with esbuild's message when a bundle fails. */
export async function bundle(outDir = "dist/bundle"): Promise<string[]> {
  await Deno.mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const [out, entry] of Object.entries(BUNDLE_ENTRIES)) {
    const target = `${outDir}/${out}`;
    const res = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform=deno", "--output", target, entry],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!res.success) {
      throw new Error(`deno bundle ${entry} failed:\n${new TextDecoder().decode(res.stderr)}`);
    }
    written.push(target);
  }
  for (const f of ORT_FILES) {
    const out = `${outDir}/${f.slice(f.lastIndexOf("/") + 1)}`;
    await Deno.copyFile(f, out);
    written.push(out);
  }
  return written;
}

if (import.meta.main) {
  const files = await bundle(Deno.args[0]);
  for (const f of files) console.log(`${f}\t${(await Deno.stat(f)).size} bytes`);
}
