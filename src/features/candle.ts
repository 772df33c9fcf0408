/**
 * The `candle` feature engine: one feature vector per closed bar of one interval (1m or 15m), in
 * the order of `FEATURE_SETS.candle` (definitions, units and warm-ups in registry.ts). A vector
 * is known at the bar's close (ts + intervalMs) and uses that bar and earlier ones only.
 *
 * Live and batch are one code path: `runCandleBatch` calls `CandleEngine.update` on every bar.
 *
 * Feed closed bars only (an exchange pushes the forming bar many times; `ClosedBarFilter` keeps
 * the last version of each bar and releases it when the next bar starts). Bars must be
 * consecutive: a bar that starts more than one interval after the previous one (a hole) resets
 * every indicator, so no indicator spans missing data.
 *
 * Scale. Price-level outputs (EMA, MACD, ATR) are divided by the close and given in bps, so a
 * model sees the same scale across symbols and years; raw price levels are not features, since
 * a tree model would otherwise memorise price ranges.
 */
import type { CandleEvent } from "../market/events.ts";
import {
  Adx,
  Atr,
  Bollinger,
  Ema,
  GarmanKlassVol,
  Lag,
  Macd,
  Obv,
  ParkinsonVol,
  RealizedVol,
  Roc,
  RollingCorr,
  RollingMinMax,
  RollingSlope,
  RollingStats,
  Rsi,
} from "./indicators.ts";
import type { FeatureMatrix } from "./matrix.ts";
import { CANDLE_FEATURES, columnIndex } from "./registry.ts";

/** One closed OHLCV bar. Prices USDT, volume base coin. */
export interface Bar {
  /** Bar start, epoch ms. */
  ts: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  /**
   * Last settled funding rate (ratio per interval) whose settlement time is ≤ the bar close;
   * NaN or absent when unknown. `attachSettledFunding` fills it from a funding history.
   */
  fundingRate?: number;
}

const C = columnIndex(CANDLE_FEATURES);

function bad(ts: number, what: string, v: unknown): never {
  throw new RangeError(`bar at ts=${ts}: ${what}, got ${v}`);
}

/** Streaming candle feature state of one symbol and interval. */
export class CandleEngine {
  readonly names: readonly string[] = CANDLE_FEATURES;
  private readonly out = new Float64Array(CANDLE_FEATURES.length);
  private readonly ema12 = new Ema(12);
  private readonly ema26 = new Ema(26);
  private readonly ema60 = new Ema(60);
  private readonly pv20 = new RollingStats(20);
  private readonly v20 = new RollingStats(20);
  private readonly closes = new Lag(15);
  private readonly ret1 = new Lag(1);
  private readonly ret5 = new Lag(5);
  private readonly ret15 = new Lag(15);
  private readonly rsi = new Rsi(14);
  private readonly macd = new Macd(12, 26, 9);
  private readonly bb = new Bollinger(20, 2);
  private readonly atr = new Atr(14);
  private readonly adx = new Adx(14);
  private readonly obv = new Obv();
  private readonly obvSlope = new RollingSlope(14);
  private readonly v14 = new RollingStats(14);
  private readonly roc = new Roc(10);
  private readonly rv = new RealizedVol(20);
  private readonly park = new ParkinsonVol(20);
  private readonly gk = new GarmanKlassVol(20);
  private readonly corr = new RollingCorr(20);
  private readonly priorHighs = new RollingMinMax(20);
  private readonly priorLows = new RollingMinMax(20);
  private readonly highs20 = new RollingMinMax(20);
  private readonly lows20 = new RollingMinMax(20);
  private prevHigh = NaN;
  private prevLow = NaN;
  private prevTs = NaN;

  /** @param intervalMs bar length in ms (60 000 for 1m, 900 000 for 15m). */
  constructor(readonly intervalMs: number) {
    if (!Number.isInteger(intervalMs) || intervalMs <= 0) {
      throw new RangeError(`intervalMs must be a positive integer (ms), got ${intervalMs}`);
    }
  }

