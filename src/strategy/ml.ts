/**
 * The `ml` strategy: a GBDT model bundle (scored by onnxruntime through model/scorer.ts, the
 * production scoring path) drives entries; stops, take-profits, cooldown and a maximum holding
 * time manage the trade; optional walk-forward retraining (strategy/retrain.ts) swaps in fresh
 * models trained on the strategy's own stream.
 *
 * Style follows the model's features (ml_model.ts):
 * - candle: `onBar` on the model's bar interval; a per-symbol CandleEngine turns each closed bar
 *   into the feature row, a decision is taken at the bar close (price = close). Typical holding
 *   5–10 minutes on 1m bars.
 * - micro: `onEvent`; a per-symbol MicroSampler → MicroEngine produces one row per whole second,
 *   a decision is taken once per completed second (price = book mid now, else the sample mid).
 *   Typical holding 5–30 s.
 *
 * A decision (per symbol, after the warm-up): (1) a position older than maxHoldMs is closed
 * ("max_hold") without scoring; (2) otherwise the row is scored when the result can matter — a
 * position is open (reversal exit) or the symbol is flat, tradable and out of cooldown; only then
 * does the hook return a Promise; (3) the outputs are recorded (`view.record`: `p_<class>` or
 * `pred_bps`, plus `cost_bps` for regression, `model` = retrain count, `action` = 1 long entry,
 * −1 short entry, 2 reversal exit, 0 none); (4) the rule in ml_model.ts DecisionRule decides.
 *
 * Costs (regression): cost_bps = 2 × takerFeeRate × 1e4 (view.takerFeeRate, entry and exit pay
 * the taker fee) + slippageBps (round-trip slippage and spread allowance).
 *
 * Stops: distance d from the decision price p, in bps: `stopLossAtr` × ATR when the ATR feature
 * of the engine row (candle atr14_bps, micro atr15m_bps) is finite and positive, else
 * `stopLossBps` (same for take-profit); long stop = p·(1 − d/1e4), take-profit = p·(1 + d/1e4),
 * mirrored for shorts. The venue holds them as plan orders (engine); the strategy only learns of a
 * hit through `onPositionClosed` (or by seeing the position gone), which starts the cooldown.
 *
 * Hooks must be awaited one at a time (the engine does): a hook called while a previous one is
 * still pending throws, since the scorer and the engines are not re-entrant.
 */
import type { MarketEvent } from "../market/events.ts";
import { CandleEngine } from "../features/candle.ts";
import { MicroEngine } from "../features/micro.ts";
import { type MicroInput, MicroSampler } from "../features/micro_input.ts";
import { featureSet } from "../features/registry.ts";
import { Scorer, type ScorerCounters, type ScorerOptions } from "../model/scorer.ts";
import type {
  ClosedBar,
  EnterSignal,
  PositionView,
  Signal,
  SignalResult,
  StrategyView,
  TradingStrategy,
} from "./types.ts";
import { type MlConfig, MlConfigSchema, parseMlConfig } from "./ml_config.ts";
import {
  bundleDrift,
  classesOf,
  DecisionRule,
  defaultWarmup,
  MlSetupError,
  type ModelSetup,
  resolveModel,
  swapProblem,
  type Verdict,
} from "./ml_model.ts";
import { type RetrainLogEntry, type TrainFn, WalkForwardRetrainer } from "./retrain.ts";
import { type LifecycleEvent, type LifecycleHooks, ModelLifecycle } from "./lifecycle.ts";
import { readBundleMeta } from "../model/bundle.ts";
import { REGISTRY_REASON, RegistrySync } from "./registry_sync.ts";

export { type MlConfig, MlConfigSchema, parseMlConfig };
export { MlSetupError } from "./ml_model.ts";
export type { RetrainLogEntry } from "./retrain.ts";
export type { LifecycleEvent } from "./lifecycle.ts";

