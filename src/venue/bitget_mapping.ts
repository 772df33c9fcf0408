/**
 * Bitget v2 rows (bitget/private_schemas.ts: REST and private-WebSocket shapes, exact decimal
 * strings) → the venue's types (venue/types.ts: numbers, base coin, USDT, epoch ms).
 *
 * Conventions (API.md §3.2, §5.3, §5.5): a fee Bitget reports as negative was charged, so the
 * venue's `fee` (positive = paid) is its negation; in hedge mode an order's `side` names the
 * position and a `close` trades the other way, so the trade direction is the opposite side;
 * `canceled` is the venue's `cancelled`.
 */
import type {
  AccountRow,
  FillRow,
  OrderRow,
  PlanOrderRow,
  PositionRow,
  WsAccount,
  WsAlgoOrder,
  WsOrder,
  WsPosition,
} from "../bitget/private_schemas.ts";
import type {
  FillEvent,
  MarginMode,
  OrderStatus,
  PlanType,
  SimAccount,
  SimOrder,
  SimPlanOrder,
  SimPosition,
} from "./types.ts";
import type { PositionMode } from "./venue.ts";

const n = (s: string | null | undefined, d = 0): number => {
  if (s === null || s === undefined || s === "") return d;
  const x = Number(s);
  return Number.isFinite(x) ? x : d;
};

/** `open` / `close`, or null for one-way forms (buy_single, …) and absent values. */
function tradeSideOf(s: string | null): "open" | "close" | null {
  return s === "open" || s === "close" ? s : null;
}

function status(s: string): OrderStatus {
  if (s === "canceled" || s === "cancelled") return "cancelled";
  if (s === "filled" || s === "partially_filled" || s === "live") return s;
  return "live";
}

/** Trade direction of an order: hedge-mode closes trade against the named leg (API.md §5.3). */
export function direction(
  side: "buy" | "sell",
  tradeSide: string | null,
  mode: PositionMode,
): "buy" | "sell" {
  if (mode === "hedge" && tradeSide === "close") return side === "buy" ? "sell" : "buy";
  return side;
}

/** A REST order row (detail / orders-pending / orders-history) as a venue order. */
export function orderFromRest(r: OrderRow, mode: PositionMode): SimOrder {
  const side = r.side as "buy" | "sell";
  const ts = tradeSideOf(r.tradeSide);
  return {
    orderId: r.orderId,
    clientOid: r.clientOid ?? "",
    symbol: r.symbol,
    side,
    direction: direction(side, ts, mode),
    tradeSide: mode === "hedge" ? ts : null,
    orderType: r.orderType === "limit" ? "limit" : "market",
    force: (r.force ?? "gtc") as SimOrder["force"],
    price: r.orderType === "limit" ? n(r.price) : null,
    size: n(r.size),
    reduceOnly: r.reduceOnly === true || ts === "close",
    filledSize: n(r.baseVolume),
    avgPrice: n(r.priceAvg),
    fee: -n(r.fee),
    status: status(r.status),
    cancelReason: r.cancelReason ?? null,
    createdAt: r.cTime ?? 0,
    activeAt: r.cTime ?? 0,
    queueAhead: 0,
    exact: {
      size: r.size,
      filledSize: r.baseVolume ?? "0",
      avgPrice: n(r.baseVolume) > 0 ? r.priceAvg : null,
      fee: negate(r.fee ?? "0"),
    },
  };
}

/** An `orders` push row as a venue order. */
export function orderFromWs(r: WsOrder, mode: PositionMode): SimOrder {
  const side = r.side as "buy" | "sell";
  const ts = tradeSideOf(r.tradeSide);
  let fee = 0;
  let feeStr = "0";
  for (const f of r.feeDetail) {
    fee += -n(f.fee);
    if (f.fee !== null) feeStr = negate(f.fee);
  }
  return {
    orderId: r.orderId,
    clientOid: r.clientOid ?? "",
    symbol: r.instId,
    side,
    direction: direction(side, ts, mode),
    tradeSide: mode === "hedge" ? ts : null,
    orderType: r.orderType === "limit" ? "limit" : "market",
    force: (r.force ?? "gtc") as SimOrder["force"],
    price: r.orderType === "limit" ? n(r.price) : null,
    size: n(r.size),
    reduceOnly: r.reduceOnly === true || ts === "close",
    filledSize: n(r.accBaseVolume),
    avgPrice: n(r.priceAvg),
    fee,
    status: status(r.status),
    cancelReason: r.cancelReason ?? null,
    createdAt: r.cTime ?? 0,
    activeAt: r.cTime ?? 0,
    queueAhead: 0,
    exact: {
      size: r.size,
      filledSize: r.accBaseVolume ?? "0",
      avgPrice: n(r.accBaseVolume) > 0 ? r.priceAvg : null,
      // One fee entry per coin (USDT-M: one); the exchange's digits when there is one entry.
      fee: r.feeDetail.length === 1 ? feeStr : fee.toFixed(8),
    },
  };
}

