import assert from "node:assert/strict";
import { join } from "node:path";
import { computeMetrics } from "../src/backtest/metrics.ts";
import { flat, roundToLot } from "../src/backtest/reference_strategies.ts";
import {
  downsampleEquity,
  downsampleOhlc,
  histogram,
  monthlyReturns,
  type PriceBar,
  renderReportHtml,
  type ReportInput,
  writeReportHtml,
} from "../src/backtest/report_html.ts";
import { MAX_TRADE_ROWS } from "../src/backtest/report_tables.ts";
import { ReplaySource } from "../src/backtest/replay_source.ts";
import { type BacktestResult, runBacktest } from "../src/backtest/runner.ts";
import type { OrderIntent, StrategyContext, Trader } from "../src/engine/contract.ts";
import { buildTrades } from "../src/backtest/trades.ts";
import { readCandles } from "../src/store/readers.ts";
import { Store } from "../src/store/store.ts";
import { importCandleHistory, TEST_CONTRACTS } from "./helpers/backtest_data.ts";
import { findChromium } from "./helpers/chromium.ts";

const CONTRACTS = TEST_CONTRACTS;
const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
const INITIAL = 100_000;

/**
 * Test strategy: every `everyBars` closed bars of a symbol it targets ±`notionalUsdt`, starting
 * long, flipping with one market order (one-way mode nets it: the close ends a round trip and
 * the rest opens the next). Closes everything at the end (reason `end_of_test`).
 */
