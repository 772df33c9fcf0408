/**
 * Ingest benchmark support: the raw `node:sqlite` batched-INSERT rate for exactly the rows the
 * writer writes (prepared statements, one transaction per batch, parameters built beforehand —
 * the best a bare loop can do) and the BatchWriter rate on the same events. Frames come from
 * ingest/replay_frames.ts (a real recording through the collector's own parser).
 */
import { join } from "node:path";
import type { Channel, MarketEvent } from "../market/events.ts";
import { BatchWriter } from "./batch_writer.ts";
import { eventRow, RAW_INSERT_SQL, type RawTable, type SqlValue } from "./raw_rows.ts";
import { Store } from "./store.ts";

/** The events of one received frame, as an ingest worker would post them. */
export interface ReplayFrame {
  symbol: string;
  channel: Channel;
  events: MarketEvent[];
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
