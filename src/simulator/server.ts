/**
 * The loopback Bitget v2 simulator: serves a recording over real sockets in Bitget's wire format
 * so the collector and end-to-end tests run against it (ARCHITECTURE.md "loopback Bitget").
 *
 * - WebSocket `ws://HOST:PORT/v2/ws/public` — Bitget v2 public protocol (ws_session.ts).
 * - REST `http://HOST:PORT/api/v2/...` — public market endpoints (rest.ts).
 * - Private API over one simulated exchange (private_exchange.ts: the backtest's SimExchange,
 *   fed with the replayed market by market_feed.ts): signed REST `/api/v2/mix/{account,position,
 *   order}/…` (private_rest.ts, private_endpoints.ts, auth.ts) and the private WebSocket
 *   `ws://HOST:PORT/v2/ws/private` (private_ws.ts). Keys: `SimulatorOptions.credentials`, else
 *   the environment BITGET_API_KEY / BITGET_API_SECRET / BITGET_PASSPHRASE; without keys every
 *   private request gets 40006 and every login 30011.
 * - Control: `GET /sim/status` (connections, frames sent, faults, REST counts, orders, fills,
 *   positions, account) and `POST /sim/fault` with `{"spec":"drop@100"}` (faults.ts grammar).
 *
 * Clients connect to a TCP relay (tcp_front.ts) in front of `Deno.serve`, so `drop@N` can cut a
 * connection without a WebSocket close frame, as a real network failure does.
 */
import defaultContracts from "../../sample/rest/contracts.json" with { type: "json" };
import type { BitgetCredentials } from "../bitget/sign.ts";
import { type Logger, silentLogger } from "../ops/log.ts";
import type { SimEnv } from "./auth.ts";
import { FaultBoard, type FiredFault } from "./faults.ts";
import { PrivateApi, type PrivateConfig, privateConfig } from "./private_api.ts";
import type { PrivateExchange } from "./private_exchange.ts";
import { isPrivatePath } from "./private_rest.ts";
import type { PrivateStatus } from "./private_views.ts";
import type { PrivateSessionStatus } from "./private_ws.ts";
import { type CandleSeries, type FundingSeries, loadCandleCsv, loadFundingCsv } from "./history.ts";
import { loadRecording, type Recording } from "./recording.ts";
import { RestApi, type RestCount } from "./rest.ts";
import { SnapshotBuilder } from "./snapshots.ts";
import { TcpFront } from "./tcp_front.ts";
import { ReplayClock } from "./replay_clock.ts";
import { type SessionHost, type SessionStatus, WsSession } from "./ws_session.ts";

/** Options of `startSimulator`. */
export interface SimulatorOptions {
  /** Recording path (`.jsonl` or `.jsonl.gz`) or an already loaded recording. */
  recording: string | Recording;
  /** Listen address; default 127.0.0.1. */
  hostname?: string;
  /** Listen port; default 0 (ephemeral). */
  port?: number;
  /** Replay speed factor (> 0) or "max"; default 1. */
  speed?: number | "max";
  /** At the end of the recording keep the socket open ("idle", default) or close it (1000). */
  onEnd?: "idle" | "close";
  /** Close a connection that sent no `ping` for this long; default 120 000 ms (API.md §1.1). */
  idleTimeoutMs?: number;
  /** Client messages allowed per connection per second; default 10 (API.md §1.1). */
  maxInboundPerSec?: number;
  /** Contracts response JSON (envelope or bare array); default: the shipped sample/rest/contracts.json. */
  contractsFile?: string;
  /** Candle CSVs for history-candles; `interval` is a Bitget granularity such as "1m" or "15m". */
  historyCandles?: { symbol: string; interval: string; path: string }[];
  /** Funding CSVs for history-fund-rate. */
  historyFunding?: { symbol: string; path: string }[];
  /**
   * Put the TCP relay (tcp_front.ts) in front of the server, so `drop@N` cuts connections without
   * a close frame; default true. Without it every byte skips one copy through JS (benchmarks),
   * and `drop@N` closes with a close frame instead.
   */
  relay?: boolean;
  /** Fault specs armed at start (faults.ts grammar). */
  faults?: string[];
  /**
   * API key of the private API (never logged). Default: BITGET_API_KEY / BITGET_API_SECRET /
   * BITGET_PASSPHRASE of the simulator's environment where readable, else none.
   */
  credentials?: BitgetCredentials;
  /** `live` (default): requests must not carry `paptrading: 1`; `demo`: they must (API.md §8). */
  env?: SimEnv;
  /** Initial balance of the simulated account (USDT); default 10 000. */
  balance?: number;
  /** Position mode at start; default one_way. */
  positionMode?: "one_way" | "hedge";
  /** Margin mode at start (all symbols); default isolated. */
  marginMode?: "isolated" | "crossed";
  /** Default leverage of every symbol (clamped to the contract's bounds); default 10. */
  leverage?: number;
  /**
   * How far ACCESS-TIMESTAMP may be from the simulator's clock (ms); default 30 000, Bitget's
   * window (API.md §6). Tests shorten it to exercise what happens after it.
   */
  timestampWindowMs?: number;
  logger?: Logger;
}

