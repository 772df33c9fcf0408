/**
 * Handlers of the trading endpoints of the simulator's private REST (private_endpoints.ts has
 * the route table): place-order, place-tpsl-order, cancel-plan-order, the batch cancels and the
 * order lists, each reading the Bitget request fields named in its doc line (API.md §5.3–§5.7)
 * and returning the envelope's `data`, or throwing ApiError with Bitget's code.
 */
import type { HoldSide } from "../venue/types.ts";
import { orderRest } from "./private_format.ts";
import type { PrivateExchange } from "./private_exchange.ts";
import { ApiError, invalid, page, Params } from "./private_params.ts";
import type { Obj, OrderRec, Outcome, PlanRec, WirePlanType } from "./private_records.ts";

export function value<T>(r: Outcome<T>): T {
  if (!r.ok) throw new ApiError(r.code, r.msg);
  return r.value;
}

export const ids = (o: { orderId: string; clientOid: string }) => ({
  orderId: o.orderId,
  clientOid: o.clientOid,
});
const FINAL = new Set(["filled", "cancelled"]);
const TPSL_TYPES: readonly WirePlanType[] = [
  "pos_loss",
  "pos_profit",
  "moving_plan",
  "profit_plan",
  "loss_plan",
];

/** An execute price: empty or 0 = market, the only execution simulated. */
export function marketOnly(p: Params, name: string): void {
  const v = p.num(name, false);
  if (v !== null && v !== 0) invalidThrow(name, "limit execution of TP/SL is not simulated");
}
function invalidThrow(name: string, why: string): never {
  throw invalid(name, why);
}

/** orders-pending / orders-history list (API.md §5.5). */
export function orderList(x: PrivateExchange, p: Params, open: boolean) {
  p.productType();
  const symbol = p.symbol(x.specs, false);
  const orderId = p.str("orderId");
  const clientOid = p.str("clientOid");
  const status = open ? p.enumOf("status", ["live", "partially_filled"], false) : null;
  const items = x.ledger.orders.filter((o) =>
    FINAL.has(o.status) !== open &&
    (symbol === null || o.symbol === symbol) &&
    (orderId === null || o.orderId === orderId) &&
    (clientOid === null || o.clientOid === clientOid) &&
    (status === null || (status === "live" ? o.filledSize === 0 : o.filledSize > 0))
  );
  const { list, endId } = page(items, (o) => o.orderId, (o) => o.cTime, p);
  return {
    entrustedList: list.length > 0 ? list.map((o) => orderRest(o, "status")) : null,
    endId,
  };
}

/** `orderIdList` of batch cancels: `[{orderId?, clientOid?}]`, at most 50. */
export function idList(p: Params): { orderId: string | null; clientOid: string | null }[] | null {
  const v = p.raw("orderIdList");
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || v.length > 50) throw invalid("orderIdList");
  return v.map((e) => {
    const q = new Params(e !== null && typeof e === "object" ? e : {});
    return { orderId: q.str("orderId"), clientOid: q.str("clientOid") };
  });
}

export function placeOrder(x: PrivateExchange, p: Params, onPlace: (oid: string) => void): Obj {
  const symbol = p.symbol(x.specs, true);
  p.productType();
  p.enumOf("marginMode", ["isolated", "crossed"], true);
  p.marginCoin(true);
  const size = p.num("size", true);
  const side = p.enumOf("side", ["buy", "sell"], true);
  const orderType = p.enumOf("orderType", ["limit", "market"], true);
  const price = orderType === "limit" ? p.num("price", true) : undefined;
  const force = p.enumOf("force", ["gtc", "ioc", "fok", "post_only"], false) ?? "gtc";
  const tradeSide = p.enumOf("tradeSide", ["open", "close"], false) ?? undefined;
  const reduceOnly = p.enumOf("reduceOnly", ["yes", "no"], false) === "yes";
  p.enumOf("stpMode", ["none", "cancel_taker", "cancel_maker", "cancel_both"], false);
  marketOnly(p, "presetStopSurplusExecutePrice");
  marketOnly(p, "presetStopLossExecutePrice");
  const r = x.placeOrder({
    clientOid: p.str("clientOid"),
    symbol,
    side,
    orderType,
    size,
    price,
    force,
    reduceOnly,
    tradeSide,
    presetTp: p.num("presetStopSurplusPrice", false) ?? undefined,
    presetSl: p.num("presetStopLossPrice", false) ?? undefined,
  });
  onPlace(r.ok ? r.value.clientOid : p.str("clientOid") ?? "");
  return ids(value(r));
}

