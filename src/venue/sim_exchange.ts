/**
 * SimExchange: a simulated Bitget USDT-M venue for backtests and paper trading, driven only by
 * normalized market events (src/market/events.ts) and their timestamps — never the wall clock.
 *
 * Model (see tests/venue_sim_test.ts for the checked properties):
 * - Book: `books15` messages replace the book; `books` snapshots/updates maintain an OrderBook.
 *   Taker fills consume (and deplete until the next book message) the visible levels.
 * - Market orders walk the book; the fill price is the VWAP of the consumed levels. What the
 *   visible depth cannot fill is cancelled (`cancelReason: "insufficient_depth"`).
 * - Limit orders: the marketable part fills as taker (post_only → cancelled instead, `ioc` →
 *   remainder cancelled, `fok` → cancelled unless fully fillable). The rest rests at its price
 *   and fills as maker, at its price, when (a) a trade prints strictly through it (whole
 *   remainder), (b) the opposite best price moves strictly through it (whole remainder), or
 *   (c) opposite-side taker trades at its price exceed the displayed size that was ahead of it
 *   when it started resting (queue approximation, FIFO, no cancellations ahead assumed).
 * - Fees: notional × makerFeeRate / takerFeeRate of the ContractSpec (API.md §9).
 * - Latency: an order reaches the engine at placement clock + `latencyMs` and is matched against
 *   the state at that time. Cancels act immediately.
 * - Positions: isolated margin (entry notional / leverage), one-way netting or hedge legs
 *   (API.md §5.3). Liquidation when the mark reaches the isolated liquidation price; the leg is
 *   closed at that price and its whole margin is lost. Cross margin is not modelled.
 * - Funding (API.md §9): payment = size × mark × rate at each settlement (FundingEvent
 *   `settled`, or a ticker whose time passes the previous `nextFundingTime`); longs pay when
 *   rate > 0. Paid from the balance, not from the position margin.
 * - Mark price: from ticker / mark events; until the first one, the last book mid or trade price.
 * Accounting: balance = initial + Σ realized − Σ fees + Σ funding, kept incrementally and
 * reported with the running totals so callers can check the identity.
 */
import type { ContractSpec } from "../market/contracts.ts";
import type { BookEvent, MarketEvent, TradeEvent } from "../market/events.ts";
import { OrderBook } from "../market/order_book.ts";
import { walkBook } from "./book_walk.ts";
import {
  closeLeg,
  type Leg,
  liquidationPrice,
  newLeg,
  openLeg,
  SIZE_EPS,
  unrealized,
} from "./positions.ts";
import { validateOrder } from "./validate.ts";
import type {
  PlaceOrderRequest,
  Rejection,
  SimAccount,
  SimExchangeConfig,
  SimOrder,
  SimPosition,
  VenueEvent,
} from "./types.ts";

interface Order extends SimOrder {
  /** Margin (USDT) still reserved for this order's opening part. */
  reserved: number;
}

interface SymState {
  spec: ContractSpec;
  book: OrderBook;
  mark: number;
  hasMark: boolean;
  fundingRate: number;
  nextFundingTime: number;
  lastSettlement: number;
  leverage: number;
  long: Leg;
  short: Leg;
  resting: Order[];
}

const FINAL = new Set(["filled", "cancelled"]);

export class SimExchange {
  /** All venue events in order (when `keepLog` is not false). */
  readonly log: VenueEvent[] = [];
  private readonly syms = new Map<string, SymState>();
  private readonly orders = new Map<string, Order>();
  /** Orders neither filled nor cancelled (pending or resting). */
  private readonly open = new Set<Order>();
  private pending: Order[] = [];
  // Venue time (ms); 0 until the first event or advanceTime().
  private clock = 0;
  private seq = 0;
  private balance: number;
  private orderMargin = 0;
  private totalRealized = 0;
  private totalFees = 0;
  private totalFunding = 0;
  private readonly mode: "one_way" | "hedge";
  private readonly mmr: number;
  private readonly latency: number;

