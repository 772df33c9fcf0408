/**
 * The `ml` model's life while it trades: when to retrain, whether the new model may trade, and
 * the record of every step. Built on the walk-forward retrainer (retrain.ts), which holds the
 * rolling feature history and trains without look-ahead.
 *
 * Triggers, checked at each decision time `now`:
 *  - schedule: the retrainer's epoch grid (`everyMs`);
 *  - drift: every `driftCheckMs`, the PSI (model/drift.ts) of each feature over
 *    (now − driftWindowMs, now] against the live model's training rows (the bundle's `drift`
 *    section, or a promoted retrain's rows; a bundle without one is compared with the stream's
 *    first full `trainWindowMs` until a retrained model is promoted); any feature above
 *    `psiThreshold` (other than those in `driftExclude`) is a drift alarm; no check runs before
 *    the stream covers a whole `driftWindowMs`;
 *  - decay: the per-decision Sharpe ratio (mean / sample standard deviation of the after-cost
 *    returns, bps, of the live model's last `sharpeWindow` matured entries) below
 *    `sharpeThreshold` is a decay alarm.
 * An alarm retrains unless a retrain ran within `minIntervalMs` or a candidate is in shadow.
 *
 * Shadow: a retrained model is a candidate for `shadowForMs`; it never trades then. Its verdict
 * waits until the labels of the shadow window have matured (window end + horizon); both models
 * then score the window's labelled rows — the very rows the live model decided on, so each
 * model's scores are what it produced, or would have produced, online — and the candidate is
 * promoted when its logloss (classifiers) is at most the live model's, or its information
 * coefficient (regression, Pearson of prediction and forward return) at least the live one's;
 * else rejected with the reason. No live model yet: promoted at once. Hit rate after costs (share
 * of the rule's entries whose forward return beat the label's cost threshold) is reported beside.
 *
 * Modes. `inline` (backtest): the work is returned as a Promise the strategy awaits inside its
 * hook, so a backtest is deterministic. `background` (the daemon): training runs on a worker
 * thread (train_client.ts) and the work is not awaited; decisions go on with the live model and
 * the swap happens when the work completes.
 */
import { costThresholdBps, LABEL_CLASSES } from "../features/labels.ts";
import { DriftReference } from "../model/drift.ts";
import type { Scorer } from "../model/scorer.ts";
import type { TrainData } from "../model/train/gbdt.ts";
import type { GbdtModel } from "../model/tree.ts";
import type { DecisionRule, Verdict } from "./ml_model.ts";
import type { RetrainConfig } from "./ml_config.ts";
import type { RetrainTrigger, TrainFn, WalkForwardRetrainer } from "./retrain.ts";

/** Model quality on matured shadow rows. */
export interface ShadowMetrics {
  rows: number;
  /** Classifiers: mean negative log-likelihood of the true class (nats); NaN for regression. */
  logloss: number;
  /** Regression: Pearson correlation of prediction and forward return; NaN for classifiers. */
  ic: number;
  /** Entries the decision rule would take on the rows, and the share that beat the cost. */
  entries: number;
  hitRate: number;
}

/** One step of the model's life (times epoch ms, engine time). */
export type LifecycleEvent =
  | {
    type: "drift_alarm";
    ts: number;
    threshold: number;
    /** Features above the threshold, largest PSI first. */
    features: { name: string; psi: number }[];
    rows: number;
  }
  | { type: "decay_alarm"; ts: number; sharpe: number; threshold: number; decisions: number }
  | {
    type: "retrain";
    ts: number;
    trigger: RetrainTrigger;
    /** The new model's version; null when the retrain was skipped. */
    version: string | null;
    rowsUsed: number;
    trees: number;
    trainMs: number;
    skipped: string | null;
  }
  | { type: "shadow_start"; ts: number; version: string; untilTs: number }
  | {
    type: "promoted";
    ts: number;
    version: string;
    previous: string | null;
    reason: string;
    candidate: ShadowMetrics | null;
    live: ShadowMetrics | null;
  }
  | {
    type: "rejected";
    ts: number;
    version: string;
    reason: string;
    candidate: ShadowMetrics | null;
    live: ShadowMetrics | null;
  };

