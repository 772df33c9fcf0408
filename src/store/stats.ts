/**
 * What a database holds: per table and symbol row counts and time spans, gaps (by reason, with
 * checksum failures), frames received per channel, runs, and file sizes. `collectStats` gives a
 * stable JSON shape (for `stats --json` and monitoring); `formatStats` a readable report.
 */
import { StoreError } from "./errors.ts";
import { SCHEMA_VERSION, TIME_COLUMN } from "./schema.ts";
import type { Store } from "./store.ts";

export interface TableSpan {
  table: string;
  symbol: string;
  /** Candle interval (candles table only), else null. */
  interval: string | null;
  rows: number;
  /** ISO-8601 UTC of the first/last row's time column. */
  first: string | null;
  last: string | null;
}

export interface GapSummary {
  symbol: string;
  channel: string;
  reason: string;
  start: string;
  end: string;
  durationMs: number;
  detail: string;
}

export interface RunSummary {
  id: number;
  command: string;
  status: string;
  started: string;
  ended: string | null;
  version: string;
  host: string;
}

export interface StoreStats {
  path: string;
  fileBytes: number;
  walBytes: number;
  schemaVersion: number;
  tables: TableSpan[];
  aggregates: TableSpan[];
  gaps: {
    count: number;
    totalMs: number;
    byReason: Record<string, { count: number; totalMs: number }>;
    /** Gaps with reason `checksum` (book checksum mismatches). */
    checksumFailures: number;
    /** Most recent gaps (by start), newest first. */
    latest: GapSummary[];
  };
  /** Frames received per channel over all runs, and per symbol and channel. */
  framesByChannel: Record<string, number>;
  frames: { symbol: string; channel: string; frames: number }[];
  runs: { count: number; latest: RunSummary[] };
}

const RAW = [
  "books",
  "books15",
  "trades",
  "tickers",
  "candles",
  "mark_prices",
  "funding_rates",
  "open_interest",
];
const AGG = ["agg_1s", "agg_1m", "agg_15m"];

const iso = (ms: unknown): string | null =>
  ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString();

