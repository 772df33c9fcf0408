/**
 * Position plan orders of the simulated venue: stop-loss (`pos_loss`), take-profit
 * (`pos_profit`) and trailing stop (`moving_plan`), as Bitget `place-tpsl-order` (API.md §5.7).
 * This module validates requests, keeps the live plans per symbol and decides triggers; the
 * venue (sim_exchange.ts) submits the reduce-only market order a trigger produces.
 *
 * Trigger rules (price = the plan's trigger source: mark price or last trade print):
 * - long pos_loss: price ≤ triggerPrice; long pos_profit: price ≥ triggerPrice; shorts mirrored.
 * - moving_plan: active from creation, or from the first price reaching the activation price
 *   (long: ≥, short: ≤) when `triggerPrice` is given. While active it tracks the best price
 *   `extreme` (long: max, short: min) and triggers when price ≤ extreme × (1 − rangeRate)
 *   (long) or price ≥ extreme × (1 + rangeRate) (short).
 *
 * Fill price under `planFill: "trigger"` (`triggerFillPrice`): the stop level, or the first
 * price beyond it when the market gapped through it — the usual OHLC-backtest convention —
 * moved adversely by the configured slippage and rounded to the tick adversely.
 */
import type { ContractSpec } from "../market/contracts.ts";
import type {
  HoldSide,
  PlaceOrderRequest,
  PlaceTpslRequest,
  PlanEvent,
  PlanType,
  Rejection,
  SimPlanOrder,
  TriggerType,
} from "./types.ts";
import { checkClientOid, checkTick, onGrid } from "./validate.ts";

/**
 * Largest trailing callback ratio accepted. API.md §5.7 documents `callbackRatio ≤ 10` (percent)
 * for `track_plan` and no bound for `rangeRate`; the same 10 % applies here, as a ratio.
 */
export const MAX_RANGE_RATE = 0.1;

const PLAN_TYPES: readonly string[] = ["pos_loss", "pos_profit", "moving_plan"];
const TRIGGER_TYPES: readonly string[] = ["mark_price", "fill_price"];

const positive = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x) && x > 0;

/**
 * 45122 (Bitget: "stop-loss price on wrong side of mark price", API.md §7, also used here for
 * take-profits) unless a long's stop is below `ref` and its target above it (shorts mirrored).
 * `ref` NaN (no price seen yet) skips the check.
 */
function sideCheck(
  field: string,
  planType: "pos_loss" | "pos_profit",
  hold: HoldSide,
  trigger: number,
  ref: number,
): Rejection | null {
  if (Number.isNaN(ref)) return null;
  const below = (hold === "long") === (planType === "pos_loss");
  if (below ? trigger < ref : trigger > ref) return null;
  return {
    code: "45122",
    msg: `${field} ${trigger} must be ${below ? "below" : "above"} the current ${
      planType === "pos_loss" ? "stop" : "take-profit"
    } reference price ${ref} for a ${hold} position`,
  };
}

/**
 * Static and position checks of a place-tpsl request; the caller has resolved the symbol
 * (40102) and the clientOid namespace (40305 duplicate). `legSize` = size of the `holdSide` leg
 * (base coin), `ref` = current price of the request's trigger source (NaN when unknown).
 * Codes (API.md §7): 40304/40305 clientOid, 40020 missing/enum/non-positive field or a field
 * invalid for the planType, 40808 price off tick or size off lot, 43011 rangeRate outside
 * (0, MAX_RANGE_RATE], 22002 no position on that leg, 45122 trigger on the wrong side.
 */
