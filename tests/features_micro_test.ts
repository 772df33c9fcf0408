/**
 * Micro feature engine on real 1 s data: Binance USDT-M top-15 books and trade flow
 * (shared/data/*_book15_1s.csv, *_trades_1s.csv) with ticker state (mark, index, funding, OI)
 * from the 2023 BTCUSDT replay recording, whose mark/index/funding are real Binance values.
 * Every feature against a direct loop reference, hand-computed values, live vs batch equality,
 * the live event sampler, no look-ahead, gap handling, warm-ups and input errors.
 */
import assert from "node:assert/strict";
import { type MicroInput, MicroSampler } from "../src/features/micro_input.ts";
import { MicroEngine, type MicroOptions, runMicroBatch } from "../src/features/micro.ts";
import { type FeatureMatrix, matrixColumn, matrixRow } from "../src/features/matrix.ts";
import { featureDef, MICRO_FEATURES } from "../src/features/registry.ts";
import {
  type Book15Row,
  microInputsFromRecords,
  readBook15Csv,
  readTrades1sCsv,
  type TickerSample,
  type Trades1sRow,
} from "../src/features/sample_data.ts";
import type { MarketEvent } from "../src/market/events.ts";

const DATA = new URL("../../shared/data/", import.meta.url);
const text = (f: string) => Deno.readTextFileSync(new URL(f, DATA));

/** Minimal reader of the Bitget v2 replay frames (books, books15, trade, ticker) into events. */
async function replayEvents(file: string): Promise<MarketEvent[]> {
  const gz = await Deno.readFile(new URL(`bitget_replay/${file}`, DATA));
  const body = new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip"));
  const out: MarketEvent[] = [];
  for (const line of (await new Response(body).text()).split("\n")) {
    if (!line) continue;
    const { recv_ms: recvTs, msg } = JSON.parse(line);
    if (!msg.data) continue;
    const symbol = msg.arg.instId;
    const ch = msg.arg.channel;
    if (ch === "books") {
      const d = msg.data[0];
      out.push({
        kind: "book",
        channel: "books",
        symbol,
        ts: msg.ts,
        recvTs,
        action: msg.action,
        bids: d.bids,
        asks: d.asks,
        seq: d.seq ?? null,
        checksum: d.checksum ?? null,
        top: null,
      });
    } else if (ch === "books15") {
      const d = msg.data[0];
      out.push({
        kind: "book",
        channel: "books15",
        symbol,
        ts: msg.ts,
        recvTs,
        action: "snapshot",
        bids: d.bids,
        asks: d.asks,
        seq: null,
        checksum: null,
        top: null,
      });
    } else if (ch === "trade") {
      // Pushes list newest first.
      for (const d of [...msg.data].reverse()) {
        out.push({
          kind: "trade",
          symbol,
          ts: Number(d.ts),
          recvTs,
          tradeId: d.tradeId,
          price: Number(d.price),
          size: Number(d.size),
          side: d.side,
        });
      }
    } else if (ch === "ticker") {
      const d = msg.data[0];
      out.push({
        kind: "ticker",
        symbol,
        ts: Number(d.ts),
        recvTs,
        last: +d.lastPr,
        bid: +d.bidPr,
        ask: +d.askPr,
        bidSize: +d.bidSz,
        askSize: +d.askSz,
        markPrice: +d.markPrice,
        indexPrice: +d.indexPrice,
        fundingRate: +d.fundingRate,
        nextFundingTime: +d.nextFundingTime,
        openInterest: +d.holdingAmount,
        open24h: +d.open24h,
        high24h: +d.high24h,
        low24h: +d.low24h,
        baseVolume24h: +d.baseVolume,
        quoteVolume24h: +d.quoteVolume,
      });
    }
  }
  return out;
}

