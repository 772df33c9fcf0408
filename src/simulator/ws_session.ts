/**
 * One public-WebSocket connection of the loopback simulator: Bitget v2's public protocol
 * (API.md §1.1–§1.3, §10) over a replay cursor of its own.
 *
 * Protocol: text `ping` → text `pong`; `{"op":"subscribe"|"unsubscribe","args":[…]}` → one ack per
 * arg; errors as `{"event":"error","arg":…,"code":<number>,"msg":…,"op":…}`. Limits: more than
 * `maxInboundPerSec` (10) client messages in any 1 s window → error 30006 then close; args of one
 * message over 4096 bytes → error 30016 (Bitget's code for this case is UNCONFIRMED); no `ping`
 * for `idleTimeoutMs` (120 s) → close.
 *
 * Replay: all connections share one market clock (replay_clock.ts), started by the first accepted
 * subscribe on any connection (T0); frame i is due at T0 + (recv_i − recv_0) / speed. A
 * connection starting later joins at the clock's current frame and first gets rebuilt snapshots
 * of its keys, as after a real reconnect. With speed "max" frames go out as fast as the socket drains
 * (paused while `bufferedAmount` exceeds 1 MiB, yielding to the event loop every 64 frames so
 * pings and other connections are served). The connection receives only frames of keys it is
 * subscribed to; a subscribe after the cursor has passed a key's first frame gets a rebuilt
 * snapshot (snapshots.ts) before that key's next recorded frame.
 */
import { setImmediate } from "node:timers";
import type { Logger } from "../ops/log.ts";
import {
  corruptChecksum,
  type FaultBoard,
  type FiredFault,
  type FrameFault,
  malformedFrames,
} from "./faults.ts";
import { isAscii, keyName, KIND_BOOKS, type Recording } from "./recording.ts";
import type { SnapshotBuilder } from "./snapshots.ts";
import type { ReplayClock } from "./replay_clock.ts";
import {
  ackFrame,
  errorFrame,
  notExistMsg,
  parseClientMessage,
  type WireArg,
  wireArg,
} from "./ws_protocol.ts";

const HIGH_WATER = 1 << 20;
const LOW_WATER = 256 << 10;
const YIELD_EVERY = 64;

/** What a session needs from its server. */
export interface SessionHost {
  readonly rec: Recording;
  readonly faults: FaultBoard;
  readonly speed: number | "max";
  readonly onEnd: "idle" | "close";
  readonly idleTimeoutMs: number;
  readonly maxInboundPerSec: number;
  /** Latest frame index reached per key by any connection (feeds the REST endpoints). */
  readonly latest: Int32Array;
  /**
   * Called with every frame index a connection's cursor reaches, in order (the private
   * exchange's market feed: it processes each frame once, whichever connection is first).
   */
  frameDue?(i: number): void;
  readonly log: Logger;
  /** Mid-stream snapshot builder shared by the server's connections. */
  readonly snapshots: SnapshotBuilder;
  /** The market clock shared by all connections (replay_clock.ts). */
  readonly clock: ReplayClock;
  /**
   * Severs the relayed TCP connection (no close frame) once `wsBytes` WebSocket bytes have been
   * forwarded to the client; false if the connection is not relayed.
   */
  sever(relayPort: number, wsBytes: number): Promise<boolean>;
  onClosed(s: WsSession): void;
}

/** A session's state for `GET /sim/status`. */
export interface SessionStatus {
  id: number;
  remote: string;
  openedAt: number;
  subscriptions: string[];
  framesSent: number;
  snapshotsSent: number;
  injectedFrames: number;
  cursor: number;
  total: number;
  done: boolean;
  closed: boolean;
  closeReason: string | null;
}

const encoder = new TextEncoder();
function utf8Length(s: string): number {
  return isAscii(s) ? s.length : encoder.encode(s).length;
}
const yieldNow = () => new Promise<void>((r) => setImmediate(r));

export class WsSession {
  readonly openedAt = Date.now();
  framesSent = 0;
  snapshotsSent = 0;
  injectedFrames = 0;
  cursor = 0;
  started = false;
  closed = false;
  closeReason: string | null = null;

  private readonly subscribed: Uint8Array;
  private readonly inbound: number[] = [];
  private stalledUntil = 0;
  private held: string[] = [];
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private corrupt: FiredFault | null = null;
  private lastSent = "";
  private socketClosed!: () => void;
  private stallTimer: ReturnType<typeof setTimeout> | undefined;
  private sleepTimer: ReturnType<typeof setTimeout> | undefined;
  private wake: (() => void) | null = null;
  /** WebSocket bytes written so far (frames + headers), to let `drop@N` drain exactly. */
  private wireBytes = 0;
  /** Set while a `drop@N` is draining and cutting the connection. */
  dropping: Promise<void> | null = null;
  /** Resolves when the underlying socket has closed (handshake done or connection cut). */
  readonly socketDone = new Promise<void>((r) => (this.socketClosed = r));

