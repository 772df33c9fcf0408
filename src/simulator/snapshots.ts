/**
 * Fresh `snapshot` pushes for a (re)subscribe in the middle of a replay — what Bitget sends after
 * a subscribe (API.md §1.3: "first push after subscribing is `snapshot`"; §2.4: a `books`
 * resubscribe is the documented way to resync a book).
 *
 * The market state at replay position `cursor` is the recording's frames before `cursor`, whether
 * or not this connection was subscribed to them, so a snapshot is rebuilt from the recording:
 *
 * - `books`: the whole book after every recorded frame of that key before `cursor` (Bitget merge
 *   rules, book_timeline.ts), with the last `seq`, `checksum` 0 (as Bitget's and the recording's
 *   snapshots carry, API.md §2.2 caveats) and the last matching-engine `ts`. Updates that follow
 *   in the recording apply on top of it, so their checksums verify.
 * - `trade`: the last ≤ 50 trades, newest first (API.md §1.5).
 * - `ticker`, `books1/5/15`: the latest recorded push, re-sent byte for byte.
 * - `candle*`: every bar of the window so far (final row of each, ascending; the last one is
 *   the forming bar), as Bitget's candle snapshot carries history + forming bar (API.md §1.7).
 *
 * The envelope `ts` is the recording's clock at `cursor` (latest push time so far). A snapshot is
 * a function of (key, cursor) only, so one `SnapshotBuilder` serves every connection of a server
 * and shares its rebuild work.
 */
import { BookTimeline, sortedLevels } from "./book_timeline.ts";
import {
  countBelow,
  KIND_BOOKS,
  KIND_CANDLE,
  KIND_TRADE,
  type Recording,
  type RecordingKey,
} from "./recording.ts";

/** Bitget's trade snapshot length (API.md §1.5 "recent trades"; the recording also uses 50). */
export const TRADE_SNAPSHOT_LEN = 50;

interface CandleState {
  /** Bar start time (ms string) → latest row; insertion order is ascending start time. */
  bars: Map<string, unknown[]>;
  applied: number;
}

/** Builds mid-stream snapshots of one recording; rebuild state is cached per key. */
export class SnapshotBuilder {
  private readonly books = new Map<number, BookTimeline>();
  private readonly candles = new Map<number, CandleState>();

  constructor(private readonly rec: Recording) {}

  /**
   * The snapshot frame text for `key` at replay position `cursor` (frames with index < cursor are
   * in the past), or null when the key's first recorded frame is still ahead — the recording's own
   * snapshot will then arrive in order.
   */
  snapshotAt(key: RecordingKey, cursor: number): string | null {
    const past = countBelow(key.frames, cursor);
    if (past === 0) return null;
    const clock = this.rec.clockMs[cursor - 1];
    switch (key.kind) {
      case KIND_BOOKS:
        return this.bookSnapshot(key, past, clock);
      case KIND_TRADE:
        return this.tradeSnapshot(key, past, clock);
      case KIND_CANDLE:
        return this.candleSnapshot(key, past, clock);
      default:
        return this.rec.text[key.frames[past - 1]];
    }
  }

  private bookSnapshot(key: RecordingKey, past: number, clock: number): string {
    let tl = this.books.get(key.id);
    if (!tl) {
      tl = new BookTimeline(this.rec, key);
      this.books.set(key.id, tl);
    }
    const p = tl.at(past);
    const data: Record<string, unknown> = {
      asks: sortedLevels(p.asks, false),
      bids: sortedLevels(p.bids, true),
      checksum: 0,
    };
    if (p.seq !== null) data.seq = p.seq;
    data.ts = p.ts;
    return envelope(key, [data], clock);
  }

  private tradeSnapshot(key: RecordingKey, past: number, clock: number): string {
    const out: unknown[] = [];
    // Each push lists its trades newest first; walking pushes backwards keeps that order.
    for (let j = past - 1; j >= 0 && out.length < TRADE_SNAPSHOT_LEN; j--) {
      const data = (JSON.parse(this.rec.text[key.frames[j]]) as { data: unknown[] }).data;
      for (let t = 0; t < data.length && out.length < TRADE_SNAPSHOT_LEN; t++) out.push(data[t]);
    }
    return envelope(key, out, clock);
  }

  private candleSnapshot(key: RecordingKey, past: number, clock: number): string {
    let st = this.candles.get(key.id);
    if (!st || st.applied > past) {
      st = { bars: new Map(), applied: 0 };
      this.candles.set(key.id, st);
    }
    for (; st.applied < past; st.applied++) {
      const rows = (JSON.parse(this.rec.text[key.frames[st.applied]]) as { data: unknown[][] })
        .data;
      for (const row of rows) st.bars.set(String(row[0]), row);
    }
    const rows = [...st.bars.values()].sort((a, b) => Number(a[0]) - Number(b[0]));
    return envelope(key, rows, clock);
  }
}

/** `{"action":"snapshot","arg":{…},"data":[…],"ts":N}` in Bitget's key order (API.md §1.3). */
function envelope(key: RecordingKey, data: unknown[], ts: number): string {
  return JSON.stringify({
    action: "snapshot",
    arg: { instType: key.instType, channel: key.channel, instId: key.instId },
    data,
    ts,
  });
}
