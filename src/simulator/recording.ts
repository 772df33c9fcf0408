/**
 * Loads a Bitget v2 public-WebSocket recording into memory for the loopback simulator.
 *
 * Format (shared/data/bitget_replay/README.md §1): JSON Lines, optionally gzip-compressed, one frame
 * per line: `{"recv_ms": <float ms since epoch>, "msg": <the Bitget v2 JSON object as sent>}`.
 * Subscribe acks come first; the simulator generates its own, so recorded `event` frames are skipped.
 *
 * Every data frame keeps the exact text of its `msg` (sliced out of the line, never re-serialised),
 * so the simulator sends the recorded bytes. Frames are stored column-wise (typed arrays plus one
 * string array) because the replay loop touches them ~40k times per connection.
 */

/** How the simulator builds a fresh snapshot for a channel after a mid-stream (re)subscribe. */
export const KIND_BOOKS = 1; // `books`: incremental depth, rebuilt with OrderBook
export const KIND_TRADE = 2; // `trade`: recent trades, newest first
export const KIND_TICKER = 3; // `ticker`: latest push re-sent
export const KIND_CANDLE = 4; // `candle<interval>`: bars of the window so far
export const KIND_LATEST = 5; // `books1/5/15` and other full-snapshot channels: latest push re-sent

/** One (channel, instId) stream of the recording. */
export interface RecordingKey {
  /** Dense id, index into `Recording.keys`. */
  id: number;
  instType: string;
  channel: string;
  instId: string;
  /** One of the KIND_* constants. */
  kind: number;
  /** Indices (into the frame columns) of this key's frames, ascending. */
  frames: Int32Array;
}

/** A loaded recording: data frames in file order, column-wise. */
export interface Recording {
  path: string;
  /** Number of data frames (acks and other `event` frames excluded). */
  count: number;
  /** Exact JSON text of each frame's `msg`. */
  text: string[];
  /** Receive time of each frame, epoch ms (fractional). */
  recvMs: Float64Array;
  /** Envelope `ts` of each frame (Bitget push time), epoch ms. */
  tsMs: Float64Array;
  /** Running maximum of `tsMs` up to and including each frame: the recording's clock. */
  clockMs: Float64Array;
  /** Key id of each frame. */
  keyOf: Uint16Array;
  /** 1 when the frame's `action` is `snapshot`, 0 for `update`. */
  isSnapshot: Uint8Array;
  keys: RecordingKey[];
  /** `keyName(channel, instId)` → key id. */
  keyIndex: Map<string, number>;
  /** Distinct instIds, in order of first appearance. */
  symbols: string[];
  /** True when the file is pure ASCII, so a frame's UTF-8 byte length is its string length. */
  ascii: boolean;
  /** Recorded `event` frames (subscribe acks etc.) that were skipped. */
  skippedEvents: number;
  /** Non-empty lines read. */
  lines: number;
  /** Wall time the load took, ms. */
  loadMs: number;
}

/** Thrown for an unreadable or malformed recording; the message names file and line. */
export class RecordingError extends Error {
  override name = "RecordingError";
}

/** Map key of a stream: `channel:instId` (instType is always USDT-FUTURES here). */
export function keyName(channel: string, instId: string): string {
  return channel + ":" + instId;
}

function kindOf(channel: string): number {
  if (channel === "books") return KIND_BOOKS;
  if (channel === "trade") return KIND_TRADE;
  if (channel === "ticker") return KIND_TICKER;
  if (channel.startsWith("candle")) return KIND_CANDLE;
  return KIND_LATEST;
}

async function readText(path: string): Promise<string> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw new RecordingError(`cannot open recording ${path}: ${(e as Error).message}`);
  }
  try {
    let stream: ReadableStream<Uint8Array> = file.readable;
    if (path.endsWith(".gz")) {
      stream = stream.pipeThrough(new DecompressionStream("gzip") as never);
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    for await (const c of stream) {
      chunks.push(c);
      total += c.length;
    }
    const buf = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      buf.set(c, o);
      o += c.length;
    }
    return new TextDecoder("utf-8", { fatal: true }).decode(buf);
  } catch (e) {
    if (e instanceof RecordingError) throw e;
    throw new RecordingError(`cannot read recording ${path}: ${(e as Error).message}`);
  }
}

// Fast path for Bitget's key order `{"action":"…","arg":{…},"data":…,"ts":N}`: the arg object is
// flat (no nested braces) and `ts` is the last member, so neither needs a full parse of `data`.
const HEAD_RE = /^\{"action":"(snapshot|update)","arg":(\{[^{}]*\})/;
const TAIL_RE = /,"ts":(\d+)\}$/;

interface Parsed {
  event?: string;
  action?: string;
  arg?: { instType?: unknown; channel?: unknown; instId?: unknown };
  ts?: unknown;
}

/** Options for `loadRecording`. */
export interface LoadOptions {
  /** JSON.parse every frame to prove it is valid JSON (slower: ~+250 ms for 38k frames). */
  validate?: boolean;
}

/**
 * Reads a `.jsonl` or `.jsonl.gz` recording (gzip via DecompressionStream).
 * Throws RecordingError naming the file and 1-based line for an unreadable file, a line that is
 * not `{"recv_ms":<number>,"msg":{…}}`, or a data frame without action/arg/ts.
 */