export interface LifecycleHooks {
  /** Scorer for a freshly trained model (Scorer.fromModel). */
  makeScorer(model: GbdtModel): Promise<Scorer>;
  /** Puts `scorer` live (retiring the previous one); `classes` of a retrained model. */
  promote(scorer: Scorer, version: string): Promise<void>;
  /** Frees a rejected candidate. */
  discard(scorer: Scorer): Promise<void>;
  /** The live scorer, its output classes (null: regression) and decision rule. */
  live(): { scorer: Scorer | null; classes: readonly string[] | null; rule: DecisionRule };
  /** Decision rule for a retrained model (the project's label classes). */
  candidateRule: DecisionRule;
  /** Trains the rows (inline by default; the daemon passes a worker-thread trainer). */
  train?: TrainFn;
  background: boolean;
  /** Every event, as it happens (the daemon alerts, counts and stores them). */
  onEvent?: (e: LifecycleEvent) => void;
  /** Called with every drift check's PSI per feature (the daemon's gauges). */
  onPsi?: (names: readonly string[], psi: Float64Array) => void;
  /** Errors of background work (logged by the caller; the live model stays). */
  onError?: (e: Error) => void;
  /**
   * Names (and stores) a freshly retrained model: the daemon registers it in the model registry
   * and gets its registry version back. Default: `r<N>`, the N-th retrain of this run.
   */
  register?: (
    model: GbdtModel,
    ctx: RetrainContext,
  ) => Promise<string>;
}

/** A retrain's circumstances, for {@link LifecycleHooks.register}. */
export interface RetrainContext {
  trigger: RetrainTrigger;
  ts: number;
  parent: string | null;
  data: TrainData;
  /** PSI reference of the training rows (computed once, for the lifecycle and the bundle). */
  reference: DriftReference;
}

interface Candidate {
  scorer: Scorer;
  version: string;
  reference: DriftReference;
  fromTs: number;
  untilTs: number;
}

interface Entry {
  symbol: string;
  ts: number;
  side: number;
}

export class ModelLifecycle {
  readonly events: LifecycleEvent[] = [];
  private reference: DriftReference | null;
  /** Where the drift reference came from: the bundle, the stream's first window, a retrain. */
  referenceSource: "bundle" | "stream" | "training" | null;
  private candidate: Candidate | null = null;
  private job: Promise<void> | null = null;
  private nextDriftCheck = NaN;
  private drifting = false;
  private lastRetrain = -Infinity;
  private retrains = 0;
  private liveVersion: string | null;
  private readonly pending: Entry[] = [];
  private returns: number[] = [];
  private readonly costBps: number;
  private readonly horizonMs: number;

  constructor(
    private readonly cfg: RetrainConfig,
    private readonly rt: WalkForwardRetrainer,
    private readonly hooks: LifecycleHooks,
    /** Version of the bundle's model (null: no model yet) and its drift reference, if saved. */
    start: { version: string | null; reference: DriftReference | null },
  ) {
    this.liveVersion = start.version;
    this.reference = start.reference;
    this.referenceSource = start.reference ? "bundle" : null;
    const L = rt.label;
    this.costBps = costThresholdBps(L.takerFeeBps, L.spreadBps ?? 0, L.slippageBps);
    this.horizonMs = L.horizon * L.stepMs;
  }

  /** Version of the model trading now (null before the first). */
  get version(): string | null {
    return this.liveVersion;
  }

  /** True while background work (training, shadow verdict) runs. */
  get busy(): boolean {
    return this.job !== null;
  }

  /** Resolves once background work in flight is done (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.job) await this.job;
  }

  /**
   * An entry the live model decided on `symbol`'s row of time `rowTs` (its after-cost forward
   * return over the label horizon feeds the decay check).
   */
  recordEntry(symbol: string, rowTs: number, side: number): void {
    if (side !== 0) this.pending.push({ symbol, ts: rowTs, side });
  }

  /**
   * Runs what is due at decision time `now`. Inline mode: returns the work to await (null when
   * nothing is due). Background mode: starts it and returns null.
   */
  step(now: number): Promise<void> | null {
    if (this.job) return null;
    const work = this.plan(now);
    if (!work) return null;
    if (!this.hooks.background) return work();
    this.job = work()
      .catch((e) => this.hooks.onError?.(e as Error))
      .finally(() => (this.job = null));
    return null;
  }

