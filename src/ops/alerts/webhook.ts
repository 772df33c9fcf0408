/**
 * AlertEvent → the body of the generic JSON webhook: the event itself, plain JSON, with `type`,
 * `ts` (epoch ms) and `mode` first, e.g.
 * `{"type":"trade_opened","ts":1746316800000,"mode":"live","symbol":"BTCUSDT",…}`.
 * Numbers are not rounded and sizes / prices keep their type (string stays string). When alerts
 * were dropped (queue full) before this one, `droppedBefore: N` is added. Non-finite numbers
 * become null (JSON has no NaN).
 */
import type { AlertEvent } from "./events.ts";

export type WebhookPayload = AlertEvent & { droppedBefore?: number };

export interface WebhookFormatOptions {
  /** Alerts dropped since the last delivered message. */
  dropped?: number;
}

export function webhookPayload(e: AlertEvent, opts: WebhookFormatOptions = {}): WebhookPayload {
  const { type, ts, mode, ...rest } = e;
  const out = { type, ts, mode, ...rest } as WebhookPayload;
  if (opts.dropped && opts.dropped > 0) out.droppedBefore = opts.dropped;
  return out;
}
