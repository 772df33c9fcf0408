/**
 * Ingest benchmark support: the raw `node:sqlite` batched-INSERT rate for exactly the rows the
 * writer writes (prepared statements, one transaction per batch, parameters built beforehand —
 * the best a bare loop can do), the BatchWriter rate on the same events, and a loader that turns
 * a Bitget v2 replay recording (shared/data/bitget_replay, real Binance activity in Bitget wire
 * format) into MarketEvents so benchmarks and store tests run on real-data-shaped input.
 *
 * The loader is a deliberately small decoder of the recording's known-good frames (books,
 * books15, trade, ticker, candle1m/15m of USDT-FUTURES, API.md §1.4–1.7); the collector's own
 * validating parser lives under bitget/.
 */
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import type { BookLevel, Channel, MarketEvent } from "../market/events.ts";
import { bookTop, OrderBook } from "../market/order_book.ts";
import { BatchWriter } from "./batch_writer.ts";
import { eventRow, RAW_INSERT_SQL, type RawTable, type SqlValue } from "./raw_rows.ts";
import { Store } from "./store.ts";

/** The events of one received frame, as an ingest worker would post them. */
export interface ReplayFrame {
  symbol: string;
  channel: Channel;
  events: MarketEvent[];
}

type Json = Record<string, unknown>;
const num = (v: unknown) => Number(v);
const levels = (v: unknown) => (v ?? []) as BookLevel[];

/**
 * Decodes a replay recording (`{"recv_ms", "msg"}` JSON lines, optionally gzip) into frames in
 * arrival order. Book events carry `top` (full depth: from an OrderBook per symbol; books15: from
 * the frame's levels). Subscribe acks are skipped. `maxFrames` limits the output.
 */
