/**
 * The order manager: turns the engine's intents into venue requests that are placed exactly once.
 *
 * Placement (`submit`):
 *  1. a deterministic clientOid is taken from the journal (`bb<tag>-<run>-<seq>`, journal.ts) and
 *     the order row is committed with state `sent` BEFORE the request leaves;
 *  2. the venue answers: an ack sets the exchange orderId (state `live` unless a push already
 *     moved it on); a refusal sets `rejected` with Bitget's code — except 40786 (duplicate
 *     clientOid), which means an earlier request with this clientOid got through: the order is
 *     looked up and treated as placed;
 *  3. no answer (timeout, reset: the venue throws OutcomeUnknownError) sets `unknown` and starts
 *     `resolve`: ask the exchange for the clientOid (REST detail), give the private WebSocket
 *     `pushWaitMs` to report it, ask again; only when the exchange has twice said it does not know
 *     the clientOid is the SAME request re-sent (a late original then makes the exchange answer
 *     40786, never a second order). After `maxResends` the row stays `unknown` for the next
 *     reconciliation, and nothing is sent again.
 * On the simulated venue every answer is synchronous and `submit` returns without a Promise, so a
 * paper run places orders at the same event as a backtest.
 *
 * Venue events (`onVenueEvent`) keep the journal current: order updates set state, filled size,
 * average price and fee; fills are recorded once per trade id (the simulated venue's fills are
 * numbered `sim-<orderId>-<n>`); orders carrying this database's clientOid tag that the journal
 * does not know are adopted.
 */
import type { Intent } from "../engine/contract.ts";
import { orderRequest, tpslRequest } from "../engine/contract.ts";
import { type ContractSpec, formatPrice, formatSize } from "../market/contracts.ts";
import type { Logger } from "../ops/log.ts";
import type { FillEvent, PlanEvent, Rejection, SimOrder, VenueEvent } from "../venue/types.ts";
import { isRejection, OutcomeUnknownError, type Venue } from "../venue/venue.ts";
import { OPEN_STATES, type OrderJournal, type OrderRow, type OrderState } from "./journal.ts";

/** Journal states after which an order changes no more. */
const FINAL_STATES: ReadonlySet<OrderState> = new Set([
  "filled",
  "cancelled",
  "rejected",
  "not_placed",
]);

/** Bitget's "duplicate clientOid" code (API.md §7 / issue): the order already exists. */
export const DUPLICATE_CLIENT_OID = "40786";

export interface ResolveSettings {
  /** Waits (ms) before each exchange query of an unknown outcome. */
  queryDelaysMs: number[];
  /** How long a push may take to report an order before the exchange is asked again (ms). */
  pushWaitMs: number;
  /** Re-sends of the same request once the exchange said twice it does not have it. */
  maxResends: number;
}

export const DEFAULT_RESOLVE: ResolveSettings = {
  queryDelaysMs: [0, 250, 500, 1000, 2000],
  pushWaitMs: 1500,
  maxResends: 2,
};

export interface OmsOptions {
  venue: Venue;
  journal: OrderJournal;
  contracts: ReadonlyMap<string, ContractSpec>;
  log: Logger;
  /** Engine (exchange) time of the current decision, ms. */
  engineTime: () => number;
  /**
   * The account's position mode. The engine thinks in one-way terms (one net position per
   * symbol); on a hedge account its intents are translated (see `submit`). Default one_way.
   */
  positionMode?: "one_way" | "hedge";
  /** Wall clock, ms (tests may pin it). */
  now?: () => number;
  resolve?: Partial<ResolveSettings>;
  /** Called right before a place request is handed to the venue (tick-to-order benchmark). */
  onSend?: (clientOid: string) => void;
  /** Called once per placement with its final outcome (accepted, rejected, …). */
  onOutcome?: (row: OrderRow) => void;
  /** Called once per new fill (a fill already journaled, e.g. re-read over REST, is not repeated). */
  onFill?: (fill: FillEvent) => void;
  /** Called once when an order of ours is seen cancelled, with the venue's reason (or `cancelled`). */
  onCancelled?: (row: OrderRow, reason: string) => void;
}