/** The `ml` TradingStrategy plus introspection for tests and reports. */
export interface MlStrategy extends TradingStrategy {
  /** The resolved model description (style, interval, features, kind, label). */
  readonly setup: Readonly<Omit<ModelSetup, "scorer">>;
  /** Every retrain attempt so far (empty without retraining). */
  readonly retrainLog: readonly RetrainLogEntry[];
  /** Drift / decay alarms, retrains, shadows, promotions and rejections (lifecycle.ts). */
  readonly lifecycleEvents: readonly LifecycleEvent[];
  /** Version of the model trading now (the bundle's name, then r1, r2, …), null without one. */
  readonly modelVersion: string | null;
  /** Resolves when background lifecycle work (training, a shadow verdict) is done. */
  lifecycleIdle(): Promise<void>;
  /**
   * Puts `version` of the model registry live in place of the running model (a promotion by
   * hand, seen by live/model_watch.ts); a no-op when it is live already.
   * @throws MlSetupError when the bundle has other features or another objective.
   */
  adoptModel(version: string, bundlePath: string): Promise<void>;
  /** Decisions scored so far. */
  readonly scoredRows: number;
  /**
   * How the current model's rows were scored (compiled ensemble vs onnxruntime, audits and
   * differences; model/scorer.ts), or null without a model.
   */
  readonly scorerCounters: Readonly<ScorerCounters> | null;
  /** Frees the ORT sessions. */
  close(): Promise<void>;
}

interface SymState {
  readonly symbol: string;
  /** Model input row (float32, model order), reused. */
  readonly row: Float32Array;
  candle: CandleEngine | null;
  micro: MicroEngine | null;
  sampler: MicroSampler | null;
  readonly buf: MicroInput[];
  /** Engine updates since the last reset. */
  steps: number;
  prevTs: number;
  /** Decision time of the last row ingested (the retrain history's key). */
  rowTs: number;
  cooldownUntil: number;
  wasOpen: boolean;
  closeHandled: boolean;
}

const STYLE_HOLD: Record<string, [number, number]> = {
  candle: [300_000, 600_000],
  micro: [5_000, 30_000],
};

/**
 * Creates the `ml` strategy (see file doc).
 * @param cfg parsed config (MlConfigSchema / parseMlConfig)
 * @param opts.modelPath bundle path overriding cfg.model
 * @throws MlSetupError (config/bundle combination), BundleError (bundle files, hash),
 *   FeatureMismatchError, RangeError (retrain parameters)
 */
export async function createMlStrategy(
  cfg: MlConfig,
  opts: {
    modelPath?: string;
    reference?: ScorerOptions["reference"];
    lifecycle?: LifecycleOptions;
  } = {},
): Promise<MlStrategy> {
  cfg = MlConfigSchema.parse(cfg); // idempotent on parsed input; fills defaults for literals
  const reference = opts.reference ?? "inline";
  const setup = await resolveModel(cfg, opts.modelPath ?? cfg.model, reference);
  const s = new MlRunner(cfg, setup, reference, opts.lifecycle);
  const { scorer: _, ...pub } = setup;
  const strat: MlStrategy = {
    name: "ml",
    barIntervals: setup.style === "candle" ? [setup.interval] : [],
    setup: pub,
    get retrainLog() {
      return s.retrainer?.log ?? [];
    },
    get lifecycleEvents() {
      return s.lifecycle?.events ?? [];
    },
    get modelVersion() {
      return s.lifecycle ? s.lifecycle.version : s.liveVersion;
    },
    lifecycleIdle: async () => {
      await s.lifecycle?.idle();
      await s.sync?.flush();
    },
    adoptModel: (version, bundlePath) => s.adopt(version, bundlePath),
    get scoredRows() {
      return s.scored;
    },
    get scorerCounters() {
      return s.scorerCounters;
    },
    onPositionClosed: (symbol, _reason, time) => s.positionClosed(symbol, time),
    close: () => s.close(),
    finish: () => s.finish(),
  };
  if (setup.style === "candle") strat.onBar = (bar, view) => s.onBar(bar, view);
  else strat.onEvent = (ev, view) => s.onEvent(ev, view);
  return strat;
}

