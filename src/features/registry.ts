/**
 * The feature registry: every feature is declared exactly once here, with its unit, window,
 * inputs, a one-line formula, the source of the formula and its warm-up. A feature set is the
 * ordered list of names of one engine (`micro`: 1 s samples, `micro.ts`; `candle`: closed bars of
 * one interval, `candle.ts`); that order is the engine's output order. A model bundle stores its
 * own ordered list of names (its input order); `projection()` maps one onto the other and refuses
 * names the set does not have.
 *
 * Conventions. bps = 1e-4. Log returns are natural logs × 1e4 (bps). σ is the sample standard
 * deviation unless stated. z-scores include the current value in their window. `warmup` counts the
 * leading updates (1 s samples or bars, after a start or a reset, with every input present) whose
 * value is NaN; the first finite value comes at update warmup + 1. Missing inputs (e.g. no ticker
 * yet) give NaN, which the GBDT routes as missing. Windows state the micro engine's defaults
 * (`MicroOptions`); a model trained with other windows must record them.
 */

/** Metadata of one feature (see file doc for conventions). */
export interface FeatureDef {
  readonly name: string;
  readonly unit: string;
  /** Look-back window in samples or bars, "-" for point-in-time values. */
  readonly window: string;
  /** Input fields read (MicroInput / Bar field names). */
  readonly inputs: readonly string[];
  readonly formula: string;
  readonly source: string;
  /** Leading NaN updates with complete inputs (an upper bound where `warmupNote` says so). */
  readonly warmup: number;
  readonly warmupNote?: string;
}

const MID = ["mid"] as const;
const FLOW = ["buyVolume", "sellVolume"] as const;
const WILDER = "Wilder 1978, New Concepts in Technical Trading Systems";
const IMB_SRC = "order-book imbalance: Cont, Kukanov & Stoikov 2014, J. Fin. Econometrics";
const RV_SRC = "realised volatility: Andersen & Bollerslev 1998, Int. Econ. Review";

