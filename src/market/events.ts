/**
 * Normalized market events: the only shape of market data downstream of the Bitget adapter.
 *
 * Every event carries `symbol` (e.g. `BTCUSDT`), `ts` (exchange time, epoch ms UTC) and `recvTs`
 * (local receive time, epoch ms UTC, may be fractional). Prices are in USDT, sizes in base coin
 * (Bitget USDT-M sizes are base-coin quantities, API.md §1.5/§1.6). Where exactness matters the
 * exchange's decimal strings are kept next to the numbers (`BookLevel`, `TradeEvent.priceStr`).
 *
 * Events must stay structured-clone friendly: they cross worker boundaries via `postMessage`.
 */

/** A price level as the exchange sent it: `[price, size]` decimal strings (kept for checksums). */
export type BookLevel = [price: string, size: string];

/** Public WebSocket channels the collector knows (Bitget v2 channel names, API.md §1.4–§1.7). */
export type Channel = "ticker" | "trade" | "books" | "books15" | "candle1m" | "candle15m";

export const CHANNELS: readonly Channel[] = [
  "ticker",
  "trade",
  "books",
  "books15",
  "candle1m",
  "candle15m",
];

/**
 * Top-of-book summary computed right after a book message was applied.
 * Units: prices USDT; sizes and depths base coin; spread in bps of mid;
 * imbalance = (bidSize − askSize) / (bidSize + askSize) over the top N levels, in [−1, 1].
 * Depth within X bps = sum of sizes of levels with price within X bps of mid, both sides.
 */
export interface BookTop {
  bestBid: number;
  bestAsk: number;
  bestBidSize: number;
  bestAskSize: number;
  mid: number;
  spreadBps: number;
  imbalance1: number;
  imbalance5: number;
  imbalance15: number;
  /** Bid + ask size within 5 bps of mid (base coin). */
  depth5bps: number;
  /** Bid + ask size within 10 bps of mid (base coin). */
  depth10bps: number;
}

/** `books` (full depth, incremental) or `books15` (top 15, snapshot each push). */
export interface BookEvent {
  kind: "book";
  channel: "books" | "books15";
  symbol: string;
  ts: number;
  recvTs: number;
  /** `snapshot` replaces the local book; `update` is a delta (only for `books`). */
  action: "snapshot" | "update";
  /** Levels exactly as received: bids descending, asks ascending; size "0" deletes (updates). */
  bids: BookLevel[];
  asks: BookLevel[];
  /** Exchange sequence number if sent, else null. */
  seq: number | null;
  /** Exchange CRC32 checksum (signed int32) if sent, else null. */
  checksum: number | null;
  /** Book summary after applying this message; null when the book is empty or one-sided. */
  top: BookTop | null;
  /**
   * `bids`/`asks` as JSON text (market/book_levels.ts), set by the ingest worker before it posts
   * a batch; `bids`/`asks` are then empty. Consumers needing levels parse this text.
   */
  levelsJson?: { bids: string; asks: string };
}

/** One public trade (taker side). */
export interface TradeEvent {
  kind: "trade";
  symbol: string;
  ts: number;
  recvTs: number;
  tradeId: string;
  price: number;
  size: number;
  side: "buy" | "sell";
}

/** `ticker` push: last, best bid/ask, mark/index, funding, open interest, 24 h stats. */
export interface TickerEvent {
  kind: "ticker";
  symbol: string;
  ts: number;
  recvTs: number;
  last: number;
  bid: number;
  ask: number;
  bidSize: number;
  askSize: number;
  markPrice: number;
  indexPrice: number;
  /** Current funding rate as a ratio (0.0001 = 1 bp per funding interval). */
  fundingRate: number;
  nextFundingTime: number;
  /** Open interest in base coin (`holdingAmount`). */
  openInterest: number;
  open24h: number;
  high24h: number;
  low24h: number;
  baseVolume24h: number;
  quoteVolume24h: number;
}

/** Candle (bar) pushed by the exchange or imported; `interval` "1m" | "15m" | …; start in ms. */
export interface CandleEvent {
  kind: "candle";
  symbol: string;
  /** Bar start time (epoch ms). */
  ts: number;
  recvTs: number;
  interval: string;
  open: number;
  high: number;
  low: number;
  close: number;
  /** Base-coin volume. */
  volume: number;
  /** Quote (USDT) volume; NaN when unknown. */
  quoteVolume: number;
}

/** Mark / index / last price from REST `symbol-price` (API.md §4.3). */
export interface MarkPriceEvent {
  kind: "mark";
  symbol: string;
  ts: number;
  recvTs: number;
  markPrice: number;
  indexPrice: number;
  last: number;
}

/** Funding rate from REST `current-fund-rate` / `funding-time` / `history-fund-rate` or import. */
export interface FundingEvent {
  kind: "funding";
  symbol: string;
  /** Observation time (current rate) or settlement time (history). */
  ts: number;
  recvTs: number;
  fundingRate: number;
  /** Next settlement (ms) when known, else null. */
  nextFundingTime: number | null;
  /** Funding interval in hours when known, else null. */
  intervalHours: number | null;
  /** `current` = live estimate, `settled` = a historical settlement. */
  type: "current" | "settled";
}

/** Open interest (base coin) from REST `open-interest` (API.md §4.4). */
export interface OpenInterestEvent {
  kind: "oi";
  symbol: string;
  ts: number;
  recvTs: number;
  openInterest: number;
}

/**
 * A period the collector knows it missed for (symbol, channel).
 * `startTs`/`endTs` are epoch ms (last good data before, first good data after).
 */
export interface GapEvent {
  kind: "gap";
  symbol: string;
  channel: Channel | "rest";
  ts: number;
  recvTs: number;
  startTs: number;
  endTs: number;
  reason: "disconnect" | "sequence" | "checksum" | "stale" | "subscribe_error" | "shutdown";
  detail: string;
}

export type MarketEvent =
  | BookEvent
  | TradeEvent
  | TickerEvent
  | CandleEvent
  | MarkPriceEvent
  | FundingEvent
  | OpenInterestEvent
  | GapEvent;
