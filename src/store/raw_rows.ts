import { levelsJson } from "../market/book_levels.ts";
/**
 * Raw-table rows of market events: the SQL and parameter order of every raw insert, shared by the
 * writer (store.ts) and by the raw-rate benchmark (bench_support.ts) so both write the same rows.
 *
 * Duplicate handling: trades, mark prices, funding rates and open interest are keyed and use
 * INSERT OR IGNORE (a re-sent row after a reconnect changes nothing; `changes` = 0 tells the
 * caller not to aggregate it). Candles upsert and only write when a value differs, so the last
 * push of a bar wins and an identical re-push is reported as unchanged.
 */
import type { BookEvent, MarketEvent } from "../market/events.ts";

/** Raw tables written from market events. */
export type RawTable =
  | "books"
  | "books15"
  | "trades"
  | "tickers"
  | "candles"
  | "mark_prices"
  | "funding_rates"
  | "open_interest"
  | "gaps";

export const RAW_TABLES: readonly RawTable[] = [
  "books",
  "books15",
  "trades",
  "tickers",
  "candles",
  "mark_prices",
  "funding_rates",
  "open_interest",
  "gaps",
];

/** Where a candle row came from (`candles.source`). */
export type CandleSource = "ws" | "rest" | "import";

/** INSERT statement per raw table; parameters in the order {@link eventRow} produces. */
export const RAW_INSERT_SQL: Readonly<Record<RawTable, string>> = {
  books: `INSERT OR IGNORE INTO books (symbol, ts, recv_ts, action, seq, checksum, bids, asks)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  books15: `INSERT INTO books15 (symbol, ts, recv_ts, seq, checksum, bids, asks)
    VALUES (?, ?, ?, ?, ?, ?, ?)`,
  trades: `INSERT OR IGNORE INTO trades (symbol, trade_id, ts, recv_ts, price, size, side)
    VALUES (?, ?, ?, ?, ?, ?, ?)`,
  tickers: `INSERT OR IGNORE INTO tickers (symbol, ts, recv_ts, last, bid, ask, bid_size, ask_size,
    mark_price, index_price, funding_rate, next_funding_time, open_interest, open_24h, high_24h,
    low_24h, base_volume_24h, quote_volume_24h)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  candles: `INSERT INTO candles (symbol, interval, start_ts, open, high, low, close, volume,
    quote_volume, updated_ts, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (symbol, interval, start_ts) DO UPDATE SET open = excluded.open,
      high = excluded.high, low = excluded.low, close = excluded.close, volume = excluded.volume,
      quote_volume = excluded.quote_volume, updated_ts = excluded.updated_ts,
      source = excluded.source
    WHERE (candles.open, candles.high, candles.low, candles.close, candles.volume,
      candles.quote_volume, candles.source) IS NOT (excluded.open, excluded.high, excluded.low,
      excluded.close, excluded.volume, excluded.quote_volume, excluded.source)`,
  mark_prices: `INSERT OR IGNORE INTO mark_prices (symbol, ts, recv_ts, mark_price, index_price,
    last) VALUES (?, ?, ?, ?, ?, ?)`,
  funding_rates: `INSERT OR IGNORE INTO funding_rates (symbol, ts, type, recv_ts, funding_rate,
    next_funding_time, interval_hours) VALUES (?, ?, ?, ?, ?, ?, ?)`,
  open_interest: `INSERT OR IGNORE INTO open_interest (symbol, ts, recv_ts, open_interest)
    VALUES (?, ?, ?, ?)`,
  gaps: `INSERT INTO gaps (symbol, channel, ts, start_ts, end_ts, reason, detail, run_id)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
};

export { levelsJson } from "../market/book_levels.ts";

/** Stored JSON text of a book event's bids and asks (pre-serialized by the producer when set). */
export function bookLevelsText(ev: BookEvent): [bids: string, asks: string] {
  const pre = ev.levelsJson;
  return pre ? [pre.bids, pre.asks] : [levelsJson(ev.bids), levelsJson(ev.asks)];
}

/** A bindable SQLite value. Non-finite numbers bind as NULL (SQLite stores NaN as NULL). */
export type SqlValue = number | string | null;

/** NaN/±Infinity → null: SQLite keeps Infinity, but "unknown" must read back as NULL. */
export function finiteOrNull(v: number | null | undefined): number | null {
  return v === null || v === undefined || !Number.isFinite(v) ? null : v;
}

/** An epoch-ms value for an INTEGER column: rounded, or null when unknown. */
export function msOrNull(v: number | null | undefined): number | null {
  return v === null || v === undefined || !Number.isFinite(v) ? null : Math.round(v);
}

/**
 * The raw row an event becomes: its table and parameters for {@link RAW_INSERT_SQL}.
 * The writer binds the same values inline (no array) on its hot path; the store tests check
 * that both produce identical tables.
 */
export function eventRow(
  ev: MarketEvent,
  candleSource: CandleSource = "ws",
  runId: number | null = null,
): { table: RawTable; params: SqlValue[] } {
  switch (ev.kind) {
    case "book":
      return ev.channel === "books"
        ? {
          table: "books",
          params: [
            ev.symbol,
            ev.ts,
            ev.recvTs,
            ev.action,
            ev.seq,
            ev.checksum,
            ...bookLevelsText(ev),
          ],
        }
        : {
          table: "books15",
          params: [
            ev.symbol,
            ev.ts,
            ev.recvTs,
            ev.seq,
            ev.checksum,
            ...bookLevelsText(ev),
          ],
        };
    case "trade":
      return {
        table: "trades",
        params: [ev.symbol, ev.tradeId, ev.ts, ev.recvTs, ev.price, ev.size, ev.side],
      };
    case "ticker":
      return {
        table: "tickers",
        params: [
          ev.symbol,
          ev.ts,
          ev.recvTs,
          finiteOrNull(ev.last),
          finiteOrNull(ev.bid),
          finiteOrNull(ev.ask),
          finiteOrNull(ev.bidSize),
          finiteOrNull(ev.askSize),
          finiteOrNull(ev.markPrice),
          finiteOrNull(ev.indexPrice),
          finiteOrNull(ev.fundingRate),
          msOrNull(ev.nextFundingTime),
          finiteOrNull(ev.openInterest),
          finiteOrNull(ev.open24h),
          finiteOrNull(ev.high24h),
          finiteOrNull(ev.low24h),
          finiteOrNull(ev.baseVolume24h),
          finiteOrNull(ev.quoteVolume24h),
        ],
      };
    case "candle":
      return {
        table: "candles",
        params: [
          ev.symbol,
          ev.interval,
          ev.ts,
          ev.open,
          ev.high,
          ev.low,
          ev.close,
          ev.volume,
          finiteOrNull(ev.quoteVolume),
          ev.recvTs,
          candleSource,
        ],
      };
    case "mark":
      return {
        table: "mark_prices",
        params: [
          ev.symbol,
          ev.ts,
          ev.recvTs,
          finiteOrNull(ev.markPrice),
          finiteOrNull(ev.indexPrice),
          finiteOrNull(ev.last),
        ],
      };
    case "funding":
      return {
        table: "funding_rates",
        params: [
          ev.symbol,
          ev.ts,
          ev.type,
          ev.recvTs,
          ev.fundingRate,
          msOrNull(ev.nextFundingTime),
          finiteOrNull(ev.intervalHours),
        ],
      };
    case "oi":
      return {
        table: "open_interest",
        params: [ev.symbol, ev.ts, ev.recvTs, ev.openInterest],
      };
    case "gap":
      return {
        table: "gaps",
        params: [
          ev.symbol,
          ev.channel,
          ev.ts,
          ev.startTs,
          ev.endTs,
          ev.reason,
          ev.detail,
          runId,
        ],
      };
  }
}
