/**
 * ops/alerts: formatting (Discord embeds within Discord's limits, the JSON webhook), the queue's
 * delivery rules against a loopback server playing Discord (429 retry_after, 5xx retry, 4xx fail,
 * connection refused, overflow, stalls, close), secrecy of the URL, env validation, the storm
 * detector and the daily summary.
 */
import assert from "node:assert/strict";
import { createLogger } from "../src/ops/log.ts";
import {
  type AlertCounters,
  AlertQueue,
  type AlertQueueOptions,
  AlertsConfigSchema,
  alertSinksFromEnv,
  AlertTarget,
  createAlertQueue,
  DailySummary,
  DISCORD_LIMITS,
  discordPayload,
  ReconnectStormDetector,
  SEVERITY_COLORS,
  webhookPayload,
} from "../src/ops/alerts/mod.ts";
import type { AlertEvent } from "../src/ops/alerts/events.ts";
import { embedSize, fitEmbed } from "../src/ops/alerts/discord.ts";
import { rateLimitWaitMs } from "../src/ops/alerts/delivery.ts";

const TOKEN = "SECRETTOKENabcdef0123456789";
const PATH = `/api/webhooks/123/${TOKEN}`;
const T0 = Date.UTC(2025, 4, 4, 12, 30, 0);

// ---------------------------------------------------------------- a loopback "Discord"

interface Hit {
  at: number;
  path: string;
  body: Record<string, unknown>;
}

/** The shape Discord's Execute Webhook accepts; returns the problems found (none = valid). */
function discordProblems(p: Record<string, unknown>): string[] {
  const bad: string[] = [];
  const allowed = new Set(["username", "content", "embeds", "allowed_mentions"]);
  for (const k of Object.keys(p)) if (!allowed.has(k)) bad.push(`unknown key ${k}`);
  if (p.content !== undefined && (typeof p.content !== "string" || p.content.length > 2000)) {
    bad.push("content");
  }
  if (p.username !== undefined && (typeof p.username !== "string" || p.username.length > 80)) {
    bad.push("username");
  }
  const embeds = p.embeds as Record<string, unknown>[];
  if (!Array.isArray(embeds) || embeds.length < 1 || embeds.length > 10) return [...bad, "embeds"];
  for (const e of embeds) {
    const title = e.title as string;
    if (typeof title !== "string" || title.length === 0 || title.length > 256) bad.push("title");
    const d = e.description;
    if (d !== undefined && (typeof d !== "string" || d.length === 0 || d.length > 4096)) {
      bad.push("description");
    }
    const c = e.color;
    if (!Number.isInteger(c) || (c as number) < 0 || (c as number) > 0xffffff) bad.push("color");
    const ts = e.timestamp as string;
    if (typeof ts !== "string" || new Date(ts).toISOString() !== ts) bad.push("timestamp");
    const fields = e.fields as { name: string; value: string; inline: boolean }[];
    if (!Array.isArray(fields) || fields.length > 25) bad.push("fields");
    let total = title.length + ((d as string)?.length ?? 0);
    for (const f of fields ?? []) {
      if (typeof f.name !== "string" || !f.name.trim() || f.name.length > 256) bad.push("f.name");
      if (typeof f.value !== "string" || !f.value.trim() || f.value.length > 1024) {
        bad.push("f.value");
      }
      if (typeof f.inline !== "boolean") bad.push("f.inline");
      total += f.name.length + f.value.length;
    }
    if (total > 6000) bad.push(`total ${total}`);
  }
  return bad;
}

type Script = (n: number, path: string) => Response | Promise<Response>;

