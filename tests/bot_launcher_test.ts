/**
 * scripts/bot.ts (`deno task bot`): the README's Backtest commands run from source as written — a
 * CSV and a database outside the default read/write scope are granted because they are named on
 * the command line, and nothing else is.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { BASE_READ, BASE_WRITE, denoArgs, namedPaths } from "../scripts/bot.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const DATA = "../shared/data/";

Deno.test("bot launcher: named inputs readable, databases and --out read/write, nothing else", () => {
  const csv = `${DATA}binance_usdm_BTCUSDT_1m_20250504-20250603.csv`;
  const cwd = Deno.cwd();
  Deno.chdir(ROOT);
  try {
    const p = namedPaths([
      "import",
      csv,
      "--kind",
      "candles-1m",
      "--db",
      "/tmp/x/bt.db",
      "--out=/tmp/out",
      "--contracts",
      "sample/rest/contracts.json",
      "/nonexistent/file.csv",
      "--symbol",
      "BTCUSDT",
    ]);
    assert.deepEqual(
      p.read.sort(),
      [csv, "/tmp/out", "/tmp/x", "/tmp/x/bt.db", "sample/rest/contracts.json"].sort(),
    );
    assert.deepEqual(p.write.sort(), ["/tmp/out", "/tmp/x", "/tmp/x/bt.db"].sort());
    // A positional database is an output too; a path with a comma cannot be granted.
    assert.deepEqual(namedPaths(["backtest", "/tmp/a/b.db"]).write.sort(), [
      "/tmp/a",
      "/tmp/a/b.db",
    ]);
    assert.deepEqual(namedPaths(["stats", "/tmp/a,b/c.db"]).write, []);
    const args = denoArgs(["stats"]);
    assert.ok(
      args.includes(`--allow-read=src,node_modules,${BASE_READ.join(",")}`),
      args.join(" "),
    );
    assert.ok(args.includes(`--allow-write=${BASE_WRITE.join(",")}`));
  } finally {
    Deno.chdir(cwd);
  }
});

/** Runs `deno task bot …` from the repository root. */
async function bot(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "bot", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("README Backtest block from source: import ../shared CSVs, then backtest with no other flag", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bot-launcher-" });
  try {
    const db = join(dir, "bt.db");
    for (
      const [file, kind, symbol] of [
        ["binance_usdm_BTCUSDT_1m_20250504-20250603.csv", "candles-1m", "BTCUSDT"],
        ["binance_usdm_BTCUSDT_funding_8h_20250306-20250603.csv", "funding", "BTCUSDT"],
        ["binance_usdm_ETHUSDT_1m_20250504-20250615.csv", "candles-1m", "ETHUSDT"],
        ["binance_usdm_ETHUSDT_funding_8h_20250306-20250615.csv", "funding", "ETHUSDT"],
      ]
    ) {
      const r = await bot(["import", DATA + file, "--kind", kind, "--symbol", symbol, "--db", db]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /imported \d+ of \d+ rows/);
    }
    const out = join(dir, "run");
    const r = await bot([
      "backtest",
      db,
      "--strategy",
      "regime",
      "--symbols",
      "BTCUSDT",
      "ETHUSDT",
      "--out",
      out,
      "--no-report",
    ]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stderr, /bundled Bitget contracts snapshot of 2024-07-18/);
    assert.match(r.stdout, /total return/);
    const run = JSON.parse(await Deno.readTextFile(join(out, "run.json")));
    assert.equal(run.contracts.BTCUSDT.source, "snapshot");
    // A file that is not named stays out of reach: --config names it, a config's own paths don't.
    const cfg = join(dir, "c.yaml");
    await Deno.writeTextFile(cfg, `collect:\n  db: ${join(dir, "elsewhere", "x.db")}\n`);
    const s = await bot(["stats", "--config", cfg]);
    assert.equal(s.code, 1, s.stderr);
    assert.match(s.stderr, /elsewhere\/x\.db|Requires read access/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
