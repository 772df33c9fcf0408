/**
 * BitgetPrivateRest against a small Bitget-like private REST server written here (real sockets on
 * 127.0.0.1) that VERIFIES every signature with sign.ts the way API.md §6 says Bitget does (raw
 * query string and raw body bytes, ±30 s timestamp window, key and passphrase, paptrading for demo).
 *
 * This server is a stand-in until the project's simulator gains the private API (another engineer
 * is writing that now); then these tests can also run against `bitget-bot replay`.
 *
 * Timing assertions compare ratios or use generous bounds: the machine is shared and slow.
 */
import assert from "node:assert/strict";
import { createLogger } from "../src/ops/log.ts";
import { type BitgetCredentials, sameSignature, signRest } from "../src/bitget/sign.ts";
import { BitgetApiError } from "../src/bitget/private_errors.ts";
import { RateLimiter } from "../src/bitget/rate_limit.ts";
import { BitgetPrivateRest, type PrivateRestOptions } from "../src/bitget/rest_private.ts";

const FIX = new URL("../../shared/bitget/fixtures/docs/", import.meta.url);
const fixture = (f: string) => JSON.parse(Deno.readTextFileSync(new URL(f, FIX))).data;

const CREDS: BitgetCredentials = {
  apiKey: "bg_7f3a9c1e2d5b4a60",
  secret: "s3cr3t_4b8e2f6a1c9d7e3f0a",
  passphrase: "Pass_Phrase_91x",
};
const TIME = "/api/v2/public/time";

interface Req {
  method: string;
  path: string;
  /** The raw query string as received (no "?"). */
  query: string;
  params: URLSearchParams;
  body: string;
  headers: Headers;
  /** performance.now() at arrival. */
  t: number;
  /** Signature, key, passphrase and timestamp window all valid. */
  verified: boolean;
}

type Handler = (r: Req, nth: number) => Response | undefined | Promise<Response | undefined>;

const ok = (data: unknown) =>
  Response.json({ code: "00000", msg: "success", requestTime: Date.now(), data });
const bitgetError = (code: string, msg: string, status = 400) =>
  Response.json({ code, msg, requestTime: Date.now(), data: null }, { status });

/**
 * The exchange: `/api/v2/public/time` (server clock = local + skewMs; 404 when `paptrading` is
 * sent, like Bitget), signature checks on everything else, then `handler` (undefined → `{}`).
 */
function exchange(o: { handler?: Handler; skewMs?: number; demo?: boolean } = {}) {
  const reqs: Req[] = [];
  const count = new Map<string, number>();
  const srv = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const u = new URL(req.url);
    const body = await req.text();
    const serverNow = Date.now() + (o.skewMs ?? 0);
    const r: Req = {
      method: req.method,
      path: u.pathname,
      query: u.search.slice(1),
      params: u.searchParams,
      body,
      headers: req.headers,
      t: performance.now(),
      verified: false,
    };
    reqs.push(r);
    const nth = (count.get(r.path) ?? 0) + 1;
    count.set(r.path, nth);
    if (r.path === TIME) {
      if (req.headers.has("paptrading")) return new Response("not found", { status: 404 });
      return ok({ serverTime: String(serverNow) });
    }
    const h = req.headers;
    const ts = h.get("ACCESS-TIMESTAMP") ?? "";
    if (h.get("ACCESS-KEY") !== CREDS.apiKey) return bitgetError("40006", "Invalid ACCESS_KEY");
    if (h.get("ACCESS-PASSPHRASE") !== CREDS.passphrase) {
      return bitgetError("40012", "apikey/password is incorrect");
    }
    if (!/^\d{13}$/.test(ts)) return bitgetError("40005", "Invalid ACCESS_TIMESTAMP");
    if (Math.abs(Number(ts) - serverNow) > 30_000) {
      return bitgetError("40008", "Request timestamp expired");
    }
    const expected = signRest(CREDS.secret, ts, r.method, r.path, r.query, body);
    if (!sameSignature(h.get("ACCESS-SIGN") ?? "", expected)) {
      return bitgetError("40009", "sign signature error");
    }
    if ((o.demo ?? false) !== (h.get("paptrading") === "1")) {
      return bitgetError("40099", "exchange environment is incorrect");
    }
    r.verified = true;
    return (await o.handler?.(r, nth)) ?? ok({});
  });
  return {
    url: `http://127.0.0.1:${srv.addr.port}`,
    reqs,
    hits: (path: string) => reqs.filter((r) => r.path === path),
    close: () => srv.shutdown(),
  };
}

