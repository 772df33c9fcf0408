/**
 * `bitget-bot download` end to end: the real CLI (child process, real store) paging the loopback
 * simulator's `history-candles` / `history-fund-rate`, served from the real Binance 1m and funding
 * CSVs in ../shared/data; then a resumed run that fetches only what is new.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { REC_2023, ROOT, SHARED, sim } from "./helpers/collect_harness.ts";

const CANDLES_1M = `${SHARED}data/binance_usdm_BTCUSDT_1m_20250504-20250603.csv`;
const FUNDING = `${SHARED}data/binance_usdm_BTCUSDT_funding_8h_20250306-20250603.csv`;

/** CSV rows (time, values…) with from ≤ time < to. */
async function csvRows(path: string, from: number, to: number): Promise<string[][]> {
  const lines = (await Deno.readTextFile(path)).trim().split("\n").slice(1);
  return lines.map((l) => l.split(",")).filter((r) => Number(r[0]) >= from && Number(r[0]) < to);
}

async function download(dir: string, restUrl: string, to: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      `--allow-read=src,${dir}`,
      `--allow-write=${dir}`,
      "--allow-env=BITGET_*,LOG_TOKENS,LOG_STREAM",
      "--allow-sys=hostname",
      "src/main.ts",
      "download",
      "--symbols",
      "BTCUSDT",
      "--from",
      "2025-05-10T00:00:00Z",
      "--to",
      to,
      "--intervals",
      "1m",
      "--funding",
      "--rest-url",
      restUrl,
      "--db",
      `${dir}/hist.db`,
      "--config",
      `${dir}/config.yaml`,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, out: dec.decode(out.stdout), err: dec.decode(out.stderr) };
}

Deno.test({
  name: "download: pages history-candles and history-fund-rate from the simulator, then resumes",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const s = await sim({
      recording: REC_2023,
      historyCandles: [{ symbol: "BTCUSDT", interval: "1m", path: CANDLES_1M }],
      historyFunding: [{ symbol: "BTCUSDT", path: FUNDING }],
    });
    const dir = await Deno.makeTempDir({ prefix: "bitget-download-" });
    try {
      await Deno.writeTextFile(`${dir}/config.yaml`, "rest:\n  ratePerSecond: 20\n");
      const from = Date.parse("2025-05-10T00:00:00Z");
      const to1 = Date.parse("2025-05-11T00:00:00Z");
      const r1 = await download(dir, s.restUrl, "2025-05-11T00:00:00Z");
      assert.equal(r1.code, 0, r1.err + r1.out);
      const reqs1 = s.status().totals.restRequests;

      const db = () => new DatabaseSync(`${dir}/hist.db`, { readOnly: true });
      let d = db();
      const stored = d.prepare(
        `SELECT start_ts, open, high, low, close, volume, source FROM candles
          WHERE symbol = 'BTCUSDT' AND interval = '1m' ORDER BY start_ts`,
      ).all() as Record<string, number | string>[];
      const want = await csvRows(CANDLES_1M, from, to1);
      assert.equal(stored.length, want.length, "every bar of the day, once");
      assert.equal(stored.length, 1440);
      for (let i = 0; i < want.length; i += 97) {
        const [t, , o, h, l, c, v] = want[i];
        const got = stored[i];
        assert.deepEqual(
          [got.start_ts, got.open, got.high, got.low, got.close, got.volume, got.source],
          [Number(t), Number(o), Number(h), Number(l), Number(c), Number(v), "rest"],
        );
      }
      const funding = d.prepare(
        "SELECT ts, funding_rate FROM funding_rates WHERE type = 'settled' ORDER BY ts",
      ).all() as { ts: number; funding_rate: number }[];
      const wantF = await csvRows(FUNDING, from, to1);
      assert.equal(wantF.length, 3, "settlements at 00:00, 08:00, 16:00");
      for (const [t, , rate] of wantF) {
        assert.ok(
          funding.some((f) => f.ts === Number(t) && f.funding_rate === Number(rate)),
          `funding ${t}`,
        );
      }
      d.close();

      // Resume with a later --to: only the new day's bars are fetched, nothing is duplicated.
      const r2 = await download(dir, s.restUrl, "2025-05-12T00:00:00Z");
      assert.equal(r2.code, 0, r2.err + r2.out);
      const reqs2 = s.status().totals.restRequests - reqs1;
      d = db();
      const n = (d.prepare(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT start_ts) AS u FROM candles WHERE interval = '1m'",
      ).get()) as { n: number; u: number };
      d.close();
      assert.equal(n.n, 2880);
      assert.equal(n.u, 2880);
      // 1440 new bars at ≤ 200 per page → 8 candle pages, plus the funding pages.
      assert.ok(reqs2 <= 8 + 3, `resumed run made ${reqs2} requests`);
    } finally {
      await Deno.remove(dir, { recursive: true });
      await s.close();
    }
  },
});
