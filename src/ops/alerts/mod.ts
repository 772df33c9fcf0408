/**
 * Alerting (Discord and a generic JSON webhook) for the daemon: the public surface of
 * `src/ops/alerts/`. `createAlertQueue` builds the queue from the `alerts:` config section and the
 * environment (DISCORD_WEBHOOK_URL, ALERT_WEBHOOK_URL); it throws AlertConfigError naming the
 * variable (never its value) when a URL is bad.
 */
import { type AlertsConfig, alertSinksFromEnv } from "./config.ts";
import { AlertQueue, type AlertQueueOptions, alertQueueOptions } from "./queue.ts";

export * from "./events.ts";
export * from "./config.ts";
export * from "./queue.ts";
export { DISCORD_LIMITS, type DiscordPayload, discordPayload, SEVERITY_COLORS } from "./discord.ts";
export { type WebhookPayload, webhookPayload } from "./webhook.ts";
export { ReconnectStormDetector, type StormOptions } from "./storm.ts";
export { DailySummary, type DailySummaryOptions, parseUtcTimeOfDay } from "./daily.ts";

/** The daemon's AlertQueue from config and environment (no sinks configured → a no-op queue). */
export function createAlertQueue(
  config: AlertsConfig,
  env: (name: string) => string | undefined,
  extra: Pick<AlertQueueOptions, "logger" | "counters" | "fetch" | "now"> = {},
): AlertQueue {
  const sinks = alertSinksFromEnv(env, { discord: config.discord, webhook: config.webhook });
  return new AlertQueue(alertQueueOptions(config, sinks, extra));
}
