/**
 * The Prometheus metrics of `run` (the trading daemon) and `collect` (the recorder): one
 * prom-client `Registry` (npm:prom-client, text exposition format 0.0.4) behind typed methods.
 * Nothing here needs a permission: the process collectors (`collectDefaultMetrics`, which read
 * /proc and process.* counters) are never started, and prom-client reads no env var.
 *
 * Names follow Prometheus conventions: the `bitget_bot_` prefix, `_total` on counters, base units
 * (seconds; money in USDT as `_usdt`; ratios 0..1 as `_ratio`). Label values are bounded: symbols,
 * channels, tables, feeds, endpoint paths and short reason codes, never order ids, prices or free
 * text. Every value passes a `LabelGuard` (labels.ts): at most `maxLabelValues` distinct values per
 * label of a metric, further ones fold into `other` and count in
 * `bitget_bot_metrics_label_overflow_total{metric}`.
 *
 * The methods never throw into the trading loop: a non-finite value (NaN, ±Infinity) is dropped
 * (prom-client would render `Nan`, which no scraper parses), as is a negative counter increment.
 * The unlabelled gauges (equity, balance, drawdown) have no sample until first set, so the
 * recorder, which never sets them, exposes no misleading 0.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { DEFAULT_MAX_LABEL_VALUES, endpointLabel, LabelGuard } from "./labels.ts";

/** Bitget's WebSocket feeds: `public` (market data) and `private` (orders, fills, account). */
export type Feed = "public" | "private";
/** Order / fill side. */
export type Side = "buy" | "sell";

/** Histogram buckets (seconds) of the latency histograms: 100 µs … 250 ms. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
];

export interface BotMetricsOptions {
  /** The bot's build version (`bitget_bot_build_info{version}`). */
  version: string;
  /** Process start (epoch ms) for `bitget_bot_start_time_seconds`; default: now. */
  startTimeMs?: number;
  /** Distinct values kept per label of one metric (default 100); further ones read `other`. */
  maxLabelValues?: number;
}

type Labels = Record<string, string | number>;

export class BotMetrics {
  /** The registry rendered by `render`; exposed to add a metric of one's own. */
  readonly registry = new Registry();
  /** Content-Type of `render`'s text: `text/plain; version=0.0.4; charset=utf-8`. */
  readonly contentType: string = this.registry.contentType;

  private readonly guard: LabelGuard;
  private readonly counters = new Map<string, Counter<string>>();
  private readonly overflow: Counter<"metric">;
  private readonly equity: Gauge;
  private readonly balance: Gauge;
  private readonly gauges = new Map<string, Gauge<string>>();
  private readonly drawdown: Gauge;
  private readonly decisionLatency: Histogram;
  private readonly tickToOrder: Histogram;

