/**
 * Bitget v2 request signing (API.md §6) and private-WebSocket login signing (API.md §3.1).
 *
 * - REST: `prehash = timestamp + METHOD + requestPath + ("?" + queryString if non-empty) + body`,
 *   `ACCESS-SIGN = base64(HMAC_SHA256(secretKey, prehash))` — the raw 32-byte digest base64-encoded,
 *   not hex. GET bodies are empty; a POST body is the exact JSON text sent.
 * - WS login: `sign = base64(HMAC_SHA256(secretKey, timestamp + "GET" + "/user/verify"))` with the
 *   timestamp in **seconds** as a string (what ccxt, hummingbot and tiagosiebler send; API.md §3.1).
 *
 * Checked against `shared/bitget/signing_vectors.json` (tests/bitget_sign_test.ts). HMAC runs
 * synchronously through `node:crypto`: signing sits on the tick-to-order path, and the WebCrypto
 * API would add an await per request. Both the client and the loopback simulator use this module.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

/** API credentials. Never log or persist them (the daemon reads them only from the environment). */
export interface BitgetCredentials {
  apiKey: string;
  secret: string;
  passphrase: string;
}

/** The REST prehash string of API.md §6. `query` without the leading "?". */
export function restPrehash(
  timestamp: string,
  method: string,
  requestPath: string,
  query: string,
  body: string,
): string {
  return timestamp + method.toUpperCase() + requestPath + (query ? "?" + query : "") + body;
}

/** base64(HMAC-SHA256(secret, message)). */
export function hmacBase64(secret: string, message: string): string {
  return createHmac("sha256", secret).update(message, "utf8").digest("base64");
}

/** ACCESS-SIGN of one REST request (API.md §6). */
export function signRest(
  secret: string,
  timestamp: string,
  method: string,
  requestPath: string,
  query: string,
  body: string,
): string {
  return hmacBase64(secret, restPrehash(timestamp, method, requestPath, query, body));
}

/** The login prehash of the private WebSocket (API.md §3.1). */
export function wsLoginPrehash(timestampSeconds: string): string {
  return timestampSeconds + "GET" + "/user/verify";
}

/** The `{"op":"login","args":[…]}` frame for `timestampSeconds` (string of Unix seconds). */
export function wsLoginFrame(creds: BitgetCredentials, timestampSeconds: string): string {
  return JSON.stringify({
    op: "login",
    args: [{
      apiKey: creds.apiKey,
      passphrase: creds.passphrase,
      timestamp: timestampSeconds,
      sign: hmacBase64(creds.secret, wsLoginPrehash(timestampSeconds)),
    }],
  });
}

/**
 * Header set of a signed request: ACCESS-KEY / -SIGN / -TIMESTAMP / -PASSPHRASE, the JSON
 * content type and `locale`; `paptrading: 1` for demo trading (API.md §8).
 */
export function signedHeaders(
  creds: BitgetCredentials,
  timestamp: string,
  method: string,
  requestPath: string,
  query: string,
  body: string,
  demo: boolean,
): Record<string, string> {
  const h: Record<string, string> = {
    "ACCESS-KEY": creds.apiKey,
    "ACCESS-SIGN": signRest(creds.secret, timestamp, method, requestPath, query, body),
    "ACCESS-TIMESTAMP": timestamp,
    "ACCESS-PASSPHRASE": creds.passphrase,
    "Content-Type": "application/json",
    "locale": "en-US",
  };
  if (demo) h["paptrading"] = "1";
  return h;
}

/** Constant-time comparison of two signatures (simulator side). */
export function sameSignature(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The query string exactly as it is both signed and sent: keys sorted, values URL-encoded
 * (what Bitget's samples, ccxt and tiagosiebler do, API.md §6). Undefined / null / "" values are
 * omitted. Returns "" for no parameters.
 */
export function buildQuery(params: Record<string, string | number | undefined | null>): string {
  return Object.keys(params)
    .filter((k) => params[k] !== undefined && params[k] !== null && params[k] !== "")
    .sort()
    .map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(String(params[k]))}`)
    .join("&");
}
