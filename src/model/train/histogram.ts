/**
 * Gradient histograms (LightGBM docs "Optimization in Speed and Memory Usage": histogram-based
 * split finding with histogram subtraction) and the per-feature job both the main thread and the
 * histogram worker run: build the smaller child's histogram, derive the larger child's as
 * parent − smaller, and find each feature's best threshold for both.
 *
 * Layout: a leaf's histogram is `totalBins` entries of 3 doubles (Σgradient, Σhessian, row count)
 * at `hist[(slot * totalBins + binOffset[j] + bin) * 3 ..]`. Unlike LightGBM, which estimates bin
 * counts from hessians, rows are counted exactly, so `min_data_in_leaf` holds on the real counts.
 * Rows of a leaf are a range of the partition array `idx`, with their gradients/hessians stored in
 * the same order in `og`/`oh` (LightGBM's ordered gradients), so the inner loop reads them
 * sequentially.
 */
import { findBestThreshold, SPLIT_REC, type SplitConfig } from "./split.ts";

export const HIST_STRIDE = 3;

/** Control-block indices (Int32Array) of a histogram job. */
export const C = {
  SEQ: 0,
  DONE: 1,
  TYPE: 2,
  NFEAT: 3,
  SLOT_S: 4,
  BEGIN_S: 5,
  CNT_S: 6,
  SLOT_L: 7,
  CNT_L: 8,
  SEQ_MODE: 9,
  CONST_HESS: 10,
  /** Threads the current job runs on (main included). */
  NT: 11,
  PART_J: 12,
  PART_THR: 13,
  PART_DEF: 14,
  PART_NAN: 15,
  PART_BEGIN: 16,
  PART_CNT: 17,
  /** Set by a worker whose share of a job threw (the main thread then throws). */
  ERR: 18,
  /** Left-row count of each thread's chunk (MAX_THREADS slots). */
  PART_LEFT: 19,
  SIZE: 19 + 8,
} as const;
/** Upper bound on histogram threads (control-block slots). */
export const MAX_THREADS = 8;
/** Control-block indices (Float64Array) of a histogram job. */
export const CF = { G_S: 0, H_S: 1, G_L: 2, H_L: 3, HESS: 4, SIZE: 8 } as const;
export const JOB_HIST = 1;
export const JOB_PARTITION = 2;
export const JOB_QUIT = 3;

/** Everything a histogram job reads or writes; typed arrays are shared with the worker. */
export interface HistContext {
  numRows: number;
  numUsed: number;
  totalBins: number;
  bins: Uint8Array | Uint16Array;
  numBin: Int32Array;
  binOffset: Int32Array;
  missingType: Int32Array;
  /** Partition: row indices grouped by leaf; og/oh are the gradients in the same order. */
  idx: Int32Array;
  og: Float32Array;
  oh: Float32Array;
  /** Partition scratch: left / right rows of each thread's chunk (see partition.ts). */
  sIdxL: Int32Array;
  sGL: Float32Array;
  sHL: Float32Array;
  sIdxR: Int32Array;
  sGR: Float32Array;
  sHR: Float32Array;
  /** Histogram pool, one slot per possible leaf. */
  hist: Float64Array;
  /** Per slot and used feature: 1 when the feature had a valid split in that leaf. */
  splittable: Uint8Array;
  /** Per slot and used feature: SPLIT_REC doubles (see split.ts). */
  splitRes: Float64Array;
  /** Used-feature indices the current job processes. */
  featList: Int32Array;
  ctrl: Int32Array;
  ctrlF: Float64Array;
  cfg: SplitConfig;
}

/** Σg, Σh and count per bin of used feature `j` over rows 0..cnt−1 in storage order. */
function buildSeq(ctx: HistContext, j: number, cnt: number, base: number, constHess: boolean) {
  const n = ctx.numRows;
  const col = ctx.bins.subarray(j * n, j * n + cnt);
  const hist = ctx.hist;
  const og = ctx.og, oh = ctx.oh;
  if (constHess) {
    for (let i = 0; i < cnt; i++) {
      const b = base + col[i] * 3;
      hist[b] += og[i];
      hist[b + 2]++;
    }
  } else {
    for (let i = 0; i < cnt; i++) {
      const b = base + col[i] * 3;
      hist[b] += og[i];
      hist[b + 1] += oh[i];
      hist[b + 2]++;
    }
  }
}

