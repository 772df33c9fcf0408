/**
 * Fault injection for the loopback simulator: specs, parsing, and the board that hands each
 * fault to the first connection (or REST request) that reaches it.
 *
 * Spec grammar (public `@N` faults: N = the connection's count of recorded data frames sent so
 * far; private faults: see each row):
 *
 * | spec | effect |
 * |---|---|
 * | `drop@N` | after N frames, sever the TCP connection without a WebSocket close frame |
 * | `stall@N:MS` | after N frames, send nothing (data, acks, pongs) for MS ms, then resume |
 * | `malformed@N` | after N frames, send one truncated-JSON text frame and one JSON frame with ill-typed `data`/`ts` |
 * | `error@N:CODE` | after N frames, send `{"event":"error","code":CODE,"msg":…}` and close (1000) |
 * | `checksum@N` | the first `books` update sent after N frames carries a wrong `checksum` |
 * | `reject:CHANNEL:INSTID[:K]` | subscribes to that key get error 30001 (every time, or the next K times) |
 * | `rest429:N` | the next N REST requests (public or private) get HTTP 429 |
 * | `order-timeout@N` | the Nth `place-order` request counted from when the fault is armed (one that passed authentication, rate limiting and parameter checks) is executed, but its HTTP response is never sent: the client's TCP connection is cut through the relay (reset/EOF, no status line); without the relay the response body is aborted |
 * | `private-drop@N` | the first private-WebSocket connection to have been sent N pushes (`{"action":…}` frames, subscribe snapshots included) is cut without a close frame |
 * | `reject-order:CODE[:K]` | the next K (default 1) `place-order` requests are refused with Bitget code CODE (HTTP 400, Bitget's msg for the code, e.g. 43012 "Insufficient balance"); the exchange never sees them |
 *
 * `@N` faults fire once, on the first connection whose count reaches exactly N (a connection
 * already past N when the fault is added does not fire it; a later one will).
 *
 * `order-timeout` and HTTP keep-alive: a client that sent the request on a reused keep-alive
 * connection may retry it by itself when that connection dies without a response (Deno's fetch
 * does — hyper treats it as a stale pooled connection), so the retry meets 40786 "Duplicate
 * clientOid"; on a fresh connection the client sees the failure (tests use one per request).
 */

export type FrameFault =
  | { kind: "drop"; at: number }
  | { kind: "stall"; at: number; ms: number }
  | { kind: "malformed"; at: number }
  | { kind: "error"; at: number; code: number }
  | { kind: "checksum"; at: number };

export type FaultSpec =
  | FrameFault
  | { kind: "reject"; channel: string; instId: string; times: number | null }
  | { kind: "rest429"; count: number }
  | { kind: "order-timeout"; at: number }
  | { kind: "private-drop"; at: number }
  | { kind: "reject-order"; code: string; times: number };

/** A fault that took effect. */
export interface FiredFault {
  spec: string;
  /** WebSocket connection id, or null for REST faults. */
  connection: number | null;
  /** The connection's data-frame count when it fired (null for REST / reject). */
  framesSent: number | null;
  /** Wall time, epoch ms. */
  atMs: number;
  /** Extra facts, e.g. the instId/seq whose checksum was corrupted. */
  detail?: Record<string, unknown>;
}

/** Thrown for a spec that does not match the grammar above. */
export class FaultSpecError extends Error {
  override name = "FaultSpecError";
}

const GRAMMAR = "expected drop@N, stall@N:MS, malformed@N, error@N:CODE, checksum@N, " +
  "reject:CHANNEL:INSTID[:K], rest429:N, order-timeout@N, private-drop@N or reject-order:CODE[:K]";

function count(s: string, what: string, spec: string): number {
  if (!/^\d+$/.test(s)) {
    throw new FaultSpecError(`fault "${spec}": ${what} must be a non-negative integer, got "${s}"`);
  }
  const v = Number(s);
  if (!Number.isSafeInteger(v)) throw new FaultSpecError(`fault "${spec}": ${what} too large`);
  return v;
}

