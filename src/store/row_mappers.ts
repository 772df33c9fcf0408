/**
 * Row → event mappers and the per-table time-range queries shared by the readers and the event
 * iterator. Ranges are half-open `[from, to)` in epoch ms; NULL numbers read back as NaN in event
 * fields (the events' "unknown") and as null in row types.
 */
import type {
  BookLevel,
  CandleEvent,
  FundingEvent,
  GapEvent,
  MarkPriceEvent,
  OpenInterestEvent,
  TickerEvent,
  TradeEvent,
} from "../market/events.ts";
import type { CandleSource } from "./raw_rows.ts";
import { StoreError } from "./errors.ts";

export type Row = Record<string, unknown>;

const n = (v: unknown): number => (v === null || v === undefined ? NaN : Number(v));
const nOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** A stored book frame (`books` or `books15`); `id` = insertion order. `top` is not stored. */
export interface BookRow {
  id: number;
  channel: "books" | "books15";
  symbol: string;
  ts: number;
  recvTs: number;
  action: "snapshot" | "update";
  seq: number | null;
  checksum: number | null;
  bids: BookLevel[];
  asks: BookLevel[];
}

export interface CandleRow extends CandleEvent {
  source: CandleSource;
  updatedTs: number;
}

/** One aggregate bucket; book columns only on agg_1s, market columns only on 1m/15m. */
export interface AggRow {
  symbol: string;
  bucketTs: number;
  tradeCount: number;
  volume: number;
  buyVolume: number;
  sellVolume: number;
  quoteVolume: number;
  vwap: number | null;
  open: number | null;
  high: number | null;
  low: number | null;
  close: number | null;
  firstTs: number | null;
  firstId: string | null;
  lastTs: number | null;
  lastId: string | null;
  bookSrc?: "books" | "books15" | null;
  bookTs?: number | null;
  bookSeq?: number | null;
  bestBid?: number | null;
  bestAsk?: number | null;
  bestBidSize?: number | null;
  bestAskSize?: number | null;
  mid?: number | null;
  spreadBps?: number | null;
  imbalance1?: number | null;
  imbalance5?: number | null;
  imbalance15?: number | null;
  depth5bps?: number | null;
  depth10bps?: number | null;
  markPrice?: number | null;
  indexPrice?: number | null;
  markTs?: number | null;
  fundingRate?: number | null;
  fundingTs?: number | null;
  openInterest?: number | null;
  oiTs?: number | null;
}

export interface GapRow extends GapEvent {
  id: number;
  runId: number | null;
}

export function toBook(r: Row, channel: "books" | "books15"): BookRow {
  return {
    id: Number(r.id),
    channel,
    symbol: String(r.symbol),
    ts: Number(r.ts),
    recvTs: Number(r.recv_ts),
    action: channel === "books" ? r.action as "snapshot" | "update" : "snapshot",
    seq: nOrNull(r.seq),
    checksum: nOrNull(r.checksum),
    bids: JSON.parse(String(r.bids)),
    asks: JSON.parse(String(r.asks)),
  };
}

export function toTrade(r: Row): TradeEvent {
  return {
    kind: "trade",
    symbol: String(r.symbol),
    ts: Number(r.ts),
    recvTs: Number(r.recv_ts),
    tradeId: String(r.trade_id),
    price: Number(r.price),
    size: Number(r.size),
    side: r.side as "buy" | "sell",
  };
}

export function toTicker(r: Row): TickerEvent {
  return {
    kind: "ticker",
    symbol: String(r.symbol),
    ts: Number(r.ts),
    recvTs: Number(r.recv_ts),
    last: n(r.last),
    bid: n(r.bid),
    ask: n(r.ask),
    bidSize: n(r.bid_size),
    askSize: n(r.ask_size),
    markPrice: n(r.mark_price),
    indexPrice: n(r.index_price),
    fundingRate: n(r.funding_rate),
    nextFundingTime: n(r.next_funding_time),
    openInterest: n(r.open_interest),
    open24h: n(r.open_24h),
    high24h: n(r.high_24h),
    low24h: n(r.low_24h),
    baseVolume24h: n(r.base_volume_24h),
    quoteVolume24h: n(r.quote_volume_24h),
  };
}

