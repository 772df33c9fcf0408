/**
 * Wire parsing of every public-WebSocket fixture in ../shared/bitget/fixtures and of the real
 * tardis-node v2/v3 messages, plus malformed input: typed errors, never an exception.
 */
import assert from "node:assert/strict";
import { Normalizer } from "../src/bitget/normalize.ts";
import {
  classifyFrame,
  type DataFrame,
  type EventFrame,
  MALFORMED_REASONS,
  type MalformedFrame,
  parseFrame,
} from "../src/bitget/wire.ts";
import type {
  BookEvent,
  CandleEvent,
  MarketEvent,
  TickerEvent,
  TradeEvent,
} from "../src/market/events.ts";

const FIX = new URL("../../shared/bitget/fixtures/", import.meta.url);
const TARDIS = new URL(
  "../../shared/data/bitget_v2_v3_ws_messages_tardis_fixtures.jsonl",
  import.meta.url,
);
const fixture = (rel: string) => Deno.readTextFileSync(new URL(rel, FIX));

function data(text: string): DataFrame {
  const f = parseFrame(text);
  assert.equal(f.type, "data", JSON.stringify(f).slice(0, 200));
  return f as DataFrame;
}

function normalize(text: string, n = new Normalizer()): MarketEvent[] {
  const out: MarketEvent[] = [];
  const err = n.apply(data(text), 1, out);
  assert.equal(err, null, JSON.stringify(err));
  return out;
}

Deno.test("docs ticker (symbolType number) and recorded tickers (symbolType string)", () => {
  const doc = normalize(fixture("docs/ws_ticker.json"))[0] as TickerEvent;
  assert.deepEqual(doc, {
    kind: "ticker",
    symbol: "BTCUSDT",
    ts: 1695715383021,
    recvTs: 1,
    last: 27000.5,
    bid: 27000,
    ask: 27000.5,
    bidSize: 2.71,
    askSize: 8.76,
    markPrice: 27000,
    indexPrice: 25702.4,
    fundingRate: 0.00001,
    nextFundingTime: 1695722400000,
    openInterest: 929.502,
    open24h: 27000.5,
    high24h: 30668.5,
    low24h: 26999,
    baseVolume24h: 368.9,
    quoteVolume24h: 10152429.961,
  });
  const ccxt = normalize(fixture("ccxt/ws_ticker_usdt_futures_ccxt.json"))[0] as TickerEvent;
  assert.equal(ccxt.fundingRate, 0.000096);
  assert.equal(ccxt.openInterest, 50670.787);
  // No deliveryPrice key in the 2026 recording: still a valid ticker.
  const rec = normalize(fixture("unattributed/ws_ticker_usdt_futures_recorded.json"))[0];
  assert.equal((rec as TickerEvent).markPrice, 83692.3);
  assert.equal((rec as TickerEvent).ts, 1790358794983);
});

Deno.test("trades: oldest first, typed, de-duplicated by tradeId", () => {
  const n = new Normalizer();
  // The doc example reuses the placeholder tradeId "1111111111": the second row is a duplicate.
  const doc = normalize(fixture("docs/ws_trade.json"), n) as TradeEvent[];
  assert.equal(doc.length, 1);
  assert.equal(n.counters.duplicateTrades, 1);
  assert.deepEqual(doc[0], {
    kind: "trade",
    symbol: "BTCUSDT",
    ts: 1695716759514,
    recvTs: 1,
    tradeId: "1111111111",
    price: 27000,
    size: 0.001,
    side: "sell",
  });
  const spot = normalize(fixture("unattributed/ws_spot_trade_recorded.json"))[0] as TradeEvent;
  assert.equal(spot.tradeId, "1487438024184414208");
  assert.equal(spot.size, 0.000012);
});

Deno.test("candles: 8-column WS rows, interval from the channel", () => {
  const c = normalize(fixture("docs/ws_candle1m.json"))[0] as CandleEvent;
  assert.deepEqual(c, {
    kind: "candle",
    symbol: "BTCUSDT",
    ts: 1695685500000,
    recvTs: 1,
    interval: "1m",
    open: 27000,
    high: 27000.5,
    low: 27000,
    close: 27000.5,
    volume: 0.057,
    quoteVolume: 1539.0155,
  });
  const spot = normalize(fixture("ccxt/ws_candle1m_spot_ccxt.json")) as CandleEvent[];
  assert.deepEqual(spot.map((e) => e.ts), [1701871620000, 1701871680000]);
  // Recorded spot snapshot without an envelope ts: three rows, the last a zero-volume bar.
  const rec = normalize(fixture("unattributed/ws_spot_candle1m_snapshot_recorded.json"));
  assert.equal(rec.length, 3);
  assert.equal((rec[2] as CandleEvent).volume, 0);
});

