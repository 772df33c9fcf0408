/**
 * Reads a Bitget contracts JSON file: a saved `GET /api/v2/mix/market/contracts` response
 * (`{"code","msg","requestTime","data":[…]}`, API.md §4.1) or its bare `data` array.
 */
import { readFileSync } from "node:fs";
import { type ContractSpec, parseContract } from "./contracts.ts";

/** Thrown for an unreadable file, bad JSON, or a malformed entry; the message names the file. */
export class ContractsFileError extends Error {
  override name = "ContractsFileError";
}

/** Specs and the raw entries of `path` (see module doc). Throws ContractsFileError. */
export function readContractsFile(
  path: string,
): { specs: ContractSpec[]; raw: Record<string, unknown>[] } {
  try {
    const j = JSON.parse(readFileSync(path, "utf8"));
    const rows = Array.isArray(j) ? j : j?.data;
    if (!Array.isArray(rows)) throw new Error("expected a JSON array or {data: [...]}");
    const raw = rows as Record<string, unknown>[];
    return { specs: raw.map(parseContract), raw };
  } catch (e) {
    throw new ContractsFileError(`--contracts ${path}: ${(e as Error).message}`);
  }
}
