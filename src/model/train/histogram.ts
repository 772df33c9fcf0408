/**
 * Gradient histograms (LightGBM docs "Optimization in Speed and Memory Usage": histogram-based
 * split finding with histogram subtraction) and the per-feature job both the main thread and the
 * histogram worker run: build the smaller child's histogram, derive the larger child's as
 * parent − smaller, and find each feature's best threshold for both.
 *
 * Layout: a leaf's histogram is `totalBins` entries of 3 doubles (Σgradient, Σhessian, row count)
 * at `hist[(slot * totalBins + binOffset[j] + bin) * 3 ..]`. Unlike LightGBM, which estimates bin
 * counts from hessians, rows are counted exactly, so `min_data_in_leaf` holds on the real counts.
 * Rows of a leaf are a range of the partition array `idx`. Before building, the job gathers the
 * leaf's gradients/hessians into `og`/`oh` in that order (LightGBM's ordered gradients; each
 * thread gathers one chunk, then all meet at a barrier), so the inner loops read them
 * sequentially. The root leaf without bagging reads the current gradients `gc`/`hc` directly.
 */
import {
  build1Idx,
  build1IdxConst,
  build1Seq,
  build1SeqConst,
  build4Idx,
  build4IdxConst,
  build4Seq,
  build4SeqConst,
} from "./hist_kernels.ts";
import type { BinnedData } from "./binned_data.ts";
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
  /** Threads that reached the gather barrier of the current histogram job. */
  BARRIER: 19,
  /** Left-row count of each thread's chunk (MAX_THREADS slots). */
  PART_LEFT: 20,
  SIZE: 20 + 8,
} as const;
/** Upper bound on histogram threads (control-block slots). */
export const MAX_THREADS = 8;
/** Control-block indices (Float64Array) of a histogram job. */
export const CF = { G_S: 0, H_S: 1, G_L: 2, H_L: 3, HESS: 4, SIZE: 8 } as const;
export const JOB_HIST = 1;
export const JOB_PARTITION = 2;
export const JOB_GRAD = 3;
export const JOB_QUIT = 4;

