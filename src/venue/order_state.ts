/**
 * The venue's mutable order record (SimOrder plus bookkeeping the caller never sees) and the
 * copy handed out.
 */
import type { PlanType, SimOrder } from "./types.ts";

export interface Order extends SimOrder {
  /** Margin (USDT) still reserved for this order's opening part. */
  reserved: number;
  /** Set on the reduce-only market order a triggered plan submits. */
  planType?: PlanType;
  /**
   * Set on a triggered plan's order under `planFill: "trigger"`: the whole order fills at this
   * price (USDT) as taker at activation instead of walking the book.
   */
  fixedPrice?: number;
  /** Preset stop-loss / take-profit prices (USDT), turned into plans by the first opening fill. */
  presetSl?: number;
  presetTp?: number;
}

/** The public copy of an order (bookkeeping fields removed). */
export function snapshotOrder(o: Order): SimOrder {
  const { reserved: _r, planType: _p, presetSl: _s, presetTp: _t, fixedPrice: _f, ...rest } = o;
  return rest;
}
