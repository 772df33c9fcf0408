/**
 * Order lifecycle and fills of the simulated venue (the matching half of SimExchange, see
 * sim_exchange.ts for the model): latency queue, activation against the book, taker walks,
 * resting orders and their maker fills, position and cash effects of a fill, cancellation.
 * Account-level rules (mark, funding, liquidation, plans) live in the subclass, reached
 * through the `afterFill` / `onFallbackMark` hooks.
 */
import type { ContractSpec } from "../market/contracts.ts";
import type { BookEvent, TradeEvent } from "../market/events.ts";
import { OrderBook } from "../market/order_book.ts";
import { walkBook } from "./book_walk.ts";
import { type Order, snapshotOrder } from "./order_state.ts";
import { closeLeg, type Leg, newLeg, openLeg, SIZE_EPS } from "./positions.ts";
import type { SimExchangeConfig, VenueEvent } from "./types.ts";

/** Per-symbol venue state. */
export interface SymState {
  spec: ContractSpec;
  book: OrderBook;
  mark: number;
  hasMark: boolean;
  /** Last trade print (USDT), NaN before the first: the `fill_price` plan source. */
  last: number;
  fundingRate: number;
  nextFundingTime: number;
  lastSettlement: number;
  leverage: number;
  long: Leg;
  short: Leg;
  resting: Order[];
}

/** Order statuses after which nothing changes. */
export const FINAL: ReadonlySet<string> = new Set(["filled", "cancelled"]);

export abstract class VenueCore {
  /** All venue events in order (when `keepLog` is not false). */
  readonly log: VenueEvent[] = [];
  protected readonly syms = new Map<string, SymState>();
  protected readonly orders = new Map<string, Order>();
  /** Orders neither filled nor cancelled (pending or resting). */
  protected readonly open = new Set<Order>();
  protected pending: Order[] = [];
  // Venue time (ms); 0 until the first event or advanceTime().
  protected clock = 0;
  protected seq = 0;
  protected balance: number;
  protected orderMargin = 0;
  protected totalRealized = 0;
  protected totalFees = 0;
  protected totalFunding = 0;
  /** Position mode; changed only by SimExchange.setModes while nothing is open. */
  protected mode: "one_way" | "hedge";
  protected readonly mmr: number;
  protected readonly latency: number;

  /** Throws RangeError on a non-finite/negative balance, latency or margin rate. */
  constructor(protected readonly cfg: SimExchangeConfig) {
    if (!(cfg.initialBalance >= 0)) {
      throw new RangeError(`initialBalance must be ≥ 0 USDT, got ${cfg.initialBalance}`);
    }
    this.balance = cfg.initialBalance;
    this.mode = cfg.positionMode ?? "one_way";
    this.mmr = cfg.maintenanceMarginRate ?? 0.004;
    this.latency = cfg.latencyMs ?? 0;
    if (!(this.mmr >= 0 && this.mmr < 1)) throw new RangeError(`maintenanceMarginRate ${this.mmr}`);
    if (!(this.latency >= 0)) throw new RangeError(`latencyMs must be ≥ 0, got ${this.latency}`);
    for (const spec of cfg.contracts) {
      const lev = clampLev(cfg.leverage ?? 10, spec);
      this.syms.set(spec.symbol, {
        spec,
        book: new OrderBook(),
        mark: NaN,
        hasMark: false,
        last: NaN,
        fundingRate: 0,
        nextFundingTime: NaN,
        lastSettlement: -Infinity,
        leverage: lev,
        long: newLeg("long", lev),
        short: newLeg("short", lev),
        resting: [],
      });
    }
  }

  /** Current venue time (ms): the latest event or advanceTime() timestamp seen. */
  get now(): number {
    return this.clock;
  }

  /** Called after every fill; `opened` = the fill added to a leg. */
  protected abstract afterFill(st: SymState, o: Order, opened: boolean): void;

  /** Called when a book message sets the fallback mark (mid) of a symbol without mark feed. */
  protected abstract onFallbackMark(st: SymState): void;

  protected available(): number {
    let pm = 0;
    for (const st of this.syms.values()) pm += st.long.margin + st.short.margin;
    return this.balance - pm - this.orderMargin;
  }

  protected emit(ev: VenueEvent): void {
    if (this.cfg.keepLog !== false) this.log.push(ev);
    this.cfg.onEvent?.(ev);
  }

  protected emitOrder(o: Order): void {
    this.emit({ type: "order", ts: this.clock, order: snapshotOrder(o) });
  }

