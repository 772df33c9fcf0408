/**
 * BitgetPublicRest and the history download against tiny Bitget-like HTTP servers written here
 * (real sockets on 127.0.0.1): typed methods on the recorded REST fixtures, 429 / envelope-error
 * retries, timeouts, per-endpoint rate limiting, and resumable paging of history-candles and
 * history-fund-rate over real Binance 1m bars and funding rates.
 */
import assert from "node:assert/strict";
import { downloadCandles, downloadFunding, type HistoryStore } from "../src/bitget/history.ts";
import {
  BitgetPublicRest,
  BitgetRestError,
  type RestPublicOptions,
} from "../src/bitget/rest_public.ts";
import type { ContractSpec } from "../src/market/contracts.ts";
import type { CandleEvent, FundingEvent } from "../src/market/events.ts";

const SHARED = new URL("../../shared/", import.meta.url);
const REPLAY_REST = new URL("data/bitget_replay/rest/20240718T2357/start/", SHARED);

interface Hit {
  path: string;
  query: URLSearchParams;
  t: number;
}

function server(handler: (u: URL, hits: Hit[]) => Response | Promise<Response>) {
  const hits: Hit[] = [];
  const srv = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const u = new URL(req.url);
    hits.push({ path: u.pathname, query: u.searchParams, t: performance.now() });
    return handler(u, hits);
  });
  return {
    url: `http://127.0.0.1:${srv.addr.port}`,
    hits,
    close: () => srv.shutdown(),
  };
}

const ok = (data: unknown) =>
  Response.json({ code: "00000", msg: "success", requestTime: 1_721_347_022_835, data });
const bitgetError = (status: number, code: string, msg: string) =>
  Response.json({ code, msg, requestTime: Date.now(), data: null }, { status });

function client(url: string, over: Partial<RestPublicOptions> = {}) {
  return new BitgetPublicRest({
    baseUrl: url,
    productType: "USDT-FUTURES",
    ratePerSecond: 20,
    timeout: 2000,
    retryBaseDelay: 40,
    retryMaxDelay: 200,
    ...over,
  });
}

/** Serves the recorded REST responses of the 2024 replay window by path (+ symbol). */
function fixtureServer() {
  const read = (f: string) => JSON.parse(Deno.readTextFileSync(new URL(f, REPLAY_REST)));
  return server((u) => {
    const name = u.pathname.split("/").at(-1)!;
    const sym = u.searchParams.get("symbol");
    if (u.searchParams.get("productType") !== "USDT-FUTURES") {
      return bitgetError(400, "40017", "productType missing");
    }
    if (name === "contracts") return Response.json(read("contracts.json"));
    if (name === "current-fund-rate" && !sym) {
      const all = ["BTCUSDT", "ETHUSDT"].flatMap((s) => read(`current-fund-rate_${s}.json`).data);
      return ok(all);
    }
    try {
      return Response.json(read(`${name}_${sym}.json`));
    } catch {
      return bitgetError(400, "40102", "symbol does not exist");
    }
  });
}

Deno.test("typed methods on the recorded REST responses", async () => {
  const srv = fixtureServer();
  const rest = client(srv.url);
  try {
    const { specs, raw } = await rest.contracts();
    assert.equal(raw.length, 2);
    const btc = specs.find((s) => s.symbol === "BTCUSDT")!;
    assert.equal(btc.tickSize, 0.1);
    assert.equal(btc.lotSize, 0.0001);
    assert.equal(btc.maxLever, 150);
    assert.equal(specs.find((s) => s.symbol === "ETHUSDT")!.tickSize, 0.01);

    const [mark] = await rest.symbolPrice("BTCUSDT");
    assert.equal(mark.kind, "mark");
    assert.equal(mark.symbol, "BTCUSDT");
    assert.ok(mark.markPrice > 60_000 && mark.indexPrice > 60_000 && mark.last > 60_000);

    const [oi] = await rest.openInterest("ETHUSDT");
    assert.deepEqual([oi.kind, oi.symbol, oi.openInterest], ["oi", "ETHUSDT", 512864.37]);

    const rates = await rest.currentFundRate();
    assert.deepEqual(rates.map((r) => r.symbol), ["BTCUSDT", "ETHUSDT"]);
    assert.equal(rates[0].fundingRate, 0.0001);
    assert.equal(rates[0].nextFundingTime, 1_721_347_200_000);
    assert.equal(rates[0].intervalHours, 8);
    assert.equal(rates[0].type, "current");
    assert.equal(rates[0].ts, 1_721_347_022_835, "observation time = server requestTime");

    const [ft] = await rest.fundingTime("BTCUSDT");
    assert.deepEqual(ft, {
      symbol: "BTCUSDT",
      nextFundingTime: 1_721_347_200_000,
      intervalHours: 8,
      ts: 1_721_347_022_835, // observation time = the server's requestTime
    });

    await assert.rejects(rest.symbolPrice("NOPEUSDT"), (e: unknown) => {
      assert.ok(e instanceof BitgetRestError);
      assert.equal(e.code, "40102");
      assert.equal(e.httpStatus, 400);
      assert.equal(e.retryable, false);
      return true;
    });
  } finally {
    await srv.close();
  }
});

