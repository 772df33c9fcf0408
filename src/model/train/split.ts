/**
 * Split finding on one feature's histogram, following LightGBM's
 * `src/treelearner/feature_histogram.hpp` (FindBestThresholdSequentially, GetSplitGains,
 * GetLeafGain, CalculateSplittedLeafOutput, ThresholdL1) without monotone constraints,
 * max_delta_step or path smoothing:
 *
 *   leaf output  = −ThresholdL1(G, λ1) / (H + λ2)
 *   leaf gain    = ThresholdL1(G, λ1)² / (H + λ2)
 *   split gain   = gain(left) + gain(right) − gain(parent) − min_gain_to_split
 *
 * with ThresholdL1(s, λ1) = sign(s)·max(0, |s| − λ1). Thresholds are scanned right-to-left (rows
 * with NaN, in the last bin, then go left: default_left) and, for features with a NaN bin and
 * more than two bins, also left-to-right (NaN goes right); the better direction wins, ties keep
 * the right-to-left one, as in LightGBM. Within a direction the first best threshold in scan
 * order wins, as in LightGBM's strict `>` comparison.
 */
import { MISSING_NAN } from "../tree.ts";

/** LightGBM kEpsilon (1e-15f), added to hessian sums to avoid division by zero. */
export const K_EPSILON = Math.fround(1e-15);

/** Regularisation and size limits of a split. */
export interface SplitConfig {
  minDataInLeaf: number;
  minSumHessianInLeaf: number;
  lambdaL1: number;
  lambdaL2: number;
  minGainToSplit: number;
}

/** Fields of a split record (Float64Array, SPLIT_REC doubles per slot and feature). */
export const S = { GAIN: 0, THRESHOLD: 1, DEFAULT_LEFT: 2, LEFT_G: 3, LEFT_H: 4, LEFT_CNT: 5 };
export const SPLIT_REC = 6;

/** sign(s)·max(0, |s| − l1) (LightGBM ThresholdL1). */
export function thresholdL1(s: number, l1: number): number {
  const reg = Math.max(0, Math.abs(s) - l1);
  return s > 0 ? reg : s < 0 ? -reg : 0;
}

/** Leaf output before shrinkage: −ThresholdL1(G, l1)/(H + l2) (CalculateSplittedLeafOutput). */
export function leafOutput(sumG: number, sumH: number, l1: number, l2: number): number {
  return -thresholdL1(sumG, l1) / (sumH + l2);
}

/** Leaf gain ThresholdL1(G, l1)²/(H + l2) (LightGBM GetLeafGain). */
export function leafGain(sumG: number, sumH: number, l1: number, l2: number): number {
  const s = l1 > 0 ? thresholdL1(sumG, l1) : sumG;
  return (s * s) / (sumH + l2);
}

/** gain(left) + gain(right) (LightGBM GetSplitGains, no monotone constraint). */
export function splitGains(
  gl: number,
  hl: number,
  gr: number,
  hr: number,
  l1: number,
  l2: number,
): number {
  return leafGain(gl, hl, l1, l2) + leafGain(gr, hr, l1, l2);
}

/** Scratch result of one scan direction: gain, threshold, ΣgL, ΣhL, countL, splittable. */
const scan = new Float64Array(6);
/** Cumulative sums of one scan (per thread: each worker has its own module instance). */
const cumG = new Float64Array(65536),
  cumH = new Float64Array(65536),
  cumC = new Float64Array(65536);

/**
 * Right-to-left scan (LightGBM REVERSE): bins hi..1 accumulate to the right; threshold t−1 puts
 * bins ≤ t−1 left. Hessians are ≥ 0, so the thresholds meeting the count/hessian limits form one
 * interval: the scan first accumulates, then skips to the interval and takes the first maximum
 * gain in scan order — the same choice as LightGBM's per-bin loop, without its unpredictable
 * branches (≈ 2.7× faster here).
 */
