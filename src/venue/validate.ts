/**
 * Static checks of a place-order request against the contract spec and the position mode,
 * with Bitget's error codes (API.md §5.3 field rules, §7 codes).
 */
import type { ContractSpec } from "../market/contracts.ts";
import type { PlaceOrderRequest, Rejection } from "./types.ts";

const CLIENT_OID = /^[0-9a-zA-Z\-+_#]+$/;

/** True when `x` is an integer multiple of `step` up to float noise (1e-9 of a step). */
export function onGrid(x: number, step: number): boolean {
  const k = x / step;
  return Math.abs(k - Math.round(k)) < 1e-9 * Math.max(1, Math.abs(k)) + 1e-9;
}

/** 40304: `oid` empty or ≥ 50 chars; 40305: chars outside `[0-9a-zA-Z-+_#]` (API.md §5.3). */
export function checkClientOid(oid: string): Rejection | null {
  if (typeof oid !== "string" || oid.length === 0 || oid.length >= 50) {
    return { code: "40304", msg: `clientOid must be 1–49 chars, got ${JSON.stringify(oid)}` };
  }
  if (!CLIENT_OID.test(oid)) return { code: "40305", msg: `clientOid ${oid} has invalid chars` };
  return null;
}

/** 40808 (Bitget's scale error) when `p` is not a multiple of `tickSize`; `field` names it. */
export function checkTick(field: string, p: number, spec: ContractSpec): Rejection | null {
  if (onGrid(p, spec.tickSize)) return null;
  return {
    code: "40808",
    msg:
      `Parameter verification exception ${field} checkScale error value=${p} tickSize=${spec.tickSize}`,
  };
}

/**
 * Returns the first violated rule as a Rejection, or null when the request is well-formed:
 * 40304/40305 clientOid, 40020 enum/required fields, 40774 field invalid in the position mode,
 * 40808 size not a multiple of lotSize or price not a multiple of tickSize, 43006 size below
 * minTradeNum. Balance, position and notional checks need venue state and live in SimExchange.
 */
export function validateOrder(
  req: PlaceOrderRequest,
  spec: ContractSpec,
  mode: "one_way" | "hedge",
): Rejection | null {
  const badOid = checkClientOid(req.clientOid);
  if (badOid) return badOid;
  if (req.side !== "buy" && req.side !== "sell") {
    return { code: "40020", msg: `side must be buy|sell, got ${JSON.stringify(req.side)}` };
  }
  if (req.orderType !== "market" && req.orderType !== "limit") {
    return {
      code: "40020",
      msg: `orderType must be market|limit, got ${JSON.stringify(req.orderType)}`,
    };
  }
  if (req.force !== undefined && !["gtc", "ioc", "fok", "post_only"].includes(req.force)) {
    return {
      code: "40020",
      msg: `force must be gtc|ioc|fok|post_only, got ${JSON.stringify(req.force)}`,
    };
  }
  if (mode === "hedge") {
    if (req.reduceOnly) {
      return { code: "40774", msg: "reduceOnly is one-way mode only; use tradeSide=close" };
    }
    if (req.tradeSide !== "open" && req.tradeSide !== "close") {
      return { code: "40774", msg: "hedge mode requires tradeSide open|close" };
    }
  }
  if (!(Number.isFinite(req.size) && req.size > 0)) {
    return { code: "40020", msg: `size must be a positive number (base coin), got ${req.size}` };
  }
  if (!onGrid(req.size, spec.lotSize)) {
    return {
      code: "40808",
      msg:
        `Parameter verification exception size checkBDScale error value=${req.size} lotSize=${spec.lotSize}`,
    };
  }
  if (req.size < spec.minTradeNum - 1e-12) {
    return {
      code: "43006",
      msg: `size ${req.size} below minimum order quantity ${spec.minTradeNum}`,
    };
  }
  if (req.orderType === "limit") {
    const p = req.price;
    if (p === undefined || !(Number.isFinite(p) && p > 0)) {
      return { code: "40020", msg: `limit order needs a positive price, got ${p}` };
    }
    const off = checkTick("price", p, spec);
    if (off) return off;
  }
  return null;
}
