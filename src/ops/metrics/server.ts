/**
 * The metrics / health HTTP endpoint of `run` and `collect` (`Deno.serve`, one listener):
 *
 * - `GET /metrics` → 200, the `BotMetrics` exposition (`text/plain; version=0.0.4`);
 * - `GET /healthz` → 200 `ok` while `health().ok`, else 503 with `health().reasons` one per line;
 * - another path → 404; another method on these two paths → 405 (`Allow: GET`).
 *
 * The server logs nothing (not even Deno's "Listening on" line) and never throws into its caller
 * on a request: a render or health callback that throws answers 500 / 503 with a fixed text.
 * Listening needs `--allow-net` for the address: the binary's permission set covers 127.0.0.1
 * only, so `[::1]` or `0.0.0.0` also need theirs added.
 *
 * Also here: `MetricsConfigSchema`, the `metrics:` config section (`listen: off | host:port`).
 */
import { isIPv6 } from "node:net";
import { z } from "zod";
import { configDuration } from "../../config/zod_duration.ts";
import type { BotMetrics } from "./registry.ts";

/** A parsed listen address; `hostname` without brackets (`::1`), `port` 0 … 65535. */
export interface ListenAddress {
  hostname: string;
  port: number;
}

/** What a `listen` value must look like (the message of a bad one). */
export const LISTEN_MESSAGE =
  'expected "off" or host:port with an IPv4 address or a [bracketed] IPv6 address and a port ' +
  "0-65535, such as 127.0.0.1:9464 or [::1]:9464";

const OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
const PORT = /^(?:0|[1-9]\d{0,4})$/;

/** `host:port` (IPv4) or `[v6]:port` → address, else null. No names: `localhost:1` is null. */
export function tryParseListen(listen: string): ListenAddress | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):([^:]*)$/.exec(listen);
  if (m === null || !PORT.test(m[3])) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  if (m[1] !== undefined) return isIPv6(m[1]) ? { hostname: m[1], port } : null;
  return IPV4.test(m[2]) ? { hostname: m[2], port } : null;
}

/** As `tryParseListen`; throws an Error quoting the value and `LISTEN_MESSAGE` when invalid. */
export function parseListen(listen: string): ListenAddress {
  const addr = tryParseListen(listen);
  if (addr === null) throw new Error(`metrics listen ${JSON.stringify(listen)}: ${LISTEN_MESSAGE}`);
  return addr;
}

const hostPort = z.string().refine((s) => tryParseListen(s) !== null, { message: LISTEN_MESSAGE });

/**
 * The `metrics:` config section. `listen`: `off` (no endpoint) or the address served, IPv4
 * `host:port` or `[IPv6]:port` (port 0 = any free port, for tests). Default 127.0.0.1:9464.
 * `staleAfter`: `/healthz` reports the market feed stale when no data frame arrived for this long.
 */
export const MetricsConfigSchema = z.object({
  listen: z.union([z.literal("off"), hostPort], { errorMap: () => ({ message: LISTEN_MESSAGE }) })
    .default("127.0.0.1:9464"),
  staleAfter: configDuration("30s"),
}).strict();

export type MetricsConfig = z.infer<typeof MetricsConfigSchema>;

/** What `/healthz` reports: `ok`, else the reasons (short lines, no secrets). */
export interface HealthStatus {
  ok: boolean;
  reasons: string[];
}

export interface ServeMetricsOptions {
  /** `host:port` as `MetricsConfigSchema.listen` (not `off`). */
  listen: string;
  metrics: BotMetrics;
  /** Called on every `/healthz` request; keep it cheap and synchronous. */
  health: () => HealthStatus;
  /** Called before each `/metrics` render (to sample gauges); an exception is ignored. */
  beforeRender?: () => void;
  /** Aborting it stops the server (as `shutdown`). */
  signal?: AbortSignal;
  /** Called once listening, with the bound address (the real port when `listen` had port 0). */
  onListen?: (addr: ListenAddress) => void;
}

export interface MetricsServer {
  /** The bound address (the real port when `listen` had port 0). */
  readonly addr: ListenAddress;
  /** Stops listening and waits for in-flight responses; idempotent. */
  shutdown(): Promise<void>;
}

const TEXT = "text/plain; charset=utf-8";

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: { "content-type": TEXT, "cache-control": "no-store", ...headers },
  });
}

/** The response to one request; never throws. */
export async function handleMetricsRequest(
  req: Request,
  metrics: BotMetrics,
  health: () => HealthStatus,
): Promise<Response> {
  let path: string;
  try {
    path = new URL(req.url).pathname;
  } catch {
    return text(400, "bad request\n");
  }
  if (path !== "/metrics" && path !== "/healthz") return text(404, "not found\n");
  if (req.method !== "GET") return text(405, "method not allowed\n", { allow: "GET" });
  if (path === "/metrics") {
    try {
      const body = await metrics.render();
      return text(200, body, { "content-type": metrics.contentType });
    } catch {
      return text(500, "metrics unavailable\n");
    }
  }
  let h: HealthStatus;
  try {
    h = health();
  } catch {
    return text(503, "health check failed\n");
  }
  if (h.ok) return text(200, "ok");
  // One reason per line: a reason's own line breaks would split it.
  const lines = h.reasons.map((r) => String(r).replace(/[\r\n]+/g, " ").trim()).filter((r) => r);
  return text(503, (lines.length ? lines : ["unhealthy"]).join("\n") + "\n");
}

/**
 * Serves `/metrics` and `/healthz` on `opts.listen`. Throws on an invalid `listen` (see
 * `parseListen`) or when the address cannot be bound (`Deno.errors.AddrInUse`, `NotCapable`).
 */
export function serveMetrics(opts: ServeMetricsOptions): MetricsServer {
  const { hostname, port } = parseListen(opts.listen);
  const server = Deno.serve(
    {
      hostname,
      port,
      signal: opts.signal,
      onListen: (a) => opts.onListen?.({ hostname: a.hostname, port: a.port }),
      onError: () => text(500, "internal error\n"),
    },
    (req) => {
      if (opts.beforeRender && new URL(req.url).pathname === "/metrics") {
        try {
          opts.beforeRender();
        } catch { /* a failed sample still serves the last values */ }
      }
      return handleMetricsRequest(req, opts.metrics, opts.health);
    },
  );
  const addr = { hostname: server.addr.hostname, port: server.addr.port };
  let closing: Promise<void> | null = null;
  return {
    addr,
    shutdown: () =>
      closing ??= (opts.signal?.aborted ? Promise.resolve() : server.shutdown())
        .catch(() => {})
        .then(() => server.finished),
  };
}