function logSink() {
  const lines: string[] = [];
  return {
    lines,
    logger: createLogger({ format: "json", level: "debug", sink: (l) => lines.push(l) }),
  };
}

function client(url: string, over: Partial<PrivateRestOptions> = {}) {
  return new BitgetPrivateRest({
    baseUrl: url,
    credentials: CREDS,
    demo: false,
    timeoutMs: 2000,
    retryBaseDelayMs: 20,
    retryMaxDelayMs: 100,
    ...over,
  });
}

/** Asserts no credential and no signature the server saw occurs in `texts`. */
function assertNoSecrets(texts: string[], sigs: string[]): void {
  for (const t of texts) {
    for (const s of [CREDS.apiKey, CREDS.secret, CREDS.passphrase, ...sigs]) {
      assert.ok(!t.includes(s), `secret leaked into: ${t.slice(0, 200)}`);
    }
  }
}

async function rejects(p: Promise<unknown>): Promise<BitgetApiError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof BitgetApiError, `expected BitgetApiError, got ${e}`);
    return e;
  }
  assert.fail("expected a rejection");
}

const PENDING = "/api/v2/mix/order/orders-pending";
const PLACE = "/api/v2/mix/order/place-order";
const ACCOUNTS = "/api/v2/mix/account/accounts";

Deno.test("GET: exact headers, sorted query identical in URL and prehash, paging", async () => {
  const row = fixture("rest_orders_pending.json").entrustedList[0];
  const ex = exchange({
    handler: (r) => {
      if (r.path !== PENDING) return;
      const page = r.params.get("idLessThan") === null ? ["3", "2"] : ["1"];
      const list = page.map((orderId) => ({ ...row, orderId }));
      return ok({ entrustedList: list, endId: page.at(-1) });
    },
  });
  const written: Array<[string, number]> = [];
  const c = client(ex.url, { onRequestWritten: (e, t) => written.push([e, t]) });
  try {
    const rows = await c.ordersPending({ symbol: "BTCUSDT", limit: 2 });
    assert.deepEqual(rows.map((r) => r.orderId), ["3", "2", "1"]);
    assert.equal(rows[0].status, "partially_filled");
    const gets = ex.hits(PENDING);
    assert.equal(gets.length, 2);
    assert.ok(gets.every((r) => r.verified));
    assert.equal(gets[0].query, "limit=2&productType=USDT-FUTURES&symbol=BTCUSDT");
    assert.equal(gets[1].query, "idLessThan=2&limit=2&productType=USDT-FUTURES&symbol=BTCUSDT");
    const names = [...gets[0].headers.keys()].filter((k) =>
      k.startsWith("access-") || k === "locale"
    );
    assert.deepEqual(names.sort(), [
      "access-key",
      "access-passphrase",
      "access-sign",
      "access-timestamp",
      "locale",
    ]);
    assert.equal(gets[0].headers.get("content-type"), "application/json");
    assert.equal(gets[0].headers.get("paptrading"), null);
    assert.equal(gets[0].body, "");
    assert.deepEqual(written.map(([e]) => e), [TIME, PENDING, PENDING]);
    assert.ok(written.every(([, t]) => typeof t === "number" && t > 0));
    assert.equal(c.stats().endpoints[PENDING].requests, 2);
  } finally {
    await ex.close();
  }
});

