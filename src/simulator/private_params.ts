/**
 * Request parameters of the simulator's private REST endpoints (private_rest.ts): the query of a
 * GET or the JSON body of a POST, read leniently the way Bitget does — values may be JSON
 * strings or numbers, enums compare case-insensitively and are answered in Bitget's lower-case
 * form (API.md §10.8), symbols are upper-cased (docs examples send `btcusdt`) — and the paging
 * rules of the list endpoints (API.md §5.5).
 *
 * Errors are Bitget's parameter codes (API.md §7): 40019 "Parameter X cannot be empty",
 * 40020 "Parameter X error", 40034 "Parameter X does not exist" (unknown symbol).
 */

/** A Bitget error to answer with HTTP `status` (400 unless noted). */
export class ApiError extends Error {
  constructor(readonly code: string, msg: string, readonly status = 400) {
    super(msg);
  }
}

export const missing = (p: string) => new ApiError("40019", `Parameter ${p} cannot be empty`);
export const invalid = (p: string, why?: string) =>
  new ApiError("40020", `Parameter ${p} error${why ? ": " + why : ""}`);

const DECIMAL = /^(?:\d+\.?\d*|\.\d+)$/;

/** Parameters of one request. */
export class Params {
  constructor(private readonly src: Record<string, unknown>) {}

  static query(q: URLSearchParams): Params {
    return new Params(Object.fromEntries(q));
  }

  /** The raw value of `name` (a JSON array or object, for list parameters), or undefined. */
  raw(name: string): unknown {
    return this.src[name];
  }

  /** `name` as a string (JSON numbers converted); null when absent or "". */
  str(name: string): string | null {
    const v = this.src[name];
    if (v === undefined || v === null || v === "") return null;
    if (typeof v === "number" && Number.isFinite(v)) return String(v);
    if (typeof v !== "string") throw invalid(name);
    return v;
  }

  /** Required string; 40019 when absent. */
  req(name: string): string {
    const v = this.str(name);
    if (v === null) throw missing(name);
    return v;
  }

  /** One of `allowed` (compared lower-case), returned lower-case; 40019 / 40020. */
  enumOf<T extends string>(name: string, allowed: readonly T[], required: true): T;
  enumOf<T extends string>(name: string, allowed: readonly T[], required: false): T | null;
  enumOf<T extends string>(name: string, allowed: readonly T[], required: boolean): T | null {
    const v = required ? this.req(name) : this.str(name);
    if (v === null) return null;
    const l = v.toLowerCase() as T;
    if (!allowed.includes(l)) throw invalid(name);
    return l;
  }

  /** A non-negative decimal number; 40019 / 40020. */
  num(name: string, required: true): number;
  num(name: string, required: boolean): number | null;
  num(name: string, required: boolean): number | null {
    const v = required ? this.req(name) : this.str(name);
    if (v === null) return null;
    if (!DECIMAL.test(v)) throw invalid(name);
    return Number(v);
  }

  /** An optional non-negative integer (epoch ms, limits); 40020 when malformed. */
  int(name: string): number | null {
    const v = this.str(name);
    if (v === null) return null;
    if (!/^\d{1,16}$/.test(v)) throw invalid(name);
    return Number(v);
  }

  /** `productType`: required, USDT-FUTURES in any case (API.md §0). */
  productType(): void {
    if (this.req("productType").toUpperCase() !== "USDT-FUTURES") throw invalid("productType");
  }

  /** `marginCoin`: USDT in any case; 40019 when required and absent. */
  marginCoin(required: boolean): void {
    const v = required ? this.req("marginCoin") : this.str("marginCoin");
    if (v !== null && v.toUpperCase() !== "USDT") throw invalid("marginCoin");
  }

  /** `symbol` upper-cased; 40034 when not in `known`. */
  symbol(known: ReadonlyMap<string, unknown>, required: true): string;
  symbol(known: ReadonlyMap<string, unknown>, required: boolean): string | null;
  symbol(known: ReadonlyMap<string, unknown>, required: boolean): string | null {
    const v = required ? this.req("symbol") : this.str("symbol");
    if (v === null) return null;
    const s = v.toUpperCase();
    if (!known.has(s)) throw new ApiError("40034", `Parameter ${v} does not exist`);
    return s;
  }
}

/**
 * One page of a list endpoint (API.md §5.5): items newest first (ids grow with time), those with
 * id < `idLessThan`, `cTime` in [startTime, endTime] (exchange time, ms), at most `limit`
 * (default and maximum 100); `endId` = the last item's id, null when the page is empty.
 */
export function page<T>(
  items: readonly T[],
  idOf: (t: T) => string,
  timeOf: (t: T) => number,
  p: Params,
): { list: T[]; endId: string | null } {
  const before = p.str("idLessThan");
  if (before !== null && !/^\d{1,30}$/.test(before)) throw invalid("idLessThan");
  const start = p.int("startTime");
  const end = p.int("endTime");
  const limit = p.int("limit") ?? 100;
  if (limit < 1 || limit > 100) throw invalid("limit");
  const lt = before === null ? null : BigInt(before);
  const list: T[] = [];
  for (let i = items.length - 1; i >= 0 && list.length < limit; i--) {
    const t = items[i];
    if (lt !== null && BigInt(idOf(t)) >= lt) continue;
    const ts = timeOf(t);
    if ((start !== null && ts < start) || (end !== null && ts > end)) continue;
    list.push(t);
  }
  return { list, endId: list.length > 0 ? idOf(list[list.length - 1]) : null };
}
