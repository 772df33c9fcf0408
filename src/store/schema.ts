/**
 * SQLite schema of the bitget-bot database and its forward migrations.
 *
 * Identity: `PRAGMA application_id` = {@link APPLICATION_ID} marks a file as ours; `PRAGMA
 * user_version` is the number of migrations applied. A file with another application id (or a
 * SQLite file with tables but id 0, or not SQLite at all) is refused before anything is written.
 *
 * Conventions (ARCHITECTURE.md "Storage"):
 * - time: `ts`, `*_ts` INTEGER epoch milliseconds UTC (exchange time unless named `recv_ts`);
 *   `recv_ts` REAL epoch ms (local receive time, sub-ms resolution);
 * - book levels: TEXT holding JSON `[[price, size], …]` with the exchange's exact decimal strings,
 *   best level first (needed to re-verify Bitget's CRC32 checksum, API.md §2.1–2.2);
 * - every other price/size/rate: REAL (they feed arithmetic); prices USDT, sizes base coin,
 *   rates as ratios (0.0001 = 1 bp); NULL where the exchange sent nothing usable.
 * All tables are STRICT so a wrong type is an error, not silent coercion.
 */
import type { DatabaseSync } from "node:sqlite";
import { StoreError } from "./errors.ts";

/** `PRAGMA application_id` of a bitget-bot database: ASCII "BGBT" as a big-endian int32. */
export const APPLICATION_ID = 0x42474254;

/** One forward migration: `sql` moves the schema from `version - 1` to `version`. */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

