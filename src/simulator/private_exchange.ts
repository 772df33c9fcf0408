/**
 * The simulator's private side: one SimExchange — the venue the backtest uses — fed with the
 * replayed market (market_feed.ts) and driven by the private REST / WebSocket API
 * (private_rest.ts, private_ws.ts), with the records Bitget's API reports that the venue does
 * not keep (private_format.ts):
 *
 * - Venue: the simulator's contracts (sample/rest/contracts.json by default), initial balance
 *   (USDT), position mode, margin mode, default leverage; latency 0 (an order is matched against
 *   the market position it arrives at); maintenance margin rate 0.004; preset SL/TP watch the
 *   last trade (`fill_price`). Its clock is the market's event time (`ev.ts`, epoch ms), so every
 *   order, fill and push time is the replayed market's time.
 * - Every accepted order (API placement, flash close, triggered plan) and every fill is kept for
 *   the life of the simulator.
 * - Errors are Bitget codes (API.md §7). The venue's Rejections already carry them; its
 *   duplicate-clientOid 40305 becomes 40786 "Duplicate clientOid" on the wire.
 *
 * Records, ids and pushes: private_ledger.ts; derived views: private_views.ts.
 */
import type { ContractSpec } from "../market/contracts.ts";
import type { MarketEvent } from "../market/events.ts";
import { SimExchange } from "../venue/sim_exchange.ts";
import type { HoldSide, MarginMode, Rejection, SimOrder, SimPlanOrder } from "../venue/types.ts";
import type { FaultBoard } from "./faults.ts";
import type { MarketSink } from "./market_feed.ts";
import { PrivateLedger } from "./private_ledger.ts";
import {
  fail,
  ok,
  type OrderRec,
  type Outcome,
  type PlaceParams,
  type PlanRec,
  type PosMode,
  type PrivatePush,
  type TpslParams,
} from "./private_records.ts";
import { MMR, PrivateViews } from "./private_views.ts";

export interface PrivateExchangeOptions {
  contracts: readonly ContractSpec[];
  /** Initial balance (USDT). */
  balance: number;
  positionMode: PosMode;
  marginMode: MarginMode;
  /** Default leverage of every symbol (clamped to the contract's [minLever, maxLever]). */
  leverage: number;
  faults: FaultBoard;
  /** Exchange time before the first market event (epoch ms), e.g. the recording's first frame. */
  startTs: number;
  /** Seed of the 19-digit ids (epoch ms); default Date.now(). */
  idSeed?: number;
}

/** Bitget's msg for codes a `reject-order:CODE` fault may use (API.md §7). */
const REJECT_MSG: Record<string, string> = {
  "22002": "No position to close",
  "40015": "System is abnormal, please try again later",
  "40757": "Not enough position is available.",
  "40762": "The order amount exceeds the balance",
  "40774": "The order type for unilateral position must also be the unilateral position type.",
  "40786": "Duplicate clientOid",
  "43006": "The order quantity is less than the minimum quantity",
  "43012": "Insufficient balance",
  "45001": "Unknown error",
  "45110": "less than the minimum amount 5 USDT",
};

const FINAL = new Set(["filled", "cancelled"]);

export class PrivateExchange implements MarketSink {
  readonly sim: SimExchange;
  readonly specs = new Map<string, ContractSpec>();
  /** Leverage per symbol, used by legs opened from flat. */
  readonly leverage = new Map<string, number>();
  readonly ledger: PrivateLedger;
  readonly views: PrivateViews;
  /** place-order requests that reached the exchange (authenticated, not rate limited). */
  placeRequests = 0;
  /** Requests refused with 40786. */
  duplicateClientOids = 0;
  private readonly placeCounts = new Map<string, number>();
  private readonly faults: FaultBoard;
  private readonly startTs: number;
  /** needsEveryFrame() cache; null = recompute (after any venue event). */
  private active: boolean | null = false;
  private syncHook: () => void = () => {};

  constructor(o: PrivateExchangeOptions) {
    this.faults = o.faults;
    this.startTs = o.startTs;
    for (const c of o.contracts) {
      this.specs.set(c.symbol, c);
      this.leverage.set(c.symbol, Math.min(c.maxLever, Math.max(c.minLever, o.leverage)));
    }
    this.ledger = new PrivateLedger(this, o.idSeed ?? Date.now());
    this.views = new PrivateViews(this);
    this.sim = new SimExchange({
      contracts: o.contracts,
      initialBalance: o.balance,
      positionMode: o.positionMode,
      marginMode: o.marginMode,
      leverage: o.leverage,
      latencyMs: 0,
      maintenanceMarginRate: MMR,
      keepLog: false,
      onEvent: (ev) => {
        this.active = null;
        this.ledger.onVenue(ev);
      },
    });
  }

