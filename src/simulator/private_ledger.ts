/**
 * What the simulator's private exchange remembers (private_exchange.ts): every accepted order
 * and fill, every plan, per-leg bookkeeping and the Bitget-like ids, built from the venue's
 * events (SimExchange `onEvent`), and the pushes those events cause.
 *
 * Ids: orderIds, tradeIds, plan orderIds and posIds are 19-digit decimal strings from one
 * sequence: seed × 10^6 + n (seed = the simulator's start time, epoch ms).
 *
 * Pushes to listeners (private WebSocket sessions, API.md §3.2): an `orders` item per order
 * update that changed its status or filled size, carrying the fill fields when it reports an
 * execution; a `fill` item per execution; an `orders-algo` item per plan change; and — at each
 * `flush` (end of an operation or of a batch of market frames) — the full `positions` list and
 * the `account`, when a fill, funding, liquidation or order margin changed them.
 */
import type { FillEvent, SimOrder, SimPlanOrder, VenueEvent } from "../venue/types.ts";
import { fillPush, orderPush, planPush } from "./private_format.ts";
import { positionPush } from "./private_format_account.ts";
import type { PrivateExchange } from "./private_exchange.ts";
import {
  type FillRec,
  type OrderRec,
  type PlaceParams,
  type PlanRec,
  type PositionMeta,
  type PrivateChannel,
  type PrivatePush,
  statusWire,
  tradeSideWire,
  type WirePlanType,
} from "./private_records.ts";

const FINAL = new Set(["filled", "cancelled"]);

export class PrivateLedger {
  /** Accepted orders in acceptance order. */
  readonly orders: OrderRec[] = [];
  readonly fills: FillRec[] = [];
  /** Plans by clientOid (live and finished). */
  readonly plans = new Map<string, PlanRec>();
  /** Orders not yet filled or canceled. */
  readonly open = new Set<OrderRec>();
  /** Per-leg bookkeeping, key `SYMBOL:holdSide`. */
  readonly metas = new Map<string, PositionMeta>();
  /** Set by the exchange around a venue placeOrder / placeTpsl call (request context). */
  placing: { clientOid: string; p: PlaceParams; n: number } | null = null;
  placingPlan: { clientOid: string; planType: WirePlanType } | null = null;
  dirtyPositions = false;
  dirtyAccount = false;
  private readonly byOid = new Map<string, OrderRec>();
  private readonly bySim = new Map<string, OrderRec>();
  private readonly byId = new Map<string, OrderRec>();
  private readonly planById = new Map<string, PlanRec>();
  private readonly lastPushed = new Map<OrderRec, string>();
  private readonly pendingFills = new Map<string, FillRec>();
  private readonly listeners = new Set<(p: PrivatePush) => void>();
  private readonly idBase: bigint;
  private idN = 0n;

  constructor(private readonly x: PrivateExchange, idSeed: number) {
    this.idBase = BigInt(Math.floor(idSeed)) * 1_000_000n;
  }

  /** Next 19-digit id. */
  nextId(): string {
    return String(this.idBase + ++this.idN);
  }

  /** An order by orderId (wins) or clientOid. */
  order(orderId: string | null, clientOid: string | null): OrderRec | undefined {
    if (orderId) return this.byId.get(orderId);
    return clientOid ? this.byOid.get(clientOid) : undefined;
  }

  /** A plan by orderId (wins) or clientOid. */
  plan(orderId: string | null, clientOid: string | null): PlanRec | undefined {
    if (orderId) return this.planById.get(orderId);
    return clientOid ? this.plans.get(clientOid) : undefined;
  }

  /** True when an order or plan already uses `oid` (one namespace, as in the venue). */
  oidTaken(oid: string): boolean {
    return this.byOid.has(oid) || this.plans.has(oid);
  }

  newMeta(ts: number): PositionMeta {
    return { posId: this.nextId(), achieved: 0, fees: 0, funding: 0, cTime: ts, uTime: ts };
  }

  // ---- pushes -------------------------------------------------------------------------------

