/**
 * The FULL recordings in ../shared/data/bitget_replay through wire parsing + the Normalizer:
 * zero checksum/sequence failures on `books`, event counts per channel and symbol equal to the
 * README table (section 5), and every `books15` push equal to the top 15 of the `books` state at
 * the same `seq`. Also logs the parse + normalize throughput (frames/s); no wall-time assertion.
 */
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { Normalizer } from "../src/bitget/normalize.ts";
import { type DataFrame, parseFrame } from "../src/bitget/wire.ts";
import type { BookEvent, MarketEvent } from "../src/market/events.ts";

const DIR = new URL("../../shared/data/bitget_replay/", import.meta.url);

/** Lines `{"recv_ms":…,"msg":…}` → [recv_ms, raw msg text] without parsing the msg twice. */
function readRecording(name: string): Array<[number, string]> {
  const text = new TextDecoder().decode(gunzipSync(Deno.readFileSync(new URL(name, DIR))));
  const out: Array<[number, string]> = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    const i = line.indexOf(',"msg":');
    assert.ok(line.startsWith('{"recv_ms":') && i > 0 && line.endsWith("}"), line.slice(0, 80));
    out.push([Number(line.slice(11, i)), line.slice(i + 7, -1)]);
  }
  return out;
}

interface Tally {
  [key: string]: number;
}

/** README §5 rows: per symbol, frame counts (books/trade/candles by action) and trade events. */
const EXPECTED: Record<string, Record<string, Tally>> = {
  "bitget_v2_public_BTCUSDT-ETHUSDT_20240718T2357.jsonl.gz": {
    BTCUSDT: {
      "books snapshot": 1,
      "books update": 9017,
      books15: 3196,
      "trade snapshot": 1,
      "trade update": 3581,
      ticker: 1563,
      "candle1m snapshot": 1,
      "candle1m update": 836,
      "candle15m snapshot": 1,
      "candle15m update": 833,
      "trade events": 10701,
    },
    ETHUSDT: {
      "books snapshot": 1,
      "books update": 8923,
      books15: 3196,
      "trade snapshot": 1,
      "trade update": 3415,
      ticker: 1566,
      "candle1m snapshot": 1,
      "candle1m update": 861,
      "candle15m snapshot": 1,
      "candle15m update": 858,
      "trade events": 13655,
    },
  },
  "bitget_v2_public_BTCUSDT_20230404T2358.jsonl.gz": {
    BTCUSDT: {
      "books snapshot": 1,
      "books update": 16087,
      books15: 3427,
      "trade snapshot": 1,
      "trade update": 4014,
      ticker: 1693,
      "candle1m snapshot": 1,
      "candle1m update": 965,
      "candle15m snapshot": 1,
      "candle15m update": 958,
      "trade events": 12934,
    },
  },
};

const levelsKey = (bids: readonly string[][], asks: readonly string[][]) =>
  bids.map((l) => l.join(":")).join(",") + "|" + asks.map((l) => l.join(":")).join(",");

for (const [file, expected] of Object.entries(EXPECTED)) {
  Deno.test(`replay ${file}: counts, checksums, books15 == top 15 of books`, () => {
    const frames = readRecording(file);
    const n = new Normalizer({ onResync: (s) => assert.fail(`unexpected resync of ${s}`) });
    const tally: Record<string, Tally> = {};
    const bump = (sym: string, k: string, by = 1) => {
      const t = tally[sym] ??= {};
      t[k] = (t[k] ?? 0) + by;
    };
    // books state (top 15 as strings) per symbol and seq; books15 pushes per symbol.
    const booksAt: Record<string, Map<number, string>> = {};
    const b15: Record<string, Array<[number, string]>> = {};
    let acks = 0;
    const out: MarketEvent[] = [];
    for (const [recv, text] of frames) {
      const f = parseFrame(text);
      if (f.type === "event") {
        assert.equal(f.event, "subscribe");
        acks++;
        continue;
      }
      assert.equal(f.type, "data", text.slice(0, 120));
      const df = f as DataFrame;
      const sym = df.arg.instId;
      const ch = df.arg.channel;
      bump(sym, ch === "books15" || ch === "ticker" ? ch : `${ch} ${df.action}`);
      out.length = 0;
      assert.equal(n.apply(df, recv, out), null);
      for (const e of out) {
        assert.equal(e.recvTs, recv);
        if (e.kind === "trade") bump(sym, "trade events");
        if (e.kind !== "book") continue;
        const be = e as BookEvent;
        assert.ok(be.top && be.top.bestBid < be.top.bestAsk, "book never crossed");
        if (be.channel === "books") {
          const top = n.book(sym)!.top(15);
          (booksAt[sym] ??= new Map()).set(be.seq!, levelsKey(top.bids, top.asks));
        } else {
          (b15[sym] ??= []).push([be.seq!, levelsKey(be.bids, be.asks)]);
        }
      }
    }
    assert.equal(acks, 6 * Object.keys(expected).length);
    assert.equal(n.counters.checksumFailures, 0);
    assert.equal(n.counters.sequenceGaps, 0);
    assert.deepEqual(n.counters.malformed, {});
    assert.equal(n.counters.duplicateTrades, 0);
    assert.deepEqual(tally, expected);

    // books15 carries the seq of the last diff included; diffs with no net change sent no
    // `books` frame, so compare with the latest books state whose seq ≤ that seq.
    let compared = 0;
    for (const [sym, pushes] of Object.entries(b15)) {
      const seqs = [...booksAt[sym].keys()].sort((a, b) => a - b);
      for (const [seq, key] of pushes) {
        let lo = 0;
        let hi = seqs.length - 1;
        while (lo < hi) {
          const mid = (lo + hi + 1) >> 1;
          if (seqs[mid] <= seq) lo = mid;
          else hi = mid - 1;
        }
        assert.ok(seqs[lo] <= seq, `no books state at or before seq ${seq}`);
        assert.equal(key, booksAt[sym].get(seqs[lo]), `${sym} books15 seq ${seq}`);
        compared++;
      }
    }
    assert.equal(compared, Object.values(expected).reduce((s, t) => s + t.books15, 0));
  });
}

Deno.test("throughput: parse + normalize the 2024 recording (frames/s, logged)", () => {
  const frames = readRecording("bitget_v2_public_BTCUSDT-ETHUSDT_20240718T2357.jsonl.gz");
  const rates: number[] = [];
  let events = 0;
  let normalizeMs = 0;
  for (let pass = 0; pass < 3; pass++) {
    const n = new Normalizer();
    const out: MarketEvent[] = [];
    events = 0;
    normalizeMs = 0;
    const t0 = performance.now();
    for (const [recv, text] of frames) {
      const f = parseFrame(text);
      if (f.type !== "data") continue;
      const t1 = performance.now();
      n.apply(f, recv, out);
      normalizeMs += performance.now() - t1;
      events += out.length;
      out.length = 0;
    }
    rates.push(frames.length / ((performance.now() - t0) / 1000));
    assert.equal(n.counters.checksumFailures, 0);
  }
  const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
  console.log(
    `Normalizer throughput on ${frames.length} frames (${events} events): parse+normalize ` +
      `${rates.map(fmt).join(" / ")} frames/s (passes 1-3); Normalizer.apply alone ` +
      `${fmt(frames.length / (normalizeMs / 1000))} frames/s (pass 3)`,
  );
  assert.equal(events, 55_211);
});
