/**
 * Streaming technical indicators: each is a small state machine updated once per bar/sample with
 * O(1) work and no allocation. A value is NaN until the indicator has seen enough inputs (the
 * warm-up stated on each class, counted in updates: "first value at update k" means the k-th
 * update, 1-based, returns the first finite value). Inputs must be finite (the engines validate).
 *
 * The batch path (training, backtests) runs these same objects over an array, so live and batch
 * values agree bit for bit by construction. Rolling building blocks live in `rolling.ts` and are
 * re-exported here.
 *
 * Seeding conventions follow the original authors and TA-Lib where they agree:
 * - EMA seeded with the SMA of its first n inputs (Murphy 1999, "Technical Analysis of the
 *   Financial Markets"; TA-Lib EMA).
 * - Wilder smoothing (RSI, ATR, ADX): first value is the simple mean (or sum for ADX's TR/DM) of
 *   the first n terms, then v ← v + (x − v)/n (Wilder 1978, "New Concepts in Technical Trading
 *   Systems"). The first bar only seeds the previous close, so RSI and ATR first appear at update
 *   n+1 and ADX at update 2n, as in TA-Lib.
 */
import { Lag, RollingStats, sqrtNonNeg } from "./rolling.ts";

export {
  Lag,
  RollingCorr,
  RollingMinMax,
  RollingSlope,
  RollingStats,
  sqrtNonNeg,
} from "./rolling.ts";

/** Exponential moving average, α = 2/(n+1), SMA seed. First value at update n. */
export class Ema {
  private readonly alpha: number;
  private count = 0;
  private sum = 0;
  value = NaN;
  constructor(readonly n: number) {
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`Ema: n must be an integer ≥ 1, got ${n}`);
    }
    this.alpha = 2 / (n + 1);
  }
  update(x: number): number {
    if (this.count < this.n) {
      this.sum += x;
      if (++this.count === this.n) this.value = this.sum / this.n;
    } else this.value += this.alpha * (x - this.value);
    return this.value;
  }
  reset(): void {
    this.count = 0;
    this.sum = 0;
    this.value = NaN;
  }
}

/** Simple moving average over n inputs (RollingStats mean). First value at update n. */
export class Sma {
  private readonly s: RollingStats;
  constructor(readonly n: number) {
    this.s = new RollingStats(n);
  }
  update(x: number): number {
    this.s.push(x);
    return this.s.mean();
  }
  reset(): void {
    this.s.reset();
  }
}

/**
 * Wilder's RSI(n) on closes: avgGain/avgLoss Wilder-smoothed; RSI = 100 − 100/(1 + RS).
 * avgLoss = 0 gives 100 (50 if avgGain is 0 too: no movement at all). First value at update n+1.
 */
export class Rsi {
  private prev = NaN;
  private count = 0;
  private gain = 0;
  private loss = 0;
  value = NaN;
  constructor(readonly n = 14) {}
  update(close: number): number {
    const prev = this.prev;
    this.prev = close;
    if (prev !== prev) return this.value;
    const d = close - prev;
    const g = d > 0 ? d : 0;
    const l = d < 0 ? -d : 0;
    const n = this.n;
    if (this.count < n) {
      this.gain += g;
      this.loss += l;
      if (++this.count < n) return this.value;
      this.gain /= n;
      this.loss /= n;
    } else {
      this.gain = (this.gain * (n - 1) + g) / n;
      this.loss = (this.loss * (n - 1) + l) / n;
    }
    if (this.loss === 0) this.value = this.gain === 0 ? 50 : 100;
    else this.value = 100 - 100 / (1 + this.gain / this.loss);
    return this.value;
  }
  reset(): void {
    this.prev = NaN;
    this.count = 0;
    this.gain = this.loss = 0;
    this.value = NaN;
  }
}

/**
 * MACD (Appel 1979): line = EMA_fast − EMA_slow of closes; signal = EMA_signal of the line (fed
 * from the first finite line value); histogram = line − signal. USDT units. Line first at update
 * `slow`, signal and histogram at update slow + signal − 1 (34 for 12/26/9).
 */
export class Macd {
  private readonly fast: Ema;
  private readonly slow: Ema;
  private readonly sig: Ema;
  line = NaN;
  signal = NaN;
  hist = NaN;
  constructor(fast = 12, slow = 26, signal = 9) {
    this.fast = new Ema(fast);
    this.slow = new Ema(slow);
    this.sig = new Ema(signal);
  }
  update(close: number): void {
    const f = this.fast.update(close);
    const s = this.slow.update(close);
    this.line = f - s;
    if (this.line === this.line) {
      this.signal = this.sig.update(this.line);
      this.hist = this.line - this.signal;
    }
  }
  reset(): void {
    this.fast.reset();
    this.slow.reset();
    this.sig.reset();
    this.line = this.signal = this.hist = NaN;
  }
}

