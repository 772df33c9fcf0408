/**
 * Out-of-sample metrics of a trading model on the validation window.
 *
 * Statistical: multiclass → multi_logloss, one-vs-rest macro AUC, accuracy; binary → logloss,
 * AUC, accuracy; regression → RMSE. Every objective also reports the information coefficient
 * `ic`: Spearman rank correlation of a directional score with the realised forward return
 * (Grinold & Kahn 2000, Active Portfolio Management, ch. 6). The directional score is
 * p(long) − p(short) (multiclass), p(long) (binary) or the predicted return (regression).
 *
 * Economic: the model "trades" a row when it predicts long/short (multiclass argmax = long or
 * short; binary p > 0.5 = long; regression |prediction| > the row's cost threshold, in its sign).
 * `hit_rate` = share of traded rows whose realised forward return beat the round-trip cost in the
 * predicted direction (long: r > thr; short: r < −thr); `trades` = their count; `mean_net_bps` =
 * mean of (signed realised return − thr) over them (before funding). NaN when there is no trade.
 */
import { auc } from "./train/metrics.ts";

export type EvalObjective = "multiclass" | "binary" | "regression";

export interface EvalInput {
  objective: EvalObjective;
  /** Predictions, row-major n × width: class probabilities (multiclass: flat, long, short),
   *  [1 − p, p] (binary, p = P(long beats cost)) or [predicted return bps] (regression). */
  pred: ArrayLike<number>;
  width: number;
  /** Realised forward log return, bps. */
  fwdRetBps: ArrayLike<number>;
  /** Class 0 flat, 1 long, 2 short. */
  cls: ArrayLike<number>;
  /** Round-trip cost threshold per row, bps. */
  thresholdBps: ArrayLike<number>;
}

const EPS = 1e-15;

/** Average ranks (1-based, ties get their mean rank). */
function ranks(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const r = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && x[idx[j + 1]] === x[idx[i]]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[idx[k]] = avg;
    i = j + 1;
  }
  return r;
}

/** Spearman rank correlation (Pearson of average ranks); NaN when either side is constant. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (n !== b.length) throw new RangeError(`spearman: ${n} vs ${b.length} values`);
  const ra = ranks(a), rb = ranks(b);
  let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  for (let i = 0; i < n; i++) {
    sa += ra[i];
    sb += rb[i];
  }
  const ma = sa / n, mb = sb / n;
  for (let i = 0; i < n; i++) {
    const da = ra[i] - ma, db = rb[i] - mb;
    saa += da * da;
    sbb += db * db;
    sab += da * db;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : NaN;
}

/** Direction the model trades on row i: 1 long, −1 short, 0 none (see file doc). */
export function tradeDirection(e: EvalInput, i: number): number {
  const w = e.width, p = e.pred;
  if (e.objective === "regression") {
    const v = p[i], t = e.thresholdBps[i];
    return v > t ? 1 : v < -t ? -1 : 0;
  }
  if (e.objective === "binary") return p[i * w + 1] > 0.5 ? 1 : 0;
  let best = 0;
  for (let k = 1; k < w; k++) if (p[i * w + k] > p[i * w + best]) best = k;
  return best === 1 ? 1 : best === 2 ? -1 : 0;
}

/**
 * Computes the metrics described in the file doc.
 * @returns name → value (NaN where undefined, e.g. hit_rate without trades)
 * @throws RangeError when array lengths disagree or there are no rows.
 */
export function evaluate(e: EvalInput): Record<string, number> {
  const n = e.fwdRetBps.length;
  if (n === 0) throw new RangeError("evaluate: no rows");
  if (e.pred.length !== n * e.width || e.cls.length !== n || e.thresholdBps.length !== n) {
    throw new RangeError(`evaluate: ${e.pred.length} predictions (width ${e.width}) for ${n} rows`);
  }
  const out: Record<string, number> = {};
  const w = e.width, p = e.pred;
  const dir = new Float64Array(n);
  if (e.objective === "multiclass") {
    let ll = 0, hit = 0;
    for (let i = 0; i < n; i++) {
      const y = e.cls[i];
      ll -= Math.log(Math.max(p[i * w + y], EPS));
      let best = 0;
      for (let k = 1; k < w; k++) if (p[i * w + k] > p[i * w + best]) best = k;
      if (best === y) hit++;
      dir[i] = p[i * w + 1] - p[i * w + 2];
    }
    out.multi_logloss = ll / n;
    let aucSum = 0;
    for (let k = 0; k < w; k++) {
      const s = new Float64Array(n), y = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        s[i] = p[i * w + k];
        y[i] = e.cls[i] === k ? 1 : 0;
      }
      aucSum += auc(s, y);
    }
    out.auc_macro_ovr = aucSum / w;
    out.accuracy = hit / n;
  } else if (e.objective === "binary") {
    let ll = 0, hit = 0;
    const s = new Float64Array(n), y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const q = p[i * w + 1];
      y[i] = e.cls[i] === 1 ? 1 : 0;
      s[i] = dir[i] = q;
      ll -= Math.log(Math.max(y[i] ? q : 1 - q, EPS));
      if ((q > 0.5 ? 1 : 0) === y[i]) hit++;
    }
    out.binary_logloss = ll / n;
    out.auc = auc(s, y);
    out.accuracy = hit / n;
  } else {
    let se = 0;
    for (let i = 0; i < n; i++) {
      const d = p[i] - e.fwdRetBps[i];
      se += d * d;
      dir[i] = p[i];
    }
    out.rmse = Math.sqrt(se / n);
  }
  out.ic = spearman(dir, e.fwdRetBps);
  let trades = 0, wins = 0, net = 0;
  for (let i = 0; i < n; i++) {
    const d = tradeDirection(e, i);
    if (d === 0) continue;
    trades++;
    const signed = d * e.fwdRetBps[i];
    if (signed > e.thresholdBps[i]) wins++;
    net += signed - e.thresholdBps[i];
  }
  out.trades = trades;
  out.trade_fraction = trades / n;
  out.hit_rate = trades ? wins / trades : NaN;
  out.mean_net_bps = trades ? net / trades : NaN;
  out.rows = n;
  return out;
}
