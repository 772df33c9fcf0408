/**
 * `bitget-bot backtest <db> [--strategy …] [--symbols …] [--from …] [--to …] [--model …] [--out …]
 * [--config …]` — replays stored market data through features → model → strategy → risk → the
 * simulated exchange (backtest/session.ts) and writes trades.csv, equity.csv, metrics.json,
 * run.json and report.html into the output folder, with a summary table on stdout and a
 * progress bar on a TTY. `--check-lookahead` reruns on data cut at several points and lists
 * every recorded decision value that changed (exit 1 when any did).
 * Exit codes: 0 done, 1 runtime failure or look-ahead found, 2 usage / config / data error.
 */
import {
  type BaselineFigures,
  figuresOf,
  formatVersus,
  runNoRetrain,
  wantsBaseline,
} from "../backtest/retrain_baseline.ts";
import { join } from "node:path";
import type { TradingStrategy } from "../strategy/types.ts";
import type { MlStrategy } from "../strategy/ml.ts";
import { parseArgs } from "node:util";
import { checkLookahead, cutPoints, type LookaheadReport } from "../backtest/lookahead.ts";
import { writeOutputs } from "../backtest/outputs.ts";
import { writeReportHtml } from "../backtest/report_html.ts";
import {
  BacktestError,
  type BacktestPlan,
  type BacktestRun,
  runPlan,
} from "../backtest/session.ts";
import { formatSummary, ProgressBar } from "../backtest/terminal.ts";
import { ConfigError, loadConfig } from "../config/config.ts";
import { parseTime } from "../config/duration.ts";
import { CONTRACTS_SNAPSHOT } from "../market/contracts_snapshot.ts";
import { readCandles } from "../store/readers.ts";
import { Store, StoreError } from "../store/store.ts";
import { StrategyError } from "../strategy/registry.ts";
import { ReplayError } from "../backtest/replay_source.ts";

const STRATEGIES = ["ml", "regime", "microswing", "smoke", "buy_and_hold", "flat"] as const;

const USAGE = `usage: bitget-bot backtest <db> [options]

  --strategy S         ${STRATEGIES.join(" | ")} (default: config backtest.strategy)
  --symbols S …        symbols, space- or comma-separated (default: backtest.symbols, else
                       collect.symbols)
  --from T, --to T     time range [from, to), ISO-8601 or epoch ms (default: the data's range)
  --model PATH         model bundle for --strategy ml (default: strategies.ml.model)
  --out DIR            output folder (default: <backtest.out>/<UTC timestamp>-<strategy>/)
  --config FILE        configuration (default: config.yaml if present)
  --contracts FILE     Bitget contracts JSON for symbols the database has no spec for
                       (default: the bundled dated snapshot, BTCUSDT and ETHUSDT)
  --mode M             auto | raw | candles (default: backtest.mode)
  --interval I         1m | 15m candle interval for candle replays (default: backtest.interval)
  --order O            ts | recv: raw replay in exchange-time or receive order (default:
                       backtest.order; recv reproduces a \`run\` from the database it recorded)
  --check-lookahead    rerun on data cut at backtest.lookaheadCuts points; list changed signals
  --no-report          skip report.html
  --no-retrain-baseline  with ml retraining on, skip the second run without retraining that
                       the summary, run.json and the report compare against
  --quiet              no summary table
`;

interface Args {
  plan: BacktestPlan;
  out: string | null;
  lookahead: boolean;
  report: boolean;
  quiet: boolean;
  baseline: boolean;
}

class UsageError extends Error {}

function parse(argv: string[]): Args | "help" {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      strategy: { type: "string" },
      symbols: { type: "string", multiple: true },
      from: { type: "string" },
      to: { type: "string" },
      model: { type: "string" },
      out: { type: "string" },
      config: { type: "string" },
      contracts: { type: "string" },
      mode: { type: "string" },
      interval: { type: "string" },
      order: { type: "string" },
      "check-lookahead": { type: "boolean" },
      "no-report": { type: "boolean" },
      "no-retrain-baseline": { type: "boolean" },
      quiet: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  // `--symbols BTCUSDT ETHUSDT`: the first symbol binds to the flag, the rest arrive positional.
  const [db, ...rest] = positionals;
  if (!db) throw new UsageError("missing <db>: the SQLite file written by collect or import");
  const config = loadConfig(values.config ?? "config.yaml", values.config === undefined);
  const bt = config.backtest;
  if (values.mode !== undefined) {
    if (!["auto", "raw", "candles"].includes(values.mode)) {
      throw new UsageError(`--mode: expected auto, raw or candles, got ${values.mode}`);
    }
    bt.mode = values.mode as typeof bt.mode;
  }
  if (values.interval !== undefined) {
    if (values.interval !== "1m" && values.interval !== "15m") {
      throw new UsageError(`--interval: expected 1m or 15m, got ${values.interval}`);
    }
    bt.interval = values.interval;
  }
  if (values.order !== undefined) {
    if (values.order !== "ts" && values.order !== "recv") {
      throw new UsageError(`--order: expected ts or recv, got ${values.order}`);
    }
    bt.order = values.order;
  }
  const strategy = values.strategy ?? bt.strategy;
  if (!(STRATEGIES as readonly string[]).includes(strategy)) {
    throw new UsageError(`--strategy: expected one of ${STRATEGIES.join(", ")}, got ${strategy}`);
  }
  const given = [...(values.symbols ?? []), ...rest].flatMap((s) => s.split(",")).filter(Boolean);
  const symbols = given.length ? given : bt.symbols.length ? bt.symbols : config.collect.symbols;
  for (const s of symbols) {
    if (!/^[A-Z0-9]{2,30}$/.test(s)) throw new UsageError(`--symbols: "${s}" is not a symbol`);
  }
  const time = (v: string | undefined, dflt: number | undefined, what: string) => {
    if (v === undefined) return dflt ?? NaN;
    try {
      return parseTime(v);
    } catch {
      throw new UsageError(`--${what}: expected ISO-8601 or epoch ms, got ${v}`);
    }
  };
  return {
    plan: {
      db,
      strategy: strategy as BacktestPlan["strategy"],
      symbols: [...new Set(symbols)],
      from: time(values.from, bt.from, "from"),
      to: time(values.to, bt.to, "to"),
      config,
      modelPath: values.model,
      contractsFile: values.contracts,
    },
    out: values.out ?? null,
    lookahead: values["check-lookahead"] === true,
    report: values["no-report"] !== true,
    quiet: values.quiet === true,
    baseline: values["no-retrain-baseline"] !== true,
  };
}

