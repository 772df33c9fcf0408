/**
 * One sink's queue and delivery loop (AlertQueue runs one per sink). Messages go out one at a
 * time, in the order they were queued:
 *
 * - 429: waits what the answer asks (delivery.ts; 1 s when it does not say, at most
 *   `maxRateLimitWaitMs`) and sends the same message again, up to `maxRateLimitRetries` times.
 * - 5xx, network error, timeout: retried after a capped exponential backoff with jitter (ceiling
 *   `backoffBaseMs`·2^(n−1) ≤ `backoffMaxMs`, the wait between half the ceiling and it), at most
 *   `attempts` deliveries in all; then failed.
 * - other 4xx, or an event that cannot be formatted: failed at once.
 * - a 2xx with `X-RateLimit-Remaining: 0` pauses the sink until Discord's bucket resets.
 *
 * Bounded: past `maxQueue` waiting messages the oldest non-critical one is dropped (the oldest of
 * all when every one is critical), counted, and warned about (at most one log line per 5 s); the
 * next delivered message says how many were dropped. Failure reasons are a small fixed set (metric
 * labels, types.ts).
 */
import type { Logger } from "../log.ts";
import type { AlertTarget } from "./config.ts";
import { type Outcome, postOnce, redactor } from "./delivery.ts";
import type { AlertEvent } from "./events.ts";
import { Fifo } from "./fifo.ts";
import type { AlertCounters, FailReason, SinkStats } from "./types.ts";

export interface WorkerOptions {
  maxQueue: number;
  timeoutMs: number;
  attempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  maxRateLimitWaitMs: number;
  maxRateLimitRetries: number;
  fetch: typeof fetch;
  now: () => number;
  log: Logger;
  counters: AlertCounters;
  /** The request body for an event; `dropped` = alerts dropped since the last delivery. */
  format: (e: AlertEvent, dropped: number) => unknown;
}

export interface Entry {
  seq: number;
  event: AlertEvent;
  critical: boolean;
}

export class SinkWorker {
  private readonly normal = new Fifo<Entry>();
  private readonly critical = new Fifo<Entry>();
  private readonly redact: (text: string) => string;
  private readonly stop = new AbortController();
  private inFlight: Entry | null = null;
  private wake: (() => void) | null = null;
  private sleeper:
    | { timer: ReturnType<typeof setTimeout>; resolve: (slept: boolean) => void }
    | null = null;
  private pausedUntil = 0;
  private unreported = 0;
  private draining = false;
  private deadline = Infinity;
  private lastDropLog = -Infinity;
  private dropsSinceLog = 0;
  readonly s = { sent: 0, failed: 0, dropped: 0, retries: 0, rateLimited: 0 };
  private lastError: string | null = null;
  private lastSentTs: number | null = null;
  /** Settles when the loop has ended (drained or stopped). */
  readonly done: Promise<void>;

  constructor(readonly target: AlertTarget, private readonly o: WorkerOptions) {
    this.redact = redactor(target.url());
    this.done = this.loop();
  }

  get name(): string {
    return this.target.name;
  }

  /** Messages not delivered yet, the one in flight included. */
  pending(): number {
    return this.normal.length + this.critical.length + (this.inFlight ? 1 : 0);
  }