/** Everything a histogram job reads or writes; typed arrays are shared with the worker. */
export interface HistContext {
  numRows: number;
  numUsed: number;
  totalBins: number;
  bins: Uint8Array | Uint16Array;
  numBin: Int32Array;
  binOffset: Int32Array;
  missingType: Int32Array;
  /** Raw training scores and their gradients/hessians (K·N, class-major; gradient jobs). */
  scores: Float64Array;
  grad: Float32Array;
  hess: Float32Array;
  /** Gradients and hessians of the tree being grown, by row. */
  gc: Float32Array;
  hc: Float32Array;
  /** Partition: row indices grouped by leaf. */
  idx: Int32Array;
  /** Ordered gradients/hessians of the leaf being built, aligned with its range of idx. */
  og: Float32Array;
  oh: Float32Array;
  /** Partition scratch: left / right rows of each thread's chunk (see partition.ts). */
  sIdxL: Int32Array;
  sIdxR: Int32Array;
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

/** og/oh[i] ← gc/hc[idx[i]] for thread t's chunk of [begin, begin+cnt). */
function gatherChunk(
  ctx: HistContext,
  begin: number,
  cnt: number,
  t: number,
  nt: number,
  constHess: boolean,
): void {
  const chunk = Math.ceil(cnt / nt);
  const s = begin + t * chunk, e = Math.min(begin + cnt, s + chunk);
  const { idx, og, oh, gc, hc } = ctx;
  if (constHess) {
    for (let i = s; i < e; i++) og[i] = gc[idx[i]];
  } else {
    for (let i = s; i < e; i++) {
      const r = idx[i];
      og[i] = gc[r];
      oh[i] = hc[r];
    }
  }
}

/** Waits until all nt threads of the job arrived (ctrl[BARRIER] is reset per job). */
function barrier(c: Int32Array, nt: number): void {
  const arrived = Atomics.add(c, C.BARRIER, 1) + 1;
  if (arrived === nt) {
    Atomics.notify(c, C.BARRIER);
    return;
  }
  for (;;) {
    const v = Atomics.load(c, C.BARRIER);
    if (v >= nt) return;
    Atomics.wait(c, C.BARRIER, v, 1000);
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
  const n = ctx.numRows, bins = ctx.bins;
  // This thread's features, their histograms cleared, then built four features per pass.
  const mine: number[] = [];
  for (let p = t; p < nfeat; p += nt) mine.push(ctx.featList[p]);
  const baseOf = (j: number) => (slotS * tb + ctx.binOffset[j]) * HIST_STRIDE;
  const colOf = (j: number) => bins.subarray(j * n, (j + 1) * n);
  for (const j of mine) hist.fill(0, baseOf(j), baseOf(j) + ctx.numBin[j] * HIST_STRIDE);
  const { idx } = ctx;
  const end = beginS + cntS;
  let og = ctx.gc, oh = ctx.hc;
  if (!seqMode) {
    og = ctx.og;
    oh = ctx.oh;
    gatherChunk(ctx, beginS, cntS, t, nt, constHess);
    if (nt > 1) barrier(c, nt);
  }
  let k = 0;
  for (; k + 4 <= mine.length; k += 4) {
    const [j0, j1, j2, j3] = [mine[k], mine[k + 1], mine[k + 2], mine[k + 3]];
    const [c0, c1, c2, c3] = [colOf(j0), colOf(j1), colOf(j2), colOf(j3)];
    const [o0, o1, o2, o3] = [baseOf(j0), baseOf(j1), baseOf(j2), baseOf(j3)];
    if (seqMode) {
      if (constHess) build4SeqConst(c0, c1, c2, c3, o0, o1, o2, o3, hist, og, cntS);
      else build4Seq(c0, c1, c2, c3, o0, o1, o2, o3, hist, og, oh, cntS);
    } else if (constHess) {
      build4IdxConst(c0, c1, c2, c3, o0, o1, o2, o3, hist, idx, og, beginS, end);
    } else build4Idx(c0, c1, c2, c3, o0, o1, o2, o3, hist, idx, og, oh, beginS, end);
  }
  for (; k < mine.length; k++) {
    const j = mine[k];
    if (seqMode) {
      if (constHess) build1SeqConst(colOf(j), baseOf(j), hist, og, cntS);
      else build1Seq(colOf(j), baseOf(j), hist, og, oh, cntS);
    } else if (constHess) build1IdxConst(colOf(j), baseOf(j), hist, idx, og, beginS, end);
    else build1Idx(colOf(j), baseOf(j), hist, idx, og, oh, beginS, end);
  }
  for (const j of mine) {
    const nb = ctx.numBin[j];
    const baseS = baseOf(j);
    if (constHess) {
      for (let b = baseS; b < baseS + nb * HIST_STRIDE; b += HIST_STRIDE) {
        hist[b + 1] = hist[b + 2] * hessVal;
      }
    }
    const mt = ctx.missingType[j];
    let rec = (slotS * nu + j) * SPLIT_REC;
    ctx.splittable[slotS * nu + j] =
      findBestThreshold(hist, baseS, nb, mt, gS, hS, cntS, ctx.cfg, ctx.splitRes, rec) ? 1 : 0;
    if (slotL >= 0) {
      const baseL = (slotL * tb + ctx.binOffset[j]) * HIST_STRIDE;
      for (let q = 0; q < nb * HIST_STRIDE; q++) hist[baseL + q] -= hist[baseS + q];
      rec = (slotL * nu + j) * SPLIT_REC;
      ctx.splittable[slotL * nu + j] =
        findBestThreshold(hist, baseL, nb, mt, gL, hL, cntL, ctx.cfg, ctx.splitRes, rec) ? 1 : 0;
    }
  }
}

function alloc(bytes: number, shared: boolean): ArrayBuffer | SharedArrayBuffer {
  return shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
}

/**
 * Allocates a job context over binned data: partition, ordered gradients, one histogram slot
 * per possible leaf, split records and the control block — on SharedArrayBuffers when `shared`.
 * @param boost score/gradient buffers (K·N) the gradient job works on
 * @throws Error when the histogram pool would exceed 2 GiB (num_leaves × total bins too large)
 */
export function allocContext(
  data: BinnedData,
  cfg: SplitConfig & { numLeaves: number },
  boost: { scores: Float64Array; grad: Float32Array; hess: Float32Array },
  shared: boolean,
): HistContext {
  const n = data.numRows, nu = data.used.length, L = cfg.numLeaves;
  const histBytes = L * data.totalBins * HIST_STRIDE * 8;
  if (histBytes > 2 ** 31) {
    throw new Error(
      `histogram pool of ${(histBytes / 2 ** 30).toFixed(1)} GiB: lower num_leaves or max_bin`,
    );
  }
  const f32 = () => new Float32Array(alloc(4 * n, shared));
  const i32 = () => new Int32Array(alloc(4 * n, shared));
  return {
    scores: boost.scores,
    grad: boost.grad,
    hess: boost.hess,
    numRows: n,
    numUsed: nu,
    totalBins: data.totalBins,
    bins: data.bins,
    numBin: data.numBin,
    binOffset: data.binOffset,
    missingType: Int32Array.from(data.used, (f) => data.mappers[f].missingType),
    gc: f32(),
    hc: f32(),
    idx: i32(),
    og: f32(),
    oh: f32(),
    sIdxL: i32(),
    sIdxR: i32(),
    hist: new Float64Array(alloc(histBytes, shared)),
    splittable: new Uint8Array(alloc(L * nu, shared)),
    splitRes: new Float64Array(alloc(L * nu * SPLIT_REC * 8, shared)),
    featList: new Int32Array(alloc(4 * Math.max(1, nu), shared)),
    ctrl: new Int32Array(alloc(4 * C.SIZE, shared)),
    ctrlF: new Float64Array(alloc(8 * CF.SIZE, shared)),
    cfg: {
      minDataInLeaf: cfg.minDataInLeaf,
      minSumHessianInLeaf: cfg.minSumHessianInLeaf,
      lambdaL1: cfg.lambdaL1,
      lambdaL2: cfg.lambdaL2,
      minGainToSplit: cfg.minGainToSplit,
    },
  };
}
