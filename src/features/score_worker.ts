/**
 * The feature/score worker (a Web Worker; start it through scoring_client.ts): holds the streaming
 * feature state per symbol (CandleEngine or MicroEngine, the same code as training) and one ORT
 * `Scorer` for a model bundle, and answers each batch of closed bars / 1 s micro inputs with one
 * `{symbol, ts, features?, scores}` per input.
 *
 * Loading is strict. The bundle's `training` section (written by `bitget-bot train`) must name
 * the feature set the client feeds (and, for candles, the same interval); every bundle feature
 * must be produced by that set (`projection`), and the scorer is loaded with the bundle's feature
 * names and the ONNX hash checked (`Scorer.load`). Any failure is posted back as an `error` with
 * the reason, and the worker scores nothing.
 */
import type { MicroInput } from "./micro_input.ts";
import { type Bar, CandleEngine } from "./candle.ts";
import { MicroEngine, type MicroOptions } from "./micro.ts";
import { featureSet, type FeatureSetName, projection } from "./registry.ts";
import { readBundleMeta } from "../model/bundle.ts";
import { readTrainingSection, type TrainingSection } from "../model/dataset.ts";
import { Scorer } from "../model/scorer.ts";

/** Messages to the worker. `id` pairs a request with its reply. */
export type ToScoreWorker =
  | {
    type: "init";
    /** Bundle path (`models/<name>`, or its .json/.onnx). */
    bundle: string;
    /** Feature set the client will feed. */
    featureSet: FeatureSetName;
    /** Candle interval in ms the client will feed (required for a bundle without a training section). */
    intervalMs?: number;
    /** Return each input's feature vector (set order) with its scores. */
    returnFeatures?: boolean;
    /** onnxruntime-web .wasm location (ort.ts OrtInitOptions). */
    wasmPath?: string;
    /** Warm-up runs of the ORT session (Scorer.warmUp), default 0. */
    warmUpRuns?: number;
  }
  | { type: "bars"; id: number; symbol: string; bars: Bar[] }
  | { type: "micro"; id: number; symbol: string; inputs: MicroInput[] }
  | { type: "reset"; symbol: string };

/** One scored input: features in set order (when asked for) and the model outputs. */
export interface ScoreResult {
  symbol: string;
  /** Input time (bar start / sample second), epoch ms. */
  ts: number;
  features?: Float64Array;
  scores: number[];
}

/** Messages from the worker. */
export type FromScoreWorker =
  | {
    type: "ready";
    featureNames: string[];
    setFeatures: string[];
    width: number;
    classes: string[] | null;
    training: TrainingSection | null;
  }
  | { type: "scores"; id: number; results: ScoreResult[] }
  | { type: "error"; id: number | null; message: string };

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<ToScoreWorker>) => void) | null;
  postMessage(m: FromScoreWorker, transfer?: Transferable[]): void;
};

interface Loaded {
  set: FeatureSetName;
  intervalMs: number;
  micro: MicroOptions;
  idx: Int32Array;
  scorer: Scorer;
  returnFeatures: boolean;
  engines: Map<string, { update(x: never): Float64Array }>;
  rows: Float32Array;
}

let state: Loaded | null = null;
let initFailed = false;

const msg = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

