/**
 * TradingEngine: the strategy → sizing → risk → orders stage of the chain, the centre that
 * backtest, paper and live trading drive. It is a `Trader` (engine/contract.ts): a driver
 * (backtest/runner.ts over stored data, live/live_driver.ts over the live feed) feeds it market
 * events on a clock and places the intents it returns on a venue (venue/venue.ts).
 *
 * Per market event:
 *  1. closed bars are cut from the stream (BarBuilder: trades in raw replays, stored candles in
 *     candle replays), the scanner ranks them, the strategy's `onBar` sees them at their close;
 *  2. the strategy's `onEvent` sees the event;
 *  3. the kill-switches are re-evaluated on equity (daily loss, max drawdown); with
 *     `haltAction: "flatten"` a newly tripped switch closes every position (reason `kill_switch`);
 *  4. each Signal becomes orders: an entry is sized (src/risk/sizing.ts, method from config,
 *     times `sizeScale`), cut by the RiskManager (src/risk/limits.ts), rounded to the lot, and
 *     placed as a market order carrying Bitget's preset stop-loss / take-profit prices
 *     (tick-rounded away from the entry); a trailing stop is placed as a `moving_plan` once the
 *     position exists. An exit is a reduce-only market order for the whole position.
 * Positions closed by the venue (stop, target, trailing, liquidation) are reported to the strategy
 * through `onPositionClosed`. Units: prices USDT, sizes base coin, times epoch ms UTC.
 */
import type { ContractSpec } from "../market/contracts.ts";
import type { MarketEvent } from "../market/events.ts";
import { RiskManager, type RiskPosition, type RiskState } from "../risk/limits.ts";
import {
  fixedFractionSize,
  kellySize,
  riskPerTradeSize,
  type SizeResult,
  type SizingContext,
  volTargetSize,
} from "../risk/sizing.ts";
import type {
  ClosedBar,
  EnterSignal,
  PositionView,
  Signal,
  SignalResult,
  StrategyView,
  TradingStrategy,
} from "../strategy/types.ts";
import type { SimPosition, TriggerType, VenueEvent } from "../venue/types.ts";
import { BarBuilder } from "./bar_builder.ts";
import type { DepthView, Intent, OrderIntent, StrategyContext, Trader } from "./contract.ts";
import {
  type EngineConfig,
  type EngineDecision,
  ReturnSeries,
  roundStop,
} from "./engine_support.ts";

/** The scanner contract the engine needs (src/strategy/scanner.ts implements it). */
export interface SymbolFilter {
  readonly interval: string;
  onBar(bar: ClosedBar): void;
  isTradable(symbol: string): boolean;
}

const YEAR_MS = 365 * 86_400_000;

export class TradingEngine implements Trader {
  readonly name: string;
  readonly risk: RiskManager;
  /** Every entry decision with its sizing and risk outcome (diagnostics, tests). */
  readonly decisions: EngineDecision[] = [];
  /** Closed bars delivered to the strategy, per interval (for the report's price charts). */
  readonly bars = new Map<string, ClosedBar[]>();
  private readonly builders: BarBuilder[];
  private readonly closed: ClosedBar[] = [];
  private readonly opened = new Map<string, number>();
  private readonly stops = new Map<string, number>();
  private readonly trailing = new Map<string, { side: "long" | "short"; ratio: number }>();
  /** Symbols with an exit order in flight → time it was sent (ms). */
  private readonly exitSent = new Map<string, number>();
  private readonly returns: ReturnSeries;
  private depth: DepthView | null = null;
  private ctx: StrategyContext | null = null;
  private view: StrategyView | null = null;
  private day = -1;
  private startOfDayEquity = NaN;
  private peakEquity = NaN;
  private halted = false;
  private lastHalts: readonly string[] = [];
  /** Warm-up: indicators advance, nothing is signalled, sized or recorded (setWarmingUp). */
  private warming = false;
  private readonly triggerType: TriggerType;

  /**
   * @param barSource `trades` (raw replays and live: bars cut from trade prints) or `candles`
   *   (candle replays: bars from the stored candles, aggregated to coarser intervals).
   * @throws RiskInputError on a bad risk config, StoreError on an unknown bar interval.
   */
  constructor(
    private readonly strategy: TradingStrategy,
    private readonly cfg: EngineConfig,
    private readonly barSource: "trades" | "candles",
    private readonly scanner: SymbolFilter | null = null,
  ) {
    this.name = strategy.name;
    this.risk = new RiskManager(cfg.risk);
    const intervals = new Set(strategy.barIntervals);
    if (scanner) intervals.add(scanner.interval);
    this.builders = [...intervals].map((i) => new BarBuilder(i));
    this.returns = new ReturnSeries(this.risk.config.correlationWindow);
    this.triggerType = cfg.stopTrigger;
    for (const i of intervals) this.bars.set(i, []);
  }

