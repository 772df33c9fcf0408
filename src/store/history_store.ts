/**
 * The store side of `bitget-bot download` (bitget/history.ts `HistoryStore`): candles from REST
 * `history-candles` go to `candles` with source `rest`, settled funding to `funding_rates`,
 * contract specs to `contracts`.
 * Resume point = the newest stored bar of (symbol, interval), whatever its source.
 */
import type { HistoryStore } from "../bitget/history.ts";
import type { ContractSpec } from "../market/contracts.ts";
import type { CandleEvent, FundingEvent } from "../market/events.ts";
import { Store } from "./store.ts";

export class StoreHistory implements HistoryStore {
  private constructor(private readonly store: Store) {}

  /** Opens (creating when missing) the database at `path`. Throws StoreError. */
  static open(path: string): StoreHistory {
    return new StoreHistory(Store.open(path, { create: true }));
  }

  lastCandleTs(symbol: string, interval: string): number | null {
    const r = this.store.db.prepare(
      "SELECT MAX(start_ts) AS t FROM candles WHERE symbol = ? AND interval = ?",
    ).get(symbol, interval) as { t: number | null } | undefined;
    return r?.t ?? null;
  }

  writeCandles(events: CandleEvent[]): void {
    this.store.writeBatch(events, undefined, undefined, { candleSource: "rest" });
  }

  writeFunding(events: FundingEvent[]): void {
    this.store.writeBatch(events);
  }

  writeContracts(specs: ContractSpec[], raw: Record<string, unknown>[]): void {
    this.store.upsertContracts(specs, raw);
  }

  close(): void {
    this.store.close();
  }
}
