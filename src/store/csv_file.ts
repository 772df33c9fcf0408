/**
 * Reading CSV files for import: plain or gzip (`.csv.gz`, detected by the gzip magic bytes),
 * RFC 4180 quoting, a header row, the time column found by name, and cell parsers whose errors
 * name the file, the line (1-based, header = line 1) and the column.
 */
import { gunzipSync } from "node:zlib";

/** A bad input file: what is wrong and where (`line`/`column` when known). */
export class ImportError extends Error {
  override name = "ImportError";
  constructor(
    message: string,
    readonly file: string,
    readonly line?: number,
    readonly column?: string,
  ) {
    super(message);
  }
}

export interface CsvTable {
  file: string;
  header: string[];
  rows: string[][];
  /** Line number in the file of each row. */
  lines: number[];
}

/** Splits one CSV line; quoted fields may contain commas and doubled quotes (RFC 4180). */
export function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(",");
  const out: string[] = [];
  let cur = "";
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === '"') {
        if (line[i + 1] === '"') {
          cur += '"';
          i++;
        } else q = false;
      } else cur += c;
    } else if (c === '"') q = true;
    else if (c === ",") {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/**
 * Reads a whole CSV (or gzip-compressed CSV) file. Blank lines are skipped; every row must have
 * as many cells as the header.
 * @throws ImportError when the file cannot be read, is empty, or a row has the wrong width.
 */
export async function readCsv(file: string): Promise<CsvTable> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (e) {
    throw new ImportError(`cannot read ${file}: ${e instanceof Error ? e.message : e}`, file);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new ImportError(`${file}: bad gzip data: ${e instanceof Error ? e.message : e}`, file);
    }
  }
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes).replace(/^\uFEFF/, "");
  const all = text.split(/\r?\n/);
  let i = 0;
  while (i < all.length && all[i].trim() === "") i++;
  if (i === all.length) throw new ImportError(`${file}: empty file (no header row)`, file);
  const header = splitCsvLine(all[i]).map((h) => h.trim());
  const rows: string[][] = [];
  const lines: number[] = [];
  for (let j = i + 1; j < all.length; j++) {
    if (all[j].trim() === "") continue;
    const cells = splitCsvLine(all[j]);
    if (cells.length !== header.length) {
      throw new ImportError(
        `${file}:${j + 1}: ${cells.length} cells, expected ${header.length} (as in the header)`,
        file,
        j + 1,
      );
    }
    rows.push(cells);
    lines.push(j + 1);
  }
  return { file, header, rows, lines };
}

/** Time column names recognised, in order of preference. */
export const TIME_COLUMNS = [
  "ts_ms",
  "open_time_ms",
  "funding_time_ms",
  "time_ms",
  "timestamp_ms",
  "ts",
  "time",
  "timestamp",
  "open_time",
  "funding_time",
  "date",
  "datetime",
] as const;

/** Index of the time column (first of {@link TIME_COLUMNS} present, case-insensitive). */
export function findTimeColumn(t: CsvTable): number {
  const lower = t.header.map((h) => h.toLowerCase());
  for (const name of TIME_COLUMNS) {
    const i = lower.indexOf(name);
    if (i >= 0) return i;
  }
  throw new ImportError(
    `${t.file}: no time column; expected one of ${TIME_COLUMNS.join(", ")} in the header ` +
      `(${t.header.join(",")})`,
    t.file,
    1,
  );
}

/** Index of the first header among `names` (case-insensitive), or -1. */
export function findColumn(t: CsvTable, names: readonly string[]): number {
  const lower = t.header.map((h) => h.toLowerCase());
  for (const n of names) {
    const i = lower.indexOf(n.toLowerCase());
    if (i >= 0) return i;
  }
  return -1;
}

/** Like {@link findColumn} but a missing column is an ImportError naming the expected names. */
export function requireColumn(t: CsvTable, names: readonly string[]): number {
  const i = findColumn(t, names);
  if (i < 0) {
    throw new ImportError(
      `${t.file}: missing column ${names.join(" or ")} (header: ${t.header.join(",")})`,
      t.file,
      1,
      names[0],
    );
  }
  return i;
}

const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Parses a time cell: epoch milliseconds (integer) or ISO-8601 (UTC when no zone is given).
 * @throws ImportError for anything else, including epoch seconds (ambiguous with ms).
 */
export function parseTimeCell(t: CsvTable, row: number, col: number): number {
  const v = t.rows[row][col].trim();
  const where = () => `${t.file}:${t.lines[row]}: column ${t.header[col]}`;
  if (/^\d+$/.test(v)) {
    const ms = Number(v);
    if (ms < 1e11 || ms >= 1e14) {
      throw new ImportError(
        `${where()}: ${v} is not epoch milliseconds (expected 12–13 digits; seconds are not ` +
          `accepted)`,
        t.file,
        t.lines[row],
        t.header[col],
      );
    }
    return ms;
  }
  if (ISO.test(v)) {
    const zoned = /(?:Z|[+-]\d{2}:?\d{2})$/i.test(v) || v.length === 10 ? v : v + "Z";
    const ms = Date.parse(zoned.replace(" ", "T"));
    if (Number.isFinite(ms)) return ms;
  }
  throw new ImportError(
    `${where()}: ${JSON.stringify(v)} is not a time (expected epoch ms or ISO-8601)`,
    t.file,
    t.lines[row],
    t.header[col],
  );
}

/**
 * Parses a number cell. Empty cells return NaN when `optional`, else throw; anything that is not
 * a finite decimal throws ImportError naming file, line and column.
 */
export function parseNumberCell(t: CsvTable, row: number, col: number, optional = false): number {
  const v = t.rows[row][col].trim();
  if (v === "" && optional) return NaN;
  const x = v === "" ? NaN : Number(v);
  if (!Number.isFinite(x)) {
    throw new ImportError(
      `${t.file}:${t.lines[row]}: column ${t.header[col]}: ${
        v === "" ? "empty" : JSON.stringify(v)
      } is not a finite number`,
      t.file,
      t.lines[row],
      t.header[col],
    );
  }
  return x;
}

/** ImportError at a row/column with a custom message. */
export function cellError(t: CsvTable, row: number, col: number, msg: string): ImportError {
  return new ImportError(
    `${t.file}:${t.lines[row]}: column ${t.header[col]}: ${msg}`,
    t.file,
    t.lines[row],
    t.header[col],
  );
}
