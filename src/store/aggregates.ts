/**
 * Incremental 1 s / 1 m / 15 m aggregates (tables `agg_1s`, `agg_1m`, `agg_15m`, schema.ts).
 *
 * Events of one batch are folded into in-memory bucket deltas; `flush()` (inside the batch's
 * transaction) upserts only the touched buckets, merging each delta into the stored row:
 * sums add, high/low take max/min, open/close follow the order-independent keys
 * (ts, trade id) — smallest key opens, largest closes — and "last" values (book metrics, mark,
 * funding, open interest) follow their event ts. Every merge is associative and commutative, so
 * batches in any order, or a process restart in the middle of a bucket, give the totals a
 * recomputation over all raw rows would give (up to floating-point summation order).
 *
 * Trade ids are compared by (length, string): numerically for the decimal ids Bitget sends, and a
 * total order for any other id. SQLite row-value comparisons implement the same order in SQL.
 * Bucket = floor(exchange ts / interval) · interval; the bucket holds [bucket_ts, bucket_ts + interval).
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { BookEvent, BookTop } from "../market/events.ts";

/** Bucket widths in ms per aggregate table. */
export const AGG_INTERVALS = { agg_1s: 1_000, agg_1m: 60_000, agg_15m: 900_000 } as const;
export type AggTable = keyof typeof AGG_INTERVALS;

/** Number of buckets upserted per table by one flush. */
export interface AggFlushCounts {
  agg_1s: number;
  agg_1m: number;
  agg_15m: number;
}

/** True when trade key (ts1, id1) sorts before (ts2, id2): by ts, then id length, then id. */
export function tradeKeyBefore(ts1: number, id1: string, ts2: number, id2: string): boolean {
  if (ts1 !== ts2) return ts1 < ts2;
  if (id1.length !== id2.length) return id1.length < id2.length;
  return id1 < id2;
}

/** Rank of a book source: full depth beats top-15 within a second. */
const BOOK_RANK = { books15: 1, books: 2 } as const;

/** One bucket's delta within a batch. Unused groups stay at their "none" values. */
class Delta {
  tradeCount = 0;
  volume = 0;
  buyVolume = 0;
  sellVolume = 0;
  quoteVolume = 0;
  high = -Infinity;
  low = Infinity;
  open = 0;
  firstTs = -1;
  firstId = "";
  close = 0;
  lastTs = -1;
  lastId = "";
  bookRank = 0;
  bookTs = -1;
  bookSeq = -1;
  top: BookTop | null = null;
  markTs = -1;
  mark: number | null = null;
  index: number | null = null;
  fundingTs = -1;
  funding = 0;
  oiTs = -1;
  oi = 0;

  trade(ts: number, id: string, price: number, size: number, buy: boolean): void {
    this.tradeCount++;
    this.volume += size;
    if (buy) this.buyVolume += size;
    else this.sellVolume += size;
    this.quoteVolume += price * size;
    if (price > this.high) this.high = price;
    if (price < this.low) this.low = price;
    if (this.firstTs < 0 || tradeKeyBefore(ts, id, this.firstTs, this.firstId)) {
      this.firstTs = ts;
      this.firstId = id;
      this.open = price;
    }
    if (this.lastTs < 0 || tradeKeyBefore(this.lastTs, this.lastId, ts, id)) {
      this.lastTs = ts;
      this.lastId = id;
      this.close = price;
    }
  }

  /** Keeps the book event with the largest (rank, ts, seq); ties go to the later event. */
  book(rank: number, ts: number, seq: number, top: BookTop): void {
    if (
      rank > this.bookRank ||
      (rank === this.bookRank && (ts > this.bookTs || (ts === this.bookTs && seq >= this.bookSeq)))
    ) {
      this.bookRank = rank;
      this.bookTs = ts;
      this.bookSeq = seq;
      this.top = top;
    }
  }
}

