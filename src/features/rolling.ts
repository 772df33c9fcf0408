/**
 * Fixed-length rolling-window state machines with O(1) (amortized) updates: lag, sum/mean/
 * variance, z-score, min/max, OLS slope and Pearson correlation. The streaming indicators
 * (`indicators.ts`) and both feature engines are built from these.
 *
 * Numerical drift. Sliding sums are updated by adding the new value and subtracting the one that
 * leaves; rounding errors of those subtractions would accumulate without bound over a long live
 * run. Every class here therefore recomputes its sums from the ring buffer once every `n` pushes
 * (amortized O(1)), which bounds the drift to what `n` incremental steps can produce. Variance and
 * covariance use the shifted-data method (sums of x − K with K a recent value, Chan, Golub &
 * LeVeque 1983, "Algorithms for computing the sample variance") so that a 20-bar variance of
 * prices near 1e5 USDT does not cancel catastrophically in Σx² − (Σx)²/n.
 *
 * Missing inputs. A NaN push is stored as missing; any statistic whose window holds a missing
 * value, or that is not yet full, is NaN. This is how warm-up and absent inputs (e.g. no ticker
 * yet) propagate: a feature is either computed over a complete window or NaN, never over a partial
 * one. Because everything is a deterministic function of the pushed sequence, running the same
 * sequence twice (live, then batch) gives bit-identical results.
 */

/**
 * √x for a sum of non-negative terms kept as a running sum: rounding can leave a tiny negative
 * residue when every term in the window is 0, which is returned as 0. NaN stays NaN.
 */
export function sqrtNonNeg(x: number): number {
  return x > 0 ? Math.sqrt(x) : x === x ? 0 : NaN;
}

/** Values of the last `n` pushes; `ago(k)` is the value pushed k steps before the latest. */
export class Lag {
  private readonly buf: Float64Array;
  private head = -1;
  private count = 0;
  /** @param n how many past values are kept (k in `ago(k)` ranges over 0..n). */
  constructor(readonly n: number) {
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`Lag: n must be an integer ≥ 1, got ${n}`);
    }
    this.buf = new Float64Array(n + 1);
  }
  push(x: number): void {
    this.head = (this.head + 1) % this.buf.length;
    this.buf[this.head] = x;
    if (this.count < this.buf.length) this.count++;
  }
  /** Value pushed `k` steps before the latest (k = 0 is the latest); NaN if not available. */
  ago(k: number): number {
    if (k >= this.count || k < 0) return NaN;
    const i = (this.head - k + this.buf.length) % this.buf.length;
    return this.buf[i];
  }
  reset(): void {
    this.head = -1;
    this.count = 0;
  }
}

/**
 * Rolling sum, mean and variance over the last `n` pushes (shifted running sums, recomputed from
 * the buffer every `n` pushes; see file doc). `std(0)` is the population σ, `std(1)` the sample σ.
 */
export class RollingStats {
  private readonly buf: Float64Array;
  private head = -1;
  private filled = 0;
  private missing = 0;
  private zeros = 0;
  private shift = NaN;
  private s1 = 0;
  private s2 = 0;
  private sinceRecompute = 0;

