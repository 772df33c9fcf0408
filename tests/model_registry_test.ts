/**
 * The model registry (model/model_registry.ts) and its commands (`bitget-bot model list |
 * register | promote | rollback`), on the shipped bundle and a micro bundle trained here on the
 * real 2023 BTCUSDT data; and the daemon's hot pickup of a promotion (live/model_watch.ts) on a
 * real ml strategy: a compatible version is swapped in, an incompatible one is refused with the
 * reason and the running model stays.
 */
import assert from "node:assert/strict";
import { modelCommand } from "../src/cli/model.ts";
import { readBundle } from "../src/model/bundle.ts";
import { ModelRegistry, RegistryError } from "../src/model/model_registry.ts";
import { ModelWatch } from "../src/live/model_watch.ts";
import { createMlStrategy, parseMlConfig } from "../src/strategy/ml.ts";
import { microDb2023, trainMicro } from "./helpers/micro_2023.ts";

const DEFAULT = new URL("../models/default", import.meta.url).pathname;

/** Runs `bitget-bot model …` capturing stdout/stderr lines. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    return { code: await modelCommand(args), out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("model registry: register, list, promote, rollback, reject, errors, concurrent writers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "registry_test_" });
  const reg = `${dir}/registry`;
  let r = await cli(["list", "--registry", reg]);
  assert.equal(r.code, 1);
  assert.match(r.err, /no model registry \(index\.json missing\)/);

  r = await cli(["register", DEFAULT, "--registry", reg, "--promote"]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /v1 registered from .* \(live\)/);
  r = await cli(["register", DEFAULT, "--registry", reg]);
  assert.match(r.out, /v2 registered .* \(candidate\)/);

  const registry = await ModelRegistry.open(reg);
  let idx = await registry.read();
  assert.equal(idx.live, "v1");
  const v1 = idx.versions[0];
  const orig = await readBundle(DEFAULT);
  assert.equal(v1.onnxSha256, orig.meta.onnx.sha256);
  assert.deepEqual(v1.trainingWindow, orig.meta.trainingWindow);
  assert.equal(v1.features.count, orig.meta.featureNames.length);
  assert.equal(v1.objective, "multiclass");
  assert.ok(Object.keys(v1.params).length > 0, "trainer parameters from the training section");
  assert.deepEqual(v1.validationMetrics, orig.meta.validationMetrics);
  // The copied bundle reads back hash-checked.
  assert.equal((await readBundle(await registry.bundlePath("v2"))).meta.onnx.sha256, v1.onnxSha256);

  r = await cli(["list", "--registry", reg]);
  assert.match(r.out, /\* v1 +live/);
  assert.match(r.out, / {2}v2 +candidate/);
  r = await cli(["list", "--registry", reg, "--json"]);
  assert.equal(JSON.parse(r.out).live, "v1");

  r = await cli(["promote", "v2", "--registry", reg]);
  assert.equal(r.code, 0);
  assert.match(r.out, /v2 is live \(was v1\)/);
  idx = await registry.read();
  assert.deepEqual(idx.versions.map((v) => v.status), ["retired", "live"]);
  r = await cli(["rollback", "--registry", reg]);
  assert.match(r.out, /v1 is live again \(rolled back from v2\)/);
  assert.equal((await registry.read()).live, "v1");

  // A rejection keeps its reason; promoting it by hand says what it overrides.
  await registry.reject("v2", "logloss 0.95 vs live 0.91 on 120 rows: worse", { candidate: 1 });
  idx = await registry.read();
  assert.equal(idx.versions[1].status, "rejected");
  await assert.rejects(registry.reject("v1", "x"), /v1 is live/);
  await registry.promote("v2");
  idx = await registry.read();
  assert.match(idx.versions[1].reason!, /promoted by hand \(overriding its rejection: logloss/);
  assert.deepEqual(
    idx.history.map((h) => `${h.action}:${h.version}:${h.previous ?? "-"}`),
    [
      "register:v1:-",
      "promote:v1:-",
      "register:v2:-",
      "promote:v2:v1",
      "rollback:v1:v2",
      "reject:v2:-",
      "promote:v2:v1",
    ],
  );

  r = await cli(["promote", "v9", "--registry", reg]);
  assert.equal(r.code, 1);
  assert.match(r.err, /no version v9 .* \(versions: v1, v2\)/);
  r = await cli(["promote", "--registry", reg]);
  assert.equal(r.code, 2);
  assert.match(r.err, /promote: expected one version/);

  // Four writers at once: every version number once, no write lost.
  const made = await Promise.all([1, 2, 3, 4].map(() => registry.register(DEFAULT)));
  assert.deepEqual(made.map((e) => e.version).sort(), ["v3", "v4", "v5", "v6"]);
  assert.equal((await registry.read()).versions.length, 6);

  // A lock left by a killed process is taken over once stale; a fresh one is waited for.
  const lock = `${reg}/index.lock`;
  await Deno.writeTextFile(lock, "");
  await Deno.utime(lock, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
  await registry.promote("v3");
  assert.equal((await registry.read()).live, "v3");
  await Deno.writeTextFile(lock, "");
  const p = registry.promote("v4");
  await new Promise((res) => setTimeout(res, 150));
  assert.equal((await registry.read()).live, "v3", "waits while the lock is held");
  await Deno.remove(lock);
  await p;
  assert.equal((await registry.read()).live, "v4");

  // Pruning keeps the newest rejected bundles' files; the records stay; pruned ones cannot go live.
  for (const v of ["v5", "v6"]) await registry.reject(v, `worse ${v}`);
  assert.deepEqual(await registry.pruneRejected(1), ["v5"]);
  idx = await registry.read();
  assert.deepEqual(idx.versions.filter((v) => v.pruned).map((v) => v.version), ["v5"]);
  await assert.rejects(Deno.stat(`${reg}/v5`), Deno.errors.NotFound);
  assert.ok((await Deno.stat(`${reg}/v6`)).isDirectory);
  assert.equal(idx.versions.find((v) => v.version === "v5")!.reason, "worse v5");
  await assert.rejects(registry.promote("v5"), /v5 was pruned/);
  r = await cli(["list", "--registry", reg]);
  assert.match(r.out, /v5 +rejected \(pruned\)/);

  // A corrupt index is named, not overwritten.
  await Deno.writeTextFile(`${reg}/index.json`, "{ not json");
  r = await cli(["list", "--registry", reg]);
  assert.equal(r.code, 1);
  assert.match(r.err, /index\.json is not valid JSON/);
  await assert.rejects(ModelRegistry.open(reg), RegistryError);
});

/** A micro bundle (other features than the shipped candle model) trained on real 2023 data. */
async function microBundle(dir: string): Promise<string> {
  await microDb2023(`${dir}/m.db`);
  return await trainMicro(`${dir}/m.db`, `${dir}/micro`, [
    "num_iterations=3",
    "min_data_in_leaf=5",
  ]);
}

