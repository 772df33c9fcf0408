/** Shard planning: capacity per connection, a symbol's channels kept together, stable ids. */
import assert from "node:assert/strict";
import { planShards } from "../src/ingest/shards.ts";
import { CHANNELS } from "../src/market/events.ts";

const symbols = (n: number) => Array.from({ length: n }, (_, i) => `SYM${i}USDT`);

Deno.test("planShards: ≤ max per connection, symbols never split when they fit", () => {
  for (const max of [6, 7, 12, 48, 50]) {
    for (const n of [1, 2, 7, 8, 9, 40]) {
      const plan = planShards(symbols(n), CHANNELS, max);
      const all = plan.flatMap((s) => s.keys);
      assert.equal(all.length, n * CHANNELS.length, "every subscription planned once");
      assert.equal(new Set(all.map((k) => `${k.symbol}|${k.channel}`)).size, all.length);
      for (const s of plan) assert.ok(s.keys.length <= max && s.keys.length > 0);
      for (const sym of symbols(n)) {
        const holders = plan.filter((s) => s.keys.some((k) => k.symbol === sym));
        assert.equal(holders.length, 1, `${sym} split with max ${max}`);
      }
      assert.deepEqual(plan.map((s) => s.id), plan.map((_, i) => i));
      // Packing: with whole symbols per shard, shard count = ⌈n / ⌊max/6⌋⌉.
      assert.equal(plan.length, Math.ceil(n / Math.floor(max / CHANNELS.length)));
    }
  }
  // Default config: 48 per connection → 8 symbols × 6 channels per socket.
  assert.deepEqual(planShards(symbols(20), CHANNELS, 48).map((s) => s.keys.length), [48, 48, 24]);
});

Deno.test("planShards: a symbol with more channels than fit is split across shards", () => {
  const plan = planShards(["BTCUSDT", "ETHUSDT"], CHANNELS, 4);
  assert.deepEqual(plan.map((s) => s.keys.length), [4, 2, 4, 2]);
  assert.ok(plan[0].keys.every((k) => k.symbol === "BTCUSDT"));
  assert.ok(plan[1].keys.every((k) => k.symbol === "BTCUSDT"));
  assert.ok(plan[2].keys.every((k) => k.symbol === "ETHUSDT"));
});

Deno.test("planShards: bad input is a RangeError naming the problem", () => {
  assert.throws(() => planShards(["BTCUSDT"], CHANNELS, 0), /maxChannelsPerConnection/);
  assert.throws(() => planShards([], CHANNELS, 48), /at least one symbol/);
  // Duplicates are planned once.
  assert.equal(planShards(["BTCUSDT", "BTCUSDT"], ["ticker", "ticker"], 48)[0].keys.length, 1);
});