// One line per feature keeps the registry a readable table.
// deno-fmt-ignore
const MICRO_DEFS = [
  { name: "imb1", unit: "ratio [-1,1]", window: "-", inputs: ["imbalance1"], warmup: 0, formula: "(bidSz₁ − askSz₁)/(bidSz₁ + askSz₁), best level", source: IMB_SRC },
  { name: "imb3", unit: "ratio [-1,1]", window: "-", inputs: ["imbalance3"], warmup: 0, formula: "(Σbid − Σask)/(Σbid + Σask) over the top 3 levels; NaN when only a BookTop is given", source: IMB_SRC },
  { name: "imb5", unit: "ratio [-1,1]", window: "-", inputs: ["imbalance5"], warmup: 0, formula: "(Σbid − Σask)/(Σbid + Σask) over the top 5 levels", source: IMB_SRC },
  { name: "depth_total_usdt", unit: "USDT", window: "-", inputs: ["depthTotal", "mid"], warmup: 0, formula: "(Σ bid + Σ ask sizes over the ≤15 levels given) × mid; NaN from a BookTop", source: "market depth, textbook (Harris 2003, Trading and Exchanges)" },
  { name: "depth5_usdt", unit: "USDT", window: "-", inputs: ["depth5bps", "mid"], warmup: 0, formula: "sizes of levels within 5 bps of mid (both sides, levels given) × mid", source: "market depth, textbook (Harris 2003)" },
  { name: "depth10_usdt", unit: "USDT", window: "-", inputs: ["depth10bps", "mid"], warmup: 0, formula: "sizes of levels within 10 bps of mid (both sides, levels given) × mid", source: "market depth, textbook (Harris 2003)" },
  { name: "spread_bps", unit: "bps", window: "-", inputs: ["spreadBps"], warmup: 0, formula: "(ask₁ − bid₁)/mid × 1e4", source: "quoted spread, textbook (Harris 2003)" },
  { name: "spread_mean_10s", unit: "bps", window: "10 s", inputs: ["spreadBps"], warmup: 9, formula: "mean of spread_bps over the last 10 samples", source: "rolling mean, textbook" },
  { name: "spread_std_10s", unit: "bps", window: "10 s", inputs: ["spreadBps"], warmup: 9, formula: "sample σ of spread_bps over the last 10 samples", source: "rolling std, textbook" },
  { name: "spread_mean_60s", unit: "bps", window: "60 s", inputs: ["spreadBps"], warmup: 59, formula: "mean of spread_bps over the last 60 samples", source: "rolling mean, textbook" },
  { name: "spread_std_60s", unit: "bps", window: "60 s", inputs: ["spreadBps"], warmup: 59, formula: "sample σ of spread_bps over the last 60 samples", source: "rolling std, textbook" },
  { name: "ret_1s", unit: "bps", window: "1 s", inputs: MID, warmup: 1, formula: "ln(midₜ/midₜ₋₁) × 1e4", source: "log return, textbook (Campbell, Lo & MacKinlay 1997)" },
  { name: "ret_5s", unit: "bps", window: "5 s", inputs: MID, warmup: 5, formula: "ln(midₜ/midₜ₋₅) × 1e4", source: "log return, textbook" },
  { name: "ret_10s", unit: "bps", window: "10 s", inputs: MID, warmup: 10, formula: "ln(midₜ/midₜ₋₁₀) × 1e4", source: "log return, textbook" },
  { name: "ret_20s", unit: "bps", window: "20 s", inputs: MID, warmup: 20, formula: "ln(midₜ/midₜ₋₂₀) × 1e4", source: "log return, textbook" },
  { name: "ret_30s", unit: "bps", window: "30 s", inputs: MID, warmup: 30, formula: "ln(midₜ/midₜ₋₃₀) × 1e4", source: "log return, textbook" },
  { name: "ret_60s", unit: "bps", window: "60 s", inputs: MID, warmup: 60, formula: "ln(midₜ/midₜ₋₆₀) × 1e4", source: "log return, textbook" },
  { name: "rv_1s", unit: "bps", window: "1 s", inputs: MID, warmup: 1, formula: "√Σ r² over the last 1 one-second mid log return × 1e4 (= |ret_1s|)", source: RV_SRC },
  { name: "rv_5s", unit: "bps", window: "5 s", inputs: MID, warmup: 5, formula: "√Σ r² over the last 5 one-second mid log returns × 1e4", source: RV_SRC },
  { name: "rv_10s", unit: "bps", window: "10 s", inputs: MID, warmup: 10, formula: "√Σ r² over the last 10 one-second mid log returns × 1e4", source: RV_SRC },
  { name: "rv_20s", unit: "bps", window: "20 s", inputs: MID, warmup: 20, formula: "√Σ r² over the last 20 one-second mid log returns × 1e4", source: RV_SRC },
  { name: "rv_30s", unit: "bps", window: "30 s", inputs: MID, warmup: 30, formula: "√Σ r² over the last 30 one-second mid log returns × 1e4", source: RV_SRC },
  { name: "rv_60s", unit: "bps", window: "60 s", inputs: MID, warmup: 60, formula: "√Σ r² over the last 60 one-second mid log returns × 1e4", source: RV_SRC },
  { name: "mom_5s_60s", unit: "bps", window: "60 s", inputs: MID, warmup: 60, formula: "ret_5s − ret_60s × 5/60 (short move in excess of the pro-rata 60 s drift)", source: "multi-horizon momentum, textbook (Jegadeesh & Titman 1993 idea on a 1 s grid)" },
  { name: "mom_10s_rv60s", unit: "ratio", window: "60 s", inputs: MID, warmup: 60, formula: "ret_10s / rv_60s (0 when rv_60s = 0)", source: "volatility-scaled momentum: Moskowitz, Ooi & Pedersen 2012, JFE" },
  { name: "flow_delta_usdt", unit: "USDT", window: "1 s", inputs: [...FLOW, "mid"], warmup: 0, formula: "(taker buy − taker sell volume) × mid over (t−1 s, t]", source: "order-flow imbalance: Chordia, Roll & Subrahmanyam 2002, JFE" },
  { name: "flow_delta_10s_usdt", unit: "USDT", window: "10 s", inputs: [...FLOW, "mid"], warmup: 9, formula: "Σ flow_delta_usdt over the last 10 samples", source: "order-flow imbalance: Chordia, Roll & Subrahmanyam 2002" },
  { name: "flow_imb_10s", unit: "ratio [-1,1]", window: "10 s", inputs: FLOW, warmup: 9, formula: "Σ(buy − sell)/Σ(buy + sell) volume over 10 samples (0 when no volume)", source: "order-flow imbalance: Chordia, Roll & Subrahmanyam 2002" },
  { name: "flow_delta_z_60s", unit: "z", window: "60 s", inputs: FLOW, warmup: 59, formula: "z-score of (buy − sell) base volume against its last 60 samples (0 when σ = 0)", source: "rolling z-score, textbook" },
  { name: "trade_count_1s", unit: "trades", window: "1 s", inputs: ["tradeCount"], warmup: 0, formula: "number of trades in (t−1 s, t]", source: "trade intensity, textbook (Engle & Russell 1998 ACD idea)" },
  { name: "vwap_mid_bps", unit: "bps", window: "1 s", inputs: ["vwap", "mid"], warmup: 0, formula: "(vwap₁ₛ − mid)/mid × 1e4; NaN in a second without trades", source: "VWAP: Berkowitz, Logue & Noser 1988, J. Finance" },
  { name: "imb1_chg_5s", unit: "ratio", window: "5 s", inputs: ["imbalance1"], warmup: 5, formula: "imb1ₜ − imb1ₜ₋₅", source: "imbalance change: Cont, Kukanov & Stoikov 2014" },
  { name: "imb5_chg_5s", unit: "ratio", window: "5 s", inputs: ["imbalance5"], warmup: 5, formula: "imb5ₜ − imb5ₜ₋₅", source: "imbalance change: Cont, Kukanov & Stoikov 2014" },
  { name: "mark_last_bps", unit: "bps", window: "-", inputs: ["markPrice", "last", "mid"], warmup: 0, formula: "(mark − last)/mid × 1e4", source: "mark price deviation (exchange mark-price method, Bitget API docs)" },
  { name: "mark_last_z_60m", unit: "z", window: "3600 s", inputs: ["markPrice", "last", "mid"], warmup: 3599, formula: "z-score of mark_last_bps against its last 3600 samples", source: "rolling z-score, textbook" },
  { name: "basis_bps", unit: "bps", window: "-", inputs: ["markPrice", "indexPrice"], warmup: 0, formula: "(mark − index)/index × 1e4", source: "perpetual basis, textbook (Bitget API docs: mark/index price)" },
  { name: "funding_rate_bps", unit: "bps per interval", window: "-", inputs: ["fundingRate"], warmup: 0, formula: "current (predicted) funding rate × 1e4", source: "exchange funding rate (Bitget API.md ticker fundingRate)" },
  { name: "funding_time_min", unit: "min", window: "-", inputs: ["nextFundingTime"], warmup: 0, formula: "(nextFundingTime − t)/60000", source: "exchange funding schedule (Bitget API.md)" },
  { name: "oi_chg_z_60m", unit: "z", window: "60 s change, 3600 s z", inputs: ["openInterest"], warmup: 3659, formula: "z-score over 3600 samples of ln(OIₜ/OIₜ₋₆₀) × 1e4", source: "rolling z-score of open-interest change, textbook" },
  { name: "atr15m_bps", unit: "bps", window: "14 × 15 min bars", inputs: MID, warmup: 14398, warmupNote: "upper bound: 15 complete 15-min bars of mids; a bar the engine did not see from its first second is skipped", formula: "Wilder ATR(14) of 15-min OHLC bars of 1 s mids / last bar close × 1e4", source: WILDER },
] as const satisfies readonly FeatureDef[];

