import assert from "node:assert/strict";
import { join } from "node:path";
import { candleDb, CONTRACTS_JSON } from "./helpers/backtest_data.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** Runs the CLI with the compiled binary's permission set narrowed to the temp folder. */
async function cli(dir: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--allow-read=src,models,sample,node_modules,config.yaml,${dir}`,
      `--allow-write=${dir}`,
      "--allow-env=BITGET_*,LOG_TOKENS,LOG_STREAM",
      "--unstable-worker-options",
      "src/main.ts",
      "backtest",
      ...args,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("backtest CLI: regime on the real 30-day DB, files, summary, look-ahead check", async () => {
  const db = await candleDb();
  db.store.close();
  try {
    const out = join(db.dir, "run1");
    const cfg = join(db.dir, "config.yaml");
    await Deno.writeTextFile(cfg, "backtest:\n  initialBalance: 10000\n  lookaheadCuts: 2\n");
    const r = await cli(db.dir, [
      db.path,
      "--strategy",
      "regime",
      "--symbols",
      "BTCUSDT",
      "ETHUSDT",
      "--contracts",
      CONTRACTS_JSON,
      "--config",
      cfg,
      "--from",
      "2025-05-10",
      "--to",
      "2025-05-24",
      "--out",
      out,
      "--check-lookahead",
    ]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /total return +-?\d+\.\d+ % +-?\d+\.\d+ % +0\.00 %/);
    assert.match(r.stdout, /look-ahead check: 2 cuts, \d+ recorded values compared, 0 changed/);
    assert.equal(r.stderr.includes("\r["), false, "no progress bar when stderr is not a TTY");
    for (const f of ["trades.csv", "equity.csv", "metrics.json", "run.json", "report.html"]) {
      assert.ok((await Deno.stat(join(out, f))).size > 0, f);
    }
    const run = JSON.parse(await Deno.readTextFile(join(out, "run.json")));
    assert.equal(run.from, "2025-05-10T00:00:00Z");
    assert.equal(run.to, "2025-05-24T00:00:00Z");
    assert.equal(run.lookahead.diffs.length, 0);
    assert.ok(run.lookahead.compared > 1000);
    const metrics = JSON.parse(await Deno.readTextFile(join(out, "metrics.json")));
    const rows = (await Deno.readTextFile(join(out, "trades.csv"))).trim().split("\n");
    assert.equal(rows.length - 1, metrics.trades);
    const header = rows[0].split(",");
    const net = header.indexOf("net_pnl");
    const sum = rows.slice(1).reduce((a, l) => a + Number(l.split(",")[net]), 0);
    assert.ok(Math.abs(sum - (metrics.finalEquity - 10_000)) < 1e-6, "Σ net_pnl = equity change");
  } finally {
    await Deno.remove(db.dir, { recursive: true });
  }
});

Deno.test("backtest CLI: no specs in the database → the bundled snapshot, one line, run.json", async () => {
  const db = await candleDb();
  db.store.close();
  try {
    const out = join(db.dir, "snap");
    const twoDays = (...extra: string[]) =>
      cli(db.dir, [db.path, "--strategy=regime", "--from=2025-05-10", "--to=2025-05-12", ...extra]);
    const r = await twoDays("--out", out, "--no-report");
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const lines = r.stderr.split("\n").filter((l) => l.includes("contracts snapshot"));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /BTCUSDT, ETHUSDT .*snapshot of 2024-07-18/);
    const run = JSON.parse(await Deno.readTextFile(join(out, "run.json")));
    assert.deepEqual(run.contracts.BTCUSDT, {
      source: "snapshot",
      date: "2024-07-18",
      requestTime: 1721347022835,
    });
    // The same run with the file named: the file is the source, no snapshot line.
    const r2 = await twoDays(
      "--contracts",
      CONTRACTS_JSON,
      "--out",
      join(db.dir, "file"),
      "--no-report",
    );
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(r2.stderr.includes("contracts snapshot"), false);
    const run2 = JSON.parse(await Deno.readTextFile(join(db.dir, "file", "run.json")));
    assert.equal(run2.contracts.ETHUSDT.source, "file");
    // Same specs, same result.
    assert.equal(
      await Deno.readTextFile(join(out, "metrics.json")),
      await Deno.readTextFile(join(db.dir, "file", "metrics.json")),
    );
  } finally {
    await Deno.remove(db.dir, { recursive: true });
  }
});

Deno.test("backtest CLI: bad input gets a clear message and exit 2", async () => {
  const db = await candleDb();
  db.store.close();
  try {
    const cases: [string[], RegExp][] = [
      [[db.path, "--strategy", "momentum"], /--strategy: expected one of ml, regime, microswing/],
      [[db.path, "--symbols", "XRPUSDT"], /no contract spec for XRPUSDT .*--contracts/],
      [
        [db.path, "--strategy", "microswing", "--contracts", CONTRACTS_JSON],
        /microswing .* needs a database with books\/trades/,
      ],
      [
        [db.path, "--from", "yesterday", "--contracts", CONTRACTS_JSON],
        /--from: expected ISO-8601/,
      ],
      [[join(db.dir, "missing.db")], /missing\.db/],
    ];
    for (const [args, re] of cases) {
      const r = await cli(db.dir, [...args, "--out", join(db.dir, "x")]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.includes("    at "), false, "no stack trace");
    }
  } finally {
    await Deno.remove(db.dir, { recursive: true });
  }
});
