/**
 * Reconciliation of the order journal with the exchange — at start, after every private
 * WebSocket reconnect, and on a timer. The exchange is the truth; the journal catches up:
 *
 *  1. the venue's REST snapshot is re-read (open orders, positions, balance, TP/SL plans);
 *  2. every order the journal holds as open (`sent`, `unknown`, `live`, `partially_filled`) is
 *     looked up: still open → its state is copied; closed → its final state and fills are
 *     recorded; unknown to the exchange → `not_placed` (a `sent`/`unknown` row after a crash:
 *     the request never got through, and it is NOT sent again — the decision it carried is old)
 *     or `cancelled` (a row the journal had seen live);
 *  3. orders whose recorded fills fall short of their filled size (a kill between the fill and
 *     its row) get their fills from REST; every fill is recorded once (trade id);
 *  4. open orders on the exchange carrying this database's clientOid tag but unknown to the
 *     journal are adopted (and their fills recorded);
 *  5. positions: expected = the journal's last snapshot + the fills after it
 *     (journal.expectedPositions); a leg on the exchange that differs is "unknown" and handled by
 *     `run.onUnknownPosition`: `refuse` (start: exit 2 with the list; later: no new entries),
 *     `adopt` (the exchange's legs become the journal's snapshot), `flatten` (a reduce-only
 *     market order closes the difference). When every leg agrees a `reconcile` snapshot is
 *     written. Skipped while orders are in flight (a fill could be on its way).
 * Paper mode: the simulated exchange starts empty, so journal rows left open by the previous
 * paper run are closed (`cancelled`, "paper session ended") and a flat snapshot is written.
 */
import type { Logger } from "../ops/log.ts";
import type { BitgetVenue } from "../venue/bitget_venue.ts";
import type { SimOrder, SimPosition } from "../venue/types.ts";
import type { PositionMode, Venue } from "../venue/venue.ts";
import type { OrderJournal, OrderRow, SnapshotLeg, TradingMode } from "./journal.ts";
import type { OrderManager } from "./oms.ts";

export interface ReconcileOptions {
  mode: TradingMode;
  venue: Venue;
  /** The Bitget venue (demo/live): REST snapshot and per-order fills. Null in paper mode. */
  bitget: BitgetVenue | null;
  journal: OrderJournal;
  oms: OrderManager;
  symbols: readonly string[];
  positionMode: PositionMode;
  onUnknownPosition: "adopt" | "flatten" | "refuse";
  /**
   * How long a signed request can still be accepted after it was signed (ms): Bitget's 30 s
   * timestamp window (API.md §6) plus a margin. A `sent` row the exchange does not know is only
   * written off once this has passed since it was written (config run.requestWindow).
   */
  requestWindowMs: number;
  /** `stop`: orders and fills only (the journal catches up before the daemon exits). */
  phase: "start" | "reconnect" | "periodic" | "stop";
  log: Logger;
}

export interface ReconcileReport {
  ordersChecked: number;
  resolved: number;
  notPlaced: number;
  adopted: number;
  fillsRecovered: number;
  /** One line per leg that disagrees ("BTCUSDT long: exchange 0.002, journal 0"). */
  unknownPositions: string[];
  /** What was done about them (none when every leg agreed). */
  action: "none" | "refused" | "adopted" | "flattened" | "skipped";
}

/** Thrown at start when `onUnknownPosition: refuse` meets an unknown position (exit 2). */
export class UnknownPositionError extends Error {
  override name = "UnknownPositionError";
  constructor(readonly lines: string[]) {
    super(
      `positions the database does not account for: ${lines.join("; ")} — ` +
        "set run.onUnknownPosition: adopt (trade them) or flatten (close them), or close them by hand",
    );
  }
}

const EPS = 1e-9;

function legsOfVenue(positions: SimPosition[], symbols: readonly string[]): SnapshotLeg[] {
  const legs: SnapshotLeg[] = [];
  for (const s of symbols) {
    const mine = positions.filter((p) => p.symbol === s && p.size > EPS);
    for (const p of mine) {
      legs.push({
        symbol: s,
        holdSide: p.holdSide,
        size: String(p.size),
        entryPrice: p.entryPrice,
        markPrice: p.markPrice,
        unrealizedPnl: p.unrealizedPnl,
        liquidationPrice: Number.isFinite(p.liquidationPrice) ? p.liquidationPrice : undefined,
        leverage: Number.isFinite(p.leverage) ? p.leverage : undefined,
        marginMode: p.marginMode,
      });
    }
    if (mine.length === 0) legs.push({ symbol: s, holdSide: "flat", size: "0" });
  }
  return legs;
}