  private emit(e: LifecycleEvent): void {
    this.events.push(e);
    this.hooks.onEvent?.(e);
  }

  private plan(now: number): (() => Promise<void>) | null {
    const c = this.candidate;
    if (c && now >= c.untilTs + this.horizonMs) return () => this.verdict(c, now);
    let trigger: RetrainTrigger | null = this.rt.due(now) ? "schedule" : null;
    const alarmsOk = !c && now - this.lastRetrain >= this.cfg.minIntervalMs;
    if (!trigger && this.driftDue(now)) {
      const over = this.driftCheck(now);
      // An alarm is raised when drift starts, and again whenever it makes a retrain; a drift
      // that persists while a retrain is held back (interval, shadow) is not re-announced.
      if (over && (alarmsOk || !this.drifting)) this.emit(over);
      this.drifting = over !== null;
      if (over && alarmsOk) trigger = "drift";
    }
    if (!trigger && this.decayAlarm(now) && alarmsOk) trigger = "decay";
    if (!trigger) return null;
    if (c) {
      // One candidate at a time: the schedule moves on; the next grid time retries.
      this.rt.log.push({
        time: now,
        scheduledTs: now,
        rowsUsed: 0,
        firstRowTs: NaN,
        lastRowTs: NaN,
        lastLabelEndTs: NaN,
        trees: 0,
        trainMs: 0,
        skipped: `candidate ${c.version} still in shadow`,
        trigger,
      });
      this.rt.skipDue(now);
      return null;
    }
    const t = trigger;
    return () => this.retrain(now, t);
  }

  private driftDue(now: number): boolean {
    if (this.nextDriftCheck !== this.nextDriftCheck) {
      this.nextDriftCheck = now + this.cfg.driftCheckMs;
      return false;
    }
    if (now < this.nextDriftCheck) return false;
    this.nextDriftCheck = now + this.cfg.driftCheckMs;
    return true;
  }

  /**
   * PSI of the last driftWindowMs against the live model's training rows (module doc); the
   * alarm when a feature is above the threshold, else null.
   */
  private driftCheck(now: number): Extract<LifecycleEvent, { type: "drift_alarm" }> | null {
    if (!this.reference) {
      // A bundle without its training rows' bins (imported from LightGBM, or trained before
      // bundles carried them): the first full training window of the stream stands in until a
      // promoted model brings its own.
      if (now - this.rt.firstTs() < this.cfg.trainWindowMs) return null;
      const first = this.rt.featureRows(now - this.cfg.trainWindowMs, now);
      if (first.n === 0) return null;
      this.reference = DriftReference.fromRows(
        first.values,
        first.n,
        this.rt.featureNames,
        this.cfg.psiBins,
      );
      this.referenceSource = "stream";
      return null;
    }
    // A window the stream does not cover yet (start, restart) would compare a few warm-up rows.
    if (now - this.rt.firstTs() < this.cfg.driftWindowMs) return null;
    const ref = this.reference;
    const w = this.rt.featureRows(now - this.cfg.driftWindowMs, now);
    if (w.n === 0) return null;
    const p = ref.psiOf(w.values, w.n);
    this.hooks.onPsi?.(this.rt.featureNames, p);
    const over = [];
    const skip = this.cfg.driftExclude;
    for (let j = 0; j < p.length; j++) {
      const name = this.rt.featureNames[j];
      if (p[j] > this.cfg.psiThreshold && !skip.includes(name)) over.push({ name, psi: p[j] });
    }
    if (over.length === 0) return null;
    over.sort((a, b) => b.psi - a.psi);
    return {
      type: "drift_alarm",
      ts: now,
      threshold: this.cfg.psiThreshold,
      features: over,
      rows: w.n,
    };
  }

