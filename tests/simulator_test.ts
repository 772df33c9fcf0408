/**
 * Loopback Bitget v2 simulator (src/simulator, `bitget-bot replay`): real sockets on 127.0.0.1,
 * the real recordings of shared/data/bitget_replay and the real CSVs of shared/data.
 *
 * Expected frames are read independently of the loader (node:zlib + JSON.parse per line), and
 * books are checked with the product's OrderBook + bookChecksum (API.md §2.1–§2.2).
 */
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { bookChecksum } from "../src/bitget/checksum.ts";
import type { BookLevel } from "../src/market/events.ts";
import { OrderBook } from "../src/market/order_book.ts";
import { parseFaultSpec } from "../src/simulator/faults.ts";
import { loadRecording, RecordingError } from "../src/simulator/recording.ts";
import { type Simulator, startSimulator } from "../src/simulator/server.ts";

const path = (rel: string) => decodeURIComponent(new URL(rel, import.meta.url).pathname);
const REPLAY = path("../../shared/data/bitget_replay/");
const REC24 = REPLAY + "bitget_v2_public_BTCUSDT-ETHUSDT_20240718T2357.jsonl.gz";
const REC23 = REPLAY + "bitget_v2_public_BTCUSDT_20230404T2358.jsonl.gz";
const REST_FIX = REPLAY + "rest/20240718T2357/";
const DATA = path("../../shared/data/");
const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
const CHANNELS = ["books15", "books", "trade", "ticker", "candle1m", "candle15m"];

// ---- independent expectation: every data frame's msg text, straight from the file -------------

interface Expected {
  texts: string[];
  keys: string[];
  byKey: Map<string, string[]>;
  acks: number;
}

function readExpected(file: string): Expected {
  const raw = new TextDecoder().decode(gunzipSync(Deno.readFileSync(file)));
  const exp: Expected = { texts: [], keys: [], byKey: new Map(), acks: 0 };
  for (const line of raw.split("\n")) {
    if (line === "") continue;
    const o = JSON.parse(line);
    if (o.msg.event !== undefined) {
      exp.acks++;
      continue;
    }
    const text = line.slice(line.indexOf('"msg":') + 6, line.length - 1);
    // The recording is compact JSON, so the msg's own serialisation equals its bytes in the line.
    if (JSON.stringify(o.msg) !== text) {
      throw new Error(`cannot isolate msg text: ${line.slice(0, 80)}`);
    }
    const key = `${o.msg.arg.channel}:${o.msg.arg.instId}`;
    exp.texts.push(text);
    exp.keys.push(key);
    if (!exp.byKey.has(key)) exp.byKey.set(key, []);
    exp.byKey.get(key)!.push(text);
  }
  return exp;
}

const EXP = readExpected(REC24);
const REC = await loadRecording(REC24);

/** Frames per key: README.md §5 (snapshot + updates). */
const README_COUNTS_2024: Record<string, number> = {
  "books:BTCUSDT": 9018,
  "books:ETHUSDT": 8924,
  "books15:BTCUSDT": 3196,
  "books15:ETHUSDT": 3196,
  "trade:BTCUSDT": 3582,
  "trade:ETHUSDT": 3416,
  "ticker:BTCUSDT": 1563,
  "ticker:ETHUSDT": 1566,
  "candle1m:BTCUSDT": 837,
  "candle1m:ETHUSDT": 862,
  "candle15m:BTCUSDT": 834,
  "candle15m:ETHUSDT": 859,
};

// ---- a small WebSocket client that records everything ------------------------------------------

