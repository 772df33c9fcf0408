/**
 * Evaluation metrics as LightGBM computes them (`src/metric/binary_metric.hpp`,
 * `multiclass_metric.hpp`, `regression_metric.hpp`), on raw scores (class-major, K·N):
 *
 * - binary_logloss: mean −log(p) of the true class, p = sigmoid(σ·s), −log(kEpsilon) floor
 * - binary_error: share with (p > 0.5) ≠ label
 * - auc: area under ROC, tied scores count one half (LightGBM AUCMetric)
 * - multi_logloss: mean −log(softmax(s)_y), floor −log(kEpsilon)
 * - multi_error: share of rows where some other class scores ≥ the true class (top_k = 1)
 * - l2: mean squared error; rmse: its square root; l1: mean absolute error
 */
import type { MetricName } from "./params.ts";

const K_EPSILON = Math.fround(1e-15);

/** True when larger is better (only AUC here); early stopping uses it. */
export function higherIsBetter(m: MetricName): boolean {
  return m === "auc";
}

/**
 * Value of metric `m` for raw scores `scores` (numClass·N) against `labels` (N).
 * @param sigmoid the binary objective's sigmoid parameter
 */
export function evalMetric(
  m: MetricName,
  scores: Float64Array,
  labels: Float64Array,
  numClass: number,
  sigmoid = 1,
): number {
  const n = labels.length;
  switch (m) {
    case "binary_logloss": {
      let s = 0;
      for (let i = 0; i < n; i++) {
        const p = 1 / (1 + Math.exp(-sigmoid * scores[i]));
        const q = labels[i] > 0 ? p : 1 - p;
        s += q > K_EPSILON ? -Math.log(q) : -Math.log(K_EPSILON);
      }
      return s / n;
    }
    case "binary_error": {
      let e = 0;
      for (let i = 0; i < n; i++) {
        const p = 1 / (1 + Math.exp(-sigmoid * scores[i]));
        if (p <= 0.5 ? labels[i] > 0 : labels[i] <= 0) e++;
      }
      return e / n;
    }
    case "auc":
      return auc(scores.subarray(0, n), labels);
    case "multi_logloss": {
      let s = 0;
      for (let i = 0; i < n; i++) {
        let mx = -Infinity;
        for (let c = 0; c < numClass; c++) mx = Math.max(mx, scores[c * n + i]);
        let sum = 0;
        for (let c = 0; c < numClass; c++) sum += Math.exp(scores[c * n + i] - mx);
        const p = Math.exp(scores[labels[i] * n + i] - mx) / sum;
        s += p > K_EPSILON ? -Math.log(p) : -Math.log(K_EPSILON);
      }
      return s / n;
    }
    case "multi_error": {
      let e = 0;
      for (let i = 0; i < n; i++) {
        const sy = scores[labels[i] * n + i];
        let larger = 0;
        for (let c = 0; c < numClass; c++) if (scores[c * n + i] >= sy) larger++;
        if (larger > 1) e++;
      }
      return e / n;
    }
    case "l2":
    case "rmse": {
      let s = 0;
      for (let i = 0; i < n; i++) {
        const d = scores[i] - labels[i];
        s += d * d;
      }
      return m === "l2" ? s / n : Math.sqrt(s / n);
    }
    case "l1": {
      let s = 0;
      for (let i = 0; i < n; i++) s += Math.abs(scores[i] - labels[i]);
      return s / n;
    }
  }
}

/**
 * ROC AUC = P(score⁺ > score⁻) + ½·P(score⁺ = score⁻), 1 when one class is absent (LightGBM).
 * Sorts positive and negative scores separately (typed-array sorts) and merges.
 */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = labels.length;
  let np = 0;
  for (let i = 0; i < n; i++) if (labels[i] > 0) np++;
  const nn = n - np;
  if (np === 0 || nn === 0) return 1;
  const pos = new Float64Array(np), neg = new Float64Array(nn);
  let a = 0, b = 0;
  for (let i = 0; i < n; i++) {
    if (labels[i] > 0) pos[a++] = scores[i];
    else neg[b++] = scores[i];
  }
  pos.sort();
  neg.sort();
  // For each positive: negatives strictly below count 1, equal count ½.
  let acc = 0;
  let lo = 0, hi = 0;
  for (let i = 0; i < np; i++) {
    const s = pos[i];
    while (lo < nn && neg[lo] < s) lo++;
    if (hi < lo) hi = lo;
    while (hi < nn && neg[hi] <= s) hi++;
    acc += lo + 0.5 * (hi - lo);
  }
  return acc / (np * nn);
}