  /** Registers a push listener; returns the function that removes it. */
  listen(fn: (p: PrivatePush) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(channel: PrivateChannel, symbol: string | null, data: () => PrivatePush["data"]) {
    if (this.listeners.size === 0) return;
    const push: PrivatePush = { channel, symbol, data: data(), ts: this.x.now };
    for (const l of [...this.listeners]) l(push);
  }

  /** Pushes `positions` / `account` if something changed them since the last flush. */
  flush(): void {
    if (this.dirtyPositions) {
      this.dirtyPositions = false;
      this.emit("positions", null, () => this.x.views.positions().map(positionPush));
    }
    if (this.dirtyAccount) {
      this.dirtyAccount = false;
      this.emit("account", null, () => [this.x.views.accountPushItem()]);
    }
  }

  // ---- venue events -------------------------------------------------------------------------

  /** SimExchange `onEvent`. */
  onVenue(ev: VenueEvent): void {
    switch (ev.type) {
      case "order":
        return this.onOrder(ev.order);
      case "fill":
        return this.onFill(ev);
      case "plan":
        return this.onPlan(ev.plan);
      case "funding": {
        const m = this.metas.get(`${ev.symbol}:${ev.holdSide}`);
        if (m) {
          m.funding += ev.amount;
          m.uTime = ev.ts;
        }
        this.dirtyPositions = this.dirtyAccount = true;
        return;
      }
      case "liquidation":
        this.dirtyPositions = this.dirtyAccount = true;
        this.x.views.syncMetas(ev.symbol, ev.ts);
        return;
      default:
        return;
    }
  }

  private onOrder(o: SimOrder): void {
    const now = this.x.now;
    const rec = this.bySim.get(o.orderId) ?? this.newOrder(o, now);
    rec.status = o.status;
    rec.cancelReason = o.cancelReason;
    rec.filledSize = o.filledSize;
    rec.avgPrice = o.avgPrice;
    rec.fee = o.fee;
    rec.uTime = now;
    const final = FINAL.has(o.status);
    if (final) this.open.delete(rec);
    this.dirtyAccount = true;
    const fill = this.pendingFills.get(o.orderId) ?? null;
    this.pendingFills.delete(o.orderId);
    const key = `${statusWire(o.status)}|${o.filledSize}`;
    if (fill === null && this.lastPushed.get(rec) === key) return;
    if (final) this.lastPushed.delete(rec);
    else this.lastPushed.set(rec, key);
    this.emit("orders", rec.symbol, () => [orderPush(rec, fill, this.x.mid(rec.symbol))]);
  }

  private newOrder(o: SimOrder, now: number): OrderRec {
    const ctx = this.placing?.clientOid === o.clientOid ? this.placing : null;
    const plan = ctx ? undefined : this.plans.get(o.clientOid);
    const modes = this.x.modes;
    const rec: OrderRec = {
      orderId: this.nextId(),
      simId: o.orderId,
      clientOid: o.clientOid,
      symbol: o.symbol,
      spec: this.x.specs.get(o.symbol)!,
      side: o.side,
      direction: o.direction,
      tradeSide: o.tradeSide,
      posMode: modes.positionMode,
      marginMode: modes.marginMode,
      leverage: this.x.leverage.get(o.symbol)!,
      orderType: o.orderType,
      force: ctx?.p.force ?? "gtc",
      price: o.price,
      size: o.size,
      reduceOnly: o.reduceOnly,
      presetTp: ctx?.p.presetTp ?? null,
      presetSl: ctx?.p.presetSl ?? null,
      presetType: "fill_price",
      status: o.status,
      cancelReason: null,
      filledSize: 0,
      avgPrice: 0,
      fee: 0,
      profit: 0,
      orderSource: ctx
        ? (o.orderType === "market" ? "market" : "normal")
        : `${plan?.planType ?? "pos_loss"}_market`,
      placeRequests: ctx?.n ?? 0,
      cTime: now,
      uTime: now,
      fills: [],
    };
    this.orders.push(rec);
    this.open.add(rec);
    this.bySim.set(o.orderId, rec);
    this.byOid.set(o.clientOid, rec);
    this.byId.set(rec.orderId, rec);
    return rec;
  }

  private onFill(ev: FillEvent): void {
    const rec = this.bySim.get(ev.orderId);
    if (!rec) return;
    const f: FillRec = {
      tradeId: this.nextId(),
      orderId: rec.orderId,
      clientOid: rec.clientOid,
      symbol: rec.symbol,
      spec: rec.spec,
      side: rec.side,
      direction: ev.direction,
      tradeSide: tradeSideWire(rec),
      posMode: rec.posMode,
      orderType: rec.orderType,
      price: ev.price,
      size: ev.size,
      fee: ev.fee,
      profit: ev.realizedPnl,
      scope: ev.liquidity,
      ts: ev.ts,
    };
    rec.fills.push(f);
    rec.profit += ev.realizedPnl;
    this.fills.push(f);
    this.pendingFills.set(ev.orderId, f);
    this.x.views.attributeFill(rec, f);
    this.dirtyPositions = this.dirtyAccount = true;
    this.emit("fill", rec.symbol, () => [fillPush(f)]);
  }

  private onPlan(p: SimPlanOrder): void {
    const now = this.x.now;
    let r = this.plans.get(p.clientOid);
    if (!r) {
      const ctx = this.placingPlan?.clientOid === p.clientOid ? this.placingPlan : null;
      const modes = this.x.modes;
      r = {
        orderId: this.nextId(),
        clientOid: p.clientOid,
        planType: ctx?.planType ?? p.planType,
        spec: this.x.specs.get(p.symbol)!,
        plan: p,
        posMode: modes.positionMode,
        marginMode: modes.marginMode,
        cTime: now,
        uTime: now,
      };
      this.plans.set(p.clientOid, r);
      this.planById.set(r.orderId, r);
    } else {
      r.plan = p;
      r.uTime = now;
    }
    const rec = r;
    this.emit("orders-algo", p.symbol, () => [planPush(rec)]);
  }
}
