/**
 * `download` command: argument handling (exit 2 on usage errors, 1 without a store), and a full
 * run against a Bitget-like history server (real 1m bars and funding rates) with an in-memory
 * HistoryStore, including resume.
 */
import assert from "node:assert/strict";
import type { HistoryStore } from "../src/bitget/history.ts";
import { downloadCommand } from "../src/cli/download.ts";
import type { ContractSpec } from "../src/market/contracts.ts";
import type { CandleEvent, FundingEvent } from "../src/market/events.ts";

const SHARED = new URL("../../shared/data/", import.meta.url);

function csv(file: string): string[][] {
  return Deno.readTextFileSync(new URL(file, SHARED)).trim().split("\n").slice(1).map((l) =>
    l.split(",")
  );
}

/** history-candles (inclusive endTime, latest `limit`) and history-fund-rate (newest first). */
function historyServer() {
  const m1 = csv("binance_usdm_BTCUSDT_1m_20250504-20250603.csv");
  const funding = csv("binance_usdm_BTCUSDT_funding_8h_20250306-20250603.csv").reverse();
  let requests = 0;
  const ok = (data: unknown) =>
    Response.json({ code: "00000", msg: "success", requestTime: 1, data });
  const srv = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    requests++;
    const u = new URL(req.url);
    const q = u.searchParams;
    if (u.pathname.endsWith("/market/contracts") && q.get("productType") === "USDT-FUTURES") {
      return new Response(
        Deno.readTextFileSync(new URL("../sample/rest/contracts.json", import.meta.url)),
        {
          headers: { "content-type": "application/json" },
        },
      );
    }
    if (q.get("symbol") !== "BTCUSDT") {
      return Response.json({ code: "40034", msg: "Parameter does not exist", data: null }, {
        status: 400,
      });
    }
    if (u.pathname.endsWith("/history-candles")) {
      const iv = { "1m": 60_000, "15m": 900_000 }[q.get("granularity") ?? ""];
      if (!iv) {
        return Response.json({ code: "40017", msg: "granularity", data: null }, { status: 400 });
      }
      const s = Number(q.get("startTime"));
      const e = Number(q.get("endTime"));
      const rows = m1.filter((r) => Number(r[0]) >= s && Number(r[0]) <= e);
      // 15m bars aggregated from the real 1m bars.
      const out: string[][] = [];
      for (const r of rows) {
        const t = Number(r[0]);
        const start = t - (t % iv);
        const last = out.at(-1);
        if (!last || Number(last[0]) !== start) {
          if (start < s) continue;
          out.push([String(start), r[2], r[3], r[4], r[5], r[6], "0"]);
        } else {
          last[2] = String(Math.max(Number(last[2]), Number(r[3])));
          last[3] = String(Math.min(Number(last[3]), Number(r[4])));
          last[4] = r[5];
          last[5] = String(Number(last[5]) + Number(r[6]));
        }
      }
      return ok(out.slice(-Number(q.get("limit") ?? 100)));
    }
    if (u.pathname.endsWith("/history-fund-rate")) {
      const size = Number(q.get("pageSize"));
      const page = Number(q.get("pageNo"));
      return ok(
        funding.slice((page - 1) * size, page * size).map(([t, , r]) => ({
          symbol: "BTCUSDT",
          fundingRate: r,
          fundingTime: t,
        })),
      );
    }
    return new Response("not found", { status: 404 });
  });
  return {
    url: `http://127.0.0.1:${srv.addr.port}`,
    requests: () => requests,
    close: () => srv.shutdown(),
  };
}

class MemoryStore implements HistoryStore {
  candles = new Map<string, CandleEvent>();
  funding = new Map<number, FundingEvent>();
  opened: string[] = [];
  closed = 0;
  lastCandleTs(symbol: string, interval: string): number | null {
    let last: number | null = null;
    for (const c of this.candles.values()) {
      if (c.symbol === symbol && c.interval === interval) last = Math.max(last ?? 0, c.ts);
    }
    return last;
  }
  writeCandles(events: CandleEvent[]): void {
    for (const e of events) this.candles.set(`${e.interval}|${e.ts}`, e);
  }
  contracts: ContractSpec[] = [];
  writeContracts(specs: ContractSpec[]): void {
    this.contracts.push(...specs);
  }
  writeFunding(events: FundingEvent[]): void {
    for (const e of events) this.funding.set(e.ts, e);
  }
  close(): void {
    this.closed++;
  }
}