const TRADE_COLS = [
  "trade_count",
  "volume",
  "buy_volume",
  "sell_volume",
  "quote_volume",
  "vwap",
  "open",
  "high",
  "low",
  "close",
  "first_ts",
  "first_id",
  "last_ts",
  "last_id",
];
const BOOK_COLS = [
  "book_src",
  "book_ts",
  "book_seq",
  "best_bid",
  "best_ask",
  "best_bid_size",
  "best_ask_size",
  "mid",
  "spread_bps",
  "imbalance1",
  "imbalance5",
  "imbalance15",
  "depth5bps",
  "depth10bps",
];
const MARKET_COLS = [
  "mark_price",
  "index_price",
  "mark_ts",
  "funding_rate",
  "funding_ts",
  "open_interest",
  "oi_ts",
];

/** SET clauses merging `excluded` trade stats into table `t` (see module doc). */
function tradeMerge(t: string): string[] {
  const key = (r: string, p: string) => `(${r}.${p}_ts, length(${r}.${p}_id), ${r}.${p}_id)`;
  const firstNewer = `excluded.first_ts IS NOT NULL AND (${t}.first_ts IS NULL OR ` +
    `${key("excluded", "first")} < ${key(t, "first")})`;
  const lastNewer = `excluded.last_ts IS NOT NULL AND (${t}.last_ts IS NULL OR ` +
    `${key("excluded", "last")} > ${key(t, "last")})`;
  const pick = (cond: string, c: string) =>
    `${c} = CASE WHEN ${cond} THEN excluded.${c} ELSE ${t}.${c} END`;
  return [
    ...["trade_count", "volume", "buy_volume", "sell_volume", "quote_volume"].map((c) =>
      `${c} = ${t}.${c} + excluded.${c}`
    ),
    `vwap = CASE WHEN ${t}.volume + excluded.volume > 0 THEN ` +
    `(${t}.quote_volume + excluded.quote_volume) / (${t}.volume + excluded.volume) END`,
    // coalesce both ways: SQLite's scalar max()/min() return NULL if any argument is NULL.
    `high = max(coalesce(${t}.high, excluded.high), coalesce(excluded.high, ${t}.high))`,
    `low = min(coalesce(${t}.low, excluded.low), coalesce(excluded.low, ${t}.low))`,
    ...["open", "first_ts", "first_id"].map((c) => pick(firstNewer, c)),
    ...["close", "last_ts", "last_id"].map((c) => pick(lastNewer, c)),
  ];
}

function bookMerge(t: string): string[] {
  const key = (r: string) => `(${r}.book_src = 'books', ${r}.book_ts, coalesce(${r}.book_seq, -1))`;
  const newer = `excluded.book_ts IS NOT NULL AND (${t}.book_ts IS NULL OR ` +
    `${key("excluded")} >= ${key(t)})`;
  return BOOK_COLS.map((c) => `${c} = CASE WHEN ${newer} THEN excluded.${c} ELSE ${t}.${c} END`);
}

function marketMerge(t: string): string[] {
  const newer = (tsCol: string) =>
    `excluded.${tsCol} IS NOT NULL AND (${t}.${tsCol} IS NULL OR excluded.${tsCol} >= ${t}.${tsCol})`;
  const group = (tsCol: string, cols: string[]) =>
    [...cols, tsCol].map((c) =>
      `${c} = CASE WHEN ${newer(tsCol)} THEN excluded.${c} ELSE ${t}.${c} END`
    );
  return [
    ...group("mark_ts", ["mark_price", "index_price"]),
    ...group("funding_ts", ["funding_rate"]),
    ...group("oi_ts", ["open_interest"]),
  ];
}

function upsertSql(t: AggTable): string {
  const extra = t === "agg_1s" ? BOOK_COLS : MARKET_COLS;
  const cols = ["symbol", "bucket_ts", ...TRADE_COLS, ...extra];
  const set = [...tradeMerge(t), ...(t === "agg_1s" ? bookMerge(t) : marketMerge(t))];
  return `INSERT INTO ${t} (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")})
    ON CONFLICT (symbol, bucket_ts) DO UPDATE SET ${set.join(",\n      ")}`;
}