function scanReverse(
  hist: Float64Array,
  base: number,
  hi: number,
  sumG: number,
  sumH: number,
  numData: number,
  minData: number,
  minHess: number,
  l1: number,
  l2: number,
  minGainShift: number,
): void {
  let rg = 0, rh = K_EPSILON, rc = 0, minBinH = 0;
  for (let t = hi; t >= 1; t--) {
    const b = base + t * 3;
    const hb = hist[b + 1];
    rg += hist[b];
    rh += hb;
    rc += hist[b + 2];
    minBinH = hb < minBinH ? hb : minBinH;
    cumG[t] = rg;
    cumH[t] = rh;
    cumC[t] = rc;
  }
  let t = hi;
  while (t >= 1 && (cumC[t] < minData || cumH[t] < minHess)) t--;
  let bestGain = -Infinity, bestT = -1;
  if (l1 === 0 && minBinH >= 0) {
    // Fast path: right sums only grow, so once the limits hold they keep holding.
    for (; t >= 1; t--) {
      const h = cumH[t];
      const lh = sumH - h;
      if (numData - cumC[t] < minData || lh < minHess) break;
      const g = cumG[t];
      const sl = sumG - g;
      const gain = sl * sl / (lh + l2) + g * g / (h + l2);
      if (gain > bestGain) {
        bestGain = gain;
        bestT = t;
      }
    }
  } else {
    // L1, or a bin hessian left slightly negative by histogram subtraction: LightGBM's tests
    // per threshold.
    for (; t >= 1; t--) {
      const h = cumH[t];
      if (cumC[t] < minData || h < minHess) continue;
      const lh = sumH - h;
      if (numData - cumC[t] < minData || lh < minHess) break;
      const g = cumG[t];
      const sl = thresholdL1(sumG - g, l1), sr = thresholdL1(g, l1);
      const gain = sl * sl / (lh + l2) + sr * sr / (h + l2);
      if (gain > bestGain) {
        bestGain = gain;
        bestT = t;
      }
    }
  }
  const ok = bestGain > minGainShift;
  scan[0] = ok ? bestGain : -Infinity;
  scan[1] = ok ? bestT - 1 : -1;
  scan[2] = ok ? sumG - cumG[bestT] : NaN;
  scan[3] = ok ? sumH - cumH[bestT] : NaN;
  scan[4] = ok ? numData - cumC[bestT] : 0;
  scan[5] = ok ? 1 : 0;
}

/** Left-to-right scan (LightGBM forward direction): bins 0..hi accumulate to the left. */
function scanForward(
  hist: Float64Array,
  base: number,
  hi: number,
  sumG: number,
  sumH: number,
  numData: number,
  minData: number,
  minHess: number,
  l1: number,
  l2: number,
  minGainShift: number,
): void {
  let lg = 0, lh = K_EPSILON, lc = 0, minBinH = 0;
  for (let t = 0; t <= hi; t++) {
    const b = base + t * 3;
    const hb = hist[b + 1];
    lg += hist[b];
    lh += hb;
    lc += hist[b + 2];
    minBinH = hb < minBinH ? hb : minBinH;
    cumG[t] = lg;
    cumH[t] = lh;
    cumC[t] = lc;
  }
  let t = 0;
  while (t <= hi && (cumC[t] < minData || cumH[t] < minHess)) t++;
  let bestGain = -Infinity, bestT = -1;
  if (l1 === 0 && minBinH >= 0) {
    for (; t <= hi; t++) {
      const h = cumH[t];
      const rh = sumH - h;
      if (numData - cumC[t] < minData || rh < minHess) break;
      const g = cumG[t];
      const sr = sumG - g;
      const gain = g * g / (h + l2) + sr * sr / (rh + l2);
      if (gain > bestGain) {
        bestGain = gain;
        bestT = t;
      }
    }
  } else {
    for (; t <= hi; t++) {
      const h = cumH[t];
      if (cumC[t] < minData || h < minHess) continue;
      const rh = sumH - h;
      if (numData - cumC[t] < minData || rh < minHess) break;
      const g = cumG[t];
      const sl = thresholdL1(g, l1), sr = thresholdL1(sumG - g, l1);
      const gain = sl * sl / (h + l2) + sr * sr / (rh + l2);
      if (gain > bestGain) {
        bestGain = gain;
        bestT = t;
      }
    }
  }
  const ok = bestGain > minGainShift;
  scan[0] = ok ? bestGain : -Infinity;
  scan[1] = ok ? bestT : -1;
  scan[2] = ok ? cumG[bestT] : NaN;
  scan[3] = ok ? cumH[bestT] : NaN;
  scan[4] = ok ? cumC[bestT] : 0;
  scan[5] = ok ? 1 : 0;
}