  constructor(readonly n: number) {
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`RollingStats: n must be an integer ≥ 1, got ${n}`);
    }
    this.buf = new Float64Array(n);
  }

  push(x: number): void {
    const n = this.n;
    this.head = this.head + 1 === n ? 0 : this.head + 1;
    if (this.filled === n) {
      const old = this.buf[this.head];
      if (old === 0) this.zeros--;
      if (old !== old) this.missing--;
      else {
        const d = old - this.shift;
        this.s1 -= d;
        this.s2 -= d * d;
      }
    } else this.filled++;
    this.buf[this.head] = x;
    if (x === 0) this.zeros++;
    if (x !== x) this.missing++;
    else {
      if (this.shift !== this.shift) this.shift = x;
      const d = x - this.shift;
      this.s1 += d;
      this.s2 += d * d;
    }
    if (++this.sinceRecompute >= n) this.recompute(x);
  }

  private recompute(latest: number): void {
    this.sinceRecompute = 0;
    if (latest === latest) this.shift = latest;
    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < this.filled; i++) {
      const v = this.buf[i];
      if (v === v) {
        const d = v - this.shift;
        s1 += d;
        s2 += d * d;
      }
    }
    this.s1 = s1;
    this.s2 = s2;
  }

  /** True when the window holds `n` values and none is missing. */
  get ready(): boolean {
    return this.filled === this.n && this.missing === 0;
  }
  /**
   * Σx over the window, NaN unless ready. A window of exact zeros (a flat market's returns or an
   * idle second's volume) gives exactly 0, not the rounding residue of the running sum.
   */
  sum(): number {
    if (!this.ready) return NaN;
    return this.zeros === this.n ? 0 : this.s1 + this.n * this.shift;
  }
  mean(): number {
    if (!this.ready) return NaN;
    return this.zeros === this.n ? 0 : this.shift + this.s1 / this.n;
  }
  /** Variance with `ddof` degrees of freedom removed (0 population, 1 sample); clamped ≥ 0. */
  variance(ddof: 0 | 1): number {
    if (!this.ready || this.n - ddof <= 0) return NaN;
    if (this.zeros === this.n) return 0;
    const v = (this.s2 - (this.s1 * this.s1) / this.n) / (this.n - ddof);
    return v > 0 ? v : 0;
  }
  std(ddof: 0 | 1): number {
    return Math.sqrt(this.variance(ddof));
  }
  /**
   * z-score of `x` against the window (sample σ): (x − mean)/σ. A window with σ = 0 holds only
   * equal values, so x (normally the latest push) sits at the mean: 0 is returned, not ±∞.
   */
  zscore(x: number): number {
    const sd = this.std(1);
    if (sd !== sd) return NaN;
    if (sd === 0) return 0;
    return (x - this.mean()) / sd;
  }
  reset(): void {
    this.head = -1;
    this.filled = 0;
    this.missing = 0;
    this.zeros = 0;
    this.shift = NaN;
    this.s1 = 0;
    this.s2 = 0;
    this.sinceRecompute = 0;
  }
}

/**
 * Rolling minimum and maximum over the last `n` pushes with monotonic deques (amortized O(1),
 * each index enters and leaves each deque once). Inputs must be finite.
 */
export class RollingMinMax {
  private readonly vals: Float64Array;
  private readonly maxQ: Int32Array;
  private readonly minQ: Int32Array;
  private maxHead = 0;
  private maxLen = 0;
  private minHead = 0;
  private minLen = 0;
  private t = -1;

  constructor(readonly n: number) {
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`RollingMinMax: n must be an integer ≥ 1, got ${n}`);
    }
    this.vals = new Float64Array(n);
    this.maxQ = new Int32Array(n);
    this.minQ = new Int32Array(n);
  }

  push(x: number): void {
    const n = this.n;
    const t = ++this.t;
    this.vals[t % n] = x;
    // Drop indices that left the window, then those dominated by x (from the back).
    if (this.maxLen > 0 && this.maxQ[this.maxHead] <= t - n) {
      this.maxHead = (this.maxHead + 1) % n;
      this.maxLen--;
    }
    while (this.maxLen > 0) {
      const back = this.maxQ[(this.maxHead + this.maxLen - 1) % n];
      if (this.vals[back % n] <= x) this.maxLen--;
      else break;
    }
    this.maxQ[(this.maxHead + this.maxLen) % n] = t;
    this.maxLen++;
    if (this.minLen > 0 && this.minQ[this.minHead] <= t - n) {
      this.minHead = (this.minHead + 1) % n;
      this.minLen--;
    }
    while (this.minLen > 0) {
      const back = this.minQ[(this.minHead + this.minLen - 1) % n];
      if (this.vals[back % n] >= x) this.minLen--;
      else break;
    }
    this.minQ[(this.minHead + this.minLen) % n] = t;
    this.minLen++;
  }
  get ready(): boolean {
    return this.t + 1 >= this.n;
  }
  /** Max over the last n pushes (NaN until n pushes were seen). */
  max(): number {
    return this.ready ? this.vals[this.maxQ[this.maxHead] % this.n] : NaN;
  }
  /** Min over the last n pushes (NaN until n pushes were seen). */
  min(): number {
    return this.ready ? this.vals[this.minQ[this.minHead] % this.n] : NaN;
  }
  reset(): void {
    this.t = -1;
    this.maxHead =
      this.maxLen =
      this.minHead =
      this.minLen =
        0;
  }
}

/**
 * Ordinary-least-squares slope of the last `n` values against their position 0..n−1 (units of y
 * per push). Keeps Σy and Σ i·y; a slide updates Σ i·y ← Σ i·y − (Σy − y_old) + (n−1)·y_new.
 * slope = (Σ i·y − (n−1)/2 · Σy) / (n(n²−1)/12). Inputs must be finite; NaN until n pushes.
 */
