/**
 * `bitget-bot train <db> --features candle|micro --symbols S… --horizon H …` — builds the feature
 * matrix from the store with the live streaming engines (model/dataset.ts), labels it without
 * look-ahead (features/labels.ts), splits it walk-forward with a purge gap ≥ the horizon
 * (model/walk_forward.ts), trains a GBDT with LightGBM semantics and early stopping on the
 * validation window, prints per-iteration and out-of-sample metrics (model/train_metrics.ts) and
 * writes a model bundle with a `training` section (dataset.ts TrainingSectionSchema) and a `drift`
 * section: the PSI reference (model/drift.ts) of the training rows — not the validation rows — that
 * the lifecycle compares live features with (strategy/lifecycle.ts).
 *
 * Features are rounded to float32 before training: the ONNX scorer feeds float32, so the trained
 * splits, the printed metrics and live scores all see the same inputs.
 * Exit codes: 0 trained, 2 usage / parameter / data error, 1 failure while writing.
 */
import { parseArgs } from "node:util";
import type { FeatureSetName } from "../features/registry.ts";
import { LABEL_CLASSES } from "../features/labels.ts";
import { writeBundle } from "../model/bundle.ts";
import {
  buildDataset,
  type Dataset,
  DatasetError,
  type TrainingSection,
} from "../model/dataset.ts";
import { formatG } from "../model/lightgbm_text.ts";
import { train, type TrainData } from "../model/train/gbdt.ts";
import { TrainDataError } from "../model/train/objectives.ts";
import {
  OBJECTIVE_PARAM,
  ParamError,
  paramsToLightGbm,
  paramsWithDefaults,
  type TrainParams,
} from "../model/train/params.ts";
import { type EvalObjective, evaluate } from "../model/train_metrics.ts";
import { SplitError, type WalkForwardSplit, walkForwardSplit } from "../model/walk_forward.ts";
import { type GbdtModel, predictRaw, transform } from "../model/tree.ts";
import { Progress } from "../ops/progress.ts";
import { Store, StoreError } from "../store/store.ts";
import { referenceOf } from "../strategy/lifecycle.ts";
import { RetrainSchema } from "../strategy/ml_config.ts";

/** PSI bins of the bundle's drift section: the lifecycle's default (ml.retrain.psiBins). */
export const DRIFT_BINS: number = RetrainSchema.shape.psiBins.parse(undefined);

/** Defaults applied unless the same parameter (or an alias) is given. */
const DEFAULT_PARAMS = [
  "num_iterations=200",
  "learning_rate=0.05",
  "num_leaves=15",
  "min_data_in_leaf=200",
  "feature_fraction=0.8",
  "bagging_fraction=0.8",
  "bagging_freq=1",
  "lambda_l2=1",
  "early_stopping_round=30",
  "seed=42",
];

const USAGE = `usage: bitget-bot train <db> --features candle|micro --symbols S[,S…] --horizon H
         [--interval 1m|15m] [--from T] [--to T] [--objective multiclass|regression|binary]
         [--out models/<name>] [--fee-bps 6] [--slippage-bps 1] [--spread-bps X]
         [--valid-fraction 0.2] [--quiet] [key=value LightGBM parameters …]

  --features   candle: closed bars of --interval (default 1m) from the candles table, settled
               funding attached; micro: 1 s records, book from the stored top-15 books15 rows
               (agg_1s BookTop for seconds without one), trade flow from agg_1s, tickers
  --horizon    label horizon in bars (candle) or seconds (micro)
  --from/--to  row time range [from, to), epoch ms or ISO-8601 (default: everything)
  --objective  multiclass (default: flat/long/short), binary (long beats cost vs not), regression
               (forward log return, bps)
  cost threshold (bps) = 2·fee + spread + 2·slippage; --spread-bps default 1 (candle) or the
               observed spread of each second (micro)
  LightGBM defaults here (yours win): ${DEFAULT_PARAMS.join(" ")}`;

/** A user error: message printed as is, exit code 2. */
export class TrainUsageError extends Error {
  override name = "TrainUsageError";
}