/** Records every POST; Discord paths are checked for shape (a bad one is a 400 and a problem). */
function fakeDiscord(script: Script = () => new Response(null, { status: 204 })) {
  const hits: Hit[] = [];
  const problems: string[] = [];
  let n = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    const body = await req.json();
    hits.push({ at: performance.now(), path, body });
    if (path.startsWith("/api/webhooks/")) {
      const bad = discordProblems(body);
      if (bad.length) {
        problems.push(...bad);
        return Response.json({ code: 50035, message: "Invalid Form Body" }, { status: 400 });
      }
    }
    return script(n++, path);
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  return { hits, problems, server, base, url: base + PATH, hook: base + "/hook/" + TOKEN };
}

/** A port nothing listens on (a server started and shut down). */
async function deadPort(): Promise<number> {
  const s = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response());
  const port = s.addr.port;
  await s.shutdown();
  return port;
}

/** A JSON logger at debug level whose lines are kept, and counters that tally. */
function capture() {
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", format: "json", sink: (l) => lines.push(l) });
  const tally = { sent: 0, failed: [] as string[], dropped: 0 };
  const counters: AlertCounters = {
    sent: () => void tally.sent++,
    failed: (_s, reason) => void tally.failed.push(reason),
    dropped: () => void tally.dropped++,
  };
  return { lines, logger, tally, counters };
}

function queue(url: string, cap: ReturnType<typeof capture>, o: Partial<AlertQueueOptions> = {}) {
  return new AlertQueue({
    sinks: [new AlertTarget("discord", url)],
    logger: cap.logger,
    counters: cap.counters,
    backoffBaseMs: 20,
    backoffMaxMs: 80,
    timeoutMs: 2000,
    ...o,
  });
}

function assertNoSecret(cap: ReturnType<typeof capture>, q: AlertQueue) {
  for (const l of cap.lines) assert.ok(!l.includes(TOKEN) && !l.includes(PATH), l);
  assert.ok(!JSON.stringify(q.stats()).includes(TOKEN));
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 5));
  }
}

// ---------------------------------------------------------------- one event of each type

const base = { ts: T0, mode: "live" as const };
const EVENTS: AlertEvent[] = [
  {
    ...base,
    type: "trade_opened",
    symbol: "BTCUSDT",
    side: "long",
    size: "0.010",
    price: "64250.5",
    notionalUsdt: 642.505,
    clientOid: "bb-1",
  },
  {
    ...base,
    type: "trade_closed",
    symbol: "ETHUSDT",
    side: "short",
    size: 1.5,
    entryPrice: "3100.10",
    exitPrice: "3050.00",
    pnlUsdt: 73.2,
    feesUsdt: 1.9,
    holdMs: 3_780_000,
  },
  { ...base, type: "regime_change", symbol: "BTCUSDT", from: "range", to: "trend_up" },
  {
    ...base,
    type: "model_promoted",
    version: "v12",
    previous: "v11",
    reason: "auc +0.02 on holdout",
    metrics: { auc: 0.61234, sharpe: 1.8, trades: 240 },
  },
  {
    ...base,
    type: "model_rejected",
    version: "v13",
    reason: "sharpe below",
    metrics: { auc: 0.5 },
  },
  {
    ...base,
    type: "drift_alarm",
    features: [{ name: "ret_5m", psi: 0.31 }, { name: "spread", psi: 0.45 }],
    threshold: 0.25,
  },
  { ...base, type: "halt", kind: "daily_loss", valueUsdt: 512.3, limit: 500 },
  { ...base, type: "halt", kind: "drawdown", ratio: 0.1234, limit: 0.1 },
  { ...base, type: "kill_switch", source: "file", detail: "data/KILL present" },
  { ...base, type: "reconnect_storm", feed: "public-1", count: 6, windowMs: 300_000 },
  { ...base, type: "error", where: "oms.place", message: "boom @everyone ```x```" },
  {
    ...base,
    type: "daily_summary",
    date: "2025-05-03",
    trades: 12,
    pnlUsdt: -42.5,
    feesUsdt: 6.1,
    equityUsdt: 10_250.75,
    maxDrawdown: 0.0523,
  },
];

