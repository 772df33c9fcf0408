/**
 * `regime`: an ADX/ATR regime-switching bar strategy (Wilder 1978, "New Concepts in Technical
 * Trading Systems", for ADX/ATR; the 25/20 ADX thresholds are Wilder's and the usual practice).
 *
 * On each closed bar of `interval` (default 15m; any interval the engine feeds, e.g. 1m):
 *
 * - Trending, ADX(14) ≥ adxTrend (25): EMA(9)/EMA(21) crossover. Long when EMA9 crosses above
 *   EMA21, short when it crosses below. Stop = close ∓ atrStopMult × ATR(14); take-profit, when
 *   `trendTakeProfitR` > 0, at close ± R × (stop distance). A trend position exits on the
 *   opposite crossover.
 * - Ranging, ADX < adxRange (20): Bollinger(20, 2) mean reversion (Bollinger 2001). Long when
 *   close < lower band, short when close > upper band; take-profit at the middle band; stop =
 *   lower − atrStopMult × ATR (long) / upper + atrStopMult × ATR (short); no entry when the close
 *   is already beyond that stop (a crash through the band has passed the trade's invalidation
 *   level). A range position exits when the close crosses the (moving) middle band: close ≥
 *   middle (long), ≤ middle (short).
 * - In between: no new entries (open positions are still managed by their own exit rule).
 * - Volatility: ATR/close is compared with the `volQuantile` quantile (default 0.8) of its own
 *   previous `volLookback` values (the current bar excluded); above it the bar is high-volatility
 *   and an entry carries sizeScale = highVolSizeScale (0.5), else 1.
 *
 * Crossover state: +1 while EMA9 > EMA21, −1 while below; an exact tie keeps the previous state.
 * A cross is a change of state between two consecutive bars.
 *
 * Positions. The strategy remembers which rule (trend/range) opened a position so it can apply
 * the right exit. A position it did not open (e.g. after a restart) is managed with the trend rule
 * (opposite crossover). An entry signal opposite to the open position flips it (one EnterSignal;
 * the contract's enter closes the opposite side first); an entry is never emitted when a position
 * of that side is open, nor when `view.tradable(symbol)` is false (then only exits are emitted).
 *
 * Warm-up: nothing is emitted and nothing recorded until EMAs, ATR, ADX, Bollinger and the
 * volatility window are all ready (bar 15 + volLookback for the defaults: 111 bars). A hole in
 * the bars restarts every warm-up (BarSequence). Decision values are recorded on every bar after
 * warm-up: `regime` (+1 trend, 0 neutral, −1 range), `adx`, `ema_cross` (±1) and `high_vol` (0/1).
 */
import { z } from "zod";
import { Adx, Atr, Ema, RollingStats } from "../features/indicators.ts";
import { BarSequence } from "./bar_sequence.ts";
import { type ConfigProblem, parseStrategyConfig, throwProblems } from "./config_parse.ts";
import { RollingQuantile } from "./rolling_quantile.ts";
import type { ClosedBar, EnterSignal, Signal, StrategyView, TradingStrategy } from "./types.ts";

const int = (min: number, def: number) => z.number().int().min(min).default(def);

export const RegimeConfigSchema = z.object({
  /** Bar interval traded (e.g. "15m", "1m"): bars of other intervals are ignored. */
  interval: z.string().regex(/^\d+[mhd]$/, 'expected an interval like "1m", "15m", "1h"')
    .default("15m"),
  /** ADX and DI period (bars). */
  adxPeriod: int(2, 14),
  /** ADX (0..100) at or above which the market is trending. */
  adxTrend: z.number().min(0).max(100).default(25),
  /** ADX (0..100) below which the market is ranging; must be ≤ adxTrend. */
  adxRange: z.number().min(0).max(100).default(20),
  /** Fast EMA period (bars), SMA-seeded. */
  emaFast: int(1, 9),
  /** Slow EMA period (bars), > emaFast. */
  emaSlow: int(2, 21),
  /** Wilder ATR period (bars) for stops and the volatility regime. */
  atrPeriod: int(1, 14),
  /** Stop distance in ATRs (price units = atrStopMult × ATR), > 0. */
  atrStopMult: z.number().positive().default(2),
  /** Trend take-profit as a multiple R of the stop distance; 0 = no take-profit. */
  trendTakeProfitR: z.number().min(0).default(0),
  /** Bollinger period (bars). */
  bbPeriod: int(2, 20),
  /** Bollinger band width in population standard deviations. */
  bbK: z.number().positive().default(2),
  /** Bars of ATR/close history the volatility quantile is taken over. */
  volLookback: int(2, 96),
  /** Quantile (0..1) of ATR/close above which a bar is high-volatility. */
  volQuantile: z.number().gt(0).lt(1).default(0.8),
  /** sizeScale of entries on high-volatility bars, in (0, 1]. */
  highVolSizeScale: z.number().gt(0).max(1).default(0.5),
}).strict();

