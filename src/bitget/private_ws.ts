/**
 * BitgetPrivateWs: one private v2 WebSocket (API.md §3) — login, private channel subscriptions,
 * keep-alive and reconnects.
 *
 * - URL: `wss://ws.bitget.com/v2/ws/private`, demo `wss://wspap.bitget.com/v2/ws/private`, or a
 *   loopback `ws://127.0.0.1:PORT/v2/ws/private`.
 * - Login (§3.1): `wsLoginFrame` (sign.ts) with the timestamp in **seconds** from `now()` (pass
 *   the REST client's `serverNow` so the server-time offset applies). Ack `{"event":"login",
 *   "code":0}` — code number or string "0". Subscriptions are sent only after the ack.
 * - Subscriptions (§3.2): `{"instType":"USDT-FUTURES","channel":C,"instId":"default"}`, for
 *   `account` `{"instType":…,"channel":"account","coin":"default"}`; ≤ maxArgsPerMessage per op.
 * - Outbound pacing (§1.1, same as public): every message (login, subscribe, text `ping`) goes
 *   through one SendPacer at ≤ maxMessagesPerSecond (Bitget cap 10/s incl. pings).
 * - Keep-alive: text `ping` every pingInterval; nothing received for staleAfter → reconnect.
 * - Any close (Deno reports an abnormal close as code 0, not 1006), a stale socket or a login
 *   timeout → reconnect after reconnectDelay (exponential backoff + full jitter, ws_pacing.ts),
 *   re-login and paced resubscribe; `onLogin({reconnect:true})` tells the caller to re-read a REST
 *   snapshot (pushes missed while disconnected are lost, §1.1 FAQ Q15).
 * - Login refused (`{"event":"error","code":30005|30011…30015}`; the server then closes) →
 *   `onAuthError(code, line)`; after maxAuthFailures consecutive refusals it stops retrying
 *   (state "auth_failed").
 * - Pushes: envelope and every row zod-parsed (private_schemas.ts); a bad frame or row is counted,
 *   logged and reported to onMalformed, never fatal. Credentials are never logged.
 */
import type { Logger } from "../ops/log.ts";
import { silentLogger } from "../ops/log.ts";
import { type BitgetCredentials, wsLoginFrame } from "./sign.ts";
import { redactSecrets } from "./private_errors.ts";
import {
  formatZodError,
  type PrivateChannel,
  WS_CHANNEL_SCHEMAS,
  type WsArg,
  WsEventSchema,
  WsPushEnvelopeSchema,
  type WsRowOf,
} from "./private_schemas.ts";
import { reconnectDelay, SendPacer } from "./ws_pacing.ts";

export const DEFAULT_PRIVATE_CHANNELS: readonly PrivateChannel[] = [
  "orders",
  "positions",
  "account",
  "orders-algo",
];

export interface PrivateWsOptions {
  url: string;
  credentials: BitgetCredentials;
  /** Default `USDT-FUTURES`. */
  instType?: string;
  /** Default DEFAULT_PRIVATE_CHANNELS. */
  channels?: readonly PrivateChannel[];
  /** Server-adjusted clock (epoch ms) for the login timestamp; default Date.now. */
  now?: () => number;
  /** Text ping interval (ms, default 25 000). */
  pingInterval?: number;
  /** Nothing received for this long (ms, default 60 000) → reconnect. */
  staleAfter?: number;
  /** Backoff bounds (ms, default 1000 / 30 000). */
  reconnectMinDelay?: number;
  reconnectMaxDelay?: number;
  /** ≤ 10 (default 8). */
  maxMessagesPerSecond?: number;
  /** Subscribe args per message (default 10). */
  maxArgsPerMessage?: number;
  /** No login ack within this long (ms, default 10 000) → reconnect. */
  loginTimeout?: number;
  /** Consecutive login refusals before giving up (default 3). */
  maxAuthFailures?: number;
  /** Logged-in uptime (ms) after which the backoff resets (default 60 000). */
  healthyAfter?: number;
  paceMarginMs?: number;
  name?: string;
  logger?: Logger;
}

/** One parsed push; `recvTs` = local receive time (epoch ms), `ts` = the envelope's. */
export type PrivatePush = {
  [C in PrivateChannel]: {
    channel: C;
    action: string;
    arg: WsArg;
    data: WsRowOf[C][];
    ts: number | null;
    recvTs: number;
  };
}[PrivateChannel];

export interface PrivateDisconnectInfo {
  code: number;
  reason: string;
  cause: "close" | "stale" | "login_timeout" | "auth";
  wasLoggedIn: boolean;
}