Deno.test("alerts: every event type formats and is delivered with Discord's shape", async () => {
  const d = fakeDiscord();
  const cap = capture();
  const q = new AlertQueue({
    sinks: alertSinksFromEnv((n) =>
      ({ DISCORD_WEBHOOK_URL: d.url, ALERT_WEBHOOK_URL: d.hook } as Record<string, string>)[n]
    ),
    logger: cap.logger,
    counters: cap.counters,
    username: "bitget-bot",
  });
  for (const e of EVENTS) assert.equal(q.send(e), true);
  assert.equal(await q.close(3000), 0);
  await d.server.shutdown();
  assert.deepEqual(d.problems, []);
  const discord = d.hits.filter((h) => h.path === PATH).map((h) => h.body);
  const hook = d.hits.filter((h) => h.path !== PATH).map((h) => h.body);
  assert.equal(discord.length, EVENTS.length);
  assert.equal(cap.tally.sent, 2 * EVENTS.length);
  const embed = (i: number) => (discord[i].embeds as Record<string, unknown>[])[0];
  const field = (i: number, name: string) =>
    (embed(i).fields as { name: string; value: string }[]).find((f) => f.name === name)?.value;
  assert.equal(embed(0).title, "[LIVE] Opened LONG BTCUSDT");
  assert.equal(embed(0).timestamp, "2025-05-04T12:30:00.000Z");
  assert.equal(field(0, "Price"), "64250.5");
  assert.equal(field(0, "Size"), "0.010");
  assert.equal(field(0, "Notional"), "642.51 USDT");
  assert.equal(embed(1).color, SEVERITY_COLORS.good);
  assert.equal(field(1, "PnL (net)"), "+73.20 USDT");
  assert.equal(field(1, "Held"), "1h 03m");
  assert.equal(embed(3).color, SEVERITY_COLORS.good);
  assert.equal(field(3, "auc"), "0.6123");
  assert.equal(embed(2).color, SEVERITY_COLORS.info);
  assert.match(embed(5).description as string, /^`spread` PSI 0\.45\n`ret_5m`/);
  assert.equal(field(7, "Drawdown"), "12.34%");
  for (const i of [5, 6, 7, 8, 9, 10]) assert.equal(embed(i).color, SEVERITY_COLORS.bad);
  assert.equal(embed(11).color, SEVERITY_COLORS.bad);
  assert.equal(field(11, "PnL (net)"), "-42.50 USDT");
  assert.equal(field(11, "Equity"), "10,250.75 USDT");
  assert.equal(field(11, "Max drawdown"), "5.23%");
  assert.ok(discord.every((b) => b.username === "bitget-bot" && b.content === undefined));
  assert.deepEqual(discord[10].allowed_mentions, { parse: [] }, "no @everyone pings");
  // The JSON webhook: the event itself, type / ts / mode first.
  assert.deepEqual(hook, EVENTS.map((e) => JSON.parse(JSON.stringify(e))));
  assert.deepEqual(Object.keys(hook[0]).slice(0, 3), ["type", "ts", "mode"]);
  assertNoSecret(cap, q);
});