export function validateTpsl(
  req: PlaceTpslRequest,
  spec: ContractSpec,
  legSize: number,
  ref: number,
): Rejection | null {
  const badOid = checkClientOid(req.clientOid);
  if (badOid) return badOid;
  if (req.holdSide !== "long" && req.holdSide !== "short") {
    return {
      code: "40020",
      msg: `holdSide must be long|short, got ${JSON.stringify(req.holdSide)}`,
    };
  }
  if (!PLAN_TYPES.includes(req.planType)) {
    return {
      code: "40020",
      msg: `planType must be pos_loss|pos_profit|moving_plan, got ${JSON.stringify(req.planType)}`,
    };
  }
  if (!TRIGGER_TYPES.includes(req.triggerType)) {
    return {
      code: "40020",
      msg: `triggerType must be mark_price|fill_price, got ${JSON.stringify(req.triggerType)}`,
    };
  }
  const tp = req.triggerPrice;
  if (req.planType === "moving_plan") {
    if (!(typeof req.rangeRate === "number" && Number.isFinite(req.rangeRate))) {
      return { code: "40020", msg: `moving_plan requires rangeRate, got ${req.rangeRate}` };
    }
    if (!(req.rangeRate > 0 && req.rangeRate <= MAX_RANGE_RATE)) {
      return {
        code: "43011",
        msg: `rangeRate ${req.rangeRate} outside (0, ${MAX_RANGE_RATE}] (ratio, 0.01 = 1 %)`,
      };
    }
  } else {
    if (req.rangeRate !== undefined) {
      return { code: "40020", msg: `rangeRate is only valid for moving_plan (${req.planType})` };
    }
    if (tp === undefined) {
      return { code: "40020", msg: `${req.planType} requires triggerPrice` };
    }
  }
  if (tp !== undefined) {
    if (!positive(tp)) return { code: "40020", msg: `triggerPrice must be > 0, got ${tp}` };
    const off = checkTick("triggerPrice", tp, spec);
    if (off) return off;
  }
  if (req.size !== undefined) {
    if (!positive(req.size)) {
      return { code: "40020", msg: `size must be > 0 (base coin), got ${req.size}` };
    }
    if (!onGrid(req.size, spec.lotSize)) {
      return {
        code: "40808",
        msg:
          `Parameter verification exception size checkBDScale error value=${req.size} lotSize=${spec.lotSize}`,
      };
    }
  }
  if (!(legSize > 0)) {
    return { code: "22002", msg: `no ${req.holdSide} position on ${req.symbol} for the plan` };
  }
  if (req.planType !== "moving_plan") {
    return sideCheck("triggerPrice", req.planType, req.holdSide, tp!, ref);
  }
  return null;
}

/**
 * Checks `presetStopLossPrice` / `presetStopSurplusPrice` of an order at placement. `opening`:
 * the order can open a position (hedge `tradeSide=open`, one-way without reduceOnly); `hold`:
 * the leg it opens; `ref`: the limit price, or for a market order the current price of the
 * preset trigger source (NaN skips the side check). Codes: 40020 non-positive or on a closing
 * order, 40808 off tick, 45122 wrong side, 40304 clientOid too long for the `-sl`/`-tp` suffix.
 */
export function validatePresets(
  req: PlaceOrderRequest,
  spec: ContractSpec,
  opening: boolean,
  hold: HoldSide,
  ref: number,
): Rejection | null {
  const fields = [
    ["presetStopLossPrice", "pos_loss", req.presetStopLossPrice],
    ["presetStopSurplusPrice", "pos_profit", req.presetStopSurplusPrice],
  ] as const;
  for (const [field, planType, price] of fields) {
    if (price === undefined) continue;
    if (!opening) {
      return { code: "40020", msg: `${field} is only valid on an order that opens a position` };
    }
    if (!positive(price)) return { code: "40020", msg: `${field} must be > 0, got ${price}` };
    const off = checkTick(field, price, spec);
    if (off) return off;
    const wrong = sideCheck(field, planType, hold, price, ref);
    if (wrong) return wrong;
    if (req.clientOid.length + 3 >= 50) {
      return { code: "40304", msg: `clientOid ${req.clientOid} too long for the ${field} plan id` };
    }
  }
  return null;
}

/**
 * Decides whether `p` triggers at `price` (USDT); updates a trailing plan's `extreme`.
 * Rules in the module doc.
 */
