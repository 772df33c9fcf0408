/**
 * The daemons' Prometheus endpoint and alerts, end to end: `run --mode live --strategy smoke` and
 * `collect`, each a real child process with the product's permissions, against the loopback
 * simulator replaying the real recording. `/metrics` is scraped while they run and parsed by an
 * independent parser (npm:parse-prometheus-text-format); `/healthz` is read; the alerts go to a
 * loopback JSON webhook (ALERT_WEBHOOK_URL) whose payloads are checked against the daemon's own
 * journal. The webhook URL carries a token that must appear in no log line.
 */
import assert from "node:assert/strict";
import { type Family, freePort, scrape } from "./helpers/prometheus.ts";
import { DatabaseSync } from "node:sqlite";
import { SAMPLE, spawnCollector, testConfig, waitFor } from "./helpers/collect_harness.ts";
import {
  liveSim,
  runConfigYaml,
  simPrivate,
  simUrls,
  spawnRun,
  TEST_ENV,
} from "./helpers/run_harness.ts";
import { sim } from "./helpers/collect_harness.ts";

/** Sum of a family's sample values whose labels include `match`. */
function sum(f: Map<string, Family>, name: string, match: Record<string, string> = {}): number {
  const fam = f.get(name);
  assert.ok(fam, `${name} exposed`);
  let t = 0;
  for (const m of fam.metrics) {
    if (Object.entries(match).every(([k, v]) => m.labels?.[k] === v)) {
      t += Number(m.count ?? m.value);
    }
  }
  return t;
}

async function healthz(port: number): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  return { status: res.status, body: await res.text() };
}

const TOKEN = "tok-3f9c1e2d8b7a";

Deno.test({
  name:
    "run --mode live: /metrics scraped mid-run (frames, orders, fills, REST, equity, latency), /healthz 200, trade alerts = journal",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bitget-metrics-" });
    const hooks: Record<string, unknown>[] = [];
    const hook = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      assert.equal(new URL(req.url).pathname, `/hook/${TOKEN}`);
      hooks.push(await req.json());
      return new Response(null, { status: 204 });
    });
    const s = await liveSim(SAMPLE, 4);
    const port = freePort();
    try {
      await Deno.writeTextFile(
        `${dir}/config.yaml`,
        runConfigYaml().replace("maxRoundTrips: 4", "maxRoundTrips: 2"),
      );
      const p = spawnRun(dir, [
        "--mode",
        "live",
        "--strategy",
        "smoke",
        "--metrics-listen",
        `127.0.0.1:${port}`,
        ...simUrls(s),
      ], { ...TEST_ENV, ALERT_WEBHOOK_URL: `http://127.0.0.1:${hook.addr.port}/hook/${TOKEN}` });
      await waitFor(
        "4 filled smoke orders",
        () => simPrivate(s).orders.filter((o) => o.state === "filled").length >= 4,
        60_000,
      );
      // The recorder's row tallies are read from its worker every 2 s.
      let f = new Map<string, Family>();
      await waitFor("recorded rows in /metrics", async () => {
        f = await scrape(port);
        return sum(f, "bitget_bot_rows_total") > 0;
      }, 10_000);
      const h = await healthz(port);
      assert.equal(h.status, 200, h.body);
      assert.equal(h.body, "ok");

      for (const ch of ["books15", "trade", "ticker"]) {
        assert.ok(sum(f, "bitget_bot_frames_total", { channel: ch }) > 0, ch);
      }
      assert.ok(sum(f, "bitget_bot_orders_placed_total") >= 4);
      assert.ok(sum(f, "bitget_bot_fills_total") >= 4);
      assert.ok(
        sum(f, "bitget_bot_rest_requests_total", {
          endpoint: "/api/v2/mix/order/place-order",
          status: "200",
        }) >= 4,
      );
      assert.ok(sum(f, "bitget_bot_rest_requests_total", { endpoint: "/api/v2/public/time" }) >= 1);
      const equity = sum(f, "bitget_bot_equity_usdt");
      assert.ok(equity > 0 && Number.isFinite(equity), `equity ${equity}`);
      assert.ok(sum(f, "bitget_bot_decision_latency_seconds") > 0, "decision histogram count");
      assert.ok(sum(f, "bitget_bot_tick_to_order_seconds") >= 4, "tick-to-order count");
      for (const sym of ["BTCUSDT", "ETHUSDT"]) {
        assert.ok(
          f.get("bitget_bot_position_notional_usdt")!.metrics.some((m) => m.labels?.symbol === sym),
        );
      }
      assert.equal(f.get("bitget_bot_reconnects_total")?.type, "COUNTER");

      await waitFor(
        "8 filled smoke orders",
        () => simPrivate(s).orders.filter((o) => o.state === "filled").length >= 8,
        60_000,
      );
      await new Promise((r) => setTimeout(r, 500));
      p.child.kill("SIGTERM");
      const out = await p.done;
      assert.equal(out.code, 0, out.stderr + out.stdout.slice(-3000));
      assert.ok(!(out.stdout + out.stderr).includes(TOKEN), "the webhook URL stays out of logs");

      // 2 symbols × 2 round trips: 4 opened, 4 closed, and the closed PnL is the journal's.
      const opened = hooks.filter((x) => x.type === "trade_opened");
      const closed = hooks.filter((x) => x.type === "trade_closed");
      assert.equal(opened.length, 4, JSON.stringify(hooks));
      assert.equal(closed.length, 4, JSON.stringify(hooks));
      for (const c of closed) {
        assert.ok(typeof c.pnlUsdt === "number" && typeof c.feesUsdt === "number");
        assert.ok((c.feesUsdt as number) > 0 && (c.holdMs as number) >= 0);
        assert.equal(c.mode, "live");
      }
      const db = new DatabaseSync(`${dir}/bitget.db`, { readOnly: true });
      const j = db.prepare(
        "SELECT SUM(CAST(realized_pnl AS REAL)) AS pnl, SUM(CAST(fee AS REAL)) AS fee FROM fills",
      ).get() as { pnl: number; fee: number };
      db.close();
      const alertPnl = closed.reduce((a, c) => a + (c.pnlUsdt as number), 0);
      const alertFees = closed.reduce((a, c) => a + (c.feesUsdt as number), 0);
      assert.ok(Math.abs(alertFees - j.fee) < 1e-6, `fees ${alertFees} vs journal ${j.fee}`);
      assert.ok(
        Math.abs(alertPnl - (j.pnl - j.fee)) < 1e-6,
        `pnl ${alertPnl} vs journal ${j.pnl - j.fee}`,
      );
    } finally {
      await s.close();
      await hook.shutdown();
    }
  },
});

