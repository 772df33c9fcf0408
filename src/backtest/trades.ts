/**
 * Round trips from the fill log (one-way netted positions): a trade opens when a symbol's
 * position leaves zero and ends when it returns to zero (a flip ends one trade and opens the
 * next at the same fill). Positions still open at the end are marked at the last mid
 * (exit reason `open_at_end`, PnL includes the unrealized part).
 */
import type { BacktestResult } from "./runner.ts";

export interface RoundTrip {
  symbol: string;
  side: "long" | "short";
  entryTs: number;
  /** Size-weighted entry price (USDT). */
  entryPrice: number;
  exitTs: number;
  /** Size-weighted exit price (USDT); the last mid for open trades. */
  exitPrice: number;
  /** Largest absolute position size reached (base coin). */
  size: number;
  /** Entry notional = Σ opening size × price (USDT). */
  notional: number;
  fees: number;
  slippage: number;
  /** Net funding received during the trade (USDT, negative = paid). */
  funding: number;
  /** Realized PnL of the closes (plus unrealized when open at the end), before fees/funding. */
  realizedPnl: number;
  /** realizedPnl − fees + funding. */
  netPnl: number;
  exitReason: string;
}

interface Open extends RoundTrip {
  pos: number;
  openQty: number;
  closeQty: number;
  closeNotional: number;
}

/** Builds round trips from a backtest result (see module doc). */
export function buildTrades(r: BacktestResult): RoundTrip[] {
  const out: RoundTrip[] = [];
  const open = new Map<string, Open>();
  const finish = (t: Open, ts: number, reason: string) => {
    t.exitTs = ts;
    t.exitPrice = t.closeQty > 0 ? t.closeNotional / t.closeQty : t.exitPrice;
    t.entryPrice = t.notional / t.openQty;
    t.exitReason = reason;
    t.netPnl = t.realizedPnl - t.fees + t.funding;
    const { pos: _p, openQty: _o, closeQty: _c, closeNotional: _n, ...rt } = t;
    out.push(rt);
    open.delete(t.symbol);
  };
  // Funding and liquidations are merged by time with the fills.
  type Item = { ts: number; k: number; i: number };
  const items: Item[] = [
    ...r.fills.map((f, i) => ({ ts: f.ts, k: 0, i })),
    ...r.funding.map((f, i) => ({ ts: f.ts, k: 1, i })),
    ...r.liquidations.map((l, i) => ({ ts: l.ts, k: 2, i })),
  ].sort((a, b) => a.ts - b.ts || a.k - b.k || a.i - b.i);
  for (const it of items) {
    if (it.k === 1) {
      const f = r.funding[it.i];
      const t = open.get(f.symbol);
      if (t) t.funding += f.amount;
      continue;
    }
    if (it.k === 2) {
      const l = r.liquidations[it.i];
      const t = open.get(l.symbol);
      if (t) {
        t.realizedPnl += l.realizedPnl;
        t.closeQty += l.size;
        t.closeNotional += l.size * l.price;
        finish(t, l.ts, "liquidation");
      }
      continue;
    }
    const f = r.fills[it.i];
    const dir = f.direction === "buy" ? 1 : -1;
    let qty = f.size;
    let t = open.get(f.symbol);
    const feePerUnit = f.fee / f.size;
    const slipPerUnit = f.slippage / f.size;
    if (t && Math.sign(t.pos) !== dir) {
      const c = Math.min(qty, Math.abs(t.pos));
      t.closeQty += c;
      t.closeNotional += c * f.price;
      t.realizedPnl += f.realizedPnl;
      t.fees += feePerUnit * c;
      t.slippage += slipPerUnit * c;
      t.pos += dir * c;
      qty -= c;
      if (Math.abs(t.pos) <= 1e-12) finish(t, f.ts, f.reason);
      t = open.get(f.symbol);
    }
    if (qty <= 1e-12) continue;
    if (!t) {
      t = {
        symbol: f.symbol,
        side: dir > 0 ? "long" : "short",
        entryTs: f.ts,
        entryPrice: 0,
        exitTs: NaN,
        exitPrice: NaN,
        size: 0,
        notional: 0,
        fees: 0,
        slippage: 0,
        funding: 0,
        realizedPnl: 0,
        netPnl: 0,
        exitReason: "",
        pos: 0,
        openQty: 0,
        closeQty: 0,
        closeNotional: 0,
      };
      open.set(f.symbol, t);
    }
    t.pos += dir * qty;
    t.openQty += qty;
    t.notional += qty * f.price;
    t.fees += feePerUnit * qty;
    t.slippage += slipPerUnit * qty;
    t.size = Math.max(t.size, Math.abs(t.pos));
  }
  for (const t of [...open.values()]) {
    const mark = r.finalPositions.find((p) => p.symbol === t.symbol)?.markPrice ??
      r.lastMid[t.symbol];
    const avg = t.notional / t.openQty;
    t.realizedPnl += (t.side === "long" ? 1 : -1) * (mark - avg) * Math.abs(t.pos);
    t.closeQty += Math.abs(t.pos);
    t.closeNotional += Math.abs(t.pos) * mark;
    finish(t, r.endTs, "open_at_end");
  }
  return out.sort((a, b) => a.entryTs - b.entryTs);
}
