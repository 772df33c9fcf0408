/**
 * Time-ordered market-event sources for backtests, read from a Store.
 *
 * Two modes:
 * - `raw`: stored books / trades / tickers / marks / funding via `iterateEvents` (event_iterator.ts),
 *   exactly what the live collector produced; one book channel (see `bookChannel`). Book events
 *   carry `top: null`: the venue maintains the book and is the source of mid and spread.
 * - `candles`: 1m/15m bars plus settled funding, for candle-only databases. A bar carries no
 *   book, so the SimExchange is given a SYNTHETIC one — a slippage model, not data. At bar close
 *   T = start + interval the bar's path is replayed with the usual OHLC convention (a rising bar
 *   went open → low → high → close, a falling one open → high → low → close):
 *     1. at each extreme x (low, high, in path order): a books15 snapshot whose touched side sits
 *        on the extreme (at the low: bid₀ = low, ask₀ = low·(1 + s); at the high: ask₀ = high,
 *        bid₀ = high·(1 − s)), then a trade at x (a taker sell at the low, a taker buy at the
 *        high). Resting limit orders the bar traded strictly through fill as maker at their
 *        price. Stops (venue plan orders) triggered inside the bar are filled by the session at
 *        their trigger level moved by half the spread (SimExchange `planFill: "trigger"`), or at
 *        the gapping price when the previous price was already beyond the level;
 *     2. a books15 snapshot around the close c: bid_k = c·(1 − s/2) − k·step,
 *        ask_k = c·(1 + s/2) + k·step, s = spreadBps·1e−4, step = c·levelStepBps·1e−4, each level
 *        holding `depthPerLevel` base coin (or `depthPerLevelUsdt / c`). Mid = c (up to one ulp);
 *     3. the bar itself (kind `candle`, ignored by the venue, seen by the strategy's onBar).
 *   Market orders at the close therefore fill at about c·(1 ± s/2) plus book-walk impact beyond
 *   level 0. With no mark-price stream, the venue's mark follows the synthetic books' mid.
 * Gaps: the stored `gaps` table plus missing bars detected on the fly (candles mode) are
 * exposed as windows so the runner can refuse to trade across them.
 */
import type {
  BookEvent,
  BookLevel,
  CandleEvent,
  MarketEvent,
  TradeEvent,
} from "../market/events.ts";
import { intervalMs, iterateEvents, readGaps } from "../store/readers.ts";
import type { Store } from "../store/store.ts";

/** Parameters of the synthetic candle book (see module doc). */
export interface SyntheticBookModel {
  /** Full bid–ask spread around the close, bps. Default 2. */
  spreadBps?: number;
  /** Levels per side. Default 5. */
  levels?: number;
  /** Distance between consecutive levels, bps of close. Default 1. */
  levelStepBps?: number;
  /** Base-coin size per level. Default: depthPerLevelUsdt / close. */
  depthPerLevel?: number;
  /** USDT notional per level when depthPerLevel is not set. Default 250 000. */
  depthPerLevelUsdt?: number;
}

export interface ReplaySourceOptions {
  symbols: readonly string[];
  /** Inclusive start, epoch ms (candles mode: of the bar close time). */
  from: number;
  /** Exclusive end, epoch ms (candles mode: of the bar close time). */
  to: number;
  mode: "raw" | "candles";
  /** Candles mode: bar interval, "1m" or "15m" (any intervalMs() interval). Default "1m". */
  interval?: string;
  /** Candles mode: synthetic book model. */
  book?: SyntheticBookModel;
  /**
   * Candles mode: tick size per symbol (USDT); synthetic bids are rounded down and asks up to
   * it, as on the exchange. Symbols without an entry keep unrounded prices.
   */
  tickSizes?: Readonly<Record<string, number>>;
  /** Raw mode: order-book channel to replay (see `bookChannel`). Default "auto". */
  bookChannel?: "auto" | "books" | "books15";
  /**
   * Raw mode: `ts` (default) replays in exchange-time order; `recv` in the order the recording
   * process received the events (store/event_iterator.ts) — the order to reproduce a
   * `bitget-bot run` from the database it recorded.
   */
  order?: "ts" | "recv";
}

