/**
 * Numeric CSV loader in the style of LightGBM's text data files: comma- or tab-separated numbers,
 * one row per line, optional header line (auto-detected: a first line containing any token that is
 * not a number / missing marker is a header).
 *
 * Missing values follow LightGBM's `Common::Atof` (utils/common.h): an empty field and `na`, `nan`,
 * `null` (any case) read as NaN. `inf`/`infinity` read as ±Infinity (LightGBM stores ±1e308, which
 * takes the same branch of every finite threshold). Any other token is an error naming line and
 * column.
 */

/** A malformed CSV input: what, where (1-based line and column), expected. */
export class CsvFormatError extends Error {
  constructor(detail: string, readonly line: number, readonly column?: number, source = "CSV") {
    super(`${source}: line ${line}${column !== undefined ? `, column ${column}` : ""}: ${detail}`);
    this.name = "CsvFormatError";
  }
}

/** Parsed numeric table, row-major. */
export interface NumericCsv {
  /** Column names when the file has a header line. */
  header?: string[];
  rows: number;
  cols: number;
  /** rows × cols values, row-major, double precision as parsed. */
  data: Float64Array;
}

export interface CsvOptions {
  /** true: first line is a header; false: no header; "auto" (default): detect. */
  header?: boolean | "auto";
  /** Name used in error messages (e.g. the file path). */
  source?: string;
}

const NUM_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parses one field; returns undefined when the token is not numeric or a missing marker. */
export function parseNumericField(tok: string): number | undefined {
  const t = tok.trim();
  if (t === "") return NaN;
  if (NUM_RE.test(t)) return Number(t);
  const l = t.toLowerCase();
  if (l === "na" || l === "nan" || l === "null" || l === "-nan") return NaN;
  if (l === "inf" || l === "infinity" || l === "+inf" || l === "+infinity") return Infinity;
  if (l === "-inf" || l === "-infinity") return -Infinity;
  return undefined;
}

/**
 * Parses numeric CSV text. Blank lines are skipped; `\r\n` endings are accepted.
 * @throws CsvFormatError for a non-numeric token (line, column), ragged rows or an empty file.
 */
export function parseNumericCsv(text: string, opts: CsvOptions = {}): NumericCsv {
  const source = opts.source ?? "CSV";
  const lines = text.split("\n");
  let first = 0;
  while (first < lines.length && lines[first].trim() === "") first++;
  if (first >= lines.length) throw new CsvFormatError("no data rows", 1, undefined, source);
  const firstLine = lines[first].replace(/\r$/, "");
  const sep = firstLine.includes(",") || !firstLine.includes("\t") ? "," : "\t";
  const firstToks = firstLine.split(sep);
  const isHeader = opts.header === "auto" || opts.header === undefined
    ? firstToks.some((t) => parseNumericField(t) === undefined)
    : opts.header;
  const cols = firstToks.length;
  const header = isHeader ? firstToks.map((t) => t.trim()) : undefined;
  const start = isHeader ? first + 1 : first;
  const out = new Float64Array(Math.max(0, lines.length - start) * cols);
  let rows = 0;
  for (let i = start; i < lines.length; i++) {
    const line = lines[i].endsWith("\r") ? lines[i].slice(0, -1) : lines[i];
    if (line.trim() === "") continue;
    const toks = line.split(sep);
    if (toks.length !== cols) {
      throw new CsvFormatError(
        `expected ${cols} fields, found ${toks.length}`,
        i + 1,
        undefined,
        source,
      );
    }
    const base = rows * cols;
    for (let c = 0; c < cols; c++) {
      const v = parseNumericField(toks[c]);
      if (v === undefined) {
        throw new CsvFormatError(
          `"${toks[c].slice(0, 40)}" is not a number (expected a number, empty, nan or inf)`,
          i + 1,
          c + 1,
          source,
        );
      }
      out[base + c] = v;
    }
    rows++;
  }
  if (rows === 0) throw new CsvFormatError("no data rows", start + 1, undefined, source);
  return { header, rows, cols, data: out.subarray(0, rows * cols) };
}

/**
 * Copies the feature columns of a parsed table into a float32 row-major matrix, optionally dropping
 * a leading label column (LightGBM `label_column=0`).
 * @throws CsvFormatError when the column count does not equal `numFeatures` (+1 with a label).
 */
export function featureMatrix(
  csv: NumericCsv,
  numFeatures: number,
  labelFirst: boolean,
  source = "CSV",
): { x: Float32Array; labels?: Float64Array } {
  const skip = labelFirst ? 1 : 0;
  if (csv.cols !== numFeatures + skip) {
    throw new CsvFormatError(
      `${csv.cols} columns, the model needs ${numFeatures} features${
        labelFirst ? " + the label column" : ""
      }`,
      1,
      undefined,
      source,
    );
  }
  const x = new Float32Array(csv.rows * numFeatures);
  const labels = labelFirst ? new Float64Array(csv.rows) : undefined;
  for (let r = 0; r < csv.rows; r++) {
    const base = r * csv.cols;
    if (labels) labels[r] = csv.data[base];
    for (let f = 0; f < numFeatures; f++) x[r * numFeatures + f] = csv.data[base + skip + f];
  }
  return { x, labels };
}