Deno.test("POST: body signed and sent byte-identical; one-way vs hedge fields", async () => {
  const ex = exchange({
    handler: (r) => r.path === PLACE ? ok({ orderId: "1", clientOid: "a" }) : undefined,
  });
  const c = client(ex.url);
  try {
    const res = await c.placeOrder({
      symbol: "BTCUSDT",
      positionMode: "one_way",
      marginMode: "crossed",
      side: "sell",
      tradeSide: "close", // ignored in one-way mode
      orderType: "limit",
      size: "0.010",
      price: 65000.5,
      force: "post_only",
      clientOid: "bot-1_a#2",
      reduceOnly: true,
      presetStopLossPrice: "66000",
    });
    assert.deepEqual(res, { orderId: "1", clientOid: "a" });
    await c.placeOrder({
      symbol: "ETHUSDT",
      positionMode: "hedge",
      marginMode: "isolated",
      side: "buy",
      tradeSide: "open",
      orderType: "market",
      size: 0.5,
      price: 3000, // not sent for market orders
      reduceOnly: false,
    });
    const [one, hedge] = ex.hits(PLACE);
    assert.ok(one.verified && hedge.verified);
    assert.equal(one.query, "");
    assert.equal(
      one.body,
      JSON.stringify({
        symbol: "BTCUSDT",
        productType: "USDT-FUTURES",
        marginCoin: "USDT",
        marginMode: "crossed",
        size: "0.010",
        price: "65000.5",
        side: "sell",
        orderType: "limit",
        force: "post_only",
        clientOid: "bot-1_a#2",
        reduceOnly: "YES",
        presetStopLossPrice: "66000",
      }),
    );
    const h = JSON.parse(hedge.body);
    assert.deepEqual(h, {
      symbol: "ETHUSDT",
      productType: "USDT-FUTURES",
      marginCoin: "USDT",
      marginMode: "isolated",
      size: "0.5",
      side: "buy",
      tradeSide: "open",
      orderType: "market",
    });
    assert.throws(
      () => c.placeOrder({ ...baseOrder(), positionMode: "hedge" }),
      /tradeSide/,
    );
    assert.throws(() => c.placeOrder({ ...baseOrder(), clientOid: "has space" }), RangeError);
    assert.equal(ex.hits(PLACE).length, 2);
  } finally {
    await ex.close();
  }
});

function baseOrder() {
  return {
    symbol: "BTCUSDT",
    positionMode: "one_way" as const,
    marginMode: "crossed" as const,
    side: "buy" as const,
    orderType: "market" as const,
    size: "0.001",
  };
}

Deno.test("demo: paptrading on signed requests, never on public/time", async () => {
  const ex = exchange({
    demo: true,
    handler: (r) => r.path.endsWith("set-position-mode") ? ok({ posMode: "hedge_mode" }) : ok([]),
  });
  const c = client(ex.url, { demo: true });
  try {
    assert.deepEqual(await c.accounts(), []);
    assert.equal((await c.setPositionMode("hedge")).posMode, "hedge_mode");
    const time = ex.hits(TIME);
    assert.equal(time.length, 1);
    assert.equal(time[0].headers.get("paptrading"), null);
    const signed = ex.reqs.filter((r) => r.path !== TIME);
    assert.equal(signed.length, 2);
    assert.ok(signed.every((r) => r.headers.get("paptrading") === "1" && r.verified));
    assert.deepEqual(JSON.parse(signed[1].body), {
      productType: "USDT-FUTURES",
      posMode: "hedge_mode",
    });
  } finally {
    await ex.close();
  }
  // A live client against the demo exchange gets 40099 with the environment hint.
  const ex2 = exchange({ demo: true });
  try {
    const e = await rejects(client(ex2.url).accounts());
    assert.equal(e.code, "40099");
    assert.match(e.hint, /--mode demo for demo keys, --mode live for live keys/);
  } finally {
    await ex2.close();
  }
});