/** How the daemon runs the model lifecycle (backtest: defaults, inline and deterministic). */
export interface LifecycleOptions {
  /** Run retraining and shadow verdicts in the background (the daemon). */
  background?: boolean;
  train?: TrainFn;
  onEvent?: (e: LifecycleEvent) => void;
  onPsi?: (names: readonly string[], psi: Float64Array) => void;
  onError?: (e: Error) => void;
  /**
   * When the model came from a registry: store each retrained model there and write the shadow
   * verdicts back (strategy/registry_sync.ts). The daemon sets it; a backtest never does.
   */
  writeRegistry?: boolean;
}

class MlRunner {
  readonly retrainer: WalkForwardRetrainer | null;
  readonly lifecycle: ModelLifecycle | null;
  readonly sync: RegistrySync | null;
  /** Version of the model trading now: registry version, bundle name, or a retrain's. */
  liveVersion: string | null;
  /** Bundle path of the live model when it came from the registry (a retrain's parent). */
  private liveBundle: string | null = null;
  private lastTime = NaN;
  /** Compiled-vs-onnxruntime differences already reported (worker reference, see conclude). */
  private reportedMismatches = 0;
  private readonly onError: ((e: Error) => void) | undefined;
  scored = 0;
  private scorer: Scorer | null;
  private rule: DecisionRule;
  private outNames: string[];
  private modelVersion = 0;
  private busy = false;
  private readonly states = new Map<string, SymState>();
  private readonly warmup: number;
  private readonly maxHoldMs: number;
  private readonly atrCol: number;
  private readonly volCol: number;
  private readonly volScale: number;
  private readonly verdict: Verdict = { side: 0, exitLong: false, exitShort: false, prob: NaN };

  /** First audit failure of a retired (retrained-away) scorer; finish() reports it. */
  private auditFailure: Error | null = null;

  constructor(
    private readonly cfg: MlConfig,
    private readonly setup: ModelSetup,
    private readonly reference: ScorerOptions["reference"],
    lifecycle: LifecycleOptions = {},
  ) {
    this.scorer = setup.scorer;
    this.rule = new DecisionRule(setup.kind, setup.classes, cfg);
    this.outNames = this.rule.outputNames();
    this.warmup = cfg.warmupSteps ?? defaultWarmup(setup);
    const [lo, hi] = STYLE_HOLD[setup.style];
    const h = setup.horizonMs;
    this.maxHoldMs = cfg.maxHoldMs ?? (h === h ? Math.min(hi, Math.max(lo, h)) : hi);
    const names = featureSet(setup.style).features;
    this.atrCol = names.indexOf(setup.style === "candle" ? "atr14_bps" : "atr15m_bps");
    // Per-step return volatility: candle rv20 is per bar; micro rv_60s sums 60 one-second returns.
    this.volCol = names.indexOf(setup.style === "candle" ? "rv20_bps" : "rv_60s");
    this.volScale = setup.style === "candle" ? 1e-4 : 1e-4 / Math.sqrt(60);
    this.retrainer = cfg.retrain.enabled && setup.label
      ? new WalkForwardRetrainer(cfg.retrain, setup.label, setup.featureNames)
      : null;
    this.liveVersion = setup.scorer ? setup.registry?.version ?? setup.bundle : null;
    this.liveBundle = setup.registry ? setup.bundlePath : null;
    this.onError = lifecycle.onError;
    const onError = lifecycle.onError ?? ((e: Error) => console.error(e.message));
    this.sync = lifecycle.writeRegistry && setup.registry
      ? RegistrySync.at(setup.registry.dir, cfg.retrain, onError)
      : null;
    this.lifecycle = this.retrainer
      ? new ModelLifecycle(cfg.retrain, this.retrainer, this.lifecycleHooks(lifecycle), {
        version: this.liveVersion,
        reference: setup.drift,
      })
      : null;
  }

  private state(symbol: string): SymState {
    let st = this.states.get(symbol);
    if (st) return st;
    const micro = this.setup.style === "micro";
    st = {
      symbol,
      row: new Float32Array(this.setup.featureNames.length),
      candle: micro ? null : new CandleEngine(this.setup.stepMs),
      micro: micro ? new MicroEngine(this.setup.micro) : null,
      sampler: micro ? new MicroSampler(symbol, "books15") : null,
      buf: [],
      steps: 0,
      prevTs: NaN,
      rowTs: NaN,
      cooldownUntil: -Infinity,
      wasOpen: false,
      closeHandled: false,
    };
    this.states.set(symbol, st);
    return st;
  }

