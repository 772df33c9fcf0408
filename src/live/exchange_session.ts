/**
 * The daemon's connection to Bitget (demo or live): the signed REST client, the private
 * WebSocket and the Bitget venue over them, plus the start-up checks that must pass before
 * anything is sent. Each failed check is one line and exit 2 (DaemonError):
 *  - the keys work for this environment: a demo key on live or a live key on demo answers 40099
 *    (API.md §8) and the line names `--mode`; bad key / passphrase / signature name the variable;
 *  - the account's position mode equals `run.positionMode` and every symbol's margin mode equals
 *    `run.marginMode` — read from the exchange and never switched silently (a one-way order on a
 *    hedge account is the 40774 trap);
 * then (after reconciliation) the leverage is set to `run.leverage` where it differs.
 *
 * After every private-WebSocket reconnect the REST snapshot is re-read and the order journal
 * reconciled (oms/reconcile.ts); `requestReconcile` runs the same on a timer. Runs never overlap.
 */
import { BitgetApiError } from "../bitget/private_errors.ts";
import { BitgetPrivateWs } from "../bitget/private_ws.ts";
import { BitgetPrivateRest } from "../bitget/rest_private.ts";
import type { BitgetCredentials } from "../bitget/sign.ts";
import type { Config } from "../config/config.ts";
import type { RunConfig } from "../config/run_config.ts";
import type { ContractSpec } from "../market/contracts.ts";
import type { Logger } from "../ops/log.ts";
import { BitgetVenue } from "../venue/bitget_venue.ts";

/** Thrown for a failed start-up check: one line for the user, the exit code for the CLI. */
export class StartupError extends Error {
  override name = "StartupError";
  constructor(message: string, readonly exitCode: 1 | 2) {
    super(message);
  }
}

export interface ExchangeSessionOptions {
  mode: "demo" | "live";
  restUrl: string;
  wsPrivateUrl: string;
  credentials: BitgetCredentials;
  config: Config;
  run: RunConfig;
  contracts: readonly ContractSpec[];
  logger: Logger;
  engineTime: () => number;
  /** Called right before a REST request is written (tick-to-order benchmark). */
  onRequestWritten?: (endpoint: string, perfNow: number) => void;
  /** Every signed REST answer (endpoint path, HTTP status or timeout/network), for the metrics. */
  onResponse?: (endpoint: string, status: number | "timeout" | "network") => void;
}

/** The private WebSocket's health as the metrics and /healthz see it. */
export interface PrivateFeedState {
  /** `open` once logged in; `connecting`, `closed`, `stopped`, … otherwise. */
  state: string;
  loggedIn: boolean;
  reconnects: number;
}

export interface ExchangeSession {
  readonly venue: BitgetVenue;
  readonly rest: BitgetPrivateRest;
  /** Registers the reconciliation to run after reconnects and on the timer. */
  onReconcile(fn: (reason: string) => Promise<void>): void;
  /** Runs the registered reconciliation now (coalesced with a run in progress). */
  requestReconcile(reason: string): void;
  /** Sets `run.leverage` on every symbol whose leverage differs (after reconciliation). */
  applyLeverage(): Promise<void>;
  /** The private WebSocket's state, login and reconnect count. */
  privateFeed(): PrivateFeedState;
  close(): Promise<void>;
}

function checkFailure(e: unknown, mode: string, what: string): StartupError {
  if (e instanceof BitgetApiError) {
    if (e.code === "40099") {
      return new StartupError(
        `Bitget answered 40099 (exchange environment is incorrect) to ${what}: ` +
          (mode === "live"
            ? "these look like demo keys — run with --mode demo, or use live keys for --mode live"
            : "these look like live keys — run with --mode live, or create demo keys for --mode demo"),
        2,
      );
    }
    if (e.kind === "api") return new StartupError(`${what}: Bitget code ${e.code}: ${e.hint}`, 2);
    return new StartupError(`${what}: cannot reach Bitget: ${e.message}`, 1);
  }
  return new StartupError(`${what}: ${(e as Error).message}`, 1);
}