export function evaluatePlan(p: SimPlanOrder, price: number): boolean {
  const long = p.holdSide === "long";
  if (p.planType === "pos_loss") return long ? price <= p.triggerPrice! : price >= p.triggerPrice!;
  if (p.planType === "pos_profit") {
    return long ? price >= p.triggerPrice! : price <= p.triggerPrice!;
  }
  if (p.extreme === null) {
    const a = p.triggerPrice;
    if (a !== null && (long ? price < a : price > a)) return false;
    p.extreme = price; // activation
  } else if (long ? price > p.extreme : price < p.extreme) p.extreme = price;
  const r = p.rangeRate!;
  return long ? price <= p.extreme * (1 - r) : price >= p.extreme * (1 + r);
}

/**
 * Trigger level L of a plan (USDT): `triggerPrice` for pos_loss / pos_profit; for an active
 * moving_plan the trailing level extreme × (1 − rangeRate) (long) or extreme × (1 + rangeRate)
 * (short); NaN for a moving_plan not active yet.
 */
export function triggerLevel(p: SimPlanOrder): number {
  if (p.planType !== "moving_plan") return p.triggerPrice!;
  if (p.extreme === null) return NaN;
  return p.holdSide === "long" ? p.extreme * (1 - p.rangeRate!) : p.extreme * (1 + p.rangeRate!);
}

/**
 * Fill price (USDT) of the reduce-only market order of plan `p` under `planFill: "trigger"`,
 * given the trigger-source price `price` that fired it and the previous price `prev` of that
 * source (NaN when there was none). Base price: the trigger level L (`triggerLevel`), unless
 * `prev` was already strictly on the triggering side of L (long pos_loss / moving_plan:
 * prev < L; long pos_profit: prev > L; shorts mirrored) — the market gapped through the level
 * without trading at it — then `price`. With no `prev` the worse of L and `price` for the order
 * is taken (a sell: the lower). The base is moved adversely by `slippageBps` (sell:
 * × (1 − bps·1e-4), buy: × (1 + bps·1e-4)) and rounded to `spec.tickSize` adversely (sell down,
 * buy up), to `spec.pricePlace` decimals.
 */
export function triggerFillPrice(
  p: SimPlanOrder,
  price: number,
  prev: number,
  slippageBps: number,
  spec: ContractSpec,
): number {
  const sell = p.holdSide === "long";
  const level = triggerLevel(p);
  // Triggering side of L: below it for a long's stops (and a short's target), above otherwise.
  const below = sell === (p.planType !== "pos_profit");
  let base: number;
  if (Number.isNaN(prev)) base = sell ? Math.min(level, price) : Math.max(level, price);
  else base = (below ? prev < level : prev > level) ? price : level;
  const k = base * (sell ? 1 - slippageBps * 1e-4 : 1 + slippageBps * 1e-4) / spec.tickSize;
  // 1e-9 of a tick absorbs float noise so a price already on the grid stays put.
  const ticks = sell ? Math.floor(k + 1e-9) : Math.ceil(k - 1e-9);
  return Number((ticks * spec.tickSize).toFixed(Math.min(20, Math.max(0, spec.pricePlace))));
}

/** Builds a live plan (the venue's own record) from a validated request. */
export function newPlan(
  req: PlaceTpslRequest,
  createdAt: number,
  ref: number,
): SimPlanOrder {
  const moving = req.planType === "moving_plan";
  return {
    clientOid: req.clientOid,
    symbol: req.symbol,
    holdSide: req.holdSide,
    planType: req.planType,
    triggerType: req.triggerType,
    triggerPrice: req.triggerPrice ?? null,
    rangeRate: moving ? req.rangeRate! : null,
    size: req.size ?? null,
    status: "live",
    createdAt,
    triggeredAt: null,
    // Without an activation price the trail starts at once, from the current price if known.
    extreme: moving && req.triggerPrice === undefined && Number.isFinite(ref) ? ref : null,
    cancelReason: null,
  };
}

/**
 * Live plans per symbol plus every clientOid ever used by a plan. Emits a PlanEvent on every
 * state change (creation, trigger, cancellation) and hands triggered plans to `onTrigger`.
 */