export interface OmsCounters {
  submitted: number;
  accepted: number;
  rejected: number;
  unknown: number;
  resolvedByQuery: number;
  resent: number;
  duplicatesAnswered: number;
  adopted: number;
  fills: number;
  /** Cancel requests sent (first sends and re-sends). */
  cancels: number;
  /** Cancels whose answer never came (timeout, reset): resolved by asking the exchange. */
  cancelsUnknown: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Journal state of a venue order status. */
export function stateOf(status: SimOrder["status"]): OrderState {
  return status === "pending" ? "live" : status;
}

export class OrderManager {
  readonly counters: OmsCounters = {
    submitted: 0,
    accepted: 0,
    rejected: 0,
    unknown: 0,
    resolvedByQuery: 0,
    resent: 0,
    duplicatesAnswered: 0,
    adopted: 0,
    fills: 0,
    cancels: 0,
    cancelsUnknown: 0,
  };
  private readonly resolveCfg: ResolveSettings;
  private readonly busy = new Set<Promise<void>>();
  /** clientOids whose placement or resolution is in progress in this process. */
  private readonly active = new Set<string>();
  /** Market orders not yet final, per symbol (clientOids): see `marketInFlight`. */
  private readonly markets = new Map<string, Set<string>>();
  private readonly fillSeq = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly o: OmsOptions) {
    this.resolveCfg = { ...DEFAULT_RESOLVE, ...o.resolve };
    this.now = o.now ?? Date.now;
  }

  get journal(): OrderJournal {
    return this.o.journal;
  }

  /**
   * Places one intent. Returns nothing on a synchronous venue, else a Promise that settles when
   * the placement is accepted, refused or handed to resolution (it never rejects).
   *
   * Hedge accounts (API.md §5.3: `side` names the position, `tradeSide` opens or closes it): a
   * reduce-only intent closes the leg it trades against (an exit `sell` closes the long leg:
   * side buy, tradeSide close); an entry first closes the opposite leg, as a one-way account
   * nets it, then opens the rest (the preset stop-loss / take-profit go with the opening order).
   */
  submit(it: Intent): void | Promise<void> {
    if (this.o.positionMode !== "hedge" || it.kind === "tpsl") return this.place(it, null);
    const closeLeg = (side: "buy" | "sell") => (side === "sell" ? "long" : "short");
    if (it.reduceOnly) {
      const leg = closeLeg(it.side);
      return this.place({ ...it, side: leg === "long" ? "buy" : "sell" }, "close");
    }
    const opp = closeLeg(it.side);
    const held = this.o.venue.positions().filter((p) =>
      p.symbol === it.symbol && p.holdSide === opp
    )
      .reduce((t, p) => t + p.size, 0);
    if (!(held > 0)) return this.place(it, "open");
    const spec = this.o.contracts.get(it.symbol);
    const closeSize = Math.min(held, it.size);
    const openSize = spec ? Number((it.size - closeSize).toFixed(spec.volumePlace)) : 0;
    const closing = this.place({
      ...it,
      side: opp === "long" ? "buy" : "sell",
      size: closeSize,
      reduceOnly: true,
      stopLossPrice: undefined,
      takeProfitPrice: undefined,
    }, "close");
    if (!(openSize > 0)) return closing;
    const opening = () => this.place({ ...it, size: openSize }, "open");
    if (closing instanceof Promise) return closing.then(opening);
    return opening();
  }

