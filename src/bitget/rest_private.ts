/**
 * BitgetPrivateRest: the signed REST v2 client for USDT-M futures (API.md §5–§8).
 *
 * - Signing (sign.ts, API.md §6): the GET query string is built once with `buildQuery` and used
 *   for both the URL and the prehash; a POST body is `JSON.stringify(body)`, signed and sent as the
 *   same bytes. `paptrading: 1` on every signed request in demo mode, never on the unsigned
 *   `GET /api/v2/public/time` (API.md §8).
 * - Clock: ACCESS-TIMESTAMP = local now + offset, offset = serverTime − local midpoint of the
 *   `/api/v2/public/time` round trip (synced lazily before the first signed request and every
 *   `resyncIntervalMs`). A 40005/40008 answer → one re-sync and one retry of that request (the
 *   exchange refused it, so resending is safe).
 * - S.Envelope (API.md §7): `code != "00000"` is a failure whatever the HTTP status → BitgetApiError.
 * - Rate limits: rate_limit.ts (per endpoint + global, 429 backoff honouring Retry-After).
 * - Retries (≤ maxRetries, equal-jitter backoff): GETs on timeout / network / 5xx; any request the
 *   exchange answered 429 / 40010 / 40015 / 45001 (nothing happened) or that never left (connect
 *   refused). A POST whose outcome is unknown (timeout or failure after sending) is NEVER retried:
 *   it throws with `outcomeUnknown: true` and the caller queries by clientOid.
 * - Credentials and signatures never appear in errors or logs (redactSecrets).
 */
import type { z } from "zod";
import type { Logger } from "../ops/log.ts";
import { silentLogger } from "../ops/log.ts";
import { type BitgetCredentials, buildQuery, signedHeaders } from "./sign.ts";
import {
  BitgetApiError,
  type BitgetApiErrorInit,
  type BitgetErrorKind,
  redactSecrets,
  type RequestPositionMode,
} from "./private_errors.ts";
import { parseRetryAfter, RateLimiter, type RateLimitOptions } from "./rate_limit.ts";
import * as S from "./private_schemas.ts";

export type PositionMode = RequestPositionMode;
/** A decimal request value: an exact string, or a number formatted without exponent. */
export type Decimal = string | number;

export interface PrivateRestOptions {
  /** `https://api.bitget.com` or a loopback server. */
  baseUrl: string;
  credentials: BitgetCredentials;
  /** Bitget demo trading: `paptrading: 1` on signed requests (API.md §8). */
  demo: boolean;
  /** Default `USDT-FUTURES`. */
  productType?: string;
  /** Default `USDT` (sent upper case). */
  marginCoin?: string;
  /** Per-attempt timeout (ms, default 10 000). */
  timeoutMs?: number;
  logger?: Logger;
  /** Overrides of the documented limits (tests); ignored when `rateLimiter` is given. */
  rateLimits?: Partial<RateLimitOptions>;
  /** A limiter shared by all clients of one UID. */
  rateLimiter?: RateLimiter;
  /** Retries after the first attempt (default 3). */
  maxRetries?: number;
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  /** Local clock, epoch ms (default Date.now). */
  now?: () => number;
  /** Sync server time before the first signed request (default true). */
  autoSyncTime?: boolean;
  /** Re-sync when the last sync is older than this (ms, default 30 min). */
  resyncIntervalMs?: number;
  /** Called right before `fetch` with the endpoint path and `performance.now()`. */
  onRequestWritten?: (endpoint: string, perfNow: number) => void;
  /**
   * Called once per request with the endpoint path and the HTTP status, or `timeout` / `network`
   * when no answer came (the metrics' REST counters).
   */
  onResponse?: (endpoint: string, status: number | "timeout" | "network") => void;
}

export type EndpointStats = {
  requests: number;
  rateLimited: number;
  retries: number;
  failures: number;
};

