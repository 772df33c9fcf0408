/**
 * Backtest runner: replays a ReplaySource through a SimExchange (src/venue/sim_exchange.ts) and a
 * Strategy on a simulated clock (event time). Per event: the venue applies it first (so the
 * strategy sees the book its orders will hit), then the strategy may return order intents, which
 * are placed at once (the venue's latency model applies). Equity is sampled at the end of each
 * time slice that reaches the next multiple of `sampleMs`, and once more at the end.
 * One-way position mode only: trades.csv round trips assume a netted position per symbol.
 */
import type { ContractSpec } from "../market/contracts.ts";
import type { CandleEvent, MarketEvent } from "../market/events.ts";
import { SimExchange } from "../venue/sim_exchange.ts";
import type {
  FillEvent,
  FundingPaymentEvent,
  LiquidationEvent,
  PlaceOrderRequest,
  Rejection,
  SimAccount,
  SimPosition,
} from "../venue/types.ts";
import { SimClock } from "./clock.ts";
import type { ReplaySource } from "./replay_source.ts";

/** What a strategy wants: an order request without clientOid, plus a reason tag for trades.csv. */
export interface OrderIntent {
  symbol: string;
  side: "buy" | "sell";
  /** Base coin; must respect the contract's lot size (see roundToLot). */
  size: number;
  orderType?: "market" | "limit";
  price?: number;
  reduceOnly?: boolean;
  force?: PlaceOrderRequest["force"];
  /** Free text recorded as the exit reason when this order closes a trade. */
  reason?: string;
}

/** Read-only view handed to strategies. Prices USDT, times epoch ms. */
export interface StrategyContext {
  /** Simulated time (ms). */
  readonly time: number;
  readonly symbols: readonly string[];
  contract(symbol: string): ContractSpec;
  positions(): SimPosition[];
  account(): SimAccount;
  /** Last book mid of `symbol` (NaN before its first book). */
  mid(symbol: string): number;
  /** Last trade price or bar close of `symbol` (NaN before any). */
  lastPrice(symbol: string): number;
  /** True when trading `symbol` now is refused because the time lies in a data gap. */
  inGap(symbol: string): boolean;
}

type Intents = OrderIntent[] | void;

/** A trading strategy. All hooks are optional; each returns the orders to place now. */
export interface Strategy {
  readonly name: string;
  /** Every market event, after the venue applied it. */
  onEvent?(ev: MarketEvent, ctx: StrategyContext): Intents;
  /** Every closed bar (candles mode, or raw mode when candles are replayed). */
  onBar?(bar: CandleEvent, ctx: StrategyContext): Intents;
  /** After the last event: e.g. close positions. */
  onEnd?(ctx: StrategyContext): Intents;
}

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
}

/** A fill with what the runner knew when the order was placed. */
export interface BacktestFill extends FillEvent {
  /** Book mid of the symbol when the order was placed (USDT). */
  midAtOrder: number;
  /** Signed cost vs that mid (USDT, positive = paid): (price − mid)·size for buys, reverse for sells. */
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
  rejections: { ts: number; intent: OrderIntent; rejection: Rejection }[];
  /** Intents refused because their symbol was in a gap window. */
  blockedIntents: number;
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
 * Runs `strategy` over `source`. Throws RangeError on a non-positive sampleMs and Error when a
 * replayed symbol has no contract spec (the venue would silently ignore it).
 */
export function runBacktest(
  source: ReplaySource,
  strategy: Strategy,
  o: RunnerOptions,
): BacktestResult {
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
  const meta = new Map<string, { mid: number; reason: string }>();
  const sim = new SimExchange({
    contracts: o.contracts,
    initialBalance: o.initialBalance,
    leverage: o.leverage,
    latencyMs: o.latencyMs,
    positionMode: "one_way",
    keepLog: false,
    onEvent: (ev) => {
      if (ev.type === "fill") {
        const m = meta.get(ev.clientOid)!;
        const sign = ev.direction === "buy" ? 1 : -1;
        fills.push({
          ...ev,
          midAtOrder: m.mid,
          slippage: sign * (ev.price - m.mid) * ev.size,
          reason: m.reason,
        });
      } else if (ev.type === "funding") funding.push(ev);
      else if (ev.type === "liquidation") liquidations.push(ev);
    },
  });
  const clock = new SimClock();
  const mids = new Map<string, number>();
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
    lastPrice: (s) => lasts.get(s) ?? NaN,
    inGap: (s) => gapGuard && source.inGap(s, clock.now),
  };
  const place = (intents: Intents) => {
    if (!intents) return;
    for (const it of intents) {
      if (gapGuard && source.inGap(it.symbol, clock.now)) {
        blocked++;
        continue;
      }
      const clientOid = `bt-${++seq}`;
      meta.set(clientOid, { mid: mids.get(it.symbol) ?? NaN, reason: it.reason ?? strategy.name });
      const r = sim.placeOrder({
        clientOid,
        symbol: it.symbol,
        side: it.side,
        orderType: it.orderType ?? "market",
        size: it.size,
        price: it.price,
        reduceOnly: it.reduceOnly,
        force: it.force,
      });
      if ("code" in r) rejections.push({ ts: clock.now, intent: it, rejection: r });
    }
  };
  const equity: EquityPoint[] = [];
  const sample = (ts: number) => {
    let gross = 0;
    for (const p of sim.positions()) gross += p.size * p.markPrice;
    equity.push({ ts, equity: sim.account().equity, grossExposure: gross });
  };
  let events = 0;
  let nextSample = Infinity;
  let startTs = NaN;
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
    sim.onEvent(ev);
    switch (ev.kind) {
      case "book": {
        const mid = ev.top?.mid ??
          (ev.channel === "books15" && ev.bids.length > 0 && ev.asks.length > 0
            ? (Number(ev.bids[0][0]) + Number(ev.asks[0][0])) / 2
            : NaN);
        if (Number.isFinite(mid)) {
          mids.set(ev.symbol, mid);
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
    if (strategy.onEvent) place(strategy.onEvent(ev, ctx));
    if (ev.kind === "candle" && strategy.onBar) place(strategy.onBar(ev, ctx));
  }
  if (strategy.onEnd) place(strategy.onEnd(ctx));
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
    finalAccount: sim.account(),
    finalPositions: sim.positions(),
    firstMid,
    lastMid: Object.fromEntries(mids),
    events,
    startTs,
    endTs: clock.now,
  };
}