  /** Journals and sends one order (hedge: with its tradeSide) or plan. */
  private place(it: Intent, tradeSide: "open" | "close" | null): void | Promise<void> {
    const spec = this.o.contracts.get(it.symbol);
    if (!spec) {
      this.o.log.error("intent for a symbol without contract spec", { symbol: it.symbol });
      return;
    }
    const { clientOid, seq } = this.o.journal.nextClientOid();
    const now = this.now();
    const base: OrderRow = {
      clientOid,
      mode: this.o.journal.mode,
      runId: this.o.journal.runId,
      seq,
      kind: "order",
      symbol: it.symbol,
      side: "",
      tradeSide: null,
      orderType: "market",
      size: "",
      price: null,
      reduceOnly: false,
      force: null,
      presetSl: null,
      presetTp: null,
      rangeRate: null,
      triggerType: null,
      reason: null,
      state: "sent",
      venueOrderId: null,
      filledSize: "0",
      avgPrice: null,
      fee: null,
      rejectCode: null,
      rejectMsg: null,
      cancelReason: null,
      adopted: false,
      placeAttempts: 1,
      engineTs: this.o.engineTime(),
      createdTs: now,
      updatedTs: now,
    };
    this.counters.submitted++;
    if (it.kind === "tpsl") {
      const req = tpslRequest(it, clientOid);
      this.o.journal.insert({
        ...base,
        kind: "tpsl",
        side: it.holdSide,
        orderType: it.planType,
        size: req.size === undefined ? "" : formatSize(spec, req.size),
        price: it.triggerPrice === undefined ? null : formatPrice(spec, it.triggerPrice),
        reduceOnly: true,
        rangeRate: it.rangeRate === undefined ? null : String(it.rangeRate),
        triggerType: it.triggerType,
        reason: it.planType,
      });
      return this.settle(clientOid, () => this.o.venue.placeTpsl(req));
    }
    const req = orderRequest(it, clientOid);
    if (tradeSide !== null) {
      req.tradeSide = tradeSide;
      req.reduceOnly = undefined;
    }
    if (req.orderType === "market") {
      let set = this.markets.get(it.symbol);
      if (!set) this.markets.set(it.symbol, set = new Set());
      set.add(clientOid);
    }
    this.o.journal.insert({
      ...base,
      tradeSide,
      side: it.side,
      orderType: req.orderType,
      size: formatSize(spec, req.size),
      price: req.price === undefined ? null : formatPrice(spec, req.price),
      reduceOnly: req.reduceOnly === true || tradeSide === "close",
      force: req.force ?? null,
      presetSl: req.presetStopLossPrice === undefined
        ? null
        : formatPrice(spec, req.presetStopLossPrice),
      presetTp: req.presetStopSurplusPrice === undefined
        ? null
        : formatPrice(spec, req.presetStopSurplusPrice),
      reason: it.reason ?? null,
    });
    // Logged once the request is on its way: a log line is a synchronous write that would
    // otherwise sit between the journal row and the request (tick-to-order).
    const logSent = () =>
      this.o.log.info("order sent", {
        clientOid,
        symbol: it.symbol,
        side: req.side,
        tradeSide: req.tradeSide,
        size: req.size,
        type: req.orderType,
        reduceOnly: req.reduceOnly,
        reason: it.reason,
      });
    return this.settle(clientOid, () => this.o.venue.placeOrder(req), logSent);
  }

  /** Sends (via `send`) and books the answer; synchronous when the venue answers synchronously. */
  private settle(
    clientOid: string,
    send: () =>
      | { clientOid: string; orderId: string | null }
      | Rejection
      | Promise<
        { clientOid: string; orderId: string | null } | Rejection
      >,
    sent?: () => void,
  ): void | Promise<void> {
    let r;
    this.o.onSend?.(clientOid);
    try {
      r = send();
    } catch (e) {
      sent?.();
      return this.failed(clientOid, e);
    }
    sent?.();
    if (r instanceof Promise) {
      return this.track(
        r.then((x) => this.answered(clientOid, x), (e) => this.failed(clientOid, e)),
      );
    }
    return this.answered(clientOid, r);
  }

  private track(p: Promise<void>, clientOid?: string): Promise<void> {
    this.busy.add(p);
    if (clientOid) this.active.add(clientOid);
    p.finally(() => {
      this.busy.delete(p);
      if (clientOid) this.active.delete(clientOid);
    });
    return p;
  }

  /**
   * True while this process is placing or resolving `clientOid` (reconciliation leaves such a
   * row to the order manager: the exchange may simply not have answered yet).
   */
  isActive(clientOid: string): boolean {
    return this.active.has(clientOid);
  }