/**
 * Bollinger Bands (Bollinger 2001, "Bollinger on Bollinger Bands"): middle = SMA_n, bands =
 * middle ± k·σ with σ the population standard deviation (as Bollinger specifies). %B = (close −
 * lower)/(upper − lower) (0.5 when the bands collapse, σ = 0); width = (upper − lower)/middle.
 * First value at update n.
 */
export class Bollinger {
  private readonly s: RollingStats;
  pctB = NaN;
  width = NaN;
  constructor(readonly n = 20, readonly k = 2) {
    this.s = new RollingStats(n);
  }
  update(close: number): void {
    this.s.push(close);
    const m = this.s.mean();
    const sd = this.s.std(0);
    const band = 2 * this.k * sd;
    this.pctB = band > 0 ? (close - (m - this.k * sd)) / band : m === m ? 0.5 : NaN;
    this.width = band / m;
  }
  reset(): void {
    this.s.reset();
    this.pctB = this.width = NaN;
  }
}

/** True range of a bar given the previous close (Wilder 1978); h − l when prevClose is NaN. */
export function trueRange(high: number, low: number, prevClose: number): number {
  if (prevClose !== prevClose) return high - low;
  return Math.max(high - low, Math.abs(high - prevClose), Math.abs(low - prevClose));
}

/**
 * Wilder's ATR(n) in price units: TR from the second bar on, first ATR = mean of the first n TRs,
 * then ATR ← (ATR·(n−1) + TR)/n. First value at update n+1.
 */
export class Atr {
  private prevClose = NaN;
  private count = 0;
  private sum = 0;
  value = NaN;
  constructor(readonly n = 14) {}
  update(high: number, low: number, close: number): number {
    const pc = this.prevClose;
    this.prevClose = close;
    if (pc !== pc) return this.value;
    const tr = trueRange(high, low, pc);
    if (this.count < this.n) {
      this.sum += tr;
      if (++this.count === this.n) this.value = this.sum / this.n;
    } else this.value = (this.value * (this.n - 1) + tr) / this.n;
    return this.value;
  }
  reset(): void {
    this.prevClose = NaN;
    this.count = 0;
    this.sum = 0;
    this.value = NaN;
  }
}

/**
 * Wilder's directional movement system, ADX(n) with +DI, −DI and DX (Wilder 1978).
 * +DM = up if up > down and up > 0 else 0 (up = h − h₋₁, down = l₋₁ − l), −DM symmetric.
 * TRₙ, +DMₙ, −DMₙ: first = sum of the first n values (bars 2..n+1), then S ← S − S/n + x.
 * +DI = 100·+DMₙ/TRₙ, −DI likewise (0 when TRₙ = 0); DX = 100·|+DI − −DI|/(+DI + −DI) (0 when
 * both are 0). ADX = mean of the first n DX, then Wilder-smoothed. DI/DX first at update n+1,
 * ADX at update 2n.
 */
export class Adx {
  private prevHigh = NaN;
  private prevLow = NaN;
  private prevClose = NaN;
  private count = 0;
  private tr = 0;
  private pdm = 0;
  private mdm = 0;
  private dxCount = 0;
  private dxSum = 0;
  plusDi = NaN;
  minusDi = NaN;
  dx = NaN;
  adx = NaN;
  constructor(readonly n = 14) {}
  update(high: number, low: number, close: number): void {
    const ph = this.prevHigh;
    const pl = this.prevLow;
    const pc = this.prevClose;
    this.prevHigh = high;
    this.prevLow = low;
    this.prevClose = close;
    if (pc !== pc) return;
    const up = high - ph;
    const down = pl - low;
    const pdm = up > down && up > 0 ? up : 0;
    const mdm = down > up && down > 0 ? down : 0;
    const tr = trueRange(high, low, pc);
    const n = this.n;
    if (this.count < n) {
      this.tr += tr;
      this.pdm += pdm;
      this.mdm += mdm;
      if (++this.count < n) return;
    } else {
      this.tr = this.tr - this.tr / n + tr;
      this.pdm = this.pdm - this.pdm / n + pdm;
      this.mdm = this.mdm - this.mdm / n + mdm;
    }
    this.plusDi = this.tr > 0 ? (100 * this.pdm) / this.tr : 0;
    this.minusDi = this.tr > 0 ? (100 * this.mdm) / this.tr : 0;
    const s = this.plusDi + this.minusDi;
    this.dx = s > 0 ? (100 * Math.abs(this.plusDi - this.minusDi)) / s : 0;
    if (this.dxCount < n) {
      this.dxSum += this.dx;
      if (++this.dxCount === n) this.adx = this.dxSum / n;
    } else this.adx = (this.adx * (n - 1) + this.dx) / n;
  }
  reset(): void {
    this.prevHigh = this.prevLow = this.prevClose = NaN;
    this.count = this.dxCount = 0;
    this.tr =
      this.pdm =
      this.mdm =
      this.dxSum =
        0;
    this.plusDi =
      this.minusDi =
      this.dx =
      this.adx =
        NaN;
  }
}

