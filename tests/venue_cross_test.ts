/**
 * SimExchange cross margin (src/venue/margin.ts): account liquidation at the closed-form cross
 * liquidation price (one position, two symbols, a hedged symbol), loss capped at the balance,
 * isolated vs crossed on the same move, and the accounting identity over a seeded random walk
 * with random orders and plans in both margin and both position modes. Hand-made books: the
 * assertions are exact prices.
 */
import assert from "node:assert/strict";
import type { ContractSpec } from "../src/market/contracts.ts";
import { SimExchange } from "../src/venue/sim_exchange.ts";
import type {
  LiquidationEvent,
  PlaceOrderRequest,
  PlaceTpslRequest,
  PlanType,
  SimExchangeConfig,
  VenueEvent,
} from "../src/venue/types.ts";
import { book, BTC, checkIdentity, mark, near, ok, requests } from "./helpers/venue_fixtures.ts";

const ETH: ContractSpec = { ...BTC, symbol: "ETHUSDT", baseCoin: "ETH", tickSize: 0.01 };
const MMR = 0.004;

function venue(extra: Partial<SimExchangeConfig> = {}): SimExchange {
  return new SimExchange({
    contracts: [BTC, ETH],
    initialBalance: 10_000,
    leverage: 10,
    maintenanceMarginRate: MMR,
    marginMode: "crossed",
    ...extra,
  });
}

const req = requests("c");
let oid = 0;
const liqs = (log: VenueEvent[]): LiquidationEvent[] =>
  log.filter((e): e is LiquidationEvent => e.type === "liquidation");

Deno.test("cross, one position: liquidated at exactly the closed-form price; balance ends at 0", () => {
  const v = venue({ initialBalance: 100 });
  v.onEvent(book(1000, [[99.9, 50]], [[100, 50]]));
  v.onEvent(mark(1000, 100));
  ok(v.placeOrder(req({ size: 9 }))); // 900 USDT notional, margin 90, fee 0.54
  const bal = v.account().balance;
  near(bal, 100 - 0.54);
  const [p] = v.positions();
  assert.equal(p.marginMode, "crossed");
  // equity = bal + 9(P − 100) = maintenance 0.004 · 9 · P  ⇒  P = (900 − bal) / (9 · 0.996)
  const lp = (900 - bal) / (9 * (1 - MMR));
  near(p.liquidationPrice, lp);
  near(bal + 9 * (lp - 100) - MMR * 9 * lp, 0, 1e-9, "equity − maintenance at lp");
  // The isolated leg would go at (900 − 90) / (9 · 0.996) = 90.36, well before.
  assert.ok(lp < (900 - 90) / (9 * (1 - MMR)));
  v.onEvent(mark(2000, lp + 1e-6));
  assert.equal(liqs(v.log).length, 0);
  v.onEvent(mark(3000, lp - 1e-6));
  const [l] = liqs(v.log);
  assert.ok(l, "liquidated");
  assert.equal(l.price, lp - 1e-6); // closed at the mark
  assert.equal(l.markPrice, lp - 1e-6);
  near(l.realizedPnl, -bal); // the whole balance is lost, nothing more
  assert.equal(v.account().balance, 0);
  assert.equal(v.positions().length, 0);
  near(v.account().positionMargin, 0);
  checkIdentity(v, 100);
});

Deno.test("isolated vs crossed on the same move: spare balance keeps the cross position alive", () => {
  const out: Record<string, { liq: number; balance: number; equity: number; lp: number }> = {};
  for (const marginMode of ["isolated", "crossed"] as const) {
    const v = venue({ initialBalance: 1000, marginMode });
    v.onEvent(book(1000, [[99.9, 50]], [[100, 50]]));
    v.onEvent(mark(1000, 100));
    ok(v.placeOrder(req({ size: 9 })));
    const lp = v.positions()[0].liquidationPrice;
    v.onEvent(mark(2000, 88));
    const a = v.account();
    out[marginMode] = { liq: liqs(v.log).length, balance: a.balance, equity: a.equity, lp };
    checkIdentity(v, 1000);
  }
  // Isolated: 88 < 90.36 liquidates the leg; only its 90 USDT margin is lost.
  near(out.isolated.lp, (900 - 90) / (9 * (1 - MMR)));
  assert.equal(out.isolated.liq, 1);
  near(out.isolated.balance, 1000 - 0.54 - 90);
  // Crossed: the 999.46 USDT account backs the leg; its price cannot liquidate it (lp ≤ 0).
  near(out.crossed.lp, (900 - 999.46) / (9 * (1 - MMR)));
  assert.ok(out.crossed.lp <= 0);
  assert.equal(out.crossed.liq, 0);
  near(out.crossed.equity, 999.46 + 9 * (88 - 100));
});