/** Runs one reconciliation (see module doc). Throws UnknownPositionError at start (refuse). */
export async function reconcile(o: ReconcileOptions): Promise<ReconcileReport> {
  const r: ReconcileReport = {
    ordersChecked: 0,
    resolved: 0,
    notPlaced: 0,
    adopted: 0,
    fillsRecovered: 0,
    unknownPositions: [],
    action: "none",
  };
  const j = o.journal;
  if (o.mode === "paper") {
    for (const row of j.openOrders()) {
      j.update(row.clientOid, { state: "cancelled", cancelReason: "paper session ended" });
      r.ordersChecked++;
    }
    j.snapshot("reconcile", legsOfVenue(o.venue.positions(), o.symbols));
    return r;
  }
  const bv = o.bitget!;
  await bv.refresh();
  const before = j.fills().length;
  const open = new Map(o.venue.openOrders().map((x) => [x.clientOid, x]));
  // 2. open journal rows.
  const undecided: OrderRow[] = [];
  for (const row of j.openOrders()) {
    // An order this process is still placing or resolving belongs to the order manager.
    if (o.oms.isActive(row.clientOid)) continue;
    r.ordersChecked++;
    if (row.kind === "tpsl") {
      const live = o.venue.planOrders(row.symbol).some((p) => p.clientOid === row.clientOid);
      if (!live && row.state !== "live") {
        j.update(row.clientOid, { state: "not_placed" });
        r.notPlaced++;
      } else if (!live) j.update(row.clientOid, { state: "cancelled", cancelReason: "not live" });
      continue;
    }
    const ex = open.get(row.clientOid) ?? await o.venue.order(row.symbol, row.clientOid);
    if (!ex) {
      const never = row.state === "sent" || row.state === "unknown" || row.state === "new";
      // A request signed less than a request window ago may still arrive (a crashed process's
      // last request, delayed on the way): it is decided once the window has passed.
      if (never && Date.now() - row.createdTs < o.requestWindowMs) {
        undecided.push(row);
        continue;
      }
      j.update(row.clientOid, {
        state: never ? "not_placed" : "cancelled",
        cancelReason: never ? "not on the exchange" : "not found on the exchange",
      });
      if (never) r.notPlaced++;
      continue;
    }
    await applyFound(o, bv, r, row, ex);
  }
  if (undecided.length > 0 && o.phase === "start") {
    // At start the answer decides the positions: wait for the window, then ask again.
    const until = Math.max(...undecided.map((x) => x.createdTs)) + o.requestWindowMs;
    o.log.warn(
      "orders sent before the restart are not on the exchange yet: waiting out the request window",
      {
        orders: undecided.map((x) => x.clientOid).join(","),
        waitMs: Math.max(0, until - Date.now()),
      },
    );
    await new Promise((res) => setTimeout(res, Math.max(0, until - Date.now())));
    for (const row of undecided) {
      const ex = await o.venue.order(row.symbol, row.clientOid);
      if (ex) await applyFound(o, bv, r, row, ex);
      else {
        j.update(row.clientOid, { state: "not_placed", cancelReason: "not on the exchange" });
        r.notPlaced++;
      }
    }
    // What arrived meanwhile changed positions and balance: read them again.
    await bv.refresh();
  }
  // 3. fills short of the filled size.
  for (const row of shortOfFills(j)) {
    if (!row.venueOrderId) continue;
    await recordFills(o, bv, row.symbol, row.venueOrderId, row.clientOid);
  }
  // 4. adoption of our own orders the journal does not know.
  for (const ex of o.venue.openOrders()) {
    if (!j.isOurs(ex.clientOid) || j.get(ex.clientOid)) continue;
    o.oms.adopt(ex);
    r.adopted++;
    if (ex.filledSize > 0) await recordFills(o, bv, ex.symbol, ex.orderId, ex.clientOid);
  }
  r.fillsRecovered = j.fills().length - before;
  // 5. positions.
  if (o.phase === "stop") {
    logReport(o, r);
    return r;
  }
  if (o.oms.inFlight() > 0 || o.venue.openOrders().some((x) => x.orderType === "market")) {
    r.action = "skipped";
    return r;
  }
  const expected = j.expectedPositions(o.symbols, o.positionMode);
  const venuePos = o.venue.positions();
  for (const s of o.symbols) {
    const e = expected.get(s) ?? { long: 0, short: 0 };
    for (const side of ["long", "short"] as const) {
      const have = venuePos.filter((p) => p.symbol === s && p.holdSide === side)
        .reduce((t, p) => t + p.size, 0);
      if (Math.abs(have - e[side]) > EPS + 1e-9 * Math.max(have, e[side])) {
        r.unknownPositions.push(`${s} ${side}: exchange ${have}, journal ${e[side]}`);
      }
    }
  }
  if (r.unknownPositions.length === 0) {
    j.snapshot("reconcile", legsOfVenue(venuePos, o.symbols));
    logReport(o, r);
    return r;
  }
  if (o.onUnknownPosition === "refuse") {
    r.action = "refused";
    logReport(o, r);
    if (o.phase === "start") throw new UnknownPositionError(r.unknownPositions);
    return r;
  }
  if (o.onUnknownPosition === "adopt") {
    r.action = "adopted";
    j.snapshot("adopt", legsOfVenue(venuePos, o.symbols));
    logReport(o, r);
    return r;
  }
  r.action = "flattened";
  for (const s of o.symbols) {
    const e = expected.get(s) ?? { long: 0, short: 0 };
    for (const p of venuePos.filter((x) => x.symbol === s)) {
      const excess = p.size - e[p.holdSide];
      if (!(excess > EPS)) continue;
      const it = {
        symbol: s,
        side: (p.holdSide === "long" ? "sell" : "buy") as "buy" | "sell",
        size: excess,
        reduceOnly: true,
        reason: "unknown_position",
      };
      const res = o.oms.submit(it);
      if (res instanceof Promise) await res;
    }
  }
  logReport(o, r);
  return r;
}