export interface PrivateWsHandlers {
  onOpen?: (info: { reconnect: boolean }) => void;
  onLogin?: (info: { reconnect: boolean }) => void;
  onPush?: (push: PrivatePush) => void;
  onDisconnect?: (info: PrivateDisconnectInfo) => void;
  onMalformed?: (reason: string, excerpt: string) => void;
  /** Server error events other than a login refusal (subscribe refused, rate limit, …). */
  onError?: (err: { code: number | null; msg: string; channel: string | null }) => void;
  /** Login refused; `line` is a user-actionable sentence without secrets. */
  onAuthError?: (code: number | null, line: string) => void;
}

export type PrivateWsState =
  | "idle"
  | "connecting"
  | "login"
  | "open"
  | "backoff"
  | "auth_failed"
  | "stopped";

export interface PrivateWsStats {
  state: PrivateWsState;
  connects: number;
  reconnects: number;
  logins: number;
  authFailures: number;
  pushes: Record<string, number>;
  malformed: number;
  messagesSent: number;
  pingsSent: number;
  pongs: number;
  subscriptions: Record<string, "pending" | "active" | "failed">;
}

/** User lines for login refusals (Bitget WS error codes). */
const AUTH_HINTS: Record<number, string> = {
  30005: "login failed",
  30011: "invalid API key: check BITGET_API_KEY",
  30012: "invalid passphrase: check BITGET_PASSPHRASE",
  30013: "invalid timestamp: the login timestamp must be Unix seconds near server time",
  30014: "login timestamp expired: check the machine clock (the client applies server time)",
  30015: "invalid signature: BITGET_API_SECRET does not belong to BITGET_API_KEY",
};
const ENV_HINT = "a demo key needs the demo host (--mode demo), a live key --mode live";

type Timer = ReturnType<typeof setTimeout>;
type TimerName = "pump" | "ping" | "stale" | "healthy" | "reconnect" | "login";

export class BitgetPrivateWs {
  private readonly log: Logger;
  private readonly pacer: SendPacer;
  private readonly channels: readonly PrivateChannel[];
  private readonly subs = new Map<string, "pending" | "active" | "failed">();
  private readonly queue: string[] = [];
  private ws: WebSocket | null = null;
  private state: PrivateWsState = "idle";
  private pingDue = false;
  private lastRecv = 0;
  private attempt = 0;
  private penalty = false;
  private authFailuresInRow = 0;
  private closed: (() => void) | null = null;
  private timers: Partial<Record<TimerName, Timer>> = {};
  private readonly c = {
    connects: 0,
    reconnects: 0,
    logins: 0,
    authFailures: 0,
    malformed: 0,
    messagesSent: 0,
    pingsSent: 0,
    pongs: 0,
  };
  private readonly pushes: Record<string, number> = {};

  constructor(readonly opts: PrivateWsOptions, private readonly handlers: PrivateWsHandlers = {}) {
    this.log = (opts.logger ?? silentLogger).child({ conn: opts.name ?? "ws-private" });
    this.pacer = new SendPacer(Math.min(10, opts.maxMessagesPerSecond ?? 8), opts.paceMarginMs);
    this.channels = opts.channels ?? DEFAULT_PRIVATE_CHANNELS;
    for (const ch of this.channels) this.subs.set(ch, "pending");
  }

  /** Opens the first connection. */
  start(): void {
    if (this.state === "idle") this.connect();
  }

  stats(): PrivateWsStats {
    return {
      state: this.state,
      ...this.c,
      pushes: { ...this.pushes },
      subscriptions: Object.fromEntries(this.subs),
    };
  }