  constructor(
    private readonly host: SessionHost,
    private readonly socket: WebSocket,
    readonly id: number,
    private readonly relayPort: number | null,
    readonly remote: string,
  ) {
    this.subscribed = new Uint8Array(host.rec.keys.length);
    socket.onopen = () => this.armIdle();
    socket.onmessage = (e) => this.onMessage(e.data);
    socket.onclose = () => {
      this.markClosed(this.closeReason ?? "closed by client");
      this.socketClosed();
    };
    socket.onerror = () => {};
  }

  status(): SessionStatus {
    const subs: string[] = [];
    const keys = this.host.rec.keys;
    for (let k = 0; k < keys.length; k++) {
      if (this.subscribed[k]) subs.push(keyName(keys[k].channel, keys[k].instId));
    }
    return {
      id: this.id,
      remote: this.remote,
      openedAt: this.openedAt,
      subscriptions: subs,
      framesSent: this.framesSent,
      snapshotsSent: this.snapshotsSent,
      injectedFrames: this.injectedFrames,
      cursor: this.cursor,
      total: this.host.rec.count,
      done: this.cursor >= this.host.rec.count,
      closed: this.closed,
      closeReason: this.closeReason,
    };
  }

  /** Closes politely (server shutdown). */
  shutdown(): void {
    this.closeWith(1001, "server shutdown");
  }

  // ---- outbound ------------------------------------------------------------------------------

  /** Sends a text frame (held while stalled). `ascii`: the caller knows the text is ASCII. */
  private send(text: string, ascii = false): void {
    if (this.closed) return;
    if (this.stalledUntil > 0) {
      this.held.push(text);
      return;
    }
    if (this.socket.readyState !== WebSocket.OPEN) return;
    this.socket.send(text);
    // Bytes on the wire: payload + unmasked server frame header (RFC 6455 §5.2).
    const len = ascii ? text.length : utf8Length(text);
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
    clearTimeout(this.stallTimer);
    clearTimeout(this.sleepTimer);
    this.wake?.();
    this.held = [];
    if (this.started) this.host.clock.connectionLost(this.cursor);
    this.host.onClosed(this);
  }