export type RegimeConfig = z.infer<typeof RegimeConfigSchema>;

function regimeProblems(c: RegimeConfig): ConfigProblem[] {
  const p: ConfigProblem[] = [];
  if (c.adxRange > c.adxTrend) p.push({ field: "adxRange", message: "must be ≤ adxTrend" });
  if (c.emaFast >= c.emaSlow) p.push({ field: "emaFast", message: "must be < emaSlow" });
  return p;
}

/** Validates a raw `regime` config section (defaults filled). @throws StrategyConfigError per bad field. */
export function parseRegimeConfig(raw: unknown): RegimeConfig {
  return parseStrategyConfig(RegimeConfigSchema, raw, "strategy.regime", regimeProblems);
}

type Mode = "trend" | "range";

/** Per-symbol indicator and position-rule state. */
class SymbolState {
  readonly seq = new BarSequence();
  readonly emaFast: Ema;
  readonly emaSlow: Ema;
  readonly atr: Atr;
  readonly adx: Adx;
  readonly bb: RollingStats;
  readonly volQ: RollingQuantile;
  /** +1 fast above slow, −1 below, 0 unknown. */
  cross = 0;
  /** Rule that opened the position we believe is open, and its side. */
  mode: Mode | null = null;
  side: "long" | "short" | null = null;

  constructor(c: RegimeConfig) {
    this.emaFast = new Ema(c.emaFast);
    this.emaSlow = new Ema(c.emaSlow);
    this.atr = new Atr(c.atrPeriod);
    this.adx = new Adx(c.adxPeriod);
    this.bb = new RollingStats(c.bbPeriod);
    this.volQ = new RollingQuantile(c.volLookback);
  }

  resetIndicators(): void {
    this.emaFast.reset();
    this.emaSlow.reset();
    this.atr.reset();
    this.adx.reset();
    this.bb.reset();
    this.volQ.reset();
    this.cross = 0;
  }
}

/**
 * Creates the regime strategy (see file doc). `cfg` is a parsed config (RegimeConfigSchema or
 * parseRegimeConfig). @throws StrategyConfigError when adxRange > adxTrend or emaFast ≥ emaSlow.
 * onBar throws RangeError on bars out of order, off their grid or with inconsistent OHLC.
 */
