/**
 * ops/metrics: BotMetrics scraped over real HTTP from serveMetrics, the body read back by an
 * independent parser of the Prometheus text format (npm:parse-prometheus-text-format, test-only);
 * /healthz, 404/405, shutdown, label bounds and the `metrics:` config schema.
 */
import assert from "node:assert/strict";
// Test-only, so pinned here rather than in deno.json's imports (which the binary ships with).
// deno-lint-ignore no-import-prefix
import parsePrometheusTextFormat from "npm:parse-prometheus-text-format@1.1.1";
import { BotMetrics, LATENCY_BUCKETS_SECONDS } from "../src/ops/metrics/registry.ts";
import {
  type HealthStatus,
  LISTEN_MESSAGE,
  MetricsConfigSchema,
  parseListen,
  serveMetrics,
} from "../src/ops/metrics/server.ts";

/** The parser's output (it ships no types): one family per metric name, values as strings. */
interface Family {
  name: string;
  help: string;
  type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED";
  metrics: {
    labels?: Record<string, string>;
    value?: string;
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }[];
}
const parse = parsePrometheusTextFormat as unknown as (text: string) => Family[];

const OK: () => HealthStatus = () => ({ ok: true, reasons: [] });

/** Serves `metrics` on 127.0.0.1:0 for `fn`, then shuts the server down. */
async function withServer(
  metrics: BotMetrics,
  fn: (base: string) => Promise<void>,
  health = OK,
): Promise<void> {
  const srv = serveMetrics({ listen: "127.0.0.1:0", metrics, health });
  try {
    await fn(`http://127.0.0.1:${srv.addr.port}`);
  } finally {
    await srv.shutdown();
  }
}

async function scrape(base: string): Promise<Map<string, Family>> {
  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return new Map(parse(await res.text()).map((f) => [f.name, f]));
}

/** The samples of `name` as "label=value,…" → value (labels sorted). */
function samples(families: Map<string, Family>, name: string, type: Family["type"]) {
  const f = families.get(name);
  assert.ok(f, `${name} exposed`);
  assert.equal(f.type, type, `${name} type`);
  return new Map(f.metrics.map((m) => [
    Object.entries(m.labels ?? {}).sort().map(([k, v]) => `${k}=${v}`).join(","),
    m.value === undefined ? NaN : Number(m.value),
  ]));
}