Deno.test("docs and recorded REST fixtures parse through the typed methods", async () => {
  const FIX = new URL("bitget/fixtures/", SHARED);
  const body = (f: string) => Deno.readTextFileSync(new URL(f, FIX));
  let files: Record<string, string> = {};
  const srv = server((u) => {
    const f = files[u.pathname.split("/").at(-1)!];
    return f ? new Response(body(f)) : bitgetError(404, "40404", "not served");
  });
  const rest = client(srv.url);
  try {
    files = {
      "contracts": "docs/rest_contracts.json",
      "symbol-price": "docs/rest_symbol_price.json",
      "open-interest": "docs/rest_open_interest.json",
      "current-fund-rate": "docs/rest_current_fund_rate.json",
      "funding-time": "docs/rest_funding_time.json",
      "history-fund-rate": "docs/rest_history_fund_rate.json",
      "history-candles": "docs/rest_history_candles.json",
    };
    const { specs } = await rest.contracts();
    assert.equal(specs[0].symbol, "BTCUSDT");
    assert.equal(specs[0].makerFeeRate, 0.0004, "doc example fee (recordings say 0.0002)");
    const [m] = await rest.symbolPrice("BTCUSDT");
    assert.deepEqual([m.last, m.indexPrice, m.markPrice, m.ts], [
      26242,
      34867,
      25555,
      1695793390482,
    ]);
    const [oi] = await rest.openInterest("BTCUSDT");
    assert.deepEqual([oi.openInterest, oi.ts], [34278.06, 1695796781616]);
    const [fr] = await rest.currentFundRate("BTCUSDT");
    assert.deepEqual([fr.fundingRate, fr.nextFundingTime, fr.intervalHours], [
      0.000068,
      1743062400000,
      8,
    ]);
    const [ft] = await rest.fundingTime("BTCUSDT");
    assert.equal(ft.nextFundingTime, 1695801600000);
    const hist = await rest.historyFundRate({ symbol: "BTCUSDT", pageSize: 100, pageNo: 1 });
    assert.deepEqual(hist.map((h) => [h.ts, h.fundingRate]), [
      [1695776400000, 0.0005],
      [1695715200000, 0.000013],
    ]);
    const bars = await rest.historyCandles({ symbol: "BTCUSDT", granularity: "1W", limit: 2 });
    assert.deepEqual(bars.map((b) => [b.ts, b.close, b.volume, b.quoteVolume]), [
      [1687708800000, 27177.43, 2990.08, 81246917.3294],
      [1688313600000, 24001, 2989.1, 72450031.0448],
    ]);
    assert.equal(bars[0].interval, "1W");

    files = {
      "contracts": "unattributed/rest_contracts_usdt_futures_recorded.json",
      "history-candles": "unattributed/rest_history_candles_usdt_futures_recorded.json",
      "history-fund-rate": "unattributed/rest_history_fund_rate_recorded.json",
    };
    const rec = await rest.contracts();
    const btc = rec.specs.find((c) => c.symbol === "BTCUSDT")!;
    assert.deepEqual([btc.tickSize, btc.lotSize, btc.minTradeNum, btc.maxLever], [
      0.1,
      0.0001,
      0.0001,
      150,
    ]);
    const recBars = await rest.historyCandles({
      symbol: "BTCUSDT",
      granularity: "1m",
      interval: "1m",
    });
    assert.equal(recBars.length, 5);
    assert.ok(recBars.every((b, i) => i === 0 || b.ts - recBars[i - 1].ts === 60_000));
    const recFund = await rest.historyFundRate({ symbol: "BTCUSDT" });
    assert.equal(recFund.length, 5);
    assert.ok(recFund.every((f, i) => i === 0 || recFund[i - 1].ts - f.ts === 8 * 3_600_000));
  } finally {
    await srv.close();
  }
});

