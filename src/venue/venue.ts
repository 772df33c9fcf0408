/**
 * The venue interface: where orders go. Two implementations — the simulated exchange
 * (sim_venue.ts: paper trading and backtests) and Bitget itself (bitget_venue.ts: demo and live,
 * signed REST v2 + private WebSocket). The engine never sees which one it trades on.
 *
 * Commands return `Awaitable` results: the simulated venue answers synchronously (which keeps a
 * paper run event-for-event identical to a backtest of the same data), Bitget asynchronously.
 * An exchange refusal is a returned {@link Rejection} with Bitget's code (API.md §7); a request
 * whose outcome is not known (timeout, connection reset after sending) throws
 * {@link OutcomeUnknownError} — the caller must then ask the venue (`order`) before doing anything
 * else, never resend blindly.
 *
 * State reads (`positions`, `account`, `openOrders`, `planOrders`) are synchronous views of the
 * venue's current state: the simulated venue's own, or the Bitget venue's mirror kept from the
 * private WebSocket pushes and re-read over REST after every reconnect.
 *
 * Units: prices USDT, sizes base coin, times epoch ms UTC.
 */
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

export type Awaitable<T> = T | Promise<T>;

/** One-way (netting) or hedge (long and short legs) position mode (API.md §5.2, §5.3). */
export type PositionMode = "one_way" | "hedge";

/** What a venue answers to an accepted order: its ids (a simulated venue answers the whole order). */
export interface OrderAck {
  clientOid: string;
  /** Exchange order id; null when the exchange accepted without one (API.md §5.3 over-allocation). */
  orderId: string | null;
}

/** An accepted plan order (TP/SL, trailing stop). */
export interface PlanAck {
  clientOid: string;
  /** Exchange plan id; null on the simulated venue, which keys plans by clientOid. */
  orderId: string | null;
}

/**
 * Thrown by a venue command whose request may or may not have reached the exchange (timeout,
 * connection reset after sending). Carries no secret; `cause` holds the transport error.
 */
export class OutcomeUnknownError extends Error {
  override name = "OutcomeUnknownError";
  constructor(readonly op: string, readonly clientOid: string, message: string, cause?: unknown) {
    super(message, { cause });
  }
}

/** Account-level trading settings read from the venue (never switched silently). */
export interface VenueSettings {
  positionMode: PositionMode;
  /** Per symbol: margin mode and leverage. */
  symbols: Record<string, { marginMode: MarginMode; leverage: number }>;
}

export interface Venue {
  /** `sim` (paper, backtest) or `bitget` (demo, live). */
  readonly kind: "sim" | "bitget";
  placeOrder(req: PlaceOrderRequest): Awaitable<OrderAck | Rejection>;
  /** Cancels by clientOid. Rejection 40768 (or another not-found code) when unknown or final. */
  cancelOrder(symbol: string, clientOid: string): Awaitable<OrderAck | Rejection>;
  placeTpsl(req: PlaceTpslRequest): Awaitable<PlanAck | Rejection>;
  /** Cancels a live plan by clientOid; false when unknown or no longer live. */
  cancelPlan(symbol: string, clientOid: string): Awaitable<boolean>;
  /** The exchange's current record of an order, by clientOid; undefined when it has none. */
  order(symbol: string, clientOid: string): Awaitable<SimOrder | undefined>;
  /**
   * The exchange's executions of one order, each emitted as a fill event when not seen before
   * (recovers fills whose pushes were lost). The simulated venue has none to recover.
   */
  fillsOf?(symbol: string, orderId: string, clientOid: string): Promise<FillEvent[]>;
  /** Orders neither filled nor cancelled. */
  openOrders(): SimOrder[];
  /** Live plan orders, of one symbol or of all. */
  planOrders(symbol?: string): SimPlanOrder[];
  /** Open position legs. */
  positions(): SimPosition[];
  account(): SimAccount;
  setLeverage(symbol: string, leverage: number): Awaitable<Rejection | null>;
  setMarginMode(symbol: string, mode: MarginMode): Awaitable<Rejection | null>;
  setPositionMode(mode: PositionMode): Awaitable<Rejection | null>;
  /** Position mode and per-symbol margin mode / leverage as the venue has them now. */
  settings(symbols: readonly string[]): Awaitable<VenueSettings>;
  /**
   * Calls `listener` synchronously for every venue event, in order; returns the unsubscribe.
   * (Synchronous delivery keeps a paper run identical to a backtest.)
   */
  subscribe(listener: (ev: VenueEvent) => void): () => void;
  /** The same events as an async stream (one consumer per call; ends at `close`). */
  events(): AsyncIterable<VenueEvent>;
  /** Stops the venue's connections; ends every `events()` stream. */
  close(): Promise<void>;
}

/** True for a Rejection (a venue's refusal) rather than an acknowledgement. */
export function isRejection(x: unknown): x is Rejection {
  return typeof x === "object" && x !== null && "code" in x && "msg" in x &&
    !("clientOid" in x);
}

/**
 * Fan-out of venue events to synchronous listeners and async streams — the `subscribe` /
 * `events` half of a Venue. Streams buffer without bound (a venue's event rate is orders and
 * fills, not market data).
 */
export class VenueEventHub {
  private readonly listeners = new Set<(ev: VenueEvent) => void>();
  private readonly streams = new Set<
    { queue: VenueEvent[]; wake: (() => void) | null; closed: boolean }
  >();
  private closed = false;

  emit(ev: VenueEvent): void {
    for (const l of this.listeners) l(ev);
    for (const s of this.streams) {
      s.queue.push(ev);
      s.wake?.();
    }
  }

  subscribe(listener: (ev: VenueEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  events(): AsyncIterable<VenueEvent> {
    const s = { queue: [] as VenueEvent[], wake: null as (() => void) | null, closed: false };
    if (this.closed) s.closed = true;
    else this.streams.add(s);
    const streams = this.streams;
    return {
      [Symbol.asyncIterator]: () => ({
        async next(): Promise<IteratorResult<VenueEvent>> {
          while (s.queue.length === 0 && !s.closed) {
            await new Promise<void>((r) => (s.wake = r));
            s.wake = null;
          }
          if (s.queue.length > 0) return { value: s.queue.shift()!, done: false };
          return { value: undefined, done: true };
        },
        return(): Promise<IteratorResult<VenueEvent>> {
          s.closed = true;
          streams.delete(s);
          return Promise.resolve({ value: undefined, done: true });
        },
      }),
    };
  }

  /** Ends every stream (after the events already queued). */
  close(): void {
    this.closed = true;
    for (const s of this.streams) {
      s.closed = true;
      s.wake?.();
    }
    this.streams.clear();
  }
}
