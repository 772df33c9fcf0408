/**
 * The queue's reporting types: failure reasons (a small fixed set, fit for metric labels), the
 * counters hook and the per-sink stats snapshot. Sinks are named "discord" / "webhook", never by
 * URL.
 *
 * Reasons: client_error (4xx other than 429, not retried), server_error / network / timeout (after
 * the last attempt), rate_limited (too many 429s for one message), format (the event could not be
 * formatted), internal (a bug), closed (still queued or in flight when close() gave up).
 */
export type FailReason =
  | "client_error"
  | "server_error"
  | "network"
  | "timeout"
  | "rate_limited"
  | "format"
  | "internal"
  | "closed";

/** Hooks for metrics (e.g. Prometheus counters labelled by sink). Exceptions are swallowed. */
export interface AlertCounters {
  sent(sink: string): void;
  failed(sink: string, reason: FailReason): void;
  dropped(sink: string): void;
}

export interface SinkStats {
  sink: string;
  /** Waiting, not counting the one in flight. */
  queued: number;
  inFlight: boolean;
  sent: number;
  failed: number;
  dropped: number;
  /** Re-sends after 5xx / network errors / timeouts. */
  retries: number;
  /** 429 answers obeyed. */
  rateLimited: number;
  lastError: string | null;
  lastSentTs: number | null;
}
