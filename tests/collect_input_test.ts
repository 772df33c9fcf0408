/**
 * Bad input to `bitget-bot collect`: a clear message, a non-zero exit, and nothing written.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { REC_2023, sim, spawnCollector, testConfig } from "./helpers/collect_harness.ts";

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

async function sha256(p: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", await Deno.readFile(p));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test({
  name: "collect bad input: unknown symbol, bad config, unwritable path, foreign database",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const s = await sim({ recording: REC_2023, speed: 1 });
    try {
      await t.step("unknown symbol → exit 2, names it, no database file", async () => {
        const c = await spawnCollector(s, ["--symbols", "BTCUSDT", "FOOUSDT"]);
        const r = await c.done;
        assert.equal(r.code, 2);
        assert.match(r.stderr, /unknown symbol\(s\) FOOUSDT/);
        assert.equal(await exists(c.db), false);
        await Deno.remove(c.dir, { recursive: true });
      });

      await t.step("bad config value → exit 2, names field, value and expectation", async () => {
        const dir = await Deno.makeTempDir();
        const bad = await spawnCollector(
          s,
          ["--symbols", "BTCUSDT"],
          "ws:\n  pingInterval: soon\n  maxMessagesPerSecond: 50\n",
          dir,
        );
        const r = await bad.done;
        assert.equal(r.code, 2);
        assert.match(r.stderr, /ws\.pingInterval: got "soon": expected a duration/);
        assert.match(r.stderr, /ws\.maxMessagesPerSecond: got 50/);
        assert.equal(await exists(bad.db), false);
        await Deno.remove(dir, { recursive: true });
      });

      await t.step("unwritable DB path → exit 1 with the path, nothing created", async () => {
        const dir = await Deno.makeTempDir();
        await Deno.writeTextFile(`${dir}/plainfile`, "x");
        // A DB path under a regular file (ENOTDIR), inside the allowed dir.
        const blocked = `${dir}/plainfile/bitget.db`;
        // The later --db wins over the harness's own (node:util parseArgs keeps the last value).
        const c = await spawnCollector(
          s,
          ["--symbols", "BTCUSDT", "--db", blocked],
          testConfig(),
          dir,
        );
        const out = await c.done;
        const err = out.stderr;
        assert.equal(out.code, 1, err);
        assert.match(err, /plainfile\/bitget\.db/);
        assert.equal(await Deno.readTextFile(`${dir}/plainfile`), "x");
        await Deno.remove(dir, { recursive: true });
      });

      await t.step("a file that is not our database → exit 2, file unchanged", async () => {
        const dir = await Deno.makeTempDir();
        // Another application's SQLite database, and a text file.
        const other = new DatabaseSync(`${dir}/bitget.db`);
        other.exec("CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('keep me')");
        other.close();
        const before = await sha256(`${dir}/bitget.db`);
        const c = await spawnCollector(s, ["--symbols", "BTCUSDT"], testConfig(), dir);
        const r = await c.done;
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /not a bitget-bot database/);
        assert.equal(await sha256(`${dir}/bitget.db`), before);
        assert.equal(await exists(`${dir}/bitget.db-wal`), false);

        await Deno.writeTextFile(`${dir}/bitget.db`, "just some text\n".repeat(100));
        const before2 = await sha256(`${dir}/bitget.db`);
        const r2 = await (await spawnCollector(s, ["--symbols", "BTCUSDT"], testConfig(), dir))
          .done;
        assert.equal(r2.code, 2, r2.stderr);
        assert.match(r2.stderr, /bitget\.db/);
        assert.equal(await sha256(`${dir}/bitget.db`), before2);
        await Deno.remove(dir, { recursive: true });
      });
    } finally {
      await s.close();
    }
  },
});
