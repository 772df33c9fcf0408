/**
 * The `micro` feature engine: one feature vector per 1 s sample (`MicroInput`), in the order of
 * `FEATURE_SETS.micro` (definitions, units and warm-ups in registry.ts).
 *
 * Live and batch are one code path: `runMicroBatch` just calls `MicroEngine.update` on every row,
 * so a backtest or training matrix equals what the live engine produced, bit for bit.
 *
 * Cadence and gaps. Samples must come in time order on a 1 s grid (ts a multiple of 1000 ms).
 * A short hole (≤ `maxFillMs` of missing seconds) is filled forward inside the engine: the
 * missing seconds repeat the previous book and ticker with no trades, which is exactly what a
 * sampler emits when nothing happened, so a store that skips idle seconds and a live sampler that
 * does not give the same features. A longer hole, or a sample flagged `afterGap`, resets every
 * window (warm-ups start again). Filled seconds produce no output row.
 *
 * The 15-minute ATR is built from the mids inside the engine: a sample at ts belongs to the bar
 * (E − I, E] with E = ceil(ts/I)·I (the trade-flow convention); a bar the engine did not see from
 * its first second is skipped, so no partial bar enters the ATR.
 */
import { Atr, Lag, RollingStats, sqrtNonNeg } from "./indicators.ts";
import type { FeatureMatrix } from "./matrix.ts";
import type { MicroInput } from "./micro_input.ts";
import { columnIndex, MICRO_FEATURES } from "./registry.ts";

export interface MicroOptions {
  /** Longest run of missing seconds filled forward (ms); longer holes reset. Default 5000. */
  maxFillMs?: number;
  /**
   * Window (samples) of the "60 min" z-scores, default 3600. Non-default values exist for tests
   * and research on short recordings; a model bundle must record them.
   */
  longWindow?: number;
  /** Bar length (ms) of the ATR built from mids, default 900 000 (15 min). */
  atrBarMs?: number;
}

const STEP_MS = 1000;
const RET_WINDOWS = [1, 5, 10, 20, 30, 60] as const;
const C = columnIndex(MICRO_FEATURES);
const RET_COL = [C.ret_1s, C.ret_5s, C.ret_10s, C.ret_20s, C.ret_30s, C.ret_60s];
const RV_COL = [C.rv_1s, C.rv_5s, C.rv_10s, C.rv_20s, C.rv_30s, C.rv_60s];
const OI_LAG = 60;

function bad(ts: number, what: string, v: unknown): never {
  throw new RangeError(`micro input at ts=${ts}: ${what}, got ${v}`);
}

/** Streaming micro feature state of one symbol. */
export class MicroEngine {
  /** Feature names in output order. */
  readonly names: readonly string[] = MICRO_FEATURES;
  private readonly out = new Float64Array(MICRO_FEATURES.length);
  private readonly maxFillMs: number;
  private readonly atrBarMs: number;
  private readonly mids = new Lag(60);
  private readonly rv = RET_WINDOWS.map((n) => new RollingStats(n));
  private readonly spread10 = new RollingStats(10);
  private readonly spread60 = new RollingStats(60);
  private readonly deltaNotional10 = new RollingStats(10);
  private readonly delta10 = new RollingStats(10);
  private readonly volume10 = new RollingStats(10);
  private readonly delta60 = new RollingStats(60);
  private readonly imb1Lag = new Lag(5);
  private readonly imb5Lag = new Lag(5);
  private readonly markLast: RollingStats;
  private readonly oiLag = new Lag(OI_LAG);
  private readonly oiChg: RollingStats;
  private readonly atr = new Atr(14);
  private barEnd = NaN;
  private barComplete = false;
  private barHigh = NaN;
  private barLow = NaN;
  private barClose = NaN;
  private lastBarClose = NaN;
  private prevTs = NaN;
  /** Copy of the last sample, reused to fill short holes. */
  private readonly prev: MicroInput = {
    ts: NaN,
    mid: NaN,
    spreadBps: NaN,
    imbalance1: NaN,
    imbalance3: NaN,
    imbalance5: NaN,
    depthTotal: NaN,
    depth5bps: NaN,
    depth10bps: NaN,
    buyVolume: 0,
    sellVolume: 0,
    tradeCount: 0,
    vwap: NaN,
    last: NaN,
    markPrice: NaN,
    indexPrice: NaN,
    fundingRate: NaN,
    nextFundingTime: NaN,
    openInterest: NaN,
  };

