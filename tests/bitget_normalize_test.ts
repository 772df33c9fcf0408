/**
 * `books` maintenance in the Normalizer: the real checksum vectors, the real Bitget v1 books
 * sequence (cryptofeed, 2022; adapted to the v2 envelope), and the failure paths — a corrupted
 * checksum or a sequence regression drops the book, asks for a resubscribe and yields a GapEvent
 * closed by the next snapshot.
 */
import assert from "node:assert/strict";
import { bookChecksum, checksumString } from "../src/bitget/checksum.ts";
import { Normalizer } from "../src/bitget/normalize.ts";
import { classifyFrame, type DataFrame } from "../src/bitget/wire.ts";
import type { BookEvent, GapEvent, MarketEvent } from "../src/market/events.ts";
import { crc32 } from "node:zlib";

const SHARED = new URL("../../shared/bitget/", import.meta.url);
const V1_SEQ = new URL(
  "fixtures/cryptofeed_v1_real/ws_v1_mix_books_sequence_UNIUSDT.jsonl",
  SHARED,
);

/**
 * v1 frames (`instType: "mc"`, no envelope ts, no seq) → v2 shape: instType USDT-FUTURES and an
 * envelope ts equal to the data ts. Levels and checksums are untouched.
 */
function v1ToV2(line: string): DataFrame {
  const m = JSON.parse(line);
  m.arg.instType = "USDT-FUTURES";
  m.ts = Number(m.data[0].ts);
  const f = classifyFrame(m);
  assert.equal(f.type, "data");
  return f as DataFrame;
}

const v1Frames = () =>
  Deno.readTextFileSync(V1_SEQ).split("\n").filter((l) => l.trim()).map(v1ToV2);

function run(n: Normalizer, frames: DataFrame[]): MarketEvent[] {
  const out: MarketEvent[] = [];
  for (const f of frames) assert.equal(n.apply(f, f.ts ?? 0, out), null);
  return out;
}

Deno.test("checksum vectors (docs strings and real exchange values)", () => {
  const v = JSON.parse(Deno.readTextFileSync(new URL("checksum_vectors.json", SHARED)));
  for (const d of v.doc_examples) {
    assert.equal(crc32(d.string) >>> 0, d.crc32_unsigned);
    assert.equal(crc32(d.string) | 0, d.crc32_signed);
  }
  for (const r of v.real_exchange_vectors) {
    const f = v1ToV2(Deno.readTextFileSync(new URL(r.fixture, SHARED)));
    const item = f.data[0] as { bids: [string, string][]; asks: [string, string][] };
    if (f.action === "snapshot") {
      assert.equal(checksumString(item.bids, item.asks), r.string);
      assert.equal(bookChecksum(item.bids, item.asks), r.expected_checksum_from_exchange);
    }
  }
  // The update vector is the book after snapshot + update: check it through the Normalizer.
  const n = new Normalizer();
  const [snap, upd] = v1Frames();
  const evs = run(n, [snap, upd]) as BookEvent[];
  const book = n.book("UNIUSDT")!;
  const top = book.top(25);
  assert.equal(checksumString(top.bids, top.asks), v.real_exchange_vectors[1].string);
  assert.equal(evs[1].checksum, v.real_exchange_vectors[1].expected_checksum_from_exchange);
});

Deno.test("real v1 books sequence: 20 messages, every checksum verified, no gap", () => {
  const n = new Normalizer({ onResync: () => assert.fail("no resync expected") });
  const frames = v1Frames();
  assert.equal(frames.length, 20);
  const evs = run(n, frames) as BookEvent[];
  assert.equal(evs.length, 20);
  assert.equal(n.counters.checksumFailures, 0);
  assert.ok(evs.every((e) => e.kind === "book" && e.checksum !== null && e.top !== null));
  const last = evs.at(-1)!;
  assert.ok(last.top!.bestBid < last.top!.bestAsk);
  assert.ok(last.top!.spreadBps > 0 && last.top!.spreadBps < 50);
});

Deno.test("corrupted checksum → book dropped, resubscribe requested, gap closed by snapshot", () => {
  const resyncs: string[] = [];
  const n = new Normalizer({ onResync: (s, c) => resyncs.push(`${s}|${c}`) });
  const frames = v1Frames();
  const bad = structuredClone(frames[6]);
  (bad.data[0] as { checksum: number }).checksum += 1;
  const out: MarketEvent[] = [];
  for (const f of frames.slice(0, 6)) n.apply(f, 0, out);
  assert.equal(out.length, 6);
  n.apply(bad, 0, out);
  assert.equal(out.length, 6, "the failing update is not emitted");
  assert.deepEqual(resyncs, ["UNIUSDT|books"]);
  assert.equal(n.counters.checksumFailures, 1);
  assert.equal(n.book("UNIUSDT"), undefined, "book dropped");
  // Updates before the new snapshot are ignored (they cannot be applied to a dropped book).
  for (const f of frames.slice(7, 10)) n.apply(f, 0, out);
  assert.equal(out.length, 6);
  assert.equal(n.counters.updatesWithoutSnapshot, 3);
  // The resubscribe yields a fresh snapshot: the gap closes there.
  const snap = structuredClone(frames[0]);
  const snapTs = frames[10].ts! + 1;
  (snap.data[0] as { ts: string }).ts = String(snapTs);
  n.apply(snap, 0, out);
  const gap = out[6] as GapEvent;
  assert.equal(gap.kind, "gap");
  assert.equal(gap.reason, "checksum");
  assert.equal(gap.channel, "books");
  assert.equal(gap.startTs, Number((frames[5].data[0] as { ts: string }).ts));
  assert.equal(gap.endTs, snapTs);
  assert.match(gap.detail, /update checksum/);
  assert.equal((out[7] as BookEvent).action, "snapshot");
  assert.ok(n.book("UNIUSDT"));
});

