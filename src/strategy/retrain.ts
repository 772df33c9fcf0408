/**
 * Walk-forward retraining for the `ml` strategy: the strategy streams every feature row it
 * computes (model input order, float32 as scored) with its decision time and reference price
 * into a per-symbol rolling history; at each retrain time t it trains a fresh GBDT
 * (model/train/gbdt.ts) on rows labelled with the bundle's own label definition
 * (features/labels.ts `makeLabels`: same horizon, step and cost threshold) and hands back the
 * model, which the strategy swaps in through `Scorer.fromModel`.
 *
 * No look-ahead. A row decided at time d (candle: the bar close; micro: the sample second) has a
 * label that reads the reference price at d + horizon·stepMs ("label end"). At time t only rows
 * with d ≥ t − trainWindowMs and label end ≤ t are used: rows whose horizon crosses t are purged
 * (López de Prado 2018, Advances in Financial Machine Learning, ch. 7), and the history holds
 * nothing newer than t anyway, since it is filled as the strategy streams. Symbols are pooled
 * (rows ordered by time, then by the order symbols were first seen), as model/dataset.ts does.
 *
 * Schedule. Retrains fall on the epoch-aligned grid k·everyMs: the first decision at or after a
 * grid time runs it (with t = that decision's time); grid times skipped by a data hole collapse
 * into one retrain. A retrain with fewer than minRows labelled rows, or whose labels the trainer
 * refuses, is logged as skipped and the current model stays. Training is awaited inline, so a
 * backtest is deterministic; live, the strategy pauses for the training time (logged as trainMs).
 */
import { type DataGap, makeLabels } from "../features/labels.ts";
import type { GbdtModel } from "../model/tree.ts";
import { train, type TrainData } from "../model/train/gbdt.ts";
import { TrainDataError } from "../model/train/objectives.ts";
import {
  OBJECTIVE_PARAM,
  ParamError,
  paramsWithDefaults,
  type TrainParams,
} from "../model/train/params.ts";
import type { RetrainConfig } from "./ml_config.ts";

/** The label definition retraining reproduces (from the bundle's `training` section). */
export interface LabelSpec {
  objective: "multiclass" | "binary" | "regression";
  /** Horizon in steps (bars / seconds). */
  horizon: number;
  /** Step between consecutive rows of one symbol, ms. */
  stepMs: number;
  takerFeeBps: number;
  slippageBps: number;
  /** Full spread, bps; null = the observed spread of each row. */
  spreadBps: number | null;
}

/** One retrain attempt (times epoch ms). */
export interface RetrainLogEntry {
  /** Decision time the retrain ran at: the data cut-off t. */
  time: number;
  /** Grid time that made it due (≤ time). */
  scheduledTs: number;
  /** Labelled rows the model was trained on (0 when skipped for lack of rows). */
  rowsUsed: number;
  /** Earliest / latest decision time of a used row; NaN without rows. */
  firstRowTs: number;
  lastRowTs: number;
  /** Latest label end (decision time + horizon·stepMs) among used rows; ≤ time. NaN without rows. */
  lastLabelEndTs: number;
  /** Trees in the new model (0 when skipped). */
  trees: number;
  /** Wall time of building the rows and training, ms. */
  trainMs: number;
  /** Why the retrain was skipped; null when a model was trained. */
  skipped: string | null;
  /** What made it due: the schedule, a drift alarm or a performance-decay alarm. */
  trigger: RetrainTrigger;
}

export type RetrainTrigger = "schedule" | "drift" | "decay";

/** Trains a model on the rows (inline by default; a worker thread live, see train_client.ts). */
export type TrainFn = (data: TrainData, params: TrainParams) => Promise<GbdtModel>;

/** Trainer defaults applied unless the same parameter (or an alias) is configured. */
export const RETRAIN_DEFAULT_PARAMS = [
  "num_iterations=50",
  "learning_rate=0.05",
  "num_leaves=15",
  "min_data_in_leaf=100",
  "feature_fraction=0.8",
  "bagging_fraction=0.8",
  "bagging_freq=1",
  "lambda_l2=1",
  "seed=42",
  // In-process: a trading process should not spawn histogram workers on 2 shared cores.
  "num_threads=1",
];

