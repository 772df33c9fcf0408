/**
 * Client-side rate limits of Bitget's private REST API (API.md §5.8; per UID unless noted).
 *
 * - One TokenBucket (rest_public.ts) per endpoint path at the documented rate, burst 1 by default:
 *   requests to one endpoint are spaced 1/rate apart, so no sliding second sees more than ⌈rate⌉.
 * - One global bucket for Bitget's 6000 requests / minute / IP (API.md §5): burst `globalBurst`,
 *   refilled at (6000 − burst) / 60 per second, so no minute ever exceeds 6000.
 * - HTTP 429 (or body code 429) on an endpoint → that endpoint waits before its next request:
 *   Retry-After when the server sent one, else min(max, base · 2^streak) with equal jitter; the
 *   streak resets on the next success.
 *
 * Share one RateLimiter between all clients of the same UID (pass it in the client options).
 */
import { TokenBucket } from "./rest_public.ts";

/** Documented per-endpoint limits in requests per second (API.md §5.8). */
export const BITGET_PRIVATE_LIMITS: Readonly<Record<string, number>> = {
  "/api/v2/public/time": 20,
  "/api/v2/mix/account/accounts": 10,
  "/api/v2/mix/account/account": 10,
  "/api/v2/mix/account/set-leverage": 5,
  "/api/v2/mix/account/set-margin-mode": 5,
  "/api/v2/mix/account/set-position-mode": 5,
  "/api/v2/mix/position/all-position": 5,
  "/api/v2/mix/position/single-position": 10,
  "/api/v2/mix/order/place-order": 10,
  "/api/v2/mix/order/batch-place-order": 5,
  "/api/v2/mix/order/cancel-order": 10,
  "/api/v2/mix/order/batch-cancel-orders": 10,
  "/api/v2/mix/order/cancel-all-orders": 10,
  "/api/v2/mix/order/detail": 10,
  "/api/v2/mix/order/orders-pending": 10,
  // Not in API.md's table; Bitget's page for orders-history states the same 10/s as its siblings.
  "/api/v2/mix/order/orders-history": 10,
  "/api/v2/mix/order/fills": 10,
  "/api/v2/mix/order/close-positions": 1,
  "/api/v2/mix/order/place-plan-order": 10,
  "/api/v2/mix/order/place-tpsl-order": 10,
  "/api/v2/mix/order/place-pos-tpsl": 10,
  "/api/v2/mix/order/cancel-plan-order": 10,
  "/api/v2/mix/order/orders-plan-pending": 10,
};

export interface RateLimitOptions {
  /** Per-endpoint requests/s; merged over BITGET_PRIVATE_LIMITS. */
  perEndpoint: Record<string, number>;
  /** Requests/s for a path missing from the table (default 5, the lowest common limit). */
  defaultPerSecond: number;
  /** Per-endpoint burst (tokens); default 1. */
  burst: number;
  /** Global requests per minute (default 6000, Bitget's per-IP cap). */
  globalPerMinute: number;
  /** Global burst (default 20). */
  globalBurst: number;
  /** First 429 backoff (ms, default 1000). */
  backoffBaseMs: number;
  /** Largest 429 backoff (ms, default 30 000). Retry-After is honoured up to 5 × this. */
  backoffMaxMs: number;
}

export const DEFAULT_RATE_LIMITS: RateLimitOptions = {
  perEndpoint: { ...BITGET_PRIVATE_LIMITS },
  defaultPerSecond: 5,
  burst: 1,
  globalPerMinute: 6000,
  globalBurst: 20,
  backoffBaseMs: 1000,
  backoffMaxMs: 30_000,
};

interface EndpointState {
  bucket: TokenBucket;
  /** performance.now() before which no request may start (429 backoff). */
  blockedUntil: number;
  streak: number;
  waits: number;
}

export interface RateLimiterStats {
  /** Per endpoint: 429s seen, current backoff streak, and acquisitions that had to wait out one. */
  endpoints: Record<string, { rateLimited: number; streak: number; backoffWaits: number }>;
}

