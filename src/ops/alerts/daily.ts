/**
 * DailySummary: accumulates closed trades (count, net PnL, fees) and equity (last value, max
 * drawdown as a ratio of the running peak) between summaries sent at a UTC time of day (`HH:MM`).
 *
 * A trading day runs from one `HH:MM` UTC to the next; `date` is the UTC date that day began on
 * (for 00:00 the calendar day just ended). `due(nowMs)` is true once an `HH:MM` has passed since
 * the last summary (or since `startMs`: a daemon started at 10:00 sends its first one at the next
 * boundary, covering 10:00 →). `take(nowMs)` returns the event and starts the next day; after a
 * gap of several days it sends one summary for all of it. Pure: the clock is passed in.
 */
import type { AlertMode, DailySummaryEvent } from "./events.ts";

const DAY = 86_400_000;

/** `HH:MM` → ms after UTC midnight. Throws RangeError on anything else. */
export function parseUtcTimeOfDay(hhmm: string): number {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(hhmm);
  if (!m) throw new RangeError(`invalid UTC time of day "${hhmm}": expected HH:MM`);
  return (Number(m[1]) * 60 + Number(m[2])) * 60_000;
}

/** The latest `offsetMs`-after-midnight UTC instant ≤ t. */
export function boundaryAtOrBefore(t: number, offsetMs: number): number {
  const b = Math.floor(t / DAY) * DAY + offsetMs;
  return b > t ? b - DAY : b;
}

export interface DailySummaryOptions {
  /** UTC time of day, `HH:MM`. */
  atUtc: string;
  mode: AlertMode;
  /** When accumulation starts (epoch ms). */
  startMs: number;
  /** Equity known at start (USDT), if any. */
  equityUsdt?: number;
}

export class DailySummary {
  private readonly offset: number;
  private periodStart: number;
  private trades = 0;
  private pnl = 0;
  private fees = 0;
  private equity: number | null;
  private peak: number | null;
  private maxDd = 0;

  constructor(private readonly o: DailySummaryOptions) {
    this.offset = parseUtcTimeOfDay(o.atUtc);
    this.periodStart = boundaryAtOrBefore(o.startMs, this.offset);
    this.equity = Number.isFinite(o.equityUsdt) ? o.equityUsdt! : null;
    this.peak = this.equity;
  }

  /** A closed trade (its `pnlUsdt` is net of fees). */
  recordTrade(t: { pnlUsdt: number; feesUsdt: number }): void {
    this.trades++;
    if (Number.isFinite(t.pnlUsdt)) this.pnl += t.pnlUsdt;
    if (Number.isFinite(t.feesUsdt)) this.fees += t.feesUsdt;
  }

  /** An equity reading (USDT); updates the peak and the day's max drawdown. */
  recordEquity(equityUsdt: number): void {
    if (!Number.isFinite(equityUsdt)) return;
    this.equity = equityUsdt;
    if (this.peak === null || equityUsdt > this.peak) this.peak = equityUsdt;
    if (this.peak > 0) this.maxDd = Math.max(this.maxDd, (this.peak - equityUsdt) / this.peak);
  }

  /** Epoch ms of the next summary time. */
  nextDueMs(): number {
    return this.periodStart + DAY;
  }

  /** True once the configured UTC time has passed since the last summary. */
  due(nowMs: number): boolean {
    return nowMs >= this.nextDueMs();
  }

  /** The summary of the day(s) since the last one; resets the counters (equity carries over). */
  take(nowMs: number): DailySummaryEvent {
    const ev: DailySummaryEvent = {
      type: "daily_summary",
      ts: nowMs,
      mode: this.o.mode,
      date: new Date(this.periodStart).toISOString().slice(0, 10),
      trades: this.trades,
      pnlUsdt: Math.round(this.pnl * 1e8) / 1e8,
      feesUsdt: Math.round(this.fees * 1e8) / 1e8,
      equityUsdt: this.equity,
      maxDrawdown: this.maxDd,
    };
    this.periodStart = Math.max(this.periodStart, boundaryAtOrBefore(nowMs, this.offset));
    this.trades = 0;
    this.pnl = 0;
    this.fees = 0;
    this.peak = this.equity;
    this.maxDd = 0;
    return ev;
  }
}
