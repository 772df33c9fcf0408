/**
 * The private half of the loopback simulator, wired for server.ts: one simulated exchange
 * (private_exchange.ts) fed with the replayed market (market_feed.ts), its signed REST
 * (private_rest.ts) and its private-WebSocket sessions (private_ws.ts), with their part of
 * `GET /sim/status`.
 */
import type { BitgetCredentials } from "../bitget/sign.ts";
import { type ContractSpec, parseContract } from "../market/contracts.ts";
import type { Logger } from "../ops/log.ts";
import { credentialsFromEnv, MAX_SKEW_MS, type SimEnv } from "./auth.ts";
import type { FaultBoard } from "./faults.ts";
import { MarketFeed } from "./market_feed.ts";
import { PrivateExchange } from "./private_exchange.ts";
import { PrivateRest } from "./private_rest.ts";
import type { PrivateStatus } from "./private_views.ts";
import { type PrivateHost, type PrivateSessionStatus, PrivateWsSession } from "./private_ws.ts";
import type { Recording } from "./recording.ts";
import type { TcpFront } from "./tcp_front.ts";

/** The SimulatorOptions fields of the private API (server.ts documents them). */
export interface PrivateOptions {
  credentials?: BitgetCredentials;
  env?: SimEnv;
  balance?: number;
  positionMode?: "one_way" | "hedge";
  marginMode?: "isolated" | "crossed";
  leverage?: number;
  timestampWindowMs?: number;
}

export interface PrivateConfig {
  env: SimEnv;
  /** USDT. */
  balance: number;
  leverage: number;
  positionMode: "one_way" | "hedge";
  marginMode: "isolated" | "crossed";
  /** null: no key configured (every private request 40006, every login 30011). */
  creds: BitgetCredentials | null;
  /** Accepted |now − ACCESS-TIMESTAMP| of REST requests (ms). */
  timestampWindowMs: number;
}

const KEEP_CLOSED = 1000;

/** Tradable specs of the contracts file (entries that do not parse are served, not traded). */
function tradable(list: Record<string, unknown>[]): ContractSpec[] {
  const out: ContractSpec[] = [];
  for (const c of list) {
    try {
      out.push(parseContract(c));
    } catch {
      // not tradable
    }
  }
  return out;
}

/** The private API's settings, validated (throws Error naming the bad option). */
export function privateConfig(opts: PrivateOptions): PrivateConfig {
  const env = opts.env ?? "live";
  if (env !== "live" && env !== "demo") {
    throw new Error(`env must be live or demo, got ${env}`);
  }
  const balance = opts.balance ?? 10_000;
  if (!(Number.isFinite(balance) && balance >= 0)) {
    throw new Error(`balance must be a non-negative number of USDT, got ${balance}`);
  }
  const leverage = opts.leverage ?? 10;
  if (!(Number.isFinite(leverage) && leverage >= 1)) {
    throw new Error(`leverage must be a number ≥ 1, got ${leverage}`);
  }
  const positionMode = opts.positionMode ?? "one_way";
  if (positionMode !== "one_way" && positionMode !== "hedge") {
    throw new Error(`positionMode must be one_way or hedge, got ${positionMode}`);
  }
  const marginMode = opts.marginMode ?? "isolated";
  if (marginMode !== "isolated" && marginMode !== "crossed") {
    throw new Error(`marginMode must be isolated or crossed, got ${marginMode}`);
  }
  const creds = opts.credentials ?? credentialsFromEnv();
  if (creds && !(creds.apiKey && creds.secret && creds.passphrase)) {
    throw new Error("credentials need a non-empty apiKey, secret and passphrase");
  }
  const timestampWindowMs = opts.timestampWindowMs ?? MAX_SKEW_MS;
  if (!(timestampWindowMs > 0)) {
    throw new Error(`timestampWindowMs must be > 0 ms, got ${timestampWindowMs}`);
  }
  return { env, balance, leverage, positionMode, marginMode, creds, timestampWindowMs };
}

export interface PrivateApiDeps {
  rec: Recording;
  /** Contract entries of the contracts file. */
  contracts: Record<string, unknown>[];
  config: PrivateConfig;
  faults: FaultBoard;
  log: Logger;
  idleTimeoutMs: number;
  maxInboundPerSec: number;
  /** The TCP relay, once listening (null without one). */
  front: () => TcpFront | null;
}

/** Private part of `GET /sim/status`. */
export interface PrivateApiStatus extends PrivateStatus {
  privateConnections: number;
  privateSessions: PrivateSessionStatus[];
  marketFrames: number;
}

export class PrivateApi {
  readonly exchange: PrivateExchange;
  readonly feed: MarketFeed;
  readonly rest: PrivateRest;
  readonly sessions = new Map<number, PrivateWsSession>();
  readonly closed: PrivateWsSession[] = [];
  private nextId = 1;
  private readonly host: PrivateHost;

  constructor(private readonly d: PrivateApiDeps) {
    const c = d.config;
    this.exchange = new PrivateExchange({
      contracts: tradable(d.contracts),
      balance: c.balance,
      positionMode: c.positionMode,
      marginMode: c.marginMode,
      leverage: c.leverage,
      faults: d.faults,
      startTs: d.rec.count > 0 ? d.rec.clockMs[0] : Date.now(),
    });
    this.feed = new MarketFeed(d.rec, this.exchange);
    this.exchange.setSync(() => this.feed.catchUp());
    this.rest = new PrivateRest({
      exchange: this.exchange,
      creds: c.creds,
      env: c.env,
      timestampWindowMs: c.timestampWindowMs,
      faults: d.faults,
      sever: (port) => d.front()?.sever(port) ?? false,
    });
    this.host = {
      exchange: this.exchange,
      creds: c.creds,
      faults: d.faults,
      idleTimeoutMs: d.idleTimeoutMs,
      maxInboundPerSec: d.maxInboundPerSec,
      log: d.log,
      sever: (port, wsBytes) => d.front()?.drainThenSever(port, wsBytes) ?? Promise.resolve(false),
      onClosed: (s) => {
        this.sessions.delete(s.id);
        this.closed.push(s);
        if (this.closed.length > KEEP_CLOSED) this.closed.shift();
        d.log.info("private ws closed", { connection: s.id, reason: s.closeReason });
      },
    };
  }

  /** `GET /v2/ws/private`: upgrades and starts a session (`relayed`: the relay port, if any). */
  upgrade(req: Request, relayed: number | null, remote: string): Response {
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    // idleTimeout 0: no WebSocket-level pings; Bitget's keep-alive is the text ping (API.md §1.1).
    const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 0 });
    const id = this.nextId++;
    this.sessions.set(id, new PrivateWsSession(this.host, socket, id, relayed, remote));
    this.d.log.info("private ws open", { connection: id, remote });
    return response;
  }

  status(): PrivateApiStatus {
    this.exchange.sync();
    return {
      ...this.exchange.views.status(),
      privateConnections: this.nextId - 1,
      privateSessions: [...this.closed, ...this.sessions.values()].sort((a, b) => a.id - b.id)
        .map((s) => s.status()),
      marketFrames: this.feed.fedFrames,
    };
  }
}
