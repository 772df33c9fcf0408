/**
 * Column-major binned data set for the trainer: every usable (non-trivial) feature's bins as a
 * Uint8Array column (Uint16Array when some feature has more than 256 bins), optionally on a
 * SharedArrayBuffer so histogram workers read it in place. Bin boundaries come from binning.ts
 * (LightGBM BinMapper semantics).
 */
import { type BinMapper, findBinMapperSorted, valueToBin } from "./binning.ts";
import { MISSING_NAN } from "../tree.ts";
import { radixSortF64 } from "./radix.ts";
import { LgbRandom } from "./rng.ts";

/** Binned training data: column-major bins of the non-trivial ("used") features. */
export interface BinnedData {
  numRows: number;
  /** Number of input features (trivial ones included). */
  numFeatures: number;
  /** Mapper per input feature. */
  mappers: BinMapper[];
  /** Input feature index of each used feature, ascending. */
  used: Int32Array;
  /** Bins of used feature j for row r at [j * numRows + r]. */
  bins: Uint8Array | Uint16Array;
  /** Number of bins per used feature and its offset into a leaf histogram (in bins). */
  numBin: Int32Array;
  binOffset: Int32Array;
  totalBins: number;
}

/** Row-major numeric matrix: value of row r, feature f at `values[r * numFeatures + f]`. */
export interface FeatureMatrix {
  numRows: number;
  numFeatures: number;
  values: ArrayLike<number>;
}

/** Binning parameters (LightGBM names: max_bin, min_data_in_bin, …). */
export interface BinningOptions {
  maxBin: number;
  minDataInBin: number;
  minDataInLeaf: number;
  binConstructSampleCnt: number;
  dataRandomSeed: number;
  featurePreFilter: boolean;
}

/**
 * Builds bin mappers from a row sample (`bin_construct_sample_cnt` rows drawn with LightGBM's
 * Random(`data_random_seed`).Sample when there are more rows) and bins all rows. When every row is
 * in the sample, a column is sorted once (radix sort carrying row indices) and binned by one sweep
 * over the sorted values, which gives the same bins as a per-value binary search.
 * @param shared allocate the bins on a SharedArrayBuffer (for histogram workers)
 */
export function binTrainingData(
  x: FeatureMatrix,
  opts: BinningOptions,
  shared = false,
): BinnedData {
  const { numRows, numFeatures, values } = x;
  const rows = numRows > opts.binConstructSampleCnt
    ? new LgbRandom(opts.dataRandomSeed).sample(numRows, opts.binConstructSampleCnt)
    : null;
  const nSample = rows ? rows.length : numRows;
  const filterCnt = Math.trunc(opts.minDataInLeaf * nSample / numRows);
  const col = new Float64Array(nSample);
  const perm = new Int32Array(nSample);
  const mappers: BinMapper[] = [];
  const colBins: (Uint16Array | null)[] = [];
  for (let f = 0; f < numFeatures; f++) {
    let n = 0, na = 0;
    for (let i = 0; i < nSample; i++) {
      const r = rows ? rows[i] : i;
      const v = clampInf(values[r * numFeatures + f]);
      if (Number.isNaN(v)) na++;
      else {
        col[n] = v;
        perm[n++] = r;
      }
    }
    radixSortF64(col, perm, n);
    const m = findBinMapperSorted(
      col,
      n,
      na,
      opts.maxBin,
      opts.minDataInBin,
      filterCnt,
      opts.featurePreFilter,
    );
    mappers.push(m);
    if (rows || m.isTrivial) {
      colBins.push(null);
      continue;
    }
    // Sweep: values ascending, so the bin index only moves up.
    const b16 = new Uint16Array(numRows);
    const ub = m.upperBounds;
    let bin = 0;
    for (let k = 0; k < n; k++) {
      const v = col[k];
      while (!(v <= ub[bin])) bin++;
      b16[perm[k]] = bin;
    }
    if (na > 0) {
      const nanBin = m.missingType === MISSING_NAN ? m.numBin - 1 : m.defaultBin;
      for (let r = 0; r < numRows; r++) {
        if (Number.isNaN(values[r * numFeatures + f])) b16[r] = nanBin;
      }
    }
    colBins.push(b16);
  }
  const used: number[] = [];
  for (let f = 0; f < numFeatures; f++) if (!mappers[f].isTrivial) used.push(f);
  const out = allocBinned(numRows, numFeatures, mappers, Int32Array.from(used), shared);
  for (let j = 0; j < out.used.length; j++) {
    const f = out.used[j];
    const pre = colBins[f];
    if (pre) out.bins.set(pre, j * numRows);
    else fillColumn(out, x, j);
  }
  return out;
}

function allocBinned(
  numRows: number,
  numFeatures: number,
  mappers: BinMapper[],
  used: Int32Array,
  shared: boolean,
): BinnedData {
  const nu = used.length;
  const numBin = new Int32Array(nu);
  const binOffset = new Int32Array(nu);
  let total = 0;
  let wide = false;
  for (let j = 0; j < nu; j++) {
    numBin[j] = mappers[used[j]].numBin;
    binOffset[j] = total;
    total += numBin[j];
    if (numBin[j] > 256) wide = true;
  }
  const bytes = (wide ? 2 : 1) * nu * numRows;
  const buf = shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  const bins = wide ? new Uint16Array(buf) : new Uint8Array(buf);
  return { numRows, numFeatures, mappers, used, bins, numBin, binOffset, totalBins: total };
}

/** Bins used feature j of `x` by binary search over the upper bounds. */
function fillColumn(d: BinnedData, x: FeatureMatrix, j: number): void {
  const f = d.used[j];
  const m = d.mappers[f];
  const base = j * d.numRows;
  const { values, numFeatures } = x;
  for (let r = 0; r < d.numRows; r++) {
    d.bins[base + r] = valueToBin(m, clampInf(values[r * numFeatures + f]));
  }
}

/** ±Infinity read as ±1e308, as LightGBM's parser does (same side of every finite threshold). */
function clampInf(v: number): number {
  return v === Infinity ? 1e308 : v === -Infinity ? -1e308 : v;
}
