/**
 * Bitget itself as a {@link Venue} (demo and live): commands over signed REST v2
 * (bitget/rest_private.ts), state from the private WebSocket (bitget/private_ws.ts: `orders`,
 * `positions`, `account`, `orders-algo`), re-read over REST at start and after every reconnect
 * (`refresh`: pushes missed while disconnected are recovered, never assumed; API.md §1.1 FAQ Q15).
 *
 * Mirrors kept here and read synchronously by the engine: open orders by clientOid, positions
 * (each `positions` push is a full snapshot, API.md §3.2; a REST re-read follows every fill to
 * cover the unconfirmed closed-position push), the USDT account, live TP/SL plans. Venue events
 * are emitted as pushes arrive: `order` per order push, `fill` per execution (an `orders` push
 * with a tradeId; each tradeId once, REST `fills` fills the holes), `positions`, `account`,
 * `plan`.
 *
 * Failures: an exchange refusal is a returned Rejection with Bitget's code and the user line of
 * bitget/private_errors.ts; an unknown outcome (timeout, reset after sending) throws
 * OutcomeUnknownError. Nothing here logs a key, secret, passphrase or signature.
 */
import { BitgetApiError } from "../bitget/private_errors.ts";
import type { PrivatePush } from "../bitget/private_ws.ts";
import { type BitgetPrivateRest, tpslHoldSide } from "../bitget/rest_private.ts";
import { type ContractSpec, formatPrice, formatSize } from "../market/contracts.ts";
import type { Logger } from "../ops/log.ts";
import {
  accountFrom,
  type AccountTotals,
  direction,
  fillFromRest,
  fillFromWs,
  orderFromRest,
  orderFromWs,
  planFrom,
  positionFrom,
} from "./bitget_mapping.ts";
import type {
  FillEvent,
  MarginMode,
  PlaceOrderRequest,
  PlaceTpslRequest,
  Rejection,
  SimAccount,
  SimOrder,
  SimPlanOrder,
  SimPosition,
  VenueEvent,
} from "./types.ts";
import {
  type OrderAck,
  OutcomeUnknownError,
  type PlanAck,
  type PositionMode,
  type Venue,
  VenueEventHub,
  type VenueSettings,
} from "./venue.ts";

export interface BitgetVenueOptions {
  rest: BitgetPrivateRest;
  contracts: readonly ContractSpec[];
  /** The account's position mode (read at start and checked against the config). */
  positionMode: PositionMode;
  /** Margin mode sent with every order (checked against the account at start). */
  marginMode: MarginMode;
  logger: Logger;
}

const FINAL = new Set(["filled", "cancelled"]);

/** Turns a REST failure into a Rejection, or rethrows an unknown outcome as OutcomeUnknownError. */
function refusal(e: unknown, op: string, clientOid: string): Rejection {
  if (e instanceof BitgetApiError) {
    if (e.outcomeUnknown) throw new OutcomeUnknownError(op, clientOid, e.message, e);
    return { code: e.code, msg: `${e.detail} (${e.hint})` };
  }
  if (e instanceof TypeError || e instanceof RangeError) {
    return { code: "local", msg: e.message };
  }
  throw new OutcomeUnknownError(op, clientOid, String(e), e);
}

export class BitgetVenue implements Venue {
  readonly kind = "bitget" as const;
  private readonly hub = new VenueEventHub();
  private readonly specs: Map<string, ContractSpec>;
  private readonly open = new Map<string, SimOrder>();
  private readonly plans = new Map<string, SimPlanOrder>();
  private readonly planIds = new Map<string, string>();
  private readonly seenTrades = new Set<string>();
  private positionsView: SimPosition[] = [];
  private accountView: SimAccount;
  private readonly totals: AccountTotals = { realized: 0, fees: 0, funding: 0 };
  private positionsTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  /**
   * Update counters: a REST read answers for the moment it was sent, so it never overwrites
   * state a push changed while it was in flight (the push is newer).
   */
  private updates = 0;
  private positionsAt = 0;
  private accountAt = 0;
  private readonly orderAt = new Map<string, number>();
  readonly positionMode: PositionMode;

