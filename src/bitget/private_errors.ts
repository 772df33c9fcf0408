/**
 * Errors of Bitget's private REST API (API.md §7) as one class, with the facts a caller acts on.
 *
 * - `kind`: "api" (Bitget answered with an envelope whose `code` != "00000", or HTTP 429),
 *   "http" (a non-Bitget HTTP failure, e.g. a gateway 502 page), "network" (fetch failed),
 *   "timeout" (no complete answer within the timeout), "parse" (an answer we could not read).
 * - `code`: Bitget's code as a string ("43012", "429", …), or the kind ("http", "network",
 *   "timeout", "parse") when Bitget gave none.
 * - `outcomeUnknown`: the request may have reached the exchange but no usable answer came (timeout,
 *   connection reset after sending, 5xx gateway page, unreadable 2xx body). For an order POST the
 *   caller must look the order up by clientOid instead of sending it again.
 * - `retryable`: the exchange said nothing happened and a later retry may succeed (429, 40010,
 *   40015, 45001 per §7), or the request never left (connect refused).
 * - `hint`: one line a user can act on (the code table below).
 *
 * Messages and hints never contain the API key, secret, passphrase or a signature: the client
 * passes every text it did not write through `redactSecrets` before it lands here.
 */
import type { BitgetCredentials } from "./sign.ts";

export type BitgetErrorKind = "api" | "http" | "network" | "timeout" | "parse";

/** Which position mode the failed request was built for (to phrase the 40774 hint). */
export type RequestPositionMode = "one_way" | "hedge";

/** Bitget codes that mean "the order (or plan order) does not exist" (API.md §7, hummingbot). */
export const NOT_FOUND_CODES: ReadonlySet<string> = new Set([
  "40109",
  "40768",
  "43001",
  "45057",
  "31007",
  "80011",
  "40819",
  "43020",
  "43025",
  "43033",
]);

/** Codes after which nothing happened on the exchange and a retry may succeed (API.md §7). */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set(["429", "40010", "40015", "45001"]);

/** Timestamp refusals (API.md §6): re-sync the server clock and retry once. */
export const TIMESTAMP_CODES: ReadonlySet<string> = new Set(["40005", "40008"]);

const CLOCK = "the client syncs server time via /api/v2/public/time and retries once; " +
  "if this persists, check the machine clock (NTP)";
const ENV = "a demo key on live or a live key on demo: run with --mode demo for demo keys, " +
  "--mode live for live keys";

/** User-actionable lines per Bitget code (API.md §7). */
export const ERROR_HINTS: Readonly<Record<string, string>> = {
  "40001": "ACCESS-KEY header missing: set BITGET_API_KEY",
  "40002": "ACCESS-SIGN header missing: set BITGET_API_SECRET",
  "40003": "signature missing: set BITGET_API_SECRET",
  "40005": `invalid ACCESS-TIMESTAMP (clock skew); ${CLOCK}`,
  "40006": "invalid API key: check BITGET_API_KEY (and that it was not deleted on Bitget)",
  "40008": `request timestamp expired (more than 30 s clock skew); ${CLOCK}`,
  "40009": "signature error: BITGET_API_SECRET does not belong to BITGET_API_KEY",
  "40010": "Bitget timed the request out; it was not executed and will be retried",
  "40011": "ACCESS-PASSPHRASE missing or wrong: set BITGET_PASSPHRASE (chosen at key creation)",
  "40012": "API key or passphrase incorrect: check BITGET_API_KEY and BITGET_PASSPHRASE",
  "40014": "the API key lacks a permission: enable futures trading (read + trade) for the key",
  "40015": "Bitget system abnormal (often maintenance); retried, try again later if it persists",
  "40018": "this machine's IP is not on the API key's IP whitelist: add it on Bitget",
  "40099": `wrong exchange environment (${ENV})`,
  "40102": "symbol does not exist for this product type: check the symbol list",
  "40109": "order not found",
  "40754": "balance not enough for this order: reduce the size or add margin",
  "40762": "order size exceeds the balance / max open size: reduce the size or leverage",
  "40768": "order does not exist",
  "40786": "duplicate clientOid: an order with this clientOid was already placed",
  "40798": "insufficient contract account balance: transfer USDT to the futures account",
  "40808": "size has too many decimals: round to the contract's volumePlace",
  "40814": "leverage unchanged (already at this value)",
  "40920": "cannot switch position mode while positions or orders exist: close them first",
  "41103": "price has too many decimals: round to the contract's pricePlace",
  "43001": "order does not exist",
  "43006": "order quantity below the contract minimum (minTradeNum): increase the size",
  "43011": "a parameter does not meet Bitget's spec (e.g. executePrice <= 0)",
  "43012": "insufficient balance: reduce the size or add margin",
  "45001": "Bitget unknown error (often maintenance); retried",
  "45110": "order value below the minimum notional (minTradeUSDT, e.g. 5 USDT): increase size",
  "45122": "stop-loss price is on the wrong side of the mark price",
  "22001": "no order to cancel",
  "22002": "no position to close (it is already flat)",
  "22035": "demo account opening positions too frequently: slow down",
  "429": "rate limited by Bitget: the client backs off; lower request rates if it persists",
};