const EVENTS23 = await replayEvents("bitget_v2_public_BTCUSDT_20230404T2358.jsonl.gz");
const TICKERS23: TickerSample[] = EVENTS23.flatMap((e) =>
  e.kind === "ticker"
    ? [{
      ts: e.ts,
      markPrice: e.markPrice,
      indexPrice: e.indexPrice,
      fundingRate: e.fundingRate,
      nextFundingTime: e.nextFundingTime,
      openInterest: e.openInterest,
    }]
    : []
);
const B23 = readBook15Csv(text("binance_usdm_BTCUSDT_20230404T2358_book15_1s.csv"));
const T23 = readTrades1sCsv(text("binance_usdm_BTCUSDT_20230404T2358_trades_1s.csv"));
const ROWS23 = microInputsFromRecords(B23, T23, TICKERS23);
const B24 = readBook15Csv(text("binance_usdm_BTCUSDT_20240718T2357_book15_1s.csv"));
const T24 = readTrades1sCsv(text("binance_usdm_BTCUSDT_20240718T2357_trades_1s.csv"));
const ROWS24 = microInputsFromRecords(B24, T24);
const E24B = readBook15Csv(text("binance_usdm_ETHUSDT_20240718T2357_book15_1s.csv"));
const E24T = readTrades1sCsv(text("binance_usdm_ETHUSDT_20240718T2357_trades_1s.csv"));
/** Short "long" windows so the 60-min z-scores and the 15-min ATR are exercised on 8 min of data. */
const SHORT: MicroOptions = { longWindow: 120, atrBarMs: 10_000 };

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(a) || Number.isNaN(e)) {
      assert.ok(Number.isNaN(a) && Number.isNaN(e), `${what}[${i}]: got ${a}, reference ${e}`);
    } else {assert.ok(
        Math.abs(a - e) <= 1e-9 + 1e-9 * Math.abs(e),
        `${what}[${i}]: got ${a}, reference ${e}`,
      );}
  }
}

function sameRow(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  for (let j = 0; j < a.length; j++) {
    assert.ok(Object.is(a[j], b[j]), `${what} ${MICRO_FEATURES[j]}: ${a[j]} vs ${b[j]}`);
  }
}

// ---------------------------------------------------------------- reference (direct loops)

const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
const sampleSd = (x: number[]) => {
  const m = mean(x);
  return Math.sqrt(x.reduce((s, v) => s + (v - m) ** 2, 0) / (x.length - 1));
};
const last = <T>(
  x: T[],
  i: number,
  n: number,
): T[] | null => (i + 1 >= n ? x.slice(i + 1 - n, i + 1) : null);
const z = (w: number[] | null) => {
  if (!w || w.some(Number.isNaN)) return NaN;
  const sd = sampleSd(w);
  return sd === 0 ? 0 : (w[w.length - 1] - mean(w)) / sd;
};

/**
 * Every micro feature from the raw book levels, trade rows and ticker samples, one loop per
 * feature, for contiguous 1 s rows (no holes in these recordings).
 */