/** `GET /sim/status` body. */
export interface SimulatorStatus {
  recording: {
    path: string;
    frames: number;
    durationMs: number;
    keys: { channel: string; instId: string; frames: number }[];
  };
  speed: number | "max";
  connections: SessionStatus[];
  totals: {
    connections: number;
    open: number;
    framesSent: number;
    snapshotsSent: number;
    restRequests: number;
  };
  faults: { pending: string[]; fired: FiredFault[] };
  rest: Record<string, RestCount>;
  /** Accepted orders (API, flash close, triggered plans), in acceptance order. */
  orders: PrivateStatus["orders"];
  fills: PrivateStatus["fills"];
  positions: PrivateStatus["positions"];
  /** USDT. */
  account: PrivateStatus["account"];
  /** place-order requests that reached the exchange (authenticated, not rate limited). */
  placeRequests: number;
  /** Requests refused with 40786 "Duplicate clientOid". */
  duplicateClientOids: number;
  /** Private-WebSocket connections opened so far. */
  privateConnections: number;
  privateSessions: PrivateSessionStatus[];
  /** Frames the private exchange has been fed (its market position). */
  marketFrames: number;
}

export interface Simulator {
  readonly port: number;
  /** `ws://HOST:PORT/v2/ws/public` */
  readonly wsUrl: string;
  /** `ws://HOST:PORT/v2/ws/private` */
  readonly privateWsUrl: string;
  /** True when an API key is configured (else private requests get 40006, logins 30011). */
  readonly privateApi: boolean;
  /** `http://HOST:PORT` */
  readonly restUrl: string;
  readonly recording: Recording;
  /** The simulated exchange behind the private API. */
  readonly exchange: PrivateExchange;
  status(): SimulatorStatus;
  /** Arms a fault; throws FaultSpecError for a bad spec. */
  injectFault(spec: string): void;
  /** Closes every connection (1001), stops listening. */
  close(): Promise<void>;
}

/** Thrown for unusable options or input files; the message says what and where. */
export class SimulatorConfigError extends Error {
  override name = "SimulatorConfigError";
}

const KEEP_CLOSED = 1000;

/** Host part of the advertised URLs: wildcard binds are reached via loopback; IPv6 in brackets. */
function urlHost(h: string): string {
  if (h === "0.0.0.0") return "127.0.0.1";
  if (h === "::") return "[::1]";
  return h.includes(":") ? `[${h}]` : h;
}

