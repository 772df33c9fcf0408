/**
 * The order journal: the `orders`, `fills`, `positions_snapshots` and `equity` tables of the
 * bitget-bot database (store/schema.ts V3), written by the order manager (oms.ts) on the main
 * thread through its own connection.
 *
 * The rule this module exists for: an order row is committed BEFORE its request is sent
 * (`insert`, autocommit in WAL mode), under a deterministic clientOid `bb<tag>-<run>-<seq>`
 * (API.md §5.3: `[0-9a-zA-Z-+_#]`, < 50 chars). `<tag>` is random per database (trading_meta
 * 'oid_tag'), so an order found on the exchange is recognised as this database's own (adoption)
 * and two daemons on one account never collide; `<run>` is the `runs` row of the process and
 * `<seq>` counts its orders. A process killed at any point leaves either no row (nothing was
 * sent) or a row the next start resolves by asking the exchange (reconcile.ts).
 *
 * Values are stored as the exchange's exact decimal strings where the venue supplies them, else
 * formatted with the contract's decimals.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";

export type TradingMode = "paper" | "demo" | "live";

/** Order states (see the schema). Open = may still change on the exchange. */
export type OrderState =
  | "new"
  | "sent"
  | "unknown"
  | "live"
  | "partially_filled"
  | "filled"
  | "cancelled"
  | "rejected"
  | "not_placed";

export const OPEN_STATES: readonly OrderState[] = [
  "new",
  "sent",
  "unknown",
  "live",
  "partially_filled",
];

/** One `orders` row. Sizes base coin, prices USDT, as decimal strings. */
export interface OrderRow {
  clientOid: string;
  mode: TradingMode;
  runId: number;
  seq: number;
  kind: "order" | "tpsl";
  symbol: string;
  side: string;
  tradeSide: string | null;
  orderType: string;
  size: string;
  price: string | null;
  reduceOnly: boolean;
  force: string | null;
  presetSl: string | null;
  presetTp: string | null;
  rangeRate: string | null;
  /** Plans: mark_price | fill_price. */
  triggerType: string | null;
  reason: string | null;
  state: OrderState;
  venueOrderId: string | null;
  filledSize: string;
  avgPrice: string | null;
  fee: string | null;
  rejectCode: string | null;
  rejectMsg: string | null;
  cancelReason: string | null;
  adopted: boolean;
  placeAttempts: number;
  engineTs: number | null;
  createdTs: number;
  updatedTs: number;
}

/** One `fills` row (exact strings; fee positive = paid). */
export interface FillRow {
  id?: number;
  tradeId: string;
  clientOid: string;
  venueOrderId: string | null;
  symbol: string;
  side: "buy" | "sell";
  price: string;
  size: string;
  fee: string;
  liquidity: "maker" | "taker" | null;
  realizedPnl: number | null;
  planType: string | null;
  ts: number;
  recvTs: number;
  source: "push" | "rest" | "sim";
}

/** One leg in a positions snapshot (`hold_side` flat with size "0" for a flat symbol). */
export interface SnapshotLeg {
  symbol: string;
  holdSide: "long" | "short" | "flat";
  size: string;
  entryPrice?: number;
  markPrice?: number;
  unrealizedPnl?: number;
  liquidationPrice?: number;
  leverage?: number;
  marginMode?: string;
}

export interface EquityRow {
  ts: number;
  engineTs: number | null;
  equity: number;
  balance: number;
  available: number;
  unrealizedPnl: number;
  grossNotional: number;
  drawdown: number;
}

const COLS: Record<keyof OrderRow, string> = {
  clientOid: "client_oid",
  mode: "mode",
  runId: "run_id",
  seq: "seq",
  kind: "kind",
  symbol: "symbol",
  side: "side",
  tradeSide: "trade_side",
  orderType: "order_type",
  size: "size",
  price: "price",
  reduceOnly: "reduce_only",
  force: "force",
  presetSl: "preset_sl",
  presetTp: "preset_tp",
  rangeRate: "range_rate",
  triggerType: "trigger_type",
  reason: "reason",
  state: "state",
  venueOrderId: "venue_order_id",
  filledSize: "filled_size",
  avgPrice: "avg_price",
  fee: "fee",
  rejectCode: "reject_code",
  rejectMsg: "reject_msg",
  cancelReason: "cancel_reason",
  adopted: "adopted",
  placeAttempts: "place_attempts",
  engineTs: "engine_ts",
  createdTs: "created_ts",
  updatedTs: "updated_ts",
};
const KEYS = Object.keys(COLS) as (keyof OrderRow)[];

