/**
 * The real 2023 BTCUSDT book and trade seconds (../shared/data, Binance USDⓈ-M) as a micro-feature
 * database, and `bitget-bot train --features micro` on a database, for the tests that need a
 * micro model (registry, training worker, the daemon's lifecycle).
 */
import { parseTrainArgs, runTrain } from "../../src/cli/train.ts";
import { importCsv } from "../../src/store/import_csv.ts";
import { Store } from "../../src/store/store.ts";
import { SHARED } from "./collect_harness.ts";

/** Imports the 2023 book15 and trade seconds into a new database at `db`. */
export async function microDb2023(db: string): Promise<void> {
  const store = Store.open(db, { create: true });
  try {
    const d = `${SHARED}data/binance_usdm_BTCUSDT_20230404T2358_`;
    await importCsv(store, `${d}book15_1s.csv`, "book15-1s", "BTCUSDT");
    await importCsv(store, `${d}trades_1s.csv`, "trades-1s", "BTCUSDT");
  } finally {
    store.close();
  }
}

/**
 * Trains a BTCUSDT micro model (horizon 10 s, no costs, so all three classes occur on a few
 * minutes of data) from `db` into the bundle `out`, with trainer `params` (key=value).
 * @returns `out`
 */
export async function trainMicro(db: string, out: string, params: string[]): Promise<string> {
  const o = parseTrainArgs([
    db,
    "--features",
    "micro",
    "--symbols",
    "BTCUSDT",
    "--horizon",
    "10",
    "--fee-bps",
    "0",
    "--slippage-bps",
    "0",
    "--spread-bps",
    "0",
    "--out",
    out,
    ...params,
  ]);
  if (o === "help") throw new Error("help");
  await runTrain({ ...o, log: () => {} });
  return out;
}
