/**
 * Shared fixtures of the simulated-exchange tests: a BTCUSDT contract with Bitget's tick, lot and
 * fee values, event builders (books15 snapshot, trade, mark) and assertion helpers.
 */
import assert from "node:assert/strict";
import type { ContractSpec } from "../../src/market/contracts.ts";
import type { BookEvent, BookLevel, MarketEvent } from "../../src/market/events.ts";
import { SimExchange } from "../../src/venue/sim_exchange.ts";
import type {
  FillEvent,
  PlaceOrderRequest,
  Rejection,
  SimExchangeConfig,
  VenueEvent,
} from "../../src/venue/types.ts";

export const BTC: ContractSpec = {
  symbol: "BTCUSDT",
  baseCoin: "BTC",
  quoteCoin: "USDT",
  pricePlace: 1,
  priceEndStep: 1,
  tickSize: 0.1,
  volumePlace: 3,
  lotSize: 0.001,
  minTradeNum: 0.001,
  minTradeUSDT: 5,
  makerFeeRate: 0.0002,
  takerFeeRate: 0.0006,
  minLever: 1,
  maxLever: 125,
  fundIntervalHours: 8,
  status: "normal",
  maxMarketOrderQty: Infinity,
  maxOrderQty: Infinity,
};

/** |a − b| ≤ tol. */
export function near(a: number, b: number, tol = 1e-9, what = ""): void {
  assert.ok(Math.abs(a - b) <= tol, `${what} expected ${b}, got ${a} (diff ${a - b})`);
}

/** A venue trading BTCUSDT with 10,000 USDT. */
export function venue(extra: Partial<SimExchangeConfig> = {}): SimExchange {
  return new SimExchange({ contracts: [BTC], initialBalance: 10_000, ...extra });
}

/** A books15 snapshot from [price, size] pairs, best first. */
export function book(
  ts: number,
  bids: [number, number][],
  asks: [number, number][],
  symbol = "BTCUSDT",
): BookEvent {
  const lv = (a: [number, number][]): BookLevel[] => a.map(([p, s]) => [String(p), String(s)]);
  return {
    kind: "book",
    channel: "books15",
    symbol,
    ts,
    recvTs: ts,
    action: "snapshot",
    bids: lv(bids),
    asks: lv(asks),
    seq: null,
    checksum: null,
    top: null,
  };
}

/** A trade print (taker side `side`). */
export function trade(
  ts: number,
  price: number,
  size = 1,
  side: "buy" | "sell" = "buy",
): MarketEvent {
  return {
    kind: "trade",
    symbol: "BTCUSDT",
    ts,
    recvTs: ts,
    tradeId: String(ts),
    price,
    size,
    side,
  };
}

/** A mark price event (index and last equal to the mark). */
export function mark(ts: number, markPrice: number, symbol = "BTCUSDT"): MarketEvent {
  return {
    kind: "mark",
    symbol,
    ts,
    recvTs: ts,
    markPrice,
    indexPrice: markPrice,
    last: markPrice,
  };
}

/** The accepted value, or a thrown error naming the rejection. */
export function ok<T extends object>(r: T | Rejection): T {
  if ("code" in r && "msg" in r) throw new Error(`unexpected rejection ${r.code}: ${r.msg}`);
  return r as T;
}

/** Asserts a rejection with `code` whose message names `field` when given. */
export function rejected(r: object, code: string, field?: string): void {
  assert.ok("code" in r, `expected rejection ${code}, got ${JSON.stringify(r)}`);
  const rej = r as Rejection;
  assert.equal(rej.code, code, rej.msg);
  if (field) assert.ok(rej.msg.includes(field), `message "${rej.msg}" should name ${field}`);
}

/** Order requests with defaults (market buy of 1 BTCUSDT) and clientOids `<prefix>1`, `<prefix>2`, … */
export function requests(prefix: string): (p: Partial<PlaceOrderRequest>) => PlaceOrderRequest {
  let n = 0;
  return (p) => ({
    clientOid: `${prefix}${++n}`,
    symbol: "BTCUSDT",
    side: "buy",
    orderType: "market",
    size: 1,
    ...p,
  });
}

/** The fills in a venue log. */
export const fills = (log: VenueEvent[]): FillEvent[] =>
  log.filter((e): e is FillEvent => e.type === "fill");

/**
 * The accounting identity from the event log (independent of the venue's counters):
 * balance = initial + Σ realized − Σ fees + Σ funding, and equity = balance + Σ unrealized PnL.
 */
export function checkIdentity(v: SimExchange, initial: number, tol = 1e-8): void {
  let flow = 0;
  for (const e of v.log) {
    if (e.type === "fill") flow += e.realizedPnl - e.fee;
    else if (e.type === "liquidation") flow += e.realizedPnl;
    else if (e.type === "funding") flow += e.amount;
  }
  const a = v.account();
  near(a.balance, initial + flow, tol, "balance identity");
  let upnl = 0;
  for (const p of v.positions()) upnl += p.unrealizedPnl;
  near(a.equity, a.balance + upnl, tol, "equity = balance + uPnL");
}