  enqueue(entry: Entry): void {
    if (this.normal.length + this.critical.length >= this.o.maxQueue) this.dropOldest();
    (entry.critical ? this.critical : this.normal).push(entry);
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Deliver what is queued, then end; sleeps that would end past `deadline` give up. */
  drain(deadline: number): void {
    this.draining = true;
    this.deadline = deadline;
    if (this.sleeper && this.o.now() >= deadline) this.cancelSleep();
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Ends the loop now (abort the request in flight); returns the undelivered count, failed. */
  async halt(): Promise<number> {
    this.stop.abort();
    this.cancelSleep();
    const w = this.wake;
    this.wake = null;
    w?.();
    await this.done;
    const left = this.inFlight ? [this.inFlight] : [];
    this.inFlight = null;
    for (const q of [this.normal, this.critical]) {
      for (let e = q.shift(); e; e = q.shift()) left.push(e);
    }
    for (const _ of left) {
      this.s.failed++;
      this.count(() => this.o.counters.failed(this.name, "closed"));
    }
    if (left.length) {
      this.lastError = "closed";
      this.o.log.warn("alerts undelivered at close", { sink: this.name, undelivered: left.length });
    }
    return left.length;
  }

  stats(): SinkStats {
    return {
      sink: this.name,
      queued: this.normal.length + this.critical.length,
      inFlight: this.inFlight !== null,
      ...this.s,
      lastError: this.lastError,
      lastSentTs: this.lastSentTs,
    };
  }

  private count(fn: () => void): void {
    try {
      fn();
    } catch {
      // a metrics hook must not break delivery
    }
  }

  private dropOldest(): void {
    const q = this.normal.length ? this.normal : this.critical;
    const e = q.shift();
    if (!e) return;
    this.s.dropped++;
    this.unreported++;
    this.dropsSinceLog++;
    this.count(() => this.o.counters.dropped(this.name));
    const now = this.o.now();
    if (now - this.lastDropLog >= 5000) {
      this.o.log.warn("alert queue full: dropped the oldest alert", {
        sink: this.name,
        type: e.event.type,
        dropped: this.dropsSinceLog,
        maxQueue: this.o.maxQueue,
      });
      this.lastDropLog = now;
      this.dropsSinceLog = 0;
    }
  }

  private take(): Entry | undefined {
    const a = this.normal.peek(), b = this.critical.peek();
    if (!a) return this.critical.shift();
    if (!b) return this.normal.shift();
    return a.seq < b.seq ? this.normal.shift() : this.critical.shift();
  }

  private fail(e: Entry, reason: FailReason, fields: Record<string, unknown> = {}): void {
    this.s.failed++;
    this.lastError = reason;
    this.count(() => this.o.counters.failed(this.name, reason));
    this.o.log.error("alert delivery failed", {
      sink: this.name,
      type: e.event.type,
      reason,
      ...fields,
    });
  }

  private cancelSleep(): void {
    const s = this.sleeper;
    this.sleeper = null;
    if (s) {
      clearTimeout(s.timer);
      s.resolve(false);
    }
  }

  /** false: cut short (stopped, or draining and it would end past the deadline). */
  private sleep(ms: number): Promise<boolean> {
    if (this.stop.signal.aborted) return Promise.resolve(false);
    if (this.draining && this.o.now() + ms > this.deadline) return Promise.resolve(false);
    if (ms <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleeper = null;
        resolve(true);
      }, ms);
      this.sleeper = { timer, resolve };
    });
  }

  private async loop(): Promise<void> {
    // Let the constructor finish before the first await settles.
    await Promise.resolve();
    while (!this.stop.signal.aborted) {
      const e = this.take();
      if (!e) {
        if (this.draining) return;
        await new Promise<void>((r) => (this.wake = r));
        continue;
      }
      this.inFlight = e;
      let finished = true;
      try {
        finished = await this.deliver(e);
      } catch (err) {
        this.fail(e, "internal", { error: this.redact(String((err as Error)?.message ?? err)) });
      }
      if (!finished) return; // stopped: halt() counts the one in flight
      this.inFlight = null;
    }
  }

  /** true: delivered or failed for good; false: stopped before either. */
  private async deliver(e: Entry): Promise<boolean> {
    const note = this.unreported;
    let body: string;
    try {
      body = JSON.stringify(this.o.format(e.event, note));
    } catch (err) {
      this.fail(e, "format", { error: this.redact(String((err as Error)?.message ?? err)) });
      return true;
    }
    let failures = 0, limited = 0;
    for (;;) {
      const wait = this.pausedUntil - this.o.now();
      if (wait > 0 && !(await this.sleep(wait))) return false;
      const url = this.target.url();
      const r: Outcome = await postOnce(
        this.o.fetch,
        url,
        body,
        this.o.timeoutMs,
        this.stop.signal,
        this.redact,
      );
      const base = { sink: this.name, type: e.event.type };
      switch (r.kind) {
        case "ok":
          if (note > 0) this.o.log.warn("alert delivered after drops", { ...base, dropped: note });
          this.unreported = Math.max(0, this.unreported - note);
          this.s.sent++;
          this.lastSentTs = this.o.now();
          this.count(() => this.o.counters.sent(this.name));
          if (r.pauseMs !== null) this.pausedUntil = this.o.now() + r.pauseMs;
          return true;
        case "aborted":
          return false;
        case "rate_limited": {
          this.s.rateLimited++;
          if (++limited > this.o.maxRateLimitRetries) {
            this.fail(e, "rate_limited", { status: 429, rateLimited: limited });
            return true;
          }
          const ms = Math.min(r.waitMs ?? 1000, this.o.maxRateLimitWaitMs);
          this.o.log.warn("alert rate limited; waiting", {
            ...base,
            waitMs: ms,
            global: r.global,
            scope: r.scope,
          });
          if (!(await this.sleep(ms))) return false;
          continue;
        }
        case "client_error":
          this.fail(e, "client_error", { status: r.status, detail: r.detail });
          return true;
      }
      // server_error, network, timeout: retried with backoff.
      failures++;
      const status = r.kind === "server_error" ? r.status : undefined;
      const detail = r.kind === "network" ? r.detail : undefined;
      if (failures >= this.o.attempts) {
        this.fail(e, r.kind, { status, detail, attempts: failures });
        return true;
      }
      const ceiling = Math.min(this.o.backoffMaxMs, this.o.backoffBaseMs * 2 ** (failures - 1));
      const delay = Math.round(ceiling / 2 + Math.random() * ceiling / 2);
      this.s.retries++;
      this.lastError = r.kind;
      this.o.log.warn("alert delivery retry", {
        ...base,
        reason: r.kind,
        status,
        detail,
        attempt: failures,
        delayMs: delay,
      });
      if (!(await this.sleep(delay))) return false;
    }
  }
}
