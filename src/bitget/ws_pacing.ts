/**
 * Outbound discipline for a Bitget public WebSocket (API.md §1.1): subscribe args split into
 * messages of ≤ maxArgs and ≤ 4096 bytes, a message pacer that never exceeds the per-connection
 * rate in any sliding second, the hourly subscribe budget, and the reconnect backoff.
 */
import type { SubArg } from "./wire.ts";

/** Max bytes of the serialized args of one subscribe/unsubscribe message (API.md §1.1). */
export const MAX_ARG_BYTES = 4096;
const HOUR = 3_600_000;
const enc = new TextEncoder();

/**
 * Splits args into message-sized groups: ≤ maxArgs per group and ≤ maxBytes of serialized args.
 * A single arg larger than maxBytes still forms its own group (the server will refuse it).
 */
export function chunkArgs(
  args: readonly SubArg[],
  maxArgs: number,
  maxBytes = MAX_ARG_BYTES,
): SubArg[][] {
  const out: SubArg[][] = [];
  let cur: SubArg[] = [];
  let bytes = 2; // "[" + "]"
  for (const a of args) {
    const b = enc.encode(JSON.stringify(a)).length;
    // +1 for the comma that joins this arg to the previous one.
    if (cur.length > 0 && (cur.length >= maxArgs || bytes + 1 + b > maxBytes)) {
      out.push(cur);
      cur = [];
      bytes = 2;
    }
    bytes += (cur.length > 0 ? 1 : 0) + b;
    cur.push(a);
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/**
 * Message pacer: at most `n = max(1, ⌊rate⌋)` sends in any window of max(1 s, n/rate s) + margin,
 * and consecutive sends at least `1/rate` s apart — so no sliding second ever holds more than
 * `rate` messages (e.g. rate 2.5 → 2 per second, rate 0.5 → one per 2 s). Times are ms.
 */
export class SendPacer {
  private readonly n: number;
  private readonly window: number;
  private readonly spacing: number;
  private readonly times: number[] = [];
  constructor(ratePerSecond: number, marginMs = 50) {
    this.n = Math.max(1, Math.floor(ratePerSecond));
    this.window = Math.max(1000, (this.n / ratePerSecond) * 1000) + marginMs;
    this.spacing = 1000 / ratePerSecond;
  }
  /** Milliseconds to wait before the next send is allowed (0 = now). */
  waitMs(now: number): number {
    const t = this.times;
    let w = 0;
    if (t.length > 0) w = t[t.length - 1] + this.spacing - now;
    if (t.length >= this.n) w = Math.max(w, t[t.length - this.n] + this.window - now);
    return Math.max(0, w);
  }
  record(now: number): void {
    this.times.push(now);
    if (this.times.length > this.n) this.times.shift();
  }
  reset(): void {
    this.times.length = 0;
  }
}

/** Sliding one-hour budget of subscribe args. */
export class HourBudget {
  private readonly log: Array<[number, number]> = [];
  private used = 0;
  constructor(readonly cap: number) {}
  private expire(now: number): void {
    while (this.log.length > 0 && this.log[0][0] <= now - HOUR) this.used -= this.log.shift()![1];
  }
  /** Milliseconds until `n` more subscribes fit (0 = now). */
  waitMs(now: number, n: number): number {
    this.expire(now);
    let free = this.cap - this.used;
    if (free >= n) return 0;
    for (const [t, k] of this.log) {
      free += k;
      if (free >= n) return t + HOUR - now;
    }
    return HOUR;
  }
  record(now: number, n: number): void {
    this.log.push([now, n]);
    this.used += n;
  }
  reset(): void {
    this.log.length = 0;
    this.used = 0;
  }
}

/**
 * Reconnect delay (ms) for the `attempt`-th consecutive failure (0-based): full jitter,
 * uniform in [0, min(max, min·2^attempt)) (AWS Architecture Blog, "Exponential Backoff And Jitter").
 * After a rate-limit error (`penalized`) the delay is never below half the ceiling.
 */
export function reconnectDelay(
  attempt: number,
  minDelay: number,
  maxDelay: number,
  penalized: boolean,
  rand: () => number = Math.random,
): number {
  const ceiling = Math.min(Math.max(minDelay, maxDelay), minDelay * 2 ** attempt);
  return penalized ? ceiling / 2 + rand() * ceiling / 2 : rand() * ceiling;
}
