/**
 * Backtest benchmark: wall time and events/s of the full chain (bars → features → model →
 * strategy → risk → simulated exchange) on the real data, next to a plain SQLite scan of the same
 * rows measured in the same run.
 * - candles: the 30-day BTCUSDT + ETHUSDT 1m history (86k bars) with regime, ml (198-tree ONNX
 *   default model, scored by onnxruntime-web) and flat (replay + venue only).
 * - order book: the real 2024 BTCUSDT + ETHUSDT Bitget recording (books, books15, trades,
 *   tickers) with microswing and flat. Goal: ≥ 1/3 of the scan rate.
 */
import { runPlan, type RunStrategyName } from "../src/backtest/session.ts";
import { parseConfig } from "../src/config/config.ts";
import type { Store } from "../src/store/store.ts";
import { candleDb, CONTRACTS_JSON, rawDb, SYMBOLS } from "../tests/helpers/backtest_data.ts";

export interface ChainFigure {
  strategy: string;
  seconds: number;
  events: number;
  eventsPerSec: number;
  /** Bars (candles) or stored rows (order book) per second through the chain. */
  rowsPerSec: number;
  /** Plain scan rate of the same rows (rows/s). */
  scanRowsPerSec?: number;
  trades: number;
}

export interface BacktestBench {
  candles: { rows: number; scanRowsPerSec: number; runs: ChainFigure[] };
  orderBook: {
    rows: number;
    scanRowsPerSec: number;
    /** Scan of the full-depth `books` rows instead of books15 (same other tables). */
    deepRows: number;
    deepScanRowsPerSec: number;
    runs: ChainFigure[];
  };
}

/** Best-of-`rounds` plain scan of `sql` (every column of every row touched), rows/s. */
function scan(store: Store, sqls: string[], rounds: number): { rows: number; perSec: number } {
  let best = Infinity, rows = 0;
  for (let k = 0; k < rounds; k++) {
    const t0 = performance.now();
    rows = 0;
    let sink = 0;
    for (const sql of sqls) {
      for (const r of store.db.prepare(sql).iterate() as Iterable<Record<string, unknown>>) {
        for (const v of Object.values(r)) if (typeof v === "number") sink += v;
        rows++;
      }
    }
    best = Math.min(best, performance.now() - t0);
    if (sink === -1) console.log(sink);
  }
  return { rows, perSec: rows / (best / 1000) };
}

async function chain(
  path: string,
  strategy: RunStrategyName,
  rows: number,
  config: ReturnType<typeof parseConfig>,
): Promise<ChainFigure> {
  const run = await runPlan({
    db: path,
    strategy,
    symbols: SYMBOLS,
    from: NaN,
    to: NaN,
    config,
    contractsFile: CONTRACTS_JSON,
  });
  const seconds = run.replayMs / 1000;
  return {
    strategy,
    seconds,
    events: run.result.events,
    eventsPerSec: run.result.events / seconds,
    rowsPerSec: rows / seconds,
    trades: run.trades.length,
  };
}

