/**
 * Feature discretisation with LightGBM's numerical BinMapper semantics (`src/io/bin.cpp`:
 * BinMapper::FindBin, FindBinWithZeroAsOneBin, GreedyFindBin; docs "Optimization in Speed and
 * Memory Usage"): bins are built from a row sample (`bin_construct_sample_cnt`), zero gets its own
 * bin bounded by ±kZeroThreshold, at most `max_bin` bins with ≥ `min_data_in_bin` sample values
 * each, and NaN goes to an extra last bin (missing type NaN) when the sample contains NaN.
 * A bin's upper bound is the split threshold, so `value ≤ upperBound[b]` ⇔ `bin(value) ≤ b` and
 * models exported with these thresholds predict exactly as the binned trainer saw the data.
 */
import { MISSING_NAN, MISSING_NONE } from "../tree.ts";
import { radixSortF64 } from "./radix.ts";

/** LightGBM kZeroThreshold (1e-35f): |v| ≤ this counts as zero. */
export const K_ZERO_THRESHOLD = Math.fround(1e-35);

/** Bin boundaries of one numerical feature. */
export interface BinMapper {
  /** Number of bins including the NaN bin (if any). */
  numBin: number;
  /** MISSING_NONE (NaN is treated as 0) or MISSING_NAN (NaN → last bin). */
  missingType: number;
  /** Upper bound per bin (last finite bin: +Infinity; NaN bin: NaN). */
  upperBounds: Float64Array;
  /** Bin of the value 0. */
  defaultBin: number;
  /** Smallest / largest distinct sample value (for `feature_infos`). */
  minVal: number;
  maxVal: number;
  /** True when the feature cannot split (one bin, or filtered by `feature_pre_filter`). */
  isTrivial: boolean;
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LO = LITTLE ? 0 : 1;
const HI = LITTLE ? 1 : 0;

/** std::nextafter(x, +∞) (LightGBM Common::GetDoubleUpperBound). */
export function nextUp(x: number): number {
  if (Number.isNaN(x) || x === Infinity) return x;
  if (x === 0) return Number.MIN_VALUE;
  f64[0] = x;
  if (x > 0) {
    if (u32[LO] === 0xffffffff) {
      u32[LO] = 0;
      u32[HI]++;
    } else u32[LO]++;
  } else {
    if (u32[LO] === 0) {
      u32[LO] = 0xffffffff;
      u32[HI]--;
    } else u32[LO]--;
  }
  return f64[0];
}

/** LightGBM Common::CheckDoubleEqualOrdered for a ≤ b: b is within one ulp above a. */
function equalOrdered(a: number, b: number): boolean {
  return b === a || b <= nextUp(a);
}

/** LightGBM GreedyFindBin: bounds so each bin holds ≈ total/max_bin samples (≥ min_data_in_bin). */
export function greedyFindBin(
  distinct: ArrayLike<number>,
  counts: ArrayLike<number>,
  start: number,
  num: number,
  maxBin: number,
  totalCnt: number,
  minDataInBin: number,
): number[] {
  const ub: number[] = [];
  if (num <= maxBin) {
    let cur = 0;
    for (let i = 0; i < num - 1; i++) {
      cur += counts[start + i];
      if (cur >= minDataInBin) {
        const val = nextUp((distinct[start + i] + distinct[start + i + 1]) / 2);
        if (ub.length === 0 || !equalOrdered(ub[ub.length - 1], val)) {
          ub.push(val);
          cur = 0;
        }
      }
    }
    ub.push(Infinity);
    return ub;
  }
  if (minDataInBin > 0) {
    maxBin = Math.min(maxBin, Math.floor(totalCnt / minDataInBin));
    maxBin = Math.max(maxBin, 1);
  }
  let meanBinSize = totalCnt / maxBin;
  let restBinCnt = maxBin;
  let restSampleCnt = totalCnt;
  const isBig = new Uint8Array(num);
  for (let i = 0; i < num; i++) {
    if (counts[start + i] >= meanBinSize) {
      isBig[i] = 1;
      restBinCnt--;
      restSampleCnt -= counts[start + i];
    }
  }
  meanBinSize = restSampleCnt / restBinCnt;
  const upper = new Array<number>(maxBin).fill(Infinity);
  const lower = new Array<number>(maxBin).fill(Infinity);
  let binCnt = 0;
  lower[0] = distinct[start];
  let cur = 0;
  for (let i = 0; i < num - 1; i++) {
    if (!isBig[i]) restSampleCnt -= counts[start + i];
    cur += counts[start + i];
    if (
      isBig[i] || cur >= meanBinSize ||
      (isBig[i + 1] && cur >= Math.max(1.0, meanBinSize * 0.5))
    ) {
      upper[binCnt] = distinct[start + i];
      binCnt++;
      lower[binCnt] = distinct[start + i + 1];
      if (binCnt >= maxBin - 1) break;
      cur = 0;
      if (!isBig[i]) {
        restBinCnt--;
        meanBinSize = restSampleCnt / restBinCnt;
      }
    }
  }
  binCnt++;
  for (let i = 0; i < binCnt - 1; i++) {
    const val = nextUp((upper[i] + lower[i + 1]) / 2);
    if (ub.length === 0 || !equalOrdered(ub[ub.length - 1], val)) ub.push(val);
  }
  ub.push(Infinity);
  return ub;
}

/** LightGBM FindBinWithZeroAsOneBin: negatives, a zero bin (±kZeroThreshold), positives. */
function findBinWithZeroAsOneBin(
  distinct: Float64Array,
  counts: Float64Array,
  maxBin: number,
  totalSampleCnt: number,
  minDataInBin: number,
): number[] {
  const n = distinct.length;
  let leftCntData = 0, cntZero = 0, rightCntData = 0;
  for (let i = 0; i < n; i++) {
    if (distinct[i] <= -K_ZERO_THRESHOLD) leftCntData += counts[i];
    else if (distinct[i] > K_ZERO_THRESHOLD) rightCntData += counts[i];
    else cntZero += counts[i];
  }
  let leftCnt = -1;
  for (let i = 0; i < n; i++) {
    if (distinct[i] > -K_ZERO_THRESHOLD) {
      leftCnt = i;
      break;
    }
  }
  if (leftCnt < 0) leftCnt = n;
  let ub: number[] = [];
  if (leftCnt > 0 && maxBin > 1) {
    let leftMaxBin = Math.trunc(leftCntData / (totalSampleCnt - cntZero) * (maxBin - 1));
    leftMaxBin = Math.max(1, leftMaxBin);
    ub = greedyFindBin(distinct, counts, 0, leftCnt, leftMaxBin, leftCntData, minDataInBin);
    if (ub.length > 0) ub[ub.length - 1] = -K_ZERO_THRESHOLD;
  }
  let rightStart = -1;
  for (let i = leftCnt; i < n; i++) {
    if (distinct[i] > K_ZERO_THRESHOLD) {
      rightStart = i;
      break;
    }
  }
  const rightMaxBin = maxBin - 1 - ub.length;
  if (rightStart >= 0 && rightMaxBin > 0) {
    const right = greedyFindBin(
      distinct,
      counts,
      rightStart,
      n - rightStart,
      rightMaxBin,
      rightCntData,
      minDataInBin,
    );
    ub.push(K_ZERO_THRESHOLD, ...right);
  } else {
    ub.push(Infinity);
  }
  return ub;
}

/** Bin of `v` under `m` (LightGBM BinMapper::ValueToBin; NaN → NaN bin or the bin of 0). */
export function valueToBin(m: BinMapper, v: number): number {
  if (Number.isNaN(v)) {
    if (m.missingType === MISSING_NAN) return m.numBin - 1;
    v = 0;
  }
  const ub = m.upperBounds;
  let l = 0;
  let r = m.numBin - 1;
  if (m.missingType === MISSING_NAN) r--;
  while (l < r) {
    const mid = (r + l - 1) >> 1;
    if (v <= ub[mid]) r = mid;
    else l = mid + 1;
  }
  return l;
}

/**
 * Builds one feature's BinMapper from its sampled values (LightGBM BinMapper::FindBin, numerical).
 * @param sample all sampled values of the feature (zeros and NaN included)
 * @param filterCnt min_data_in_leaf scaled to the sample: with `preFilter`, a feature with no
 *   bin boundary leaving ≥ filterCnt sample rows on both sides is trivial (feature_pre_filter)
 */
export function findBinMapper(
  sample: ArrayLike<number>,
  maxBin: number,
  minDataInBin: number,
  filterCnt: number,
  preFilter: boolean,
): BinMapper {
  const total = sample.length;
  const vals = new Float64Array(total);
  let n = 0;
  for (let i = 0; i < total; i++) {
    const v = sample[i];
    if (!Number.isNaN(v)) vals[n++] = v;
  }
  radixSortF64(vals, new Int32Array(n), n);
  return findBinMapperSorted(vals, n, total - n, maxBin, minDataInBin, filterCnt, preFilter);
}

/**
 * Same as `findBinMapper` from the non-NaN sample values already sorted ascending
 * (`sorted[0..n)`, zeros included) and the number of NaN values `naCnt`.
 */
export function findBinMapperSorted(
  sorted: Float64Array,
  n: number,
  naCnt: number,
  maxBin: number,
  minDataInBin: number,
  filterCnt: number,
  preFilter: boolean,
): BinMapper {
  const total = n + naCnt;
  // Zeros (|v| ≤ kZeroThreshold) form one block of the sorted values; LightGBM counts them apart.
  let zs = 0;
  while (zs < n && sorted[zs] < -K_ZERO_THRESHOLD) zs++;
  let ze = zs;
  while (ze < n && sorted[ze] <= K_ZERO_THRESHOLD) ze++;
  const zeroCnt = ze - zs;
  const nz = n - zeroCnt;
  // Non-zero values, contiguous.
  const vals = new Float64Array(nz);
  vals.set(sorted.subarray(0, zs));
  vals.set(sorted.subarray(ze, n), zs);
  const missingType = naCnt > 0 ? MISSING_NAN : MISSING_NONE;
  const distinct = new Float64Array(nz + 2);
  const counts = new Float64Array(nz + 2);
  let nd = 0;
  if (nz === 0 || (vals[0] > 0 && zeroCnt > 0)) {
    distinct[nd] = 0;
    counts[nd++] = zeroCnt;
  }
  if (nz > 0) {
    distinct[nd] = vals[0];
    counts[nd++] = 1;
  }
  let prev = nz > 0 ? vals[0] : 0;
  for (let i = 1; i < nz; i++) {
    const b = vals[i];
    if (b !== prev && b > nextUp(prev)) {
      if (prev < 0 && b > 0) {
        distinct[nd] = 0;
        counts[nd++] = zeroCnt;
      }
      distinct[nd] = b;
      counts[nd++] = 1;
    } else {
      distinct[nd - 1] = b;
      counts[nd - 1]++;
    }
    prev = b;
  }
  if (nz > 0 && vals[nz - 1] < 0 && zeroCnt > 0) {
    distinct[nd] = 0;
    counts[nd++] = zeroCnt;
  }
  const dv = distinct.subarray(0, nd);
  const dc = counts.subarray(0, nd);
  let ub: number[];
  if (missingType === MISSING_NAN) {
    ub = findBinWithZeroAsOneBin(dv, dc, maxBin - 1, total - naCnt, minDataInBin);
    ub.push(NaN);
  } else {
    ub = findBinWithZeroAsOneBin(dv, dc, maxBin, total, minDataInBin);
  }
  const numBin = ub.length;
  const cntInBin = new Array<number>(numBin).fill(0);
  let iBin = 0;
  for (let i = 0; i < nd; i++) {
    while (dv[i] > ub[iBin] && iBin < numBin - 1) iBin++;
    cntInBin[iBin] += dc[i];
  }
  if (missingType === MISSING_NAN) cntInBin[numBin - 1] = naCnt;
  let isTrivial = numBin <= 1;
  if (!isTrivial && preFilter && needFilter(cntInBin, total, filterCnt)) isTrivial = true;
  const m: BinMapper = {
    numBin,
    missingType,
    upperBounds: Float64Array.from(ub),
    defaultBin: 0,
    minVal: dv[0],
    maxVal: dv[nd - 1],
    isTrivial,
  };
  m.defaultBin = valueToBin(m, 0);
  return m;
}

/** LightGBM NeedFilter (numerical): no boundary leaves ≥ filterCnt on both sides. */
function needFilter(cntInBin: number[], total: number, filterCnt: number): boolean {
  let sumLeft = 0;
  for (let i = 0; i < cntInBin.length - 1; i++) {
    sumLeft += cntInBin[i];
    if (sumLeft >= filterCnt && total - sumLeft >= filterCnt) return false;
  }
  return true;
}

/**
 * LightGBM `feature_infos` entry: `[min:max]` with 17 significant digits (%.17g as LightGBM's
 * stream formatting), or `none` for a trivial feature.
 */
export function featureInfo(m: BinMapper): string {
  if (m.isTrivial) return "none";
  return `[${formatG17(m.minVal)}:${formatG17(m.maxVal)}]`;
}

/** C's `%.17g`: 17 significant digits, trailing zeros dropped, exponent form outside [1e-4, 1e17). */
export function formatG17(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  const [mant, e] = x.toExponential(16).split("e");
  const exp = Number(e);
  const strip = (s: string) => (s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s);
  if (exp < -4 || exp >= 17) {
    const a = Math.abs(exp);
    return `${strip(mant)}e${exp < 0 ? "-" : "+"}${a < 10 ? "0" + a : a}`;
  }
  return strip(x.toFixed(16 - exp));
}