const iso = (ts: number) => new Date(ts).toISOString().replace(/\.000Z$/, "Z");

/** Price bars for the report: the engine's bars, else the stored candles of the interval. */
function reportPrices(run: BacktestRun) {
  const interval = run.plan.config.backtest.interval;
  const fromEngine = run.engine?.bars.get(interval) ?? [];
  const out: Record<
    string,
    { ts: number; open: number; high: number; low: number; close: number }[]
  > = {};
  let store: Store | null = null;
  try {
    for (const s of run.plan.symbols) {
      const own = fromEngine.filter((b) => b.symbol === s);
      if (own.length > 0) {
        out[s] = own;
        continue;
      }
      store ??= Store.open(run.plan.db, { readonly: true });
      out[s] = readCandles(store, s, interval, run.from - 900_000, run.to).map((c) => ({
        ts: c.ts,
        open: c.open,
        high: c.high,
        low: c.low,
        close: c.close,
      }));
    }
  } finally {
    store?.close();
  }
  return out;
}

async function lookahead(run: BacktestRun): Promise<LookaheadReport> {
  const align = run.mode === "candles"
    ? (run.plan.config.backtest.interval === "15m" ? 900_000 : 60_000)
    : 1000;
  const cuts = cutPoints(run.from, run.to, run.plan.config.backtest.lookaheadCuts, align);
  return await checkLookahead(run.result.records, async (to) => {
    const r = await runPlan({ ...run.plan, from: run.from, to, onProgress: undefined });
    return r.result.records;
  }, cuts);
}

