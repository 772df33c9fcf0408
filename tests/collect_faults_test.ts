/**
 * `bitget-bot collect` under faults injected by the loopback simulator (real sockets, real
 * recording): dropped connection, malformed frames, corrupted checksum, stalls, error events,
 * rejected subscribes — and SIGKILL mid-collection.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  logLines,
  peekCount,
  REC_2023,
  sim,
  spawnCollector,
  testConfig,
  waitFor,
} from "./helpers/collect_harness.ts";

function query<T>(db: DatabaseSync, sql: string, ...p: (string | number)[]): T[] {
  return db.prepare(sql).all(...p) as T[];
}

/** Rows of `table`, to wait until ingestion stops growing. */
function rowCount(path: string, table = "books"): number {
  return peekCount(path, `SELECT COUNT(*) AS n FROM ${table}`);
}

async function waitStable(path: string, ms = 1500, timeout = 120_000): Promise<void> {
  let last = -1;
  let since = Date.now();
  await waitFor(
    "ingestion to settle",
    () => {
      const n = rowCount(path);
      if (n !== last) {
        last = n;
        since = Date.now();
      }
      return n > 0 && Date.now() - since >= ms;
    },
    timeout,
    100,
  );
}

function checkNoDuplicates(db: DatabaseSync): void {
  assert.deepEqual(
    query(
      db,
      `SELECT symbol, seq FROM books WHERE action = 'update' AND seq IS NOT NULL
               GROUP BY symbol, seq HAVING COUNT(*) > 1`,
    ),
    [],
    "book deltas stored once",
  );
  assert.deepEqual(
    query(db, "SELECT symbol, ts FROM tickers GROUP BY symbol, ts HAVING COUNT(*) > 1"),
    [],
    "tickers stored once",
  );
  // Frame tallies committed with the rows: every stored frame counted once.
  const frames = query<{ n: number }>(
    db,
    "SELECT SUM(frames) AS n FROM ingest_counts WHERE channel = 'books'",
  )[0].n;
  const rows = query<{ n: number }>(db, "SELECT COUNT(*) AS n FROM books")[0].n;
  // Deltas received while a book is out of sync (checksum/sequence gap) cannot be applied and are
  // dropped until the resync snapshot; the gap row covers them. Otherwise every frame is a row.
  const syncGaps = query<{ n: number }>(
    db,
    "SELECT COUNT(*) AS n FROM gaps WHERE channel = 'books' AND reason IN ('checksum', 'sequence')",
  )[0].n;
  // A snapshot re-sent by a reconnect with no book change since the last one has the same
  // (seq, action) and is stored once: at most one such frame per reconnect.
  const reconnects = query<{ n: number }>(
    db,
    "SELECT COUNT(*) AS n FROM gaps WHERE channel = 'books' AND reason IN ('disconnect', 'stale')",
  )[0].n;
  if (syncGaps === 0) {
    assert.ok(
      rows <= frames && frames - rows <= reconnects,
      `books rows (${rows}) vs frames counted (${frames}), ${reconnects} reconnects`,
    );
  } else {
    assert.ok(rows <= frames, `books rows (${rows}) <= books frames counted (${frames})`);
  }
  const ic = db.prepare("PRAGMA integrity_check").get() as Record<string, string>;
  assert.equal(Object.values(ic)[0], "ok");
}

Deno.test({
  name: "faults: drop + malformed + corrupted checksum → reconnect, resync, gaps, no duplicates",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const s = await sim({
      recording: REC_2023,
      speed: "max",
      faults: ["malformed@1500", "drop@5000", "checksum@9000"],
    });
    try {
      const c = await spawnCollector(s, ["--symbols", "BTCUSDT"]);
      await waitFor("a reconnect", () => s.status().connections.length >= 2, 60_000);
      await waitFor("replay end", () => s.status().connections.some((x) => !x.closed && x.done));
      await waitStable(c.db);
      c.child.kill("SIGTERM");
      const res = await c.done;
      assert.equal(res.code, 0, res.stderr.slice(-2000));
      const logs = logLines(res.stdout);
      const stopped = logs.find((l) => l.msg === "collect stopped")!;
      assert.ok((stopped.malformed as number) >= 1, `malformed counted: ${stopped.malformed}`);
      assert.ok((stopped.reconnects as number) >= 1, `reconnects: ${stopped.reconnects}`);
      assert.ok((stopped.checksumFailures as number) >= 1, "checksum failure counted");
      assert.ok(logs.some((l) => String(l.msg).includes("malformed")), "malformed frame logged");

      const db = new DatabaseSync(c.db, { readOnly: true });
      try {
        const gaps = query<{ reason: string; channel: string; start_ts: number; end_ts: number }>(
          db,
          "SELECT reason, channel, start_ts, end_ts FROM gaps ORDER BY start_ts",
        );
        const disconnect = gaps.filter((g) => g.reason === "disconnect");
        const checksum = gaps.filter((g) => g.reason === "checksum");
        assert.ok(disconnect.length >= 1, `disconnect gaps: ${JSON.stringify(gaps)}`);
        assert.ok(checksum.length >= 1, `checksum gap: ${JSON.stringify(gaps)}`);
        for (const g of gaps) {
          assert.ok(
            g.start_ts > 1.6e12 && g.end_ts >= g.start_ts,
            `gap bounds ${JSON.stringify(g)}`,
          );
        }
        // The books channel was resynced: a fresh snapshot after the checksum gap.
        const snaps = query<{ n: number }>(
          db,
          "SELECT COUNT(*) AS n FROM books WHERE action = 'snapshot'",
        )[0].n;
        assert.ok(snaps >= 3, `books snapshots (start, resync, reconnect): ${snaps}`);
        // Collection went on to the end of the recording after the faults.
        const last = query<{ t: number }>(db, "SELECT MAX(ts) AS t FROM books")[0].t;
        assert.ok(last >= 1680653214000, `last book ts ${new Date(last).toISOString()}`);
        checkNoDuplicates(db);
      } finally {
        db.close();
      }
      await Deno.remove(c.dir, { recursive: true });
    } finally {
      await s.close();
    }
  },
});