function referenceMicro(
  b: Book15Row[],
  t: Trades1sRow[],
  tk: TickerSample[],
  long: number,
  barMs: number,
) {
  const n = b.length;
  const mid = b.map((r) => (r.bidPx[0] + r.askPx[0]) / 2);
  const imb = (k: number) =>
    b.map((r) => {
      const bs = r.bidSz.slice(0, k).reduce((s, v) => s + v, 0),
        as = r.askSz.slice(0, k).reduce((s, v) => s + v, 0);
      return (bs - as) / (bs + as);
    });
  const within = (bps: number) =>
    b.map((r, i) => {
      let d = 0;
      r.bidPx.forEach((p, k) => (p >= mid[i] * (1 - bps / 1e4) ? (d += r.bidSz[k]) : 0));
      r.askPx.forEach((p, k) => (p <= mid[i] * (1 + bps / 1e4) ? (d += r.askSz[k]) : 0));
      return d * mid[i];
    });
  const spread = b.map((r, i) => ((r.askPx[0] - r.bidPx[0]) / mid[i]) * 1e4);
  const r1 = mid.map((m, i) => (i > 0 ? Math.log(m / mid[i - 1]) : NaN));
  const ret = (k: number) => mid.map((m, i) => (i >= k ? Math.log(m / mid[i - k]) * 1e4 : NaN));
  const rv = (k: number) =>
    mid.map((
      _,
      i,
    ) => (i >= k
      ? Math.sqrt(r1.slice(i - k + 1, i + 1).reduce((s, v) => s + v * v, 0)) * 1e4
      : NaN)
    );
  const delta = t.map((r) => r.buy - r.sell);
  const lastPx = t.map((_, i) => {
    for (let k = i; k >= 0; k--) if (t[k].count > 0) return t[k].last;
    return NaN;
  });
  const tick = b.map((r) => {
    let s: TickerSample | undefined;
    for (const x of tk) if (x.ts <= r.ts) s = x;
    return s;
  });
  const f = (k: keyof TickerSample) => tick.map((s) => (s ? s[k] : NaN));
  const mark = f("markPrice"), index = f("indexPrice"), oi = f("openInterest");
  const ml = mark.map((m, i) => ((m - lastPx[i]) / mid[i]) * 1e4);
  const oiChg = oi.map((o, i) => (i >= 60 ? Math.log(o / oi[i - 60]) * 1e4 : NaN));
  const I = barMs;
  // Bars of mids on the (E − I, E] grid; the first bar counts only if seen from its first second.
  const bars: { end: number; h: number; l: number; c: number }[] = [];
  for (let i = 0; i < n; i++) {
    const end = Math.ceil(b[i].ts / I) * I;
    const cur = bars[bars.length - 1];
    if (!cur || cur.end !== end) bars.push({ end, h: mid[i], l: mid[i], c: mid[i] });
    else Object.assign(cur, { h: Math.max(cur.h, mid[i]), l: Math.min(cur.l, mid[i]), c: mid[i] });
  }
  const complete = bars.filter((x, k) => k > 0 || b[0].ts === x.end - I + 1000);
  const atrAt = (ts: number) => {
    const done = complete.filter((x) => x.end <= ts);
    if (done.length < 15) return NaN;
    const tr = done.slice(1).map((x, k) =>
      Math.max(x.h - x.l, Math.abs(x.h - done[k].c), Math.abs(x.l - done[k].c))
    );
    let a = mean(tr.slice(0, 14));
    for (const v of tr.slice(14)) a = (a * 13 + v) / 14;
    return (a / done[done.length - 1].c) * 1e4;
  };
  const ret5 = ret(5), ret10 = ret(10), ret60 = ret(60), rv60 = rv(60);
  return {
    imb1: imb(1),
    imb3: imb(3),
    imb5: imb(5),
    depth_total_usdt: b.map((r, i) =>
      (r.bidSz.reduce((s, v) => s + v, 0) + r.askSz.reduce((s, v) => s + v, 0)) * mid[i]
    ),
    depth5_usdt: within(5),
    depth10_usdt: within(10),
    spread_bps: spread,
    spread_mean_10s: spread.map((_, i) => (last(spread, i, 10) ? mean(last(spread, i, 10)!) : NaN)),
    spread_std_10s: spread.map((
      _,
      i,
    ) => (last(spread, i, 10) ? sampleSd(last(spread, i, 10)!) : NaN)),
    spread_mean_60s: spread.map((_, i) => (last(spread, i, 60) ? mean(last(spread, i, 60)!) : NaN)),
    spread_std_60s: spread.map((
      _,
      i,
    ) => (last(spread, i, 60) ? sampleSd(last(spread, i, 60)!) : NaN)),
    ret_1s: ret(1),
    ret_5s: ret5,
    ret_10s: ret10,
    ret_20s: ret(20),
    ret_30s: ret(30),
    ret_60s: ret60,
    rv_1s: rv(1),
    rv_5s: rv(5),
    rv_10s: rv(10),
    rv_20s: rv(20),
    rv_30s: rv(30),
    rv_60s: rv60,
    mom_5s_60s: ret5.map((r, i) => r - (ret60[i] * 5) / 60),
    mom_10s_rv60s: ret10.map((r, i) => (rv60[i] === 0 ? 0 : r / rv60[i])),
    flow_delta_usdt: delta.map((d, i) => d * mid[i]),
    flow_delta_10s_usdt: delta.map((
      _,
      i,
    ) => (i >= 9 ? delta.slice(i - 9, i + 1).reduce((s, d, k) => s + d * mid[i - 9 + k], 0) : NaN)),
    flow_imb_10s: delta.map((_, i) => {
      if (i < 9) return NaN;
      const w = t.slice(i - 9, i + 1);
      const v = w.reduce((s, r) => s + r.buy + r.sell, 0);
      return v > 0 ? w.reduce((s, r) => s + r.buy - r.sell, 0) / v : 0;
    }),
    flow_delta_z_60s: delta.map((_, i) => z(last(delta, i, 60))),
    trade_count_1s: t.map((r) => r.count),
    vwap_mid_bps: t.map((r, i) => (r.count > 0 ? ((r.vwap - mid[i]) / mid[i]) * 1e4 : NaN)),
    imb1_chg_5s: imb(1).map((x, i, a) => (i >= 5 ? x - a[i - 5] : NaN)),
    imb5_chg_5s: imb(5).map((x, i, a) => (i >= 5 ? x - a[i - 5] : NaN)),
    mark_last_bps: ml,
    mark_last_z_60m: ml.map((_, i) => z(last(ml, i, long))),
    basis_bps: mark.map((m, i) => ((m - index[i]) / index[i]) * 1e4),
    funding_rate_bps: f("fundingRate").map((x) => x * 1e4),
    funding_time_min: f("nextFundingTime").map((x, i) => (x - b[i].ts) / 60_000),
    oi_chg_z_60m: oiChg.map((_, i) => z(last(oiChg, i, long))),
    atr15m_bps: b.map((r) => atrAt(r.ts)),
  } as Record<string, number[]>;
}