interface Call<T> {
  method: "GET" | "POST";
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: Record<string, unknown>;
  schema: z.ZodType<T, z.ZodTypeDef, unknown>;
  signed?: boolean;
  mode?: PositionMode;
}

export interface PlaceOrderParams {
  symbol: string;
  /** The account's position mode: decides tradeSide (hedge) vs reduceOnly (one-way), §5.3. */
  positionMode: PositionMode;
  marginMode: "crossed" | "isolated";
  side: "buy" | "sell";
  /** Hedge mode only (required there). */
  tradeSide?: "open" | "close";
  orderType: "limit" | "market";
  size: Decimal;
  /** Required for limit orders. */
  price?: Decimal;
  force?: "gtc" | "ioc" | "fok" | "post_only";
  /** `[0-9a-zA-Z-+_#]`, < 50 chars (40304/40305 otherwise). */
  clientOid?: string;
  /** One-way mode only, sent as "YES"/"NO". */
  reduceOnly?: boolean;
  presetStopSurplusPrice?: Decimal;
  presetStopLossPrice?: Decimal;
  stpMode?: "none" | "cancel_taker" | "cancel_maker" | "cancel_both";
}

export type TpslPlanType = "pos_loss" | "pos_profit" | "moving_plan" | "profit_plan" | "loss_plan";

export interface TpslOrderParams {
  symbol: string;
  planType: TpslPlanType;
  triggerPrice: Decimal;
  triggerType?: "fill_price" | "mark_price";
  /** 0 / absent = market. */
  executePrice?: Decimal;
  /** Hedge: long/short; one-way: buy/sell = the position's side (see `tpslHoldSide`). */
  holdSide: "long" | "short" | "buy" | "sell";
  /** Required for profit_plan / loss_plan / moving_plan. */
  size?: Decimal;
  /** moving_plan callback rate. */
  rangeRate?: Decimal;
  clientOid?: string;
  stpMode?: PlaceOrderParams["stpMode"];
}

export interface PageQuery {
  symbol?: string;
  orderId?: string;
  clientOid?: string;
  startTime?: number;
  endTime?: number;
  /** Rows per page (≤ 100, default 100). */
  limit?: number;
  /** Pages to follow via idLessThan/endId (default 20). */
  maxPages?: number;
}

export type PlanQueryType = "normal_plan" | "track_plan" | "profit_loss";

export interface LeverageParams {
  symbol: string;
  leverage?: Decimal;
  longLeverage?: Decimal;
  shortLeverage?: Decimal;
  /** Isolated hedge only. */
  holdSide?: "long" | "short";
}

export type OrderRef = { orderId?: string; clientOid?: string };

/** holdSide of a TP/SL order for a position `direction` in `mode` (API.md §5.7). */
export function tpslHoldSide(
  mode: PositionMode,
  direction: "long" | "short",
): TpslOrderParams["holdSide"] {
  return mode === "hedge" ? direction : direction === "long" ? "buy" : "sell";
}

const TIME = "/api/v2/public/time";
const MIX = "/api/v2/mix";
const CLIENT_OID = /^[0-9a-zA-Z\-+_#]{1,49}$/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Connect-phase failures (nothing was sent). */
const NEVER_SENT = /\(Connect\)|tcp connect error|connection refused|dns error|failed to lookup/i;

function compact(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== ""));
}
const decOpt = (v: Decimal | undefined) => (v === undefined ? undefined : S.toDecimalString(v));
function checkOid(oid: string | undefined): string | undefined {
  if (oid !== undefined && !CLIENT_OID.test(oid)) {
    throw new RangeError(`clientOid "${oid}" must be 1-49 chars of [0-9a-zA-Z-+_#]`);
  }
  return oid;
}
/** `{orderId}` when given (it wins, API.md §5.4), else `{clientOid}`. */
const ref = (r: OrderRef): OrderRef =>
  r.orderId ? { orderId: r.orderId } : { clientOid: r.clientOid };
function oneRef(what: string, r: OrderRef): void {
  if (!r.orderId && !r.clientOid) throw new TypeError(`${what}: orderId or clientOid required`);
}

