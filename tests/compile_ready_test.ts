/**
 * Compile-readiness, proven offline. `deno compile` needs to download its `denort` runtime (no
 * network here), so this bundles what the compile tasks embed — entry point, worker modules and the
 * onnxruntime-web `.wasm` (scripts/bundle.ts) — and runs the bundle from an empty directory, with
 * no `node_modules` and no deno.json, under the compile tasks' own permission flags (read from
 * deno.json). The only extra grant is read on the bundle's folder: a compiled binary reads its
 * embedded modules without a permission, a bundle on disk cannot.
 */
import assert from "node:assert/strict";
import { bundle } from "../scripts/bundle.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const SHARED = new URL("../../shared/", import.meta.url).pathname;
const SAMPLE = "bitget_v2_public_BTCUSDT-ETHUSDT_20240718T2357_45s.jsonl.gz";

/** Permission flags baked in by `deno task compile:linux-x64`. */
async function compileFlags(): Promise<string[]> {
  const cfg = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const task: string = cfg.tasks["compile:linux-x64"];
  const flags = task.split(/\s+/).filter((f) => /^--(allow-|unstable-worker-options)/.test(f));
  assert.ok(flags.some((f) => f.startsWith("--allow-net=")), task);
  return flags;
}

function run(cwd: string, flags: string[], args: string[], extraRead: string) {
  const perms = flags.map((f) => f.startsWith("--allow-read=") ? `${f},${extraRead}` : f);
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-config", "--no-lock", ...perms, "app/main.js", ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
}

Deno.test({
  name:
    "compile-readiness: bundle runs replay, collect, run (paper), stats, ONNX scoring, fit and backtest with baked flags",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const work = await Deno.makeTempDir({ prefix: "bitget-bundle-" });
    try {
      const files = await bundle(`${work}/app`);
      const names = files.map((f) => f.slice(f.lastIndexOf("/") + 1)).sort();
      for (
        const want of [
          "main.js",
          "ingest_worker.js",
          "hist_worker.js",
          "score_worker.js",
          "record_worker.js",
          "ort_worker.js",
          "train_worker.js",
        ]
      ) {
        assert.ok(names.includes(want), `bundle has ${want}: ${names.join(", ")}`);
      }
      assert.ok(
        names.includes("ort-wasm-simd-threaded.wasm") &&
          names.includes("ort-wasm-simd-threaded.mjs"),
      );
      for (const d of ["data", "models", "sample"]) await Deno.mkdir(`${work}/${d}`);
      await Deno.copyFile(`${ROOT}sample/${SAMPLE}`, `${work}/sample/${SAMPLE}`);
      await Deno.copyFile(`${SHARED}lightgbm/binary_model.txt`, `${work}/models/binary_model.txt`);
      await Deno.copyFile(`${SHARED}lightgbm/binary_valid_2000.csv`, `${work}/data/valid.csv`);
      const flags = await compileFlags();
      const dec = new TextDecoder();

      const v = await run(work, flags, ["--version"], "app").output();
      assert.equal(v.code, 0, dec.decode(v.stderr));

      // The simulator and the collector, both from the bundle, over loopback.
      const replay = run(work, flags, ["replay", `sample/${SAMPLE}`, "--speed", "4"], "app")
        .spawn();
      const reader = replay.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let first = "";
      while (!first.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        first += value;
      }
      const { wsUrl, restUrl } = JSON.parse(first.split("\n")[0]);
      const c = await run(work, flags, [
        "collect",
        "--symbols",
        "BTCUSDT",
        "ETHUSDT",
        "--db",
        "data/b.db",
        "--ws-url",
        wsUrl,
        "--rest-url",
        restUrl,
        "--duration",
        "4s",
        "--log-format",
        "json",
      ], "app").output();
      // The trading daemon (paper: the simulated exchange on the simulator's book), with its
      // recording worker loaded from the bundle.
      const r = await run(work, flags, [
        "run",
        "--mode",
        "paper",
        "--strategy",
        "smoke",
        "--symbols",
        "BTCUSDT",
        "--db",
        "data/r.db",
        "--ws-url",
        wsUrl,
        "--rest-url",
        restUrl,
        "--duration",
        "4s",
        "--log-format",
        "json",
      ], "app").output();
      replay.kill("SIGTERM");
      await replay.status;
      reader.releaseLock();
      await replay.stdout.cancel().catch(() => {});
      assert.equal(c.code, 0, dec.decode(c.stderr) + dec.decode(c.stdout).slice(-2000));
      assert.equal(r.code, 0, dec.decode(r.stderr) + dec.decode(r.stdout).slice(-2000));
      const stopped = dec.decode(r.stdout).split("\n").find((l) => l.includes('"run stopped"'));
      assert.ok(stopped, dec.decode(r.stdout).slice(-2000));
      const sum = JSON.parse(stopped);
      assert.ok(sum.fills >= 1 && sum.recordedRows > 100, stopped);

      const st = await run(work, flags, ["stats", "data/b.db", "--json"], "app").output();
      assert.equal(st.code, 0, dec.decode(st.stderr));
      const stats = JSON.parse(dec.decode(st.stdout));
      const text = JSON.stringify(stats);
      assert.match(text, /"books"/);
      assert.ok(dec.decode(st.stdout).length > 200);

      // ONNX scoring through onnxruntime-web with the .wasm beside the bundle.
      const p = await run(work, flags, [
        "model",
        "predict",
        "models/binary_model.txt",
        "--csv",
        "data/valid.csv",
        "--label-first",
        "--out",
        "data/pred.txt",
      ], "app").output();
      assert.equal(p.code, 0, dec.decode(p.stderr));
      const got = (await Deno.readTextFile(`${work}/data/pred.txt`)).trim().split("\n").map(Number);
      const want = (await Deno.readTextFile(`${SHARED}lightgbm/binary_pred_prob_2000.txt`)).trim()
        .split("\n").map(Number);
      assert.equal(got.length, 2000);
      for (let i = 0; i < want.length; i++) {
        assert.ok(Math.abs(got[i] - want[i]) <= 1e-6, `row ${i}: ${got[i]} vs ${want[i]}`);
      }

      // The trainer's worker threads load from the bundle too.
      const f = await run(work, flags, [
        "model",
        "fit",
        "data/valid.csv",
        "--out",
        "models/fit",
        "--quiet",
        "objective=binary",
        "num_iterations=5",
        "num_threads=2",
      ], "app").output();
      assert.equal(f.code, 0, dec.decode(f.stderr));
      assert.ok((await Deno.stat(`${work}/models/fit/model.txt`)).size > 1000);

      // A backtest of the collected data: the ml strategy loads the shipped ONNX bundle, and the
      // HTML report inlines lightweight-charts (a text import embedded in the bundle).
      for (const m of ["default.json", "default.onnx", "default.raw.onnx"]) {
        await Deno.copyFile(`${ROOT}models/${m}`, `${work}/models/${m}`);
      }
      const bt = await run(work, flags, [
        "backtest",
        "data/b.db",
        "--strategy",
        "ml",
        "--out",
        "backtests/bundle",
      ], "app").output();
      assert.equal(bt.code, 0, dec.decode(bt.stderr) + dec.decode(bt.stdout));
      assert.match(dec.decode(bt.stdout), /total return/);
      const html = await Deno.readTextFile(`${work}/backtests/bundle/report.html`);
      assert.ok(
        html.includes("LightweightCharts") && html.length > 150_000,
        "report inlines the library",
      );
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
});
