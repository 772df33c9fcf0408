/**
 * Public REST market endpoints of the loopback simulator (API.md §4, envelope §7).
 *
 * Envelope `{"code":"00000","msg":"success","requestTime":<number ms>,"data":…}`; every value in
 * `data` a string. Errors are HTTP 400 `{"code":"<str>","msg":…,"requestTime":…,"data":null}`
 * with Bitget's codes: 40019 "Parameter X cannot be empty", 40020 "Parameter X error", 40034
 * "Parameter SYMBOL does not exist" (the body real Bitget returns for an unknown symbol), 40705
 * (span over 90 days), 40707 (start after end); unknown path → HTTP 404 code 40404. More than 20
 * requests in any 1 s window for one path from one client IP → HTTP 429
 * `{"code":"429","msg":"Too Many Requests",…}` (API.md §4: 20 req/s/IP for market endpoints).
 *
 * Ticker-derived endpoints (ticker, tickers, symbol-price, open-interest, current-fund-rate,
 * funding-time) answer from the latest `ticker` frame of the symbol that any connection's replay
 * cursor has reached (before any, the recording's first ticker), so they agree with the WS stream
 * the way the recording's REST fixtures agree with it (bitget_replay/README.md §6).
 */
import type { FaultBoard } from "./faults.ts";
import {
  candlePage,
  type CandleSeries,
  fundingPage,
  type FundingSeries,
  GRANULARITY_MS,
  MAX_SPAN_MS,
  trimZeros,
} from "./history.ts";
import { keyName, type Recording } from "./recording.ts";

/** Per-path REST counters for `/sim/status`. */
export interface RestCount {
  requests: number;
  ok: number;
  errors: number;
  limited: number;
}

/** What the REST handlers read. */
export interface RestDeps {
  rec: Recording;
  /** Contract entries in file order (each has at least a string `symbol`). */
  contracts: Record<string, unknown>[];
  /** `SYMBOL:granularity` → candles. */
  candles: Map<string, CandleSeries>;
  /** symbol → funding history. */
  funding: Map<string, FundingSeries>;
  /** Latest frame index reached per recording key (−1 = none yet). */
  latest: Int32Array;
  faults: FaultBoard;
}

/** Bitget's public market limit per endpoint and IP (API.md §4, §5.8). */
export const REST_LIMIT_PER_SEC = 20;
/** Funding-rate bounds reported by current-fund-rate (recorded fixtures: ∓0.003). */
const MIN_FUNDING = "-0.003";
const MAX_FUNDING = "0.003";

class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, msg: string) {
    super(msg);
  }
}

const missing = (p: string) => new ApiError(400, "40019", `Parameter ${p} cannot be empty`);
const invalid = (p: string) => new ApiError(400, "40020", `Parameter ${p} error`);
const unknownSymbol = (s: string) => new ApiError(400, "40034", `Parameter ${s} does not exist`);

type TickerData = Record<string, string>;

/**
 * Routes whose `requestTime` is the wall clock: server time (request signing is checked against
 * it) and the history series, which are served from their own files, not from the recording.
 */
const WALL_CLOCK_ROUTES = new Set([
  "/api/v2/public/time",
  "/api/v2/mix/market/history-candles",
  "/api/v2/mix/market/history-fund-rate",
]);
type Handler = (q: URLSearchParams) => unknown;

export class RestApi {
  readonly counts = new Map<string, RestCount>();
  private readonly windows = new Map<string, number[]>();
  private readonly routes: Record<string, Handler>;
  private readonly contractBySymbol = new Map<string, Record<string, unknown>>();

