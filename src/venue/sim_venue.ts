/**
 * The simulated exchange as a {@link Venue} (paper trading; the backtest runner drives the same
 * SimExchange directly). Every command answers synchronously and every venue event is delivered
 * synchronously, in the order the SimExchange emits it, so a paper run over a feed and a backtest
 * over the recording of that feed see the same fills at the same event times.
 *
 * The market is fed by the driver through {@link SimVenue.onMarketEvent}; the venue's clock is
 * the event time (SimExchange never reads the wall clock).
 */
import type { ContractSpec } from "../market/contracts.ts";
import type { MarketEvent } from "../market/events.ts";
import { SimExchange } from "./sim_exchange.ts";
import type {
  MarginMode,
  PlaceOrderRequest,
  PlaceTpslRequest,
  Rejection,
  SimAccount,
  SimExchangeConfig,
  SimOrder,
  SimPlanOrder,
  SimPosition,
  VenueEvent,
} from "./types.ts";
import {
  type OrderAck,
  type PlanAck,
  type PositionMode,
  type Venue,
  VenueEventHub,
  type VenueSettings,
} from "./venue.ts";

const FINAL = new Set(["filled", "cancelled"]);

export class SimVenue implements Venue {
  readonly kind = "sim" as const;
  /** The simulated exchange itself (book, mark, depth reads for the driver). */
  readonly sim: SimExchange;
  private readonly hub = new VenueEventHub();
  private readonly open = new Map<string, SimOrder>();
  private readonly leverage = new Map<string, number>();
  private readonly specs: Map<string, ContractSpec>;
  private readonly positionMode: PositionMode;
  private readonly marginMode: MarginMode;

  /** Same configuration as SimExchange (its `onEvent` is replaced by this venue's fan-out). */
  constructor(cfg: Omit<SimExchangeConfig, "onEvent">) {
    this.specs = new Map(cfg.contracts.map((c) => [c.symbol, c]));
    this.positionMode = cfg.positionMode ?? "one_way";
    this.marginMode = cfg.marginMode ?? "isolated";
    for (const c of cfg.contracts) {
      this.leverage.set(c.symbol, Math.min(c.maxLever, Math.max(c.minLever, cfg.leverage ?? 10)));
    }
    this.sim = new SimExchange({
      ...cfg,
      keepLog: cfg.keepLog ?? false,
      onEvent: (ev) => this.onVenueEvent(ev),
    });
  }

  /** Feeds one market event to the simulated exchange (fills, triggers, funding happen here). */
  onMarketEvent(ev: MarketEvent): void {
    this.sim.onEvent(ev);
  }

  private onVenueEvent(ev: VenueEvent): void {
    if (ev.type === "order") {
      if (FINAL.has(ev.order.status)) this.open.delete(ev.order.clientOid);
      else this.open.set(ev.order.clientOid, ev.order);
    }
    this.hub.emit(ev);
  }

  placeOrder(req: PlaceOrderRequest): SimOrder | Rejection {
    return this.sim.placeOrder(req);
  }

  cancelOrder(_symbol: string, clientOid: string): SimOrder | Rejection {
    return this.sim.cancelOrder(clientOid);
  }

  placeTpsl(req: PlaceTpslRequest): (SimPlanOrder & PlanAck) | Rejection {
    const r = this.sim.placeTpsl(req);
    return "code" in r ? r : { ...r, orderId: null };
  }

  cancelPlan(_symbol: string, clientOid: string): boolean {
    return this.sim.cancelPlan(clientOid);
  }

  order(_symbol: string, clientOid: string): SimOrder | undefined {
    return this.sim.order(clientOid);
  }

  openOrders(): SimOrder[] {
    return [...this.open.values()];
  }

  planOrders(symbol?: string): SimPlanOrder[] {
    return this.sim.planOrders(symbol);
  }

  positions(): SimPosition[] {
    return this.sim.positions();
  }

  account(): SimAccount {
    return this.sim.account();
  }

  setLeverage(symbol: string, leverage: number): Rejection | null {
    const r = this.sim.setLeverage(symbol, leverage);
    if (r === null) this.leverage.set(symbol, leverage);
    return r;
  }

  /** The simulated venue's margin mode is fixed at construction: only the same mode is accepted. */
  setMarginMode(symbol: string, mode: MarginMode): Rejection | null {
    if (!this.specs.has(symbol)) return { code: "40102", msg: `symbol ${symbol} does not exist` };
    if (mode === this.marginMode) return null;
    return {
      code: "40920",
      msg: `the simulated exchange runs in ${this.marginMode} margin mode for its whole session`,
    };
  }

  /** The simulated venue's position mode is fixed at construction: only the same mode is accepted. */
  setPositionMode(mode: PositionMode): Rejection | null {
    if (mode === this.positionMode) return null;
    return {
      code: "40920",
      msg:
        `the simulated exchange runs in ${this.positionMode} position mode for its whole session`,
    };
  }

  settings(symbols: readonly string[]): VenueSettings {
    const out: VenueSettings["symbols"] = {};
    for (const s of symbols) {
      out[s] = { marginMode: this.marginMode, leverage: this.leverage.get(s) ?? NaN };
    }
    return { positionMode: this.positionMode, symbols: out };
  }

  subscribe(listener: (ev: VenueEvent) => void): () => void {
    return this.hub.subscribe(listener);
  }

  events(): AsyncIterable<VenueEvent> {
    return this.hub.events();
  }

  close(): Promise<void> {
    this.hub.close();
    return Promise.resolve();
  }

  /** OrderAck view of a placed order (ids only). */
  static ack(o: SimOrder): OrderAck {
    return { clientOid: o.clientOid, orderId: o.orderId };
  }
}