Deno.test("books5 snapshots are classified but not normalized (channel not collected)", () => {
  for (const f of ["docs/ws_books5_snapshot.json", "ccxt/ws_books5_spot_with_checksum_ccxt.json"]) {
    const n = new Normalizer();
    const err = n.apply(data(fixture(f)), 1, []);
    assert.equal(err?.reason, "channel");
    assert.equal(n.counters.malformed.channel, 1);
  }
});

Deno.test("event frames: acks, errors with numeric or string code, doc-style unsubscribe", () => {
  const ack = parseFrame(fixture("docs/ws_ticker_subscribe_ack.json")) as EventFrame;
  assert.equal(ack.type, "event");
  assert.equal(ack.event, "subscribe");
  assert.deepEqual(ack.arg, { instType: "USDT-FUTURES", channel: "ticker", instId: "BTCUSDT" });
  const unsub = parseFrame(fixture("ccxt/ws_unsubscribe_ack_ccxt.json")) as EventFrame;
  assert.equal(unsub.event, "unsubscribe");
  const echoed = parseFrame(fixture("docs/ws_unsubscribe_response_as_documented.json"));
  assert.equal((echoed as EventFrame).event, "unsubscribe");
  const err = parseFrame(fixture("unattributed/ws_subscribe_error_30016_recorded.json"));
  assert.deepEqual(err, {
    type: "event",
    event: "error",
    arg: { instType: "SPOT", channel: "candle1h", instId: "BTCUSDT" },
    code: 30016,
    msg: "Param error",
    op: "subscribe",
  });
  const docErr = parseFrame(fixture("docs/ws_login_error.json")) as EventFrame;
  assert.equal(docErr.code, 30005, "string code parsed as number");
  assert.equal((parseFrame(fixture("docs/ws_login_ack.json")) as EventFrame).code, 0);
  assert.deepEqual(parseFrame("pong"), { type: "pong" });
});

Deno.test("tardis-node real messages: v2 parsed, v3 rejected as malformed, nothing throws", () => {
  const lines = Deno.readTextFileSync(TARDIS).split("\n").filter((l) => l.trim());
  assert.equal(lines.length, 32);
  const n = new Normalizer();
  const counts = { v2data: 0, events: 0, v3: 0, books: 0 };
  for (const line of lines) {
    const { test, msg } = JSON.parse(line);
    const f = classifyFrame(msg);
    if (test.includes("v3")) {
      // v3 uses `topic`/`symbol` in arg: not a v2 frame.
      assert.equal(f.type, "malformed");
      assert.equal((f as MalformedFrame).reason, "arg");
      counts.v3++;
      continue;
    }
    if (f.type === "event") {
      counts.events++;
      continue;
    }
    assert.equal(f.type, "data");
    counts.v2data++;
    const out: MarketEvent[] = [];
    const err = n.apply(f as DataFrame, 2, out);
    const ch = (f as DataFrame).arg.channel;
    if (ch === "books1") assert.equal(err?.reason, "channel");
    else assert.equal(err, null, `${ch}: ${JSON.stringify(err)}`);
    for (const e of out) if (e.kind === "book") counts.books++;
  }
  assert.deepEqual(counts, { v2data: 15, events: 5, v3: 12, books: 4 });
  // Two `books` updates (LMWRUSDT, AXSUSDT) arrived without their snapshot (single messages): ignored, not errors.
  assert.equal(n.counters.updatesWithoutSnapshot, 2);
  const yg = classifyFrame(
    JSON.parse(lines.find((l) => l.includes("YGGUSDT"))!).msg,
  ) as DataFrame;
  const ev = normalize(JSON.stringify(yg))[0] as BookEvent;
  assert.equal(ev.channel, "books15");
  assert.equal(ev.top?.bestBid, 0.47242);
  assert.equal(ev.top?.bestAsk, 0.47256);
  assert.equal(ev.asks[2][1], "2677.5600", "exchange strings are kept");
});