Deno.test("cross, two symbols: each liquidation price holds the other mark fixed; both legs closed", () => {
  const v = venue({ initialBalance: 300 });
  v.onEvent(book(1000, [[99.9, 50]], [[100, 50]]));
  v.onEvent(mark(1000, 100));
  v.onEvent(book(1000, [[50, 50]], [[50.01, 50]], "ETHUSDT"));
  v.onEvent(mark(1000, 50, "ETHUSDT"));
  ok(v.placeOrder(req({ size: 10 }))); // long 10 BTC @ 100
  ok(v.placeOrder(req({ symbol: "ETHUSDT", side: "sell", size: 20 }))); // short 20 ETH @ 50
  const bal = v.account().balance;
  near(bal, 300 - 0.6 - 0.6);
  const slackEth = (m: number) => 20 * (50 - m) - MMR * 20 * m;
  const slackBtc = (m: number) => 10 * (m - 100) - MMR * 10 * m;
  const lpBtc = (ethMark: number) => (10 * 100 - (bal + slackEth(ethMark))) / (10 * (1 - MMR));
  const lpEth = (btcMark: number) => (bal + slackBtc(btcMark) + 20 * 50) / (20 * (1 + MMR));
  const lp = (s: string) => v.positions().find((p) => p.symbol === s)!.liquidationPrice;
  near(lp("BTCUSDT"), lpBtc(50));
  near(lp("ETHUSDT"), lpEth(100));
  // ETH rallies: the short's loss moves the BTC long's liquidation price up.
  v.onEvent(mark(2000, 55, "ETHUSDT"));
  near(lp("BTCUSDT"), lpBtc(55));
  near(lp("ETHUSDT"), lpEth(100));
  assert.ok(lpBtc(55) > lpBtc(50));
  const target = lpBtc(55);
  v.onEvent(mark(3000, target + 1e-6));
  assert.equal(liqs(v.log).length, 0);
  const plan: PlaceTpslRequest = {
    clientOid: "eth-sl",
    symbol: "ETHUSDT",
    holdSide: "short",
    planType: "pos_loss",
    triggerPrice: 70,
    triggerType: "mark_price",
  };
  ok(v.placeTpsl(plan));
  const rest = ok(v.placeOrder(req({ orderType: "limit", price: 60, size: 0.1 })));
  const m = target - 1e-6;
  v.onEvent(mark(4000, m));
  const ls = liqs(v.log);
  assert.deepEqual(ls.map((l) => [l.symbol, l.holdSide, l.price]), [
    ["BTCUSDT", "long", m],
    ["ETHUSDT", "short", 55],
  ]);
  // Loss split: price PnL at mark minus the forfeited equity pro rata to maintenance margin.
  const u = [10 * (m - 100), 20 * (50 - 55)];
  const mm = [MMR * 10 * m, MMR * 20 * 55];
  const left = bal + u[0] + u[1];
  assert.ok(left > 0 && left <= mm[0] + mm[1] + 1e-9);
  for (let i = 0; i < 2; i++) {
    near(ls[i].realizedPnl, u[i] - left * mm[i] / (mm[0] + mm[1]), 1e-9, `leg ${i}`);
  }
  near(ls[0].realizedPnl + ls[1].realizedPnl, -bal);
  assert.equal(v.account().balance, 0);
  assert.equal(v.order(rest.clientOid)!.cancelReason, "account_liquidated");
  assert.equal(v.planOrders().length, 0);
  checkIdentity(v, 300);
});

