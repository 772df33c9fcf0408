/**
 * Model bundles: `models/<name>.onnx` (the scoring graph) + `models/<name>.json` (metadata), and for
 * classifiers `models/<name>.raw.onnx` (raw scores, for `--raw` and diagnostics).
 *
 * The JSON records everything needed to use the model safely: feature names in input order,
 * objective and class meaning, label definition and horizon, decision thresholds, training window,
 * validation metrics, feature importance, SHA-256 of each ONNX file, creation time and tool version.
 * {@link readBundle} re-hashes the ONNX files and refuses a bundle whose bytes do not match.
 */

import { z } from "zod";
import { VERSION } from "../version.ts";
import { featureImportance } from "./lightgbm_text.ts";
import { exportOnnx, type OnnxPrecision } from "./onnx_export.ts";
import { preparedOf } from "./prepared.ts";
import { type GbdtModel, numOutputs } from "./tree.ts";

/** A bundle that cannot be read: missing file, invalid JSON, schema violation or hash mismatch. */
export class BundleError extends Error {
  override name = "BundleError";
}

const OnnxFileSchema = z.object({
  file: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** "transformed": probabilities / value; "raw": raw scores. */
  output: z.enum(["transformed", "raw"]),
  precision: z.enum(["double", "float"]),
});

const ObjectiveSchema = z.discriminatedUnion("name", [
  z.object({ name: z.literal("binary"), sigmoid: z.number().positive() }),
  z.object({ name: z.literal("multiclass"), numClass: z.number().int().min(2) }),
  z.object({ name: z.literal("regression") }),
]);

/** Schema of `<name>.json` (format version 1). */
export const BundleMetaSchema = z.object({
  format: z.literal("bitget-bot-model-bundle"),
  formatVersion: z.literal(1),
  name: z.string().min(1),
  onnx: OnnxFileSchema,
  rawOnnx: OnnxFileSchema.nullable(),
  featureNames: z.array(z.string().min(1)).min(1),
  objective: ObjectiveSchema,
  /** Width of the scoring output per row: 2 for binary ([1−p, p]), numClass, or 1. */
  outputWidth: z.number().int().min(1),
  /** Meaning of each output column of the probabilities (e.g. ["down","flat","up"]). */
  classes: z.array(z.string()).nullable(),
  label: z.object({ definition: z.string(), horizonMs: z.number().nonnegative().nullable() })
    .nullable(),
  /** Decision thresholds on the model output, by name (e.g. { long: 0.6, short: 0.4 }). */
  thresholds: z.record(z.number()),
  trainingWindow: z.object({ startMs: z.number(), endMs: z.number() }).nullable(),
  validationMetrics: z.record(z.number()),
  featureImportance: z.array(
    z.object({ feature: z.string(), split: z.number(), gain: z.number() }),
  ),
  trees: z.number().int().positive(),
  leaves: z.number().int().positive(),
  numTreePerIteration: z.number().int().positive(),
  source: z.string().nullable(),
  createdAt: z.string(),
  toolVersion: z.string(),
  /**
   * PSI reference of the training rows (model/drift.ts): per feature, decile edges and the share
   * of rows per bin (value bins, then missing). Absent in bundles imported from LightGBM.
   */
  drift: z.object({
    rows: z.number().int().nonnegative(),
    features: z.array(z.object({
      name: z.string(),
      edges: z.array(z.number()),
      expected: z.array(z.number()),
    })),
  }).optional(),
});

/** Parsed bundle metadata. */
export type BundleMeta = z.infer<typeof BundleMetaSchema>;

/** Caller-supplied descriptive fields for {@link writeBundle}; everything else comes from the model. */
export interface BundleInfo {
  classes?: string[] | null;
  label?: { definition: string; horizonMs: number | null } | null;
  thresholds?: Record<string, number>;
  trainingWindow?: { startMs: number; endMs: number } | null;
  validationMetrics?: Record<string, number>;
  /** Where the model came from (e.g. "lightgbm import of model.txt", "bitget-bot fit"). */
  source?: string | null;
  precision?: OnnxPrecision;
  /** Creation time (default now); injectable for reproducible output. */
  createdAt?: Date;
  /** PSI reference of the training rows (DriftReference.toJSON(), model/drift.ts). */
  drift?: {
    rows: number;
    features: readonly { name: string; edges: readonly number[]; expected: readonly number[] }[];
  };
}

/** Paths of a bundle given `models/<name>`, `models/<name>.json` or `models/<name>.onnx`. */
export function bundlePaths(
  path: string,
): { base: string; name: string; json: string; onnx: string } {
  const base = path.replace(/\.(raw\.onnx|onnx|json)$/, "");
  const name = base.split(/[\\/]/).pop() ?? base;
  return { base, name, json: `${base}.json`, onnx: `${base}.onnx` };
}

/** Lower-case hex SHA-256 of `bytes`. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

function dirOf(p: string): string {
  const i = Math.max(p.lastIndexOf("/"), p.lastIndexOf("\\"));
  return i < 0 ? "." : p.slice(0, i) || "/";
}

/**
 * Exports `model` to ONNX and writes the bundle files next to each other (`<base>.onnx`,
 * `<base>.raw.onnx` for classifiers, `<base>.json`, the JSON last so a reader never sees metadata
 * without its ONNX). Creates the directory if needed.
 * @returns the written metadata and paths.
 */
