/**
 * One private-WebSocket connection of the loopback simulator (`/v2/ws/private`, through the same
 * TCP relay as the public socket): Bitget v2's private protocol (API.md §3) over the private
 * exchange (private_exchange.ts).
 *
 * - Text `ping` → text `pong`; more than `maxInboundPerSec` (10) client messages in any 1 s
 *   window → error 30006 and close; no `ping` for `idleTimeoutMs` → close (API.md §1.1).
 * - `{"op":"login","args":[{apiKey, passphrase, timestamp (seconds), sign}]}` →
 *   `{"event":"login","code":0,"msg":""}`; a failure (auth.ts: 30005, 30011–30015) →
 *   `{"event":"error","code":N,"msg":…}` and the connection is closed (1000).
 * - `subscribe` / `unsubscribe` before login → `{"event":"error","arg":…,"code":30004,
 *   "msg":"User needs to log in","op":…}`. Channels (API.md §3.2): `orders`, `fill`,
 *   `orders-algo` with instId `default` or a symbol; `positions` with instId `default`; `account`
 *   with `coin: "default"`; instType USDT-FUTURES. Anything else → 30001.
 *   Each accepted arg gets its ack `{"event":"subscribe","arg":{…}}` and then a snapshot of the
 *   current state (`orders`: open orders; `positions`: every open leg; `account`: the USDT
 *   account; `orders-algo`: live plans; `fill`: none — fills are events).
 * - Pushes, after the snapshot: every change, as `{"action":"snapshot","arg":{…},"data":[…],
 *   "ts":<exchange ms>}` (all private pushes say `snapshot`, API.md §3.2).
 * - `private-drop@N` (faults.ts): once the connection has been sent N pushes (snapshots
 *   included), the TCP connection is cut without a close frame (the client sees code 0 in Deno).
 */
import type { BitgetCredentials } from "../bitget/sign.ts";
import type { Logger } from "../ops/log.ts";
import { verifyWsLogin } from "./auth.ts";
import type { FaultBoard } from "./faults.ts";
import type { PrivateExchange } from "./private_exchange.ts";
import type { PrivateChannel, PrivatePush } from "./private_records.ts";
import { errorFrame } from "./ws_protocol.ts";

/** What a private session needs from its server. */
export interface PrivateHost {
  readonly exchange: PrivateExchange;
  readonly creds: BitgetCredentials | null;
  readonly faults: FaultBoard;
  readonly idleTimeoutMs: number;
  readonly maxInboundPerSec: number;
  readonly log: Logger;
  /** Cuts the relayed connection once `wsBytes` WebSocket bytes were forwarded (no close frame). */
  sever(relayPort: number, wsBytes: number): Promise<boolean>;
  onClosed(s: PrivateWsSession): void;
}

/** A private session's state for `GET /sim/status`. */
export interface PrivateSessionStatus {
  id: number;
  remote: string;
  openedAt: number;
  loggedIn: boolean;
  subscriptions: string[];
  pushesSent: number;
  closed: boolean;
  closeReason: string | null;
}

const CHANNELS = new Set<string>(["orders", "fill", "positions", "account", "orders-algo"]);
const encoder = new TextEncoder();

interface Sub {
  channel: PrivateChannel;
  /** null = `default` (all symbols). */
  symbol: string | null;
  /** The arg as echoed, keys in Bitget's order. */
  arg: Record<string, string>;
}

export class PrivateWsSession {
  readonly openedAt = Date.now();
  loggedIn = false;
  pushesSent = 0;
  closed = false;
  closeReason: string | null = null;
  dropping: Promise<void> | null = null;
  readonly socketDone: Promise<void>;
  private readonly subs = new Map<string, Sub>();
  private readonly inbound: number[] = [];
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private wireBytes = 0;
  private unlisten: (() => void) | null = null;
  private socketClosed!: () => void;

  constructor(
    private readonly host: PrivateHost,
    private readonly socket: WebSocket,
    readonly id: number,
    private readonly relayPort: number | null,
    readonly remote: string,
  ) {
    this.socketDone = new Promise<void>((r) => (this.socketClosed = r));
    socket.onopen = () => this.armIdle();
    socket.onmessage = (e) => this.onMessage(e.data);
    socket.onclose = () => {
      this.markClosed(this.closeReason ?? "closed by client");
      this.socketClosed();
    };
    socket.onerror = () => {};
  }

  status(): PrivateSessionStatus {
    return {
      id: this.id,
      remote: this.remote,
      openedAt: this.openedAt,
      loggedIn: this.loggedIn,
      subscriptions: [...this.subs.keys()],
      pushesSent: this.pushesSent,
      closed: this.closed,
      closeReason: this.closeReason,
    };
  }

  /** Closes politely (server shutdown). */
  shutdown(): void {
    this.closeWith(1001, "server shutdown");
  }

  private send(text: string): void {
    if (this.closed || this.socket.readyState !== WebSocket.OPEN) return;
    this.socket.send(text);
    const len = encoder.encode(text).length;
    this.wireBytes += len + (len < 126 ? 2 : len < 65536 ? 4 : 10);
  }

  private closeWith(code: number, reason: string): void {
    if (this.closed) return;
    this.closeReason = reason;
    try {
      if (this.socket.readyState <= WebSocket.OPEN) this.socket.close(code, reason);
    } catch {
      // already closing
    }
    this.markClosed(reason);
  }

