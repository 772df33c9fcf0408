/**
 * Bitget v2 public REST client for USDT-M market data (API.md §4, envelope §7).
 *
 * - Every request: `fetch` with a timeout; the envelope `{code, msg, requestTime, data}` is checked
 *   and `code != "00000"` is a failure whatever the HTTP status (§7).
 * - One token bucket per endpoint path (`ratePerSecond`; Bitget allows 20/s/IP on these endpoints).
 * - Retries (bounded, exponential backoff with jitter) on HTTP 429 / 5xx, Bitget codes 429, 30007
 *   (over limit), 40010 (request timed out), 40015 (system abnormal), 45001 (unknown error), network
 *   errors and timeouts. Anything else fails at once with a BitgetRestError.
 * - Typed methods return MarketEvents where the endpoint carries market data.
 */
import type {
  CandleEvent,
  FundingEvent,
  MarkPriceEvent,
  OpenInterestEvent,
} from "../market/events.ts";
import { type ContractSpec, parseContract } from "../market/contracts.ts";
import type { Config } from "../config/config.ts";
import type { Logger } from "../ops/log.ts";
import { silentLogger } from "../ops/log.ts";
import { candleRowError } from "./normalize.ts";
import { num } from "./wire.ts";

export interface RestPublicOptions {
  /** REST base URL, e.g. `https://api.bitget.com` or a loopback simulator. */
  baseUrl: string;
  /** `USDT-FUTURES` (API.md §0). */
  productType: string;
  /** Requests per second per endpoint. */
  ratePerSecond: number;
  /** Per-attempt timeout (ms). */
  timeout: number;
  /** Retries after the first attempt (default 4). */
  maxRetries?: number;
  /** First retry delay ceiling (ms, default 500); doubles per retry up to retryMaxDelay. */
  retryBaseDelay?: number;
  /** Largest retry delay (ms, default 10 000). */
  retryMaxDelay?: number;
  logger?: Logger;
  /**
   * Called once per attempt with the endpoint path and the HTTP status, or `timeout` / `network`
   * when no answer came (the metrics' REST counters).
   */
  onResponse?: (endpoint: string, status: number | "timeout" | "network") => void;
}

/** Client options from the validated config (`exchange.restUrl`, `exchange.productType`, `rest`). */
export function restOptionsFromConfig(config: Config, logger?: Logger): RestPublicOptions {
  return {
    baseUrl: config.exchange.restUrl,
    productType: config.exchange.productType,
    ratePerSecond: config.rest.ratePerSecond,
    timeout: config.rest.timeout,
    logger,
  };
}

export type RestErrorKind = "http" | "envelope" | "parse" | "network" | "timeout";

