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

/** Row indices LightGBM samples for bin boundaries, or null when every row is used. */
export function binSampleRows(numRows: number, opts: BinningOptions): number[] | null {
  return numRows > opts.binConstructSampleCnt
    ? new LgbRandom(opts.dataRandomSeed).sample(numRows, opts.binConstructSampleCnt)
    : null;
}

/** Mapper and (non-trivial features only) the bins of every row, per requested feature. */
export interface BinnedColumns {
  features: number[];
  mappers: BinMapper[];
  cols: (Uint16Array | null)[];
}

/**
 * Builds the bin mappers of `features` from the sample rows (all rows when `rows` is null) and
 * bins every row of those features. With all rows sampled, a column is sorted once (radix sort
 * carrying row indices) and binned by one sweep over the sorted values — the same bins as a
 * binary search per value; otherwise each row is binned by binary search. Runs on the main
 * thread or in a trainer worker (parallel.ts), one share of the features each.
 */
export function binColumns(
  x: FeatureMatrix,
  features: number[],
  rows: number[] | null,
  opts: BinningOptions,
): BinnedColumns {
  const { numRows, numFeatures, values } = x;
  const nSample = rows ? rows.length : numRows;
  const filterCnt = Math.trunc(opts.minDataInLeaf * nSample / numRows);
  const col = new Float64Array(nSample);
  const perm = new Int32Array(nSample);
  const mappers: BinMapper[] = [];
  const cols: (Uint16Array | null)[] = [];
  for (const f of features) {
    let n = 0, na = 0;
    for (let i = 0; i < nSample; i++) {
      const r = rows ? rows[i] : i;
      const v = clampInf(values[r * numFeatures + f]);
      if (v !== v) na++;
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
    if (m.isTrivial) {
      cols.push(null);
      continue;
    }
    const b16 = new Uint16Array(numRows);
    if (rows) {
      for (let r = 0; r < numRows; r++) {
        b16[r] = valueToBin(m, clampInf(values[r * numFeatures + f]));
      }
    } else {
      // Sweep: values ascending, so the bin index only moves up.
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
          const v = values[r * numFeatures + f];
          if (v !== v) b16[r] = nanBin;
        }
      }
    }
    cols.push(b16);
  }
  return { features, mappers, cols };
}

/**
 * Puts per-feature results (from one or several `binColumns` calls covering every feature) into
 * one column-major BinnedData of the non-trivial features.
 * @param shared allocate the bins on a SharedArrayBuffer (for trainer workers)
 */
export function assembleBinned(
  numRows: number,
  numFeatures: number,
  parts: BinnedColumns[],
  shared: boolean,
): BinnedData {
  const mappers = new Array<BinMapper>(numFeatures);
  const cols = new Array<Uint16Array | null>(numFeatures).fill(null);
  for (const p of parts) {
    p.features.forEach((f, k) => {
      mappers[f] = p.mappers[k];
      cols[f] = p.cols[k];
    });
  }
  const used: number[] = [];
  for (let f = 0; f < numFeatures; f++) if (!mappers[f].isTrivial) used.push(f);
  const out = allocBinned(numRows, numFeatures, mappers, Int32Array.from(used), shared);
  for (let j = 0; j < out.used.length; j++) out.bins.set(cols[out.used[j]]!, j * numRows);
  return out;
}

/**
 * Builds bin mappers from a row sample (`bin_construct_sample_cnt` rows drawn with LightGBM's
 * Random(`data_random_seed`).Sample when there are more rows) and bins all rows, on this thread.
 * @param shared allocate the bins on a SharedArrayBuffer (for trainer workers)
 */
export function binTrainingData(
  x: FeatureMatrix,
  opts: BinningOptions,
  shared = false,
): BinnedData {
  const all = Array.from({ length: x.numFeatures }, (_, f) => f);
  const part = binColumns(x, all, binSampleRows(x.numRows, opts), opts);
  return assembleBinned(x.numRows, x.numFeatures, [part], shared);
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

/** ±Infinity read as ±1e308, as LightGBM's parser does (same side of every finite threshold). */
function clampInf(v: number): number {
  return v === Infinity ? 1e308 : v === -Infinity ? -1e308 : v;
}