Deno.test("alerts: Discord limits — long texts and many fields are cut to fit", () => {
  const metrics: Record<string, string> = {};
  for (let i = 0; i < 40; i++) metrics[`m${i}`.padEnd(300, "x")] = "v".repeat(2000);
  const p = discordPayload({
    ...base,
    type: "model_rejected",
    version: "v".repeat(400),
    reason: "r".repeat(9000),
    metrics,
  }, { dropped: 3 });
  assert.deepEqual(discordProblems(p as unknown as Record<string, unknown>), []);
  const e = p.embeds[0];
  assert.equal(e.title.length, DISCORD_LIMITS.title);
  assert.ok(e.title.endsWith("…"));
  assert.ok(embedSize(e) <= DISCORD_LIMITS.total);
  assert.equal(e.fields.at(-1)!.name, "…");
  assert.match(p.content!, /3 alerts dropped/);
  // 30 short fields: 24 kept and a 25th counting the 6 others.
  const f = fitEmbed({
    title: "t",
    color: 1,
    timestamp: new Date(T0).toISOString(),
    fields: Array.from({ length: 30 }, (_, i) => ({ name: `n${i}`, value: "", inline: true })),
  });
  assert.equal(f.fields.length, 25);
  assert.equal(f.fields[0].value, "-", "an empty value would be a 400");
  assert.deepEqual(f.fields[24], { name: "…", value: "6 more", inline: false });
  // A cut never leaves half a surrogate pair.
  const emoji = discordPayload({ ...base, type: "kill_switch", source: "risk", detail: "" });
  assert.equal(emoji.embeds[0].description, undefined);
  const t = fitEmbed({ title: "a" + "😀".repeat(200), color: 0, fields: [], timestamp: "" }).title;
  assert.ok(!/[\ud800-\udbff]…$/.test(t), "no lone high surrogate before the ellipsis");
});

Deno.test("alerts: the JSON webhook payload is plain JSON of the event", () => {
  const p = webhookPayload(EVENTS[0], { dropped: 2 });
  assert.deepEqual(p, { ...EVENTS[0], droppedBefore: 2 });
  assert.equal(JSON.parse(JSON.stringify(p)).size, "0.010", "sizes keep their string form");
});

Deno.test("alerts: order is preserved per sink", async () => {
  const d = fakeDiscord();
  const cap = capture();
  const q = queue(d.url, cap);
  for (let i = 0; i < 30; i++) q.send({ ...base, type: "error", where: `w${i}`, message: "m" });
  assert.equal(await q.close(3000), 0);
  await d.server.shutdown();
  const titles = d.hits.map((h) => (h.body.embeds as { title: string }[])[0].title);
  assert.deepEqual(titles, Array.from({ length: 30 }, (_, i) => `[LIVE] Error in w${i}`));
});

Deno.test("alerts: 429 retry_after (seconds) is obeyed, then the same message goes once", async () => {
  const d = fakeDiscord((n) =>
    n === 0
      ? Response.json({ message: "You are being rate limited.", retry_after: 0.2, global: false }, {
        status: 429,
      })
      : new Response(null, { status: 204 })
  );
  const cap = capture();
  const q = queue(d.url, cap);
  q.send(EVENTS[0]);
  q.send(EVENTS[1]);
  await until(() => cap.tally.sent === 2);
  assert.equal(await q.close(1000), 0);
  await d.server.shutdown();
  assert.equal(d.hits.length, 3);
  assert.deepEqual(d.hits[1].body, d.hits[0].body, "the same message again");
  assert.ok(d.hits[1].at - d.hits[0].at >= 190, `${d.hits[1].at - d.hits[0].at} ms after the 429`);
  assert.equal(
    (d.hits[2].body.embeds as { title: string }[])[0].title,
    "[LIVE] Closed SHORT ETHUSDT · +73.20 USDT",
  );
  const s = q.stats().sinks[0];
  assert.deepEqual([s.sent, s.failed, s.rateLimited, s.retries], [2, 0, 1, 0]);
  assert.ok(cap.lines.some((l) => l.includes("rate limited") && l.includes('"waitMs":200')));
  assertNoSecret(cap, q);
});

Deno.test("alerts: 429 wait from headers (Retry-After, X-RateLimit-Reset-After)", () => {
  const h = (o: Record<string, string>) => new Headers(o);
  assert.equal(rateLimitWaitMs(h({}), { retry_after: 1.234 }), 1234);
  assert.equal(rateLimitWaitMs(h({ "retry-after": "2" }), undefined), 2000);
  assert.equal(rateLimitWaitMs(h({ "x-ratelimit-reset-after": "0.75" }), {}), 750);
  assert.equal(rateLimitWaitMs(h({ "retry-after": "1" }), { retry_after: 0.2 }), 1000, "largest");
  const date = new Date(T0 + 3000).toUTCString();
  assert.equal(rateLimitWaitMs(h({ "retry-after": date }), null, T0), 3000);
  assert.equal(rateLimitWaitMs(h({}), { message: "slow down" }), null);
});