  /** Matures the recorded entries and tests the rolling Sharpe (module doc). */
  private decayAlarm(now: number): boolean {
    const thr = this.cfg.sharpeThreshold;
    let k = 0;
    for (; k < this.pending.length; k++) {
      const e = this.pending[k];
      const end = e.ts + this.horizonMs;
      if (end > now) break;
      const p0 = this.rt.priceAt(e.symbol, e.ts), p1 = this.rt.priceAt(e.symbol, end);
      if (p0 > 0 && p1 > 0) this.returns.push(e.side * Math.log(p1 / p0) * 1e4 - this.costBps);
    }
    if (k > 0) this.pending.splice(0, k);
    const n = this.cfg.sharpeWindow;
    if (this.returns.length > n) this.returns = this.returns.slice(-n);
    if (thr === null || this.returns.length < n || k === 0) return false;
    const sharpe = sharpeOf(this.returns);
    if (!(sharpe < thr)) return false;
    this.emit({
      type: "decay_alarm",
      ts: now,
      sharpe: round(sharpe, 4),
      threshold: thr,
      decisions: n,
    });
    return true;
  }

  private async retrain(now: number, trigger: RetrainTrigger): Promise<void> {
    this.lastRetrain = now;
    const r = await this.rt.retrain(now, trigger, this.hooks.train);
    const entry = this.rt.log[this.rt.log.length - 1];
    let version: string | null = null;
    const reference = r ? referenceOf(r.data, this.cfg.psiBins) : null;
    if (r && reference) {
      ++this.retrains;
      version = this.hooks.register
        ? await this.hooks.register(r.model, {
          trigger,
          ts: now,
          parent: this.liveVersion,
          data: r.data,
          reference,
        })
        : `r${this.retrains}`;
    }
    this.emit({
      type: "retrain",
      ts: now,
      trigger,
      version,
      rowsUsed: entry.rowsUsed,
      trees: entry.trees,
      trainMs: Math.round(entry.trainMs),
      skipped: entry.skipped,
    });
    if (!r || !version || !reference) return;
    const scorer = await this.hooks.makeScorer(r.model);
    const live = this.hooks.live().scorer;
    if (!live || this.cfg.shadowForMs <= 0) {
      await this.swap({ scorer, version, reference, fromTs: now, untilTs: now }, now, {
        reason: live ? "shadow off (shadowForMs 0)" : "no live model",
        candidate: null,
        live: null,
      });
      return;
    }
    this.candidate = {
      scorer,
      version,
      reference,
      fromTs: now,
      untilTs: now + this.cfg.shadowForMs,
    };
    this.emit({ type: "shadow_start", ts: now, version, untilTs: now + this.cfg.shadowForMs });
  }

  private async swap(
    c: Candidate,
    now: number,
    why: { reason: string; candidate: ShadowMetrics | null; live: ShadowMetrics | null },
  ): Promise<void> {
    const previous = this.liveVersion;
    await this.hooks.promote(c.scorer, c.version);
    this.liveVersion = c.version;
    this.reference = c.reference;
    this.referenceSource = "training";
    this.returns = [];
    this.pending.length = 0;
    this.emit({ type: "promoted", ts: now, version: c.version, previous, ...why });
  }

  /**
   * A model put live from outside the lifecycle (a registry promotion by hand): it becomes the
   * live version with its own drift reference (null: the stream's next full window stands in),
   * and the decay statistics start over. A candidate in shadow stays; its verdict compares it
   * with this model.
   */
  adopt(version: string, reference: DriftReference | null, now: number, reason: string): void {
    const previous = this.liveVersion;
    this.liveVersion = version;
    this.reference = reference;
    this.referenceSource = reference ? "bundle" : null;
    this.returns = [];
    this.pending.length = 0;
    this.emit({
      type: "promoted",
      ts: now,
      version,
      previous,
      reason,
      candidate: null,
      live: null,
    });
  }

