/**
 * Shared by tests/simulator_private_rest_test.ts and tests/simulator_private_ws_test.ts: the
 * loopback simulator on the bundled real sample with an API key, a public connection that drives
 * the market, a signed-request helper built on src/bitget/sign.ts (independent of the product's
 * private client), a WebSocket client that records everything, and expectations read from the
 * recording and contracts files themselves (node:zlib + JSON.parse).
 */
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { type BitgetCredentials, buildQuery, signedHeaders } from "../../src/bitget/sign.ts";
import {
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from "../../src/simulator/server.ts";

const path = (rel: string) => decodeURIComponent(new URL(rel, import.meta.url).pathname);
export const SAMPLE = path(
  "../../sample/bitget_v2_public_BTCUSDT-ETHUSDT_20240718T2357_45s.jsonl.gz",
);
export const CREDS: BitgetCredentials = {
  apiKey: "bg_0123456789abcdef",
  secret: "sim-secret-7f3a9c",
  passphrase: "sim-passphrase",
};

// ---- expectations from the files ---------------------------------------------------------------

interface Frame {
  action: string;
  arg: { channel: string; instId: string };
  data: Record<string, unknown>[];
}
const FRAMES: Frame[] = new TextDecoder().decode(gunzipSync(Deno.readFileSync(SAMPLE)))
  .split("\n").filter((l) => l !== "").map((l) => JSON.parse(l).msg)
  .filter((m) => m.action !== undefined);

const lastOf = (channel: string, instId: string) =>
  FRAMES.findLast((f) => f.arg.channel === channel && f.arg.instId === instId)!;

/** The final books15 of a symbol: [price, size] numbers, asks ascending, bids descending. */
export function finalBook(symbol: string): { asks: number[][]; bids: number[][] } {
  const d = lastOf("books15", symbol).data[0] as { asks: string[][]; bids: string[][] };
  const num = (ls: string[][]) => ls.map(([p, s]) => [Number(p), Number(s)]);
  return { asks: num(d.asks), bids: num(d.bids) };
}

/** The final ticker's mark price of a symbol (USDT). */
export function finalMark(symbol: string): number {
  return Number(lastOf("ticker", symbol).data[0].markPrice);
}

/** VWAP (USDT) and worst price of taking `size` from `levels`. */
export function walk(levels: number[][], size: number): { vwap: number; worst: number } {
  let left = size;
  let notional = 0;
  let worst = NaN;
  for (const [p, s] of levels) {
    const q = Math.min(left, s);
    notional += p * q;
    left -= q;
    worst = p;
    if (left <= 1e-12) break;
  }
  assert.ok(left <= 1e-12, "book too thin for the test order");
  return { vwap: notional / size, worst };
}

const CONTRACTS = JSON.parse(Deno.readTextFileSync(path("../../sample/rest/contracts.json"))).data;
export const TAKER_FEE = Number(
  CONTRACTS.find((c: { symbol: string }) => c.symbol === "BTCUSDT").takerFeeRate,
);

export function near(actual: unknown, expected: number, tol: number, what: string): void {
  const a = Number(actual);
  assert.ok(Math.abs(a - expected) <= tol, `${what}: ${actual} ≠ ${expected} (±${tol})`);
}

// ---- simulator and market ------------------------------------------------------------------------

export async function withSim(
  opts: Partial<SimulatorOptions>,
  fn: (sim: Simulator) => Promise<void>,
): Promise<void> {
  const sim = await startSimulator({ recording: SAMPLE, credentials: CREDS, ...opts });
  try {
    await fn(sim);
  } finally {
    await sim.close();
  }
}

export async function until(pred: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Drives the market: a public connection subscribed to books15, trade and ticker of both
 * symbols. With speed "max" `toEnd` waits until the whole recording has been replayed, so the
 * exchange stands at the final book and mark — deterministic expectations.
 */
export async function driveMarket(sim: Simulator, toEnd = true): Promise<WsClient> {
  const c = new WsClient(sim.wsUrl);
  await c.opened;
  const args = [];
  for (const instId of ["BTCUSDT", "ETHUSDT"]) {
    for (const channel of ["books15", "trade", "ticker"]) {
      args.push({ instType: "USDT-FUTURES", channel, instId });
    }
  }
  c.send({ op: "subscribe", args });
  if (toEnd) {
    await until(() => sim.status().connections.some((s) => s.done), "end of the replay");
  } else {
    await until(() => c.data().some((m) => m.includes('"books15"')), "a book");
  }
  return c;
}

// ---- signed REST --------------------------------------------------------------------------------

export interface Resp {
  status: number;
  // deno-lint-ignore no-explicit-any
  body: any;
}

export interface SignOpts {
  creds?: BitgetCredentials;
  demo?: boolean;
  /** ACCESS-TIMESTAMP (default now). */
  ts?: string;
  /** Query string as sent (default buildQuery(params)); `signQuery` what is signed (default the same). */
  query?: string;
  signQuery?: string;
  /** Body text as sent (default JSON of `body`); `signBody` what is signed. */
  bodyText?: string;
  signBody?: string;
  /** Edits the headers before sending (delete one, replace one). */
  headers?: (h: Record<string, string>) => void;
}

/**
 * One signed request on a fresh TCP connection (so a cut connection is seen as a failed fetch,
 * never retried by the HTTP client's keep-alive logic). GET `params` go to the query, POST to
 * the JSON body.
 */
export async function signed(
  sim: Simulator,
  method: "GET" | "POST",
  path: string,
  params: Record<string, unknown> = {},
  o: SignOpts = {},
): Promise<Resp> {
  const query = o.query ?? (method === "GET" ? buildQuery(params as Record<string, string>) : "");
  const body = o.bodyText ?? (method === "POST" ? JSON.stringify(params) : "");
  const ts = o.ts ?? String(Date.now());
  const h = signedHeaders(
    o.creds ?? CREDS,
    ts,
    method,
    path,
    o.signQuery ?? query,
    o.signBody ?? body,
    o.demo ?? false,
  );
  o.headers?.(h);
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  try {
    const r = await fetch(sim.restUrl + path + (query ? "?" + query : ""), {
      method,
      headers: h,
      body: method === "POST" ? body : undefined,
      client,
    });
    return { status: r.status, body: await r.json() };
  } finally {
    client.close();
  }
}

export const PT = { productType: "USDT-FUTURES" };
export const A = "/api/v2/mix/account/";
export const P = "/api/v2/mix/position/";
export const O = "/api/v2/mix/order/";

/** Body of a one-way market order on BTCUSDT. */
export function marketOrder(clientOid: string, side: "buy" | "sell", size = "0.01") {
  return {
    symbol: "BTCUSDT",
    productType: "USDT-FUTURES",
    marginMode: "isolated",
    marginCoin: "USDT",
    size,
    side,
    orderType: "market",
    clientOid,
  };
}

/** Asserts Bitget's error envelope (API.md §7) with `code`, HTTP `status`. */
export function assertError(r: Resp, code: string, status = 400): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.code, code, JSON.stringify(r.body));
  assert.equal(typeof r.body.msg, "string");
  assert.ok(r.body.msg.length > 0);
  assert.equal(typeof r.body.requestTime, "number");
  assert.equal(r.body.data, null);
}

export function assertOk(r: Resp): void {
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.code, "00000");
  assert.equal(r.body.msg, "success");
  assert.equal(typeof r.body.requestTime, "number");
}

// ---- WebSocket client ---------------------------------------------------------------------------

export class WsClient {
  readonly msgs: string[] = [];
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<CloseEvent>;
  sawError = false;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.addEventListener("open", () => resolve());
      this.ws.addEventListener("close", () => reject(new Error("closed before open")));
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => this.ws.addEventListener("close", (e) => resolve(e)));
    this.ws.onerror = () => (this.sawError = true);
    this.ws.onmessage = (e) => this.msgs.push(e.data as string);
  }

  send(x: string | object): void {
    this.ws.send(typeof x === "string" ? x : JSON.stringify(x));
  }

  data(): string[] {
    return this.msgs.filter((m) => m.startsWith('{"action"'));
  }

  /** Parsed messages. */
  // deno-lint-ignore no-explicit-any
  parsed(): any[] {
    return this.msgs.filter((m) => m !== "pong").map((m) => JSON.parse(m));
  }

  async close(): Promise<void> {
    if (this.ws.readyState <= WebSocket.OPEN) this.ws.close();
    await this.closed;
  }
}
