/**
 * What the trading daemon shows and tells: the Prometheus registry and its `/metrics` +
 * `/healthz` endpoint (ops/metrics/, config `metrics:`), and the alert queue (ops/alerts/, config
 * `alerts:`, URLs from DISCORD_WEBHOOK_URL / ALERT_WEBHOOK_URL). Nothing here is on the decision
 * path: events are counted with O(1) calls, gauges and cumulative tallies (feed, OMS, account)
 * are sampled once a second and before every scrape, and alerts are queued (`send` never blocks
 * or throws).
 *
 * `/healthz` is 200 only while the public market feed is open and has had a data frame within
 * `metrics.staleAfter`, and (demo, live) the private WebSocket is logged in; otherwise 503 with
 * one line per reason.
 */
import { REGISTRY_REASON } from "../strategy/registry_sync.ts";
import type { Config } from "../config/config.ts";
import type { TradingEngine } from "../engine/engine.ts";
import {
  type AlertEvent,
  type AlertMode,
  type AlertQueue,
  createAlertQueue,
  DailySummary,
  ReconnectStormDetector,
} from "../ops/alerts/mod.ts";
import type { Logger } from "../ops/log.ts";
import { BotMetrics } from "../ops/metrics/registry.ts";
import { type HealthStatus, type MetricsServer, serveMetrics } from "../ops/metrics/server.ts";
import { Totals } from "../ops/metrics/totals.ts";
import type { OrderManager } from "../oms/oms.ts";
import type { OrderRow } from "../oms/journal.ts";
import type { FillEvent } from "../venue/types.ts";
import type { Venue } from "../venue/venue.ts";
import { VERSION } from "../version.ts";
import type { LiveDriver } from "./driver.ts";
import type { PrivateFeedState } from "./exchange_session.ts";
import type { MarketFeed } from "./feed.ts";
import { TradeTracker } from "./trade_tracker.ts";
import type { LifecycleEvent, ShadowMetrics } from "../strategy/lifecycle.ts";

export interface TelemetryOptions {
  config: Config;
  mode: AlertMode;
  /** Traded symbols (position notional is exported for each, 0 when flat). */
  symbols: readonly string[];
  logger: Logger;
  /** Environment lookup for the webhook URLs (default Deno.env.get, which needs --allow-env). */
  env?: (name: string) => string | undefined;
  /** `metrics.listen` override (the CLI's --metrics-listen). */
  listen?: string;
  /** Called with the bound address once the endpoint listens (tests use port 0). */
  onListen?: (addr: { hostname: string; port: number }) => void;
}

/** The daemon's parts the sampler reads (attached once they exist). */
export interface TelemetrySources {
  feed: Pick<MarketFeed, "feedCounts" | "feedHealth">;
  venue: Venue;
  engine: TradingEngine;
  driver: LiveDriver;
  oms: OrderManager;
  /** demo/live: the private WebSocket's state; null in paper mode. */
  privateFeed: (() => PrivateFeedState) | null;
}

const SAMPLE_MS = 1000;

function safeEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env for it: that sink is simply not configured
  }
}

export class DaemonTelemetry {
  readonly metrics = new BotMetrics({ version: VERSION });
  readonly alerts: AlertQueue;
  private server: MetricsServer | null = null;
  private src: TelemetrySources | null = null;
  private readonly totals = new Totals();
  private readonly trades: TradeTracker;
  private readonly storm: ReconnectStormDetector;
  private readonly daily: DailySummary;
  private readonly log: Logger;
  private timer: ReturnType<typeof setInterval> | undefined;
  private peakEquity = NaN;
  private lastHalts = "";
  private lastKill: string | null = null;
  private reconnectsSeen = { public: 0, private: 0 };
  private feedState: { state: string; sinceLastFrameMs: number } | null = null;

