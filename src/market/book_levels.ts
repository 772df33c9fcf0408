/**
 * Serialization of book levels (`[price, size]` exchange strings) as JSON text — the form the
 * store keeps them in and the ingest worker sends them in (one string clones far cheaper across
 * a worker boundary than an array of small arrays).
 */
/**
 * Book levels as JSON text `[["price","size"],…]`, byte-identical to `JSON.stringify(levels)`.
 * The hot path concatenates directly (≈1.7× faster than JSON.stringify on recorded frames) and
 * falls back to JSON.stringify when a string would need escaping.
 */
export function levelsJson(levels: readonly (readonly [string, string])[]): string {
  const n = levels.length;
  if (n === 0) return "[]";
  let out = "[";
  for (let i = 0; i < n; i++) {
    const l = levels[i];
    const p = l[0];
    const z = l[1];
    if (typeof p !== "string" || typeof z !== "string" || !plain(p) || !plain(z)) {
      return JSON.stringify(levels);
    }
    out += (i === 0 ? '["' : ',["') + p + '","' + z + '"]';
  }
  return out + "]";
}

/** True when `s` needs no JSON escaping (no quote, backslash or control character). */
function plain(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 32 || c === 34 || c === 92) return false;
  }
  return true;
}