export async function writeBundle(
  path: string,
  model: GbdtModel,
  info: BundleInfo = {},
): Promise<{ meta: BundleMeta; json: string; onnx: string; rawOnnx: string | null }> {
  const p = bundlePaths(path);
  const precision = info.precision ?? "double";
  // Everything is built and validated in memory first, so bad metadata writes no file.
  // Exported by the training worker already (model/prepared.ts): the same bytes, made off the
  // main thread.
  const ready = precision === "double" ? preparedOf(model) : undefined;
  const main = ready?.transformed ??
    exportOnnx(model, { output: "transformed", precision, producerVersion: VERSION });
  const raw = model.objective.name === "regression"
    ? null
    : ready?.raw ?? exportOnnx(model, { output: "raw", precision, producerVersion: VERSION });
  const rawFile: z.infer<typeof OnnxFileSchema> | null = raw
    ? { file: `${p.name}.raw.onnx`, sha256: await sha256Hex(raw), output: "raw", precision }
    : null;
  const split = featureImportance(model, "split");
  const gain = featureImportance(model, "gain");
  const o = model.objective;
  const meta: BundleMeta = {
    format: "bitget-bot-model-bundle",
    formatVersion: 1,
    name: p.name,
    onnx: {
      file: `${p.name}.onnx`,
      sha256: await sha256Hex(main),
      output: "transformed",
      precision,
    },
    rawOnnx: rawFile,
    featureNames: [...model.featureNames],
    objective: o,
    outputWidth: o.name === "binary" ? 2 : numOutputs(model),
    classes: info.classes ?? null,
    label: info.label ?? null,
    thresholds: info.thresholds ?? {},
    trainingWindow: info.trainingWindow ?? null,
    validationMetrics: info.validationMetrics ?? {},
    featureImportance: model.featureNames
      .map((feature, i) => ({ feature, split: split[i], gain: gain[i] }))
      .sort((a, b) => b.gain - a.gain || b.split - a.split),
    trees: model.trees.length,
    leaves: model.trees.reduce((s, t) => s + t.numLeaves, 0),
    numTreePerIteration: model.numTreePerIteration,
    source: info.source ?? null,
    createdAt: (info.createdAt ?? new Date()).toISOString(),
    toolVersion: VERSION,
  };
  if (info.drift) {
    meta.drift = {
      rows: info.drift.rows,
      features: info.drift.features.map((f) => ({
        name: f.name,
        edges: [...f.edges],
        expected: [...f.expected],
      })),
    };
  }
  const check = BundleMetaSchema.safeParse(meta);
  if (!check.success) {
    const issues = check.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new BundleError(`invalid bundle metadata:\n  ${issues.join("\n  ")}`);
  }
  if (meta.classes && meta.classes.length !== meta.outputWidth) {
    throw new BundleError(
      `classes has ${meta.classes.length} names, the model outputs ${meta.outputWidth}`,
    );
  }
  await Deno.mkdir(dirOf(p.base), { recursive: true });
  await Deno.writeFile(p.onnx, main);
  const rawPath = raw ? `${p.base}.raw.onnx` : null;
  if (raw && rawPath) await Deno.writeFile(rawPath, raw);
  await Deno.writeTextFile(p.json, JSON.stringify(meta, null, 2) + "\n");
  return { meta, json: p.json, onnx: p.onnx, rawOnnx: rawPath };
}

/** Reads and validates `<base>.json` only (no ONNX bytes, no hash check). */
export async function readBundleMeta(path: string): Promise<BundleMeta> {
  const p = bundlePaths(path);
  let text: string;
  try {
    text = await Deno.readTextFile(p.json);
  } catch (e) {
    throw new BundleError(
      `cannot read bundle metadata ${p.json}: ${e instanceof Error ? e.message : e}`,
    );
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new BundleError(`${p.json} is not valid JSON: ${e instanceof Error ? e.message : e}`);
  }
  const r = BundleMetaSchema.safeParse(obj);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new BundleError(`${p.json} is not a valid model bundle:\n  ${issues.join("\n  ")}`);
  }
  return r.data;
}

/**
 * Reads a bundle and the ONNX file for `output`, verifying its SHA-256 against the metadata.
 * @param output "transformed" (default) or "raw" (regression bundles serve raw from the main file).
 * @throws BundleError for missing files, invalid metadata or a hash mismatch.
 */
export async function readBundle(
  path: string,
  output: "transformed" | "raw" = "transformed",
): Promise<{ meta: BundleMeta; onnx: Uint8Array }> {
  const meta = await readBundleMeta(path);
  const entry = output === "raw" && meta.rawOnnx ? meta.rawOnnx : meta.onnx;
  const file = `${dirOf(bundlePaths(path).base)}/${entry.file}`;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (e) {
    throw new BundleError(`cannot read ${file}: ${e instanceof Error ? e.message : e}`);
  }
  const h = await sha256Hex(bytes);
  if (h !== entry.sha256) {
    throw new BundleError(
      `${file}: SHA-256 ${h} does not match the bundle's ${entry.sha256} (file changed?)`,
    );
  }
  return { meta, onnx: bytes };
}
