/**
 * Text for traders: USDT with 2 decimals and thousands separators (`1,234.50 USDT`), PnL signed
 * (`+12.30 USDT`, `-4.00 USDT`), ratios as percentages (`5.23%`), prices and sizes verbatim,
 * durations as `1h 05m`. Non-finite numbers print as `n/a`. Pure; no locale of the host is used.
 */

const USD = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** `1,234.56 USDT`; -0 and values rounding to zero print as `0.00`. */
export function usdt(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "n/a";
  const s = USD.format(n);
  return `${s === "-0.00" ? "0.00" : s} USDT`;
}

/** `+12.30 USDT` / `-4.00 USDT` / `0.00 USDT`. */
export function signedUsdt(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  const s = usdt(n);
  return s.startsWith("-") || s.startsWith("0.00 ") ? s : `+${s}`;
}

/** A ratio as a percentage with 2 decimals: 0.0523 → `5.23%`. */
export function pct(ratio: number): string {
  if (!Number.isFinite(ratio)) return "n/a";
  const s = (ratio * 100).toFixed(2);
  return `${s === "-0.00" ? "0.00" : s}%`;
}

/** A price or size exactly as given (a string stays as is; a number prints in full). */
export function verbatim(v: string | number): string {
  return typeof v === "number" && !Number.isFinite(v) ? "n/a" : String(v);
}

/** A metric: integers as is, other numbers to 4 decimals (trailing zeros cut), text as is. */
export function metric(v: number | string): string {
  if (typeof v === "string") return v;
  if (!Number.isFinite(v)) return "n/a";
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(4)));
}

/** ms → `350ms`, `42s`, `5m 03s`, `2h 07m`, `3d 04h`. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "n/a";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${two(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${two(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d ${two(Math.floor(s / 3600) % 24)}h`;
}

/**
 * At most `max` UTF-16 units (Discord's limits count characters; UTF-16 units are never fewer), an
 * ellipsis marking a cut. Never splits a surrogate pair (a lone surrogate is invalid text).
 */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  if (max <= 0) return "";
  let cut = max - 1;
  const c = s.charCodeAt(cut - 1);
  if (c >= 0xd800 && c <= 0xdbff) cut--;
  return s.slice(0, cut) + "…";
}

/** Removes anything URL-shaped (`scheme://…`): error texts of fetch quote the URL it failed on. */
export function stripUrls(s: string): string {
  return s.replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, "<url>");
}
