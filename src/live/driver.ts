/**
 * The live driver: the other thin driver of the engine contract (engine/contract.ts), beside the
 * backtest runner. It feeds a Trader (the TradingEngine) the market events of the live feed on
 * the engine clock, hands it the venue's events, and places the intents it returns through the
 * order manager (oms/oms.ts) on a venue — the simulated exchange (paper) or Bitget (demo, live).
 *
 * Per market event, in arrival order and one at a time (a strategy hook that awaits ONNX scoring
 * holds the next event back, as in a backtest):
 *  1. the engine clock moves to the event's exchange time if later (never the wall clock: a paper
 *     run and a backtest of its recording see the same times);
 *  2. paper: the simulated venue applies the event first (its book is the one orders hit, its
 *     fills, triggers and funding happen here); live: a local book per symbol follows the feed;
 *  3. mid, spread and last price are updated; the Trader sees the event; its intents are placed.
 * Entries are refused (counted) while the symbol's feed is in a gap, after SIGTERM (`stopEntries`)
 * or after the kill switch; exits and plan orders always go through.
 *
 * Kinds passed to the Trader are those a raw backtest replays (book of one channel, trade, ticker,
 * mark, funding): what the engine sees live is what it would see replaying the recording.
 */
import type {
  Intent,
  MaybeAsync,
  SignalRecord,
  StrategyContext,
  Trader,
} from "../engine/contract.ts";
import type { ContractSpec } from "../market/contracts.ts";
import type { MarketEvent } from "../market/events.ts";
import { OrderBook } from "../market/order_book.ts";
import type { Logger } from "../ops/log.ts";
import type { OrderManager } from "../oms/oms.ts";
import type { SimVenue } from "../venue/sim_venue.ts";
import type { VenueEvent } from "../venue/types.ts";
import type { Venue } from "../venue/venue.ts";

const TRADER_KINDS = new Set(["book", "trade", "ticker", "mark", "funding"]);

export interface LiveDriverOptions {
  trader: Trader;
  venue: Venue;
  /** Paper mode: the simulated venue, fed every market event before the Trader sees it. */
  sim: SimVenue | null;
  oms: OrderManager;
  contracts: readonly ContractSpec[];
  symbols: readonly string[];
  /** The one book channel given to the venue and the Trader (as a raw backtest replays one). */
  bookChannel: "books15" | "books";
  /** True while trading `symbol` is refused because its feed is in a gap. */
  inGap: (symbol: string) => boolean;
  log: Logger;
  /** Keep every recorded decision value (tests, parity); default false (only the last). */
  keepRecords?: boolean;
  /**
   * Called per event with the decision latency (ms: event handed to the Trader → its intents
   * returned) and the number of intents (placing them is not included).
   */
  onDecision?: (ms: number, intents: number) => void;
}

export interface DriverCounters {
  events: number;
  intents: number;
  blockedEntries: number;
  errors: number;
}

