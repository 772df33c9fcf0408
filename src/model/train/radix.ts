/**
 * LSD radix sort of float64 values carrying an int32 payload (the row index), used to build bin
 * boundaries and bin a whole column in one sweep. The IEEE-754 bit pattern is mapped to an
 * unsigned key whose order is the numeric order (negative: all bits flipped; positive: sign bit
 * set), then sorted in six 11/11/10-bit passes over the low and high words; passes whose digit is
 * the same for every value are skipped. It yields the permutation as well as the sorted values,
 * so a column is binned by one sweep instead of a binary search per value. NaN must be removed by
 * the caller.
 */

const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LO = little ? 0 : 1;
const HI = little ? 1 : 0;

/** One counting-sort pass on digit (key >>> shift) & mask; returns false when it was a no-op. */
function radixPass(
  digitSrc: Uint32Array,
  shift: number,
  mask: number,
  count: Int32Array,
  n: number,
  kh: Uint32Array,
  kl: Uint32Array,
  pl: Int32Array,
  th: Uint32Array,
  tl: Uint32Array,
  tp: Int32Array,
): boolean {
  count.fill(0);
  for (let i = 0; i < n; i++) count[(digitSrc[i] >>> shift) & mask]++;
  if (count[(digitSrc[0] >>> shift) & mask] === n) return false;
  let sum = 0;
  for (let d = 0; d <= mask; d++) {
    const c = count[d];
    count[d] = sum;
    sum += c;
  }
  for (let i = 0; i < n; i++) {
    const at = count[(digitSrc[i] >>> shift) & mask]++;
    th[at] = kh[i];
    tl[at] = kl[i];
    tp[at] = pl[i];
  }
  return true;
}

/**
 * Sorts `vals[0..n)` ascending in place and permutes `payload[0..n)` alongside.
 * -0 sorts before +0 (both compare equal numerically, which is all callers rely on).
 */
export function radixSortF64(vals: Float64Array, payload: Int32Array, n: number): void {
  if (n <= 1) return;
  const words = new Uint32Array(vals.buffer, vals.byteOffset, 2 * n);
  const a = [new Uint32Array(n), new Uint32Array(n)];
  const b = [new Uint32Array(n), new Uint32Array(n)];
  const p = [payload.subarray(0, n), new Int32Array(n)];
  const kh0 = a[0], kl0 = b[0];
  for (let i = 0; i < n; i++) {
    const h = words[2 * i + HI];
    const l = words[2 * i + LO];
    const neg = h >>> 31;
    kh0[i] = neg ? ~h >>> 0 : (h | 0x80000000) >>> 0;
    kl0[i] = neg ? ~l >>> 0 : l;
  }
  const count = new Int32Array(1 << 11);
  let cur = 0;
  const passes: [boolean, number, number][] = [
    [false, 0, 0x7ff],
    [false, 11, 0x7ff],
    [false, 22, 0x3ff],
    [true, 0, 0x7ff],
    [true, 11, 0x7ff],
    [true, 22, 0x3ff],
  ];
  for (const [hi, shift, mask] of passes) {
    const kh = a[cur], kl = b[cur], pl = p[cur];
    const nx = cur ^ 1;
    if (radixPass(hi ? kh : kl, shift, mask, count, n, kh, kl, pl, a[nx], b[nx], p[nx])) cur = nx;
  }
  const kh = a[cur], kl = b[cur], pl = p[cur];
  for (let i = 0; i < n; i++) {
    const h = kh[i], l = kl[i];
    const pos = h >>> 31;
    words[2 * i + HI] = pos ? (h & 0x7fffffff) >>> 0 : ~h >>> 0;
    words[2 * i + LO] = pos ? l : ~l >>> 0;
  }
  if (cur !== 0) payload.set(pl);
}
