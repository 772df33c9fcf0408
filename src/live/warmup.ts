/**
 * Warm-up at start: the last `run.warmup` of stored market data (what `collect` or an earlier
 * `run` recorded) is replayed through the engine before the feed starts, so bars, indicators and
 * model features are ready at the first live bar. The engine is in warm-up mode meanwhile
 * (TradingEngine.setWarmingUp: no symbol is tradable, every signal is dropped) and the venue
 * sees none of it: nothing can be ordered from history.
 *
 * The window ends at the newest stored book/trade time of the symbols (exchange time), and the
 * kinds replayed are a raw backtest's (one book channel, trades, tickers, marks, funding).
 */
import type { TradingEngine } from "../engine/engine.ts";
import type { Logger } from "../ops/log.ts";
import { iterateEvents } from "../store/readers.ts";
import type { Store } from "../store/store.ts";
import type { LiveDriver } from "./driver.ts";

/** Replays the warm-up window; returns the number of events the engine saw. */
export async function warmUp(
  store: Store,
  engine: TradingEngine,
  driver: LiveDriver,
  symbols: readonly string[],
  windowMs: number,
  bookChannel: "books15" | "books",
  log: Logger,
): Promise<number> {
  if (!(windowMs > 0)) return 0;
  let end = -Infinity;
  for (const s of symbols) {
    for (const t of [bookChannel, "trades"]) {
      const r = store.db.prepare(`SELECT MAX(ts) AS m FROM ${t} WHERE symbol = ?`).get(s) as {
        m: number | null;
      };
      if (r.m !== null && r.m > end) end = r.m;
    }
  }
  if (!Number.isFinite(end)) return 0;
  const from = end + 1 - windowMs;
  log.info("warm-up from the database", {
    from: new Date(from).toISOString(),
    to: new Date(end + 1).toISOString(),
  });
  engine.setWarmingUp(true);
  let n = 0;
  try {
    for (
      const ev of iterateEvents(store, {
        symbols,
        from,
        to: end + 1,
        kinds: ["book", "trade", "ticker", "mark", "funding"],
        bookChannels: [bookChannel],
      })
    ) {
      n++;
      await driver.warm(ev);
    }
  } finally {
    engine.setWarmingUp(false);
  }
  return n;
}
