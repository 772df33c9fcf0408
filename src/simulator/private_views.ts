/**
 * Derived views of the private exchange (private_exchange.ts): position legs with the
 * bookkeeping Bitget reports (posId, achievedProfits, fees, funding, frozen / open-delegate
 * sizes, attached TP/SL), the account view, WebSocket subscribe snapshots and the
 * `GET /sim/status` summary.
 */
import type { HoldSide } from "../venue/types.ts";
import type { PrivateExchange } from "./private_exchange.ts";
import { orderPush, planPush } from "./private_format.ts";
import { accountPush, positionPush } from "./private_format_account.ts";
import {
  type AccountView,
  type FillRec,
  type Obj,
  type OrderRec,
  type PlanRec,
  type PositionMeta,
  type PositionView,
  type PrivateChannel,
  statusWire,
  tradeSideWire,
} from "./private_records.ts";

/** Maintenance margin rate of the simulated venue (one flat tier; SimExchange's default). */
export const MMR = 0.004;

/** `GET /sim/status` private part (numbers as JSON numbers: USDT, base coin, epoch ms). */
export interface PrivateStatus {
  orders: {
    clientOid: string;
    orderId: string;
    symbol: string;
    side: "buy" | "sell";
    tradeSide: string;
    orderType: "market" | "limit";
    size: number;
    filledSize: number;
    price: number | null;
    state: string;
    /** The venue's reason for a cancel (`user`, `insufficient_depth`, …) or null. */
    cancelReason: string | null;
    placeRequests: number;
  }[];
  fills: {
    tradeId: string;
    orderId: string;
    clientOid: string;
    symbol: string;
    side: "buy" | "sell";
    price: number;
    size: number;
    fee: number;
    ts: number;
  }[];
  positions: { symbol: string; holdSide: HoldSide; size: number; entryPrice: number }[];
  account: { balance: number; equity: number; available: number };
  placeRequests: number;
  duplicateClientOids: number;
}

export class PrivateViews {
  constructor(private readonly x: PrivateExchange) {}

  /** The leg an order acts on: hedge = its side's leg; one-way = opened or closed by it. */
  legOf(o: OrderRec): HoldSide {
    if (o.posMode === "hedge") return o.side === "buy" ? "long" : "short";
    const buy = o.direction === "buy";
    return o.reduceOnly ? (buy ? "short" : "long") : (buy ? "long" : "short");
  }

  private meta(symbol: string, hold: HoldSide, ts: number): PositionMeta {
    const key = `${symbol}:${hold}`;
    let m = this.x.ledger.metas.get(key);
    if (!m) this.x.ledger.metas.set(key, m = this.x.ledger.newMeta(ts));
    return m;
  }

  /** Creates bookkeeping for new legs of `symbol` and drops that of legs gone flat. */
  syncMetas(symbol: string, ts: number): void {
    const open = new Set(
      this.x.sim.positions().filter((p) => p.symbol === symbol).map((p) => p.holdSide),
    );
    for (const h of ["long", "short"] as const) {
      if (open.has(h)) this.meta(symbol, h, ts);
      else this.x.ledger.metas.delete(`${symbol}:${h}`);
    }
  }

  /**
   * Books a fill on the legs it touched: realized PnL on the leg it closed, the fee on the leg
   * it opened (else the one it closed); legs that went flat lose their bookkeeping.
   */
  attributeFill(rec: OrderRec, f: FillRec): void {
    const legs = new Set(
      this.x.sim.positions().filter((p) => p.symbol === rec.symbol).map((p) => p.holdSide),
    );
    let closed: HoldSide | null = null;
    let opened: HoldSide | null = null;
    if (rec.posMode === "hedge") {
      const leg = rec.side === "buy" ? "long" : "short";
      if (rec.tradeSide === "open") opened = leg;
      else closed = leg;
    } else {
      closed = f.direction === "buy" ? "short" : "long";
      if (!rec.reduceOnly) opened = f.direction === "buy" ? "long" : "short";
    }
    const closedMeta = closed ? this.x.ledger.metas.get(`${rec.symbol}:${closed}`) : undefined;
    if (closedMeta) {
      closedMeta.achieved += f.profit;
      closedMeta.uTime = f.ts;
    }
    const feeMeta = opened && legs.has(opened) ? this.meta(rec.symbol, opened, f.ts) : closedMeta;
    if (feeMeta) {
      feeMeta.fees += f.fee;
      feeMeta.uTime = f.ts;
    }
    this.syncMetas(rec.symbol, f.ts);
  }