  /** Stops for good; resolves when the socket is closed (≤ 1 s wait for the close handshake). */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    this.state = "stopped";
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    let t: Timer | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        ws.onclose = () => resolve();
        try {
          ws.close(1000, "client stop");
        } catch { /* already closing */ }
      }),
      new Promise<void>((r) => t = setTimeout(r, 1000)),
    ]);
    clearTimeout(t);
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  private get dead(): boolean {
    return this.state === "stopped" || this.state === "auth_failed";
  }

  private clearTimers(): void {
    for (const t of Object.values(this.timers)) {
      clearTimeout(t);
      clearInterval(t);
    }
    this.timers = {};
  }

  private connect(): void {
    if (this.dead) return;
    this.state = "connecting";
    this.c.connects++;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.opts.url);
    } catch (e) {
      this.log.error("websocket construct failed", { url: this.opts.url, err: String(e) });
      this.handlers.onError?.({
        code: null,
        msg: `cannot open ${this.opts.url}: ${e}`,
        channel: null,
      });
      return this.scheduleReconnect();
    }
    this.ws = ws;
    ws.onopen = () => ws === this.ws && this.onOpen();
    ws.onmessage = (ev) => ws === this.ws && this.onMessage(ev.data);
    ws.onclose = (ev) => ws === this.ws && this.onClosed(ev.code, ev.reason, "close");
    ws.onerror = () => {/* a close event follows */};
  }

  private onOpen(): void {
    this.state = "login";
    this.lastRecv = performance.now();
    this.pacer.reset();
    this.queue.length = 0;
    this.pingDue = false;
    for (const ch of this.channels) {
      if (this.subs.get(ch) !== "failed") this.subs.set(ch, "pending");
    }
    this.log.info("connected, logging in", { url: this.opts.url });
    this.handlers.onOpen?.({ reconnect: this.c.connects > 1 });
    const seconds = String(Math.floor((this.opts.now ?? Date.now)() / 1000));
    this.queue.push(wsLoginFrame(this.opts.credentials, seconds));
    this.pump();
    this.timers.ping = setInterval(() => {
      this.pingDue = true;
      this.pump();
    }, this.opts.pingInterval ?? 25_000);
    const staleAfter = this.opts.staleAfter ?? 60_000;
    this.timers.stale = setInterval(() => {
      const idle = performance.now() - this.lastRecv;
      if (idle > staleAfter) this.abandon("stale", `nothing received for ${Math.round(idle)} ms`);
    }, Math.max(5, Math.min(1000, staleAfter / 4)));
    this.timers.login = setTimeout(
      () => this.abandon("login_timeout", "no login ack"),
      this.opts.loginTimeout ?? 10_000,
    );
  }

  /** Drops the socket without waiting for a close handshake (a dead peer never answers). */
  private abandon(cause: PrivateDisconnectInfo["cause"], reason: string): void {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    this.log.warn("abandoning connection", { cause, reason });
    try {
      ws.close(4000, cause);
    } catch { /* ignore */ }
    this.onClosed(0, reason, cause);
  }

  private onClosed(code: number, reason: string, cause: PrivateDisconnectInfo["cause"]): void {
    const wasLoggedIn = this.state === "open";
    this.ws = null;
    if (this.state === "stopped") return;
    this.clearTimers();
    this.queue.length = 0;
    this.log.warn("disconnected", { code, reason, cause });
    this.handlers.onDisconnect?.({ code, reason, cause, wasLoggedIn });
    if (this.state === "auth_failed") return;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.dead) return;
    this.state = "backoff";
    const min = this.opts.reconnectMinDelay ?? 1000;
    const max = this.opts.reconnectMaxDelay ?? 30_000;
    const delay = reconnectDelay(this.attempt, min, max, this.penalty);
    this.attempt++;
    this.penalty = false;
    this.c.reconnects++;
    this.log.info("reconnecting", { attempt: this.attempt, delayMs: Math.round(delay) });
    this.timers.reconnect = setTimeout(() => this.connect(), delay);
  }

  // ---- inbound -------------------------------------------------------------------------------

  private malformed(reason: string, text: string): void {
    this.c.malformed++;
    const excerpt = text.slice(0, 160);
    this.log.warn("malformed frame", { reason, excerpt });
    this.handlers.onMalformed?.(reason, excerpt);
  }

  private onMessage(data: unknown): void {
    this.lastRecv = performance.now();
    const recvTs = Date.now();
    if (typeof data !== "string") return this.malformed("binary: binary message", "<binary>");
    if (data === "pong") {
      this.c.pongs++;
      return;
    }
    let obj: unknown;
    try {
      obj = JSON.parse(data);
    } catch {
      return this.malformed("json: not JSON", data);
    }
    if (typeof obj === "object" && obj !== null && "event" in obj) {
      const ev = WsEventSchema.safeParse(obj);
      if (!ev.success) return this.malformed(`event: ${formatZodError(ev.error)}`, data);
      return this.onEvent(ev.data.event, ev.data.code, ev.data.msg ?? "", ev.data.arg ?? null);
    }
    const env = WsPushEnvelopeSchema.safeParse(obj);
    if (!env.success) return this.malformed(`shape: ${formatZodError(env.error)}`, data);
    const { action, arg, data: rows, ts } = env.data;
    const channel = arg.channel as PrivateChannel;
    const schema = WS_CHANNEL_SCHEMAS[channel];
    if (!schema) return this.malformed(`channel: unknown channel ${arg.channel}`, data);
    const good: unknown[] = [];
    rows.forEach((row, i) => {
      const p = schema.safeParse(row);
      if (p.success) good.push(p.data);
      else this.malformed(`row: ${channel} data[${i}]: ${formatZodError(p.error)}`, data);
    });
    if (good.length === 0 && rows.length > 0) return;
    this.pushes[channel] = (this.pushes[channel] ?? 0) + 1;
    if (this.subs.get(channel) === "pending") this.subs.set(channel, "active");
    const push = { channel, action, arg, data: good, ts, recvTs } as PrivatePush;
    this.handlers.onPush?.(push);
  }

  private onEvent(event: string, code: number | null, msg: string, arg: WsArg | null): void {
    const safeMsg = redactSecrets(msg, this.opts.credentials);
    if (event === "login") {
      if (code !== 0 && code !== null) return this.onAuthRefused(code, safeMsg);
      return this.onLoggedIn();
    }
    if (event === "subscribe" && arg) {
      if (this.subs.has(arg.channel)) this.subs.set(arg.channel, "active");
      return;
    }
    if (event !== "error") return;
    if (code === 30006 || code === 30007) {
      this.penalty = true; // the server closes us; back off longer
    } else if (this.state === "login") {
      return this.onAuthRefused(code, safeMsg);
    }
    const channel = arg?.channel ?? null;
    if (channel && this.subs.has(channel) && code !== 30006 && code !== 30007) {
      this.subs.set(channel, "failed");
    }
    this.log.error("server error event", { code, serverMsg: safeMsg, channel });
    this.handlers.onError?.({ code, msg: safeMsg, channel });
  }

  private onLoggedIn(): void {
    clearTimeout(this.timers.login);
    this.state = "open";
    this.authFailuresInRow = 0;
    this.c.logins++;
    const reconnect = this.c.logins > 1;
    this.log.info("logged in", { reconnect });
    this.timers.healthy = setTimeout(() => this.attempt = 0, this.opts.healthyAfter ?? 60_000);
    const instType = this.opts.instType ?? "USDT-FUTURES";
    const args = this.channels
      .filter((ch) => this.subs.get(ch) !== "failed")
      .map((channel) =>
        channel === "account"
          ? { instType, channel, coin: "default" }
          : { instType, channel, instId: "default" }
      );
    const per = Math.max(1, this.opts.maxArgsPerMessage ?? 10);
    for (let i = 0; i < args.length; i += per) {
      this.queue.push(JSON.stringify({ op: "subscribe", args: args.slice(i, i + per) }));
    }
    this.pump();
    this.handlers.onLogin?.({ reconnect });
  }

  private onAuthRefused(code: number | null, msg: string): void {
    this.c.authFailures++;
    this.authFailuresInRow++;
    const what = (code !== null && AUTH_HINTS[code]) || "login refused";
    const line = `Bitget private WebSocket login refused (code ${code ?? "?"}: ${msg || what}): ` +
      `${what}; check BITGET_API_KEY / BITGET_API_SECRET / BITGET_PASSPHRASE; ${ENV_HINT}`;
    const giveUp = this.authFailuresInRow >= (this.opts.maxAuthFailures ?? 3);
    this.log.error("login refused", { code, giveUp });
    this.handlers.onAuthError?.(code, line);
    this.penalty = true;
    if (giveUp) {
      this.state = "auth_failed";
      this.clearTimers();
      this.log.error("giving up after repeated login refusals", {
        failures: this.authFailuresInRow,
      });
    }
    // Bitget closes after a failed login; make sure of it.
    this.abandon("auth", `login refused (${code ?? "?"})`);
  }

  // ---- outbound ------------------------------------------------------------------------------

  private pump(): void {
    clearTimeout(this.timers.pump);
    this.timers.pump = undefined;
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    while (this.pingDue || this.queue.length > 0) {
      const now = performance.now();
      const wait = this.pacer.waitMs(now);
      if (wait > 0) {
        this.timers.pump = setTimeout(() => this.pump(), Math.ceil(wait));
        return;
      }
      // Queued ops (login first) go before a due ping.
      const text = this.queue.length > 0 ? this.queue.shift()! : "ping";
      try {
        ws.send(text);
      } catch (e) {
        this.log.warn("send failed", { err: String(e) });
        return; // the close event follows
      }
      this.pacer.record(now);
      this.c.messagesSent++;
      if (text === "ping") {
        this.pingDue = false;
        this.c.pingsSent++;
      }
    }
  }
}