  constructor(opts: MicroOptions = {}) {
    this.maxFillMs = opts.maxFillMs ?? 5000;
    const long = opts.longWindow ?? 3600;
    this.atrBarMs = opts.atrBarMs ?? 900_000;
    if (!(this.maxFillMs >= 0)) {
      throw new RangeError(`maxFillMs must be ≥ 0, got ${opts.maxFillMs}`);
    }
    if (!(this.atrBarMs >= STEP_MS && this.atrBarMs % STEP_MS === 0)) {
      throw new RangeError(`atrBarMs must be a positive multiple of 1000, got ${opts.atrBarMs}`);
    }
    this.markLast = new RollingStats(long);
    this.oiChg = new RollingStats(long);
  }

  /**
   * Consumes the sample at `x.ts` and returns the feature vector (a view overwritten by the next
   * call: copy it to keep it). Throws RangeError on a sample out of time order, off the 1 s grid,
   * or with a non-finite mid/spread/imbalance or a negative/non-finite trade volume.
   */
  update(x: MicroInput): Float64Array {
    const ts = x.ts;
    // Messages are built only on failure: this runs once per second per symbol.
    if (!(Number.isInteger(ts) && ts % STEP_MS === 0)) {
      bad(ts, "ts must be a whole second in ms", ts);
    }
    if (!(x.mid > 0 && Number.isFinite(x.mid))) bad(ts, "mid must be a positive number", x.mid);
    if (!Number.isFinite(x.spreadBps)) bad(ts, "spreadBps must be finite", x.spreadBps);
    if (!Number.isFinite(x.imbalance1)) bad(ts, "imbalance1 must be finite", x.imbalance1);
    if (!Number.isFinite(x.imbalance5)) bad(ts, "imbalance5 must be finite", x.imbalance5);
    if (!(x.buyVolume >= 0 && x.sellVolume >= 0)) {
      bad(ts, "buy/sell volume must be ≥ 0", `${x.buyVolume}/${x.sellVolume}`);
    }
    if (!(x.tradeCount >= 0)) bad(ts, "tradeCount must be ≥ 0", x.tradeCount);
    const pts = this.prevTs;
    if (pts === pts) {
      if (!(ts > pts)) bad(ts, `samples must be in time order (previous ${pts})`, ts);
      if (x.afterGap || ts - pts - STEP_MS > this.maxFillMs) this.reset();
      else if (ts - pts > STEP_MS) {
        const f = this.prev;
        f.buyVolume = f.sellVolume = f.tradeCount = 0;
        f.vwap = NaN;
        for (let t = pts + STEP_MS; t < ts; t += STEP_MS) {
          f.ts = t;
          this.step(f);
        }
      }
    }
    this.step(x);
    this.remember(x);
    return this.out;
  }

  /** Forgets all state (as after a gap); the next sample starts every warm-up again. */
  reset(): void {
    this.mids.reset();
    for (const r of this.rv) r.reset();
    this.spread10.reset();
    this.spread60.reset();
    this.deltaNotional10.reset();
    this.delta10.reset();
    this.volume10.reset();
    this.delta60.reset();
    this.imb1Lag.reset();
    this.imb5Lag.reset();
    this.markLast.reset();
    this.oiLag.reset();
    this.oiChg.reset();
    this.atr.reset();
    this.barEnd =
      this.barHigh =
      this.barLow =
      this.barClose =
      this.lastBarClose =
        NaN;
    this.barComplete = false;
    this.prevTs = NaN;
  }

  private remember(x: MicroInput): void {
    const p = this.prev;
    p.ts = x.ts;
    p.mid = x.mid;
    p.spreadBps = x.spreadBps;
    p.imbalance1 = x.imbalance1;
    p.imbalance3 = x.imbalance3;
    p.imbalance5 = x.imbalance5;
    p.depthTotal = x.depthTotal;
    p.depth5bps = x.depth5bps;
    p.depth10bps = x.depth10bps;
    p.last = x.last;
    p.markPrice = x.markPrice;
    p.indexPrice = x.indexPrice;
    p.fundingRate = x.fundingRate;
    p.nextFundingTime = x.nextFundingTime;
    p.openInterest = x.openInterest;
    this.prevTs = x.ts;
  }