  attach(depth: DepthView, ctx: StrategyContext): void {
    this.depth = depth;
    this.ctx = ctx;
    this.view = this.makeView(ctx);
  }

  onEvent(ev: MarketEvent, ctx: StrategyContext): Intent[] | Promise<Intent[]> | void {
    const now = ctx.time;
    // Reused per event: most events close no bar and yield no signal.
    const closed = this.closed;
    closed.length = 0;
    for (const b of this.builders) b.advance(now, closed);
    switch (ev.kind) {
      case "trade":
        if (this.barSource === "trades") { for (const b of this.builders) b.addTrade(ev, closed); }
        break;
      case "candle":
        if (this.barSource === "candles") {
          for (const b of this.builders) {
            b.addCandle(ev, closed);
          }
        }
        break;
      case "funding":
        if (ev.type === "settled") {
          for (const b of this.builders) b.setFunding(ev.symbol, ev.fundingRate);
        }
        break;
    }
    const out: Intent[] = [];
    this.trailingPlans(out);
    const view = this.view!;
    let pending: SignalResult[] | null = null;
    for (const bar of closed) {
      this.bars.get(bar.interval)!.push(bar);
      if (bar.interval === this.builders[0].interval) this.returns.add(bar.symbol, bar.close);
      if (this.scanner && bar.interval === this.scanner.interval) this.scanner.onBar(bar);
      if (this.strategy.onBar && this.strategy.barIntervals.includes(bar.interval)) {
        (pending ??= []).push(this.strategy.onBar(bar, view));
      }
    }
    if (this.strategy.onEvent) (pending ??= []).push(this.strategy.onEvent(ev, view));
    if (closed.length > 0 && !this.warming) this.killSwitches(out);
    if (pending === null) return out.length > 0 ? out : undefined;
    if (pending.some((p) => p instanceof Promise)) {
      const all = pending;
      return (async () => {
        for (const p of all) this.apply(await p, out);
        return out;
      })();
    }
    for (const p of pending) this.apply(p as Signal[] | void, out);
    return out.length > 0 ? out : undefined;
  }

  /**
   * Warm-up switch (live start): while on, events advance bars, indicators and the strategy's
   * own state, but `tradable` is false for every symbol and any signal is dropped — no decision
   * is sized, recorded or returned, and the kill-switches are not evaluated.
   */
  setWarmingUp(on: boolean): void {
    this.warming = on;
  }

  onVenueEvent(ev: VenueEvent): void {
    if (ev.type === "fill" || ev.type === "liquidation") {
      const reason = ev.type === "liquidation" ? "liquidation" : planReason(ev.planType);
      this.syncPosition(ev.symbol, ev.ts, reason);
    } else if (ev.type === "positions") {
      // A venue that reports positions apart from fills (Bitget's `positions` push can follow
      // the fill push): the same open/flat transitions, per symbol.
      const symbols = new Set([...this.opened.keys(), ...ev.positions.map((p) => p.symbol)]);
      for (const s of symbols) this.syncPosition(s, ev.ts, "closed");
    }
  }

  private syncPosition(symbol: string, ts: number, reason: string): void {
    const pos = this.position(symbol);
    if (pos && !this.opened.has(symbol)) this.opened.set(symbol, ts);
    if (pos) return;
    // Flat again: forget per-position state; tell the strategy when the venue closed it.
    const wasOpen = this.opened.delete(symbol);
    this.stops.delete(symbol);
    this.trailing.delete(symbol);
    const byStrategy = this.exitSent.delete(symbol);
    if (wasOpen && !byStrategy) this.strategy.onPositionClosed?.(symbol, reason, ts);
  }

  onEnd(ctx: StrategyContext): Intent[] {
    if (!this.cfg.closeAtEnd) return [];
    return ctx.positions().map((p) => this.exitOrder(p, "end_of_test"));
  }

