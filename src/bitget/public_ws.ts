/**
 * One Bitget v2 public WebSocket connection (API.md §1): owns one socket and the subscriptions of
 * one shard, and keeps them alive.
 *
 * - Outbound messages (subscribe/unsubscribe ops and the text `ping`) go through one paced queue:
 *   at most ⌊maxMessagesPerSecond⌋ messages in any window of 1 s + margin, evenly spaced
 *   (Bitget cap: 10 messages/s per connection including pings, §1.1). Pings jump the queue.
 * - Subscribe args are batched ≤ maxArgsPerMessage and ≤ 4096 bytes of args per message (§1.1) and
 *   counted against maxSubscribesPerHour (Bitget: 240 subscribe requests/hour/connection; counted
 *   here per arg, the conservative reading). The budget is per socket, so it resets on reconnect.
 * - `ping` every pingInterval; nothing received for staleAfter → the socket is abandoned.
 * - Any close (server close, the daily forced disconnect, abnormal close — Deno reports code 0, not
 *   1006 — or a stale socket) → reconnect after exponential backoff with full jitter (AWS
 *   Architecture Blog, "Exponential Backoff And Jitter", 2015), reset after healthyAfter of uptime;
 *   then every non-failed subscription is re-sent through the pacer, and one GapEvent per
 *   (symbol, channel) is emitted from the last message before the drop to the first one after.
 * - Error events: 30006/30007 (too many requests) → the server is expected to close; if it does
 *   not, the client closes; the next backoff is longer. Any other error on a subscribe (30001
 *   "channel/instId doesn't exist", 30016 "param error", …) marks that subscription failed: it is
 *   reported once and not retried.
 */
import type { Channel, GapEvent } from "../market/events.ts";
import type { Logger } from "../ops/log.ts";
import { silentLogger } from "../ops/log.ts";
import {
  type DataFrame,
  type EventFrame,
  malformed,
  type MalformedFrame,
  opMessage,
  parseFrame,
  type SubArg,
  subKey,
} from "./wire.ts";
import { chunkArgs, HourBudget, reconnectDelay, SendPacer } from "./ws_pacing.ts";

export { chunkArgs, MAX_ARG_BYTES, reconnectDelay, SendPacer } from "./ws_pacing.ts";

export interface PublicWsOptions {
  /** `wss://ws.bitget.com/v2/ws/public` or a loopback simulator URL. */
  url: string;
  /** `instType` of every arg, e.g. `USDT-FUTURES`. */
  instType: string;
  maxMessagesPerSecond: number;
  maxArgsPerMessage: number;
  /** Text ping interval (ms). */
  pingInterval: number;
  /** Nothing received for this long (ms) → reconnect. */
  staleAfter: number;
  reconnectMinDelay: number;
  reconnectMaxDelay: number;
  maxSubscribesPerHour: number;
  /** Uptime (ms) after which the backoff resets (default 60 000). */
  healthyAfter?: number;
  /** Extra ms added to the 1 s pacing window to absorb network jitter (default 50). */
  paceMarginMs?: number;
  /** After 30006/30007, close ourselves if the server has not within this many ms (default 2000). */
  rateLimitCloseAfter?: number;
  /** Name used in logs (e.g. `shard-0`). */
  name?: string;
  logger?: Logger;
  /**
   * Receive clock (epoch ms) stamped on every frame; default `Date.now` (ms resolution). The
   * trading daemon passes a µs clock so frames of one connection never share a receive time.
   */
  recvClock?: () => number;
}

export interface SubscribeErrorInfo {
  symbol: string;
  channel: string;
  code: number | null;
  msg: string;
}

export interface PublicWsHandlers {
  /** A validated data push; `recvTs` = local receive time (epoch ms). */
  onData?: (frame: DataFrame, recvTs: number) => void;
  /** A disconnect gap for one (symbol, channel), emitted when data resumes (or at stop). */
  onGap?: (gap: GapEvent) => void;
  onMalformed?: (m: MalformedFrame) => void;
  /** A subscription the server refused (marked failed, not retried). */
  onSubscribeError?: (info: SubscribeErrorInfo) => void;
  /** The socket closed; local state derived from it (order books) must be discarded. */
  onDisconnect?: (info: { code: number; reason: string; cause: "disconnect" | "stale" }) => void;
  /** A socket opened (`reconnect` false for the first one). */
  onOpen?: (info: { reconnect: boolean }) => void;
}