Deno.test("alerts: 500 then 200 is retried and delivered", async () => {
  const d = fakeDiscord((n) => new Response(null, { status: n === 0 ? 500 : 200 }));
  const cap = capture();
  const q = queue(d.url, cap);
  q.send(EVENTS[2]);
  await until(() => cap.tally.sent === 1);
  assert.equal(await q.close(1000), 0);
  await d.server.shutdown();
  assert.equal(d.hits.length, 2);
  const s = q.stats().sinks[0];
  assert.deepEqual([s.sent, s.failed, s.retries], [1, 0, 1]);
  assert.deepEqual(cap.tally.failed, []);
});

Deno.test("alerts: 400 is failed at once, not retried", async () => {
  const d = fakeDiscord(() =>
    Response.json({ code: 50006, message: `Cannot send an empty message ${TOKEN}` }, {
      status: 400,
    })
  );
  const cap = capture();
  const q = queue(d.url, cap);
  q.send(EVENTS[3]);
  q.send(EVENTS[4]);
  await until(() => cap.tally.failed.length === 2);
  assert.equal(await q.close(1000), 0);
  await d.server.shutdown();
  assert.equal(d.hits.length, 2, "one request per message");
  assert.deepEqual(cap.tally.failed, ["client_error", "client_error"]);
  assert.deepEqual(q.stats().sinks[0].lastError, "client_error");
  assert.ok(cap.lines.some((l) => l.includes('"status":400') && l.includes("50006")));
  assertNoSecret(cap, q);
});

Deno.test("alerts: connection refused → failed after the attempts, counters right", async () => {
  const url = `http://127.0.0.1:${await deadPort()}${PATH}`;
  const cap = capture();
  const q = queue(url, cap, { attempts: 3 });
  q.send(EVENTS[0]);
  q.send(EVENTS[1]);
  await until(() => cap.tally.failed.length === 2);
  assert.equal(await q.close(1000), 0);
  const s = q.stats().sinks[0];
  assert.deepEqual([s.sent, s.failed, s.retries, s.dropped], [0, 2, 4, 0]);
  assert.deepEqual(cap.tally.failed, ["network", "network"]);
  assert.equal(cap.lines.filter((l) => l.includes("alert delivery retry")).length, 4);
  assert.ok(cap.lines.some((l) => l.includes('"reason":"network"') && l.includes('"attempts":3')));
  assertNoSecret(cap, q);
});

Deno.test("alerts: a request past the timeout is retried, then failed as timeout", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const d = fakeDiscord(async () => {
    await gate;
    return new Response(null, { status: 204 });
  });
  const cap = capture();
  const q = queue(d.url, cap, { attempts: 2, timeoutMs: 100 });
  q.send(EVENTS[9]);
  await until(() => cap.tally.failed.length === 1);
  assert.deepEqual(cap.tally.failed, ["timeout"]);
  assert.equal(d.hits.length, 2);
  assert.equal(await q.close(500), 0);
  release();
  await d.server.shutdown();
});

Deno.test("alerts: an empty rate-limit bucket (Remaining 0) pauses before the next post", async () => {
  const d = fakeDiscord((n) =>
    new Response(null, {
      status: 204,
      headers: n === 0 ? { "x-ratelimit-remaining": "0", "x-ratelimit-reset-after": "0.15" } : {},
    })
  );
  const cap = capture();
  const q = queue(d.url, cap);
  q.send(EVENTS[0]);
  q.send(EVENTS[1]);
  assert.equal(await q.close(2000), 0);
  await d.server.shutdown();
  assert.equal(d.hits.length, 2);
  assert.ok(d.hits[1].at - d.hits[0].at >= 140, `${d.hits[1].at - d.hits[0].at} ms apart`);
});