  constructor(private readonly o: BitgetVenueOptions) {
    this.specs = new Map(o.contracts.map((c) => [c.symbol, c]));
    this.positionMode = o.positionMode;
    this.accountView = {
      balance: 0,
      equity: 0,
      positionMargin: 0,
      orderMargin: 0,
      available: 0,
      unrealizedPnl: 0,
      totalRealizedPnl: 0,
      totalFees: 0,
      totalFunding: 0,
    };
  }

  private spec(symbol: string): ContractSpec {
    const c = this.specs.get(symbol);
    if (!c) throw new RangeError(`no contract spec for ${symbol}`);
    return c;
  }

  // ---- commands --------------------------------------------------------------------------------

  async placeOrder(req: PlaceOrderRequest): Promise<OrderAck | Rejection> {
    const spec = this.spec(req.symbol);
    const hedge = this.positionMode === "hedge";
    try {
      const r = await this.o.rest.placeOrder({
        symbol: req.symbol,
        positionMode: this.positionMode,
        marginMode: this.o.marginMode,
        side: req.side,
        tradeSide: hedge ? (req.tradeSide ?? (req.reduceOnly ? "close" : "open")) : undefined,
        orderType: req.orderType,
        size: formatSize(spec, req.size),
        price: req.price === undefined ? undefined : formatPrice(spec, req.price),
        force: req.orderType === "limit" ? req.force : undefined,
        clientOid: req.clientOid,
        reduceOnly: hedge ? undefined : req.reduceOnly,
        presetStopLossPrice: req.presetStopLossPrice === undefined
          ? undefined
          : formatPrice(spec, req.presetStopLossPrice),
        presetStopSurplusPrice: req.presetStopSurplusPrice === undefined
          ? undefined
          : formatPrice(spec, req.presetStopSurplusPrice),
      });
      return { clientOid: r.clientOid || req.clientOid, orderId: r.orderId || null };
    } catch (e) {
      if (e instanceof BitgetApiError && e.isDuplicateClientOid) {
        return { code: "40786", msg: "duplicate clientOid: the order already exists" };
      }
      return refusal(e, "place-order", req.clientOid);
    }
  }

  async cancelOrder(symbol: string, clientOid: string): Promise<OrderAck | Rejection> {
    try {
      const r = await this.o.rest.cancelOrder({ symbol, clientOid });
      return { clientOid: r.clientOid || clientOid, orderId: r.orderId || null };
    } catch (e) {
      return refusal(e, "cancel-order", clientOid);
    }
  }

  async placeTpsl(req: PlaceTpslRequest): Promise<PlanAck | Rejection> {
    const spec = this.spec(req.symbol);
    const leg = this.positionsView.find((p) =>
      p.symbol === req.symbol && p.holdSide === req.holdSide
    );
    // moving_plan needs a size and an activation price on Bitget: the leg's size and its mark.
    const size = req.size ?? (req.planType === "moving_plan" ? leg?.size : undefined);
    const trigger = req.triggerPrice ?? leg?.markPrice;
    if (trigger === undefined || !Number.isFinite(trigger)) {
      return { code: "22002", msg: `no ${req.holdSide} position on ${req.symbol} for the plan` };
    }
    try {
      const r = await this.o.rest.placeTpslOrder({
        symbol: req.symbol,
        planType: req.planType,
        triggerPrice: formatPrice(spec, trigger),
        triggerType: req.triggerType,
        holdSide: tpslHoldSide(this.positionMode, req.holdSide),
        size: size === undefined ? undefined : formatSize(spec, size),
        rangeRate: req.rangeRate,
        clientOid: req.clientOid,
      });
      if (r.orderId) this.planIds.set(req.clientOid, r.orderId);
      return { clientOid: req.clientOid, orderId: r.orderId || null };
    } catch (e) {
      if (e instanceof BitgetApiError && e.isDuplicateClientOid) {
        return { code: "40786", msg: "duplicate clientOid: the plan already exists" };
      }
      return refusal(e, "place-tpsl-order", req.clientOid);
    }
  }

