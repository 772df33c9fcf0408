/**
 * Bitget v2 JSON shapes of the simulator's private API (API.md §3.2 pushes, §5 REST), built from
 * the private exchange's records (private_exchange.ts). Pure functions.
 *
 * Conventions, as in real responses (API.md §0, §10.4; the real captures quoted in §5.5/§5.6):
 * - Every number is a decimal string: sizes rounded to the contract's `volumePlace` and prices
 *   to its `pricePlace`, trailing zeros trimmed (`"0.4"`, `"3000"`); averages (a taker fill that
 *   walked several levels, `priceAvg`, `openPriceAvg`, `breakEvenPrice`, `liquidationPrice`)
 *   keep 4 more decimals; money (USDT) 8 decimals, trimmed — except the `account` push, whose
 *   balances are fixed 8-decimal strings and `usdtEquity` / `unrealizedPL` 12 (docs example).
 *   Exceptions: `leverage` is a JSON number in the `positions` push and a string elsewhere.
 * - Fees are negative when charged (`fee`, `fillFee`, `feeDetail[].fee|totalFee`).
 * - Enums lower case: status `live|partially_filled|filled|canceled`, posMode
 *   `one_way_mode|hedge_mode`, marginMode `isolated|crossed`, holdSide `long|short`, posSide
 *   `long|short|net`; reduceOnly `"yes"|"no"` in pushes and `"YES"|"NO"` in REST. One-way orders
 *   report tradeSide `buy_single|sell_single` (real capture, API.md §5.3), hedge orders
 *   `open|close`. Times are the exchange clock (the replayed market's event time), epoch ms
 *   strings.
 * - Fields with no value are omitted as real REST bodies do (a market order's `price`, unset
 *   preset prices, `priceAvg` before any fill, `cancelReason` of an order not canceled).
 */

import type { SimPlanOrder } from "../venue/types.ts";
import {
  avg,
  cancelReason,
  type FillRec,
  fixed,
  money,
  type Obj,
  type OrderRec,
  type PlanRec,
  posModeWire,
  posSide,
  px,
  size,
  statusWire,
  tradeSideWire,
  type WirePlanType,
} from "./private_records.ts";

function presets(o: OrderRec, out: Obj): void {
  if (o.presetTp !== null) {
    out.presetStopSurplusPrice = px(o.presetTp, o.spec);
    out.presetStopSurplusType = o.presetType;
  }
  if (o.presetSl !== null) {
    out.presetStopLossPrice = px(o.presetSl, o.spec);
    out.presetStopLossType = o.presetType;
  }
}

/**
 * REST order (detail: `statusKey` "state", as real detail bodies; orders-pending /
 * orders-history: "status"; API.md §5.5).
 */
export function orderRest(o: OrderRec, statusKey: "state" | "status"): Obj {
  const s = o.spec;
  const out: Obj = {
    symbol: o.symbol,
    size: size(o.size, s),
    orderId: o.orderId,
    clientOid: o.clientOid,
    baseVolume: size(o.filledSize, s),
    fee: money(-o.fee),
  };
  if (o.price !== null) out.price = px(o.price, s);
  if (o.filledSize > 0) out.priceAvg = avg(o.avgPrice, s);
  out[statusKey] = statusWire(o.status);
  Object.assign(out, {
    side: o.side,
    force: o.force,
    totalProfits: money(o.profit),
    posSide: posSide(o),
    marginCoin: "USDT",
  });
  presets(o, out);
  Object.assign(out, {
    quoteVolume: money(o.filledSize * o.avgPrice),
    orderType: o.orderType,
    leverage: String(o.leverage),
    marginMode: o.marginMode,
    reduceOnly: o.reduceOnly ? "YES" : "NO",
    enterPointSource: "API",
    tradeSide: tradeSideWire(o),
    posMode: posModeWire(o.posMode),
    orderSource: o.orderSource,
  });
  if (o.status === "cancelled") out.cancelReason = cancelReason(o);
  out.cTime = String(o.cTime);
  out.uTime = String(o.uTime);
  return out;
}

/**
 * `orders` push item (API.md §3.2); with `fill` it reports that execution (fillPrice, tradeId,
 * baseVolume = this fill's size, fillFee, fillFeeCoin, fillNotionalUsd, tradeScope T|M,
 * fillTime, pnl). `mark`: price for notionalUsd of a market order before its first fill.
 */
export function orderPush(o: OrderRec, fill: FillRec | null, mark: number): Obj {
  const s = o.spec;
  const ref = o.price ?? (o.filledSize > 0 ? o.avgPrice : mark);
  const out: Obj = {
    accBaseVolume: size(o.filledSize, s),
    cTime: String(o.cTime),
    clientOid: o.clientOid,
    enterPointSource: "API",
    feeDetail: [{ feeCoin: "USDT", fee: fixed(-o.fee, 8) }],
  };
  if (fill) {
    Object.assign(out, {
      fillFee: money(-fill.fee),
      fillFeeCoin: "USDT",
      fillNotionalUsd: money(fill.price * fill.size),
      fillPrice: avg(fill.price, s),
      baseVolume: size(fill.size, s),
      fillTime: String(fill.ts),
      tradeId: fill.tradeId,
      tradeScope: fill.scope === "taker" ? "T" : "M",
      pnl: money(fill.profit),
    });
  }
  Object.assign(out, {
    force: o.force,
    instId: o.symbol,
    leverage: String(o.leverage),
    marginCoin: "USDT",
    marginMode: o.marginMode,
    notionalUsd: money(o.size * ref),
    orderId: o.orderId,
    orderType: o.orderType,
    posMode: posModeWire(o.posMode),
    posSide: posSide(o),
    price: o.price === null ? "0" : px(o.price, s),
  });
  if (o.filledSize > 0) out.priceAvg = avg(o.avgPrice, s);
  presets(o, out);
  Object.assign(out, {
    reduceOnly: o.reduceOnly ? "yes" : "no",
    side: o.side,
    size: size(o.size, s),
    status: statusWire(o.status),
    stpMode: "none",
    tradeSide: tradeSideWire(o),
    totalProfits: money(o.profit),
    cancelReason: cancelReason(o),
    uTime: String(o.uTime),
  });
  return out;
}

