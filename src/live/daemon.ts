/**
 * `bitget-bot run`: the trading daemon. Wires the chain that `backtest` runs — features → model →
 * strategy → risk (the TradingEngine) — to the live public WebSocket on the engine clock, with
 * orders going to the simulated exchange (paper) or to Bitget (demo, live) through the order
 * manager, and records the market data it trades on into the database.
 *
 * Start-up (nothing is sent before every check passed; a failed check is one line, exit 2):
 *  database is ours or absent → contracts of the symbols (unknown → exit 2) → store + run row →
 *  venue (paper: SimVenue; demo/live: Bitget, keys, environment, position/margin mode, leverage,
 *  see exchange_session.ts) → reconciliation of orders, fills and positions (oms/reconcile.ts) →
 *  strategy and engine → warm-up from the database → feed, recorder, timers.
 *
 * Stop: SIGTERM/SIGINT, `--duration` or an AbortSignal. No new entries from then on; TP/SL plans
 * stay on the exchange; the feed closes, queued events and in-flight orders settle, the last
 * positions snapshot, equity row and recorded batches are committed, and the process exits 0
 * within `run.shutdownTimeout`. SIGUSR1 or the kill file trips the kill switch (driver.ts).
 */
import type { Config } from "../config/config.ts";
import type { RunConfig } from "../config/run_config.ts";
import { TradingEngine } from "../engine/engine.ts";
import { engineConfig } from "../engine/engine_support.ts";
import type { Trader } from "../engine/contract.ts";
import { BitgetPublicRest, BitgetRestError } from "../bitget/rest_public.ts";
import { RestPollers } from "../ingest/pollers.ts";
import { runnerSettings } from "../ingest/worker_pool.ts";
import type { ContractSpec } from "../market/contracts.ts";
import type { Channel, MarketEvent } from "../market/events.ts";
import type { Logger } from "../ops/log.ts";
import { OrderJournal, type TradingMode } from "../oms/journal.ts";
import { OrderManager } from "../oms/oms.ts";
import { Store } from "../store/store.ts";
import { createScanner, createTradingStrategy } from "../strategy/registry.ts";
import { SimVenue } from "../venue/sim_venue.ts";
import type { Venue } from "../venue/venue.ts";
import { VERSION } from "../version.ts";
import { missingKeysLine } from "../config/credentials.ts";
import { LiveDriver } from "./driver.ts";
import { MarketFeed, preciseNow } from "./feed.ts";
import { Recorder } from "./recorder.ts";
import { statusLine } from "./status.ts";
import { warmUp } from "./warmup.ts";
import type { ExchangeSession } from "./exchange_session.ts";
import { openExchangeSession } from "./exchange_session.ts";
import { reconcile, UnknownPositionError } from "../oms/reconcile.ts";
import { StartupError } from "./exchange_session.ts";
import { DaemonTelemetry } from "./telemetry.ts";
import { trainInWorker } from "../model/train/train_client.ts";
import { ModelWatch } from "./model_watch.ts";
import type { LifecycleEvent, MlStrategy } from "../strategy/ml.ts";
import { AlertConfigError } from "../ops/alerts/mod.ts";

/** A failure the CLI reports in one line with its exit code (2 = input/config/start-up check). */
export class DaemonError extends Error {
  override name = "DaemonError";
  constructor(message: string, readonly exitCode: 1 | 2) {
    super(message);
  }
}