export async function loadReplayFrames(
  path: string | URL,
  maxFrames = Infinity,
): Promise<ReplayFrame[]> {
  let bytes: Uint8Array = await Deno.readFile(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  const lines = new TextDecoder().decode(bytes).split("\n");
  const books = new Map<string, OrderBook>();
  const frames: ReplayFrame[] = [];
  for (const line of lines) {
    if (frames.length >= maxFrames) break;
    if (line === "") continue;
    const { recv_ms: recvTs, msg } = JSON.parse(line) as { recv_ms: number; msg: Json };
    const arg = msg.arg as Json | undefined;
    if (!arg || !Array.isArray(msg.data)) continue;
    const symbol = String(arg.instId);
    const channel = String(arg.channel) as Channel;
    const data = msg.data as Json[];
    const events: MarketEvent[] = [];
    if (channel === "books" || channel === "books15") {
      const d = data[0];
      const bids = levels(d.bids);
      const asks = levels(d.asks);
      let top;
      if (channel === "books") {
        let b = books.get(symbol);
        if (!b) books.set(symbol, b = new OrderBook());
        if (msg.action === "snapshot") b.snapshot(bids, asks);
        else b.update(bids, asks);
        top = b.summary();
      } else {
        const px = (ls: BookLevel[], i: 0 | 1) => ls.map((l) => Number(l[i]));
        top = bookTop(px(bids, 0), px(bids, 1), px(asks, 0), px(asks, 1));
      }
      events.push({
        kind: "book",
        channel,
        symbol,
        ts: num(d.ts),
        recvTs,
        action: msg.action === "snapshot" ? "snapshot" : "update",
        bids,
        asks,
        seq: d.seq === undefined ? null : num(d.seq),
        checksum: d.checksum === undefined ? null : num(d.checksum),
        top,
      });
    } else if (channel === "trade") {
      for (const t of data) {
        events.push({
          kind: "trade",
          symbol,
          ts: num(t.ts),
          recvTs,
          tradeId: String(t.tradeId),
          price: num(t.price),
          size: num(t.size),
          side: t.side === "sell" ? "sell" : "buy",
        });
      }
    } else if (channel === "ticker") {
      const d = data[0];
      events.push({
        kind: "ticker",
        symbol,
        ts: num(d.ts),
        recvTs,
        last: num(d.lastPr),
        bid: num(d.bidPr),
        ask: num(d.askPr),
        bidSize: num(d.bidSz),
        askSize: num(d.askSz),
        markPrice: num(d.markPrice),
        indexPrice: num(d.indexPrice),
        fundingRate: num(d.fundingRate),
        nextFundingTime: num(d.nextFundingTime),
        openInterest: num(d.holdingAmount),
        open24h: num(d.open24h),
        high24h: num(d.high24h),
        low24h: num(d.low24h),
        baseVolume24h: num(d.baseVolume),
        quoteVolume24h: num(d.quoteVolume),
      });
    } else if (channel === "candle1m" || channel === "candle15m") {
      for (const row of data as unknown as string[][]) {
        events.push({
          kind: "candle",
          symbol,
          ts: num(row[0]),
          recvTs,
          interval: channel === "candle1m" ? "1m" : "15m",
          open: num(row[1]),
          high: num(row[2]),
          low: num(row[3]),
          close: num(row[4]),
          volume: num(row[5]),
          quoteVolume: num(row[6]),
        });
      }
    } else continue;
    frames.push({ symbol, channel, events });
  }
  return frames;
}

export interface RateResult {
  /** Raw-table rows written. */
  rows: number;
  seconds: number;
  rowsPerSec: number;
}

/**
 * Raw batched-INSERT rate: the raw rows of `events` (raw_rows.ts, the writer's exact rows and
 * statements) inserted with prepared statements, one transaction per `batchEvents` events, into
 * a fresh database under `dir`. Row parameters (incl. book JSON) are built before timing.
 */
export function measureRawInsertRate(
  events: readonly MarketEvent[],
  dir: string,
  batchEvents = 20_000,
): RateResult {
  const store = Store.open(join(dir, `raw-${crypto.randomUUID()}.db`), { create: true });
  try {
    const stmts = new Map<RawTable, ReturnType<typeof store.db.prepare>>();
    const rows = events.map((e) => eventRow(e));
    for (const r of rows) {
      if (!stmts.has(r.table)) stmts.set(r.table, store.db.prepare(RAW_INSERT_SQL[r.table]));
    }
    const bound = rows.map((r) => ({ stmt: stmts.get(r.table)!, params: r.params as SqlValue[] }));
    let written = 0;
    const t0 = performance.now();
    for (let i = 0; i < bound.length; i += batchEvents) {
      store.db.exec("BEGIN IMMEDIATE");
      const end = Math.min(bound.length, i + batchEvents);
      for (let j = i; j < end; j++) {
        written += Number(bound[j].stmt.run(...bound[j].params).changes);
      }
      store.db.exec("COMMIT");
    }
    const seconds = (performance.now() - t0) / 1000;
    return { rows: written, seconds, rowsPerSec: written / seconds };
  } finally {
    store.close();
  }
}

/**
 * BatchWriter rate on the same input: frames pushed as an ingest worker posts them (events plus
 * frame tallies), committed every `batchEvents` events (age trigger disabled), into a fresh
 * database under `dir`. Includes aggregates and tallies; rows = raw rows written.
 */
export function measureWriterRate(
  frames: readonly ReplayFrame[],
  dir: string,
  batchEvents = 20_000,
): RateResult & { p50Ms: number; p99Ms: number } {
  const store = Store.open(join(dir, `writer-${crypto.randomUUID()}.db`), { create: true });
  try {
    const w = new BatchWriter(store, { batchMaxAge: 3_600_000, batchMaxEvents: batchEvents });
    const key = frames.map((f) => ({ [`${f.symbol}|${f.channel}`]: 1 }));
    const t0 = performance.now();
    for (let i = 0; i < frames.length; i++) w.pushAll(frames[i].events, key[i]);
    w.close();
    const seconds = (performance.now() - t0) / 1000;
    const s = w.stats();
    return {
      rows: s.rows,
      seconds,
      rowsPerSec: s.rows / seconds,
      p50Ms: s.commitP50Ms,
      p99Ms: s.commitP99Ms,
    };
  } finally {
    store.close();
  }
}

export interface RateComparison {
  /** Best (fastest) of the rounds for each path. */
  raw: RateResult;
  writer: RateResult & { p50Ms: number; p99Ms: number };
  /** writer.rowsPerSec / raw.rowsPerSec (target ≥ 0.5). */
  ratio: number;
  rounds: number;
}

/**
 * Interleaves `rounds` raw and writer measurements on the same frames and compares the best of
 * each: on a shared machine the fastest run is the least disturbed estimate of each path.
 */
export function compareIngestRates(
  frames: readonly ReplayFrame[],
  dir: string,
  rounds = 5,
  batchEvents = 5_000,
): RateComparison {
  const events = frames.flatMap((f) => f.events);
  let raw: RateResult | null = null;
  let writer: (RateResult & { p50Ms: number; p99Ms: number }) | null = null;
  for (let i = 0; i < rounds; i++) {
    const r = measureRawInsertRate(events, dir, batchEvents);
    if (raw === null || r.rowsPerSec > raw.rowsPerSec) raw = r;
    const w = measureWriterRate(frames, dir, batchEvents);
    if (writer === null || w.rowsPerSec > writer.rowsPerSec) writer = w;
  }
  return { raw: raw!, writer: writer!, ratio: writer!.rowsPerSec / raw!.rowsPerSec, rounds };
}
