/**
 * One backtest run from a plan (what the `backtest` command and the benchmarks call): opens the
 * store read-only, resolves contracts, range and replay mode, builds the strategy and the
 * TradingEngine, replays, and derives trades and metrics. Output files are written by the caller
 * (see cli/backtest.ts) so benchmarks can time the replay alone.
 */
import type { Config } from "../config/config.ts";
import { TradingEngine } from "../engine/engine.ts";
import { engineConfig } from "../engine/engine_support.ts";
import type { ContractSpec } from "../market/contracts.ts";
import { readContractsFile } from "../market/contracts_file.ts";
import { CONTRACTS_SNAPSHOT, snapshotContract } from "../market/contracts_snapshot.ts";
import { readContracts } from "../store/readers.ts";
import { Store } from "../store/store.ts";
import { createScanner, createTradingStrategy, type StrategyName } from "../strategy/registry.ts";
import type { TradingStrategy } from "../strategy/types.ts";
import { computeMetrics, type Metrics } from "./metrics.ts";
import { buyAndHold, flat } from "./reference_strategies.ts";
import { ReplaySource } from "./replay_source.ts";
import type { Trader } from "../engine/contract.ts";
import { type BacktestResult, runBacktestAsync } from "./runner.ts";
import { buildTrades, type RoundTrip } from "./trades.ts";

/** Thrown for a plan that cannot run (message names the option and what is expected). */
export class BacktestError extends Error {
  override name = "BacktestError";
}

export type RunStrategyName = StrategyName | "buy_and_hold" | "flat";

export interface BacktestPlan {
  db: string;
  strategy: RunStrategyName;
  symbols: string[];
  /** Inclusive start / exclusive end (epoch ms); NaN = the data's own range. */
  from: number;
  to: number;
  config: Config;
  /** Model bundle overriding strategies.ml.model. */
  modelPath?: string;
  /** Bitget contracts JSON (the `GET /api/v2/mix/market/contracts` response) for DBs without specs. */
  contractsFile?: string;
  /** Called about every 50,000 events with the simulated time and the run's [from, to) (ms). */
  onProgress?: (ts: number, events: number, from: number, to: number) => void;
}

export interface BacktestRun {
  plan: BacktestPlan;
  mode: "raw" | "candles";
  from: number;
  to: number;
  contracts: ContractSpec[];
  /** Where each symbol's spec came from (database, --contracts file, bundled snapshot). */
  contractSources: Record<string, ContractSource>;
  result: BacktestResult;
  trades: RoundTrip[];
  metrics: Metrics;
  engine: TradingEngine | null;
  /** The trading strategy the engine ran (null for flat / buy_and_hold). */
  trading: TradingStrategy | null;
  /** Wall time of the replay alone (ms). */
  replayMs: number;
}

const exists = (store: Store, sql: string, ...args: (string | number)[]) =>
  store.db.prepare(sql).get(...args) !== undefined;

/**
 * Where each symbol's contract spec came from: the database, the `--contracts` file, or the
 * bundled snapshot (market/contracts_snapshot.ts, with its date). Recorded in `run.json`.
 */
export type ContractSource =
  | { source: "database" }
  | { source: "file"; file: string }
  | { source: "snapshot"; date: string; requestTime: number };

/**
 * Contract specs of `symbols`, in this order of preference: the store, then `file` (a Bitget
 * contracts JSON, envelope or bare array), then the bundled dated snapshot. Throws BacktestError
 * naming the symbols found in none of them.
 */
export function resolveContractSources(
  store: Store,
  symbols: string[],
  file?: string,
): { specs: ContractSpec[]; sources: Record<string, ContractSource> } {
  const found = new Map<string, [ContractSpec, ContractSource]>(
    readContracts(store).map((c) => [c.symbol, [c, { source: "database" }]]),
  );
  if (file) {
    let specs: ContractSpec[];
    try {
      specs = readContractsFile(file).specs;
    } catch (e) {
      throw new BacktestError((e as Error).message);
    }
    for (const c of specs) {
      if (!found.has(c.symbol)) found.set(c.symbol, [c, { source: "file", file }]);
    }
  }
  for (const s of symbols) {
    const c = found.has(s) ? undefined : snapshotContract(s);
    if (c) {
      found.set(s, [c, {
        source: "snapshot",
        date: CONTRACTS_SNAPSHOT.date,
        requestTime: CONTRACTS_SNAPSHOT.requestTime,
      }]);
    }
  }
  const missing = symbols.filter((s) => !found.has(s));
  if (missing.length > 0) {
    throw new BacktestError(
      `no contract spec for ${missing.join(", ")} in the database${file ? `, ${file}` : ""} or ` +
        `the bundled snapshot (${CONTRACTS_SNAPSHOT.date}: ` +
        `${CONTRACTS_SNAPSHOT.specs.map((c) => c.symbol).join(", ")}): collect or download ` +
        "store them; for imported data pass --contracts <Bitget contracts JSON>",
    );
  }
  return {
    specs: symbols.map((s) => found.get(s)![0]),
    sources: Object.fromEntries(symbols.map((s) => [s, found.get(s)![1]])),
  };
}

/** Contract specs of `symbols` (see {@link resolveContractSources}). */
export function resolveContracts(store: Store, symbols: string[], file?: string): ContractSpec[] {
  return resolveContractSources(store, symbols, file).specs;
}

/** Replay mode: raw when order-book rows exist for every symbol, candles otherwise. */
function chooseMode(store: Store, plan: BacktestPlan): "raw" | "candles" {
  const want = plan.config.backtest.mode;
  if (want !== "auto") return want;
  const books = plan.symbols.every((s) =>
    exists(store, "SELECT 1 FROM books15 WHERE symbol = ? LIMIT 1", s) ||
    exists(store, "SELECT 1 FROM books WHERE symbol = ? LIMIT 1", s)
  );
  return books ? "raw" : "candles";
}