  private answered(
    clientOid: string,
    r: { clientOid: string; orderId: string | null } | Rejection,
  ): void | Promise<void> {
    const row = this.o.journal.get(clientOid)!;
    if (isRejection(r)) {
      if (r.code === DUPLICATE_CLIENT_OID) {
        // An earlier request with this clientOid reached the exchange: it is placed, not failed.
        this.counters.duplicatesAnswered++;
        this.o.log.warn("duplicate clientOid answered: the order already exists", { clientOid });
        return this.track(this.resolve(clientOid), clientOid);
      }
      this.counters.rejected++;
      this.o.journal.update(clientOid, {
        state: "rejected",
        rejectCode: r.code,
        rejectMsg: r.msg,
      }, this.now());
      this.o.log.warn("order rejected", {
        clientOid,
        symbol: row.symbol,
        code: r.code,
        msg: r.msg,
      });
      this.o.onOutcome?.(this.o.journal.get(clientOid)!);
      return;
    }
    this.counters.accepted++;
    const patch: Partial<OrderRow> = {};
    if (r.orderId) patch.venueOrderId = r.orderId;
    // A push may already have reported the order (or its fill): never move a state backwards.
    // `not_placed` is not final when the exchange answers after all: it has the order.
    if (row.state === "sent" || row.state === "unknown" || row.state === "not_placed") {
      patch.state = "live";
    }
    if ("status" in r) patch.state = stateOf((r as SimOrder).status);
    this.o.journal.update(clientOid, patch, this.now());
    this.o.onOutcome?.(this.o.journal.get(clientOid)!);
  }

  private failed(clientOid: string, e: unknown): void | Promise<void> {
    if (e instanceof OutcomeUnknownError) {
      this.counters.unknown++;
      this.o.journal.update(clientOid, { state: "unknown" }, this.now());
      this.o.log.warn("order outcome unknown: asking the exchange", {
        clientOid,
        op: e.op,
        error: e.message,
      });
      return this.track(this.resolve(clientOid), clientOid);
    }
    // The request was not sent (validation, a rate limiter refusing, …): nothing to resolve.
    this.counters.rejected++;
    this.o.journal.update(clientOid, {
      state: "rejected",
      rejectCode: "local",
      rejectMsg: (e as Error).message,
    }, this.now());
    this.o.log.error("order not sent", { clientOid, error: (e as Error).message });
    this.o.onOutcome?.(this.o.journal.get(clientOid)!);
  }

  /** Looks `clientOid` up on the venue (order detail, or the live plans); undefined if absent. */
  private async lookup(row: OrderRow): Promise<{ found: boolean; order?: SimOrder }> {
    if (row.kind === "tpsl") {
      const p = this.o.venue.planOrders(row.symbol).find((x) => x.clientOid === row.clientOid);
      return { found: p !== undefined };
    }
    const o = await this.o.venue.order(row.symbol, row.clientOid);
    return o ? { found: true, order: o } : { found: false };
  }

  /**
   * Resolves an order whose outcome is unknown (see module doc). Never throws; leaves the row
   * `unknown` when the exchange cannot be reached, for the next reconciliation.
   */
  async resolve(clientOid: string): Promise<void> {
    const cfg = this.resolveCfg;
    let notFound = 0;
    let resends = 0;
    for (let attempt = 0;; attempt++) {
      const row = this.o.journal.get(clientOid);
      if (!row) return;
      if (row.state !== "sent" && row.state !== "unknown") return; // a push settled it
      if (attempt >= cfg.queryDelaysMs.length + 2 * (cfg.maxResends + 1)) break;
      await sleep(cfg.queryDelaysMs[Math.min(attempt, cfg.queryDelaysMs.length - 1)]);
      let res;
      try {
        res = await this.lookup(row);
      } catch (e) {
        this.o.log.warn("order lookup failed", { clientOid, error: (e as Error).message });
        continue;
      }
      const cur = this.o.journal.get(clientOid)!;
      if (cur.state !== "sent" && cur.state !== "unknown") return;
      if (res.found) {
        this.counters.resolvedByQuery++;
        const patch: Partial<OrderRow> = { state: res.order ? stateOf(res.order.status) : "live" };
        if (res.order) {
          patch.venueOrderId = res.order.orderId;
          Object.assign(patch, this.progress(res.order, cur.symbol));
        }
        this.o.journal.update(clientOid, patch, this.now());
        this.o.log.info("order outcome resolved: the exchange has it", {
          clientOid,
          state: patch.state,
        });
        // Its fills may have been pushed while nobody listened: ask for them too.
        if (res.order && res.order.filledSize > 0 && this.o.venue.fillsOf) {
          try {
            const fills = await this.o.venue.fillsOf(cur.symbol, res.order.orderId, clientOid);
            for (const f of fills) this.onFill(f);
          } catch (e) {
            this.o.log.warn("fills lookup failed", { clientOid, error: (e as Error).message });
          }
        }
        this.o.onOutcome?.(this.o.journal.get(clientOid)!);
        return;
      }
      notFound++;
      if (notFound === 1) {
        // The push may still be on its way: give the private WebSocket time, then ask again.
        await sleep(cfg.pushWaitMs);
        continue;
      }
      if (resends >= cfg.maxResends) break;
      resends++;
      notFound = 0;
      this.counters.resent++;
      this.o.journal.update(clientOid, { placeAttempts: cur.placeAttempts + 1 }, this.now());
      this.o.log.warn("exchange does not have the order: sending the same request again", {
        clientOid,
        attempt: resends,
      });
      const again = await this.resend(cur);
      if (again === "settled") return;
    }
    this.o.log.error("order outcome still unknown: left for reconciliation", { clientOid });
  }

