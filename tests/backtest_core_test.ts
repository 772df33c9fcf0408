import assert from "node:assert/strict";
import { join } from "node:path";
import { computeMetrics } from "../src/backtest/metrics.ts";
import { writeOutputs } from "../src/backtest/outputs.ts";
import { buyAndHold, flat } from "../src/backtest/reference_strategies.ts";
import { ReplaySource } from "../src/backtest/replay_source.ts";
import { runBacktest } from "../src/backtest/runner.ts";
import { buildTrades } from "../src/backtest/trades.ts";
import { importCsv } from "../src/store/import_csv.ts";
import { readCandles } from "../src/store/readers.ts";
import { Store } from "../src/store/store.ts";
import { data, importCandleHistory, TEST_CONTRACTS } from "./helpers/backtest_data.ts";

const CONTRACTS = TEST_CONTRACTS;
const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
const INITIAL = 100_000;

async function buildDb(): Promise<{ store: Store; from: number; to: number; dir: string }> {
  const dir = await Deno.makeTempDir();
  const store = Store.open(join(dir, "bt.db"), { create: true });
  const btc = await importCandleHistory(store);
  // The 30-day window both symbols cover: the BTC file's bars. Candle replay keys bars by close
  // time, so [from, to) must reach one bar past the last start.
  return { store, from: btc.firstTs!, to: btc.lastTs! + 120_000, dir };
}

