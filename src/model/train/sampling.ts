/**
 * Row and feature subsampling with LightGBM's semantics and random streams:
 * bagging (`bagging_fraction`, `bagging_freq`; src/boosting/bagging.hpp: each row kept with
 * probability bagging_fraction, one Random per 1024-row block seeded bagging_seed + block, in-bag
 * rows in ascending order) and per-tree feature sampling (`feature_fraction`; col_sampler.hpp:
 * round(fraction × usable features), at least 2, drawn by Random(feature_fraction_seed).Sample).
 */
import type { TrainParams } from "./params.ts";
import { LgbRandom } from "./rng.ts";

/** LightGBM col_sampler: per-tree feature subset, or all features when fraction is 1. */
export function sampleFeatures(
  p: TrainParams,
  nu: number,
  rng: LgbRandom,
  all: Int32Array,
): Int32Array {
  if (p.featureFraction >= 1) return all;
  const cnt = Math.max(Math.round(nu * p.featureFraction), Math.min(2, nu));
  return Int32Array.from(rng.sample(nu, cnt));
}

/** Row subsampling state (LightGBM bagging with per-1024-row-block generators). */
export class Bagger {
  private readonly rngs: LgbRandom[] = [];
  private readonly rows: Int32Array;
  private count = 0;
  private readonly active: boolean;

  constructor(private readonly n: number, private readonly p: TrainParams) {
    this.active = p.baggingFreq > 0 && p.baggingFraction < 1;
    this.rows = new Int32Array(this.active ? n : 0);
    if (this.active) {
      for (let b = 0; b < Math.ceil(n / 1024); b++) {
        this.rngs.push(new LgbRandom(p.baggingSeed + b));
      }
    }
  }

  /** The bag for iteration `iter` (resampled every bagging_freq iterations), or null. */
  bag(iter: number): { rows: Int32Array; count: number } | null {
    if (!this.active) return null;
    if (iter % this.p.baggingFreq === 0) {
      let c = 0;
      const frac = this.p.baggingFraction;
      for (let i = 0; i < this.n; i++) {
        if (this.rngs[i >> 10].nextFloat() < frac) this.rows[c++] = i;
      }
      this.count = c;
    }
    return { rows: this.rows, count: this.count };
  }
}