/**
 * On-balance volume (Granville 1963): OBV₀ = 0, OBV ← OBV + sign(close − close₋₁)·volume.
 * Finite from update 1.
 */
export class Obv {
  private prevClose = NaN;
  value = NaN;
  update(close: number, volume: number): number {
    const pc = this.prevClose;
    this.prevClose = close;
    if (pc !== pc) this.value = 0;
    else if (close > pc) this.value += volume;
    else if (close < pc) this.value -= volume;
    return this.value;
  }
  reset(): void {
    this.prevClose = NaN;
    this.value = NaN;
  }
}

/** Rate of change in percent: 100·(xₜ/xₜ₋ₙ − 1). First value at update n+1. */
export class Roc {
  private readonly lag: Lag;
  constructor(readonly n = 10) {
    this.lag = new Lag(n);
  }
  update(x: number): number {
    this.lag.push(x);
    return 100 * (x / this.lag.ago(this.n) - 1);
  }
  reset(): void {
    this.lag.reset();
  }
}

/**
 * Realised volatility over the last n log returns rᵢ = ln(xᵢ/xᵢ₋₁): `sumSq()` = Σr², `value()` =
 * √Σr² (Andersen & Bollerslev 1998), both in log-return units (multiply by 1e4 for bps).
 * First value at update n+1.
 */
export class RealizedVol {
  private prev = NaN;
  private readonly sq: RollingStats;
  constructor(readonly n: number) {
    this.sq = new RollingStats(n);
  }
  update(x: number): void {
    const p = this.prev;
    this.prev = x;
    if (p !== p) return;
    const r = Math.log(x / p);
    this.sq.push(r * r);
  }
  /** Σr² (≥ 0; rounding residue of an all-zero window is returned as 0). */
  sumSq(): number {
    const s = this.sq.sum();
    return s > 0 ? s : s === s ? 0 : NaN;
  }
  value(): number {
    return sqrtNonNeg(this.sq.sum());
  }
  reset(): void {
    this.prev = NaN;
    this.sq.reset();
  }
}

/**
 * Parkinson (1980) range volatility, per-bar σ in log-return units:
 * σ² = Σ ln(H/L)² / (4·n·ln 2) over the last n bars. First value at update n.
 */
export class ParkinsonVol {
  private readonly s: RollingStats;
  constructor(readonly n = 20) {
    this.s = new RollingStats(n);
  }
  update(high: number, low: number): number {
    const hl = Math.log(high / low);
    this.s.push(hl * hl);
    return sqrtNonNeg(this.s.sum() / (4 * this.n * Math.LN2));
  }
  reset(): void {
    this.s.reset();
  }
}

/**
 * Garman & Klass (1980) OHLC volatility, per-bar σ in log-return units:
 * σ² = (1/n)·Σ [½·ln(H/L)² − (2 ln 2 − 1)·ln(C/O)²] over the last n bars (each term ≥ 0 since
 * |ln(C/O)| ≤ ln(H/L)). First value at update n.
 */
export class GarmanKlassVol {
  private readonly s: RollingStats;
  constructor(readonly n = 20) {
    this.s = new RollingStats(n);
  }
  update(open: number, high: number, low: number, close: number): number {
    const hl = Math.log(high / low);
    const co = Math.log(close / open);
    this.s.push(0.5 * hl * hl - (2 * Math.LN2 - 1) * co * co);
    return sqrtNonNeg(this.s.mean());
  }
  reset(): void {
    this.s.reset();
  }
}

/**
 * Rolling z-score: (x − mean)/σ_sample over the last n pushes including x (0 when σ = 0, NaN
 * while the window is not full or holds a NaN). First value at update n.
 */
export class ZScore {
  private readonly s: RollingStats;
  constructor(readonly n: number) {
    this.s = new RollingStats(n);
  }
  update(x: number): number {
    this.s.push(x);
    return x === x ? this.s.zscore(x) : NaN;
  }
  reset(): void {
    this.s.reset();
  }
}
