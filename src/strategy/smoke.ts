/**
 * The `smoke` strategy: proves a deployment (keys, permissions, position mode, order path,
 * fills, reconciliation) with the smallest risk the exchange allows. For every symbol it opens
 * the contract's minimum size, closes it one `interval` later, waits one `interval`, opens the
 * other side, and so on, alternating long and short, for at most `maxRoundTrips` round trips per
 * symbol. Then it does nothing.
 *
 * Minimum size (API.md §4.1 / §5.3): the smallest lot multiple that is ≥ `minTradeNum` and whose
 * notional at the current mid is ≥ `minTradeUSDT` × (1 + `notionalMargin`) — the margin keeps a
 * price move between decision and fill from pushing the order under Bitget's 5 USDT minimum
 * (45110). Entries carry no stop: the position lives one interval; the RiskManager still checks
 * spread, depth, leverage and the kill-switches.
 *
 * Time is the engine's (exchange event time), so a replay at any speed behaves the same.
 */
import { z } from "zod";
import { configDuration } from "../config/zod_duration.ts";
import type { ContractSpec } from "../market/contracts.ts";
import type { MarketEvent } from "../market/events.ts";
import type { Signal, StrategyView, TradingStrategy } from "./types.ts";

export const SmokeConfigSchema = z.object({
  /** Time between an open and its close, and between a close and the next open. */
  interval: configDuration("1m"),
  /** Round trips (open + close) per symbol; then the strategy stays flat. */
  maxRoundTrips: z.number().int().min(1).max(1000).default(3),
  /** Headroom over minTradeUSDT (ratio): 0.2 = orders of at least 1.2 × the minimum notional. */
  notionalMargin: z.number().min(0).max(10).default(0.2),
}).strict();

export type SmokeConfig = z.infer<typeof SmokeConfigSchema>;

/** Smallest valid order size (base coin) at `price` (see module doc); NaN without a price. */
export function minimumSize(spec: ContractSpec, price: number, notionalMargin = 0.2): number {
  if (!(price > 0)) return NaN;
  const byNotional = spec.minTradeUSDT * (1 + notionalMargin) / price;
  const want = Math.max(spec.minTradeNum, byNotional);
  const lots = Math.ceil(want / spec.lotSize - 1e-9);
  return Number((lots * spec.lotSize).toFixed(spec.volumePlace));
}

interface SymState {
  next: number;
  trips: number;
  nextSide: "long" | "short";
}

/** Creates the smoke strategy; `contract(symbol)` gives each symbol's spec. */
export function createSmokeStrategy(
  cfg: SmokeConfig,
  contract: (symbol: string) => ContractSpec,
): TradingStrategy {
  cfg = SmokeConfigSchema.parse(cfg);
  const states = new Map<string, SymState>();
  return {
    name: "smoke",
    barIntervals: [],
    onEvent(ev: MarketEvent, view: StrategyView): Signal[] | void {
      if (ev.kind !== "book" && ev.kind !== "trade") return;
      const symbol = ev.symbol;
      const now = view.time;
      let st = states.get(symbol);
      if (!st) {
        st = { next: now, trips: 0, nextSide: "long" };
        states.set(symbol, st);
      }
      if (now < st.next) return;
      const pos = view.position(symbol);
      if (pos) {
        st.next = now + cfg.interval;
        st.trips++;
        return [{ kind: "exit", symbol, reason: "smoke_close" }];
      }
      if (st.trips >= cfg.maxRoundTrips) return;
      const mid = view.mid(symbol);
      const size = minimumSize(contract(symbol), mid, cfg.notionalMargin);
      if (!(size > 0) || !view.tradable(symbol)) return;
      st.next = now + cfg.interval;
      const side = st.nextSide;
      st.nextSide = side === "long" ? "short" : "long";
      return [{ kind: "enter", symbol, side, price: mid, fixedSize: size, reason: "smoke_open" }];
    },
  };
}