/** Parses one spec string. Throws FaultSpecError naming the spec and the expected grammar. */
export function parseFaultSpec(spec: string): FaultSpec {
  const s = spec.trim();
  const at = /^(drop|stall|malformed|error|checksum)@([^:]*)(?::(.*))?$/.exec(s);
  if (at) {
    const [, kind, nStr, extra] = at;
    const n = count(nStr, "N (frames)", s);
    switch (kind) {
      case "stall":
        if (extra === undefined) throw new FaultSpecError(`fault "${s}": expected stall@N:MS`);
        return { kind, at: n, ms: count(extra, "MS", s) };
      case "error": {
        if (extra === undefined) throw new FaultSpecError(`fault "${s}": expected error@N:CODE`);
        return { kind, at: n, code: count(extra, "CODE", s) };
      }
      default:
        if (extra !== undefined) throw new FaultSpecError(`fault "${s}": unexpected ":${extra}"`);
        return { kind: kind as "drop" | "malformed" | "checksum", at: n };
    }
  }
  const rej = /^reject:([^:]+):([^:]+)(?::(.*))?$/.exec(s);
  if (rej) {
    return {
      kind: "reject",
      channel: rej[1],
      instId: rej[2],
      times: rej[3] === undefined ? null : count(rej[3], "K", s),
    };
  }
  const r429 = /^rest429:(.*)$/.exec(s);
  if (r429) return { kind: "rest429", count: count(r429[1], "N (requests)", s) };
  const priv = /^(order-timeout|private-drop)@(.*)$/.exec(s);
  if (priv) {
    const n = count(
      priv[2],
      priv[1] === "order-timeout" ? "N (place-order requests)" : "N (pushes)",
      s,
    );
    if (priv[1] === "order-timeout" && n < 1) {
      throw new FaultSpecError(`fault "${s}": N (place-order requests) must be ≥ 1`);
    }
    return { kind: priv[1] as "order-timeout" | "private-drop", at: n };
  }
  const ro = /^reject-order:([^:]*)(?::(.*))?$/.exec(s);
  if (ro) {
    if (!/^\d{1,8}$/.test(ro[1])) {
      throw new FaultSpecError(
        `fault "${s}": CODE must be a Bitget error code (digits), got "${ro[1]}"`,
      );
    }
    const times = ro[2] === undefined ? 1 : count(ro[2], "K", s);
    return { kind: "reject-order", code: ro[1], times };
  }
  throw new FaultSpecError(`unknown fault "${s}": ${GRAMMAR}`);
}

/** Canonical text of a spec (used in status output). */
export function formatFaultSpec(f: FaultSpec): string {
  switch (f.kind) {
    case "stall":
      return `stall@${f.at}:${f.ms}`;
    case "error":
      return `error@${f.at}:${f.code}`;
    case "reject":
      return `reject:${f.channel}:${f.instId}${f.times === null ? "" : ":" + f.times}`;
    case "rest429":
      return `rest429:${f.count}`;
    case "reject-order":
      return `reject-order:${f.code}${f.times === 1 ? "" : ":" + f.times}`;
    default:
      return `${f.kind}@${f.at}`;
  }
}

/** Pending and fired faults of one simulator. Not thread-shared: used from the server's isolate. */
export class FaultBoard {
  private readonly byFrame = new Map<number, FrameFault[]>();
  private readonly rejects: { channel: string; instId: string; left: number | null }[] = [];
  private rest429Left = 0;
  /** order-timeout: remaining place-order requests to let through before each one fires. */
  private readonly orderTimeouts: { spec: string; left: number }[] = [];
  private readonly privateDrops: number[] = [];
  private readonly orderRejects: { code: string; left: number }[] = [];
  readonly fired: FiredFault[] = [];
  /** True while any `@N` fault is pending (lets the replay loop skip the lookup). */
  hasFrameFaults = false;

  /** Adds a parsed spec or a spec string (throws FaultSpecError on a bad string). */
  add(spec: FaultSpec | string): FaultSpec {
    const f = typeof spec === "string" ? parseFaultSpec(spec) : spec;
    switch (f.kind) {
      case "reject":
        this.rejects.push({ channel: f.channel, instId: f.instId, left: f.times });
        break;
      case "rest429":
        this.rest429Left += f.count;
        break;
      case "order-timeout":
        this.orderTimeouts.push({ spec: formatFaultSpec(f), left: f.at });
        break;
      case "private-drop":
        this.privateDrops.push(f.at);
        break;
      case "reject-order":
        if (f.times > 0) this.orderRejects.push({ code: f.code, left: f.times });
        break;
      default: {
        const list = this.byFrame.get(f.at) ?? [];
        list.push(f);
        this.byFrame.set(f.at, list);
        this.hasFrameFaults = true;
      }
    }
    return f;
  }

  /**
   * Removes and returns the `@N` faults for a connection that has just sent its N-th frame, each
   * with its `fired` record (the caller may add `detail`).
   */
  takeAt(framesSent: number, connection: number): { fault: FrameFault; fired: FiredFault }[] {
    const list = this.byFrame.get(framesSent);
    if (!list) return [];
    this.byFrame.delete(framesSent);
    this.hasFrameFaults = this.byFrame.size > 0;
    const atMs = Date.now();
    return list.map((fault) => {
      const fired: FiredFault = { spec: formatFaultSpec(fault), connection, framesSent, atMs };
      this.fired.push(fired);
      return { fault, fired };
    });
  }

