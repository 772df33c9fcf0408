/**
 * ReconnectStormDetector: `count` reconnects of one feed within a sliding `windowMs` make a storm,
 * and a storm gives one reconnect_storm event, not one per reconnect. The storm lasts while the
 * window keeps holding `count` reconnects; it ends at the first reconnect that finds fewer. A new
 * storm of the same feed is reported no sooner than `windowMs` after the previous report (so a rate
 * hovering at the threshold alerts at most once per window). Pure: the clock is passed in; memory
 * is `count` timestamps per feed.
 */
import type { AlertMode, ReconnectStormEvent } from "./events.ts";

export interface StormOptions {
  /** Reconnects within the window that make a storm (≥ 2). */
  count: number;
  windowMs: number;
  mode: AlertMode;
}

interface FeedState {
  /** The last `count` reconnect times, oldest first. */
  times: number[];
  inStorm: boolean;
  lastReport: number;
}

export class ReconnectStormDetector {
  private readonly feeds = new Map<string, FeedState>();

  constructor(private readonly o: StormOptions) {
    if (!(o.count >= 2) || !(o.windowMs > 0)) {
      throw new RangeError("reconnect storm: count must be ≥ 2 and windowMs > 0");
    }
  }

  /** Records a reconnect of `feed` at `nowMs`; returns the event when it starts a storm. */
  record(feed: string, nowMs: number): ReconnectStormEvent | null {
    let st = this.feeds.get(feed);
    if (!st) {
      st = { times: [], inStorm: false, lastReport: -Infinity };
      this.feeds.set(feed, st);
    }
    st.times.push(nowMs);
    if (st.times.length > this.o.count) st.times.shift();
    const inWindow = st.times.filter((t) => t > nowMs - this.o.windowMs).length;
    if (inWindow < this.o.count) {
      st.inStorm = false;
      return null;
    }
    if (st.inStorm || nowMs - st.lastReport < this.o.windowMs) return null;
    st.inStorm = true;
    st.lastReport = nowMs;
    return {
      type: "reconnect_storm",
      ts: nowMs,
      mode: this.o.mode,
      feed,
      count: inWindow,
      windowMs: this.o.windowMs,
    };
  }

  /** Whether `feed` is in a storm (as of its last reconnect). */
  inStorm(feed: string): boolean {
    return this.feeds.get(feed)?.inStorm ?? false;
  }
}