/** The hint for `code`; 40774 names the mode the account is evidently in. */
export function hintFor(code: string, mode?: RequestPositionMode): string {
  if (code === "40774") {
    const account = mode === "hedge" ? "one-way" : mode === "one_way" ? "hedge" : "the other";
    const set = mode === "hedge" ? "one_way" : mode === "one_way" ? "hedge" : "one_way|hedge";
    return `order type inconsistent with the position mode: your account is in ${account} mode; ` +
      `set run.positionMode: ${set} (or switch the account's position mode on Bitget)`;
  }
  const h = ERROR_HINTS[code];
  if (h) return h;
  if (code === "timeout") return "no answer in time; if this was an order, query it by clientOid";
  if (code === "network") return "network failure talking to Bitget; check connectivity / DNS";
  if (code === "http") return "unexpected HTTP answer from Bitget (maintenance or a proxy?)";
  if (code === "parse") return "Bitget's answer could not be read; see the message for the field";
  return "see Bitget's error-code list for this code";
}

export interface BitgetApiErrorInit {
  kind: BitgetErrorKind;
  code: string;
  endpoint: string;
  httpStatus: number | null;
  /** Exchange / transport text, already redacted. */
  detail: string;
  outcomeUnknown?: boolean;
  /** Overrides the code-based rule (e.g. a connect refusal is retryable). */
  retryable?: boolean;
  /** Retry-After of a 429 (ms), when given. */
  retryAfterMs?: number | null;
  positionMode?: RequestPositionMode;
  hint?: string;
}

export class BitgetApiError extends Error {
  override name = "BitgetApiError";
  readonly kind: BitgetErrorKind;
  readonly code: string;
  readonly endpoint: string;
  readonly httpStatus: number | null;
  readonly hint: string;
  /** The exchange's (or the transport's) own text, redacted. */
  readonly detail: string;
  readonly outcomeUnknown: boolean;
  readonly retryable: boolean;
  readonly retryAfterMs: number | null;

  constructor(init: BitgetApiErrorInit) {
    const hint = init.hint ?? hintFor(init.code, init.positionMode);
    const status = init.httpStatus === null ? "" : `HTTP ${init.httpStatus}, `;
    super(`${init.endpoint}: ${status}code ${init.code}: ${init.detail} (hint: ${hint})`);
    this.kind = init.kind;
    this.code = init.code;
    this.endpoint = init.endpoint;
    this.httpStatus = init.httpStatus;
    this.hint = hint;
    this.detail = init.detail;
    this.outcomeUnknown = init.outcomeUnknown ?? false;
    this.retryable = init.retryable ?? RETRYABLE_CODES.has(init.code);
    this.retryAfterMs = init.retryAfterMs ?? null;
  }

  /** 40786: the clientOid was already used — treat the order as placed and query it. */
  get isDuplicateClientOid(): boolean {
    return this.code === "40786";
  }
  /** The order / plan order does not exist (NOT_FOUND_CODES). */
  get isNotFound(): boolean {
    return NOT_FOUND_CODES.has(this.code);
  }
  /** 40005 / 40008: timestamp refused (clock skew). */
  get isTimestampError(): boolean {
    return TIMESTAMP_CODES.has(this.code);
  }
  /** HTTP 429 or Bitget code 429. */
  get isRateLimited(): boolean {
    return this.code === "429" || this.httpStatus === 429;
  }
}

/**
 * Replaces every occurrence of a credential (and of any extra secret, e.g. the request's
 * signature) in `text` with "***". Also caps the length at 300 characters.
 */
export function redactSecrets(
  text: string,
  creds: BitgetCredentials | null,
  extra: readonly string[] = [],
): string {
  let out = text;
  const secrets = [...extra];
  if (creds) secrets.push(creds.apiKey, creds.secret, creds.passphrase);
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join("***");
  }
  return out.length > 300 ? out.slice(0, 300) + "…" : out;
}
