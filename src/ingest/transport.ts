/**
 * What an ingest worker does to a batch right before `postMessage`: book levels become one JSON
 * string per side (BookEvent.levelsJson). Structured clone copies a string in one piece but walks
 * an array of `[price, size]` arrays object by object; on the real recordings this halves the
 * cost of moving a batch to the writer thread, and the writer stores the text as is.
 */
import type { MarketEvent } from "../market/events.ts";
import { levelsJson } from "../market/book_levels.ts";

/** Rewrites book events in place for transfer; returns the same array. */
export function packForTransfer(events: MarketEvent[]): MarketEvent[] {
  for (let i = 0; i < events.length; i++) {
    const ev = events[i];
    if (ev.kind !== "book" || ev.levelsJson) continue;
    ev.levelsJson = { bids: levelsJson(ev.bids), asks: levelsJson(ev.asks) };
    ev.bids = [];
    ev.asks = [];
  }
  return events;
}