// ---------------------------------------------------------------- tests

Deno.test("every micro feature matches a direct loop reference on real 1 s data", () => {
  const cases = [
    ["BTC 2023 + real ticker", B23, T23, TICKERS23],
    ["BTC 2024", B24, T24, []],
    ["ETH 2024", E24B, E24T, []],
  ] as const;
  for (const [name, b, t, tk] of cases) {
    const m = runMicroBatch(microInputsFromRecords(b, t, tk), SHORT);
    const ref = referenceMicro([...b], [...t], [...tk], SHORT.longWindow!, SHORT.atrBarMs!);
    assert.deepEqual(
      Object.keys(ref).sort(),
      [...MICRO_FEATURES].sort(),
      "reference covers the set",
    );
    for (const f of MICRO_FEATURES) assertClose(matrixColumn(m, f), ref[f], `${name} ${f}`);
  }
  // The 2023 run exercises the ticker-based and long-window features with finite values.
  const m = runMicroBatch(ROWS23, SHORT);
  for (
    const f of ["mark_last_z_60m", "basis_bps", "oi_chg_z_60m", "atr15m_bps", "funding_time_min"]
  ) {
    assert.ok(matrixColumn(m, f).some(Number.isFinite), `${f} has finite values`);
  }
});

Deno.test("hand-computed values from single real rows", () => {
  // BTCUSDT 2024-07-18T23:57:03Z, first CSV row: bid 63943.9 × 46.369, ask 63944.0 × 0.095, mid
  // 63943.95; one taker sell of 0.003 at 63943.9. Worked out in Python from the CSV row.
  const m = runMicroBatch(ROWS24.slice(0, 1));
  const row = matrixRow(m, 0);
  const want: Record<string, number> = {
    imb1: 0.9959108126721764,
    imb3: 0.9957740824476514,
    imb5: 0.9953570825595138,
    spread_bps: 0.015638696076570934,
    depth_total_usdt: 3171619.9199999995,
    depth5_usdt: 3171619.9199999995, // all 15 levels per side lie within 5 bps
    flow_delta_usdt: -191.83185,
    vwap_mid_bps: -0.007819348037716537,
    trade_count_1s: 1,
  };
  for (const [f, v] of Object.entries(want)) {
    const got = row[MICRO_FEATURES.indexOf(f as never)];
    assert.ok(Math.abs(got - v) <= 1e-12 * Math.max(1, Math.abs(v)), `${f}: got ${got}, hand ${v}`);
  }
  // BTCUSDT 2023-04-05T00:00:01Z (row 100): latest ticker at 00:00:00.490 has mark 28155.1, index
  // 28165.049, funding 0.000028 and still shows nextFundingTime 00:00:00 (it rolls later), so the
  // time to funding is −1 s; last trade 28155.2, mid 28155.15.
  const m23 = runMicroBatch(ROWS23);
  const at = (f: string) => matrixRow(m23, 100)[MICRO_FEATURES.indexOf(f as never)];
  assert.equal(ROWS23[100].ts, 1680652801000);
  const hand: Record<string, number> = {
    basis_bps: -3.5323922212954515,
    mark_last_bps: -0.035517480816895944,
    funding_rate_bps: 0.28,
    funding_time_min: -1 / 60,
    ret_60s: 0.7814151076372566,
    rv_10s: 0.7732427299958639,
  };
  for (const [f, v] of Object.entries(hand)) {
    assert.ok(Math.abs(at(f) - v) <= 1e-9 * Math.abs(v), `${f}: got ${at(f)}, hand ${v}`);
  }
});