  constructor(opts: BotMetricsOptions) {
    const registers = [this.registry];
    this.overflow = new Counter({
      name: "bitget_bot_metrics_label_overflow_total",
      help: 'Label values folded into "other" because the label had too many distinct values.',
      labelNames: ["metric"],
      registers,
    });
    this.guard = new LabelGuard(
      opts.maxLabelValues ?? DEFAULT_MAX_LABEL_VALUES,
      (metric) => this.overflow.inc({ metric }),
    );
    const counter = (name: string, help: string, labelNames: string[]) =>
      this.counters.set(name, new Counter({ name, help, labelNames, registers }));
    const gauge = (name: string, help: string, labelNames: string[] = []) => {
      const g = new Gauge({ name, help, labelNames, registers });
      if (labelNames.length > 0) this.gauges.set(name, g);
      return g;
    };
    const histogram = (name: string, help: string) =>
      new Histogram({ name, help, buckets: [...LATENCY_BUCKETS_SECONDS], registers });

    // Market data (collect and run).
    counter("bitget_bot_frames_total", "WebSocket data frames received, by channel.", ["channel"]);
    counter("bitget_bot_rows_total", "Rows written to the database, by table.", ["table"]);
    counter("bitget_bot_malformed_frames_total", "Frames dropped as malformed, by reason.", [
      "reason",
    ]);
    counter("bitget_bot_gaps_total", "Data gaps annotated, by reason.", ["reason"]);
    counter("bitget_bot_reconnects_total", "WebSocket reconnects, by feed (public|private).", [
      "feed",
    ]);
    counter("bitget_bot_rest_requests_total", "REST requests, by endpoint path and status.", [
      "endpoint",
      "status",
    ]);
    counter("bitget_bot_rest_rate_limited_total", "REST requests answered HTTP 429, by endpoint.", [
      "endpoint",
    ]);
    // Trading (run).
    counter("bitget_bot_orders_placed_total", "Orders accepted by the venue, by symbol and side.", [
      "symbol",
      "side",
    ]);
    counter("bitget_bot_orders_rejected_total", "Orders rejected (risk or venue), by reason.", [
      "reason",
    ]);
    counter("bitget_bot_orders_cancelled_total", "Orders cancelled, by reason.", ["reason"]);
    counter("bitget_bot_fills_total", "Fills received, by symbol and side.", ["symbol", "side"]);
    counter("bitget_bot_alerts_sent_total", "Alerts delivered, by sink.", ["sink"]);
    counter("bitget_bot_alerts_failed_total", "Alerts that failed to send, by sink and reason.", [
      "sink",
      "reason",
    ]);
    counter("bitget_bot_alerts_dropped_total", "Alerts dropped unsent (queue full), by sink.", [
      "sink",
    ]);
    counter("bitget_bot_retrains_total", "Model retrains finished, by outcome.", ["outcome"]);
    for (const feed of ["public", "private"]) {
      this.count("bitget_bot_reconnects_total", { feed }, 0);
    }

    this.equity = gauge("bitget_bot_equity_usdt", "Account equity (USDT).");
    this.balance = gauge("bitget_bot_balance_usdt", "Account wallet balance (USDT).");
    gauge(
      "bitget_bot_position_notional_usdt",
      "Open position notional by symbol (USDT; long > 0, short < 0, flat 0).",
      ["symbol"],
    );
    this.drawdown = gauge("bitget_bot_drawdown_ratio", "Drawdown from peak equity (ratio 0..1).");
    gauge(
      "bitget_bot_feed_lag_seconds",
      "Local receive time minus exchange event time of the last frame, by channel (seconds).",
      ["channel"],
    );
    gauge("bitget_bot_model_info", "The live model's version (value 1).", [
      "version",
    ]);
    gauge(
      "bitget_bot_feature_drift_psi",
      "Population stability index of a feature, live window vs. training data.",
      ["feature"],
    );
    for (const g of [this.equity, this.balance, this.drawdown]) g.remove();

    this.decisionLatency = histogram(
      "bitget_bot_decision_latency_seconds",
      "Strategy + risk decision time per evaluated tick (seconds).",
    );
    this.tickToOrder = histogram(
      "bitget_bot_tick_to_order_seconds",
      "Time from a market-data frame's receipt to the order request it caused (seconds).",
    );

    gauge("bitget_bot_build_info", "The bot's build version (value 1).", ["version"]);
    this.setGauge("bitget_bot_build_info", { version: opts.version }, 1);
    gauge("bitget_bot_start_time_seconds", "Process start time (Unix epoch seconds).")
      .set((opts.startTimeMs ?? Date.now()) / 1000);
  }

  /** The exposition text (format 0.0.4) of every metric, for a scrape. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** `n` WebSocket data frames received on `channel` (ticker, trade, books15, orders, …). */
  frame(channel: string, n = 1): void {
    this.count("bitget_bot_frames_total", { channel }, n);
  }
  /** `n` rows written to database `table`. */
  rows(table: string, n = 1): void {
    this.count("bitget_bot_rows_total", { table }, n);
  }
  /** A frame dropped as malformed; `reason` a short code such as `json`, `schema`. */
  malformedFrame(reason: string, n = 1): void {
    this.count("bitget_bot_malformed_frames_total", { reason }, n);
  }
  /** A gap annotated in the data; `reason` a short code such as `reconnect`, `seq`. */
  gap(reason: string): void {
    this.count("bitget_bot_gaps_total", { reason }, 1);
  }
  /** A reconnect of the public or private WebSocket feed. */
  reconnect(feed: Feed): void {
    this.count("bitget_bot_reconnects_total", { feed }, 1);
  }

  /**
   * A REST request finished. `endpoint` is the request path (a URL or a query string is cut to
   * the path); `status` the HTTP status, or a code such as `timeout` / `network` when there was no
   * response. A 429 also counts in `bitget_bot_rest_rate_limited_total`: do not count it twice.
   */
  restRequest(endpoint: string, status: number | string): void {
    const path = endpointLabel(endpoint);
    this.count("bitget_bot_rest_requests_total", { endpoint: path, status }, 1);
    if (String(status) === "429") {
      this.count("bitget_bot_rest_rate_limited_total", { endpoint: path }, 1);
    }
  }