  private makeView(ctx: StrategyContext): StrategyView {
    return {
      get time() {
        return ctx.time;
      },
      symbols: ctx.symbols,
      position: (s) => this.positionView(s),
      mid: (s) => ctx.mid(s),
      spreadBps: (s) => ctx.spreadBps(s),
      markPrice: (s) => this.position(s)?.markPrice ?? (ctx.mid(s) || ctx.lastPrice(s)),
      lastPrice: (s) => ctx.lastPrice(s),
      takerFeeRate: (s) => ctx.contract(s).takerFeeRate,
      tradable: (s) => !this.warming && !ctx.inGap(s) && (this.scanner?.isTradable(s) ?? true),
      // Warm-up replays history: its values are not decisions of this run.
      record: (s, n, v) => {
        if (!this.warming) ctx.record(s, n, v);
      },
    };
  }

  private position(symbol: string): SimPosition | undefined {
    return this.ctx!.positions().find((p) => p.symbol === symbol);
  }

  private positionView(symbol: string): PositionView | null {
    const p = this.position(symbol);
    if (!p) return null;
    return {
      side: p.holdSide,
      size: p.size,
      entryPrice: p.entryPrice,
      openedAt: this.opened.get(symbol) ?? this.ctx!.time,
    };
  }

  private trailingPlans(out: Intent[]): void {
    if (this.trailing.size === 0) return;
    for (const [symbol, t] of this.trailing) {
      const p = this.position(symbol);
      if (!p || p.holdSide !== t.side) continue;
      this.trailing.delete(symbol);
      out.push({
        kind: "tpsl",
        symbol,
        holdSide: t.side,
        planType: "moving_plan",
        triggerType: this.triggerType,
        rangeRate: t.ratio,
      });
    }
  }

  /** Daily-loss / drawdown switches on the equity at bar closes. */
  private killSwitches(out: Intent[]): void {
    const ctx = this.ctx!;
    const equity = ctx.account().equity;
    const day = Math.floor(ctx.time / 86_400_000);
    if (day !== this.day) {
      this.day = day;
      this.startOfDayEquity = equity;
    }
    if (!(equity <= this.peakEquity)) this.peakEquity = equity;
    const halts = this.risk.observe({
      ts: ctx.time,
      equity,
      startOfDayEquity: this.startOfDayEquity,
      peakEquity: this.peakEquity,
    });
    const halted = halts.length > 0;
    if (halted && !this.halted && this.cfg.haltAction === "flatten") {
      for (const p of ctx.positions()) {
        if (this.exiting(p.symbol)) continue;
        out.push(this.exitOrder(p, "kill_switch"));
      }
    }
    this.halted = halted;
    this.lastHalts = halts;
  }

  /**
   * The risk halts active at the last bar close (RiskManager.observe's lines; empty = trading
   * allowed) with the equity figures they were judged on (USDT).
   */
  haltState(): { halts: readonly string[]; startOfDayEquity: number; peakEquity: number } {
    return {
      halts: this.lastHalts,
      startOfDayEquity: this.startOfDayEquity,
      peakEquity: this.peakEquity,
    };
  }

  private apply(signals: Signal[] | void, out: Intent[]): void {
    if (!signals || this.warming) return;
    for (const s of signals) {
      if (s.kind === "exit") {
        const p = this.position(s.symbol);
        if (!p || this.exiting(s.symbol)) continue;
        out.push(this.exitOrder(p, s.reason));
      } else {
        const o = this.enter(s);
        if (o) out.push(o);
      }
    }
  }

  /** True while an exit sent for `symbol` may still be in flight (within the order latency). */
  private exiting(symbol: string): boolean {
    if (this.ctx!.orderInFlight?.(symbol)) return true;
    const t = this.exitSent.get(symbol);
    if (t === undefined) return false;
    if (this.ctx!.time - t <= this.cfg.latencyMs) return true;
    this.exitSent.delete(symbol); // rejected or never filled: allow a new exit
    return false;
  }

  private exitOrder(p: SimPosition, reason: string): OrderIntent {
    this.exitSent.set(p.symbol, this.ctx!.time);
    return {
      symbol: p.symbol,
      side: p.holdSide === "long" ? "sell" : "buy",
      size: p.size,
      reduceOnly: true,
      reason,
    };
  }

