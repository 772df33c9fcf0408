/**
 * ONNX scorer over onnxruntime-web: loads a model bundle (hash-checked), refuses it unless its
 * feature list equals the caller's feature set name for name and position, and scores float32 rows.
 *
 * Output per row (`width` values): binary → [1−p, p]; multiclass → class probabilities (softmax);
 * regression → [value]; raw scorers → raw scores (K = numClass, or 1).
 */

import { readBundle } from "./bundle.ts";
import {
  type CompiledEnsemble,
  compileEnsemble,
  ensembleFromPlan,
  type EnsemblePlan,
} from "./compiled_ensemble.ts";
import { preparedOf } from "./prepared.ts";
import { VERSION } from "../version.ts";
import { exportOnnx, type OnnxPrecision } from "./onnx_export.ts";
import { createSession, ort, type OrtInitOptions } from "./ort.ts";
import { OrtReference } from "./ort_reference.ts";
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
  /**
   * Where onnxruntime runs while the compiled ensemble scores: `inline` (default) — a session on
   * this thread scores the audited rows itself (their result is onnxruntime's); `worker` — a
   * reference worker (ort_reference.ts) scores the probe and audit rows on its own thread and the
   * comparison is settled asynchronously, so this thread never waits for onnxruntime (its ~0.7 s
   * start-up included). Every row's result is then the compiled score; a difference found later
   * turns compilation off for the rows that follow and is reported by {@link Scorer.settle}, whose
   * caller must treat the scores given before it as suspect (the backtest fails the run).
   * Without a compiled ensemble the worker scores every row (asynchronously).
   */
  reference?: "inline" | "worker";
}

/** Audited rows sent to the reference worker per message. */
const WORKER_AUDIT_BATCH = 32;

/** The compiled ensemble and onnxruntime disagreed, or onnxruntime could not check it. */
export class ScorerAuditError extends Error {
  override name = "ScorerAuditError";
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

/** Rows held for the reference worker, with the compiled scores given for them. */
interface AuditBatch {
  rows: Float32Array;
  expected: Float32Array;
  n: number;
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
  /** Worker mode: the reference, the batch being filled and the comparisons in flight. */
  private ref: OrtReference | null = null;
  private batch: AuditBatch | null = null;
  private readonly inflight = new Set<Promise<void>>();
  private refError: string | null = null;
  /** Why scoring is onnxruntime-only (null while the compiled ensemble is in use). */
  compiledOff: string | null = "not compiled";
  readonly counters: ScorerCounters = { compiled: 0, onnxruntime: 0, audited: 0, mismatches: 0 };

