/**
 * The model lifecycle in the running daemon, end to end (issue 9's proof): `run --mode paper
 * --strategy ml` as a real child process with the product's permissions, trading a model from
 * the registry over the loopback simulator replaying the real 2023 BTCUSDT recording followed by
 * the real 2024 one (a drifted second half: BTC at 28k then 64k, other depth and flow).
 *
 * The live model (v1) is trained by `bitget-bot train --features micro` on the 2023 data and
 * registered live; its bundle carries the PSI reference of its training rows. The daemon must:
 * raise a drift alarm after the seam, retrain on its worker thread from the rows it recorded,
 * store the candidate in the registry (v2, parent v1), shadow it, and promote or reject it —
 * each step in the database (model_events), the metrics (/metrics, parsed by an independent
 * parser) and the alerts (a loopback JSON webhook). Then a promotion by hand (`model promote` /
 * `model rollback`) is picked up by the running daemon without a restart.
 *
 * Settings sized to 8-minute recordings: drift checked every 15 s over the last 4 min (240 one-
 * second rows); psiThreshold 6, not the production 0.25: 240 rows of strongly autocorrelated 1 s
 * features (60 s rolling windows, a spread that is one tick most of the time) are only a few
 * independent samples, so PSI against their own market already reaches 3–4 (measured on the 2023
 * half: 3.05 for the largest 240 s window against all of 2023, 4.06 once against v1's training
 * split), while in the 2024 half the spread, depth and basis features pass 6 about 3.5 min after
 * the seam (8.3–8.5 a minute later). The funding features are excluded by the default
 * driftExclude (they move on the 8 h funding cycle).
 */
import assert from "node:assert/strict";
import { modelCommand } from "../src/cli/model.ts";
import { readBundle } from "../src/model/bundle.ts";
import { ModelRegistry } from "../src/model/model_registry.ts";
import { writeBackToBack } from "./helpers/back_to_back.ts";
import {
  allDelivered,
  peekCount,
  REC_2023,
  sim,
  spawnCollector,
  testConfig,
  waitFor,
} from "./helpers/collect_harness.ts";
import { liveSim, rows, runConfigYaml, simUrls, spawnRun } from "./helpers/run_harness.ts";
import { type Family, freePort, scrape } from "./helpers/prometheus.ts";
import { trainMicro } from "./helpers/micro_2023.ts";

function value(f: Map<string, Family>, name: string, labels: Record<string, string>): number {
  const m = f.get(name)?.metrics.find((x) =>
    Object.entries(labels).every(([k, v]) => x.labels?.[k] === v)
  );
  return m ? Number(m.value) : NaN;
}

/**
 * v1: a micro model trained on the 2023 recording as `collect` recorded it (the same pipeline,
 * books15 + trades + tickers, that the daemon's features see live).
 */
async function trainV1(dir: string): Promise<string> {
  await Deno.mkdir(`${dir}/rec2023`);
  const s0 = await sim({ recording: REC_2023, speed: "max", onEnd: "idle" });
  let db: string;
  try {
    const c = await spawnCollector(s0, ["--symbols", "BTCUSDT"], testConfig(), `${dir}/rec2023`);
    await waitFor("the 2023 recording delivered", () => allDelivered(s0, 1), 60_000);
    await waitFor("the 2023 trades committed", () => {
      try {
        return peekCount(c.db, "SELECT COUNT(*) AS n FROM trades") > 0;
      } catch {
        return false;
      }
    }, 20_000);
    await new Promise((r) => setTimeout(r, 1500));
    c.child.kill("SIGTERM");
    assert.equal((await c.done).code, 0);
    db = c.db;
  } finally {
    await s0.close();
  }
  return await trainMicro(db, `${dir}/bundles/btc_micro`, [
    "num_iterations=20",
    "num_leaves=7",
    "min_data_in_leaf=10",
  ]);
}

