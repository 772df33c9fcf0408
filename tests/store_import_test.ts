/**
 * CSV import of every shared data kind (candles 1m/15m, funding, book15-1s, trades-1s): counts,
 * spans and values against the files themselves, idempotent re-import, gzip input, bad-row
 * errors that name file/line/column with nothing written, and the `import` CLI.
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { Store } from "../src/store/store.ts";
import { readContracts } from "../src/store/readers.ts";
import { importCsv, ImportError, type ImportKind } from "../src/store/import_csv.ts";
import { importCommand } from "../src/cli/import.ts";
import { bookTop } from "../src/market/order_book.ts";

const DATA = new URL("../../shared/data/", import.meta.url);
const file = (name: string) => new URL(name, DATA).pathname;

/** The file parsed independently of the importer: header + rows of strings. */
async function csv(name: string): Promise<{ header: string[]; rows: string[][] }> {
  const lines = (await Deno.readTextFile(file(name))).trim().split(/\r?\n/);
  return { header: lines[0].split(","), rows: lines.slice(1).map((l) => l.split(",")) };
}

const close = (a: number, b: number, rel = 1e-9) =>
  assert.ok(Math.abs(a - b) <= rel * Math.max(1, Math.abs(a), Math.abs(b)), `${a} ≈ ${b}`);