type SqlValue = string | number | null;

function toSql(k: keyof OrderRow, v: unknown): SqlValue {
  if (k === "reduceOnly" || k === "adopted") return v ? 1 : 0;
  return (v ?? null) as SqlValue;
}

function fromSql(r: Record<string, unknown>): OrderRow {
  const o = {} as Record<string, unknown>;
  for (const k of KEYS) {
    const v = r[COLS[k]];
    o[k] = k === "reduceOnly" || k === "adopted" ? v === 1 : v;
  }
  return o as unknown as OrderRow;
}

/** Random base-36 tag of `n` characters (crypto RNG). */
function randomTag(n: number): string {
  const b = crypto.getRandomValues(new Uint8Array(n));
  return [...b].map((x) => (x % 36).toString(36)).join("");
}

/** Returns this database's clientOid tag, creating it on first use (6 base-36 chars). */
export function oidTag(db: DatabaseSync): string {
  const row = db.prepare("SELECT value FROM trading_meta WHERE key = 'oid_tag'").get() as
    | { value: string }
    | undefined;
  if (row) return row.value;
  const tag = randomTag(6);
  db.prepare("INSERT OR IGNORE INTO trading_meta (key, value) VALUES ('oid_tag', ?)").run(tag);
  return (db.prepare("SELECT value FROM trading_meta WHERE key = 'oid_tag'").get() as {
    value: string;
  }).value;
}

export class OrderJournal {
  /** clientOid prefix of every order of this database: `bb<tag>-`. */
  readonly prefix: string;
  private seq: number;
  private readonly ins: StatementSync;
  private readonly byOid: StatementSync;
  private readonly insFill: StatementSync;
  private readonly cache = new Map<string, OrderRow>();
  /** UPDATE statements by the column list they set. */
  private readonly updates = new Map<string, StatementSync>();