class WsClient {
  readonly msgs: string[] = [];
  /** Count of data frames (`{"action"…`) received, kept so polling stays O(1). */
  dataCount = 0;
  readonly at: number[] = [];
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<CloseEvent>;
  closeEvent: CloseEvent | null = null;
  sawError = false;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.addEventListener("open", () => resolve());
      this.ws.addEventListener("close", () => reject(new Error("closed before open")));
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => {
      this.ws.addEventListener("close", (e) => {
        this.closeEvent = e;
        resolve(e);
      });
    });
    this.ws.onerror = () => (this.sawError = true);
    this.ws.onmessage = (e) => {
      if ((e.data as string).startsWith('{"action"')) this.dataCount++;
      this.msgs.push(e.data as string);
      this.at.push(performance.now());
    };
  }

  send(x: string | object): void {
    this.ws.send(typeof x === "string" ? x : JSON.stringify(x));
  }

  data(): string[] {
    return this.msgs.filter((m) => m.startsWith('{"action"'));
  }

  async until(pred: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
    const end = performance.now() + timeoutMs;
    while (!pred()) {
      if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async close(): Promise<void> {
    if (this.ws.readyState <= WebSocket.OPEN) this.ws.close();
    await this.closed;
  }
}

function args(symbols: string[], channels: string[]) {
  const out = [];
  for (const instId of symbols) {
    for (const channel of channels) out.push({ instType: "USDT-FUTURES", channel, instId });
  }
  return out;
}

async function withSim(
  opts: Partial<Parameters<typeof startSimulator>[0]>,
  fn: (sim: Simulator) => Promise<void>,
): Promise<void> {
  const sim = await startSimulator({ recording: REC, ...opts });
  try {
    await fn(sim);
  } finally {
    await sim.close();
  }
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(url);
  return { status: r.status, body: await r.json() };
}
const getJsonRaw = getJson;

async function readFixture(name: string): Promise<{ data: unknown }> {
  return JSON.parse(await Deno.readTextFile(REST_FIX + name));
}

const keyOfText = (t: string) => {
  const a = JSON.parse(t).arg;
  return `${a.channel}:${a.instId}`;
};

// ---- loader -------------------------------------------------------------------------------------

Deno.test("recording loader: counts per key, exact msg bytes, .jsonl, clear errors", async () => {
  console.log(`load ${REC24.split("/").pop()}: ${REC.lines} lines in ${REC.loadMs.toFixed(0)} ms`);
  assert.equal(REC.count, EXP.texts.length);
  assert.equal(REC.skippedEvents, 12);
  assert.equal(REC.lines, 37_865);
  for (const [key, n] of Object.entries(README_COUNTS_2024)) {
    const k = REC.keyIndex.get(key);
    assert.ok(k !== undefined, key);
    assert.equal(REC.keys[k].frames.length, n, key);
  }
  // Byte-identical texts, in file order.
  let mismatches = 0;
  for (let i = 0; i < REC.count; i++) if (REC.text[i] !== EXP.texts[i]) mismatches++;
  assert.equal(mismatches, 0);
  // Validated (full JSON.parse) loading gives the same frames.
  const rec23 = await loadRecording(REC23);
  const rec23v = await loadRecording(REC23, { validate: true });
  assert.deepEqual(rec23v.text, rec23.text);
  const counts23 = Object.fromEntries(
    rec23.keys.map((k) => [`${k.channel}:${k.instId}`, k.frames.length]),
  );
  assert.deepEqual(counts23, {
    "books:BTCUSDT": 16_088,
    "books15:BTCUSDT": 3427,
    "trade:BTCUSDT": 4015,
    "ticker:BTCUSDT": 1693,
    "candle1m:BTCUSDT": 966,
    "candle15m:BTCUSDT": 959,
  });

  const dir = await Deno.makeTempDir();
  try {
    // Plain .jsonl with CRLF line ends and a blank line.
    const lines = new TextDecoder().decode(gunzipSync(Deno.readFileSync(REC24))).split("\n").slice(
      0,
      600,
    );
    await Deno.writeTextFile(`${dir}/head.jsonl`, lines.join("\r\n") + "\r\n\r\n");
    const head = await loadRecording(`${dir}/head.jsonl`);
    assert.equal(head.count, 600 - 12);
    assert.deepEqual(head.text, REC.text.slice(0, 600 - 12));
    // A broken line is reported with file and line number.
    await Deno.writeTextFile(
      `${dir}/bad.jsonl`,
      lines.slice(0, 20).join("\n") + '\n{"recv_ms":1,"msg":{"action":"update"\n',
    );
    await assert.rejects(() => loadRecording(`${dir}/bad.jsonl`), (e: Error) => {
      assert.ok(e instanceof RecordingError);
      assert.match(e.message, /bad\.jsonl:21: /);
      return true;
    });
    await assert.rejects(() => loadRecording(`${dir}/missing.jsonl.gz`), RecordingError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---- the whole stream ---------------------------------------------------------------------------

Deno.test("ws: every frame of both symbols exactly once, byte-identical, in order; REST follows", async () => {
  await withSim({ speed: "max" }, async (sim) => {
    const c = new WsClient(sim.wsUrl);
    await c.opened;
    const subArgs = args(SYMBOLS, CHANNELS);
    c.send({ op: "subscribe", args: subArgs });
    await c.until(() => c.dataCount >= EXP.texts.length, "all frames");
    // A moment for anything extra (duplicates) to show up.
    await new Promise((r) => setTimeout(r, 100));
    const acks = c.msgs.filter((m) => m.startsWith('{"event"'));
    assert.deepEqual(acks, subArgs.map((a) => JSON.stringify({ event: "subscribe", arg: a })));
    const data = c.data();
    assert.equal(data.length, EXP.texts.length);
    // In order overall (hence per key), byte-identical, each exactly once.
    let firstBad = -1;
    for (let i = 0; i < data.length && firstBad < 0; i++) {
      if (data[i] !== EXP.texts[i]) firstBad = i;
    }
    assert.equal(firstBad, -1, `first differing frame ${firstBad}`);
    const perKey: Record<string, number> = {};
    for (const t of data) perKey[keyOfText(t)] = (perKey[keyOfText(t)] ?? 0) + 1;
    assert.deepEqual(perKey, README_COUNTS_2024);

    const dataAt = c.at.filter((_, i) => c.msgs[i].startsWith('{"action"'));
    const ms = dataAt[dataAt.length - 1] - dataAt[0];
    const mb = data.reduce((t, s) => t + s.length, 0) / 1e6;
    console.log(
      `speed max: ${data.length} frames (${mb.toFixed(1)} MB) in ${ms.toFixed(0)} ms = ` +
        `${(data.length / ms * 1000).toFixed(0)} frames/s, ${(mb / ms * 1000).toFixed(0)} MB/s`,
    );

    const st = sim.status();
    assert.equal(st.connections.length, 1);
    assert.equal(st.connections[0].framesSent, EXP.texts.length);
    assert.equal(st.connections[0].done, true);
    assert.equal(st.connections[0].closed, false);
    assert.equal(st.totals.framesSent, EXP.texts.length);
    assert.equal(st.connections[0].subscriptions.length, 12);

    // REST now reflects the last ticker of each symbol: equal to the recording's end fixtures.
    for (const sym of SYMBOLS) {
      for (const ep of ["symbol-price", "open-interest", "current-fund-rate", "funding-time"]) {
        const { status, body } = await getJson(
          `${sim.restUrl}/api/v2/mix/market/${ep}?productType=USDT-FUTURES&symbol=${sym}`,
        );
        assert.equal(status, 200);
        assert.deepEqual(
          body.data,
          (await readFixture(`end/${ep}_${sym}.json`)).data,
          `${ep} ${sym}`,
        );
      }
    }
    await c.close();
  });
});

Deno.test("ws: onEnd close sends the remaining frames then closes 1000", async () => {
  await withSim({ speed: "max", onEnd: "close" }, async (sim) => {
    const c = new WsClient(sim.wsUrl);
    await c.opened;
    c.send({ op: "subscribe", args: args(["ETHUSDT"], ["ticker"]) });
    const e = await c.closed;
    assert.equal(e.code, 1000);
    assert.deepEqual(c.data(), EXP.byKey.get("ticker:ETHUSDT"));
  });
});

// ---- protocol -----------------------------------------------------------------------------------

Deno.test("ws protocol: ping/pong, acks, 30001/30003/30016 errors, unsubscribe, 4096-byte args", async () => {
  await withSim({ speed: 1 }, async (sim) => {
    const c = new WsClient(sim.wsUrl);
    await c.opened;
    c.send("ping");
    await c.until(() => c.msgs.includes("pong"), "pong");
    assert.deepEqual(c.msgs, ["pong"]);

    c.send({
      op: "subscribe",
      args: [
        { instType: "USDT-FUTURES", channel: "ticker", instId: "FOOUSDT" },
        { instType: "USDT-FUTURES", channel: "ticker", instId: "ETHUSDT" },
        { instType: "USDT-FUTURES", channel: "books5", instId: "BTCUSDT" },
        { instType: "USDT-FUTURES", channel: "ticker" },
      ],
    });
    await c.until(() => c.msgs.length >= 5, "4 replies");
    assert.deepEqual(c.msgs.slice(1, 5), [
      `{"event":"error","arg":{"instType":"USDT-FUTURES","channel":"ticker","instId":"FOOUSDT"},"code":30001,"msg":"instType:USDT-FUTURES,channel:ticker,instId:FOOUSDT doesn't exist","op":"subscribe"}`,
      `{"event":"subscribe","arg":{"instType":"USDT-FUTURES","channel":"ticker","instId":"ETHUSDT"}}`,
      `{"event":"error","arg":{"instType":"USDT-FUTURES","channel":"books5","instId":"BTCUSDT"},"code":30001,"msg":"instType:USDT-FUTURES,channel:books5,instId:BTCUSDT doesn't exist","op":"subscribe"}`,
      `{"event":"error","arg":{"instType":"USDT-FUTURES","channel":"ticker"},"code":30016,"msg":"Param error","op":"subscribe"}`,
    ]);
    // The accepted subscription streams the recording's first ETH ticker (its own snapshot).
    await c.until(() => c.data().length >= 1, "first ticker");
    assert.equal(c.data()[0], EXP.byKey.get("ticker:ETHUSDT")![0]);

    const mark = c.msgs.length;
    c.send("{not json");
    c.send({ op: "login", args: [] });
    c.send({
      op: "subscribe",
      args: Array.from(
        { length: 60 },
        (_, i) => ({ instType: "USDT-FUTURES", channel: "candle1m", instId: `SYMBOL${i}USDT` }),
      ),
    });
    c.send({
      op: "unsubscribe",
      args: [{ instType: "USDT-FUTURES", channel: "ticker", instId: "ETHUSDT" }],
    });
    await c.until(
      () => c.msgs.slice(mark).filter((m) => m.startsWith('{"event"')).length >= 4,
      "4 events",
    );
    const events = c.msgs.slice(mark).filter((m) => m.startsWith('{"event"'));
    assert.deepEqual(events, [
      `{"event":"error","code":30016,"msg":"Param error"}`,
      `{"event":"error","code":30003,"msg":"Invalid op","op":"login"}`,
      `{"event":"error","code":30016,"msg":"args exceed 4096 bytes","op":"subscribe"}`,
      `{"event":"unsubscribe","arg":{"instType":"USDT-FUTURES","channel":"ticker","instId":"ETHUSDT"}}`,
    ]);
    assert.deepEqual(sim.status().connections[0].subscriptions, []);
    await c.close();
  });
});

Deno.test("ws limits: >10 messages/s → 30006 and close; no ping for idleTimeoutMs → close", async () => {
  await withSim({ speed: 1, idleTimeoutMs: 800 }, async (sim) => {
    const flood = new WsClient(sim.wsUrl);
    const idle = new WsClient(sim.wsUrl);
    const alive = new WsClient(sim.wsUrl);
    await Promise.all([flood.opened, idle.opened, alive.opened]);
    const pinger = setInterval(() => alive.send("ping"), 250);
    try {
      for (let i = 0; i < 11; i++) flood.send("ping");
      await flood.closed;
      assert.deepEqual(flood.msgs, [
        ...Array(10).fill("pong"),
        `{"event":"error","code":30006,"msg":"request too many"}`,
      ]);
      await idle.closed;
      assert.equal(idle.msgs.length, 0);
      assert.equal(alive.closeEvent, null, "a pinging connection stays open");
      const st = sim.status().connections;
      assert.match(st[0].closeReason!, /30006/);
      assert.match(st[1].closeReason!, /no ping for 800 ms/);
      assert.equal(st[2].closed, false);
    } finally {
      clearInterval(pinger);
    }
    await alive.close();
  });
});

// ---- mid-stream (re)subscribe -------------------------------------------------------------------

function applyBook(
  book: OrderBook,
  text: string,
): { checksum: number; seq: number; action: string } {
  const m = JSON.parse(text);
  const d = m.data[0] as { bids: BookLevel[]; asks: BookLevel[]; checksum: number; seq: number };
  if (m.action === "snapshot") book.snapshot(d.bids, d.asks);
  else book.update(d.bids, d.asks);
  return { checksum: d.checksum, seq: d.seq, action: m.action };
}

function top25(book: OrderBook): number {
  const t = book.top(25);
  return bookChecksum(t.bids, t.asks);
}

Deno.test("ws: mid-stream resubscribe gets realistic snapshots that the following updates verify against", async () => {
  await withSim({ speed: 10 }, async (sim) => {
    const c = new WsClient(sim.wsUrl);
    await c.opened;
    const books = { instType: "USDT-FUTURES", channel: "books", instId: "BTCUSDT" };
    c.send({ op: "subscribe", args: [books] });
    await c.until(() => c.data().length >= 100, "100 books frames");
    c.send({ op: "unsubscribe", args: [books] });
    c.send({
      op: "subscribe",
      args: [
        books,
        ...args(["BTCUSDT"], ["trade", "candle1m"]),
        ...args(["ETHUSDT"], ["ticker", "books15"]),
      ],
    });
    await c.until(
      () => c.msgs.filter((m) => m.startsWith('{"event":"subscribe"')).length >= 6,
      "acks",
    );
    // Nothing of books:BTCUSDT is sent between the unsubscribe ack and its new snapshot; the other
    // keys were not subscribed before. So each key's first frame after this point is its snapshot.
    const acked = c.msgs.indexOf(`{"event":"unsubscribe","arg":${JSON.stringify(books)}}`);
    assert.ok(acked > 0);
    // Every subscribed key gets a snapshot before its next recorded frame.
    await c.until(
      () =>
        new Set(c.msgs.slice(acked + 1).filter((m) => m.startsWith('{"action"')).map(keyOfText))
          .size >= 5,
      "snapshots",
    );
    const after = c.msgs.slice(acked + 1).filter((m) => m.startsWith('{"action"'));
    const first = (key: string) => after.find((m) => keyOfText(m) === key)!;

    // books: whole book, checksum 0, current seq; equals the recorded book at that seq.
    const snap = JSON.parse(first("books:BTCUSDT"));
    assert.equal(snap.action, "snapshot");
    assert.equal(snap.data[0].checksum, 0);
    assert.deepEqual(Object.keys(snap.data[0]), ["asks", "bids", "checksum", "seq", "ts"]);
    const book = new OrderBook();
    applyBook(book, first("books:BTCUSDT"));
    assert.ok(book.depth.bids > 900 && book.depth.asks > 900, "full depth, not a top-N book");
    const recorded = EXP.byKey.get("books:BTCUSDT")!.find((t) =>
      JSON.parse(t).data[0].seq === snap.data[0].seq
    );
    assert.ok(recorded, "snapshot seq is a recorded seq");
    assert.equal(top25(book), JSON.parse(recorded!).data[0].checksum);

    // trade: ≤ 50 recent trades, newest first, all real recorded trades.
    const trade = JSON.parse(first("trade:BTCUSDT"));
    assert.equal(trade.action, "snapshot");
    assert.ok(trade.data.length > 0 && trade.data.length <= 50);
    const recordedTrades = new Map<string, string>();
    for (const t of EXP.byKey.get("trade:BTCUSDT")!) {
      for (const d of JSON.parse(t).data) recordedTrades.set(d.tradeId, JSON.stringify(d));
    }
    for (let i = 0; i < trade.data.length; i++) {
      assert.equal(JSON.stringify(trade.data[i]), recordedTrades.get(trade.data[i].tradeId));
      if (i > 0) {
        assert.ok(Number(trade.data[i].ts) <= Number(trade.data[i - 1].ts), "newest first");
      }
    }
    // ticker, books15: the latest recorded push, byte for byte; then the next recorded one.
    for (const key of ["ticker:ETHUSDT", "books15:ETHUSDT"]) {
      const list = EXP.byKey.get(key)!;
      const j = list.indexOf(first(key));
      assert.ok(j > 0, `${key} snapshot is a recorded push`);
      await c.until(
        () =>
          c.msgs.slice(acked + 1).filter((m) => m.startsWith('{"action"') && keyOfText(m) === key)
            .length >= 2,
        `${key} update`,
      );
      const next = c.msgs.slice(acked + 1).filter((m) =>
        m.startsWith('{"action"') && keyOfText(m) === key
      )[1];
      assert.equal(next, list[j + 1]);
    }
    // candles: bars of the window, ascending, 8 strings each, last one the forming bar.
    const candle = JSON.parse(first("candle1m:BTCUSDT"));
    assert.equal(candle.action, "snapshot");
    for (const row of candle.data) {
      assert.equal(row.length, 8);
      assert.ok(row.every((v: unknown) => typeof v === "string"));
    }
    for (let i = 1; i < candle.data.length; i++) {
      assert.ok(Number(candle.data[i][0]) > Number(candle.data[i - 1][0]));
    }

    // The next 150 books updates apply on top of the snapshot and every checksum verifies.
    await c.until(
      () =>
        c.msgs.slice(acked + 1).filter((m) =>
          m.startsWith('{"action"') && keyOfText(m) === "books:BTCUSDT"
        ).length >= 151,
      "150 updates",
    );
    const updates = c.msgs.slice(acked + 1).filter((m) =>
      m.startsWith('{"action"') && keyOfText(m) === "books:BTCUSDT"
    ).slice(1, 151);
    let lastSeq = snap.data[0].seq;
    for (const u of updates) {
      const r = applyBook(book, u);
      assert.equal(r.action, "update");
      assert.ok(r.seq > lastSeq, "seq increases");
      lastSeq = r.seq;
      assert.equal(top25(book), r.checksum, `checksum at seq ${r.seq}`);
    }
    assert.equal(sim.status().connections[0].snapshotsSent, 5);
    await c.close();
  });
});

// ---- faults -------------------------------------------------------------------------------------

Deno.test("faults: each kind is observable by the client", async (t) => {
  const all = args(SYMBOLS, CHANNELS);

  await t.step("drop@N: N frames, then the TCP connection ends with no close frame", async () => {
    await withSim({ speed: "max", faults: ["drop@500"] }, async (sim) => {
      const c = new WsClient(sim.wsUrl);
      await c.opened;
      c.send({ op: "subscribe", args: all });
      const e = await c.closed;
      assert.equal(e.wasClean, false);
      assert.equal(c.sawError, true);
      assert.deepEqual(c.data(), EXP.texts.slice(0, 500));
      const st = sim.status();
      assert.equal(st.connections[0].closeReason, "fault drop@500");
      assert.deepEqual(st.faults.fired.map((f) => [f.spec, f.framesSent]), [["drop@500", 500]]);
      assert.deepEqual(st.faults.pending, []);
    });
  });

  await t.step(
    "stall@N:MS: nothing (not even pong) for MS ms, then the stream resumes",
    async () => {
      await withSim({ speed: "max", faults: ["stall@300:700"] }, async (sim) => {
        const c = new WsClient(sim.wsUrl);
        await c.opened;
        c.send({ op: "subscribe", args: all });
        await c.until(() => c.data().length >= 300, "300 frames");
        c.send("ping");
        const tPing = performance.now();
        await c.until(() => c.data().length >= 400, "resumed");
        assert.equal(sim.status().connections[0].closed, false);
        const i300 = c.msgs.indexOf(EXP.texts[299]);
        // Right after frame 300 the server went silent; the first thing after the stall is the pong.
        assert.equal(c.msgs[i300 + 1], "pong");
        assert.ok(c.at[i300 + 1] - tPing >= 300, "pong held by the stall");
        assert.deepEqual(c.data().slice(0, 400), EXP.texts.slice(0, 400));
        await c.close();
      });
    },
  );

  await t.step(
    "malformed@N: one torn frame and one ill-typed frame, then the recording continues",
    async () => {
      await withSim({ speed: "max", faults: ["malformed@200"] }, async (sim) => {
        const c = new WsClient(sim.wsUrl);
        await c.opened;
        c.send({ op: "subscribe", args: all });
        await c.until(() => c.msgs.length >= 12 + 202 + 10, "frames");
        const msgs = c.msgs.slice(12);
        assert.deepEqual(msgs.slice(0, 200), EXP.texts.slice(0, 200));
        assert.throws(() => JSON.parse(msgs[200]));
        const bad = JSON.parse(msgs[201]);
        assert.equal(Array.isArray(bad.data), false);
        assert.equal(typeof bad.ts, "string");
        assert.deepEqual(bad.arg, JSON.parse(EXP.texts[199]).arg);
        assert.deepEqual(msgs.slice(202, 212), EXP.texts.slice(200, 210));
        assert.equal(sim.status().connections[0].injectedFrames, 2);
        await c.close();
      });
    },
  );

  await t.step("error@N:CODE: Bitget error event, then close", async () => {
    await withSim({ speed: "max", faults: ["error@50:30007"] }, async (sim) => {
      const c = new WsClient(sim.wsUrl);
      await c.opened;
      c.send({ op: "subscribe", args: all });
      const e = await c.closed;
      assert.equal(e.code, 1000);
      assert.deepEqual(c.data(), EXP.texts.slice(0, 50));
      assert.equal(
        c.msgs.at(-1),
        `{"event":"error","code":30007,"msg":"Request over limit,connection close"}`,
      );
    });
  });

  await t.step("checksum@N: exactly one books update fails verification", async () => {
    await withSim({ speed: "max", faults: ["checksum@1000"] }, async (sim) => {
      const c = new WsClient(sim.wsUrl);
      await c.opened;
      c.send({ op: "subscribe", args: args(["ETHUSDT"], ["books"]) });
      const want = EXP.byKey.get("books:ETHUSDT")!.length;
      await c.until(() => c.data().length >= want, "all ETH books frames");
      const book = new OrderBook();
      const bad: number[] = [];
      for (const m of c.data()) {
        const r = applyBook(book, m);
        if (r.action === "update" && top25(book) !== r.checksum) bad.push(r.seq);
      }
      const fired = sim.status().faults.fired;
      assert.equal(fired.length, 1);
      assert.equal(fired[0].detail?.instId, "ETHUSDT");
      assert.deepEqual(bad, [fired[0].detail?.seq]);
      // Only the checksum differs from the recorded frame.
      const i = c.data().findIndex((m) => JSON.parse(m).data[0].seq === bad[0]);
      assert.equal(
        c.data()[i].replace(/"checksum":-?\d+/, ""),
        EXP.byKey.get("books:ETHUSDT")![i].replace(/"checksum":-?\d+/, ""),
      );
      await c.close();
    });
  });

  await t.step("reject:CHANNEL:INSTID via POST /sim/fault: 30001 for that key only", async () => {
    await withSim({ speed: 1 }, async (sim) => {
      const bad = await fetch(`${sim.restUrl}/sim/fault`, {
        method: "POST",
        body: JSON.stringify({ spec: "explode@3" }),
      });
      assert.equal(bad.status, 400);
      assert.match((await bad.json()).error, /unknown fault "explode@3"/);
      const ok = await fetch(`${sim.restUrl}/sim/fault`, {
        method: "POST",
        body: JSON.stringify({ spec: "reject:books:BTCUSDT" }),
      });
      assert.equal(ok.status, 200);
      await ok.body?.cancel();
      const c = new WsClient(sim.wsUrl);
      await c.opened;
      c.send({ op: "subscribe", args: args(["BTCUSDT"], ["books", "ticker"]) });
      await c.until(() => c.msgs.length >= 2, "replies");
      assert.equal(
        c.msgs[0],
        `{"event":"error","arg":{"instType":"USDT-FUTURES","channel":"books","instId":"BTCUSDT"},"code":30001,"msg":"instType:USDT-FUTURES,channel:books,instId:BTCUSDT doesn't exist","op":"subscribe"}`,
      );
      assert.equal(
        c.msgs[1],
        `{"event":"subscribe","arg":{"instType":"USDT-FUTURES","channel":"ticker","instId":"BTCUSDT"}}`,
      );
      await c.close();
    });
  });

  await t.step("rest429:N: the next N REST requests get Bitget's 429 body", async () => {
    await withSim({ faults: ["rest429:2"] }, async (sim) => {
      const url = `${sim.restUrl}/api/v2/public/time`;
      for (let i = 0; i < 2; i++) {
        const { status, body } = await getJson(url);
        assert.equal(status, 429);
        assert.deepEqual({ ...body, requestTime: 0 }, {
          code: "429",
          msg: "Too Many Requests",
          requestTime: 0,
          data: null,
        });
        assert.equal(typeof body.requestTime, "number");
      }
      assert.equal((await getJson(url)).status, 200);
      assert.deepEqual(sim.status().rest["/api/v2/public/time"], {
        requests: 3,
        ok: 1,
        errors: 0,
        limited: 2,
      });
    });
  });

  assert.throws(() => parseFaultSpec("stall@5"), /expected stall@N:MS/);
  assert.throws(() => parseFaultSpec("drop@x"), /N \(frames\) must be a non-negative integer/);
});

// ---- REST ---------------------------------------------------------------------------------------

Deno.test("rest: shapes and values equal the recording's start fixtures; Bitget errors", async () => {
  await withSim({}, async (sim) => {
    const q = (ep: string, params: string) =>
      getJson(`${sim.restUrl}/api/v2/mix/market/${ep}?${params}`);
    for (const sym of SYMBOLS) {
      for (const ep of ["symbol-price", "open-interest", "current-fund-rate", "funding-time"]) {
        const { status, body } = await q(ep, `productType=USDT-FUTURES&symbol=${sym}`);
        assert.equal(status, 200);
        assert.equal(body.code, "00000");
        assert.equal(body.msg, "success");
        assert.equal(typeof body.requestTime, "number");
        assert.deepEqual(
          body.data,
          (await readFixture(`start/${ep}_${sym}.json`)).data,
          `${ep} ${sym}`,
        );
      }
    }
    assert.deepEqual(
      (await q("contracts", "productType=USDT-FUTURES")).body.data,
      (await readFixture("start/contracts.json")).data,
    );
    const eth = (await q("contracts", "productType=usdt-futures&symbol=ETHUSDT")).body.data as {
      symbol: string;
    }[];
    assert.deepEqual(eth.map((c) => c.symbol), ["ETHUSDT"]);

    // ticker: the doc's field set and order (fixtures/docs/rest_ticker.json), all strings but delivery times.
    const docTicker = JSON.parse(
      await Deno.readTextFile(path("../../shared/bitget/fixtures/docs/rest_ticker.json")),
    );
    const tk = (await q("ticker", "productType=USDT-FUTURES&symbol=BTCUSDT")).body.data as Record<
      string,
      unknown
    >[];
    assert.deepEqual(Object.keys(tk[0]), Object.keys(docTicker.data[0]));
    assert.equal(tk[0].lastPr, "63943.9");
    assert.equal(tk[0].holdingAmount, "52637.1184");
    const tks = (await q("tickers", "productType=USDT-FUTURES")).body.data as { symbol: string }[];
    assert.deepEqual(tks.map((t) => t.symbol), SYMBOLS);
    const time = await getJson(`${sim.restUrl}/api/v2/public/time`);
    assert.match((time.body.data as { serverTime: string }).serverTime, /^\d{13}$/);

    const err = async (ep: string, params: string, status: number, code: string, msg: string) => {
      const r = await q(ep, params);
      assert.equal(r.status, status, `${ep}?${params}`);
      assert.deepEqual({ ...r.body, requestTime: 0 }, { code, msg, requestTime: 0, data: null });
    };
    await err(
      "ticker",
      "productType=USDT-FUTURES&symbol=FOOUSDT",
      400,
      "40034",
      "Parameter FOOUSDT does not exist",
    );
    await err(
      "ticker",
      "productType=USDT-FUTURES",
      400,
      "40019",
      "Parameter symbol cannot be empty",
    );
    await err(
      "symbol-price",
      "symbol=BTCUSDT",
      400,
      "40019",
      "Parameter productType cannot be empty",
    );
    await err(
      "contracts",
      "productType=USDT-FUTURES&symbol=XRPUSDT",
      400,
      "40034",
      "Parameter XRPUSDT does not exist",
    );
    await err("nope", "", 404, "40404", "Request URL NOT FOUND");
  });
});

Deno.test("rest: more than 20 requests/s on one endpoint → HTTP 429", async () => {
  await withSim({}, async (sim) => {
    const url = `${sim.restUrl}/api/v2/mix/market/ticker?productType=USDT-FUTURES&symbol=ETHUSDT`;
    const res = await Promise.all(Array.from({ length: 30 }, () => getJson(url)));
    const limited = res.filter((r) => r.status === 429);
    assert.ok(limited.length >= 10, `${limited.length} of 30 limited`);
    assert.equal(res.filter((r) => r.status === 200).length + limited.length, 30);
    for (const r of limited) assert.equal(r.body.code, "429");
    // Another endpoint has its own budget.
    assert.equal((await getJson(`${sim.restUrl}/api/v2/public/time`)).status, 200);
  });
});

function csvRows(file: string): string[][] {
  return Deno.readTextFileSync(file).trim().split(/\r?\n/).slice(1).map((l) => l.split(","));
}

Deno.test("rest history: paging returns every CSV row exactly once (candles and funding)", async () => {
  const candles = DATA + "binance_usdm_BTCUSDT_15m_20250306-20250413.csv";
  const funding = DATA + "binance_usdm_ETHUSDT_funding_8h_20250306-20250615.csv";
  await withSim({
    historyCandles: [{ symbol: "BTCUSDT", interval: "15m", path: candles }],
    historyFunding: [{ symbol: "ETHUSDT", path: funding }],
  }, async (sim) => {
    const base = `${sim.restUrl}/api/v2/mix/market/`;
    // A polite client: at most ~14 requests/s, under Bitget's 20/s per endpoint.
    const getJson = async (url: string) => {
      await new Promise((r) => setTimeout(r, 70));
      return await getJsonRaw(url);
    };
    // Candles, backwards from now with endTime = first row − 1 (Bitget aligns on endTime).
    const got: string[][] = [];
    let end = "";
    for (let page = 0; page < 40; page++) {
      const { status, body } = await getJson(
        `${base}history-candles?symbol=BTCUSDT&productType=USDT-FUTURES&granularity=15m&limit=200${end}`,
      );
      assert.equal(status, 200);
      const rows = body.data as string[][];
      if (rows.length === 0) break;
      assert.ok(rows.length <= 200);
      got.unshift(...rows);
      end = `&endTime=${Number(rows[0][0]) - 1}`;
    }
    const csv = csvRows(candles);
    assert.equal(got.length, csv.length);
    for (let i = 0; i < csv.length; i++) {
      const [ms, , o, h, l, c, v] = csv[i];
      assert.deepEqual(
        got[i].slice(0, 6),
        [ms, o, h, l, c, v].map((x) => x.includes(".") ? x.replace(/\.?0+$/, "") : x),
      );
      assert.equal(got[i].length, 7);
    }
    // A bounded window returns only bars inside [startTime, endTime].
    const s = Number(csv[10][0]);
    const w = await getJson(
      `${base}history-candles?symbol=BTCUSDT&productType=USDT-FUTURES&granularity=15m&startTime=${s}&endTime=${
        s + 4 * 900_000
      }`,
    );
    assert.deepEqual(
      (w.body.data as string[][]).map((r) => r[0]),
      csv.slice(10, 15).map((r) => r[0]),
    );
    const span = await getJson(
      `${base}history-candles?symbol=BTCUSDT&productType=USDT-FUTURES&granularity=15m&startTime=${s}&endTime=${
        s + 91 * 86_400_000
      }`,
    );
    assert.deepEqual([span.status, span.body.code], [400, "40705"]);
    const gran = await getJson(
      `${base}history-candles?symbol=BTCUSDT&productType=USDT-FUTURES&granularity=15min`,
    );
    assert.deepEqual([gran.status, gran.body.code, gran.body.msg], [
      400,
      "40020",
      "Parameter granularity error",
    ]);

    // Funding, newest first, pages of 100.
    const fr: { symbol: string; fundingRate: string; fundingTime: string }[] = [];
    for (let pageNo = 1; pageNo < 10; pageNo++) {
      const { body } = await getJson(
        `${base}history-fund-rate?symbol=ETHUSDT&productType=USDT-FUTURES&pageSize=100&pageNo=${pageNo}`,
      );
      const rows = body.data as typeof fr;
      if (rows.length === 0) break;
      fr.push(...rows);
    }
    const fcsv = csvRows(funding).reverse();
    assert.deepEqual(fr.map((r) => r.fundingTime), fcsv.map((r) => r[0]));
    assert.deepEqual(fr.map((r) => Number(r.fundingRate)), fcsv.map((r) => Number(r[2])));
    assert.ok(fr.every((r) => r.symbol === "ETHUSDT"));
    // Plain decimals, as Bitget sends them, even where the CSV has "-1.3e-7".
    assert.ok(fr.every((r) => /^-?\d+(\.\d+)?$/.test(r.fundingRate)));
    assert.equal(
      fr.find((r) => r.fundingTime === fcsv.find((x) => x[2] === "-1.3e-7")![0])!.fundingRate,
      "-0.00000013",
    );
  });
});

// ---- CLI ----------------------------------------------------------------------------------------

Deno.test("cli: bitget-bot replay prints one listening line, serves, exits 0 on SIGTERM; bad args exit 2", async () => {
  const main = path("../src/main.ts");
  const perms = [`--allow-net=127.0.0.1`, `--allow-read=${REC24}`];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...perms, main, "replay", REC24, "--speed", "max", "--fault", "rest429:1"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  const line = JSON.parse(out.split("\n")[0]);
  assert.deepEqual(Object.keys(line), ["msg", "port", "wsUrl", "restUrl"]);
  assert.equal(line.msg, "listening");
  assert.equal(line.wsUrl, `ws://127.0.0.1:${line.port}/v2/ws/public`);
  assert.equal((await getJson(`${line.restUrl}/api/v2/public/time`)).status, 429);
  const c = new WsClient(line.wsUrl);
  await c.opened;
  c.send({ op: "subscribe", args: args(["BTCUSDT"], ["ticker"]) });
  await c.until(() => c.data().length === EXP.byKey.get("ticker:BTCUSDT")!.length, "tickers");
  child.kill("SIGTERM");
  const status = await child.status;
  await c.closed;
  await reader.cancel();
  await child.stderr.cancel();
  assert.equal(status.code, 0);

  for (const bad of [["--speed", "fast"], ["--fault", "drop"], [], ["--on-end", "loop"]]) {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...perms, main, "replay", ...(bad.length ? [REC24] : []), ...bad],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(r.code, 2, bad.join(" "));
    assert.match(new TextDecoder().decode(r.stderr), /^bitget-bot replay: .+\n/);
    assert.equal(r.stdout.length, 0);
  }
  const missing = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      main,
      "replay",
      "/nonexistent/rec.jsonl.gz",
    ],
    stderr: "piped",
  }).output();
  assert.equal(missing.code, 2);
  assert.match(
    new TextDecoder().decode(missing.stderr),
    /cannot open recording \/nonexistent\/rec\.jsonl\.gz/,
  );
});
