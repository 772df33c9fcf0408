/**
 * Training labels without look-ahead leakage into features, and without labels that straddle
 * missing data.
 *
 * For row i at time tᵢ with reference price pᵢ (micro: the mid at the sample second; candle: the
 * bar close, known at the bar's close) and a horizon of h steps:
 *
 *   fwd_ret_bps[i] = ln(p[i+h] / p[i]) × 1e4
 *
 * pᵢ is known at tᵢ (it is the entry reference); the only future price read is p[i+h], inside
 * (tᵢ, tᵢ + h·stepMs]. A row gets no label (NaN, class −1) when i + h runs past the data end, when
 * the rows from i to i+h are not consecutive on the step grid (tᵢ₊ₕ − tᵢ ≠ h·stepMs: a hole), when
 * a known gap (the store's gaps table / GapEvent: data missing strictly between startTs and
 * endTs) overlaps (tᵢ, tᵢ + h·stepMs], or when either price is not a positive number.
 *
 * Classes (the model's class index): 0 = flat, 1 = long, 2 = short.
 *   long  if fwd_ret_bps >  threshold
 *   short if fwd_ret_bps < −threshold
 *   flat  otherwise
 * threshold (bps) = 2 × takerFeeBps + spreadBps + 2 × slippageBps: the cost of a taker round trip
 * (enter and exit each pay the taker fee and slippage; crossing the spread costs one full spread
 * over the round trip). A move must beat it to be worth trading (cost-aware labelling as in
 * López de Prado 2018, Advances in Financial Machine Learning, ch. 3). The comparison uses the
 * log return in bps, which equals the simple return to within 0.5·r² (< 0.01 bps below 140 bps).
 */

export const LABEL_CLASSES = ["flat", "long", "short"] as const;
export const CLASS_FLAT = 0;
export const CLASS_LONG = 1;
export const CLASS_SHORT = 2;
/** Class value of a row without a label. */
export const NO_LABEL = -1;

/** A period with missing data: nothing is known strictly between startTs and endTs (epoch ms). */
export interface DataGap {
  startTs: number;
  endTs: number;
}

export interface LabelParams {
  /** Horizon in steps (seconds for micro, bars for candle), integer ≥ 1. */
  horizon: number;
  /** Step between rows in ms (1000 for micro, the bar interval for candle). */
  stepMs: number;
  /** Taker fee per side, bps (e.g. 6 for 0.06 %). */
  takerFeeBps: number;
  /** Full bid–ask spread, bps: one number, or one per row (e.g. the observed spread_bps). */
  spreadBps: number | ArrayLike<number>;
  /** Expected slippage per side, bps. */
  slippageBps: number;
  /** Known data gaps (any order). */
  gaps?: readonly DataGap[];
}

export interface Labels {
  /** Forward log return over the horizon, bps; NaN where there is no label. */
  fwdRetBps: Float64Array;
  /** 0 flat, 1 long, 2 short, −1 no label. */
  cls: Int8Array;
  /** Threshold used per row, bps. */
  thresholdBps: Float64Array;
}

/** Cost threshold in bps for a taker round trip (see file doc). */
export function costThresholdBps(takerFeeBps: number, spreadBps: number, slippageBps: number) {
  return 2 * takerFeeBps + spreadBps + 2 * slippageBps;
}

/** Class of a forward return against a threshold (both bps); −1 when the return is NaN. */
export function classify(fwdRetBps: number, thresholdBps: number): number {
  if (fwdRetBps !== fwdRetBps) return NO_LABEL;
  if (fwdRetBps > thresholdBps) return CLASS_LONG;
  if (fwdRetBps < -thresholdBps) return CLASS_SHORT;
  return CLASS_FLAT;
}

function check(ok: boolean, msg: string): void {
  if (!ok) throw new RangeError(`labels: ${msg}`);
}

/** First index i with ts[i] ≥ x (binary search; ts strictly increasing). */
function lowerBound(ts: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = ts.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (ts[m] < x) lo = m + 1;
    else hi = m;
  }
  return lo;
}

/**
 * Labels for rows with times `ts` (epoch ms, strictly increasing) and reference prices `price`
 * (USDT), as described in the file doc. Throws RangeError on mismatched lengths, unsorted times,
 * a bad horizon/step, negative costs or a per-row spread array of the wrong length.
 */
export function makeLabels(
  ts: ArrayLike<number>,
  price: ArrayLike<number>,
  p: LabelParams,
): Labels {
  const n = ts.length;
  check(price.length === n, `ts has ${n} rows but price has ${price.length}`);
  check(
    Number.isInteger(p.horizon) && p.horizon >= 1,
    `horizon must be an integer ≥ 1, got ${p.horizon}`,
  );
  check(p.stepMs > 0, `stepMs must be > 0, got ${p.stepMs}`);
  check(p.takerFeeBps >= 0 && p.slippageBps >= 0, "takerFeeBps and slippageBps must be ≥ 0");
  const spread = p.spreadBps;
  if (typeof spread !== "number") {
    check(spread.length === n, `spreadBps has ${spread.length} values for ${n} rows`);
  } else check(spread >= 0, `spreadBps must be ≥ 0, got ${spread}`);
  for (let i = 1; i < n; i++) {
    check(
      ts[i] > ts[i - 1],
      `ts must be strictly increasing (row ${i}: ${ts[i]} after ${ts[i - 1]})`,
    );
  }
  const h = p.horizon;
  const span = h * p.stepMs;

  // Rows whose label window (t, t + span] overlaps a known gap (s, e): s < t + span and e > t,
  // i.e. t in (s − span, e).
  const blocked = new Uint8Array(n);
  for (const g of p.gaps ?? []) {
    check(g.endTs >= g.startTs, `gap endTs ${g.endTs} before startTs ${g.startTs}`);
    for (let i = lowerBound(ts, g.startTs - span); i < n && ts[i] < g.endTs; i++) {
      if (ts[i] > g.startTs - span) blocked[i] = 1;
    }
  }

  const fwd = new Float64Array(n).fill(NaN);
  const cls = new Int8Array(n).fill(NO_LABEL);
  const thr = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = typeof spread === "number" ? spread : spread[i];
    thr[i] = costThresholdBps(p.takerFeeBps, s, p.slippageBps);
    const j = i + h;
    if (j >= n || blocked[i] || ts[j] - ts[i] !== span) continue;
    const p0 = price[i];
    const p1 = price[j];
    if (!(p0 > 0 && p1 > 0 && Number.isFinite(p0) && Number.isFinite(p1))) continue;
    const r = Math.log(p1 / p0) * 1e4;
    fwd[i] = r;
    cls[i] = thr[i] === thr[i] ? classify(r, thr[i]) : NO_LABEL;
  }
  return { fwdRetBps: fwd, cls, thresholdBps: thr };
}