  private constructor(private readonly o: TelemetryOptions) {
    this.log = o.logger.child({ component: "telemetry" });
    const m = this.metrics;
    const a = o.config.alerts;
    this.alerts = createAlertQueue(a, o.env ?? safeEnv, {
      logger: o.logger.child({ component: "alerts" }),
      counters: {
        sent: (sink) => m.alertSent(sink),
        failed: (sink, reason) => m.alertFailed(sink, reason),
        dropped: (sink) => m.alertDropped(sink),
      },
    });
    this.trades = new TradeTracker(o.mode);
    this.storm = new ReconnectStormDetector({
      count: a.reconnectStorm.count,
      windowMs: a.reconnectStorm.window,
      mode: o.mode,
    });
    this.daily = new DailySummary({ atUtc: a.dailySummaryUtc, mode: o.mode, startMs: Date.now() });
  }

  /**
   * Builds the registry and the alert queue and, unless `metrics.listen` is `off`, serves the
   * endpoint. A listen address that cannot be bound (in use, or not granted by --allow-net) is
   * logged as an error and the daemon goes on without the endpoint: observability never stops
   * trading. Throws AlertConfigError when a webhook URL in the environment is invalid.
   */
  static start(o: TelemetryOptions): DaemonTelemetry {
    const t = new DaemonTelemetry(o);
    const listen = o.listen ?? o.config.metrics.listen;
    if (listen !== "off") {
      try {
        t.server = serveMetrics({
          listen,
          metrics: t.metrics,
          health: () => t.health(),
          beforeRender: () => t.sample(),
          onListen: (addr) => {
            t.log.info("metrics endpoint listening", {
              url: `http://${
                addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname
              }:${addr.port}/metrics`,
            });
            o.onListen?.(addr);
          },
        });
      } catch (e) {
        t.log.error("metrics endpoint not served", {
          listen,
          error: (e as Error).message,
          hint: "set metrics.listen to a free host:port allowed by --allow-net, or off",
        });
      }
    }
    return t;
  }

  /** Starts sampling the daemon's parts (call once feed, venue, engine and OMS exist). */
  attach(src: TelemetrySources): void {
    this.src = src;
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
  }

  /** A REST answer (public or signed): endpoint path and HTTP status, or timeout/network. */
  rest(endpoint: string, status: number | string): void {
    this.metrics.restRequest(endpoint, status);
  }

  /** One evaluated tick's strategy + risk time (ms). */
  decision(ms: number): void {
    this.metrics.observeDecisionLatency(ms / 1000);
  }

  /** An order request handed to the venue; `triggerRecvTs` = receipt (epoch ms) of its trigger. */
  orderSent(triggerRecvTs: number): void {
    if (!Number.isFinite(triggerRecvTs)) return;
    const ms = performance.timeOrigin + performance.now() - triggerRecvTs;
    this.metrics.observeTickToOrder(Math.max(0, ms) / 1000);
  }

  /** The final outcome of a placement (OMS onOutcome). */
  outcome(row: OrderRow): void {
    if (row.state === "rejected" || row.state === "not_placed") {
      this.metrics.orderRejected(row.rejectCode ?? row.state);
    } else if (row.state !== "unknown") {
      this.metrics.orderPlaced(row.symbol, row.side === "sell" ? "sell" : "buy");
    }
  }

  /** An order of ours seen cancelled (OMS onCancelled). */
  cancelled(_row: OrderRow, reason: string): void {
    this.metrics.orderCancelled(reason);
  }

  /** A new fill (OMS onFill): counted, and trade opened / closed alerts. */
  fill(f: FillEvent): void {
    this.metrics.fill(f.symbol, f.direction);
    for (const ev of this.trades.fill(f)) {
      if (ev.type === "trade_closed") this.daily.recordTrade(ev);
      this.send(ev);
    }
  }

  /** A store writer's cumulative rows by table (the recorder's or a shard's, named by `key`). */
  storeRows(key: string, rowsByTable: Readonly<Record<string, number>>): void {
    for (const t in rowsByTable) {
      this.metrics.rows(t, this.totals.delta(`r:${key}:${t}`, rowsByTable[t]));
    }
  }

