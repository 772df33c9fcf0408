/**
 * `bitget-bot model import | inspect | predict | fit` — LightGBM text models and ONNX bundles.
 *
 *   import <model.txt> [--out models/<name>] [--meta info.json] [--precision double|float]
 *   inspect <bundle|model.txt> [--json]
 *   predict <bundle|model.txt> --csv <file> [--raw] [--label-first] [--header] [--out <file>]
 *   fit …   (the trainer; dispatched to src/cli/model_fit.ts)
 *   list | register | promote | rollback   (the registry; src/cli/model_registry.ts)
 *
 * A bundle is given as `models/<name>`, `models/<name>.json` or `models/<name>.onnx`; anything else
 * is read as a LightGBM text model. `predict` always scores through onnxruntime (a text model is
 * exported to ONNX in memory first) and prints one line per CSV row: the probability for binary,
 * comma-separated class probabilities for multiclass, the value for regression, raw scores with
 * `--raw`. Exit codes: 0 ok, 1 bad input / runtime failure, 2 usage.
 */
import { parseArgs } from "node:util";
import {
  BundleError,
  type BundleInfo,
  type BundleMeta,
  readBundle,
  readBundleMeta,
  writeBundle,
} from "../model/bundle.ts";
import { CsvFormatError, featureMatrix, parseNumericCsv } from "../model/csv.ts";
import { featureImportance, ModelFormatError, parseLightGbmModel } from "../model/lightgbm_text.ts";
import { OrtInitError } from "../model/ort.ts";
import { checkFeatureNames, FeatureMismatchError, Scorer } from "../model/scorer.ts";
import type { GbdtModel, Tree } from "../model/tree.ts";
import { REGISTRY_USAGE, registryCommand } from "./model_registry.ts";

const USAGE = `usage: bitget-bot model <subcommand> [options]

  import <model.txt> [--out models/<name>] [--meta info.json] [--precision double|float]
        convert a LightGBM text model into a bundle (<name>.onnx + <name>.json)
        --meta: JSON with any of classes, label {definition, horizonMs}, thresholds,
                trainingWindow {startMs, endMs}, validationMetrics, source
  inspect <bundle|model.txt> [--json]
        objective, trees, leaves, features, importance by gain and split, metrics
  predict <bundle|model.txt> --csv <file> [--raw] [--label-first] [--header] [--out <file>]
        score a numeric CSV through onnxruntime, one output line per row
        --label-first: the first column is a label (ignored); --header: first line is a header
        (auto-detected otherwise); --raw: raw scores instead of probabilities
  fit ...  train a model (see bitget-bot model fit --help)
${REGISTRY_USAGE}`;

/** True when `path` names a bundle rather than a LightGBM text model. */
async function isBundle(path: string): Promise<boolean> {
  if (/\.(json|onnx)$/.test(path)) return true;
  try {
    return (await Deno.stat(`${path}.json`)).isFile;
  } catch {
    return false;
  }
}

async function loadTextModel(path: string): Promise<GbdtModel> {
  return parseLightGbmModel(await Deno.readTextFile(path));
}

/** Shortest decimal that reads back as the same float32 (≤ 9 significant digits). */
export function formatFloat32(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf";
  for (let p = 1; p < 9; p++) {
    const s = Number(v.toPrecision(p));
    if (Math.fround(s) === v) return String(s);
  }
  return String(Number(v.toPrecision(9)));
}

async function importCmd(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { out: { type: "string" }, meta: { type: "string" }, precision: { type: "string" } },
    allowPositionals: true,
  });
  if (positionals.length !== 1) return usageError("import: expected one LightGBM model file");
  const precision = values.precision ?? "double";
  if (precision !== "double" && precision !== "float") {
    return usageError(`import: --precision must be double or float, got "${precision}"`);
  }
  const src = positionals[0];
  const model = await loadTextModel(src);
  const name = (src.split(/[\\/]/).pop() ?? "model").replace(/\.(txt|model)$/, "");
  const out = values.out ?? `models/${name}`;
  const info: BundleInfo = { source: `LightGBM text model ${src}`, precision };
  if (values.meta) {
    const m = JSON.parse(await Deno.readTextFile(values.meta)) as Record<string, unknown>;
    for (
      const k of [
        "classes",
        "label",
        "thresholds",
        "trainingWindow",
        "validationMetrics",
        "source",
      ] as const
    ) {
      // deno-lint-ignore no-explicit-any
      if (k in m) (info as any)[k] = m[k]; // shapes are validated by writeBundle's schema check
    }
  }
  const res = await writeBundle(out, model, info);
  console.log(`wrote ${res.onnx}${res.rawOnnx ? `, ${res.rawOnnx}` : ""}, ${res.json}`);
  console.log(
    `  ${res.meta.trees} trees, ${res.meta.featureNames.length} features, sha256 ${res.meta.onnx.sha256}`,
  );
  return 0;
}