Deno.test("cross, hedged symbol: both legs share one price; a gap past bankruptcy caps the loss", () => {
  const v = venue({ initialBalance: 100, positionMode: "hedge", leverage: 20 });
  v.onEvent(book(1000, [[100, 50]], [[100, 50]]));
  v.onEvent(mark(1000, 100));
  ok(v.placeOrder(req({ side: "buy", tradeSide: "open", size: 12 })));
  ok(v.placeOrder(req({ side: "sell", tradeSide: "open", size: 4 })));
  const bal = v.account().balance;
  // f(P) = bal + 12(P − 100) + 4(100 − P) − mmr·16·P  ⇒  P = (1200 − 400 − bal) / (8 − 16·mmr)
  const lp = (1200 - 400 - bal) / (8 - 16 * MMR);
  const ps = v.positions();
  assert.equal(ps.length, 2);
  for (const p of ps) near(p.liquidationPrice, lp);
  v.onEvent(mark(2000, lp + 1e-6));
  assert.equal(liqs(v.log).length, 0);
  v.onEvent(mark(3000, 50)); // a gap far below the bankruptcy price
  const ls = liqs(v.log);
  assert.equal(ls.length, 2);
  const priceLoss = 12 * (50 - 100) + 4 * (100 - 50);
  assert.ok(priceLoss < -bal, "the mark loss exceeds the balance");
  near(ls[0].realizedPnl + ls[1].realizedPnl, -bal); // capped: the insurance fund takes the rest
  assert.equal(v.account().balance, 0);
  checkIdentity(v, 100);
});