  async cancelPlan(symbol: string, clientOid: string): Promise<boolean> {
    const p = this.plans.get(clientOid);
    const orderId = this.planIds.get(clientOid);
    if (!p && !orderId) return false;
    try {
      const r = await this.o.rest.cancelPlanOrder({
        symbol,
        planType: p?.planType,
        orders: [orderId ? { orderId } : { clientOid }],
      });
      return r.successList.length > 0;
    } catch (e) {
      this.o.logger.warn("cancel-plan-order failed", { clientOid, error: String(e) });
      return false;
    }
  }

  async order(symbol: string, clientOid: string): Promise<SimOrder | undefined> {
    const r = await this.o.rest.orderDetail({ symbol, clientOid });
    return r ? orderFromRest(r, this.positionMode) : undefined;
  }

  /**
   * The exchange's fills of one order (REST `fills`), emitted as fill events when new. A REST
   * fill is history — the positions mirror may or may not hold it already — so it does not move
   * the mirror as a pushed fill does: when any was new, positions are re-read over REST before
   * this resolves.
   */
  async fillsOf(symbol: string, orderId: string, clientOid: string): Promise<FillEvent[]> {
    const rows = await this.o.rest.fills({ symbol, orderId });
    const detail = await this.o.rest.orderDetail({ symbol, orderId });
    const o = detail ? orderFromRest(detail, this.positionMode) : null;
    const out: FillEvent[] = [];
    let fresh = 0;
    for (const r of rows) {
      const side = r.side as "buy" | "sell";
      const dir = o?.direction ?? direction(side, r.tradeSide, this.positionMode);
      const ev = fillFromRest(r, { clientOid: o?.clientOid || clientOid, direction: dir });
      out.push(ev);
      if (this.emitFill(ev, false)) fresh++;
    }
    if (fresh > 0) await this.readPositions();
    return out;
  }

  async setLeverage(symbol: string, leverage: number): Promise<Rejection | null> {
    try {
      await this.o.rest.setLeverage({ symbol, leverage: String(leverage) });
      return null;
    } catch (e) {
      return refusal(e, "set-leverage", "");
    }
  }

  async setMarginMode(symbol: string, mode: MarginMode): Promise<Rejection | null> {
    try {
      await this.o.rest.setMarginMode(symbol, mode);
      return null;
    } catch (e) {
      return refusal(e, "set-margin-mode", "");
    }
  }

  async setPositionMode(mode: PositionMode): Promise<Rejection | null> {
    try {
      await this.o.rest.setPositionMode(mode);
      return null;
    } catch (e) {
      return refusal(e, "set-position-mode", "");
    }
  }

  /** Position mode and per-symbol margin mode / leverage from `account` (API.md §5.1). */
  async settings(symbols: readonly string[]): Promise<VenueSettings> {
    let positionMode: PositionMode = this.positionMode;
    const out: VenueSettings["symbols"] = {};
    for (const s of symbols) {
      const a = await this.o.rest.account(s);
      if (a.posMode) positionMode = a.posMode === "hedge_mode" ? "hedge" : "one_way";
      const marginMode: MarginMode = a.marginMode === "crossed" ? "crossed" : "isolated";
      const lev = marginMode === "crossed" ? a.crossedMarginLeverage : a.isolatedLongLever;
      out[s] = { marginMode, leverage: Number(lev ?? NaN) };
    }
    return { positionMode, symbols: out };
  }

  // ---- state -----------------------------------------------------------------------------------

  openOrders(): SimOrder[] {
    return [...this.open.values()];
  }

