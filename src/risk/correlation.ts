/**
 * Pearson correlation of the latest `window` returns of two series, aligned at their ends
 * (both oldest first, same sampling grid). Returns NaN with fewer than 2 samples or a
 * zero-variance series. Two-pass mean/covariance for numerical stability.
 */
export function pearson(a: readonly number[], b: readonly number[], window: number): number {
  const n = Math.min(a.length, b.length, Math.floor(window));
  if (n < 2) return NaN;
  const oa = a.length - n, ob = b.length - n;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[oa + i];
    mb += b[ob + i];
  }
  ma /= n;
  mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[oa + i] - ma, y = b[ob + i] - mb;
    sab += x * y;
    saa += x * x;
    sbb += y * y;
  }
  if (saa === 0 || sbb === 0) return NaN;
  return sab / Math.sqrt(saa * sbb);
}