const V1 = `
-- Full-depth order-book frames (channel "books"), one row per frame as received.
-- id = insertion order, used to replay frames with equal ts in arrival order.
CREATE TABLE books (
  id        INTEGER PRIMARY KEY,
  symbol    TEXT    NOT NULL,
  ts        INTEGER NOT NULL,          -- exchange time, epoch ms
  recv_ts   REAL    NOT NULL,          -- local receive time, epoch ms
  action    TEXT    NOT NULL CHECK (action IN ('snapshot', 'update')),
  seq       INTEGER,                   -- exchange sequence number, NULL if not sent
  checksum  INTEGER,                   -- exchange CRC32 as signed int32, NULL if not sent
  bids      TEXT    NOT NULL,          -- JSON [[price,size],...] exact exchange strings, best first
  asks      TEXT    NOT NULL           -- same; in an update size "0" deletes the level
) STRICT;
CREATE INDEX books_symbol_ts ON books (symbol, ts);

-- Top-15 snapshots (channel "books15"), one row per frame; levels as in books.
CREATE TABLE books15 (
  id        INTEGER PRIMARY KEY,
  symbol    TEXT    NOT NULL,
  ts        INTEGER NOT NULL,
  recv_ts   REAL    NOT NULL,
  seq       INTEGER,
  checksum  INTEGER,
  bids      TEXT    NOT NULL,
  asks      TEXT    NOT NULL
) STRICT;
CREATE INDEX books15_symbol_ts ON books15 (symbol, ts);

-- Public trades. A trade re-sent after a reconnect hits the primary key and is ignored.
CREATE TABLE trades (
  symbol    TEXT    NOT NULL,
  trade_id  TEXT    NOT NULL,          -- exchange trade id (decimal string)
  ts        INTEGER NOT NULL,
  recv_ts   REAL    NOT NULL,
  price     REAL    NOT NULL,          -- USDT
  size      REAL    NOT NULL,          -- base coin
  side      TEXT    NOT NULL CHECK (side IN ('buy', 'sell')),  -- taker side
  PRIMARY KEY (symbol, trade_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX trades_symbol_ts ON trades (symbol, ts);

-- Every ticker push. Prices USDT, sizes/volumes base coin except quote_volume_24h (USDT).
CREATE TABLE tickers (
  id                INTEGER PRIMARY KEY,
  symbol            TEXT    NOT NULL,
  ts                INTEGER NOT NULL,
  recv_ts           REAL    NOT NULL,
  last              REAL,
  bid               REAL,
  ask               REAL,
  bid_size          REAL,
  ask_size          REAL,
  mark_price        REAL,
  index_price       REAL,
  funding_rate      REAL,              -- ratio per funding interval
  next_funding_time INTEGER,           -- epoch ms
  open_interest     REAL,              -- base coin
  open_24h          REAL,
  high_24h          REAL,
  low_24h           REAL,
  base_volume_24h   REAL,
  quote_volume_24h  REAL
) STRICT;
CREATE INDEX tickers_symbol_ts ON tickers (symbol, ts);

-- Exchange-provided bars; the last write of a bar wins. updated_ts = recv time of that write.
CREATE TABLE candles (
  symbol       TEXT    NOT NULL,
  interval     TEXT    NOT NULL,       -- "1m", "15m", ...
  start_ts     INTEGER NOT NULL,       -- bar open time, epoch ms
  open         REAL    NOT NULL,
  high         REAL    NOT NULL,
  low          REAL    NOT NULL,
  close        REAL    NOT NULL,
  volume       REAL    NOT NULL,       -- base coin
  quote_volume REAL,                   -- USDT, NULL when unknown
  updated_ts   REAL    NOT NULL,
  source       TEXT    NOT NULL CHECK (source IN ('ws', 'rest', 'import')),
  PRIMARY KEY (symbol, interval, start_ts)
) STRICT, WITHOUT ROWID;

-- REST symbol-price samples (API.md §4.3).
CREATE TABLE mark_prices (
  symbol      TEXT    NOT NULL,
  ts          INTEGER NOT NULL,
  recv_ts     REAL    NOT NULL,
  mark_price  REAL,
  index_price REAL,
  last        REAL,
  PRIMARY KEY (symbol, ts)
) STRICT, WITHOUT ROWID;

-- Funding rates: 'current' = live estimate observed at ts, 'settled' = settlement at ts.
CREATE TABLE funding_rates (
  symbol            TEXT    NOT NULL,
  ts                INTEGER NOT NULL,
  type              TEXT    NOT NULL CHECK (type IN ('current', 'settled')),
  recv_ts           REAL    NOT NULL,
  funding_rate      REAL    NOT NULL,  -- ratio per funding interval
  next_funding_time INTEGER,
  interval_hours    REAL,
  PRIMARY KEY (symbol, ts, type)
) STRICT, WITHOUT ROWID;

-- REST open-interest samples (API.md §4.4), base coin.
CREATE TABLE open_interest (
  symbol        TEXT    NOT NULL,
  ts            INTEGER NOT NULL,
  recv_ts       REAL    NOT NULL,
  open_interest REAL    NOT NULL,
  PRIMARY KEY (symbol, ts)
) STRICT, WITHOUT ROWID;

-- Contract specifications (API.md §4.1); raw = the exchange's JSON entry verbatim.
-- max_*_qty NULL = no limit sent.
CREATE TABLE contracts (
  symbol               TEXT PRIMARY KEY,
  base_coin            TEXT    NOT NULL,
  quote_coin           TEXT    NOT NULL,
  price_place          INTEGER NOT NULL,
  price_end_step       REAL    NOT NULL,
  tick_size            REAL    NOT NULL,  -- USDT
  volume_place         INTEGER NOT NULL,
  lot_size             REAL    NOT NULL,  -- base coin
  min_trade_num        REAL    NOT NULL,  -- base coin
  min_trade_usdt       REAL    NOT NULL,  -- USDT notional
  maker_fee_rate       REAL    NOT NULL,  -- ratio
  taker_fee_rate       REAL    NOT NULL,
  min_lever            REAL    NOT NULL,
  max_lever            REAL    NOT NULL,
  fund_interval_hours  REAL    NOT NULL,
  status               TEXT    NOT NULL,
  max_market_order_qty REAL,
  max_order_qty        REAL,
  raw                  TEXT,
  updated_ts           INTEGER NOT NULL
) STRICT;

-- Periods the collector knows it missed: start_ts = last good data, end_ts = first good after.
CREATE TABLE gaps (
  id       INTEGER PRIMARY KEY,
  symbol   TEXT    NOT NULL,
  channel  TEXT    NOT NULL,
  ts       INTEGER NOT NULL,             -- when the gap was detected (exchange clock)
  start_ts INTEGER NOT NULL,
  end_ts   INTEGER NOT NULL,
  reason   TEXT    NOT NULL,             -- disconnect | sequence | checksum | stale | ...
  detail   TEXT    NOT NULL DEFAULT '',
  run_id   INTEGER
) STRICT;
CREATE INDEX gaps_symbol_start ON gaps (symbol, start_ts);

-- What wrote this file. status: running | ok | error | interrupted.
CREATE TABLE runs (
  id         INTEGER PRIMARY KEY,
  started_ts INTEGER NOT NULL,
  ended_ts   INTEGER,
  command    TEXT    NOT NULL,
  args       TEXT    NOT NULL,           -- JSON array of the command-line arguments
  version    TEXT    NOT NULL,
  host       TEXT    NOT NULL,
  status     TEXT    NOT NULL
) STRICT;

-- Frames received per (run, symbol, channel), committed in the same transaction as their rows.
-- run_id 0 = written outside a run.
CREATE TABLE ingest_counts (
  run_id  INTEGER NOT NULL,
  symbol  TEXT    NOT NULL,
  channel TEXT    NOT NULL,
  frames  INTEGER NOT NULL,
  PRIMARY KEY (run_id, symbol, channel)
) STRICT, WITHOUT ROWID;

-- Aggregates per (symbol, bucket_ts = floor(exchange ts / interval) * interval), built
-- incrementally (see aggregates.ts). Trade columns: volumes base coin, quote_volume USDT
-- (sum of price*size), vwap = quote_volume / volume; open/close = trade with the smallest/largest
-- (ts, trade id); first_*/last_* keep those keys so separate batches merge exactly.
CREATE TABLE agg_1s (
  symbol        TEXT    NOT NULL,
  bucket_ts     INTEGER NOT NULL,
  trade_count   INTEGER NOT NULL DEFAULT 0,
  volume        REAL    NOT NULL DEFAULT 0,
  buy_volume    REAL    NOT NULL DEFAULT 0,
  sell_volume   REAL    NOT NULL DEFAULT 0,
  quote_volume  REAL    NOT NULL DEFAULT 0,
  vwap          REAL,
  open          REAL,
  high          REAL,
  low           REAL,
  close         REAL,
  first_ts      INTEGER,
  first_id      TEXT,
  last_ts       INTEGER,
  last_id       TEXT,
  -- Book metrics of the last book event of the second (BookTop, events.ts): prices USDT,
  -- sizes/depth base coin, spread bps of mid, imbalance in [-1, 1]. book_src = channel used
  -- ('books' preferred over 'books15'); book_ts/book_seq = that event's ts and seq.
  book_src      TEXT CHECK (book_src IN ('books', 'books15')),
  book_ts       INTEGER,
  book_seq      INTEGER,
  best_bid      REAL,
  best_ask      REAL,
  best_bid_size REAL,
  best_ask_size REAL,
  mid           REAL,
  spread_bps    REAL,
  imbalance1    REAL,
  imbalance5    REAL,
  imbalance15   REAL,
  depth5bps     REAL,
  depth10bps    REAL,
  PRIMARY KEY (symbol, bucket_ts)
) STRICT, WITHOUT ROWID;

-- 1 m and 15 m: trade columns as agg_1s plus the last mark/index price (mark_ts), funding rate
-- (funding_ts) and open interest (oi_ts, base coin) seen in the bucket, "last" by event ts.
CREATE TABLE agg_1m (
  symbol        TEXT    NOT NULL,
  bucket_ts     INTEGER NOT NULL,
  trade_count   INTEGER NOT NULL DEFAULT 0,
  volume        REAL    NOT NULL DEFAULT 0,
  buy_volume    REAL    NOT NULL DEFAULT 0,
  sell_volume   REAL    NOT NULL DEFAULT 0,
  quote_volume  REAL    NOT NULL DEFAULT 0,
  vwap          REAL,
  open          REAL,
  high          REAL,
  low           REAL,
  close         REAL,
  first_ts      INTEGER,
  first_id      TEXT,
  last_ts       INTEGER,
  last_id       TEXT,
  mark_price    REAL,
  index_price   REAL,
  mark_ts       INTEGER,
  funding_rate  REAL,
  funding_ts    INTEGER,
  open_interest REAL,
  oi_ts         INTEGER,
  PRIMARY KEY (symbol, bucket_ts)
) STRICT, WITHOUT ROWID;
CREATE TABLE agg_15m (
  symbol        TEXT    NOT NULL,
  bucket_ts     INTEGER NOT NULL,
  trade_count   INTEGER NOT NULL DEFAULT 0,
  volume        REAL    NOT NULL DEFAULT 0,
  buy_volume    REAL    NOT NULL DEFAULT 0,
  sell_volume   REAL    NOT NULL DEFAULT 0,
  quote_volume  REAL    NOT NULL DEFAULT 0,
  vwap          REAL,
  open          REAL,
  high          REAL,
  low           REAL,
  close         REAL,
  first_ts      INTEGER,
  first_id      TEXT,
  last_ts       INTEGER,
  last_id       TEXT,
  mark_price    REAL,
  index_price   REAL,
  mark_ts       INTEGER,
  funding_rate  REAL,
  funding_ts    INTEGER,
  open_interest REAL,
  oi_ts         INTEGER,
  PRIMARY KEY (symbol, bucket_ts)
) STRICT, WITHOUT ROWID;
`;