  planOrders(symbol?: string): SimPlanOrder[] {
    const all = [...this.plans.values()].filter((p) => p.status === "live");
    return symbol ? all.filter((p) => p.symbol === symbol) : all;
  }

  positions(): SimPosition[] {
    return this.positionsView;
  }

  account(): SimAccount {
    return this.accountView;
  }

  /**
   * Re-reads account, positions, open orders and TP/SL plans over REST and replaces the mirrors
   * (start, every reconnect, reconciliation). Emits `positions` and `account`, and an `order`
   * event for every open order. Throws BitgetApiError when the exchange cannot be read.
   */
  async refresh(): Promise<void> {
    const asOf = ++this.updates;
    const [accounts, positions, pending] = await Promise.all([
      this.o.rest.accounts(),
      this.o.rest.allPositions(),
      this.o.rest.ordersPending({}),
    ]);
    const plans = await this.o.rest.ordersPlanPending({ planType: "profit_loss" });
    const now = Date.now();
    const usdt = accounts.find((a) => a.marginCoin === "USDT") ?? accounts[0];
    if (usdt && this.accountAt < asOf) {
      this.accountAt = asOf;
      this.setAccount(accountFrom(usdt, this.totals), now);
    }
    if (this.positionsAt < asOf) {
      this.positionsAt = asOf;
      this.setPositions(
        positions.filter((p) => this.specs.has(p.symbol) && Number(p.total) > 0).map(positionFrom),
        now,
      );
    }
    const seen = new Set<string>();
    for (const r of pending) {
      const o = orderFromRest(r, this.positionMode);
      if (!o.clientOid) continue;
      seen.add(o.clientOid);
      if ((this.orderAt.get(o.clientOid) ?? 0) < asOf) this.setOrder(o, now);
    }
    for (const oid of [...this.open.keys()]) {
      if (!seen.has(oid) && (this.orderAt.get(oid) ?? 0) < asOf) this.open.delete(oid);
    }
    this.plans.clear();
    for (const r of plans) {
      const p = planFrom(r);
      if (!p) continue;
      this.plans.set(p.clientOid, p);
      this.planIds.set(p.clientOid, r.orderId);
    }
  }

  /** Routes one private-WebSocket push into the mirrors and events. */
  onPush(push: PrivatePush): void {
    const now = push.ts ?? Date.now();
    switch (push.channel) {
      case "orders":
        for (const r of push.data) {
          const o = orderFromWs(r, this.positionMode);
          const fill = fillFromWs(r, this.positionMode, push.recvTs);
          if (fill) this.emitFill(fill, true);
          if (o.clientOid) {
            this.orderAt.set(o.clientOid, ++this.updates);
            this.setOrder(o, now);
          }
        }
        break;
      case "positions":
        this.positionsAt = ++this.updates;
        this.setPositions(
          push.data.filter((p) => this.specs.has(p.instId) && Number(p.total) > 0).map(
            positionFrom,
          ),
          now,
        );
        break;
      case "account": {
        const usdt = push.data.find((a) => a.marginCoin === "USDT") ?? push.data[0];
        if (usdt) {
          this.accountAt = ++this.updates;
          this.setAccount(accountFrom(usdt, this.totals), now);
        }
        break;
      }
      case "orders-algo":
        for (const r of push.data) {
          const p = planFrom(r);
          if (!p) continue;
          this.plans.set(p.clientOid, p);
          this.planIds.set(p.clientOid, r.orderId);
          this.hub.emit({ type: "plan", ts: now, plan: { ...p } });
        }
        break;
      default:
        break;
    }
  }

  private setOrder(o: SimOrder, ts: number): void {
    if (FINAL.has(o.status)) this.open.delete(o.clientOid);
    else this.open.set(o.clientOid, o);
    this.hub.emit({ type: "order", ts, order: o });
  }