export interface DaemonOptions {
  config: Config;
  run: RunConfig;
  symbols: string[];
  modelPath?: string;
  /** URLs (the CLI applies --rest-url / --ws-url / --private-ws-url and the demo hosts). */
  restUrl: string;
  wsPublicUrl: string;
  wsPrivateUrl: string;
  /** demo/live: from the environment (BITGET_API_KEY, BITGET_API_SECRET, BITGET_PASSPHRASE). */
  credentials: { apiKey: string; secret: string; passphrase: string } | null;
  durationMs?: number;
  logger: Logger;
  signal?: AbortSignal;
  handleSignals?: boolean;
  argv?: readonly string[];
  /** Keep every decision value recorded by the strategy in the summary (tests). */
  keepRecords?: boolean;
  /** Benchmarks: each decision's latency (ms) and intent count, see LiveDriver. */
  onDecision?: (ms: number, intents: number) => void;
  /**
   * Benchmarks: a signed REST request is about to be written (endpoint path, performance.now())
   * with the receive time (epoch ms) of the market event being handled at that moment.
   */
  onRequestWritten?: (endpoint: string, perfNow: number) => void;
  /** `metrics.listen` override (--metrics-listen); `off` serves nothing. */
  metricsListen?: string;
  /** Called with the metrics endpoint's bound address (tests listen on port 0). */
  onMetricsListen?: (addr: { hostname: string; port: number }) => void;
  /** Benchmarks: the OMS hands a request to the venue (clientOid, receive time of its trigger). */
  onSend?: (clientOid: string, triggerRecvTs: number) => void;
}