  private markClosed(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason ??= reason;
    clearTimeout(this.idleTimer);
    this.unlisten?.();
    this.unlisten = null;
    this.host.onClosed(this);
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(
      () => this.closeWith(1000, `no ping for ${this.host.idleTimeoutMs} ms`),
      this.host.idleTimeoutMs,
    );
  }

  private onMessage(data: unknown): void {
    if (this.closed) return;
    const now = performance.now();
    const q = this.inbound;
    while (q.length > 0 && q[0] <= now - 1000) q.shift();
    q.push(now);
    if (q.length > this.host.maxInboundPerSec) {
      this.send(errorFrame(30006));
      this.closeWith(1000, "inbound rate limit exceeded (30006)");
      return;
    }
    if (data === "ping") {
      this.armIdle();
      this.send("pong");
      return;
    }
    let m: { op?: unknown; args?: unknown } | null = null;
    try {
      m = typeof data === "string" ? JSON.parse(data) : null;
    } catch {
      m = null;
    }
    if (m === null || typeof m !== "object" || Array.isArray(m)) {
      this.send(errorFrame(30016));
      return;
    }
    const { op, args } = m;
    if (op === "login") return this.login(args);
    if (op !== "subscribe" && op !== "unsubscribe") {
      this.send(errorFrame(30003, undefined, undefined, typeof op === "string" ? op : undefined));
      return;
    }
    if (!Array.isArray(args) || args.length === 0) {
      this.send(errorFrame(30016, undefined, undefined, op));
      return;
    }
    for (const a of args) {
      if (!this.loggedIn) {
        this.send(errorFrame(30004, undefined, a ?? null, op));
        continue;
      }
      if (op === "subscribe") this.subscribe(a);
      else this.unsubscribe(a);
    }
  }

  private login(args: unknown): void {
    const bad = verifyWsLogin(this.host.creds, args);
    if (bad) {
      this.send(JSON.stringify({ event: "error", code: bad.code, msg: bad.msg }));
      this.closeWith(1000, `login failed (${bad.code})`);
      return;
    }
    this.loggedIn = true;
    this.send(JSON.stringify({ event: "login", code: 0, msg: "" }));
    this.unlisten ??= this.host.exchange.listen((p) => this.onPush(p));
  }

  /** Validates a private arg (module doc); null after sending the error frame. */
  private resolve(a: unknown, op: string): Sub | null {
    const o = a as Record<string, unknown> | null;
    const str = (k: string) => (o && typeof o[k] === "string" ? o[k] as string : null);
    const instType = str("instType");
    const channel = str("channel");
    if (!instType || !channel) {
      this.send(errorFrame(30016, undefined, a ?? null, op));
      return null;
    }
    const account = channel === "account";
    const target = account ? str("coin") : str("instId");
    const ok = instType.toUpperCase() === "USDT-FUTURES" && CHANNELS.has(channel) &&
      target !== null &&
      (target === "default" ||
        (!account && channel !== "positions" && this.host.exchange.specs.has(target)));
    const arg: Record<string, string> = { instType, channel };
    arg[account ? "coin" : "instId"] = target ?? "";
    if (!ok) {
      const msg = `instType:${instType},channel:${channel},${account ? "coin" : "instId"}:${
        target ?? ""
      } doesn't exist`;
      this.send(errorFrame(30001, msg, arg, op));
      return null;
    }
    return {
      channel: channel as PrivateChannel,
      symbol: target === "default" ? null : target,
      arg,
    };
  }

  private subscribe(a: unknown): void {
    const s = this.resolve(a, "subscribe");
    if (!s) return;
    this.send(JSON.stringify({ event: "subscribe", arg: s.arg }));
    const key = `${s.channel}:${s.arg.instId ?? s.arg.coin}`;
    this.subs.set(key, s);
    if (s.channel === "fill") return;
    this.host.exchange.sync();
    const data = this.host.exchange.views.snapshot(s.channel, s.symbol);
    this.push(s, data, this.host.exchange.now);
  }

  private unsubscribe(a: unknown): void {
    const s = this.resolve(a, "unsubscribe");
    if (!s) return;
    this.subs.delete(`${s.channel}:${s.arg.instId ?? s.arg.coin}`);
    this.send(JSON.stringify({ event: "unsubscribe", arg: s.arg }));
  }

  private onPush(p: PrivatePush): void {
    for (const s of this.subs.values()) {
      if (s.channel !== p.channel) continue;
      if (s.symbol !== null && p.symbol !== null && s.symbol !== p.symbol) continue;
      this.push(s, p.data, p.ts);
    }
  }

  private push(s: Sub, data: unknown[], ts: number): void {
    if (this.closed) return;
    this.send(JSON.stringify({ action: "snapshot", arg: s.arg, data, ts }));
    this.pushesSent++;
    if (
      this.host.faults.hasPrivateDrops && this.host.faults.takePrivateDrop(this.pushesSent, this.id)
    ) {
      this.host.log.info("fault fired", {
        connection: this.id,
        spec: `private-drop@${this.pushesSent}`,
      });
      this.markClosed(`fault private-drop@${this.pushesSent}`);
      this.dropping = this.drop();
    }
  }

  /** Cuts the TCP connection after what was sent reached the client; 1011 close without a relay. */
  private async drop(): Promise<void> {
    if (this.relayPort !== null && await this.host.sever(this.relayPort, this.wireBytes)) return;
    try {
      this.socket.close(1011, this.closeReason ?? "drop");
    } catch {
      // already closed
    }
  }
}