  /** Emits a fill once per trade id; `pushed` fills also move the positions mirror. */
  private emitFill(f: FillEvent, pushed: boolean): boolean {
    if (!f.tradeId || this.seenTrades.has(f.tradeId)) return false;
    this.seenTrades.add(f.tradeId);
    this.totals.fees += f.fee;
    this.totals.realized += f.realizedPnl;
    this.hub.emit(f);
    if (pushed && f.exact) this.applyFill(f);
    this.schedulePositionsRead();
    return true;
  }

  /**
   * One-way accounts: the fill a push reports moves the positions mirror at once, so the engine
   * never sees a position the fill already closed while Bitget's `positions` push is on its way
   * (that push, or the REST re-read after it, then replaces the mirror). Hedge accounts wait for
   * the push: a fill alone does not say which leg it hit.
   */
  private applyFill(f: FillEvent): void {
    if (this.positionMode !== "one_way") return;
    // The fill is newer than any REST read already on its way: such a read answers for a moment
    // before this fill and must not put the position back.
    this.positionsAt = ++this.updates;
    const legs = this.positionsView.filter((p) => p.symbol === f.symbol);
    const others = this.positionsView.filter((p) => p.symbol !== f.symbol);
    const cur = legs[0];
    const net = cur ? (cur.holdSide === "long" ? cur.size : -cur.size) : 0;
    const next = net + (f.direction === "buy" ? f.size : -f.size);
    const eps = 1e-12 * Math.max(1, Math.abs(net) + f.size);
    let leg: SimPosition | null = null;
    if (Math.abs(next) > eps) {
      const side = next > 0 ? "long" : "short";
      const grows = cur !== undefined && cur.holdSide === side && Math.abs(next) > Math.abs(net);
      const entry = cur && cur.holdSide === side
        ? (grows ? (cur.entryPrice * cur.size + f.price * f.size) / Math.abs(next) : cur.entryPrice)
        : f.price;
      leg = {
        symbol: f.symbol,
        holdSide: side,
        marginMode: this.o.marginMode,
        size: Number(Math.abs(next).toFixed(this.spec(f.symbol).volumePlace)),
        entryPrice: entry,
        leverage: cur?.leverage ?? NaN,
        margin: cur?.margin ?? 0,
        markPrice: cur?.markPrice ?? f.price,
        unrealizedPnl: cur?.unrealizedPnl ?? 0,
        liquidationPrice: cur?.liquidationPrice ?? NaN,
      };
    }
    this.setPositions(leg ? [...others, leg] : others, f.ts);
  }

  /** A fill changes positions: re-read them shortly after, whatever the push does (§3.2). */
  private schedulePositionsRead(): void {
    if (this.closed || this.positionsTimer !== undefined) return;
    this.positionsTimer = setTimeout(() => {
      this.positionsTimer = undefined;
      if (!this.closed) void this.readPositions();
    }, 1000);
  }

  /** Re-reads positions over REST; a push or fill newer than the request keeps its mirror. */
  private async readPositions(): Promise<void> {
    try {
      const asOf = ++this.updates;
      const rows = await this.o.rest.allPositions();
      if (this.closed || this.positionsAt >= asOf) return; // a push since the request is newer
      this.positionsAt = asOf;
      this.setPositions(
        rows.filter((p) => this.specs.has(p.symbol) && Number(p.total) > 0).map(positionFrom),
        Date.now(),
      );
    } catch (e) {
      this.o.logger.warn("positions re-read failed", { error: String(e) });
    }
  }

  private setPositions(p: SimPosition[], ts: number): void {
    this.positionsView = p;
    this.hub.emit({ type: "positions", ts, positions: p });
  }

  private setAccount(a: SimAccount, ts: number): void {
    this.accountView = a;
    this.hub.emit({ type: "account", ts, account: a });
  }

  subscribe(listener: (ev: VenueEvent) => void): () => void {
    return this.hub.subscribe(listener);
  }

  events(): AsyncIterable<VenueEvent> {
    return this.hub.events();
  }

  close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.positionsTimer);
    this.hub.close();
    return Promise.resolve();
  }
}