async function withStore(fn: (s: Store, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  const store = Store.open(join(dir, "t.db"), { create: true });
  try {
    await fn(store, dir);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const count = (s: Store, sql: string, ...p: (string | number)[]) =>
  Number(Object.values(s.db.prepare(sql).get(...p) as Record<string, unknown>)[0]);

const CANDLES: [string, string, ImportKind][] = [
  ["binance_usdm_BTCUSDT_1m_20250504-20250603.csv", "BTCUSDT", "candles-1m"],
  ["binance_usdm_ETHUSDT_1m_20250504-20250615.csv", "ETHUSDT", "candles-1m"],
  ["binance_usdm_BTCUSDT_15m_20250306-20250413.csv", "BTCUSDT", "candles-15m"],
  ["binance_usdm_ETHUSDT_15m_20250306-20250413.csv", "ETHUSDT", "candles-15m"],
];

Deno.test("import candles (1m, 15m, BTC and ETH): counts, spans, every value, idempotent", async () => {
  await withStore(async (s) => {
    for (const [name, symbol, kind] of CANDLES) {
      const { rows } = await csv(name);
      const interval = kind === "candles-1m" ? "1m" : "15m";
      const r = await importCsv(s, file(name), kind, symbol);
      assert.equal(r.rows, rows.length);
      assert.equal(r.imported, rows.length);
      assert.equal(r.skipped, 0);
      assert.equal(r.firstTs, Number(rows[0][0]));
      assert.equal(r.lastTs, Number(rows[rows.length - 1][0]));
      const stored = s.db.prepare(
        `SELECT start_ts, open, high, low, close, volume, quote_volume, source FROM candles
         WHERE symbol = ? AND interval = ? ORDER BY start_ts`,
      ).all(symbol, interval) as Record<string, number | string | null>[];
      assert.equal(stored.length, rows.length);
      for (let i = 0; i < rows.length; i++) {
        const [ts, iso, o, h, l, c, v] = rows[i];
        assert.equal(new Date(Number(ts)).toISOString(), iso);
        assert.deepEqual({ ...stored[i] }, {
          start_ts: Number(ts),
          open: Number(o),
          high: Number(h),
          low: Number(l),
          close: Number(c),
          volume: Number(v),
          quote_volume: null,
          source: "import",
        });
      }
      const again = await importCsv(s, file(name), kind, symbol);
      assert.equal(again.imported, 0);
      assert.equal(again.skipped, rows.length);
      assert.equal(
        count(
          s,
          "SELECT count(*) FROM candles WHERE symbol = ? AND interval = ?",
          symbol,
          interval,
        ),
        rows.length,
      );
    }
  });
});

Deno.test("import funding (settled) for BTC and ETH, feeding the 1m/15m funding column", async () => {
  await withStore(async (s) => {
    for (
      const [name, symbol] of [
        ["binance_usdm_BTCUSDT_funding_8h_20250306-20250603.csv", "BTCUSDT"],
        ["binance_usdm_ETHUSDT_funding_8h_20250306-20250615.csv", "ETHUSDT"],
      ]
    ) {
      const { rows } = await csv(name);
      const r = await importCsv(s, file(name), "funding", symbol);
      assert.equal(r.imported, rows.length);
      const stored = s.db.prepare(
        `SELECT ts, type, funding_rate FROM funding_rates WHERE symbol = ? ORDER BY ts`,
      ).all(symbol) as { ts: number; type: string; funding_rate: number }[];
      assert.deepEqual(
        stored.map((r) => ({ ...r })),
        rows.map(([ts, , rate]) => ({
          ts: Number(ts),
          type: "settled",
          funding_rate: Number(rate),
        })),
      );
      // Jittered settlement times (…00.001) still land in their minute bucket.
      for (const [ts, , rate] of rows) {
        const b = Math.floor(Number(ts) / 60_000) * 60_000;
        const agg = s.db.prepare(
          "SELECT funding_rate, funding_ts FROM agg_1m WHERE symbol = ? AND bucket_ts = ?",
        ).get(symbol, b) as { funding_rate: number; funding_ts: number };
        assert.deepEqual({ ...agg }, { funding_rate: Number(rate), funding_ts: Number(ts) });
      }
      const again = await importCsv(s, file(name), "funding", symbol);
      assert.equal(again.imported, 0);
      assert.equal(again.skipped, rows.length);
    }
  });
});

const WINDOWS: [string, string][] = [
  ["BTCUSDT", "20240718T2357"],
  ["ETHUSDT", "20240718T2357"],
  ["BTCUSDT", "20230404T2358"],
];

Deno.test("import book15-1s: exact level strings in books15, agg_1s metrics = bookTop", async () => {
  for (const [symbol, win] of WINDOWS) {
    await withStore(async (s) => {
      const name = `binance_usdm_${symbol}_${win}_book15_1s.csv`;
      const { header, rows } = await csv(name);
      const r = await importCsv(s, file(name), "book15-1s", symbol);
      assert.equal(r.imported, rows.length);
      assert.equal(count(s, "SELECT count(*) FROM books15"), rows.length);
      const col = (n: string) => header.indexOf(n);
      const stored = s.db.prepare(`SELECT ts, bids, asks FROM books15 ORDER BY ts`).all() as {
        ts: number;
        bids: string;
        asks: string;
      }[];
      const aggs = s.db.prepare(`SELECT * FROM agg_1s WHERE symbol = ? ORDER BY bucket_ts`)
        .all(symbol) as Record<string, number | string | null>[];
      assert.equal(aggs.length, rows.length);
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i];
        const side = (p: string) =>
          Array.from(
            { length: 15 },
            (_, k) => [row[col(`${p}_px_${k}`)], row[col(`${p}_sz_${k}`)]],
          );
        assert.equal(stored[i].ts, Number(row[0]));
        assert.deepEqual(JSON.parse(stored[i].bids), side("bid"));
        assert.deepEqual(JSON.parse(stored[i].asks), side("ask"));
        const nums = (p: string, j: number) => side(p).map((l) => Number(l[j]));
        const top = bookTop(nums("bid", 0), nums("bid", 1), nums("ask", 0), nums("ask", 1))!;
        const a = aggs[i];
        assert.equal(a.bucket_ts, Number(row[0]));
        assert.equal(a.book_src, "books15");
        assert.equal(a.trade_count, 0);
        close(a.mid as number, top.mid);
        close(a.spread_bps as number, top.spreadBps);
        close(a.best_bid as number, Number(row[col("bid_px_0")]));
        close(a.best_ask_size as number, Number(row[col("ask_sz_0")]));
        close(a.imbalance5 as number, top.imbalance5);
        close(a.imbalance15 as number, top.imbalance15);
        close(a.depth10bps as number, top.depth10bps);
      }
      const again = await importCsv(s, file(name), "book15-1s", symbol);
      assert.equal(again.imported, 0);
      assert.equal(count(s, "SELECT count(*) FROM books15"), rows.length);
    });
  }
});

Deno.test("import trades-1s into agg_1s (bucket = ts − 1 s), values match, idempotent", async () => {
  for (const [symbol, win] of WINDOWS) {
    await withStore(async (s) => {
      const name = `binance_usdm_${symbol}_${win}_trades_1s.csv`;
      const { rows } = await csv(name);
      const r = await importCsv(s, file(name), "trades-1s", symbol);
      assert.equal(r.imported, rows.length);
      const aggs = s.db.prepare(`SELECT * FROM agg_1s WHERE symbol = ? ORDER BY bucket_ts`)
        .all(symbol) as Record<string, number | null>[];
      assert.equal(aggs.length, rows.length);
      for (let i = 0; i < rows.length; i++) {
        const [ts, n, buy, sell, vwap, last] = rows[i];
        const a = aggs[i];
        assert.equal(a.bucket_ts, Number(ts) - 1000);
        assert.equal(a.trade_count, Number(n));
        close(a.buy_volume!, Number(buy));
        close(a.sell_volume!, Number(sell));
        close(a.volume!, Number(buy) + Number(sell));
        if (Number(n) > 0) {
          close(a.vwap!, Number(vwap));
          close(a.quote_volume!, Number(vwap) * (Number(buy) + Number(sell)));
          assert.equal(a.close, Number(last));
        } else {
          assert.equal(a.vwap, null);
          assert.equal(a.close, null);
        }
      }
      const before = JSON.stringify(s.db.prepare("SELECT * FROM agg_1s").all());
      const again = await importCsv(s, file(name), "trades-1s", symbol);
      assert.equal(again.imported, 0);
      assert.equal(again.skipped, rows.length);
      assert.equal(JSON.stringify(s.db.prepare("SELECT * FROM agg_1s").all()), before);
    });
  }
});

Deno.test("gzip input and ISO-8601 time column give the same rows", async () => {
  await withStore(async (s, dir) => {
    const name = "binance_usdm_BTCUSDT_15m_20250306-20250413.csv";
    const gz = join(dir, "c.csv.gz");
    await Deno.writeFile(gz, gzipSync(await Deno.readFile(file(name))));
    const r = await importCsv(s, gz, "candles-15m", "BTCUSDT");
    assert.equal(r.imported, 3635);
    // Same bars keyed by an ISO `time` column, no ms column: nothing new.
    const { rows } = await csv(name);
    const iso = join(dir, "iso.csv");
    await Deno.writeTextFile(
      iso,
      "time,open,high,low,close,volume\n" +
        rows.map((r) => [r[1], ...r.slice(2)].join(",")).join("\n") + "\n",
    );
    const r2 = await importCsv(s, iso, "candles-15m", "BTCUSDT");
    assert.equal(r2.rows, 3635);
    assert.equal(r2.imported, 0);
  });
});

Deno.test("bad rows: error names file, line and column; nothing written", async () => {
  await withStore(async (s, dir) => {
    const good = "open_time_ms,open,high,low,close,volume\n" +
      "1746372780000,10,11,9,10.5,1\n1746372840000,10.5,12,10,11,2\n";
    const cases: [string, string, RegExp, number | undefined, string | undefined][] = [
      [
        "nan.csv",
        good + "1746372900000,11,abc,10,11,3\n",
        /nan\.csv:4: column high: "abc"/,
        4,
        "high",
      ],
      [
        "missing.csv",
        "open_time_ms,open,high,low,close\n1746372780000,1,1,1,1\n",
        /missing column volume/,
        1,
        "volume",
      ],
      [
        "order.csv",
        good + "1746372840000,11,12,10,11,3\n",
        /order\.csv:4: column open_time_ms: .*not after the previous row/,
        4,
        "open_time_ms",
      ],
      ["empty.csv", good + "1746372900000,11,,10,11,3\n", /empty.*not a finite number/, 4, "high"],
      [
        "width.csv",
        good + "1746372900000,11,12\n",
        /width\.csv:4: 3 cells, expected 6/,
        4,
        undefined,
      ],
      [
        "secs.csv",
        "ts,open,high,low,close,volume\n1746372780,1,1,1,1,1\n",
        /not epoch milliseconds/,
        2,
        "ts",
      ],
      [
        "notime.csv",
        "when,open,high,low,close,volume\n1,1,1,1,1,1\n",
        /no time column/,
        1,
        undefined,
      ],
    ];
    for (const [name, text, re, line, column] of cases) {
      const path = join(dir, name);
      await Deno.writeTextFile(path, text);
      await assert.rejects(importCsv(s, path, "candles-1m", "BTCUSDT"), (e: unknown) => {
        assert.ok(e instanceof ImportError, String(e));
        assert.match(e.message, re);
        assert.ok(e.message.includes(path));
        assert.equal(e.line, line);
        assert.equal(e.column, column);
        return true;
      });
    }
    assert.equal(count(s, "SELECT count(*) FROM candles"), 0);
    assert.equal(count(s, "SELECT count(*) FROM agg_1m"), 0);
  });
});

/** Runs a CLI command capturing console output. */
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

Deno.test("import CLI: rows imported/skipped, exit codes, bad file creates no database", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const db = join(dir, "data", "bitget.db");
    const f = file("binance_usdm_ETHUSDT_funding_8h_20250306-20250615.csv");
    const args = [f, "--symbol", "ETHUSDT", "--kind", "funding", "--db", db];
    const first = await capture(() => importCommand(args));
    assert.equal(first.code, 0, first.err);
    assert.match(first.out, /imported 302 of 302 rows .* into funding_rates .* skipped 0/);
    const second = await capture(() => importCommand(args));
    assert.equal(second.code, 0);
    assert.match(second.out, /imported 0 of 302 rows .* skipped 302 already present/);
    const store = Store.open(db, { readonly: true });
    const runs = store.db.prepare("SELECT command, status, args FROM runs ORDER BY id").all() as {
      command: string;
      status: string;
      args: string;
    }[];
    store.close();
    assert.deepEqual(runs.map((r) => [r.command, r.status]), [["import", "ok"], ["import", "ok"]]);
    assert.deepEqual(JSON.parse(runs[0].args), args);

    const bad = join(dir, "bad.csv");
    await Deno.writeTextFile(bad, "funding_time_ms,funding_rate\n1741276800000,x\n");
    const db2 = join(dir, "other", "x.db");
    const r = await capture(() =>
      importCommand([bad, "--symbol", "ETHUSDT", "--kind", "funding", "--db", db2])
    );
    assert.equal(r.code, 1);
    assert.match(r.err, /bad\.csv:2: column funding_rate: "x" is not a finite number/);
    await assert.rejects(Deno.stat(join(dir, "other")), Deno.errors.NotFound);

    assert.equal((await capture(() => importCommand([f, "--kind", "funding"]))).code, 2);
    assert.equal(
      (await capture(() => importCommand([f, "--symbol", "ETHUSDT", "--kind", "x"]))).code,
      2,
    );
    assert.equal((await capture(() => importCommand([f, "--bogus"]))).code, 2);

    // --contracts stores the symbol's spec (raw entry verbatim) with the rows.
    const contracts = new URL("../sample/rest/contracts.json", import.meta.url).pathname;
    const withSpec = await capture(() => importCommand([...args, "--contracts", contracts]));
    assert.equal(withSpec.code, 0, withSpec.err);
    assert.match(withSpec.out, /contract spec of ETHUSDT stored from .*contracts\.json/);
    const s2 = Store.open(db, { readonly: true });
    const specs = readContracts(s2);
    const rawRow = s2.db.prepare("SELECT raw FROM contracts WHERE symbol = 'ETHUSDT'").get() as {
      raw: string;
    };
    s2.close();
    assert.deepEqual(specs.map((c) => [c.symbol, c.tickSize, c.lotSize, c.takerFeeRate]), [
      ["ETHUSDT", 0.01, 0.01, 0.0006],
    ]);
    assert.equal(JSON.parse(rawRow.raw).symbol, "ETHUSDT");
    const noEntry = await capture(() =>
      importCommand([
        f,
        "--symbol",
        "XRPUSDT",
        "--kind",
        "funding",
        "--db",
        db,
        "--contracts",
        contracts,
      ])
    );
    assert.equal(noEntry.code, 1);
    assert.match(noEntry.err, /--contracts .*contracts\.json: no entry for XRPUSDT/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