export class RollingSlope {
  private readonly buf: Float64Array;
  private head = -1;
  private filled = 0;
  private sy = 0;
  private siy = 0;
  private sinceRecompute = 0;
  private readonly denom: number;

  constructor(readonly n: number) {
    if (!Number.isInteger(n) || n < 2) {
      throw new RangeError(`RollingSlope: n must be an integer ≥ 2, got ${n}`);
    }
    this.buf = new Float64Array(n);
    this.denom = (n * (n * n - 1)) / 12;
  }

  push(y: number): void {
    const n = this.n;
    this.head = this.head + 1 === n ? 0 : this.head + 1;
    if (this.filled === n) {
      const old = this.buf[this.head];
      this.siy = this.siy - (this.sy - old) + (n - 1) * y;
      this.sy += y - old;
    } else {
      this.siy += this.filled * y;
      this.sy += y;
      this.filled++;
    }
    this.buf[this.head] = y;
    if (++this.sinceRecompute >= n && this.filled === n) this.recompute();
  }

  private recompute(): void {
    this.sinceRecompute = 0;
    let sy = 0;
    let siy = 0;
    // Oldest value sits right after head.
    for (let i = 0; i < this.n; i++) {
      const v = this.buf[(this.head + 1 + i) % this.n];
      sy += v;
      siy += i * v;
    }
    this.sy = sy;
    this.siy = siy;
  }

  value(): number {
    if (this.filled < this.n) return NaN;
    return (this.siy - ((this.n - 1) / 2) * this.sy) / this.denom;
  }
  reset(): void {
    this.head = -1;
    this.filled = 0;
    this.sy = 0;
    this.siy = 0;
    this.sinceRecompute = 0;
  }
}

/**
 * Pearson correlation of paired values over the last `n` pushes (shifted running sums,
 * recomputed every n pushes). NaN until n pairs, or when either side has zero variance.
 * Inputs must be finite.
 */
export class RollingCorr {
  private readonly xs: Float64Array;
  private readonly ys: Float64Array;
  private head = -1;
  private filled = 0;
  private kx = NaN;
  private ky = NaN;
  private sx = 0;
  private sy = 0;
  private sxx = 0;
  private syy = 0;
  private sxy = 0;
  private sinceRecompute = 0;

  constructor(readonly n: number) {
    if (!Number.isInteger(n) || n < 2) {
      throw new RangeError(`RollingCorr: n must be an integer ≥ 2, got ${n}`);
    }
    this.xs = new Float64Array(n);
    this.ys = new Float64Array(n);
  }

  push(x: number, y: number): void {
    const n = this.n;
    this.head = this.head + 1 === n ? 0 : this.head + 1;
    if (this.kx !== this.kx) {
      this.kx = x;
      this.ky = y;
    }
    if (this.filled === n) this.add(this.xs[this.head], this.ys[this.head], -1);
    else this.filled++;
    this.xs[this.head] = x;
    this.ys[this.head] = y;
    this.add(x, y, 1);
    if (++this.sinceRecompute >= n) this.recompute(x, y);
  }

  private add(x: number, y: number, sign: 1 | -1): void {
    const dx = x - this.kx;
    const dy = y - this.ky;
    this.sx += sign * dx;
    this.sy += sign * dy;
    this.sxx += sign * dx * dx;
    this.syy += sign * dy * dy;
    this.sxy += sign * dx * dy;
  }

  private recompute(x: number, y: number): void {
    this.sinceRecompute = 0;
    this.kx = x;
    this.ky = y;
    this.sx =
      this.sy =
      this.sxx =
      this.syy =
      this.sxy =
        0;
    for (let i = 0; i < this.filled; i++) this.add(this.xs[i], this.ys[i], 1);
  }

  value(): number {
    if (this.filled < this.n) return NaN;
    const n = this.n;
    const vx = this.sxx - (this.sx * this.sx) / n;
    const vy = this.syy - (this.sy * this.sy) / n;
    if (!(vx > 0) || !(vy > 0)) return NaN;
    const c = (this.sxy - (this.sx * this.sy) / n) / Math.sqrt(vx * vy);
    // Rounding can push |c| a hair past 1.
    return c > 1 ? 1 : c < -1 ? -1 : c;
  }
  reset(): void {
    this.head = -1;
    this.filled = 0;
    this.kx = this.ky = NaN;
    this.sx =
      this.sy =
      this.sxx =
      this.syy =
      this.sxy =
        0;
    this.sinceRecompute = 0;
  }
}