  /** Re-sends the journal row's request under the same clientOid. */
  private async resend(row: OrderRow): Promise<"settled" | "unknown"> {
    const num = (s: string | null) => (s === null || s === "" ? undefined : Number(s));
    try {
      this.o.onSend?.(row.clientOid);
      const r = row.kind === "tpsl"
        ? await this.o.venue.placeTpsl({
          clientOid: row.clientOid,
          symbol: row.symbol,
          holdSide: row.side as "long" | "short",
          planType: row.orderType as "pos_loss" | "pos_profit" | "moving_plan",
          triggerType: (row.triggerType ?? "mark_price") as "mark_price" | "fill_price",
          triggerPrice: num(row.price),
          rangeRate: num(row.rangeRate),
          size: num(row.size),
        })
        : await this.o.venue.placeOrder({
          clientOid: row.clientOid,
          symbol: row.symbol,
          side: row.side as "buy" | "sell",
          orderType: row.orderType as "market" | "limit",
          size: Number(row.size),
          price: num(row.price),
          reduceOnly: row.tradeSide === null ? row.reduceOnly || undefined : undefined,
          tradeSide: (row.tradeSide ?? undefined) as "open" | "close" | undefined,
          force: (row.force ?? undefined) as "gtc" | "ioc" | "fok" | "post_only" | undefined,
          presetStopLossPrice: num(row.presetSl),
          presetStopSurplusPrice: num(row.presetTp),
        });
      if (isRejection(r) && r.code === DUPLICATE_CLIENT_OID) return "unknown"; // placed: look it up
      await this.answered(row.clientOid, r);
      return "settled";
    } catch (e) {
      if (e instanceof OutcomeUnknownError) return "unknown";
      await this.failed(row.clientOid, e);
      return "settled";
    }
  }

  /** Filled size, average price and fee of a venue order as journal strings (exact if given). */
  private progress(o: SimOrder, symbol: string): Partial<OrderRow> {
    if (o.exact) {
      return { filledSize: o.exact.filledSize, avgPrice: o.exact.avgPrice, fee: o.exact.fee };
    }
    const spec = this.o.contracts.get(symbol);
    if (!spec) return {};
    return {
      filledSize: formatSize(spec, o.filledSize),
      avgPrice: o.filledSize > 0 ? formatPrice(spec, o.avgPrice) : null,
      fee: o.fee.toFixed(8),
    };
  }