Deno.test("metrics: counters, gauges and histograms scraped over HTTP parse back", async () => {
  const m = new BotMetrics({ version: "1.4.2", startTimeMs: 1_700_000_000_500 });
  m.frame("books15", 3);
  m.frame("trade");
  m.frame("books15");
  m.frame("trade", NaN); // dropped
  m.frame("trade", -2); // dropped: counters never decrease
  m.rows("trades", 250);
  m.malformedFrame("json");
  m.gap("reconnect");
  m.gap("reconnect");
  m.reconnect("public");
  m.restRequest("https://api.bitget.com/api/v2/mix/order/place-order?clientOid=abc", 200);
  m.restRequest("/api/v2/mix/order/place-order", 429);
  m.restRequest("/api/v2/mix/account/accounts", "timeout");
  m.orderPlaced("BTCUSDT", "buy");
  m.orderPlaced("BTCUSDT", "buy");
  m.orderRejected("risk_max_position");
  m.orderCancelled("kill_switch");
  m.fill("ETHUSDT", "sell");
  m.setEquity(10_123.5);
  m.setEquity(Infinity); // dropped
  m.setBalance(10_000);
  m.setPositionNotional("BTCUSDT", -250.25);
  m.setDrawdown(1.7); // clamped
  m.setFeedLag("books15", 0.042);
  m.setFeatureDrift("ret_1m", 0.12);
  m.alertSent("telegram");
  m.alertFailed("telegram", "timeout");
  m.alertDropped("webhook");
  m.retrain("promoted");
  for (const s of [0.00005, 0.0003, 0.0003, 0.02, 1.0, -0.001]) m.observeDecisionLatency(s);
  m.observeTickToOrder(0.003);

  await withServer(m, async (base) => {
    const f = await scrape(base);
    assert.deepEqual(
      samples(f, "bitget_bot_frames_total", "COUNTER"),
      new Map([["channel=books15", 4], ["channel=trade", 1]]),
    );
    assert.deepEqual(
      samples(f, "bitget_bot_rows_total", "COUNTER"),
      new Map([["table=trades", 250]]),
    );
    assert.deepEqual(
      samples(f, "bitget_bot_malformed_frames_total", "COUNTER"),
      new Map([["reason=json", 1]]),
    );
    assert.deepEqual(
      samples(f, "bitget_bot_gaps_total", "COUNTER"),
      new Map([["reason=reconnect", 2]]),
    );
    // Both feeds exist from the start, so increase() sees the first reconnect.
    assert.deepEqual(
      samples(f, "bitget_bot_reconnects_total", "COUNTER"),
      new Map([["feed=public", 1], ["feed=private", 0]]),
    );
    assert.deepEqual(
      samples(f, "bitget_bot_rest_requests_total", "COUNTER"),
      new Map([
        ["endpoint=/api/v2/mix/order/place-order,status=200", 1],
        ["endpoint=/api/v2/mix/order/place-order,status=429", 1],
        ["endpoint=/api/v2/mix/account/accounts,status=timeout", 1],
      ]),
    );
    assert.deepEqual(
      samples(f, "bitget_bot_rest_rate_limited_total", "COUNTER"),
      new Map([["endpoint=/api/v2/mix/order/place-order", 1]]),
    );
    assert.deepEqual(
      samples(f, "bitget_bot_orders_placed_total", "COUNTER"),
      new Map([["side=buy,symbol=BTCUSDT", 2]]),
    );
    assert.deepEqual(
      samples(f, "bitget_bot_orders_rejected_total", "COUNTER"),
      new Map([["reason=risk_max_position", 1]]),
    );
    assert.deepEqual(
      samples(f, "bitget_bot_orders_cancelled_total", "COUNTER"),
      new Map([["reason=kill_switch", 1]]),
    );
    assert.deepEqual(
      samples(f, "bitget_bot_fills_total", "COUNTER"),
      new Map([["side=sell,symbol=ETHUSDT", 1]]),
    );
    assert.deepEqual(
      samples(f, "bitget_bot_alerts_failed_total", "COUNTER"),
      new Map([["reason=timeout,sink=telegram", 1]]),
    );
    assert.equal(samples(f, "bitget_bot_alerts_sent_total", "COUNTER").get("sink=telegram"), 1);
    assert.equal(samples(f, "bitget_bot_alerts_dropped_total", "COUNTER").get("sink=webhook"), 1);
    assert.equal(samples(f, "bitget_bot_retrains_total", "COUNTER").get("outcome=promoted"), 1);

    assert.deepEqual(samples(f, "bitget_bot_equity_usdt", "GAUGE"), new Map([["", 10_123.5]]));
    assert.deepEqual(samples(f, "bitget_bot_balance_usdt", "GAUGE"), new Map([["", 10_000]]));
    assert.deepEqual(samples(f, "bitget_bot_drawdown_ratio", "GAUGE"), new Map([["", 1]]));
    assert.deepEqual(
      samples(f, "bitget_bot_position_notional_usdt", "GAUGE"),
      new Map([["symbol=BTCUSDT", -250.25]]),
    );
    assert.deepEqual(
      samples(f, "bitget_bot_feed_lag_seconds", "GAUGE"),
      new Map([["channel=books15", 0.042]]),
    );
    assert.deepEqual(
      samples(f, "bitget_bot_feature_drift_psi", "GAUGE"),
      new Map([["feature=ret_1m", 0.12]]),
    );
    assert.deepEqual(samples(f, "bitget_bot_build_info", "GAUGE"), new Map([["version=1.4.2", 1]]));
    assert.deepEqual(
      samples(f, "bitget_bot_start_time_seconds", "GAUGE"),
      new Map([["", 1_700_000_000.5]]),
    );
    assert.equal(f.get("bitget_bot_model_info")?.metrics.length, 0, "no model yet");

    const dl = f.get("bitget_bot_decision_latency_seconds");
    assert.ok(dl);
    assert.equal(dl.type, "HISTOGRAM");
    assert.equal(dl.metrics.length, 1);
    const h = dl.metrics[0];
    // 6 samples: 0 (clamped), 0.00005, 0.0003 ×2, 0.02, 1.0 (over the last bucket).
    assert.equal(Number(h.count), 6);
    assert.ok(Math.abs(Number(h.sum) - 1.02065) < 1e-9, `sum ${h.sum}`);
    const cumulative: Record<string, number> = {
      "0.0001": 2,
      "0.00025": 2,
      "0.0005": 4,
      "0.001": 4,
      "0.0025": 4,
      "0.005": 4,
      "0.01": 4,
      "0.025": 5,
      "0.05": 5,
      "0.1": 5,
      "0.25": 5,
      "+Inf": 6,
    };
    assert.deepEqual(
      Object.fromEntries(Object.entries(h.buckets ?? {}).map(([le, n]) => [le, Number(n)])),
      cumulative,
    );
    assert.deepEqual(
      Object.keys(h.buckets ?? {}),
      [...LATENCY_BUCKETS_SECONDS.map(String), "+Inf"],
    );
    assert.equal(f.get("bitget_bot_tick_to_order_seconds")?.type, "HISTOGRAM");
    const tto = f.get("bitget_bot_tick_to_order_seconds")?.metrics[0];
    assert.equal(Number(tto?.count), 1);
    assert.equal(Number(tto?.buckets?.["0.0025"]), 0);
    assert.equal(Number(tto?.buckets?.["0.005"]), 1);
  });
});

