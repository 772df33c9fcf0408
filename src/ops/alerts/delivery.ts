/**
 * One delivery attempt: POST a JSON body with a timeout, and what the answer means for the queue.
 *
 * - 2xx → ok (Discord answers 204 without `?wait=true`). When Discord says the bucket is empty
 *   (`X-RateLimit-Remaining: 0`), `pauseMs` is its `X-RateLimit-Reset-After` (seconds, decimals).
 * - 429 → rate_limited with `waitMs`: the largest of the body's `retry_after` (seconds, float, per
 *   Discord's rate-limit response `{message, retry_after, global, code?}`), the `Retry-After`
 *   header (seconds or an HTTP date) and `X-RateLimit-Reset-After` (seconds); null when none.
 * - other 4xx → client_error (not retried); 5xx → server_error; fetch failures → network;
 *   past `timeoutMs` → timeout; the caller's abort → aborted.
 *
 * Response bodies are always consumed or cancelled (no leaked streams). `detail` texts are safe to
 * log: URL-shaped text and every part of the target URL are removed (fetch errors quote the URL).
 */
import { stripUrls, truncate } from "./format.ts";

export type Outcome =
  | { kind: "ok"; status: number; pauseMs: number | null }
  | { kind: "rate_limited"; status: 429; waitMs: number | null; global: boolean; scope?: string }
  | { kind: "client_error"; status: number; detail?: string }
  | { kind: "server_error"; status: number }
  | { kind: "network"; detail: string }
  | { kind: "timeout" }
  | { kind: "aborted" };

const seconds = (v: unknown): number | null => {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
  return Number.isFinite(n) && n >= 0 ? n * 1000 : null;
};

/** How long a 429 asks to wait (ms), from its JSON body and headers; null when it does not say. */
export function rateLimitWaitMs(
  headers: Headers,
  body: unknown,
  nowMs = Date.now(),
): number | null {
  const waits: number[] = [];
  if (typeof body === "object" && body !== null) {
    const s = seconds((body as Record<string, unknown>).retry_after);
    if (s !== null) waits.push(s);
  }
  const ra = headers.get("retry-after");
  if (ra !== null) {
    const s = seconds(ra);
    const date = s === null ? Date.parse(ra) : NaN;
    if (s !== null) waits.push(s);
    else if (Number.isFinite(date)) waits.push(Math.max(0, date - nowMs));
  }
  const reset = seconds(headers.get("x-ratelimit-reset-after"));
  if (reset !== null) waits.push(reset);
  return waits.length ? Math.ceil(Math.max(...waits)) : null;
}

/** Removes the URL and its path segments / query values from a text before it is logged. */
export function redactor(url: string): (text: string) => string {
  const secrets = new Set<string>([url]);
  try {
    const u = new URL(url);
    secrets.add(u.pathname + u.search);
    for (const part of u.pathname.split("/")) if (part.length >= 8) secrets.add(part);
    for (const v of u.searchParams.values()) if (v.length >= 8) secrets.add(v);
  } catch {
    // validated upstream; the whole-URL replacement still applies
  }
  const list = [...secrets].filter((s) => s.length > 1).sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const s of list) out = out.replaceAll(s, "<redacted>");
    return truncate(stripUrls(out), 200);
  };
}

async function readJson(res: Response): Promise<unknown> {
  try {
    return JSON.parse(await res.text());
  } catch {
    return undefined;
  }
}

/** POSTs `body` once. Never throws. `signal` aborts it (close); the timeout is its own. */
export async function postOnce(
  doFetch: typeof fetch,
  url: string,
  body: string,
  timeoutMs: number,
  signal: AbortSignal,
  redact: (text: string) => string,
): Promise<Outcome> {
  if (signal.aborted) return { kind: "aborted" };
  const ctrl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctrl.abort();
  }, timeoutMs);
  const onAbort = () => ctrl.abort();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const res = await doFetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      signal: ctrl.signal,
    });
    const h = res.headers;
    if (res.ok) {
      await res.body?.cancel();
      const pause = h.get("x-ratelimit-remaining") === "0"
        ? seconds(h.get("x-ratelimit-reset-after"))
        : null;
      return { kind: "ok", status: res.status, pauseMs: pause === null ? null : Math.ceil(pause) };
    }
    if (res.status === 429) {
      const json = await readJson(res);
      const global = (json as { global?: unknown } | undefined)?.global === true ||
        h.get("x-ratelimit-global") === "true";
      const scope = h.get("x-ratelimit-scope") ?? undefined;
      return { kind: "rate_limited", status: 429, waitMs: rateLimitWaitMs(h, json), global, scope };
    }
    if (res.status >= 400 && res.status < 500) {
      const json = await readJson(res) as { code?: unknown; message?: unknown } | undefined;
      const detail = json && (json.code !== undefined || json.message !== undefined)
        ? redact(`${json.code ?? ""} ${json.message ?? ""}`.trim())
        : undefined;
      return { kind: "client_error", status: res.status, detail };
    }
    await res.body?.cancel();
    return { kind: "server_error", status: res.status };
  } catch (e) {
    if (timedOut) return { kind: "timeout" };
    if (signal.aborted) return { kind: "aborted" };
    const err = e as Error;
    return { kind: "network", detail: redact(`${err?.name ?? "Error"}: ${err?.message ?? e}`) };
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
}
