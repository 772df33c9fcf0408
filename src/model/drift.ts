/**
 * Feature drift by the population stability index (PSI), per feature, of a live window against
 * the rows a model was trained on:
 *
 *   PSI = Σᵢ (Aᵢ − Eᵢ) · ln(Aᵢ / Eᵢ)
 *
 * over bins i, with Eᵢ the share of training rows in bin i and Aᵢ the share of live rows
 * (Siddiqi, "Credit Risk Scorecards", Wiley 2006, ch. 8; the statistic's sampling properties in
 * Yurdakul, "Statistical Properties of Population Stability Index", WMU 2018). The bins are the
 * training data's deciles (edges = the k/`bins` quantiles, k = 1…bins−1; tied edges merged), plus
 * one bin for missing values (NaN), so a feature that starts or stops being missing drifts too.
 * Shares are floored at 1e-4 so an empty bin gives a large but finite term. The usual reading:
 * < 0.1 stable, 0.1–0.25 a moderate shift, > 0.25 a significant one (Siddiqi), hence the default
 * alarm threshold 0.25.
 */

/** Floor on a bin's share: keeps ln(A/E) finite for an empty bin. */
export const PSI_FLOOR = 1e-4;

/** One feature's bins from the training rows. */
export interface FeatureBins {
  name: string;
  /** Upper edges (inclusive), ascending: bin i holds v ≤ edges[i]; bin edges.length holds the rest. */
  edges: number[];
  /** Training share per bin: edges.length + 1 value bins, then the missing-value bin. */
  expected: number[];
}

/** Bin of `v`: 0…edges.length for finite values, edges.length + 1 for NaN / ±Infinity. */
export function binOf(edges: readonly number[], v: number): number {
  if (!Number.isFinite(v)) return edges.length + 1;
  let lo = 0, hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v <= edges[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** PSI of `actual` bin counts against `expected` shares (formula in the module doc). */
export function psi(expected: readonly number[], actual: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < actual.length; i++) n += actual[i];
  if (n === 0) return NaN;
  let s = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(expected[i], PSI_FLOOR);
    const a = Math.max(actual[i] / n, PSI_FLOOR);
    s += (a - e) * Math.log(a / e);
  }
  return s;
}

/**
 * The training-side reference of every feature. Build it with `fromRows` right after training
 * (from the training rows) or restore it from a bundle's `drift` section (`fromJSON`).
 */
export class DriftReference {
  constructor(readonly features: readonly FeatureBins[], readonly rows: number) {}

  /**
   * Bins from `n` row-major rows of `names.length` columns.
   * @throws RangeError when `bins` < 2 or the matrix is shorter than n × cols
   */
  static fromRows(
    values: ArrayLike<number>,
    n: number,
    names: readonly string[],
    bins = 10,
  ): DriftReference {
    const cols = names.length;
    if (!(bins >= 2)) throw new RangeError(`PSI bins must be ≥ 2, got ${bins}`);
    if (values.length < n * cols) {
      throw new RangeError(`PSI reference: ${values.length} values for ${n} × ${cols}`);
    }
    const out: FeatureBins[] = [];
    const col = new Float64Array(n);
    for (let j = 0; j < cols; j++) {
      let m = 0;
      for (let r = 0; r < n; r++) {
        const v = values[r * cols + j];
        if (Number.isFinite(v)) col[m++] = v;
      }
      const sorted = col.subarray(0, m).sort();
      const edges: number[] = [];
      for (let k = 1; k < bins && m > 0; k++) {
        const q = sorted[Math.min(m - 1, Math.ceil((k * m) / bins) - 1)];
        if (edges.length === 0 || q > edges[edges.length - 1]) edges.push(q);
      }
      const counts = new Float64Array(edges.length + 2);
      for (let r = 0; r < n; r++) counts[binOf(edges, values[r * cols + j])]++;
      out.push({ name: names[j], edges, expected: Array.from(counts, (c) => (n ? c / n : 0)) });
    }
    return new DriftReference(out, n);
  }

  /** Restores a reference saved with `toJSON` (a bundle's `drift` section). */
  static fromJSON(j: { rows: number; features: FeatureBins[] }): DriftReference {
    return new DriftReference(j.features, j.rows);
  }

  toJSON(): { rows: number; features: readonly FeatureBins[] } {
    return { rows: this.rows, features: this.features };
  }

  /**
   * PSI of every feature over `n` live rows (row-major, the reference's column order); NaN for
   * all when n = 0.
   */
  psiOf(values: ArrayLike<number>, n: number): Float64Array {
    const cols = this.features.length;
    const out = new Float64Array(cols);
    for (let j = 0; j < cols; j++) {
      const f = this.features[j];
      const counts = new Float64Array(f.expected.length);
      for (let r = 0; r < n; r++) counts[binOf(f.edges, values[r * cols + j])]++;
      out[j] = psi(f.expected, counts);
    }
    return out;
  }
}
