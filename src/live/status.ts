/**
 * The daemon's periodic status line (every `log.statusInterval`): equity and drawdown, open
 * positions, open orders, the last decision, feed health and lag, order and fill counters.
 * Also writes the `equity` row of the same moment. Never logs secrets.
 */
import type { TradingEngine } from "../engine/engine.ts";
import type { OrderJournal } from "../oms/journal.ts";
import type { OrderManager } from "../oms/oms.ts";
import type { Venue } from "../venue/venue.ts";
import type { LiveDriver } from "./driver.ts";
import type { FeedStats } from "./feed.ts";

export interface StatusInputs {
  venue: Venue;
  driver: LiveDriver;
  engine: TradingEngine | null;
  oms: OrderManager;
  journal: OrderJournal;
  feed: () => FeedStats;
  mode: string;
}

const round = (x: number, d = 2) => Number.isFinite(x) ? Number(x.toFixed(d)) : null;

/** Builds the status fields and records the equity row; `peak` carries the run's peak equity. */
export function statusLine(s: StatusInputs, peak: { equity: number }): Record<string, unknown> {
  const a = s.venue.account();
  const positions = s.venue.positions();
  if (!(a.equity <= peak.equity)) peak.equity = a.equity;
  const drawdown = peak.equity > 0 ? 1 - a.equity / peak.equity : 0;
  let gross = 0;
  for (const p of positions) gross += p.size * p.markPrice;
  s.journal.recordEquity({
    ts: Date.now(),
    engineTs: Number.isFinite(s.driver.engineTime) ? s.driver.engineTime : null,
    equity: a.equity,
    balance: a.balance,
    available: a.available,
    unrealizedPnl: a.unrealizedPnl,
    grossNotional: gross,
    drawdown,
  });
  const d = s.engine?.decisions.at(-1);
  const f = s.feed();
  return {
    mode: s.mode,
    equity: round(a.equity),
    available: round(a.available),
    unrealizedPnl: round(a.unrealizedPnl),
    drawdownPct: round(drawdown * 100),
    positions: positions.map((p) => `${p.symbol}:${p.holdSide}:${p.size}@${round(p.entryPrice, 4)}`)
      .join(",") || "flat",
    openOrders: s.venue.openOrders().length,
    lastDecision: d
      ? `${new Date(d.ts).toISOString()} ${d.symbol} ${d.side} ${d.reason} approved=${d.approved}`
      : "none",
    engineTime: Number.isFinite(s.driver.engineTime)
      ? new Date(s.driver.engineTime).toISOString()
      : null,
    feed: f.state,
    feedFrames: f.frames,
    feedLagP50Ms: round(f.lagP50Ms, 1),
    feedReplayed: f.replayed || undefined,
    sinceLastFrameMs: round(f.sinceLastFrameMs, 0),
    reconnects: f.reconnects,
    orders: s.oms.counters.submitted,
    rejected: s.oms.counters.rejected,
    unknownOutcomes: s.oms.counters.unknown,
    fills: s.oms.counters.fills,
    blockedEntries: s.driver.counters.blockedEntries,
    halted: s.driver.killReason ?? undefined,
  };
}
