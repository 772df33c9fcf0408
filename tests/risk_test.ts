import assert from "node:assert/strict";
import {
  type ExchangeLimits,
  fitToLimits,
  fixedFractionSize,
  floorToLot,
  kellyFraction,
  kellySize,
  RiskInputError,
  riskPerTradeSize,
  type SizingContext,
  volTargetSize,
} from "../src/risk/sizing.ts";
import {
  type OrderIntent,
  type RiskConfig,
  RiskManager,
  type RiskPosition,
  type RiskState,
} from "../src/risk/limits.ts";
import { pearson } from "../src/risk/correlation.ts";

const BTC: ExchangeLimits = { lotSize: 0.001, minTradeNum: 0.001, minTradeUSDT: 5, maxLever: 125 };
const ctx = (over: Partial<SizingContext> = {}): SizingContext => ({
  equity: 10_000,
  price: 50_000,
  contract: BTC,
  maxLeverage: 3,
  ...over,
});
const close = (a: number, b: number, tol = 1e-9) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} ≉ ${b}`);

Deno.test("sizing: fixed fraction = f·equity/price", () => {
  const r = fixedFractionSize(ctx(), 0.5); // 5000 USDT / 50000
  assert.equal(r.size, 0.1);
  close(r.notional, 5000);
  assert.deepEqual(r.reasons, []);
});

Deno.test("sizing: risk per trade includes taker fees both ways", () => {
  // loss/unit = 2 + 0.0006·(100+98) = 2.1188 → 100/2.1188 = 47.1965… → lot 0.01 → 47.19
  const c = ctx({ price: 100, contract: { ...BTC, lotSize: 0.01, minTradeNum: 0.01 } });
  const r = riskPerTradeSize(c, 98, 0.01, 0.0006);
  close(r.rawSize, 100 / 2.1188);
  assert.equal(r.size, 47.19);
  assert.throws(() => riskPerTradeSize(c, 100, 0.01, 0.0006), RiskInputError);
});

Deno.test("sizing: volatility target notional = equity·target/realised", () => {
  const r = volTargetSize(ctx({ price: 2500 }), 0.2, 0.8); // 2500 USDT → 1 coin
  assert.equal(r.size, 1);
  assert.throws(() => volTargetSize(ctx(), 0.2, 0), /realisedVol/);
});

Deno.test("sizing: fractional Kelly, floored at 0", () => {
  close(kellyFraction(0.55, 1, 1), 0.1);
  close(kellyFraction(0.6, 2, 0.5), 0.5 * (0.6 - 0.4 / 2));
  assert.equal(kellyFraction(0.4, 1, 0.5), 0);
  assert.equal(
    kellySize(ctx({ price: 100, contract: { ...BTC, lotSize: 0.01 } }), 0.55, 1, 0.5).size,
    5,
  );
  assert.equal(kellySize(ctx(), 0.3, 1, 1).size, 0);
  assert.throws(() => kellyFraction(1.2, 1, 1), /winProb/);
});

Deno.test("sizing: leverage caps (configured and contract)", () => {
  const r = fixedFractionSize(ctx(), 10); // 100k notional, cap 3x → 30k → 0.6
  assert.equal(r.size, 0.6);
  assert.match(r.reasons[0], /leverage 3x/);
  assert.equal(fixedFractionSize(ctx({ contract: { ...BTC, maxLever: 2 } }), 10).size, 0.4);
});

Deno.test("sizing: lot rounding down and exchange minimums", () => {
  assert.equal(floorToLot(0.12345, 0.001), 0.123);
  assert.equal(floorToLot(0.3, 0.1), 0.3); // 0.3/0.1 = 2.9999999999999996 in floats
  assert.equal(floorToLot(0.0999, 0.1), 0);
  const small = fitToLimits(0.0005, ctx({ contract: { ...BTC, lotSize: 0.0001 } }));
  assert.equal(small.size, 0);
  assert.match(small.reasons[0], /minTradeNum/);
  const cheap = fitToLimits(0.001, ctx({ price: 1000 })); // 1 USDT < 5
  assert.equal(cheap.size, 0);
  assert.match(cheap.reasons[0], /minTradeUSDT/);
  assert.equal(fitToLimits(0.005, ctx({ price: 1000 })).size, 0.005); // exactly 5 USDT passes
});

Deno.test("pearson: hand-computed values", () => {
  close(pearson([1, 2, 3, 4], [2, 4, 6, 8], 10), 1);
  close(pearson([1, 2, 3, 4], [4, 3, 2, 1], 10), -1);
  close(pearson([1, 2, 3], [1, 3, 2], 10), 0.5);
  close(pearson([9, 9, 1, 2, 3], [1, 3, 2], 3), 0.5); // tail-aligned window
  assert.ok(Number.isNaN(pearson([1, 1, 1], [1, 2, 3], 3)));
});

// ---------- limits ----------

const CFG: Partial<RiskConfig> = {
  maxLeverage: 3,
  heatCap: 0.02,
  maxPositions: 2,
  correlationLimit: 0.8,
  correlationWindow: 100,
  minCorrelationSamples: 3,
  dailyLoss: 0.05,
  maxDrawdown: 0.2,
  maxSpreadBps: 10,
  depthMultiple: 5,
  minLiqDistance: 0.1,
  maintenanceMarginRate: 0.005,
  assumedStopFraction: 0.05,
};
const T0 = Date.UTC(2026, 0, 5, 12);
const state = (over: Partial<RiskState> = {}): RiskState => ({
  ts: T0,
  equity: 10_000,
  startOfDayEquity: 10_000,
  peakEquity: 10_000,
  positions: [],
  spreadBps: 1,
  depthUsdt: () => 1e12,
  markPrice: 10,
  ...over,
});
const buy = (size: number, over: Partial<OrderIntent> = {}): OrderIntent => ({
  symbol: "ETHUSDT",
  side: "buy",
  size,
  price: 10,
  stopPrice: 9,
  reduceOnly: false,
  ...over,
});
const btcLong: RiskPosition = {
  symbol: "BTCUSDT",
  side: "long",
  size: 1,
  markPrice: 100,
  stopPrice: 99,
};

Deno.test("limits: heat cap boundary", () => {
  const rm = new RiskManager(CFG); // cap 200 USDT, BTC uses 1 → ETH may risk 199 at 1/unit
  const s = state({ positions: [btcLong] });
  const ok = rm.evaluate(buy(199), s);
  assert.deepEqual([ok.allowed, ok.size, ok.reasons], [true, 199, []]);
  const cut = rm.evaluate(buy(250), s);
  close(cut.size, 199);
  assert.match(cut.reasons[0], /heat/);
  // No stop: assumedStopFraction·price = 0.5/unit → 398 units
  close(rm.evaluate(buy(1000, { stopPrice: undefined }), s).size, 398);
  assert.equal(rm.evaluate(buy(5, { stopPrice: 11 }), s).allowed, false); // stop on wrong side
});

Deno.test("limits: max concurrent positions", () => {
  const rm = new RiskManager(CFG);
  const sol: RiskPosition = {
    symbol: "SOLUSDT",
    side: "short",
    size: 1,
    markPrice: 10,
    stopPrice: 11,
  };
  const two = state({ positions: [btcLong, sol] });
  const d = rm.evaluate(buy(1), two);
  assert.equal(d.allowed, false);
  assert.match(d.reasons[0], /concurrent/);
  assert.equal(rm.evaluate(buy(1), state({ positions: [btcLong] })).allowed, true);
  // adding to an open position does not count as a new one
  assert.equal(
    rm.evaluate(buy(1, { symbol: "SOLUSDT", side: "sell", stopPrice: 11 }), two).size,
    1,
  );
});

Deno.test("limits: correlation cap blocks a second same-direction position", () => {
  const ret: Record<string, number[]> = { BTCUSDT: [1, 2, 3], ETHUSDT: [1, 3, 2] }; // ρ = 0.5
  const s = state({ positions: [btcLong], returns: (sym) => ret[sym] });
  assert.equal(
    new RiskManager({ ...CFG, correlationLimit: 0.5 }).evaluate(buy(1), s).allowed,
    true,
  );
  const blocked = new RiskManager({ ...CFG, correlationLimit: 0.49 }).evaluate(buy(1), s);
  assert.equal(blocked.allowed, false);
  assert.match(blocked.reasons[0], /correlation 0.500/);
  const short = buy(1, { side: "sell", stopPrice: 11 });
  assert.equal(
    new RiskManager({ ...CFG, correlationLimit: 0.49 }).evaluate(short, s).allowed,
    true,
  );
  // too few samples → not evaluated
  const few = new RiskManager({ ...CFG, correlationLimit: 0.49, minCorrelationSamples: 4 });
  assert.equal(few.evaluate(buy(1), s).allowed, true);
});

Deno.test("limits: daily loss kill-switch latches until 00:00 UTC", () => {
  const rm = new RiskManager(CFG);
  const long: RiskPosition = {
    symbol: "ETHUSDT",
    side: "long",
    size: 3,
    markPrice: 10,
    stopPrice: 9,
  };
  assert.equal(rm.evaluate(buy(1), state({ equity: 9500.01 })).allowed, true);
  const hit = rm.evaluate(buy(1), state({ equity: 9500, positions: [long] }));
  assert.equal(hit.allowed, false);
  assert.match(hit.reasons[0], /daily loss/);
  // reduce-only still passes, clamped to the position
  const ro = rm.evaluate(
    buy(5, { side: "sell", reduceOnly: true }),
    state({ equity: 9500, positions: [long] }),
  );
  assert.deepEqual([ro.allowed, ro.size], [true, 3]);
  // equity recovers the same day: still halted
  const endOfDay = Date.UTC(2026, 0, 5, 23, 59, 59, 999);
  assert.equal(rm.evaluate(buy(1), state({ ts: endOfDay, equity: 9900 })).allowed, false);
  // next UTC day with a fresh start-of-day equity: trading resumes
  const midnight = Date.UTC(2026, 0, 6);
  assert.equal(
    rm.evaluate(buy(1), state({ ts: midnight, equity: 9900, startOfDayEquity: 9900 })).allowed,
    true,
  );
});

Deno.test("limits: max drawdown kill-switch latches until reset", () => {
  const rm = new RiskManager(CFG);
  const sod = { startOfDayEquity: 8000 };
  assert.equal(rm.evaluate(buy(1), state({ equity: 8000.01, ...sod })).allowed, true);
  assert.equal(rm.evaluate(buy(1), state({ equity: 8000, ...sod })).allowed, false);
  const later = { ts: T0 + 3 * 86_400_000, equity: 9000, startOfDayEquity: 9000 };
  const d = rm.evaluate(buy(1), state(later));
  assert.equal(d.allowed, false);
  assert.match(d.reasons[0], /drawdown/);
  rm.resetDrawdownHalt();
  assert.equal(rm.evaluate(buy(1), state(later)).allowed, true);
});

Deno.test("limits: spread and depth kill-switches", () => {
  const rm = new RiskManager(CFG);
  assert.equal(rm.evaluate(buy(1), state({ spreadBps: 10 })).allowed, true);
  assert.equal(rm.evaluate(buy(1), state({ spreadBps: 10.01 })).allowed, false);
  // order notional 100 USDT × 5 = 500 USDT of asks needed
  let asked: string | null = null;
  const depth = (d: number) => (side: "buy" | "sell") => {
    asked = side;
    return d;
  };
  assert.equal(rm.evaluate(buy(10), state({ depthUsdt: depth(500) })).allowed, true);
  assert.equal(asked, "buy");
  const thin = rm.evaluate(buy(10), state({ depthUsdt: depth(499.99) }));
  assert.equal(thin.allowed, false);
  assert.match(thin.reasons[0], /depth/);
});

Deno.test("limits: leverage and liquidation distance", () => {
  const lev = new RiskManager({ ...CFG, maxLeverage: 2, heatCap: 10 });
  close(lev.evaluate(buy(5000, { price: 100 }), state({ markPrice: 100 })).size, 200);
  const contract = { ...BTC, lotSize: 1, minTradeNum: 1, maxLever: 1 };
  assert.equal(
    lev.evaluate(buy(5000, { price: 100, contract }), state({ markPrice: 100 })).size,
    100,
  );
  // liq estimate with mmr = 0: N ≤ E/minLiq = 20000 USDT → 200 units at 100
  const liq = new RiskManager({
    ...CFG,
    maxLeverage: 100,
    heatCap: 10,
    minLiqDistance: 0.5,
    maintenanceMarginRate: 0,
  });
  const r = liq.evaluate(buy(500, { price: 100, stopPrice: 99 }), state({ markPrice: 100 }));
  close(r.size, 200);
  assert.match(r.reasons.join(), /liquidation/);
  // exchange-reported liquidation price of the current position
  const long: RiskPosition = {
    symbol: "ETHUSDT",
    side: "long",
    size: 1,
    markPrice: 100,
    stopPrice: 99,
  };
  const s = (liqPx: number) =>
    state({ markPrice: 100, liquidationPrice: liqPx, positions: [long] });
  const rm = new RiskManager(CFG);
  assert.equal(rm.evaluate(buy(1, { price: 100, stopPrice: 99 }), s(90)).allowed, true);
  assert.equal(rm.evaluate(buy(1, { price: 100, stopPrice: 99 }), s(90.5)).allowed, false);
});

Deno.test("limits: lot rounding, minimums and flips", () => {
  const rm = new RiskManager(CFG);
  const contract = { lotSize: 0.1, minTradeNum: 0.5, minTradeUSDT: 5, maxLever: 125 };
  assert.equal(rm.evaluate(buy(1.37, { contract }), state()).size, 1.3);
  assert.equal(rm.evaluate(buy(0.47, { contract }), state()).allowed, false);
  const noPos = rm.evaluate(buy(1, { reduceOnly: true }), state());
  assert.equal(noPos.allowed, false);
  // flip long 1 → short 2 while halted: only the reducing part passes
  const long: RiskPosition = {
    symbol: "ETHUSDT",
    side: "long",
    size: 1,
    markPrice: 10,
    stopPrice: 9,
  };
  const flip = rm.evaluate(
    buy(3, { side: "sell", stopPrice: 11 }),
    state({ spreadBps: 50, positions: [long] }),
  );
  assert.deepEqual([flip.size, flip.reduceSize, flip.openSize], [1, 1, 0]);
  assert.throws(() => rm.evaluate(buy(0), state()), RiskInputError);
  assert.throws(() => new RiskManager({ heatCap: -1 }), /heatCap/);
});

// ---------- randomized property test ----------

/** mulberry32: small seeded PRNG so a failure is reproducible from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface BookPos {
  q: number; // signed base coin
  entry: number;
  stop?: number;
}

Deno.test("limits: property — accepted orders never breach a cap; halts never add exposure", () => {
  const cfg: RiskConfig = {
    maxLeverage: 3,
    heatCap: 0.05,
    maxPositions: 3,
    correlationLimit: 0.7,
    correlationWindow: 20,
    minCorrelationSamples: 10,
    dailyLoss: 0.04,
    maxDrawdown: 0.12,
    maxSpreadBps: 8,
    depthMultiple: 4,
    minLiqDistance: 0.35,
    maintenanceMarginRate: 0.006,
    assumedStopFraction: 0.04,
  };
  const SYMS = ["A", "B", "C", "D", "E"];
  const tol = 1e-7;
  let accepted = 0, opened = 0, haltedSteps = 0, reduced = 0;
  for (let seed = 1; seed <= 2000; seed++) {
    const r = rng(seed);
    const rm = new RiskManager(cfg);
    const mark: Record<string, number> = {};
    const book = new Map<string, BookPos>();
    const rets: Record<string, number[]> = {};
    const common = Array.from({ length: 20 }, () => r() - 0.5);
    for (const s of SYMS) {
      mark[s] = 10 + r() * 1000;
      const w = r();
      rets[s] = common.map((c) => w * c + (1 - w) * (r() - 0.5));
    }
    let cash = 10_000;
    let ts = Date.UTC(2026, 0, 1) + Math.floor(r() * 86_400_000);
    const equityNow = () => {
      let e = cash;
      for (const [s, p] of book) e += p.q * (mark[s] - p.entry);
      return e;
    };
    let sod = cash, peak = cash, sodDay = Math.floor(ts / 86_400_000);
    let haltDay = -1, ddLatched = false;
    for (let step = 0; step < 30; step++) {
      // market moves (up to ±3 % per step) and the clock advances up to 4 h
      for (const s of SYMS) mark[s] *= 1 + (r() - 0.5) * 0.06;
      ts += Math.floor(r() * 4 * 3_600_000);
      const eq = equityNow();
      const day = Math.floor(ts / 86_400_000);
      if (day !== sodDay) [sod, sodDay] = [eq, day];
      peak = Math.max(peak, eq);
      if (r() < 0.03) {
        rm.resetDrawdownHalt();
        ddLatched = false;
      }
      // independent model of the kill-switches
      if (eq <= sod * (1 - cfg.dailyLoss)) haltDay = day;
      if (eq <= peak * (1 - cfg.maxDrawdown)) ddLatched = true;
      const halted = haltDay === day || ddLatched || eq <= 0;
      if (halted) haltedSteps++;

      const sym = SYMS[Math.floor(r() * SYMS.length)];
      const m = mark[sym];
      const side = r() < 0.5 ? "buy" : "sell";
      const sgn = side === "buy" ? 1 : -1;
      const u = r();
      const stopPrice = u < 0.2
        ? undefined
        : u < 0.25
        ? m * (1 + sgn * 0.01)
        : m * (1 - sgn * (0.005 + r() * 0.1));
      const intent: OrderIntent = {
        symbol: sym,
        side,
        size: (eq > 0 ? eq : 1000) * (0.1 + r() * 3) / m,
        price: m,
        stopPrice,
        reduceOnly: r() < 0.15,
        contract: r() < 0.5
          ? { lotSize: 0.001, minTradeNum: 0.001, minTradeUSDT: 5, maxLever: 20 }
          : undefined,
      };
      const spreadBps = r() * 10;
      const depth = (r() < 0.1 ? 0.5 : 100) * eq;
      const positions: RiskPosition[] = [...book].map(([s, p]) => ({
        symbol: s,
        side: p.q > 0 ? "long" : "short",
        size: Math.abs(p.q),
        markPrice: mark[s],
        stopPrice: p.stop,
      }));
      const st: RiskState = {
        ts,
        equity: eq,
        startOfDayEquity: sod,
        peakEquity: peak,
        positions,
        spreadBps,
        depthUsdt: () => depth,
        returns: (s) => rets[s],
        markPrice: m,
      };
      const before = new Map([...book].map(([s, p]) => [s, Math.abs(p.q)]));
      const d = rm.evaluate(intent, st);
      assert.ok(d.size <= intent.size + 1e-12 && d.size >= 0);
      assert.equal(d.allowed, d.size > 0);
      if (!d.allowed) continue;
      accepted++;
      // apply the fill at mark to the book (realising PnL on the reducing part)
      const cur = book.get(sym);
      const q0 = cur?.q ?? 0;
      const q1 = q0 + sgn * d.size;
      if (cur && Math.sign(q0) !== sgn) {
        cash += (m - cur.entry) * Math.min(d.size, Math.abs(q0)) * Math.sign(q0);
      }
      if (Math.abs(q1) < 1e-12) book.delete(sym);
      else if (cur && Math.sign(q0) === Math.sign(q1) && Math.abs(q1) <= Math.abs(q0)) cur.q = q1;
      else if (cur && Math.sign(q0) === Math.sign(q1)) {
        cur.entry = (cur.entry * Math.abs(q0) + m * d.size) / Math.abs(q1);
        cur.q = q1;
        cur.stop = stopPrice ?? cur.stop;
      } else book.set(sym, { q: q1, entry: m, stop: stopPrice });
      close(equityNow(), eq, 1e-9); // fills at mark do not move equity

      if (d.openSize === 0) {
        reduced++;
        for (const [s, p] of book) {
          assert.ok(Math.abs(p.q) <= (before.get(s) ?? 0) + 1e-12, `seed ${seed}`);
        }
        continue;
      }
      opened++;
      assert.ok(!halted, `seed ${seed} step ${step}: exposure added while halted`);
      assert.ok(!intent.reduceOnly);
      assert.ok(spreadBps <= cfg.maxSpreadBps);
      assert.ok(depth >= cfg.depthMultiple * d.openSize * m);
      assert.ok(book.size <= cfg.maxPositions, `seed ${seed}: ${book.size} positions`);
      let gross = 0, heat = 0, maxN = 0;
      for (const [s, p] of book) {
        const n = Math.abs(p.q) * mark[s];
        gross += n;
        maxN = Math.max(maxN, n);
        const perUnit = p.stop === undefined
          ? cfg.assumedStopFraction * mark[s]
          : Math.max(0, p.q > 0 ? mark[s] - p.stop : p.stop - mark[s]);
        heat += Math.abs(p.q) * perUnit;
        if (s !== sym && Math.sign(p.q) === sgn && intent.symbol === sym && !before.has(sym)) {
          const rho = pearson(rets[sym], rets[s], cfg.correlationWindow);
          assert.ok(!(rho > cfg.correlationLimit), `seed ${seed}: ρ=${rho}`);
        }
      }
      assert.ok(gross <= cfg.maxLeverage * eq * (1 + tol), `seed ${seed}: leverage ${gross / eq}`);
      if (intent.contract) assert.ok(Math.abs(q1) * m <= intent.contract.maxLever * eq * (1 + tol));
      assert.ok(heat <= cfg.heatCap * eq * (1 + tol), `seed ${seed}: heat ${heat / eq}`);
      // cross-margin liquidation distance of every position, solved exactly per side:
      // long:  E − N·d = mmr·(G − N) + mmr·N·(1 − d) → d = (E − mmr·G)/(N·(1 − mmr))
      // short: E − N·d = mmr·(G − N) + mmr·N·(1 + d) → d = (E − mmr·G)/(N·(1 + mmr))
      const mmr = cfg.maintenanceMarginRate;
      for (const [s, p] of book) {
        const n = Math.abs(p.q) * mark[s];
        const dist = (eq - mmr * gross) / (n * (p.q > 0 ? 1 - mmr : 1 + mmr));
        assert.ok(
          dist >= cfg.minLiqDistance * (1 - tol),
          `seed ${seed}: liq distance ${dist} on ${s}`,
        );
      }
    }
  }
  // the generator must exercise every branch, not just rejections
  assert.ok(
    opened > 5000 && reduced > 1000 && haltedSteps > 1000,
    `${opened}/${reduced}/${haltedSteps}`,
  );
  assert.ok(accepted > 0);
  console.log(
    `property: ${accepted} accepted, ${opened} opening, ${reduced} reducing, ${haltedSteps} halted steps`,
  );
});
