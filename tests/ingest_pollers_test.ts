/**
 * REST pollers against a Bitget-like server serving the recorded REST responses of the 2024
 * replay window: contracts first, each poller at its interval with symbols rotated, errors of one
 * endpoint counted without stopping the others, nothing polled after stop.
 */
import assert from "node:assert/strict";
import { BitgetPublicRest, type FundingTime } from "../src/bitget/rest_public.ts";
import { RestPollers } from "../src/ingest/pollers.ts";
import type { ContractSpec } from "../src/market/contracts.ts";
import type { MarketEvent } from "../src/market/events.ts";
import { createLogger } from "../src/ops/log.ts";

const REST = new URL("../../shared/data/bitget_replay/rest/20240718T2357/start/", import.meta.url);

function fixtureServer(failing: string) {
  const read = (f: string) => JSON.parse(Deno.readTextFileSync(new URL(f, REST)));
  const hits: Array<{ name: string; symbol: string | null; t: number }> = [];
  const srv = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const u = new URL(req.url);
    const name = u.pathname.split("/").at(-1)!;
    const symbol = u.searchParams.get("symbol");
    hits.push({ name, symbol, t: performance.now() });
    if (name === failing) {
      return Response.json({ code: "40015", msg: "system abnormal", data: null }, { status: 500 });
    }
    if (name === "contracts") return Response.json(read("contracts.json"));
    if (name === "current-fund-rate" && !symbol) {
      const data = ["BTCUSDT", "ETHUSDT"].flatMap((s) => read(`current-fund-rate_${s}.json`).data);
      // Bitget answers for every symbol when none is given; the poller keeps the configured ones.
      data.push({ ...data[0], symbol: "DOGEUSDT" });
      return Response.json({ code: "00000", msg: "success", requestTime: 5, data });
    }
    return Response.json(read(`${name}_${symbol}.json`));
  });
  return { url: `http://127.0.0.1:${srv.addr.port}`, hits, close: () => srv.shutdown() };
}

async function until(cond: () => boolean, what: string, timeoutMs = 15_000) {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("pollers: every endpoint at its interval, symbols rotated, errors counted, stop", async () => {
  const srv = fixtureServer("open-interest");
  const rest = new BitgetPublicRest({
    baseUrl: srv.url,
    productType: "USDT-FUTURES",
    ratePerSecond: 20,
    timeout: 2000,
    maxRetries: 0,
  });
  const events: MarketEvent[] = [];
  const contracts: ContractSpec[][] = [];
  const times: FundingTime[] = [];
  const logs: string[] = [];
  const pollers = new RestPollers(
    rest,
    ["BTCUSDT", "ETHUSDT"],
    { symbolPrice: 100, openInterest: 100, fundingRate: 150, fundingTime: 200, contracts: 60_000 },
    {
      onEvents: (e) => events.push(...e),
      onContracts: (c) => contracts.push(c),
      onFundingTimes: (f) => times.push(...f),
    },
    createLogger({ format: "json", sink: (l) => logs.push(l), level: "warn" }),
  );
  pollers.start();
  try {
    await until(
      () =>
        events.filter((e) => e.kind === "mark").length >= 4 &&
        events.filter((e) => e.kind === "funding").length >= 4 && times.length >= 2 &&
        (pollers.stats()["open-interest"]?.errors ?? 0) >= 2,
      "all pollers to run a few times",
    );
  } finally {
    await pollers.stop();
  }
  const after = srv.hits.length;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(srv.hits.length, after, "no request after stop");
  await srv.close();

  assert.equal(srv.hits[0].name, "contracts", "contracts are fetched first");
  assert.equal(contracts.length, 1);
  assert.deepEqual(contracts[0].map((c) => c.symbol), ["BTCUSDT", "ETHUSDT"]);
  const marks = events.filter((e) => e.kind === "mark");
  assert.ok(marks.some((e) => e.symbol === "BTCUSDT") && marks.some((e) => e.symbol === "ETHUSDT"));
  const funding = events.filter((e) => e.kind === "funding");
  assert.ok(funding.every((e) => e.symbol !== "DOGEUSDT"), "only configured symbols");
  assert.ok(times.some((t) => t.symbol === "ETHUSDT"));
  assert.equal(events.filter((e) => e.kind === "oi").length, 0);
  const st = pollers.stats();
  assert.ok(st["open-interest"].errors >= 2);
  assert.match(st["open-interest"].lastError!, /40015/);
  assert.equal(st["symbol-price"].errors, 0);
  assert.ok(logs.some((l) => l.includes('"poller":"open-interest"')));
  // Per-symbol pollers alternate symbols: one request per interval/2 = 50 ms.
  const sp = srv.hits.filter((h) => h.name === "symbol-price");
  for (let i = 1; i < sp.length; i++) assert.notEqual(sp[i].symbol, sp[i - 1].symbol);
});

Deno.test("pollers: interval 0 disables a poller", async () => {
  const srv = fixtureServer("none");
  const rest = new BitgetPublicRest({
    baseUrl: srv.url,
    productType: "USDT-FUTURES",
    ratePerSecond: 20,
    timeout: 2000,
  });
  const events: MarketEvent[] = [];
  const pollers = new RestPollers(
    rest,
    ["BTCUSDT"],
    { symbolPrice: 0, openInterest: 50, fundingRate: 0, fundingTime: 0, contracts: 0 },
    { onEvents: (e) => events.push(...e) },
  );
  pollers.start();
  try {
    await until(() => events.length >= 3, "open interest events");
  } finally {
    await pollers.stop();
    await srv.close();
  }
  assert.deepEqual(new Set(srv.hits.map((h) => h.name)), new Set(["open-interest"]));
  assert.deepEqual(Object.keys(pollers.stats()), ["open-interest"]);
  assert.equal((events[0] as { openInterest: number }).openInterest, 52637.1184);
});
