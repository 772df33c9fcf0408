/**
 * Continuity of one symbol's closed bars of one interval, shared by the bar-driven strategies and
 * the scanner. The rule is the candle feature engine's (src/features/candle.ts): bars must follow
 * each other on the interval grid; a bar that starts more than one interval after the previous
 * one (a hole in the data) means every indicator must start its warm-up again, so no indicator
 * spans missing data.
 */
import type { ClosedBar } from "./types.ts";

/** How a bar relates to the previous one of the same symbol and interval. */
export type BarStep = "first" | "next" | "gap";

/**
 * Checks `bar` against the previous accepted bar and returns its step.
 *
 * @throws RangeError naming symbol and time when the bar is not after the previous one, is off the
 * interval grid, has a non-positive `intervalMs`, or has OHLC/volume that is not finite, positive
 * and consistent (0 < low ≤ open, close ≤ high; volume ≥ 0).
 */
export class BarSequence {
  private prevTs = NaN;

  accept(bar: ClosedBar): BarStep {
    const { ts, intervalMs, open, high, low, close, volume } = bar;
    const where = `bar ${bar.symbol} ${bar.interval} at ts=${ts}`;
    if (!Number.isFinite(ts)) throw new RangeError(`${where}: ts must be epoch ms`);
    if (!(Number.isInteger(intervalMs) && intervalMs > 0)) {
      throw new RangeError(`${where}: intervalMs must be a positive integer, got ${intervalMs}`);
    }
    if (
      !(low > 0 && high >= low && open >= low && open <= high && close >= low && close <= high &&
        Number.isFinite(high))
    ) {
      throw new RangeError(
        `${where}: need 0 < low ≤ open, close ≤ high, got o=${open} h=${high} l=${low} c=${close}`,
      );
    }
    if (!(volume >= 0 && Number.isFinite(volume))) {
      throw new RangeError(`${where}: volume must be a finite number ≥ 0, got ${volume}`);
    }
    const prev = this.prevTs;
    this.prevTs = ts;
    if (prev !== prev) return "first";
    const step = ts - prev;
    if (step <= 0 || step % intervalMs !== 0) {
      this.prevTs = prev;
      throw new RangeError(
        `${where}: bars must follow each other on a ${intervalMs} ms grid (previous ${prev})`,
      );
    }
    return step === intervalMs ? "next" : "gap";
  }

  /** Start (epoch ms) of the last accepted bar, NaN before the first. */
  get lastTs(): number {
    return this.prevTs;
  }
}