/** An open journal row the exchange has: its state, then its fills. */
async function applyFound(
  o: ReconcileOptions,
  bv: BitgetVenue,
  r: ReconcileReport,
  row: OrderRow,
  ex: SimOrder,
): Promise<void> {
  r.resolved++;
  o.oms.onVenueEvent({ type: "order", ts: Date.now(), order: ex });
  if (ex.filledSize > 0) await recordFills(o, bv, row.symbol, ex.orderId, row.clientOid);
}

/**
 * The exchange's fills of one order into the journal. At start nothing listens to the venue yet,
 * so they are handed to the order manager here (a fill seen twice is recorded once: trade id).
 */
async function recordFills(
  o: ReconcileOptions,
  bv: BitgetVenue,
  symbol: string,
  orderId: string,
  clientOid: string,
): Promise<void> {
  for (const f of await bv.fillsOf(symbol, orderId, clientOid)) o.oms.onVenueEvent(f);
}

/** Orders of this mode whose recorded fills sum to less than their filled size. */
function shortOfFills(j: OrderJournal) {
  const rows = j.db.prepare(
    `SELECT o.client_oid AS oid FROM orders o
     LEFT JOIN (SELECT client_oid, SUM(CAST(size AS REAL)) AS got FROM fills GROUP BY client_oid) f
       ON f.client_oid = o.client_oid
     WHERE o.mode = ? AND o.kind = 'order' AND CAST(o.filled_size AS REAL) > 0
       AND COALESCE(f.got, 0) < CAST(o.filled_size AS REAL) - 1e-12`,
  ).all(j.mode) as { oid: string }[];
  return rows.map((x) => j.get(x.oid)!).filter(Boolean);
}

function logReport(o: ReconcileOptions, r: ReconcileReport): void {
  const fields = { phase: o.phase, ...r, unknownPositions: r.unknownPositions.join("; ") };
  if (r.unknownPositions.length > 0) o.log.error("reconciliation: unknown positions", fields);
  else o.log.info("reconciled", fields);
}