const near = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: expected ${b}, got ${a} (diff ${a - b})`);

Deno.test("backtest core: 30-day BTC+ETH 1m candles, flat / buy-and-hold, accounting, outputs", async (t) => {
  const { store, from, to, dir } = await buildDb();
  try {
    const src = () =>
      new ReplaySource(store, { symbols: SYMBOLS, from, to, mode: "candles", interval: "1m" });
    const bars = new Map(
      SYMBOLS.map((s) => [s, readCandles(store, s, "1m", from - 60_000, to - 60_000)]),
    );

    await t.step("flat keeps equity constant exactly", () => {
      const r = runBacktest(src(), flat(), { contracts: CONTRACTS, initialBalance: INITIAL });
      assert.ok(r.equity.length > 40_000, `equity samples ${r.equity.length}`);
      for (const p of r.equity) assert.equal(p.equity, INITIAL);
      assert.equal(r.fills.length, 0);
      const m = computeMetrics(r, buildTrades(r));
      assert.equal(m.totalReturn, 0);
      assert.equal(m.maxDrawdown, 0);
      assert.equal(m.sharpe, 0);
      assert.equal(m.exposure, 0);
      assert.ok(m.benchmarkBuyAndHoldReturn !== 0 && Number.isFinite(m.benchmarkBuyAndHoldReturn));
    });

    await t.step(
      "buy-and-hold: closed-form PnL, accounting identity, fill ranges, metrics, files",
      async () => {
        const started = performance.now();
        const r = runBacktest(src(), buyAndHold({ notionalUsdt: 10_000, at: "bar" }), {
          contracts: CONTRACTS,
          initialBalance: INITIAL,
        });
        const runMs = performance.now() - started;
        assert.equal(r.rejections.length, 0, JSON.stringify(r.rejections[0]));
        assert.equal(r.fills.length, 2);
        assert.ok(r.funding.length >= 2 * 89, `funding payments ${r.funding.length}`);
        const acct = r.finalAccount;
        // Closed form: Σ (last close − fill price)·size − fees + funding received.
        let expected = 0;
        for (const f of r.fills) {
          const b = bars.get(f.symbol)!;
          expected += (b[b.length - 1].close - f.price) * f.size - f.fee;
        }
        expected += r.funding.reduce((a, f) => a + f.amount, 0);
        const endEq = r.equity[r.equity.length - 1].equity;
        near(endEq - INITIAL, expected, 1e-8, "buy-and-hold PnL");
        // Accounting: start + Σ realized − fees + funding + unrealized = end equity.
        const realized = r.fills.reduce((a, f) => a + f.realizedPnl, 0);
        near(
          INITIAL + realized - acct.totalFees + acct.totalFunding,
          acct.balance,
          1e-8,
          "balance identity",
        );
        near(acct.balance + acct.unrealizedPnl, endEq, 1e-8, "equity identity");
        near(acct.totalFunding, r.funding.reduce((a, f) => a + f.amount, 0), 1e-8, "funding total");
        // Every fill lies within the synthetic book / bar range of the bar closing at its time.
        for (const f of r.fills) {
          const bar = bars.get(f.symbol)!.find((b) => b.ts + 60_000 === f.ts);
          assert.ok(bar, `no bar closing at fill ts ${f.ts}`);
          const lo = Math.min(bar.low, bar.close * (1 - 1e-4) * (1 - 5e-4));
          const hi = Math.max(bar.high, bar.close * (1 + 1e-4) * (1 + 5e-4));
          assert.ok(f.price >= lo && f.price <= hi, `fill ${f.price} outside [${lo}, ${hi}]`);
          near(f.price, bar.close * (1 + 1e-4), 1e-9 * f.price, "taker buy at synthetic ask");
          assert.ok(f.slippage > 0, "buy above mid costs slippage");
        }
        const trades = buildTrades(r);
        assert.equal(trades.length, 2);
        near(trades.reduce((a, x) => a + x.netPnl, 0), expected, 1e-6, "round-trip net PnL");
        const m = computeMetrics(r, trades);
        for (const [k, v] of Object.entries(m)) {
          assert.ok(v === null || Number.isFinite(v), `metric ${k} = ${v}`);
        }
        assert.ok(m.maxDrawdown >= 0 && m.maxDrawdown < 1);
        assert.ok(m.exposure > 0.99 && m.exposure <= 1, `exposure ${m.exposure}`);
        near(m.totalReturn, expected / INITIAL, 1e-12, "total return");
        near(
          m.turnover,
          r.fills.reduce((a, f) => a + f.price * f.size, 0) / INITIAL,
          1e-12,
          "turnover",
        );
        assert.equal(m.benchmarkFlatReturn, 0);
        // Files.
        const out = join(dir, "out");
        const paths = await writeOutputs(out, trades, r.equity, m);
        const tl = (await Deno.readTextFile(paths.trades)).trim().split("\n");
        assert.equal(tl.length, 3);
        assert.equal(tl[1].split(",").length, 16);
        const el = (await Deno.readTextFile(paths.equity)).trim().split("\n");
        assert.equal(el.length, r.equity.length + 1);
        const last = el[el.length - 1].split(",").map(Number);
        assert.equal(last[1], endEq);
        assert.ok(last[2] >= 0);
        const mj = JSON.parse(await Deno.readTextFile(paths.metrics));
        assert.equal(mj.totalReturn, m.totalReturn);

        // Throughput vs a plain SELECT loop over the same candle rows (logged, not asserted).
        const t0 = performance.now();
        let rows = 0;
        let chk = 0;
        const stmt = store.db.prepare(
          "SELECT * FROM candles WHERE symbol = ? AND interval = '1m' AND start_ts >= ? AND start_ts < ?",
        );
        for (const s of SYMBOLS) {
          for (
            const row of stmt.iterate(s, from - 60_000, to - 60_000) as Iterable<{ close: number }>
          ) {
            rows++;
            chk += row.close;
          }
        }
        const scanMs = performance.now() - t0;
        assert.ok(chk > 0 && rows === bars.get("BTCUSDT")!.length + bars.get("ETHUSDT")!.length);
        console.log(
          `backtest: ${r.events} events (${rows} bars) in ${runMs.toFixed(0)} ms = ` +
            `${(r.events / runMs * 1e3).toFixed(0)} events/s, ${
              (rows / runMs * 1e3).toFixed(0)
            } bars/s; ` +
            `raw SELECT scan ${(rows / scanMs * 1e3).toFixed(0)} rows/s`,
        );
      },
    );

    await t.step("buy-and-hold closing at the end realizes exactly the equity change", () => {
      const r = runBacktest(
        src(),
        buyAndHold({ notionalUsdt: 10_000, closeAtEnd: true, at: "bar" }),
        {
          contracts: CONTRACTS,
          initialBalance: INITIAL,
        },
      );
      assert.equal(r.fills.length, 4);
      assert.equal(r.finalPositions.length, 0);
      const a = r.finalAccount;
      near(
        INITIAL + a.totalRealizedPnl - a.totalFees + a.totalFunding,
        r.equity.at(-1)!.equity,
        1e-8,
        "closed",
      );
      const trades = buildTrades(r);
      assert.deepEqual(trades.map((x) => x.exitReason), ["end_of_test", "end_of_test"]);
      near(
        trades.reduce((s, x) => s + x.netPnl, 0),
        r.equity.at(-1)!.equity - INITIAL,
        1e-6,
        "trades net",
      );
    });

    await t.step("gap windows: missing bars refuse trading when configured", () => {
      // Drop 10 BTC bars right at the start so the first bar after them lies in a gap.
      store.db.prepare(
        "DELETE FROM candles WHERE symbol = 'BTCUSDT' AND start_ts >= ? AND start_ts < ?",
      )
        .run(from + 60_000, from + 11 * 60_000);
      const s = src();
      const r = runBacktest(s, buyAndHold({ notionalUsdt: 10_000, at: "bar" }), {
        contracts: CONTRACTS,
        initialBalance: INITIAL,
      });
      assert.ok(s.gaps.some((g) => g.symbol === "BTCUSDT" && g.source === "missing_bars"));
      // BTC is bought at the first bar (before the hole), so nothing is blocked; a strategy
      // that only buys inside the gap is refused.
      assert.equal(r.fills.length, 2);
      const g = s.gaps.find((x) => x.source === "missing_bars")!;
      // A strategy buying BTC on the first bar after the hole is refused (and allowed when
      // tradeAcrossGaps is set).
      const afterHole = {
        name: "after_hole",
        onBar: (bar: { symbol: string; ts: number }) =>
          bar.symbol === "BTCUSDT" && bar.ts === from + 11 * 60_000
            ? [{ symbol: "BTCUSDT", side: "buy" as const, size: 0.01 }]
            : [],
      };
      const blocked = runBacktest(src(), afterHole, {
        contracts: CONTRACTS,
        initialBalance: INITIAL,
      });
      assert.equal(blocked.blockedIntents, 1);
      assert.equal(blocked.fills.length, 0);
      const allowed = runBacktest(src(), afterHole, {
        contracts: CONTRACTS,
        initialBalance: INITIAL,
        tradeAcrossGaps: true,
      });
      assert.equal(allowed.blockedIntents, 0);
      assert.equal(allowed.fills.length, 1);
      assert.ok(s.inGap("BTCUSDT", g.endTs) && !s.inGap("ETHUSDT", g.endTs));
    });
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("backtest core: raw books15 replay (real 1 s book snapshots), buy-and-hold accounting", async () => {
  const dir = await Deno.makeTempDir();
  const store = Store.open(join(dir, "raw.db"), { create: true });
  try {
    const r0 = await importCsv(
      store,
      data("binance_usdm_BTCUSDT_20240718T2357_book15_1s.csv"),
      "book15-1s",
      "BTCUSDT",
    );
    const src = new ReplaySource(store, {
      symbols: ["BTCUSDT"],
      from: r0.firstTs!,
      to: r0.lastTs! + 1,
      mode: "raw",
    });
    const r = runBacktest(src, buyAndHold({ notionalUsdt: 5_000 }), {
      contracts: [CONTRACTS[0]],
      initialBalance: INITIAL,
      sampleMs: 1_000,
    });
    assert.equal(r.events, r0.rows);
    assert.equal(r.fills.length, 1);
    const f = r.fills[0];
    // A taker buy walks real asks: at or above the mid at order time.
    assert.ok(f.price >= f.midAtOrder && f.slippage >= 0);
    const endEq = r.equity.at(-1)!.equity;
    near(endEq - INITIAL, (r.lastMid.BTCUSDT - f.price) * f.size - f.fee, 1e-8, "raw buy-and-hold");
    const m = computeMetrics(r, buildTrades(r));
    assert.ok(m.maxDrawdown >= 0 && m.exposure > 0 && m.exposure <= 1);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