/** A failed request, after retries. `code` is Bitget's code (string) when the body had one. */
export class BitgetRestError extends Error {
  override name = "BitgetRestError";
  constructor(
    message: string,
    readonly kind: RestErrorKind,
    readonly endpoint: string,
    readonly httpStatus: number | null,
    readonly code: string | null,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** Bitget codes worth retrying (API.md §7: rate limit, system abnormal, unknown error). */
const RETRY_CODES = new Set(["429", "30007", "40010", "40015", "45001"]);

/**
 * Token bucket with `rate` tokens per second and room for `burst` tokens (default 1: requests are
 * spaced 1/rate apart, so no second ever sees more than ⌈rate⌉ of them); FIFO waiters.
 */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();
  private chain: Promise<void> = Promise.resolve();
  private waiting = 0;
  private readonly cap: number;
  constructor(private readonly rate: number, burst = 1) {
    this.cap = Math.max(1, burst);
    this.tokens = this.cap;
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.cap, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }

  /** True when `tryTake` would succeed now (nobody queued, a whole token available). */
  ready(): boolean {
    if (this.waiting > 0) return false;
    this.refill();
    return this.tokens >= 1;
  }

  /**
   * Takes a token synchronously when one is available and nobody is queued (FIFO is kept);
   * false otherwise (then use `take`). Lets a request leave in the same turn as its decision.
   */
  tryTake(): boolean {
    if (!this.ready()) return false;
    this.tokens -= 1;
    return true;
  }

  /** Resolves when a token was taken. */
  take(): Promise<void> {
    this.waiting++;
    const next = this.chain.then(async () => {
      for (;;) {
        this.refill();
        if (this.tokens >= 1) {
          this.tokens -= 1;
          return;
        }
        await new Promise((r) => setTimeout(r, Math.ceil(((1 - this.tokens) / this.rate) * 1000)));
      }
    }).finally(() => this.waiting--);
    this.chain = next;
    return next;
  }
}

/** `funding-time` row (API.md §4.6). */
export interface FundingTime {
  symbol: string;
  /** Next settlement (epoch ms). */
  nextFundingTime: number;
  /** Funding interval in hours (`ratePeriod`). */
  intervalHours: number | null;
  /** Observation time: the server's `requestTime` (epoch ms). */
  ts: number;
}

export interface HistoryCandlesQuery {
  symbol: string;
  /** Bitget granularity: `1m`, `3m`, `5m`, `15m`, `30m`, `1H`, `4H`, … (API.md §4.8). */
  granularity: string;
  /** Epoch ms. */
  startTime?: number;
  endTime?: number;
  /** Rows, ≤ 200 (API.md §4.9). */
  limit?: number;
  /** Interval label stored in the events (default: the granularity). */
  interval?: string;
}

interface Envelope {
  code: unknown;
  msg?: unknown;
  requestTime?: unknown;
  data?: unknown;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export class BitgetPublicRest {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly log: Logger;
  readonly counters = { requests: 0, retries: 0, failures: 0 };

  constructor(readonly opts: RestPublicOptions) {
    this.log = (opts.logger ?? silentLogger).child({ component: "rest" });
  }

  private bucket(path: string): TokenBucket {
    let b = this.buckets.get(path);
    if (!b) {
      b = new TokenBucket(this.opts.ratePerSecond);
      this.buckets.set(path, b);
    }
    return b;
  }

  /**
   * GET `path` with `query` and returns the envelope's `data` and `requestTime` (ms; local time
   * when absent). Throws BitgetRestError after the last retry.
   */
  async get(
    path: string,
    query: Record<string, string | number | undefined>,
  ): Promise<{ data: unknown; requestTime: number }> {
    const url = new URL(path, this.opts.baseUrl);
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined) url.searchParams.set(k, `${v}`);
    }
    const maxRetries = this.opts.maxRetries ?? 4;
    const base = this.opts.retryBaseDelay ?? 500;
    const cap = this.opts.retryMaxDelay ?? 10_000;
    for (let attempt = 0;; attempt++) {
      await this.bucket(path).take();
      this.counters.requests++;
      try {
        return await this.once(url, path);
      } catch (e) {
        const err = e as BitgetRestError;
        if (!err.retryable || attempt >= maxRetries) {
          this.counters.failures++;
          throw err;
        }
        // Equal jitter: always wait at least half the ceiling so a 429 really backs off.
        const ceiling = Math.min(cap, base * 2 ** attempt);
        const delay = ceiling / 2 + Math.random() * ceiling / 2;
        this.counters.retries++;
        this.log.warn("retrying request", {
          path,
          attempt: attempt + 1,
          delayMs: Math.round(delay),
          kind: err.kind,
          status: err.httpStatus,
          code: err.code,
        });
        await sleep(delay);
      }
    }
  }