// A frame re-sent after a reconnect (a ticker snapshot repeating the last push's ts, a books delta
// with a seq already stored) is the same observation: unique keys make the insert a no-op.
// books15 gets no such key: it is a periodic sample, and pushes 150 ms apart of an unchanged book
// carry the same data ts and seq yet are distinct frames. Older files may hold repeats; keep the
// first copy.
const V2 = `
DELETE FROM tickers WHERE id NOT IN (SELECT MIN(id) FROM tickers GROUP BY symbol, ts);
CREATE UNIQUE INDEX tickers_symbol_ts_unique ON tickers (symbol, ts);
DELETE FROM books WHERE seq IS NOT NULL
  AND id NOT IN (SELECT MIN(id) FROM books WHERE seq IS NOT NULL GROUP BY symbol, seq, action);
CREATE UNIQUE INDEX books_symbol_seq_action_unique ON books (symbol, seq, action)
  WHERE seq IS NOT NULL;

-- Funding settlement schedule from REST funding-time (API.md §4.6): one row per announced
-- settlement time; ts = when it was first seen (local epoch ms).
CREATE TABLE funding_times (
  symbol            TEXT    NOT NULL,
  next_funding_time INTEGER NOT NULL,
  ts                INTEGER NOT NULL,
  interval_hours    REAL,
  PRIMARY KEY (symbol, next_funding_time)
) STRICT, WITHOUT ROWID;
`;

