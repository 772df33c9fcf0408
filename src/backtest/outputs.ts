/**
 * Backtest output files in a folder: `trades.csv` (one round trip per row), `equity.csv`
 * (ts, equity, drawdown) and `metrics.json`. Times are epoch ms plus ISO-8601 UTC columns in
 * trades.csv; money USDT; sizes base coin; drawdown a fraction of the running peak.
 */
import type { Metrics } from "./metrics.ts";
import type { EquityPoint } from "./runner.ts";
import type { RoundTrip } from "./trades.ts";

export const TRADES_HEADER = [
  "symbol",
  "side",
  "entry_ts",
  "entry_time",
  "entry_price",
  "exit_ts",
  "exit_time",
  "exit_price",
  "size",
  "notional",
  "fees",
  "slippage",
  "funding",
  "realized_pnl",
  "net_pnl",
  "exit_reason",
];

const iso = (ts: number) => Number.isFinite(ts) ? new Date(ts).toISOString() : "";

/**
 * Writes the three files into `dir` (created if missing) and returns their paths.
 * Throws Deno.errors.* when the folder cannot be created or written.
 */
export async function writeOutputs(
  dir: string,
  trades: readonly RoundTrip[],
  equity: readonly EquityPoint[],
  metrics: Metrics,
): Promise<{ trades: string; equity: string; metrics: string }> {
  await Deno.mkdir(dir, { recursive: true });
  const paths = {
    trades: `${dir}/trades.csv`,
    equity: `${dir}/equity.csv`,
    metrics: `${dir}/metrics.json`,
  };
  const t = [TRADES_HEADER.join(",")];
  for (const r of trades) {
    t.push([
      r.symbol,
      r.side,
      r.entryTs,
      iso(r.entryTs),
      r.entryPrice,
      r.exitTs,
      iso(r.exitTs),
      r.exitPrice,
      r.size,
      r.notional,
      r.fees,
      r.slippage,
      r.funding,
      r.realizedPnl,
      r.netPnl,
      // Reasons are free text from strategies: quote them.
      `"${r.exitReason.replaceAll('"', '""')}"`,
    ].join(","));
  }
  await Deno.writeTextFile(paths.trades, t.join("\n") + "\n");
  const e = ["ts,equity,drawdown"];
  let peak = -Infinity;
  for (const p of equity) {
    peak = Math.max(peak, p.equity);
    e.push(`${p.ts},${p.equity},${peak > 0 ? 1 - p.equity / peak : 0}`);
  }
  await Deno.writeTextFile(paths.equity, e.join("\n") + "\n");
  await Deno.writeTextFile(paths.metrics, JSON.stringify(metrics, null, 2) + "\n");
  return paths;
}