Deno.test("server clock +45 s: the offset keeps requests inside the 30 s window", async () => {
  const accounts = fixture("rest_accounts.json");
  const ex = exchange({
    skewMs: 45_000,
    handler: (r) => r.path === ACCOUNTS ? ok(accounts) : undefined,
  });
  const c = client(ex.url);
  try {
    // Concurrent first requests all wait for the one initial sync.
    const [rows] = await Promise.all([c.accounts(), c.accounts(), c.accounts()]);
    assert.equal(rows[0].usdtEquity, "10582.902657719473");
    assert.ok(Math.abs(c.timeOffsetMs() - 45_000) < 5_000, `offset ${c.timeOffsetMs()}`);
    assert.ok(Math.abs(c.serverNow() - (Date.now() + 45_000)) < 5_000);
    const hits = ex.hits(ACCOUNTS);
    assert.equal(hits.length, 3);
    assert.ok(hits.every((h) => h.verified));
    const r = hits[0];
    assert.ok(Math.abs(Number(r.headers.get("ACCESS-TIMESTAMP")) - (Date.now() + 45_000)) < 30_000);
    assert.equal(ex.hits(TIME).length, 1);
  } finally {
    await ex.close();
  }
});

Deno.test("40008 (skew, no prior sync) and 40005 → one re-sync and one retry", async () => {
  const ex = exchange({ skewMs: 45_000 });
  const c = client(ex.url, { autoSyncTime: false });
  try {
    await c.setMarginMode("BTCUSDT", "isolated"); // first try refused 40008 by the window check
    assert.equal(ex.hits(TIME).length, 1);
    const tries = ex.hits("/api/v2/mix/account/set-margin-mode");
    assert.deepEqual(tries.map((r) => r.verified), [false, true]);
  } finally {
    await ex.close();
  }
  const ex2 = exchange({
    handler: (r) =>
      r.path === ACCOUNTS ? bitgetError("40005", "Invalid ACCESS_TIMESTAMP") : undefined,
  });
  const c2 = client(ex2.url);
  try {
    const e = await rejects(c2.accounts());
    assert.ok(e.isTimestampError);
    assert.match(e.hint, /clock/);
    assert.equal(ex2.hits(ACCOUNTS).length, 2); // one retry only
    assert.equal(ex2.hits(TIME).length, 2); // initial sync + one re-sync
  } finally {
    await ex2.close();
  }
});

Deno.test("429: Retry-After honoured, exponential backoff otherwise, counters", async () => {
  const ex = exchange({
    handler: (r, n) => {
      if (r.path === ACCOUNTS && n === 1) {
        return new Response(
          JSON.stringify({ code: "429", msg: "Too Many Requests", requestTime: 1, data: null }),
          { status: 429, headers: { "Retry-After": "0.4" } },
        );
      }
      if (r.path === PENDING && n <= 2) {
        // Code 429 inside an HTTP 200 body, no Retry-After.
        return Response.json({ code: "429", msg: "Too Many Requests", data: null });
      }
      if (r.path === ACCOUNTS) return ok([]);
      if (r.path === PENDING) return ok({ entrustedList: null, endId: null });
    },
  });
  const c = client(ex.url, { rateLimits: { backoffBaseMs: 100, backoffMaxMs: 1000 } });
  try {
    assert.deepEqual(await c.accounts(), []);
    const [a1, a2] = ex.hits(ACCOUNTS);
    assert.ok(a2.t - a1.t >= 350, `Retry-After gap ${a2.t - a1.t}`);
    assert.deepEqual(await c.ordersPending(), []);
    const [p1, p2, p3] = ex.hits(PENDING);
    // Equal jitter: at least half the ceiling (100 ms, then 200 ms).
    assert.ok(p2.t - p1.t >= 45 && p3.t - p2.t >= 95, `${p2.t - p1.t} ${p3.t - p2.t}`);
    const s = c.stats().endpoints;
    assert.deepEqual(s[ACCOUNTS], { requests: 2, rateLimited: 1, retries: 1, failures: 0 });
    assert.deepEqual(s[PENDING], { requests: 3, rateLimited: 2, retries: 2, failures: 0 });
    assert.equal(c.limiter.stats().endpoints[PENDING].rateLimited, 2);
  } finally {
    await ex.close();
  }
});