  /** Open legs (of `symbol`, or all) with their bookkeeping. */
  positions(symbol?: string): PositionView[] {
    const x = this.x;
    const all = x.sim.positions();
    const equity = x.sim.account().equity;
    const cross = x.modes.marginMode === "crossed";
    let mmAll = 0;
    for (const p of all) mmAll += p.size * p.markPrice * MMR;
    const out: PositionView[] = [];
    for (const p of all) {
      if (symbol !== undefined && p.symbol !== symbol) continue;
      let frozen = 0;
      let openDelegate = 0;
      for (const o of x.ledger.open) {
        if (o.symbol !== p.symbol || this.legOf(o) !== p.holdSide) continue;
        if (o.reduceOnly) frozen += o.size - o.filledSize;
        else openDelegate += o.size - o.filledSize;
      }
      const own = p.margin + p.unrealizedPnl;
      let tp: PlanRec | null = null;
      let sl: PlanRec | null = null;
      for (const r of x.ledger.plans.values()) {
        const q = r.plan;
        if (q.status !== "live" || q.symbol !== p.symbol || q.holdSide !== p.holdSide) continue;
        if (q.planType === "pos_profit") tp ??= r;
        if (q.planType === "pos_loss") sl ??= r;
      }
      out.push({
        pos: p,
        spec: x.specs.get(p.symbol)!,
        meta: this.meta(p.symbol, p.holdSide, x.now),
        posMode: x.modes.positionMode,
        frozen,
        openDelegate,
        marginRatio: cross
          ? (equity > 0 ? mmAll / equity : 0)
          : (own > 0 ? p.size * p.markPrice * MMR / own : 0),
        mmr: MMR,
        tp,
        sl,
      });
    }
    return out;
  }

  accountView(): AccountView {
    const x = this.x;
    return {
      acct: x.sim.account(),
      marginMode: x.modes.marginMode,
      posMode: x.modes.positionMode,
      positions: x.sim.positions(),
      mmr: MMR,
      btcMark: x.mid("BTCUSDT"),
    };
  }

  accountPushItem(): Obj {
    return accountPush(this.accountView());
  }

  /** Current state of a private channel, for the snapshot after a subscribe (API.md §3.2). */
  snapshot(channel: PrivateChannel, symbol: string | null): Obj[] {
    const x = this.x;
    switch (channel) {
      case "orders":
        return [...x.ledger.open].filter((o) => symbol === null || o.symbol === symbol)
          .map((o) => orderPush(o, null, x.mid(o.symbol)));
      case "positions":
        return this.positions().map(positionPush);
      case "account":
        return [this.accountPushItem()];
      case "orders-algo":
        return [...x.ledger.plans.values()]
          .filter((r) => r.plan.status === "live" && (symbol === null || r.plan.symbol === symbol))
          .map(planPush);
      default:
        return [];
    }
  }

  status(): PrivateStatus {
    const x = this.x;
    const a = x.sim.account();
    return {
      orders: x.ledger.orders.map((o) => ({
        clientOid: o.clientOid,
        orderId: o.orderId,
        symbol: o.symbol,
        side: o.side,
        tradeSide: tradeSideWire(o),
        orderType: o.orderType,
        size: o.size,
        filledSize: o.filledSize,
        price: o.price,
        state: statusWire(o.status),
        cancelReason: o.cancelReason,
        placeRequests: o.placeRequests,
      })),
      fills: x.ledger.fills.map((f) => ({
        tradeId: f.tradeId,
        orderId: f.orderId,
        clientOid: f.clientOid,
        symbol: f.symbol,
        side: f.direction,
        price: f.price,
        size: f.size,
        fee: f.fee,
        ts: f.ts,
      })),
      positions: x.sim.positions().map((p) => ({
        symbol: p.symbol,
        holdSide: p.holdSide,
        size: p.size,
        entryPrice: p.entryPrice,
      })),
      account: { balance: a.balance, equity: a.equity, available: a.available },
      placeRequests: x.placeRequests,
      duplicateClientOids: x.duplicateClientOids,
    };
  }
}