export type SubState = "pending" | "active" | "failed";

interface Sub {
  key: string;
  arg: SubArg;
  state: SubState;
  /** Wall time (ms) the subscription was requested. */
  since: number;
  /** Exchange ts of the last data push for this key. */
  lastTs: number | null;
  gap: { startTs: number; reason: "disconnect" | "stale"; detail: string } | null;
}

interface Outbound {
  text: string;
  /** Subscribe args in this message (counted against the hourly budget), 0 otherwise. */
  subscribes: number;
}

export interface PublicWsStats {
  state: "idle" | "connecting" | "open" | "backoff" | "stopped";
  connects: number;
  reconnects: number;
  messagesSent: number;
  pingsSent: number;
  pongs: number;
  framesReceived: number;
  subscriptions: { pending: number; active: number; failed: number };
  subscribeErrors: number;
  rateLimitErrors: number;
  queued: number;
  /** Consecutive reconnect attempts since the last healthy period (drives the backoff). */
  backoffAttempt: number;
}

type Timer = ReturnType<typeof setTimeout>;
type TimerName = "pump" | "ping" | "stale" | "healthy" | "reconnect" | "resync" | "rateClose";

export class PublicWsConnection {
  private readonly subs = new Map<string, Sub>();
  private readonly queue: Outbound[] = [];
  private readonly pacer: SendPacer;
  private readonly budget: HourBudget;
  private readonly log: Logger;
  private ws: WebSocket | null = null;
  private state: PublicWsStats["state"] = "idle";
  private stopped = false;
  private pingDue = false;
  private lastWasPing = false;
  private attempt = 0;
  private penalty = false;
  private lastRecv = 0;
  private budgetWarned = false;
  private timers: Record<TimerName, Timer | undefined> = {
    pump: undefined,
    ping: undefined,
    stale: undefined,
    healthy: undefined,
    reconnect: undefined,
    resync: undefined,
    rateClose: undefined,
  };
  private readonly resyncKeys = new Set<string>();
  private readonly counters = {
    connects: 0,
    reconnects: 0,
    messagesSent: 0,
    pingsSent: 0,
    pongs: 0,
    framesReceived: 0,
    subscribeErrors: 0,
    rateLimitErrors: 0,
  };

  constructor(readonly opts: PublicWsOptions, private readonly handlers: PublicWsHandlers = {}) {
    this.pacer = new SendPacer(opts.maxMessagesPerSecond, opts.paceMarginMs ?? 50);
    this.budget = new HourBudget(opts.maxSubscribesPerHour);
    this.log = (opts.logger ?? silentLogger).child({ conn: opts.name ?? "ws" });
  }

  /** Adds subscriptions (idempotent); sent now when open, else on the next open. */
  subscribe(keys: ReadonlyArray<{ symbol: string; channel: Channel | string }>): void {
    const fresh: SubArg[] = [];
    for (const { symbol, channel } of keys) {
      const key = subKey(symbol, channel);
      if (this.subs.has(key)) continue;
      const arg = { instType: this.opts.instType, channel, instId: symbol };
      this.subs.set(key, {
        key,
        arg,
        state: "pending",
        since: Date.now(),
        lastTs: null,
        gap: null,
      });
      fresh.push(arg);
    }
    if (this.state === "open" && fresh.length > 0) this.enqueueOp("subscribe", fresh);
  }

  /** Removes subscriptions and sends an unsubscribe for them when open. */
  unsubscribe(keys: ReadonlyArray<{ symbol: string; channel: Channel | string }>): void {
    const args: SubArg[] = [];
    for (const { symbol, channel } of keys) {
      const sub = this.subs.get(subKey(symbol, channel));
      if (!sub) continue;
      this.subs.delete(sub.key);
      if (sub.state !== "failed") args.push(sub.arg);
    }
    if (this.state === "open" && args.length > 0) this.enqueueOp("unsubscribe", args);
  }