  /**
   * Cancels one of our open orders and settles its state the way a placement is settled: the
   * cancel's answer is not trusted alone — a refusal may mean the order filled meanwhile, and a
   * cancel with no answer (timeout, reset: OutcomeUnknownError) may or may not have reached the
   * exchange — so the order is then looked up by clientOid (REST detail) and its final state and
   * fills recorded. The cancel is sent again only while the exchange still shows the order open
   * (a cancel has no second effect, but it is not repeated blindly either). Resolves with the
   * journal state afterwards; an order the exchange does not know is left for reconciliation.
   * Never throws for exchange errors.
   */
  async cancel(symbol: string, clientOid: string): Promise<OrderState | null> {
    const cfg = this.resolveCfg;
    const stateNow = () => this.o.journal.get(clientOid)?.state ?? null;
    for (let send = 0; send <= cfg.maxResends; send++) {
      const st = stateNow();
      if (st !== null && FINAL_STATES.has(st)) return st;
      this.counters.cancels++;
      let answer: "ack" | "refused" | "unknown";
      try {
        const r = await this.o.venue.cancelOrder(symbol, clientOid);
        answer = isRejection(r) ? "refused" : "ack";
        if (isRejection(r)) {
          this.o.log.warn("cancel refused: asking the exchange", { clientOid, code: r.code });
        }
      } catch (e) {
        if (!(e instanceof OutcomeUnknownError)) throw e;
        answer = "unknown";
        this.counters.cancelsUnknown++;
        this.o.log.warn("cancel outcome unknown: asking the exchange", {
          clientOid,
          error: e.message,
        });
      }
      for (const delay of cfg.queryDelaysMs) {
        const cur = stateNow();
        if (cur !== null && FINAL_STATES.has(cur)) return cur; // a push settled it
        await sleep(delay);
        let o: SimOrder | undefined;
        try {
          o = await this.o.venue.order(symbol, clientOid);
        } catch (e) {
          this.o.log.warn("order lookup failed", { clientOid, error: (e as Error).message });
          continue;
        }
        if (!o) return stateNow();
        const state = stateOf(o.status);
        if (FINAL_STATES.has(state)) {
          this.onOrder(o);
          if (o.filledSize > 0 && this.o.venue.fillsOf) {
            try {
              for (const f of await this.o.venue.fillsOf(symbol, o.orderId, clientOid)) {
                this.onFill(f);
              }
            } catch (e) {
              this.o.log.warn("fills lookup failed", { clientOid, error: (e as Error).message });
            }
          }
          return stateNow();
        }
        // Still open after a refusal or a lost answer: cancel again. After an ack, the
        // exchange may simply not have processed it yet: ask again after the next delay.
        if (answer !== "ack") break;
      }
    }
    this.o.log.error("order still open after cancelling: left for reconciliation", { clientOid });
    return stateNow();
  }

  /** Keeps the journal current from one venue event (see module doc). */
  onVenueEvent(ev: VenueEvent): void {
    if (ev.type === "order") this.onOrder(ev.order);
    else if (ev.type === "fill") this.onFill(ev);
    else if (ev.type === "plan") this.onPlan(ev);
  }

  private onOrder(o: SimOrder): void {
    const j = this.o.journal;
    const row = j.get(o.clientOid);
    if (!row) {
      if (!j.isOurs(o.clientOid)) return;
      this.adopt(o);
      return;
    }
    // Pushes can arrive out of order: a final state and the filled size never move backwards.
    if (row.state === "filled" && o.status !== "filled") return;
    if (Number(row.filledSize) > o.filledSize + 1e-12) return;
    const patch: Partial<OrderRow> = {
      state: stateOf(o.status),
      venueOrderId: o.orderId,
      ...this.progress(o, o.symbol),
    };
    if (o.cancelReason) patch.cancelReason = o.cancelReason;
    j.update(o.clientOid, patch, this.now());
    if (patch.state === "cancelled" && row.state !== "cancelled") {
      this.o.onCancelled?.(row, o.cancelReason || "cancelled");
    }
  }