Deno.test("metrics: unset equity/balance/drawdown have no sample (the recorder)", async () => {
  await withServer(new BotMetrics({ version: "0.0.0" }), async (base) => {
    const f = await scrape(base);
    for (
      const name of [
        "bitget_bot_equity_usdt",
        "bitget_bot_balance_usdt",
        "bitget_bot_drawdown_ratio",
      ]
    ) {
      assert.equal(f.get(name)?.type, "GAUGE");
      assert.equal(f.get(name)?.metrics.length, 0, name);
    }
    const start = samples(f, "bitget_bot_start_time_seconds", "GAUGE").get("")!;
    assert.ok(Math.abs(start - Date.now() / 1000) < 60, `start ${start}`);
  });
});

Deno.test("metrics: model_info keeps only the live model's version", async () => {
  const m = new BotMetrics({ version: "1.0.0" });
  await withServer(m, async (base) => {
    m.setModelVersion("ml-2024-06-01");
    assert.deepEqual(
      samples(await scrape(base), "bitget_bot_model_info", "GAUGE"),
      new Map([["version=ml-2024-06-01", 1]]),
    );
    m.setModelVersion("ml-2024-06-08");
    assert.deepEqual(
      samples(await scrape(base), "bitget_bot_model_info", "GAUGE"),
      new Map([["version=ml-2024-06-08", 1]]),
    );
    m.setModelVersion(null);
    assert.equal((await scrape(base)).get("bitget_bot_model_info")?.metrics.length, 0);
  });
});

Deno.test("metrics: label values are bounded; overflow folds into `other`, counted", async () => {
  const m = new BotMetrics({ version: "1.0.0", maxLabelValues: 3 });
  for (const s of ["A1USDT", "B1USDT", "C1USDT", "D1USDT", "E1USDT", "A1USDT"]) {
    m.orderPlaced(s, "sell");
  }
  m.orderRejected("x".repeat(200));
  m.orderRejected("line\nbreak");
  await withServer(m, async (base) => {
    const f = await scrape(base);
    assert.deepEqual(
      samples(f, "bitget_bot_orders_placed_total", "COUNTER"),
      new Map([
        ["side=sell,symbol=A1USDT", 2],
        ["side=sell,symbol=B1USDT", 1],
        ["side=sell,symbol=C1USDT", 1],
        ["side=sell,symbol=other", 2],
      ]),
    );
    assert.deepEqual(
      samples(f, "bitget_bot_metrics_label_overflow_total", "COUNTER"),
      new Map([["metric=bitget_bot_orders_placed_total", 2]]),
    );
    const reasons = [...samples(f, "bitget_bot_orders_rejected_total", "COUNTER").keys()];
    assert.deepEqual(reasons, [`reason=${"x".repeat(64)}`, "reason=line_break"]);
  });
});

Deno.test("metrics: /healthz 200 ok while healthy, then 503, one reason a line", async () => {
  let state: HealthStatus = { ok: true, reasons: [] };
  await withServer(new BotMetrics({ version: "1.0.0" }), async (base) => {
    let res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "ok");
    state = { ok: false, reasons: ["public feed stale 12s", "private ws\ndown"] };
    res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 503);
    assert.equal(await res.text(), "public feed stale 12s\nprivate ws down\n");
    state = { ok: true, reasons: [] };
    res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  }, () => state);
});

Deno.test("metrics: a throwing health check answers 503, not an exception", async () => {
  const health = (): HealthStatus => {
    throw new Error("secret-ish detail");
  };
  await withServer(new BotMetrics({ version: "1.0.0" }), async (base) => {
    const res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 503);
    assert.equal(await res.text(), "health check failed\n");
  }, health);
});