  constructor(private readonly d: RestDeps) {
    for (const c of d.contracts) this.contractBySymbol.set(String(c.symbol), c);
    const m = "/api/v2/mix/market/";
    this.routes = {
      "/api/v2/public/time": () => ({ serverTime: String(Date.now()) }),
      [m + "contracts"]: (q) => this.contractsData(q),
      [m + "ticker"]: (q) => [this.restTicker(this.tickerOf(required(q, "symbol")))],
      [m + "tickers"]: (q) => {
        productType(q);
        return this.tickerSymbols().map((s) => this.restTicker(this.tickerOf(s)));
      },
      [m + "symbol-price"]: (q) => {
        const t = this.tickerOf(required(q, "symbol"));
        return [{
          symbol: t.symbol ?? t.instId,
          price: t.lastPr,
          indexPrice: t.indexPrice,
          markPrice: t.markPrice,
          ts: t.ts,
        }];
      },
      [m + "open-interest"]: (q) => {
        const t = this.tickerOf(required(q, "symbol"));
        return {
          openInterestList: [{ symbol: t.symbol ?? t.instId, size: t.holdingAmount }],
          ts: t.ts,
        };
      },
      [m + "current-fund-rate"]: (q) => {
        productType(q);
        const one = q.get("symbol");
        return (one ? [one] : this.tickerSymbols()).map((s) => {
          const t = this.tickerOf(s);
          return {
            symbol: s,
            fundingRate: t.fundingRate,
            fundingRateInterval: this.fundInterval(s),
            nextUpdate: t.nextFundingTime,
            minFundingRate: MIN_FUNDING,
            maxFundingRate: MAX_FUNDING,
          };
        });
      },
      [m + "funding-time"]: (q) => {
        const s = required(q, "symbol");
        const t = this.tickerOf(s);
        return [{
          symbol: s,
          nextFundingTime: t.nextFundingTime,
          ratePeriod: this.fundInterval(s),
        }];
      },
      [m + "history-candles"]: (q) => this.historyCandles(q),
      [m + "history-fund-rate"]: (q) => this.historyFunding(q),
    };
  }

  /**
   * Answers one request. `client` identifies the caller for rate limiting (its IP, as Bitget
   * limits per IP). Never throws.
   */
  handle(req: Request, url: URL, client: string): Response {
    const path = url.pathname;
    const route = req.method === "GET" ? this.routes[path] : undefined;
    const count = this.counter(route ? path : "(unknown)");
    count.requests++;
    if (this.d.faults.takeRest429(path) || (route && this.limited(client + " " + path))) {
      count.limited++;
      return reply(429, {
        code: "429",
        msg: "Too Many Requests",
        requestTime: Date.now(),
        data: null,
      });
    }
    if (!route) {
      count.errors++;
      return reply(404, {
        code: "40404",
        msg: "Request URL NOT FOUND",
        requestTime: Date.now(),
        data: null,
      });
    }
    try {
      const data = route(url.searchParams);
      count.ok++;
      const requestTime = WALL_CLOCK_ROUTES.has(path) ? Date.now() : this.marketNow();
      return reply(200, { code: "00000", msg: "success", requestTime, data });
    } catch (e) {
      count.errors++;
      if (e instanceof ApiError) {
        return reply(e.status, {
          code: e.code,
          msg: e.message,
          requestTime: Date.now(),
          data: null,
        });
      }
      return reply(500, {
        code: "40015",
        msg: "System is abnormal, please try again later",
        requestTime: Date.now(),
        data: null,
      });
    }
  }

  private counter(path: string): RestCount {
    let c = this.counts.get(path);
    if (!c) {
      c = { requests: 0, ok: 0, errors: 0, limited: 0 };
      this.counts.set(path, c);
    }
    return c;
  }

  /** Sliding 1 s window per client and path. */
  private limited(key: string): boolean {
    const now = performance.now();
    let w = this.windows.get(key);
    if (!w) {
      w = [];
      this.windows.set(key, w);
    }
    while (w.length > 0 && w[0] <= now - 1000) w.shift();
    if (w.length >= REST_LIMIT_PER_SEC) return true;
    w.push(now);
    return false;
  }

  private knownSymbol(s: string): boolean {
    return this.contractBySymbol.has(s) || this.d.rec.symbols.includes(s);
  }

  private fundInterval(symbol: string): string {
    const v = this.contractBySymbol.get(symbol)?.fundInterval;
    return typeof v === "string" && v !== "" ? v : "8";
  }

  private tickerSymbols(): string[] {
    return this.d.rec.symbols.filter((s) => this.d.rec.keyIndex.has(keyName("ticker", s)));
  }

  /**
   * The exchange's clock as the replay has reached it: the recording's clock (running maximum of
   * push `ts`) at the newest frame any connection has been sent, else at the first frame. A
   * market-data answer stamps this as `requestTime`, so a poller's rows (current funding rate,
   * open interest) land beside the replayed pushes, not at today's wall clock.
   */
  marketNow(): number {
    let i = -1;
    for (let k = 0; k < this.d.latest.length; k++) i = Math.max(i, this.d.latest[k]);
    return this.d.rec.clockMs[Math.max(0, i)];
  }