Deno.test("property: random walk with orders and plans keeps the identity within 1e-8 (both margin modes)", () => {
  let s = 0x2545f491;
  const rnd = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  const tick = (x: number) => Math.round(x * 10) / 10;
  for (const marginMode of ["isolated", "crossed"] as const) {
    for (const positionMode of ["one_way", "hedge"] as const) {
      const seen = { liq: 0, triggered: new Set<PlanType>(), closed: 0, planFills: 0 };
      // Several episodes: a cross liquidation leaves a 0 balance that cannot trade any more.
      // 3000 USDT at 20x against 0.001–0.3 BTC orders near 60 000: a ±20 % mark jump can
      // liquidate either margin mode.
      for (let episode = 0; episode < 3; episode++) {
        const v = venue({
          initialBalance: 3000,
          marginMode,
          positionMode,
          leverage: 20,
          latencyMs: 20,
        });
        let mid = 60_000;
        for (let step = 0; step < 700; step++) {
          const ts = 1000 + step * 100;
          mid = tick(mid * (1 + (rnd() - 0.5) * 0.004));
          const r = rnd();
          let markEvent = false;
          if (r < 0.35) {
            const bids: [number, number][] = [];
            const asks: [number, number][] = [];
            for (let i = 0; i < 15; i++) {
              bids.push([tick(mid - 0.1 * (i + 1) * (1 + i)), Math.ceil(rnd() * 2000) / 1000]);
              asks.push([tick(mid + 0.1 * (i + 1) * (1 + i)), Math.ceil(rnd() * 2000) / 1000]);
            }
            v.onEvent(book(ts, bids, asks));
          } else if (r < 0.6) {
            const side = rnd() < 0.5 ? "buy" : "sell";
            const price = mid + (rnd() < 0.5 ? -1 : 1) * Math.round(rnd() * 200) / 10;
            v.onEvent({
              kind: "trade",
              symbol: "BTCUSDT",
              ts,
              recvTs: ts,
              tradeId: String(ts),
              price,
              size: rnd() * 2,
              side,
            });
          } else if (r < 0.75) {
            // Mostly noise around mid, sometimes a ±20 % jump, usually against the net position.
            const net = v.positions().reduce(
              (t, q) => t + (q.holdSide === "long" ? q.size : -q.size),
              0,
            );
            const against = net > 0 ? -1 : 1;
            const jump = rnd() < 0.04
              ? (rnd() < 0.75 ? against : -against) * 0.2
              : (rnd() - 0.5) * 0.04;
            v.onEvent(mark(ts, mid * (1 + jump)));
            markEvent = true;
          } else if (r < 0.78) {
            v.onEvent({
              kind: "funding",
              symbol: "BTCUSDT",
              ts,
              recvTs: ts,
              fundingRate: (rnd() - 0.5) * 0.002,
              nextFundingTime: null,
              intervalHours: 8,
              type: "settled",
            });
          } else if (r < 0.9) {
            const side = rnd() < 0.5 ? "buy" : "sell";
            const limit = rnd() < 0.4;
            const p: Partial<PlaceOrderRequest> = {
              side,
              size: Math.ceil(rnd() * 300) / 1000,
              orderType: limit ? "limit" : "market",
              price: limit ? tick(mid + (rnd() - 0.5) * 20) : undefined,
            };
            if (positionMode === "hedge") p.tradeSide = rnd() < 0.6 ? "open" : "close";
            else p.reduceOnly = rnd() < 0.2;
            const opening = positionMode === "hedge" ? p.tradeSide === "open" : !p.reduceOnly;
            if (opening && rnd() < 0.4) {
              const long = side === "buy";
              p.presetStopLossPrice = tick(mid * (long ? 0.99 : 1.01));
              p.presetStopSurplusPrice = tick(mid * (long ? 1.01 : 0.99));
            }
            v.placeOrder(req(p));
          } else {
            const pos = v.positions();
            if (pos.length > 0) {
              const target = pos[Math.floor(rnd() * pos.length)];
              const long = target.holdSide === "long";
              const planType = (["pos_loss", "pos_profit", "moving_plan"] as const)[
                Math.floor(rnd() * 3)
              ];
              const dist = 0.001 + rnd() * 0.01;
              const ref = target.markPrice;
              const below = (planType === "pos_loss") === long;
              const pr: PlaceTpslRequest = {
                clientOid: `w${++oid}`,
                symbol: "BTCUSDT",
                holdSide: target.holdSide,
                planType,
                triggerType: rnd() < 0.5 ? "mark_price" : "fill_price",
                triggerPrice: planType === "moving_plan"
                  ? (rnd() < 0.5 ? undefined : tick(ref * (long ? 1 + dist : 1 - dist)))
                  : tick(ref * (below ? 1 - dist : 1 + dist)),
                rangeRate: planType === "moving_plan" ? 0.001 + rnd() * 0.02 : undefined,
                size: rnd() < 0.3 ? Math.ceil(rnd() * 200) / 1000 : undefined,
              };
              v.placeTpsl(pr); // rejections (wrong side after a fill_price move) are fine
            }
          }
          checkIdentity(v, 3000);
          const a = v.account();
          assert.ok(a.orderMargin >= -1e-9, `order margin ${a.orderMargin}`);
          // Every live plan sits on a non-empty leg.
          for (const p of v.planOrders()) {
            assert.ok(v.positions().some((q) => q.holdSide === p.holdSide), "plan on a flat leg");
          }
          if (marginMode === "crossed") {
            assert.ok(a.balance >= 0 || liqs(v.log).length === 0, `balance ${a.balance}`);
            if (markEvent && v.positions().length > 0) {
              const mm = v.positions().reduce((t, q) => t + MMR * q.size * q.markPrice, 0);
              assert.ok(a.equity > mm, `equity ${a.equity} ≤ maintenance ${mm} not liquidated`);
            }
            if (positionMode === "one_way" && markEvent) {
              for (const q of v.positions()) {
                const safe = q.holdSide === "long"
                  ? q.markPrice > q.liquidationPrice
                  : q.markPrice < q.liquidationPrice;
                assert.ok(safe, `mark ${q.markPrice} beyond lp ${q.liquidationPrice}`);
              }
            }
          }
        }
        // Every triggered plan produced exactly one order with its clientOid, flagged with its type.
        for (const e of v.log) {
          if (e.type === "plan" && e.plan.status === "triggered") {
            seen.triggered.add(e.plan.planType);
            const o = v.order(e.plan.clientOid);
            assert.ok(o && o.reduceOnly && o.orderType === "market", "plan order");
          }
          if (e.type === "plan" && e.plan.cancelReason === "position_closed") seen.closed++;
          if (e.type === "fill" && e.planType) seen.planFills++;
          if (e.type === "liquidation") seen.liq++;
        }
      }
      const tag = `${marginMode}/${positionMode}`;
      assert.ok(seen.liq > 0, `${tag}: no liquidation`);
      assert.equal(seen.triggered.size, 3, `${tag}: triggered ${[...seen.triggered]}`);
      assert.ok(seen.closed > 0, `${tag}: no plan cancelled by a flat leg`);
      assert.ok(seen.planFills > 0, `${tag}: no plan fill`);
    }
  }
});
