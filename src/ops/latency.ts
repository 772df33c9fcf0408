/**
 * Fixed-memory latency histogram: 0.1 ms buckets up to `maxMs` (overflow in the last bucket), so
 * p50/p99 over millions of samples cost O(1) per sample and a constant 4 bytes × buckets.
 */
export class LatencyHistogram {
  private readonly counts: Uint32Array;
  private n = 0;
  private max = 0;

  /** @param maxMs largest latency resolved (ms); larger samples count as `maxMs`. */
  constructor(private readonly maxMs = 60_000, private readonly resolutionMs = 0.1) {
    this.counts = new Uint32Array(Math.ceil(maxMs / resolutionMs) + 1);
  }

  /** Adds one sample (ms; negative values, from clock steps, count as 0). */
  add(ms: number): void {
    const v = ms > 0 ? ms : 0;
    const i = Math.min(this.counts.length - 1, Math.floor(v / this.resolutionMs));
    this.counts[i]++;
    this.n++;
    if (v > this.max) this.max = v;
  }

  get count(): number {
    return this.n;
  }

  /** Latency at quantile q ∈ [0, 1] (upper edge of its bucket, ms); NaN without samples. */
  quantile(q: number): number {
    if (this.n === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.n));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(this.max, (i + 1) * this.resolutionMs);
    }
    return this.max;
  }

  /** Non-empty buckets as [index, count] pairs (compact enough to post between threads). */
  sparse(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < this.counts.length; i++) {
      if (this.counts[i] > 0) out.push([i, this.counts[i]]);
    }
    return out;
  }

  /** Adds another histogram's `sparse()` (same resolution and range) into this one. */
  merge(sparse: readonly [number, number][]): void {
    for (const [i, c] of sparse) {
      if (i < 0 || i >= this.counts.length) continue;
      this.counts[i] += c;
      this.n += c;
      this.max = Math.max(this.max, (i + 1) * this.resolutionMs);
    }
  }

  summary(): { count: number; p50: number; p99: number; max: number } {
    return { count: this.n, p50: this.quantile(0.5), p99: this.quantile(0.99), max: this.max };
  }
}