  /** Throws RangeError on a non-finite/negative balance, latency or margin rate. */
  constructor(private readonly cfg: SimExchangeConfig) {
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

  /**
   * Sets the leverage used by legs opened from flat afterwards (open legs keep theirs).
   * Returns a Rejection (40102 unknown symbol, 40020 outside [minLever, maxLever]) or null.
   */
  setLeverage(symbol: string, leverage: number): Rejection | null {
    const st = this.syms.get(symbol);
    if (!st) return { code: "40102", msg: `symbol ${symbol} does not exist` };
    if (!(leverage >= st.spec.minLever && leverage <= st.spec.maxLever)) {
      return {
        code: "40020",
        msg: `leverage ${leverage} outside [${st.spec.minLever}, ${st.spec.maxLever}]`,
      };
    }
    st.leverage = leverage;
    for (const leg of [st.long, st.short]) if (leg.size === 0) leg.leverage = leverage;
    return null;
  }

  /**
   * Feeds one market event: activates orders whose latency expired before it, applies it
   * (book, trade, mark, funding), then matches resting orders, settles funding and liquidates
   * at its time. Events of symbols without a contract are ignored. Out-of-order timestamps do
   * not move the clock backwards. Throws RangeError on a malformed book level.
   */
  onEvent(ev: MarketEvent): void {
    this.activateUntil(ev.ts, true);
    if (ev.ts > this.clock) this.clock = ev.ts;
    const st = this.syms.get(ev.symbol);
    if (st) {
      switch (ev.kind) {
        case "book":
          this.applyBook(st, ev);
          break;
        case "trade":
          if (!st.hasMark) st.mark = ev.price;
          this.matchTrade(st, ev);
          if (!st.hasMark) this.checkLiquidation(st);
          break;
        case "ticker":
          this.crossFunding(st, ev.ts);
          st.fundingRate = ev.fundingRate;
          st.nextFundingTime = ev.nextFundingTime;
          this.setMark(st, ev.markPrice);
          break;
        case "mark":
          this.setMark(st, ev.markPrice);
          break;
        case "funding":
          if (ev.type === "settled") this.settleFunding(st, ev.ts, ev.fundingRate);
          else {
            this.crossFunding(st, ev.ts);
            st.fundingRate = ev.fundingRate;
            if (ev.nextFundingTime !== null) st.nextFundingTime = ev.nextFundingTime;
          }
          break;
        default:
          break;
      }
    }
    this.activateUntil(this.clock, false);
  }

  /** Moves the clock to `ts` (ms) without market data, activating orders due by then. */
  advanceTime(ts: number): void {
    if (ts > this.clock) this.clock = ts;
    this.activateUntil(this.clock, false);
  }

  /**
   * Places an order (API.md §5.3 semantics). Returns the accepted order (a copy; with zero
   * latency it has already been matched) or a Rejection with Bitget's code (API.md §7):
   * 40304/40305 clientOid too long / bad chars / duplicate, 40102 unknown symbol, 40020 bad
   * field, 40774 field not valid in this position mode, 40808 size not a lot multiple or price
   * not on tick, 43006 below minTradeNum, 45110 notional below minTradeUSDT, 22002 no position
   * to close, 40757 close size above the position, 43011 no book to price a market order,
   * 40762 margin + estimated taker fee above available balance.
   */
  placeOrder(req: PlaceOrderRequest): SimOrder | Rejection {
    if (this.orders.has(req.clientOid)) {
      return { code: "40305", msg: `clientOid ${req.clientOid} already used` };
    }
    const st = this.syms.get(req.symbol);
    if (!st) return { code: "40102", msg: `symbol ${req.symbol} does not exist` };
    const bad = validateOrder(req, st.spec, this.mode);
    if (bad) return bad;
    const hedge = this.mode === "hedge";
    const closing = hedge ? req.tradeSide === "close" : req.reduceOnly === true;
    const direction = hedge && closing ? opposite(req.side) : req.side;
    const bookSide = direction === "buy" ? st.book.asks : st.book.bids;
    const ref = req.orderType === "limit"
      ? req.price!
      : bookSide.count > 0
      ? bookSide.price(0)
      : NaN;
    if (Number.isNaN(ref)) {
      return { code: "43011", msg: `no order book for ${req.symbol} to price a market order` };
    }
    // Opening part: hedge open = all; one-way = what exceeds the opposite leg; closes open nothing.
    let openQty = 0;
    if (closing) {
      const leg = this.closeLegFor(st, req.side, direction);
      const committed = this.committedClose(req.symbol, leg.holdSide);
      if (leg.size <= SIZE_EPS) return { code: "22002", msg: "no position to close" };
      if (hedge && req.size > leg.size - committed + SIZE_EPS) {
        return { code: "40757", msg: `not enough position available: ${leg.size - committed}` };
      }
    } else {
      openQty = hedge
        ? req.size
        : Math.max(0, req.size - (direction === "buy" ? st.short : st.long).size);
      if (req.size * ref < st.spec.minTradeUSDT) {
        return {
          code: "45110",
          msg: `less than the minimum amount ${st.spec.minTradeUSDT} USDT (notional ${
            req.size * ref
          })`,
        };
      }
    }
    const reserve = openQty * ref / st.leverage;
    const required = reserve + req.size * ref * st.spec.takerFeeRate;
    if (required > this.available() + 1e-9) {
      return {
        code: "40762",
        msg: `order amount exceeds balance: needs ${required} USDT, available ${this.available()}`,
      };
    }
    const o: Order = {
      orderId: String(++this.seq),
      clientOid: req.clientOid,
      symbol: req.symbol,
      side: req.side,
      direction,
      tradeSide: hedge ? req.tradeSide! : null,
      orderType: req.orderType,
      force: req.orderType === "limit" ? req.force ?? "gtc" : "ioc",
      price: req.orderType === "limit" ? req.price! : null,
      size: req.size,
      reduceOnly: closing,
      filledSize: 0,
      avgPrice: 0,
      fee: 0,
      status: "pending",
      cancelReason: null,
      createdAt: this.clock,
      activeAt: this.clock + this.latency,
      queueAhead: 0,
      reserved: reserve,
    };
    this.orderMargin += reserve;
    this.orders.set(o.clientOid, o);
    this.open.add(o);
    this.pending.push(o);
    this.emitOrder(o);
    this.activateUntil(this.clock, false);
    return snapshotOrder(o);
  }

  /** Cancels a pending or resting order at once; 40768 when unknown or already final. */
  cancelOrder(clientOid: string): SimOrder | Rejection {
    const o = this.orders.get(clientOid);
    if (!o || FINAL.has(o.status)) {
      return { code: "40768", msg: `order ${clientOid} does not exist` };
    }
    this.cancel(o, "user");
    return snapshotOrder(o);
  }

  /** Copy of an order by clientOid, or undefined. */
  order(clientOid: string): SimOrder | undefined {
    const o = this.orders.get(clientOid);
    return o ? snapshotOrder(o) : undefined;
  }

  /** Open (non-empty) position legs with mark, unrealized PnL and liquidation price. */
  positions(): SimPosition[] {
    const out: SimPosition[] = [];
    for (const st of this.syms.values()) {
      for (const leg of [st.long, st.short]) {
        if (leg.size <= 0) continue;
        out.push({
          symbol: st.spec.symbol,
          holdSide: leg.holdSide,
          size: leg.size,
          entryPrice: leg.entryPrice,
          leverage: leg.leverage,
          margin: leg.margin,
          markPrice: st.mark,
          unrealizedPnl: unrealized(leg, st.mark),
          liquidationPrice: liquidationPrice(leg, this.mmr),
        });
      }
    }
    return out;
  }

  /** Account summary (USDT); see SimAccount for the definitions. */
  account(): SimAccount {
    let upnl = 0;
    let pm = 0;
    for (const st of this.syms.values()) {
      for (const leg of [st.long, st.short]) {
        if (leg.size > 0) {
          upnl += unrealized(leg, st.mark);
          pm += leg.margin;
        }
      }
    }
    return {
      balance: this.balance,
      equity: this.balance + upnl,
      positionMargin: pm,
      orderMargin: this.orderMargin,
      available: this.balance - pm - this.orderMargin,
      unrealizedPnl: upnl,
      totalRealizedPnl: this.totalRealized,
      totalFees: this.totalFees,
      totalFunding: this.totalFunding,
    };
  }

  // ---------------------------------------------------------------- internals

  private available(): number {
    let pm = 0;
    for (const st of this.syms.values()) pm += st.long.margin + st.short.margin;
    return this.balance - pm - this.orderMargin;
  }

  private emit(ev: VenueEvent): void {
    if (this.cfg.keepLog !== false) this.log.push(ev);
    this.cfg.onEvent?.(ev);
  }

  private emitOrder(o: Order): void {
    this.emit({ type: "order", ts: this.clock, order: snapshotOrder(o) });
  }

  /** Leg a closing order acts on: hedge = the `side` leg; one-way = the leg opposite `direction`. */
  private closeLegFor(st: SymState, side: "buy" | "sell", direction: "buy" | "sell"): Leg {
    if (this.mode === "hedge") return side === "buy" ? st.long : st.short;
    return direction === "buy" ? st.short : st.long;
  }

  /** Unfilled size of live/pending close orders on one leg (hedge over-allocation check). */
  private committedClose(symbol: string, hold: "long" | "short"): number {
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

  private activateUntil(t: number, strict: boolean): void {
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
  private activate(o: Order): void {
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
    if (o.force !== "post_only") {
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
  private maxFill(st: SymState, o: Order): number {
    const rem = o.size - o.filledSize;
    if (!o.reduceOnly) return rem;
    return Math.min(rem, this.closeLegFor(st, o.side, o.direction).size);
  }

  /**
   * Applies a fill of `qty` at `price`: fee, position effect (closing first in one-way mode),
   * realized PnL, release of the order's margin reservation pro rata, events.
   */
  private fill(st: SymState, o: Order, qty: number, price: number, liq: "maker" | "taker"): void {
    const rate = liq === "maker" ? st.spec.makerFeeRate : st.spec.takerFeeRate;
    const fee = qty * price * rate;
    let pnl = 0;
    if (this.mode === "hedge") {
      const leg = o.side === "buy" ? st.long : st.short;
      if (o.tradeSide === "open") {
        if (leg.size === 0) leg.leverage = st.leverage;
        openLeg(leg, qty, price);
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
    });
    this.emitOrder(o);
  }

  private releaseAll(o: Order): void {
    this.open.delete(o);
    this.orderMargin -= o.reserved;
    o.reserved = 0;
    if (Math.abs(this.orderMargin) < 1e-9) this.orderMargin = 0;
    const st = this.syms.get(o.symbol)!;
    const i = st.resting.indexOf(o);
    if (i >= 0) st.resting.splice(i, 1);
  }

  private cancel(o: Order, reason: string): void {
    o.status = "cancelled";
    o.cancelReason = reason;
    this.releaseAll(o);
    const i = this.pending.indexOf(o);
    if (i >= 0) this.pending.splice(i, 1);
    this.emitOrder(o);
  }

  private applyBook(st: SymState, ev: BookEvent): void {
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
      this.checkLiquidation(st);
    }
    // Resting orders the opposite best price moved strictly through fill in full as maker.
    for (const o of [...st.resting]) {
      const opp = o.direction === "buy" ? st.book.asks : st.book.bids;
      if (opp.count === 0) continue;
      const through = o.direction === "buy" ? opp.price(0) < o.price! : opp.price(0) > o.price!;
      if (through) this.makerFill(st, o, Infinity);
    }
  }

  private matchTrade(st: SymState, t: TradeEvent): void {
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

  private makerFill(st: SymState, o: Order, upTo: number): void {
    const q = Math.min(upTo, this.maxFill(st, o));
    if (q <= SIZE_EPS) {
      if (o.reduceOnly) this.cancel(o, "reduce_only_no_position");
      return;
    }
    this.fill(st, o, q, o.price!, "maker");
  }

  private setMark(st: SymState, mark: number): void {
    if (!Number.isFinite(mark) || mark <= 0) return;
    st.mark = mark;
    st.hasMark = true;
    this.checkLiquidation(st);
  }

  /** Settles funding once when `ts` passes the last announced settlement time. */
  private crossFunding(st: SymState, ts: number): void {
    if (Number.isFinite(st.nextFundingTime) && ts >= st.nextFundingTime) {
      this.settleFunding(st, st.nextFundingTime, st.fundingRate);
    }
  }

  /**
   * Pays funding for settlement time `at` (each settlement at most once): amount =
   * size × mark × rate; longs pay and shorts receive when rate > 0 (API.md §9).
   */
  private settleFunding(st: SymState, at: number, rate: number): void {
    if (at <= st.lastSettlement || !Number.isFinite(st.mark)) return;
    st.lastSettlement = at;
    for (const leg of [st.long, st.short]) {
      if (leg.size <= 0) continue;
      const value = leg.size * st.mark * rate;
      const amount = leg.holdSide === "long" ? -value : value;
      this.balance += amount;
      this.totalFunding += amount;
      this.emit({
        type: "funding",
        ts: this.clock,
        symbol: st.spec.symbol,
        holdSide: leg.holdSide,
        size: leg.size,
        markPrice: st.mark,
        rate,
        amount,
      });
    }
  }

  private checkLiquidation(st: SymState): void {
    for (const leg of [st.long, st.short]) {
      if (leg.size <= 0) continue;
      const lp = liquidationPrice(leg, this.mmr);
      const hit = leg.holdSide === "long" ? st.mark <= lp : st.mark >= lp;
      if (!hit) continue;
      const size = leg.size;
      const entry = leg.entryPrice;
      const { released } = closeLeg(leg, size, lp);
      // The whole isolated margin is lost: price loss to lp plus the maintenance margin left.
      const pnl = -released;
      this.balance += pnl;
      this.totalRealized += pnl;
      this.emit({
        type: "liquidation",
        ts: this.clock,
        symbol: st.spec.symbol,
        holdSide: leg.holdSide,
        size,
        entryPrice: entry,
        price: lp,
        markPrice: st.mark,
        realizedPnl: pnl,
      });
      for (const o of [...this.open]) {
        if (o.symbol === st.spec.symbol && o.reduceOnly) {
          if (this.closeLegFor(st, o.side, o.direction) === leg) {
            this.cancel(o, "position_liquidated");
          }
        }
      }
    }
  }
}

function opposite(s: "buy" | "sell"): "buy" | "sell" {
  return s === "buy" ? "sell" : "buy";
}

function clampLev(lev: number, spec: ContractSpec): number {
  return Math.min(spec.maxLever, Math.max(spec.minLever, lev));
}

function snapshotOrder(o: Order): SimOrder {
  const { reserved: _r, ...rest } = o;
  return rest;
}