  /** Exchange time (epoch ms): the latest market event, or the start time before any. */
  get now(): number {
    return Math.max(this.sim.now, this.startTs);
  }

  /** Current position mode / margin mode. */
  get modes(): { positionMode: PosMode; marginMode: MarginMode } {
    return this.sim.modes();
  }

  onMarket(ev: MarketEvent): void {
    this.sim.onEvent(ev);
  }

  afterFrames(): void {
    this.ledger.flush();
  }

  needsEveryFrame(): boolean {
    this.active ??= this.ledger.open.size > 0 || this.sim.positions().length > 0 ||
      this.sim.planOrders().length > 0;
    return this.active;
  }

  /** Sets what `sync` runs: the market feed's catch-up (server.ts). */
  setSync(fn: () => void): void {
    this.syncHook = fn;
  }

  /** Brings the venue to the current market position; call before reading or trading. */
  sync(): void {
    this.syncHook();
  }

  /** Registers a push listener; returns the function that removes it. */
  listen(fn: (p: PrivatePush) => void): () => void {
    return this.ledger.listen(fn);
  }

  /** Mid of the venue's book (USDT), NaN when it has none. */
  mid(symbol: string): number {
    const t = this.sim.bookTop(symbol);
    return t ? (t.bid + t.ask) / 2 : NaN;
  }

  // ---- orders -------------------------------------------------------------------------------

  /**
   * One place-order request (counted; `reject-order` faults apply first). Errors: the fault's
   * code, 40786 duplicate clientOid, 40034 unknown symbol, else the venue's Rejection.
   */
  placeOrder(p: PlaceParams): Outcome<OrderRec> {
    this.placeRequests++;
    const oid = p.clientOid ?? this.ledger.nextId();
    const n = (this.placeCounts.get(oid) ?? 0) + 1;
    this.placeCounts.set(oid, n);
    const prior = this.ledger.order(null, oid);
    if (prior) prior.placeRequests = n;
    const code = this.faults.takeOrderReject(oid);
    if (code !== null) return fail(code, REJECT_MSG[code] ?? `order rejected (code ${code})`);
    return this.submit({ ...p, clientOid: oid }, n);
  }

  private duplicate<T>(): Outcome<T> {
    this.duplicateClientOids++;
    return fail("40786", "Duplicate clientOid");
  }

  /** Places without counting a request (also the flash close's orders). */
  private submit(p: PlaceParams, n: number): Outcome<OrderRec> {
    const oid = p.clientOid ?? this.ledger.nextId();
    if (this.ledger.oidTaken(oid)) return this.duplicate();
    if (!this.specs.has(p.symbol)) return fail("40034", `Parameter ${p.symbol} does not exist`);
    const hedge = this.modes.positionMode === "hedge";
    this.ledger.placing = { clientOid: oid, p, n };
    let r: SimOrder | Rejection;
    try {
      r = this.sim.placeOrder({
        clientOid: oid,
        symbol: p.symbol,
        side: p.side,
        orderType: p.orderType,
        size: p.size,
        price: p.price,
        force: p.orderType === "limit" ? p.force : undefined,
        reduceOnly: p.reduceOnly || undefined,
        tradeSide: hedge ? p.tradeSide : undefined,
        presetStopLossPrice: p.presetSl,
        presetStopSurplusPrice: p.presetTp,
      });
    } finally {
      this.ledger.placing = null;
    }
    this.ledger.flush();
    if ("code" in r) {
      if (r.code === "40305" && r.msg.includes("already used")) return this.duplicate();
      return fail(r.code, r.msg);
    }
    return ok(this.ledger.order(null, oid)!);
  }

  /** Cancels an open order; 40768 "Order does not exist" when unknown, final or of another symbol. */
  cancelOrder(symbol: string, orderId: string | null, clientOid: string | null): Outcome<OrderRec> {
    const rec = this.ledger.order(orderId, clientOid);
    if (!rec || rec.symbol !== symbol || FINAL.has(rec.status)) {
      return fail("40768", "Order does not exist");
    }
    const r = this.sim.cancelOrder(rec.clientOid);
    this.ledger.flush();
    return "code" in r ? fail("40768", "Order does not exist") : ok(rec);
  }