type Param = number | string | null;

function tradeParams(d: Delta, out: Param[]): void {
  const has = d.tradeCount > 0;
  out.push(
    d.tradeCount,
    d.volume,
    d.buyVolume,
    d.sellVolume,
    d.quoteVolume,
    d.volume > 0 ? d.quoteVolume / d.volume : null,
    has ? d.open : null,
    has ? d.high : null,
    has ? d.low : null,
    has ? d.close : null,
    has ? d.firstTs : null,
    has ? d.firstId : null,
    has ? d.lastTs : null,
    has ? d.lastId : null,
  );
}

function bookParams(d: Delta, out: Param[]): void {
  const t = d.top;
  if (t === null) {
    for (let i = 0; i < BOOK_COLS.length; i++) out.push(null);
    return;
  }
  out.push(
    d.bookRank === BOOK_RANK.books ? "books" : "books15",
    d.bookTs,
    d.bookSeq < 0 ? null : d.bookSeq,
    t.bestBid,
    t.bestAsk,
    t.bestBidSize,
    t.bestAskSize,
    t.mid,
    t.spreadBps,
    t.imbalance1,
    t.imbalance5,
    t.imbalance15,
    t.depth5bps,
    t.depth10bps,
  );
}

function marketParams(d: Delta, out: Param[]): void {
  const m = d.markTs >= 0;
  out.push(
    m ? d.mark : null,
    m ? d.index : null,
    m ? d.markTs : null,
    d.fundingTs >= 0 ? d.funding : null,
    d.fundingTs >= 0 ? d.fundingTs : null,
    d.oiTs >= 0 ? d.oi : null,
    d.oiTs >= 0 ? d.oiTs : null,
  );
}

/** Deltas of one symbol per table; the last-used bucket is cached (events arrive in ts order). */
class SymbolDeltas {
  readonly maps = [new Map<number, Delta>(), new Map<number, Delta>(), new Map<number, Delta>()];
  readonly lastBucket = [NaN, NaN, NaN];
  readonly lastDelta: (Delta | null)[] = [null, null, null];

  /** Delta for table index `i` (0 = 1 s, 1 = 1 m, 2 = 15 m) and event time `ts`. */
  at(i: number, ts: number): Delta {
    const w = WIDTHS[i];
    const b = Math.floor(ts / w) * w;
    if (b === this.lastBucket[i]) return this.lastDelta[i]!;
    const m = this.maps[i];
    let d = m.get(b);
    if (d === undefined) {
      d = new Delta();
      m.set(b, d);
    }
    this.lastBucket[i] = b;
    this.lastDelta[i] = d;
    return d;
  }
}

const TABLES: readonly AggTable[] = ["agg_1s", "agg_1m", "agg_15m"];
const WIDTHS = TABLES.map((t) => AGG_INTERVALS[t]);

/**
 * Folds events into bucket deltas and upserts them. Not thread-safe; one per connection.
 * Callers feed only rows that were actually inserted (a duplicate trade must not be counted).
 */
export class Aggregator {
  private readonly upserts: StatementSync[];
  private readonly symbols = new Map<string, SymbolDeltas>();
  private readonly params: Param[] = [];

  constructor(db: DatabaseSync) {
    this.upserts = TABLES.map((t) => db.prepare(upsertSql(t)));
  }

  private sym(symbol: string): SymbolDeltas {
    let s = this.symbols.get(symbol);
    if (s === undefined) {
      s = new SymbolDeltas();
      this.symbols.set(symbol, s);
    }
    return s;
  }

  /** A newly stored trade: price USDT, size base coin, `buy` = taker bought. */
  trade(symbol: string, ts: number, id: string, price: number, size: number, buy: boolean): void {
    const s = this.sym(symbol);
    s.at(0, ts).trade(ts, id, price, size, buy);
    s.at(1, ts).trade(ts, id, price, size, buy);
    s.at(2, ts).trade(ts, id, price, size, buy);
  }