export interface TrainRunOptions {
  db: string;
  features: FeatureSetName;
  symbols: string[];
  horizon: number;
  interval: string;
  from: number;
  to: number;
  objective: EvalObjective;
  out: string;
  takerFeeBps: number;
  slippageBps: number;
  spreadBps: number | null;
  validFraction: number;
  /** Extra LightGBM `key=value` parameters. */
  params: string[];
  /** Per-iteration and summary lines (default console.log). */
  log?: (line: string) => void;
  /** Called after each boosting iteration with (iterations done, iterations asked for). */
  onProgress?: (done: number, total: number) => void;
  /** Fixed creation time for reproducible bundles. */
  createdAt?: Date;
}

export interface TrainRunResult {
  model: GbdtModel;
  dataset: Dataset;
  split: WalkForwardSplit;
  /** Trainer predictions on the validation rows, row-major (width per row). */
  validPred: Float64Array;
  width: number;
  metrics: Record<string, number>;
  training: TrainingSection;
  bundle: { json: string; onnx: string; rawOnnx: string | null };
}

function resolveParams(objective: EvalObjective, user: string[]): TrainParams {
  for (const kv of user) {
    if (OBJECTIVE_PARAM.test(kv)) {
      throw new TrainUsageError(`${kv}: the objective is set by --objective (and num_class by it)`);
    }
  }
  return paramsWithDefaults(objective, user, DEFAULT_PARAMS);
}

function labelOf(d: Dataset, i: number, objective: EvalObjective): number {
  if (objective === "multiclass") return d.cls[i];
  if (objective === "binary") return d.cls[i] === 1 ? 1 : 0;
  return d.fwdRetBps[i];
}

function subset(
  d: Dataset,
  rows: Int32Array,
  objective: EvalObjective,
): TrainData & { values: Float64Array } {
  const c = d.cols;
  const values = new Float64Array(rows.length * c);
  const labels = new Float64Array(rows.length);
  rows.forEach((r, i) => {
    for (let j = 0; j < c; j++) values[i * c + j] = Math.fround(d.values[r * c + j]);
    labels[i] = labelOf(d, r, objective);
  });
  return {
    numRows: rows.length,
    numFeatures: c,
    values,
    labels,
    featureNames: [...d.featureNames],
  };
}

const iso = (ms: number) => new Date(ms).toISOString();
const fmt = (v: number) => (Number.isFinite(v) ? formatG(v, 6) : String(v));

/**
 * Builds the dataset, trains, evaluates and writes the bundle (see file doc).
 * @throws TrainUsageError, DatasetError, SplitError, ParamError, TrainDataError, StoreError for
 *   user errors (exit 2); other errors are failures.
 */