/** The execution an `orders` push reports (it carries `tradeId`), else null. */
export function fillFromWs(r: WsOrder, mode: PositionMode, recvTs: number): FillEvent | null {
  if (!r.tradeId || r.fillPrice === null || r.baseVolume === null) return null;
  const o = orderFromWs(r, mode);
  const feeStr = r.fillFee ?? "0";
  return {
    type: "fill",
    ts: r.fillTime ?? r.uTime ?? recvTs,
    orderId: r.orderId,
    clientOid: o.clientOid,
    symbol: r.instId,
    direction: o.direction,
    price: n(r.fillPrice),
    size: n(r.baseVolume),
    fee: -n(feeStr),
    liquidity: r.tradeScope === "maker" ? "maker" : "taker",
    realizedPnl: n(r.pnl),
    tradeId: r.tradeId,
    exact: { price: r.fillPrice, size: r.baseVolume, fee: negate(feeStr) },
  };
}

/** A REST fills row (API.md §5.5) as a venue fill of order `o`. */
export function fillFromRest(r: FillRow, o: { clientOid: string; direction: "buy" | "sell" }) {
  let fee = 0;
  let feeStr = "0";
  for (const d of r.feeDetail) {
    if (d.totalFee !== null) {
      fee += -n(d.totalFee);
      feeStr = negate(d.totalFee);
    }
  }
  const ev: FillEvent = {
    type: "fill",
    ts: r.cTime ?? 0,
    orderId: r.orderId,
    clientOid: o.clientOid,
    symbol: r.symbol,
    direction: o.direction,
    price: n(r.price),
    size: n(r.baseVolume),
    fee,
    liquidity: r.tradeScope === "maker" ? "maker" : "taker",
    realizedPnl: n(r.profit),
    tradeId: r.tradeId,
    exact: { price: r.price, size: r.baseVolume, fee: feeStr },
  };
  return ev;
}

/** "-0.0012" → "0.0012" and back, keeping the exchange's digits. */
export function negate(s: string): string {
  if (s.startsWith("-")) return s.slice(1);
  if (/^0*\.?0*$/.test(s)) return s;
  return s.startsWith("+") ? "-" + s.slice(1) : "-" + s;
}

/** A position row (REST all-position or a `positions` push) as a venue position leg. */
export function positionFrom(r: PositionRow | WsPosition): SimPosition {
  const symbol = "symbol" in r ? r.symbol : r.instId;
  return {
    symbol,
    holdSide: r.holdSide === "short" ? "short" : "long",
    marginMode: (r.marginMode === "crossed" ? "crossed" : "isolated") as MarginMode,
    size: n(r.total),
    entryPrice: n(r.openPriceAvg),
    leverage: n(r.leverage, NaN),
    margin: n(r.marginSize),
    markPrice: n(r.markPrice, NaN),
    unrealizedPnl: n(r.unrealizedPL),
    liquidationPrice: n(r.liquidationPrice, NaN),
  };
}

/** Running totals the venue keeps itself (Bitget reports no realized/fee/funding totals). */
export interface AccountTotals {
  realized: number;
  fees: number;
  funding: number;
}

/** The USDT row of accounts (REST) or an `account` push as the venue's account summary. */
export function accountFrom(r: AccountRow | WsAccount, t: AccountTotals): SimAccount {
  const equity = "accountEquity" in r
    ? n(r.usdtEquity ?? r.accountEquity)
    : n((r as WsAccount).usdtEquity ?? (r as WsAccount).equity);
  const upnl = n(r.unrealizedPL);
  const locked = "locked" in r ? n(r.locked) : n((r as WsAccount).frozen);
  return {
    balance: equity - upnl,
    equity,
    positionMargin: Math.max(0, equity - upnl - n(r.available) - locked),
    orderMargin: locked,
    available: n(r.available),
    unrealizedPnl: upnl,
    totalRealizedPnl: t.realized,
    totalFees: t.fees,
    totalFunding: t.funding,
  };
}

const PLAN_TYPES: Record<string, PlanType> = {
  pos_loss: "pos_loss",
  loss_plan: "pos_loss",
  sl: "pos_loss",
  pos_profit: "pos_profit",
  profit_plan: "pos_profit",
  tp: "pos_profit",
  moving_plan: "moving_plan",
  track_plan: "moving_plan",
};

function planStatus(s: string | null): SimPlanOrder["status"] {
  if (s === "triggered" || s === "executed") return "triggered";
  if (s === "cancelled" || s === "canceled" || s === "fail_trigger") return "cancelled";
  return "live";
}

/** A TP/SL plan row (orders-plan-pending or an `orders-algo` push) as a venue plan, else null. */
export function planFrom(r: PlanOrderRow | WsAlgoOrder): SimPlanOrder | null {
  const planType = PLAN_TYPES[r.planType ?? ""];
  if (!planType) return null;
  const symbol = "symbol" in r ? r.symbol : r.instId;
  // posSide names the leg; without it (one-way "net"), `side` is the position's side as in the
  // request's holdSide buy/sell (API.md §5.7).
  const hold = r.posSide === "short" || (r.posSide !== "long" && r.side === "sell")
    ? "short"
    : "long";
  const st = "planStatus" in r ? r.planStatus : (r as WsAlgoOrder).status;
  const trig = r.triggerPrice === null ? null : n(r.triggerPrice);
  return {
    clientOid: r.clientOid ?? r.orderId,
    symbol,
    holdSide: hold,
    planType,
    triggerType: r.triggerType === "fill_price" ? "fill_price" : "mark_price",
    triggerPrice: trig,
    rangeRate: "callbackRatio" in r && r.callbackRatio !== null ? n(r.callbackRatio) : null,
    size: r.size === null ? null : n(r.size),
    status: planStatus(st),
    createdAt: r.cTime ?? 0,
    triggeredAt: null,
    extreme: null,
    cancelReason: null,
  };
}
