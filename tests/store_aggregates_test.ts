/**
 * Incremental aggregates == recomputation from the stored raw rows (SQL GROUP BY over trades,
 * bookTop / an OrderBook replay over stored book rows, last-by-ts over market rows), within 1e-9
 * relative: on real recorded events (the Bitget replay of Binance data plus the 1 s top-15 book
 * CSV) and on seeded random streams with random batch splits, shuffled batch order, re-sent
 * duplicates and simulated restarts (store closed and reopened between batches).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Store } from "../src/store/store.ts";
import { AGG_INTERVALS, type AggTable, tradeKeyBefore } from "../src/store/aggregates.ts";
import { loadReplayFrames } from "../src/ingest/replay_frames.ts";
import { parseImport } from "../src/store/import_csv.ts";
import { bookTop, OrderBook } from "../src/market/order_book.ts";
import type { BookLevel, BookTop, MarketEvent } from "../src/market/events.ts";

const REPLAY = new URL(
  "../../shared/data/bitget_replay/bitget_v2_public_BTCUSDT-ETHUSDT_20240718T2357.jsonl.gz",
  import.meta.url,
);
const BOOK15_CSV =
  new URL("../../shared/data/binance_usdm_ETHUSDT_20240718T2357_book15_1s.csv", import.meta.url)
    .pathname;

type Row = Record<string, number | string | null>;
type Expected = Record<AggTable, Map<string, Row>>;
const TABLES: AggTable[] = ["agg_1s", "agg_1m", "agg_15m"];

const TRADE_ZERO: Row = {
  trade_count: 0,
  volume: 0,
  buy_volume: 0,
  sell_volume: 0,
  quote_volume: 0,
  vwap: null,
  open: null,
  high: null,
  low: null,
  close: null,
  first_ts: null,
  first_id: null,
  last_ts: null,
  last_id: null,
};
const BOOK_NULL: Row = Object.fromEntries(
  [
    "book_src",
    "book_ts",
    "book_seq",
    "best_bid",
    "best_ask",
    "best_bid_size",
    "best_ask_size",
    "mid",
    "spread_bps",
    "imbalance1",
    "imbalance5",
    "imbalance15",
    "depth5bps",
    "depth10bps",
  ].map((c) => [c, null]),
);
const MARKET_NULL: Row = Object.fromEntries(
  ["mark_price", "index_price", "mark_ts", "funding_rate", "funding_ts", "open_interest", "oi_ts"]
    .map((c) => [c, null]),
);

function bucketRow(exp: Expected, t: AggTable, symbol: string, b: number): Row {
  const k = `${symbol}|${b}`;
  let r = exp[t].get(k);
  if (!r) {
    r = { symbol, bucket_ts: b, ...TRADE_ZERO, ...(t === "agg_1s" ? BOOK_NULL : MARKET_NULL) };
    exp[t].set(k, r);
  }
  return r;
}

const floor = (ts: number, w: number) => Math.floor(ts / w) * w;

function topColumns(src: string, ts: number, seq: number | null, t: BookTop): Row {
  return {
    book_src: src,
    book_ts: ts,
    book_seq: seq,
    best_bid: t.bestBid,
    best_ask: t.bestAsk,
    best_bid_size: t.bestBidSize,
    best_ask_size: t.bestAskSize,
    mid: t.mid,
    spread_bps: t.spreadBps,
    imbalance1: t.imbalance1,
    imbalance5: t.imbalance5,
    imbalance15: t.imbalance15,
    depth5bps: t.depth5bps,
    depth10bps: t.depth10bps,
  };
}

/** Aggregates recomputed from scratch over the raw tables (independent of aggregates.ts). */
function recompute(s: Store): Expected {
  const exp: Expected = { agg_1s: new Map(), agg_1m: new Map(), agg_15m: new Map() };
  for (const t of TABLES) {
    const w = AGG_INTERVALS[t];
    const rows = s.db.prepare(
      `WITH x AS (SELECT symbol, (ts / ${w}) * ${w} AS b, ts, trade_id, price, size, side FROM trades),
       g AS (SELECT symbol, b, count(*) AS n, sum(size) AS vol,
               sum(CASE WHEN side = 'buy' THEN size ELSE 0 END) AS buy,
               sum(CASE WHEN side = 'sell' THEN size ELSE 0 END) AS sell,
               sum(price * size) AS q, max(price) AS hi, min(price) AS lo
             FROM x GROUP BY symbol, b),
       o AS (SELECT symbol, b, price, ts, trade_id, row_number() OVER (PARTITION BY symbol, b
               ORDER BY ts, length(trade_id), trade_id) AS rn FROM x),
       c AS (SELECT symbol, b, price, ts, trade_id, row_number() OVER (PARTITION BY symbol, b
               ORDER BY ts DESC, length(trade_id) DESC, trade_id DESC) AS rn FROM x)
       SELECT g.*, o.price AS open, o.ts AS first_ts, o.trade_id AS first_id,
              c.price AS close, c.ts AS last_ts, c.trade_id AS last_id
       FROM g JOIN o ON o.symbol = g.symbol AND o.b = g.b AND o.rn = 1
              JOIN c ON c.symbol = g.symbol AND c.b = g.b AND c.rn = 1`,
    ).all() as Row[];
    for (const r of rows) {
      Object.assign(bucketRow(exp, t, r.symbol as string, r.b as number), {
        trade_count: r.n,
        volume: r.vol,
        buy_volume: r.buy,
        sell_volume: r.sell,
        quote_volume: r.q,
        vwap: (r.q as number) / (r.vol as number),
        open: r.open,
        high: r.hi,
        low: r.lo,
        close: r.close,
        first_ts: r.first_ts,
        first_id: r.first_id,
        last_ts: r.last_ts,
        last_id: r.last_id,
      });
    }
  }
  // Book metrics: last book row of each second by (source rank, ts, seq, insertion id).
  const best = new Map<string, { key: number[]; cols: Row }>();
  const greater = (a: number[], b: number[]) => {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] > b[i];
    return false;
  };
  const offer = (symbol: string, key: number[], cols: Row) => {
    const k = `${symbol}|${floor(key[1], 1000)}`;
    const cur = best.get(k);
    if (!cur || greater(key, cur.key)) best.set(k, { key, cols });
  };
  const nums = (ls: BookLevel[], i: 0 | 1) => ls.map((l) => Number(l[i]));
  for (const r of s.db.prepare("SELECT * FROM books15").all() as Row[]) {
    const bids = JSON.parse(r.bids as string);
    const asks = JSON.parse(r.asks as string);
    const top = bookTop(nums(bids, 0), nums(bids, 1), nums(asks, 0), nums(asks, 1));
    if (!top) continue;
    const seq = r.seq as number | null;
    offer(
      r.symbol as string,
      [1, r.ts as number, seq ?? -1, r.id as number],
      topColumns("books15", r.ts as number, seq, top),
    );
  }
  const books = new Map<string, OrderBook>();
  for (const r of s.db.prepare("SELECT * FROM books ORDER BY symbol, seq, id").all() as Row[]) {
    const sym = r.symbol as string;
    let ob = books.get(sym);
    if (!ob) books.set(sym, ob = new OrderBook());
    const bids = JSON.parse(r.bids as string);
    const asks = JSON.parse(r.asks as string);
    if (r.action === "snapshot") ob.snapshot(bids, asks);
    else ob.update(bids, asks);
    const top = ob.summary();
    if (!top) continue;
    const seq = r.seq as number | null;
    offer(
      sym,
      [2, r.ts as number, seq ?? -1, r.id as number],
      topColumns("books", r.ts as number, seq, top),
    );
  }
  for (const [k, v] of best) {
    const [symbol, b] = k.split("|");
    Object.assign(bucketRow(exp, "agg_1s", symbol, Number(b)), v.cols);
  }
  // Market columns: last observation by ts per bucket (test streams have distinct ts).
  const market = [
    ...(s.db.prepare(
      "SELECT symbol, ts, mark_price AS m, index_price AS i, funding_rate AS f, open_interest AS oi FROM tickers",
    ).all() as Row[]),
    ...(s.db.prepare(
      "SELECT symbol, ts, mark_price AS m, index_price AS i, NULL AS f, NULL AS oi FROM mark_prices",
    ).all() as Row[]),
    ...(s.db.prepare(
      "SELECT symbol, ts, NULL AS m, NULL AS i, funding_rate AS f, NULL AS oi FROM funding_rates",
    ).all() as Row[]),
    ...(s.db.prepare(
      "SELECT symbol, ts, NULL AS m, NULL AS i, NULL AS f, open_interest AS oi FROM open_interest",
    ).all() as Row[]),
  ];
  for (const t of ["agg_1m", "agg_15m"] as const) {
    for (const r of market) {
      const ts = r.ts as number;
      if (r.m === null && r.f === null && r.oi === null) continue;
      const row = bucketRow(exp, t, r.symbol as string, floor(ts, AGG_INTERVALS[t]));
      if (r.m !== null && (row.mark_ts === null || ts >= (row.mark_ts as number))) {
        Object.assign(row, { mark_price: r.m, index_price: r.i, mark_ts: ts });
      }
      if (r.f !== null && (row.funding_ts === null || ts >= (row.funding_ts as number))) {
        Object.assign(row, { funding_rate: r.f, funding_ts: ts });
      }
      if (r.oi !== null && (row.oi_ts === null || ts >= (row.oi_ts as number))) {
        Object.assign(row, { open_interest: r.oi, oi_ts: ts });
      }
    }
  }
  return exp;
}

