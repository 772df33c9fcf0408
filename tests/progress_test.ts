/** ops/progress.ts: a redrawn bar on a TTY, one JSON line per 10 % otherwise, nothing when silent. */
import assert from "node:assert/strict";
import { Progress } from "../src/ops/progress.ts";

Deno.test("progress: not a TTY → one JSON line per 10 % step, in order, none repeated", () => {
  const out: string[] = [];
  const p = new Progress("train", 200, "iterations", { tty: false, write: (t) => out.push(t) });
  for (let i = 1; i <= 200; i++) p.update(i);
  p.done();
  const lines = out.map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.pct), [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
  assert.ok(out.every((l) => l.endsWith("\n") && !l.includes("\r")));
  assert.deepEqual(
    { ...lines[3], elapsedMs: 0 },
    { progress: "train", pct: 30, done: 60, total: 200, unit: "iterations", elapsedMs: 0 },
  );
});

Deno.test("progress: TTY → redrawn bar (throttled), final 100 % drawn, cleared at the end", () => {
  const out: string[] = [];
  const p = new Progress("import", 1000, "rows", { tty: true, write: (t) => out.push(t) });
  for (let i = 1; i <= 1000; i++) p.update(i, `${i} rows`);
  p.done();
  assert.ok(out.length >= 2 && out.length < 100, `${out.length} writes: throttled`);
  assert.ok(out[0].startsWith("\r\x1b[2Kimport [" + "-".repeat(30) + "]   0 % "), out[0]);
  assert.match(out.at(-2)!, /\[#{30}\] 100 % .*1000 rows$/);
  assert.equal(out.at(-1), "\r\x1b[2K");
});

Deno.test("progress: unknown total counts only; silent writes nothing", () => {
  const out: string[] = [];
  const p = new Progress("x", NaN, "rows", { tty: false, write: (t) => out.push(t) });
  p.update(5);
  assert.equal(out.length, 0, "no 10 % steps without a total");
  p.setTotal(10);
  p.update(5);
  assert.equal(JSON.parse(out[0]).pct, 50);
  const s = new Progress("y", 10, "rows", { silent: true, write: (t) => out.push(t) });
  s.update(10);
  s.done();
  assert.equal(out.length, 1);
});
