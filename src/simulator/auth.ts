/**
 * Authentication of the simulator's private API: signed REST requests (API.md §6) and the
 * private-WebSocket login (API.md §3.1), checked against the simulator's one configured key, and
 * the trading environment (API.md §8). Signing primitives: src/bitget/sign.ts.
 *
 * REST, in this order (every failure HTTP 400 with Bitget's error envelope, API.md §7):
 * | check | code | msg |
 * |---|---|---|
 * | `ACCESS-KEY` missing | 40001 | ACCESS_KEY cannot be empty |
 * | `ACCESS-SIGN` missing | 40002 | ACCESS_SIGN cannot be empty |
 * | `ACCESS-TIMESTAMP` missing or not an integer | 40005 | Invalid ACCESS_TIMESTAMP |
 * | `ACCESS-PASSPHRASE` missing | 40011 | ACCESS_PASSPHRASE cannot be empty |
 * | \|now − timestamp\| > 30 000 ms (wall clock) | 40008 | Request timestamp expired |
 * | unknown key (or no key configured) | 40006 | Invalid ACCESS_KEY |
 * | wrong passphrase | 40012 | apikey/password is incorrect |
 * | `paptrading: 1` on a live simulator, or its absence on a demo one | 40099 | exchange environment is incorrect |
 * | signature ≠ base64(HMAC-SHA256(secret, timestamp + METHOD + path + ["?" + raw query] + raw body)) | 40009 | sign signature error |
 *
 * The prehash uses the query string exactly as received (never re-encoded or re-sorted) and
 * the body bytes exactly as received (UTF-8), as §6 requires of the server.
 *
 * WebSocket login `{"op":"login","args":[{apiKey, passphrase, timestamp, sign}]}` with the
 * timestamp in **seconds** (string or number) and sign = base64(HMAC(secret, timestamp + "GET" +
 * "/user/verify")). Failures, sent as `{"event":"error","code":N,"msg":…}` before the server
 * closes the connection (codes per ccxt's v2 mapping, API.md §1.2): 30005 "login failed"
 * (malformed args), 30013 "Invalid ACCESS_TIMESTAMP" (not an integer), 30011 "Invalid
 * ACCESS_KEY", 30012 "Invalid ACCESS_PASSPHRASE", 30014 "Request timestamp expired" (|now −
 * timestamp| > 30 s), 30015 "Invalid sign".
 *
 * Credentials are never logged or echoed.
 */
import {
  type BitgetCredentials,
  hmacBase64,
  sameSignature,
  signRest,
  wsLoginPrehash,
} from "../bitget/sign.ts";

/** The trading environment a simulator plays (API.md §8). */
export type SimEnv = "live" | "demo";

/** Allowed clock skew of REST and WS-login timestamps (API.md §6, §3.1). */
export const MAX_SKEW_MS = 30_000;

export interface AuthFailure {
  code: string;
  msg: string;
}

const failure = (code: string, msg: string): AuthFailure => ({ code, msg });

/** One signed REST request as received. */
export interface SignedRequest {
  headers: Headers;
  method: string;
  /** Path only, e.g. `/api/v2/mix/order/place-order`. */
  path: string;
  /** Raw query string without "?", as received ("" when none). */
  query: string;
  /** Raw body text, as received ("" for GET). */
  body: string;
}

/**
 * Verifies a private REST request (table above); null when it may proceed. `nowMs` = wall clock
 * (clients sign with their own clock, synchronized via `/api/v2/public/time`).
 */