  /**
   * Consumes closed bar `b` and returns the feature vector (a view overwritten by the next call).
   * Throws RangeError when the bar is out of order or off the interval grid, or when its OHLC is
   * not positive and consistent (low ≤ open, close ≤ high) or its volume is negative.
   */
  update(b: Bar): Float64Array {
    const { ts, open, high, low, close, volume } = b;
    if (!Number.isFinite(ts)) bad(ts, "ts must be epoch ms", ts);
    if (!(low > 0 && high >= low && open >= low && open <= high && close >= low && close <= high)) {
      bad(ts, "need 0 < low ≤ open, close ≤ high", `o=${open} h=${high} l=${low} c=${close}`);
    }
    if (!(volume >= 0)) bad(ts, "volume must be ≥ 0", volume);
    const pts = this.prevTs;
    if (pts === pts) {
      const step = ts - pts;
      if (step <= 0 || step % this.intervalMs !== 0) {
        bad(
          ts,
          `bars must follow each other on a ${this.intervalMs} ms grid (previous ${pts})`,
          ts,
        );
      }
      if (step > this.intervalMs) this.reset();
    }
    this.prevTs = ts;
    this.step(open, high, low, close, volume, b.fundingRate ?? NaN);
    return this.out;
  }

  /** Forgets all state; the next bar starts every warm-up again. */
  reset(): void {
    for (
      const x of [
        this.ema12,
        this.ema26,
        this.ema60,
        this.pv20,
        this.v20,
        this.closes,
        this.ret1,
        this.ret5,
        this.ret15,
        this.rsi,
        this.macd,
        this.bb,
        this.atr,
        this.adx,
        this.obv,
        this.obvSlope,
        this.v14,
        this.roc,
        this.rv,
        this.park,
        this.gk,
        this.corr,
        this.priorHighs,
        this.priorLows,
        this.highs20,
        this.lows20,
      ]
    ) x.reset();
    this.prevHigh = this.prevLow = this.prevTs = NaN;
  }

  private step(o: number, h: number, l: number, c: number, v: number, funding: number): void {
    const out = this.out;
    const e12 = this.ema12.update(c);
    const e26 = this.ema26.update(c);
    const e60 = this.ema60.update(c);
    out[C.ema12_dist_bps] = ((c - e12) / e12) * 1e4;
    out[C.ema26_dist_bps] = ((c - e26) / e26) * 1e4;
    out[C.ema60_dist_bps] = ((c - e60) / e60) * 1e4;

    this.pv20.push(((h + l + c) / 3) * v);
    this.v20.push(v);
    const vsum = this.v20.sum();
    const vwap = vsum > 0 ? this.pv20.sum() / vsum : NaN;
    out[C.vwap20_dev_bps] = ((c - vwap) / vwap) * 1e4;

    this.closes.push(c);
    const r1 = Math.log(c / this.closes.ago(1)) * 1e4;
    const r5 = Math.log(c / this.closes.ago(5)) * 1e4;
    const r15 = Math.log(c / this.closes.ago(15)) * 1e4;
    out[C.ret_1b_bps] = r1;
    out[C.ret_5b_bps] = r5;
    out[C.ret_15b_bps] = r15;
    this.ret1.push(r1);
    this.ret5.push(r5);
    this.ret15.push(r15);
    out[C.acc_1b_bps] = r1 - this.ret1.ago(1);
    out[C.acc_5b_bps] = r5 - this.ret5.ago(5);
    out[C.acc_15b_bps] = r15 - this.ret15.ago(15);

    out[C.rsi14] = this.rsi.update(c);
    this.macd.update(c);
    out[C.macd_bps] = (this.macd.line / c) * 1e4;
    out[C.macd_signal_bps] = (this.macd.signal / c) * 1e4;
    out[C.macd_hist_bps] = (this.macd.hist / c) * 1e4;
    this.bb.update(c);
    out[C.bb_pctb20] = this.bb.pctB;
    out[C.bb_width20] = this.bb.width;
    out[C.atr14_bps] = (this.atr.update(h, l, c) / c) * 1e4;
    this.adx.update(h, l, c);
    out[C.adx14] = this.adx.adx;
    out[C.plus_di14] = this.adx.plusDi;
    out[C.minus_di14] = this.adx.minusDi;

    this.obvSlope.push(this.obv.update(c, v));
    this.v14.push(v);
    const mv = this.v14.mean();
    out[C.obv_slope14] = mv > 0 ? this.obvSlope.value() / mv : NaN;
    out[C.roc10] = this.roc.update(c);

    this.rv.update(c);
    out[C.rv20_bps] = Math.sqrt(this.rv.sumSq() / this.rv.n) * 1e4;
    out[C.parkinson20_bps] = this.park.update(h, l) * 1e4;
    out[C.gk20_bps] = this.gk.update(o, h, l, c) * 1e4;

    const vmean = this.v20.mean();
    out[C.vol_ratio20] = vmean > 0 ? v / vmean : NaN;
    this.corr.push(c, v);
    out[C.vol_price_corr20] = this.corr.value();

    const ph = this.prevHigh;
    const pl = this.prevLow;
    out[C.trend_hhll] = ph !== ph ? NaN : h > ph && l > pl ? 1 : h < ph && l < pl ? -1 : 0;
    this.prevHigh = h;
    this.prevLow = l;

    // break20 compares with the 20 bars before this one: read, then push.
    const pmax = this.priorHighs.max();
    const pmin = this.priorLows.min();
    const up = h > pmax;
    const down = l < pmin;
    out[C.break20] = pmax !== pmax ? NaN : up && !down ? 1 : down && !up ? -1 : 0;
    this.priorHighs.push(h);
    this.priorLows.push(l);

    this.highs20.push(h);
    this.lows20.push(l);
    const hi = this.highs20.max();
    const lo = this.lows20.min();
    out[C.range_pos20] = hi > lo ? (c - lo) / (hi - lo) : hi === lo ? 0.5 : NaN;

    out[C.funding_settled_bps] = funding * 1e4;
  }
}