export function placeTpsl(x: PrivateExchange, p: Params): Obj {
  p.marginCoin(true);
  p.productType();
  const symbol = p.symbol(x.specs, true);
  const planType = p.enumOf("planType", TPSL_TYPES, true);
  const hedge = x.modes.positionMode === "hedge";
  const hs = p.enumOf("holdSide", ["long", "short", "buy", "sell"], true);
  if (hedge !== (hs === "long" || hs === "short")) {
    throw new ApiError(
      "40774",
      hedge
        ? "holdSide must be long or short in hedge mode"
        : "holdSide must be buy or sell in one-way mode",
    );
  }
  const holdSide: HoldSide = hs === "long" || hs === "buy" ? "long" : "short";
  const triggerPrice = p.num("triggerPrice", planType !== "moving_plan") ?? undefined;
  const triggerType = p.enumOf("triggerType", ["fill_price", "mark_price"], false) ?? "fill_price";
  marketOnly(p, "executePrice");
  const sized = planType === "profit_plan" || planType === "loss_plan" ||
    planType === "moving_plan";
  const size = p.num("size", planType === "profit_plan" || planType === "loss_plan") ?? undefined;
  const rangeRate = planType === "moving_plan" ? p.num("rangeRate", true) : undefined;
  p.enumOf("stpMode", ["none", "cancel_taker", "cancel_maker", "cancel_both"], false);
  return ids(value(x.placeTpsl({
    clientOid: p.str("clientOid"),
    symbol,
    planType,
    holdSide,
    triggerPrice,
    triggerType,
    rangeRate,
    size: sized ? size : undefined,
  })));
}

export function cancelPlans(x: PrivateExchange, p: Params): Obj {
  p.productType();
  p.marginCoin(false);
  const symbol = p.symbol(x.specs, false);
  const planType = p.str("planType")?.toLowerCase() ?? "normal_plan";
  const list = idList(p);
  const successList: Obj[] = [];
  const failureList: Obj[] = [];
  const matches = (r: PlanRec) =>
    (symbol === null || r.plan.symbol === symbol) &&
    (planType === "profit_loss" ? true : r.planType === planType);
  const targets: { rec: PlanRec | undefined; orderId: string; clientOid: string }[] = list
    ? list.map((e) => ({
      rec: x.ledger.plan(e.orderId, e.clientOid),
      orderId: e.orderId ?? "",
      clientOid: e.clientOid ?? "",
    }))
    : [...x.ledger.plans.values()].filter((r) => r.plan.status === "live" && matches(r))
      .map((rec) => ({ rec, orderId: rec.orderId, clientOid: rec.clientOid }));
  for (const t of targets) {
    const r = x.cancelPlan(t.rec);
    if (r.ok) successList.push(ids(r.value));
    else failureList.push({ ...ids(t), errorMsg: r.msg, errorCode: r.code });
  }
  return { successList, failureList };
}

export function cancelMany(
  x: PrivateExchange,
  targets: (OrderRec | { orderId: string; clientOid: string; missing: true })[],
) {
  const successList: Obj[] = [];
  const failureList: Obj[] = [];
  for (const t of targets) {
    const r = "missing" in t
      ? { ok: false as const, code: "40768", msg: "Order does not exist" }
      : x.cancelOrder(t.symbol, t.orderId, null);
    if (r.ok) successList.push(ids(r.value));
    else failureList.push({ ...ids(t), errorMsg: r.msg, errorCode: r.code });
  }
  return { successList, failureList };
}

export function batchCancel(x: PrivateExchange, p: Params, all: boolean): Obj {
  p.productType();
  p.marginCoin(false);
  const list = all ? null : idList(p);
  const symbol = p.symbol(x.specs, list !== null);
  if (list === null) {
    return cancelMany(x, [...x.ledger.open].filter((o) => symbol === null || o.symbol === symbol));
  }
  return cancelMany(
    x,
    list.map((e) => {
      const rec = x.ledger.order(e.orderId, e.clientOid);
      return rec && rec.symbol === symbol
        ? rec
        : { orderId: e.orderId ?? "", clientOid: e.clientOid ?? "", missing: true as const };
    }),
  );
}