Deno.test("malformed frames: typed reason + excerpt, never an exception", () => {
  const cases: Array<[string, string]> = [
    ["{not json", "json"],
    ["[1,2,3]", "shape"],
    ['{"foo":1}', "shape"],
    [
      '{"action":"delta","arg":{"instType":"X","channel":"ticker","instId":"B"},"data":[]}',
      "action",
    ],
    ['{"action":"update","arg":{"channel":"ticker"},"data":[]}', "arg"],
    [
      '{"action":"update","arg":{"instType":"X","channel":"ticker","instId":"B"},"data":{}}',
      "data",
    ],
    [
      '{"action":"update","arg":{"instType":"X","channel":"ticker","instId":"B"},"data":[],"ts":"x"}',
      "field",
    ],
    ['{"event":"error","code":"abc"}', "field"],
    ['{"event":"subscribe","arg":"books"}', "arg"],
  ];
  for (const [text, reason] of cases) {
    const f = parseFrame(text);
    assert.equal(f.type, "malformed", text);
    assert.equal((f as MalformedFrame).reason, reason, text);
    assert.ok((f as MalformedFrame).excerpt.length <= 161);
  }
  const arg = '"arg":{"instType":"USDT-FUTURES","channel":"%C","instId":"BTCUSDT"}';
  const items: Array<[string, string, string]> = [
    ["ticker", '[{"lastPr":"1"}]', "field"],
    ["ticker", '["x"]', "data"],
    ["trade", '[{"ts":"1","price":"1","size":"1","side":"hold","tradeId":"1"}]', "field"],
    ["trade", '[{"ts":"1","price":"abc","size":"1","side":"buy","tradeId":"1"}]', "field"],
    ["trade", '[{"ts":"1","price":"1","size":"1","side":"buy"}]', "field"],
    ["candle1m", '[["1","2","3"]]', "data"],
    ["candle15m", '[["1","2","3","4","5","x","7","8"]]', "data"],
    ["books", '[{"asks":[["1"]],"bids":[]}]', "level"],
    ["books", '[{"asks":[[1,{}]],"bids":[]}]', "level"],
    ["books", '[{"asks":"none","bids":[]}]', "level"],
    ["books", '[{"asks":[],"bids":[],"seq":"abc"}]', "field"],
    ["books", '[{"asks":[["abc","1"]],"bids":[]}]', "level"],
    ["books15", '[{"asks":[["1","x"]],"bids":[]}]', "level"],
    ["books15", "[42]", "data"],
  ];
  for (const [ch, d, reason] of items) {
    const text = `{"action":"snapshot",${arg.replace("%C", ch)},"data":${d},"ts":1}`;
    const n = new Normalizer();
    const err = n.apply(data(text), 1, []);
    assert.equal(err?.reason, reason, `${ch} ${d}: ${JSON.stringify(err)}`);
    assert.equal(n.counters.malformed[reason], 1);
    assert.ok(MALFORMED_REASONS.includes(err!.reason));
  }
});

Deno.test("numbers accepted where Bitget usually sends strings", () => {
  const text = JSON.stringify({
    action: "snapshot",
    arg: { instType: "USDT-FUTURES", channel: "books", instId: "BTCUSDT" },
    data: [{ asks: [[100.5, 2]], bids: [[100, 1]], checksum: 0, seq: 7, ts: 1000 }],
    ts: 1001,
  });
  const ev = normalize(text)[0] as BookEvent;
  assert.deepEqual(ev.asks, [["100.5", "2"]]);
  assert.equal(ev.seq, 7);
  assert.equal(ev.top?.mid, 100.25);
  const trade = JSON.stringify({
    action: "update",
    arg: { instType: "USDT-FUTURES", channel: "trade", instId: "BTCUSDT" },
    data: [{ ts: 5, price: 10, size: 0.5, side: "buy", tradeId: 99 }],
    ts: 6,
  });
  assert.equal((normalize(trade)[0] as TradeEvent).tradeId, "99");
});

/** Deterministic xorshift PRNG for the mutation property test. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

Deno.test("property: random mutations of real frames never throw", () => {
  const sources = [
    fixture("docs/ws_ticker.json"),
    fixture("docs/ws_trade.json"),
    fixture("docs/ws_candle1m.json"),
    fixture("cryptofeed_v1_real/ws_v1_mix_books_snapshot_UNIUSDT.json").replace(
      '"instType":"mc"',
      '"instType":"USDT-FUTURES"',
    ),
  ].map((t) => JSON.stringify(JSON.parse(t)));
  const r = rng(12345);
  const junk = ['"', "{", "]", "null", "-", "0", ",", '"x"', "1e999", "[]", "{}"];
  const n = new Normalizer();
  let parsed = 0;
  for (let i = 0; i < 3000; i++) {
    let t = sources[i % sources.length];
    const k = 1 + Math.floor(r() * 3);
    for (let j = 0; j < k; j++) {
      const at = Math.floor(r() * t.length);
      const cut = Math.floor(r() * 4);
      t = t.slice(0, at) + junk[Math.floor(r() * junk.length)] + t.slice(at + cut);
    }
    const f = parseFrame(t);
    if (f.type === "data") {
      parsed++;
      n.apply(f, 1, []);
    }
  }
  assert.ok(parsed > 100, "some mutations still parse as data frames and reach the normalizer");
});