/** Same over the leaf range idx[begin, begin+cnt) (rows in partition order). */
function buildIdx(
  ctx: HistContext,
  j: number,
  begin: number,
  cnt: number,
  base: number,
  constHess: boolean,
) {
  const n = ctx.numRows;
  const col = ctx.bins.subarray(j * n, (j + 1) * n);
  const hist = ctx.hist;
  const idx = ctx.idx, og = ctx.og, oh = ctx.oh;
  const end = begin + cnt;
  if (constHess) {
    for (let i = begin; i < end; i++) {
      const b = base + col[idx[i]] * 3;
      hist[b] += og[i];
      hist[b + 2]++;
    }
  } else {
    for (let i = begin; i < end; i++) {
      const b = base + col[idx[i]] * 3;
      hist[b] += og[i];
      hist[b + 1] += oh[i];
      hist[b + 2]++;
    }
  }
}

/**
 * Runs thread `t` of `nt`'s share of the job described by `ctx.ctrl`/`ctx.ctrlF`: features
 * featList[p] for p ≡ t (mod nt). For each: histogram of the smaller leaf (slot S), larger leaf
 * (slot L, holding the parent's histogram) ← parent − smaller, then the best threshold of each.
 */
export function runHistogramJob(ctx: HistContext, t: number, nt: number): void {
  const c = ctx.ctrl, cf = ctx.ctrlF;
  const nfeat = c[C.NFEAT];
  const slotS = c[C.SLOT_S], slotL = c[C.SLOT_L];
  const beginS = c[C.BEGIN_S], cntS = c[C.CNT_S], cntL = c[C.CNT_L];
  const seqMode = c[C.SEQ_MODE] === 1;
  const constHess = c[C.CONST_HESS] === 1;
  const hessVal = cf[CF.HESS];
  const gS = cf[CF.G_S], hS = cf[CF.H_S], gL = cf[CF.G_L], hL = cf[CF.H_L];
  const tb = ctx.totalBins, nu = ctx.numUsed;
  const hist = ctx.hist;
  for (let p = t; p < nfeat; p += nt) {
    const j = ctx.featList[p];
    const nb = ctx.numBin[j];
    const baseS = (slotS * tb + ctx.binOffset[j]) * HIST_STRIDE;
    hist.fill(0, baseS, baseS + nb * HIST_STRIDE);
    if (seqMode) buildSeq(ctx, j, cntS, baseS, constHess);
    else buildIdx(ctx, j, beginS, cntS, baseS, constHess);
    if (constHess) {
      for (let b = baseS; b < baseS + nb * HIST_STRIDE; b += HIST_STRIDE) {
        hist[b + 1] = hist[b + 2] * hessVal;
      }
    }
    const mt = ctx.missingType[j];
    let rec = (slotS * nu + j) * SPLIT_REC;
    ctx.splittable[slotS * nu + j] = findBestThreshold(
        hist,
        baseS,
        nb,
        mt,
        gS,
        hS,
        cntS,
        ctx.cfg,
        ctx.splitRes,
        rec,
      )
      ? 1
      : 0;
    if (slotL >= 0) {
      const baseL = (slotL * tb + ctx.binOffset[j]) * HIST_STRIDE;
      for (let k = 0; k < nb * HIST_STRIDE; k++) hist[baseL + k] -= hist[baseS + k];
      rec = (slotL * nu + j) * SPLIT_REC;
      ctx.splittable[slotL * nu + j] = findBestThreshold(
          hist,
          baseL,
          nb,
          mt,
          gL,
          hL,
          cntL,
          ctx.cfg,
          ctx.splitRes,
          rec,
        )
        ? 1
        : 0;
    }
  }
}