function depth(t: Tree, node = 0): number {
  if (t.numLeaves <= 1 || node < 0) return 0;
  return 1 + Math.max(depth(t, t.leftChild[node]), depth(t, t.rightChild[node]));
}

function objectiveText(o: GbdtModel["objective"]): string {
  return o.name === "binary"
    ? `binary (sigmoid:${o.sigmoid})`
    : o.name === "multiclass"
    ? `multiclass (${o.numClass} classes)`
    : "regression";
}

function importanceTable(rows: { feature: string; split: number; gain: number }[]): string[] {
  const used = rows.filter((r) => r.split > 0).sort((a, b) => b.gain - a.gain || b.split - a.split);
  const w = Math.max(7, ...used.map((r) => r.feature.length));
  return [
    `importance (${used.length} features used, by gain):`,
    `  ${"feature".padEnd(w)}  ${"split".padStart(6)}  ${"gain".padStart(12)}  ${
      "gain %".padStart(6)
    }`,
    ...used.map((r) => {
      const total = used.reduce((s, x) => s + x.gain, 0) || 1;
      return `  ${r.feature.padEnd(w)}  ${String(r.split).padStart(6)}  ${
        r.gain.toFixed(1).padStart(12)
      }  ${(100 * r.gain / total).toFixed(1).padStart(6)}`;
    }),
  ];
}

async function inspectCmd(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { json: { type: "boolean" } },
    allowPositionals: true,
  });
  if (positionals.length !== 1) return usageError("inspect: expected one bundle or model file");
  const path = positionals[0];
  if (await isBundle(path)) {
    const { meta } = await readBundle(path); // verifies the ONNX hash
    if (values.json) {
      console.log(JSON.stringify(meta, null, 2));
      return 0;
    }
    console.log(bundleReport(path, meta).join("\n"));
    return 0;
  }
  const m = await loadTextModel(path);
  const split = featureImportance(m, "split");
  const gain = featureImportance(m, "gain");
  const leaves = m.trees.map((t) => t.numLeaves);
  const summary = {
    objective: m.objective,
    trees: m.trees.length,
    iterations: m.trees.length / m.numTreePerIteration,
    leaves: {
      total: leaves.reduce((a, b) => a + b, 0),
      min: Math.min(...leaves),
      max: Math.max(...leaves),
    },
    maxDepth: Math.max(...m.trees.map((t) => depth(t))),
    features: m.featureNames.length,
    importance: m.featureNames.map((feature, i) => ({ feature, split: split[i], gain: gain[i] })),
    parameters: m.parameters ?? {},
  };
  if (values.json) {
    console.log(JSON.stringify(summary, null, 2));
    return 0;
  }
  const lr = m.parameters?.learning_rate;
  console.log([
    `model:      ${path} (LightGBM text, v4)`,
    `objective:  ${objectiveText(m.objective)}`,
    `trees:      ${summary.trees} (${m.numTreePerIteration} per iteration, ${summary.iterations} iterations${
      lr ? `, learning_rate ${lr}` : ""
    })`,
    `leaves:     ${summary.leaves.total} total, ${summary.leaves.min}–${summary.leaves.max} per tree, max depth ${summary.maxDepth}`,
    `features:   ${summary.features}`,
    ...importanceTable(summary.importance),
    `metrics:    none (a LightGBM text model carries no validation metrics; import with --meta to record them)`,
  ].join("\n"));
  return 0;
}