export interface DaemonSummary {
  runId: number;
  mode: TradingMode;
  stopReason: string;
  events: number;
  orders: number;
  fills: number;
  rejected: number;
  blockedEntries: number;
  feedFrames: number;
  recordedRows: number;
  decisionP50Ms: number;
  decisionP99Ms: number;
  records: { ts: number; symbol: string; name: string; value: number }[];
  /** Stored market events replayed through the engine before the feed started (run.warmup). */
  warmupEvents: number;
  shutdownMs: number;
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "";
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function fetchContracts(rest: BitgetPublicRest, symbols: readonly string[]) {
  let res: Awaited<ReturnType<BitgetPublicRest["contracts"]>>;
  try {
    res = await rest.contracts();
  } catch (e) {
    const why = e instanceof BitgetRestError ? e.message : String(e);
    throw new DaemonError(`cannot fetch contracts from ${rest.opts.baseUrl}: ${why}`, 1);
  }
  const known = new Map(res.specs.map((s) => [s.symbol, s]));
  const unknown = symbols.filter((s) => !known.has(s));
  if (unknown.length > 0) {
    throw new DaemonError(`unknown symbol(s) ${unknown.join(", ")}: not listed in contracts`, 2);
  }
  const wanted = new Set(symbols);
  return {
    specs: symbols.map((s) => known.get(s)!),
    raw: (res.raw as Record<string, unknown>[]).filter((r) => wanted.has(String(r.symbol))),
  };
}

function openStore(path: string): Store {
  try {
    return Store.open(path, { create: true });
  } catch (e) {
    throw new DaemonError((e as Error).message, 2);
  }
}

/**
 * Runs the daemon until stopped; resolves with a summary after a clean shutdown. Throws
 * DaemonError (exit code 2) on a failed start-up check, including an invalid webhook URL.
 */
export async function runDaemon(o: DaemonOptions): Promise<DaemonSummary> {
  const mode = o.run.mode;
  // Before anything is read or written: trading on Bitget needs its keys.
  if (mode !== "paper" && !o.credentials) throw new DaemonError(missingKeysLine(mode), 2);
  let tel: DaemonTelemetry;
  try {
    tel = DaemonTelemetry.start({
      config: o.config,
      mode,
      symbols: o.symbols,
      logger: o.logger,
      listen: o.metricsListen,
      onListen: o.onMetricsListen,
    });
  } catch (e) {
    if (e instanceof AlertConfigError) throw new DaemonError(e.message, 2);
    throw e;
  }
  try {
    return await runChain(o, tel);
  } catch (e) {
    tel.error("run", e instanceof Error ? e.message : String(e));
    throw e;
  } finally {
    await tel.close(2000);
  }
}

async function runChain(o: DaemonOptions, tel: DaemonTelemetry): Promise<DaemonSummary> {
  const { config, run, logger: log } = o;
  const mode = run.mode;
  const rest = new BitgetPublicRest({
    baseUrl: o.restUrl,
    productType: config.exchange.productType,
    ratePerSecond: config.rest.ratePerSecond,
    timeout: config.rest.timeout,
    logger: log,
    onResponse: (endpoint, status) => tel.rest(endpoint, status),
  });
  const contracts = await fetchContracts(rest, o.symbols);
  const specs = new Map(contracts.specs.map((c) => [c.symbol, c]));
  const store = openStore(run.db);
  const tradingStore = run.tradingDb ? openStore(run.tradingDb) : store;
  const runId = store.beginRun({
    command: "run",
    args: [...(o.argv ?? [])],
    version: VERSION,
    host: hostname(),
  });
  store.upsertContracts(contracts.specs, contracts.raw);
  // An automatic WAL checkpoint on this connection would fsync inside an order's journal insert,
  // on the tick-to-order path (10 ms stalls measured): the recorder's connection checkpoints the
  // shared file; a separate trading file is checkpointed on the status timer instead.
  tradingStore.db.exec("PRAGMA wal_autocheckpoint = 0");
  if (tradingStore !== store) store.db.exec("PRAGMA wal_autocheckpoint = 0");
  const journal = new OrderJournal(tradingStore.db, mode, runId);
  let session: ExchangeSession | null = null;
  let venue: Venue;
  let sim: SimVenue | null = null;
  let driverRef: LiveDriver | null = null;
  try {
    if (mode === "paper") {
      sim = new SimVenue({
        contracts: contracts.specs,
        initialBalance: run.paper.initialBalance,
        leverage: run.leverage,
        latencyMs: run.paper.latencyMs,
        marginMode: run.marginMode,
        positionMode: run.positionMode,
        maintenanceMarginRate: config.risk.maintenanceMarginRate,
        presetTriggerType: config.risk.stopTrigger,
        planFill: "book",
      });
      venue = sim;
    } else {
      session = await openExchangeSession({
        mode,
        restUrl: o.restUrl,
        wsPrivateUrl: o.wsPrivateUrl,
        credentials: o.credentials!,
        config,
        run,
        contracts: contracts.specs,
        logger: log,
        engineTime: () => driverRef?.engineTime ?? Date.now(),
        onRequestWritten: o.onRequestWritten,
        onResponse: (endpoint, status) => tel.rest(endpoint, status),
      });
      venue = session.venue;
    }
  } catch (e) {
    store.endRun(runId, "error");
    if (tradingStore !== store) tradingStore.close();
    store.close();
    if (e instanceof StartupError) throw new DaemonError(e.message, e.exitCode);
    throw e;
  }

  const decisions: number[] = [];
  const oms = new OrderManager({
    venue,
    journal,
    contracts: specs,
    log: log.child({ component: "oms" }),
    engineTime: () => driverRef?.engineTime ?? NaN,
    positionMode: run.positionMode,
    onSend: (oid) => {
      const recvTs = driverRef?.currentRecvTs ?? NaN;
      tel.orderSent(recvTs);
      o.onSend?.(oid, recvTs);
    },
    onOutcome: (row) => tel.outcome(row),
    onFill: (f) => tel.fill(f),
    onCancelled: (row, reason) => tel.cancelled(row, reason),
  });
  const reconcileNow = (phase: "start" | "reconnect" | "periodic" | "stop") =>
    reconcile({
      mode,
      venue,
      bitget: session?.venue ?? null,
      journal,
      oms,
      symbols: o.symbols,
      positionMode: run.positionMode,
      onUnknownPosition: run.onUnknownPosition,
      requestWindowMs: run.requestWindow,
      phase,
      log: log.child({ component: "reconcile" }),
    });
  try {
    await reconcileNow("start");
    await session?.applyLeverage();
  } catch (e) {
    await session?.close();
    store.endRun(runId, "error");
    if (tradingStore !== store) tradingStore.close();
    store.close();
    if (e instanceof UnknownPositionError) throw new DaemonError(e.message, 2);
    throw e;
  }

  const lifeLog = log.child({ component: "model" });
  const strategy = await createTradingStrategy(
    run.strategy,
    config,
    o.modelPath,
    "raw",
    contracts.specs,
    {
      // onnxruntime checks the compiled ensemble from its own thread (model/scorer.ts): its
      // session start-up (~0.7 s, and again for every retrained model) and the audited rows never
      // hold up a decision; a difference it finds is reported through onError.
      reference: "worker",
      // Retraining trains on a worker thread and never holds up a decision (lifecycle.ts).
      lifecycle: {
        background: true,
        train: trainInWorker,
        // A model from the registry: retrains are stored there, verdicts written back.
        writeRegistry: true,
        onEvent: (e) => {
          lifeLog.info(`model ${e.type}`, { ...e, features: undefined });
          tel.lifecycle(e);
          try {
            journal.recordModelEvent(e as LifecycleEvent & { version?: string | null });
          } catch (err) {
            lifeLog.warn("model event not stored", { error: String(err) });
          }
        },
        onPsi: (names, psi) => tel.psi(names, psi),
        onError: (e) => {
          lifeLog.error("model lifecycle failed; the live model stays", { error: e.message });
          tel.error("model lifecycle", e.message);
        },
      },
    },
  );
  if ("modelVersion" in strategy) tel.modelVersion((strategy as MlStrategy).modelVersion);
  const ml = run.strategy === "ml" ? strategy as MlStrategy : null;
  const watch = ml?.setup.registry
    ? new ModelWatch(ml.setup.registry.dir, ml.setup.registry.version, ml, {
      onAdopted: (version, previous) => {
        lifeLog.info("model swapped from the registry", { version, previous });
        tel.modelVersion(version);
      },
      onError: (message) => {
        lifeLog.error(message);
        tel.error("model registry", message);
      },
    })
    : null;
  const bookChannel: "books15" | "books" = run.channels.includes("books15") ? "books15" : "books";
  if (run.strategy === "microswing") config.strategies.microswing.bookChannel = bookChannel;
  const engine = new TradingEngine(
    strategy,
    engineConfig(config.risk, {
      closeAtEnd: false,
      // Paper: the backtest's venue latency; live: how long an exit counts as in flight.
      latencyMs: mode === "paper" ? run.paper.latencyMs : run.exitInFlight,
    }),
    "trades",
    config.backtest.scanner ? createScanner(config, o.symbols) : null,
  );
  const trader: Trader = engine;
  const ws = runnerSettings(config).ws;
  let feed: MarketFeed | null = null;
  const driver = new LiveDriver({
    trader,
    venue,
    sim,
    oms,
    contracts: contracts.specs,
    symbols: o.symbols,
    bookChannel,
    inGap: (s) => feed?.inGap(s) ?? true,
    log: log.child({ component: "driver" }),
    keepRecords: o.keepRecords,
    onDecision: (ms, n) => {
      tel.decision(ms);
      if (n > 0 || decisions.length < 100_000) decisions.push(ms);
      o.onDecision?.(ms, n);
    },
  });
  driverRef = driver;
  driver.start();
  session?.onReconcile(async (reason) => {
    const r = await reconcileNow(reason === "reconnect" ? "reconnect" : "periodic");
    // Unknown positions while running and `refuse`: nothing new is opened until a restart.
    if (r.action === "refused") driver.stopEntries();
  });

  // A retraining model needs its whole training window of history, which the warm-up replays
  // from the database: a restart then retrains on the same rows it would have had (plus the
  // label horizon, whose rows mature inside the window).
  const retrain = config.strategies.ml.retrain;
  const warmMs = ml?.setup && retrain.enabled
    ? Math.max(run.warmup, retrain.trainWindowMs + (ml.setup.horizonMs || 0))
    : run.warmup;
  if (warmMs > run.warmup) {
    log.info("warm-up extended to the retraining window", {
      warmupMs: warmMs,
      trainWindowMs: retrain.trainWindowMs,
    });
  }
  const warmed = await warmUp(store, engine, driver, o.symbols, warmMs, bookChannel, log);
  if (warmed > 0) log.info("warm-up done", { events: warmed });

  const recorder = new Recorder({
    store: {
      path: run.db,
      batchMaxAge: config.store.batchMaxAge,
      batchMaxEvents: config.store.batchMaxEvents,
      runId,
    },
    logger: log.child({ component: "recorder" }),
  });
  feed = new MarketFeed({
    url: o.wsPublicUrl,
    instType: config.exchange.productType,
    symbols: o.symbols,
    channels: run.channels as Channel[],
    ws,
    logger: log,
  }, {
    onEvents: (events, key) => {
      // The engine first: a recorder batch that fills on this frame is posted to its worker
      // (a structured clone of the batch) after the decision and its order, not before.
      for (const ev of events) driver.push(ev);
      recorder.push(events, key);
    },
    onGap: (g) => {
      tel.gap(g.reason);
      recorder.push([g], null);
    },
  });
  // The ticker channel carries mark, index, funding and open interest: of the REST pollers only
  // the contracts one runs, so the database holds exactly the stream the engine traded on.
  const pollers = new RestPollers(rest, o.symbols, {
    contracts: config.rest.contractsInterval,
    symbolPrice: 0,
    openInterest: 0,
    fundingRate: 0,
    fundingTime: 0,
  }, {
    onEvents: (events: MarketEvent[]) => {
      for (const ev of events) ev.recvTs = preciseNow();
      recorder.push(events, null);
    },
    onContracts: (list: ContractSpec[], raw) => store.upsertContracts(list, raw),
  }, log);
  feed.start();
  pollers.start();
  tel.attach({
    feed,
    venue,
    engine,
    driver,
    oms,
    privateFeed: session ? () => session!.privateFeed() : null,
  });
  // The recorder commits on its worker thread: its row tallies are read every 2 s.
  const rowsTimer = setInterval(() => {
    recorder.stats().then((st) => st && tel.storeRows("recorder", st.rowsByTable)).catch(() => {});
  }, 2000);
  log.info("run started", {
    mode,
    strategy: run.strategy,
    symbols: o.symbols.join(","),
    db: run.db,
    runId,
    oidPrefix: journal.prefix,
    wsUrl: o.wsPublicUrl,
    restUrl: o.restUrl,
    positionMode: run.positionMode,
    marginMode: run.marginMode,
  });

  const peak = { equity: NaN };
  const status = () =>
    statusLine({
      venue,
      driver,
      engine,
      oms,
      journal,
      feed: () => feed!.stats(),
      mode,
    }, peak);
  const statusTimer = setInterval(() => {
    try {
      log.info("status", status());
      if (tradingStore !== store) tradingStore.db.exec("PRAGMA wal_checkpoint(PASSIVE)");
    } catch (e) {
      log.warn("status failed", { error: String(e) });
    }
  }, config.log.statusInterval);
  const killCheck = async () => {
    try {
      await Deno.stat(run.killFile);
      await driver.kill(`kill file ${run.killFile}`);
    } catch {
      // no kill file
    }
  };
  await killCheck();
  const killTimer = setInterval(killCheck, run.killFileInterval);
  const reconcileTimer = session
    ? setInterval(() => session!.requestReconcile("periodic"), run.reconcileInterval)
    : undefined;
  const onUsr1 = () => void driver.kill("SIGUSR1");
  if (o.handleSignals) Deno.addSignalListener("SIGUSR1", onUsr1);

  const stopReason = await waitForStop(o);
  const t0 = performance.now();
  log.info("run stopping", { reason: stopReason });
  driver.stopEntries();
  clearInterval(statusTimer);
  clearInterval(rowsTimer);
  clearInterval(killTimer);
  clearInterval(reconcileTimer);
  if (o.handleSignals) Deno.removeSignalListener("SIGUSR1", onUsr1);
  await watch?.stop();
  const deadline = t0 + run.shutdownTimeout;
  const left = () => Math.max(100, deadline - performance.now());
  const gaps = await Promise.race([feed.stop(), sleep(1500).then(() => [])]);
  if (gaps.length > 0) recorder.push(gaps, null);
  await Promise.race([driver.drained(), sleep(Math.min(2000, left()))]);
  await oms.idle(Math.min(3000, left()));
  await Promise.race([pollers.stop(), sleep(Math.min(1000, left()))]);
  if (session) {
    // Pushes still on their way at the stop: the journal reads its open orders and their fills
    // over REST, so the last snapshot accounts for every fill.
    try {
      await Promise.race([reconcileNow("stop"), sleep(Math.min(3000, left()))]);
    } catch (e) {
      log.warn("final reconciliation failed", { error: String(e) });
    }
  }
  try {
    log.info("status", status());
    const expected = journal.expectedPositions(o.symbols, run.positionMode);
    journal.snapshot("stop", legsOf(expected, o.symbols));
  } catch (e) {
    log.warn("final snapshot failed", { error: String(e) });
  }
  // Registry writes of verdicts already made (a retrain still training is abandoned).
  if (ml) await Promise.race([ml.lifecycleIdle(), sleep(Math.min(2000, left()))]);
  driver.close();
  await session?.close();
  await venue.close();
  const rec = await recorder.stop(Math.min(3000, left()));
  if (rec) tel.storeRows("recorder", rec.rowsByTable);
  store.endRun(runId, "ok");
  if (tradingStore !== store) tradingStore.close();
  store.close();
  const sorted = decisions.sort((a, b) => a - b);
  const q = (p: number) => sorted.length ? sorted[Math.floor(p * (sorted.length - 1))] : NaN;
  const f = feed.stats();
  const summary: DaemonSummary = {
    runId,
    mode,
    stopReason,
    events: driver.counters.events,
    orders: oms.counters.submitted,
    fills: oms.counters.fills,
    rejected: oms.counters.rejected,
    blockedEntries: driver.counters.blockedEntries,
    feedFrames: f.frames,
    recordedRows: rec?.rows ?? 0,
    decisionP50Ms: q(0.5),
    decisionP99Ms: q(0.99),
    records: driver.records,
    warmupEvents: warmed,
    shutdownMs: Math.round(performance.now() - t0),
  };
  log.info("run stopped", { ...summary, records: undefined });
  return summary;
}

/** Expected positions as snapshot legs (a flat symbol gets one `flat` row). */
export function legsOf(
  expected: Map<string, { long: number; short: number }>,
  symbols: readonly string[],
) {
  const legs = [];
  for (const s of symbols) {
    const e = expected.get(s) ?? { long: 0, short: 0 };
    if (e.long > 0) legs.push({ symbol: s, holdSide: "long" as const, size: String(e.long) });
    if (e.short > 0) legs.push({ symbol: s, holdSide: "short" as const, size: String(e.short) });
    if (!(e.long > 0) && !(e.short > 0)) {
      legs.push({ symbol: s, holdSide: "flat" as const, size: "0" });
    }
  }
  return legs;
}

/** Resolves with the reason the daemon should stop. */
function waitForStop(o: DaemonOptions): Promise<string> {
  return new Promise((resolve) => {
    const cleanups: (() => void)[] = [];
    const done = (why: string) => {
      for (const c of cleanups) c();
      resolve(why);
    };
    if (o.durationMs !== undefined) {
      const t = setTimeout(() => done("duration"), o.durationMs);
      cleanups.push(() => clearTimeout(t));
    }
    if (o.signal) {
      if (o.signal.aborted) return done("aborted");
      const h = () => done("aborted");
      o.signal.addEventListener("abort", h, { once: true });
      cleanups.push(() => o.signal!.removeEventListener("abort", h));
    }
    if (o.handleSignals) {
      for (const sig of ["SIGTERM", "SIGINT"] as const) {
        const h = () => done(sig);
        Deno.addSignalListener(sig, h);
        cleanups.push(() => Deno.removeSignalListener(sig, h));
      }
    }
  });
}