/**
 * Resolves the configured trainer parameters for `objective`, defaults filled in.
 * @throws RangeError for an unknown/bad parameter or a configured objective/num_class.
 */
export function retrainParams(
  objective: LabelSpec["objective"],
  user: Record<string, string | number | boolean>,
): TrainParams {
  const kv = Object.entries(user).map(([k, v]) => `${k}=${v}`);
  for (const s of kv) {
    if (OBJECTIVE_PARAM.test(s)) {
      throw new RangeError(
        `ml.retrain.params: ${s} — the objective comes from the model's label definition`,
      );
    }
  }
  try {
    return paramsWithDefaults(objective, kv, RETRAIN_DEFAULT_PARAMS);
  } catch (e) {
    if (e instanceof ParamError) throw new RangeError(`ml.retrain.params: ${e.message}`);
    throw e;
  }
}

/** Ring buffer of one symbol's rows: decision time, price, spread, features (float32). */
class SymbolHistory {
  readonly ts: Float64Array;
  readonly price: Float64Array;
  readonly spread: Float64Array;
  readonly values: Float32Array;
  start = 0;
  len = 0;
  readonly gaps: DataGap[] = [];

  constructor(readonly cap: number, readonly cols: number) {
    this.ts = new Float64Array(cap);
    this.price = new Float64Array(cap);
    this.spread = new Float64Array(cap);
    this.values = new Float32Array(cap * cols);
  }

  lastTs(): number {
    return this.len ? this.ts[(this.start + this.len - 1) % this.cap] : -Infinity;
  }

  push(ts: number, price: number, spread: number, row: ArrayLike<number>): void {
    let k: number;
    if (this.len < this.cap) k = (this.start + this.len++) % this.cap;
    else {
      k = this.start;
      this.start = (this.start + 1) % this.cap;
    }
    this.ts[k] = ts;
    this.price[k] = price;
    this.spread[k] = spread;
    const o = k * this.cols;
    for (let j = 0; j < this.cols; j++) this.values[o + j] = row[j];
  }

  /** Physical slot of the i-th oldest row. */
  slot(i: number): number {
    return (this.start + i) % this.cap;
  }
}

/** Rolling history + schedule + training; see the file doc. */
export class WalkForwardRetrainer {
  /** Every retrain attempt, in time order. */
  readonly log: RetrainLogEntry[] = [];
  private readonly hist = new Map<string, SymbolHistory>();
  /** Resolved trainer parameters. */
  readonly params: TrainParams;
  private readonly cap: number;
  private nextDue = NaN;

  /**
   * @param cfg retrain settings (trainWindowMs, everyMs, minRows, params)
   * @param label the label definition to reproduce
   * @param featureNames model input names, in the order rows are appended
   * @throws RangeError for non-positive windows or bad trainer parameters
   */
  constructor(
    readonly cfg: RetrainConfig,
    readonly label: LabelSpec,
    readonly featureNames: readonly string[],
  ) {
    if (!(cfg.trainWindowMs > 0 && cfg.everyMs > 0)) {
      throw new RangeError(
        `ml.retrain: trainWindowMs and everyMs must be > 0 ms, got ${cfg.trainWindowMs}, ${cfg.everyMs}`,
      );
    }
    if (!(label.stepMs > 0 && Number.isInteger(label.horizon) && label.horizon >= 1)) {
      throw new RangeError(
        `ml.retrain: label horizon ${label.horizon} × step ${label.stepMs} ms is invalid`,
      );
    }
    this.params = retrainParams(label.objective, cfg.params);
    // Rows with d in [t − window, t] plus the unlabelled tail, one slot of slack; the window is
    // the longer of the training and drift windows (the lifecycle's PSI reads the same history).
    const span = Math.max(cfg.trainWindowMs, cfg.driftWindowMs ?? 0);
    this.cap = Math.floor(span / label.stepMs) + label.horizon + 2;
  }

  /** Label end of a row decided at `ts` (ms). */
  labelEnd(ts: number): number {
    return ts + this.label.horizon * this.label.stepMs;
  }