Deno.test("metrics: other paths 404, other methods 405", async () => {
  await withServer(new BotMetrics({ version: "1.0.0" }), async (base) => {
    for (
      const [method, path, status] of [
        ["GET", "/", 404],
        ["GET", "/metrics/", 404],
        ["GET", "/health", 404],
        ["POST", "/nope", 404],
        ["POST", "/metrics", 405],
        ["PUT", "/healthz", 405],
        ["DELETE", "/metrics", 405],
      ] as const
    ) {
      const res = await fetch(`${base}${path}`, {
        method,
        body: method === "GET" ? undefined : "x",
      });
      assert.equal(res.status, status, `${method} ${path}`);
      if (status === 405) assert.equal(res.headers.get("allow"), "GET");
      await res.body?.cancel();
    }
    const res = await fetch(`${base}/metrics?debug=1`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });
});

Deno.test("metrics: onListen gets the port; the signal stops it; shutdown idempotent", async () => {
  const ac = new AbortController();
  let listened: { hostname: string; port: number } | null = null;
  const srv = serveMetrics({
    listen: "127.0.0.1:0",
    metrics: new BotMetrics({ version: "1.0.0" }),
    health: OK,
    signal: ac.signal,
    onListen: (a) => (listened = a),
  });
  assert.deepEqual(listened, srv.addr);
  assert.equal(srv.addr.hostname, "127.0.0.1");
  assert.ok(srv.addr.port > 0);
  const res = await fetch(`http://127.0.0.1:${srv.addr.port}/healthz`);
  assert.equal(res.status, 200);
  await res.body?.cancel();
  ac.abort();
  await srv.shutdown();
  await srv.shutdown();
  await assert.rejects(fetch(`http://127.0.0.1:${srv.addr.port}/healthz`));
});

Deno.test("metrics: listen parses strictly; the config schema names the expected value", () => {
  assert.deepEqual(MetricsConfigSchema.parse({}), { listen: "127.0.0.1:9464", staleAfter: 30_000 });
  for (const listen of ["off", "127.0.0.1:0", "[::1]:9464", "0.0.0.0:65535"]) {
    assert.equal(MetricsConfigSchema.parse({ listen }).listen, listen, listen);
  }
  assert.equal(MetricsConfigSchema.parse({ staleAfter: "2m" }).staleAfter, 120_000);
  assert.deepEqual(parseListen("[::1]:9464"), { hostname: "::1", port: 9464 });
  assert.deepEqual(parseListen("10.0.0.7:80"), { hostname: "10.0.0.7", port: 80 });
  const bad = [
    "9464",
    "localhost",
    "1.2.3.4:99999",
    "localhost:9464",
    "::1:9464",
    "[::1]",
    "[zz::1]:9464",
    "256.1.1.1:80",
    "127.0.0.1:",
    "127.0.0.1:09464",
    " 127.0.0.1:9464",
    "",
    9464,
    null,
  ];
  for (const listen of bad) {
    const r = MetricsConfigSchema.safeParse({ listen });
    assert.equal(r.success, false, String(listen));
    assert.deepEqual(r.error.issues.map((i) => [i.path.join("."), i.message]), [[
      "listen",
      LISTEN_MESSAGE,
    ]], String(listen));
    if (typeof listen === "string") {
      assert.throws(() => parseListen(listen), /expected "off" or host:port/);
    }
  }
  assert.match(LISTEN_MESSAGE, /127\.0\.0\.1:9464/);
  assert.equal(MetricsConfigSchema.safeParse({ listen: "off", port: 1 }).success, false);
});

Deno.test("metrics: rendering needs no env or sys permission beyond the test set", async () => {
  // The test set grants env only for BITGET_*, LOG_TOKENS, LOG_STREAM, CHROME_PATH and sys only
  // for hostname: had prom-client or the parser read another, the tests above would have failed.
  assert.notEqual((await Deno.permissions.query({ name: "env" })).state, "granted");
  assert.notEqual(
    (await Deno.permissions.query({ name: "sys", kind: "osRelease" })).state,
    "granted",
  );
  const text = await new BotMetrics({ version: "1.0.0" }).render();
  assert.match(text, /^# HELP bitget_bot_/m);
  assert.doesNotMatch(text, /process_|nodejs_/, "no default (process) metrics");
});
