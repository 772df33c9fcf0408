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
 * - Positions: one-way netting or hedge legs (API.md §5.3); each posts entry notional / leverage
 *   of margin, counted as used in `available` in both margin modes.
 *   Isolated (default): a leg is liquidated when the mark reaches its isolated liquidation price
 *   (positions.ts); it is closed at that price and its whole margin is lost.
 *   Crossed: unrealized PnL is shared; when equity (balance + Σ uPnL at mark) ≤ Σ mmr × size ×
 *   mark, every open order is cancelled and every leg closed at its mark; the balance ends at 0
 *   (margin.ts, which also states where this differs from Bitget's tiered liquidation).
 * - Plans (plans.ts, Bitget place-tpsl-order API.md §5.7): pos_loss / pos_profit / moving_plan
 *   on a leg, watching the mark (`mark_price`) or trade prints (`fill_price`); evaluated before
 *   the liquidation check of the same price update. A trigger submits a reduce-only market
 *   order (clientOid = the plan's) for min(plan size, leg size) through the normal path: latency
 *   applies, a liquidation or a close before it arrives cancels it, and at arrival it fills per
 *   `planFill`:
 *   - `book` (default): it walks the book like any market order.
 *   - `trigger`: it fills in full (up to the leg size then) as taker, neither limited by nor
 *     depleting the book, at plans.ts `triggerFillPrice` — the stop level, or the first price
 *     beyond it when the market gapped through it (the previous price of the trigger source was
 *     already beyond the level), the usual OHLC-backtest convention — moved adversely by
 *     `planFillSlippageBps` (default 1) and rounded to the tick adversely (sell down, buy up).
 *     The level is the plan's triggerPrice, or a trailing stop's best × (1 ∓ rangeRate) at
 *     trigger time. Why: in candle replays the book is synthetic (replay_source.ts), so a walk
 *     would fill a stop at the bar extreme (no latency) or at the bar's close book (latency),
 *     biasing stop-losses and take-profits by where the bar happened to close.
 *   Preset SL/TP prices of an order become pos_loss / pos_profit plans when its opening part
 *   first fills. A leg that goes flat cancels its live plans.
 * - Funding (API.md §9): payment = size × mark × rate at each settlement (FundingEvent
 *   `settled`, or a ticker whose time passes the previous `nextFundingTime`); longs pay when
 *   rate > 0. Paid from the balance, not from the position margin.
 * - Mark price: from ticker / mark events; until the first one, the last book mid or trade price.
 * Accounting: balance = initial + Σ realized − Σ fees + Σ funding, kept incrementally and
 * reported with the running totals so callers can check the identity (both margin modes).
 * Code: venue_core.ts (order lifecycle, matching, fills), this file (public API, mark, funding,
 * liquidation, plan wiring), plans.ts, margin.ts, positions.ts, validate.ts.
 */
import type { MarketEvent } from "../market/events.ts";
import { crossLiquidationLosses, crossLiquidationPrice, legSlack } from "./margin.ts";
import { type Order, snapshotOrder } from "./order_state.ts";
import {
  newPlan,
  PlanBook,
  PRESETS,
  triggerFillPrice,
  validatePresets,
  validateTpsl,
} from "./plans.ts";
import { closeLeg, type Leg, liquidationPrice, SIZE_EPS, unrealized } from "./positions.ts";
import type {
  HoldSide,
  MarginMode,
  PlaceOrderRequest,
  PlaceTpslRequest,
  Rejection,
  SimAccount,
  SimExchangeConfig,
  SimOrder,
  SimPlanOrder,
  SimPosition,
  TriggerType,
} from "./types.ts";
import { FINAL, opposite, type SymState, VenueCore } from "./venue_core.ts";
import { validateOrder } from "./validate.ts";

export class SimExchange extends VenueCore {
  /** Crossed margin; changed only by setModes while nothing is open. */
  private cross: boolean;
  private readonly plans: PlanBook;
  /** Plan clientOids promised to preset prices of placed orders (shared namespace). */
  private readonly reservedOids = new Set<string>();
  /** `planFill: "trigger"`: slippage (bps) of a triggered plan's fill; NaN = walk the book. */
  private readonly planSlipBps: number;

  /**
   * Throws RangeError on a non-finite/negative balance, latency or margin rate, a bad mode, or
   * `planFillSlippageBps` outside [0, 10 000).
   */
  constructor(cfg: SimExchangeConfig) {
    super(cfg);
    const mm = cfg.marginMode ?? "isolated";
    if (mm !== "isolated" && mm !== "crossed") throw new RangeError(`marginMode ${mm}`);
    this.cross = mm === "crossed";
    const pt = cfg.presetTriggerType ?? "fill_price";
    if (pt !== "mark_price" && pt !== "fill_price") throw new RangeError(`presetTriggerType ${pt}`);
    const pf = cfg.planFill ?? "book";
    if (pf !== "book" && pf !== "trigger") {
      throw new RangeError(`planFill must be book|trigger, got ${JSON.stringify(pf)}`);
    }
    const slip = cfg.planFillSlippageBps ?? 1;
    if (!(slip >= 0 && slip < 10_000)) {
      throw new RangeError(`planFillSlippageBps must be in [0, 10000) bps, got ${slip}`);
    }
    this.planSlipBps = pf === "trigger" ? slip : NaN;
    this.plans = new PlanBook(
      (ev) => this.emit(ev),
      (p, price, prev) => this.triggerPlan(p, price, prev),
    );
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
   * Switches the position mode and/or the margin mode (Bitget set-position-mode /
   * set-margin-mode, API.md §5.2) while nothing is open. Returns a Rejection — 40920 when any
   * position leg, pending or resting order, or live plan exists — or null after switching.
   * Throws RangeError on a value other than one_way|hedge / isolated|crossed.
   */
  setModes(m: { positionMode?: "one_way" | "hedge"; marginMode?: MarginMode }): Rejection | null {
    const pm = m.positionMode ?? this.mode;
    const mm = m.marginMode ?? (this.cross ? "crossed" : "isolated");
    if (pm !== "one_way" && pm !== "hedge") throw new RangeError(`positionMode ${pm}`);
    if (mm !== "isolated" && mm !== "crossed") throw new RangeError(`marginMode ${mm}`);
    let busy = this.open.size > 0 || this.pending.length > 0 || this.plans.list().length > 0;
    for (const st of this.syms.values()) {
      if (st.long.size > 0 || st.short.size > 0) busy = true;
    }
    if (busy) {
      return {
        code: "40920",
        msg: "Position or order exists, the position mode or margin mode cannot be changed",
      };
    }
    this.mode = pm;
    this.cross = mm === "crossed";
    return null;
  }

  /** Current position mode and margin mode. */
  modes(): { positionMode: "one_way" | "hedge"; marginMode: MarginMode } {
    return { positionMode: this.mode, marginMode: this.cross ? "crossed" : "isolated" };
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
          st.last = ev.price;
          if (!st.hasMark) st.mark = ev.price;
          this.matchTrade(st, ev);
          this.plans.onPrice(st.spec.symbol, "fill_price", ev.price, this.clock);
          if (!st.hasMark) {
            this.plans.onPrice(st.spec.symbol, "mark_price", ev.price, this.clock);
            this.checkLiquidation(st);
          }
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
    // Orders due by `ts` are matched at their own arrival time (as in onEvent), then the clock moves.
    this.activateUntil(ts, false);
    if (ts > this.clock) this.clock = ts;
  }

  /**
   * Places an order (API.md §5.3 semantics). Returns the accepted order (a copy; with zero
   * latency it has already been matched) or a Rejection with Bitget's code (API.md §7):
   * 40304/40305 clientOid too long / bad chars / duplicate, 40102 unknown symbol, 40020 bad
   * field, 40774 field not valid in this position mode, 40808 size not a lot multiple or price
   * not on tick, 43006 below minTradeNum, 45110 notional below minTradeUSDT, 22002 no position
   * to close, 40757 close size above the position, 43011 no book to price a market order,
   * 40762 margin + estimated taker fee above available balance; preset SL/TP prices as
   * plans.ts `validatePresets` (40020, 40808, 45122, 40304) and 40305 when `${clientOid}-sl`
   * / `-tp` is taken.
   */
  placeOrder(req: PlaceOrderRequest): SimOrder | Rejection {
    if (this.oidTaken(req.clientOid)) {
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
    const hold: HoldSide = direction === "buy" ? "long" : "short";
    const presetRef = req.orderType === "limit"
      ? req.price!
      : this.refPrice(st, this.cfg.presetTriggerType ?? "fill_price");
    const badPreset = validatePresets(req, st.spec, !closing, hold, presetRef);
    if (badPreset) return badPreset;
    const presetOids: string[] = [];
    if (req.presetStopLossPrice !== undefined) presetOids.push(`${req.clientOid}-sl`);
    if (req.presetStopSurplusPrice !== undefined) presetOids.push(`${req.clientOid}-tp`);
    for (const id of presetOids) {
      if (this.oidTaken(id)) return { code: "40305", msg: `clientOid ${id} already used` };
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
      ...this.pendingState(),
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
      reserved: reserve,
      presetSl: req.presetStopLossPrice,
      presetTp: req.presetStopSurplusPrice,
    };
    for (const id of presetOids) this.reservedOids.add(id);
    return snapshotOrder(this.enqueue(o));
  }

  /** Lifecycle fields of a new order: next orderId, nothing filled, active after the latency. */
  private pendingState() {
    return {
      orderId: String(++this.seq),
      filledSize: 0,
      avgPrice: 0,
      fee: 0,
      status: "pending" as const,
      cancelReason: null,
      createdAt: this.clock,
      activeAt: this.clock + this.latency,
      queueAhead: 0,
    };
  }

  /**
   * Places a position stop-loss / take-profit / trailing stop (Bitget place-tpsl-order,
   * API.md §5.7; semantics in plans.ts). Returns a copy of the live plan (a PlanEvent is
   * emitted) or a Rejection: 40305 clientOid already used by an order or plan, 40102 unknown
   * symbol, else plans.ts `validateTpsl` (40304/40305, 40020, 40808, 43011, 22002, 45122).
   * The wrong-side check uses the current price of the request's trigger source.
   */
  placeTpsl(req: PlaceTpslRequest): SimPlanOrder | Rejection {
    if (this.oidTaken(req.clientOid)) {
      return { code: "40305", msg: `clientOid ${req.clientOid} already used` };
    }
    const st = this.syms.get(req.symbol);
    if (!st) return { code: "40102", msg: `symbol ${req.symbol} does not exist` };
    const leg = req.holdSide === "short" ? st.short : st.long;
    const ref = this.refPrice(st, req.triggerType);
    const bad = validateTpsl(req, st.spec, leg.size > SIZE_EPS ? leg.size : 0, ref);
    if (bad) return bad;
    const p = newPlan(req, this.clock, ref);
    this.plans.add(p, this.clock);
    return { ...p };
  }

  /** Cancels a live plan (PlanEvent, cancelReason `user`); false when unknown or not live. */
  cancelPlan(clientOid: string): boolean {
    return this.plans.cancel(clientOid, "user", this.clock);
  }

  /** Copies of the live plans, of one symbol or of all. */
  planOrders(symbol?: string): SimPlanOrder[] {
    return this.plans.list(symbol);
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
    // Cross: balance + Σ (uPnL − maintenance) over all legs; each symbol removes its own share.
    let slack = this.balance;
    if (this.cross) {
      for (const st of this.syms.values()) slack += this.symSlack(st);
    }
    for (const st of this.syms.values()) {
      const crossLp = this.cross
        ? crossLiquidationPrice(st.long, st.short, slack - this.symSlack(st), this.mmr)
        : NaN;
      for (const leg of [st.long, st.short]) {
        if (leg.size <= 0) continue;
        out.push({
          symbol: st.spec.symbol,
          holdSide: leg.holdSide,
          marginMode: this.cross ? "crossed" : "isolated",
          size: leg.size,
          entryPrice: leg.entryPrice,
          leverage: leg.leverage,
          margin: leg.margin,
          markPrice: st.mark,
          unrealizedPnl: unrealized(leg, st.mark),
          liquidationPrice: this.cross ? crossLp : liquidationPrice(leg, this.mmr),
        });
      }
    }
    return out;
  }

  /**
   * Best bid / ask (USDT) and their sizes (base coin) of the venue's current book for `symbol`
   * (as depleted by the venue's own taker fills), or null when unknown or a side is empty.
   */
  bookTop(symbol: string): { bid: number; ask: number; bidSize: number; askSize: number } | null {
    const b = this.syms.get(symbol)?.book;
    if (!b || b.bids.count === 0 || b.asks.count === 0) return null;
    return {
      bid: b.bids.price(0),
      ask: b.asks.price(0),
      bidSize: b.bids.size(0),
      askSize: b.asks.size(0),
    };
  }

  /**
   * Visible depth (USDT, Σ price × size over all levels) an order of `side` would take:
   * buy → asks, sell → bids. 0 for an unknown symbol or an empty side.
   */
  depthUsdt(symbol: string, side: "buy" | "sell"): number {
    const b = this.syms.get(symbol)?.book;
    if (!b) return 0;
    const levels = side === "buy" ? b.asks : b.bids;
    let t = 0;
    for (let i = 0; i < levels.count; i++) t += levels.price(i) * levels.size(i);
    return t;
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

  private oidTaken(oid: string): boolean {
    return this.orders.has(oid) || this.plans.has(oid) || this.reservedOids.has(oid);
  }

  /** Current price of a plan trigger source: mark, or last trade (mark before the first). */
  private refPrice(st: SymState, source: TriggerType): number {
    return source === "fill_price" && !Number.isNaN(st.last) ? st.last : st.mark;
  }

  /**
   * A plan fired at trigger-source price `price` (`prev` = that source's previous price): submit
   * its reduce-only market order for min(plan size, leg size), under planFill "trigger" with its
   * fill price fixed now. No validation or balance check: like the exchange's own stop orders
   * it must be able to close.
   */
  private triggerPlan(p: SimPlanOrder, price: number, prev: number): void {
    const st = this.syms.get(p.symbol)!;
    const long = p.holdSide === "long";
    const size = Math.min(p.size ?? Infinity, (long ? st.long : st.short).size);
    if (!(size > SIZE_EPS)) return;
    const hedge = this.mode === "hedge";
    const direction = long ? "sell" : "buy";
    this.enqueue({
      ...this.pendingState(),
      clientOid: p.clientOid,
      symbol: p.symbol,
      side: hedge ? (long ? "buy" : "sell") : direction,
      direction,
      tradeSide: hedge ? "close" : null,
      orderType: "market",
      force: "ioc",
      price: null,
      size,
      reduceOnly: true,
      reserved: 0,
      planType: p.planType,
      ...(Number.isNaN(this.planSlipBps)
        ? {}
        : { fixedPrice: triggerFillPrice(p, price, prev, this.planSlipBps, st.spec) }),
    });
  }

  /** Creates the preset pos_loss / pos_profit plans of an order on the leg it opened. */
  private presetPlans(o: Order, hold: HoldSide): void {
    const prices = [o.presetSl, o.presetTp];
    o.presetSl = o.presetTp = undefined;
    PRESETS.forEach(({ planType, suffix }, i) => {
      if (prices[i] === undefined) return;
      const req: PlaceTpslRequest = {
        clientOid: o.clientOid + suffix,
        symbol: o.symbol,
        holdSide: hold,
        planType,
        triggerPrice: prices[i],
        triggerType: this.cfg.presetTriggerType ?? "fill_price",
      };
      this.plans.add(newPlan(req, this.clock, NaN), this.clock);
    });
  }

  protected afterFill(st: SymState, o: Order, opened: boolean): void {
    this.cancelFlatPlans(st);
    if (opened && (o.presetSl !== undefined || o.presetTp !== undefined)) {
      this.presetPlans(o, o.direction === "buy" ? "long" : "short");
    }
  }

  protected onFallbackMark(st: SymState): void {
    this.plans.onPrice(st.spec.symbol, "mark_price", st.mark, this.clock);
    this.checkLiquidation(st);
  }

  /** Cancels the live plans of the symbol's flat legs (after fills and liquidations). */
  private cancelFlatPlans(st: SymState): void {
    if (!this.plans.any(st.spec.symbol)) return;
    for (const leg of [st.long, st.short]) {
      if (leg.size <= SIZE_EPS) {
        this.plans.cancelLeg(st.spec.symbol, leg.holdSide, "position_closed", this.clock);
      }
    }
  }

  /** Σ over the symbol's legs of (uPnL − maintenance margin) at its mark (USDT). */
  private symSlack(st: SymState): number {
    return legSlack(st.long, st.mark, this.mmr) + legSlack(st.short, st.mark, this.mmr);
  }

  private setMark(st: SymState, mark: number): void {
    if (!Number.isFinite(mark) || mark <= 0) return;
    st.mark = mark;
    st.hasMark = true;
    this.plans.onPrice(st.spec.symbol, "mark_price", mark, this.clock);
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
    if (this.cross) this.checkCross();
  }

  private checkLiquidation(st: SymState): void {
    if (this.cross) return this.checkCross();
    for (const leg of [st.long, st.short]) {
      if (leg.size <= 0) continue;
      const lp = liquidationPrice(leg, this.mmr);
      const hit = leg.holdSide === "long" ? st.mark <= lp : st.mark >= lp;
      if (!hit) continue;
      const size = leg.size;
      const entry = leg.entryPrice;
      const { released } = closeLeg(leg, size, lp);
      // The whole isolated margin is lost: price loss to lp plus the maintenance margin left.
      this.bookLiquidation(st, leg.holdSide, size, entry, lp, -released);
      for (const o of [...this.open]) {
        if (o.symbol === st.spec.symbol && o.reduceOnly) {
          if (this.closeLegFor(st, o.side, o.direction) === leg) {
            this.cancel(o, "position_liquidated");
          }
        }
      }
    }
    this.cancelFlatPlans(st);
  }

  /** Books a liquidated leg closed at `price` (USDT) with realized `pnl` and emits the event. */
  private bookLiquidation(
    st: SymState,
    holdSide: HoldSide,
    size: number,
    entryPrice: number,
    price: number,
    pnl: number,
  ): void {
    this.balance += pnl;
    this.totalRealized += pnl;
    this.emit({
      type: "liquidation",
      ts: this.clock,
      symbol: st.spec.symbol,
      holdSide,
      size,
      entryPrice,
      price,
      markPrice: st.mark,
      realizedPnl: pnl,
    });
  }

  /**
   * Cross margin: liquidates the account when equity ≤ Σ maintenance margin (margin.ts). Open
   * orders are cancelled (`account_liquidated`), every leg is closed at its mark and books its
   * share of the loss (`crossLiquidationLosses`); the last leg takes the float residue so the
   * balance ends at exactly 0.
   */
  private checkCross(): void {
    let slack = this.balance;
    let legs = 0;
    for (const st of this.syms.values()) {
      if (st.long.size > 0 || st.short.size > 0) {
        slack += this.symSlack(st);
        legs++;
      }
    }
    if (legs === 0 || !(slack <= 0)) return;
    for (const o of [...this.open]) this.cancel(o, "account_liquidated");
    const items: { st: SymState; leg: Leg; mark: number }[] = [];
    for (const st of this.syms.values()) {
      for (const leg of [st.long, st.short]) {
        if (leg.size > 0) items.push({ st, leg, mark: st.mark });
      }
    }
    const losses = crossLiquidationLosses(this.balance, items, this.mmr);
    items.forEach(({ st, leg, mark }, i) => {
      const size = leg.size;
      const entry = leg.entryPrice;
      closeLeg(leg, size, mark);
      this.bookLiquidation(
        st,
        leg.holdSide,
        size,
        entry,
        mark,
        i === items.length - 1 ? -this.balance : losses[i],
      );
    });
    for (const { st } of items) this.cancelFlatPlans(st);
  }
}
