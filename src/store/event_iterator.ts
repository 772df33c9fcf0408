/**
 * Time-ordered replay of stored events (backtest, training): a k-way merge over one
 * index-ordered cursor per (table, symbol), so memory does not grow with the range.
 */
import type { StatementSync } from "node:sqlite";
import type { BookEvent, BookLevel, MarketEvent } from "../market/events.ts";
import { bookTop, OrderBook } from "../market/order_book.ts";
import {
  intervalMs,
  type Row,
  SOURCES,
  toBook,
  toCandle,
  toFunding,
  toGap,
  toMark,
  toOi,
  toTicker,
  toTrade,
} from "./row_mappers.ts";
import type { Store } from "./store.ts";

/** Event kinds the iterator can replay; `book` covers both book channels. */
export type ReplayKind = MarketEvent["kind"];

export interface IterateOptions {
  symbols: readonly string[];
  /** Inclusive start, epoch ms. */
  from: number;
  /** Exclusive end, epoch ms. */
  to: number;
  /** Kinds to replay; default all but `candle` and `gap`. */
  kinds?: readonly ReplayKind[];
  /** Book channels to replay; default both. */
  bookChannels?: readonly ("books" | "books15")[];
  /**
   * Recompute `top` for book events (default true). A consumer that maintains its own book (the
   * simulated exchange) passes false: `top` is then null and no book is rebuilt here.
   */
  bookTops?: boolean;
  /** Candle intervals when `candle` is replayed; default ["1m"]. */
  candleIntervals?: readonly string[];
  /**
   * `ts` (default): exchange time, then receive time. `recv`: local receive time first — the
   * order a live process met the events in, which is what a replay must follow to reproduce the
   * decisions of the run that recorded them (the daemon stamps every frame with its own µs
   * receive time). The range [from, to) still bounds the exchange time.
   */
  order?: "ts" | "recv";
}

interface Cursor {
  it: Iterator<unknown>;
  map: (r: Row) => MarketEvent;
  /** Ordering time (candles: bar close) and tie-breakers of the current head. */
  key: number;
  recv: number;
  rank: number;
  head: MarketEvent;
}

/** Rank for events with equal (time, recv time): books first so a trade sees the book it hit. */
const RANK: Record<string, number> = {
  book: 0,
  trade: 1,
  ticker: 2,
  mark: 3,
  funding: 4,
  oi: 5,
  candle: 6,
  gap: 7,
};

function less(a: Cursor, b: Cursor): boolean {
  if (a.key !== b.key) return a.key < b.key;
  if (a.recv !== b.recv) return a.recv < b.recv;
  return a.rank < b.rank;
}

/**
 * Yields stored events of `symbols` in [from, to) in time order: by exchange ts (candles at
 * bar close, start + interval, so a bar is never seen before it ended), then local receive
 * time, then kind. Books come back with `top` recomputed (bookTop / OrderBook): books15 from
 * their levels; full-depth `books` from the book rebuilt from the first snapshot in range
 * (`top` is null for updates before it). A k-way merge over one index-ordered cursor per
 * (table, symbol); memory does not grow with the range.
 */
export function* iterateEvents(store: Store, opts: IterateOptions): Generator<MarketEvent> {
  const kinds = new Set(opts.kinds ?? ["book", "trade", "ticker", "mark", "funding", "oi"]);
  const channels = new Set(opts.bookChannels ?? ["books", "books15"]);
  const tops = opts.bookTops !== false;
  const byRecv = opts.order === "recv";
  const cursors: Cursor[] = [];
  const books = new Map<string, { book: OrderBook; ready: boolean }>();
  const add = (stmt: StatementSync, params: (string | number)[], map: (r: Row) => MarketEvent) => {
    cursors.push({ it: stmt.iterate(...params), map, key: 0, recv: 0, rank: 0, head: null! });
  };
  for (const symbol of opts.symbols) {
    const p = [symbol, opts.from, opts.to];
    // Receive order: the same statements sorted by receive time first (ties keep their order).
    const prep = (sql: string) =>
      store.db.prepare(byRecv ? sql.replace(/ORDER BY ts\b/, "ORDER BY recv_ts, ts") : sql);
    if (kinds.has("book") && channels.has("books")) {
      const state = { book: new OrderBook(), ready: false };
      books.set(symbol, state);
      add(prep(SOURCES.books.sql), p, (r) => {
        const b = toBook(r, "books");
        if (!tops) return { kind: "book", ...b, top: null };
        if (b.action === "snapshot") {
          state.book.snapshot(b.bids, b.asks);
          state.ready = true;
        } else if (state.ready) state.book.update(b.bids, b.asks);
        return { kind: "book", ...b, top: state.ready ? state.book.summary() : null };
      });
    }
    if (kinds.has("book") && channels.has("books15")) {
      add(prep(SOURCES.books15.sql), p, (r) => {
        const b = toBook(r, "books15");
        if (!tops) return { kind: "book", ...b, top: null } as BookEvent;
        const num = (ls: BookLevel[], i: 0 | 1) => ls.map((l) => Number(l[i]));
        const top = bookTop(num(b.bids, 0), num(b.bids, 1), num(b.asks, 0), num(b.asks, 1));
        return { kind: "book", ...b, top } as BookEvent;
      });
    }
    if (kinds.has("trade")) add(prep(SOURCES.trades.sql), p, toTrade);
    if (kinds.has("ticker")) add(prep(SOURCES.tickers.sql), p, toTicker);
    if (kinds.has("mark")) add(prep(SOURCES.mark_prices.sql), p, toMark);
    if (kinds.has("funding")) add(prep(SOURCES.funding_rates.sql), p, toFunding);
    if (kinds.has("oi")) add(prep(SOURCES.open_interest.sql), p, toOi);
    // Gaps carry no receive time: they keep exchange-time order in either mode.
    if (kinds.has("gap")) add(store.db.prepare(SOURCES.gaps.sql), p, toGap);
    if (kinds.has("candle")) {
      for (const iv of opts.candleIntervals ?? ["1m"]) {
        const w = intervalMs(iv);
        add(
          prep(`SELECT * FROM candles WHERE symbol = ? AND interval = ? AND start_ts >= ?
                AND start_ts < ? ORDER BY start_ts`),
          [symbol, iv, opts.from - w, opts.to - w],
          toCandle,
        );
      }
    }
  }
  // Binary min-heap of cursors by their head.
  const heap: Cursor[] = [];
  const advance = (c: Cursor): boolean => {
    const r = c.it.next();
    if (r.done) return false;
    const ev = c.map(r.value as Row);
    c.head = ev;
    const t = ev.kind === "candle" ? ev.ts + intervalMs(ev.interval) : ev.ts;
    c.key = byRecv ? ev.recvTs : t;
    c.recv = byRecv ? t : ev.recvTs;
    c.rank = RANK[ev.kind];
    return true;
  };
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && less(heap[l], heap[m])) m = l;
      if (r < heap.length && less(heap[r], heap[m])) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  };
  try {
    for (const c of cursors) if (advance(c)) heap.push(c);
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(i);
    while (heap.length > 0) {
      const c = heap[0];
      yield c.head;
      if (advance(c)) siftDown(0);
      else {
        const last = heap.pop()!;
        if (heap.length > 0) {
          heap[0] = last;
          siftDown(0);
        }
      }
    }
  } finally {
    for (const c of cursors) c.it.return?.();
  }
}
