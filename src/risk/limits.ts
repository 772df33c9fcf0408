/**
 * Pre-trade risk limits and kill-switches. `RiskManager.evaluate` splits an order into the part
 * that reduces the current (one-way mode) position and the part that opens new exposure; only
 * the opening part is limited, so reductions always pass. Units: sizes base coin, prices and
 * money USDT, spreads bps, fractions ratios, times epoch ms UTC.
 */
import { type ExchangeLimits, floorToLot, requirePositive, RiskInputError } from "./sizing.ts";
import { pearson } from "./correlation.ts";

export interface RiskConfig {
  /** Max gross notional / equity across all positions. */
  maxLeverage: number;
  /** Σ risk-to-stop of positions ≤ heatCap · equity. */
  heatCap: number;
  maxPositions: number;
  /** Pearson correlation above which a second same-direction position is blocked. */
  correlationLimit: number;
  /** Returns used for the correlation (latest N). */
  correlationWindow: number;
  /** Fewer aligned returns than this → correlation not evaluated. */
  minCorrelationSamples: number;
  /** Kill-switch when equity ≤ startOfDayEquity · (1 − dailyLoss). */
  dailyLoss: number;
  /** Latched kill-switch when equity ≤ peakEquity · (1 − maxDrawdown). */
  maxDrawdown: number;
  /** No new exposure when spread > maxSpreadBps. */
  maxSpreadBps: number;
  /** No new exposure when depth on the taking side < depthMultiple × opening notional. */
  depthMultiple: number;
  /** Minimum adverse move (fraction of mark) to liquidation of every position. */
  minLiqDistance: number;
  /** Maintenance margin rate used by the cross-margin liquidation estimate. */
  maintenanceMarginRate: number;
  /** Risk per unit assumed for positions/intents without a stop, as a fraction of mark. */
  assumedStopFraction: number;
}

export const DEFAULT_RISK_CONFIG: Readonly<RiskConfig> = {
  maxLeverage: 3,
  heatCap: 0.06,
  maxPositions: 5,
  correlationLimit: 0.8,
  correlationWindow: 288,
  minCorrelationSamples: 30,
  dailyLoss: 0.03,
  maxDrawdown: 0.15,
  maxSpreadBps: 10,
  depthMultiple: 5,
  minLiqDistance: 0.1,
  maintenanceMarginRate: 0.005,
  assumedStopFraction: 0.05,
};

/** An open position (one-way mode: one per symbol). */
export interface RiskPosition {
  symbol: string;
  side: "long" | "short";
  /** Base coin, > 0. */
  size: number;
  markPrice: number;
  /** Protective stop (USDT); absent → assumedStopFraction of mark is at risk. */
  stopPrice?: number;
}

/** What the strategy wants to do. */
export interface OrderIntent {
  symbol: string;
  side: "buy" | "sell";
  /** Base coin, > 0. */
  size: number;
  /** Expected fill price (USDT). */
  price: number;
  /** Stop for the resulting position (USDT). */
  stopPrice?: number;
  reduceOnly: boolean;
  /** Lot rounding / min-size / contract leverage of the symbol (API.md §4.1). */
  contract?: ExchangeLimits;
}

/** Account and market state at evaluation time. */
export interface RiskState {
  /** Event time (epoch ms UTC); defines the UTC day of the daily-loss switch. */
  ts: number;
  equity: number;
  startOfDayEquity: number;
  peakEquity: number;
  positions: readonly RiskPosition[];
  /** Spread of the intent's symbol (bps). */
  spreadBps: number;
  /** Visible book depth (USDT) the order would take: buy → asks, sell → bids. */
  depthUsdt: (side: "buy" | "sell") => number;
  /** Return history per symbol (oldest first) for the correlation cap. */
  returns?: (symbol: string) => readonly number[] | undefined;
  /** Exchange-reported liquidation price of the current position on the intent's symbol. */
  liquidationPrice?: number;
  /** Mark price of the intent's symbol (USDT). */
  markPrice: number;
}

export interface RiskDecision {
  allowed: boolean;
  /** Approved size (base coin) ≤ intent.size. */
  size: number;
  /** Part of `size` that reduces the current position. */
  reduceSize: number;
  /** Part of `size` that opens new exposure. */
  openSize: number;
  reasons: string[];
}

