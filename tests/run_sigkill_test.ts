/**
 * SIGKILL the trading daemon mid-trade, 20 times at random points (seeded), against the loopback
 * simulator replaying the real 2024 recording: every restart reconciles to the simulator's state
 * at start (an unknown position would make it exit 2; none does), and at the end the journal
 * equals the simulator's books — no clientOid accepted twice, no order the simulator has missing
 * from the journal, every fill recorded exactly once, positions in agreement.
 */
import assert from "node:assert/strict";
import { REC_2024, waitFor } from "./helpers/collect_harness.ts";
import {
  assertJournalEqualsSim,
  assertPositionsAgree,
  liveSim,
  rows,
  runConfigYaml,
  simPrivate,
  simUrls,
  spawnRun,
  TEST_ENV,
} from "./helpers/run_harness.ts";

/** mulberry32: a small seeded PRNG, so a failing schedule can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test({
  name: "SIGKILL ×20 mid-trade: every restart reconciles; no duplicate order, no lost fill",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const seed = Number(Deno.env.get("BITGET_TEST_SEED") ?? 20261207);
    const rand = rng(seed);
    const dir = await Deno.makeTempDir({ prefix: "bitget-sigkill-" });
    // A 3 s request window (Bitget: 30 s) so restarts that wait it out stay quick.
    const s = await liveSim(REC_2024, 2, [], { timestampWindowMs: 3000 });
    const kills: { afterMs: number; ordersBefore: number; ordersAfter: number }[] = [];
    try {
      // Orders every half second of wall time per symbol: kills land between and inside them.
      await Deno.writeTextFile(
        `${dir}/config.yaml`,
        runConfigYaml().replace("interval: 5s", "interval: 1s").replace(
          "maxRoundTrips: 4",
          "maxRoundTrips: 1000",
        ) + `\n  killFile: ${dir}/KILL\n  requestWindow: 4s\n`,
      );
      const args = ["--mode", "live", "--strategy", "smoke", ...simUrls(s)];
      for (let i = 0; i < 20; i++) {
        const before = simPrivate(s).placeRequests;
        const p = spawnRun(dir, args, TEST_ENV);
        let exited: { code: number; stderr: string } | null = null;
        p.done.then((o) => (exited = o));
        // Wait until this process has sent an order (it reconciled and trades), then kill it at
        // a random point of its trading.
        await waitFor(
          `run ${i} trading`,
          () => exited !== null || simPrivate(s).placeRequests > before,
          30_000,
          20,
        );
        if (exited !== null) {
          await Deno.writeTextFile(
            `${dir}/sim-orders.json`,
            JSON.stringify(simPrivate(s), null, 1),
          );
          await Deno.writeTextFile(
            `${dir}/run-${i}.log`,
            (exited as { stdout: string }).stdout + (exited as { stderr: string }).stderr,
          );
          const o = simPrivate(s).orders.map((x) =>
            `${x.clientOid}:${x.symbol}:${x.side}:${x.state}`
          );
          const j = rows<{ client_oid: string; state: string }>(
            `${dir}/bitget.db`,
            "SELECT client_oid, symbol, side, state FROM orders ORDER BY created_ts",
          ).map((r) => Object.values(r).join(":"));
          assert.fail(
            `run ${i} exited on its own: ${(exited as { stderr: string }).stderr}\n` +
              `simulator: ${o.join(" ")}\njournal: ${j.join(" ")}`,
          );
        }
        const afterMs = Math.floor(rand() * 1500);
        await new Promise((r) => setTimeout(r, afterMs));
        p.child.kill("SIGKILL");
        const out = await p.done;
        await Deno.writeTextFile(`${dir}/run-${i}.log`, out.stdout + out.stderr);
        assert.equal(out.signal, "SIGKILL", `run ${i} was killed, not stopped: ${out.stderr}`);
        kills.push({ afterMs, ordersBefore: before, ordersAfter: simPrivate(s).placeRequests });
      }
      // A last, clean run: reconciles what the last kill left, trades a little, stops on SIGTERM.
      const last = spawnRun(dir, args, TEST_ENV);
      const before = simPrivate(s).placeRequests;
      let lastExit: { code: number; stderr: string; stdout: string } | null = null;
      last.done.then((o) => (lastExit = o));
      await waitFor(
        "the last run trading",
        () => lastExit !== null || simPrivate(s).placeRequests > before,
        30_000,
      );
      assert.equal(lastExit, null, `the last run exited: ${JSON.stringify(lastExit)}`);
      await waitFor(
        "no order in flight",
        () => {
          const st = simPrivate(s);
          return st.orders.every((o) => o.state === "filled" || o.state === "canceled");
        },
        10_000,
        20,
      );
      last.child.kill("SIGTERM");
      const out = await last.done;
      assert.equal(out.code, 0, out.stderr + out.stdout.slice(-3000));
      const db = `${dir}/bitget.db`;
      assertJournalEqualsSim(db, s);
      assertPositionsAgree(db, s);
      // Each of the 21 starts reconciled without an unknown position.
      const starts = rows<{ n: number }>(
        db,
        "SELECT COUNT(*) AS n FROM runs WHERE command = 'run'",
      )[0].n;
      assert.equal(starts, 21);
      const st = simPrivate(s);
      const journal = rows<{ state: string; n: number }>(
        db,
        "SELECT state, COUNT(*) AS n FROM orders WHERE mode = 'live' GROUP BY state",
      );
      assert.ok(st.orders.length >= 20, `orders placed across the kills: ${st.orders.length}`);
      console.log(
        `seed ${seed}: ${st.orders.length} orders, ${st.fills.length} fills, ` +
          `${st.placeRequests} place requests over 21 runs; journal ${JSON.stringify(journal)}; ` +
          `kill delays ${kills.map((k) => k.afterMs).join(",")} ms`,
      );
    } finally {
      await s.close();
    }
  },
});
