/**
 * Reference strategies, used as benchmarks and as end-to-end checks of the backtest accounting.
 */
import type { ContractSpec } from "../market/contracts.ts";
import type { MarketEvent } from "../market/events.ts";
import type { OrderIntent, StrategyContext, Trader } from "../engine/contract.ts";

/**
 * Largest multiple of the lot size not above `size` (base coin); 0 when below minTradeNum.
 * Rounded to `volumePlace` decimals so the venue's lot check sees an exact multiple.
 */
export function roundToLot(size: number, spec: ContractSpec): number {
  const lots = Math.floor(size / spec.lotSize + 1e-9);
  const q = Number((lots * spec.lotSize).toFixed(spec.volumePlace));
  return q >= spec.minTradeNum ? q : 0;
}

/** Never trades: equity stays exactly the initial balance. */
export function flat(): Trader {
  return { name: "flat" };
}

export interface BuyAndHoldOptions {
  /** USDT notional bought per symbol at its first book. */
  notionalUsdt: number;
  /** Close with a reduce-only market sell after the last event (default false: mark to market). */
  closeAtEnd?: boolean;
  /**
   * When to buy: at the first order book of the symbol (`book`, raw replays) or at the first bar
   * close (`bar`, candle replays, where the books before a bar's close sit on its extremes).
   * Default `book`.
   */
  at?: "book" | "bar";
}

/**
 * Buys `notionalUsdt` of every symbol with a market order at the first book (or bar) of that symbol
 * (size = notional / mid, rounded down to the lot size) and holds. At the end it either closes
 * (market, reduce-only, reason `end_of_test`) or leaves the position marked to market.
 * Throws RangeError on a non-positive notional.
 */
export function buyAndHold(o: BuyAndHoldOptions): Trader {
  if (!(o.notionalUsdt > 0)) {
    throw new RangeError(`notionalUsdt must be > 0 USDT, got ${o.notionalUsdt}`);
  }
  const bought = new Set<string>();
  const at = o.at ?? "book";
  return {
    name: "buy_and_hold",
    onEvent(ev: MarketEvent, ctx: StrategyContext): OrderIntent[] | void {
      if (ev.kind !== (at === "book" ? "book" : "candle")) return;
      if (bought.has(ev.symbol) || ctx.inGap(ev.symbol)) return;
      const mid = ctx.mid(ev.symbol);
      if (!Number.isFinite(mid)) return;
      const size = roundToLot(o.notionalUsdt / mid, ctx.contract(ev.symbol));
      bought.add(ev.symbol);
      if (size === 0) return;
      return [{ symbol: ev.symbol, side: "buy", size, reason: "entry" }];
    },
    onEnd(ctx: StrategyContext): OrderIntent[] | void {
      if (!o.closeAtEnd) return;
      return ctx.positions().map((p) => ({
        symbol: p.symbol,
        side: p.holdSide === "long" ? "sell" : "buy",
        size: p.size,
        reduceOnly: true,
        reason: "end_of_test",
      }));
    },
  };
}