/**
 * Runs a fresh `CandleEngine` over closed `bars` (time order) and returns one feature row per
 * bar. Identical to feeding the bars one by one. Throws what `CandleEngine.update` throws, with
 * the row index prepended.
 */
export function runCandleBatch(bars: readonly Bar[], intervalMs: number): FeatureMatrix {
  const eng = new CandleEngine(intervalMs);
  const cols = eng.names.length;
  const values = new Float64Array(bars.length * cols);
  const ts = new Float64Array(bars.length);
  for (let i = 0; i < bars.length; i++) {
    let v: Float64Array;
    try {
      v = eng.update(bars[i]);
    } catch (e) {
      if (e instanceof RangeError) throw new RangeError(`row ${i}: ${e.message}`);
      throw e;
    }
    values.set(v, i * cols);
    ts[i] = bars[i].ts;
  }
  return { names: eng.names, ts, values, rows: bars.length, cols };
}

/** A funding settlement: time (epoch ms) and rate (ratio per funding interval). */
export interface FundingSettlement {
  ts: number;
  rate: number;
}

/**
 * Returns copies of `bars` with `fundingRate` = the last settlement with ts ≤ bar close
 * (bar.ts + intervalMs), NaN before the first one. Both inputs must be in time order (RangeError
 * otherwise). A settlement at exactly the close counts: it is published at that instant.
 */
export function attachSettledFunding(
  bars: readonly Bar[],
  settlements: readonly FundingSettlement[],
  intervalMs: number,
): Bar[] {
  for (let i = 1; i < settlements.length; i++) {
    if (!(settlements[i].ts > settlements[i - 1].ts)) {
      throw new RangeError(`funding settlements not in time order at index ${i}`);
    }
  }
  let j = -1;
  let prevTs = -Infinity;
  return bars.map((b, i) => {
    if (!(b.ts > prevTs)) throw new RangeError(`bars not in time order at index ${i}`);
    prevTs = b.ts;
    const close = b.ts + intervalMs;
    while (j + 1 < settlements.length && settlements[j + 1].ts <= close) j++;
    return { ...b, fundingRate: j >= 0 ? settlements[j].rate : NaN };
  });
}

/**
 * Turns a stream of exchange candle pushes (the forming bar repeated, then the next bar) into
 * closed bars: `push` returns the previous bar's last version when a push with a later start
 * arrives, else null. Pushes of other intervals are ignored; an older start is a RangeError.
 */
export class ClosedBarFilter {
  private cur: Bar | null = null;
  constructor(readonly interval: string) {}
  push(e: CandleEvent): Bar | null {
    if (e.interval !== this.interval) return null;
    const bar: Bar = {
      ts: e.ts,
      open: e.open,
      high: e.high,
      low: e.low,
      close: e.close,
      volume: e.volume,
    };
    const cur = this.cur;
    if (cur === null || e.ts === cur.ts) {
      this.cur = bar;
      return null;
    }
    if (e.ts < cur.ts) {
      throw new RangeError(`candle ${e.symbol} ${e.interval}: start ${e.ts} before ${cur.ts}`);
    }
    this.cur = bar;
    return cur;
  }
}
