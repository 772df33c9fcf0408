/**
 * `bitget-bot model fit <train.csv> [--valid <valid.csv>] --out <dir> [key=value …]` — trains a
 * GBDT with LightGBM's semantics (src/model/train/) on CSVs laid out as LightGBM's CLI reads them
 * (label in the first column, no header, comma- or tab-separated; empty / na / nan = missing) and
 * parameters given the way LightGBM's CLI takes them (`objective=multiclass num_class=3 …`, same
 * names, aliases and defaults).
 *
 * Prints the validation metrics per iteration as LightGBM does (`[1]\tvalid_1's multi_logloss:
 * 1.08758`), then writes `<dir>/model.txt` (LightGBM text model) and the ONNX bundle
 * `<dir>/model.onnx` + `<dir>/model.json` (+ `model.raw.onnx` for classifiers). The bundle's `drift`
 * section is the PSI reference (model/drift.ts) of the training CSV's rows (not --valid's),
 * rounded to float32 as the ONNX scorer feeds them.
 * Exit codes: 0 trained, 2 usage / parameter / input-data error, 1 failure while writing.
 */
import { parseArgs } from "node:util";
import { writeBundle } from "../model/bundle.ts";
import { CsvFormatError, parseNumericCsv } from "../model/csv.ts";
import { formatG, writeLightGbmModel } from "../model/lightgbm_text.ts";
import { train, type TrainData } from "../model/train/gbdt.ts";
import { TrainDataError } from "../model/train/objectives.ts";
import { ParamError, parseParams } from "../model/train/params.ts";
import { referenceOf } from "../strategy/lifecycle.ts";
import { RetrainSchema } from "../strategy/ml_config.ts";

/** PSI bins of the bundle's drift section: the lifecycle's default (ml.retrain.psiBins). */
const DRIFT_BINS = RetrainSchema.shape.psiBins.parse(undefined);

const USAGE =
  `usage: bitget-bot model fit <train.csv> [--valid <valid.csv>] --out <dir> [key=value ...]

  CSV files: label in the first column, then the features; no header (LightGBM CLI layout).
  Parameters use LightGBM's names, aliases and defaults, e.g.
    objective=multiclass num_class=3 num_iterations=200 learning_rate=0.05 num_leaves=31
    max_bin=255 min_data_in_leaf=20 feature_fraction=0.9 bagging_fraction=0.8 bagging_freq=1
    lambda_l1=0 lambda_l2=0 min_gain_to_split=0 max_depth=-1 early_stopping_round=20
    metric=multi_logloss,multi_error seed=42 num_threads=0
  Writes <dir>/model.txt (LightGBM text model) and the bundle <dir>/model.onnx + <dir>/model.json.`;

/** A user error: message printed as is, exit code 2. */
class FitUsageError extends Error {}

async function readCsv(path: string, what: string): Promise<TrainData> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new FitUsageError(`${what} ${path}: cannot read (${e instanceof Error ? e.message : e})`);
  }
  const csv = parseNumericCsv(text, { header: false, source: path });
  if (csv.cols < 2) {
    throw new FitUsageError(
      `${path}: ${csv.cols} column; expected the label followed by at least one feature`,
    );
  }
  const nf = csv.cols - 1;
  const labels = new Float64Array(csv.rows);
  const values = new Float64Array(csv.rows * nf);
  for (let r = 0; r < csv.rows; r++) {
    labels[r] = csv.data[r * csv.cols];
    values.set(csv.data.subarray(r * csv.cols + 1, (r + 1) * csv.cols), r * nf);
  }
  return { numRows: csv.rows, numFeatures: nf, values, labels };
}

/** Metrics line as LightGBM's log_evaluation prints it: `[it]\tvalid_1's name: value …`. */
function metricLine(it: number, values: number[], names: string[]): string {
  return `[${it}]\t` + names.map((m, i) => `valid_1's ${m}: ${formatG(values[i], 6)}`).join("\t");
}

/**
 * Entry point of `bitget-bot model fit …`.
 * @returns the process exit code (0 ok, 2 usage/parameter/data error, 1 write failure)
 */
export async function fitCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        valid: { type: "string" },
        out: { type: "string" },
        quiet: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
    });
  } catch (e) {
    console.error(`model fit: ${e instanceof Error ? e.message : e}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const files = positionals.filter((a) => !a.includes("="));
  const kv = positionals.filter((a) => a.includes("="));
  if (files.length !== 1) {
    console.error(`model fit: expected one training CSV, got ${files.length}\n${USAGE}`);
    return 2;
  }
  if (!values.out) {
    console.error(`model fit: --out <dir> is required\n${USAGE}`);
    return 2;
  }
  const out = values.out.replace(/[\\/]+$/, "") || ".";
  let result;
  let data: TrainData;
  const t0 = performance.now();
  try {
    const params = parseParams(kv);
    data = await readCsv(files[0], "training data");
    const valid = values.valid ? await readCsv(values.valid, "validation data") : undefined;
    if (valid && valid.numFeatures !== data.numFeatures) {
      throw new FitUsageError(
        `${values.valid}: ${valid.numFeatures} features, ${files[0]} has ${data.numFeatures}`,
      );
    }
    result = await train(data, params, valid, {
      onIteration: (it, vals, names) => {
        if (!values.quiet && vals.length) console.log(metricLine(it, vals, names));
      },
    });
  } catch (e) {
    if (e instanceof TrainDataError) {
      const where = `training data = ${files[0]}${
        values.valid ? `, validation data = ${values.valid}` : ""
      }`;
      console.error(`model fit: ${e.message} (${where})`);
      return 2;
    }
    if (e instanceof ParamError || e instanceof CsvFormatError || e instanceof FitUsageError) {
      console.error(`model fit: ${e.message}`);
      return 2;
    }
    throw e;
  }
  const { model, history } = result;
  const secs = (performance.now() - t0) / 1000;
  if (history.stoppedEarly) {
    const best = history.valid[history.bestIteration - 1];
    console.log(`Early stopping, best iteration is:`);
    console.log(metricLine(history.bestIteration, best, history.metrics));
  }
  const validationMetrics: Record<string, number> = {};
  if (history.valid.length) {
    const at = history.valid[Math.min(history.numIterations, history.valid.length) - 1];
    history.metrics.forEach((m, i) => (validationMetrics[m] = at[i]));
  }
  try {
    await Deno.mkdir(out, { recursive: true });
    await Deno.writeTextFile(
      `${out}/model.txt`,
      writeLightGbmModel(model, { pandasCategorical: false }),
    );
    const drift = referenceOf(
      { ...data, values: Float32Array.from(data.values), featureNames: [...model.featureNames] },
      DRIFT_BINS,
    );
    const b = await writeBundle(`${out}/model`, model, {
      source: `bitget-bot model fit ${files[0]}`,
      validationMetrics,
      drift: drift.toJSON(),
    });
    console.log(
      `trained ${history.numIterations} iterations (${model.trees.length} trees) in ${
        secs.toFixed(1)
      } s on ${history.threads} thread(s)`,
    );
    console.log(`wrote ${out}/model.txt, ${b.onnx}, ${b.json}`);
  } catch (e) {
    console.error(`model fit: writing ${out}: ${e instanceof Error ? e.message : e}`);
    return 1;
  }
  return 0;
}