Deno.test({
  name: "faults: stall → stale connection replaced; error 30007 → reconnect; rejected subscribe",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const s = await sim({
      recording: REC_2023,
      speed: "max",
      faults: ["stall@3000:4000", "error@8000:30007", "reject:candle15m:BTCUSDT"],
    });
    try {
      const c = await spawnCollector(s, ["--symbols", "BTCUSDT"], testConfig({ staleAfter: "1s" }));
      await waitFor("two reconnects", () => s.status().connections.length >= 3, 60_000);
      await waitFor("replay end", () => s.status().connections.some((x) => !x.closed && x.done));
      await waitStable(c.db);
      c.child.kill("SIGTERM");
      const res = await c.done;
      assert.equal(res.code, 0, res.stderr.slice(-2000));
      const logs = logLines(res.stdout);
      assert.ok(
        logs.some((l) => l.level !== "info" && JSON.stringify(l).includes("30001")),
        "rejected subscribe logged with its code",
      );
      const db = new DatabaseSync(c.db, { readOnly: true });
      try {
        const reasons = new Set(
          query<{ reason: string }>(db, "SELECT DISTINCT reason FROM gaps").map((g) => g.reason),
        );
        assert.ok(reasons.has("disconnect") || reasons.has("stale"), [...reasons].join(","));
        assert.ok(reasons.has("subscribe_error"), `subscribe_error gap: ${[...reasons]}`);
        assert.equal(
          query<{ n: number }>(db, "SELECT COUNT(*) AS n FROM candles WHERE interval = '15m'")[0].n,
          0,
          "rejected channel stored nothing",
        );
        // The other channels kept flowing.
        assert.ok(query<{ n: number }>(db, "SELECT COUNT(*) AS n FROM trades")[0].n > 5000);
        checkNoDuplicates(db);
      } finally {
        db.close();
      }
      await Deno.remove(c.dir, { recursive: true });
    } finally {
      await s.close();
    }
  },
});

Deno.test({
  name: "SIGKILL mid-collection: integrity ok, committed tallies == rows, only the open batch lost",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const s = await sim({ recording: REC_2023, speed: 4 });
    try {
      const c = await spawnCollector(s, ["--symbols", "BTCUSDT"]);
      await waitFor("data flowing", () => rowCount(c.db) > 500, 60_000);
      // Sent-frame history (sim side) to bound what the kill may lose.
      const sent: { t: number; n: number }[] = [];
      for (let i = 0; i < 15; i++) {
        sent.push({ t: Date.now(), n: s.status().totals.framesSent });
        await new Promise((r) => setTimeout(r, 100));
      }
      const atKill = s.status().totals.framesSent;
      c.child.kill("SIGKILL");
      const res = await c.done;
      assert.equal(res.signal, "SIGKILL");
      const db = new DatabaseSync(c.db);
      try {
        const ic = db.prepare("PRAGMA integrity_check").get() as Record<string, string>;
        assert.equal(Object.values(ic)[0], "ok");
        const frames = query<{ n: number }>(db, "SELECT SUM(frames) AS n FROM ingest_counts")[0].n;
        // At most the open batch (store.batchMaxAge 100 ms + worker batch 50 ms + socket
        // buffers) is lost: bound it by the frames sent in the last second before the kill.
        const oneSecondBefore = sent.find((x) => x.t >= Date.now() - 2500)?.n ?? 0;
        const lostBound = atKill - oneSecondBefore + 50;
        assert.ok(atKill - frames <= lostBound, `lost ${atKill - frames} > bound ${lostBound}`);
        const books = query<{ n: number }>(db, "SELECT COUNT(*) AS n FROM books")[0].n;
        const bookFrames = query<{ n: number }>(
          db,
          "SELECT SUM(frames) AS n FROM ingest_counts WHERE channel = 'books'",
        )[0].n;
        assert.equal(books, bookFrames, "rows and tallies committed together");
      } finally {
        db.close();
      }
      await Deno.remove(c.dir, { recursive: true });
    } finally {
      await s.close();
    }
  },
});
