/**
 * Backtest runner: the stored-data driver of the engine contract (engine/contract.ts). It replays
 * a ReplaySource through a SimExchange (src/venue/sim_exchange.ts) and a Trader on a simulated
 * clock (event time); live/live_driver.ts is the other driver, over the live feed. Per event: the venue applies it first (so the
 * strategy sees the book its orders will hit), then the strategy may return order intents, which
 * are placed at once (the venue's latency model applies). Equity is sampled at the end of each
 * time slice that reaches the next multiple of `sampleMs`, and once more at the end.
 * One-way position mode only: trades.csv round trips assume a netted position per symbol.
 *
 * Hooks may return a Promise (e.g. a strategy that scores with onnxruntime); `runBacktestAsync`
 * awaits it before the next event, so the replay stays strictly sequential. `runBacktest` is the
 * synchronous driver of the same loop and throws when a hook returns a Promise.
 */
import {
  type Intent,
  type MaybeAsync,
  orderRequest,
  PLAN_REASON,
  type SignalRecord,
  type StrategyContext,
  tpslRequest,
  type Trader,
} from "../engine/contract.ts";
import type { ContractSpec } from "../market/contracts.ts";
import { SimVenue } from "../venue/sim_venue.ts";
import type {
  FillEvent,
  FundingPaymentEvent,
  LiquidationEvent,
  Rejection,
  SimAccount,
  SimExchangeConfig,
  SimPosition,
  TriggerType,
} from "../venue/types.ts";
import { SimClock } from "./clock.ts";
import type { ReplaySource } from "./replay_source.ts";

type Intents = Intent[] | void;

export interface RunnerOptions {
  contracts: readonly ContractSpec[];
  /** Starting cash (USDT). */
  initialBalance: number;
  /** Default leverage (SimExchange config). Default 10. */
  leverage?: number;
  latencyMs?: number;
  /** Equity sampling period (ms). Default 60 000. */
  sampleMs?: number;
  /** Place intents even inside gap windows. Default false (refused and counted). */
  tradeAcrossGaps?: boolean;
  /** Isolated (default) or cross margin (SimExchange). */
  marginMode?: SimExchangeConfig["marginMode"];
  /** Maintenance margin rate (ratio), SimExchange default when absent. */
  maintenanceMarginRate?: number;
  /** Trigger source of preset stop-loss / take-profit prices. Default "mark_price". */
  presetTriggerType?: TriggerType;
  /**
   * How triggered stops fill (SimExchange `planFill`): walking the book, or at the trigger level
   * (gap-aware) — the model for candle replays, whose book is synthetic. Default "book".
   */
  planFill?: SimExchangeConfig["planFill"];
  /** Adverse slippage of trigger-level fills (bps). Default 1. */
  planFillSlippageBps?: number;
  /** Called about every `progressEvery` events with the current simulated time (ms). */
  onProgress?: (ts: number, events: number) => void;
  /** Default 50 000 events. */
  progressEvery?: number;
}

/** A fill with what the runner knew when the order was placed. */
export interface BacktestFill extends FillEvent {
  /**
   * Reference price (USDT): the book mid when the order was placed, or for a triggered stop /
   * take-profit / trailing stop its trigger level.
   */
  midAtOrder: number;
  /** Signed cost vs that price (USDT, positive = paid): (price − ref)·size for buys, reverse for sells. */
  slippage: number;
  reason: string;
}

export interface EquityPoint {
  ts: number;
  /** Account equity (USDT) = balance + unrealized PnL at mark. */
  equity: number;
  /** Σ |position size| × mark over symbols (USDT). */
  grossExposure: number;
}

export interface BacktestResult {
  strategy: string;
  initialBalance: number;
  sampleMs: number;
  equity: EquityPoint[];
  fills: BacktestFill[];
  funding: FundingPaymentEvent[];
  liquidations: LiquidationEvent[];
  rejections: { ts: number; intent: Intent; rejection: Rejection }[];
  /** Intents refused because their symbol was in a gap window. */
  blockedIntents: number;
  /** Values strategies recorded at their decisions, in time order. */
  records: SignalRecord[];
  finalAccount: SimAccount;
  finalPositions: SimPosition[];
  /** First / last book mid per symbol (benchmarks). */
  firstMid: Record<string, number>;
  lastMid: Record<string, number>;
  /** Market events replayed (including synthetic book/trade events). */
  events: number;
  startTs: number;
  endTs: number;
}

