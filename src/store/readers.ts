/**
 * Typed time-range readers over the store. Ranges are half-open `[from, to)` in epoch ms on the
 * column the table is keyed by in time (`ts`, `start_ts` for candles, `bucket_ts` for
 * aggregates). Rows come back as the normalized event types (events.ts) where one exists, so a
 * replay feeds the chain exactly what the live source would have produced. The time-ordered
 * replay iterator lives in event_iterator.ts and is re-exported here.
 */
import type { ContractSpec } from "../market/contracts.ts";
import type {
  FundingEvent,
  MarkPriceEvent,
  OpenInterestEvent,
  TickerEvent,
  TradeEvent,
} from "../market/events.ts";
import type { AggTable } from "./aggregates.ts";
import { StoreError } from "./errors.ts";
import {
  type AggRow,
  type BookRow,
  type CandleRow,
  type GapRow,
  type Row,
  SOURCES,
  toAgg,
  toCandle,
  toGap,
} from "./row_mappers.ts";
import type { Store } from "./store.ts";

export type { AggRow, BookRow, CandleRow, GapRow } from "./row_mappers.ts";
export { intervalMs } from "./row_mappers.ts";
export { iterateEvents, type IterateOptions, type ReplayKind } from "./event_iterator.ts";

function all<T>(store: Store, sql: string, map: (r: Row) => T, ...params: (string | number)[]) {
  return (store.db.prepare(sql).all(...params) as Row[]).map(map);
}

/** Full-depth frames of `symbol` with ts in [from, to), in arrival order. */
export function readBooks(store: Store, symbol: string, from: number, to: number): BookRow[] {
  return all(store, SOURCES.books.sql, SOURCES.books.map, symbol, from, to);
}

/** Top-15 frames of `symbol` with ts in [from, to). */
export function readBooks15(store: Store, symbol: string, from: number, to: number): BookRow[] {
  return all(store, SOURCES.books15.sql, SOURCES.books15.map, symbol, from, to);
}

/** Trades ordered by (ts, trade id). */
export function readTrades(store: Store, symbol: string, from: number, to: number): TradeEvent[] {
  return all(store, SOURCES.trades.sql, SOURCES.trades.map, symbol, from, to);
}

export function readTickers(store: Store, symbol: string, from: number, to: number): TickerEvent[] {
  return all(store, SOURCES.tickers.sql, SOURCES.tickers.map, symbol, from, to);
}

export function readMarkPrices(
  store: Store,
  symbol: string,
  from: number,
  to: number,
): MarkPriceEvent[] {
  return all(store, SOURCES.mark_prices.sql, SOURCES.mark_prices.map, symbol, from, to);
}

export function readFundingRates(
  store: Store,
  symbol: string,
  from: number,
  to: number,
): FundingEvent[] {
  return all(store, SOURCES.funding_rates.sql, SOURCES.funding_rates.map, symbol, from, to);
}

export function readOpenInterest(
  store: Store,
  symbol: string,
  from: number,
  to: number,
): OpenInterestEvent[] {
  return all(store, SOURCES.open_interest.sql, SOURCES.open_interest.map, symbol, from, to);
}

/** Bars of `interval` ("1m", "15m", …) with start time in [from, to). */
export function readCandles(
  store: Store,
  symbol: string,
  interval: string,
  from: number,
  to: number,
): CandleRow[] {
  return all(
    store,
    `SELECT * FROM candles WHERE symbol = ? AND interval = ? AND start_ts >= ? AND start_ts < ?
     ORDER BY start_ts`,
    toCandle,
    symbol,
    interval,
    from,
    to,
  );
}

/** Gaps of `symbol` (all symbols when null) whose detection ts is in [from, to). */
export function readGaps(store: Store, symbol: string | null, from: number, to: number): GapRow[] {
  if (symbol !== null) return all(store, SOURCES.gaps.sql, toGap, symbol, from, to);
  return all(store, `SELECT * FROM gaps WHERE ts >= ? AND ts < ? ORDER BY ts, id`, toGap, from, to);
}

/** Aggregate buckets with bucket_ts in [from, to). */
export function readAgg(
  store: Store,
  table: AggTable,
  symbol: string,
  from: number,
  to: number,
): AggRow[] {
  if (!["agg_1s", "agg_1m", "agg_15m"].includes(table)) {
    throw new StoreError(`unknown aggregate table ${table}`);
  }
  return all(
    store,
    `SELECT * FROM ${table} WHERE symbol = ? AND bucket_ts >= ? AND bucket_ts < ?
     ORDER BY bucket_ts`,
    toAgg,
    symbol,
    from,
    to,
  );
}

/** Stored contract specs (API.md §4.1), by symbol; `raw` = the exchange's entry, if stored. */
export function readContracts(
  store: Store,
): (ContractSpec & { raw: Record<string, unknown> | null; updatedTs: number })[] {
  return (store.db.prepare("SELECT * FROM contracts ORDER BY symbol").all() as Row[]).map((r) => ({
    symbol: String(r.symbol),
    baseCoin: String(r.base_coin),
    quoteCoin: String(r.quote_coin),
    pricePlace: Number(r.price_place),
    priceEndStep: Number(r.price_end_step),
    tickSize: Number(r.tick_size),
    volumePlace: Number(r.volume_place),
    lotSize: Number(r.lot_size),
    minTradeNum: Number(r.min_trade_num),
    minTradeUSDT: Number(r.min_trade_usdt),
    makerFeeRate: Number(r.maker_fee_rate),
    takerFeeRate: Number(r.taker_fee_rate),
    minLever: Number(r.min_lever),
    maxLever: Number(r.max_lever),
    fundIntervalHours: Number(r.fund_interval_hours),
    status: String(r.status),
    maxMarketOrderQty: r.max_market_order_qty === null ? Infinity : Number(r.max_market_order_qty),
    maxOrderQty: r.max_order_qty === null ? Infinity : Number(r.max_order_qty),
    raw: r.raw === null ? null : JSON.parse(String(r.raw)),
    updatedTs: Number(r.updated_ts),
  }));
}