  /** A book event with its top-of-book summary (ignored when `top` is null): agg_1s only. */
  book(ev: BookEvent): void {
    if (ev.top === null) return;
    this.sym(ev.symbol).at(0, ev.ts).book(BOOK_RANK[ev.channel], ev.ts, ev.seq ?? -1, ev.top);
  }

  /** Mark and index price (USDT) observed at `ts` (ticker or symbol-price): 1 m and 15 m. */
  mark(symbol: string, ts: number, mark: number, index: number): void {
    if (!Number.isFinite(mark)) return;
    const s = this.sym(symbol);
    for (let i = 1; i < 3; i++) {
      const d = s.at(i, ts);
      if (ts >= d.markTs) {
        d.markTs = ts;
        d.mark = mark;
        d.index = Number.isFinite(index) ? index : null;
      }
    }
  }

  /** Funding rate (ratio) observed or settled at `ts`: 1 m and 15 m. */
  funding(symbol: string, ts: number, rate: number): void {
    if (!Number.isFinite(rate)) return;
    const s = this.sym(symbol);
    for (let i = 1; i < 3; i++) {
      const d = s.at(i, ts);
      if (ts >= d.fundingTs) {
        d.fundingTs = ts;
        d.funding = rate;
      }
    }
  }

  /** Open interest (base coin) at `ts`: 1 m and 15 m. */
  openInterest(symbol: string, ts: number, oi: number): void {
    if (!Number.isFinite(oi)) return;
    const s = this.sym(symbol);
    for (let i = 1; i < 3; i++) {
      const d = s.at(i, ts);
      if (ts >= d.oiTs) {
        d.oiTs = ts;
        d.oi = oi;
      }
    }
  }

  /** Drops pending deltas (the surrounding transaction was rolled back). */
  discard(): void {
    this.symbols.clear();
  }

  /**
   * Upserts every touched bucket and clears the deltas. Must run inside the caller's
   * transaction, after the raw rows of the same events, so both commit or neither does.
   */
  flush(): AggFlushCounts {
    const counts: AggFlushCounts = { agg_1s: 0, agg_1m: 0, agg_15m: 0 };
    const p = this.params;
    for (const [symbol, s] of this.symbols) {
      for (let i = 0; i < 3; i++) {
        const stmt = this.upserts[i];
        for (const [bucket, d] of s.maps[i]) {
          p.length = 0;
          p.push(symbol, bucket);
          tradeParams(d, p);
          if (i === 0) bookParams(d, p);
          else marketParams(d, p);
          stmt.run(...p);
        }
        counts[TABLES[i]] += s.maps[i].size;
      }
    }
    this.symbols.clear();
    return counts;
  }
}

/**
 * Statement that stores pre-aggregated 1 s trade stats (CSV import) into agg_1s, only where the
 * bucket holds no trades yet, so a re-import or an overlap with collected trades adds nothing.
 * Parameters: symbol, bucket_ts, trade_count, volume, buy_volume, sell_volume, quote_volume,
 * vwap, close. `changes` = 1 when stored.
 */
export function prepareTradeSummary1s(db: DatabaseSync): StatementSync {
  return db.prepare(
    `INSERT INTO agg_1s (symbol, bucket_ts, trade_count, volume, buy_volume, sell_volume,
       quote_volume, vwap, close) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (symbol, bucket_ts) DO UPDATE SET
       trade_count = excluded.trade_count, volume = excluded.volume,
       buy_volume = excluded.buy_volume, sell_volume = excluded.sell_volume,
       quote_volume = excluded.quote_volume, vwap = excluded.vwap, close = excluded.close
     WHERE agg_1s.trade_count = 0 AND agg_1s.close IS NULL AND excluded.trade_count > 0`,
  );
}