/**
 * Runs `strategy` over `source` synchronously. Throws RangeError on a non-positive sampleMs,
 * Error when a replayed symbol has no contract spec (the venue would silently ignore it), and
 * Error when a hook returns a Promise (use {@link runBacktestAsync}).
 */
export function runBacktest(
  source: ReplaySource,
  strategy: Trader,
  o: RunnerOptions,
): BacktestResult {
  const g = backtestLoop(source, strategy, o);
  const n = g.next();
  if (!n.done) {
    throw new Error(`strategy ${strategy.name} returned a Promise: run it with runBacktestAsync`);
  }
  return n.value;
}

/** Runs `strategy` over `source`, awaiting hooks that return a Promise. Same errors as runBacktest. */
export async function runBacktestAsync(
  source: ReplaySource,
  strategy: Trader,
  o: RunnerOptions,
): Promise<BacktestResult> {
  const g = backtestLoop(source, strategy, o);
  let n = g.next();
  while (!n.done) n = g.next(await n.value);
  return n.value;
}

/** The replay loop; yields a hook's Promise and resumes with its value. */
function* backtestLoop(
  source: ReplaySource,
  strategy: Trader,
  o: RunnerOptions,
): Generator<Promise<Intents>, BacktestResult, Intents> {
  const sampleMs = o.sampleMs ?? 60_000;
  if (!(sampleMs > 0)) throw new RangeError(`sampleMs must be > 0 ms, got ${sampleMs}`);
  const specs = new Map(o.contracts.map((c) => [c.symbol, c]));
  for (const s of source.opts.symbols) {
    if (!specs.has(s)) {
      throw new Error(`no contract spec for ${s}: pass it in RunnerOptions.contracts`);
    }
  }
  const fills: BacktestFill[] = [];
  const funding: FundingPaymentEvent[] = [];
  const liquidations: LiquidationEvent[] = [];
  const records: SignalRecord[] = [];
  const meta = new Map<string, { mid: number; reason: string }>();
  const plans = new Map<string, { mid: number; reason: string }>();
  const mids = new Map<string, number>();
  const spreads = new Map<string, number>();
  const venue = new SimVenue({
    contracts: o.contracts,
    initialBalance: o.initialBalance,
    leverage: o.leverage,
    latencyMs: o.latencyMs,
    marginMode: o.marginMode,
    maintenanceMarginRate: o.maintenanceMarginRate,
    presetTriggerType: o.presetTriggerType ?? "mark_price",
    planFill: o.planFill,
    planFillSlippageBps: o.planFillSlippageBps,
    positionMode: "one_way",
    keepLog: false,
  });
  const sim = venue.sim;
  venue.subscribe((ev) => {
    if (ev.type === "fill") {
      // Orders created by a plan trigger carry the plan's clientOid and its planType.
      const m = meta.get(ev.clientOid) ?? plans.get(ev.clientOid) ??
        { mid: mids.get(ev.symbol) ?? ev.price, reason: "plan" };
      const sign = ev.direction === "buy" ? 1 : -1;
      fills.push({
        ...ev,
        midAtOrder: m.mid,
        slippage: sign * (ev.price - m.mid) * ev.size,
        reason: ev.planType ? PLAN_REASON[ev.planType] : m.reason,
      });
    } else if (ev.type === "plan") {
      if (ev.plan.status === "triggered") {
        // A stop's slippage is measured against its trigger level, not the mid.
        const p = ev.plan;
        const long = p.holdSide === "long";
        const level = p.planType === "moving_plan"
          ? (p.extreme ?? NaN) * (1 + (long ? -1 : 1) * (p.rangeRate ?? 0))
          : p.triggerPrice ?? NaN;
        plans.set(p.clientOid, {
          mid: Number.isFinite(level) ? level : mids.get(p.symbol) ?? NaN,
          reason: PLAN_REASON[p.planType],
        });
      }
    } else if (ev.type === "funding") funding.push(ev);
    else if (ev.type === "liquidation") liquidations.push(ev);
    strategy.onVenueEvent?.(ev);
  });
  const clock = new SimClock();
  const firstMid: Record<string, number> = {};
  const lasts = new Map<string, number>();
  const rejections: BacktestResult["rejections"] = [];
  let blocked = 0;
  let seq = 0;
  const gapGuard = o.tradeAcrossGaps !== true;
  const ctx: StrategyContext = {
    get time() {
      return clock.now;
    },
    symbols: source.opts.symbols,
    contract: (s) => {
      const c = specs.get(s);
      if (!c) throw new Error(`no contract spec for ${s}`);
      return c;
    },
    positions: () => sim.positions(),
    account: () => sim.account(),
    mid: (s) => mids.get(s) ?? NaN,
    spreadBps: (s) => spreads.get(s) ?? NaN,
    lastPrice: (s) => lasts.get(s) ?? NaN,
    inGap: (s) => gapGuard && source.inGap(s, clock.now),
    record: (symbol, name, value) => {
      records.push({ ts: clock.now, symbol, name, value });
    },
  };
  const place = (intents: Intents) => {
    if (!intents) return;
    for (const it of intents) {
      if (it.kind === "tpsl") {
        const r = venue.placeTpsl(tpslRequest(it, `bt-${++seq}`));
        if ("code" in r) rejections.push({ ts: clock.now, intent: it, rejection: r });
        continue;
      }
      // Gap guard: no new exposure inside a gap; reduce-only exits still go through.
      if (gapGuard && !it.reduceOnly && source.inGap(it.symbol, clock.now)) {
        blocked++;
        continue;
      }
      const clientOid = `bt-${++seq}`;
      meta.set(clientOid, { mid: mids.get(it.symbol) ?? NaN, reason: it.reason ?? strategy.name });
      const r = venue.placeOrder(orderRequest(it, clientOid));
      if ("code" in r) rejections.push({ ts: clock.now, intent: it, rejection: r });
    }
  };
  const equity: EquityPoint[] = [];
  const sample = (ts: number) => {
    let gross = 0;
    for (const p of sim.positions()) gross += p.size * p.markPrice;
    equity.push({ ts, equity: sim.account().equity, grossExposure: gross });
  };
  strategy.attach?.(sim, ctx);
  const progressEvery = o.progressEvery ?? 50_000;
  let events = 0;
  let nextSample = Infinity;
  let startTs = NaN;
  let r: MaybeAsync;
  for (const ev of source.events()) {
    const prev = clock.now;
    if (clock.observe(ev)) {
      if (Number.isNaN(startTs)) {
        // Starting point: initial equity at the first event time, before anything traded.
        startTs = clock.now;
        sample(startTs);
        nextSample = Math.floor(startTs / sampleMs) * sampleMs + sampleMs;
      } else if (prev >= nextSample) {
        sample(prev);
        nextSample = Math.floor(prev / sampleMs) * sampleMs + sampleMs;
      }
    }
    events++;
    if (o.onProgress && events % progressEvery === 0) o.onProgress(clock.now, events);
    sim.onEvent(ev);
    switch (ev.kind) {
      case "book": {
        // The venue applied the message: its book is the one orders will hit.
        const top = sim.bookTop(ev.symbol);
        const mid = top ? (top.bid + top.ask) / 2 : NaN;
        if (Number.isFinite(mid)) {
          mids.set(ev.symbol, mid);
          if (top!.bid > 0 && top!.ask > 0) {
            spreads.set(ev.symbol, (top!.ask - top!.bid) / mid * 1e4);
          }
          if (!(ev.symbol in firstMid)) firstMid[ev.symbol] = mid;
        }
        break;
      }
      case "trade":
        lasts.set(ev.symbol, ev.price);
        break;
      case "candle":
        lasts.set(ev.symbol, ev.close);
        break;
    }
    if (strategy.onEvent) {
      r = strategy.onEvent(ev, ctx);
      if (r) place(r instanceof Promise ? yield r : r);
    }
    if (ev.kind === "candle" && strategy.onBar) {
      r = strategy.onBar(ev, ctx);
      if (r) place(r instanceof Promise ? yield r : r);
    }
  }
  if (strategy.onEnd) {
    r = strategy.onEnd(ctx);
    if (r) place(r instanceof Promise ? yield r : r);
  }
  // Orders sent at the end still reach the venue after the latency, against the last books.
  if (Number.isFinite(clock.now) && (o.latencyMs ?? 0) > 0) {
    sim.advanceTime(clock.now + o.latencyMs!);
  }
  if (Number.isFinite(clock.now)) sample(clock.now);
  return {
    strategy: strategy.name,
    initialBalance: o.initialBalance,
    sampleMs,
    equity,
    fills,
    funding,
    liquidations,
    rejections,
    blockedIntents: blocked,
    records,
    finalAccount: sim.account(),
    finalPositions: sim.positions(),
    firstMid,
    lastMid: Object.fromEntries(mids),
    events,
    startTs,
    endTs: clock.now,
  };
}