  private enterHook(): void {
    if (this.busy) {
      throw new Error(
        "ml strategy: hook called while the previous one is still pending; await each hook",
      );
    }
  }

  onBar(bar: ClosedBar, view: StrategyView): SignalResult {
    if (bar.interval !== this.setup.interval) return;
    this.enterHook();
    const st = this.state(bar.symbol);
    if (st.prevTs === st.prevTs && bar.ts - st.prevTs > this.setup.stepMs) st.steps = 0; // hole
    const row = st.candle!.update(bar);
    st.prevTs = bar.ts;
    st.steps++;
    this.ingest(st, row, bar.ts + bar.intervalMs, bar.close, NaN);
    return this.decide(st, row, bar.close, view);
  }

  onEvent(ev: MarketEvent, view: StrategyView): SignalResult {
    this.enterHook();
    const st = this.state(ev.symbol);
    if (ev.kind === "gap") this.retrainer?.noteGap(ev.symbol, ev.startTs, ev.endTs);
    st.sampler!.push(ev, st.buf);
    const n = st.buf.length;
    if (n === 0) return;
    const maxFill = this.setup.micro.maxFillMs ?? 5000;
    let row: Float64Array | null = null;
    let mid = NaN;
    for (let i = 0; i < n; i++) {
      const rec = st.buf[i];
      if (rec.afterGap || (st.prevTs === st.prevTs && rec.ts - st.prevTs - 1000 > maxFill)) {
        st.steps = 0; // the engine resets its windows here too
      }
      row = st.micro!.update(rec);
      st.prevTs = rec.ts;
      st.steps++;
      mid = rec.mid;
      this.ingest(st, row, rec.ts, rec.mid, rec.spreadBps);
    }
    st.buf.length = 0;
    const now = view.mid(ev.symbol);
    return this.decide(st, row!, now > 0 ? now : mid, view);
  }

  positionClosed(symbol: string, time: number): void {
    const st = this.state(symbol);
    st.closeHandled = true;
    st.cooldownUntil = Math.max(st.cooldownUntil, time + this.cfg.cooldownMs);
  }

  /** Projects the engine row into the model row and appends it to the retrain history. */
  private ingest(st: SymState, row: Float64Array, ts: number, price: number, spread: number) {
    const p = this.setup.projection, r = st.row;
    for (let j = 0; j < p.length; j++) r[j] = row[p[j]];
    st.rowTs = ts;
    this.retrainer?.append(st.symbol, ts, price, spread, r);
  }

  /** Notices a position that closed without our exit or a callback (cooldown from now). */
  private syncPosition(st: SymState, pos: PositionView | null, now: number): void {
    if (pos) {
      if (!st.wasOpen) {
        st.wasOpen = true;
        st.closeHandled = false;
      }
      return;
    }
    if (st.wasOpen) {
      st.wasOpen = false;
      if (!st.closeHandled) {
        st.cooldownUntil = Math.max(st.cooldownUntil, now + this.cfg.cooldownMs);
      }
      st.closeHandled = false;
    }
  }

  private exit(st: SymState, now: number, reason: string): Signal[] {
    st.closeHandled = true;
    st.cooldownUntil = Math.max(st.cooldownUntil, now + this.cfg.cooldownMs);
    return [{ kind: "exit", symbol: st.symbol, reason }];
  }

  private decide(st: SymState, row: Float64Array, price: number, view: StrategyView): SignalResult {
    const now = view.time;
    this.lastTime = now;
    const pos = view.position(st.symbol);
    this.syncPosition(st, pos, now);
    if (pos && now - pos.openedAt >= this.maxHoldMs) return this.exit(st, now, "max_hold");
    const retrain = this.lifecycle?.step(now) ?? null;
    const warm = st.steps > this.warmup;
    const score = warm &&
      (pos
        ? this.cfg.exitOnReversal
        : now >= st.cooldownUntil && view.tradable(st.symbol) && price > 0);
    if (!retrain && !(score && this.scorer)) return;
    if (!retrain) {
      // The compiled ensemble answers synchronously (no Promise in the engine loop); rows it
      // leaves to onnxruntime (audit, or no compilation) take the async path below.
      const out = this.scorer!.trySync(st.row);
      if (out) return this.conclude(st, row, price, view, pos, out);
    }
    return this.decideAsync(st, row, price, view, pos, retrain, score);
  }

