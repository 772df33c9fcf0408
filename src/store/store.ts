/**
 * The SQLite store: opening (identity check, WAL, migrations) and the single writer's batch
 * transaction over raw tables, aggregates and per-frame tallies.
 *
 * One process-wide writer owns a `Store` (ARCHITECTURE.md "Processes and threads"); readers may
 * open the same file read-only. Durability: WAL with `synchronous=NORMAL` — a committed batch
 * survives the process being killed (SIGKILL) because it is in the WAL; only power loss can drop
 * the last commits (never corrupt the file). See https://www.sqlite.org/wal.html.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { ContractSpec } from "../market/contracts.ts";
import type { GapEvent, MarketEvent } from "../market/events.ts";
import { type AggFlushCounts, Aggregator } from "./aggregates.ts";
import { prepareDbFile } from "./db_file.ts";
import { reason, StoreError } from "./errors.ts";
import {
  bookLevelsText,
  type CandleSource,
  eventRow,
  finiteOrNull,
  RAW_INSERT_SQL,
  RAW_TABLES,
  type RawTable,
} from "./raw_rows.ts";
import {
  checkIdentity,
  migrate,
  READ_COMPATIBLE_FROM,
  readIdentity,
  SCHEMA_VERSION,
} from "./schema.ts";

export { StoreError } from "./errors.ts";

export interface StoreOpenOptions {
  /** Create the file (and its parent directory) when missing. Default false. */
  create?: boolean;
  /** Open read-only (readers, stats). Default false. */
  readonly?: boolean;
  /** How long a statement waits for another connection's lock, ms. Default 5000. */
  busyTimeoutMs?: number;
}

/** Rows written per raw table by one batch (duplicates and unchanged candles excluded). */
export type RowCounts = Record<RawTable, number>;

export interface BatchResult {
  /** Events in the batch. */
  events: number;
  rows: RowCounts;
  /** Events already stored (trade ids, mark/funding/oi keys) or candle pushes with no change. */
  duplicates: number;
  /**
   * Events not stored: `ts` not an integer epoch ms, `recvTs` not finite, or a non-finite
   * required number (trade price/size, bar OHLCV, funding rate, open interest, gap bounds).
   */
  rejected: number;
  /** Aggregate buckets upserted per table. */
  buckets: AggFlushCounts;
  /** Frames added to `ingest_counts`. */
  frames: number;
}

export interface WriteOptions {
  /** `candles.source` for candle events. Default "ws". */
  candleSource?: CandleSource;
}

/** Run metadata for `beginRun` (what wrote the file). */
export interface RunInfo {
  command: string;
  args: readonly string[];
  version: string;
  host?: string;
  /** Epoch ms; default now. */
  startedTs?: number;
}

export type RunStatus = "ok" | "error" | "interrupted";

function emptyRows(): RowCounts {
  const r = {} as RowCounts;
  for (const t of RAW_TABLES) r[t] = 0;
  return r;
}

export class Store {
  private readonly agg: Aggregator | null;
  private readonly ins: Record<RawTable, StatementSync> | null;
  private readonly frameUpsert: StatementSync | null;
  private inTx = false;

  private constructor(
    readonly db: DatabaseSync,
    readonly path: string,
    readonly readonly: boolean,
  ) {
    if (readonly) {
      this.agg = null;
      this.ins = null;
      this.frameUpsert = null;
      return;
    }
    this.agg = new Aggregator(db);
    const ins = {} as Record<RawTable, StatementSync>;
    for (const t of RAW_TABLES) ins[t] = db.prepare(RAW_INSERT_SQL[t]);
    this.ins = ins;
    this.frameUpsert = db.prepare(
      `INSERT INTO ingest_counts (run_id, symbol, channel, frames) VALUES (?, ?, ?, ?)
       ON CONFLICT (run_id, symbol, channel) DO UPDATE SET frames = frames + excluded.frames`,
    );
  }

