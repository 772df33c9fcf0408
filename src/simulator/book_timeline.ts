/**
 * The full `books` order book of one recording key at any replay position, for mid-stream
 * snapshots. Merge rules are Bitget's (API.md §2.1): a snapshot replaces the book; in an update a
 * size that is numerically 0 deletes the price level, otherwise the level is set; prices compare
 * numerically and the exchange's price/size strings are kept (§2.1 rule 3).
 *
 * Why not OrderBook: it keeps sorted arrays, so each level costs a splice (~1 µs on a 5–10k-level
 * book); rebuilding BTCUSDT's 9,018 frames (366k level changes) took ~0.4 s of apply time. Here a
 * level is one Map operation and sorting happens once per snapshot. The timeline also keeps a
 * copy of the book every CHECKPOINT_EVERY frames, shared by all connections, so a snapshot at
 * any position costs one copy plus fewer than CHECKPOINT_EVERY frames.
 */
import type { BookLevel } from "../market/events.ts";
import type { Recording, RecordingKey } from "./recording.ts";

/** Frames between stored book copies. */
export const CHECKPOINT_EVERY = 1024;

/** A book state after the key's first `applied` frames. */
export interface BookPoint {
  applied: number;
  bids: Map<number, BookLevel>;
  asks: Map<number, BookLevel>;
  /** `seq` of the last applied frame that had one. */
  seq: number | null;
  /** `data[0].ts` of the last applied frame (matching-engine time, ms string). */
  ts: string;
}

interface BookData {
  asks?: BookLevel[];
  bids?: BookLevel[];
  seq?: number;
  ts?: string;
}

function copy(p: BookPoint): BookPoint {
  return { applied: p.applied, bids: new Map(p.bids), asks: new Map(p.asks), seq: p.seq, ts: p.ts };
}

function setLevels(side: Map<number, BookLevel>, levels: readonly BookLevel[]): void {
  for (const l of levels) {
    const price = Number(l[0]);
    if (Number(l[1]) === 0) side.delete(price);
    else side.set(price, l);
  }
}

/** Levels of one side, best first (bids descending, asks ascending). */
export function sortedLevels(side: Map<number, BookLevel>, bids: boolean): BookLevel[] {
  const prices = [...side.keys()].sort(bids ? (a, b) => b - a : (a, b) => a - b);
  return prices.map((p) => side.get(p)!);
}

export class BookTimeline {
  /** checkpoints[j] is the state after (j + 1) × CHECKPOINT_EVERY frames. */
  private readonly checkpoints: BookPoint[] = [];
  private readonly work: BookPoint = {
    applied: 0,
    bids: new Map(),
    asks: new Map(),
    seq: null,
    ts: "",
  };

  constructor(private readonly rec: Recording, private readonly key: RecordingKey) {}

  /** The book after the key's first `past` frames (a fresh object the caller may keep). */
  at(past: number): BookPoint {
    const j = Math.floor(past / CHECKPOINT_EVERY);
    // Extend the shared checkpoints as far as this request needs.
    while (this.work.applied < j * CHECKPOINT_EVERY) {
      this.apply(this.work, this.work.applied + 1);
      if (this.work.applied % CHECKPOINT_EVERY === 0) this.checkpoints.push(copy(this.work));
    }
    const base: BookPoint = j === 0
      ? { applied: 0, bids: new Map(), asks: new Map(), seq: null, ts: "" }
      : copy(this.checkpoints[j - 1]);
    if (base.applied < past) this.apply(base, past);
    return base;
  }

  /** Applies the key's frames from `p.applied` up to (not including) index `upto`. */
  private apply(p: BookPoint, upto: number): void {
    const { rec, key } = this;
    for (; p.applied < upto; p.applied++) {
      const i = key.frames[p.applied];
      const d = (JSON.parse(rec.text[i]) as { data: BookData[] }).data[0];
      if (rec.isSnapshot[i]) {
        p.bids.clear();
        p.asks.clear();
      }
      setLevels(p.bids, d.bids ?? []);
      setLevels(p.asks, d.asks ?? []);
      if (typeof d.seq === "number") p.seq = d.seq;
      if (typeof d.ts === "string") p.ts = d.ts;
    }
  }
}