/** A period without trustworthy data for `symbol`, [startTs, endTs] in epoch ms. */
export interface GapWindow {
  symbol: string;
  startTs: number;
  endTs: number;
  source: "gaps_table" | "missing_bars";
}

/** Thrown on unusable replay options (message names the option and the expected value). */
export class ReplayError extends Error {
  override name = "ReplayError";
}

/**
 * A replay over a Store. `events()` yields MarketEvents in time order (one pass per call);
 * `gaps` holds the stored gap windows up front and grows with missing bars as they are met;
 * `inGap(symbol, ts)` answers whether ts lies in a known window.
 */
export class ReplaySource {
  readonly gaps: GapWindow[];
  readonly opts:
    & Required<Omit<ReplaySourceOptions, "book" | "tickSizes" | "bookChannel" | "order">>
    & {
      order: "ts" | "recv";
      bookChannel: "auto" | "books" | "books15";
      book: Required<SyntheticBookModel>;
      tickSizes: Readonly<Record<string, number>>;
    };

  /** Throws ReplayError on an empty symbol list, from ≥ to, or a non-positive book parameter. */
  constructor(private readonly store: Store, opts: ReplaySourceOptions) {
    if (opts.symbols.length === 0) throw new ReplayError("symbols: expected at least one symbol");
    if (!(opts.from < opts.to)) {
      throw new ReplayError(`range: expected from < to, got from=${opts.from} to=${opts.to}`);
    }
    const b = opts.book ?? {};
    const book: Required<SyntheticBookModel> = {
      spreadBps: b.spreadBps ?? 2,
      levels: b.levels ?? 5,
      levelStepBps: b.levelStepBps ?? 1,
      depthPerLevel: b.depthPerLevel ?? NaN,
      depthPerLevelUsdt: b.depthPerLevelUsdt ?? 250_000,
    };
    for (const k of ["spreadBps", "levelStepBps"] as const) {
      if (!(book[k] >= 0)) throw new ReplayError(`book.${k}: expected ≥ 0 bps, got ${book[k]}`);
    }
    if (!(Number.isInteger(book.levels) && book.levels >= 1)) {
      throw new ReplayError(`book.levels: expected an integer ≥ 1, got ${book.levels}`);
    }
    if (!(book.depthPerLevel > 0) && !(book.depthPerLevelUsdt > 0)) {
      throw new ReplayError("book.depthPerLevel / depthPerLevelUsdt: expected > 0");
    }
    this.opts = {
      ...opts,
      interval: opts.interval ?? "1m",
      book,
      tickSizes: opts.tickSizes ?? {},
      bookChannel: opts.bookChannel ?? "auto",
      order: opts.order ?? "ts",
    };
    intervalMs(this.opts.interval); // validates the interval (StoreError on an unknown one)
    this.gaps = [];
    for (const s of opts.symbols) {
      for (const g of readGaps(store, s, -Infinity, Infinity)) {
        if (g.endTs >= opts.from && g.startTs < opts.to) {
          this.gaps.push({ symbol: s, startTs: g.startTs, endTs: g.endTs, source: "gaps_table" });
        }
      }
    }
  }

  /** True when `ts` (ms) lies inside a known gap window of `symbol` (bounds inclusive). */
  inGap(symbol: string, ts: number): boolean {
    for (const g of this.gaps) {
      if (g.symbol === symbol && ts >= g.startTs && ts <= g.endTs) return true;
    }
    return false;
  }

  /** Yields the replay (see module doc). */
  events(): Generator<MarketEvent> {
    const { symbols, from, to } = this.opts;
    if (this.opts.mode === "raw") {
      return iterateEvents(this.store, {
        symbols,
        from,
        to,
        kinds: ["book", "trade", "ticker", "mark", "funding"],
        bookChannels: [this.bookChannel],
        // The venue keeps the book; consumers read the top from it (no second rebuild here).
        bookTops: false,
        order: this.opts.order,
      });
    }
    return this.candleEvents();
  }