export class PlanBook {
  private readonly all = new Map<string, SimPlanOrder>();
  private readonly live = new Map<string, SimPlanOrder[]>();
  /** Last price seen per symbol: [mark_price, fill_price] (NaN before the first). */
  private readonly lastPx = new Map<string, [number, number]>();

  /**
   * `onTrigger(p, price, prev)`: `p` fired at trigger-source price `price`; `prev` = that
   * source's price before this update (NaN when none).
   */
  constructor(
    private readonly emit: (ev: PlanEvent) => void,
    private readonly onTrigger: (p: SimPlanOrder, price: number, prev: number) => void,
  ) {}

  /** True when a plan (live or not) already uses this clientOid. */
  has(clientOid: string): boolean {
    return this.all.has(clientOid);
  }

  add(p: SimPlanOrder, ts: number): void {
    this.all.set(p.clientOid, p);
    let arr = this.live.get(p.symbol);
    if (!arr) this.live.set(p.symbol, arr = []);
    arr.push(p);
    this.emit({ type: "plan", ts, plan: { ...p } });
  }

  /** Cancels a live plan; false when unknown or no longer live. */
  cancel(clientOid: string, reason: string, ts: number): boolean {
    const p = this.all.get(clientOid);
    if (!p || p.status !== "live") return false;
    this.finish(p, "cancelled", ts, reason);
    return true;
  }

  /** Cancels the live plans of one leg (`reason`, e.g. `position_closed`). */
  cancelLeg(symbol: string, hold: HoldSide, reason: string, ts: number): void {
    const arr = this.live.get(symbol);
    if (!arr || arr.length === 0) return;
    for (const p of arr.filter((q) => q.holdSide === hold)) this.finish(p, "cancelled", ts, reason);
  }

  /** True when `symbol` has live plans (cheap guard for hot paths). */
  any(symbol: string): boolean {
    const arr = this.live.get(symbol);
    return arr !== undefined && arr.length > 0;
  }

  /** Copies of the live plans, of one symbol or all, in creation order per symbol. */
  list(symbol?: string): SimPlanOrder[] {
    const out: SimPlanOrder[] = [];
    for (const [s, arr] of this.live) if (symbol === undefined || s === symbol) out.push(...arr);
    return out.map((p) => ({ ...p }));
  }

  /**
   * A new price of `source` for `symbol`: records it as that source's last price, evaluates every
   * live plan watching it, then triggers the ones that fired, in creation order, skipping any a
   * previous trigger's fill cancelled.
   */
  onPrice(symbol: string, source: TriggerType, price: number, ts: number): void {
    if (!Number.isFinite(price)) return;
    let last = this.lastPx.get(symbol);
    if (!last) this.lastPx.set(symbol, last = [NaN, NaN]);
    const i = source === "mark_price" ? 0 : 1;
    const prev = last[i];
    last[i] = price;
    const arr = this.live.get(symbol);
    if (!arr || arr.length === 0) return;
    let fired: SimPlanOrder[] | null = null;
    for (const p of arr) {
      if (p.triggerType === source && evaluatePlan(p, price)) (fired ??= []).push(p);
    }
    if (!fired) return;
    for (const p of fired) {
      if (p.status !== "live") continue;
      this.finish(p, "triggered", ts, null);
      this.onTrigger(p, price, prev);
    }
  }

  private finish(
    p: SimPlanOrder,
    status: "triggered" | "cancelled",
    ts: number,
    reason: string | null,
  ): void {
    const arr = this.live.get(p.symbol)!;
    arr.splice(arr.indexOf(p), 1);
    p.status = status;
    if (status === "triggered") p.triggeredAt = ts;
    p.cancelReason = reason;
    this.emit({ type: "plan", ts, plan: { ...p } });
  }
}

/** Plan types created from an order's preset prices, with their clientOid suffixes. */
export const PRESETS: readonly { planType: PlanType; suffix: string }[] = [
  { planType: "pos_loss", suffix: "-sl" },
  { planType: "pos_profit", suffix: "-tp" },
];