  private async once(url: URL, path: string): Promise<{ data: unknown; requestTime: number }> {
    let res: Response;
    try {
      res = await fetch(url, {
        signal: AbortSignal.timeout(this.opts.timeout),
        headers: { "accept": "application/json" },
      });
    } catch (e) {
      const timeout = (e as Error).name === "TimeoutError";
      this.opts.onResponse?.(path, timeout ? "timeout" : "network");
      throw new BitgetRestError(
        timeout
          ? `${path}: no response within ${this.opts.timeout} ms`
          : `${path}: ${(e as Error).message}`,
        timeout ? "timeout" : "network",
        path,
        null,
        null,
        true,
      );
    }
    this.opts.onResponse?.(path, res.status);
    const text = await res.text();
    let env: Envelope | null = null;
    try {
      const v = JSON.parse(text);
      if (isObj(v) && "code" in v) env = v as unknown as Envelope;
    } catch { /* handled below */ }
    const status = res.status;
    const httpRetry = status === 429 || status >= 500;
    if (env === null) {
      throw new BitgetRestError(
        `${path}: HTTP ${status}, body is not a Bitget envelope: ${text.slice(0, 120)}`,
        res.ok ? "parse" : "http",
        path,
        status,
        null,
        httpRetry,
      );
    }
    const code = String(env.code);
    if (code !== "00000" || !res.ok) {
      throw new BitgetRestError(
        `${path}: HTTP ${status}, code ${code}: ${String(env.msg ?? "")}`,
        "envelope",
        path,
        status,
        code,
        httpRetry || RETRY_CODES.has(code),
      );
    }
    const rt = num(env.requestTime);
    return { data: env.data, requestTime: Number.isFinite(rt) ? rt : Date.now() };
  }

  private parseError(path: string, what: string): BitgetRestError {
    return new BitgetRestError(`${path}: ${what}`, "parse", path, 200, "00000", false);
  }

  private rows(path: string, data: unknown): Record<string, unknown>[] {
    if (!Array.isArray(data) || !data.every(isObj)) {
      throw this.parseError(path, "data is not an array of objects");
    }
    return data as Record<string, unknown>[];
  }

  private field(path: string, row: Record<string, unknown>, k: string): number {
    const v = num(row[k]);
    if (!Number.isFinite(v)) {
      throw this.parseError(path, `field ${k} = ${JSON.stringify(row[k])} is not numeric`);
    }
    return v;
  }

  /** Contract specs (API.md §4.1), with the raw entries. Throws on a malformed entry. */
  async contracts(
    symbol?: string,
  ): Promise<{ specs: ContractSpec[]; raw: Record<string, unknown>[] }> {
    const path = "/api/v2/mix/market/contracts";
    const { data } = await this.get(path, { productType: this.opts.productType, symbol });
    const raw = this.rows(path, data);
    try {
      return { specs: raw.map(parseContract), raw };
    } catch (e) {
      throw this.parseError(path, (e as Error).message);
    }
  }

  /** Mark / index / last price (API.md §4.3). */
  async symbolPrice(symbol: string): Promise<MarkPriceEvent[]> {
    const path = "/api/v2/mix/market/symbol-price";
    const { data, requestTime } = await this.get(path, {
      productType: this.opts.productType,
      symbol,
    });
    const recvTs = Date.now();
    return this.rows(path, data).map((r) => {
      const ts = num(r.ts);
      return {
        kind: "mark",
        symbol: String(r.symbol ?? symbol),
        ts: Number.isFinite(ts) ? ts : requestTime,
        recvTs,
        markPrice: this.field(path, r, "markPrice"),
        indexPrice: this.field(path, r, "indexPrice"),
        last: this.field(path, r, "price"),
      };
    });
  }

  /** Open interest in base coin (API.md §4.4; `data` is an object here). */
  async openInterest(symbol: string): Promise<OpenInterestEvent[]> {
    const path = "/api/v2/mix/market/open-interest";
    const { data, requestTime } = await this.get(path, {
      productType: this.opts.productType,
      symbol,
    });
    if (!isObj(data) || !Array.isArray(data.openInterestList)) {
      throw this.parseError(path, "data.openInterestList missing");
    }
    const recvTs = Date.now();
    const t = num(data.ts);
    const ts = Number.isFinite(t) ? t : requestTime;
    return this.rows(path, data.openInterestList).map((r) => ({
      kind: "oi",
      symbol: String(r.symbol ?? symbol),
      ts,
      recvTs,
      openInterest: this.field(path, r, "size"),
    }));
  }