export async function runTrain(o: TrainRunOptions): Promise<TrainRunResult> {
  const log = o.log ?? ((s: string) => console.log(s));
  const params = resolveParams(o.objective, o.params);
  const store = Store.open(o.db, { readonly: true });
  let d: Dataset;
  try {
    d = buildDataset(store, {
      features: o.features,
      symbols: o.symbols,
      horizon: o.horizon,
      interval: o.interval,
      from: o.from,
      to: o.to,
      costs: { takerFeeBps: o.takerFeeBps, slippageBps: o.slippageBps, spreadBps: o.spreadBps },
    });
  } finally {
    store.close();
  }
  const horizonMs = o.horizon * d.stepMs;
  const split = walkForwardSplit(d.ts, { validFraction: o.validFraction, horizonMs });
  const tr = subset(d, split.train, o.objective);
  const va = subset(d, split.valid, o.objective);
  const y0 = tr.labels[0];
  if (tr.labels.every((y) => y === y0)) {
    throw new TrainUsageError(
      `constant label: every one of the ${tr.numRows} training rows has label ${y0}` +
        (o.objective === "regression" ? "" : ` (${LABEL_CLASSES[y0] ?? y0})`) +
        `; lower the costs, lengthen --horizon or use more data`,
    );
  }
  if (d.commonRange) {
    log(
      `symbols cover different spans: training on their common span ${iso(d.commonRange.from)} → ` +
        `${iso(d.commonRange.to)} (${d.commonRange.droppedRows} labelled rows outside it left out)`,
    );
  }
  const sym = d.perSymbol.map((p) => `${p.symbol} ${p.labelled}/${p.featureRows}`).join(", ");
  log(`dataset: ${d.rows} labelled rows × ${d.cols} ${o.features} features (${sym})`);
  log(
    `train ${iso(split.trainStartMs)} → ${iso(split.trainEndMs)} (${split.train.length} rows); ` +
      `purge ${split.purgedRows} rows, gap ${split.gapMs / 1000} s ≥ horizon ${
        horizonMs / 1000
      } s; ` +
      `valid ${iso(split.validStartMs)} → ${iso(split.validEndMs)} (${split.valid.length} rows)`,
  );
  const { model, history } = await train(tr, params, va, {
    onIteration: (it, vals, names) => {
      o.onProgress?.(it, params.numIterations);
      if (vals.length) {
        log(`[${it}]\t` + names.map((m, i) => `valid_1's ${m}: ${formatG(vals[i], 6)}`).join("\t"));
      }
    },
  });
  if (history.stoppedEarly) log(`Early stopping, best iteration is: [${history.bestIteration}]`);
  const width = o.objective === "multiclass" ? 3 : o.objective === "binary" ? 2 : 1;
  const validPred = new Float64Array(va.numRows * width);
  const raw = new Float64Array(model.numTreePerIteration);
  for (let i = 0; i < va.numRows; i++) {
    const p = transform(
      model,
      predictRaw(model, va.values.subarray(i * d.cols, (i + 1) * d.cols), raw),
    );
    if (o.objective === "binary") validPred.set([1 - p[0], p[0]], i * 2);
    else validPred.set(p, i * width);
  }
  const pick = <T extends ArrayLike<number>>(a: T) => Float64Array.from(split.valid, (r) => a[r]);
  const metrics = evaluate({
    objective: o.objective,
    pred: validPred,
    width,
    fwdRetBps: pick(d.fwdRetBps),
    cls: pick(d.cls),
    thresholdBps: pick(d.thresholdBps),
  });
  log(`out-of-sample (validation window, ${va.numRows} rows, ${model.trees.length} trees):`);
  log("  " + Object.entries(metrics).map(([k, v]) => `${k}=${fmt(v)}`).join("  "));
  const imp = d.featureNames.map((f, i) => ({
    f,
    g: history.importanceGain[i],
    s: history.importanceSplit[i],
  }))
    .sort((a, b) => b.g - a.g);
  log("feature importance (gain, split):");
  for (const x of imp.slice(0, 15)) {
    log(`  ${x.f.padEnd(22)} ${fmt(x.g).padStart(12)} ${String(x.s).padStart(6)}`);
  }

  const thr = o.spreadBps === null ? null : 2 * o.takerFeeBps + o.spreadBps + 2 * o.slippageBps;
  const costText = thr === null
    ? `2×${o.takerFeeBps} fee + observed spread + 2×${o.slippageBps} slippage bps`
    : `${thr} bps (2×${o.takerFeeBps} fee + ${o.spreadBps} spread + 2×${o.slippageBps} slippage)`;
  const refPx = o.features === "candle" ? `${o.interval} bar close` : "1 s mid";
  const labelDefinition = `forward log return ln(p[t+${o.horizon}]/p[t])×1e4 bps, p = ${refPx}; ` +
    (o.objective === "multiclass"
      ? `class long if > cost, short if < −cost, else flat; cost = ${costText}`
      : o.objective === "binary"
      ? `1 if the return beats cost (long), else 0; cost = ${costText}`
      : `regressed in bps; trade when |prediction| > cost = ${costText}`);
  const interval = o.features === "candle" ? o.interval : "1s";
  const training: TrainingSection = {
    featureSet: o.features,
    interval,
    stepMs: d.stepMs,
    engine: o.features === "candle"
      ? { intervalMs: d.stepMs }
      : { maxFillMs: 5000, longWindow: 3600, atrBarMs: 900_000 },
    symbols: [...o.symbols],
    horizon: o.horizon,
    horizonMs,
    objective: o.objective,
    labelDefinition,
    costs: { takerFeeBps: o.takerFeeBps, slippageBps: o.slippageBps, spreadBps: o.spreadBps },
    thresholdBps: thr,
    windows: {
      train: { startMs: split.trainStartMs, endMs: split.trainEndMs, rows: split.train.length },
      valid: { startMs: split.validStartMs, endMs: split.validEndMs, rows: split.valid.length },
      gapMs: split.gapMs,
      purgedRows: split.purgedRows,
    },
    params: paramsToLightGbm(params),
  };
  const finite = Object.fromEntries(Object.entries(metrics).filter(([, v]) => Number.isFinite(v)));
  const thresholds: Record<string, number> = thr === null ? {} : { cost_bps: thr };
  if (o.objective === "binary") thresholds.long_prob = 0.5;
  const b = await writeBundle(o.out, model, {
    classes: o.objective === "multiclass"
      ? [...LABEL_CLASSES]
      : o.objective === "binary"
      ? ["not_long", "long"]
      : null,
    label: { definition: labelDefinition, horizonMs },
    thresholds,
    trainingWindow: { startMs: split.trainStartMs, endMs: split.trainEndMs },
    validationMetrics: finite,
    source: `bitget-bot train ${o.features} ${interval} ${
      o.symbols.join(",")
    } horizon ${o.horizon}`,
    createdAt: o.createdAt,
    // The rows the model was fitted on, as it saw them (float32-rounded by subset()).
    drift: referenceOf(tr, DRIFT_BINS).toJSON(),
  });
  // The training section rides along in the JSON; the ONNX hashes are unaffected.
  const meta = JSON.parse(await Deno.readTextFile(b.json));
  await Deno.writeTextFile(b.json, JSON.stringify({ ...meta, training }, null, 2) + "\n");
  log(`wrote ${b.onnx}${b.rawOnnx ? `, ${b.rawOnnx}` : ""}, ${b.json}`);
  return { model, dataset: d, split, validPred, width, metrics, training, bundle: b };
}