export function verifyRest(
  creds: BitgetCredentials | null,
  env: SimEnv,
  r: SignedRequest,
  nowMs = Date.now(),
  windowMs = MAX_SKEW_MS,
): AuthFailure | null {
  const key = r.headers.get("ACCESS-KEY");
  const sign = r.headers.get("ACCESS-SIGN");
  const ts = r.headers.get("ACCESS-TIMESTAMP");
  const pass = r.headers.get("ACCESS-PASSPHRASE");
  if (!key) return failure("40001", "ACCESS_KEY cannot be empty");
  if (!sign) return failure("40002", "ACCESS_SIGN cannot be empty");
  if (!ts || !/^\d{1,16}$/.test(ts)) return failure("40005", "Invalid ACCESS_TIMESTAMP");
  if (!pass) return failure("40011", "ACCESS_PASSPHRASE cannot be empty");
  if (Math.abs(nowMs - Number(ts)) > windowMs) {
    return failure("40008", "Request timestamp expired");
  }
  if (creds === null || !sameSignature(key, creds.apiKey)) {
    return failure("40006", "Invalid ACCESS_KEY");
  }
  if (!sameSignature(pass, creds.passphrase)) {
    return failure("40012", "apikey/password is incorrect");
  }
  const demoRequest = r.headers.get("paptrading") === "1";
  if (demoRequest !== (env === "demo")) {
    return failure("40099", "exchange environment is incorrect");
  }
  const want = signRest(creds.secret, ts, r.method, r.path, r.query, r.body);
  if (!sameSignature(sign, want)) return failure("40009", "sign signature error");
  return null;
}

/** A WS login failure: Bitget's numeric code and message. */
export interface LoginFailure {
  code: number;
  msg: string;
}

/** Verifies the args of a private-WebSocket `login` op (see above); null on success. */
export function verifyWsLogin(
  creds: BitgetCredentials | null,
  args: unknown,
  nowMs = Date.now(),
): LoginFailure | null {
  const a = Array.isArray(args) ? args[0] as Record<string, unknown> | undefined : undefined;
  if (!a || typeof a !== "object") return { code: 30005, msg: "login failed" };
  const { apiKey, passphrase, sign } = a;
  const t = a.timestamp;
  if (typeof apiKey !== "string" || typeof passphrase !== "string" || typeof sign !== "string") {
    return { code: 30005, msg: "login failed" };
  }
  const ts = typeof t === "number" ? String(t) : t;
  if (typeof ts !== "string" || !/^\d{1,13}$/.test(ts)) {
    return { code: 30013, msg: "Invalid ACCESS_TIMESTAMP" };
  }
  if (creds === null || !sameSignature(apiKey, creds.apiKey)) {
    return { code: 30011, msg: "Invalid ACCESS_KEY" };
  }
  if (!sameSignature(passphrase, creds.passphrase)) {
    return { code: 30012, msg: "Invalid ACCESS_PASSPHRASE" };
  }
  if (Math.abs(nowMs - Number(ts) * 1000) > MAX_SKEW_MS) {
    return { code: 30014, msg: "Request timestamp expired" };
  }
  if (!sameSignature(sign, hmacBase64(creds.secret, wsLoginPrehash(ts)))) {
    return { code: 30015, msg: "Invalid sign" };
  }
  return null;
}

const ENV_NAMES = ["BITGET_API_KEY", "BITGET_API_SECRET", "BITGET_PASSPHRASE"] as const;

/**
 * Credentials from the simulator's own environment (BITGET_API_KEY, BITGET_API_SECRET,
 * BITGET_PASSPHRASE), read only where the env permission is already granted (never prompts);
 * null unless all three are set. Throws Error naming the variables when only some are set.
 */
export function credentialsFromEnv(): BitgetCredentials | null {
  const vals = ENV_NAMES.map((name) => {
    try {
      if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
        return undefined;
      }
      return Deno.env.get(name) || undefined;
    } catch {
      return undefined;
    }
  });
  if (vals.every((v) => v === undefined)) return null;
  if (vals.some((v) => v === undefined)) {
    const missing = ENV_NAMES.filter((_, i) => vals[i] === undefined).join(", ");
    throw new Error(`incomplete simulator credentials in the environment: ${missing} not set`);
  }
  return { apiKey: vals[0]!, secret: vals[1]!, passphrase: vals[2]! };
}