function assertClose(a: unknown, b: unknown, what: string): void {
  if (typeof a === "number" && typeof b === "number") {
    const tol = 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
    assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
  } else assert.equal(a, b, what);
}

function assertAggregatesMatch(s: Store): number {
  const exp = recompute(s);
  let checked = 0;
  for (const t of TABLES) {
    const got = s.db.prepare(`SELECT * FROM ${t} ORDER BY symbol, bucket_ts`).all() as Row[];
    assert.equal(got.length, exp[t].size, `${t}: bucket count`);
    for (const g of got) {
      const e = exp[t].get(`${g.symbol}|${g.bucket_ts}`);
      assert.ok(e, `${t}: unexpected bucket ${g.symbol} ${g.bucket_ts}`);
      for (const col of Object.keys(e)) {
        assertClose(g[col], e[col], `${t} ${g.symbol} ${g.bucket_ts} ${col}`);
        checked++;
      }
    }
  }
  return checked;
}

/** Seeded PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(xs: T[], r: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/** Splits into random batches, optionally shuffles their order. */
function batches<T>(xs: T[], r: () => number, maxSize: number, shuffled: boolean): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length;) {
    const n = 1 + Math.floor(r() * maxSize);
    out.push(xs.slice(i, i + n));
    i += n;
  }
  return shuffled ? shuffle(out, r) : out;
}

