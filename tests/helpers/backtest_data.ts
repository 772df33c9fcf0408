/**
 * Real-data fixtures for backtest tests: the 30-day BTCUSDT + ETHUSDT 1m history with funding
 * (Binance USD-M, /work/shared/data) imported into a temp store, and Bitget's real contract specs
 * for both symbols (sample/rest/contracts.json, a recorded `GET /api/v2/mix/market/contracts`).
 */
import { join } from "node:path";
import { resolveContracts } from "../../src/backtest/session.ts";
import type { ContractSpec } from "../../src/market/contracts.ts";
import { importCsv } from "../../src/store/import_csv.ts";
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

/** Imports the 30-day 1m candles and 8 h funding of BTCUSDT and ETHUSDT into a fresh store. */
export async function candleDb(): Promise<CandleDb> {
  const dir = await Deno.makeTempDir({ prefix: "bitget-bt-" });
  const path = join(dir, "bt.db");
  const store = Store.open(path, { create: true });
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
  const contracts = resolveContracts(store, SYMBOLS, CONTRACTS_JSON);
  return { store, path, dir, from: btc.firstTs! + 60_000, to: btc.lastTs! + 120_000, contracts };
}

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
