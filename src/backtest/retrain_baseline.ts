/**
 * Did retraining help? When an `ml` backtest runs with `strategies.ml.retrain.enabled`, the same
 * plan is replayed a second time with retraining off (the bundle alone, every other setting
 * equal), and the two are set side by side in the summary, `run.json` (`modelLifecycle.
 * versusNoRetrain`) and the report. Both runs are deterministic, so the difference is the
 * lifecycle's and nothing else's.
 */
import type { Metrics } from "./metrics.ts";
import { type BacktestPlan, runPlan } from "./session.ts";

/** The figures compared (fractions, USDT, counts, as in metrics.json). */
export interface BaselineFigures {
  totalReturn: number;
  finalEquity: number;
  sharpe: number;
  maxDrawdown: number;
  trades: number;
  winRate: number | null;
  totalFees: number;
}

export function figuresOf(m: Metrics): BaselineFigures {
  return {
    totalReturn: m.totalReturn,
    finalEquity: m.finalEquity,
    sharpe: m.sharpe,
    maxDrawdown: m.maxDrawdown,
    trades: m.trades,
    winRate: m.winRate,
    totalFees: m.totalFees,
  };
}

/** True when the plan retrains an ml model that can also trade alone (a bundle is given). */
export function wantsBaseline(plan: BacktestPlan): boolean {
  const ml = plan.config.strategies.ml;
  return plan.strategy === "ml" && ml.retrain.enabled && (plan.modelPath ?? ml.model) !== null;
}

/** Replays `plan` with retraining off; its metrics. */
export async function runNoRetrain(plan: BacktestPlan): Promise<Metrics> {
  const config = structuredClone(plan.config);
  config.strategies.ml.retrain.enabled = false;
  const r = await runPlan({ ...plan, config, onProgress: undefined });
  return r.metrics;
}

const pct = (x: number) => Number.isFinite(x) ? `${(x * 100).toFixed(2)} %` : "—";
const num = (x: number) => Number.isFinite(x) ? x.toFixed(2) : "—";

/** The side-by-side lines printed after the summary. */
export function formatVersus(withRetrain: Metrics, without: Metrics): string {
  const rows: [string, string, string][] = [
    ["", "retraining", "no retraining"],
    ["total return", pct(withRetrain.totalReturn), pct(without.totalReturn)],
    ["Sharpe", num(withRetrain.sharpe), num(without.sharpe)],
    ["max drawdown", pct(withRetrain.maxDrawdown), pct(without.maxDrawdown)],
    ["trades", String(withRetrain.trades), String(without.trades)],
    ["fees (USDT)", num(withRetrain.totalFees), num(without.totalFees)],
  ];
  return [
    "against the same run without retraining (strategies.ml.retrain.enabled: false):",
    ...rows.map((r) => r[0].padEnd(24) + r[1].padStart(18) + r[2].padStart(18)),
  ].join("\n");
}