const LIFECYCLE_YAML = (registry: string) => `
strategies:
  ml:
    model: ${registry}
    minProb: 0.5
    minMargin: 0.2
    retrain:
      enabled: true
      trainWindowMs: 3m
      everyMs: 7d
      minRows: 100
      params: { num_iterations: 20, num_leaves: 7, min_data_in_leaf: 10 }
      driftWindowMs: 4m
      driftCheckMs: 15s
      psiThreshold: 6
      sharpeThreshold: null
      minIntervalMs: 10m
      shadowForMs: 60s
      minShadowRows: 30
`;

const TOKEN = "tok-lifecycle-51c0";

Deno.test({
  name:
    "run --mode paper over 2023 then 2024: drift alarm, retrain on the worker, shadow, verdict — in the DB, /metrics, alerts and the registry; a hand promotion is picked up live",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bitget-lifecycle-" });
    const bundle = await trainV1(dir);
    const regDir = `${dir}/registry`;
    const reg = await ModelRegistry.open(regDir, { create: true });
    const v1 = await reg.register(bundle, { promote: true });
    assert.equal(v1.version, "v1");
    const rec = `${dir}/rec.jsonl`;
    const span = await writeBackToBack(rec, 400);

    const hooks: Record<string, unknown>[] = [];
    const hook = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      hooks.push(await req.json());
      return new Response(null, { status: 204 });
    });
    const s = await liveSim(rec, 10);
    const port = freePort();
    await Deno.writeTextFile(`${dir}/config.yaml`, runConfigYaml(LIFECYCLE_YAML(regDir)));
    const p = spawnRun(dir, [
      "--mode",
      "paper",
      "--strategy",
      "ml",
      "--symbols",
      "BTCUSDT",
      "--metrics-listen",
      `127.0.0.1:${port}`,
      ...simUrls(s),
    ], { ALERT_WEBHOOK_URL: `http://127.0.0.1:${hook.addr.port}/hook/${TOKEN}` });
    let out: { code: number; stdout: string; stderr: string } | null = null;
    p.done.then((o) => (out = o));
    try {
      // The verdict on the drift-triggered retrain: v2 leaves "candidate".
      await waitFor("a shadow verdict in the registry", async () => {
        if (out) throw new Error(`daemon exited ${out.code}: ${out.stderr.slice(-2000)}`);
        const idx = await reg.read();
        const v2 = idx.versions.find((v) => v.version === "v2");
        return v2 !== undefined && v2.status !== "candidate";
      }, 150_000);
      const idx = await reg.read();
      const v2 = idx.versions.find((v) => v.version === "v2")!;
      assert.equal(v2.parent, "v1");
      assert.equal(v2.origin, "drift");
      // The trainer's full parameter set: the config's overrides and the defaults it ran with.
      assert.equal(v2.params.num_iterations, "20");
      assert.equal(v2.params.num_leaves, "7");
      assert.ok("learning_rate" in v2.params && "lambda_l2" in v2.params);
      assert.ok(
        v2.trainingWindow && v2.trainingWindow.endMs > span.seamMs,
        "trained after the seam",
      );
      assert.ok(v2.trainingWindow.endMs <= span.endMs);
      assert.match(v2.reason ?? "", /logloss .* on \d+ rows/);
      assert.ok(v2.shadow, "shadow metrics stored with the verdict");
      const b2 = await readBundle(`${regDir}/${v2.bundle}`);
      assert.equal(b2.meta.onnx.sha256, v2.onnxSha256);
      assert.ok(b2.meta.drift && b2.meta.drift.rows >= 100, "v2 carries its training rows' bins");
      const verdict = v2.status === "live" ? "promoted" : "rejected";
      assert.equal(v2.status, verdict === "promoted" ? "live" : "rejected");

      // Metrics while it runs.
      const f = await scrape(port);
      assert.ok(value(f, "bitget_bot_retrains_total", { outcome: "trained" }) >= 1);
      assert.ok(value(f, "bitget_bot_retrains_total", { outcome: verdict }) >= 1);
      const psi = f.get("bitget_bot_feature_drift_psi")!.metrics.map((m) => Number(m.value));
      assert.ok(psi.length > 10, "PSI per feature");
      assert.equal(
        value(f, "bitget_bot_model_info", { version: verdict === "promoted" ? "v2" : "v1" }),
        1,
      );

      // A hand promotion (or rollback) in the registry, picked up without a restart.
      const target = verdict === "promoted" ? "v1" : "v2";
      const code = verdict === "promoted"
        ? await modelCommand(["rollback", "--registry", regDir])
        : await modelCommand(["promote", "v2", "--registry", regDir]);
      assert.equal(code, 0);
      try {
        await waitFor(`the daemon trading ${target}`, async () => {
          return value(await scrape(port), "bitget_bot_model_info", { version: target }) === 1;
        }, 20_000);
      } catch (e) {
        p.child.kill("SIGTERM");
        const o = await p.done;
        const lines = o.stdout.split("\n").filter((l) => /model|registry/.test(l));
        throw new Error(`${(e as Error).message}\n${lines.slice(-15).join("\n")}`);
      }

      await new Promise((r) => setTimeout(r, 300));
      p.child.kill("SIGTERM");
      const res = await p.done;
      assert.equal(res.code, 0, res.stderr.slice(-2000));
      assert.ok(
        !res.stdout.includes(TOKEN) && !res.stderr.includes(TOKEN),
        "webhook URL not logged",
      );
      assert.match(res.stdout, /model swapped from the registry/);
      // run.warmup is 0 here; a retraining model's warm-up covers its training window.
      assert.match(res.stdout, /warm-up extended to the retraining window.*"warmupMs":190000/);

      // Every step in the database.
      const ev = rows<{ type: string; version: string | null; detail: string }>(
        `${dir}/bitget.db`,
        "SELECT type, version, detail FROM model_events ORDER BY id",
      );
      const types = ev.map((e) => e.type);
      const iDrift = types.indexOf("drift_alarm");
      const iRetrain = ev.findIndex((e) => e.type === "retrain" && e.version === "v2");
      const iShadow = ev.findIndex((e) => e.type === "shadow_start" && e.version === "v2");
      const iVerdict = ev.findIndex((e) => e.type === verdict && e.version === "v2");
      assert.ok(
        iDrift >= 0 && iDrift < iRetrain && iRetrain < iShadow && iShadow < iVerdict,
        types.join(),
      );
      const drift = JSON.parse(ev[iDrift].detail) as { features: { name: string; psi: number }[] };
      assert.ok(drift.features[0].psi > 6, "the alarm names a feature above the threshold");
      assert.ok(ev.some((e, i) => i > iVerdict && e.type === "promoted" && e.version === target));

      // The alerts.
      const alerts = hooks.map((h) => (h as { type?: string }).type);
      assert.ok(alerts.includes("drift_alarm"), alerts.join());
      assert.ok(alerts.includes(verdict === "promoted" ? "model_promoted" : "model_rejected"));
      const da = hooks.find((h) => h.type === "drift_alarm") as {
        features: { name: string; psi: number }[];
        threshold: number;
      };
      assert.equal(da.threshold, 6);
      assert.ok(da.features.length > 0 && da.features[0].psi > 6);

      // The registry's history: v1 registered and promoted, v2 by the daemon, then by hand.
      const h = (await reg.read()).history.map((x) => `${x.action}:${x.version}:${x.by}`);
      assert.ok(h.includes("register:v2:daemon"), h.join());
      assert.equal((await reg.read()).live, target);
    } finally {
      try {
        p.child.kill("SIGKILL");
      } catch { /* exited */ }
      await p.done.catch(() => {});
      await s.close();
      await hook.shutdown();
    }
  },
});