/**
 * A random stream of both symbols crossing a 15 m boundary: trades in equal-ts bursts with ids
 * crossing 9→10 digits, books15 and full-depth books (snapshot + updates, top from an OrderBook),
 * tickers, mark/funding/oi at distinct ts, and re-sent duplicates. With `ties`, some books15
 * frames share ts with no seq (then the later write wins, so only write order decides).
 */
function randomStream(
  r: () => number,
  ties = true,
): { events: MarketEvent[]; duplicates: number } {
  const start = 1721347200000 - 100_000; // 15 m boundary inside the stream
  const span = 200_000;
  const evs: MarketEvent[] = [];
  for (const [symbol, px0] of [["BTCUSDT", 64000], ["ETHUSDT", 3400]] as const) {
    const tick = symbol === "BTCUSDT" ? 0.1 : 0.01;
    let px = px0;
    let id = 999_999_900;
    let ts = start;
    const nTrades = 200 + Math.floor(r() * 400);
    for (let i = 0; i < nTrades; i++) {
      if (r() > 0.3) ts += Math.floor(r() * (2 * span / nTrades));
      px += (r() - 0.5) * 20 * tick;
      evs.push({
        kind: "trade",
        symbol,
        ts,
        recvTs: ts + 5,
        tradeId: String(id += 1 + Math.floor(r() * 3)),
        price: Math.round(px / tick) * tick,
        size: Math.round((0.001 + r() * 2) * 1000) / 1000,
        side: r() < 0.5 ? "buy" : "sell",
      });
    }
    const level = (p: number, dp: number) =>
      [p.toFixed(dp), (0.001 + r() * 5).toFixed(3)] as BookLevel;
    const dp = symbol === "BTCUSDT" ? 1 : 2;
    const ob = new OrderBook();
    let seq = 1000;
    for (let t = start; t < start + span; t += 50 + Math.floor(r() * 400)) {
      const mid = px0 + (r() - 0.5) * 100 * tick;
      if (r() < 0.4) {
        const bids = Array.from({ length: 15 }, (_, k) => level(mid - (k + 1) * tick, dp));
        const asks = Array.from({ length: 15 }, (_, k) => level(mid + (k + 1) * tick, dp));
        const num = (ls: BookLevel[], j: 0 | 1) => ls.map((l) => Number(l[j]));
        // Sometimes a second frame with the same ts and no seq: the later write must win.
        const twice = ties && r() < 0.15;
        for (let copies = twice ? 2 : 1; copies > 0; copies--) {
          const bs = copies === 2 ? bids : bids.map(([p]) => level(Number(p), dp));
          evs.push({
            kind: "book",
            channel: "books15",
            symbol,
            ts: t,
            recvTs: t + 3,
            action: "snapshot",
            bids: bs,
            asks,
            seq: twice || r() < 0.2 ? null : ++seq,
            checksum: 0,
            top: bookTop(num(bs, 0), num(bs, 1), num(asks, 0), num(asks, 1)),
          });
        }
      } else {
        const snap = seq === 1000 || r() < 0.05;
        const bids: BookLevel[] = [];
        const asks: BookLevel[] = [];
        const n = snap ? 40 : 1 + Math.floor(r() * 5);
        for (let k = 0; k < n; k++) {
          const b = level(px0 - (1 + Math.floor(r() * 40)) * tick, dp);
          const a = level(px0 + (1 + Math.floor(r() * 40)) * tick, dp);
          if (!snap && r() < 0.3) b[1] = "0";
          if (!snap && r() < 0.3) a[1] = "0";
          bids.push(b);
          asks.push(a);
        }
        const byPx = (d: number) => (x: BookLevel, y: BookLevel) =>
          d * (Number(x[0]) - Number(y[0]));
        const uniq = (ls: BookLevel[]) =>
          ls.filter((l, i) => ls.findIndex((m) => m[0] === l[0]) === i);
        const b2 = uniq(bids).sort(byPx(-1));
        const a2 = uniq(asks).sort(byPx(1));
        if (snap) ob.snapshot(b2, a2);
        else ob.update(b2, a2);
        evs.push({
          kind: "book",
          channel: "books",
          symbol,
          ts: t,
          recvTs: t + 2,
          action: snap ? "snapshot" : "update",
          bids: b2,
          asks: a2,
          seq: ++seq,
          checksum: null,
          top: ob.summary(),
        });
      }
    }
    // Market observations at distinct timestamps per symbol.
    const used = new Set<number>();
    const freshTs = () => {
      let t;
      do t = start + Math.floor(r() * span); while (used.has(t));
      used.add(t);
      return t;
    };
    for (let i = 0; i < 120; i++) {
      const t = freshTs();
      const k = r();
      const mark = px0 + (r() - 0.5) * 50;
      if (k < 0.4) {
        evs.push({
          kind: "ticker",
          symbol,
          ts: t,
          recvTs: t + 1,
          last: mark,
          bid: mark - tick,
          ask: mark + tick,
          bidSize: 1,
          askSize: 2,
          markPrice: mark,
          indexPrice: mark - 3,
          fundingRate: (r() - 0.5) / 1000,
          nextFundingTime: 1721347200000,
          openInterest: 50000 + r() * 1000,
          open24h: px0,
          high24h: px0 + 100,
          low24h: px0 - 100,
          baseVolume24h: 1000,
          quoteVolume24h: 1000 * px0,
        });
      } else if (k < 0.6) {
        evs.push({
          kind: "mark",
          symbol,
          ts: t,
          recvTs: t + 1,
          markPrice: mark,
          indexPrice: mark - 2,
          last: mark,
        });
      } else if (k < 0.8) {
        evs.push({
          kind: "funding",
          symbol,
          ts: t,
          recvTs: t + 1,
          fundingRate: (r() - 0.5) / 1000,
          nextFundingTime: null,
          intervalHours: 8,
          type: r() < 0.8 ? "current" : "settled",
        });
      } else {
        evs.push({ kind: "oi", symbol, ts: t, recvTs: t + 1, openInterest: 40000 + r() * 1000 });
      }
    }
  }
  evs.sort((a, b) => a.ts - b.ts);
  // Re-sent duplicates (reconnect): copies of keyed events, later in the stream.
  let duplicates = 0;
  const keyed = evs.filter((e) =>
    e.kind === "trade" || e.kind === "mark" || e.kind === "oi" || e.kind === "funding"
  );
  for (const e of keyed) {
    if (r() < 0.08) {
      evs.splice(Math.floor(r() * evs.length), 0, { ...e, recvTs: e.recvTs + 1000 });
      duplicates++;
    }
  }
  return { events: evs, duplicates };
}