// Trading (bitget-bot run, oms/): what the daemon ordered, what filled, the positions it knew and
// its equity. Exchange values are kept as the exchange's exact decimal strings (TEXT) where the
// exchange sent them (Bitget venue); the simulated venue's values are written with the contract's
// price / size decimals. Wall times (`*_ts` written locally) are epoch ms; `engine_ts` and fill
// `ts` are exchange time. `mode` separates paper, demo and live: each is its own account.
const V3 = `
-- key/value facts of this database's trading identity: 'oid_tag' = the random tag in every
-- clientOid this database's daemon sends (bb<tag>-<run>-<seq>), so orders it finds on the
-- exchange are recognised as its own.
CREATE TABLE trading_meta (
  key   TEXT NOT NULL PRIMARY KEY,
  value TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- One row per order or plan, inserted (committed) BEFORE the request is sent.
-- state: new (written, not yet sent) | sent (request on the wire) | unknown (no answer: being
-- resolved by asking the exchange) | live | partially_filled | filled | cancelled | rejected |
-- not_placed (the exchange never had it; never sent again after a restart).
CREATE TABLE orders (
  client_oid     TEXT    NOT NULL PRIMARY KEY,
  mode           TEXT    NOT NULL CHECK (mode IN ('paper', 'demo', 'live')),
  run_id         INTEGER NOT NULL,
  seq            INTEGER NOT NULL,          -- per-run sequence (clientOid suffix)
  kind           TEXT    NOT NULL CHECK (kind IN ('order', 'tpsl')),
  symbol         TEXT    NOT NULL,
  side           TEXT    NOT NULL,          -- order: buy|sell; tpsl: holdSide long|short
  trade_side     TEXT,                      -- hedge mode: open|close
  order_type     TEXT    NOT NULL,          -- market|limit; tpsl: pos_loss|pos_profit|moving_plan
  size           TEXT    NOT NULL,          -- base coin as sent ('' = whole position, plans)
  price          TEXT,                      -- limit price or plan trigger price as sent (USDT)
  reduce_only    INTEGER NOT NULL DEFAULT 0,
  force          TEXT,
  preset_sl      TEXT,
  preset_tp      TEXT,
  range_rate     TEXT,                      -- moving_plan callback ratio
  trigger_type   TEXT,                      -- plans: mark_price | fill_price
  reason         TEXT,
  state          TEXT    NOT NULL CHECK (state IN ('new', 'sent', 'unknown', 'live',
                   'partially_filled', 'filled', 'cancelled', 'rejected', 'not_placed')),
  venue_order_id TEXT,                      -- exchange orderId once known
  filled_size    TEXT    NOT NULL DEFAULT '0',
  avg_price      TEXT,
  fee            TEXT,                      -- USDT paid so far (positive = paid)
  reject_code    TEXT,
  reject_msg     TEXT,
  cancel_reason  TEXT,
  adopted        INTEGER NOT NULL DEFAULT 0,  -- found on the exchange with our tag, not written by us first
  place_attempts INTEGER NOT NULL DEFAULT 0,  -- place requests sent for this clientOid
  engine_ts      INTEGER,                   -- engine (exchange) time of the decision
  created_ts     INTEGER NOT NULL,
  updated_ts     INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX orders_run_seq ON orders (mode, run_id, seq);
CREATE INDEX orders_open ON orders (mode, state);

-- One row per execution; trade_id = the exchange's trade id (the simulated venue numbers its
-- fills sim-<orderId>-<n>). rowid orders fills as recorded (positions_snapshots.fills_through).
CREATE TABLE fills (
  id             INTEGER PRIMARY KEY,
  trade_id       TEXT    NOT NULL UNIQUE,
  mode           TEXT    NOT NULL CHECK (mode IN ('paper', 'demo', 'live')),
  client_oid     TEXT    NOT NULL,
  venue_order_id TEXT,
  symbol         TEXT    NOT NULL,
  side           TEXT    NOT NULL CHECK (side IN ('buy', 'sell')),  -- trade direction
  price          TEXT    NOT NULL,          -- USDT
  size           TEXT    NOT NULL,          -- base coin
  fee            TEXT    NOT NULL,          -- USDT, positive = paid
  liquidity      TEXT    CHECK (liquidity IN ('maker', 'taker')),
  realized_pnl   REAL,                      -- USDT realized by the closing part
  plan_type      TEXT,                      -- set when a triggered plan made the order
  ts             INTEGER NOT NULL,          -- exchange fill time
  recv_ts        REAL    NOT NULL,          -- local receive time
  source         TEXT    NOT NULL CHECK (source IN ('push', 'rest', 'sim'))
) STRICT;
CREATE INDEX fills_order ON fills (client_oid);
CREATE INDEX fills_mode_symbol ON fills (mode, symbol, id);

-- Positions as the daemon knew them: one snapshot (snap) = one row per traded symbol and leg
-- (a flat symbol has one row with hold_side 'flat' and size '0'). fills_through = the last
-- fills.id accounted for, so expected position = last snapshot + fills after it (reconcile.ts).
CREATE TABLE positions_snapshots (
  id                INTEGER PRIMARY KEY,
  snap              INTEGER NOT NULL,
  mode              TEXT    NOT NULL CHECK (mode IN ('paper', 'demo', 'live')),
  run_id            INTEGER NOT NULL,
  ts                INTEGER NOT NULL,       -- wall ms
  reason            TEXT    NOT NULL,       -- reconcile | adopt | flatten | status | stop
  fills_through     INTEGER NOT NULL,
  symbol            TEXT    NOT NULL,
  hold_side         TEXT    NOT NULL CHECK (hold_side IN ('long', 'short', 'flat')),
  size              TEXT    NOT NULL,       -- base coin
  entry_price       REAL,
  mark_price        REAL,
  unrealized_pnl    REAL,
  liquidation_price REAL,
  leverage          REAL,
  margin_mode       TEXT
) STRICT;
CREATE INDEX positions_snapshots_mode_symbol ON positions_snapshots (mode, symbol, snap);

-- Account equity over time (USDT), every log.statusInterval and at stop.
CREATE TABLE equity (
  id             INTEGER PRIMARY KEY,
  mode           TEXT    NOT NULL CHECK (mode IN ('paper', 'demo', 'live')),
  run_id         INTEGER NOT NULL,
  ts             INTEGER NOT NULL,          -- wall ms
  engine_ts      INTEGER,                   -- exchange time
  equity         REAL    NOT NULL,
  balance        REAL    NOT NULL,
  available      REAL    NOT NULL,
  unrealized_pnl REAL    NOT NULL,
  gross_notional REAL    NOT NULL,          -- Σ |size| × mark over open legs
  drawdown       REAL    NOT NULL           -- 1 − equity / peak equity of the run
) STRICT;
CREATE INDEX equity_mode_ts ON equity (mode, ts);
`;