  /**
   * Appends one row of `symbol` decided at `ts` (strictly after its previous row) with reference
   * price `price` (USDT), observed spread (bps, NaN when unknown) and features in model order.
   * @throws RangeError when `ts` is not after the symbol's previous row.
   */
  append(symbol: string, ts: number, price: number, spreadBps: number, row: ArrayLike<number>) {
    let h = this.hist.get(symbol);
    if (!h) {
      h = new SymbolHistory(this.cap, this.featureNames.length);
      this.hist.set(symbol, h);
    }
    if (!(ts > h.lastTs())) {
      throw new RangeError(`retrain history ${symbol}: row at ${ts} not after ${h.lastTs()}`);
    }
    h.push(ts, price, spreadBps, row);
    if (this.nextDue !== this.nextDue) {
      this.nextDue = (Math.floor(ts / this.cfg.everyMs) + 1) * this.cfg.everyMs;
    }
  }

  /** Records a known data gap of `symbol` (nothing known strictly between startTs and endTs). */
  noteGap(symbol: string, startTs: number, endTs: number): void {
    const h = this.hist.get(symbol);
    if (!h) return;
    h.gaps.push({ startTs, endTs });
    // Gaps that ended before the oldest row can no longer block a label.
    const oldest = h.len ? h.ts[h.start] : -Infinity;
    while (h.gaps.length && h.gaps[0].endTs < oldest) h.gaps.shift();
  }

  /** Moves the schedule past `now` without training (the lifecycle held this retrain). */
  skipDue(now: number): void {
    this.nextDue = (Math.floor(now / this.cfg.everyMs) + 1) * this.cfg.everyMs;
  }

  /** True when a retrain is due at decision time `now` (ms). */
  due(now: number): boolean {
    return now >= this.nextDue;
  }