  /**
   * Opens (and with `create`, creates) a bitget-bot database. Writable opens set WAL,
   * `synchronous=NORMAL`, the busy timeout, and apply pending migrations.
   * @throws StoreError when the file is missing (without `create`), cannot be created or opened
   *   (message carries the path and the OS reason), is not a bitget-bot database (nothing is
   *   written to it), or has a newer schema — or, read-only, an older one.
   */
  static open(path: string, opts: StoreOpenOptions = {}): Store {
    const { create = false, readonly = false, busyTimeoutMs = 5000 } = opts;
    if (create && readonly) throw new StoreError("cannot create a database read-only", path);
    prepareDbFile(path, create, readonly);
    const connect = (ro: boolean): DatabaseSync => {
      try {
        return new DatabaseSync(path, { readOnly: ro, timeout: busyTimeoutMs });
      } catch (e) {
        throw new StoreError(`cannot open database ${path}: ${reason(e)}`, path, { cause: e });
      }
    };
    const fail = (db: DatabaseSync, e: unknown): never => {
      db.close();
      if (e instanceof StoreError) throw e;
      throw new StoreError(`cannot open database ${path}: ${reason(e)}`, path, { cause: e });
    };
    // Identity is read on a read-only connection: closing a read-write connection to someone
    // else's WAL database would checkpoint (write) it.
    const probe = connect(true);
    let id;
    try {
      id = readIdentity(probe, path);
      checkIdentity(id, path, !readonly);
      if (readonly && id.userVersion < READ_COMPATIBLE_FROM) {
        throw new StoreError(
          `${path} has schema version ${id.userVersion}; open it once read-write to migrate ` +
            `to ${SCHEMA_VERSION}`,
          path,
        );
      }
    } catch (e) {
      return fail(probe, e);
    }
    const busy = `PRAGMA busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`;
    if (readonly) {
      probe.exec(busy);
      return new Store(probe, path, true);
    }
    probe.close();
    const db = connect(false);
    try {
      const mode = db.prepare("PRAGMA journal_mode = WAL").get() as { journal_mode: string };
      if (mode.journal_mode !== "wal") {
        throw new StoreError(`${path}: cannot enable WAL (journal_mode ${mode.journal_mode})`);
      }
      db.exec("PRAGMA synchronous = NORMAL");
      db.exec(busy);
      migrate(db, id.userVersion);
      return new Store(db, path, false);
    } catch (e) {
      return fail(db, e);
    }
  }

  private writable(): { agg: Aggregator; ins: Record<RawTable, StatementSync> } {
    if (this.agg === null || this.ins === null) {
      throw new StoreError(`database ${this.path} is open read-only`, this.path);
    }
    return { agg: this.agg, ins: this.ins };
  }

  /**
   * Runs `fn` in one IMMEDIATE transaction (commit on return, rollback on throw). Re-entrant:
   * inside another `transaction` it joins the outer one.
   */
  transaction<T>(fn: () => T): T {
    if (this.inTx) return fn();
    this.db.exec("BEGIN IMMEDIATE");
    this.inTx = true;
    try {
      const r = fn();
      this.db.exec("COMMIT");
      return r;
    } catch (e) {
      this.agg?.discard();
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      throw e;
    } finally {
      this.inTx = false;
    }
  }

