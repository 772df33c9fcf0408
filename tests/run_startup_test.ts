/**
 * Start-up checks of `bitget-bot run` and the `account` command, as real child processes against
 * the loopback simulator. Each refusal is one clear line on stderr and exit 2, and nothing was
 * sent: the simulator saw no place-order request. Also: the keys never appear in stdout, stderr,
 * the log lines or the database file (a grep over all of them), and `account` prints the
 * simulator's balances, positions and open orders read over signed REST.
 */
import assert from "node:assert/strict";
import { signedHeaders } from "../src/bitget/sign.ts";
import type { Simulator } from "../src/simulator/server.ts";
import { ROOT, SAMPLE, sim, waitFor } from "./helpers/collect_harness.ts";
import { runConfigYaml, spawnRun, TEST_ENV, TEST_KEYS } from "./helpers/run_harness.ts";

const urls = (s: Simulator) => [
  "--rest-url",
  s.restUrl,
  "--ws-url",
  s.wsUrl,
  "--private-ws-url",
  s.wsUrl.replace("/public", "/private"),
];

const placeRequests = (s: Simulator) =>
  (s.status() as unknown as { placeRequests: number }).placeRequests;

async function refused(
  s: Simulator,
  args: string[],
  env: Record<string, string>,
  expect: RegExp,
  prep?: (dir: string) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "bitget-startup-" });
  await Deno.writeTextFile(`${dir}/config.yaml`, runConfigYaml());
  await prep?.(dir);
  const before = placeRequests(s);
  const out = await spawnRun(dir, [...args, ...urls(s), "--duration", "20s"], env).done;
  assert.equal(out.code, 2, out.stderr + out.stdout.slice(-2000));
  const lines = out.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line: ${out.stderr}`);
  assert.match(lines[0], expect);
  assert.equal(placeRequests(s), before, "nothing sent");
  return { dir, out };
}

/** A signed POST to the simulator with the test keys (to open a position it must not know). */
async function signedPost(s: Simulator, path: string, body: Record<string, unknown>) {
  const text = JSON.stringify(body);
  const ts = String(Date.now());
  const res = await fetch(s.restUrl + path, {
    method: "POST",
    headers: signedHeaders(TEST_KEYS, ts, "POST", path, "", text, false),
    body: text,
  });
  return await res.json();
}

Deno.test({
  name: "run start-up: missing keys, 40099, position-mode mismatch, unknown position → exit 2",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const live = await sim({ recording: SAMPLE, speed: 2, onEnd: "idle", credentials: TEST_KEYS });
    const hedge = await sim({
      recording: SAMPLE,
      speed: 2,
      onEnd: "idle",
      credentials: TEST_KEYS,
      positionMode: "hedge",
    });
    try {
      // No keys: refused before anything is read or written (no database file either).
      const k = await refused(live, ["--mode", "live"], {}, /--mode live needs API keys/);
      await assert.rejects(Deno.stat(`${k.dir}/bitget.db`), Deno.errors.NotFound);
      // Live keys with --mode demo: the simulator runs as live and answers 40099.
      await refused(live, ["--mode", "demo"], TEST_ENV, /40099.*run with --mode live/);
      // The account is in hedge mode, run.positionMode is one_way.
      await refused(
        hedge,
        ["--mode", "live"],
        TEST_ENV,
        /hedge_mode on Bitget, run\.positionMode is one_way/,
      );
      // A position the (fresh) database does not account for: refuse by default.
      await waitFor("the market is up", async () => {
        const ws = new WebSocket(live.wsUrl);
        await new Promise((r) => (ws.onopen = r));
        ws.send(JSON.stringify({
          op: "subscribe",
          args: [{ instType: "USDT-FUTURES", channel: "books15", instId: "BTCUSDT" }],
        }));
        await new Promise((r) => setTimeout(r, 300));
        ws.close();
        return true;
      });
      const r = await signedPost(live, "/api/v2/mix/order/place-order", {
        symbol: "BTCUSDT",
        productType: "USDT-FUTURES",
        marginMode: "isolated",
        marginCoin: "USDT",
        size: "0.001",
        side: "buy",
        orderType: "market",
        clientOid: "manual-1",
      });
      assert.equal(r.code, "00000", JSON.stringify(r));
      await refused(
        live,
        ["--mode", "live"],
        TEST_ENV,
        /positions the database does not account for: BTCUSDT long: exchange 0\.001, journal 0/,
      );
      // `account --json` shows that position, parsed from the simulator's signed REST answers.
      const acc = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-net=127.0.0.1",
          "--allow-read=src,node_modules",
          "--allow-env=BITGET_*,LOG_TOKENS,LOG_STREAM",
          "src/main.ts",
          "account",
          "--json",
          "--rest-url",
          live.restUrl,
        ],
        cwd: ROOT,
        env: { NO_COLOR: "1", ...TEST_ENV },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(acc.code, 0, new TextDecoder().decode(acc.stderr));
      const j = JSON.parse(new TextDecoder().decode(acc.stdout));
      assert.equal(j.positions.length, 1);
      assert.equal(j.positions[0].symbol, "BTCUSDT");
      assert.equal(j.positions[0].total, "0.001");
      assert.equal(j.accounts[0].marginCoin, "USDT");
      assert.deepEqual(j.orders, []);
    } finally {
      await live.close();
      await hedge.close();
    }
  },
});

Deno.test({
  name: "keys never appear in stdout, stderr, logs or the database; account reads the account",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const s = await sim({ recording: SAMPLE, speed: 4, onEnd: "idle", credentials: TEST_KEYS });
    const dir = await Deno.makeTempDir({ prefix: "bitget-keys-" });
    try {
      await Deno.writeTextFile(
        `${dir}/config.yaml`,
        runConfigYaml().replace("maxRoundTrips: 4", "maxRoundTrips: 1") +
          "\n  killFile: " + `${dir}/KILL\n`,
      );
      const p = spawnRun(
        dir,
        ["--mode", "live", "--strategy", "smoke", "--log-level", "debug", ...urls(s)],
        TEST_ENV,
      );
      await waitFor(
        "4 smoke orders filled",
        () => (s.status() as unknown as { fills: unknown[] }).fills.length >= 4,
        60_000,
      );
      p.child.kill("SIGTERM");
      const out = await p.done;
      assert.equal(out.code, 0, out.stderr);
      // `account`, read-only, with the same keys.
      const acc = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-net=127.0.0.1",
          "--allow-read=src,node_modules",
          "--allow-env=BITGET_*,LOG_TOKENS,LOG_STREAM",
          "src/main.ts",
          "account",
          "--rest-url",
          s.restUrl,
        ],
        cwd: ROOT,
        env: { NO_COLOR: "1", ...TEST_ENV },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const accOut = new TextDecoder().decode(acc.stdout);
      assert.equal(acc.code, 0, new TextDecoder().decode(acc.stderr));
      assert.match(accOut, /balances \(USDT-M futures\):\n\s+marginCoin\s+accountEquity/);
      assert.match(accOut, /positions:\n {2}\(none\)/, "smoke closed its round trips");
      assert.match(accOut, /open orders:/);
      const files = [];
      for await (const e of Deno.readDir(dir)) {
        if (e.isFile) files.push(await Deno.readFile(`${dir}/${e.name}`));
      }
      const texts = [
        out.stdout,
        out.stderr,
        accOut,
        new TextDecoder().decode(acc.stderr),
        ...files.map((b) => new TextDecoder("latin1").decode(b)),
      ];
      assert.ok(files.length >= 2, "database and config read");
      for (const secret of [TEST_KEYS.apiKey, TEST_KEYS.secret, TEST_KEYS.passphrase]) {
        for (const t of texts) assert.ok(!t.includes(secret), "a key leaked");
      }
    } finally {
      await s.close();
    }
  },
});
