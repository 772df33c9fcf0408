/**
 * Data partition step of a split (LightGBM DataPartition::Split): the rows of the leaf being
 * split, idx[begin, begin+cnt), are reordered so the rows going left come first, each side keeping
 * its row order (so histogram sums, and hence the model, do not depend on the thread count). Each
 * thread takes one contiguous chunk and writes its left and right rows into scratch arrays at the
 * chunk's own offsets, branch-free (every row is written to both sides and only its side's cursor
 * advances — 2× faster than branching on an unpredictable comparison); the main thread then
 * concatenates the chunks back. Gradients are not moved: histogram jobs gather them per leaf.
 */
import { C, type HistContext } from "./histogram.ts";

/** Runs thread t of nt's chunk of the partition job described in ctx.ctrl. */
export function runPartitionJob(ctx: HistContext, t: number, nt: number): void {
  const c = ctx.ctrl;
  const begin = c[C.PART_BEGIN], cnt = c[C.PART_CNT];
  const j = c[C.PART_J], thr = c[C.PART_THR], def = c[C.PART_DEF], nanBin = c[C.PART_NAN];
  const chunk = Math.ceil(cnt / nt);
  const s = begin + t * chunk;
  const e = Math.min(begin + cnt, s + chunk);
  const n = ctx.numRows;
  const col = ctx.bins.subarray(j * n, (j + 1) * n);
  const { idx, sIdxL, sIdxR } = ctx;
  let w = s, r = s;
  for (let i = s; i < e; i++) {
    const row = idx[i];
    const b = col[row];
    // The NaN bin is above every threshold; it goes left only when default_left.
    const left = (b <= thr ? 1 : 0) | ((b === nanBin ? 1 : 0) & def);
    sIdxL[w] = row;
    sIdxR[r] = row;
    w += left;
    r += 1 - left;
  }
  c[C.PART_LEFT + t] = Math.max(0, w - s);
}

/**
 * Concatenates the chunks written by `nt` threads back into idx: all left rows (chunk order),
 * then all right rows. Returns the number of left rows.
 */
export function gatherPartition(ctx: HistContext, nt: number): number {
  const c = ctx.ctrl;
  const begin = c[C.PART_BEGIN], cnt = c[C.PART_CNT];
  const chunk = Math.ceil(cnt / nt);
  const { idx, sIdxL, sIdxR } = ctx;
  let pos = begin;
  for (let t = 0; t < nt; t++) {
    const s = begin + t * chunk;
    const lc = c[C.PART_LEFT + t];
    idx.set(sIdxL.subarray(s, s + lc), pos);
    pos += lc;
  }
  const left = pos - begin;
  for (let t = 0; t < nt; t++) {
    const s = begin + t * chunk;
    const e = Math.min(begin + cnt, s + chunk);
    const rc = Math.max(0, e - s) - c[C.PART_LEFT + t];
    idx.set(sIdxR.subarray(s, s + rc), pos);
    pos += rc;
  }
  return left;
}