function parseTime(s: string | undefined, what: string, dflt: number): number {
  if (s === undefined) return dflt;
  const n = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(n)) throw new TrainUsageError(`${what} ${s}: expected epoch ms or ISO-8601`);
  return n;
}

function parseNum(s: string | undefined, what: string, dflt: number, ok: (v: number) => boolean) {
  if (s === undefined) return dflt;
  const v = Number(s);
  if (s.trim() === "" || !Number.isFinite(v) || !ok(v)) {
    throw new TrainUsageError(`${what} ${s}: out of range`);
  }
  return v;
}

/** Parses the command line into run options; throws TrainUsageError naming the bad option. */
export function parseTrainArgs(argv: string[]): TrainRunOptions | "help" {
  const { values: v, positionals } = parseArgs({
    args: argv,
    options: {
      features: { type: "string" },
      symbols: { type: "string", multiple: true },
      horizon: { type: "string" },
      interval: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      objective: { type: "string" },
      out: { type: "string" },
      "fee-bps": { type: "string" },
      "slippage-bps": { type: "string" },
      "spread-bps": { type: "string" },
      "valid-fraction": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
  });
  if (v.help) return "help";
  const kv = positionals.filter((a) => a.includes("="));
  const rest = positionals.filter((a) => !a.includes("="));
  if (rest.length < 1) throw new TrainUsageError("expected the database path");
  const [db, ...moreSymbols] = rest;
  if (v.features !== "candle" && v.features !== "micro") {
    throw new TrainUsageError(`--features must be candle or micro, got ${v.features ?? "nothing"}`);
  }
  const symbols = [...(v.symbols ?? []).flatMap((s) => s.split(",")), ...moreSymbols]
    .map((s) => s.trim()).filter((s) => s !== "");
  const badSym = symbols.find((s) => !/^[A-Z0-9]{2,30}$/.test(s));
  if (symbols.length === 0 || badSym !== undefined) {
    throw new TrainUsageError(
      badSym !== undefined
        ? `symbol "${badSym}": expected an upper-case symbol like BTCUSDT`
        : "--symbols is required (e.g. --symbols BTCUSDT,ETHUSDT)",
    );
  }
  if (new Set(symbols).size !== symbols.length) {
    throw new TrainUsageError("a symbol is listed twice");
  }
  const horizon = parseNum(v.horizon, "--horizon", NaN, (x) => Number.isInteger(x) && x >= 1);
  if (!Number.isFinite(horizon)) {
    throw new TrainUsageError("--horizon is required (bars or seconds, ≥ 1)");
  }
  const interval = v.interval ?? "1m";
  if (v.features === "candle" && !/^(1m|15m)$/.test(interval)) {
    throw new TrainUsageError(`--interval must be 1m or 15m, got ${interval}`);
  }
  const objective = v.objective ?? "multiclass";
  if (objective !== "multiclass" && objective !== "binary" && objective !== "regression") {
    throw new TrainUsageError(
      `--objective must be multiclass, binary or regression, got ${objective}`,
    );
  }
  const from = parseTime(v.from, "--from", 0);
  const to = parseTime(v.to, "--to", Number.MAX_SAFE_INTEGER);
  if (!(to > from)) throw new TrainUsageError(`--to must be after --from`);
  const nonNeg = (x: number) => x >= 0;
  const spread = v["spread-bps"] === undefined
    ? (v.features === "candle" ? 1 : null)
    : parseNum(v["spread-bps"], "--spread-bps", 1, nonNeg);
  const name = `${v.features}_${v.features === "candle" ? interval : "1s"}_h${horizon}`;
  return {
    db,
    features: v.features,
    symbols,
    horizon,
    interval,
    from,
    to,
    objective,
    out: (v.out ?? `models/${name}`).replace(/\.(json|onnx)$/, ""),
    takerFeeBps: parseNum(v["fee-bps"], "--fee-bps", 6, nonNeg),
    slippageBps: parseNum(v["slippage-bps"], "--slippage-bps", 1, nonNeg),
    spreadBps: spread,
    validFraction: parseNum(v["valid-fraction"], "--valid-fraction", 0.2, (x) => x > 0 && x < 1),
    params: kv,
  };
}

/**
 * Entry point of `bitget-bot train …`.
 * @returns the process exit code (0 ok, 2 usage/parameter/data error, 1 write failure)
 */
export async function trainCommand(argv: string[]): Promise<number> {
  const usage = USAGE;
  let opts: TrainRunOptions | "help";
  try {
    opts = parseTrainArgs(argv);
  } catch (e) {
    console.error(`train: ${e instanceof Error ? e.message : e}\n\n${usage}`);
    return 2;
  }
  if (opts === "help") {
    console.log(usage);
    return 0;
  }
  const bar = new Progress("train", NaN, "iterations");
  try {
    await runTrain({
      ...opts,
      log: (line) => {
        bar.done(); // a log line replaces the bar; the next iteration redraws it
        console.log(line);
      },
      onProgress: (done, total) => {
        bar.setTotal(total);
        bar.update(done, `iteration ${done}/${total}`);
      },
    });
    return 0;
  } catch (e) {
    if (
      e instanceof TrainUsageError || e instanceof DatasetError || e instanceof SplitError ||
      e instanceof ParamError || e instanceof TrainDataError || e instanceof StoreError
    ) {
      console.error(`train: ${e.message}`);
      return 2;
    }
    if (e instanceof RangeError) {
      // Engine / label input errors name the row and value; they are data problems.
      console.error(`train: bad input data: ${e.message}`);
      return 2;
    }
    console.error(`train: ${e instanceof Error ? e.message : e}`);
    return 1;
  } finally {
    bar.done();
  }
}