  /**
   * The book channel a raw replay uses: the option, or `auto` = the top-15 snapshots (`books15`)
   * when every symbol has them in range, else full depth (`books`). Only one channel is replayed:
   * both describe the same book, and mixing them would cut the full book to 15 levels at every
   * books15 sample.
   */
  get bookChannel(): "books" | "books15" {
    if (this.#channel) return this.#channel;
    const want = this.opts.bookChannel;
    if (want !== "auto") return this.#channel = want;
    const { symbols, from, to } = this.opts;
    const has = (s: string) =>
      this.store.db.prepare(
        "SELECT 1 FROM books15 WHERE symbol = ? AND ts >= ? AND ts < ? LIMIT 1",
      ).get(s, from, to) !== undefined;
    return this.#channel = symbols.every(has) ? "books15" : "books";
  }
  #channel: "books" | "books15" | null = null;

  private *candleEvents(): Generator<MarketEvent> {
    const { symbols, from, to, interval } = this.opts;
    const w = intervalMs(interval);
    const prevStart = new Map<string, number>();
    const it = iterateEvents(this.store, {
      symbols,
      from,
      to,
      kinds: ["candle", "funding"],
      candleIntervals: [interval],
    });
    for (const ev of it) {
      if (ev.kind === "funding") {
        if (ev.type === "settled") yield ev;
        continue;
      }
      if (ev.kind !== "candle") continue;
      const prev = prevStart.get(ev.symbol);
      if (prev !== undefined && ev.ts > prev + w) {
        // The first bar after a hole is not traded either: its open follows missing data.
        this.gaps.push({
          symbol: ev.symbol,
          startTs: prev + w,
          endTs: ev.ts + w,
          source: "missing_bars",
        });
      }
      prevStart.set(ev.symbol, ev.ts);
      yield* this.synthesize(ev, ev.ts + w);
    }
  }

  /** The bar's path at its close `t` (see module doc): extremes with their books, close book, bar. */
  private *synthesize(bar: CandleEvent, t: number): Generator<MarketEvent> {
    const m = this.opts.book;
    const s = m.spreadBps * 1e-4;
    const lowFirst = bar.close >= bar.open;
    for (let i = 0; i < 2; i++) {
      const atLow = (i === 0) === lowFirst;
      const x = atLow ? bar.low : bar.high;
      yield atLow ? this.book(bar, t, x, x * (1 + s), x) : this.book(bar, t, x * (1 - s), x, x);
      yield {
        kind: "trade",
        symbol: bar.symbol,
        ts: t,
        recvTs: t,
        tradeId: `syn-${t}-${atLow ? "l" : "h"}`,
        price: x,
        size: bar.volume / 2,
        side: atLow ? "sell" : "buy",
      } satisfies TradeEvent;
    }
    const c = bar.close;
    yield this.book(bar, t, c * (1 - s / 2), c * (1 + s / 2), c);
    yield bar;
  }

  /** A books15 snapshot with best bid `bid0`, best ask `ask0`, levels stepped from `ref`. */
  private book(bar: CandleEvent, t: number, bid0: number, ask0: number, ref: number): BookEvent {
    const m = this.opts.book;
    const size = String(m.depthPerLevel > 0 ? m.depthPerLevel : m.depthPerLevelUsdt / ref);
    const step = ref * m.levelStepBps * 1e-4;
    const bids: BookLevel[] = new Array(m.levels);
    const asks: BookLevel[] = new Array(m.levels);
    const tick = this.opts.tickSizes[bar.symbol];
    if (tick > 0) {
      const dp = decimals(tick);
      for (let k = 0; k < m.levels; k++) {
        bids[k] = [(Math.floor((bid0 - k * step) / tick + 1e-9) * tick).toFixed(dp), size];
        asks[k] = [(Math.ceil((ask0 + k * step) / tick - 1e-9) * tick).toFixed(dp), size];
      }
    } else {
      for (let k = 0; k < m.levels; k++) {
        bids[k] = [String(bid0 - k * step), size];
        asks[k] = [String(ask0 + k * step), size];
      }
    }
    return {
      kind: "book",
      channel: "books15",
      symbol: bar.symbol,
      ts: t,
      recvTs: t,
      action: "snapshot",
      bids,
      asks,
      seq: null,
      checksum: null,
      top: null,
    };
  }
}

/** Decimal places of a tick such as 0.01 → 2 or 1e-5 → 5. */
function decimals(tick: number): number {
  const t = String(tick);
  if (t.includes("e-")) return Number(t.split("e-")[1]);
  const dot = t.indexOf(".");
  return dot < 0 ? 0 : t.length - dot - 1;
}