  /** Records an order carrying our tag that the journal does not know (adoption). */
  adopt(o: SimOrder): void {
    const spec = this.o.contracts.get(o.symbol);
    const now = this.now();
    const seq = Number(o.clientOid.split("-").pop());
    const runId = Number(o.clientOid.slice(this.o.journal.prefix.length).split("-")[0]);
    this.o.journal.insert({
      clientOid: o.clientOid,
      mode: this.o.journal.mode,
      runId: Number.isFinite(runId) ? runId : 0,
      seq: Number.isFinite(seq) ? -seq : -now,
      kind: "order",
      symbol: o.symbol,
      side: o.side,
      tradeSide: o.tradeSide,
      orderType: o.orderType,
      size: o.exact?.size ?? (spec ? formatSize(spec, o.size) : String(o.size)),
      price: o.price === null ? null : spec ? formatPrice(spec, o.price) : String(o.price),
      reduceOnly: o.reduceOnly,
      force: o.force,
      presetSl: null,
      presetTp: null,
      rangeRate: null,
      triggerType: null,
      reason: "adopted",
      state: stateOf(o.status),
      venueOrderId: o.orderId,
      filledSize: "0",
      avgPrice: null,
      fee: null,
      ...this.progress(o, o.symbol),
      rejectCode: null,
      rejectMsg: null,
      cancelReason: o.cancelReason,
      adopted: true,
      placeAttempts: 0,
      engineTs: null,
      createdTs: o.createdAt || now,
      updatedTs: now,
    });
    this.counters.adopted++;
    this.o.log.warn("adopted an order with this database's clientOid tag", {
      clientOid: o.clientOid,
      state: o.status,
    });
  }

  private onFill(f: FillEvent): void {
    const spec = this.o.contracts.get(f.symbol);
    let tradeId = f.tradeId;
    if (tradeId === undefined) {
      const n = (this.fillSeq.get(f.orderId) ?? 0) + 1;
      this.fillSeq.set(f.orderId, n);
      tradeId = `sim-${f.orderId}-${n}`;
    }
    const isNew = this.o.journal.insertFill({
      tradeId,
      clientOid: f.clientOid,
      venueOrderId: f.orderId,
      symbol: f.symbol,
      side: f.direction,
      price: f.exact?.price ?? (spec ? formatPrice(spec, f.price) : String(f.price)),
      size: f.exact?.size ?? (spec ? formatSize(spec, f.size) : String(f.size)),
      fee: f.exact?.fee ?? f.fee.toFixed(8),
      liquidity: f.liquidity,
      realizedPnl: f.realizedPnl,
      planType: f.planType ?? null,
      ts: f.ts,
      recvTs: performance.timeOrigin + performance.now(),
      source: f.tradeId === undefined ? "sim" : f.exact ? "push" : "rest",
    });
    if (isNew) {
      this.counters.fills++;
      this.o.onFill?.(f);
    }
  }

  private onPlan(ev: PlanEvent): void {
    const row = this.o.journal.get(ev.plan.clientOid);
    if (!row || row.kind !== "tpsl") return;
    const state: OrderState = ev.plan.status === "live"
      ? "live"
      : ev.plan.status === "triggered"
      ? "filled"
      : "cancelled";
    this.o.journal.update(ev.plan.clientOid, {
      state,
      cancelReason: ev.plan.cancelReason,
    }, this.now());
  }

  /**
   * True while a market order of `symbol` placed by this process is not yet filled, cancelled,
   * refused or written off (StrategyContext.orderInFlight).
   */
  marketInFlight(symbol: string): boolean {
    const set = this.markets.get(symbol);
    if (!set || set.size === 0) return false;
    for (const oid of set) {
      const st = this.o.journal.get(oid)?.state;
      if (st === undefined || FINAL_STATES.has(st)) set.delete(oid);
    }
    return set.size > 0;
  }

  /** Orders of `symbol` (or all) sent but not yet acknowledged or resolved. */
  inFlight(symbol?: string): number {
    let n = 0;
    for (const r of this.o.journal.openOrders()) {
      if ((r.state === "sent" || r.state === "unknown") && (!symbol || r.symbol === symbol)) n++;
    }
    return n;
  }

  /** Resolves when every placement and resolution in progress has settled (or after `ms`). */
  async idle(ms = 10_000): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (this.busy.size > 0 && performance.now() < deadline) {
      await Promise.race([...this.busy, sleep(Math.max(1, deadline - performance.now()))]);
    }
    return this.busy.size === 0;
  }

  /** States the journal counts as open, for callers that reconcile. */
  static readonly OPEN = OPEN_STATES;
}
