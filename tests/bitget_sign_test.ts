/**
 * sign.ts against shared/bitget/signing_vectors.json (API.md §6 REST, §3.1 WS login) and the
 * prehash examples printed in Bitget's docs.
 */
import assert from "node:assert/strict";
import {
  buildQuery,
  hmacBase64,
  restPrehash,
  sameSignature,
  signedHeaders,
  signRest,
  wsLoginFrame,
  wsLoginPrehash,
} from "../src/bitget/sign.ts";

const VECTORS = JSON.parse(
  Deno.readTextFileSync(new URL("../../shared/bitget/signing_vectors.json", import.meta.url)),
);
const byId = (id: string) =>
  VECTORS.derived_from_test_inputs.find((v: { id: string }) => v.id === id);

Deno.test("REST GET vector: prehash, ACCESS-SIGN and the header set", () => {
  const v = byId("hummingbot-rest-get");
  const creds = { apiKey: v.apiKey, secret: v.secretKey, passphrase: v.passphrase };
  const ts = v["ACCESS-TIMESTAMP"];
  assert.equal(String(Math.round(v.clock_seconds * 1000)), ts);
  assert.equal(restPrehash(ts, v.method, v.requestPath, v.queryString, v.body), v.prehash);
  assert.equal(hmacBase64(v.secretKey, v.prehash), v["expected_ACCESS-SIGN"]);
  assert.equal(
    signRest(v.secretKey, ts, "get", v.requestPath, v.queryString, v.body),
    v["expected_ACCESS-SIGN"],
  );
  const live = signedHeaders(creds, ts, v.method, v.requestPath, v.queryString, v.body, false);
  assert.deepEqual(live, {
    "ACCESS-KEY": "testApiKey",
    "ACCESS-SIGN": v["expected_ACCESS-SIGN"],
    "ACCESS-TIMESTAMP": ts,
    "ACCESS-PASSPHRASE": "testPassphrase",
    "Content-Type": "application/json",
    "locale": "en-US",
  });
  const demo = signedHeaders(creds, ts, v.method, v.requestPath, v.queryString, v.body, true);
  assert.deepEqual(demo, { ...live, paptrading: "1" });
  assert.ok(sameSignature(live["ACCESS-SIGN"], v["expected_ACCESS-SIGN"]));
  assert.ok(!sameSignature(live["ACCESS-SIGN"], v["expected_ACCESS-SIGN"].replace("P", "Q")));
  assert.ok(!sameSignature("short", v["expected_ACCESS-SIGN"]));
});

Deno.test("WS login vector: prehash, sign, and the exact login frame", () => {
  const v = byId("hummingbot-ws-login");
  const creds = { apiKey: v.apiKey, secret: v.secretKey, passphrase: v.passphrase };
  assert.equal(wsLoginPrehash(v.timestamp), v.prehash);
  assert.equal(hmacBase64(v.secretKey, v.prehash), v.expected_sign);
  const frame = wsLoginFrame(creds, v.timestamp);
  assert.equal(frame, JSON.stringify(v.expected_login_frame));
  assert.deepEqual(JSON.parse(frame), v.expected_login_frame);
});

Deno.test("doc prehash examples (GET with query, POST with body)", () => {
  let n = 0;
  for (const ex of VECTORS.prehash_examples_from_docs) {
    if (!ex.prehash) continue;
    n++;
    assert.equal(
      restPrehash(ex.timestamp, ex.method, ex.requestPath, ex.queryString ?? "", ex.body ?? ""),
      ex.prehash,
    );
  }
  assert.equal(n, 3);
});

Deno.test("buildQuery sorts keys, encodes values and drops empty ones", () => {
  assert.equal(buildQuery({ symbol: "BTCUSDT", limit: 20 }), "limit=20&symbol=BTCUSDT");
  assert.equal(
    buildQuery({ marginCoin: "usdt", symbol: "btcusdt" }),
    "marginCoin=usdt&symbol=btcusdt",
  );
  assert.equal(buildQuery({ b: undefined, a: null, c: "", d: "x y#1" }), "d=x%20y%231");
  assert.equal(buildQuery({}), "");
  const q = buildQuery({ symbol: "BTCUSDT", productType: "USDT-FUTURES", limit: 100 });
  assert.equal(
    restPrehash("1", "GET", "/api/v2/mix/order/orders-pending", q, ""),
    "1GET/api/v2/mix/order/orders-pending?limit=100&productType=USDT-FUTURES&symbol=BTCUSDT",
  );
});