export async function loadRecording(path: string, opts: LoadOptions = {}): Promise<Recording> {
  const t0 = performance.now();
  const text = await readText(path);
  const ascii = isAscii(text);
  const rawLines = text.split("\n");
  const n = rawLines.length;
  const msgs: string[] = [];
  const recv = new Float64Array(n);
  const ts = new Float64Array(n);
  const keyOf = new Uint16Array(n);
  const snap = new Uint8Array(n);
  const keyIndex = new Map<string, number>();
  const keys: RecordingKey[] = [];
  const keyFrames: number[][] = [];
  const symbols: string[] = [];
  let skipped = 0;
  let lines = 0;
  let count = 0;

  for (let ln = 0; ln < n; ln++) {
    let line = rawLines[ln];
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line.length === 0 || line.trim().length === 0) continue;
    lines++;
    const where = () => `${path}:${ln + 1}`;
    let recvMs: number;
    let msg: string;
    const p = line.startsWith('{"recv_ms":') ? line.indexOf(',"msg":') : -1;
    if (p > 0 && line.endsWith("}")) {
      recvMs = Number(line.slice(11, p));
      msg = line.slice(p + 7, line.length - 1);
    } else {
      // Other key orders or spacing: parse the line; the msg is re-serialised compactly.
      let o: { recv_ms?: unknown; msg?: unknown };
      try {
        o = JSON.parse(line);
      } catch {
        throw new RecordingError(`${where()}: not JSON; expected {"recv_ms":<ms>,"msg":{…}}`);
      }
      recvMs = typeof o.recv_ms === "number" ? o.recv_ms : NaN;
      if (o.msg === null || typeof o.msg !== "object") {
        throw new RecordingError(`${where()}: "msg" must be a JSON object`);
      }
      msg = JSON.stringify(o.msg);
    }
    if (!Number.isFinite(recvMs)) {
      throw new RecordingError(`${where()}: "recv_ms" must be a number (epoch ms)`);
    }
    if (msg.startsWith('{"event":')) {
      skipped++;
      continue;
    }
    let action: string | undefined;
    let arg: Parsed["arg"];
    let tsv: unknown;
    const h = opts.validate ? null : HEAD_RE.exec(msg);
    const t = h ? TAIL_RE.exec(msg.slice(-32)) : null;
    if (h && t) {
      action = h[1];
      arg = JSON.parse(h[2]);
      tsv = Number(t[1]);
    } else {
      let o: Parsed;
      try {
        o = JSON.parse(msg);
      } catch {
        throw new RecordingError(`${where()}: "msg" is not valid JSON`);
      }
      if (o.event !== undefined) {
        skipped++;
        continue;
      }
      action = o.action;
      arg = o.arg;
      tsv = typeof o.ts === "string" ? Number(o.ts) : o.ts;
    }
    if (action !== "snapshot" && action !== "update") {
      throw new RecordingError(`${where()}: data frame "action" must be "snapshot" or "update"`);
    }
    if (
      !arg || typeof arg.channel !== "string" || typeof arg.instId !== "string" ||
      typeof arg.instType !== "string"
    ) {
      throw new RecordingError(`${where()}: "arg" must hold string instType, channel and instId`);
    }
    if (typeof tsv !== "number" || !Number.isFinite(tsv)) {
      throw new RecordingError(`${where()}: envelope "ts" must be a number (ms)`);
    }
    const name = keyName(arg.channel, arg.instId);
    let k = keyIndex.get(name);
    if (k === undefined) {
      k = keys.length;
      if (k > 0xffff) throw new RecordingError(`${where()}: more than 65535 channel/instId keys`);
      keyIndex.set(name, k);
      keys.push({
        id: k,
        instType: arg.instType,
        channel: arg.channel,
        instId: arg.instId,
        kind: kindOf(arg.channel),
        frames: new Int32Array(0),
      });
      keyFrames.push([]);
      if (!symbols.includes(arg.instId)) symbols.push(arg.instId);
    }
    msgs.push(msg);
    recv[count] = recvMs;
    ts[count] = tsv;
    keyOf[count] = k;
    snap[count] = action === "snapshot" ? 1 : 0;
    keyFrames[k].push(count);
    count++;
  }
  if (count === 0) throw new RecordingError(`${path}: no data frames`);
  for (const key of keys) key.frames = Int32Array.from(keyFrames[key.id]);
  const clock = new Float64Array(count);
  let m = -Infinity;
  for (let i = 0; i < count; i++) {
    if (ts[i] > m) m = ts[i];
    clock[i] = m;
  }
  return {
    path,
    count,
    text: msgs,
    recvMs: recv.slice(0, count),
    tsMs: ts.slice(0, count),
    clockMs: clock,
    keyOf: keyOf.slice(0, count),
    isSnapshot: snap.slice(0, count),
    keys,
    keyIndex,
    symbols,
    ascii,
    skippedEvents: skipped,
    lines,
    loadMs: performance.now() - t0,
  };
}

const NON_ASCII = /[\u0080-\uffff]/;

/** True when every UTF-16 unit of `s` is < 0x80, i.e. its UTF-8 length equals `s.length`. */
export function isAscii(s: string): boolean {
  return !NON_ASCII.test(s);
}

/** Number of entries of the ascending `arr` that are < `x` (binary search). */
export function countBelow(arr: Int32Array, x: number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
