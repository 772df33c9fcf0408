/**
 * Real-data fixtures for backtest tests: the 30-day BTCUSDT + ETHUSDT 1m history with funding
 * (Binance USD-M, /work/shared/data) imported into a temp store, and Bitget's real contract specs
 * for both symbols (sample/rest/contracts.json, a recorded `GET /api/v2/mix/market/contracts`).
 */
import { join } from "node:path";
import { resolveContracts } from "../../src/backtest/session.ts";
import type { ContractSpec } from "../../src/market/contracts.ts";
import type { ClosedBar } from "../../src/strategy/types.ts";
import { importCsv, type ImportResult } from "../../src/store/import_csv.ts";
import { Store } from "../../src/store/store.ts";

export const data = (f: string) =>
  decodeURIComponent(new URL(`../../../shared/data/${f}`, import.meta.url).pathname);
export const CONTRACTS_JSON = decodeURIComponent(
  new URL("../../sample/rest/contracts.json", import.meta.url).pathname,
);
export const SYMBOLS = ["BTCUSDT", "ETHUSDT"];

export interface CandleDb {
  store: Store;
  path: string;
  dir: string;
  /** First bar close … one bar past the last BTC bar close (candle replay bounds, ms). */
  from: number;
  to: number;
  contracts: ContractSpec[];
}

/**
 * Imports the 30-day 1m candles and 8 h funding of BTCUSDT and ETHUSDT into `store`; returns the
 * BTC candle import (its firstTs / lastTs bound the window both symbols cover).
 */
export async function importCandleHistory(store: Store): Promise<ImportResult> {
  const btc = await importCsv(
    store,
    data("binance_usdm_BTCUSDT_1m_20250504-20250603.csv"),
    "candles-1m",
    "BTCUSDT",
  );
  await importCsv(
    store,
    data("binance_usdm_ETHUSDT_1m_20250504-20250615.csv"),
    "candles-1m",
    "ETHUSDT",
  );
  for (const [s, f] of [["BTCUSDT", "20250306-20250603"], ["ETHUSDT", "20250306-20250615"]]) {
    await importCsv(store, data(`binance_usdm_${s}_funding_8h_${f}.csv`), "funding", s);
  }
  return btc;
}

/** The 30-day history in a fresh store, with Bitget's real contract specs. */
export async function candleDb(): Promise<CandleDb> {
  const dir = await Deno.makeTempDir({ prefix: "bitget-bt-" });
  const path = join(dir, "bt.db");
  const store = Store.open(path, { create: true });
  const btc = await importCandleHistory(store);
  const contracts = resolveContracts(store, SYMBOLS, CONTRACTS_JSON);
  return { store, path, dir, from: btc.firstTs! + 60_000, to: btc.lastTs! + 120_000, contracts };
}

/**
 * A round-number contract (pricePlace 2, 0.02 % / 0.06 % fees, min 5 USDT, 1–125x) for tests that
 * assert exact arithmetic independent of Bitget's current specs.
 */
export function testSpec(
  symbol: string,
  tick: number,
  lot: number,
  volumePlace: number,
): ContractSpec {
  return {
    symbol,
    baseCoin: symbol.replace("USDT", ""),
    quoteCoin: "USDT",
    pricePlace: 2,
    priceEndStep: 1,
    tickSize: tick,
    volumePlace,
    lotSize: lot,
    minTradeNum: lot,
    minTradeUSDT: 5,
    makerFeeRate: 0.0002,
    takerFeeRate: 0.0006,
    minLever: 1,
    maxLever: 125,
    fundIntervalHours: 8,
    status: "normal",
    maxMarketOrderQty: Infinity,
    maxOrderQty: Infinity,
  };
}

/** BTCUSDT (tick 0.1, lot 0.001) and ETHUSDT (tick 0.01, lot 0.01) test contracts. */
export const TEST_CONTRACTS = [
  testSpec("BTCUSDT", 0.1, 0.001, 3),
  testSpec("ETHUSDT", 0.01, 0.01, 2),
];

/** |a − b| ≤ tol, with a message naming what was compared. */
export function near(a: number, b: number, tol: number, what: string): void {
  if (!(Math.abs(a - b) <= tol)) {
    throw new Error(`${what}: expected ${b}, got ${a} (diff ${a - b}, tolerance ${tol})`);
  }
}

export const REC_2024 = decodeURIComponent(
  new URL(
    "../../../shared/data/bitget_replay/bitget_v2_public_BTCUSDT-ETHUSDT_20240718T2357.jsonl.gz",
    import.meta.url,
  ).pathname,
);

/**
 * A raw order-book database from the real 2024 BTCUSDT + ETHUSDT Bitget recording (ticker, trade,
 * books15, books, candles), written by the collector's own parser (ingest/replay_frames.ts) and
 * BatchWriter — the exact rows `collect` stores for these frames (tests/collect_e2e_test.ts
 * proves the socket path writes the same), without the sockets.
 */
export async function rawDb(): Promise<CandleDb> {
  const { loadReplayFrames } = await import("../../src/ingest/replay_frames.ts");
  const { BatchWriter } = await import("../../src/store/batch_writer.ts");
  const dir = await Deno.makeTempDir({ prefix: "bitget-bt-raw-" });
  const path = join(dir, "raw.db");
  const store = Store.open(path, { create: true });
  const frames = await loadReplayFrames(REC_2024);
  const w = new BatchWriter(store, { batchMaxAge: 3_600_000, batchMaxEvents: 20_000 });
  for (const f of frames) w.pushAll(f.events, { [`${f.symbol}|${f.channel}`]: 1 });
  w.close();
  const r = store.db.prepare("SELECT MIN(ts) AS a, MAX(ts) AS b FROM books15").get() as {
    a: number;
    b: number;
  };
  const contracts = resolveContracts(store, SYMBOLS, CONTRACTS_JSON);
  return { store, path, dir, from: r.a, to: r.b + 1, contracts };
}

/**
 * Closed bars of `symbol` from a shared/data candle CSV
 * (`open_time_ms,open_time_utc,open,high,low,close,volume`), funding unknown.
 */
export function readCsvBars(
  file: string,
  symbol: string,
  interval: string,
  intervalMs: number,
): ClosedBar[] {
  const lines = Deno.readTextFileSync(data(file)).trim().split("\n");
  if (lines[0] !== "open_time_ms,open_time_utc,open,high,low,close,volume") {
    throw new Error(`${file}: unexpected header ${lines[0]}`);
  }
  return lines.slice(1).map((l) => {
    const c = l.split(",");
    return {
      symbol,
      interval,
      intervalMs,
      ts: Number(c[0]),
      open: Number(c[2]),
      high: Number(c[3]),
      low: Number(c[4]),
      close: Number(c[5]),
      volume: Number(c[6]),
      fundingRate: NaN,
    };
  });
}
