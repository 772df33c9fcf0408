/**
 * `stats`: counts, spans, gaps (by reason, checksum failures, latest), frames per channel and
 * runs against what was written; the CLI's text and JSON output, and its errors (missing file,
 * not our database) with exit 1 and nothing created.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { Store } from "../src/store/store.ts";
import { collectStats } from "../src/store/stats.ts";
import { statsCommand } from "../src/cli/stats.ts";
import { loadReplayFrames } from "../src/ingest/replay_frames.ts";
import type { GapEvent } from "../src/market/events.ts";

const REPLAY = new URL(
  "../../shared/data/bitget_replay/bitget_v2_public_BTCUSDT-ETHUSDT_20240718T2357.jsonl.gz",
  import.meta.url,
);

async function capture(fn: () => Promise<number>) {
  const out: string[] = [];
  const err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    return { code: await fn(), out: out.join("\n"), err: err.join("\n") };
  } finally {
    [console.log, console.error] = [log, error];
  }
}

function gap(reason: GapEvent["reason"], startTs: number, endTs: number): GapEvent {
  return {
    kind: "gap",
    symbol: "BTCUSDT",
    channel: "books",
    ts: endTs,
    recvTs: endTs,
    startTs,
    endTs,
    reason,
    detail: `${reason} test`,
  };
}

Deno.test("stats reflect what was written; CLI text and JSON", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "s.db");
    const frames = await loadReplayFrames(REPLAY, 8000);
    const store = Store.open(path, { create: true });
    const run = store.beginRun({ command: "collect", args: ["x"], version: "t", host: "h" });
    const tallies: Record<string, number> = {};
    for (const f of frames) {
      const k = `${f.symbol}|${f.channel}`;
      tallies[k] = (tallies[k] ?? 0) + 1;
    }
    store.writeBatch(frames.flatMap((f) => f.events), tallies, run);
    store.writeBatch(
      [
        gap("checksum", 1721347030000, 1721347030500),
        gap("checksum", 1721347040000, 1721347040200),
        gap("disconnect", 1721347050000, 1721347053000),
      ],
      undefined,
      run,
    );
    store.endRun(run, "ok");
    store.close();

    const ro = Store.open(path, { readonly: true });
    const s = collectStats(ro, { latestGaps: 2 });
    const trades = ro.db.prepare(
      "SELECT symbol, count(*) AS n, min(ts) AS a, max(ts) AS b FROM trades GROUP BY symbol",
    ).all() as { symbol: string; n: number; a: number; b: number }[];
    ro.close();
    for (const t of trades) {
      const row = s.tables.find((x) => x.table === "trades" && x.symbol === t.symbol)!;
      assert.equal(row.rows, t.n);
      assert.equal(row.first, new Date(t.a).toISOString());
      assert.equal(row.last, new Date(t.b).toISOString());
    }
    assert.ok(s.tables.some((x) => x.table === "candles" && x.interval === "15m"));
    assert.ok(s.aggregates.some((x) => x.table === "agg_1s" && x.rows > 100));
    assert.equal(s.gaps.count, 3);
    assert.equal(s.gaps.totalMs, 500 + 200 + 3000);
    assert.deepEqual(s.gaps.byReason, {
      checksum: { count: 2, totalMs: 700 },
      disconnect: { count: 1, totalMs: 3000 },
    });
    assert.equal(s.gaps.checksumFailures, 2);
    assert.deepEqual(s.gaps.latest.map((g) => [g.reason, g.durationMs]), [
      ["disconnect", 3000],
      ["checksum", 200],
    ]);
    const sum = (ch: string) =>
      Object.entries(tallies).filter(([k]) => k.endsWith(`|${ch}`)).reduce((a, [, v]) => a + v, 0);
    for (const ch of ["books", "books15", "trade", "ticker"]) {
      assert.equal(s.framesByChannel[ch], sum(ch), ch);
    }
    assert.equal(s.runs.count, 1);
    assert.equal(s.runs.latest[0].status, "ok");
    assert.ok(s.fileBytes > 0);

    const json = await capture(() => statsCommand([path, "--json"]));
    assert.equal(json.code, 0, json.err);
    const parsed = JSON.parse(json.out);
    assert.deepEqual(Object.keys(parsed), [
      "path",
      "fileBytes",
      "walBytes",
      "schemaVersion",
      "tables",
      "aggregates",
      "gaps",
      "framesByChannel",
      "frames",
      "runs",
    ]);
    assert.equal(parsed.gaps.checksumFailures, 2);
    const text = await capture(() => statsCommand([path]));
    assert.equal(text.code, 0);
    assert.match(text.out, /raw tables:/);
    assert.match(text.out, /checksum failures: 2/);
    assert.match(text.out, /trades\s+BTCUSDT\s+[\d,]+\s+2024-07-18T23:5/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stats CLI: missing file, foreign database, usage", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = join(dir, "nope", "x.db");
    const r1 = await capture(() => statsCommand([missing]));
    assert.equal(r1.code, 1);
    assert.match(r1.err, /does not exist/);
    await assert.rejects(Deno.stat(join(dir, "nope")), Deno.errors.NotFound);

    const foreign = join(dir, "f.db");
    const db = new DatabaseSync(foreign);
    db.exec("CREATE TABLE t (x)");
    db.close();
    const r2 = await capture(() => statsCommand([foreign, "--json"]));
    assert.equal(r2.code, 1);
    assert.match(r2.err, /not a bitget-bot database/);

    const text = join(dir, "t.txt");
    await Deno.writeTextFile(text, "hello, this is not a database at all");
    assert.equal((await capture(() => statsCommand([text]))).code, 1);

    assert.equal((await capture(() => statsCommand([foreign, text]))).code, 2);
    assert.equal((await capture(() => statsCommand([foreign, "--bogus"]))).code, 2);

    // --config: the database defaults to collect.db; a config error is one line with a hint.
    const cfg = join(dir, "config.yaml");
    await Deno.writeTextFile(cfg, `collect:\n  db: ${missing}\n`);
    const r3 = await capture(() => statsCommand(["--config", cfg]));
    assert.equal(r3.code, 1);
    assert.match(r3.err, /nope\/x\.db.*does not exist/);
    await Deno.writeTextFile(cfg, `collect:\n  dbb: ${missing}\n`);
    const r4 = await capture(() => statsCommand(["--config", cfg]));
    assert.equal(r4.code, 2);
    assert.match(r4.err, /collect: unknown field\(s\) dbb \(did you mean db\?\)/);
    assert.equal(r4.err.includes("usage:"), false, "no usage block after a config error");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