/**
 * v4: the ml model's lifecycle as the daemon lived it (strategy/lifecycle.ts): drift and decay
 * alarms, retrains, shadows, promotions and rejections. `ts` = engine (exchange) time of the
 * event, `recv_ts` = wall clock when stored; `detail` = the whole event as JSON.
 */
const V4 = `
CREATE TABLE model_events (
  id       INTEGER PRIMARY KEY,
  mode     TEXT    NOT NULL CHECK (mode IN ('paper', 'demo', 'live')),
  run_id   INTEGER NOT NULL,
  ts       INTEGER NOT NULL,
  recv_ts  INTEGER NOT NULL,
  type     TEXT    NOT NULL,
  version  TEXT,
  detail   TEXT    NOT NULL
) STRICT;
CREATE INDEX model_events_run ON model_events (run_id, id);
`;

/** All migrations in order; `MIGRATIONS[i].version === i + 1`. Append, never edit. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, description: "raw tables, aggregates, gaps, runs, ingest counts", sql: V1 },
  { version: 2, description: "unique keys for re-sent frames; funding_times", sql: V2 },
  { version: 3, description: "trading: orders, fills, positions_snapshots, equity", sql: V3 },
  { version: 4, description: "model_events: the ml model's lifecycle", sql: V4 },
];

/** Schema version this program writes (= the last migration). */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/**
 * Oldest version a read-only open accepts: later migrations only added tables that readers of
 * market data (backtest, stats, train) do not read — v3's trading tables — so a database written
 * by an older collector can be backtested without migrating it first.
 */