export class BitgetPrivateRest {
  readonly productType: string;
  readonly marginCoin: string;
  readonly limiter: RateLimiter;
  private readonly log: Logger;
  private readonly now: () => number;
  private offset = 0;
  private lastSync: number | null = null;
  private firstSync: Promise<void> | null = null;
  private firstSyncDone = false;
  private syncing: Promise<{ offsetMs: number; rttMs: number }> | null = null;
  private readonly counters = new Map<string, EndpointStats>();

  constructor(readonly opts: PrivateRestOptions) {
    this.productType = opts.productType ?? "USDT-FUTURES";
    this.marginCoin = (opts.marginCoin ?? "USDT").toUpperCase();
    this.limiter = opts.rateLimiter ?? new RateLimiter(opts.rateLimits);
    this.log = (opts.logger ?? silentLogger).child({ component: "rest-private" });
    this.now = opts.now ?? Date.now;
  }

  /** Server-time offset in ms (serverTime − local time). */
  timeOffsetMs(): number {
    return this.offset;
  }
  /** Estimated server time (epoch ms): the clock used for ACCESS-TIMESTAMP and WS login. */
  serverNow(): number {
    return this.now() + this.offset;
  }

  /** Reads `/api/v2/public/time` and sets the offset. Concurrent calls share one request. */
  syncTime(): Promise<{ offsetMs: number; rttMs: number }> {
    this.syncing ??= (async () => {
      const r = await this.exec({
        method: "GET",
        path: TIME,
        schema: S.ServerTimeSchema,
        signed: false,
      });
      this.offset = Math.round(r.data.serverTime - (r.sentAt + r.recvAt) / 2);
      this.lastSync = this.now();
      this.firstSyncDone = true;
      this.log.info("server time synced", { offsetMs: this.offset, rttMs: r.recvAt - r.sentAt });
      return { offsetMs: this.offset, rttMs: r.recvAt - r.sentAt };
    })().finally(() => this.syncing = null);
    return this.syncing;
  }

  stats(): { endpoints: Record<string, EndpointStats>; timeOffsetMs: number } {
    return { endpoints: Object.fromEntries(this.counters), timeOffsetMs: this.offset };
  }

  // ---- accounts and positions (API.md §5.1, §5.6) ----------------------------------------------

  accounts(): Promise<S.AccountRow[]> {
    return this.get(`${MIX}/account/accounts`, { productType: this.productType }, S.AccountsSchema);
  }
  /** One margin account with its leverage and margin/position modes. */
  account(symbol: string): Promise<S.SingleAccount> {
    return this.get(`${MIX}/account/account`, this.scope(symbol), S.SingleAccountSchema);
  }
  allPositions(): Promise<S.PositionRow[]> {
    return this.get(`${MIX}/position/all-position`, this.scope(), S.PositionsSchema);
  }
  /** Up to two rows (hedge mode); [] when flat. */
  singlePosition(symbol: string): Promise<S.PositionRow[]> {
    return this.get(`${MIX}/position/single-position`, this.scope(symbol), S.PositionsSchema);
  }

  // ---- order queries (API.md §5.5, §5.7) -------------------------------------------------------