export function toCandle(r: Row): CandleRow {
  return {
    kind: "candle",
    symbol: String(r.symbol),
    ts: Number(r.start_ts),
    recvTs: Number(r.updated_ts),
    interval: String(r.interval),
    open: Number(r.open),
    high: Number(r.high),
    low: Number(r.low),
    close: Number(r.close),
    volume: Number(r.volume),
    quoteVolume: n(r.quote_volume),
    source: r.source as CandleSource,
    updatedTs: Number(r.updated_ts),
  };
}

export function toMark(r: Row): MarkPriceEvent {
  return {
    kind: "mark",
    symbol: String(r.symbol),
    ts: Number(r.ts),
    recvTs: Number(r.recv_ts),
    markPrice: n(r.mark_price),
    indexPrice: n(r.index_price),
    last: n(r.last),
  };
}

export function toFunding(r: Row): FundingEvent {
  return {
    kind: "funding",
    symbol: String(r.symbol),
    ts: Number(r.ts),
    recvTs: Number(r.recv_ts),
    fundingRate: Number(r.funding_rate),
    nextFundingTime: nOrNull(r.next_funding_time),
    intervalHours: nOrNull(r.interval_hours),
    type: r.type as "current" | "settled",
  };
}

export function toOi(r: Row): OpenInterestEvent {
  return {
    kind: "oi",
    symbol: String(r.symbol),
    ts: Number(r.ts),
    recvTs: Number(r.recv_ts),
    openInterest: Number(r.open_interest),
  };
}

export function toGap(r: Row): GapRow {
  return {
    kind: "gap",
    id: Number(r.id),
    symbol: String(r.symbol),
    channel: r.channel as GapEvent["channel"],
    ts: Number(r.ts),
    recvTs: Number(r.ts),
    startTs: Number(r.start_ts),
    endTs: Number(r.end_ts),
    reason: r.reason as GapEvent["reason"],
    detail: String(r.detail),
    runId: nOrNull(r.run_id),
  };
}

export function toAgg(r: Row): AggRow {
  const out: Record<string, unknown> = {};
  for (const k in r) {
    const camel = k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    out[camel] = r[k];
  }
  return out as unknown as AggRow;
}

/** Per-table reading recipe: SQL over (symbol, from, to) in time order, and the row mapper. */
export const SOURCES = {
  books: {
    sql: `SELECT * FROM books WHERE symbol = ? AND ts >= ? AND ts < ? ORDER BY ts, recv_ts, id`,
    map: (r: Row) => toBook(r, "books"),
  },
  books15: {
    sql: `SELECT * FROM books15 WHERE symbol = ? AND ts >= ? AND ts < ? ORDER BY ts, recv_ts, id`,
    map: (r: Row) => toBook(r, "books15"),
  },
  trades: {
    sql: `SELECT * FROM trades WHERE symbol = ? AND ts >= ? AND ts < ?
          ORDER BY ts, recv_ts, length(trade_id), trade_id`,
    map: toTrade,
  },
  tickers: {
    sql: `SELECT * FROM tickers WHERE symbol = ? AND ts >= ? AND ts < ? ORDER BY ts, recv_ts, id`,
    map: toTicker,
  },
  mark_prices: {
    sql: `SELECT * FROM mark_prices WHERE symbol = ? AND ts >= ? AND ts < ? ORDER BY ts`,
    map: toMark,
  },
  funding_rates: {
    sql: `SELECT * FROM funding_rates WHERE symbol = ? AND ts >= ? AND ts < ?
          ORDER BY ts, recv_ts, type`,
    map: toFunding,
  },
  open_interest: {
    sql: `SELECT * FROM open_interest WHERE symbol = ? AND ts >= ? AND ts < ? ORDER BY ts`,
    map: toOi,
  },
  gaps: {
    sql: `SELECT * FROM gaps WHERE symbol = ? AND ts >= ? AND ts < ? ORDER BY ts, id`,
    map: toGap,
  },
} as const;

/** Bar length in ms of a candle interval: `1m`, `15m`, `1H`/`1h`, `4H`, `1D`/`1d`, `1W`. */
export function intervalMs(interval: string): number {
  const m = /^(\d+)(s|m|min|h|H|d|D|w|W)$/.exec(interval);
  if (!m) throw new StoreError(`unknown candle interval "${interval}"`);
  const unit = m[2].toLowerCase();
  const u = unit === "s"
    ? 1e3
    : unit === "m" || unit === "min"
    ? 60e3
    : unit === "h"
    ? 3600e3
    : unit === "d"
    ? 86400e3
    : 7 * 86400e3;
  return Number(m[1]) * u;
}
