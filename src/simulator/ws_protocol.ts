/**
 * Bitget v2 public-WebSocket wire messages, server side (API.md §1.1–§1.2, §10): parsing what a
 * client sends and building the event frames the server answers with. Pure functions; the
 * connection logic is in ws_session.ts.
 */

/** Bitget's cap on the args of one subscribe/unsubscribe message (API.md §1.1). */
export const MAX_ARGS_BYTES = 4096;

/**
 * Default `msg` per WS error code. Codes and meanings: API.md §1.2 (ccxt's v2 mapping); the
 * texts of 30006/30007/30016 are those quoted from real frames.
 */
export const ERROR_MSG: Readonly<Record<number, string>> = {
  30001: "channel doesn't exist",
  30002: "illegal request",
  30003: "Invalid op",
  30004: "User needs to log in",
  30005: "login failed",
  30006: "request too many",
  30007: "Request over limit,connection close",
  30016: "Param error",
};

/** A subscription arg as the server echoes it: keys in Bitget's order. */
export interface WireArg {
  instType: string;
  channel: string;
  instId: string;
}

/** A client message, classified. */
export type ClientMessage =
  | { type: "ping" }
  | { type: "op"; op: "subscribe" | "unsubscribe"; args: unknown[] }
  /** Unusable message: `reply` is the error frame to send. */
  | { type: "invalid"; reply: string };

/** `{"event":"error",["arg":…,]"code":N,"msg":…[,"op":…]}` — `code` a number as in real frames. */
export function errorFrame(code: number, msg?: string, arg?: unknown, op?: string): string {
  const o: Record<string, unknown> = { event: "error" };
  if (arg !== undefined) o.arg = arg;
  o.code = code;
  o.msg = msg ?? ERROR_MSG[code] ?? "error";
  if (op !== undefined) o.op = op;
  return JSON.stringify(o);
}

/** `{"event":"subscribe"|"unsubscribe","arg":{…}}` (API.md §1.2). */
export function ackFrame(event: "subscribe" | "unsubscribe", arg: WireArg): string {
  return JSON.stringify({ event, arg });
}

/** The 30001 text real Bitget sends for a channel/instId it does not have. */
export function notExistMsg(arg: WireArg): string {
  return `instType:${arg.instType},channel:${arg.channel},instId:${arg.instId} doesn't exist`;
}

const encoder = new TextEncoder();

/**
 * Classifies one client text frame: the literal `ping`; a subscribe/unsubscribe op with a
 * non-empty args array of at most 4096 bytes; or an error (30016 bad JSON / bad args, 30003
 * unknown op).
 */
export function parseClientMessage(data: unknown): ClientMessage {
  if (data === "ping") return { type: "ping" };
  if (typeof data !== "string") return { type: "invalid", reply: errorFrame(30016) };
  let o: unknown;
  try {
    o = JSON.parse(data);
  } catch {
    return { type: "invalid", reply: errorFrame(30016) };
  }
  if (o === null || typeof o !== "object" || Array.isArray(o)) {
    return { type: "invalid", reply: errorFrame(30016) };
  }
  const { op, args } = o as { op?: unknown; args?: unknown };
  if (op !== "subscribe" && op !== "unsubscribe") {
    const reply = errorFrame(30003, undefined, undefined, typeof op === "string" ? op : undefined);
    return { type: "invalid", reply };
  }
  if (!Array.isArray(args) || args.length === 0) {
    return { type: "invalid", reply: errorFrame(30016, undefined, undefined, op) };
  }
  // Bitget's code for an oversized args list is UNCONFIRMED; 30016 "Param error" family.
  if (encoder.encode(JSON.stringify(args)).length > MAX_ARGS_BYTES) {
    const reply = errorFrame(30016, `args exceed ${MAX_ARGS_BYTES} bytes`, undefined, op);
    return { type: "invalid", reply };
  }
  return { type: "op", op, args };
}

/** The arg with string instType/channel/instId, in Bitget's key order, or null if malformed. */
export function wireArg(a: unknown): WireArg | null {
  const arg = a as Partial<WireArg> | null;
  if (
    !arg || typeof arg !== "object" || typeof arg.instType !== "string" ||
    typeof arg.channel !== "string" || typeof arg.instId !== "string"
  ) {
    return null;
  }
  return { instType: arg.instType, channel: arg.channel, instId: arg.instId };
}