function alternating(everyBars: number, notionalUsdt: number): Trader {
  const count = new Map<string, number>();
  const signed = (ctx: StrategyContext, s: string) => {
    const p = ctx.positions().find((x) => x.symbol === s);
    return p ? (p.holdSide === "long" ? p.size : -p.size) : 0;
  };
  return {
    name: "alternating",
    onBar(bar, ctx): OrderIntent[] | void {
      const n = (count.get(bar.symbol) ?? 0) + 1;
      count.set(bar.symbol, n);
      if ((n - 1) % everyBars !== 0) return;
      const cur = signed(ctx, bar.symbol);
      const size = roundToLot(notionalUsdt / bar.close, ctx.contract(bar.symbol));
      const target = cur > 0 ? -size : size;
      const delta = Number((target - cur).toFixed(ctx.contract(bar.symbol).volumePlace));
      if (delta === 0) return;
      return [{
        symbol: bar.symbol,
        side: delta > 0 ? "buy" : "sell",
        size: Math.abs(delta),
        reason: delta > 0 ? "flip_to_long" : "flip_to_short",
      }];
    },
    onEnd(ctx): OrderIntent[] {
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

interface RenderCheck {
  charts: number;
  drawn: number;
  errors: string[];
  final: boolean;
  details: {
    chart: string;
    canvases: number;
    ink: Record<string, number>;
    drawn: boolean;
    markers: number | null;
    labels?: number | null;
    visible?: [number, number] | null;
    bars?: number;
  }[];
}

/** Loads the file in headless Chromium and returns the parsed #render-check JSON and time. */
async function renderInChromium(file: string): Promise<{ check: RenderCheck; ms: number }> {
  const bin = await findChromium();
  const profile = await Deno.makeTempDir({ prefix: "report-chromium-" });
  try {
    const t0 = performance.now();
    const out = await new Deno.Command(bin, {
      args: [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        `--user-data-dir=${profile}`,
        "--window-size=1400,1000",
        // A hidden or "occluded" headless window would throttle timers and animation frames.
        "--disable-background-timer-throttling",
        "--disable-backgrounding-occluded-windows",
        "--disable-renderer-backgrounding",
        "--run-all-compositor-stages-before-draw",
        // Virtual time: idle waits are skipped, so a generous budget costs little wall time.
        "--virtual-time-budget=30000",
        "--dump-dom",
        `file://${file}`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const ms = performance.now() - t0;
    const dom = new TextDecoder().decode(out.stdout);
    const m = dom.match(/<pre id="render-check">([\s\S]*?)<\/pre>/);
    assert.ok(
      out.success && m,
      `chromium exit ${out.code}, no #render-check in the DOM; stderr:\n${
        new TextDecoder().decode(out.stderr).slice(-2000)
      }`,
    );
    const text = m[1].replaceAll("&quot;", '"').replaceAll("&lt;", "<").replaceAll("&gt;", ">")
      .replaceAll("&amp;", "&");
    assert.notEqual(text, "pending", "the self-check never ran");
    const check = JSON.parse(text) as RenderCheck;
    assert.ok(check.final, `the self-check did not finish in Chromium's time budget: ${text}`);
    return { check, ms };
  } finally {
    await Deno.remove(profile, { recursive: true });
  }
}

/** No script/link/img/iframe may load from the network: the page must open offline. */
function assertOffline(html: string) {
  const ext = html.match(/<(script|link|img|iframe|source)\b[^>]*\b(src|href)\s*=\s*["']?https?:/i);
  assert.equal(ext, null, `external resource: ${ext?.[0]}`);
  assert.ok(!/@import\s+url\(\s*["']?https?:/i.test(html), "CSS @import from the network");
}

Deno.test({
  name: "backtest report: real 30-day BTC+ETH backtest renders in headless Chromium",
  sanitizeResources: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "bt-report-" });
    const store = Store.open(join(dir, "bt.db"), { create: true });
    try {
      const btc = await importCandleHistory(store);
      // As in backtest_core_test: candle replay keys bars by close time, hence the +2 bars.
      const from = btc.firstTs!;
      const to = btc.lastTs! + 120_000;
      const src = () =>
        new ReplaySource(store, { symbols: SYMBOLS, from, to, mode: "candles", interval: "1m" });
      const prices: Record<string, PriceBar[]> = Object.fromEntries(
        SYMBOLS.map((s) => [s, readCandles(store, s, "1m", from - 60_000, to - 60_000)]),
      );
      const input = (r: BacktestResult, title: string): ReportInput => {
        const trades = buildTrades(r);
        return {
          title,
          result: r,
          trades,
          metrics: computeMetrics(r, trades),
          prices,
          params: {
            strategy: r.strategy,
            symbols: SYMBOLS.join(", "),
            initialBalance: INITIAL,
            leverage: 10,
            source: "binance_usdm 1m CSV (/work/shared/data)",
            closeAtEnd: true,
            note: `</script><b>escaped?</b> & "quoted"`,
          },
        };
      };

      await t.step(
        "alternating long/short: all charts drawn, markers present, offline",
        async () => {
          const r = runBacktest(src(), alternating(360, 10_000), {
            contracts: CONTRACTS,
            initialBalance: INITIAL,
          });
          const inp = input(r, "alternating · BTCUSDT, ETHUSDT · 2025-05-04 → 2025-06-03");
          assert.ok(inp.trades.length > 200, `trades ${inp.trades.length}`);
          const t0 = performance.now();
          const html = renderReportHtml(inp);
          const renderMs = performance.now() - t0;
          const file = join(dir, "out", "report.html");
          await writeReportHtml(file, inp);
          assert.equal(await Deno.readTextFile(file), html);
          assertOffline(html);
          // Escaping: the hostile parameter value appears only escaped.
          assert.ok(!html.includes("<b>escaped?</b>"));
          assert.ok(
            html.includes("&lt;/script&gt;&lt;b&gt;escaped?&lt;/b&gt; &amp; &quot;quoted&quot;"),
          );
          assert.ok(html.includes('href="https://www.tradingview.com/"'), "attribution link");
          assert.ok(html.includes("TradingView Lightweight Charts™ v5.2.1"), "attribution notice");
          const bytes = new TextEncoder().encode(html).length;
          assert.ok(bytes > 200_000 && bytes < 3_000_000, `page size ${bytes} B`);
          // The embedded data respects the caps.
          const json = JSON.parse(html.match(/id="report-data">([\s\S]*?)<\/script>/)![1]);
          for (const s of json.symbols) {
            assert.ok(
              s.bars.length > 1000 && s.bars.length <= 5000,
              `${s.symbol} ${s.bars.length}`,
            );
          }
          assert.ok(json.equity.length <= 5000 && json.equity.length > 1000);

          const { check, ms } = await renderInChromium(file);
          console.log(
            `report: ${(bytes / 1024).toFixed(0)} KiB, ${inp.trades.length} trades, ` +
              `${r.equity.length} equity samples → ${json.equity.length}, bars ` +
              `${json.symbols.map((s: { bars: unknown[] }) => s.bars.length).join("/")}; ` +
              `renderReportHtml ${renderMs.toFixed(0)} ms, chromium load+draw+check ${
                ms.toFixed(0)
              } ms`,
          );
          console.log(`render-check: ${JSON.stringify(check)}`);
          assert.deepEqual(check.errors, []);
          assert.equal(check.charts, 4, "2 price charts + equity + PnL histogram");
          assert.equal(check.drawn, check.charts);
          const markers = check.details.filter((d) => d.chart.startsWith("price-"));
          assert.equal(markers.length, 2);
          for (const d of markers) {
            assert.ok((d.markers ?? 0) > 100, `${d.chart} markers ${d.markers}`);
            // Over 40 markers: no labels on the pane (they show on hover instead).
            assert.equal(d.labels, 0, `${d.chart} labels`);
            // The pane opens on the whole run: first and last bar inside the visible range.
            assert.ok(d.visible && d.bars, `${d.chart} range ${JSON.stringify(d.visible)}`);
            assert.ok(
              d.visible[0] <= 0.5 && d.visible[1] >= d.bars - 1.5,
              `${d.chart}: visible ${JSON.stringify(d.visible)} of ${d.bars} bars`,
            );
          }
          // Each round trip gives an entry and an exit marker.
          assert.equal(
            markers.reduce((a, d) => a + d.markers!, 0),
            2 * inp.trades.length,
          );
        },
      );

      await t.step("flat (0 trades): renders, says so, no histogram chart", async () => {
        const r = runBacktest(src(), flat(), { contracts: CONTRACTS, initialBalance: INITIAL });
        const inp = input(r, "flat · BTCUSDT, ETHUSDT");
        assert.equal(inp.trades.length, 0);
        const file = join(dir, "flat", "report.html");
        await writeReportHtml(file, inp);
        const html = await Deno.readTextFile(file);
        assertOffline(html);
        assert.ok(html.includes("No trades: nothing to distribute."));
        assert.ok(html.includes("No trades.</p>"));
        assert.ok(!html.includes('data-chart="pnl"'));
        const { check } = await renderInChromium(file);
        assert.deepEqual(check.errors, []);
        assert.equal(check.charts, 3);
        assert.equal(check.drawn, 3, JSON.stringify(check.details));
        for (const d of check.details) if (d.markers !== null) assert.equal(d.markers, 0);

        // The self-check must catch failures: without the chart library nothing is drawn, and
        // uncaught page errors are listed.
        const lib = html.indexOf("<script>/*!");
        assert.ok(lib > 0, "inlined library script");
        const broken = html.slice(0, lib) + `<script>throw new Error("boom");</script>` +
          html.slice(html.indexOf("</script>", lib) + "</script>".length);
        const bad = join(dir, "flat", "broken.html");
        await Deno.writeTextFile(bad, broken);
        const { check: c2 } = await renderInChromium(bad);
        assert.equal(c2.charts, 3);
        assert.equal(c2.drawn, 0);
        assert.ok(c2.errors.some((e) => e.includes("boom")), JSON.stringify(c2.errors));
        assert.ok(c2.errors.some((e) => e.includes("did not load")), JSON.stringify(c2.errors));
      });

      await t.step("trades table truncates at 500 rows and says so", () => {
        const r = runBacktest(src(), alternating(60, 5_000), {
          contracts: CONTRACTS,
          initialBalance: INITIAL,
        });
        const inp = input(r, "alternating 1h");
        assert.ok(inp.trades.length > MAX_TRADE_ROWS, `trades ${inp.trades.length}`);
        const html = renderReportHtml(inp);
        const table = html.slice(html.indexOf('<table class="trades">'));
        const rows = table.slice(0, table.indexOf("</table>")).match(/<tr>/g)!.length;
        assert.equal(rows, MAX_TRADE_ROWS + 1);
        assert.ok(
          html.includes(
            `Showing the first ${MAX_TRADE_ROWS} of ${inp.trades.length.toLocaleString("en-US")}`,
          ),
        );
      });
    } finally {
      store.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Deterministic PRNG (mulberry32) for the synthetic property tests. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function maxDd(xs: readonly number[]): number {
  let peak = -Infinity;
  let dd = 0;
  for (const x of xs) {
    peak = Math.max(peak, x);
    dd = Math.max(dd, 1 - x / peak);
  }
  return dd;
}

Deno.test("report: downsampleOhlc aggregates OHLC-correctly into time-aligned buckets", () => {
  const r = rng(7);
  const t0 = Date.UTC(2025, 4, 4, 0, 7);
  const bars: PriceBar[] = [];
  let p = 100;
  for (let i = 0; i < 43_200; i++) {
    const o = p;
    p *= Math.exp((r() - 0.5) * 0.004);
    bars.push({
      ts: t0 + i * 60_000,
      open: o,
      high: Math.max(o, p) * (1 + r() * 1e-3),
      low: Math.min(o, p) * (1 - r() * 1e-3),
      close: p,
    });
  }
  const { bars: out, widthMs } = downsampleOhlc(bars, 5000);
  assert.equal(widthMs, 600_000, "30 d of 1 m bars → 10 m buckets");
  assert.ok(out.length <= 5000 && out.length >= 4320);
  // Reference aggregation by bucket key.
  const ref = new Map<number, PriceBar[]>();
  for (const b of bars) {
    const k = Math.floor(b.ts / widthMs) * widthMs;
    (ref.get(k) ?? ref.set(k, []).get(k)!).push(b);
  }
  assert.equal(out.length, ref.size);
  for (const o of out) {
    const g = ref.get(o.ts)!;
    assert.equal(o.ts % widthMs, 0);
    assert.equal(o.open, g[0].open);
    assert.equal(o.close, g[g.length - 1].close);
    assert.equal(o.high, Math.max(...g.map((b) => b.high)));
    assert.equal(o.low, Math.min(...g.map((b) => b.low)));
  }
  // The cap holds for any alignment and cap, including ones no standard width fits.
  for (const cap of [3, 10, 37, 100, 999, 4321]) {
    for (const off of [0, 7, 333, 1999]) {
      const sub = bars.slice(off, off + 4321 + off);
      const ds = downsampleOhlc(sub, cap);
      assert.ok(ds.bars.length <= cap, `cap ${cap} offset ${off}: ${ds.bars.length}`);
      assert.equal(ds.bars[0].open, sub[0].open);
      assert.equal(ds.bars.at(-1)!.close, sub.at(-1)!.close);
    }
  }
  // Within the cap: unchanged copies; out of order: a clear error.
  assert.deepEqual(downsampleOhlc(bars.slice(0, 100)).bars, bars.slice(0, 100));
  assert.throws(() => downsampleOhlc([bars[1], bars[0]]), /strictly ascending/);
});

Deno.test("report: downsampleEquity keeps ≤ cap points and the exact max drawdown", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const r = rng(seed);
    let e = 100_000;
    const eq = Array.from({ length: 43_201 }, (_, i) => {
      e *= 1 + (r() - 0.5) * 0.003;
      return { ts: i * 60_000, equity: e, grossExposure: 0 };
    });
    const out = downsampleEquity(eq, 5000);
    assert.ok(out.length <= 5000, `${out.length}`);
    assert.equal(out[0].ts, eq[0].ts);
    assert.equal(out.at(-1)!.ts, eq.at(-1)!.ts);
    for (let i = 1; i < out.length; i++) assert.ok(out[i].ts > out[i - 1].ts);
    const full = maxDd(eq.map((p) => p.equity));
    assert.ok(full > 0.02, `seed ${seed}: dd ${full}`);
    assert.equal(maxDd(out.map((p) => p.equity)), full);
    // Drawdown per kept point is that of the full curve at the same sample.
    assert.equal(Math.max(...out.map((p) => p.drawdown)), full);
  }
});

Deno.test("report: monthly returns compound per month and per year (UTC)", () => {
  const pts = [
    { ts: Date.UTC(2024, 11, 15), equity: 100 },
    { ts: Date.UTC(2024, 11, 31, 23, 59), equity: 105 }, // Dec 2024: +5 %
    { ts: Date.UTC(2025, 0, 1, 0, 0), equity: 110 },
    { ts: Date.UTC(2025, 0, 31, 23, 59), equity: 94.5 }, // Jan: 94.5 / 105 − 1 = −10 %
    // February has no samples.
    { ts: Date.UTC(2025, 2, 10), equity: 120 },
    { ts: Date.UTC(2025, 2, 31, 12), equity: 103.95 }, // Mar: 103.95 / 94.5 − 1 = +10 %
  ];
  const m = monthlyReturns(pts);
  assert.deepEqual(m.months.map((x) => [x.year, x.month]), [[2024, 12], [2025, 1], [2025, 3]]);
  const rets = m.months.map((x) => x.ret);
  [0.05, -0.1, 0.1].forEach((want, i) => assert.ok(Math.abs(rets[i] - want) < 1e-12, `${rets[i]}`));
  assert.equal(m.years.length, 2);
  assert.ok(Math.abs(m.years[0].ret - 0.05) < 1e-12);
  // 2025 compounds to the equity change over the year: 103.95 / 105 − 1.
  assert.ok(Math.abs(m.years[1].ret - (103.95 / 105 - 1)) < 1e-12);
  assert.deepEqual(monthlyReturns([]), { months: [], years: [] });
});

Deno.test("report: PnL histogram bins count every trade and never straddle zero", () => {
  const r = rng(11);
  const xs = Array.from({ length: 300 }, () => (r() - 0.4) * 200);
  const h = histogram(xs);
  assert.equal(h.reduce((a, b) => a + b.count, 0), 300);
  assert.ok(h.length >= 5 && h.length <= 41, `${h.length} bins`);
  for (const b of h) assert.ok(b.lo >= -1e-9 || b.hi <= 1e-9, `bin [${b.lo}, ${b.hi})`);
  assert.ok(h[0].lo <= Math.min(...xs) && h.at(-1)!.hi >= Math.max(...xs));
  assert.deepEqual(histogram([]), []);
  assert.equal(histogram([5, 5, 5])[0].count, 3);
});
