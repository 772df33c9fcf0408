import assert from "node:assert/strict";
import { computeMetrics } from "../src/backtest/metrics.ts";
import { ReplaySource } from "../src/backtest/replay_source.ts";
import { runBacktestAsync } from "../src/backtest/runner.ts";
import { buildTrades } from "../src/backtest/trades.ts";
import { parseConfig } from "../src/config/config.ts";
import { TradingEngine } from "../src/engine/engine.ts";
import { engineConfig, roundStop } from "../src/engine/engine_support.ts";
import { readCandles } from "../src/store/readers.ts";
import type { ClosedBar, TradingStrategy } from "../src/strategy/types.ts";
import { candleDb, near, SYMBOLS } from "./helpers/backtest_data.ts";

/**
 * A test strategy with known decisions: every `every` 15m bars of BTCUSDT it flips side, with a
 * 1 % stop, a 2 % target and a 1.5 % trailing stop. It exercises every engine path (sizing from
 * the stop, risk cut, preset SL/TP, trailing plan, flips, venue-closed notifications).
 */
function alternator(every: number) {
  let n = 0;
  const closedByVenue: { symbol: string; reason: string; time: number }[] = [];
  const bars: ClosedBar[] = [];
  const s: TradingStrategy = {
    name: "alternator",
    barIntervals: ["15m"],
    onBar(bar, view) {
      bars.push(bar);
      if (bar.symbol !== "BTCUSDT") return;
      n++;
      view.record(bar.symbol, "n", n);
      if (n % every !== 0) return;
      const side = view.position(bar.symbol)?.side === "long" ? "short" : "long";
      const c = bar.close;
      const k = side === "long" ? 1 : -1;
      return [{
        kind: "enter",
        symbol: bar.symbol,
        side,
        price: c,
        stopPrice: c * (1 - k * 0.01),
        takeProfitPrice: c * (1 + k * 0.02),
        trailingRatio: 0.015,
        reason: `alt_${side}`,
      }];
    },
    onPositionClosed(symbol, reason, time) {
      closedByVenue.push({ symbol, reason, time });
    },
  };
  return { s, closedByVenue, bars };
}

Deno.test("engine: 30-day real 1m candles — sizing, risk, SL/TP/trailing, accounting", async () => {
  const db = await candleDb();
  try {
    const config = parseConfig({
      risk: { sizing: { method: "risk_per_trade", riskPerTrade: 0.01 } },
    });
    const { s, closedByVenue, bars } = alternator(16);
    const ecfg = engineConfig(config.risk, { closeAtEnd: true, latencyMs: 50 });
    const engine = new TradingEngine(s, ecfg, "candles");
    const source = new ReplaySource(db.store, {
      symbols: SYMBOLS,
      from: db.from,
      to: db.to,
      mode: "candles",
      interval: "1m",
    });
    const initial = 10_000;
    const r = await runBacktestAsync(source, engine, {
      contracts: db.contracts,
      initialBalance: initial,
      leverage: 5,
      latencyMs: 50,
      presetTriggerType: "fill_price",
    });
    // 15m bars cut from 1m candles equal an independent aggregation of the stored candles.
    const oneMin = readCandles(db.store, "BTCUSDT", "1m", db.from - 60_000, db.to);
    const btc15 = bars.filter((b) => b.symbol === "BTCUSDT");
    assert.ok(btc15.length > 2800, `15m bars ${btc15.length}`);
    for (const b of btc15.slice(0, 200)) {
      const parts = oneMin.filter((c) => c.ts >= b.ts && c.ts < b.ts + 900_000);
      assert.equal(parts.length, 15);
      assert.equal(b.open, parts[0].open);
      assert.equal(b.close, parts[14].close);
      assert.equal(b.high, Math.max(...parts.map((c) => c.high)));
      assert.equal(b.low, Math.min(...parts.map((c) => c.low)));
    }

    // Accounting closes: start + Σ realized − fees + funding = end balance = end equity (flat).
    const a = r.finalAccount;
    const realized = r.fills.reduce((x, f) => x + f.realizedPnl, 0) +
      r.liquidations.reduce((x, l) => x + l.realizedPnl, 0);
    near(initial + realized - a.totalFees + a.totalFunding, a.balance, 1e-8, "balance identity");
    assert.equal(r.finalPositions.length, 0, "closed at end");
    near(r.equity.at(-1)!.equity, a.balance, 1e-8, "end equity");
    const trades = buildTrades(r);
    near(trades.reduce((x, t) => x + t.netPnl, 0), a.balance - initial, 1e-6, "Σ trade net PnL");

    // Venue-closed trades carry the plan's reason and were reported to the strategy.
    const reasons = new Set(trades.map((t) => t.exitReason));
    for (const want of ["stop_loss", "take_profit", "trailing_stop"]) {
      assert.ok(reasons.has(want), `an exit by ${want} (got ${[...reasons].join(", ")})`);
    }
    assert.ok(closedByVenue.length > 0);
    for (const c of closedByVenue) {
      assert.ok(["stop_loss", "take_profit", "trailing_stop", "liquidation"].includes(c.reason));
    }

    // Every fill lies in the bar range widened by the modelled spread (2 bps) and levels (5 × 1 bps).
    const bar1m = new Map(oneMin.map((c) => [c.ts + 60_000, c]));
    for (const f of r.fills) {
      // Orders sent at a close fill at the next event after the latency, against the close book.
      const b = bar1m.get(f.ts) ?? bar1m.get(Math.floor(f.ts / 60_000) * 60_000);
      assert.ok(b, `bar for fill at ${f.ts}`);
      const lo = b.low * (1 - 2e-4 - 5e-4);
      const hi = b.high * (1 + 2e-4 + 5e-4);
      assert.ok(f.price >= lo && f.price <= hi, `${f.reason} fill ${f.price} ∉ [${lo}, ${hi}]`);
    }

    // Sizing: each approved entry risks at most 1 % of equity to its stop, fees included.
    const approved = engine.decisions.filter((d) => d.approved > 0);
    assert.ok(approved.length > 100, `approved entries ${approved.length}`);
    const spec = db.contracts[0];
    for (const d of approved) {
      const k = d.side === "long" ? 1 : -1;
      const stop = roundStop(d.price * (1 - k * 0.01), d.side, spec, "sl");
      assert.ok(Math.abs(d.price - stop) >= d.price * 0.01 - spec.tickSize);
    }
    // The risk manager's leverage cap held at every equity sample.
    for (const p of r.equity) {
      assert.ok(p.grossExposure <= config.risk.maxLeverage * p.equity * 1.05, `gross at ${p.ts}`);
    }
    // Each entry fill's stop plan was created by the venue at the rounded stop.
    const m = computeMetrics(r, trades);
    assert.ok(m.trades === trades.length && m.trades > 100);
    assert.ok(Number.isFinite(m.sharpe) && m.maxDrawdown >= 0 && m.maxDrawdown < 1);
  } finally {
    db.store.close();
    await Deno.remove(db.dir, { recursive: true });
  }
});