  /** A gap annotated in the recording (reason: the gap event's reason). */
  gap(reason: string): void {
    this.metrics.gap(reason);
  }

  /** The live model's version (`bitget_bot_model_info`). */
  modelVersion(version: string | null): void {
    this.metrics.setModelVersion(version);
  }

  /** A model lifecycle event: counted, and alerted (drift, promotion, rejection). */
  lifecycle(e: LifecycleEvent): void {
    const m = this.metrics;
    const mode = this.o.mode;
    switch (e.type) {
      case "retrain":
        m.retrain(e.version ? "trained" : "skipped");
        break;
      case "promoted":
        // A registry promotion by hand is not a retrain's outcome.
        if (!e.reason.startsWith(REGISTRY_REASON)) m.retrain("promoted");
        m.setModelVersion(e.version);
        this.send({
          type: "model_promoted",
          ts: e.ts,
          mode,
          version: e.version,
          previous: e.previous,
          reason: e.reason,
          metrics: shadowFigures(e.candidate, e.live),
        });
        break;
      case "rejected":
        m.retrain("rejected");
        this.send({
          type: "model_rejected",
          ts: e.ts,
          mode,
          version: e.version,
          reason: e.reason,
          metrics: shadowFigures(e.candidate, e.live),
        });
        break;
      case "drift_alarm":
        this.send({
          type: "drift_alarm",
          ts: e.ts,
          mode,
          features: e.features.slice(0, 10).map((f) => ({ name: f.name, psi: round4(f.psi) })),
          threshold: e.threshold,
        });
        break;
    }
  }

  /** PSI per feature of the latest drift check (`bitget_bot_feature_drift_psi`). */
  psi(names: readonly string[], values: ArrayLike<number>): void {
    for (let j = 0; j < names.length; j++) this.metrics.setFeatureDrift(names[j], values[j]);
  }

  /** An error worth a human's attention (also logged by the caller). */
  error(where: string, message: string): void {
    this.send({ type: "error", ts: Date.now(), mode: this.o.mode, where, message });
  }

  send(ev: AlertEvent): void {
    this.alerts.send(ev);
  }

  /** `/healthz`: feeds fresh and venue connected (module doc). */
  health(): HealthStatus {
    const reasons: string[] = [];
    const s = this.src;
    if (!s) return { ok: false, reasons: ["starting"] };
    const f = this.feedState;
    if (f) {
      if (f.state !== "open") reasons.push(`market feed ${f.state}`);
      const stale = this.o.config.metrics.staleAfter;
      if (!(f.sinceLastFrameMs <= stale)) {
        reasons.push(
          Number.isFinite(f.sinceLastFrameMs)
            ? `market feed stale: no data frame for ${Math.round(f.sinceLastFrameMs / 1000)} s`
            : "market feed: no data frame yet",
        );
      }
    } else reasons.push("market feed: not sampled yet");
    const p = s.privateFeed?.();
    if (p && !p.loggedIn) reasons.push(`private websocket ${p.state}`);
    return { ok: reasons.length === 0, reasons };
  }

