/**
 * AlertQueue: the daemon's one handle on alerting. `send(event)` is synchronous and O(1) per sink,
 * never throws and never waits on the network: it filters by enabled type, copies the event and
 * puts it on each sink's bounded queue (sink_worker.ts: ordered delivery, 429 / retry / drop
 * rules). `close(timeoutMs)` delivers what it can within the timeout, then aborts and returns the
 * number of messages left undelivered (counted failed with reason "closed").
 *
 * Secrets: sinks are named "discord" / "webhook" in every log line, stat and counter call; the
 * URL is only ever passed to fetch.
 */
import { type Logger, silentLogger } from "../log.ts";
import type { AlertsConfig, AlertTarget } from "./config.ts";
import { discordPayload } from "./discord.ts";
import { type AlertEvent, type AlertType, isCritical } from "./events.ts";
import { SinkWorker } from "./sink_worker.ts";
import type { AlertCounters, SinkStats } from "./types.ts";
import { webhookPayload } from "./webhook.ts";

export type { AlertCounters, FailReason, SinkStats } from "./types.ts";

export interface AlertQueueOptions {
  /** From alertSinksFromEnv; none = every send is a no-op. */
  sinks: readonly AlertTarget[];
  /** Types sent (default all). */
  events?: readonly AlertType[];
  /** Waiting messages per sink (default 1000). */
  maxQueue?: number;
  /** Per-request timeout, ms (default 5000). */
  timeoutMs?: number;
  /** Deliveries on 5xx / network error / timeout before failing (default 5). */
  attempts?: number;
  /** First backoff ceiling, ms (default 500); doubles per failure up to backoffMaxMs (30 000). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Longest single wait a 429 may impose, ms (default 10 min). */
  maxRateLimitWaitMs?: number;
  /** 429s obeyed for one message before it fails (default 20). */
  maxRateLimitRetries?: number;
  /** Discord display name (default: the webhook's own). */
  username?: string;
  logger?: Logger;
  counters?: AlertCounters;
  /** Injected for tests; default the global fetch. */
  fetch?: typeof fetch;
  now?: () => number;
}

export interface AlertStats {
  closed: boolean;
  sinks: SinkStats[];
}

const noCounters: AlertCounters = { sent() {}, failed() {}, dropped() {} };

export class AlertQueue {
  private readonly workers: SinkWorker[];
  private readonly enabled: ReadonlySet<AlertType> | null;
  private readonly log: Logger;
  private seq = 0;
  private closed = false;
  private closing: Promise<number> | null = null;
  private readonly now: () => number;

  constructor(opts: AlertQueueOptions) {
    this.log = (opts.logger ?? silentLogger).child({ component: "alerts" });
    this.enabled = opts.events ? new Set(opts.events) : null;
    const now = this.now = opts.now ?? Date.now;
    const doFetch = opts.fetch ?? ((input, init) => fetch(input, init));
    this.workers = opts.sinks.map((target) =>
      new SinkWorker(target, {
        maxQueue: Math.max(1, opts.maxQueue ?? 1000),
        timeoutMs: opts.timeoutMs ?? 5000,
        attempts: Math.max(1, opts.attempts ?? 5),
        backoffBaseMs: opts.backoffBaseMs ?? 500,
        backoffMaxMs: opts.backoffMaxMs ?? 30_000,
        maxRateLimitWaitMs: opts.maxRateLimitWaitMs ?? 600_000,
        maxRateLimitRetries: opts.maxRateLimitRetries ?? 20,
        fetch: doFetch,
        now,
        log: this.log,
        counters: opts.counters ?? noCounters,
        format: target.name === "discord"
          ? (e, dropped) => discordPayload(e, { username: opts.username, dropped })
          : (e, dropped) => webhookPayload(e, { dropped }),
      })
    );
    this.log.info("alerts ready", { sinks: this.workers.map((w) => w.name) });
  }

  /** Sink names in use ("discord", "webhook"). */
  get sinks(): string[] {
    return this.workers.map((w) => w.name);
  }

  /** Queues `event` for every sink; false when it was not queued (closed, type disabled). */
  send(event: AlertEvent): boolean {
    try {
      if (this.closed || this.workers.length === 0) return false;
      if (this.enabled && !this.enabled.has(event.type)) return false;
      const entry = { seq: this.seq++, event: { ...event }, critical: isCritical(event) };
      for (const w of this.workers) w.enqueue(entry);
      return true;
    } catch {
      return false;
    }
  }

  stats(): AlertStats {
    return { closed: this.closed, sinks: this.workers.map((w) => w.stats()) };
  }

  /** Messages not yet delivered, over all sinks (in flight included). */
  pending(): number {
    return this.workers.reduce((n, w) => n + w.pending(), 0);
  }

  /**
   * Stops accepting alerts, delivers what is queued within `timeoutMs`, then aborts the rest.
   * Resolves to the number undelivered. Calling it again returns the same promise.
   */
  close(timeoutMs = 5000): Promise<number> {
    this.closing ??= this.shutdown(timeoutMs);
    return this.closing;
  }

  private async shutdown(timeoutMs: number): Promise<number> {
    this.closed = true;
    const deadline = this.now() + timeoutMs;
    for (const w of this.workers) w.drain(deadline);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, timeoutMs))));
    await Promise.race([Promise.all(this.workers.map((w) => w.done)), timeout]);
    clearTimeout(timer);
    const left = (await Promise.all(this.workers.map((w) => w.halt()))).reduce((a, b) => a + b, 0);
    this.log.info("alerts closed", { undelivered: left });
    return left;
  }
}

/** Queue options from the validated `alerts:` section and the sinks found in the environment. */
export function alertQueueOptions(
  config: AlertsConfig,
  sinks: readonly AlertTarget[],
  extra: Pick<AlertQueueOptions, "logger" | "counters" | "fetch" | "now"> = {},
): AlertQueueOptions {
  return {
    sinks,
    events: config.events,
    maxQueue: config.maxQueue,
    timeoutMs: config.timeout,
    attempts: config.attempts,
    username: config.username,
    ...extra,
  };
}