/** Runs the command with console output captured. */
async function run(argv: string[], store?: MemoryStore) {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    const code = await downloadCommand(
      argv,
      store
        ? (path) => {
          store.opened.push(path);
          return store;
        }
        : undefined,
    );
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("download: usage errors exit 2 with a message naming the problem", async () => {
  const store = new MemoryStore();
  const cases: Array<[string[], RegExp]> = [
    [["--from", "2025-05-10"], /--symbols is required/],
    [["--symbols", "BTCUSDT"], /--from is required/],
    [["--symbols", "btc-usdt", "--from", "2025-05-10"], /not a symbol like BTCUSDT/],
    [["--symbols", "BTCUSDT", "--from", "yesterday"], /invalid time "yesterday"/],
    [["--symbols", "BTCUSDT", "--from", "2025-05-10", "--to", "2025-05-01"], /must be before/],
    [
      ["--symbols", "BTCUSDT", "--from", "2025-05-10", "--intervals", "1m,7m"],
      /"7m" is not one of/,
    ],
    [["--symbols", "BTCUSDT", "--from", "2025-05-10", "--rest-url", "ftp://x"], /not an http/],
    [
      ["--symbols", "BTCUSDT", "--from", "2025-05-10", "--config", "/nonexistent.yaml"],
      /cannot read config/,
    ],
    [["--bogus"], /Unknown option/],
  ];
  for (const [argv, re] of cases) {
    const r = await run(argv, store);
    assert.equal(r.code, 2, argv.join(" "));
    assert.match(r.err, re, argv.join(" "));
  }
  assert.equal(store.opened.length, 0, "no database opened on a usage error");
  assert.equal((await run(["--help"])).code, 0);
});

Deno.test("download: without a wired store → exit 1", async () => {
  const r = await run(["--symbols", "BTCUSDT", "--from", "2025-05-10", "--to", "2025-05-11"]);
  assert.equal(r.code, 1);
  assert.match(r.err, /no database store/);
});

Deno.test("download: candles (1m, 15m) + funding into the store, progress lines, resume", async () => {
  const srv = historyServer();
  const store = new MemoryStore();
  const argv = [
    "--symbols",
    "BTCUSDT",
    "--from",
    "2025-05-10T00:00:00Z",
    "--to",
    "2025-05-11T00:00:00Z",
    "--intervals",
    "1m,15m",
    "--funding",
    "--rest-url",
    srv.url,
    "--db",
    "/tmp/unused.db",
  ];
  try {
    const r = await run(argv, store);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(store.opened, ["/tmp/unused.db"]);
    assert.equal(store.closed, 1);
    const byIv = (iv: string) => [...store.candles.values()].filter((c) => c.interval === iv);
    assert.equal(byIv("1m").length, 1440);
    assert.equal(byIv("15m").length, 96);
    assert.equal(store.funding.size, 3, "00:00, 08:00, 16:00 settlements of that day");
    assert.match(r.out, /done contracts: 1 specs stored \(BTCUSDT\)/);
    assert.deepEqual(store.contracts.map((c) => [c.symbol, c.tickSize, c.lotSize]), [
      ["BTCUSDT", 0.1, 0.0001],
    ]);
    assert.match(r.out, /done BTCUSDT candles 1m: 1440 rows/);
    assert.match(r.out, /done BTCUSDT candles 15m: 96 rows/);
    assert.match(r.out, /done BTCUSDT funding: 3 rows/);
    // 15m bars equal the aggregate of the stored 1m bars.
    const bar = byIv("15m")[10];
    const mins = byIv("1m").filter((c) => c.ts >= bar.ts && c.ts < bar.ts + 900_000);
    assert.equal(mins.length, 15);
    assert.equal(bar.high, Math.max(...mins.map((c) => c.high)));
    assert.equal(bar.close, mins.at(-1)!.close);

    // Rerun: candles are up to date (no candle request); the contract specs (one request) and
    // the funding page are re-read.
    const before = srv.requests();
    const again = await run(argv, store);
    assert.equal(again.code, 0);
    assert.equal(srv.requests() - before, 2);
    assert.match(again.out, /up to date/);

    // An exchange error surfaces as exit 1 with the Bitget message.
    const bad = await run(["--symbols", "ETHUSDT", ...argv.slice(2)], store);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /40034/);
  } finally {
    await srv.close();
  }
});