function bundleReport(path: string, meta: BundleMeta): string[] {
  const metrics = Object.entries(meta.validationMetrics);
  return [
    `bundle:     ${path} (${meta.name}; ONNX sha256 ${
      meta.onnx.sha256.slice(0, 16)
    }… verified, ${meta.onnx.precision} precision)`,
    `objective:  ${objectiveText(meta.objective)}${
      meta.classes ? `, outputs [${meta.classes.join(", ")}]` : ""
    }`,
    `trees:      ${meta.trees} (${meta.numTreePerIteration} per iteration), ${meta.leaves} leaves`,
    `features:   ${meta.featureNames.length}`,
    `label:      ${
      meta.label
        ? `${meta.label.definition}${
          meta.label.horizonMs !== null ? `, horizon ${meta.label.horizonMs} ms` : ""
        }`
        : "not recorded"
    }`,
    `window:     ${
      meta.trainingWindow
        ? `${new Date(meta.trainingWindow.startMs).toISOString()} → ${
          new Date(meta.trainingWindow.endMs).toISOString()
        }`
        : "not recorded"
    }`,
    `thresholds: ${
      Object.entries(meta.thresholds).map(([k, v]) => `${k}=${v}`).join(", ") || "none"
    }`,
    `metrics:    ${metrics.map(([k, v]) => `${k}=${v}`).join(", ") || "none recorded"}`,
    `created:    ${meta.createdAt} by bitget-bot ${meta.toolVersion}${
      meta.source ? ` from ${meta.source}` : ""
    }`,
    ...importanceTable(meta.featureImportance),
  ];
}

const BATCH = 4096;

async function predictCmd(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      csv: { type: "string" },
      raw: { type: "boolean" },
      "label-first": { type: "boolean" },
      header: { type: "boolean" },
      out: { type: "string" },
    },
    allowPositionals: true,
  });
  if (positionals.length !== 1) return usageError("predict: expected one bundle or model file");
  if (!values.csv) return usageError("predict: --csv <file> is required");
  const path = positionals[0];
  const raw = !!values.raw;
  const labelFirst = !!values["label-first"];
  const csv = parseNumericCsv(await Deno.readTextFile(values.csv), {
    header: values.header ? true : "auto",
    source: values.csv,
  });
  let scorer: Scorer;
  let binaryProb = false;
  if (await isBundle(path)) {
    const meta = await readBundleMeta(path);
    const given = csv.header ? csv.header.slice(labelFirst ? 1 : 0) : meta.featureNames;
    checkFeatureNames(meta.featureNames, given);
    scorer = await Scorer.load(path, given, { raw });
    binaryProb = !raw && meta.objective.name === "binary";
  } else {
    const m = await loadTextModel(path);
    if (csv.header) checkFeatureNames(m.featureNames, csv.header.slice(labelFirst ? 1 : 0));
    scorer = await Scorer.fromModel(m, { raw });
    binaryProb = !raw && m.objective.name === "binary";
  }
  const { x } = featureMatrix(csv, scorer.numFeatures, labelFirst, values.csv);
  const f = scorer.numFeatures;
  const w = scorer.width;
  const lines: string[] = [];
  for (let r0 = 0; r0 < csv.rows; r0 += BATCH) {
    const n = Math.min(BATCH, csv.rows - r0);
    const y = await scorer.scoreBatch(x.subarray(r0 * f, (r0 + n) * f), n);
    for (let i = 0; i < n; i++) {
      if (binaryProb) lines.push(formatFloat32(y[i * w + 1]));
      else lines.push(Array.from(y.subarray(i * w, i * w + w), formatFloat32).join(","));
    }
  }
  await scorer.release();
  const text = lines.join("\n") + "\n";
  if (values.out) await Deno.writeTextFile(values.out, text);
  else await Deno.stdout.write(new TextEncoder().encode(text));
  return 0;
}

function usageError(msg: string): number {
  console.error(`model ${msg}\n\n${USAGE}`);
  return 2;
}

/** Entry point of `bitget-bot model …`; returns the process exit code. */
export async function modelCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
    console.log(USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub === "fit") {
    // The trainer owns `model fit`; it lives in its own module, loaded only when asked for.
    return await (await import("./model_fit.ts")).fitCommand(rest);
  }
  const reg = await registryCommand(sub, rest);
  if (reg !== null) return reg;
  const run = { import: importCmd, inspect: inspectCmd, predict: predictCmd }[sub];
  if (!run) {
    return usageError(
      `${sub}: unknown subcommand (expected import, inspect, predict, fit, list, register, ` +
        `promote or rollback)`,
    );
  }
  try {
    return await run(rest);
  } catch (e) {
    if (e instanceof TypeError && "code" in e && String(e.code).startsWith("ERR_PARSE_ARGS")) {
      return usageError(`${sub}: ${e.message}`);
    }
    const user = e instanceof ModelFormatError || e instanceof CsvFormatError ||
      e instanceof FeatureMismatchError || e instanceof BundleError || e instanceof OrtInitError ||
      e instanceof SyntaxError ||
      e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied ||
      e instanceof Deno.errors.IsADirectory;
    console.error(
      `model ${sub}: ${user ? (e as Error).message : e instanceof Error ? e.stack : e}`,
    );
    return 1;
  }
}
