/**
 * Durations as people write them in configs and flags: `500ms`, `90s`, `15m`, `2h`, `7d`, or a
 * bare number of milliseconds. Returns milliseconds; throws RangeError naming the bad input.
 */
const UNITS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 };

export function parseDuration(text: string | number): number {
  if (typeof text === "number") {
    if (Number.isFinite(text) && text >= 0) return text;
    throw new RangeError(`invalid duration ${text}: expected a non-negative number of ms`);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) {
    throw new RangeError(
      `invalid duration "${text}": expected a number with a unit ms, s, m, h or d (e.g. 90s, 2h)`,
    );
  }
  return Math.round(Number(m[1]) * UNITS[m[2] ?? "ms"]);
}

/** Parses a time bound: epoch ms, or an ISO-8601 date/time (UTC when no zone is given). */
export function parseTime(text: string): number {
  if (/^\d{10,}$/.test(text.trim())) return Number(text);
  const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(text) || text.length <= 10 ? text : `${text}Z`;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) {
    throw new RangeError(
      `invalid time "${text}": expected epoch ms or ISO-8601 (e.g. 2025-05-04T00:00:00Z)`,
    );
  }
  return t;
}
