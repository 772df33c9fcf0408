/**
 * Rolling quantile of the last `n` pushes: the window is kept sorted (binary search + shift), so
 * a push costs O(n) element moves and a quantile O(1). Meant for per-bar series (a few hundred
 * values, updated once a bar), where this is far below a microsecond; no allocation after
 * construction.
 */

/** Quantile of the last `n` finite pushes (type 7 of Hyndman & Fan 1996, as R and NumPy default). */
export class RollingQuantile {
  private readonly ring: Float64Array;
  private readonly sorted: Float64Array;
  private head = -1;
  private filled = 0;

  /** @param n window length (pushes), an integer ≥ 1. */
  constructor(readonly n: number) {
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`RollingQuantile: n must be an integer ≥ 1, got ${n}`);
    }
    this.ring = new Float64Array(n);
    this.sorted = new Float64Array(n);
  }

  /** Adds `x` (must be finite: RangeError otherwise), dropping the oldest value once full. */
  push(x: number): void {
    if (!Number.isFinite(x)) {
      throw new RangeError(`RollingQuantile.push: need a finite value, got ${x}`);
    }
    const n = this.n;
    this.head = this.head + 1 === n ? 0 : this.head + 1;
    const s = this.sorted;
    let len = this.filled;
    if (len === n) {
      // Remove the value leaving the window from the sorted copy.
      const i = this.lowerBound(this.ring[this.head], len);
      s.copyWithin(i, i + 1, len);
      len--;
    } else this.filled++;
    this.ring[this.head] = x;
    const j = this.lowerBound(x, len);
    s.copyWithin(j + 1, j, len);
    s[j] = x;
  }

  /** First index in sorted[0..len) whose value is ≥ x. */
  private lowerBound(x: number, len: number): number {
    let lo = 0;
    let hi = len;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** True once `n` values were pushed. */
  get ready(): boolean {
    return this.filled === this.n;
  }

  /**
   * The q-quantile (q in [0, 1]) of the window: h = (n − 1)·q, value = s[⌊h⌋] + (h − ⌊h⌋)·
   * (s[⌊h⌋ + 1] − s[⌊h⌋]) over the sorted window s. NaN until the window is full.
   */
  quantile(q: number): number {
    if (!this.ready) return NaN;
    const h = (this.n - 1) * q;
    const lo = Math.floor(h);
    const s = this.sorted;
    if (lo >= this.n - 1) return s[this.n - 1];
    return s[lo] + (h - lo) * (s[lo + 1] - s[lo]);
  }

  reset(): void {
    this.head = -1;
    this.filled = 0;
  }
}
