/**
 * `bitget-bot download` — stores the symbols' contract specs, then pages Bitget history-candles and
 * history-fund-rate into the database (resumable: a rerun continues after the newest stored bar).
 *
 *   download --symbols BTCUSDT,ETHUSDT --from 2025-05-01 --to 2025-06-01
 *            [--intervals 1m,15m] [--funding] [--db data/bitget.db] [--rest-url URL] [--config file]
 *
 * Exit codes: 0 done, 1 runtime failure (network, exchange error, database), 2 usage/config error.
 */
import { parseArgs } from "node:util";
import { type Config, ConfigError, loadConfig } from "../config/config.ts";
import { parseTime } from "../config/duration.ts";
import {
  CANDLE_INTERVALS,
  downloadHistory,
  type DownloadPlan,
  type HistoryStore,
} from "../bitget/history.ts";
import { BitgetPublicRest, BitgetRestError, restOptionsFromConfig } from "../bitget/rest_public.ts";
import { Progress } from "../ops/progress.ts";

/** Opens the store at a database path; `close` (if any) is called when the download ends. */
export type HistoryStoreFactory = (dbPath: string) =>
  | (HistoryStore & { close?: () => void })
  | Promise<HistoryStore & { close?: () => void }>;

const USAGE = `usage: bitget-bot download --symbols S[,S…] [S…] --from T [--to T] [options]

Stores the symbols' contract specs (tick/lot size, fees) and pages Bitget history-candles
(≤ 200 bars per request) and history-fund-rate into the database.
Resumable: rerunning continues after the newest stored bar.

options:
  --symbols S…        symbols, comma- or space-separated (e.g. BTCUSDT,ETHUSDT)
  --from T            start, epoch ms or ISO-8601 (UTC when no zone), inclusive
  --to T              end, exclusive (default: now)
  --intervals LIST    candle intervals, comma-separated: ${
  Object.keys(CANDLE_INTERVALS).join(",")
} (default 1m)
  --funding           also download settled funding rates
  --db PATH           SQLite file (default: collect.db from the config)
  --rest-url URL      REST base URL (default: exchange.restUrl from the config)
  --config FILE       config file (default: config.yaml if present)
  -h, --help          this text
`;

class UsageError extends Error {}

function fail(msg: string): never {
  throw new UsageError(msg);
}

/**
 * Runs the download command. `openStore` provides the database (the SQLite store); without it the
 * command cannot write anything and exits with 1 and a message saying so.
 */
export async function downloadCommand(
  argv: string[],
  openStore?: HistoryStoreFactory,
): Promise<number> {
  const out = (s: string) => console.log(s);
  let values: Record<string, string | string[] | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        symbols: { type: "string", multiple: true },
        from: { type: "string" },
        to: { type: "string" },
        intervals: { type: "string" },
        funding: { type: "boolean" },
        db: { type: "string" },
        "rest-url": { type: "string" },
        config: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error(`download: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    out(USAGE);
    return 0;
  }
  let plan: DownloadPlan;
  let restUrl: string;
  let dbPath: string;
  let config: Config;
  try {
    config = typeof values.config === "string"
      ? loadConfig(values.config)
      : loadConfig("config.yaml", true);
    const symbols = [...((values.symbols as string[] | undefined) ?? []), ...positionals]
      .flatMap((s) => s.split(","))
      .map((s) => s.trim().toUpperCase())
      .filter((s) => s.length > 0);
    if (symbols.length === 0) fail("--symbols is required (e.g. --symbols BTCUSDT,ETHUSDT)");
    for (const s of symbols) {
      if (!/^[A-Z0-9]{2,30}$/.test(s)) fail(`--symbols: "${s}" is not a symbol like BTCUSDT`);
    }
    if (typeof values.from !== "string") fail("--from is required (epoch ms or ISO-8601)");
    const from = parseTime(values.from);
    const to = typeof values.to === "string" ? parseTime(values.to) : Date.now();
    if (!(from < to)) fail(`--from (${values.from}) must be before --to (${values.to ?? "now"})`);
    const intervals = typeof values.intervals === "string"
      ? values.intervals.split(",").map((s) => s.trim()).filter((s) => s)
      : ["1m"];
    for (const iv of intervals) {
      if (!CANDLE_INTERVALS[iv]) {
        fail(`--intervals: "${iv}" is not one of ${Object.keys(CANDLE_INTERVALS).join(", ")}`);
      }
    }
    plan = { symbols, from, to, intervals, funding: values.funding === true };
    restUrl = typeof values["rest-url"] === "string" ? values["rest-url"] : config.exchange.restUrl;
    try {
      const u = new URL(restUrl);
      if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error();
    } catch {
      fail(`--rest-url: "${restUrl}" is not an http(s) URL`);
    }
    dbPath = typeof values.db === "string" ? values.db : config.collect.db;
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError || e instanceof RangeError) {
      console.error(`download: ${(e as Error).message}`);
      return 2;
    }
    throw e;
  }
  if (!openStore) {
    console.error("download: no database store is wired into this build (HistoryStoreFactory)");
    return 1;
  }
  const rest = new BitgetPublicRest({ ...restOptionsFromConfig(config), baseUrl: restUrl });
  let store;
  try {
    store = await openStore(dbPath);
  } catch (e) {
    console.error(`download: cannot open database ${dbPath}: ${(e as Error).message}`);
    return 1;
  }
  const t0 = performance.now();
  try {
    out(
      `download ${plan.symbols.join(",")} ${new Date(plan.from).toISOString()} → ` +
        `${new Date(plan.to).toISOString()} intervals=${plan.intervals.join(",")}` +
        `${plan.funding ? " +funding" : ""} db=${dbPath} rest=${restUrl}`,
    );
    // A bar on a TTY (the per-second text lines would scroll it away, so they are dropped there);
    // elsewhere the text lines plus one JSON line per 10 % on stderr.
    const bar = new Progress("download", 100, "%");
    const lines = bar.tty ? () => {} : out;
    let results;
    try {
      results = await downloadHistory(
        rest,
        store,
        plan,
        lines,
        Date.now(),
        (f) => bar.update(Math.round(f * 1000) / 10),
      );
    } finally {
      bar.done();
    }
    for (const r of results) {
      if (r.what === "contracts") {
        out(`done contracts: ${r.rows} specs stored (${r.symbol || "none"})`);
        continue;
      }
      const span = r.firstTs === null
        ? "nothing new"
        : `${new Date(r.firstTs).toISOString()} … ${new Date(r.lastTs!).toISOString()}`;
      out(`done ${r.symbol} ${r.what}: ${r.rows} rows, ${r.requests} requests, ${span}`);
    }
    out(`download finished in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return 0;
  } catch (e) {
    if (e instanceof BitgetRestError) {
      console.error(`download: ${e.message} (rerun to resume)`);
      return 1;
    }
    console.error(`download: ${(e as Error).message}`);
    return 1;
  } finally {
    store.close?.();
  }
}