  private async decideAsync(
    st: SymState,
    row: Float64Array,
    price: number,
    view: StrategyView,
    pos: PositionView | null,
    retrain: Promise<void> | null,
    score: boolean,
  ): Promise<Signal[] | void> {
    this.busy = true;
    try {
      if (retrain) await retrain;
      const scorer = this.scorer;
      if (!score || !scorer) return;
      const out = await scorer.scoreOne(st.row);
      return this.conclude(st, row, price, view, pos, out);
    } finally {
      this.busy = false;
    }
  }

  /** Records the scores and applies the decision rule (the scored half of a decision). */
  private conclude(
    st: SymState,
    row: Float64Array,
    price: number,
    view: StrategyView,
    pos: PositionView | null,
    out: Float32Array,
  ): Signal[] | void {
    this.scored++;
    const sc = this.scorer!;
    if (sc.counters.mismatches > this.reportedMismatches && this.onError) {
      // With the reference on its worker, a difference is found after the scores were used:
      // said at once (the daemon alerts); the scorer has already fallen back to onnxruntime.
      this.reportedMismatches = sc.counters.mismatches;
      this.onError(
        new Error(
          `model ${this.liveVersion}: compiled scores ${sc.compiledOff}; scoring falls back to ` +
            `onnxruntime (set strategies.ml.scoring: onnxruntime to skip the compiled ensemble)`,
        ),
      );
    }
    const sym = st.symbol;
    const names = this.outNames;
    for (let k = 0; k < names.length; k++) view.record(sym, names[k], out[k]);
    const cost = this.setup.kind === "regression"
      ? 2 * view.takerFeeRate(sym) * 1e4 + this.cfg.slippageBps
      : NaN;
    if (cost === cost) view.record(sym, "cost_bps", cost);
    view.record(sym, "model", this.modelVersion);
    const v = this.verdict;
    this.rule.decide(out, cost, v);
    if (pos) {
      const rev = pos.side === "long" ? v.exitLong : v.exitShort;
      view.record(sym, "action", rev ? 2 : 0);
      return rev ? this.exit(st, view.time, "reversal") : undefined;
    }
    view.record(sym, "action", v.side);
    if (v.side === 0) return;
    this.lifecycle?.recordEntry(sym, st.rowTs, v.side);
    return [this.enterSignal(st, row, price, v, out)];
  }

  private enterSignal(
    st: SymState,
    row: Float64Array,
    price: number,
    v: Verdict,
    out: ArrayLike<number>,
  ): EnterSignal {
    const c = this.cfg;
    const atr = this.atrCol >= 0 ? row[this.atrCol] : NaN;
    const haveAtr = atr > 0 && Number.isFinite(atr);
    const sl = c.stopLossAtr !== undefined && haveAtr ? c.stopLossAtr * atr : c.stopLossBps;
    const tp = c.takeProfitAtr !== undefined && haveAtr ? c.takeProfitAtr * atr : c.takeProfitBps;
    const dir = v.side;
    const vol = this.volCol >= 0 ? row[this.volCol] * this.volScale : NaN;
    const what = this.setup.kind === "regression"
      ? `pred ${out[0].toFixed(2)} bps`
      : `p ${v.prob.toFixed(3)}`;
    const sig: EnterSignal = {
      kind: "enter",
      symbol: st.symbol,
      side: dir > 0 ? "long" : "short",
      price,
      reason: `ml ${this.setup.kind} ${dir > 0 ? "long" : "short"} ${what}`,
    };
    if (sl !== undefined) sig.stopPrice = price * (1 - (dir * sl) / 1e4);
    if (tp !== undefined) sig.takeProfitPrice = price * (1 + (dir * tp) / 1e4);
    if (c.trailingBps !== undefined) sig.trailingRatio = c.trailingBps / 1e4;
    if (c.sizeScale !== undefined) sig.sizeScale = c.sizeScale;
    if (v.prob === v.prob) sig.winProb = v.prob;
    if (sl !== undefined && tp !== undefined) sig.payoff = tp / sl;
    if (vol > 0 && Number.isFinite(vol)) sig.volatility = vol;
    return sig;
  }