function fileSize(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

function spans(store: Store, table: string): TableSpan[] {
  const t = TIME_COLUMN[table];
  const byInterval = table === "candles";
  const rows = store.db.prepare(
    `SELECT symbol, ${byInterval ? "interval" : "NULL"} AS interval, count(*) AS n,
       min(${t}) AS first, max(${t}) AS last
     FROM ${table} GROUP BY symbol${byInterval ? ", interval" : ""} ORDER BY symbol, interval`,
  ).all() as Record<string, unknown>[];
  return rows.map((r) => ({
    table,
    symbol: String(r.symbol),
    interval: r.interval === null ? null : String(r.interval),
    rows: Number(r.n),
    first: iso(r.first),
    last: iso(r.last),
  }));
}

/**
 * Gathers the stats of an open store (read-only is enough). `latestGaps`/`latestRuns` bound the
 * lists (default 10). Counting scans each table's (symbol, time) index once.
 */
export function collectStats(
  store: Store,
  opts: { latestGaps?: number; latestRuns?: number } = {},
): StoreStats {
  const db = store.db;
  try {
    const tables = RAW.flatMap((t) => spans(store, t));
    const aggregates = AGG.flatMap((t) => spans(store, t));
    const byReasonRows = db.prepare(
      `SELECT reason, count(*) AS n, sum(end_ts - start_ts) AS ms FROM gaps GROUP BY reason
       ORDER BY reason`,
    ).all() as { reason: string; n: number; ms: number }[];
    const byReason: Record<string, { count: number; totalMs: number }> = {};
    let count = 0;
    let totalMs = 0;
    for (const r of byReasonRows) {
      byReason[r.reason] = { count: Number(r.n), totalMs: Number(r.ms) };
      count += Number(r.n);
      totalMs += Number(r.ms);
    }
    const latest = (db.prepare(
      `SELECT symbol, channel, reason, start_ts, end_ts, detail FROM gaps
       ORDER BY start_ts DESC, id DESC LIMIT ?`,
    ).all(opts.latestGaps ?? 10) as Record<string, unknown>[]).map((r) => ({
      symbol: String(r.symbol),
      channel: String(r.channel),
      reason: String(r.reason),
      start: iso(r.start_ts)!,
      end: iso(r.end_ts)!,
      durationMs: Number(r.end_ts) - Number(r.start_ts),
      detail: String(r.detail),
    }));
    const frames = (db.prepare(
      `SELECT symbol, channel, sum(frames) AS n FROM ingest_counts GROUP BY symbol, channel
       ORDER BY symbol, channel`,
    ).all() as Record<string, unknown>[]).map((r) => ({
      symbol: String(r.symbol),
      channel: String(r.channel),
      frames: Number(r.n),
    }));
    const framesByChannel: Record<string, number> = {};
    for (const f of frames) {
      framesByChannel[f.channel] = (framesByChannel[f.channel] ?? 0) + f.frames;
    }
    const runCount = Number(
      (db.prepare("SELECT count(*) AS n FROM runs").get() as { n: number }).n,
    );
    const runs = (db.prepare(`SELECT * FROM runs ORDER BY id DESC LIMIT ?`).all(
      opts.latestRuns ?? 10,
    ) as Record<string, unknown>[]).map((r) => ({
      id: Number(r.id),
      command: String(r.command),
      status: String(r.status),
      started: iso(r.started_ts)!,
      ended: iso(r.ended_ts),
      version: String(r.version),
      host: String(r.host),
    }));
    return {
      path: store.path,
      fileBytes: fileSize(store.path),
      walBytes: fileSize(store.path + "-wal"),
      schemaVersion: SCHEMA_VERSION,
      tables,
      aggregates,
      gaps: {
        count,
        totalMs,
        byReason,
        checksumFailures: byReason.checksum?.count ?? 0,
        latest,
      },
      framesByChannel,
      frames,
      runs: { count: runCount, latest: runs },
    };
  } catch (e) {
    throw new StoreError(
      `cannot read stats of ${store.path}: ${e instanceof Error ? e.message : e}`,
      store.path,
      { cause: e },
    );
  }
}

function table(head: string[], rows: string[][], right: Set<number>): string[] {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r.map((c, i) => (right.has(i) ? c.padStart(w[i]) : c.padEnd(w[i]))).join("  ").trimEnd();
  return [line(head), line(w.map((n) => "-".repeat(n))), ...rows.map(line)];
}

const num = (x: number) => x.toLocaleString("en-US");

/** Human duration: `950 ms`, `12.3 s`, `4.5 min`, `2.1 h`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

function bytes(b: number): string {
  if (b < 1024) return `${b} B`;
  if (b < 1024 ** 2) return `${(b / 1024).toFixed(1)} KiB`;
  if (b < 1024 ** 3) return `${(b / 1024 ** 2).toFixed(1)} MiB`;
  return `${(b / 1024 ** 3).toFixed(2)} GiB`;
}

/** Readable multi-section report of {@link collectStats} output. */
export function formatStats(s: StoreStats): string {
  const out: string[] = [];
  out.push(
    `${s.path}  ${bytes(s.fileBytes)} (+ WAL ${bytes(s.walBytes)})  schema v${s.schemaVersion}`,
    "",
  );
  const spanRows = (xs: TableSpan[]) =>
    xs.map((t) => [
      t.interval ? `${t.table} ${t.interval}` : t.table,
      t.symbol,
      num(t.rows),
      t.first ?? "-",
      t.last ?? "-",
    ]);
  const head = ["table", "symbol", "rows", "first", "last"];
  out.push("raw tables:");
  out.push(...(s.tables.length ? table(head, spanRows(s.tables), new Set([2])) : ["  (empty)"]));
  out.push("", "aggregates:");
  out.push(
    ...(s.aggregates.length ? table(head, spanRows(s.aggregates), new Set([2])) : ["  (empty)"]),
  );
  out.push(
    "",
    `gaps: ${s.gaps.count} totalling ${formatDuration(s.gaps.totalMs)}; ` +
      `checksum failures: ${s.gaps.checksumFailures}`,
  );
  for (const [r, g] of Object.entries(s.gaps.byReason)) {
    out.push(`  ${r.padEnd(16)} ${String(g.count).padStart(6)}  ${formatDuration(g.totalMs)}`);
  }
  if (s.gaps.latest.length) {
    out.push("  latest:");
    out.push(
      ...table(
        ["symbol", "channel", "reason", "start", "end", "duration", "detail"],
        s.gaps.latest.map((g) => [
          g.symbol,
          g.channel,
          g.reason,
          g.start,
          g.end,
          formatDuration(g.durationMs),
          g.detail,
        ]),
        new Set([5]),
      ).map((l) => "  " + l),
    );
  }
  out.push("", "frames received:");
  out.push(
    ...(s.frames.length
      ? table(
        ["symbol", "channel", "frames"],
        s.frames.map((f) => [f.symbol, f.channel, num(f.frames)]),
        new Set([2]),
      )
      : ["  (none)"]),
  );
  for (const [c, f] of Object.entries(s.framesByChannel)) out.push(`  all ${c}: ${num(f)}`);
  out.push("", `runs: ${s.runs.count}`);
  if (s.runs.latest.length) {
    out.push(
      ...table(
        ["id", "command", "status", "started", "ended", "version", "host"],
        s.runs.latest.map((r) => [
          String(r.id),
          r.command,
          r.status,
          r.started,
          r.ended ?? "-",
          r.version,
          r.host,
        ]),
        new Set([0]),
      ),
    );
  }
  return out.join("\n");
}