  /** Whether a subscribe to (channel, instId) must be rejected; consumes one of K if limited. */
  rejectSubscribe(channel: string, instId: string, connection: number): boolean {
    for (const r of this.rejects) {
      if (r.channel !== channel || r.instId !== instId) continue;
      if (r.left === 0) continue;
      if (r.left !== null) r.left--;
      this.fired.push({
        spec: `reject:${channel}:${instId}`,
        connection,
        framesSent: null,
        atMs: Date.now(),
      });
      return true;
    }
    return false;
  }

  /** Whether this REST request must get HTTP 429 (consumes one). */
  takeRest429(path: string): boolean {
    if (this.rest429Left <= 0) return false;
    this.rest429Left--;
    this.fired.push({
      spec: "rest429",
      connection: null,
      framesSent: null,
      atMs: Date.now(),
      detail: { path },
    });
    return true;
  }

  /**
   * Called once per place-order request that reached the exchange: true when an armed
   * `order-timeout@N` counts this request as its Nth (fires once, recorded).
   */
  takeOrderTimeout(clientOid: string): boolean {
    let hit = false;
    for (let i = 0; i < this.orderTimeouts.length; i++) {
      const t = this.orderTimeouts[i];
      if (--t.left > 0) continue;
      if (hit) {
        t.left = 1; // two faults due on the same request: the second takes the next one
        continue;
      }
      hit = true;
      this.orderTimeouts.splice(i--, 1);
      this.fired.push({
        spec: t.spec,
        connection: null,
        framesSent: null,
        atMs: Date.now(),
        detail: { clientOid },
      });
    }
    return hit;
  }

  /** The Bitget code a `reject-order` fault refuses this place-order request with, or null. */
  takeOrderReject(clientOid: string): string | null {
    const r = this.orderRejects[0];
    if (!r) return null;
    if (--r.left <= 0) this.orderRejects.shift();
    this.fired.push({
      spec: `reject-order:${r.code}`,
      connection: null,
      framesSent: null,
      atMs: Date.now(),
      detail: { clientOid },
    });
    return r.code;
  }

  /** True while a `private-drop@N` is pending (lets private sessions skip the lookup). */
  get hasPrivateDrops(): boolean {
    return this.privateDrops.length > 0;
  }

  /**
   * Whether a private-WebSocket connection that has just been sent its `pushes`-th push must be
   * cut (`private-drop@N`, N = pushes; fires once, recorded).
   */
  takePrivateDrop(pushes: number, connection: number): boolean {
    const i = this.privateDrops.indexOf(pushes);
    if (i < 0) return false;
    this.privateDrops.splice(i, 1);
    this.fired.push({
      spec: `private-drop@${pushes}`,
      connection,
      framesSent: null,
      atMs: Date.now(),
      detail: { pushes },
    });
    return true;
  }

  /** Faults not yet fired (for status). */
  pending(): string[] {
    const out: string[] = [];
    for (const list of this.byFrame.values()) for (const f of list) out.push(formatFaultSpec(f));
    for (const r of this.rejects) {
      if (r.left !== 0) {
        out.push(
          formatFaultSpec({ kind: "reject", channel: r.channel, instId: r.instId, times: r.left }),
        );
      }
    }
    if (this.rest429Left > 0) out.push(`rest429:${this.rest429Left}`);
    for (const t of this.orderTimeouts) out.push(`order-timeout@${t.left}`);
    for (const n of this.privateDrops) out.push(`private-drop@${n}`);
    for (const r of this.orderRejects) {
      out.push(formatFaultSpec({ kind: "reject-order", code: r.code, times: r.left }));
    }
    return out;
  }
}

/**
 * `malformed@N` frames: the last frame sent cut in half (a torn message), then a parseable frame
 * on the same arg whose `data` is an object instead of an array and whose `ts` is a string.
 */
export function malformedFrames(lastSent: string): [torn: string, illTyped: string] {
  const last = lastSent || '{"action":"update","arg":{"instType":"USDT-FUTURES"}}';
  const m = /"arg":(\{[^{}]*\})/.exec(last);
  return [
    last.slice(0, Math.max(1, last.length >> 1)),
    `{"action":"update","arg":${m ? m[1] : "{}"},"data":{"asks":"oops"},"ts":"bad"}`,
  ];
}

/**
 * `checksum@N`: the frame with its `checksum` replaced by checksum + 1 (as signed int32), every
 * other byte unchanged; null when the frame has no checksum.
 */
export function corruptChecksum(
  frame: string,
): { text: string; seq: number | null; checksum: number; sent: number } | null {
  const m = /"checksum":(-?\d+)/.exec(frame);
  if (!m) return null;
  const checksum = Number(m[1]);
  const sent = (checksum + 1) | 0;
  const seq = /"seq":(\d+)/.exec(frame);
  return {
    text: frame.slice(0, m.index) + `"checksum":${sent}` + frame.slice(m.index + m[0].length),
    seq: seq ? Number(seq[1]) : null,
    checksum,
    sent,
  };
}