/** A server whose answers wait until `release()`. */
function stalled() {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const d = fakeDiscord(async () => {
    await gate;
    return new Response(null, { status: 204 });
  });
  return { ...d, release };
}

Deno.test("alerts: a full queue drops the oldest non-critical alert, counts it and says so", async () => {
  const d = stalled();
  const cap = capture();
  const q = queue(d.url, cap, { maxQueue: 3 });
  const trade = (i: number): AlertEvent => ({ ...EVENTS[0], clientOid: `c${i}` } as AlertEvent);
  q.send(trade(0));
  await until(() => d.hits.length === 1); // c0 in flight (not queued)
  q.send(EVENTS[6]); // halt: critical
  for (let i = 1; i <= 6; i++) q.send(trade(i));
  assert.equal(cap.tally.dropped, 4, "c1..c4");
  assert.ok(cap.lines.some((l) => l.includes('"level":"warn"') && l.includes("queue full")));
  const s = q.stats().sinks[0];
  assert.deepEqual([s.queued, s.dropped, s.inFlight], [3, 4, true]);
  d.release();
  assert.equal(await q.close(3000), 0);
  await d.server.shutdown();
  const got = d.hits.map((h) => (h.body.embeds as { fields: { value: string }[] }[])[0]);
  const oid = (e: { fields: { name?: string; value: string }[] }) =>
    e.fields.find((f) => f.name === "Client OID")?.value ?? "halt";
  assert.deepEqual(got.map(oid), ["c0", "halt", "c5", "c6"]);
  assert.equal(d.hits[0].body.content, undefined);
  assert.match(d.hits[1].body.content as string, /^⚠️ 4 alerts dropped/);
  assert.equal(d.hits[2].body.content, undefined, "said once");
  assert.equal(cap.tally.sent, 4);
});

Deno.test("alerts: send() never throws and returns at once while the server stalls", async () => {
  const d = stalled();
  const cap = capture();
  const q = queue(d.url, cap);
  q.send(EVENTS[0]);
  await until(() => d.hits.length === 1);
  const t = performance.now();
  for (let i = 0; i < 1000; i++) q.send({ ...base, type: "error", where: "x", message: `${i}` });
  const took = performance.now() - t;
  assert.ok(took < 50, `1000 sends took ${took.toFixed(1)} ms`);
  assert.doesNotThrow(() => q.send(null as unknown as AlertEvent));
  assert.doesNotThrow(() => q.send({ type: "nope" } as unknown as AlertEvent));
  // close(): the stalled request is aborted at the timeout; the rest are counted undelivered.
  const c = performance.now();
  const left = await q.close(200);
  assert.ok(performance.now() - c < 1500, "close keeps to its timeout");
  assert.ok(left >= 1000, `${left} undelivered`);
  assert.equal(q.send(EVENTS[0]), false, "closed");
  assert.equal(cap.tally.failed.filter((r) => r === "closed").length, left);
  d.release();
  await d.server.shutdown();
  assertNoSecret(cap, q);
});

Deno.test("alerts: close() flushes what is queued (waits out a backoff within its timeout)", async () => {
  const d = fakeDiscord((n) => new Response(null, { status: n === 0 ? 503 : 204 }));
  const cap = capture();
  const q = queue(d.url, cap);
  for (const e of EVENTS) q.send(e);
  assert.equal(await q.close(3000), 0);
  await d.server.shutdown();
  assert.equal(cap.tally.sent, EVENTS.length);
  assert.equal(d.hits.length, EVENTS.length + 1);
  assertNoSecret(cap, q);
});