// deno-fmt-ignore
const CANDLE_DEFS = [
  { name: "ema12_dist_bps", unit: "bps", window: "12 bars", inputs: ["close"], warmup: 11, formula: "(close − EMA12)/EMA12 × 1e4, EMA α = 2/13 seeded with SMA12", source: "EMA: Murphy 1999, Technical Analysis of the Financial Markets" },
  { name: "ema26_dist_bps", unit: "bps", window: "26 bars", inputs: ["close"], warmup: 25, formula: "(close − EMA26)/EMA26 × 1e4, SMA seed", source: "EMA: Murphy 1999" },
  { name: "ema60_dist_bps", unit: "bps", window: "60 bars", inputs: ["close"], warmup: 59, formula: "(close − EMA60)/EMA60 × 1e4, SMA seed", source: "EMA: Murphy 1999" },
  { name: "vwap20_dev_bps", unit: "bps", window: "20 bars", inputs: ["high", "low", "close", "volume"], warmup: 19, formula: "(close − VWAP20)/VWAP20 × 1e4, VWAP20 = Σ((H+L+C)/3·V)/ΣV (NaN if ΣV = 0)", source: "VWAP: Berkowitz, Logue & Noser 1988 (typical-price form)" },
  { name: "ret_1b_bps", unit: "bps", window: "1 bar", inputs: ["close"], warmup: 1, formula: "ln(cₜ/cₜ₋₁) × 1e4", source: "log return, textbook" },
  { name: "ret_5b_bps", unit: "bps", window: "5 bars", inputs: ["close"], warmup: 5, formula: "ln(cₜ/cₜ₋₅) × 1e4", source: "log return, textbook" },
  { name: "ret_15b_bps", unit: "bps", window: "15 bars", inputs: ["close"], warmup: 15, formula: "ln(cₜ/cₜ₋₁₅) × 1e4", source: "log return, textbook" },
  { name: "acc_1b_bps", unit: "bps", window: "2 bars", inputs: ["close"], warmup: 2, formula: "ret_1bₜ − ret_1bₜ₋₁", source: "return acceleration (second difference of log price), textbook" },
  { name: "acc_5b_bps", unit: "bps", window: "10 bars", inputs: ["close"], warmup: 10, formula: "ret_5bₜ − ret_5bₜ₋₅", source: "return acceleration, textbook" },
  { name: "acc_15b_bps", unit: "bps", window: "30 bars", inputs: ["close"], warmup: 30, formula: "ret_15bₜ − ret_15bₜ₋₁₅", source: "return acceleration, textbook" },
  { name: "rsi14", unit: "0..100", window: "14 bars", inputs: ["close"], warmup: 14, formula: "100 − 100/(1 + avgGain/avgLoss), Wilder smoothing", source: WILDER },
  { name: "macd_bps", unit: "bps", window: "26 bars", inputs: ["close"], warmup: 25, formula: "(EMA12 − EMA26)/close × 1e4", source: "MACD: Appel 1979 / Appel 2005, Technical Analysis: Power Tools" },
  { name: "macd_signal_bps", unit: "bps", window: "26+9 bars", inputs: ["close"], warmup: 33, formula: "EMA9 of the MACD line / close × 1e4", source: "MACD: Appel 2005" },
  { name: "macd_hist_bps", unit: "bps", window: "26+9 bars", inputs: ["close"], warmup: 33, formula: "(MACD line − signal)/close × 1e4", source: "MACD: Appel 2005" },
  { name: "bb_pctb20", unit: "ratio", window: "20 bars", inputs: ["close"], warmup: 19, formula: "(close − lower)/(upper − lower), bands SMA20 ± 2σ_pop (0.5 if σ = 0)", source: "Bollinger 2001, Bollinger on Bollinger Bands" },
  { name: "bb_width20", unit: "ratio", window: "20 bars", inputs: ["close"], warmup: 19, formula: "(upper − lower)/SMA20 = 4σ_pop/SMA20", source: "Bollinger 2001" },
  { name: "atr14_bps", unit: "bps", window: "14 bars", inputs: ["high", "low", "close"], warmup: 14, formula: "Wilder ATR(14) / close × 1e4", source: WILDER },
  { name: "adx14", unit: "0..100", window: "28 bars", inputs: ["high", "low", "close"], warmup: 27, formula: "Wilder-smoothed DX(14), DX = 100|+DI − −DI|/(+DI + −DI)", source: WILDER },
  { name: "plus_di14", unit: "0..100", window: "14 bars", inputs: ["high", "low", "close"], warmup: 14, formula: "100 × Wilder-sum(+DM,14)/Wilder-sum(TR,14)", source: WILDER },
  { name: "minus_di14", unit: "0..100", window: "14 bars", inputs: ["high", "low", "close"], warmup: 14, formula: "100 × Wilder-sum(−DM,14)/Wilder-sum(TR,14)", source: WILDER },
  { name: "obv_slope14", unit: "volume share per bar", window: "14 bars", inputs: ["close", "volume"], warmup: 13, formula: "OLS slope of OBV over 14 bars / mean volume over 14 bars (NaN if 0)", source: "OBV: Granville 1963, Granville's New Key to Stock Market Profits" },
  { name: "roc10", unit: "%", window: "10 bars", inputs: ["close"], warmup: 10, formula: "100 × (cₜ/cₜ₋₁₀ − 1)", source: "rate of change, textbook (Murphy 1999)" },
  { name: "rv20_bps", unit: "bps per bar", window: "20 bars", inputs: ["close"], warmup: 20, formula: "√(Σ r²/20) over the last 20 close-to-close log returns × 1e4", source: RV_SRC },
  { name: "parkinson20_bps", unit: "bps per bar", window: "20 bars", inputs: ["high", "low"], warmup: 19, formula: "√(Σ ln(H/L)² / (4·20·ln 2)) × 1e4", source: "Parkinson 1980, J. Business" },
  { name: "gk20_bps", unit: "bps per bar", window: "20 bars", inputs: ["open", "high", "low", "close"], warmup: 19, formula: "√((1/20)Σ[½ln(H/L)² − (2ln2 − 1)ln(C/O)²]) × 1e4", source: "Garman & Klass 1980, J. Business" },
  { name: "vol_ratio20", unit: "ratio", window: "20 bars", inputs: ["volume"], warmup: 19, formula: "volume / SMA20(volume) (NaN if the SMA is 0)", source: "relative volume, textbook (Murphy 1999)" },
  { name: "vol_price_corr20", unit: "corr [-1,1]", window: "20 bars", inputs: ["close", "volume"], warmup: 19, formula: "Pearson corr(close, volume) over 20 bars; < 0 = volume–price divergence (NaN if flat)", source: "price–volume relation: Karpoff 1987, JFQA; divergence per Murphy 1999" },
  { name: "trend_hhll", unit: "flag -1/0/1", window: "2 bars", inputs: ["high", "low"], warmup: 1, formula: "+1 if H > H₋₁ and L > L₋₁ (higher high & low), −1 if H < H₋₁ and L < L₋₁, else 0", source: "Dow theory swing structure (Murphy 1999)" },
  { name: "break20", unit: "flag -1/0/1", window: "21 bars", inputs: ["high", "low"], warmup: 20, formula: "+1 if H > max H of the previous 20 bars, −1 if L < min L of them, 0 otherwise or both", source: "Donchian channel breakout (Donchian 1960)" },
  { name: "range_pos20", unit: "ratio [0,1]", window: "20 bars", inputs: ["high", "low", "close"], warmup: 19, formula: "(C − min L₂₀)/(max H₂₀ − min L₂₀) incl. this bar (0.5 if range 0)", source: "stochastic %K/100: Lane 1984" },
  { name: "funding_settled_bps", unit: "bps per interval", window: "-", inputs: ["fundingRate"], warmup: 0, formula: "last settled funding rate with settlement time ≤ bar close, × 1e4", source: "exchange funding history (Bitget API.md history-fund-rate)" },
] as const satisfies readonly FeatureDef[];