  /**
   * Builds the training rows for cut-off `t` (ms): pooled rows with d ∈ [t − trainWindowMs, t]
   * and label end ≤ t, ordered by time then symbol, labels per the objective.
   */
  buildRows(
    t: number,
    window: { from: number; to: number } = { from: t - this.cfg.trainWindowMs, to: t },
  ): {
    data: TrainData;
    firstRowTs: number;
    lastRowTs: number;
    lastEnd: number;
    /** Per row: forward return (bps), class (labels.ts) and cost threshold (bps). */
    fwdRetBps: Float64Array;
    cls: Int8Array;
    thresholdBps: Float64Array;
  } {
    const L = this.label;
    const lo = window.from;
    const hi = window.to;
    const cols = this.featureNames.length;
    const picks: {
      h: SymbolHistory;
      sym: number;
      i: number;
      ts: number;
      y: number;
      ret: number;
      cls: number;
      thr: number;
    }[] = [];
    let sym = 0;
    for (const h of this.hist.values()) {
      const n = h.len;
      const ts = new Float64Array(n), price = new Float64Array(n), spread = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const k = h.slot(i);
        ts[i] = h.ts[k];
        price[i] = h.price[k];
        spread[i] = h.spread[k];
      }
      const lab = makeLabels(ts, price, {
        horizon: L.horizon,
        stepMs: L.stepMs,
        takerFeeBps: L.takerFeeBps,
        slippageBps: L.slippageBps,
        spreadBps: L.spreadBps ?? spread,
        gaps: h.gaps,
      });
      for (let i = 0; i < n; i++) {
        if (ts[i] < lo || ts[i] > hi || this.labelEnd(ts[i]) > t) continue;
        const c = lab.cls[i];
        const y = L.objective === "regression"
          ? lab.fwdRetBps[i]
          : L.objective === "binary"
          ? (c < 0 ? NaN : c === 1 ? 1 : 0)
          : c < 0
          ? NaN
          : c;
        if (y === y) {
          picks.push({
            h,
            sym,
            i,
            ts: ts[i],
            y,
            ret: lab.fwdRetBps[i],
            cls: c,
            thr: lab.thresholdBps[i],
          });
        }
      }
      sym++;
    }
    picks.sort((a, b) => a.ts - b.ts || a.sym - b.sym);
    const n = picks.length;
    const values = new Float64Array(n * cols);
    const labels = new Float64Array(n);
    const fwdRetBps = new Float64Array(n), thresholdBps = new Float64Array(n);
    const cls = new Int8Array(n);
    let lastEnd = NaN;
    for (let r = 0; r < n; r++) {
      const p = picks[r];
      fwdRetBps[r] = p.ret;
      thresholdBps[r] = p.thr;
      cls[r] = p.cls;
      const o = p.h.slot(p.i) * cols;
      for (let j = 0; j < cols; j++) values[r * cols + j] = p.h.values[o + j];
      labels[r] = p.y;
      const e = this.labelEnd(p.ts);
      if (!(e <= lastEnd)) lastEnd = e;
    }
    return {
      data: { numRows: n, numFeatures: cols, values, labels, featureNames: [...this.featureNames] },
      firstRowTs: n ? picks[0].ts : NaN,
      lastRowTs: n ? picks[n - 1].ts : NaN,
      lastEnd,
      fwdRetBps,
      cls,
      thresholdBps,
    };
  }

  /**
   * Feature rows (float32, model order, row-major) of every symbol decided in (from, to], for the
   * drift check; labels are not needed, so nothing is purged.
   */
  featureRows(from: number, to: number): { values: Float32Array; n: number } {
    const cols = this.featureNames.length;
    let n = 0;
    for (const h of this.hist.values()) {
      for (let i = 0; i < h.len; i++) {
        const t = h.ts[h.slot(i)];
        if (t > from && t <= to) n++;
      }
    }
    const values = new Float32Array(n * cols);
    let r = 0;
    for (const h of this.hist.values()) {
      for (let i = 0; i < h.len; i++) {
        const k = h.slot(i);
        const t = h.ts[k];
        if (!(t > from && t <= to)) continue;
        values.set(h.values.subarray(k * cols, (k + 1) * cols), r * cols);
        r++;
      }
    }
    return { values, n };
  }

  /** Decision time of the oldest row held (any symbol); +Infinity when empty. */
  firstTs(): number {
    let t = Infinity;
    for (const h of this.hist.values()) if (h.len) t = Math.min(t, h.ts[h.start]);
    return t;
  }

  /** Reference price of `symbol`'s row decided exactly at `ts` (USDT), NaN when not held. */
  priceAt(symbol: string, ts: number): number {
    const h = this.hist.get(symbol);
    if (!h || h.len === 0) return NaN;
    let lo = 0, hi = h.len - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const t = h.ts[h.slot(mid)];
      if (t === ts) return h.price[h.slot(mid)];
      if (t < ts) lo = mid + 1;
      else hi = mid - 1;
    }
    return NaN;
  }

  /**
   * Runs the due retrain at decision time `now` (call when `due(now)`), appends a log entry and
   * moves the schedule to the next grid time after `now`.
   * @returns the new model, or null when skipped (too few rows, labels the trainer refuses)
   */
  async retrain(
    now: number,
    trigger: RetrainTrigger = "schedule",
    trainFn: TrainFn = async (d, p) => (await train(d, p)).model,
  ): Promise<{ model: GbdtModel; data: TrainData } | null> {
    const scheduledTs = this.nextDue;
    this.nextDue = (Math.floor(now / this.cfg.everyMs) + 1) * this.cfg.everyMs;
    const t0 = performance.now();
    const b = this.buildRows(now);
    const entry: RetrainLogEntry = {
      time: now,
      scheduledTs,
      rowsUsed: b.data.numRows,
      firstRowTs: b.firstRowTs,
      lastRowTs: b.lastRowTs,
      lastLabelEndTs: b.lastEnd,
      trees: 0,
      trainMs: 0,
      skipped: null,
      trigger,
    };
    let model: GbdtModel | null = null;
    if (b.data.numRows < this.cfg.minRows) {
      entry.skipped = `${b.data.numRows} labelled rows < minRows ${this.cfg.minRows}`;
    } else {
      try {
        model = await trainFn(b.data, this.params);
        entry.trees = model.trees.length;
      } catch (e) {
        if (!(e instanceof TrainDataError)) throw e;
        entry.skipped = `trainer refused the rows: ${e.message}`;
      }
    }
    entry.trainMs = performance.now() - t0;
    this.log.push(entry);
    return model ? { model, data: b.data } : null;
  }
}
