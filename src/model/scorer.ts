/**
 * ONNX scorer over onnxruntime-web: loads a model bundle (hash-checked), refuses it unless its
 * feature list equals the caller's feature set name for name and position, and scores float32 rows.
 *
 * Output per row (`width` values): binary → [1−p, p]; multiclass → class probabilities (softmax);
 * regression → [value]; raw scorers → raw scores (K = numClass, or 1).
 */

import { readBundle } from "./bundle.ts";
import { type CompiledEnsemble, compileEnsemble } from "./compiled_ensemble.ts";
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
  /**
   * Score single rows synchronously with the compiled ensemble (model/compiled_ensemble.ts) when
   * it reproduces onnxruntime exactly on this model (default true). onnxruntime stays the
   * reference: it checks the compiled scores on a sample at load and scores every
   * {@link SCORER_AUDIT_EVERY}-th row itself, comparing; any difference turns compilation off.
   */
  compiled?: boolean;
}

/** One row in this many goes through onnxruntime and is compared with the compiled score. */
export const SCORER_AUDIT_EVERY = 64;

/** How rows were scored so far (see {@link ScorerOptions.compiled}). */
export interface ScorerCounters {
  /** Rows scored by the compiled ensemble alone. */
  compiled: number;
  /** Rows scored by onnxruntime. */
  onnxruntime: number;
  /** onnxruntime rows also scored by the compiled ensemble and compared. */
  audited: number;
  /** Audited rows whose scores differed (compilation is off after the first). */
  mismatches: number;
}

/**
 * Rows that probe every branch boundary of the model: each feature is one of the thresholds the
 * ensemble compares it with, a value just off it, zero, or NaN (deterministic PRNG). Used to check
 * the compiled ensemble against onnxruntime at load.
 */
function probeRows(thresholds: readonly (readonly number[])[], n: number): Float32Array {
  const numFeatures = thresholds.length;
  const byFeature = thresholds.map((t) => t.filter(Number.isFinite));
  let seed = 0x9e3779b9;
  const rnd = () => {
    seed = (seed ^ (seed << 13)) >>> 0;
    seed = (seed ^ (seed >>> 17)) >>> 0;
    seed = (seed ^ (seed << 5)) >>> 0;
    return seed / 2 ** 32;
  };
  const rows = new Float32Array(n * numFeatures);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < numFeatures; j++) {
      const t = byFeature[j];
      const u = rnd();
      let v: number;
      if (u < 0.05 || t.length === 0) v = u < 0.025 ? NaN : 0;
      else {
        const x = t[Math.floor(rnd() * t.length)];
        const w = rnd();
        // The threshold itself (rounded to float32 either way), or a value just off it.
        v = w < 0.4 ? x : w < 0.7 ? x * (1 + 1e-7) : w < 0.9 ? x * (1 - 1e-7) : x * (rnd() * 4 - 2);
      }
      rows[r * numFeatures + j] = v;
    }
  }
  return rows;
}

/** A loaded ONNX session with its input/output layout. Not safe for concurrent `score*` calls. */
export class Scorer {
  private readonly one: Float32Array;
  private readonly oneOut: Float32Array;
  private oneTensor: ort.Tensor | null = null;
  private compiled: CompiledEnsemble | null = null;
  private sinceAudit = 0;
  /** Why scoring is onnxruntime-only (null while the compiled ensemble is in use). */
  compiledOff: string | null = "not compiled";
  readonly counters: ScorerCounters = { compiled: 0, onnxruntime: 0, audited: 0, mismatches: 0 };

  private constructor(
    private readonly session: ort.InferenceSession,
    /** Features per row, in model order. */
    readonly featureNames: readonly string[],
    /** Output values per row. */
    readonly width: number,
    private readonly outputName: string,
  ) {
    this.one = new Float32Array(featureNames.length);
    this.oneOut = new Float32Array(width);
  }

  /** Compiles `onnx` and keeps it only if it equals onnxruntime on the probe rows. */
  private async attachCompiled(onnx: Uint8Array, enabled: boolean | undefined): Promise<void> {
    if (enabled === false) {
      this.compiledOff = "disabled";
      return;
    }
    let refusal = "";
    let c: CompiledEnsemble | null;
    try {
      c = compileEnsemble(onnx, (r) => refusal = r);
    } catch (e) {
      c = null;
      refusal = `cannot compile: ${(e as Error).message}`;
    }
    if (!c || c.width !== this.width || c.outputName !== this.outputName) {
      this.compiledOff = refusal || "output layout differs";
      return;
    }
    const n = 512;
    const rows = probeRows(c.thresholds, n);
    const ref = await this.runOrt(rows, n);
    const out = new Float32Array(n * this.width);
    for (let r = 0; r < n; r++) c.scoreRow(rows, r, out, r * this.width);
    for (let i = 0; i < out.length; i++) {
      if (!Object.is(out[i], ref[i])) {
        this.compiledOff = `differs from onnxruntime on a probe row (${out[i]} vs ${ref[i]})`;
        return;
      }
    }
    this.compiled = c;
    this.compiledOff = null;
  }

  /** Which engine scores single rows now. */
  get engine(): "compiled" | "onnxruntime" {
    return this.compiled ? "compiled" : "onnxruntime";
  }

  /**
   * Scores one row synchronously with the compiled ensemble, or returns null when this row must go
   * through onnxruntime ({@link scoreOne}): compilation unavailable, or the row is due for audit.
   * The returned array is reused by the next call.
   */
  trySync(row: ArrayLike<number>): Float32Array | null {
    if (!this.compiled) return null;
    if (++this.sinceAudit >= SCORER_AUDIT_EVERY) {
      this.sinceAudit = 0;
      return null;
    }
    let x: Float32Array;
    if (row instanceof Float32Array && row.length === this.numFeatures) x = row;
    else {
      this.one.set(row);
      x = this.one;
    }
    this.compiled.scoreRow(x, 0, this.oneOut, 0);
    this.counters.compiled++;
    return this.oneOut;
  }

  private async runOrt(x: Float32Array, n: number): Promise<Float32Array> {
    // A single row (scoreOne) reuses one input tensor over `this.one`: creating an ort.Tensor is
    // a third of a one-row call's cost (measured 30 → 20 µs per call).
    const input = x === this.one
      ? (this.oneTensor ??= new ort.Tensor("float32", this.one, [1, this.numFeatures]))
      : new ort.Tensor("float32", x, [n, this.numFeatures]);
    const res = await this.session.run({ features: input }, [this.outputName]);
    return res[this.outputName].data as Float32Array;
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
    const s = new Scorer(session, meta.featureNames, width, out);
    await s.attachCompiled(onnx, opts.compiled);
    return s;
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
    const s = new Scorer(session, model.featureNames, width, raw ? "scores" : "probabilities");
    await s.attachCompiled(onnx, opts.compiled);
    return s;
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
    const out = await this.runOrt(x, n);
    this.counters.onnxruntime += n;
    const c = this.compiled;
    if (c) {
      // Audit: every onnxruntime row is also scored compiled; one difference turns it off.
      const w = this.width, mine = this.oneOut;
      for (let r = 0; r < n; r++) {
        c.scoreRow(x, r, mine, 0);
        this.counters.audited++;
        for (let k = 0; k < w; k++) {
          if (!Object.is(mine[k], out[r * w + k])) {
            this.counters.mismatches++;
            this.compiled = null;
            this.compiledOff = `audit: compiled ${mine[k]} vs onnxruntime ${out[r * w + k]}`;
            return out;
          }
        }
      }
    }
    return out;
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