  /**
   * Flash close (close-positions, API.md §5.6): per open leg of `symbol` (all when null) and
   * `holdSide` (both when null), cancels the open close orders on it (Bitget's 2025-07-31
   * behaviour) and sends a market close for its whole size. 22002 when no leg matches.
   */
  closePositions(
    symbol: string | null,
    holdSide: HoldSide | null,
  ): Outcome<{ symbol: string; holdSide: HoldSide; r: Outcome<OrderRec> }[]> {
    const legs = this.sim.positions().filter((p) =>
      (symbol === null || p.symbol === symbol) && (holdSide === null || p.holdSide === holdSide)
    );
    if (legs.length === 0) return fail("22002", "No position to close");
    const hedge = this.modes.positionMode === "hedge";
    const out = [];
    for (const leg of legs) {
      for (const o of [...this.ledger.open]) {
        if (o.symbol === leg.symbol && o.reduceOnly && this.views.legOf(o) === leg.holdSide) {
          this.sim.cancelOrder(o.clientOid);
        }
      }
      const long = leg.holdSide === "long";
      const r = this.submit({
        clientOid: null,
        symbol: leg.symbol,
        side: hedge ? (long ? "buy" : "sell") : (long ? "sell" : "buy"),
        orderType: "market",
        size: leg.size,
        force: "gtc",
        reduceOnly: !hedge,
        tradeSide: hedge ? "close" : undefined,
      }, 0);
      out.push({ symbol: leg.symbol, holdSide: leg.holdSide, r });
    }
    return ok(out);
  }

  // ---- plans --------------------------------------------------------------------------------

  /** place-tpsl-order: 40786 duplicate clientOid, 40034 unknown symbol, else the venue's. */
  placeTpsl(p: TpslParams): Outcome<PlanRec> {
    const oid = p.clientOid ?? this.ledger.nextId();
    if (this.ledger.oidTaken(oid)) return this.duplicate();
    if (!this.specs.has(p.symbol)) return fail("40034", `Parameter ${p.symbol} does not exist`);
    const planType = p.planType === "profit_plan"
      ? "pos_profit"
      : p.planType === "loss_plan"
      ? "pos_loss"
      : p.planType;
    this.ledger.placingPlan = { clientOid: oid, planType: p.planType };
    let r: SimPlanOrder | Rejection;
    try {
      r = this.sim.placeTpsl({
        clientOid: oid,
        symbol: p.symbol,
        holdSide: p.holdSide,
        planType,
        triggerPrice: p.triggerPrice,
        triggerType: p.triggerType,
        rangeRate: p.rangeRate,
        size: p.size,
      });
    } finally {
      this.ledger.placingPlan = null;
    }
    this.ledger.flush();
    if ("code" in r) {
      if (r.code === "40305" && r.msg.includes("already used")) return this.duplicate();
      return fail(r.code, r.msg);
    }
    return ok(this.ledger.plans.get(oid)!);
  }

  /** Cancels a live plan; 43020 "TP/SL order does not exist" otherwise. */
  cancelPlan(rec: PlanRec | undefined): Outcome<PlanRec> {
    if (!rec || !this.sim.cancelPlan(rec.clientOid)) {
      return fail("43020", "TP/SL order does not exist");
    }
    this.ledger.flush();
    return ok(rec);
  }

  // ---- settings -----------------------------------------------------------------------------

  /** set-leverage: the venue's 40020 outside [minLever, maxLever]. */
  setLeverage(symbol: string, leverage: number): Outcome<number> {
    const r = this.sim.setLeverage(symbol, leverage);
    if (r) return fail(r.code, r.msg);
    this.leverage.set(symbol, leverage);
    return ok(leverage);
  }

  /**
   * set-margin-mode: the simulator has one margin mode for all symbols, switched only while the
   * account holds no position, order or plan (45117 otherwise).
   */
  setMarginMode(marginMode: MarginMode): Outcome<MarginMode> {
    if (this.sim.setModes({ marginMode }) !== null) {
      return fail(
        "45117",
        "Currently holding positions or orders, the margin mode cannot be adjusted",
      );
    }
    this.ledger.dirtyAccount = true;
    this.ledger.flush();
    return ok(marginMode);
  }

  /** set-position-mode: 40920 while any position, order or plan exists. */
  setPositionMode(positionMode: PosMode): Outcome<PosMode> {
    if (this.sim.setModes({ positionMode }) !== null) {
      return fail("40920", "Position or order exists, the position mode cannot be switched");
    }
    return ok(positionMode);
  }
}