  /** The shadow verdict once the window's labels matured (module doc). */
  private async verdict(c: Candidate, now: number): Promise<void> {
    this.candidate = null;
    const rows = this.rt.buildRows(now, { from: c.fromTs, to: c.untilTs });
    const n = rows.data.numRows;
    const live = this.hooks.live();
    if (n < this.cfg.minShadowRows || !live.scorer) {
      await this.hooks.discard(c.scorer);
      this.emit({
        type: "rejected",
        ts: now,
        version: c.version,
        reason: `${n} matured shadow rows < minShadowRows ${this.cfg.minShadowRows}`,
        candidate: null,
        live: null,
      });
      return;
    }
    const x = Float32Array.from(rows.data.values);
    const [outL, outC] = [
      await live.scorer.scoreBatch(x.slice(), n),
      await c.scorer.scoreBatch(x.slice(), n),
    ];
    const kind = this.rt.label.objective;
    const mL = evaluate(outL, n, kind, live.classes, live.rule, rows);
    const mC = evaluate(
      outC,
      n,
      kind,
      [...(classesFor(kind) ?? [])],
      this.hooks.candidateRule,
      rows,
    );
    const better = kind === "regression" ? mC.ic >= mL.ic : mC.logloss <= mL.logloss;
    const what = kind === "regression"
      ? `IC ${fmt(mC.ic)} vs live ${fmt(mL.ic)}`
      : `logloss ${fmt(mC.logloss)} vs live ${fmt(mL.logloss)}`;
    if (better) {
      await this.swap(c, now, { reason: `${what} on ${n} rows`, candidate: mC, live: mL });
    } else {
      await this.hooks.discard(c.scorer);
      this.emit({
        type: "rejected",
        ts: now,
        version: c.version,
        reason: `${what} on ${n} rows: worse than the live model`,
        candidate: mC,
        live: mL,
      });
    }
  }
}

function classesFor(kind: string): string[] | null {
  return kind === "multiclass"
    ? [...LABEL_CLASSES]
    : kind === "binary"
    ? ["not_long", "long"]
    : null;
}

/** Drift reference of a training set (float32 values, as the model saw them). */
export function referenceOf(data: TrainData, bins: number): DriftReference {
  return DriftReference.fromRows(data.values, data.numRows, data.featureNames ?? [], bins);
}

function evaluate(
  out: Float32Array,
  n: number,
  kind: string,
  classes: readonly string[] | null,
  rule: DecisionRule,
  rows: { cls: Int8Array; fwdRetBps: Float64Array; thresholdBps: Float64Array },
): ShadowMetrics {
  const w = out.length / n;
  let ll = 0, entries = 0, hits = 0;
  let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  const v: Verdict = { side: 0, exitLong: false, exitShort: false, prob: NaN };
  for (let i = 0; i < n; i++) {
    const o = out.subarray(i * w, (i + 1) * w);
    const ret = rows.fwdRetBps[i], thr = rows.thresholdBps[i];
    if (kind === "regression") {
      const x = o[0];
      sx += x;
      sy += ret;
      sxx += x * x;
      syy += ret * ret;
      sxy += x * ret;
    } else if (kind === "binary") {
      const p = o[1], y = rows.cls[i] === 1 ? 1 : 0;
      ll -= Math.log(Math.max(1e-15, y ? p : 1 - p));
    } else {
      const k = classes ? classes.indexOf(LABEL_CLASSES[rows.cls[i]]) : -1;
      ll -= Math.log(Math.max(1e-15, k >= 0 ? o[k] : 0));
    }
    rule.decide(o, thr, v);
    if (v.side !== 0) {
      entries++;
      if (v.side * ret > thr) hits++;
    }
  }
  const cov = sxy / n - (sx / n) * (sy / n);
  const vx = sxx / n - (sx / n) ** 2, vy = syy / n - (sy / n) ** 2;
  return {
    rows: n,
    logloss: kind === "regression" ? NaN : round(ll / n, 6),
    ic: kind === "regression" ? round(vx > 0 && vy > 0 ? cov / Math.sqrt(vx * vy) : 0, 6) : NaN,
    entries,
    hitRate: entries ? round(hits / entries, 4) : NaN,
  };
}

/** Mean over sample standard deviation (per observation, not annualised); NaN when flat. */
export function sharpeOf(xs: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  let m = 0;
  for (const x of xs) m += x;
  m /= n;
  let s = 0;
  for (const x of xs) s += (x - m) ** 2;
  const sd = Math.sqrt(s / (n - 1));
  return sd > 0 ? m / sd : NaN;
}

function round(x: number, d: number): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toFixed(4) : String(x);
}