  /** Every open order, following `idLessThan` = `endId` until a short or empty page. */
  ordersPending(
    q: PageQuery & { status?: "live" | "partially_filled" } = {},
  ): Promise<S.OrderRow[]> {
    const path = `${MIX}/order/orders-pending`;
    return this.paged(path, q, S.OrdersPageSchema, "entrustedList");
  }
  /** Closed orders (newest first), paged like ordersPending. */
  ordersHistory(q: PageQuery = {}): Promise<S.OrderRow[]> {
    return this.paged(`${MIX}/order/orders-history`, q, S.OrdersPageSchema, "entrustedList");
  }
  /** Fills by orderId and/or symbol / time range, paged. */
  fills(q: PageQuery = {}): Promise<S.FillRow[]> {
    return this.paged(`${MIX}/order/fills`, q, S.FillsPageSchema, "fillList");
  }
  /** Pending plan / TP-SL orders (`profit_loss` = every TP/SL plan). */
  ordersPlanPending(q: PageQuery & { planType: PlanQueryType }): Promise<S.PlanOrderRow[]> {
    const path = `${MIX}/order/orders-plan-pending`;
    return this.paged(path, q, S.PlanOrdersPageSchema, "entrustedList");
  }
  /** One order by orderId or clientOid; null when Bitget says it does not exist (isNotFound). */
  async orderDetail(q: { symbol: string } & OrderRef): Promise<S.OrderRow | null> {
    oneRef("orderDetail", q);
    const query = { symbol: q.symbol, productType: this.productType, ...ref(q) };
    try {
      return await this.get(`${MIX}/order/detail`, query, S.OrderRowSchema);
    } catch (e) {
      if (e instanceof BitgetApiError && e.isNotFound) return null;
      throw e;
    }
  }

  // ---- trading (API.md §5.3, §5.4, §5.6, §5.7) -------------------------------------------------

  /**
   * Places one order. Throws BitgetApiError: `isDuplicateClientOid` (40786) → already placed;
   * `outcomeUnknown` → query by clientOid, do not resend. TypeError/RangeError on bad params.
   */
  placeOrder(p: PlaceOrderParams): Promise<S.OrderIdResult> {
    const hedge = p.positionMode === "hedge";
    if (hedge && !p.tradeSide) throw new TypeError("placeOrder: hedge mode needs tradeSide");
    if (hedge && p.reduceOnly && p.tradeSide !== "close") {
      throw new TypeError("placeOrder: in hedge mode reduce-only means tradeSide close");
    }
    const limit = p.orderType === "limit";
    if (limit && p.price === undefined) throw new TypeError("placeOrder: limit order needs price");
    const reduceOnly = hedge || p.reduceOnly === undefined
      ? undefined
      : p.reduceOnly
      ? "YES"
      : "NO";
    const body = compact({
      ...this.scope(p.symbol),
      marginMode: p.marginMode,
      size: S.toDecimalString(p.size),
      price: limit ? decOpt(p.price) : undefined,
      side: p.side,
      tradeSide: hedge ? p.tradeSide : undefined,
      orderType: p.orderType,
      force: limit ? p.force : undefined,
      clientOid: checkOid(p.clientOid),
      reduceOnly,
      presetStopSurplusPrice: decOpt(p.presetStopSurplusPrice),
      presetStopLossPrice: decOpt(p.presetStopLossPrice),
      stpMode: p.stpMode,
    });
    return this.post(`${MIX}/order/place-order`, body, S.OrderIdSchema, p.positionMode);
  }
  /** Cancels by orderId (wins) or clientOid. */
  cancelOrder(q: { symbol: string } & OrderRef): Promise<S.OrderIdResult> {
    oneRef("cancelOrder", q);
    const body = compact({ ...this.scope(q.symbol), ...ref(q) });
    return this.post(`${MIX}/order/cancel-order`, body, S.OrderIdSchema);
  }
  /** Cancels the listed orders (≤ 50) of `symbol`, or every order of the symbol / product type. */
  batchCancelOrders(q: { symbol?: string; orders?: OrderRef[] } = {}): Promise<S.BatchResult> {
    if (q.orders && !q.symbol) throw new TypeError("batchCancelOrders: a list needs symbol");
    const body = compact({ ...this.scope(q.symbol), orderIdList: q.orders?.map(ref) });
    return this.post(`${MIX}/order/batch-cancel-orders`, body, S.BatchResultSchema);
  }
  /** Flash close at market (1/s); hedge: `holdSide` picks one side, omitted = both. */
  closePositions(q: { symbol?: string; holdSide?: "long" | "short" } = {}): Promise<S.BatchResult> {
    const body = compact({ symbol: q.symbol, productType: this.productType, holdSide: q.holdSide });
    return this.post(`${MIX}/order/close-positions`, body, S.BatchResultSchema);
  }
  /** TP/SL on an existing position (API.md §5.7). */
  placeTpslOrder(p: TpslOrderParams): Promise<S.OrderIdResult> {
    if (!p.planType.startsWith("pos_") && p.size === undefined) {
      throw new TypeError(`placeTpslOrder: ${p.planType} needs size`);
    }
    if (p.planType === "moving_plan" && p.rangeRate === undefined) {
      throw new TypeError("placeTpslOrder: moving_plan needs rangeRate");
    }
    const body = compact({
      ...this.scope(p.symbol),
      planType: p.planType,
      triggerPrice: S.toDecimalString(p.triggerPrice),
      triggerType: p.triggerType,
      executePrice: decOpt(p.executePrice),
      holdSide: p.holdSide,
      size: decOpt(p.size),
      rangeRate: decOpt(p.rangeRate),
      clientOid: checkOid(p.clientOid),
      stpMode: p.stpMode,
    });
    const mode = p.holdSide === "long" || p.holdSide === "short" ? "hedge" : "one_way";
    return this.post(`${MIX}/order/place-tpsl-order`, body, S.OrderIdSchema, mode);
  }
  /** Cancels plan orders (by list, or all of `planType` for the symbol / product type). */
  cancelPlanOrder(
    q: { symbol?: string; planType?: string; orders?: OrderRef[] } = {},
  ): Promise<S.BatchResult> {
    const body = compact({
      ...this.scope(q.symbol),
      planType: q.planType,
      orderIdList: q.orders?.map(ref),
    });
    return this.post(`${MIX}/order/cancel-plan-order`, body, S.BatchResultSchema);
  }

