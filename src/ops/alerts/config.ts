/**
 * The `alerts:` section of config.yaml and the sinks' URLs. Durations are stored as ms.
 *
 * URLs come only from the environment (they hold the webhook's secret token, so they are kept out
 * of config files): `DISCORD_WEBHOOK_URL` (Discord's Execute Webhook URL) and `ALERT_WEBHOOK_URL`
 * (any endpoint taking a JSON POST). Each must be https, or http to 127.0.0.1 / localhost / [::1]
 * (tests, a local relay). A bad or missing one is an AlertConfigError whose one-line message names
 * the variable, never its value. An AlertTarget holds the URL in a private field: it prints, logs
 * and serialises as its name only ("discord", "webhook").
 */
import { z } from "zod";
import { configDuration } from "../../config/zod_duration.ts";
import { ALERT_TYPES } from "./events.ts";

export const DISCORD_URL_ENV = "DISCORD_WEBHOOK_URL";
export const WEBHOOK_URL_ENV = "ALERT_WEBHOOK_URL";

export const AlertsConfigSchema = z.object({
  /** Post to Discord. Unset: on when DISCORD_WEBHOOK_URL is set; true with it unset is an error. */
  discord: z.boolean().optional(),
  /** POST JSON to ALERT_WEBHOOK_URL. Unset: on when the variable is set. */
  webhook: z.boolean().optional(),
  /** Event types sent; the others are ignored. */
  events: z.array(z.enum(ALERT_TYPES)).default([...ALERT_TYPES]),
  /** UTC time of day the daily summary is sent (HH:MM, 24 h). */
  dailySummaryUtc: z.string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, "expected a UTC time of day HH:MM such as 00:00 or 21:30")
    .default("00:00"),
  /** `count` reconnects of one feed within `window` raise one reconnect_storm alert. */
  reconnectStorm: z.object({
    count: z.number().int().min(2).default(5),
    window: configDuration("5m"),
  }).strict().default({}),
  /** Messages waiting per sink; past it the oldest non-critical one is dropped (and counted). */
  maxQueue: z.number().int().min(1).max(100_000).default(1000),
  /** Per-request timeout of a delivery. */
  timeout: configDuration("5s"),
  /** Deliveries of one message on 5xx / network errors / timeouts before it counts as failed. */
  attempts: z.number().int().min(1).max(20).default(5),
  /** Discord display name overriding the webhook's own (≤ 80 characters); unset = the webhook's. */
  username: z.string().min(1).max(80).optional(),
}).strict();

export type AlertsConfig = z.infer<typeof AlertsConfigSchema>;

export class AlertConfigError extends Error {
  override name = "AlertConfigError";
}

export type SinkKind = "discord" | "webhook";

/** Where alerts go. The URL is readable through `url()` only; everything else shows the name. */
export class AlertTarget {
  readonly #url: string;
  constructor(readonly name: SinkKind, url: string) {
    this.#url = url;
  }
  /** The secret URL: pass it to fetch, nowhere else. */
  url(): string {
    return this.#url;
  }
  toJSON(): { name: SinkKind } {
    return { name: this.name };
  }
  toString(): string {
    return `AlertTarget(${this.name})`;
  }
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** Checks one URL; the message names `variable` and never quotes the value. */
export function validateSinkUrl(variable: string, value: string): string {
  let u: URL;
  try {
    u = new URL(value.trim());
  } catch {
    throw new AlertConfigError(`${variable} is not a valid URL`);
  }
  if (u.protocol === "https:" || (u.protocol === "http:" && LOOPBACK.has(u.hostname))) {
    if (u.username || u.password) {
      throw new AlertConfigError(`${variable} must not carry user:password credentials`);
    }
    return u.href;
  }
  throw new AlertConfigError(
    `${variable} must be an https:// URL (http:// only to 127.0.0.1 or localhost)`,
  );
}

/** Which sinks to use; unset fields follow the environment (see AlertsConfigSchema). */
export interface SinkSwitches {
  discord?: boolean;
  webhook?: boolean;
}

/**
 * The configured sinks from the environment: Discord first, then the JSON webhook. An empty or
 * blank variable counts as unset. Throws AlertConfigError (names the variable, not the value).
 */
export function alertSinksFromEnv(
  env: (name: string) => string | undefined,
  switches: SinkSwitches = {},
): AlertTarget[] {
  const out: AlertTarget[] = [];
  const pick = (kind: SinkKind, variable: string, wanted: boolean | undefined) => {
    if (wanted === false) return;
    const raw = env(variable);
    if (raw === undefined || raw.trim() === "") {
      if (wanted === true) {
        throw new AlertConfigError(`alerts.${kind} is true but ${variable} is not set`);
      }
      return;
    }
    out.push(new AlertTarget(kind, validateSinkUrl(variable, raw)));
  };
  pick("discord", DISCORD_URL_ENV, switches.discord);
  pick("webhook", WEBHOOK_URL_ENV, switches.webhook);
  return out;
}