Deno.test("rate limits: documented per-endpoint spacing (10/s vs 5/s) and the global cap", async () => {
  const ex = exchange({ handler: (r) => (r.method === "GET" ? ok([]) : undefined) });
  const c = client(ex.url);
  try {
    await c.syncTime();
    const n = 6;
    await Promise.all([
      ...Array.from({ length: n }, () => c.accounts()), // 10/s
      ...Array.from({ length: n }, () => c.allPositions()), // 5/s
    ]);
    const span = (path: string) => {
      const t = ex.hits(path).map((r) => r.t);
      assert.equal(t.length, n);
      return t[n - 1] - t[0];
    };
    const fast = span(ACCOUNTS);
    const slow = span("/api/v2/mix/position/all-position");
    assert.ok(fast >= (n - 1) * 100 * 0.7, `accounts span ${fast}`);
    assert.ok(slow >= (n - 1) * 200 * 0.7, `all-position span ${slow}`);
    const ratio = slow / fast;
    assert.ok(ratio > 1.4 && ratio < 3, `spacing ratio ${ratio}`);
  } finally {
    await ex.close();
  }
  // Global bucket: 601/min with burst 1 ≈ 10/s across different endpoints.
  const lim = new RateLimiter({ globalPerMinute: 601, globalBurst: 1 });
  const t0 = performance.now();
  await Promise.all(["/a", "/b", "/c", "/d"].map((p) => lim.acquire(p)));
  assert.ok(performance.now() - t0 >= 300 * 0.7);
});

Deno.test("place-order timeout → outcomeUnknown, never retried; a GET timeout is retried", async () => {
  const ex = exchange({
    handler: async (r, n) => {
      if (r.path === PLACE || (r.path === ACCOUNTS && n === 1)) {
        await new Promise((res) => setTimeout(res, 600));
      }
      return r.path === ACCOUNTS ? ok([]) : undefined;
    },
  });
  const c = client(ex.url, { timeoutMs: 200 });
  try {
    const e = await rejects(c.placeOrder({ ...baseOrder(), clientOid: "oid-timeout-1" }));
    assert.equal(e.kind, "timeout");
    assert.equal(e.outcomeUnknown, true);
    assert.equal(e.retryable, false);
    assert.match(e.hint, /clientOid/);
    assert.deepEqual(await c.accounts(), []);
    await new Promise((res) => setTimeout(res, 700));
    assert.equal(ex.hits(PLACE).length, 1);
    assert.equal(ex.hits(ACCOUNTS).length, 2);
    assert.equal(c.stats().endpoints[PLACE].failures, 1);
  } finally {
    await ex.close();
  }
});

Deno.test("POST retries only when nothing happened: 40015 retried, 502 page → outcomeUnknown", async () => {
  const ex = exchange({
    handler: (r, n) => {
      if (r.path === PLACE && n === 1) return bitgetError("40015", "System abnormal", 500);
      if (r.path === PLACE && n === 2) return ok({ orderId: "9", clientOid: "x1" });
      if (r.path === "/api/v2/mix/order/cancel-order") {
        return new Response("<html>502 Bad Gateway</html>", { status: 502 });
      }
    },
  });
  const c = client(ex.url);
  try {
    assert.equal((await c.placeOrder({ ...baseOrder(), clientOid: "x1" })).orderId, "9");
    assert.equal(ex.hits(PLACE).length, 2);
    const e = await rejects(c.cancelOrder({ symbol: "BTCUSDT", clientOid: "x1" }));
    assert.equal(e.kind, "http");
    assert.equal(e.outcomeUnknown, true);
    assert.equal(ex.hits("/api/v2/mix/order/cancel-order").length, 1);
    assert.deepEqual(JSON.parse(ex.hits("/api/v2/mix/order/cancel-order")[0].body), {
      symbol: "BTCUSDT",
      productType: "USDT-FUTURES",
      marginCoin: "USDT",
      clientOid: "x1",
    });
  } finally {
    await ex.close();
  }
});

