/**
 * URL of a worker module that sits next to the module spawning it.
 *
 * From source (and in a `deno compile` binary, which keeps source paths) the worker is
 * `<name>.ts`. In a bundle (scripts/bundle.ts) every module is inlined into one `.js` file whose
 * `import.meta.url` is the bundle's own, and each worker is bundled as `<name>.js` beside it.
 *
 * @param name worker file name without extension, e.g. "ingest_worker"
 * @param base `import.meta.url` of the spawning module
 */
export function workerUrl(name: string, base: string): URL {
  return new URL(`./${name}.${base.endsWith(".js") ? "js" : "ts"}`, base);
}