Deno.test("live sample-by-sample output equals the batch matrix exactly", () => {
  for (const opts of [{}, SHORT]) {
    for (const rows of [ROWS23, ROWS24]) {
      const batch = runMicroBatch(rows, opts);
      const live = new MicroEngine(opts);
      rows.forEach((r, i) => sameRow(live.update({ ...r }), matrixRow(batch, i), `row ${i}`));
    }
  }
});

Deno.test("live events → MicroSampler → engine equals the batch over the sampled rows", () => {
  const sampler = new MicroSampler("BTCUSDT");
  const engine = new MicroEngine(SHORT);
  const rows: MicroInput[] = [];
  const liveOut: Float64Array[] = [];
  for (const e of EVENTS23) {
    const before = rows.length;
    sampler.push(e, rows);
    for (let i = before; i < rows.length; i++) liveOut.push(engine.update(rows[i]).slice());
  }
  assert.ok(rows.length >= 510, `${rows.length} seconds sampled`);
  const batch = runMicroBatch(rows, SHORT);
  liveOut.forEach((r, i) => sameRow(r, matrixRow(batch, i), `sampled row ${i}`));
  // Cross-check the sampler against the independent 1 s trade aggregation of the same trades
  // (trades_1s.csv). Seconds differ only where a trade arrived after the next second had begun.
  const stored = new Map(ROWS23.map((r) => [r.ts, r]));
  let same = 0, buy = 0, buyStored = 0;
  for (const r of rows) {
    const s = stored.get(r.ts)!;
    if (s.tradeCount === r.tradeCount) same++;
    buy += r.buyVolume;
    buyStored += s.buyVolume;
  }
  assert.ok(same / rows.length > 0.9, `${same}/${rows.length} seconds with equal trade counts`);
  assert.ok(
    Math.abs(buy - buyStored) / buyStored < 0.01,
    `taker buy volume ${buy} vs ${buyStored}`,
  );
  const markSame = rows.filter((r) => r.markPrice === stored.get(r.ts)!.markPrice).length;
  assert.ok(
    markSame / rows.length > 0.98,
    `${markSame}/${rows.length} seconds with the same mark price`,
  );
});

Deno.test("MicroSampler on the full-depth books stream reproduces the stored 1 s book rows", () => {
  // The stored rows were rebuilt independently from the same Binance diffs (shared/data
  // tools/rebuild_1s.py); they differ only where that tool's running-max clock ordered a late diff
  // differently (MANIFEST / replay README: 3 of 514 rows in this window).
  const sampler = new MicroSampler("BTCUSDT", "books");
  const rows: MicroInput[] = [];
  for (const e of EVENTS23) sampler.push(e, rows);
  const stored = new Map(ROWS23.map((r) => [r.ts, r]));
  let mid = 0, imb5 = 0;
  for (const r of rows) {
    const s = stored.get(r.ts)!;
    if (s.mid === r.mid) mid++;
    if (Math.abs(s.imbalance5 - r.imbalance5) < 1e-12) imb5++;
  }
  assert.equal(rows.length, ROWS23.length);
  assert.ok(mid / rows.length > 0.98, `${mid}/${rows.length} equal mids`);
  assert.ok(imb5 / rows.length > 0.96, `${imb5}/${rows.length} equal top-5 imbalances`);
});