export const READ_COMPATIBLE_FROM = 2;

/** Raw and aggregate tables with the column holding each row's time (used by stats/retention). */
export const TIME_COLUMN: Readonly<Record<string, string>> = {
  books: "ts",
  books15: "ts",
  trades: "ts",
  tickers: "ts",
  candles: "start_ts",
  mark_prices: "ts",
  funding_rates: "ts",
  open_interest: "ts",
  agg_1s: "bucket_ts",
  agg_1m: "bucket_ts",
  agg_15m: "bucket_ts",
};

function pragmaInt(db: DatabaseSync, name: string): number {
  const row = db.prepare(`PRAGMA ${name}`).get() as Record<string, unknown>;
  return Number(row[name]);
}

/** What a freshly opened file is, read without writing anything. */
export interface Identity {
  applicationId: number;
  userVersion: number;
  /** Number of objects in sqlite_schema (0 = empty file). */
  objects: number;
}

/**
 * Reads the identity pragmas. Throws StoreError when the file is not a SQLite database
 * ("file is not a database") — the only way SQLite reports it is on the first read.
 */
export function readIdentity(db: DatabaseSync, path: string): Identity {
  try {
    const objects = Number(
      (db.prepare("SELECT count(*) AS n FROM sqlite_schema").get() as { n: number }).n,
    );
    return {
      applicationId: pragmaInt(db, "application_id"),
      userVersion: pragmaInt(db, "user_version"),
      objects,
    };
  } catch (e) {
    throw new StoreError(
      `${path} is not a bitget-bot database: ${e instanceof Error ? e.message : e}`,
      path,
      { cause: e },
    );
  }
}

/**
 * Refuses files that are not ours or that this program cannot read. `empty` files (no schema,
 * application id 0) are accepted only when `allowEmpty` (a writable open that will migrate).
 * @throws StoreError naming the path and what was found.
 */
export function checkIdentity(id: Identity, path: string, allowEmpty: boolean): void {
  const empty = id.applicationId === 0 && id.userVersion === 0 && id.objects === 0;
  if (empty) {
    if (allowEmpty) return;
    throw new StoreError(`${path} is an empty database, not a bitget-bot database`, path);
  }
  if (id.applicationId !== APPLICATION_ID) {
    throw new StoreError(
      `${path} is not a bitget-bot database (SQLite application_id ${id.applicationId}, ` +
        `expected ${APPLICATION_ID})`,
      path,
    );
  }
  if (id.userVersion > SCHEMA_VERSION) {
    throw new StoreError(
      `${path} has schema version ${id.userVersion}, newer than this program's ` +
        `${SCHEMA_VERSION}; upgrade bitget-bot`,
      path,
    );
  }
}

/**
 * Applies the migrations after `fromVersion`, each in its own IMMEDIATE transaction that also
 * sets `user_version` (and `application_id` on the first), so a crash leaves a whole version.
 * Returns the number of migrations applied.
 */
export function migrate(db: DatabaseSync, fromVersion: number): number {
  let applied = 0;
  for (const m of MIGRATIONS) {
    if (m.version <= fromVersion) continue;
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(m.sql);
      if (m.version === 1) db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
      db.exec(`PRAGMA user_version = ${m.version}`);
      db.exec("COMMIT");
    } catch (e) {
      db.exec("ROLLBACK");
      throw e;
    }
    applied++;
  }
  return applied;
}