export class LiveDriver {
  readonly counters: DriverCounters = { events: 0, intents: 0, blockedEntries: 0, errors: 0 };
  /** Decision values recorded by the strategy (all with keepRecords, else the last per name). */
  readonly records: SignalRecord[] = [];
  readonly lastRecord = new Map<string, SignalRecord>();
  private readonly queue: MarketEvent[] = [];
  private running = false;
  private idleWaiters: (() => void)[] = [];
  private time = -Infinity;
  private readonly mids = new Map<string, number>();
  private readonly spreads = new Map<string, number>();
  private readonly lasts = new Map<string, number>();
  private readonly books = new Map<string, OrderBook>();
  private readonly specs: Map<string, ContractSpec>;
  private entriesOpen = true;
  /** Receive time (epoch ms, µs resolution) of the event being handled (tick-to-order bench). */
  currentRecvTs = NaN;
  private killed: string | null = null;
  readonly ctx: StrategyContext;
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly o: LiveDriverOptions) {
    this.specs = new Map(o.contracts.map((c) => [c.symbol, c]));
    const now = () => this.time;
    this.ctx = {
      get time() {
        return now();
      },
      symbols: o.symbols,
      contract: (s) => {
        const c = this.specs.get(s);
        if (!c) throw new Error(`no contract spec for ${s}`);
        return c;
      },
      positions: () => o.venue.positions(),
      account: () => o.venue.account(),
      mid: (s) => this.mids.get(s) ?? NaN,
      spreadBps: (s) => this.spreads.get(s) ?? NaN,
      lastPrice: (s) => this.lasts.get(s) ?? NaN,
      inGap: (s) => o.inGap(s),
      // Live venues answer in their own time: the engine waits for its market orders.
      orderInFlight: o.sim ? undefined : (s) => o.oms.marketInFlight(s),
      record: (symbol, name, value) => {
        const r = { ts: this.time, symbol, name, value };
        if (o.keepRecords) this.records.push(r);
        this.lastRecord.set(`${symbol}:${name}`, r);
      },
    };
  }

  /** Engine time (ms): the latest exchange event time seen. */
  get engineTime(): number {
    return this.time;
  }

  /** Attaches the Trader and starts receiving venue events. */
  start(): void {
    const depth = this.o.sim?.sim ??
      { depthUsdt: (s: string, side: "buy" | "sell") => this.depth(s, side) };
    this.o.trader.attach?.(depth, this.ctx);
    this.unsubscribe = this.o.venue.subscribe((ev) => this.onVenueEvent(ev));
  }

  private onVenueEvent(ev: VenueEvent): void {
    try {
      this.o.oms.onVenueEvent(ev);
      this.o.trader.onVenueEvent?.(ev);
    } catch (e) {
      this.counters.errors++;
      this.o.log.error("venue event handling failed", { type: ev.type, error: String(e) });
    }
  }

  /** Queues one market event (see module doc). */
  push(ev: MarketEvent): void {
    if (!TRADER_KINDS.has(ev.kind)) return;
    if (ev.kind === "book" && ev.channel !== this.o.bookChannel) return;
    if (!this.specs.has(ev.symbol)) return;
    this.queue.push(ev);
    if (!this.running) this.pump();
  }

  private pump(): void {
    this.running = true;
    while (this.queue.length > 0) {
      const ev = this.queue.shift()!;
      let r: void | Promise<void>;
      try {
        r = this.step(ev);
      } catch (e) {
        this.fail(e);
        continue;
      }
      if (r instanceof Promise) {
        r.catch((e) => this.fail(e)).finally(() => this.pump());
        return;
      }
    }
    this.running = false;
    for (const w of this.idleWaiters) w();
    this.idleWaiters = [];
  }

  private fail(e: unknown): void {
    this.counters.errors++;
    this.o.log.error("market event handling failed", { error: String((e as Error)?.stack ?? e) });
  }

  private step(ev: MarketEvent): void | Promise<void> {
    this.counters.events++;
    if (ev.ts > this.time) this.time = ev.ts;
    const sim = this.o.sim;
    if (sim) sim.onMarketEvent(ev);
    if (ev.kind === "book") this.onBook(ev);
    else if (ev.kind === "trade") this.lasts.set(ev.symbol, ev.price);
    this.currentRecvTs = ev.recvTs;
    const t0 = performance.now();
    const res: MaybeAsync = this.o.trader.onEvent?.(ev, this.ctx);
    if (res instanceof Promise) {
      return res.then((intents) => {
        this.o.onDecision?.(performance.now() - t0, intents?.length ?? 0);
        this.place(intents ?? undefined);
      });
    }
    this.o.onDecision?.(performance.now() - t0, res?.length ?? 0);
    this.place(res ?? undefined);
  }

  /**
   * Warm-up step (live/warmup.ts): a stored event advances the clock, the mids and the Trader,
   * but not the venue; whatever the Trader returns is dropped (the engine is in warm-up mode).
   */
  async warm(ev: MarketEvent): Promise<void> {
    if (ev.ts > this.time) this.time = ev.ts;
    if (ev.kind === "book") {
      if (ev.top) {
        this.mids.set(ev.symbol, ev.top.mid);
        this.spreads.set(ev.symbol, ev.top.spreadBps);
      }
    } else if (ev.kind === "trade") this.lasts.set(ev.symbol, ev.price);
    const r = this.o.trader.onEvent?.(ev, this.ctx);
    if (r instanceof Promise) await r;
  }

  private onBook(ev: Extract<MarketEvent, { kind: "book" }>): void {
    let bid: number, ask: number;
    const sim = this.o.sim;
    if (sim) {
      const top = sim.sim.bookTop(ev.symbol);
      if (!top) return;
      bid = top.bid;
      ask = top.ask;
    } else {
      let b = this.books.get(ev.symbol);
      if (!b) this.books.set(ev.symbol, b = new OrderBook());
      if (ev.channel === "books15" || ev.action === "snapshot") b.snapshot(ev.bids, ev.asks);
      else b.update(ev.bids, ev.asks);
      if (b.bids.count === 0 || b.asks.count === 0) return;
      bid = b.bids.price(0);
      ask = b.asks.price(0);
    }
    const mid = (bid + ask) / 2;
    if (!Number.isFinite(mid)) return;
    this.mids.set(ev.symbol, mid);
    if (bid > 0 && ask > 0) this.spreads.set(ev.symbol, (ask - bid) / mid * 1e4);
  }

  /** Visible depth (USDT) of the local book an order of `side` would take (live mode). */
  private depth(symbol: string, side: "buy" | "sell"): number {
    const b = this.books.get(symbol);
    if (!b) return 0;
    const levels = side === "buy" ? b.asks : b.bids;
    let t = 0;
    for (let i = 0; i < levels.count; i++) t += levels.price(i) * levels.size(i);
    return t;
  }

  private place(intents: Intent[] | undefined): void {
    if (intents) {
      for (const it of intents) {
        if (it.kind !== "tpsl" && !it.reduceOnly) {
          if (!this.entriesOpen || this.killed !== null) {
            this.counters.blockedEntries++;
            continue;
          }
          if (this.o.inGap(it.symbol)) {
            this.counters.blockedEntries++;
            continue;
          }
        }
        if (it.kind !== "tpsl" && it.reason === "kill_switch") this.onRiskHalt();
        this.counters.intents++;
        const p = this.o.oms.submit(it);
        if (p instanceof Promise) p.catch((e) => this.fail(e));
      }
    }
  }

  /** The risk module tripped a halt: cancel our resting orders too (the engine flattens). */
  private onRiskHalt(): void {
    if (this.killed !== null) return;
    this.killed = "risk halt";
    this.o.log.error("risk halt: cancelling open orders, flattening, no new entries");
    void this.cancelOpenOrders();
  }

  /** No new entries from now on (SIGTERM); exits and plan orders still go out. */
  stopEntries(): void {
    this.entriesOpen = false;
  }

  get killReason(): string | null {
    return this.killed;
  }

  /**
   * The kill switch (SIGUSR1, the kill file): no new entries, every open order of ours cancelled,
   * every position closed with a reduce-only market order. Idempotent per reason.
   */
  async kill(reason: string): Promise<void> {
    if (this.killed === reason) return;
    this.killed = reason;
    this.o.log.error("kill switch: cancelling open orders and flattening", { reason });
    await this.cancelOpenOrders();
    for (const p of this.o.venue.positions()) {
      if (!this.specs.has(p.symbol)) continue;
      const r = this.o.oms.submit({
        symbol: p.symbol,
        side: p.holdSide === "long" ? "sell" : "buy",
        size: p.size,
        reduceOnly: true,
        reason: "kill_switch",
      });
      if (r instanceof Promise) await r;
    }
  }

  private async cancelOpenOrders(): Promise<void> {
    for (const o of this.o.venue.openOrders()) {
      if (!this.o.oms.journal.isOurs(o.clientOid) || !this.specs.has(o.symbol)) continue;
      // The order manager re-queries a cancel that times out (never assumed done).
      const state = await this.o.oms.cancel(o.symbol, o.clientOid);
      if (state !== "cancelled" && state !== "filled") {
        this.o.log.warn("cancel not confirmed", { clientOid: o.clientOid, state });
      }
    }
  }

  /** Resolves when every queued market event has been handled. */
  drained(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Stops receiving venue events. */
  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }
}