  /**
   * Current funding rate (API.md §4.5); without `symbol` Bitget returns every symbol of the
   * product type. `ts` = the server's requestTime (the observation time).
   */
  async currentFundRate(symbol?: string): Promise<FundingEvent[]> {
    const path = "/api/v2/mix/market/current-fund-rate";
    const { data, requestTime } = await this.get(path, {
      productType: this.opts.productType,
      symbol,
    });
    const recvTs = Date.now();
    return this.rows(path, data).map((r) => {
      const next = num(r.nextUpdate);
      const hours = num(r.fundingRateInterval);
      return {
        kind: "funding",
        symbol: String(r.symbol),
        ts: requestTime,
        recvTs,
        fundingRate: this.field(path, r, "fundingRate"),
        nextFundingTime: Number.isFinite(next) ? next : null,
        intervalHours: Number.isFinite(hours) ? hours : null,
        type: "current",
      };
    });
  }

  /** Next funding settlement time (API.md §4.6). */
  async fundingTime(symbol: string): Promise<FundingTime[]> {
    const path = "/api/v2/mix/market/funding-time";
    const { data, requestTime } = await this.get(path, {
      productType: this.opts.productType,
      symbol,
    });
    return this.rows(path, data).map((r) => {
      const hours = num(r.ratePeriod);
      return {
        symbol: String(r.symbol ?? symbol),
        nextFundingTime: this.field(path, r, "nextFundingTime"),
        intervalHours: Number.isFinite(hours) ? hours : null,
        ts: requestTime,
      };
    });
  }

  /**
   * Completed candles (API.md §4.9: ≤ 200 rows, ≤ 90-day span), ascending by start time.
   * Rows are `[ts, open, high, low, close, baseVolume, quoteVolume]`.
   */
  async historyCandles(q: HistoryCandlesQuery): Promise<CandleEvent[]> {
    const path = "/api/v2/mix/market/history-candles";
    const { data } = await this.get(path, {
      symbol: q.symbol,
      productType: this.opts.productType,
      granularity: q.granularity,
      startTime: q.startTime,
      endTime: q.endTime,
      limit: q.limit,
    });
    if (!Array.isArray(data)) throw this.parseError(path, "data is not an array of rows");
    const recvTs = Date.now();
    const out: CandleEvent[] = [];
    for (const row of data) {
      const bad = candleRowError(row);
      if (bad !== null) throw this.parseError(path, bad);
      const r = row as unknown[];
      out.push({
        kind: "candle",
        symbol: q.symbol,
        ts: num(r[0]),
        recvTs,
        interval: q.interval ?? q.granularity,
        open: num(r[1]),
        high: num(r[2]),
        low: num(r[3]),
        close: num(r[4]),
        volume: num(r[5]),
        quoteVolume: num(r[6]),
      });
    }
    out.sort((a, b) => a.ts - b.ts);
    return out;
  }

  /** Settled funding rates, newest first as Bitget returns them (API.md §4.7; pageSize ≤ 100). */
  async historyFundRate(
    q: { symbol: string; pageSize?: number; pageNo?: number },
  ): Promise<FundingEvent[]> {
    const path = "/api/v2/mix/market/history-fund-rate";
    const { data } = await this.get(path, {
      symbol: q.symbol,
      productType: this.opts.productType,
      pageSize: q.pageSize,
      pageNo: q.pageNo,
    });
    const recvTs = Date.now();
    return this.rows(path, data).map((r) => ({
      kind: "funding",
      symbol: String(r.symbol ?? q.symbol),
      ts: this.field(path, r, "fundingTime"),
      recvTs,
      fundingRate: this.field(path, r, "fundingRate"),
      nextFundingTime: null,
      intervalHours: null,
      type: "settled",
    }));
  }
}