  /** An order the venue accepted. */
  orderPlaced(symbol: string, side: Side): void {
    this.count("bitget_bot_orders_placed_total", { symbol, side }, 1);
  }
  /** An order refused by risk or the venue; `reason` a short code (`risk_max_size`, `40762`). */
  orderRejected(reason: string): void {
    this.count("bitget_bot_orders_rejected_total", { reason }, 1);
  }
  /** An order cancelled; `reason` a short code (`kill_switch`, `stale`, `replace`, `venue`). */
  orderCancelled(reason: string): void {
    this.count("bitget_bot_orders_cancelled_total", { reason }, 1);
  }
  /** A fill (partial or full) received. */
  fill(symbol: string, side: Side): void {
    this.count("bitget_bot_fills_total", { symbol, side }, 1);
  }

  /** Account equity (USDT). */
  setEquity(usdt: number): void {
    if (Number.isFinite(usdt)) this.equity.set(usdt);
  }
  /** Account wallet balance (USDT). */
  setBalance(usdt: number): void {
    if (Number.isFinite(usdt)) this.balance.set(usdt);
  }
  /** Position notional of `symbol` (USDT, signed: long > 0, short < 0; 0 when flat). */
  setPositionNotional(symbol: string, usdt: number): void {
    this.setGauge("bitget_bot_position_notional_usdt", { symbol }, usdt);
  }
  /** Drawdown from peak equity as a ratio, clamped to 0..1. */
  setDrawdown(ratio: number): void {
    if (Number.isFinite(ratio)) this.drawdown.set(Math.min(1, Math.max(0, ratio)));
  }
  /** Feed lag of `channel` (seconds: receive time − exchange timestamp of the last frame). */
  setFeedLag(channel: string, seconds: number): void {
    this.setGauge("bitget_bot_feed_lag_seconds", { channel }, seconds);
  }
  /** The live model's version; the previous version's series is removed (null: no model). */
  setModelVersion(version: string | null): void {
    this.gauges.get("bitget_bot_model_info")?.reset();
    this.guard.forget("bitget_bot_model_info");
    if (version !== null) this.setGauge("bitget_bot_model_info", { version }, 1);
  }
  /** Population stability index of `feature` (≥ 0; > 0.25 is commonly read as drift). */
  setFeatureDrift(feature: string, psi: number): void {
    this.setGauge("bitget_bot_feature_drift_psi", { feature }, psi);
  }

  /** An alert delivered to `sink` (telegram, webhook, …). */
  alertSent(sink: string): void {
    this.count("bitget_bot_alerts_sent_total", { sink }, 1);
  }
  /** An alert that failed on `sink`; `reason` a short code (`http_500`, `timeout`). */
  alertFailed(sink: string, reason: string): void {
    this.count("bitget_bot_alerts_failed_total", { sink, reason }, 1);
  }
  /** An alert dropped unsent for `sink` (queue full, rate limit). */
  alertDropped(sink: string): void {
    this.count("bitget_bot_alerts_dropped_total", { sink }, 1);
  }
  /** A retrain finished; `outcome` a short code (`promoted`, `kept`, `failed`). */
  retrain(outcome: string): void {
    this.count("bitget_bot_retrains_total", { outcome }, 1);
  }

  /** One decision's latency (seconds; a negative value, from a clock step, counts as 0). */
  observeDecisionLatency(seconds: number): void {
    if (Number.isFinite(seconds)) this.decisionLatency.observe(Math.max(0, seconds));
  }
  /** Tick receipt → order request (seconds; negative counts as 0). */
  observeTickToOrder(seconds: number): void {
    if (Number.isFinite(seconds)) this.tickToOrder.observe(Math.max(0, seconds));
  }

  /** Adds `n` to counter `name` (n = 0 creates the series at 0; n < 0 or non-finite: dropped). */
  private count(name: string, labels: Labels, n: number): void {
    const c = this.counters.get(name);
    if (c === undefined || !(n >= 0) || !Number.isFinite(n)) return;
    c.inc(this.bound(name, labels), n);
  }

  /** Sets labelled gauge `name` (non-finite: dropped). */
  private setGauge(name: string, labels: Labels, v: number): void {
    const g = this.gauges.get(name);
    if (g === undefined || !Number.isFinite(v)) return;
    g.set(this.bound(name, labels), v);
  }

  private bound(metric: string, labels: Labels): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k in labels) out[k] = this.guard.value(metric, k, labels[k]);
    return out;
  }
}