  /**
   * Writes `events` in one transaction: raw rows, the touched aggregate buckets, and the frame
   * tallies `frameCounts` (keys `"SYMBOL|channel"`, values = frames received) under `runId`
   * (0 when absent). Duplicate trades (same symbol + trade id) are ignored and not aggregated.
   * @throws StoreError on a bad frameCounts key; SQLite errors roll the whole batch back.
   */
  writeBatch(
    events: readonly MarketEvent[],
    frameCounts?: Readonly<Record<string, number>>,
    runId?: number,
    opts: WriteOptions = {},
  ): BatchResult {
    const { agg, ins } = this.writable();
    const candleSource = opts.candleSource ?? "ws";
    const run = runId ?? 0;
    const rows = emptyRows();
    let duplicates = 0;
    let rejected = 0;
    let frames = 0;
    const buckets = this.transaction(() => {
      const trade = ins.trades;
      for (let i = 0; i < events.length; i++) {
        const ev = events[i];
        // Times must be whole epoch ms (STRICT INTEGER columns): one bad event must not fail
        // the whole batch, so it is counted and skipped.
        if (!Number.isSafeInteger(ev.ts) || !Number.isFinite(ev.recvTs)) {
          rejected++;
          continue;
        }
        switch (ev.kind) {
          case "trade": {
            if (!(Number.isFinite(ev.price) && Number.isFinite(ev.size))) {
              rejected++;
              break;
            }
            const r = trade.run(
              ev.symbol,
              ev.tradeId,
              ev.ts,
              ev.recvTs,
              ev.price,
              ev.size,
              ev.side,
            );
            if (r.changes > 0) {
              rows.trades++;
              agg.trade(ev.symbol, ev.ts, ev.tradeId, ev.price, ev.size, ev.side === "buy");
            } else duplicates++;
            break;
          }
          case "book": {
            const books = ev.channel === "books";
            const r = books
              ? ins.books.run(
                ev.symbol,
                ev.ts,
                ev.recvTs,
                ev.action,
                ev.seq,
                ev.checksum,
                ...bookLevelsText(ev),
              )
              : ins.books15.run(
                ev.symbol,
                ev.ts,
                ev.recvTs,
                ev.seq,
                ev.checksum,
                ...bookLevelsText(ev),
              );
            if (r.changes === 0) {
              duplicates++;
              break;
            }
            if (books) rows.books++;
            else rows.books15++;
            agg.book(ev);
            break;
          }
          case "ticker":
            if (ins.tickers.run(...eventRow(ev).params).changes === 0) {
              duplicates++;
              break;
            }
            rows.tickers++;
            agg.mark(ev.symbol, ev.ts, ev.markPrice, ev.indexPrice);
            agg.funding(ev.symbol, ev.ts, ev.fundingRate);
            agg.openInterest(ev.symbol, ev.ts, ev.openInterest);
            break;
          case "candle": {
            if (![ev.open, ev.high, ev.low, ev.close, ev.volume].every(Number.isFinite)) {
              rejected++;
              break;
            }
            if (ins.candles.run(...eventRow(ev, candleSource).params).changes > 0) rows.candles++;
            else duplicates++;
            break;
          }
          case "mark":
            if (ins.mark_prices.run(...eventRow(ev).params).changes > 0) {
              rows.mark_prices++;
              agg.mark(ev.symbol, ev.ts, ev.markPrice, ev.indexPrice);
            } else duplicates++;
            break;
          case "funding":
            if (!Number.isFinite(ev.fundingRate)) {
              rejected++;
            } else if (ins.funding_rates.run(...eventRow(ev).params).changes > 0) {
              rows.funding_rates++;
              agg.funding(ev.symbol, ev.ts, ev.fundingRate);
            } else duplicates++;
            break;
          case "oi":
            if (!Number.isFinite(ev.openInterest)) {
              rejected++;
            } else if (ins.open_interest.run(...eventRow(ev).params).changes > 0) {
              rows.open_interest++;
              agg.openInterest(ev.symbol, ev.ts, ev.openInterest);
            } else duplicates++;
            break;
          case "gap":
            if (!Number.isSafeInteger(ev.startTs) || !Number.isSafeInteger(ev.endTs)) {
              rejected++;
              break;
            }
            ins.gaps.run(...eventRow(ev, candleSource, runId ?? null).params);
            rows.gaps++;
            break;
        }
      }
      if (frameCounts) frames = this.addFrames(frameCounts, run);
      return agg.flush();
    });
    return { events: events.length, rows, duplicates, rejected, buckets, frames };
  }

  private addFrames(frameCounts: Readonly<Record<string, number>>, run: number): number {
    let total = 0;
    for (const key in frameCounts) {
      const n = frameCounts[key];
      const bar = key.indexOf("|");
      if (bar <= 0 || bar === key.length - 1 || !Number.isInteger(n) || n < 0) {
        throw new StoreError(
          `frame count ${JSON.stringify(key)}=${n}: expected "SYMBOL|channel" and a count >= 0`,
          this.path,
        );
      }
      if (n === 0) continue;
      this.frameUpsert!.run(run, key.slice(0, bar), key.slice(bar + 1), n);
      total += n;
    }
    return total;
  }