  // ---- settings (API.md §5.2) ------------------------------------------------------------------

  /** `leverage` (cross / one-way isolated) or `longLeverage`/`shortLeverage` (isolated hedge). */
  setLeverage(q: LeverageParams): Promise<S.LeverageResult> {
    if (q.leverage === undefined && q.longLeverage === undefined && q.shortLeverage === undefined) {
      throw new TypeError("setLeverage: leverage or longLeverage/shortLeverage required");
    }
    const body = compact({
      ...this.scope(q.symbol),
      leverage: decOpt(q.leverage),
      longLeverage: decOpt(q.longLeverage),
      shortLeverage: decOpt(q.shortLeverage),
      holdSide: q.holdSide,
    });
    return this.post(`${MIX}/account/set-leverage`, body, S.LeverageResultSchema);
  }
  /** Fails while the symbol has positions or orders. */
  setMarginMode(symbol: string, marginMode: "crossed" | "isolated"): Promise<S.LeverageResult> {
    const body = { ...this.scope(symbol), marginMode };
    return this.post(`${MIX}/account/set-margin-mode`, body, S.LeverageResultSchema);
  }
  /** Applies to the whole product type; fails (40920) while positions/orders exist. */
  setPositionMode(mode: PositionMode): Promise<S.PositionModeResult> {
    const posMode = mode === "hedge" ? "hedge_mode" : "one_way_mode";
    const body = { productType: this.productType, posMode };
    return this.post(`${MIX}/account/set-position-mode`, body, S.PositionModeResultSchema);
  }

  // ---- core ----------------------------------------------------------------------------------

  /** `{symbol, productType, marginCoin}` (symbol omitted when undefined). */
  private scope(symbol?: string) {
    return { symbol, productType: this.productType, marginCoin: this.marginCoin };
  }

  private get<T>(
    path: string,
    query: Record<string, string | number | undefined>,
    schema: z.ZodType<T, z.ZodTypeDef, unknown>,
  ): Promise<T> {
    return this.call({ method: "GET", path, query, schema });
  }

  private post<T>(
    path: string,
    body: Record<string, unknown>,
    schema: z.ZodType<T, z.ZodTypeDef, unknown>,
    mode?: PositionMode,
  ): Promise<T> {
    return this.call({ method: "POST", path, body, schema, mode });
  }