export type MicroFeature = (typeof MICRO_DEFS)[number]["name"];
export type CandleFeature = (typeof CANDLE_DEFS)[number]["name"];
export type FeatureSetName = "micro" | "candle";

/** An engine's ordered output names; the order is fixed and is the engine's output order. */
export interface FeatureSet {
  readonly name: FeatureSetName;
  readonly features: readonly string[];
}

const DEFS = new Map<string, FeatureDef>();
for (const d of [...MICRO_DEFS, ...CANDLE_DEFS] as readonly FeatureDef[]) {
  if (DEFS.has(d.name)) throw new Error(`feature registry: duplicate feature name ${d.name}`);
  DEFS.set(d.name, d);
}

export const MICRO_FEATURES: readonly MicroFeature[] = MICRO_DEFS.map((d) => d.name);
export const CANDLE_FEATURES: readonly CandleFeature[] = CANDLE_DEFS.map((d) => d.name);

export const FEATURE_SETS: Readonly<Record<FeatureSetName, FeatureSet>> = {
  micro: { name: "micro", features: MICRO_FEATURES },
  candle: { name: "candle", features: CANDLE_FEATURES },
};

/** Every declared feature, micro first, in set order. */
export function allFeatures(): readonly FeatureDef[] {
  return [...DEFS.values()];
}

