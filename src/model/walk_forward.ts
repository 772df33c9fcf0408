/**
 * Walk-forward time split with a purge gap (López de Prado 2018, Advances in Financial Machine
 * Learning, ch. 7 "purging"): the validation window is the latest `validFraction` of the rows,
 * the training window everything earlier, never shuffled. A training row at time t has a label
 * that reads the price at t + horizonMs; it is kept only when t + horizonMs < validStart, so no
 * training label reaches into the validation window. The rows dropped for that are the purge.
 */

/** A user-facing problem with the split (empty window, bad fraction): exit code 2. */
export class SplitError extends Error {
  override name = "SplitError";
}

export interface WalkForwardOptions {
  /** Share of rows (latest first) in the validation window, in (0, 1). */
  validFraction: number;
  /** Label horizon, ms: the label of a row at t reads the price at t + horizonMs. */
  horizonMs: number;
}

export interface WalkForwardSplit {
  /** Row indices of the training window (ascending). */
  train: Int32Array;
  /** Row indices of the validation window (ascending). */
  valid: Int32Array;
  /** Row times, epoch ms: first and last training row, first and last validation row. */
  trainStartMs: number;
  trainEndMs: number;
  validStartMs: number;
  validEndMs: number;
  /** validStartMs − trainEndMs: always > horizonMs. */
  gapMs: number;
  /** Rows between the windows dropped by the purge. */
  purgedRows: number;
}

/**
 * Splits rows with non-decreasing times `ts` (epoch ms; several symbols may share a time — all
 * rows of one time fall on the same side).
 * @throws SplitError for a fraction outside (0, 1), unsorted times, or an empty window.
 */
export function walkForwardSplit(ts: ArrayLike<number>, o: WalkForwardOptions): WalkForwardSplit {
  const n = ts.length;
  if (!(o.validFraction > 0 && o.validFraction < 1)) {
    throw new SplitError(`valid fraction must be in (0, 1), got ${o.validFraction}`);
  }
  if (!(o.horizonMs >= 0)) throw new SplitError(`horizon must be ≥ 0 ms, got ${o.horizonMs}`);
  for (let i = 1; i < n; i++) {
    if (!(ts[i] >= ts[i - 1])) throw new SplitError(`row times not in order at row ${i}`);
  }
  let v = Math.min(n - 1, Math.floor(n * (1 - o.validFraction)));
  while (v > 0 && ts[v - 1] === ts[v]) v--; // one time, one side
  if (n < 2 || v <= 0) {
    throw new SplitError(`${n} labelled row(s): too few for a training and a validation window`);
  }
  const validStart = ts[v];
  let t = v;
  while (t > 0 && ts[t - 1] + o.horizonMs >= validStart) t--;
  if (t === 0) {
    throw new SplitError(
      `empty training window: every row before ${new Date(validStart).toISOString()} has a label ` +
        `reaching into the validation window (horizon ${o.horizonMs} ms); use more data or a ` +
        `smaller --valid-fraction`,
    );
  }
  const train = Int32Array.from({ length: t }, (_, i) => i);
  const valid = Int32Array.from({ length: n - v }, (_, i) => v + i);
  return {
    train,
    valid,
    trainStartMs: ts[0],
    trainEndMs: ts[t - 1],
    validStartMs: validStart,
    validEndMs: ts[n - 1],
    gapMs: validStart - ts[t - 1],
    purgedRows: v - t,
  };
}