Deno.test("40786 → isDuplicateClientOid; not-found on detail → null; 40774 hint", async () => {
  const ex = exchange({
    handler: (r) => {
      if (r.path === PLACE && JSON.parse(r.body).clientOid === "dup-1") {
        return bitgetError("40786", "Duplicate clientOid");
      }
      if (r.path === PLACE) {
        return bitgetError(
          "40774",
          "The order type for unilateral position must also be the unilateral position type.",
        );
      }
      if (r.path === "/api/v2/mix/order/detail") {
        return r.params.get("orderId") === "404"
          ? bitgetError("40768", "Order does not exist")
          : ok(fixture("rest_order_detail.json"));
      }
    },
  });
  const c = client(ex.url);
  try {
    const dup = await rejects(c.placeOrder({ ...baseOrder(), clientOid: "dup-1" }));
    assert.ok(dup.isDuplicateClientOid && !dup.outcomeUnknown && !dup.retryable);
    assert.equal(ex.hits(PLACE).length, 1);
    assert.equal(await c.orderDetail({ symbol: "BTCUSDT", orderId: "404" }), null);
    const d = await c.orderDetail({ symbol: "BTCUSDT", clientOid: "77777" });
    assert.equal(d?.status, "filled");
    assert.equal(
      ex.hits("/api/v2/mix/order/detail")[1].query,
      "clientOid=77777&productType=USDT-FUTURES&symbol=BTCUSDT",
    );
    const mode = await rejects(c.placeOrder({
      ...baseOrder(),
      positionMode: "hedge",
      tradeSide: "open",
    }));
    assert.equal(mode.code, "40774");
    assert.match(mode.hint, /your account is in one-way mode; set run\.positionMode: one_way/);
  } finally {
    await ex.close();
  }
});

Deno.test("keys, passphrase and signatures never appear in errors or logs", async () => {
  const echo = (r: Req) =>
    bitgetError(
      "40009",
      `bad sign ${r.headers.get("ACCESS-SIGN")} for ${CREDS.apiKey}/${CREDS.passphrase}`,
    );
  const ex = exchange({
    handler: async (r) => {
      if (r.path === ACCOUNTS) return echo(r);
      if (r.path === PLACE) await new Promise((res) => setTimeout(res, 400));
      if (r.path === PENDING) {
        return new Response(`oops ${CREDS.secret} ${CREDS.apiKey}`, { status: 200 });
      }
    },
  });
  const { lines, logger } = logSink();
  const c = client(ex.url, { logger, timeoutMs: 150 });
  const wrong = client(ex.url, {
    logger,
    credentials: { ...CREDS, passphrase: "Wrong_Phrase_00", secret: "other_secret_xyz" },
  });
  try {
    const errors = [
      await rejects(c.accounts()),
      await rejects(c.placeOrder({ ...baseOrder(), clientOid: "leak-1" })),
      await rejects(c.ordersPending()),
      await rejects(wrong.allPositions()),
    ];
    assert.deepEqual(errors.map((e) => e.code), ["40009", "timeout", "parse", "40012"]);
    assert.match(errors[0].hint, /BITGET_API_SECRET/);
    assert.match(errors[3].hint, /passphrase/i);
    const sigs = ex.reqs.map((r) => r.headers.get("ACCESS-SIGN") ?? "").filter((s) => s);
    assert.ok(sigs.length >= 4);
    const texts = errors.flatMap((
      e,
    ) => [e.message, e.hint, e.detail, String(e), e.stack ?? "", JSON.stringify(e)]);
    assertNoSecrets([...texts, ...lines], sigs);
    assertNoSecrets(errors.map((e) => e.message), ["Wrong_Phrase_00", "other_secret_xyz"]);
  } finally {
    await new Promise((res) => setTimeout(res, 300));
    await ex.close();
  }
});

