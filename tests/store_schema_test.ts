/**
 * Store opening: schema/pragmas of a new file, refusal of files that are not ours (nothing
 * written), missing and unwritable paths, newer schemas, read-only mode.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { Store, StoreError } from "../src/store/store.ts";
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION } from "../src/store/schema.ts";

const pragma = (db: DatabaseSync, name: string) =>
  Object.values(db.prepare(`PRAGMA ${name}`).get() as Record<string, unknown>)[0];

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

Deno.test("new database: identity, WAL, synchronous NORMAL, busy timeout, all tables", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "nested", "deeper", "bitget.db");
    const store = Store.open(path, { create: true, busyTimeoutMs: 1234 });
    assert.equal(APPLICATION_ID, 0x42474254);
    assert.equal(pragma(store.db, "application_id"), APPLICATION_ID);
    assert.equal(pragma(store.db, "user_version"), SCHEMA_VERSION);
    assert.equal(SCHEMA_VERSION, MIGRATIONS.length);
    assert.equal(pragma(store.db, "journal_mode"), "wal");
    assert.equal(pragma(store.db, "synchronous"), 1); // NORMAL
    assert.equal(pragma(store.db, "busy_timeout"), 1234);
    const tables = (store.db.prepare(
      "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name",
    ).all() as { name: string }[]).map((r) => r.name);
    for (
      const t of [
        "agg_15m",
        "agg_1m",
        "agg_1s",
        "books",
        "books15",
        "candles",
        "contracts",
        "equity",
        "fills",
        "funding_rates",
        "funding_times",
        "gaps",
        "ingest_counts",
        "mark_prices",
        "open_interest",
        "orders",
        "positions_snapshots",
        "runs",
        "tickers",
        "trades",
        "trading_meta",
      ]
    ) assert.ok(tables.includes(t), `table ${t} exists`);
    store.close();
    // Reopening applies nothing and keeps the data.
    const again = Store.open(path);
    assert.equal(pragma(again.db, "user_version"), SCHEMA_VERSION);
    again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("missing file without create: StoreError naming the path, nothing created", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "sub", "none.db");
    assert.throws(() => Store.open(path), (e: unknown) => {
      assert.ok(e instanceof StoreError);
      assert.match(e.message, /does not exist/);
      assert.ok(e.message.includes(path));
      return true;
    });
    assert.throws(() => Store.open(path, { readonly: true }), StoreError);
    assert.equal(exists(join(dir, "sub")), false, "parent directory not created");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a foreign SQLite database is refused and left byte-identical", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "other.db");
    const other = new DatabaseSync(path);
    other.exec(
      "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes VALUES (1, 'x')",
    );
    other.close();
    const before = await Deno.readFile(path);
    for (const readonly of [false, true]) {
      assert.throws(() => Store.open(path, { readonly, create: !readonly }), (e: unknown) => {
        assert.ok(e instanceof StoreError);
        assert.match(e.message, /not a bitget-bot database \(SQLite application_id 0/);
        return true;
      });
    }
    assert.deepEqual(await Deno.readFile(path), before);
    assert.equal(exists(path + "-wal"), false);
    // Another application's id is refused too.
    const tagged = new DatabaseSync(path);
    tagged.exec("PRAGMA application_id = 1234");
    tagged.close();
    assert.throws(() => Store.open(path), /application_id 1234/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a file that is not SQLite is refused without being touched", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "notes.db");
    const text = "timestamp,price\n1,2\n".repeat(10);
    await Deno.writeTextFile(path, text);
    assert.throws(
      () => Store.open(path, { create: true }),
      /not a bitget-bot database \(not a SQLite file\)/,
    );
    assert.equal(await Deno.readTextFile(path), text);
    assert.equal(exists(path + "-wal"), false);
    // A directory where the file should be.
    assert.throws(() => Store.open(dir), /is not a file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unwritable path: StoreError with the path and the OS reason", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A regular file in the directory chain: ENOTDIR even for root.
    const blocker = join(dir, "blocker");
    await Deno.writeTextFile(blocker, "x");
    const path = join(blocker, "data", "bitget.db");
    assert.throws(() => Store.open(path, { create: true }), (e: unknown) => {
      assert.ok(e instanceof StoreError);
      assert.ok(e.message.includes(path), e.message);
      assert.match(e.message, /Not a directory|os error/i);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a newer schema version is refused; read-only opens cannot write", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "b.db");
    Store.open(path, { create: true }).close();
    const ro = Store.open(path, { readonly: true });
    assert.throws(() => ro.writeBatch([]), /read-only/);
    assert.throws(() => ro.db.exec("DELETE FROM trades"), /readonly/);
    ro.close();
    const raw = new DatabaseSync(path);
    raw.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    assert.throws(() => Store.open(path), /newer than this program/);
    assert.throws(() => Store.open(path, { create: true, readonly: true }), StoreError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a v2 database (before the trading tables) opens read-only for backtests", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bitget-schema-" });
  const path = `${dir}/old.db`;
  const raw = new DatabaseSync(path);
  raw.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
  for (const m of MIGRATIONS.filter((m) => m.version <= 2)) raw.exec(m.sql);
  raw.exec("PRAGMA user_version = 2");
  raw.close();
  const ro = Store.open(path, { readonly: true });
  assert.equal(pragma(ro.db, "user_version"), 2, "nothing migrated by a read-only open");
  ro.close();
  const rw = Store.open(path);
  assert.equal(pragma(rw.db, "user_version"), SCHEMA_VERSION, "a writable open migrates");
  rw.close();
  await Deno.remove(dir, { recursive: true });
});