function book(
  action: "snapshot" | "update",
  seq: number,
  bids: [string, string][],
  asks: [string, string][],
  extra: Record<string, unknown> = {},
): DataFrame {
  const f = classifyFrame({
    action,
    arg: { instType: "USDT-FUTURES", channel: "books", instId: "BTCUSDT" },
    data: [{ asks, bids, seq, ts: String(1000 + seq), ...extra }],
    ts: 1000 + seq,
  });
  return f as DataFrame;
}

Deno.test("seq regression → sequence gap; with pseq, pseq must equal the last seq", () => {
  const resyncs: string[] = [];
  const n = new Normalizer({ onResync: (s) => resyncs.push(s) });
  const out: MarketEvent[] = [];
  n.apply(book("snapshot", 10, [["100.0", "1"]], [["101.0", "1"]]), 0, out);
  n.apply(book("update", 12, [["100.5", "2"]], []), 0, out);
  n.apply(book("update", 11, [["99.0", "2"]], []), 0, out); // regression
  assert.equal(n.counters.sequenceGaps, 1);
  assert.deepEqual(resyncs, ["BTCUSDT"]);
  n.apply(book("snapshot", 20, [["100.0", "1"]], [["101.0", "1"]]), 0, out);
  const gap = out.find((e) => e.kind === "gap") as GapEvent;
  assert.equal(gap.reason, "sequence");
  assert.equal(gap.startTs, 1012);
  assert.equal(gap.endTs, 1020);
  assert.match(gap.detail, /seq 11 ≤ last seq 12/);

  // pseq chain (as on v2 spot / v3 frames): pseq == last seq passes, anything else is a gap.
  const p = new Normalizer({ onResync: (s) => resyncs.push(`p:${s}`) });
  const o2: MarketEvent[] = [];
  p.apply(book("snapshot", 50, [["100.0", "1"]], [["101.0", "1"]], { pseq: 0 }), 0, o2);
  p.apply(book("update", 57, [["100.0", "3"]], [], { pseq: 50 }), 0, o2);
  p.apply(book("update", 60, [["100.0", "4"]], [], { pseq: 58 }), 0, o2);
  assert.equal(p.counters.sequenceGaps, 1);
  assert.deepEqual(resyncs.at(-1), "p:BTCUSDT");
  assert.equal(o2.filter((e) => e.kind === "book").length, 2);
});

Deno.test("snapshot checksum 0 is not verified; non-zero snapshot checksum is", () => {
  const n = new Normalizer();
  const out: MarketEvent[] = [];
  n.apply(book("snapshot", 1, [["100.0", "1"]], [["101.0", "1"]], { checksum: 0 }), 0, out);
  assert.equal(n.counters.checksumFailures, 0);
  const good = bookChecksum([["100.0", "1"]], [["101.0", "1"]]);
  n.apply(book("snapshot", 2, [["100.0", "1"]], [["101.0", "1"]], { checksum: good }), 0, out);
  assert.equal(n.counters.checksumFailures, 0);
  n.apply(book("snapshot", 3, [["100.0", "1"]], [["101.0", "1"]], { checksum: good + 1 }), 0, out);
  assert.equal(n.counters.checksumFailures, 1);
  assert.equal(out.length, 2);
});

Deno.test("update merge rules: size 0 deletes, existing price replaced, new price inserted", () => {
  const n = new Normalizer();
  const out: MarketEvent[] = [];
  n.apply(book("snapshot", 1, [["100.0", "1"], ["99.0", "1"]], [["101.0", "1"]]), 0, out);
  const bids: [string, string][] = [["100.0", "0.000"], ["99.0", "5"], ["99.5", "2"]];
  const asks: [string, string][] = [["100.8", "1.50"]];
  const checksum = bookChecksum([["99.5", "2"], ["99.0", "5"]], [["100.8", "1.50"], [
    "101.0",
    "1",
  ]]);
  assert.equal(n.apply(book("update", 2, bids, asks, { checksum }), 0, out), null);
  assert.equal(n.counters.checksumFailures, 0);
  const ev = out[1] as BookEvent;
  assert.equal(ev.top!.bestBid, 99.5);
  assert.equal(ev.top!.bestAsk, 100.8);
  assert.deepEqual(n.book("BTCUSDT")!.top(5).asks, [["100.8", "1.50"], ["101.0", "1"]]);
});

Deno.test("reconnect: resetBooks drops books; open gaps closed at stop", () => {
  const n = new Normalizer();
  const out: MarketEvent[] = [];
  n.apply(book("snapshot", 1, [["100.0", "1"]], [["101.0", "1"]]), 0, out);
  n.resetBooks();
  assert.equal(n.book("BTCUSDT"), undefined);
  n.apply(book("update", 2, [["100.0", "2"]], []), 0, out);
  assert.equal(n.counters.updatesWithoutSnapshot, 1);
  n.apply(book("snapshot", 3, [["100.0", "1"]], [["101.0", "1"]]), 0, out);
  n.apply(book("update", 2, [["100.0", "2"]], []), 0, out); // regression → open gap
  const gaps = n.closeOpenGaps(5000, 5001, "unresolved at stop");
  assert.equal(gaps.length, 1);
  assert.equal(gaps[0].endTs, 5000);
  assert.match(gaps[0].detail, /unresolved at stop/);
  assert.equal(n.closeOpenGaps(6000, 6000, "x").length, 0);
});