  // ---- inbound -------------------------------------------------------------------------------

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(
      () => this.closeWith(1000, `no ping for ${this.host.idleTimeoutMs} ms`),
      this.host.idleTimeoutMs,
    );
  }

  private onMessage(data: unknown): void {
    if (this.closed) return;
    // API.md §1.1: every client message (pings and ops) counts toward 10 per second.
    const now = performance.now();
    const q = this.inbound;
    while (q.length > 0 && q[0] <= now - 1000) q.shift();
    q.push(now);
    if (q.length > this.host.maxInboundPerSec) {
      this.send(errorFrame(30006));
      this.closeWith(1000, "inbound rate limit exceeded (30006)");
      return;
    }
    const m = parseClientMessage(data);
    if (m.type === "ping") {
      this.armIdle();
      this.send("pong");
      return;
    }
    if (m.type === "invalid") {
      this.send(m.reply);
      return;
    }
    const { op, args } = m;
    let accepted = false;
    for (const a of args) {
      if (op === "subscribe") accepted = this.subscribe(a) || accepted;
      else this.unsubscribe(a);
    }
    if (accepted && !this.started) {
      this.started = true;
      this.replay().catch((e) => {
        this.host.log.error("replay loop failed", { connection: this.id, err: String(e) });
        this.closeWith(1011, "internal error");
      });
    }
  }

  /** Validates an arg against the recording; returns its key id, or null after the error frame. */
  private resolve(a: unknown, op: string): { arg: WireArg; k: number } | null {
    const arg = wireArg(a);
    if (!arg) {
      this.send(errorFrame(30016, undefined, a ?? null, op));
      return null;
    }
    const { rec, faults } = this.host;
    const k = rec.keyIndex.get(keyName(arg.channel, arg.instId));
    const known = k !== undefined &&
      arg.instType.toUpperCase() === rec.keys[k].instType.toUpperCase();
    if (
      !known || (op === "subscribe" && faults.rejectSubscribe(arg.channel, arg.instId, this.id))
    ) {
      this.send(errorFrame(30001, notExistMsg(arg), arg, op));
      return null;
    }
    return { arg, k: k! };
  }

  private subscribe(a: unknown): boolean {
    const r = this.resolve(a, "subscribe");
    if (!r) return false;
    this.send(ackFrame("subscribe", r.arg));
    this.subscribed[r.k] = 1;
    if (this.started) {
      const snap = this.host.snapshots.snapshotAt(this.host.rec.keys[r.k], this.cursor);
      if (snap !== null) {
        this.send(snap);
        this.snapshotsSent++;
      }
    }
    return true;
  }

  private unsubscribe(a: unknown): void {
    const r = this.resolve(a, "unsubscribe");
    if (!r) return;
    this.subscribed[r.k] = 0;
    this.send(ackFrame("unsubscribe", r.arg));
  }

  // ---- replay --------------------------------------------------------------------------------

  private async replay(): Promise<void> {
    const { rec, latest, faults } = this.host;
    const speed = this.host.speed;
    const n = rec.count;
    const { recvMs, keyOf, text, isSnapshot } = rec;
    const kinds = rec.keys.map((k) => k.kind);
    const ascii = rec.ascii;
    const clock = this.host.clock;
    this.cursor = clock.joinIndex();
    const t0 = clock.start();
    const r0 = recvMs[0];
    if (this.cursor > 0) {
      // Joined mid-stream: what the client subscribed to so far gets the current state first.
      for (let k = 0; k < this.subscribed.length; k++) {
        if (this.subscribed[k] !== 1) continue;
        const snap = this.host.snapshots.snapshotAt(rec.keys[k], this.cursor);
        if (snap !== null) {
          this.send(snap);
          this.snapshotsSent++;
        }
      }
    }
    this.applyFaults(faults.hasFrameFaults ? faults.takeAt(0, this.id) : []);
    let sinceYield = 0;
    while (this.cursor < n && !this.closed) {
      if (this.stalledUntil > 0) {
        await this.sleep(Math.max(1, this.stalledUntil - performance.now()));
        continue;
      }
      if (speed !== "max") {
        const wait = t0 + (recvMs[this.cursor] - r0) / speed - performance.now();
        if (wait >= 1) {
          await this.sleep(wait);
          sinceYield = 0;
          continue;
        }
      }
      const i = this.cursor;
      const k = keyOf[i];
      latest[k] = i;
      this.host.frameDue?.(i);
      this.cursor = i + 1;
      if (this.subscribed[k] === 1) {
        let t = text[i];
        if (this.corrupt !== null && kinds[k] === KIND_BOOKS && isSnapshot[i] === 0) {
          const c = corruptChecksum(t);
          if (c) {
            t = c.text;
            this.corrupt.detail = {
              instId: rec.keys[k].instId,
              seq: c.seq,
              checksum: c.checksum,
              sent: c.sent,
            };
            this.corrupt = null;
          }
        }
        this.send(t, ascii);
        this.lastSent = t;
        this.framesSent++;
        if (faults.hasFrameFaults) this.applyFaults(faults.takeAt(this.framesSent, this.id));
      }
      if (++sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        if (this.socket.bufferedAmount > HIGH_WATER) {
          while (!this.closed && this.socket.bufferedAmount > LOW_WATER) await this.sleep(1);
        } else {
          await yieldNow();
        }
      }
    }
    if (this.closed || this.host.onEnd !== "close") return;
    while (!this.closed && (this.socket.bufferedAmount > 0 || this.stalledUntil > 0)) {
      await this.sleep(2);
    }
    this.closeWith(1000, "end of recording");
  }

  private applyFaults(list: { fault: FrameFault; fired: FiredFault }[]): void {
    for (const { fault, fired } of list) {
      this.host.log.info("fault fired", { connection: this.id, spec: fired.spec });
      switch (fault.kind) {
        case "drop":
          this.markClosed(`fault ${fired.spec}`);
          this.dropping = this.dropConnection();
          return;
        case "stall":
          this.stall(fault.ms);
          break;
        case "malformed":
          for (const f of malformedFrames(this.lastSent)) this.send(f);
          this.injectedFrames += 2;
          break;
        case "error":
          this.send(errorFrame(fault.code));
          this.closeWith(1000, `fault ${fired.spec}`);
          return;
        case "checksum":
          this.corrupt = fired;
          break;
      }
    }
  }

  /**
   * `drop@N`: the frames already sent still reach the client (the relay waits until it has
   * forwarded every byte written), then the TCP connection is cut with no close frame. Without a relay (a client that bypassed
   * it), falls back to a 1011 close.
   */
  private async dropConnection(): Promise<void> {
    if (this.relayPort !== null && await this.host.sever(this.relayPort, this.wireBytes)) return;
    try {
      this.socket.close(1011, this.closeReason ?? "drop");
    } catch {
      // already closed
    }
  }

  /** A timer the session cancels when it closes (so no timer outlives the connection). */
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
      this.sleepTimer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
    });
  }

  private stall(ms: number): void {
    this.stalledUntil = performance.now() + ms;
    this.stallTimer = setTimeout(() => {
      this.stalledUntil = 0;
      const held = this.held;
      this.held = [];
      for (const t of held) this.send(t);
    }, ms);
  }
}