Deno.test("alerts: the URL never shows in logs, errors, stats or inspection", async () => {
  const cap = capture();
  const env = (
    n: string,
  ) => (n === "DISCORD_WEBHOOK_URL" ? `https://discord.com${PATH}` : undefined);
  const [t] = alertSinksFromEnv(env);
  assert.equal(t.url(), `https://discord.com${PATH}`);
  for (const s of [JSON.stringify(t), String(t), Deno.inspect(t), Deno.inspect({ t })]) {
    assert.ok(!s.includes(TOKEN), s);
  }
  // A timeout and a fetch that throws with the URL in its message.
  const q = queue(`https://discord.com${PATH}`, cap, {
    attempts: 2,
    fetch: (input) => Promise.reject(new TypeError(`error sending request for url (${input})`)),
  });
  q.send(EVENTS[10]);
  await until(() => cap.tally.failed.length === 1);
  await q.close(500);
  assert.ok(cap.lines.some((l) => l.includes("error sending request")), "the error is logged");
  assertNoSecret(cap, q);
});

Deno.test("alerts: env validation names the variable, never the value", () => {
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  const cases: [Record<string, string>, RegExp][] = [
    [{ DISCORD_WEBHOOK_URL: `not a url ${TOKEN}` }, /^DISCORD_WEBHOOK_URL is not a valid URL$/],
    [
      { DISCORD_WEBHOOK_URL: `http://discord.com${PATH}` },
      /^DISCORD_WEBHOOK_URL must be an https:\/\//,
    ],
    [
      { ALERT_WEBHOOK_URL: `ftp://example.com/${TOKEN}` },
      /^ALERT_WEBHOOK_URL must be an https:\/\//,
    ],
    [{ ALERT_WEBHOOK_URL: `https://u:${TOKEN}@example.com/` }, /^ALERT_WEBHOOK_URL must not/],
  ];
  for (const [vars, re] of cases) {
    assert.throws(() => alertSinksFromEnv(env(vars)), (e: Error) => {
      assert.equal(e.name, "AlertConfigError");
      assert.match(e.message, re);
      assert.ok(!e.message.includes(TOKEN) && !e.message.includes("\n"), e.message);
      return true;
    });
  }
  assert.throws(
    () => alertSinksFromEnv(env({}), { discord: true }),
    /DISCORD_WEBHOOK_URL is not set/,
  );
  assert.deepEqual(alertSinksFromEnv(env({ DISCORD_WEBHOOK_URL: " " })), []);
  const both = env({
    DISCORD_WEBHOOK_URL: `https://discord.com${PATH}`,
    ALERT_WEBHOOK_URL: `http://localhost:9/x`,
  });
  assert.deepEqual(alertSinksFromEnv(both).map((t) => t.name), ["discord", "webhook"]);
  assert.deepEqual(alertSinksFromEnv(both, { discord: false }).map((t) => t.name), ["webhook"]);
});

Deno.test("alerts: config section defaults, durations and the event filter", async () => {
  const c = AlertsConfigSchema.parse({});
  assert.equal(c.discord, undefined);
  assert.equal(c.events.length, 11);
  assert.equal(c.dailySummaryUtc, "00:00");
  assert.deepEqual(c.reconnectStorm, { count: 5, window: 300_000 });
  assert.deepEqual([c.maxQueue, c.timeout, c.attempts], [1000, 5000, 5]);
  const r = AlertsConfigSchema.safeParse({ dailySummaryUtc: "24:00", timeout: "soon" });
  assert.ok(!r.success);
  assert.deepEqual(r.error.issues.map((i) => i.path.join(".")).sort(), [
    "dailySummaryUtc",
    "timeout",
  ]);
  assert.ok(!AlertsConfigSchema.safeParse({ nope: 1 }).success, "strict");
  // Only enabled types are queued; no sinks → a no-op queue.
  const d = fakeDiscord();
  const cfg = AlertsConfigSchema.parse({ events: ["halt"], timeout: "2s" });
  const q = createAlertQueue(cfg, (n) => (n === "DISCORD_WEBHOOK_URL" ? d.url : undefined));
  assert.equal(q.send(EVENTS[0]), false);
  assert.equal(q.send(EVENTS[6]), true);
  assert.equal(await q.close(2000), 0);
  await d.server.shutdown();
  assert.equal(d.hits.length, 1);
  const none = createAlertQueue(c, () => undefined);
  assert.deepEqual(none.sinks, []);
  assert.equal(none.send(EVENTS[0]), false);
  assert.equal(await none.close(10), 0);
});