  /** The lifecycle's hooks into this runner (lifecycle.ts). */
  private lifecycleHooks(o: LifecycleOptions): LifecycleHooks {
    const retrainedRule = () =>
      new DecisionRule(this.setup.kind, classesOf(this.setup.kind), this.cfg);
    return {
      makeScorer: (model) =>
        Scorer.fromModel(model, {
          compiled: this.cfg.scoring !== "onnxruntime",
          reference: this.reference,
        }),
      promote: async (next, version) => {
        const old = this.scorer;
        this.scorer = next;
        this.reportedMismatches = 0;
        this.modelVersion++;
        this.liveVersion = version;
        if (this.sync) this.liveBundle = await this.sync.bundlePath(version).catch(() => null);
        // A retrained model uses the project's label classes (labels.ts order).
        this.rule = retrainedRule();
        this.outNames = this.rule.outputNames();
        if (old) await this.retire(old);
      },
      discard: (scorer) => this.retire(scorer),
      live: () => ({ scorer: this.scorer, classes: this.rule.classes, rule: this.rule }),
      candidateRule: retrainedRule(),
      train: o.train,
      background: o.background ?? false,
      register: this.sync
        ? (model, ctx) => this.sync!.registerRetrain(model, ctx, this.liveBundle)
        : undefined,
      onEvent: (e) => {
        this.sync?.onEvent(e);
        o.onEvent?.(e);
      },
      onPsi: o.onPsi,
      onError: o.onError,
    };
  }

  /** See MlStrategy.adoptModel. */
  async adopt(version: string, bundlePath: string): Promise<void> {
    if (version === this.liveVersion) return;
    const meta = await readBundleMeta(bundlePath);
    const why = swapProblem(this.setup, meta);
    if (why) throw new MlSetupError(`model ${version} cannot replace ${this.liveVersion}: ${why}`);
    const next = await Scorer.load(bundlePath, meta.featureNames, {
      compiled: this.cfg.scoring !== "onnxruntime",
      reference: this.reference,
    });
    const old = this.scorer;
    const previous = this.liveVersion;
    this.scorer = next;
    this.reportedMismatches = 0;
    this.modelVersion++;
    this.liveVersion = version;
    this.liveBundle = bundlePath;
    this.rule = new DecisionRule(
      meta.objective.name,
      meta.classes ?? classesOf(meta.objective.name),
      this.cfg,
    );
    this.outNames = this.rule.outputNames();
    const now = this.lastTime === this.lastTime ? this.lastTime : Date.now();
    const reason = `${REGISTRY_REASON} promoted in the registry (was ${previous ?? "none"})`;
    this.lifecycle?.adopt(version, bundleDrift(meta), now, reason);
    if (old) await this.retire(old);
  }

  /** Settles a scorer's audits (keeping the first failure) and frees it. */
  private async retire(scorer: Scorer): Promise<void> {
    try {
      await scorer.settle();
    } catch (e) {
      this.auditFailure ??= e as Error;
    } finally {
      await scorer.release();
    }
  }

  /** Settles every audit of the run and frees the scorer; throws the first audit failure. */
  async finish(): Promise<void> {
    const s = this.scorer;
    this.scorer = null;
    if (s) {
      this.lastCounters = { ...s.counters };
      await this.retire(s);
      this.lastCounters = { ...s.counters };
    }
    if (this.auditFailure) throw this.auditFailure;
  }

  private lastCounters: ScorerCounters | null = null;

  get scorerCounters(): Readonly<ScorerCounters> | null {
    return this.scorer ? { ...this.scorer.counters } : this.lastCounters;
  }

  async close(): Promise<void> {
    await this.scorer?.release();
    this.scorer = null;
  }
}
