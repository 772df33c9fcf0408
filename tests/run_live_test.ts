/**
 * `bitget-bot run --mode live` end to end against the loopback simulator (its signed private REST
 * and private WebSocket over the simulated exchange, matched against the replayed real
 * recordings), the daemon a real child process with the product's permission set:
 *  - smoke and microswing trade, and afterwards the daemon's `orders` / `fills` tables equal the
 *    simulator's orders and fills one for one, and the positions agree;
 *  - with `order-timeout` and `private-drop` injected, no clientOid is accepted twice, the smoke
 *    strategy's orders are placed exactly once each, and the positions still agree;
 *  - SIGTERM: no new entries, exit 0 within 10 s; the kill file and SIGUSR1 cancel and flatten.
 * Keys are test values given to the simulator; nothing here reaches a real Bitget host.
 */
import assert from "node:assert/strict";
import { logLines, REC_2024, SAMPLE, waitFor } from "./helpers/collect_harness.ts";
import {
  assertJournalEqualsSim,
  assertPositionsAgree,
  liveSim,
  runConfigYaml,
  simPrivate,
  simUrls as urls,
  spawnRun,
  TEST_ENV,
} from "./helpers/run_harness.ts";

async function stop(proc: ReturnType<typeof spawnRun>) {
  const t0 = performance.now();
  proc.child.kill("SIGTERM");
  const out = await proc.done;
  return { ...out, stopMs: performance.now() - t0 };
}

Deno.test({
  name: "run --mode live --strategy smoke: journal = simulator, one for one; SIGTERM exit 0 < 10 s",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bitget-live-" });
    const s = await liveSim(SAMPLE, 4);
    try {
      await Deno.writeTextFile(
        `${dir}/config.yaml`,
        runConfigYaml().replace("maxRoundTrips: 4", "maxRoundTrips: 2"),
      );
      const p = spawnRun(dir, ["--mode", "live", "--strategy", "smoke", ...urls(s)], TEST_ENV);
      // 2 symbols × 2 round trips = 8 market orders, all filled.
      await waitFor(
        "8 filled smoke orders on the simulator",
        () => simPrivate(s).orders.filter((o) => o.state === "filled").length >= 8,
        60_000,
      );
      await new Promise((r) => setTimeout(r, 500));
      const out = await stop(p);
      assert.equal(out.code, 0, out.stderr + out.stdout.slice(-3000));
      assert.ok(out.stopMs < 10_000, `stopped in ${out.stopMs} ms`);
      const st = simPrivate(s);
      assert.equal(st.orders.length, 8, JSON.stringify(st.orders.map((o) => o.clientOid)));
      assertJournalEqualsSim(`${dir}/bitget.db`, s);
      assertPositionsAgree(`${dir}/bitget.db`, s);
      const stopped = logLines(out.stdout).find((l) => l.msg === "run stopped")!;
      assert.equal(stopped.fills, 8);
    } finally {
      await s.close();
    }
  },
});

Deno.test({
  name: "run --mode live --strategy microswing over the 2024 recording: journal = simulator",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bitget-live-ms-" });
    const s = await liveSim(REC_2024, 20);
    try {
      await Deno.writeTextFile(`${dir}/config.yaml`, runConfigYaml());
      const p = spawnRun(dir, ["--mode", "live", "--strategy", "microswing", ...urls(s)], TEST_ENV);
      await waitFor(
        "the recording replayed",
        () => {
          const c = s.status().connections.filter((x) => !x.closed);
          return c.length > 0 && c.every((x) => x.done);
        },
        120_000,
        250,
      );
      await new Promise((r) => setTimeout(r, 1500));
      const out = await stop(p);
      assert.equal(out.code, 0, out.stderr + out.stdout.slice(-3000));
      const st = simPrivate(s);
      assert.ok(st.fills.length > 0, "microswing traded on the simulator");
      assertJournalEqualsSim(`${dir}/bitget.db`, s);
      assertPositionsAgree(`${dir}/bitget.db`, s);
    } finally {
      await s.close();
    }
  },
});

