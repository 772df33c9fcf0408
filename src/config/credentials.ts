/**
 * API credentials from the environment only: BITGET_API_KEY, BITGET_API_SECRET and
 * BITGET_PASSPHRASE (a systemd EnvironmentFile, `--env-file`, or the shell). They are never read
 * from config.yaml, never logged, never written to the database.
 */
import type { BitgetCredentials } from "../bitget/sign.ts";

/** The three variables, or null when any is missing or empty. */
export function credentialsFromEnv(): BitgetCredentials | null {
  const get = (k: string) => {
    try {
      return Deno.env.get(k)?.trim() ?? "";
    } catch {
      return "";
    }
  };
  const apiKey = get("BITGET_API_KEY");
  const secret = get("BITGET_API_SECRET");
  const passphrase = get("BITGET_PASSPHRASE");
  if (!apiKey || !secret || !passphrase) return null;
  return { apiKey, secret, passphrase };
}

/** The one line naming what is missing (exit 2). */
export function missingKeysLine(mode: string): string {
  return `--mode ${mode} needs API keys: set BITGET_API_KEY, BITGET_API_SECRET and ` +
    "BITGET_PASSPHRASE in the environment (systemd: EnvironmentFile=/etc/bitget-bot/env)";
}
