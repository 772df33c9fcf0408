/**
 * Scraping a daemon's `/metrics` in tests, parsed by an independent parser
 * (npm:parse-prometheus-text-format), and a free loopback port for its endpoint.
 */
import assert from "node:assert/strict";
// Test-only, so pinned here rather than in deno.json's imports (which the binary ships with).
// deno-lint-ignore no-import-prefix
import parsePrometheusTextFormat from "npm:parse-prometheus-text-format@1.1.1";

export interface Family {
  name: string;
  type: string;
  metrics: { labels?: Record<string, string>; value?: string; count?: string }[];
}
const parse = parsePrometheusTextFormat as unknown as (text: string) => Family[];

/** A free loopback port (bound, then released for the daemon). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** The metric families served on 127.0.0.1:`port`/metrics, by name. */
export async function scrape(port: number): Promise<Map<string, Family>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  return new Map(parse(await res.text()).map((f) => [f.name, f]));
}
