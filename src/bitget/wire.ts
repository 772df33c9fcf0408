/**
 * Bitget v2 public WebSocket wire frames: hand-written validation of the envelope (hot path — no
 * schema library, no copies of `data`).
 *
 * Frame kinds (API.md §1.1–§1.3):
 *  - data push   `{"action":"snapshot"|"update","arg":{instType,channel,instId},"data":[...],"ts":<num>}`
 *  - event       `{"event":"subscribe"|"unsubscribe"|"error"|"login","arg"?:{...},"code"?:<num|str>,"msg"?,"op"?}`
 *  - keep-alive  the text frame `pong` (not JSON)
 *
 * Parsing never throws: a frame that is not one of these comes back as a `MalformedFrame` with a
 * reason (a small closed set, for counters), a detail and a short excerpt of the input.
 */
import type { Channel } from "../market/events.ts";

/** One subscription argument as sent and echoed by Bitget (API.md §1.2). */
export interface SubArg {
  instType: string;
  channel: string;
  instId: string;
}

/** A market-data push. `data` is the exchange's array, not copied; `ts` is the push time (ms). */
export interface DataFrame {
  type: "data";
  action: "snapshot" | "update";
  arg: SubArg;
  data: unknown[];
  /** Envelope `ts` (epoch ms), or null when the frame has none (some recorded frames omit it). */
  ts: number | null;
}

/** A control event: subscribe/unsubscribe ack, error, login ack. */
export interface EventFrame {
  type: "event";
  event: string;
  arg: SubArg | null;
  /** Error code; Bitget sends a number in real frames and a string in docs (API.md §1.2). */
  code: number | null;
  msg: string;
  /** The op the error refers to (`subscribe`, …) when given. */
  op: string | null;
}

export interface PongFrame {
  type: "pong";
}

/** Why a frame (or a data item inside it) was rejected. Closed set: used as a counter key. */
export type MalformedReason =
  | "json" // not valid JSON
  | "shape" // JSON, but neither a data push nor an event (e.g. a v3 `topic` frame)
  | "arg" // missing/invalid `arg`
  | "action" // `action` not snapshot/update
  | "data" // `data` not an array, or an item of the wrong type
  | "field" // a required item field missing or not numeric
  | "level" // a book level not `[price, size]` with numeric strings
  | "channel" // a channel this adapter does not normalize
  | "binary"; // a binary WebSocket message

export const MALFORMED_REASONS: readonly MalformedReason[] = [
  "json",
  "shape",
  "arg",
  "action",
  "data",
  "field",
  "level",
  "channel",
  "binary",
];

export interface MalformedFrame {
  type: "malformed";
  reason: MalformedReason;
  detail: string;
  /** First ≤ 160 characters of the offending frame (for logs). */
  excerpt: string;
}

export type WireFrame = DataFrame | EventFrame | PongFrame | MalformedFrame;

const EXCERPT_LEN = 160;

/** Short excerpt of a raw frame or of a parsed value, for logs (only built on the error path). */
export function excerptOf(v: unknown): string {
  let s: string;
  if (typeof v === "string") s = v;
  else {
    try {
      s = JSON.stringify(v) ?? String(v);
    } catch {
      s = String(v);
    }
  }
  return s.length > EXCERPT_LEN ? s.slice(0, EXCERPT_LEN) + "…" : s;
}

/** Builds a MalformedFrame; `source` is the raw text or parsed value the excerpt is taken from. */
export function malformed(
  reason: MalformedReason,
  detail: string,
  source: unknown,
): MalformedFrame {
  return { type: "malformed", reason, detail, excerpt: excerptOf(source) };
}

/**
 * Parses one text frame. `pong` is recognised without JSON parsing; everything else is parsed with
 * `JSON.parse` and validated by `classifyFrame`. Never throws.
 */