  /**
   * @param db a writable connection to a migrated bitget-bot database (Store.open)
   * @param mode the account this daemon trades (paper, demo, live are separate books)
   * @param runId the `runs` row of this process
   */
  constructor(readonly db: DatabaseSync, readonly mode: TradingMode, readonly runId: number) {
    this.prefix = `bb${oidTag(db)}-`;
    const last = db.prepare("SELECT MAX(seq) AS s FROM orders WHERE mode = ? AND run_id = ?")
      .get(mode, runId) as { s: number | null };
    this.seq = last.s ?? 0;
    this.ins = db.prepare(
      `INSERT INTO orders (${KEYS.map((k) => COLS[k]).join(", ")}) VALUES (${
        KEYS.map(() => "?").join(", ")
      })`,
    );
    this.byOid = db.prepare("SELECT * FROM orders WHERE client_oid = ?");
    this.insFill = db.prepare(
      `INSERT OR IGNORE INTO fills (trade_id, mode, client_oid, venue_order_id, symbol, side, price,
         size, fee, liquidity, realized_pnl, plan_type, ts, recv_ts, source)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  /** The next deterministic clientOid of this run (not yet written). */
  nextClientOid(): { clientOid: string; seq: number } {
    const seq = ++this.seq;
    return { clientOid: `${this.prefix}${this.runId}-${seq}`, seq };
  }

  /** True when `clientOid` carries this database's tag. */
  isOurs(clientOid: string): boolean {
    return clientOid.startsWith(this.prefix);
  }

  /** Writes a new order row (committed on return: autocommit). Throws on a duplicate clientOid. */
  insert(row: OrderRow): void {
    this.ins.run(...KEYS.map((k) => toSql(k, row[k])));
    this.cache.set(row.clientOid, { ...row });
  }

  get(clientOid: string): OrderRow | undefined {
    const c = this.cache.get(clientOid);
    if (c) return c;
    const r = this.byOid.get(clientOid) as Record<string, unknown> | undefined;
    if (!r) return undefined;
    const row = fromSql(r);
    this.cache.set(clientOid, row);
    return row;
  }

  /** Updates fields of an order row (and `updated_ts`); no-op for an unknown clientOid. */
  update(clientOid: string, patch: Partial<OrderRow>, now = Date.now()): void {
    const row = this.get(clientOid);
    if (!row) return;
    const keys = (Object.keys(patch) as (keyof OrderRow)[]).filter((k) => k !== "clientOid");
    if (keys.length === 0) return;
    Object.assign(row, patch, { updatedTs: now });
    const sets = [...keys.map((k) => `${COLS[k]} = ?`), "updated_ts = ?"].join(", ");
    let st = this.updates.get(sets);
    if (!st) {
      this.updates.set(
        sets,
        st = this.db.prepare(`UPDATE orders SET ${sets} WHERE client_oid = ?`),
      );
    }
    st.run(...keys.map((k) => toSql(k, patch[k])), now, clientOid);
  }

  /** Orders of this mode that may still change on the exchange (all runs of this database). */
  openOrders(): OrderRow[] {
    const q = OPEN_STATES.map(() => "?").join(", ");
    const rows = this.db.prepare(
      `SELECT * FROM orders WHERE mode = ? AND state IN (${q}) ORDER BY created_ts, seq`,
    ).all(this.mode, ...OPEN_STATES) as Record<string, unknown>[];
    return rows.map((r) => {
      const row = fromSql(r);
      this.cache.set(row.clientOid, row);
      return this.cache.get(row.clientOid)!;
    });
  }

  /** Every order row of this mode (tests, reports), oldest first. */
  allOrders(): OrderRow[] {
    return (this.db.prepare("SELECT * FROM orders WHERE mode = ? ORDER BY created_ts, run_id, seq")
      .all(this.mode) as Record<string, unknown>[]).map(fromSql);
  }

  /** Records a fill once (trade id unique); true when it was new. */
  insertFill(f: FillRow): boolean {
    const r = this.insFill.run(
      f.tradeId,
      this.mode,
      f.clientOid,
      f.venueOrderId,
      f.symbol,
      f.side,
      f.price,
      f.size,
      f.fee,
      f.liquidity,
      f.realizedPnl,
      f.planType,
      f.ts,
      f.recvTs,
      f.source,
    );
    return Number(r.changes) > 0;
  }

  hasFill(tradeId: string): boolean {
    return this.db.prepare("SELECT 1 FROM fills WHERE trade_id = ?").get(tradeId) !== undefined;
  }

  /** Fills of this mode, in the order they were recorded. */
  fills(): FillRow[] {
    return (this.db.prepare(
      `SELECT id, trade_id, client_oid, venue_order_id, symbol, side, price, size, fee, liquidity,
              realized_pnl, plan_type, ts, recv_ts, source FROM fills WHERE mode = ? ORDER BY id`,
    ).all(this.mode) as Record<string, unknown>[]).map((r) => ({
      id: r.id as number,
      tradeId: r.trade_id as string,
      clientOid: r.client_oid as string,
      venueOrderId: r.venue_order_id as string | null,
      symbol: r.symbol as string,
      side: r.side as "buy" | "sell",
      price: r.price as string,
      size: r.size as string,
      fee: r.fee as string,
      liquidity: r.liquidity as "maker" | "taker" | null,
      realizedPnl: r.realized_pnl as number | null,
      planType: r.plan_type as string | null,
      ts: r.ts as number,
      recvTs: r.recv_ts as number,
      source: r.source as "push" | "rest" | "sim",
    }));
  }

  /** Writes one positions snapshot (one transaction); returns its `snap` number. */
  snapshot(reason: string, legs: readonly SnapshotLeg[], now = Date.now()): number {
    const snap = ((this.db.prepare("SELECT MAX(snap) AS s FROM positions_snapshots").get() as {
      s: number | null;
    }).s ?? 0) + 1;
    const through = (this.db.prepare("SELECT MAX(id) AS m FROM fills WHERE mode = ?").get(
      this.mode,
    ) as { m: number | null }).m ?? 0;
    const st = this.db.prepare(
      `INSERT INTO positions_snapshots (snap, mode, run_id, ts, reason, fills_through, symbol,
         hold_side, size, entry_price, mark_price, unrealized_pnl, liquidation_price, leverage,
         margin_mode) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.exec("BEGIN IMMEDIATE");
    try {
      for (const l of legs) {
        st.run(
          snap,
          this.mode,
          this.runId,
          now,
          reason,
          through,
          l.symbol,
          l.holdSide,
          l.size,
          l.entryPrice ?? null,
          l.markPrice ?? null,
          l.unrealizedPnl ?? null,
          l.liquidationPrice ?? null,
          l.leverage ?? null,
          l.marginMode ?? null,
        );
      }
      this.db.exec("COMMIT");
    } catch (e) {
      this.db.exec("ROLLBACK");
      throw e;
    }
    return snap;
  }

  /**
   * Position per symbol and leg this database accounts for: the symbol's legs in its last
   * snapshot plus the fills recorded after that snapshot (fills.id > fills_through). One-way
   * mode nets every fill into one signed size (long > 0); hedge mode adds `open` fills to and
   * subtracts `close` fills from the leg named by the order's side. Base coin, numbers.
   */
  expectedPositions(
    symbols: readonly string[],
    positionMode: "one_way" | "hedge",
  ): Map<string, { long: number; short: number }> {
    const out = new Map<string, { long: number; short: number }>();
    for (const s of symbols) {
      const last = this.db.prepare(
        `SELECT snap, fills_through FROM positions_snapshots WHERE mode = ? AND symbol = ?
         ORDER BY snap DESC LIMIT 1`,
      ).get(this.mode, s) as { snap: number; fills_through: number } | undefined;
      const legs = { long: 0, short: 0 };
      let through = 0;
      if (last) {
        through = last.fills_through;
        const rows = this.db.prepare(
          "SELECT hold_side, size FROM positions_snapshots WHERE snap = ? AND symbol = ?",
        ).all(last.snap, s) as { hold_side: string; size: string }[];
        for (const r of rows) {
          if (r.hold_side === "long") legs.long += Number(r.size);
          if (r.hold_side === "short") legs.short += Number(r.size);
        }
      }
      const fills = this.db.prepare(
        `SELECT f.side AS dir, f.size AS size, o.side AS oside, o.trade_side AS ts
         FROM fills f LEFT JOIN orders o ON o.client_oid = f.client_oid
         WHERE f.mode = ? AND f.symbol = ? AND f.id > ? ORDER BY f.id`,
      ).all(this.mode, s, through) as {
        dir: string;
        size: string;
        oside: string | null;
        ts: string | null;
      }[];
      let net = legs.long - legs.short;
      for (const f of fills) {
        const q = Number(f.size);
        if (positionMode === "hedge") {
          // Hedge: the order's side names the leg (buy = long) and tradeSide says open or close
          // (API.md §5.3). A fill of an order not in the table (a triggered plan's) is a close:
          // a sell closes the long leg, a buy the short one.
          if (f.oside === null) legs[f.dir === "sell" ? "long" : "short"] -= q;
          else legs[f.oside === "sell" ? "short" : "long"] += f.ts === "close" ? -q : q;
        } else net += f.dir === "buy" ? q : -q;
      }
      if (positionMode === "one_way") {
        legs.long = net > 0 ? net : 0;
        legs.short = net < 0 ? -net : 0;
      }
      out.set(s, legs);
    }
    return out;
  }

  /**
   * Stores one model lifecycle event (strategy/lifecycle.ts): `ts` engine time (ms), `type`,
   * `version` of the model it concerns, the event as JSON.
   */
  recordModelEvent(e: { ts: number; type: string; version?: string | null }): void {
    this.db.prepare(
      `INSERT INTO model_events (mode, run_id, ts, recv_ts, type, version, detail)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      this.mode,
      this.runId,
      Math.round(e.ts),
      Date.now(),
      e.type,
      e.version ?? null,
      JSON.stringify(e),
    );
  }

  recordEquity(e: EquityRow): void {
    this.db.prepare(
      `INSERT INTO equity (mode, run_id, ts, engine_ts, equity, balance, available,
         unrealized_pnl, gross_notional, drawdown) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      this.mode,
      this.runId,
      e.ts,
      e.engineTs,
      e.equity,
      e.balance,
      e.available,
      e.unrealizedPnl,
      e.grossNotional,
      e.drawdown,
    );
  }
}