Deno.test("tradeKeyBefore orders numeric ids by (length, string)", () => {
  assert.ok(tradeKeyBefore(1, "999999999", 1, "1000000000"));
  assert.ok(!tradeKeyBefore(1, "1000000000", 1, "999999999"));
  assert.ok(tradeKeyBefore(1, "5", 2, "1"));
  assert.ok(!tradeKeyBefore(1, "7", 1, "7"));
});

Deno.test("real recorded events: incremental aggregates == recomputation (shuffled batches, restart)", async () => {
  const frames = await loadReplayFrames(REPLAY);
  const csvBooks = await parseImport(BOOK15_CSV, "book15-1s", "ETHUSDT", 0);
  assert.equal(csvBooks.target, "books15");
  const events = [
    ...frames.flatMap((f) => f.events),
    ...(csvBooks.target === "books15" ? csvBooks.books : []),
  ];
  const trades = events.filter((e) => e.kind === "trade").length;
  assert.equal(trades, 10701 + 13655); // MANIFEST: Binance MARKET trades of both symbols
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "real.db");
    const r = rng(7);
    let s = Store.open(path, { create: true });
    const parts = batches(events, r, 4000, true);
    let dup = 0;
    parts.forEach((b, i) => {
      dup += s.writeBatch(b).duplicates;
      if (i === Math.floor(parts.length / 2)) {
        s.close();
        s = Store.open(path);
      }
    });
    // A reconnect re-sends the first 2000 trades: nothing may change.
    const resend = events.filter((e) => e.kind === "trade").slice(0, 2000);
    const res = s.writeBatch(resend);
    assert.equal(res.rows.trades, 0);
    assert.equal(res.duplicates, 2000);
    assert.equal(dup, 0, "the recording has no re-sent rows");
    assert.equal(
      Number((s.db.prepare("SELECT count(*) AS n FROM trades").get() as { n: number }).n),
      trades,
    );
    const checked = assertAggregatesMatch(s);
    assert.ok(checked > 20_000, `checked ${checked} values`);
    // Book metrics prefer the full-depth channel when both are recorded for a second.
    const src = s.db.prepare(
      "SELECT book_src, count(*) AS n FROM agg_1s WHERE symbol = 'ETHUSDT' GROUP BY book_src",
    ).all() as { book_src: string; n: number }[];
    assert.ok(src.some((x) => x.book_src === "books" && x.n > 400), JSON.stringify(src));
    s.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("property: random streams, random splits, shuffled batches, duplicates, restarts", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (let seed = 1; seed <= 12; seed++) {
      const r = rng(seed);
      const { events, duplicates } = randomStream(r);
      const path = join(dir, `p${seed}.db`);
      let s = Store.open(path, { create: true });
      let dupSeen = 0;
      for (const b of batches(events, r, 1 + Math.floor(r() * 300), seed % 3 !== 0)) {
        dupSeen += s.writeBatch(b).duplicates;
        if (r() < 0.1) {
          s.close();
          s = Store.open(path);
        }
      }
      // Shuffled batch order may store a re-sent copy first; either way exactly one is kept.
      assert.equal(dupSeen, duplicates, `seed ${seed}: duplicates ignored`);
      assertAggregatesMatch(s);
      s.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("one batch vs many batches vs reversed batches give the same aggregates", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { events } = randomStream(rng(99), false);
    const dump = (s: Store) =>
      TABLES.map((t) =>
        s.db.prepare(`SELECT * FROM ${t} ORDER BY symbol, bucket_ts`).all() as Row[]
      );
    const results: Row[][][] = [];
    for (
      const [name, parts] of [
        ["one", [events]],
        ["many", batches(events, rng(1), 50, false)],
        ["reversed", batches(events, rng(2), 50, false).reverse()],
      ] as const
    ) {
      const s = Store.open(join(dir, `${name}.db`), { create: true });
      for (const b of parts) s.writeBatch(b);
      results.push(dump(s));
      s.close();
    }
    for (const other of [results[1], results[2]]) {
      for (let t = 0; t < TABLES.length; t++) {
        assert.equal(other[t].length, results[0][t].length);
        other[t].forEach((row, i) => {
          for (const k of Object.keys(row)) {
            assertClose(row[k], results[0][t][i][k], `${TABLES[t]} ${k}`);
          }
        });
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