export async function runBacktestBench(quick: boolean): Promise<BacktestBench> {
  const rounds = quick ? 2 : 3;
  const c = await candleDb();
  const cScan = scan(c.store, [
    `SELECT * FROM candles WHERE interval = '1m' AND symbol IN ('BTCUSDT','ETHUSDT')
     AND start_ts >= ${c.from - 60_000} AND start_ts < ${c.to - 60_000} ORDER BY start_ts`,
  ], rounds);
  c.store.close();
  const cfg = parseConfig({});
  const ortOnly = parseConfig({ strategies: { ml: { scoring: "onnxruntime" } } });
  const cRuns: ChainFigure[] = [];
  const candleRuns: [RunStrategyName, ReturnType<typeof parseConfig>, string][] = [
    ["flat", cfg, "flat"],
    ["regime", cfg, "regime"],
    ["ml", cfg, "ml"],
    ["ml", ortOnly, "ml (onnxruntime only)"],
  ];
  // Interleaved rounds, so a slow spell of the shared machine hits every strategy alike.
  const best = new Map<string, ChainFigure>();
  for (let k = 0; k < (quick ? 1 : 2); k++) {
    for (const [s, conf, label] of candleRuns) {
      const f = await chain(c.path, s, cScan.rows, conf);
      f.strategy = label;
      const b = best.get(label);
      if (!b || f.seconds < b.seconds) best.set(label, f);
    }
  }
  for (const [, , label] of candleRuns) cRuns.push(best.get(label)!);
  await Deno.remove(c.dir, { recursive: true });

  const r = await rawDb();
  const span = `symbol IN ('BTCUSDT','ETHUSDT') AND ts >= ${r.from} AND ts < ${r.to}`;
  // The rows a raw replay reads: one book channel (books15 by default), trades, tickers, marks,
  // funding. The full-depth `books` replay is measured against its own scan.
  const tables = (book: string) =>
    [book, "trades", "tickers", "mark_prices", "funding_rates"].map((t) =>
      `SELECT * FROM ${t} WHERE ${span} ORDER BY ts`
    );
  const rScan = scan(r.store, tables("books15"), rounds);
  const dScan = scan(r.store, tables("books"), rounds);
  r.store.close();
  const rRuns: ChainFigure[] = [];
  const deep = parseConfig({ backtest: { bookChannel: "books" } });
  const runs: [RunStrategyName, ReturnType<typeof parseConfig>, number, string][] = [
    ["flat", cfg, rScan.rows, "flat"],
    ["microswing", cfg, rScan.rows, "microswing"],
    ["microswing", deep, dScan.rows, "microswing (full-depth books)"],
  ];
  for (const [s, c, rows, label] of runs) {
    let best: ChainFigure | null = null;
    for (let k = 0; k < (quick ? 1 : 2); k++) {
      const f = await chain(r.path, s, rows, c);
      if (!best || f.seconds < best.seconds) best = f;
    }
    best!.strategy = label;
    // Each run against the scan of the rows it read.
    best!.scanRowsPerSec = c === deep ? dScan.perSec : rScan.perSec;
    rRuns.push(best!);
  }
  await Deno.remove(r.dir, { recursive: true });
  return {
    candles: { rows: cScan.rows, scanRowsPerSec: cScan.perSec, runs: cRuns },
    orderBook: {
      rows: rScan.rows,
      scanRowsPerSec: rScan.perSec,
      deepRows: dScan.rows,
      deepScanRowsPerSec: dScan.perSec,
      runs: rRuns,
    },
  };
}

export function formatBacktestBench(b: BacktestBench): string {
  const k = (x: number) => `${Math.round(x).toLocaleString("en")}`;
  const out: string[] = [];
  const block = (title: string, unit: string, x: BacktestBench["candles"]) => {
    out.push(title);
    out.push(
      `  plain SQLite scan of the same ${k(x.rows)} ${unit}: ${k(x.scanRowsPerSec)} ${unit}/s`,
    );
    for (const r of x.runs) {
      out.push(
        `  ${r.strategy.padEnd(22)} ${r.seconds.toFixed(2)} s  ${k(r.rowsPerSec)} ${unit}/s ` +
          `(${(r.rowsPerSec / (r.scanRowsPerSec ?? x.scanRowsPerSec)).toFixed(2)}× scan)  ${
            k(r.eventsPerSec)
          } events/s  ` +
          `${r.trades} trades`,
      );
    }
  };
  block("backtest, 30-day BTCUSDT+ETHUSDT 1m candles (goal: < 2 s)", "bars", b.candles);
  const sec = (name: string) => b.candles.runs.find((r) => r.strategy === name)?.seconds ?? NaN;
  out.push(
    `  ml ÷ regime ${(sec("ml") / sec("regime")).toFixed(2)}× (goal ≤ 1.3×); ` +
      `onnxruntime-only ml ÷ regime ${(sec("ml (onnxruntime only)") / sec("regime")).toFixed(2)}×`,
  );
  block(
    "backtest, order-book replay of the 2024 BTCUSDT+ETHUSDT recording (goal: ≥ 0.33× scan)",
    "rows",
    b.orderBook,
  );
  out.push(
    `  (full-depth books replay: plain scan of its ${k(b.orderBook.deepRows)} rows ` +
      `${k(b.orderBook.deepScanRowsPerSec)} rows/s; its ratio is against that scan)`,
  );
  return out.join("\n");
}