  /** The latest reached ticker push's data[0] for `symbol`; throws 40034 if there is none. */
  private tickerOf(symbol: string): TickerData {
    const k = this.d.rec.keyIndex.get(keyName("ticker", symbol));
    if (k === undefined) throw unknownSymbol(symbol);
    const i = this.d.latest[k] >= 0 ? this.d.latest[k] : this.d.rec.keys[k].frames[0];
    return (JSON.parse(this.d.rec.text[i]) as { data: TickerData[] }).data[0];
  }

  /** REST ticker fields in the order of Bitget's doc example (API.md §4.2). */
  private restTicker(t: TickerData): Record<string, string | null> {
    const last = Number(t.lastPr);
    const openUtc = Number(t.openUtc);
    const changeUtc = openUtc > 0 ? trimZeros((last / openUtc - 1).toFixed(5)) : "0";
    return {
      symbol: t.symbol ?? t.instId,
      lastPr: t.lastPr,
      askPr: t.askPr,
      bidPr: t.bidPr,
      bidSz: t.bidSz,
      askSz: t.askSz,
      high24h: t.high24h,
      low24h: t.low24h,
      ts: t.ts,
      change24h: t.change24h,
      baseVolume: t.baseVolume,
      quoteVolume: t.quoteVolume,
      usdtVolume: t.quoteVolume,
      openUtc: t.openUtc,
      changeUtc24h: changeUtc === "-0" ? "0" : changeUtc,
      indexPrice: t.indexPrice,
      fundingRate: t.fundingRate,
      holdingAmount: t.holdingAmount,
      deliveryStartTime: null,
      deliveryTime: null,
      deliveryStatus: "",
      open24h: t.open24h,
      markPrice: t.markPrice,
    };
  }

  private contractsData(q: URLSearchParams): unknown {
    productType(q);
    const s = q.get("symbol");
    if (!s) return this.d.contracts;
    const c = this.contractBySymbol.get(s);
    if (!c) throw unknownSymbol(s);
    return [c];
  }

  private historyCandles(q: URLSearchParams): unknown {
    const symbol = required(q, "symbol");
    const g = q.get("granularity");
    if (!g) throw missing("granularity");
    if (!(g in GRANULARITY_MS)) throw invalid("granularity");
    const now = Date.now();
    const start = optInt(q, "startTime");
    const end = optInt(q, "endTime") ?? now;
    if (start !== null && start > end) {
      throw new ApiError(400, "40707", "Start time is greater than end time");
    }
    if (start !== null && end - start > MAX_SPAN_MS) {
      throw new ApiError(400, "40705", "The start and end time cannot exceed 90 days");
    }
    const limit = Math.min(200, optInt(q, "limit", 1) ?? 100);
    const series = this.d.candles.get(symbol + ":" + g);
    if (!series) {
      if (!this.knownSymbol(symbol) && !this.hasCandles(symbol)) throw unknownSymbol(symbol);
      return [];
    }
    return candlePage(series, start, end, limit, now);
  }

  private hasCandles(symbol: string): boolean {
    for (const s of this.d.candles.values()) if (s.symbol === symbol) return true;
    return false;
  }

  private historyFunding(q: URLSearchParams): unknown {
    const symbol = required(q, "symbol");
    const pageSize = Math.min(100, optInt(q, "pageSize", 1) ?? 20);
    const pageNo = optInt(q, "pageNo", 1) ?? 1;
    const series = this.d.funding.get(symbol);
    if (!series) {
      if (!this.knownSymbol(symbol)) throw unknownSymbol(symbol);
      return [];
    }
    return fundingPage(series, pageSize, pageNo);
  }
}

/** Checks `productType` (required, USDT-FUTURES in any case, API.md §0). */
function productType(q: URLSearchParams): void {
  const p = q.get("productType");
  if (!p) throw missing("productType");
  if (p.toUpperCase() !== "USDT-FUTURES") throw invalid("productType");
}

/** Checks productType, then returns the required parameter `name` (40019 when absent). */
function required(q: URLSearchParams, name: string): string {
  productType(q);
  const v = q.get(name);
  if (!v) throw missing(name);
  return v;
}

/** An optional integer parameter (≥ min), null when absent; throws 40020 when malformed. */
function optInt(q: URLSearchParams, name: string, min = 0): number | null {
  const v = q.get(name);
  if (v === null || v === "") return null;
  if (!/^\d+$/.test(v)) throw invalid(name);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw invalid(name);
  return n;
}

function reply(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}