const DAY_MS = 86_400_000;

/** Risk-to-stop per base coin of a position at `mark` (0 when the stop locks in profit). */
function riskPerUnit(
  side: "long" | "short",
  mark: number,
  stop: number | undefined,
  cfg: RiskConfig,
) {
  if (stop === undefined) return cfg.assumedStopFraction * mark;
  return Math.max(0, side === "long" ? mark - stop : stop - mark);
}

/**
 * Stateful gate in front of order placement. Holds the two latches: the daily-loss halt (until
 * the next UTC day, 00:00 UTC, derived from `state.ts`) and the drawdown halt (until
 * `resetDrawdownHalt()`).
 */
export class RiskManager {
  readonly config: RiskConfig;
  #haltDay: number | null = null;
  #ddHalt = false;

  /** Throws RiskInputError for a config value that is not finite and ≥ 0. */
  constructor(config: Partial<RiskConfig> = {}) {
    this.config = { ...DEFAULT_RISK_CONFIG, ...config };
    for (const [k, v] of Object.entries(this.config)) {
      if (!Number.isFinite(v) || v < 0) {
        throw new RiskInputError(`risk config ${k}=${v}: expected ≥ 0`);
      }
    }
  }

  /** Updates the kill-switch latches from the state; returns the active halts. */
  observe(state: Pick<RiskState, "ts" | "equity" | "startOfDayEquity" | "peakEquity">): string[] {
    const day = Math.floor(state.ts / DAY_MS);
    if (state.equity <= state.startOfDayEquity * (1 - this.config.dailyLoss)) this.#haltDay = day;
    if (state.equity <= state.peakEquity * (1 - this.config.maxDrawdown)) this.#ddHalt = true;
    const halts: string[] = [];
    if (this.#haltDay === day) halts.push("daily loss limit: reduce-only until 00:00 UTC");
    if (this.#ddHalt) halts.push("max drawdown kill-switch latched: reduce-only");
    if (state.equity <= 0) halts.push("equity ≤ 0");
    return halts;
  }

  /** Clears the drawdown latch (operator action). */
  resetDrawdownHalt(): void {
    this.#ddHalt = false;
  }

  /**
   * Evaluates an intent. Reduce-only orders (and the reducing part of any order) are always
   * allowed, clamped to the current position. The opening part is cut by every cap below,
   * rounded down to the lot size, and zeroed by kill-switches. Throws RiskInputError for a
   * non-positive size/price/mark.
   */
  evaluate(intent: OrderIntent, state: RiskState): RiskDecision {
    requirePositive(intent.size, "intent.size");
    requirePositive(intent.price, "intent.price");
    requirePositive(state.markPrice, "state.markPrice");
    const cfg = this.config;
    const reasons: string[] = [];
    const halts = this.observe(state);
    const dir = intent.side === "buy" ? "long" : "short";
    const cur = state.positions.find((p) => p.symbol === intent.symbol && p.size > 0);
    const reduceSize = cur && cur.side !== dir ? Math.min(intent.size, cur.size) : 0;
    const done = (open: number): RiskDecision => {
      const size = reduceSize + open;
      return { allowed: size > 0, size, reduceSize, openSize: open, reasons };
    };
    if (intent.reduceOnly) {
      if (reduceSize === 0) reasons.push("reduce-only: no opposite position to reduce");
      else if (reduceSize < intent.size) {
        reasons.push(`reduce-only clamped to position ${reduceSize}`);
      }
      return done(0);
    }
    let open = intent.size - reduceSize;
    if (open <= 0) return done(0);
    if (halts.length > 0) {
      reasons.push(...halts);
      return done(0);
    }
    if (state.spreadBps > cfg.maxSpreadBps) {
      reasons.push(`spread ${state.spreadBps} bps > ${cfg.maxSpreadBps}`);
      return done(0);
    }
    const P = Math.max(intent.price, state.markPrice);
    const base = cur && cur.side === dir ? cur.size : 0;
    const others = state.positions.filter((p) => p.symbol !== intent.symbol && p.size > 0);
    if (base === 0 && others.length >= cfg.maxPositions) {
      reasons.push(`max concurrent positions ${cfg.maxPositions}`);
      return done(0);
    }
    const corr = this.#correlated(intent.symbol, dir, others, state);
    if (corr) {
      reasons.push(corr);
      return done(0);
    }
    if (state.liquidationPrice !== undefined && base > 0) {
      const d = Math.abs(state.markPrice - state.liquidationPrice) / state.markPrice;
      if (d < cfg.minLiqDistance) {
        reasons.push(`liquidation distance ${d.toFixed(4)} < ${cfg.minLiqDistance}`);
        return done(0);
      }
    }
    // A flip starts a fresh position: the old (opposite) stop does not carry over.
    const stop = intent.stopPrice ?? (base > 0 ? cur?.stopPrice : undefined);
    if (intent.stopPrice !== undefined && riskPerUnit(dir, P, intent.stopPrice, cfg) === 0) {
      reasons.push(`stop ${intent.stopPrice} is not on the losing side of ${P} for a ${dir}`);
      return done(0);
    }
    const E = state.equity;
    let grossOther = 0, maxOther = 0, heatOther = 0;
    for (const p of others) {
      const n = p.size * p.markPrice;
      grossOther += n;
      if (n > maxOther) maxOther = n;
      heatOther += p.size * riskPerUnit(p.side, p.markPrice, p.stopPrice, cfg);
    }
    // Each cap bounds N = resulting notional on this symbol (base + open) · P.
    const caps: [number, string][] = [
      [cfg.maxLeverage * E - grossOther, `gross leverage ${cfg.maxLeverage}x`],
      [
        (cfg.heatCap * E - heatOther) * P / riskPerUnit(dir, P, stop, cfg),
        `heat cap ${cfg.heatCap}`,
      ],
    ];
    if (intent.contract) {
      caps.push([intent.contract.maxLever * E, `contract maxLever ${intent.contract.maxLever}x`]);
    }
    // Cross-margin liquidation estimate: a position of notional N_j is liquidated after an
    // adverse move d_j with E − N_j·d_j = mmr·(G − N_j) + mmr·N_j·(1 ± d_j); requiring
    // d_j ≥ minLiq for every j (with the conservative 1 + mmr) reduces to
    // E − mmr·G ≥ minLiq·(1 + mmr)·max_j N_j, G = gross notional.
    const mmr = cfg.maintenanceMarginRate;
    const c = cfg.minLiqDistance * (1 + mmr);
    caps.push([(E - mmr * grossOther) / (c + mmr), `liquidation distance ${cfg.minLiqDistance}`]);
    if (mmr > 0) {
      caps.push([
        (E - mmr * grossOther - c * maxOther) / mmr,
        `liquidation distance ${cfg.minLiqDistance} of other positions`,
      ]);
    }
    for (const [maxN, why] of caps) {
      const maxOpen = maxN / P - base;
      if (maxOpen < open) {
        open = Math.max(0, maxOpen);
        reasons.push(`reduced by ${why}`);
      }
    }
    if (intent.contract) {
      const lots = floorToLot(open * (1 - 1e-12), intent.contract.lotSize);
      if (
        reduceSize === 0 && lots > 0 &&
        (lots < intent.contract.minTradeNum || lots * P < intent.contract.minTradeUSDT)
      ) {
        reasons.push(`size ${lots} below exchange minimum`);
        open = 0;
      } else open = lots;
    }
    if (open > 0 && state.depthUsdt(intent.side) < cfg.depthMultiple * open * P) {
      reasons.push(`depth ${state.depthUsdt(intent.side)} USDT < ${cfg.depthMultiple} × notional`);
      open = 0;
    }
    return done(open);
  }

  #correlated(
    symbol: string,
    dir: "long" | "short",
    others: readonly RiskPosition[],
    state: RiskState,
  ): string | null {
    const mine = state.returns?.(symbol);
    if (!mine) return null;
    for (const p of others) {
      if (p.side !== dir) continue;
      const theirs = state.returns?.(p.symbol);
      if (!theirs) continue;
      const r = pearson(mine, theirs, this.config.correlationWindow);
      const n = Math.min(mine.length, theirs.length, this.config.correlationWindow);
      if (n >= this.config.minCorrelationSamples && r > this.config.correlationLimit) {
        return `correlation ${
          r.toFixed(3)
        } with open ${dir} ${p.symbol} > ${this.config.correlationLimit}`;
      }
    }
    return null;
  }
}