Deno.test("endpoint shapes: tpsl, batch cancel, close, plan cancel/pending, leverage", async () => {
  const ex = exchange({
    handler: (r) => {
      const name = r.path.split("/").at(-1);
      const map: Record<string, string> = {
        "place-tpsl-order": "rest_place_tpsl_order_response.json",
        "batch-cancel-orders": "rest_batch_cancel_orders_response.json",
        "close-positions": "rest_close_positions_response.json",
        "cancel-plan-order": "rest_cancel_plan_order_response.json",
        "orders-plan-pending": "rest_orders_plan_pending.json",
        "set-leverage": "rest_set_leverage_response.json",
        "single-position": "rest_single_position.json",
        "account": "rest_account.json",
        "fills": "rest_order_fills.json",
      };
      return name && map[name] ? ok(fixture(map[name])) : undefined;
    },
  });
  const c = client(ex.url);
  const body = (p: string) => JSON.parse(ex.hits(`/api/v2/mix/${p}`)[0].body);
  const query = (p: string) => ex.hits(`/api/v2/mix/${p}`)[0].query;
  try {
    const t = await c.placeTpslOrder({
      symbol: "BTCUSDT",
      planType: "pos_loss",
      triggerPrice: "60000",
      triggerType: "mark_price",
      holdSide: "buy",
      clientOid: "sl-1",
    });
    assert.equal(t.orderId, "121212121212");
    assert.deepEqual(body("order/place-tpsl-order"), {
      symbol: "BTCUSDT",
      productType: "USDT-FUTURES",
      marginCoin: "USDT",
      planType: "pos_loss",
      triggerPrice: "60000",
      triggerType: "mark_price",
      holdSide: "buy",
      clientOid: "sl-1",
    });
    assert.throws(
      () =>
        c.placeTpslOrder({
          symbol: "X",
          planType: "profit_plan",
          triggerPrice: 1,
          holdSide: "long",
        }),
      /size/,
    );
    const b = await c.batchCancelOrders({
      symbol: "BTCUSDT",
      orders: [{ orderId: "1" }, { clientOid: "c2" }],
    });
    assert.equal(b.failureList[0].orderId, "232");
    assert.deepEqual(body("order/batch-cancel-orders").orderIdList, [{ orderId: "1" }, {
      clientOid: "c2",
    }]);
    assert.equal(
      (await c.closePositions({ symbol: "BTCUSDT", holdSide: "long" })).successList[0].orderId,
      "123",
    );
    assert.deepEqual(body("order/close-positions"), {
      symbol: "BTCUSDT",
      productType: "USDT-FUTURES",
      holdSide: "long",
    });
    await c.cancelPlanOrder({
      symbol: "BTCUSDT",
      planType: "profit_plan",
      orders: [{ orderId: "5" }],
    });
    assert.equal(body("order/cancel-plan-order").planType, "profit_plan");
    const plans = await c.ordersPlanPending({ planType: "profit_loss", symbol: "BTCUSDT" });
    assert.equal(plans[0].triggerPrice, "1901");
    assert.equal(
      query("order/orders-plan-pending"),
      "limit=100&planType=profit_loss&productType=USDT-FUTURES&symbol=BTCUSDT",
    );
    assert.equal((await c.setLeverage({ symbol: "BTCUSDT", leverage: 5 })).longLeverage, "25");
    assert.equal(body("account/set-leverage").leverage, "5");
    assert.equal((await c.singlePosition("BTCUSDT"))[0].autoMargin, "on");
    assert.equal(
      query("position/single-position"),
      "marginCoin=USDT&productType=USDT-FUTURES&symbol=BTCUSDT",
    );
    assert.equal((await c.account("BTCUSDT")).posMode, "hedge_mode");
    const f = await c.fills({ orderId: "121212", symbol: "BTCUSDT" });
    assert.equal(f[0].feeDetail[0].totalFee, "-0.017118519726");
    assert.ok(ex.reqs.filter((r) => r.path !== TIME).every((r) => r.verified));
  } finally {
    await ex.close();
  }
});
