/**
 * Main-thread handle of the feature/score worker (score_worker.ts): starts the worker, sends it
 * closed bars or 1 s micro inputs per symbol, and resolves each batch with one
 * `{symbol, ts, features?, scores}` per input, in input order. Requests are answered in order.
 *
 * A bundle the worker refuses (feature set or interval differs from the client's, a feature the
 * set does not produce, a hash mismatch, a missing file) rejects `ScoringClient.start` with a
 * `ScoringWorkerError` carrying the worker's reason; the worker is terminated.
 */
// First: captures the Web Worker constructor before anything can initialise ORT (worker_ctor.ts).
import { spawnWorker } from "../ops/worker_ctor.ts";
import type { Bar } from "./candle.ts";
import type { MicroInput } from "./micro_input.ts";
import type { FeatureSetName } from "./registry.ts";
import type { FromScoreWorker, ScoreResult, ToScoreWorker } from "./score_worker.ts";
import type { TrainingSection } from "../model/dataset.ts";
import { workerUrl } from "../ops/worker_url.ts";

export type { ScoreResult } from "./score_worker.ts";

/** The worker refused the bundle, failed on a batch, or crashed. */
export class ScoringWorkerError extends Error {
  override name = "ScoringWorkerError";
}

export interface ScoringClientOptions {
  /** Bundle path (`models/<name>` or its .json/.onnx). */
  bundle: string;
  /** Feature set that will be fed. */
  featureSet: FeatureSetName;
  /** Candle bar length, ms (checked against the bundle's training interval). */
  intervalMs?: number;
  /** Return each input's feature vector (set order) too. */
  returnFeatures?: boolean;
  /** onnxruntime-web .wasm location (default: ort.ts search). */
  wasmPath?: string;
  /** ORT warm-up runs before ready (see Scorer.warmUp), default 0. */
  warmUpRuns?: number;
}

type Pending = { resolve: (r: ScoreResult[]) => void; reject: (e: Error) => void };

/** A running score worker. Not shared between threads; close() when done. */
export class ScoringClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private dead: ScoringWorkerError | null = null;

  private constructor(
    private readonly worker: Worker,
    /** Model input features, in bundle order. */
    readonly featureNames: readonly string[],
    /** Features of the set, in engine order (the order of `ScoreResult.features`). */
    readonly setFeatures: readonly string[],
    /** Scores per input (class probabilities, [1−p, p] or [value]). */
    readonly width: number,
    readonly classes: readonly string[] | null,
    readonly training: TrainingSection | null,
  ) {
    worker.onmessage = (e: MessageEvent<FromScoreWorker>) => this.route(e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.fail(new ScoringWorkerError(`score worker crashed: ${e.message}`));
    };
  }

  /**
   * Starts a worker and loads the bundle in it.
   * @throws ScoringWorkerError with the worker's reason when the bundle is refused.
   */
  static start(o: ScoringClientOptions): Promise<ScoringClient> {
    const w = spawnWorker(workerUrl("score_worker", import.meta.url).href, { type: "module" });
    return new Promise((resolve, reject) => {
      w.onmessage = (e: MessageEvent<FromScoreWorker>) => {
        const m = e.data;
        if (m.type === "ready") {
          resolve(
            new ScoringClient(w, m.featureNames, m.setFeatures, m.width, m.classes, m.training),
          );
        } else {
          w.terminate();
          reject(
            new ScoringWorkerError(
              `score worker refused ${o.bundle}: ${m.type === "error" ? m.message : m.type}`,
            ),
          );
        }
      };
      w.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        w.terminate();
        reject(new ScoringWorkerError(`score worker failed to start: ${e.message}`));
      };
      const init: ToScoreWorker = {
        type: "init",
        bundle: o.bundle,
        featureSet: o.featureSet,
        intervalMs: o.intervalMs,
        returnFeatures: o.returnFeatures,
        wasmPath: o.wasmPath,
        warmUpRuns: o.warmUpRuns,
      };
      w.postMessage(init);
    });
  }

  /** Feeds closed bars (time order, one symbol) and resolves with one result per bar. */
  scoreBars(symbol: string, bars: Bar[]): Promise<ScoreResult[]> {
    return this.request((id) => ({ type: "bars", id, symbol, bars }));
  }

  /** Feeds 1 s micro inputs (time order, one symbol) and resolves with one result per input. */
  scoreMicro(symbol: string, inputs: MicroInput[]): Promise<ScoreResult[]> {
    return this.request((id) => ({ type: "micro", id, symbol, inputs }));
  }

  /** Drops the symbol's feature state (the next input starts every warm-up again). */
  reset(symbol: string): void {
    if (!this.dead) this.worker.postMessage({ type: "reset", symbol } satisfies ToScoreWorker);
  }

  /** Terminates the worker; pending requests reject. */
  close(): void {
    this.fail(new ScoringWorkerError("score worker closed"));
  }

  private request(make: (id: number) => ToScoreWorker): Promise<ScoreResult[]> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(make(id));
    });
  }

  private route(m: FromScoreWorker): void {
    if (m.type === "ready") return;
    const p = m.id === null ? undefined : this.pending.get(m.id);
    if (m.type === "scores") {
      this.pending.delete(m.id);
      p?.resolve(m.results);
      return;
    }
    const err = new ScoringWorkerError(`score worker: ${m.message}`);
    if (p) {
      this.pending.delete(m.id!);
      p.reject(err);
    } else this.fail(err);
  }

  private fail(err: ScoringWorkerError): void {
    if (this.dead) return;
    this.dead = err;
    this.worker.terminate();
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
