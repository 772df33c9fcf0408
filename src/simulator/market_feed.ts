/**
 * The replayed market as the simulator's private exchange sees it. The exchange's market position
 * is the furthest frame any public connection's replay cursor has reached (ws_session.ts calls
 * `SessionHost.frameDue(i)` wherever it sets `latest[k] = i`); frames a connection skipped (it
 * joined mid-stream, or no connection was open while the clock ran) are fed too once a later
 * frame is due, so the exchange never misses a book update. Each frame is consumed once, in
 * recording order, whichever connection reaches it first.
 *
 * Normalization is the collector's own: wire.ts `classifyFrame` + normalize.ts `Normalizer`
 * (as src/ingest/replay_frames.ts does), so the exchange trades on exactly the MarketEvents a
 * backtest of the same data would use. Only frames the venue uses are parsed: one book channel
 * per symbol — `books15` when recorded (the backtest's raw replay uses it too, and it costs a
 * fifth of full-depth `books` to maintain), else `books` — plus `trade` and `ticker`.
 *
 * Two modes, chosen by the sink:
 * - While the sink `needsEveryFrame()` (the account has an order, a position or a plan), every
 *   due frame is normalized and fed at once, in order, so resting orders, plans, liquidation and
 *   funding see the whole path and pushes go out as the market moves.
 * - Otherwise (flat, nothing open) the path cannot matter — the venue's state is then the latest
 *   book, mark, funding and trade price per symbol — so due frames are only counted, and
 *   `catchUp()` (called before every private request, WebSocket snapshot and status) applies
 *   each snapshot-type key's latest due frame (`books15`, `ticker`, `trade`) and every frame of
 *   an incremental `books` key, in recording order. This keeps the public replay's hot path free
 *   of parsing while nobody trades.
 */
import { Normalizer } from "../bitget/normalize.ts";
import { classifyFrame } from "../bitget/wire.ts";
import type { MarketEvent } from "../market/events.ts";
import type { Recording } from "./recording.ts";

/** Receives the market, in order. */
export interface MarketSink {
  /** One normalized event (exchange time `ev.ts`, epoch ms). */
  onMarket(ev: MarketEvent): void;
  /** Called after each batch of fed frames (lets the sink flush pushes). */
  afterFrames(): void;
  /** True while the path matters (open orders, positions or plans): feed every frame at once. */
  needsEveryFrame(): boolean;
}

const SNAPSHOT_KEY = 1; // fed; only its latest frame matters while flat
const INCREMENTAL_KEY = 2; // fed; every frame matters (`books`)

export class MarketFeed {
  /** Index of the first frame not yet consumed. */
  private next = 0;
  /** Highest frame index due (−1 = none). */
  private due = -1;
  /** Per recording key: 0 = not fed, SNAPSHOT_KEY, INCREMENTAL_KEY. */
  private readonly fed: Uint8Array;
  /** Scratch: latest due frame per key during a flat catch-up. */
  private readonly lastOf: Int32Array;
  private readonly normalizer = new Normalizer();
  private readonly out: MarketEvent[] = [];
  /** Frames whose normalization failed (the recording is expected to be clean). */
  malformed = 0;

  constructor(private readonly rec: Recording, private readonly sink: MarketSink) {
    this.fed = new Uint8Array(rec.keys.length);
    this.lastOf = new Int32Array(rec.keys.length);
    const channelsOf = new Map<string, Set<string>>();
    for (const k of rec.keys) {
      const s = channelsOf.get(k.instId) ?? new Set<string>();
      s.add(k.channel);
      channelsOf.set(k.instId, s);
    }
    for (const k of rec.keys) {
      const chans = channelsOf.get(k.instId)!;
      const book = chans.has("books15") ? "books15" : "books";
      if (k.channel === book) this.fed[k.id] = book === "books" ? INCREMENTAL_KEY : SNAPSHOT_KEY;
      if (k.channel === "trade" || k.channel === "ticker") this.fed[k.id] = SNAPSHOT_KEY;
    }
  }

  /** Frames consumed so far (the exchange's market position: frames 0 … fedFrames − 1). */
  get fedFrames(): number {
    return this.next;
  }

  /** Frame `i` is due (a replay cursor reached it). */
  reach(i: number): void {
    if (i <= this.due) return;
    this.due = Math.min(i, this.rec.count - 1);
    if (this.sink.needsEveryFrame()) this.feed(false);
  }

  /** Feeds everything due that was not fed yet. */
  catchUp(): void {
    if (this.next <= this.due) this.feed(!this.sink.needsEveryFrame());
  }

  private feed(flat: boolean): void {
    const { rec, fed } = this;
    const last = this.due;
    if (!flat) {
      for (let j = this.next; j <= last; j++) if (fed[rec.keyOf[j]] !== 0) this.frame(j);
    } else {
      const lastOf = this.lastOf.fill(-1);
      const picked: number[] = [];
      for (let j = this.next; j <= last; j++) {
        const f = fed[rec.keyOf[j]];
        if (f === SNAPSHOT_KEY) lastOf[rec.keyOf[j]] = j;
        else if (f === INCREMENTAL_KEY) picked.push(j);
      }
      for (const j of lastOf) if (j >= 0) picked.push(j);
      picked.sort((a, b) => a - b);
      for (const j of picked) this.frame(j);
    }
    this.next = last + 1;
    this.sink.afterFrames();
  }

  /** Normalizes and feeds frame `j`; a frame the venue cannot use is counted and skipped. */
  private frame(j: number): void {
    const { rec, out } = this;
    out.length = 0;
    try {
      const f = classifyFrame(JSON.parse(rec.text[j]));
      if (f.type !== "data") return;
      if (this.normalizer.apply(f, rec.recvMs[j], out) !== null) this.malformed++;
      for (const ev of out) this.sink.onMarket(ev);
    } catch {
      this.malformed++; // e.g. a malformed book level (RangeError): never break the replay
    }
  }
}