Deno.test({
  name:
    "collect: /metrics frames and rows while recording; /healthz 503 naming the shard once the feed is gone",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const s = await sim({ recording: SAMPLE, speed: 2, onEnd: "idle" });
    const port = freePort();
    let closed = false;
    try {
      const c = await spawnCollector(
        s,
        ["--symbols", "BTCUSDT", "ETHUSDT", "--metrics-listen", `127.0.0.1:${port}`],
        testConfig().replace("listen: 127.0.0.1:0", "listen: 127.0.0.1:0\n  staleAfter: 3s"),
      );
      let f = new Map<string, Family>();
      await waitFor("rows counted in /metrics", async () => {
        try {
          f = await scrape(port);
          return sum(f, "bitget_bot_rows_total", { table: "trades" }) > 0;
        } catch {
          return false;
        }
      }, 30_000);
      assert.ok(sum(f, "bitget_bot_frames_total", { channel: "books15" }) > 0);
      assert.ok(sum(f, "bitget_bot_rest_requests_total") > 0);
      await waitFor("/healthz 200", async () => (await healthz(port)).status === 200, 10_000);
      // The exchange goes away: the shards cannot reconnect and stop receiving frames.
      await s.close();
      closed = true;
      let h = { status: 0, body: "" };
      await waitFor("/healthz 503", async () => {
        h = await healthz(port);
        return h.status === 503;
      }, 20_000);
      assert.match(h.body, /shard \d+: (connection|no data frame)/);
      c.child.kill("SIGTERM");
      const out = await c.done;
      assert.equal(out.code, 0, out.stderr);
      // Counted rows never exceed what the database holds.
      const db = new DatabaseSync(c.db, { readOnly: true });
      const trades = (db.prepare("SELECT COUNT(*) AS n FROM trades").get() as { n: number }).n;
      db.close();
      assert.ok(sum(f, "bitget_bot_rows_total", { table: "trades" }) <= trades);
    } finally {
      if (!closed) await s.close();
    }
  },
});