  private async paged<T, K extends string>(
    path: string,
    q: PageQuery & { status?: string; planType?: string },
    schema: z.ZodType<{ [P in K]: T[] } & { endId: string | null }, z.ZodTypeDef, unknown>,
    key: K,
  ): Promise<T[]> {
    const { maxPages = 20, ...filters } = q;
    const limit = Math.min(100, q.limit ?? 100);
    const out: T[] = [];
    let idLessThan: string | undefined;
    for (let i = 0; i < maxPages; i++) {
      const query = { productType: this.productType, ...filters, limit, idLessThan };
      const page = await this.get(path, query, schema);
      const rows = page[key];
      out.push(...rows);
      if (rows.length < limit || !page.endId || page.endId === idLessThan) break;
      idLessThan = page.endId;
    }
    return out;
  }

  private counter(path: string): EndpointStats {
    let c = this.counters.get(path);
    if (!c) this.counters.set(path, c = { requests: 0, rateLimited: 0, retries: 0, failures: 0 });
    return c;
  }

  private async call<T>(c: Call<T>): Promise<T> {
    return (await this.exec(c)).data;
  }

  /** One logical request with its retries; `sentAt`/`recvAt` = local clock around the last try. */
  private async exec<T>(c: Call<T>): Promise<{ data: T; sentAt: number; recvAt: number }> {
    const signed = c.signed ?? true;
    const query = buildQuery(c.query ?? {});
    const body = c.method === "POST" ? JSON.stringify(c.body ?? {}) : "";
    const maxRetries = this.opts.maxRetries ?? 3;
    const stats = this.counter(c.path);
    let resynced = false;
    for (let attempt = 0;;) {
      // Synced and fresh: no await, so the request can leave in its decision's turn.
      if (signed && !this.syncFresh()) await this.ensureSynced();
      try {
        return await this.once(c, signed, query, body);
      } catch (e) {
        if (!(e instanceof BitgetApiError)) throw e;
        if (e.isRateLimited) stats.rateLimited++;
        if (signed && e.isTimestampError && !resynced) {
          resynced = true;
          this.log.warn("timestamp refused, re-syncing time", { path: c.path, code: e.code });
          await this.syncTime().catch(() => {});
          continue;
        }
        if (!e.retryable || attempt >= maxRetries) {
          stats.failures++;
          throw e;
        }
        attempt++;
        stats.retries++;
        const base = (this.opts.retryBaseDelayMs ?? 250) * 2 ** (attempt - 1);
        const ceiling = Math.min(this.opts.retryMaxDelayMs ?? 5000, base);
        // A 429 already blocks the endpoint in the limiter; other retries back off here.
        const delay = e.isRateLimited ? 0 : ceiling / 2 + Math.random() * ceiling / 2;
        const fields = { path: c.path, attempt, code: e.code, delayMs: Math.round(delay) };
        this.log.warn("retrying request", fields);
        if (delay > 0) await sleep(delay);
      }
    }
  }

  /** True once the first sync attempt ended and the last sync is younger than the interval. */
  private syncFresh(): boolean {
    if (this.opts.autoSyncTime === false) return true;
    if (!this.firstSyncDone) return false;
    const age = this.lastSync === null ? 0 : this.now() - this.lastSync;
    return age <= (this.opts.resyncIntervalMs ?? 1_800_000);
  }

  /** The first signed request (and every concurrent one) waits for one sync attempt. */
  private async ensureSynced(): Promise<void> {
    if (this.opts.autoSyncTime === false) return;
    const warn = (e: unknown) => this.log.warn("server time sync failed", { err: String(e) });
    // One attempt; on failure the offset stays 0 and a 40005/40008 triggers a re-sync.
    if (!this.firstSyncDone) {
      this.firstSync ??= this.syncTime().then(() => {}, warn).finally(() => {
        this.firstSyncDone = true;
      });
      await this.firstSync;
    }
    const age = this.lastSync === null ? 0 : this.now() - this.lastSync;
    if (age > (this.opts.resyncIntervalMs ?? 1_800_000)) {
      this.lastSync = this.now();
      this.syncTime().catch(warn); // in the background; requests keep the current offset
    }
  }

