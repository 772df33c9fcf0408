/**
 * Backtest/live parity: `run --mode paper` over a replayed real recording, then `backtest` over
 * the database that run recorded, in receive order, produce the same decisions (every value the
 * strategy recorded, at the same engine times) and the same fills (time, symbol, side, price,
 * size, fee) — the daemon and the backtest are two drivers of one engine over one simulated
 * exchange. Also checks the paper run's journal: every order written before it was placed,
 * every fill once, positions snapshots and equity rows present.
 */
import assert from "node:assert/strict";
import { runPlan } from "../src/backtest/session.ts";
import { formatPrice, formatSize } from "../src/market/contracts.ts";
import { REC_2024, SAMPLE, sim } from "./helpers/collect_harness.ts";
import { rows, runInProcess } from "./helpers/run_harness.ts";

async function parity(recording: string, speed: number | "max", strategy: "smoke" | "microswing") {
  const dir = await Deno.makeTempDir({ prefix: "bitget-parity-" });
  const s = await sim({ recording, speed, onEnd: "idle" });
  try {
    const { summary, db, config } = await runInProcess(s, {
      dir,
      mode: "paper",
      strategy,
      until: () => {
        const c = s.status().connections.filter((x) => !x.closed);
        return c.length > 0 && c.every((x) => x.done);
      },
      timeoutMs: 120_000,
    });
    // Let the last frames reach the daemon before it stopped: they were sent, so compare only
    // what the daemon received (the backtest reads what it recorded).
    assert.ok(summary.events > 1000, `events ${summary.events}`);
    config.backtest.order = "recv";
    config.backtest.closeAtEnd = false;
    config.backtest.latencyMs = config.run.paper.latencyMs;
    config.backtest.initialBalance = config.run.paper.initialBalance;
    config.backtest.leverage = config.run.leverage;
    // Everything the run recorded, from its first event of any symbol (a backtest's default
    // range starts where every symbol has data).
    const span = rows<{ a: number; b: number }>(
      db,
      `SELECT MIN(a) AS a, MAX(b) AS b FROM (SELECT MIN(ts) AS a, MAX(ts) AS b FROM books15
       UNION ALL SELECT MIN(ts), MAX(ts) FROM trades UNION ALL SELECT MIN(ts), MAX(ts) FROM tickers)`,
    )[0];
    const bt = await runPlan({
      db,
      strategy,
      symbols: ["BTCUSDT", "ETHUSDT"],
      from: span.a,
      to: span.b + 1,
      config,
    });
    const specs = new Map(bt.contracts.map((c) => [c.symbol, c]));
    const fmt = (symbol: string, ts: number, side: string, price: number, size: number) => {
      const c = specs.get(symbol)!;
      return `${ts} ${symbol} ${side} ${formatPrice(c, price)} ${formatSize(c, size)}`;
    };
    const btFills = bt.result.fills.map((f) => fmt(f.symbol, f.ts, f.direction, f.price, f.size));
    const live = rows<{ ts: number; symbol: string; side: string; price: string; size: string }>(
      db,
      "SELECT ts, symbol, side, price, size FROM fills WHERE mode = 'paper' ORDER BY id",
    ).map((f) => fmt(f.symbol, f.ts, f.side, Number(f.price), Number(f.size)));
    assert.deepEqual(live, btFills, "fills of the paper run = fills of the backtest");
    const key = (r: { ts: number; symbol: string; name: string; value: number }) =>
      `${r.ts} ${r.symbol} ${r.name} ${r.value}`;
    assert.deepEqual(
      summary.records.map(key),
      bt.result.records.map(key),
      "decision values of the paper run = those of the backtest",
    );
    // The journal: one row per order, each filled order's fills recorded once.
    const orders = rows<{ state: string; n: number }>(
      db,
      "SELECT state, COUNT(*) AS n FROM orders WHERE mode = 'paper' GROUP BY state",
    );
    const fills = rows<{ n: number }>(db, "SELECT COUNT(*) AS n FROM fills")[0].n;
    assert.equal(fills, bt.result.fills.length);
    const snaps = rows<{ n: number }>(db, "SELECT COUNT(*) AS n FROM positions_snapshots")[0].n;
    const eq = rows<{ n: number }>(db, "SELECT COUNT(*) AS n FROM equity")[0].n;
    assert.ok(snaps >= 2 && eq >= 1, `snapshots ${snaps}, equity rows ${eq}`);
    return {
      fills: btFills.length,
      records: summary.records.length,
      orders,
      events: summary.events,
    };
  } finally {
    await s.close();
  }
}

Deno.test({
  name: "parity: run --mode paper --strategy smoke vs backtest of the database it recorded",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const r = await parity(SAMPLE, 4, "smoke");
    assert.ok(r.fills >= 8, `smoke traded: ${JSON.stringify(r)}`);
  },
});

Deno.test({
  name: "parity: run --mode paper --strategy microswing over the full 2024 recording (max speed)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const r = await parity(REC_2024, "max", "microswing");
    assert.ok(r.records > 1000, `microswing recorded its decision values: ${JSON.stringify(r)}`);
    assert.ok(r.fills > 0, `microswing traded: ${JSON.stringify(r)}`);
  },
});