function feeDetail(f: FillRec): Obj[] {
  return [{ deduction: "no", feeCoin: "USDT", totalDeductionFee: "0", totalFee: money(-f.fee) }];
}

/** `GET /api/v2/mix/order/fills` item (API.md §5.5); `side` = the order's side. */
export function fillRest(f: FillRec): Obj {
  return {
    tradeId: f.tradeId,
    symbol: f.symbol,
    orderId: f.orderId,
    price: avg(f.price, f.spec),
    baseVolume: size(f.size, f.spec),
    feeDetail: feeDetail(f),
    side: f.side,
    quoteVolume: money(f.price * f.size),
    profit: money(f.profit),
    enterPointSource: "API",
    tradeSide: f.tradeSide,
    posMode: posModeWire(f.posMode),
    tradeScope: f.scope,
    cTime: String(f.ts),
  };
}

/** `fill` push item (API.md §3.2); `side` = the trade direction, also in hedge mode. */
export function fillPush(f: FillRec): Obj {
  return {
    orderId: f.orderId,
    clientOid: f.clientOid,
    tradeId: f.tradeId,
    symbol: f.symbol,
    side: f.direction,
    orderType: f.orderType,
    posMode: posModeWire(f.posMode),
    price: avg(f.price, f.spec),
    baseVolume: size(f.size, f.spec),
    quoteVolume: money(f.price * f.size),
    profit: money(f.profit),
    tradeSide: f.tradeSide,
    tradeScope: f.scope,
    feeDetail: feeDetail(f).map((d) => ({
      feeCoin: d.feeCoin,
      deduction: d.deduction,
      totalDeductionFee: d.totalDeductionFee,
      totalFee: d.totalFee,
    })),
    cTime: String(f.ts),
    uTime: String(f.ts),
  };
}

/** Plan status: live, executed (triggered), canceled. */
const planStatus = (p: SimPlanOrder) =>
  p.status === "triggered" ? "executed" : p.status === "cancelled" ? "canceled" : "live";

function planCommon(r: PlanRec): Obj {
  const p = r.plan;
  const long = p.holdSide === "long";
  return {
    side: long ? "buy" : "sell",
    tradeSide: r.posMode === "hedge" ? "close" : (long ? "sell_single" : "buy_single"),
    posSide: r.posMode === "hedge" ? p.holdSide : "net",
  };
}

const isProfit = (t: WirePlanType) => t === "pos_profit" || t === "profit_plan";
const isLoss = (t: WirePlanType) => t === "pos_loss" || t === "loss_plan";

/** orders-plan-pending item (API.md §5.7). */
export function planRest(r: PlanRec): Obj {
  const p = r.plan;
  const s = r.spec;
  const trig = p.triggerPrice === null ? "" : px(p.triggerPrice, s);
  const out: Obj = {
    planType: r.planType,
    symbol: p.symbol,
    size: p.size === null ? "" : size(p.size, s),
    orderId: r.orderId,
    clientOid: r.clientOid,
    price: "0",
    executePrice: "0",
    callbackRatio: p.rangeRate === null ? "" : String(p.rangeRate),
    triggerPrice: trig,
    triggerType: p.triggerType,
    planStatus: planStatus(p),
    ...planCommon(r),
    marginCoin: "USDT",
    marginMode: r.marginMode,
    enterPointSource: "API",
    posMode: posModeWire(r.posMode),
    orderType: "market",
    orderSource: "normal",
    cTime: String(r.cTime),
    uTime: String(r.uTime),
  };
  if (isProfit(r.planType)) {
    Object.assign(out, {
      stopSurplusTriggerPrice: trig,
      stopSurplusExecutePrice: "0",
      stopSurplusTriggerType: p.triggerType,
    });
  }
  if (isLoss(r.planType)) {
    Object.assign(out, {
      stopLossTriggerPrice: trig,
      stopLossExecutePrice: "0",
      stopLossTriggerType: p.triggerType,
    });
  }
  return out;
}

/** `orders-algo` push item (API.md §3.2): status live / executed / canceled. */
export function planPush(r: PlanRec): Obj {
  const p = r.plan;
  const s = r.spec;
  return {
    instId: p.symbol,
    orderId: r.orderId,
    clientOid: r.clientOid,
    triggerPrice: p.triggerPrice === null ? "" : px(p.triggerPrice, s),
    triggerType: p.triggerType,
    triggerTime: p.triggeredAt === null ? "" : String(p.triggeredAt),
    planType: r.planType,
    price: "0",
    executePrice: "0",
    size: p.size === null ? "" : size(p.size, s),
    actualSize: "0",
    orderType: "market",
    ...planCommon(r),
    marginCoin: "USDT",
    status: planStatus(p),
    posMode: posModeWire(r.posMode),
    enterPointSource: "API",
    stopSurplusTriggerType: isProfit(r.planType) ? p.triggerType : "",
    stopLossTriggerType: isLoss(r.planType) ? p.triggerType : "",
    stpMode: "none",
    cTime: String(r.cTime),
    uTime: String(r.uTime),
  };
}
