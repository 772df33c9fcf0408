/**
 * Signed private REST of the loopback simulator (API.md §5), on the same server as the public
 * endpoints, over the private exchange (private_exchange.ts). Request handling, in order:
 *
 * 1. Unknown path under `/api/v2/mix/{account,position,order}/` or wrong method → HTTP 404
 *    `{"code":"40404","msg":"Request URL NOT FOUND",…}`.
 * 2. `rest429:N` fault → HTTP 429.
 * 3. Authentication and environment (auth.ts): HTTP 400 with 40001/40002/40005/40011/40008/
 *    40006/40012/40099/40009.
 * 4. POST without a JSON content type → 40007; a body that is not a JSON object → 40017.
 * 5. Rate limit per API key and endpoint (API.md §5.8; sliding 1 s window) → HTTP 429
 *    `{"code":"429","msg":"Too Many Requests",…}`.
 * 6. The endpoint (private_endpoints.ts) → `{"code":"00000","msg":"success","requestTime":<ms>,
 *    "data":…}`, or HTTP 400 `{"code":"<str>","msg":…,"requestTime":<ms>,"data":null}`.
 *
 * `order-timeout@N` (faults.ts): the Nth place-order request is executed, then its client's TCP
 * connection is cut through the relay, so the client never gets a response (reset / EOF).
 * Without the relay the response body is aborted instead.
 */
import type { BitgetCredentials } from "../bitget/sign.ts";
import { type SimEnv, verifyRest } from "./auth.ts";
import type { FaultBoard } from "./faults.ts";
import { ENDPOINTS } from "./private_endpoints.ts";
import type { PrivateExchange } from "./private_exchange.ts";
import { ApiError, Params } from "./private_params.ts";
import type { RestCount } from "./rest.ts";

export interface PrivateRestDeps {
  exchange: PrivateExchange;
  creds: BitgetCredentials | null;
  env: SimEnv;
  /** Accepted |now − ACCESS-TIMESTAMP| (ms; Bitget: 30 000). */
  timestampWindowMs: number;
  faults: FaultBoard;
  /** Cuts the relayed TCP connection whose inner remote port is `relayPort`; false if none. */
  sever(relayPort: number): boolean;
}

/** True for the private path prefixes served here. */
export function isPrivatePath(path: string): boolean {
  return /^\/api\/v2\/mix\/(account|position|order)\//.test(path);
}

const decoder = new TextDecoder();

export class PrivateRest {
  /** Per-path counters for `/sim/status` (merged with the public ones). */
  readonly counts = new Map<string, RestCount>();
  private readonly windows = new Map<string, number[]>();

  constructor(private readonly d: PrivateRestDeps) {}

  /** Answers one private request (never throws). `relayPort`: the relay pair, when relayed. */
  async handle(req: Request, url: URL, relayPort: number | null): Promise<Response> {
    const path = url.pathname;
    const ep = ENDPOINTS[path];
    const known = ep !== undefined && ep.method === req.method;
    const count = this.counter(known ? path : "(unknown)");
    count.requests++;
    if (!known) {
      count.errors++;
      return reply(404, envelope("40404", "Request URL NOT FOUND", null));
    }
    const body = req.method === "POST" ? decoder.decode(await req.arrayBuffer()) : "";
    if (this.d.faults.takeRest429(path)) {
      count.limited++;
      return reply(429, envelope("429", "Too Many Requests", null));
    }
    const q = req.url.indexOf("?");
    const hash = req.url.indexOf("#");
    const query = q < 0 ? "" : req.url.slice(q + 1, hash > q ? hash : undefined);
    const auth = verifyRest(
      this.d.creds,
      this.d.env,
      {
        headers: req.headers,
        method: req.method,
        path,
        query,
        body,
      },
      Date.now(),
      this.d.timestampWindowMs,
    );
    if (auth) {
      count.errors++;
      return reply(400, envelope(auth.code, auth.msg, null));
    }
    if (this.limited(`${req.headers.get("ACCESS-KEY")} ${path}`, ep.perSec)) {
      count.limited++;
      return reply(429, envelope("429", "Too Many Requests", null));
    }
    let timeout = false;
    try {
      let p: Params;
      if (req.method === "POST") {
        if (!/application\/json/i.test(req.headers.get("content-type") ?? "")) {
          throw new ApiError(
            "40007",
            "Invalid Content_Type, please use the application/json format",
          );
        }
        let o: unknown;
        try {
          o = body === "" ? {} : JSON.parse(body);
        } catch {
          o = null;
        }
        if (o === null || typeof o !== "object" || Array.isArray(o)) {
          throw new ApiError("40017", "Parameter verification failed");
        }
        p = new Params(o as Record<string, unknown>);
      } else {
        p = Params.query(url.searchParams);
      }
      this.d.exchange.sync();
      const data = ep.run(this.d.exchange, p, (oid) => {
        timeout = this.d.faults.takeOrderTimeout(oid);
      });
      count.ok++;
      return this.respond(timeout, relayPort, 200, envelope("00000", "success", data));
    } catch (e) {
      count.errors++;
      if (e instanceof ApiError) {
        return this.respond(timeout, relayPort, e.status, envelope(e.code, e.message, null));
      }
      return reply(
        500,
        envelope("40015", `System is abnormal, please try again later (${String(e)})`, null),
      );
    }
  }

  /** The response, or — for an `order-timeout` — a cut connection that never carries it. */
  private respond(timeout: boolean, relayPort: number | null, status: number, body: unknown) {
    if (!timeout) return reply(status, body);
    if (relayPort !== null && this.d.sever(relayPort)) return reply(status, body);
    return new Response(
      new ReadableStream({ start: (c) => c.error(new Error("order-timeout fault")) }),
      { status, headers: { "content-type": "application/json" } },
    );
  }

  private counter(path: string): RestCount {
    let c = this.counts.get(path);
    if (!c) {
      c = { requests: 0, ok: 0, errors: 0, limited: 0 };
      this.counts.set(path, c);
    }
    return c;
  }

  /** Sliding 1 s window per key and path. */
  private limited(key: string, perSec: number): boolean {
    const now = performance.now();
    let w = this.windows.get(key);
    if (!w) this.windows.set(key, w = []);
    while (w.length > 0 && w[0] <= now - 1000) w.shift();
    if (w.length >= perSec) return true;
    w.push(now);
    return false;
  }
}

function envelope(code: string, msg: string, data: unknown) {
  return { code, msg, requestTime: Date.now(), data };
}

function reply(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}