Deno.test("HTTP 429 → backoff with jitter, then success", async () => {
  const srv = server((_u, hits) =>
    hits.length <= 2 ? bitgetError(429, "429", "Too Many Requests") : ok([{
      symbol: "BTCUSDT",
      price: "1",
      indexPrice: "2",
      markPrice: "3",
      ts: "4",
    }])
  );
  const rest = client(srv.url, { retryBaseDelay: 60, retryMaxDelay: 1000 });
  try {
    const [m] = await rest.symbolPrice("BTCUSDT");
    assert.deepEqual([m.last, m.indexPrice, m.markPrice, m.ts], [1, 2, 3, 4]);
    assert.equal(srv.hits.length, 3);
    assert.equal(rest.counters.retries, 2);
    // Equal jitter: retry i waits ≥ half of min(max, base·2^i): ≥ 30 ms, then ≥ 60 ms.
    assert.ok(srv.hits[1].t - srv.hits[0].t >= 30 - 2);
    assert.ok(srv.hits[2].t - srv.hits[1].t >= 60 - 2);
  } finally {
    await srv.close();
  }
});

Deno.test("envelope: code != 00000 fails even with HTTP 200; retryable codes retried", async () => {
  let mode = "";
  const srv = server((_u, hits) => {
    const n = hits.filter((h) => h.query.get("symbol") === mode).length;
    switch (mode) {
      case "A": // refusal with HTTP 200 (seen in the wild, API.md §7)
        return bitgetError(200, "43012", "Insufficient balance");
      case "B": // system abnormal twice, then fine
        return n <= 2 ? bitgetError(200, "40015", "system abnormal") : ok({
          openInterestList: [{ symbol: "B", size: "5" }],
          ts: "7",
        });
      case "C": // proxy error page, never a Bitget envelope
        return new Response("<html>502 Bad Gateway</html>", { status: 502 });
      default: // numeric code and requestTime as string: still parsed
        return Response.json({
          code: 45001,
          msg: "unknown error",
          requestTime: "1",
          data: null,
        });
    }
  });
  const rest = client(srv.url, { maxRetries: 2 });
  try {
    mode = "A";
    await assert.rejects(rest.openInterest("A"), (e: BitgetRestError) => {
      assert.equal(e.kind, "envelope");
      assert.equal(e.code, "43012");
      assert.equal(e.httpStatus, 200);
      return true;
    });
    assert.equal(srv.hits.filter((h) => h.query.get("symbol") === "A").length, 1, "no retry");
    mode = "B";
    const [oi] = await rest.openInterest("B");
    assert.deepEqual([oi.openInterest, oi.ts], [5, 7]);
    mode = "C";
    await assert.rejects(rest.openInterest("C"), (e: BitgetRestError) => e.kind === "http");
    assert.equal(srv.hits.filter((h) => h.query.get("symbol") === "C").length, 3);
    mode = "D";
    await assert.rejects(rest.openInterest("D"), (e: BitgetRestError) => e.code === "45001");
    assert.equal(srv.hits.filter((h) => h.query.get("symbol") === "D").length, 3);
  } finally {
    await srv.close();
  }
});

