/**
 * Round trips from fills, for the trade_opened / trade_closed alerts and the daily summary. A
 * trade opens when a symbol's net position leaves zero and closes when it returns to zero (a fill
 * that flips the position closes one trade and opens the next with the remainder). Sizes are in
 * contracts as the venue reports them, prices and money in USDT; `pnlUsdt` is the realised PnL of
 * the closing fills minus every fee of the trade (Bitget's fill `profit` is gross of fees, API.md
 * §5 fills), the same net figure the backtest's trade list reports.
 */
import type { TradeClosedEvent, TradeOpenedEvent } from "../ops/alerts/mod.ts";
import type { FillEvent } from "../venue/types.ts";

type Mode = TradeOpenedEvent["mode"];

interface OpenTrade {
  side: "long" | "short";
  /** Net signed contracts (long > 0). */
  net: number;
  maxSize: number;
  entryNotional: number;
  entrySize: number;
  exitNotional: number;
  exitSize: number;
  openTs: number;
  realized: number;
  fees: number;
}

/** Below this many contracts a net position counts as flat (float residue of partial fills). */
const EPS = 1e-9;

export class TradeTracker {
  private readonly open = new Map<string, OpenTrade>();

  constructor(private readonly mode: Mode) {}

  /** Feeds one fill; returns the alert events it causes (none, an open, a close, or both). */
  fill(f: FillEvent): (TradeOpenedEvent | TradeClosedEvent)[] {
    const out: (TradeOpenedEvent | TradeClosedEvent)[] = [];
    const signed = f.direction === "buy" ? f.size : -f.size;
    let t = this.open.get(f.symbol);
    let rest = signed;
    let fee = f.fee;
    if (t) {
      const reducing = Math.sign(rest) !== Math.sign(t.net);
      if (!reducing) {
        t.net += rest;
        t.entryNotional += f.price * Math.abs(rest);
        t.entrySize += Math.abs(rest);
        t.maxSize = Math.max(t.maxSize, Math.abs(t.net));
        t.fees += fee;
        return out;
      }
      const closing = Math.min(Math.abs(rest), Math.abs(t.net));
      const share = closing / Math.abs(rest);
      t.net += Math.sign(rest) * closing;
      t.exitNotional += f.price * closing;
      t.exitSize += closing;
      t.realized += f.realizedPnl;
      t.fees += fee * share;
      fee -= fee * share;
      rest -= Math.sign(rest) * closing;
      if (Math.abs(t.net) > EPS) return out;
      this.open.delete(f.symbol);
      out.push({
        type: "trade_closed",
        ts: f.ts,
        mode: this.mode,
        symbol: f.symbol,
        side: t.side,
        size: t.maxSize,
        entryPrice: round(t.entryNotional / t.entrySize),
        exitPrice: round(t.exitNotional / t.exitSize),
        pnlUsdt: round(t.realized - t.fees),
        feesUsdt: round(t.fees),
        holdMs: Math.max(0, f.ts - t.openTs),
      });
      if (Math.abs(rest) <= EPS) return out;
    }
    t = {
      side: rest > 0 ? "long" : "short",
      net: rest,
      maxSize: Math.abs(rest),
      entryNotional: f.price * Math.abs(rest),
      entrySize: Math.abs(rest),
      exitNotional: 0,
      exitSize: 0,
      openTs: f.ts,
      realized: 0,
      fees: fee,
    };
    this.open.set(f.symbol, t);
    out.push({
      type: "trade_opened",
      ts: f.ts,
      mode: this.mode,
      symbol: f.symbol,
      side: t.side,
      size: f.exact && Math.abs(rest) === f.size ? f.exact.size : Math.abs(rest),
      price: f.exact?.price ?? f.price,
      notionalUsdt: round(f.price * Math.abs(rest)),
      clientOid: f.clientOid,
    });
    return out;
  }
}

/** Money to 1e-8 USDT (the exchange's own precision), so alerts show no float residue. */
function round(x: number): number {
  return Math.round(x * 1e8) / 1e8;
}