export function parseFrame(text: string): WireFrame {
  if (text === "pong") return PONG;
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    return malformed("json", "not valid JSON", text);
  }
  return classifyFrame(obj, text);
}

const PONG: PongFrame = { type: "pong" };

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Validates `arg`; returns it typed or null. */
export function parseArg(v: unknown): SubArg | null {
  if (!isObj(v)) return null;
  const { instType, channel, instId } = v;
  if (typeof instType !== "string" || typeof channel !== "string" || typeof instId !== "string") {
    return null;
  }
  return v as unknown as SubArg;
}

/**
 * Validates an already parsed JSON value as a v2 frame (used directly by replays that hold the
 * message as an object). `raw` is only used for the excerpt of a malformed frame.
 */
export function classifyFrame(obj: unknown, raw: unknown = obj): WireFrame {
  if (obj === "pong") return PONG;
  if (!isObj(obj)) return malformed("shape", "frame is not a JSON object", raw);
  const action = obj.action;
  if (action !== undefined) {
    if (action !== "snapshot" && action !== "update") {
      return malformed("action", `action ${excerptOf(action)} is not snapshot/update`, raw);
    }
    const arg = parseArg(obj.arg);
    if (arg === null) {
      return malformed("arg", "arg must be {instType, channel, instId} strings", raw);
    }
    const data = obj.data;
    if (!Array.isArray(data)) return malformed("data", "data must be an array", raw);
    const t = obj.ts;
    let ts: number | null = null;
    if (t !== undefined) {
      ts = typeof t === "number" ? t : typeof t === "string" && t !== "" ? Number(t) : NaN;
      if (!Number.isFinite(ts)) return malformed("field", "envelope ts is not a number", raw);
    }
    return { type: "data", action, arg, data, ts };
  }
  const event = obj.event;
  if (typeof event === "string") {
    let arg: SubArg | null = null;
    if (obj.arg !== undefined) {
      arg = parseArg(obj.arg);
      if (arg === null) return malformed("arg", `event ${event}: arg is not a subscription`, raw);
    }
    let code: number | null = null;
    const c = obj.code;
    if (c !== undefined && c !== null) {
      code = typeof c === "number" ? c : typeof c === "string" && c !== "" ? Number(c) : NaN;
      if (!Number.isFinite(code)) return malformed("field", `event ${event}: bad code`, raw);
    }
    const msg = typeof obj.msg === "string" ? obj.msg : "";
    const op = typeof obj.op === "string" ? obj.op : null;
    return { type: "event", event, arg, code, msg, op };
  }
  // The docs print the unsubscribe "response" as the request echoed back (`{"op","args"}`,
  // API.md §1.2); treat it as an ack without a single arg.
  if (typeof obj.op === "string" && Array.isArray(obj.args)) {
    return { type: "event", event: obj.op, arg: null, code: null, msg: "", op: obj.op };
  }
  return malformed("shape", "neither a data push (action) nor an event", raw);
}

/** Channels this adapter normalizes (API.md §1.4–§1.7), as a lookup set. */
const KNOWN = new Set<string>(["ticker", "trade", "books", "books15", "candle1m", "candle15m"]);

/** True when `channel` is one of the channels normalized into MarketEvents. */
export function isKnownChannel(channel: string): channel is Channel {
  return KNOWN.has(channel);
}

/**
 * Number from a Bitget field: JSON numbers pass through, non-empty numeric strings are converted,
 * anything else gives NaN (callers check with `Number.isFinite`).
 */
export function num(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "string" && v !== "") return +v;
  return NaN;
}

/** Builds the outbound `subscribe`/`unsubscribe` message for these args (API.md §1.2). */
export function opMessage(op: "subscribe" | "unsubscribe", args: readonly SubArg[]): string {
  return JSON.stringify({ op, args });
}

/** Key used for per-(symbol, channel) maps and counters: `SYMBOL|channel`. */
export function subKey(symbol: string, channel: string): string {
  return symbol + "|" + channel;
}