  private async once<T>(
    c: Call<T>,
    signed: boolean,
    query: string,
    body: string,
  ): Promise<{ data: T; sentAt: number; recvAt: number }> {
    const safe = c.method === "GET";
    const creds = this.opts.credentials;
    if (!this.limiter.tryAcquire(c.path)) await this.limiter.acquire(c.path);
    const ts = String(Math.round(this.serverNow()));
    const headers: Record<string, string> = signed
      ? signedHeaders(creds, ts, c.method, c.path, query, body, this.opts.demo)
      : { "Content-Type": "application/json", "locale": "en-US" };
    const secrets = signed ? [headers["ACCESS-SIGN"]] : [];
    type Extra = Partial<Pick<BitgetApiErrorInit, "outcomeUnknown" | "retryable" | "retryAfterMs">>;
    const fail = (
      kind: BitgetErrorKind,
      code: string,
      st: number | null,
      msg: string,
      x: Extra = {},
    ) => {
      const detail = redactSecrets(msg, creds, secrets);
      const init = { kind, code, httpStatus: st, endpoint: c.path, detail, positionMode: c.mode };
      return new BitgetApiError({ ...init, ...x });
    };
    const url = this.opts.baseUrl.replace(/\/$/, "") + c.path + (query ? "?" + query : "");
    const timeoutMs = this.opts.timeoutMs ?? 10_000;
    this.counter(c.path).requests++;
    const sentAt = this.now();
    this.opts.onRequestWritten?.(c.path, performance.now());
    let res: Response;
    let text: string;
    try {
      const signal = AbortSignal.timeout(timeoutMs);
      res = await fetch(url, { method: c.method, headers, body: safe ? undefined : body, signal });
      text = await res.text();
    } catch (e) {
      const err = e as Error;
      const timeout = err.name === "TimeoutError" || err.name === "AbortError";
      const neverSent = !timeout && NEVER_SENT.test(err.message);
      const x = { outcomeUnknown: !safe && !neverSent, retryable: safe || neverSent };
      this.opts.onResponse?.(c.path, timeout ? "timeout" : "network");
      if (timeout) throw fail("timeout", "timeout", null, `no answer within ${timeoutMs} ms`, x);
      throw fail("network", "network", null, err.message, x);
    }
    const recvAt = this.now();
    const status = res.status;
    this.opts.onResponse?.(c.path, status);
    let env: S.Envelope | null = null;
    try {
      const p = S.EnvelopeSchema.safeParse(JSON.parse(text));
      if (p.success) env = p.data;
    } catch { /* not JSON: handled below */ }
    if (status === 429 || env?.code === "429") {
      const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
      this.limiter.onRateLimited(c.path, retryAfterMs);
      const x = { retryAfterMs, retryable: true };
      throw fail("api", "429", status, env?.msg ?? "Too Many Requests", x);
    }
    this.limiter.onSuccess(c.path);
    if (env === null) {
      const detail = `body is not a Bitget envelope: ${JSON.stringify(text.slice(0, 120))}`;
      const x = {
        outcomeUnknown: !safe && (res.ok || status >= 500),
        retryable: safe && status >= 500,
      };
      const kind = res.ok ? "parse" : "http";
      throw fail(kind, kind, status, detail, x);
    }
    if (env.code !== "00000") throw fail("api", env.code, status, env.msg ?? "");
    const parsed = c.schema.safeParse(env.data);
    if (!parsed.success) {
      const detail = `unexpected data: ${S.formatZodError(parsed.error)}`;
      throw fail("parse", "parse", status, detail, { outcomeUnknown: !safe, retryable: false });
    }
    return { data: parsed.data, sentAt, recvAt };
  }
}