  private enter(s: EnterSignal): OrderIntent | null {
    const ctx = this.ctx!;
    const spec = ctx.contract(s.symbol);
    const cur = this.position(s.symbol);
    if (cur && cur.holdSide === s.side) return null;
    if (this.exiting(s.symbol)) return null;
    const price = Number.isFinite(ctx.mid(s.symbol)) ? ctx.mid(s.symbol) : s.price;
    const account = ctx.account();
    const decision: EngineDecision = {
      ts: ctx.time,
      symbol: s.symbol,
      side: s.side,
      reason: s.reason,
      price,
      sized: 0,
      approved: 0,
      notes: [],
    };
    this.decisions.push(decision);
    if (!(price > 0) || !(account.equity > 0)) {
      decision.notes.push("no price or no equity");
      return cur ? this.exitOrder(cur, s.reason) : null;
    }
    const stop = s.stopPrice === undefined ? undefined : roundStop(s.stopPrice, s.side, spec, "sl");
    const tp = s.takeProfitPrice === undefined
      ? undefined
      : roundStop(s.takeProfitPrice, s.side, spec, "tp");
    const sized: SizeResult = s.fixedSize !== undefined
      ? { size: s.fixedSize, notional: s.fixedSize * price, rawSize: s.fixedSize, reasons: [] }
      : this.size(s, spec, price, account.equity, stop);
    decision.notes.push(...sized.reasons);
    const open = sized.size * Math.min(1, Math.max(0, s.sizeScale ?? 1));
    decision.sized = open;
    // A signal for the opposite side always ends the current position, even when no new one opens.
    const flipExit = () => cur ? this.exitOrder(cur, s.reason) : null;
    if (!(open > 0)) return flipExit();
    const reduce = cur ? cur.size : 0;
    const side = s.side === "long" ? "buy" : "sell";
    const verdict = this.risk.evaluate({
      symbol: s.symbol,
      side,
      size: reduce + open,
      price,
      stopPrice: stop,
      reduceOnly: false,
      contract: spec,
    }, this.riskState(s.symbol, price));
    decision.notes.push(...verdict.reasons);
    decision.approved = verdict.openSize;
    if (verdict.openSize <= 0) return flipExit();
    if (stop !== undefined) this.stops.set(s.symbol, stop);
    if (s.trailingRatio !== undefined && s.trailingRatio > 0) {
      this.trailing.set(s.symbol, { side: s.side, ratio: s.trailingRatio });
    }
    return {
      symbol: s.symbol,
      side,
      size: Number((verdict.reduceSize + verdict.openSize).toFixed(spec.volumePlace)),
      reason: s.reason,
      stopLossPrice: stop,
      takeProfitPrice: tp,
    };
  }

  private size(
    s: EnterSignal,
    spec: ContractSpec,
    price: number,
    equity: number,
    stop: number | undefined,
  ): SizeResult {
    const z = this.cfg.sizing;
    const sctx: SizingContext = {
      equity,
      price,
      contract: spec,
      maxLeverage: this.risk.config.maxLeverage,
    };
    switch (z.method) {
      case "risk_per_trade":
        if (stop === undefined) break;
        return riskPerTradeSize(sctx, stop, z.riskPerTrade, spec.takerFeeRate);
      case "vol_target": {
        if (!(s.volatility !== undefined && s.volatility > 0)) break;
        const barMs = this.builders[0].intervalMs;
        return volTargetSize(sctx, z.targetVol, s.volatility * Math.sqrt(YEAR_MS / barMs));
      }
      case "kelly":
        if (s.winProb === undefined || !(s.payoff !== undefined && s.payoff > 0)) break;
        return kellySize(sctx, s.winProb, s.payoff, z.kellyScale);
    }
    // Inputs for the configured method missing on this signal: fixed fraction.
    return fixedFractionSize(sctx, z.fraction);
  }

  private riskState(symbol: string, price: number): RiskState {
    const ctx = this.ctx!;
    const positions: RiskPosition[] = ctx.positions().map((p) => ({
      symbol: p.symbol,
      side: p.holdSide,
      size: p.size,
      markPrice: p.markPrice,
      stopPrice: this.stops.get(p.symbol),
    }));
    const cur = positions.find((p) => p.symbol === symbol);
    const equity = ctx.account().equity;
    return {
      ts: ctx.time,
      equity,
      startOfDayEquity: Number.isFinite(this.startOfDayEquity) ? this.startOfDayEquity : equity,
      peakEquity: Number.isFinite(this.peakEquity) ? Math.max(this.peakEquity, equity) : equity,
      positions,
      spreadBps: ctx.spreadBps(symbol) || 0,
      depthUsdt: (side) => this.depth!.depthUsdt(symbol, side),
      returns: (s) => this.returns.get(s),
      liquidationPrice: cur ? this.position(symbol)?.liquidationPrice : undefined,
      markPrice: cur?.markPrice ?? price,
    };
  }
}

function planReason(planType: string | undefined): string {
  if (planType === "pos_loss") return "stop_loss";
  if (planType === "pos_profit") return "take_profit";
  if (planType === "moving_plan") return "trailing_stop";
  return "closed";
}