/** Entry point; returns the exit code. */
export async function backtestCommand(argv: string[]): Promise<number> {
  let a: Args | "help";
  try {
    a = parse(argv);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`backtest: ${e.message}`); // the line names the field; usage would bury it
      return 2;
    }
    if (e instanceof UsageError || e instanceof TypeError) {
      console.error(`backtest: ${(e as Error).message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (a === "help") {
    console.log(USAGE);
    return 0;
  }
  const progress: { bar: ProgressBar | null } = { bar: null };
  let run: BacktestRun;
  try {
    a.plan.onProgress = (ts, events, from, to) => {
      progress.bar ??= new ProgressBar(from, to);
      progress.bar.update(ts, events);
    };
    run = await runPlan(a.plan);
  } catch (e) {
    if (
      e instanceof BacktestError || e instanceof StrategyError || e instanceof ReplayError ||
      e instanceof StoreError || e instanceof ConfigError || e instanceof RangeError
    ) {
      console.error(`backtest: ${(e as Error).message}`);
      return 2;
    }
    throw e;
  } finally {
    progress.bar?.done();
  }
  const fromSnapshot = Object.entries(run.contractSources).filter(([, c]) =>
    c.source === "snapshot"
  );
  if (fromSnapshot.length > 0) {
    console.error(
      `backtest: no contract spec for ${fromSnapshot.map(([s]) => s).join(", ")} in the ` +
        `database: using the bundled Bitget contracts snapshot of ${CONTRACTS_SNAPSHOT.date} ` +
        "(tick/lot size, fees); pass --contracts or `download` to use current specs",
    );
  }
  const bt = a.plan.config.backtest;
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const dir = a.out ?? join(bt.out, `${stamp}-${a.plan.strategy}`);
  await writeOutputs(dir, run.trades, run.result.equity, run.metrics);
  const title = `${a.plan.strategy} · ${a.plan.symbols.join(", ")} · ${iso(run.from)} → ${
    iso(run.to)
  } · ${run.mode}`;
  let la: LookaheadReport | null = null;
  if (a.lookahead) la = await lookahead(run);
  const base = a.baseline && wantsBaseline(a.plan) ? await runNoRetrain(a.plan) : null;
  const lifecycle = lifecycleOf(run.trading);
  const versus = lifecycle && base
    ? { withRetrain: figuresOf(run.metrics), noRetrain: figuresOf(base) }
    : null;
  const runInfo = {
    strategy: a.plan.strategy,
    symbols: a.plan.symbols,
    db: a.plan.db,
    contracts: run.contractSources,
    mode: run.mode,
    from: iso(run.from),
    to: iso(run.to),
    events: run.result.events,
    replayMs: Math.round(run.replayMs),
    eventsPerSecond: Math.round(run.result.events / (run.replayMs / 1000)),
    fills: run.result.fills.length,
    rejections: run.result.rejections.length,
    blockedByGaps: run.result.blockedIntents,
    liquidations: run.result.liquidations.length,
    entryDecisions: run.engine?.decisions.length ?? 0,
    entriesApproved: run.engine?.decisions.filter((d) => d.approved > 0).length ?? 0,
    backtest: bt,
    risk: a.plan.config.risk,
    strategyConfig: (a.plan.config.strategies as Record<string, unknown>)[a.plan.strategy] ?? null,
    lookahead: la,
    modelLifecycle: lifecycle && { ...lifecycle, versusNoRetrain: versus },
  };
  await Deno.writeTextFile(join(dir, "run.json"), JSON.stringify(runInfo, null, 2) + "\n");
  if (a.report) {
    await writeReportHtml(join(dir, "report.html"), {
      title,
      result: run.result,
      trades: run.trades,
      metrics: run.metrics,
      prices: reportPrices(run),
      params: {
        strategy: a.plan.strategy,
        symbols: a.plan.symbols.join(", "),
        mode: run.mode,
        database: a.plan.db,
        events: run.result.events,
        "initial balance (USDT)": bt.initialBalance,
        leverage: bt.leverage,
        "margin mode": bt.marginMode,
        "latency (ms)": bt.latencyMs,
        sizing: a.plan.config.risk.sizing.method,
        "stop trigger": a.plan.config.risk.stopTrigger,
        ...lifecycleParams(lifecycle),
        ...(versus ? versusParams(versus.noRetrain) : {}),
      },
    });
  }
  if (!a.quiet) {
    console.log(formatSummary(title, run.metrics));
    if (versus && base) console.log("\n" + formatVersus(run.metrics, base));
    console.log(
      `\n${run.result.events.toLocaleString("en")} events in ${
        (run.replayMs / 1000).toFixed(2)
      } s ` +
        `(${runInfo.eventsPerSecond.toLocaleString("en")} events/s); results in ${dir}/`,
    );
  }
  if (la) {
    console.log(
      `look-ahead check: ${la.cuts.length} cuts, ${la.compared} recorded values compared, ` +
        `${la.diffs.length} changed`,
    );
    for (const d of la.diffs.slice(0, 50)) {
      console.log(
        `  cut ${iso(d.cut)}  ${
          iso(d.ts)
        }  ${d.symbol}  ${d.name}: full ${d.full} vs truncated ${d.truncated}`,
      );
    }
    if (la.diffs.length > 50) console.log(`  … ${la.diffs.length - 50} more in run.json`);
    if (la.diffs.length > 0) return 1;
  }
  return 0;
}

/** The ml strategy's model lifecycle for run.json: counts, then every event (lifecycle.ts). */
function lifecycleOf(t: TradingStrategy | null) {
  if (!t || !("lifecycleEvents" in t)) return null;
  const ml = t as MlStrategy;
  const ev = ml.lifecycleEvents;
  if (ml.retrainLog.length === 0 && ev.length === 0) return null;
  const count = (type: string) => ev.filter((e) => e.type === type).length;
  return {
    retrains: ev.filter((e) => e.type === "retrain" && e.version !== null).length,
    retrainsSkipped: ev.filter((e) => e.type === "retrain" && e.version === null).length,
    driftAlarms: count("drift_alarm"),
    decayAlarms: count("decay_alarm"),
    promoted: count("promoted"),
    rejected: count("rejected"),
    finalModel: ml.modelVersion,
    events: ev,
  };
}

/** Report parameter rows of the run without retraining. */
function versusParams(b: BaselineFigures): Record<string, string | number> {
  const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
  return {
    "without retraining: return / max drawdown": `${pct(b.totalReturn)} / ${pct(b.maxDrawdown)}`,
    "without retraining: Sharpe / trades": `${b.sharpe.toFixed(2)} / ${b.trades}`,
  };
}

/** Report parameter rows for the lifecycle (none without retraining). */
function lifecycleParams(l: ReturnType<typeof lifecycleOf>): Record<string, string | number> {
  if (!l) return {};
  return {
    "retrains (trained / skipped)": `${l.retrains} / ${l.retrainsSkipped}`,
    "drift / decay alarms": `${l.driftAlarms} / ${l.decayAlarms}`,
    "shadow: promoted / rejected": `${l.promoted} / ${l.rejected}`,
    "final model": l.finalModel ?? "none",
  };
}
