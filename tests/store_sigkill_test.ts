/**
 * Crash safety: a child Deno process writes batches in a loop and is killed with SIGKILL mid-run.
 * Afterwards the database passes `PRAGMA integrity_check`, holds only whole batches (at least
 * every batch the child reported committed, at most one more), and its aggregates and frame
 * tallies agree exactly with the raw rows.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Store } from "../src/store/store.ts";

const STORE_URL = new URL("../src/store/store.ts", import.meta.url).href;
const BATCH = 250;

/** The child: batch b holds BATCH trades with ids b*1000+i, one books15 frame and its tallies. */
const CHILD = `
import { Store } from ${JSON.stringify(STORE_URL)};
const store = Store.open(Deno.args[0], { create: true });
const enc = new TextEncoder();
for (let b = 0; ; b++) {
  const t0 = 1721347200000 + b * 997;
  const events = [];
  for (let i = 0; i < ${BATCH}; i++) {
    events.push({ kind: "trade", symbol: "BTCUSDT", ts: t0 + (i % 50), recvTs: t0 + 5,
      tradeId: String(b * 1000 + i), price: 64000 + (i % 13) / 10, size: 0.001 * (1 + (i % 7)),
      side: i % 3 ? "buy" : "sell" });
  }
  events.push({ kind: "book", channel: "books15", symbol: "BTCUSDT", ts: t0, recvTs: t0 + 1,
    action: "snapshot", bids: [["63999.9", "1.5"]], asks: [["64000.1", "2"]], seq: b,
    checksum: 0, top: { bestBid: 63999.9, bestAsk: 64000.1, bestBidSize: 1.5, bestAskSize: 2,
      mid: 64000, spreadBps: 0.03125, imbalance1: -0.142857, imbalance5: -0.142857,
      imbalance15: -0.142857, depth5bps: 3.5, depth10bps: 3.5 } });
  store.writeBatch(events, { "BTCUSDT|trade": ${BATCH}, "BTCUSDT|books15": 1 }, 1);
  Deno.stdout.writeSync(enc.encode(b + "\\n"));
}
`;

Deno.test("SIGKILL mid-write: integrity ok, only whole batches, aggregates consistent", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const db = join(dir, "kill.db");
    const script = join(dir, "child.ts");
    await Deno.writeTextFile(script, CHILD);
    const repo = new URL("..", import.meta.url).pathname;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-lock",
        `--allow-read=${repo},${dir}`,
        `--allow-write=${dir}`,
        script,
        db,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Read committed batch numbers until enough have been reported, then kill hard.
    const reader = child.stdout.getReader();
    const dec = new TextDecoder();
    let text = "";
    let reported = -1;
    while (reported < 40) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value);
      const end = text.lastIndexOf("\n"); // last complete line = last reported batch
      if (end >= 0) reported = Number(text.slice(text.lastIndexOf("\n", end - 1) + 1, end));
    }
    child.kill("SIGKILL");
    const status = await child.status;
    reader.releaseLock();
    await child.stdout.cancel();
    const err = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
    assert.ok(reported >= 40, `child reported ${reported} batches; stderr: ${err}`);
    assert.equal(status.signal, "SIGKILL");

    const store = Store.open(db); // writable open: recovers from the WAL like the next run would
    try {
      const q = (sql: string) =>
        store.db.prepare(sql).all() as Record<string, number | string | null>[];
      assert.deepEqual(q("PRAGMA integrity_check").map((r) => r.integrity_check), ["ok"]);
      const perBatch = q(
        `SELECT CAST(trade_id AS INTEGER) / 1000 AS b, count(*) AS n FROM trades GROUP BY b ORDER BY b`,
      );
      const batches = perBatch.length;
      assert.ok(batches >= reported + 1, `${batches} batches stored, ${reported + 1} reported`);
      assert.ok(batches <= reported + 2, "at most the one unreported batch beyond");
      perBatch.forEach((r, i) => {
        assert.equal(r.b, i, "no batch missing");
        assert.equal(r.n, BATCH, `batch ${i} is whole`);
      });
      const one = (sql: string) => Object.values(q(sql)[0])[0];
      assert.equal(one("SELECT count(*) FROM books15"), batches);
      assert.equal(
        one("SELECT frames FROM ingest_counts WHERE channel = 'trade'"),
        batches * BATCH,
      );
      assert.equal(one("SELECT frames FROM ingest_counts WHERE channel = 'books15'"), batches);
      for (const t of ["agg_1s", "agg_1m", "agg_15m"]) {
        assert.equal(one(`SELECT sum(trade_count) FROM ${t}`), batches * BATCH, t);
        const vol = Number(one(`SELECT sum(volume) FROM ${t}`));
        const raw = Number(one("SELECT sum(size) FROM trades"));
        assert.ok(Math.abs(vol - raw) <= 1e-9 * raw, `${t} volume ${vol} vs ${raw}`);
      }
    } finally {
      store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