  /** Accepted order → books it, reserves its margin, emits it and matches what is due. */
  protected enqueue(o: Order): Order {
    this.orderMargin += o.reserved;
    this.orders.set(o.clientOid, o);
    this.open.add(o);
    this.pending.push(o);
    this.emitOrder(o);
    this.activateUntil(this.clock, false);
    return o;
  }

  /** Leg a closing order acts on: hedge = the `side` leg; one-way = the leg opposite `direction`. */
  protected closeLegFor(st: SymState, side: "buy" | "sell", direction: "buy" | "sell"): Leg {
    if (this.mode === "hedge") return side === "buy" ? st.long : st.short;
    return direction === "buy" ? st.short : st.long;
  }

  /** Unfilled size of live/pending close orders on one leg (hedge over-allocation check). */
  protected committedClose(symbol: string, hold: "long" | "short"): number {
    let t = 0;
    for (const o of this.open) {
      if (o.symbol !== symbol || !o.reduceOnly) continue;
      const h = this.mode === "hedge"
        ? (o.side === "buy" ? "long" : "short")
        : o.direction === "buy"
        ? "short"
        : "long";
      if (h === hold) t += o.size - o.filledSize;
    }
    return t;
  }

  protected activateUntil(t: number, strict: boolean): void {
    while (this.pending.length > 0) {
      const o = this.pending[0];
      if (strict ? o.activeAt >= t : o.activeAt > t) break;
      this.pending.shift();
      // The order is matched at its own arrival time, against the state at that time.
      if (o.activeAt > this.clock) this.clock = o.activeAt;
      if (o.status === "pending") this.activate(o);
    }
  }

  /** The order reaches the engine: take what is marketable, then rest or cancel the remainder. */
  protected activate(o: Order): void {
    const st = this.syms.get(o.symbol)!;
    const book = st.book;
    const limit = o.price ?? NaN;
    const opp = o.direction === "buy" ? book.asks : book.bids;
    if (o.force === "post_only" && opp.count > 0) {
      const crosses = o.direction === "buy" ? opp.price(0) <= limit : opp.price(0) >= limit;
      if (crosses) return this.cancel(o, "post_only_would_take");
    }
    let want = this.maxFill(st, o);
    if (want <= SIZE_EPS) return this.cancel(o, "reduce_only_no_position");
    if (o.force === "fok" && opp.sizeWithin(limit) < want - SIZE_EPS) {
      return this.cancel(o, "fok_unfilled");
    }
    if (o.fixedPrice !== undefined) {
      // A triggered plan under planFill "trigger": all of it at the precomputed price, the book
      // untouched (its depth is synthetic in candle replays, see sim_exchange.ts).
      this.fill(st, o, want, o.fixedPrice, "taker");
      want = o.size - o.filledSize;
    } else if (o.force !== "post_only") {
      const r = walkBook(book, o.direction, want, limit);
      if (r.filled > 0) this.fill(st, o, r.filled, r.notional / r.filled, "taker");
      want = o.size - o.filledSize;
    }
    if (want <= SIZE_EPS * Math.max(1, o.size)) return;
    if (o.reduceOnly && this.maxFill(st, o) <= SIZE_EPS) {
      return this.cancel(o, "reduce_only_no_position");
    }
    if (o.orderType === "market") return this.cancel(o, "insufficient_depth");
    if (o.force === "ioc" || o.force === "fok") return this.cancel(o, "ioc_remainder");
    const own = o.direction === "buy" ? book.bids : book.asks;
    // Displayed size at exactly our price = size at-or-better minus size strictly better.
    const half = st.spec.tickSize / 2;
    o.queueAhead = own.sizeWithin(limit) -
      own.sizeWithin(o.direction === "buy" ? limit + half : limit - half);
    if (o.status === "pending") o.status = "live";
    st.resting.push(o);
    this.emitOrder(o);
  }

  /** Remaining size the order may fill now (closing orders are capped by the position). */
  protected maxFill(st: SymState, o: Order): number {
    const rem = o.size - o.filledSize;
    if (!o.reduceOnly) return rem;
    return Math.min(rem, this.closeLegFor(st, o.side, o.direction).size);
  }