Deno.test({
  name:
    "run's registry watch: a promotion is put live without a restart; an incompatible one is refused",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "registry_watch_test_" });
    const reg = await ModelRegistry.open(`${dir}/registry`, { create: true });
    await reg.register(DEFAULT, { promote: true });
    const micro = await reg.register(await microBundle(dir));
    const s = await createMlStrategy(parseMlConfig({ model: `${dir}/registry` }), {});
    try {
      assert.deepEqual(s.setup.registry, { dir: `${dir}/registry`, version: "v1" });
      assert.equal(s.modelVersion, "v1");
      const adopted: string[] = [], errors: string[] = [];
      const w = new ModelWatch(`${dir}/registry`, "v1", s, {
        onAdopted: (v, prev) => adopted.push(`${prev}→${v}`),
        onError: (m) => errors.push(m),
      }, 3_600_000);
      await w.ready();
      await w.poll();
      assert.deepEqual([adopted, errors], [[], []], "no change, nothing done");

      await reg.promote(micro.version);
      await w.poll();
      assert.deepEqual(adopted, []);
      assert.equal(errors.length, 1);
      assert.match(errors[0], /registry promoted v2; it was not put live: .*features differ/);
      assert.equal(s.modelVersion, "v1", "the running model stays");

      const v3 = await reg.register(DEFAULT);
      await reg.promote(v3.version);
      await w.poll();
      assert.deepEqual(adopted, ["v1→v3"]);
      assert.equal(s.modelVersion, "v3");
      await w.poll(); // the same pointer again: nothing to do
      assert.deepEqual(adopted, ["v1→v3"]);
      // A promotion the daemon itself wrote is not acted on (it trades that model already); a
      // hand rollback right after it, before the next poll, is.
      await reg.promote("v1", "daemon", "shadow verdict");
      await w.poll();
      assert.deepEqual(adopted, ["v1→v3"]);
      await reg.promote(v3.version, "daemon", "shadow verdict");
      await reg.rollback();
      await w.poll();
      assert.deepEqual(adopted, ["v1→v3", "v3→v1"]);
      await w.stop();
    } finally {
      await s.close();
    }
  },
});