/** Connects, runs the start-up checks and starts the private WebSocket. */
export async function openExchangeSession(o: ExchangeSessionOptions): Promise<ExchangeSession> {
  const log = o.logger.child({ component: "bitget" });
  const symbols = o.contracts.map((c) => c.symbol);
  const rest = new BitgetPrivateRest({
    baseUrl: o.restUrl,
    credentials: o.credentials,
    demo: o.mode === "demo",
    productType: o.config.exchange.productType,
    marginCoin: o.config.exchange.marginCoin,
    timeoutMs: o.run.requestTimeout,
    logger: log,
    onRequestWritten: o.onRequestWritten,
    onResponse: o.onResponse,
  });
  try {
    await rest.syncTime();
  } catch (e) {
    throw checkFailure(e, o.mode, "server time");
  }
  try {
    await rest.accounts();
  } catch (e) {
    throw checkFailure(e, o.mode, "the account check");
  }
  const mismatches: string[] = [];
  const leverage = new Map<string, number>();
  let positionMode: "one_way" | "hedge" | null = null;
  for (const s of symbols) {
    let a;
    try {
      a = await rest.account(s);
    } catch (e) {
      throw checkFailure(e, o.mode, `the ${s} account settings`);
    }
    const pm = a.posMode === "hedge_mode"
      ? "hedge"
      : a.posMode === "one_way_mode"
      ? "one_way"
      : null;
    if (pm) positionMode = pm;
    if (a.marginMode && a.marginMode !== o.run.marginMode) {
      mismatches.push(
        `${s} is in ${a.marginMode} margin mode on Bitget, run.marginMode is ${o.run.marginMode}`,
      );
    }
    const lev = Number(a.marginMode === "crossed" ? a.crossedMarginLeverage : a.isolatedLongLever);
    if (Number.isFinite(lev)) leverage.set(s, lev);
  }
  if (positionMode !== null && positionMode !== o.run.positionMode) {
    mismatches.unshift(
      `the account is in ${positionMode === "hedge" ? "hedge_mode" : "one_way_mode"} on Bitget, ` +
        `run.positionMode is ${o.run.positionMode}: set run.positionMode: ${positionMode} ` +
        "(or switch the account while flat — the daemon never switches it)",
    );
  }
  if (mismatches.length > 0) throw new StartupError(mismatches.join("; "), 2);

  const venue = new BitgetVenue({
    rest,
    contracts: o.contracts,
    positionMode: o.run.positionMode,
    marginMode: o.run.marginMode,
    logger: log,
  });
  let reconcileFn: ((reason: string) => Promise<void>) | null = null;
  let running: Promise<void> | null = null;
  let again: string | null = null;
  const requestReconcile = (reason: string) => {
    if (!reconcileFn) return;
    if (running) {
      again = reason;
      return;
    }
    running = (async () => {
      let why: string | null = reason;
      while (why !== null) {
        again = null;
        try {
          await reconcileFn!(why);
        } catch (e) {
          log.error("reconciliation failed", { reason: why, error: String(e) });
        }
        why = again;
      }
    })().finally(() => (running = null));
  };
  let authFailed: string | null = null;
  const ws = new BitgetPrivateWs({
    url: o.wsPrivateUrl,
    credentials: o.credentials,
    now: () => rest.serverNow(),
    pingInterval: o.config.ws.pingInterval,
    staleAfter: Math.max(o.config.ws.staleAfter, 2 * o.config.ws.pingInterval),
    reconnectMinDelay: o.config.ws.reconnectMinDelay,
    reconnectMaxDelay: o.config.ws.reconnectMaxDelay,
    logger: log,
  }, {
    onPush: (p) => venue.onPush(p),
    onLogin: ({ reconnect }) => {
      log.info("private websocket logged in", { reconnect });
      if (reconnect) requestReconcile("reconnect");
    },
    onDisconnect: (d) => log.warn("private websocket disconnected", { ...d }),
    onAuthError: (_code, line) => {
      authFailed = line;
      log.error("private websocket login refused", { reason: line });
    },
    onMalformed: (reason) => log.warn("malformed private frame", { reason }),
  });
  ws.start();
  // The first snapshot is read over REST once the socket is up, so no push falls between them.
  const deadline = performance.now() + 10_000;
  while (ws.stats().logins === 0 && authFailed === null && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  if (authFailed !== null) {
    await ws.stop();
    throw new StartupError(`private websocket login refused: ${authFailed}`, 2);
  }
  if (ws.stats().logins === 0) log.warn("private websocket not logged in yet; continuing on REST");
  try {
    await venue.refresh();
  } catch (e) {
    await ws.stop();
    throw checkFailure(e, o.mode, "the account snapshot");
  }
  return {
    venue,
    rest,
    onReconcile: (fn) => (reconcileFn = fn),
    requestReconcile,
    applyLeverage: async () => {
      for (const s of symbols) {
        if (leverage.get(s) === o.run.leverage) continue;
        const r = await venue.setLeverage(s, o.run.leverage);
        if (r) log.warn("set-leverage refused", { symbol: s, code: r.code, msg: r.msg });
        else log.info("leverage set", { symbol: s, leverage: o.run.leverage });
      }
    },
    privateFeed: () => {
      const st = ws.stats();
      return { state: st.state, loggedIn: st.state === "open", reconnects: st.reconnects };
    },
    close: async () => {
      await running;
      await ws.stop();
      await venue.close();
    },
  };
}
