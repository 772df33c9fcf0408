/**
 * Simulated clock of a backtest: time is event time, never the wall clock. A candle counts at
 * its close (start + interval), the instant it became known; every other event at its `ts`.
 */
import type { MarketEvent } from "../market/events.ts";
import { intervalMs } from "../store/readers.ts";

/** Time (epoch ms) at which `ev` is known: bar close for candles, `ts` otherwise. */
export function eventTime(ev: MarketEvent): number {
  return ev.kind === "candle" ? ev.ts + intervalMs(ev.interval) : ev.ts;
}

/** Monotone simulated clock (epoch ms); out-of-order events never move it backwards. */
export class SimClock {
  private t = -Infinity;

  /** Current simulated time (ms); −Infinity before the first event. */
  get now(): number {
    return this.t;
  }

  /** Advances to the time of `ev`; returns true when time moved forward (a new time slice). */
  observe(ev: MarketEvent): boolean {
    const t = eventTime(ev);
    if (t > this.t) {
      this.t = t;
      return true;
    }
    return false;
  }
}