async function init(m: Extract<ToScoreWorker, { type: "init" }>): Promise<void> {
  const meta = await readBundleMeta(m.bundle);
  let training: TrainingSection | null = null;
  try {
    training = await readTrainingSection(m.bundle);
  } catch {
    training = null; // e.g. a LightGBM import: the client's settings must then be complete
  }
  if (training && training.featureSet !== m.featureSet) {
    throw new Error(
      `bundle ${m.bundle} was trained on the "${training.featureSet}" feature set, the client ` +
        `feeds "${m.featureSet}"`,
    );
  }
  let intervalMs = m.intervalMs ?? training?.engine.intervalMs ?? NaN;
  if (m.featureSet === "candle") {
    if (
      training?.engine.intervalMs && m.intervalMs && m.intervalMs !== training.engine.intervalMs
    ) {
      throw new Error(
        `bundle ${m.bundle} was trained on ${training.engine.intervalMs} ms bars, the client ` +
          `feeds ${m.intervalMs} ms bars`,
      );
    }
    if (!(intervalMs > 0)) throw new Error(`candle interval unknown: pass intervalMs`);
  } else intervalMs = 1000;
  const set = featureSet(m.featureSet);
  const idx = projection(set, meta.featureNames);
  const scorer = await Scorer.load(m.bundle, meta.featureNames, { wasmPath: m.wasmPath });
  if (m.warmUpRuns) await scorer.warmUp(m.warmUpRuns);
  const e = training?.engine ?? {};
  state = {
    set: m.featureSet,
    intervalMs,
    micro: { maxFillMs: e.maxFillMs, longWindow: e.longWindow, atrBarMs: e.atrBarMs },
    idx,
    scorer,
    returnFeatures: !!m.returnFeatures,
    engines: new Map(),
    rows: new Float32Array(64 * idx.length),
  };
  scope.postMessage({
    type: "ready",
    featureNames: [...meta.featureNames],
    setFeatures: [...set.features],
    width: scorer.width,
    classes: meta.classes,
    training,
  });
}

function engineFor(s: Loaded, symbol: string): { update(x: never): Float64Array } {
  let e = s.engines.get(symbol);
  if (!e) {
    e = s.set === "candle" ? new CandleEngine(s.intervalMs) : new MicroEngine(s.micro);
    s.engines.set(symbol, e);
  }
  return e;
}

/** Updates the symbol's engine with every input, then scores the whole batch in one ORT run. */
async function score(id: number, symbol: string, inputs: readonly (Bar | MicroInput)[]) {
  const s = state!;
  const n = inputs.length;
  if (n === 0) {
    scope.postMessage({ type: "scores", id, results: [] });
    return;
  }
  const f = s.idx.length;
  if (s.rows.length < n * f) s.rows = new Float32Array(n * f * 2);
  const eng = engineFor(s, symbol);
  const results: ScoreResult[] = [];
  const transfer: Transferable[] = [];
  for (let i = 0; i < n; i++) {
    let v: Float64Array;
    try {
      v = eng.update(inputs[i] as never);
    } catch (e) {
      throw new Error(`${symbol} input ${i}: ${e instanceof Error ? e.message : e}`);
    }
    for (let j = 0; j < f; j++) s.rows[i * f + j] = v[s.idx[j]];
    const r: ScoreResult = { symbol, ts: inputs[i].ts, scores: [] };
    if (s.returnFeatures) {
      r.features = v.slice();
      transfer.push(r.features.buffer as ArrayBuffer);
    }
    results.push(r);
  }
  const out = await s.scorer.scoreBatch(s.rows, n);
  const w = s.scorer.width;
  for (let i = 0; i < n; i++) results[i].scores = Array.from(out.subarray(i * w, (i + 1) * w));
  scope.postMessage({ type: "scores", id, results }, transfer);
}

// Requests are handled one at a time, in arrival order: engine state is sequential per symbol
// and the ORT session is not re-entrant.
let chain: Promise<void> = Promise.resolve();

scope.onmessage = (e: MessageEvent<ToScoreWorker>) => {
  const m = e.data;
  chain = chain.then(async () => {
    const id = m.type === "bars" || m.type === "micro" ? m.id : null;
    try {
      if (m.type === "init") {
        if (state || initFailed) throw new Error("score worker: init sent twice");
        await init(m).catch((err) => {
          initFailed = true;
          throw err;
        });
        return;
      }
      if (!state) throw new Error("score worker: not initialised (init failed or not sent)");
      if (m.type === "reset") state.engines.delete(m.symbol);
      else if (m.type === "bars") {
        if (state.set !== "candle") throw new Error("bars sent to a micro score worker");
        await score(m.id, m.symbol, m.bars);
      } else if (m.type === "micro") {
        if (state.set !== "micro") throw new Error("micro inputs sent to a candle score worker");
        await score(m.id, m.symbol, m.inputs);
      }
    } catch (err) {
      scope.postMessage({ type: "error", id, message: msg(err) });
    }
  });
};