/** The data's common range [from, to) over `symbols` for `mode` (ms). */
function dataRange(store: Store, plan: BacktestPlan, mode: "raw" | "candles"): [number, number] {
  let from = -Infinity, to = Infinity;
  const interval = plan.config.backtest.interval;
  const w = interval === "15m" ? 900_000 : 60_000;
  for (const s of plan.symbols) {
    const r = (mode === "candles"
      ? store.db.prepare(
        "SELECT MIN(start_ts) + ? AS a, MAX(start_ts) + ? AS b FROM candles WHERE symbol = ? AND interval = ?",
      ).get(w, 2 * w, s, interval)
      : store.db.prepare(
        "SELECT MIN(a) AS a, MAX(b) + 1 AS b FROM (SELECT MIN(ts) AS a, MAX(ts) AS b FROM books15 " +
          "WHERE symbol = ? UNION ALL SELECT MIN(ts), MAX(ts) FROM books WHERE symbol = ? " +
          "UNION ALL SELECT MIN(ts), MAX(ts) FROM trades WHERE symbol = ?)",
      ).get(s, s, s)) as { a: number | null; b: number | null };
    if (r.a === null || r.b === null) {
      throw new BacktestError(
        `no ${mode === "candles" ? `${interval} candles` : "order-book or trade rows"} for ${s} ` +
          `in ${plan.db}`,
      );
    }
    from = Math.max(from, r.a);
    to = Math.min(to, r.b);
  }
  return [from, to];
}

/** Runs the plan (see module doc). Throws BacktestError for unusable plans. */
export async function runPlan(plan: BacktestPlan): Promise<BacktestRun> {
  if (plan.symbols.length === 0) throw new BacktestError("symbols: expected at least one symbol");
  const store = Store.open(plan.db, { readonly: true });
  try {
    const bt = plan.config.backtest;
    const { specs: contracts, sources: contractSources } = resolveContractSources(
      store,
      plan.symbols,
      plan.contractsFile ?? bt.contracts,
    );
    const mode = chooseMode(store, plan);
    const [f, t] = dataRange(store, plan, mode);
    const from = Number.isFinite(plan.from) ? plan.from : f;
    const to = Number.isFinite(plan.to) ? plan.to : t;
    if (!(from < to)) {
      throw new BacktestError(
        `range: expected from < to within the data, got ${new Date(from).toISOString()} → ` +
          `${new Date(to).toISOString()}`,
      );
    }
    const source = new ReplaySource(store, {
      symbols: plan.symbols,
      from,
      to,
      mode,
      interval: bt.interval,
      book: bt.book,
      tickSizes: Object.fromEntries(contracts.map((c) => [c.symbol, c.tickSize])),
      bookChannel: bt.bookChannel,
      order: bt.order,
    });
    if (mode === "raw") {
      // Book-reading strategies follow the book the venue trades on.
      plan.config.strategies.microswing.bookChannel = source.bookChannel;
    }
    let strategy: Trader;
    let engine: TradingEngine | null = null;
    let trading: TradingStrategy | null = null;
    if (plan.strategy === "flat") strategy = flat();
    else if (plan.strategy === "buy_and_hold") {
      strategy = buyAndHold({
        notionalUsdt: bt.initialBalance / plan.symbols.length,
        closeAtEnd: true,
        at: mode === "raw" ? "book" : "bar",
      });
    } else {
      // The ml scorer checks its compiled scores with onnxruntime on a worker thread: the replay
      // never waits for onnxruntime, and finish() below fails the run on any difference.
      trading = await createTradingStrategy(
        plan.strategy,
        plan.config,
        plan.modelPath,
        mode,
        contracts,
        { reference: "worker" },
      );
      const scanner = bt.scanner ? createScanner(plan.config, plan.symbols) : null;
      engine = new TradingEngine(
        trading,
        engineConfig(plan.config.risk, { closeAtEnd: bt.closeAtEnd, latencyMs: bt.latencyMs }),
        mode === "raw" ? "trades" : "candles",
        scanner,
      );
      strategy = engine;
    }
    const t0 = performance.now();
    let result: BacktestResult;
    try {
      result = await runBacktestAsync(source, strategy, {
        contracts,
        initialBalance: bt.initialBalance,
        leverage: bt.leverage,
        latencyMs: bt.latencyMs,
        sampleMs: bt.sampleInterval,
        tradeAcrossGaps: bt.tradeAcrossGaps,
        marginMode: bt.marginMode,
        maintenanceMarginRate: plan.config.risk.maintenanceMarginRate,
        presetTriggerType: plan.config.risk.stopTrigger,
        // Candle replays: stops fill at their level (gap-aware) plus the synthetic half spread.
        planFill: mode === "candles" ? "trigger" : "book",
        planFillSlippageBps: bt.book.spreadBps / 2,
        onProgress: plan.onProgress && ((ts, n) => plan.onProgress!(ts, n, from, to)),
      });
    } catch (e) {
      await trading?.finish?.().catch(() => {}); // the run's own error is the one to report
      throw e;
    }
    // Inside the timed span: the tail of the scorer's audits is part of the run.
    await trading?.finish?.();
    const replayMs = performance.now() - t0;
    const trades = buildTrades(result);
    const metrics = computeMetrics(result, trades);
    return {
      plan,
      mode,
      from,
      to,
      contracts,
      contractSources,
      result,
      trades,
      metrics,
      engine,
      trading,
      replayMs,
    };
  } finally {
    store.close();
  }
}