Deno.test("MicroSampler timing: first record, idle seconds, late events and gaps", () => {
  const book = (ts: number, bid: string, ask: string): MarketEvent => ({
    kind: "book",
    channel: "books15",
    symbol: "X",
    ts,
    recvTs: ts,
    action: "snapshot",
    bids: [[bid, "2"]],
    asks: [[ask, "1"]],
    seq: null,
    checksum: null,
    top: null,
  });
  const trade = (ts: number, side: "buy" | "sell", size: number, price = 100): MarketEvent => ({
    kind: "trade",
    symbol: "X",
    ts,
    recvTs: ts,
    tradeId: String(ts),
    price,
    size,
    side,
  });
  const s = new MicroSampler("X");
  const out: MicroInput[] = [];
  s.push(trade(9_500, "buy", 7), out); // before any book: belongs to no record
  s.push(book(10_300, "99", "101"), out);
  s.push(trade(10_900, "buy", 1), out);
  s.push(trade(11_000, "sell", 3, 102), out); // at the boundary: counts for second 11 000
  s.push(trade(11_400, "buy", 2), out);
  assert.deepEqual(
    out.map((r) => r.ts),
    [11_000],
    "first record: first whole second after the book",
  );
  assert.deepEqual([
    out[0].buyVolume,
    out[0].sellVolume,
    out[0].tradeCount,
    out[0].vwap,
    out[0].last,
  ], [1, 3, 2, 406 / 4, 102]);
  assert.equal(out[0].mid, 100);
  s.advance(14_000, out); // idle seconds still produce records (book carried, no trades)
  assert.deepEqual(out.map((r) => r.ts), [11_000, 12_000, 13_000, 14_000]);
  assert.deepEqual([out[1].buyVolume, out[2].tradeCount, out[3].mid], [2, 0, 100]);
  s.push(trade(13_500, "sell", 9), out); // late: counted in the next second, history unchanged
  s.advance(15_000, out);
  assert.deepEqual([out[3].sellVolume, out[4].ts, out[4].sellVolume], [0, 15_000, 9]);
  s.push({
    kind: "gap",
    symbol: "X",
    channel: "books15",
    ts: 15_200,
    recvTs: 15_200,
    startTs: 15_000,
    endTs: 16_100,
    reason: "disconnect",
    detail: "",
  }, out);
  s.advance(16_000, out);
  assert.equal(out.length, 5, "no book after a gap: no records");
  s.push(book(16_100, "100", "102"), out);
  s.advance(17_000, out);
  assert.deepEqual(out.slice(5).map((r) => [r.ts, r.afterGap, r.mid]), [[17_000, true, 101]]);
  s.push({ ...trade(17_600, "buy", 1), symbol: "Y" }, out);
  s.advance(18_000, out);
  assert.equal(out[6].tradeCount, 0, "other symbols are ignored");
});

Deno.test("no look-ahead: changing or removing all samples after t leaves rows ≤ t unchanged", () => {
  const full = runMicroBatch(ROWS23, SHORT);
  for (const t of [0, 9, 59, 200, ROWS23.length - 2]) {
    const cut = runMicroBatch(ROWS23.slice(0, t + 1), SHORT);
    const changed = ROWS23.map((r, i) =>
      i <= t ? r : {
        ...r,
        mid: r.mid * (1 + 0.001 * Math.sin(i)),
        buyVolume: 5,
        sellVolume: 1,
        markPrice: r.markPrice + 3,
        openInterest: 1 + i,
      }
    );
    const alt = runMicroBatch(changed, SHORT);
    for (let i = 0; i <= t; i++) {
      sameRow(matrixRow(cut, i), matrixRow(full, i), `truncated at ${t}, row ${i}`);
      sameRow(matrixRow(alt, i), matrixRow(full, i), `changed after ${t}, row ${i}`);
    }
  }
});

Deno.test("short holes are filled forward; long holes and afterGap reset", () => {
  const opts: MicroOptions = { ...SHORT, maxFillMs: 5000 };
  // 3 missing seconds: same as feeding explicit fill rows (previous book/ticker, no trades).
  const holed = [...ROWS23.slice(0, 200), ...ROWS23.slice(203)];
  const fill = [200, 201, 202].map((i) => ({
    ...ROWS23[199],
    ts: ROWS23[i].ts,
    buyVolume: 0,
    sellVolume: 0,
    tradeCount: 0,
    vwap: NaN,
  }));
  const explicit = runMicroBatch([...ROWS23.slice(0, 200), ...fill, ...ROWS23.slice(203)], opts);
  const m = runMicroBatch(holed, opts);
  for (let i = 200; i < holed.length; i++) {
    sameRow(matrixRow(m, i), matrixRow(explicit, i + 3), `filled row ${i}`);
  }
  // 10 missing seconds (> 5 s): the rows after the hole equal a fresh start there.
  const long = [...ROWS23.slice(0, 200), ...ROWS23.slice(210)];
  const mLong = runMicroBatch(long, opts);
  const fresh = runMicroBatch(ROWS23.slice(210), opts);
  for (let i = 200; i < long.length; i++) {
    sameRow(matrixRow(mLong, i), matrixRow(fresh, i - 200), `reset row ${i}`);
  }
  // A sample flagged afterGap resets even on a 1 s step.
  const flagged = ROWS23.map((r, i) => (i === 300 ? { ...r, afterGap: true } : r));
  const mFlag = runMicroBatch(flagged, opts);
  const fresh300 = runMicroBatch(ROWS23.slice(300), opts);
  for (let i = 300; i < ROWS23.length; i++) {
    sameRow(matrixRow(mFlag, i), matrixRow(fresh300, i - 300), `afterGap row ${i}`);
  }
});