  /**
   * Requests unsubscribe + subscribe of one subscription to get a fresh snapshot (API.md §2.4).
   * Requests within ~20 ms are coalesced into shared messages.
   */
  resync(symbol: string, channel: string): void {
    const key = subKey(symbol, channel);
    const sub = this.subs.get(key);
    if (!sub || sub.state === "failed") return;
    this.resyncKeys.add(key);
    if (this.timers.resync === undefined) {
      this.timers.resync = setTimeout(() => this.flushResyncs(), 20);
    }
  }

  /** Opens the socket (first connect). */
  start(): void {
    if (this.state !== "idle") return;
    this.connect();
  }

  /** Current subscriptions and their states. */
  subscriptions(): Array<{ symbol: string; channel: string; state: SubState }> {
    return [...this.subs.values()].map((s) => ({
      symbol: s.arg.instId,
      channel: s.arg.channel,
      state: s.state,
    }));
  }

  stats(): PublicWsStats {
    const subscriptions = { pending: 0, active: 0, failed: 0 };
    for (const s of this.subs.values()) subscriptions[s.state]++;
    return {
      state: this.state,
      ...this.counters,
      subscriptions,
      queued: this.queue.length,
      backoffAttempt: this.attempt,
    };
  }

  /**
   * Stops for good: closes the socket (waits ≤ 1 s for the close handshake) and emits the
   * disconnect gaps still open with endTs = now and a note that they are unresolved.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.state = "stopped";
    for (const k of Object.keys(this.timers) as TimerName[]) {
      clearTimeout(this.timers[k]);
      clearInterval(this.timers[k]);
      this.timers[k] = undefined;
    }
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      const closed = new Promise<void>((resolve) => {
        ws.onclose = () => resolve();
      });
      try {
        ws.close(1000, "client stop");
      } catch { /* already closing */ }
      let t: Timer | undefined;
      await Promise.race([closed, new Promise<void>((r) => t = setTimeout(r, 1000))]);
      clearTimeout(t);
    }
    const now = Date.now();
    for (const sub of this.subs.values()) {
      if (!sub.gap) continue;
      this.emitGap(sub, now, now, `${sub.gap.detail}; unresolved at stop`);
    }
  }

  // ---- socket lifecycle -------------------------------------------------------------------

  private connect(): void {
    if (this.stopped) return;
    this.state = "connecting";
    this.counters.connects++;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.opts.url);
    } catch (e) {
      this.log.error("websocket construct failed", { url: this.opts.url, err: String(e) });
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (ws === this.ws) this.onOpen();
    };
    ws.onmessage = (ev) => {
      if (ws === this.ws) this.onMessage(ev.data);
    };
    ws.onclose = (ev) => {
      if (ws === this.ws) this.onClosed(ev.code, ev.reason, "disconnect");
    };
    ws.onerror = () => {
      // A close event always follows an error; reconnection is handled there.
    };
  }

  private onOpen(): void {
    const reconnect = this.counters.connects > 1;
    this.state = "open";
    this.lastRecv = performance.now();
    this.pacer.reset();
    this.budget.reset();
    this.budgetWarned = false;
    this.log.info("connected", { url: this.opts.url, subscriptions: this.subs.size, reconnect });
    this.timers.ping = setInterval(() => {
      this.pingDue = true;
      this.pump();
    }, this.opts.pingInterval);
    const every = Math.max(5, Math.min(1000, this.opts.staleAfter / 4));
    this.timers.stale = setInterval(() => this.checkStale(), every);
    this.timers.healthy = setTimeout(() => {
      this.attempt = 0;
    }, this.opts.healthyAfter ?? 60_000);
    const args: SubArg[] = [];
    for (const s of this.subs.values()) if (s.state !== "failed") args.push(s.arg);
    if (args.length > 0) this.enqueueOp("subscribe", args);
    this.handlers.onOpen?.({ reconnect });
  }

  private checkStale(): void {
    if (this.state !== "open" || !this.ws) return;
    const idle = performance.now() - this.lastRecv;
    if (idle <= this.opts.staleAfter) return;
    this.log.warn("connection stale, reconnecting", { idleMs: Math.round(idle) });
    // Abandon the socket right away: a dead TCP peer never completes the close handshake.
    const ws = this.ws;
    this.ws = null;
    try {
      ws.close(4000, "stale");
    } catch { /* ignore */ }
    this.onClosed(0, "stale: nothing received", "stale");
  }

  private onClosed(code: number, reason: string, cause: "disconnect" | "stale"): void {
    if (this.stopped) return;
    this.ws = null;
    this.state = "backoff";
    for (const k of ["pump", "ping", "stale", "healthy", "rateClose"] as const) {
      clearTimeout(this.timers[k]);
      clearInterval(this.timers[k]);
      this.timers[k] = undefined;
    }
    this.queue.length = 0;
    this.pingDue = false;
    this.resyncKeys.clear();
    const detail = `close code ${code}${reason ? ` (${reason})` : ""}`;
    for (const sub of this.subs.values()) {
      if (sub.state === "failed") continue;
      sub.state = "pending";
      sub.gap ??= { startTs: sub.lastTs ?? sub.since, reason: cause, detail };
    }
    this.log.warn("disconnected", { code, reason, cause });
    this.handlers.onDisconnect?.({ code, reason, cause });
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.state = "backoff";
    const attempt = this.penalty ? Math.max(this.attempt, 3) : this.attempt;
    const delay = reconnectDelay(
      attempt,
      this.opts.reconnectMinDelay,
      this.opts.reconnectMaxDelay,
      this.penalty,
    );
    this.attempt = attempt + 1;
    this.penalty = false;
    this.counters.reconnects++;
    this.log.info("reconnecting", { attempt: attempt + 1, delayMs: Math.round(delay) });
    this.timers.reconnect = setTimeout(() => {
      this.timers.reconnect = undefined;
      this.connect();
    }, delay);
  }

  // ---- inbound ----------------------------------------------------------------------------

  private onMessage(data: unknown): void {
    this.lastRecv = performance.now();
    this.counters.framesReceived++;
    const recvTs = this.opts.recvClock ? this.opts.recvClock() : Date.now();
    if (typeof data !== "string") {
      this.handlers.onMalformed?.(malformed("binary", "binary message", "<binary>"));
      return;
    }
    const f = parseFrame(data);
    switch (f.type) {
      case "pong":
        this.counters.pongs++;
        return;
      case "malformed":
        this.handlers.onMalformed?.(f);
        return;
      case "event":
        this.onEvent(f);
        return;
    }
    const sub = this.subs.get(subKey(f.arg.instId, f.arg.channel));
    if (sub) {
      const ts = f.ts ?? recvTs;
      if (sub.gap) this.emitGap(sub, ts, recvTs, sub.gap.detail);
      sub.lastTs = ts;
      if (sub.state === "pending") sub.state = "active";
    }
    this.handlers.onData?.(f, recvTs);
  }

  private emitGap(sub: Sub, endTs: number, recvTs: number, detail: string): void {
    const g = sub.gap!;
    sub.gap = null;
    this.handlers.onGap?.({
      kind: "gap",
      symbol: sub.arg.instId,
      channel: sub.arg.channel as Channel,
      ts: endTs,
      recvTs,
      startTs: g.startTs,
      endTs,
      reason: g.reason,
      detail,
    });
  }

  private onEvent(f: EventFrame): void {
    const sub = f.arg ? this.subs.get(subKey(f.arg.instId, f.arg.channel)) : undefined;
    if (f.event === "subscribe") {
      if (sub && sub.state === "pending") sub.state = "active";
      return;
    }
    if (f.event !== "error") return; // unsubscribe acks, login acks: nothing to do
    if (f.code === 30006 || f.code === 30007) {
      this.counters.rateLimitErrors++;
      this.penalty = true;
      // `serverMsg`, not `msg`: a `msg` field would overwrite the log line's own message.
      this.log.warn("rate limited by server, expecting close", {
        code: f.code,
        serverMsg: f.msg,
      });
      if (this.timers.rateClose === undefined) {
        const ws = this.ws;
        this.timers.rateClose = setTimeout(() => {
          this.timers.rateClose = undefined;
          if (ws === this.ws && ws) {
            this.ws = null;
            try {
              ws.close(4001, "rate limited");
            } catch { /* ignore */ }
            this.onClosed(0, `server error ${f.code}`, "disconnect");
          }
        }, this.opts.rateLimitCloseAfter ?? 2000);
      }
      return;
    }
    if (sub && (f.op === null || f.op === "subscribe")) {
      sub.state = "failed";
      sub.gap = null;
      this.counters.subscribeErrors++;
      const info = { symbol: sub.arg.instId, channel: sub.arg.channel, code: f.code, msg: f.msg };
      this.log.error("subscription refused, not retrying", {
        symbol: info.symbol,
        channel: info.channel,
        code: f.code,
        serverMsg: f.msg,
      });
      this.handlers.onSubscribeError?.(info);
      return;
    }
    this.log.warn("error event", { code: f.code, serverMsg: f.msg, op: f.op, arg: f.arg });
  }

  // ---- outbound ---------------------------------------------------------------------------

  private enqueueOp(op: "subscribe" | "unsubscribe", args: SubArg[]): void {
    // A subscribe message may never need more budget than exists in an hour.
    const maxArgs = op === "subscribe"
      ? Math.min(this.opts.maxArgsPerMessage, this.opts.maxSubscribesPerHour)
      : this.opts.maxArgsPerMessage;
    for (const group of chunkArgs(args, maxArgs)) {
      this.queue.push({
        text: opMessage(op, group),
        subscribes: op === "subscribe" ? group.length : 0,
      });
    }
    this.pump();
  }

  private flushResyncs(): void {
    this.timers.resync = undefined;
    if (this.state !== "open") {
      this.resyncKeys.clear(); // the reconnect resubscribes everything anyway
      return;
    }
    const args: SubArg[] = [];
    for (const key of this.resyncKeys) {
      const sub = this.subs.get(key);
      if (sub && sub.state !== "failed") {
        sub.state = "pending";
        args.push(sub.arg);
      }
    }
    this.resyncKeys.clear();
    if (args.length === 0) return;
    this.log.info("resubscribing for a fresh snapshot", { keys: args.length });
    this.enqueueOp("unsubscribe", args);
    this.enqueueOp("subscribe", args);
  }

  private pump(): void {
    if (this.timers.pump !== undefined) {
      clearTimeout(this.timers.pump);
      this.timers.pump = undefined;
    }
    const ws = this.ws;
    if (this.state !== "open" || !ws) return;
    while (this.pingDue || this.queue.length > 0) {
      const now = performance.now();
      let wait = this.pacer.waitMs(now);
      // Pings go first, but never twice in a row while ops wait (a ping interval shorter than the
      // pacing interval must not starve subscribes).
      const ping = this.pingDue && (this.queue.length === 0 || !this.lastWasPing);
      const head = ping ? null : this.queue[0];
      if (wait === 0 && head && head.subscribes > 0) {
        wait = this.budget.waitMs(now, head.subscribes);
        if (wait > 0 && !this.budgetWarned) {
          this.budgetWarned = true;
          this.log.warn("subscribe budget exhausted, waiting", {
            perHour: this.budget.cap,
            waitMs: Math.round(wait),
          });
        }
      }
      if (wait > 0) {
        this.timers.pump = setTimeout(() => {
          this.timers.pump = undefined;
          this.pump();
        }, Math.ceil(wait));
        return;
      }
      const text = head ? head.text : "ping";
      try {
        ws.send(text);
      } catch (e) {
        this.log.warn("send failed", { err: String(e) });
        return; // the close event follows
      }
      this.pacer.record(now);
      this.counters.messagesSent++;
      this.lastWasPing = head === null;
      if (head) {
        this.queue.shift();
        if (head.subscribes > 0) this.budget.record(now, head.subscribes);
      } else {
        this.pingDue = false;
        this.counters.pingsSent++;
      }
    }
  }
}