/** The definition of `name`; throws RangeError naming the unknown feature. */
export function featureDef(name: string): FeatureDef {
  const d = DEFS.get(name);
  if (!d) throw new RangeError(`unknown feature "${name}" (not in the feature registry)`);
  return d;
}

/** The feature set called `name` ("micro" | "candle"); throws RangeError otherwise. */
export function featureSet(name: string): FeatureSet {
  if (name !== "micro" && name !== "candle") {
    throw new RangeError(`unknown feature set "${name}": expected "micro" or "candle"`);
  }
  return FEATURE_SETS[name];
}

/** name → column index in the set's output order (used by the engines to place values). */
export function columnIndex<N extends string>(names: readonly N[]): Readonly<Record<N, number>> {
  const o = {} as Record<N, number>;
  names.forEach((n, i) => (o[n] = i));
  return o;
}

/**
 * Column indices that turn an engine output row (in `set` order) into a model input row in
 * `names` order: `modelRow[j] = engineRow[idx[j]]`. Throws RangeError listing every name the set
 * does not produce, or a duplicated name.
 */
export function projection(set: FeatureSet, names: readonly string[]): Int32Array {
  const pos = new Map(set.features.map((n, i) => [n, i] as const));
  const missing = names.filter((n) => !pos.has(n));
  if (missing.length > 0) {
    throw new RangeError(
      `feature set "${set.name}" has no feature(s) ${missing.join(", ")}; it has: ${
        set.features.join(", ")
      }`,
    );
  }
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new RangeError(`feature "${n}" listed twice in the model feature list`);
    seen.add(n);
  }
  return Int32Array.from(names, (n) => pos.get(n)!);
}

/** Gathers `row` through `idx` (from `projection`) into `out` (length idx.length); returns out. */
export function project(row: ArrayLike<number>, idx: Int32Array, out: Float64Array): Float64Array {
  for (let j = 0; j < idx.length; j++) out[j] = row[idx[j]];
  return out;
}