Deno.test("warm-ups are as declared: short ones on real data, 60-min ones on a 4.2 h stream", () => {
  const m = runMicroBatch(ROWS23);
  const firstFinite = (mm: FeatureMatrix, f: string) =>
    matrixColumn(mm, f).findIndex((v) => !Number.isNaN(v));
  for (const f of MICRO_FEATURES) {
    const d = featureDef(f);
    if (f === "vwap_mid_bps") continue; // NaN in seconds without trades, by definition
    if (d.warmup < ROWS23.length) assert.equal(firstFinite(m, f), d.warmup, `${f} first finite`);
    else assert.equal(firstFinite(m, f), -1, `${f} still warming up after ${ROWS23.length} s`);
  }
  // Property check on a synthetic 4.2 h stream (random walk mid, ticker and OI present),
  // starting 1 s into a 15-min bar (the ATR's best case) and 2 s into one (its worst case).
  for (const [offset, atrWarmup] of [[1000, 13499], [2000, 14398]]) {
    let seed = 42;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5;
    let mid = 30000, oi = 5e4;
    const start = 1_700_000_100_000 - (1_700_000_100_000 % 900_000) + offset;
    const rows: MicroInput[] = [];
    for (let i = 0; i < 15_000; i++) {
      mid *= 1 + 1e-4 * rnd();
      oi *= 1 + 1e-3 * rnd();
      rows.push({
        ts: start + i * 1000,
        mid,
        spreadBps: 0.5,
        imbalance1: rnd(),
        imbalance3: rnd(),
        imbalance5: rnd(),
        depthTotal: 10,
        depth5bps: 5,
        depth10bps: 8,
        buyVolume: 1 + rnd(),
        sellVolume: 1 + rnd(),
        tradeCount: 3,
        vwap: mid,
        last: mid * (1 + 1e-5 * rnd()),
        markPrice: mid,
        indexPrice: mid * 0.9999,
        fundingRate: 1e-4,
        nextFundingTime: start + 8 * 3600_000,
        openInterest: oi,
      });
    }
    const mm = runMicroBatch(rows);
    assert.equal(firstFinite(mm, "mark_last_z_60m"), featureDef("mark_last_z_60m").warmup);
    assert.equal(firstFinite(mm, "oi_chg_z_60m"), featureDef("oi_chg_z_60m").warmup);
    assert.equal(firstFinite(mm, "atr15m_bps"), atrWarmup, `ATR warm-up at offset ${offset}`);
    assert.ok(atrWarmup <= featureDef("atr15m_bps").warmup);
  }
});

Deno.test("bad samples are rejected with the sample time and the reason", () => {
  const e = new MicroEngine();
  e.update(ROWS24[0]);
  assert.throws(() => e.update(ROWS24[0]), /ts=1721347023000.*time order/);
  assert.throws(() => e.update({ ...ROWS24[1], ts: ROWS24[1].ts + 500 }), /whole second/);
  assert.throws(() => e.update({ ...ROWS24[1], mid: NaN }), /mid must be a positive number/);
  assert.throws(() => e.update({ ...ROWS24[1], sellVolume: -1 }), /volume must be ≥ 0/);
  assert.throws(
    () => runMicroBatch([ROWS24[0], { ...ROWS24[1], imbalance1: NaN }]),
    /^RangeError: row 1: micro input/,
  );
  assert.throws(() => new MicroEngine({ atrBarMs: 1500 }), /atrBarMs/);
});
