/**
 * Performance metrics of a backtest, from the sampled equity curve and the round trips.
 *
 * Returns r_i = E_i / E_{i−1} − 1 per sampling interval Δ (sampleMs); P = year / Δ periods per
 * year with year = 365 d (crypto trades every day). Risk-free rate 0.
 * - Sharpe  = mean(r) / std(r) · √P   (std with n − 1; 0 when std = 0)
 * - Sortino = mean(r) / DD · √P, DD = √(mean(min(r, 0)²)) (Sortino & Price 1994; 0 when DD = 0)
 * - CAGR    = (E_end / E_0)^(year / span) − 1; Calmar = CAGR / maxDrawdown (null when DD = 0)
 * - maxDrawdown = max over t of 1 − E_t / max_{s≤t} E_s (fraction); duration = longest time
 *   from a peak to the first recovery of that peak (or the end), ms.
 * Trade stats use net PnL (after fees and funding). Exposure = time fraction with a non-zero
 * position; turnover = Σ fill notional / initial balance. Non-finite ratios are null in JSON.
 */
import type { BacktestResult } from "./runner.ts";
import type { RoundTrip } from "./trades.ts";

const YEAR_MS = 365 * 24 * 3600e3;

export interface Metrics {
  initialEquity: number;
  finalEquity: number;
  totalReturn: number;
  cagr: number;
  sharpe: number;
  sortino: number;
  calmar: number | null;
  maxDrawdown: number;
  maxDrawdownDurationMs: number;
  trades: number;
  winRate: number | null;
  profitFactor: number | null;
  expectancyUsdt: number | null;
  avgHoldingMs: number | null;
  exposure: number;
  turnover: number;
  totalFees: number;
  totalSlippage: number;
  totalFunding: number;
  totalRealizedPnl: number;
  longestWinStreak: number;
  longestLossStreak: number;
  /** Equal-weighted mean over symbols of last mid / first mid − 1. */
  benchmarkBuyAndHoldReturn: number;
  benchmarkFlatReturn: number;
  periodsPerYear: number;
  spanMs: number;
}

/** Computes Metrics (see module doc). Throws RangeError when the equity curve is empty. */
export function computeMetrics(r: BacktestResult, trades: readonly RoundTrip[]): Metrics {
  const eq = r.equity;
  if (eq.length === 0) throw new RangeError("empty equity curve: the replay yielded no events");
  const e0 = r.initialBalance;
  const e1 = eq[eq.length - 1].equity;
  const span = eq[eq.length - 1].ts - eq[0].ts;
  const P = YEAR_MS / r.sampleMs;
  let sum = 0;
  let n = 0;
  let down2 = 0;
  for (let i = 1; i < eq.length; i++) {
    const ret = eq[i].equity / eq[i - 1].equity - 1;
    sum += ret;
    down2 += ret < 0 ? ret * ret : 0;
    n++;
  }
  const mean = n > 0 ? sum / n : 0;
  let v = 0;
  for (let i = 1; i < eq.length; i++) v += (eq[i].equity / eq[i - 1].equity - 1 - mean) ** 2;
  const std = n > 1 ? Math.sqrt(v / (n - 1)) : 0;
  const dd = n > 0 ? Math.sqrt(down2 / n) : 0;
  let peak = eq[0].equity;
  let peakTs = eq[0].ts;
  let maxDd = 0;
  let maxDur = 0;
  let exposedMs = 0;
  for (let i = 0; i < eq.length; i++) {
    const p = eq[i];
    if (p.equity >= peak) {
      maxDur = Math.max(maxDur, p.ts - peakTs);
      peak = p.equity;
      peakTs = p.ts;
    } else maxDd = Math.max(maxDd, 1 - p.equity / peak);
    if (i > 0 && eq[i - 1].grossExposure > 0) exposedMs += p.ts - eq[i - 1].ts;
  }
  if (eq[eq.length - 1].equity < peak) maxDur = Math.max(maxDur, eq[eq.length - 1].ts - peakTs);
  const cagr = span > 0 ? (e1 / e0) ** (YEAR_MS / span) - 1 : 0;
  const nets = trades.map((t) => t.netPnl);
  const wins = nets.filter((x) => x > 0);
  const losses = nets.filter((x) => x < 0);
  const gw = wins.reduce((a, b) => a + b, 0);
  const gl = -losses.reduce((a, b) => a + b, 0);
  let streak = 0;
  let bestW = 0;
  let bestL = 0;
  for (const x of nets) {
    streak = x > 0 ? (streak > 0 ? streak + 1 : 1) : x < 0 ? (streak < 0 ? streak - 1 : -1) : 0;
    bestW = Math.max(bestW, streak);
    bestL = Math.max(bestL, -streak);
  }
  let turnover = 0;
  let slip = 0;
  for (const f of r.fills) {
    turnover += f.price * f.size;
    if (Number.isFinite(f.slippage)) slip += f.slippage;
  }
  const syms = Object.keys(r.firstMid).filter((s) => s in r.lastMid);
  const bh = syms.length
    ? syms.reduce((a, s) => a + r.lastMid[s] / r.firstMid[s] - 1, 0) / syms.length
    : 0;
  const acct = r.finalAccount;
  return {
    initialEquity: e0,
    finalEquity: e1,
    totalReturn: e1 / e0 - 1,
    cagr,
    sharpe: std > 0 ? mean / std * Math.sqrt(P) : 0,
    sortino: dd > 0 ? mean / dd * Math.sqrt(P) : 0,
    calmar: maxDd > 0 ? cagr / maxDd : null,
    maxDrawdown: maxDd,
    maxDrawdownDurationMs: maxDur,
    trades: trades.length,
    winRate: nets.length ? wins.length / nets.length : null,
    profitFactor: gl > 0 ? gw / gl : null,
    expectancyUsdt: nets.length ? nets.reduce((a, b) => a + b, 0) / nets.length : null,
    avgHoldingMs: trades.length
      ? trades.reduce((a, t) => a + (t.exitTs - t.entryTs), 0) / trades.length
      : null,
    exposure: span > 0 ? exposedMs / span : 0,
    turnover: turnover / e0,
    totalFees: acct.totalFees,
    totalSlippage: slip,
    totalFunding: acct.totalFunding,
    totalRealizedPnl: acct.totalRealizedPnl,
    longestWinStreak: bestW,
    longestLossStreak: bestL,
    benchmarkBuyAndHoldReturn: bh,
    benchmarkFlatReturn: 0,
    periodsPerYear: P,
    spanMs: span,
  };
}