  /**
   * Applies a fill of `qty` at `price`: fee, position effect (closing first in one-way mode),
   * realized PnL, release of the order's margin reservation pro rata, events.
   */
  protected fill(st: SymState, o: Order, qty: number, price: number, liq: "maker" | "taker"): void {
    const rate = liq === "maker" ? st.spec.makerFeeRate : st.spec.takerFeeRate;
    const fee = qty * price * rate;
    let pnl = 0;
    let opened = false;
    if (this.mode === "hedge") {
      const leg = o.side === "buy" ? st.long : st.short;
      if (o.tradeSide === "open") {
        if (leg.size === 0) leg.leverage = st.leverage;
        openLeg(leg, qty, price);
        opened = true;
      } else pnl = closeLeg(leg, Math.min(qty, leg.size), price).pnl;
    } else {
      const against = o.direction === "buy" ? st.short : st.long;
      const withLeg = o.direction === "buy" ? st.long : st.short;
      const c = Math.min(qty, against.size);
      if (c > 0) pnl = closeLeg(against, c, price).pnl;
      const rest = qty - c;
      if (rest > SIZE_EPS && !o.reduceOnly) {
        if (withLeg.size === 0) withLeg.leverage = st.leverage;
        openLeg(withLeg, rest, price);
        opened = true;
      }
    }
    const remBefore = o.size - o.filledSize;
    const rel = remBefore > 0 ? o.reserved * Math.min(1, qty / remBefore) : o.reserved;
    o.reserved -= rel;
    this.orderMargin -= rel;
    this.balance += pnl - fee;
    this.totalRealized += pnl;
    this.totalFees += fee;
    o.avgPrice = (o.avgPrice * o.filledSize + price * qty) / (o.filledSize + qty);
    o.filledSize += qty;
    o.fee += fee;
    const done = o.size - o.filledSize <= SIZE_EPS * Math.max(1, o.size);
    o.status = done ? "filled" : "partially_filled";
    if (done) this.releaseAll(o);
    this.emit({
      type: "fill",
      ts: this.clock,
      orderId: o.orderId,
      clientOid: o.clientOid,
      symbol: o.symbol,
      direction: o.direction,
      price,
      size: qty,
      fee,
      liquidity: liq,
      realizedPnl: pnl,
      ...(o.planType ? { planType: o.planType } : {}),
    });
    this.emitOrder(o);
    this.afterFill(st, o, opened);
  }

  protected releaseAll(o: Order): void {
    this.open.delete(o);
    this.orderMargin -= o.reserved;
    o.reserved = 0;
    if (Math.abs(this.orderMargin) < 1e-9) this.orderMargin = 0;
    const st = this.syms.get(o.symbol)!;
    const i = st.resting.indexOf(o);
    if (i >= 0) st.resting.splice(i, 1);
  }

  protected cancel(o: Order, reason: string): void {
    o.status = "cancelled";
    o.cancelReason = reason;
    this.releaseAll(o);
    const i = this.pending.indexOf(o);
    if (i >= 0) this.pending.splice(i, 1);
    this.emitOrder(o);
  }

  protected applyBook(st: SymState, ev: BookEvent): void {
    let bids = ev.bids;
    let asks = ev.asks;
    if (bids.length === 0 && asks.length === 0 && ev.levelsJson) {
      bids = JSON.parse(ev.levelsJson.bids);
      asks = JSON.parse(ev.levelsJson.asks);
    }
    if (ev.channel === "books15" || ev.action === "snapshot") st.book.snapshot(bids, asks);
    else st.book.update(bids, asks);
    if (!st.hasMark && st.book.bids.count > 0 && st.book.asks.count > 0) {
      st.mark = (st.book.bids.price(0) + st.book.asks.price(0)) / 2;
      this.onFallbackMark(st);
    }
    // Resting orders the opposite best price moved strictly through fill in full as maker.
    for (const o of [...st.resting]) {
      const opp = o.direction === "buy" ? st.book.asks : st.book.bids;
      if (opp.count === 0) continue;
      const through = o.direction === "buy" ? opp.price(0) < o.price! : opp.price(0) > o.price!;
      if (through) this.makerFill(st, o, Infinity);
    }
  }

  protected matchTrade(st: SymState, t: TradeEvent): void {
    for (const o of [...st.resting]) {
      const p = o.price!;
      const through = o.direction === "buy" ? t.price < p : t.price > p;
      if (through) {
        this.makerFill(st, o, Infinity);
      } else if (t.price === p && t.side !== o.direction) {
        const excess = t.size - o.queueAhead;
        o.queueAhead = Math.max(0, o.queueAhead - t.size);
        if (excess > 0) this.makerFill(st, o, excess);
      }
    }
  }

  protected makerFill(st: SymState, o: Order, upTo: number): void {
    const q = Math.min(upTo, this.maxFill(st, o));
    if (q <= SIZE_EPS) {
      if (o.reduceOnly) this.cancel(o, "reduce_only_no_position");
      return;
    }
    this.fill(st, o, q, o.price!, "maker");
  }
}

export function opposite(s: "buy" | "sell"): "buy" | "sell" {
  return s === "buy" ? "sell" : "buy";
}

function clampLev(lev: number, spec: ContractSpec): number {
  return Math.min(spec.maxLever, Math.max(spec.minLever, lev));
}