  private constructor(
    /** The inline session; null in worker mode (the reference worker holds it). */
    private session: ort.InferenceSession | null,
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
  private async attachCompiled(
    onnx: Uint8Array,
    enabled: boolean | undefined,
    prepared?: { plan: EnsemblePlan | null; refusal: string },
  ): Promise<void> {
    if (enabled === false) {
      this.compiledOff = "disabled";
      return;
    }
    let refusal = "";
    let c: CompiledEnsemble | null;
    if (prepared) {
      c = prepared.plan ? ensembleFromPlan(prepared.plan) : null;
      refusal = prepared.refusal;
    } else {
      try {
        c = compileEnsemble(onnx, (r) => refusal = r);
      } catch (e) {
        c = null;
        refusal = `cannot compile: ${(e as Error).message}`;
      }
    }
    if (!c || c.width !== this.width || c.outputName !== this.outputName) {
      this.compiledOff = refusal || "output layout differs";
      return;
    }
    const n = 512;
    const rows = probeRows(c.thresholds, n);
    const out = new Float32Array(n * this.width);
    for (let r = 0; r < n; r++) c.scoreRow(rows, r, out, r * this.width);
    if (this.ref) {
      // Trusted now, checked when the worker answers (settle() reports a difference).
      this.compiled = c;
      this.compiledOff = null;
      this.track(this.ref.score(rows, n), out, n, "a probe row", false);
      return;
    }
    const ref = await this.runOrt(rows, n);
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
    const audit = ++this.sinceAudit >= SCORER_AUDIT_EVERY;
    if (audit) {
      this.sinceAudit = 0;
      if (!this.ref) return null;
    }
    let x: Float32Array;
    if (row instanceof Float32Array && row.length === this.numFeatures) x = row;
    else {
      this.one.set(row);
      x = this.one;
    }
    this.compiled.scoreRow(x, 0, this.oneOut, 0);
    this.counters.compiled++;
    if (audit) this.queueAudit(x);
    return this.oneOut;
  }

  /** Worker mode: holds row `x` and its compiled score (oneOut) for the reference. */
  private queueAudit(x: Float32Array): void {
    const nf = this.numFeatures, w = this.width;
    const b = this.batch ??= {
      rows: new Float32Array(WORKER_AUDIT_BATCH * nf),
      expected: new Float32Array(WORKER_AUDIT_BATCH * w),
      n: 0,
    };
    b.rows.set(x, b.n * nf);
    b.expected.set(this.oneOut, b.n * w);
    if (++b.n === WORKER_AUDIT_BATCH) this.flushAudit();
  }

  private flushAudit(): void {
    const b = this.batch;
    if (!b || b.n === 0 || !this.ref) return;
    this.batch = null;
    const rows = b.n === WORKER_AUDIT_BATCH ? b.rows : b.rows.slice(0, b.n * this.numFeatures);
    this.track(this.ref.score(rows, b.n), b.expected, b.n, "an audited row", true);
  }

  /** Compares the reference's answer with the compiled scores once it arrives. */
  private track(
    answer: Promise<Float32Array>,
    expected: Float32Array,
    n: number,
    what: string,
    audit: boolean,
  ): void {
    const p = answer.then((ref) => {
      if (audit) this.counters.audited += n;
      for (let i = 0; i < n * this.width; i++) {
        if (!Object.is(expected[i], ref[i])) {
          this.counters.mismatches++;
          this.compiled = null;
          this.compiledOff ??= `differs from onnxruntime on ${what} (${expected[i]} vs ${ref[i]})`;
          return;
        }
      }
    }, (e: Error) => {
      this.refError ??= e.message;
    }).finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  /**
   * Sends the audit rows still held and waits for every comparison in flight (worker mode; a
   * no-op inline).
   * @returns the counters once settled
   * @throws ScorerAuditError when a compiled score differed from onnxruntime's (the compiled
   *   scores given before the difference was seen are suspect) or the reference failed.
   */
  async settle(): Promise<Readonly<ScorerCounters>> {
    this.flushAudit();
    while (this.inflight.size) await Promise.all([...this.inflight]);
    if (this.refError !== null) {
      throw new ScorerAuditError(
        `onnxruntime could not check the compiled scores: ${this.refError}`,
      );
    }
    if (this.counters.mismatches > 0) {
      throw new ScorerAuditError(
        `compiled scores ${this.compiledOff} on ${this.counters.mismatches} batch(es); ` +
          `set strategies.ml.scoring: onnxruntime`,
      );
    }
    return this.counters;
  }

  private async runOrt(x: Float32Array, n: number): Promise<Float32Array> {
    // The worker takes the buffer: send a copy unless the array is already a fresh one.
    if (!this.session) return await this.ref!.score(new Float32Array(x), n);
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
    const rawWidth = meta.objective.name === "multiclass" ? meta.objective.numClass : 1;
    const width = opts.raw ? rawWidth : meta.outputWidth;
    const out = opts.raw || meta.objective.name === "regression" ? "scores" : "probabilities";
    return await Scorer.open(onnx, meta.featureNames, width, out, opts);
  }

  /** The session (inline) or the reference worker, then the compiled ensemble. */
  private static async open(
    onnx: Uint8Array,
    featureNames: readonly string[],
    width: number,
    outputName: string,
    opts: ScorerOptions,
    prepared?: { plan: EnsemblePlan | null; refusal: string },
  ): Promise<Scorer> {
    // The worker only serves as the reference of a compiled ensemble: rows onnxruntime must score
    // itself are scored inline (a worker round trip per row costs more than the row).
    const worker = opts.reference === "worker" && opts.compiled !== false;
    const session = worker ? null : await createSession(onnx, opts);
    const s = new Scorer(session, featureNames, width, outputName);
    if (worker) {
      const wasm = opts.wasmPath === undefined ? undefined : String(opts.wasmPath);
      s.ref = new OrtReference(onnx, outputName, featureNames.length, wasm);
    }
    await s.attachCompiled(onnx, opts.compiled, prepared);
    if (worker && !s.compiled) {
      s.ref!.close();
      s.ref = null;
      s.session = await createSession(onnx, opts);
    }
    return s;
  }

  /** Builds a scorer for an in-memory model (exported to ONNX on the fly; no bundle, no hash). */
  static async fromModel(
    model: GbdtModel,
    opts: ScorerOptions & { precision?: OnnxPrecision } = {},
  ): Promise<Scorer> {
    const raw = !!opts.raw || model.objective.name === "regression";
    // Prepared by the training worker (model/prepared.ts): the same bytes, made off this thread.
    const p = (opts.precision ?? "double") === "double" ? preparedOf(model) : undefined;
    const onnx = p ? (raw ? p.raw : p.transformed) : exportOnnx(model, {
      output: raw ? "raw" : "transformed",
      precision: opts.precision,
      producerVersion: VERSION,
    });
    // The plan is of the graph a regression (raw) or a classifier (transformed) scores with.
    const planFits = p && raw === (model.objective.name === "regression");
    const width = !raw && model.objective.name === "binary" ? 2 : numOutputs(model);
    return await Scorer.open(
      onnx,
      model.featureNames,
      width,
      raw ? "scores" : "probabilities",
      opts,
      planFits ? p : undefined,
    );
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

  /** Frees the onnxruntime session, or stops the reference worker (comparisons pending drop). */
  async release(): Promise<void> {
    this.ref?.close();
    await this.session?.release();
  }
}