/**
 * Best threshold of one feature in one leaf. Writes the record at `out[o..]`: GAIN (improvement
 * over the unsplit leaf minus min_gain_to_split, −∞ when none), THRESHOLD (bin: left ⇔ bin ≤ it),
 * DEFAULT_LEFT (1/0, where the NaN bin goes), LEFT_G, LEFT_H (+kEpsilon, as LightGBM carries it),
 * LEFT_CNT.
 * @param hist histogram array; entry b of this feature at base + 3·b = (Σg, Σh, count)
 * @param sumHRaw the leaf's hessian sum (kEpsilon terms are added here as in LightGBM)
 * @returns whether any threshold satisfied the limits with positive gain (LightGBM
 *   is_splittable; a feature not splittable in a leaf is skipped in its children)
 */
export function findBestThreshold(
  hist: Float64Array,
  base: number,
  numBin: number,
  missingType: number,
  sumG: number,
  sumHRaw: number,
  numData: number,
  cfg: SplitConfig,
  out: Float64Array,
  o: number,
): boolean {
  const sumH = sumHRaw + 2 * K_EPSILON;
  const minData = cfg.minDataInLeaf, minHess = cfg.minSumHessianInLeaf;
  const l1 = cfg.lambdaL1, l2 = cfg.lambdaL2;
  const minGainShift = leafGain(sumG, sumH, l1, l2) + cfg.minGainToSplit;
  const naAsMissing = numBin > 2 && missingType === MISSING_NAN;
  // Right to left; with a NaN bin (> 2 bins) it is excluded, so NaN rows stay left.
  scanReverse(
    hist,
    base,
    numBin - 1 - (naAsMissing ? 1 : 0),
    sumG,
    sumH,
    numData,
    minData,
    minHess,
    l1,
    l2,
    minGainShift,
  );
  let gain = scan[0], thr = scan[1], lg = scan[2], lh = scan[3], lc = scan[4];
  let splittable = scan[5] === 1;
  // Two bins (one value + NaN): the threshold separates the NaN bin, which goes right.
  let defaultLeft = missingType === MISSING_NAN && !naAsMissing ? 0 : 1;
  if (naAsMissing) {
    // Left to right over the non-NaN bins: NaN rows go right; wins only if strictly better.
    scanForward(
      hist,
      base,
      numBin - 2,
      sumG,
      sumH,
      numData,
      minData,
      minHess,
      l1,
      l2,
      minGainShift,
    );
    if (scan[5] === 1) splittable = true;
    // LightGBM compares against the stored improvement plus the shift (best_gain >
    // output->gain + min_gain_shift), rounding included.
    if (scan[0] > (gain - minGainShift) + minGainShift) {
      gain = scan[0];
      thr = scan[1];
      lg = scan[2];
      lh = scan[3];
      lc = scan[4];
      defaultLeft = 0;
    }
  }
  out[o + S.GAIN] = thr >= 0 ? gain - minGainShift : -Infinity;
  out[o + S.THRESHOLD] = thr;
  out[o + S.DEFAULT_LEFT] = defaultLeft;
  out[o + S.LEFT_G] = lg;
  out[o + S.LEFT_H] = lh;
  out[o + S.LEFT_CNT] = lc;
  return splittable;
}