Deno.test("timeout per attempt, retried", async () => {
  const srv = server(async (_u, hits) => {
    if (hits.length === 1) await new Promise((r) => setTimeout(r, 400));
    return ok([{ symbol: "BTCUSDT", nextFundingTime: "9", ratePeriod: "4" }]);
  });
  const rest = client(srv.url, { timeout: 60, maxRetries: 1 });
  try {
    const [ft] = await rest.fundingTime("BTCUSDT");
    assert.equal(ft.intervalHours, 4);
    assert.equal(rest.counters.retries, 1);
  } finally {
    await srv.close();
  }
});

Deno.test("rate limit: requests to one endpoint spaced 1/rate apart", async () => {
  const srv = server(() => ok([{ symbol: "X", nextFundingTime: "1", ratePeriod: "8" }]));
  const rest = client(srv.url, { ratePerSecond: 10 });
  try {
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 6 }, () => rest.fundingTime("X")));
    // 6 requests at 10/s: the 6th may start no earlier than 500 ms after the first.
    assert.ok(performance.now() - t0 >= 500 - 5);
    assert.equal(srv.hits.length, 6);
  } finally {
    await srv.close();
  }
});

// ---- history paging over real Binance 1m bars -------------------------------------------------

/** Real 1m bars as Bitget history-candles rows (quote volume ≈ volume × close: not in the CSV). */
function loadBars(file: string): string[][] {
  const lines = Deno.readTextFileSync(new URL(`data/${file}`, SHARED)).trim().split("\n").slice(1);
  return lines.map((l) => {
    const [ts, , o, h, lo, c, v] = l.split(",");
    return [ts, o, h, lo, c, v, String(Number(v) * Number(c))];
  });
}

/**
 * history-candles like Bitget (API.md §4.9): limit ≤ 200, span ≤ 90 days, completed bars in
 * [startTime, endTime] (`inclusiveEnd`) or [startTime, endTime), the latest `limit` of them.
 */
function candleServer(bars: string[][], ivMs: number, inclusiveEnd: boolean) {
  return server((u) => {
    const q = u.searchParams;
    const start = Number(q.get("startTime"));
    const end = Number(q.get("endTime"));
    const limit = Number(q.get("limit") ?? 100);
    if (limit > 200) return bitgetError(400, "40017", "limit max 200");
    if (end - start > 90 * 86_400_000) return bitgetError(400, "40017", "span > 90 days");
    if (!q.get("granularity")) return bitgetError(400, "40017", "granularity");
    const inRange = bars.filter((b) => {
      const t = Number(b[0]);
      return t % ivMs === 0 && t >= start && (inclusiveEnd ? t <= end : t < end);
    });
    return ok(inRange.slice(-limit));
  });
}

class MemoryStore implements HistoryStore {
  candles = new Map<string, CandleEvent>();
  funding = new Map<string, FundingEvent>();
  writes = 0;
  lastCandleTs(symbol: string, interval: string): number | null {
    let last: number | null = null;
    for (const c of this.candles.values()) {
      if (c.symbol === symbol && c.interval === interval) last = Math.max(last ?? 0, c.ts);
    }
    return last;
  }
  writeCandles(events: CandleEvent[]): void {
    this.writes++;
    for (const e of events) this.candles.set(`${e.symbol}|${e.interval}|${e.ts}`, e);
  }
  contracts: ContractSpec[] = [];
  writeContracts(specs: ContractSpec[]): void {
    this.contracts.push(...specs);
  }
  writeFunding(events: FundingEvent[]): void {
    for (const e of events) this.funding.set(`${e.symbol}|${e.ts}`, e);
  }
}

