/**
 * Retention of raw rows: order-book frames (`books`, `books15`) older than `rawBooksRetention`,
 * and trades, tickers, mark prices, open interest and *current* funding observations older than
 * `rawOtherRetention` (config `store`; 0 = keep forever). Aggregates, candles, settled funding
 * rates, gaps, runs and contracts are history at bar resolution and are never deleted.
 *
 * Deletes run in chunks of `chunkRows` rows per (table, symbol), each chunk its own short
 * transaction on the writer's connection, yielding to the event loop between chunks so the
 * BatchWriter's timer commits in between: the writer is never blocked longer than one chunk.
 */
import type { Store } from "./store.ts";

export interface RetentionOptions {
  /** Age (ms) after which raw book frames are deleted; 0 = keep. */
  rawBooksRetention: number;
  /** Age (ms) after which other raw rows are deleted; 0 = keep. */
  rawOtherRetention: number;
  /** Rows per delete transaction. Default 5000. */
  chunkRows?: number;
}

export interface RetentionResult {
  /** Rows deleted per table. */
  deleted: Record<string, number>;
  chunks: number;
  /** Longest single chunk (transaction), ms. */
  maxChunkMs: number;
}

interface Target {
  table: string;
  /** Column identifying rows of one symbol inside the chunk subquery. */
  key: string;
  /** Extra row filter (funding: only current observations). */
  where: string;
  books: boolean;
}

const TARGETS: readonly Target[] = [
  { table: "books", key: "id", where: "", books: true },
  { table: "books15", key: "id", where: "", books: true },
  { table: "trades", key: "trade_id", where: "", books: false },
  { table: "tickers", key: "id", where: "", books: false },
  { table: "mark_prices", key: "ts", where: "", books: false },
  { table: "open_interest", key: "ts", where: "", books: false },
  { table: "funding_rates", key: "ts", where: "AND type = 'current'", books: false },
];

/**
 * Symbols present in `table`, found by index seeks (one per symbol) instead of a full scan.
 */
function symbolsOf(store: Store, table: string): string[] {
  const rows = store.db.prepare(
    `WITH RECURSIVE s(sym) AS (
       SELECT min(symbol) FROM ${table}
       UNION ALL
       SELECT (SELECT min(symbol) FROM ${table} WHERE symbol > s.sym) FROM s WHERE s.sym IS NOT NULL
     ) SELECT sym FROM s WHERE sym IS NOT NULL`,
  ).all() as { sym: string }[];
  return rows.map((r) => r.sym);
}

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * Deletes raw rows older than the retention ages relative to `now` (epoch ms).
 * Returns rows deleted per table, chunks run and the longest chunk's duration.
 */
export async function runRetention(
  store: Store,
  opts: RetentionOptions,
  now: number = Date.now(),
): Promise<RetentionResult> {
  const chunk = Math.max(1, Math.floor(opts.chunkRows ?? 5000));
  const deleted: Record<string, number> = {};
  let chunks = 0;
  let maxChunkMs = 0;
  for (const t of TARGETS) {
    const age = t.books ? opts.rawBooksRetention : opts.rawOtherRetention;
    deleted[t.table] = 0;
    if (!(age > 0)) continue;
    const cutoff = now - age;
    const del = store.db.prepare(
      `DELETE FROM ${t.table} WHERE symbol = ?1 ${t.where} AND ${t.key} IN (
         SELECT ${t.key} FROM ${t.table} WHERE symbol = ?1 AND ts < ?2 ${t.where} LIMIT ?3)`,
    );
    for (const symbol of symbolsOf(store, t.table)) {
      for (;;) {
        const t0 = performance.now();
        const n = store.transaction(() => Number(del.run(symbol, cutoff, chunk).changes));
        maxChunkMs = Math.max(maxChunkMs, performance.now() - t0);
        chunks++;
        deleted[t.table] += n;
        await tick();
        if (n < chunk) break;
      }
    }
  }
  return { deleted, chunks, maxChunkMs };
}