Deno.test({
  name: "run --mode live with order-timeout and private-drop: placed exactly once, positions agree",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bitget-live-faults-" });
    const s = await liveSim(SAMPLE, 4, ["order-timeout@2", "order-timeout@5", "private-drop@6"]);
    try {
      await Deno.writeTextFile(
        `${dir}/config.yaml`,
        runConfigYaml().replace("maxRoundTrips: 4", "maxRoundTrips: 2"),
      );
      const p = spawnRun(dir, ["--mode", "live", "--strategy", "smoke", ...urls(s)], TEST_ENV);
      await waitFor(
        "8 filled smoke orders",
        () => simPrivate(s).orders.filter((o) => o.state === "filled").length >= 8,
        60_000,
      );
      await new Promise((r) => setTimeout(r, 1500));
      const out = await stop(p);
      assert.equal(out.code, 0, out.stderr + out.stdout.slice(-3000));
      const st = s.status() as unknown as { faults: { fired: { spec: string }[] } };
      const fired = st.faults.fired.map((f) => f.spec);
      assert.ok(fired.filter((f) => f.startsWith("order-timeout")).length === 2, fired.join(","));
      assert.ok(fired.some((f) => f.startsWith("private-drop")), fired.join(","));
      // Exactly the 8 orders smoke intended: a lost answer never became a second order.
      assert.equal(simPrivate(s).orders.length, 8);
      assertJournalEqualsSim(`${dir}/bitget.db`, s);
      assertPositionsAgree(`${dir}/bitget.db`, s);
      const logs = logLines(out.stdout);
      // The cut answer is seen either as an unknown outcome (a fresh connection: fetch fails) or,
      // when fetch re-sent the request on its own over a reused connection, as 40786 — both end
      // in a lookup by clientOid, never in a second order.
      assert.ok(logs.some((l) =>
        l.msg === "order outcome unknown: asking the exchange" ||
        l.msg === "duplicate clientOid answered: the order already exists"
      ));
      assert.ok(logs.some((l) => l.msg === "private websocket logged in" && l.reconnect === true));
    } finally {
      await s.close();
    }
  },
});

Deno.test({
  name: "run --mode live: the kill file and SIGUSR1 cancel open orders and flatten",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bitget-live-kill-" });
    const s = await liveSim(SAMPLE, 2);
    try {
      // Long intervals: the smoke positions stay open until the kill switch closes them.
      await Deno.writeTextFile(
        `${dir}/config.yaml`,
        runConfigYaml().replace("interval: 5s", "interval: 10m")
          .replace("run:\n", `run:\n  killFile: ${dir}/KILL\n`),
      );
      for (const how of ["file", "SIGUSR1"] as const) {
        const p = spawnRun(dir, ["--mode", "live", "--strategy", "smoke", ...urls(s)], TEST_ENV);
        await waitFor("both smoke positions open", () => simPrivate(s).positions.length === 2);
        const before = simPrivate(s).orders.length;
        if (how === "file") await Deno.writeTextFile(`${dir}/KILL`, "stop\n");
        else p.child.kill("SIGUSR1");
        await waitFor(
          `flat after the kill switch (${how})`,
          () => simPrivate(s).positions.length === 0,
          20_000,
        );
        const out = await stop(p);
        assert.equal(out.code, 0, out.stderr);
        const logs = logLines(out.stdout);
        assert.ok(logs.some((l) => l.msg === "kill switch: cancelling open orders and flattening"));
        const closing = simPrivate(s).orders.slice(before);
        assert.equal(closing.length, 2, "one reduce-only close per position");
        if (how === "file") await Deno.remove(`${dir}/KILL`);
        // Next round: a fresh database (the kill closed the previous positions).
        await Deno.remove(`${dir}/bitget.db`);
        for (const x of ["-wal", "-shm"]) await Deno.remove(`${dir}/bitget.db${x}`).catch(() => {});
      }
    } finally {
      await s.close();
    }
  },
});
