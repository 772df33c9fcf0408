/**
 * A dated snapshot of Bitget's USDT-M contract specs, compiled into the binary, for databases that
 * hold none (candles brought in by `import`, for instance): the recorded
 * `GET /api/v2/mix/market/contracts?productType=USDT-FUTURES` response shipped as
 * `sample/rest/contracts.json` (API.md §4.1; BTCUSDT and ETHUSDT; `requestTime` gives its date).
 *
 * Specs change rarely for the majors (tick size, lot size, fees), but they do change: callers say
 * on stderr when they fall back to it and record {@link CONTRACTS_SNAPSHOT.date} in their output.
 */
import recorded from "../../sample/rest/contracts.json" with { type: "json" };
import { type ContractSpec, parseContract } from "./contracts.ts";

/** Where a spec came from, as recorded in `run.json`. */
export interface ContractsSnapshot {
  /** Human-readable origin of the snapshot. */
  source: string;
  /** The response's `requestTime` (ms since epoch). */
  requestTime: number;
  /** `requestTime` as a UTC date, YYYY-MM-DD. */
  date: string;
  /** The response's `data[]` entries, verbatim (stored as `contracts.raw` when imported). */
  raw: Record<string, unknown>[];
  specs: ContractSpec[];
}

const raw = recorded.data as unknown as Record<string, unknown>[];
const requestTime = Number(recorded.requestTime);

/** The bundled snapshot (see module doc). */
export const CONTRACTS_SNAPSHOT: ContractsSnapshot = {
  source: "bundled Bitget USDT-FUTURES contracts snapshot (sample/rest/contracts.json)",
  requestTime,
  date: new Date(requestTime).toISOString().slice(0, 10),
  raw,
  specs: raw.map(parseContract),
};

/** The snapshot's spec for `symbol`, or undefined when the snapshot does not list it. */
export function snapshotContract(symbol: string): ContractSpec | undefined {
  return CONTRACTS_SNAPSHOT.specs.find((c) => c.symbol === symbol);
}