export function createRegimeStrategy(cfg: RegimeConfig): TradingStrategy {
  throwProblems("strategy.regime", cfg, regimeProblems(cfg));
  const states = new Map<string, SymbolState>();
  const c = cfg;

  function onBar(bar: ClosedBar, view: StrategyView): Signal[] {
    if (bar.interval !== c.interval) return [];
    let st = states.get(bar.symbol);
    if (!st) states.set(bar.symbol, st = new SymbolState(c));
    if (st.seq.accept(bar) === "gap") st.resetIndicators();

    const { high, low, close, symbol } = bar;
    const fast = st.emaFast.update(close);
    const slow = st.emaSlow.update(close);
    const atr = st.atr.update(high, low, close);
    st.adx.update(high, low, close);
    const adx = st.adx.adx;
    st.bb.push(close);
    const middle = st.bb.mean();
    const sd = st.bb.std(0);
    // Threshold from the previous volLookback bars, read before this bar joins the window.
    const atrPct = atr / close;
    const volThreshold = st.volQ.quantile(c.volQuantile);
    if (atrPct === atrPct) st.volQ.push(atrPct);
    const prevCross = st.cross;
    const diff = fast - slow;
    if (diff === diff) st.cross = diff > 0 ? 1 : diff < 0 ? -1 : prevCross;
    const cross = st.cross;

    if (
      prevCross === 0 || !(atr > 0) || adx !== adx || middle !== middle || sd !== sd ||
      volThreshold !== volThreshold
    ) return [];

    const crossUp = prevCross === -1 && cross === 1;
    const crossDown = prevCross === 1 && cross === -1;
    const regime = adx >= c.adxTrend ? 1 : adx < c.adxRange ? -1 : 0;
    const highVol = atrPct > volThreshold;
    view.record(symbol, "regime", regime);
    view.record(symbol, "adx", adx);
    view.record(symbol, "ema_cross", cross);
    view.record(symbol, "high_vol", highVol ? 1 : 0);

    const upper = middle + c.bbK * sd;
    const lower = middle - c.bbK * sd;
    const stopDist = c.atrStopMult * atr;
    const sizeScale = highVol ? c.highVolSizeScale : 1;
    const tag = `ADX ${adx.toFixed(1)}${highVol ? ", high vol" : ""}`;

    // The entry this bar would take, if any.
    let want: { mode: Mode; signal: EnterSignal } | null = null;
    if (regime === 1 && (crossUp || crossDown)) {
      const long = crossUp;
      const signal: EnterSignal = {
        kind: "enter",
        symbol,
        side: long ? "long" : "short",
        price: close,
        stopPrice: long ? close - stopDist : close + stopDist,
        sizeScale,
        reason: `regime trend: EMA${c.emaFast}/${c.emaSlow} cross ${long ? "up" : "down"}, ${tag}`,
      };
      if (c.trendTakeProfitR > 0) {
        const tp = c.trendTakeProfitR * stopDist;
        signal.takeProfitPrice = long ? close + tp : close - tp;
      }
      want = { mode: "trend", signal };
    } else if (regime === -1 && (close < lower || close > upper)) {
      const long = close < lower;
      want = {
        mode: "range",
        signal: {
          kind: "enter",
          symbol,
          side: long ? "long" : "short",
          price: close,
          stopPrice: long ? lower - stopDist : upper + stopDist,
          takeProfitPrice: middle,
          sizeScale,
          reason: `regime range: close ${
            long ? "below lower" : "above upper"
          } Bollinger band, ${tag}`,
        },
      };
    }
    if (want) {
      // The stop must be on the losing side and placeable: a range entry whose close is already
      // past band ∓ m·ATR (a crash through the band) has hit its own invalidation level — skip;
      // a stop ≤ 0 (absurd ATR on a tiny price) cannot be placed.
      const sp = want.signal.stopPrice!;
      const ok = want.signal.side === "long" ? sp > 0 && sp < close : sp > close;
      if (!ok) want = null;
    }

    const pos = view.position(symbol);
    if (!pos || (st.side !== null && st.side !== pos.side)) st.mode = st.side = null;
    const tradable = view.tradable(symbol);

    if (pos) {
      const mode = st.mode ?? "trend";
      const long = pos.side === "long";
      const exitWhy = mode === "trend"
        ? ((long && crossDown) || (!long && crossUp) ? "opposite EMA crossover" : null)
        : ((long && close >= middle) || (!long && close <= middle)
          ? "close crossed the middle band"
          : null);
      if (want && want.signal.side !== pos.side && tradable) {
        if (exitWhy) want.signal.reason += ` (flip: ${exitWhy})`;
        else want.signal.reason += " (flip)";
        st.mode = want.mode;
        st.side = want.signal.side;
        return [want.signal];
      }
      if (exitWhy) {
        st.mode = st.side = null;
        return [{ kind: "exit", symbol, reason: `regime ${mode}: ${exitWhy}` }];
      }
      return [];
    }
    if (want && tradable) {
      st.mode = want.mode;
      st.side = want.signal.side;
      return [want.signal];
    }
    return [];
  }

  return {
    name: "regime",
    barIntervals: [c.interval],
    onBar,
    onPositionClosed(symbol: string): void {
      const st = states.get(symbol);
      if (st) st.mode = st.side = null;
    },
  };
}
