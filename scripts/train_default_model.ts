/**
 * Reproduces the shipped default model `models/default.{onnx,raw.onnx,json}`:
 *
 * 1. imports the real Binance USDⓈ-M 1m candles and 8 h settled funding of BTCUSDT and ETHUSDT
 *    from ../shared/data (MANIFEST.md there) into a temporary database;
 * 2. runs `bitget-bot train` on it: candle features on 1m bars, both symbols pooled, horizon 15
 *    bars (15 min), multiclass flat/long/short against a 15 bps round trip (2×6 fee + 1 spread +
 *    2×1 slippage), up to 66 iterations (≤ 198 trees) with early stopping on the last 20 % of the
 *    common span (BTC ends 2025-06-03T15:31Z; ETH's later bars are left out so both symbols are in
 *    both windows).
 *
 * The trainer is deterministic (seed=42), and the creation time is pinned to the data end, so the
 * same data gives byte-identical ONNX files.
 *
 * Usage: deno run --allow-read=.,../shared,/tmp --allow-write=models,/tmp scripts/train_default_model.ts [out]
 */
import { parseTrainArgs, runTrain } from "../src/cli/train.ts";
import { importCsv } from "../src/store/import_csv.ts";
import { Store } from "../src/store/store.ts";

const DATA = new URL("../../shared/data/", import.meta.url);
const FILES = [
  ["binance_usdm_BTCUSDT_1m_20250504-20250603.csv", "candles-1m", "BTCUSDT"],
  ["binance_usdm_BTCUSDT_funding_8h_20250306-20250603.csv", "funding", "BTCUSDT"],
  ["binance_usdm_ETHUSDT_1m_20250504-20250615.csv", "candles-1m", "ETHUSDT"],
  ["binance_usdm_ETHUSDT_funding_8h_20250306-20250615.csv", "funding", "ETHUSDT"],
] as const;
/** End of the BTCUSDT 1m file (last bar 2025-06-03T15:31Z), exclusive. */
const COMMON_END = Date.parse("2025-06-03T15:32:00Z");

/** The command line the default model is the output of (db path substituted). */
export function defaultTrainArgs(db: string, out: string): string[] {
  return [
    db,
    "--features=candle",
    "--interval=1m",
    "--symbols=BTCUSDT,ETHUSDT",
    "--horizon=15",
    `--to=${COMMON_END}`,
    "--fee-bps=6",
    "--slippage-bps=1",
    "--spread-bps=1",
    "--valid-fraction=0.2",
    `--out=${out}`,
    "num_iterations=66",
  ];
}

/** Imports the shared CSVs into a fresh database at `db`. */
export async function importDefaultData(db: string): Promise<void> {
  const store = Store.open(db, { create: true });
  try {
    for (const [file, kind, symbol] of FILES) {
      await importCsv(store, new URL(file, DATA).pathname, kind, symbol);
    }
  } finally {
    store.close();
  }
}

if (import.meta.main) {
  const out = Deno.args[0] ?? "models/default";
  const dir = await Deno.makeTempDir({ prefix: "bitget-default-model-" });
  try {
    const db = `${dir}/train.db`;
    await importDefaultData(db);
    const opts = parseTrainArgs(defaultTrainArgs(db, out));
    if (opts === "help") throw new Error("unreachable");
    const r = await runTrain({ ...opts, createdAt: new Date(COMMON_END) });
    console.log(
      `default model: ${r.model.trees.length} trees; metrics ${JSON.stringify(r.metrics)}`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