  private step(x: MicroInput): void {
    const o = this.out;
    const mid = x.mid;
    o[C.imb1] = x.imbalance1;
    o[C.imb3] = x.imbalance3;
    o[C.imb5] = x.imbalance5;
    o[C.depth_total_usdt] = x.depthTotal * mid;
    o[C.depth5_usdt] = x.depth5bps * mid;
    o[C.depth10_usdt] = x.depth10bps * mid;

    o[C.spread_bps] = x.spreadBps;
    this.spread10.push(x.spreadBps);
    this.spread60.push(x.spreadBps);
    o[C.spread_mean_10s] = this.spread10.mean();
    o[C.spread_std_10s] = this.spread10.std(1);
    o[C.spread_mean_60s] = this.spread60.mean();
    o[C.spread_std_60s] = this.spread60.std(1);

    this.mids.push(mid);
    const r1 = Math.log(mid / this.mids.ago(1));
    const r1sq = r1 * r1;
    for (let k = 0; k < RET_WINDOWS.length; k++) {
      o[RET_COL[k]] = Math.log(mid / this.mids.ago(RET_WINDOWS[k])) * 1e4;
      this.rv[k].push(r1sq);
      o[RV_COL[k]] = sqrtNonNeg(this.rv[k].sum()) * 1e4;
    }
    o[C.mom_5s_60s] = o[C.ret_5s] - (o[C.ret_60s] * 5) / 60;
    const rv60 = o[C.rv_60s];
    o[C.mom_10s_rv60s] = rv60 > 0 ? o[C.ret_10s] / rv60 : rv60 === 0 ? 0 : NaN;

    const delta = x.buyVolume - x.sellVolume;
    o[C.flow_delta_usdt] = delta * mid;
    this.deltaNotional10.push(delta * mid);
    o[C.flow_delta_10s_usdt] = this.deltaNotional10.sum();
    this.delta10.push(delta);
    this.volume10.push(x.buyVolume + x.sellVolume);
    const vol10 = this.volume10.sum();
    o[C.flow_imb_10s] = vol10 > 0 ? this.delta10.sum() / vol10 : vol10 === 0 ? 0 : NaN;
    this.delta60.push(delta);
    o[C.flow_delta_z_60s] = this.delta60.zscore(delta);
    o[C.trade_count_1s] = x.tradeCount;
    o[C.vwap_mid_bps] = x.tradeCount > 0 ? ((x.vwap - mid) / mid) * 1e4 : NaN;

    this.imb1Lag.push(x.imbalance1);
    this.imb5Lag.push(x.imbalance5);
    o[C.imb1_chg_5s] = x.imbalance1 - this.imb1Lag.ago(5);
    o[C.imb5_chg_5s] = x.imbalance5 - this.imb5Lag.ago(5);

    const ml = ((x.markPrice - x.last) / mid) * 1e4;
    o[C.mark_last_bps] = ml;
    this.markLast.push(ml);
    o[C.mark_last_z_60m] = ml === ml ? this.markLast.zscore(ml) : NaN;
    o[C.basis_bps] = ((x.markPrice - x.indexPrice) / x.indexPrice) * 1e4;
    o[C.funding_rate_bps] = x.fundingRate * 1e4;
    o[C.funding_time_min] = (x.nextFundingTime - x.ts) / 60_000;

    this.oiLag.push(x.openInterest);
    const oiChg = Math.log(x.openInterest / this.oiLag.ago(OI_LAG)) * 1e4;
    this.oiChg.push(oiChg);
    o[C.oi_chg_z_60m] = oiChg === oiChg ? this.oiChg.zscore(oiChg) : NaN;

    this.barStep(x.ts, mid);
    o[C.atr15m_bps] = (this.atr.value / this.lastBarClose) * 1e4;
  }

  private barStep(ts: number, mid: number): void {
    const I = this.atrBarMs;
    if (this.barEnd !== this.barEnd) {
      this.barEnd = Math.ceil(ts / I) * I;
      this.barComplete = ts === this.barEnd - I + STEP_MS;
      this.barHigh = this.barLow = mid;
    } else {
      if (mid > this.barHigh) this.barHigh = mid;
      if (mid < this.barLow) this.barLow = mid;
    }
    this.barClose = mid;
    if (ts === this.barEnd) {
      if (this.barComplete) {
        this.atr.update(this.barHigh, this.barLow, this.barClose);
        this.lastBarClose = this.barClose;
      }
      this.barEnd = NaN;
    }
  }
}

/**
 * Runs a fresh `MicroEngine` over `rows` (time order) and returns one feature row per input row.
 * Same code as live, so values are identical to feeding the rows one by one. Throws what
 * `MicroEngine.update` throws, with the row index prepended.
 */
export function runMicroBatch(rows: readonly MicroInput[], opts: MicroOptions = {}): FeatureMatrix {
  const eng = new MicroEngine(opts);
  const cols = eng.names.length;
  const values = new Float64Array(rows.length * cols);
  const ts = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    let v: Float64Array;
    try {
      v = eng.update(rows[i]);
    } catch (e) {
      if (e instanceof RangeError) throw new RangeError(`row ${i}: ${e.message}`);
      throw e;
    }
    values.set(v, i * cols);
    ts[i] = rows[i].ts;
  }
  return { names: eng.names, ts, values, rows: rows.length, cols };
}