Deno.test("alerts: reconnect storm detector — one event per storm", () => {
  const det = new ReconnectStormDetector({ count: 3, windowMs: 60_000, mode: "demo" });
  const at = (s: number) => T0 + s * 1000;
  assert.equal(det.record("pub", at(0)), null);
  assert.equal(det.record("pub", at(10)), null);
  assert.deepEqual(det.record("pub", at(20)), {
    type: "reconnect_storm",
    ts: at(20),
    mode: "demo",
    feed: "pub",
    count: 3,
    windowMs: 60_000,
  });
  for (let s = 25; s < 60; s += 5) assert.equal(det.record("pub", at(s)), null, "same storm");
  assert.equal(det.inStorm("pub"), true);
  assert.equal(det.record("priv", at(30)), null, "feeds are separate");
  assert.equal(det.record("pub", at(200)), null, "calm again: storm over");
  assert.equal(det.inStorm("pub"), false);
  det.record("pub", at(210));
  assert.equal(det.record("pub", at(220))?.count, 3, "a new storm");
  // Slow reconnects never storm.
  const slow = new ReconnectStormDetector({ count: 3, windowMs: 60_000, mode: "live" });
  for (let s = 0; s < 600; s += 31) assert.equal(slow.record("pub", at(s)), null);
});

Deno.test("alerts: daily summary — due at the UTC time, one event per day", () => {
  const start = Date.UTC(2025, 4, 3, 10, 0); // 10:00 UTC
  const ds = new DailySummary({ atUtc: "00:00", mode: "paper", startMs: start, equityUsdt: 1000 });
  assert.equal(ds.nextDueMs(), Date.UTC(2025, 4, 4));
  assert.equal(ds.due(Date.UTC(2025, 4, 3, 23, 59)), false);
  ds.recordTrade({ pnlUsdt: 12.5, feesUsdt: 0.4 });
  ds.recordTrade({ pnlUsdt: -2.25, feesUsdt: 0.3 });
  ds.recordEquity(1100);
  ds.recordEquity(990); // 10 % under the 1100 peak
  ds.recordEquity(1010.25);
  const now = Date.UTC(2025, 4, 4, 0, 0, 1);
  assert.equal(ds.due(now), true);
  assert.deepEqual(ds.take(now), {
    type: "daily_summary",
    ts: now,
    mode: "paper",
    date: "2025-05-03",
    trades: 2,
    pnlUsdt: 10.25,
    feesUsdt: 0.7,
    equityUsdt: 1010.25,
    maxDrawdown: 0.1,
  });
  assert.equal(ds.due(now + 1000), false, "once per day");
  assert.equal(ds.due(Date.UTC(2025, 4, 5)), true);
  const next = ds.take(Date.UTC(2025, 4, 5, 0, 0, 5));
  assert.deepEqual([next.date, next.trades, next.maxDrawdown, next.equityUsdt], [
    "2025-05-04",
    0,
    0,
    1010.25,
  ]);
  // 21:30 UTC; started after today's 21:30 → first due tomorrow 21:30; no equity known → null.
  const late = new DailySummary({
    atUtc: "21:30",
    mode: "live",
    startMs: Date.UTC(2025, 4, 3, 22),
  });
  assert.equal(late.nextDueMs(), Date.UTC(2025, 4, 4, 21, 30));
  assert.equal(late.take(Date.UTC(2025, 4, 4, 21, 31)).equityUsdt, null);
  assert.throws(() => new DailySummary({ atUtc: "7:00", mode: "live", startMs: 0 }), RangeError);
});