async function loadContracts(path: string | undefined): Promise<Record<string, unknown>[]> {
  let raw: unknown = defaultContracts;
  if (path !== undefined) {
    try {
      raw = JSON.parse(await Deno.readTextFile(path));
    } catch (e) {
      throw new SimulatorConfigError(`contracts file ${path}: ${(e as Error).message}`);
    }
  }
  const list = Array.isArray(raw) ? raw : (raw as { data?: unknown })?.data;
  if (
    !Array.isArray(list) ||
    !list.every((c) => c !== null && typeof c === "object" && typeof c.symbol === "string")
  ) {
    throw new SimulatorConfigError(
      `contracts file ${
        path ?? "(default)"
      }: expected {"data":[{"symbol":…},…]} or an array of contracts`,
    );
  }
  return list as Record<string, unknown>[];
}

/**
 * Loads the inputs and starts listening. Throws RecordingError / HistoryFileError /
 * SimulatorConfigError / FaultSpecError for bad inputs, Deno.errors.AddrInUse for a taken port.
 */
export async function startSimulator(opts: SimulatorOptions): Promise<Simulator> {
  const speed = opts.speed ?? 1;
  if (speed !== "max" && !(typeof speed === "number" && speed > 0 && Number.isFinite(speed))) {
    throw new SimulatorConfigError(`speed must be a positive number or "max", got ${speed}`);
  }
  const rec = typeof opts.recording === "string"
    ? await loadRecording(opts.recording)
    : opts.recording;
  const contracts = await loadContracts(opts.contractsFile);
  let pc: PrivateConfig;
  try {
    pc = privateConfig(opts);
  } catch (e) {
    throw new SimulatorConfigError((e as Error).message);
  }
  const candles = new Map<string, CandleSeries>();
  for (const h of opts.historyCandles ?? []) {
    candles.set(h.symbol + ":" + h.interval, await loadCandleCsv(h.path, h.symbol, h.interval));
  }
  const funding = new Map<string, FundingSeries>();
  for (const h of opts.historyFunding ?? []) {
    funding.set(h.symbol, await loadFundingCsv(h.path, h.symbol));
  }
  const faults = new FaultBoard();
  for (const f of opts.faults ?? []) faults.add(f);
  const log = opts.logger ?? silentLogger;
  const latest = new Int32Array(rec.keys.length).fill(-1);
  const rest = new RestApi({ rec, contracts, candles, funding, latest, faults });

  const sessions = new Map<number, WsSession>();
  const closed: WsSession[] = [];
  let nextId = 1;
  let front: TcpFront | null = null;
  const priv = new PrivateApi({
    rec,
    contracts,
    config: pc,
    faults,
    log,
    idleTimeoutMs: opts.idleTimeoutMs ?? 120_000,
    maxInboundPerSec: opts.maxInboundPerSec ?? 10,
    front: () => front,
  });
  const host: SessionHost = {
    rec,
    faults,
    speed,
    onEnd: opts.onEnd ?? "idle",
    idleTimeoutMs: opts.idleTimeoutMs ?? 120_000,
    maxInboundPerSec: opts.maxInboundPerSec ?? 10,
    latest,
    frameDue: (i) => priv.feed.reach(i),
    log,
    snapshots: new SnapshotBuilder(rec),
    clock: new ReplayClock(rec.recvMs, speed),
    sever: (port, wsBytes) => front?.drainThenSever(port, wsBytes) ?? Promise.resolve(false),
    onClosed: (s) => {
      sessions.delete(s.id);
      closed.push(s);
      if (closed.length > KEEP_CLOSED) closed.shift();
      log.info("ws closed", { connection: s.id, reason: s.closeReason, framesSent: s.framesSent });
    },
  };

  const status = (): SimulatorStatus => {
    const all = [...closed, ...sessions.values()].sort((a, b) => a.id - b.id).map((s) =>
      s.status()
    );
    const restCounts = Object.fromEntries([...rest.counts, ...priv.rest.counts]);
    return {
      recording: {
        path: rec.path,
        frames: rec.count,
        durationMs: rec.recvMs[rec.count - 1] - rec.recvMs[0],
        keys: rec.keys.map((k) => ({
          channel: k.channel,
          instId: k.instId,
          frames: k.frames.length,
        })),
      },
      speed,
      connections: all,
      totals: {
        connections: nextId - 1,
        open: sessions.size,
        framesSent: all.reduce((t, s) => t + s.framesSent, 0),
        snapshotsSent: all.reduce((t, s) => t + s.snapshotsSent, 0),
        restRequests: Object.values(restCounts).reduce((t, c) => t + c.requests, 0),
      },
      faults: { pending: faults.pending(), fired: faults.fired },
      rest: restCounts,
      ...priv.status(),
    };
  };

  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

  const handler = async (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => {
    // Read before any upgrade: the request's address is gone afterwards.
    const relayPort = info.remoteAddr.port;
    const client = front?.clientOf(relayPort) ?? info.remoteAddr;
    const url = new URL(req.url);
    if (url.pathname === "/v2/ws/public") {
      if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
        return new Response("expected a WebSocket upgrade", { status: 426 });
      }
      // idleTimeout 0: no WebSocket-level pings; Bitget's keep-alive is the text ping (API.md §1.1).
      const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 0 });
      const id = nextId++;
      const relayed = front?.clientOf(relayPort) !== undefined ? relayPort : null;
      sessions.set(
        id,
        new WsSession(host, socket, id, relayed, `${client.hostname}:${client.port}`),
      );
      log.info("ws open", { connection: id, remote: `${client.hostname}:${client.port}` });
      return response;
    }
    const relayed = front?.clientOf(relayPort) !== undefined ? relayPort : null;
    if (url.pathname === "/v2/ws/private") {
      return priv.upgrade(req, relayed, `${client.hostname}:${client.port}`);
    }
    if (isPrivatePath(url.pathname)) return priv.rest.handle(req, url, relayed);
    if (url.pathname === "/sim/status" && req.method === "GET") return json(200, status());
    if (url.pathname === "/sim/fault" && req.method === "POST") {
      try {
        const body = await req.json() as { spec?: unknown };
        if (typeof body?.spec !== "string") throw new Error(`expected {"spec":"<fault spec>"}`);
        const f = faults.add(body.spec);
        log.info("fault armed", { spec: body.spec });
        return json(200, { ok: true, fault: f });
      } catch (e) {
        return json(400, { ok: false, error: (e as Error).message });
      }
    }
    return rest.handle(req, url, client.hostname);
  };

  const relay = opts.relay ?? true;
  const inner = Deno.serve(
    {
      hostname: relay ? "127.0.0.1" : (opts.hostname ?? "127.0.0.1"),
      port: relay ? 0 : (opts.port ?? 0),
      onListen() {},
      onError: (e) => json(500, { error: String(e) }),
    },
    handler,
  );
  if (relay) {
    try {
      front = new TcpFront(opts.hostname ?? "127.0.0.1", opts.port ?? 0, inner.addr.port);
    } catch (e) {
      await inner.shutdown();
      throw e;
    }
  }
  const addr = front ? front.addr : inner.addr;
  const port = addr.port;
  const hostname = urlHost(addr.hostname);
  log.info("simulator listening", { port, frames: rec.count, speed });

  let closing: Promise<void> | null = null;
  return {
    port,
    wsUrl: `ws://${hostname}:${port}/v2/ws/public`,
    privateWsUrl: `ws://${hostname}:${port}/v2/ws/private`,
    privateApi: pc.creds !== null,
    restUrl: `http://${hostname}:${port}`,
    recording: rec,
    exchange: priv.exchange,
    status,
    injectFault: (spec) => void faults.add(spec),
    close: () => {
      closing ??= (async () => {
        await Promise.all([...closed, ...priv.closed].map((s) => s.dropping));
        const open = [...sessions.values(), ...priv.sessions.values()];
        for (const s of open) s.shutdown();
        // Let the close handshakes finish (bounded) before the relay cuts the sockets.
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          Promise.all(open.map((s) => s.socketDone)),
          new Promise((r) => (timer = setTimeout(r, 500))),
        ]);
        clearTimeout(timer);
        await front?.close();
        await inner.shutdown();
      })();
      return closing;
    },
  };
}