/**
 * Parses a Retry-After header (delta seconds or an HTTP date) into ms from `nowMs` (epoch ms).
 * Returns null when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, nowMs = Date.now()): number | null {
  if (value === null || value.trim() === "") return null;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - nowMs) : null;
}

export class RateLimiter {
  readonly opts: RateLimitOptions;
  private readonly endpoints = new Map<string, EndpointState>();
  private readonly global: TokenBucket;
  private readonly limited = new Map<string, number>();

  constructor(overrides: Partial<RateLimitOptions> = {}, private readonly rand = Math.random) {
    this.opts = {
      ...DEFAULT_RATE_LIMITS,
      ...overrides,
      perEndpoint: { ...DEFAULT_RATE_LIMITS.perEndpoint, ...overrides.perEndpoint },
    };
    const burst = Math.max(1, Math.min(this.opts.globalBurst, this.opts.globalPerMinute - 1));
    this.global = new TokenBucket((this.opts.globalPerMinute - burst) / 60, burst);
  }

  /** Requests per second allowed on `endpoint`. */
  rateOf(endpoint: string): number {
    return this.opts.perEndpoint[endpoint] ?? this.opts.defaultPerSecond;
  }

  private state(endpoint: string): EndpointState {
    let s = this.endpoints.get(endpoint);
    if (!s) {
      s = {
        bucket: new TokenBucket(this.rateOf(endpoint), this.opts.burst),
        blockedUntil: 0,
        streak: 0,
        waits: 0,
      };
      this.endpoints.set(endpoint, s);
    }
    return s;
  }

  /** Resolves when a request to `endpoint` may start (after any 429 backoff and both buckets). */
  /**
   * Takes the endpoint's and the global token synchronously when both are free and nobody is
   * queued; false (nothing taken) otherwise — then `acquire`.
   */
  tryAcquire(endpoint: string): boolean {
    const s = this.state(endpoint);
    if (s.blockedUntil > performance.now()) return false;
    if (!s.bucket.ready() || !this.global.ready()) return false;
    return s.bucket.tryTake() && this.global.tryTake();
  }

  async acquire(endpoint: string): Promise<void> {
    const s = this.state(endpoint);
    for (;;) {
      const wait = s.blockedUntil - performance.now();
      if (wait <= 0) break;
      s.waits++;
      await new Promise((r) => setTimeout(r, Math.ceil(wait)));
    }
    await s.bucket.take();
    await this.global.take();
  }

  /**
   * Records a 429 on `endpoint` and blocks it: `retryAfterMs` when given (capped at 5 ×
   * backoffMaxMs), else exponential backoff with equal jitter. Returns the delay (ms).
   */
  onRateLimited(endpoint: string, retryAfterMs: number | null = null): number {
    const s = this.state(endpoint);
    this.limited.set(endpoint, (this.limited.get(endpoint) ?? 0) + 1);
    let delay: number;
    if (retryAfterMs !== null && retryAfterMs >= 0) {
      delay = Math.min(retryAfterMs, this.opts.backoffMaxMs * 5);
    } else {
      const ceiling = Math.min(this.opts.backoffMaxMs, this.opts.backoffBaseMs * 2 ** s.streak);
      delay = ceiling / 2 + (this.rand() * ceiling) / 2;
    }
    s.streak++;
    s.blockedUntil = Math.max(s.blockedUntil, performance.now() + delay);
    return delay;
  }

  /** A non-429 answer on `endpoint`: the backoff streak starts over. */
  onSuccess(endpoint: string): void {
    const s = this.endpoints.get(endpoint);
    if (s) s.streak = 0;
  }

  stats(): RateLimiterStats {
    const endpoints: RateLimiterStats["endpoints"] = {};
    for (const [k, s] of this.endpoints) {
      endpoints[k] = {
        rateLimited: this.limited.get(k) ?? 0,
        streak: s.streak,
        backoffWaits: s.waits,
      };
    }
    return { endpoints };
  }
}