for (const inclusiveEnd of [true, false]) {
  Deno.test(`history candles: paged ≤200, resumable, exact (endTime ${inclusiveEnd ? "inclusive" : "exclusive"})`, async () => {
    const bars = loadBars("binance_usdm_BTCUSDT_1m_20250504-20250603.csv");
    const srv = candleServer(bars, 60_000, inclusiveEnd);
    const rest = client(srv.url);
    const store = new MemoryStore();
    const from = Date.parse("2025-05-10T00:00:00Z");
    const to = Date.parse("2025-05-12T00:00:00Z");
    const want = bars.filter((b) => Number(b[0]) >= from && Number(b[0]) < to);
    assert.equal(want.length, 2880);
    const lines: string[] = [];
    try {
      // Interrupt after 1000 bars (a killed run), then resume.
      const half = bars.findIndex((b) => Number(b[0]) === from) + 1000;
      const r1 = await downloadCandles(rest, store, "BTCUSDT", "1m", from, Number(bars[half][0]));
      assert.equal(r1.rows, 1000);
      const before = srv.hits.length;
      const r2 = await downloadCandles(
        rest,
        store,
        "BTCUSDT",
        "1m",
        from,
        to,
        (l) => lines.push(l),
      );
      assert.equal(r2.rows, 1880);
      assert.equal(r2.firstTs, Number(bars[half][0]), "resumed right after the last stored bar");
      if (inclusiveEnd) assert.equal(srv.hits.length - before, Math.ceil(1880 / 200));
      for (const h of srv.hits) assert.ok(Number(h.query.get("limit")) <= 200);
      assert.equal(store.candles.size, 2880);
      for (const b of want) {
        const c = store.candles.get(`BTCUSDT|1m|${b[0]}`)!;
        assert.deepEqual([c.open, c.high, c.low, c.close, c.volume], b.slice(1, 6).map(Number));
      }
      assert.ok(lines.some((l) => l.includes("100.0%")), lines.join("\n"));
      // Nothing new: a third run makes no request.
      const r3 = await downloadCandles(rest, store, "BTCUSDT", "1m", from, to);
      assert.deepEqual([r3.rows, r3.requests], [0, 0]);
    } finally {
      await srv.close();
    }
  });
}

Deno.test("history candles: only completed bars, window before listing skipped", async () => {
  const bars = loadBars("binance_usdm_BTCUSDT_15m_20250306-20250413.csv");
  const srv = candleServer(bars, 900_000, true);
  const store = new MemoryStore();
  try {
    const first = Number(bars[0][0]);
    const from = first - 5 * 86_400_000; // five days before the data starts: empty pages
    const now = first + 10 * 900_000 + 1; // the 11th bar is still forming
    const r = await downloadCandles(
      client(srv.url),
      store,
      "BTCUSDT",
      "15m",
      from,
      now + 1e9,
      undefined,
      now,
    );
    assert.equal(r.rows, 10);
    assert.equal(r.lastTs, first + 9 * 900_000);
  } finally {
    await srv.close();
  }
});

Deno.test("history funding: newest-first pages of 100, stops once past --from", async () => {
  const rows = Deno.readTextFileSync(
    new URL("data/binance_usdm_BTCUSDT_funding_8h_20250306-20250603.csv", SHARED),
  ).trim().split("\n").slice(1).map((l) => l.split(","));
  const newestFirst = rows.map(([t, , r]) => ({
    symbol: "BTCUSDT",
    fundingRate: r,
    fundingTime: t,
  }))
    .reverse();
  const srv = server((u) => {
    const size = Number(u.searchParams.get("pageSize"));
    const page = Number(u.searchParams.get("pageNo"));
    if (size > 100) return bitgetError(400, "40017", "pageSize max 100");
    return ok(newestFirst.slice((page - 1) * size, page * size));
  });
  const store = new MemoryStore();
  try {
    const from = Date.parse("2025-04-01T00:00:00Z");
    const to = Date.parse("2025-06-01T00:00:00Z");
    const r = await downloadFunding(client(srv.url), store, "BTCUSDT", from, to);
    const want = rows.filter(([t]) => Number(t) >= from && Number(t) < to);
    assert.equal(r.rows, want.length);
    assert.equal(store.funding.size, want.length);
    assert.equal(r.requests, 2, "page 2 reaches back before --from");
    for (const [t, , rate] of want) {
      const f = store.funding.get(`BTCUSDT|${t}`)!;
      assert.equal(f.fundingRate, Number(rate));
      assert.equal(f.type, "settled");
    }
    // Whole history: pages until a short page.
    const all = await downloadFunding(client(srv.url), new MemoryStore(), "BTCUSDT", 0, Date.now());
    assert.equal(all.rows, rows.length);
    assert.equal(all.requests, Math.ceil(rows.length / 100));
  } finally {
    await srv.close();
  }
});