  /**
   * Inserts or replaces contract specs (API.md §4.1). `raw` = the exchange's `data[]` entries;
   * each is stored verbatim as JSON next to the spec with the same `symbol`.
   * Returns the number of specs written.
   */
  upsertContracts(
    specs: readonly ContractSpec[],
    raw: readonly Record<string, unknown>[] = [],
    updatedTs: number = Date.now(),
  ): number {
    this.writable();
    const bySymbol = new Map(raw.map((r) => [String(r.symbol), r]));
    const stmt = this.db.prepare(
      `INSERT OR REPLACE INTO contracts (symbol, base_coin, quote_coin, price_place,
         price_end_step, tick_size, volume_place, lot_size, min_trade_num, min_trade_usdt,
         maker_fee_rate, taker_fee_rate, min_lever, max_lever, fund_interval_hours, status,
         max_market_order_qty, max_order_qty, raw, updated_ts)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.transaction(() => {
      for (const s of specs) {
        const r = bySymbol.get(s.symbol);
        stmt.run(
          s.symbol,
          s.baseCoin,
          s.quoteCoin,
          s.pricePlace,
          s.priceEndStep,
          s.tickSize,
          s.volumePlace,
          s.lotSize,
          s.minTradeNum,
          s.minTradeUSDT,
          s.makerFeeRate,
          s.takerFeeRate,
          s.minLever,
          s.maxLever,
          s.fundIntervalHours,
          s.status,
          finiteOrNull(s.maxMarketOrderQty),
          finiteOrNull(s.maxOrderQty),
          r === undefined ? null : JSON.stringify(r),
          updatedTs,
        );
      }
    });
    return specs.length;
  }

  /** Records the start of a run (status `running`); returns its id for writes and `endRun`. */
  beginRun(info: RunInfo): number {
    this.writable();
    let host = info.host;
    if (host === undefined) {
      try {
        host = Deno.hostname();
      } catch {
        host = "unknown";
      }
    }
    const r = this.db.prepare(
      `INSERT INTO runs (started_ts, ended_ts, command, args, version, host, status)
       VALUES (?, NULL, ?, ?, ?, ?, 'running')`,
    ).run(
      info.startedTs ?? Date.now(),
      info.command,
      JSON.stringify(info.args),
      info.version,
      host,
    );
    return Number(r.lastInsertRowid);
  }

  /** Marks run `id` ended with `status` at `endedTs` (epoch ms, default now). */
  endRun(id: number, status: RunStatus, endedTs: number = Date.now()): void {
    this.writable();
    const r = this.db.prepare("UPDATE runs SET ended_ts = ?, status = ? WHERE id = ?")
      .run(endedTs, status, id);
    if (r.changes === 0) throw new StoreError(`no run with id ${id}`, this.path);
  }

  /**
   * Records announced funding settlement times (REST funding-time, API.md §4.6); a time already
   * stored for the symbol is left as first seen. `ts` = when the exchange announced it (its
   * `requestTime`), never the local clock. Returns rows added.
   */
  recordFundingTimes(
    rows: readonly {
      symbol: string;
      nextFundingTime: number;
      intervalHours: number | null;
      ts: number;
    }[],
  ): number {
    this.writable();
    const stmt = this.db.prepare(
      `INSERT OR IGNORE INTO funding_times (symbol, next_funding_time, ts, interval_hours)
       VALUES (?, ?, ?, ?)`,
    );
    let added = 0;
    for (const r of rows) {
      if (!Number.isSafeInteger(r.nextFundingTime)) continue;
      added += Number(stmt.run(r.symbol, r.nextFundingTime, r.ts, r.intervalHours).changes);
    }
    return added;
  }

  /** Stores one gap outside a batch; returns its row id. */
  recordGap(gap: GapEvent, runId?: number): number {
    const { ins } = this.writable();
    const r = ins.gaps.run(...eventRow(gap, "ws", runId ?? null).params);
    return Number(r.lastInsertRowid);
  }

  /** Closes the connection (SQLite checkpoints the WAL when the last connection closes). */
  close(): void {
    if (this.db.isOpen) this.db.close();
  }
}
