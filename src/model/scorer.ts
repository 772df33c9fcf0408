/**
 * ONNX scorer over onnxruntime-web: loads a model bundle (hash-checked), refuses it unless its
 * feature list equals the caller's feature set name for name and position, and scores float32 rows.
 *
 * Output per row (`width` values): binary → [1−p, p]; multiclass → class probabilities (softmax);
 * regression → [value]; raw scorers → raw scores (K = numClass, or 1).
 */

import { readBundle } from "./bundle.ts";
import { exportOnnx, type OnnxPrecision } from "./onnx_export.ts";
import { createSession, ort, type OrtInitOptions } from "./ort.ts";
import { type GbdtModel, numOutputs } from "./tree.ts";

/** The bundle's features differ from the feature set supplied by the caller. */
export class FeatureMismatchError extends Error {
  override name = "FeatureMismatchError";
  constructor(
    readonly missing: string[],
    readonly extra: string[],
    readonly misordered: { name: string; model: number; given: number }[],
    detail: string,
  ) {
    super(detail);
  }
}

const list = (a: string[]) =>
  a.slice(0, 20).join(", ") + (a.length > 20 ? `, … (${a.length} in all)` : "");

/**
 * Compares the model's input features with the caller's, in order.
 * - missing: in the model, absent from the given set; extra: given but not used by the model;
 * - misordered: in both at different positions (0-based).
 * @throws FeatureMismatchError naming every difference (first 20 of each kind).
 */
export function checkFeatureNames(model: readonly string[], given: readonly string[]): void {
  if (model.length === given.length && model.every((n, i) => n === given[i])) return;
  const gi = new Map(given.map((n, i) => [n, i]));
  const mi = new Map(model.map((n, i) => [n, i]));
  const missing = model.filter((n) => !gi.has(n));
  const extra = given.filter((n) => !mi.has(n));
  const misordered = model.flatMap((name, i) => {
    const g = gi.get(name);
    return g !== undefined && g !== i ? [{ name, model: i, given: g }] : [];
  });
  const parts = [`model expects ${model.length} features, caller supplies ${given.length}`];
  if (missing.length) parts.push(`missing: ${list(missing)}`);
  if (extra.length) parts.push(`extra: ${list(extra)}`);
  if (misordered.length) {
    parts.push(
      `misordered: ${
        list(misordered.map((m) => `${m.name} (model #${m.model}, given #${m.given})`))
      }`,
    );
  }
  throw new FeatureMismatchError(
    missing,
    extra,
    misordered,
    `feature mismatch — ${parts.join("; ")}`,
  );
}

export interface ScorerOptions extends OrtInitOptions {
  /** Score raw margins instead of probabilities (bundles use `<name>.raw.onnx`). */
  raw?: boolean;
}

/** A loaded ONNX session with its input/output layout. Not safe for concurrent `score*` calls. */
export class Scorer {
  private readonly one: Float32Array;

  private constructor(
    private readonly session: ort.InferenceSession,
    /** Features per row, in model order. */
    readonly featureNames: readonly string[],
    /** Output values per row. */
    readonly width: number,
    private readonly outputName: string,
  ) {
    this.one = new Float32Array(featureNames.length);
  }

  get numFeatures(): number {
    return this.featureNames.length;
  }

  /**
   * Loads a bundle (`models/<name>` or its `.json`/`.onnx` path), verifying the ONNX hash and that
   * the bundle's features equal `featureNames`.
   * @throws BundleError (files, hash), FeatureMismatchError (features), Error (onnxruntime).
   */
  static async load(
    path: string,
    featureNames: readonly string[],
    opts: ScorerOptions = {},
  ): Promise<Scorer> {
    const { meta, onnx } = await readBundle(path, opts.raw ? "raw" : "transformed");
    checkFeatureNames(meta.featureNames, featureNames);
    const session = await createSession(onnx, opts);
    const rawWidth = meta.objective.name === "multiclass" ? meta.objective.numClass : 1;
    const width = opts.raw ? rawWidth : meta.outputWidth;
    const out = opts.raw || meta.objective.name === "regression" ? "scores" : "probabilities";
    return new Scorer(session, meta.featureNames, width, out);
  }

  /** Builds a scorer for an in-memory model (exported to ONNX on the fly; no bundle, no hash). */
  static async fromModel(
    model: GbdtModel,
    opts: ScorerOptions & { precision?: OnnxPrecision } = {},
  ): Promise<Scorer> {
    const raw = !!opts.raw || model.objective.name === "regression";
    const onnx = exportOnnx(model, {
      output: raw ? "raw" : "transformed",
      precision: opts.precision,
    });
    const session = await createSession(onnx, opts);
    const width = !raw && model.objective.name === "binary" ? 2 : numOutputs(model);
    return new Scorer(session, model.featureNames, width, raw ? "scores" : "probabilities");
  }

  /**
   * Scores `n` rows laid out row-major in `rows` (length ≥ n × numFeatures; NaN = missing).
   * @returns n × width float32 values, row-major.
   */
  async scoreBatch(rows: Float32Array, n: number): Promise<Float32Array> {
    const f = this.numFeatures;
    if (!Number.isInteger(n) || n < 1 || rows.length < n * f) {
      throw new RangeError(`scoreBatch: need ${n} rows × ${f} features, got ${rows.length} values`);
    }
    const x = rows.length === n * f ? rows : rows.subarray(0, n * f);
    const input = new ort.Tensor("float32", x, [n, f]);
    const res = await this.session.run({ features: input }, [this.outputName]);
    return res[this.outputName].data as Float32Array;
  }

  /** Scores one row (numFeatures values in model order). @returns width float32 values. */
  scoreOne(row: ArrayLike<number>): Promise<Float32Array> {
    if (row.length !== this.numFeatures) {
      throw new RangeError(
        `scoreOne: row has ${row.length} values, model needs ${this.numFeatures}`,
      );
    }
    this.one.set(row);
    return this.scoreBatch(this.one, 1);
  }

  /**
   * Scores `runs` single rows of zeros so V8 tiers the hot WebAssembly functions up from its
   * baseline compiler before live traffic: a cold onnxruntime-web session shows multi-millisecond
   * stalls on ~1–2% of calls for its first few thousand runs (measured in bench/scoring_bench.ts).
   * (`--v8-flags=--no-liftoff` removes them too, at ~10 s of start-up compilation on 2 cores.)
   */
  async warmUp(runs = 3000): Promise<void> {
    const row = new Float32Array(this.numFeatures);
    for (let i = 0; i < runs; i++) await this.scoreOne(row);
  }

  /** Frees the onnxruntime session. */
  async release(): Promise<void> {
    await this.session.release();
  }
}
