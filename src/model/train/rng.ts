/**
 * LightGBM's pseudo-random generator (`include/LightGBM/utils/random.h`): a 32-bit linear
 * congruential generator x ← 214013·x + 2531011 (mod 2³²). Reproducing it exactly means the same
 * `seed` derives the same sub-seeds as LightGBM (seed=42 → data_random_seed 175, bagging_seed 400,
 * feature_fraction_seed 30056) and the same row/feature samples.
 */
export class LgbRandom {
  private x: number;

  constructor(seed: number) {
    this.x = seed >>> 0;
  }

  private randInt16(): number {
    this.x = (Math.imul(214013, this.x) + 2531011) >>> 0;
    return (this.x >>> 16) & 0x7fff;
  }

  private randInt32(): number {
    this.x = (Math.imul(214013, this.x) + 2531011) >>> 0;
    return this.x & 0x7fffffff;
  }

  /** Integer in [lo, hi) from the 15-bit stream (LightGBM NextShort). */
  nextShort(lo: number, hi: number): number {
    return (this.randInt16() % (hi - lo)) + lo;
  }

  /** Integer in [lo, hi) from the 31-bit stream (LightGBM NextInt). */
  nextInt(lo: number, hi: number): number {
    return (this.randInt32() % (hi - lo)) + lo;
  }

  /** Float in [0, 1) with 15-bit resolution, rounded to float32 as LightGBM does. */
  nextFloat(): number {
    return Math.fround(this.randInt16() / 32768);
  }

  /**
   * K distinct sorted indices from {0..N−1} (LightGBM Random::Sample): sequential selection when
   * K is a large share of N, rejection sampling into a set otherwise.
   */
  sample(n: number, k: number): number[] {
    const ret: number[] = [];
    if (k > n || k <= 0) return ret;
    if (k === n) {
      for (let i = 0; i < n; i++) ret.push(i);
    } else if (k > 1 && k > n / Math.log2(k)) {
      for (let i = 0; i < n; i++) {
        const prob = (k - ret.length) / (n - i);
        if (this.nextFloat() < prob) ret.push(i);
      }
    } else {
      const set = new Set<number>();
      while (set.size < k) set.add(this.randInt32() % n);
      ret.push(...[...set].sort((a, b) => a - b));
    }
    return ret;
  }
}

/** Sub-seeds LightGBM derives from `seed` (config.cpp), in its order of derivation. */
export interface DerivedSeeds {
  dataRandomSeed: number;
  baggingSeed: number;
  dropSeed: number;
  featureFractionSeed: number;
  objectiveSeed: number;
  extraSeed: number;
}

/** Derives LightGBM's sub-seeds from a master `seed` exactly as LightGBM's Config does. */
export function deriveSeeds(seed: number): DerivedSeeds {
  const r = new LgbRandom(seed);
  const max = 32767;
  return {
    dataRandomSeed: r.nextShort(0, max),
    baggingSeed: r.nextShort(0, max),
    dropSeed: r.nextShort(0, max),
    featureFractionSeed: r.nextShort(0, max),
    objectiveSeed: r.nextShort(0, max),
    extraSeed: r.nextShort(0, max),
  };
}
