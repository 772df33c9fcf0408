/**
 * Objectives with LightGBM's gradients, hessians and initial scores (`src/objective/*.hpp`):
 *
 * - binary (BinaryLogloss, labels 0/1, y∈{−1,+1}, σ = sigmoid):
 *   r = −y·σ / (1 + exp(y·σ·s)); g = r; h = |r|·(σ − |r|); init = log(p/(1−p))/σ with p the
 *   positive share clamped to [kEpsilon, 1−kEpsilon].
 * - multiclass (MulticlassSoftmax, labels 0..K−1): p = softmax(s); g_k = p_k − [y = k];
 *   h_k = K/(K−1)·p_k·(1 − p_k); init_k = log(max(kEpsilon, share of class k)).
 * - regression (RegressionL2loss): g = s − y; h = 1 (constant); init = mean(y).
 *
 * Scores and gradients are class-major: entry (k, i) at k·N + i. Gradients are float32 as
 * LightGBM's score_t.
 */
import type { ObjectiveName, TrainParams } from "./params.ts";

const K_EPSILON = Math.fround(1e-15);

/** Bad training/validation data (labels), reported to the user as is. */
export class TrainDataError extends Error {
  override name = "TrainDataError";
}

export interface ObjectiveFn {
  name: ObjectiveName;
  /** Trees per iteration (K for multiclass, else 1). */
  numTreePerIteration: number;
  /** Hessian is the same constant for every row (enables the count-only histogram path). */
  constantHessian: number | null;
  /** boost_from_average initial score per class. */
  initScore(k: number): number;
  /** False for a class with no rows or all rows (LightGBM ClassNeedTrain). */
  classNeedTrain(k: number): boolean;
  /**
   * Fills grad/hess (K·N, class-major) from raw scores (K·N, class-major) for rows [from, to)
   * (default all rows; trainer threads each take a chunk).
   */
  gradients(
    scores: Float64Array,
    grad: Float32Array,
    hess: Float32Array,
    from?: number,
    to?: number,
  ): void;
}

/**
 * Checks labels for `objective` and returns its gradient function.
 * @throws TrainDataError for a NaN/±Inf label, a binary label other than 0/1, a constant binary
 *   label, or a multiclass label that is not an integer in [0, num_class). `what` names the data
 *   set in messages ("training data", "validation data").
 */
export function checkLabels(p: TrainParams, labels: Float64Array, what: string): void {
  const n = labels.length;
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!Number.isFinite(y)) {
      throw new TrainDataError(`${what}: label of row ${i + 1} is ${y}; labels must be finite`);
    }
    if (p.objective === "binary" && y !== 0 && y !== 1) {
      throw new TrainDataError(
        `${what}: label of row ${i + 1} is ${y}; objective=binary needs labels 0 or 1`,
      );
    }
    if (p.objective === "multiclass" && (!Number.isInteger(y) || y < 0 || y >= p.numClass)) {
      throw new TrainDataError(
        `${what}: label of row ${i + 1} is ${y}; objective=multiclass num_class=${p.numClass} ` +
          `needs integer labels in [0, ${p.numClass})`,
      );
    }
  }
}

/** Builds the objective over the training labels (checked with `checkLabels` first). */
export function createObjective(p: TrainParams, labels: Float64Array): ObjectiveFn {
  checkLabels(p, labels, "training data");
  const n = labels.length;
  if (p.objective === "binary") {
    let pos = 0;
    for (let i = 0; i < n; i++) if (labels[i] > 0) pos++;
    if (pos === 0 || pos === n) {
      throw new TrainDataError(
        `training data: binary label is constant (all ${pos === 0 ? 0 : 1}); need both classes`,
      );
    }
    return binary(labels, p.sigmoid, pos / n);
  }
  if (p.objective === "multiclass") return multiclass(labels, p.numClass);
  return regression(labels);
}

function binary(labels: Float64Array, sigmoid: number, share: number): ObjectiveFn {
  const n = labels.length;
  return {
    name: "binary",
    numTreePerIteration: 1,
    constantHessian: null,
    initScore: () => {
      const pavg = Math.max(K_EPSILON, Math.min(1 - K_EPSILON, share));
      return Math.log(pavg / (1 - pavg)) / sigmoid;
    },
    classNeedTrain: () => true,
    gradients(scores, grad, hess, from = 0, to = n) {
      for (let i = from; i < to; i++) {
        const y = labels[i] > 0 ? 1 : -1;
        const r = -y * sigmoid / (1 + Math.exp(y * sigmoid * scores[i]));
        const a = Math.abs(r);
        grad[i] = r;
        hess[i] = a * (sigmoid - a);
      }
    },
  };
}

function multiclass(labels: Float64Array, k: number): ObjectiveFn {
  const n = labels.length;
  const prior = new Float64Array(k);
  for (let i = 0; i < n; i++) prior[labels[i]]++;
  for (let c = 0; c < k; c++) prior[c] /= n;
  const factor = k / (k - 1);
  return {
    name: "multiclass",
    numTreePerIteration: k,
    constantHessian: null,
    initScore: (c) => Math.log(Math.max(K_EPSILON, prior[c])),
    classNeedTrain: (c) => !(Math.abs(prior[c]) <= K_EPSILON || prior[c] >= 1 - K_EPSILON),
    gradients(scores, grad, hess, from = 0, to = n) {
      // One row's softmax at a time (per call: trainer threads use disjoint row ranges).
      const rec = new Float64Array(k);
      for (let i = from; i < to; i++) {
        let mx = -Infinity;
        for (let c = 0; c < k; c++) {
          const s = scores[c * n + i];
          rec[c] = s;
          if (s > mx) mx = s;
        }
        let sum = 0;
        for (let c = 0; c < k; c++) {
          const e = Math.exp(rec[c] - mx);
          rec[c] = e;
          sum += e;
        }
        const y = labels[i];
        for (let c = 0; c < k; c++) {
          const pc = rec[c] / sum;
          const at = c * n + i;
          grad[at] = c === y ? pc - 1 : pc;
          hess[at] = factor * pc * (1 - pc);
        }
      }
    },
  };
}

function regression(labels: Float64Array): ObjectiveFn {
  const n = labels.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += labels[i];
  const mean = sum / n;
  return {
    name: "regression",
    numTreePerIteration: 1,
    constantHessian: 1,
    initScore: () => mean,
    classNeedTrain: () => true,
    gradients(scores, grad, hess, from = 0, to = n) {
      for (let i = from; i < to; i++) {
        grad[i] = scores[i] - labels[i];
        hess[i] = 1;
      }
    },
  };
}