  /** Reads gauges and cumulative tallies into the registry; raises alerts on state changes. */
  sample(): void {
    const s = this.src;
    if (!s) return;
    const m = this.metrics;
    const now = Date.now();
    try {
      // The feed: a non-resetting view (stats() would reset the status line's lag window).
      const c = s.feed.feedCounts();
      for (const ch in c.frames) m.frame(ch, this.totals.delta(`f:${ch}`, c.frames[ch]));
      for (const r in c.malformed) {
        m.malformedFrame(r, this.totals.delta(`m:${r}`, c.malformed[r]));
      }
      for (const ch in c.lagMs) m.setFeedLag(ch, c.lagMs[ch] / 1000);
      const st = s.feed.feedHealth();
      this.feedState = { state: st.state, sinceLastFrameMs: st.sinceLastFrameMs };
      this.reconnects("public", st.reconnects, now);
      const p = s.privateFeed?.();
      if (p) this.reconnects("private", p.reconnects, now);

      const a = s.venue.account();
      m.setEquity(a.equity);
      m.setBalance(a.balance);
      this.daily.recordEquity(a.equity);
      if (!(a.equity <= this.peakEquity)) this.peakEquity = a.equity;
      m.setDrawdown(this.peakEquity > 0 ? Math.max(0, 1 - a.equity / this.peakEquity) : 0);
      const net = new Map<string, number>();
      for (const pos of s.venue.positions()) {
        const sign = pos.holdSide === "short" ? -1 : 1;
        net.set(pos.symbol, (net.get(pos.symbol) ?? 0) + sign * pos.size * pos.markPrice);
      }
      for (const sym of this.symbols(s)) m.setPositionNotional(sym, net.get(sym) ?? 0);

      this.halts(s, a.equity, now);
      if (this.daily.due(now)) this.send(this.daily.take(now));
    } catch (e) {
      this.log.warn("metrics sample failed", { error: String(e) });
    }
  }

  private symbols(_s: TelemetrySources): readonly string[] {
    return this.o.symbols;
  }

  private reconnects(feed: "public" | "private", total: number, now: number): void {
    const d = total - this.reconnectsSeen[feed];
    if (d <= 0) return;
    this.reconnectsSeen[feed] = total;
    for (let i = 0; i < d; i++) {
      this.metrics.reconnect(feed);
      const storm = this.storm.record(feed, now);
      if (storm) this.send(storm);
    }
  }

  /** Risk halts and the kill switch, alerted once when they start. */
  private halts(s: TelemetrySources, equity: number, now: number): void {
    const h = s.engine.haltState();
    const key = h.halts.join("|");
    if (key !== this.lastHalts) {
      const risk = this.o.config.risk;
      for (const line of h.halts) {
        if (this.lastHalts.includes(line)) continue;
        if (line.startsWith("daily loss")) {
          this.send({
            type: "halt",
            ts: now,
            mode: this.o.mode,
            kind: "daily_loss",
            valueUsdt: Math.max(0, h.startOfDayEquity - equity),
            limit: risk.dailyLoss,
          });
        } else if (line.startsWith("max drawdown")) {
          this.send({
            type: "halt",
            ts: now,
            mode: this.o.mode,
            kind: "drawdown",
            ratio: h.peakEquity > 0 ? Math.max(0, 1 - equity / h.peakEquity) : 0,
            limit: risk.maxDrawdown,
          });
        }
      }
      this.lastHalts = key;
    }
    const kill = s.driver.killReason;
    if (kill !== null && kill !== this.lastKill) {
      const source = kill === "SIGUSR1" ? "signal" : kill.startsWith("kill file") ? "file" : "risk";
      this.send({ type: "kill_switch", ts: now, mode: this.o.mode, source, detail: kill });
    }
    this.lastKill = kill;
  }

  /**
   * Stops sampling (after a last sample), closes the endpoint and lets queued alerts go out
   * within `timeoutMs`; resolves with the number of alerts left unsent.
   */
  async close(timeoutMs = 3000): Promise<number> {
    clearInterval(this.timer);
    this.sample();
    await this.server?.shutdown();
    this.server = null;
    return await this.alerts.close(timeoutMs);
  }
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

/** Shadow metrics of both models as alert fields (finite numbers only). */
function shadowFigures(c: ShadowMetrics | null, l: ShadowMetrics | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [who, m] of [["candidate", c], ["live", l]] as const) {
    if (!m) continue;
    for (const [k, v] of Object.entries(m)) if (Number.isFinite(v)) out[`${who}_${k}`] = v;
  }
  return out;
}
