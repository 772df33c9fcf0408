/**
 * A feature matrix: the batch output of a feature engine over stored history, row-major
 * Float64Array (`values[i * cols + j]` = feature `names[j]` at row i), one row per input record in
 * input order. Rows inside a warm-up hold NaN, as live.
 */
export interface FeatureMatrix {
  /** Feature names in column order (the engine's set order). */
  readonly names: readonly string[];
  /** Input time of each row, epoch ms (micro: sample second; candle: bar start). */
  readonly ts: Float64Array;
  readonly values: Float64Array;
  readonly rows: number;
  readonly cols: number;
}

/** Row `i` as a subarray view (no copy). Throws RangeError when out of range. */
export function matrixRow(m: FeatureMatrix, i: number): Float64Array {
  if (!Number.isInteger(i) || i < 0 || i >= m.rows) {
    throw new RangeError(`feature matrix row ${i} out of range 0..${m.rows - 1}`);
  }
  return m.values.subarray(i * m.cols, (i + 1) * m.cols);
}

/** Column `name` copied into a new array. Throws RangeError for an unknown name. */
export function matrixColumn(m: FeatureMatrix, name: string): Float64Array {
  const j = m.names.indexOf(name);
  if (j < 0) throw new RangeError(`feature matrix has no column "${name}"`);
  const out = new Float64Array(m.rows);
  for (let i = 0; i < m.rows; i++) out[i] = m.values[i * m.cols + j];
  return out;
}
