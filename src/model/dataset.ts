/**
 * Training datasets from the store, built with the same streaming engines the live chain runs
 * (candle.ts `runCandleBatch`, micro.ts `runMicroBatch`), so a training row equals what the
 * feature worker computes live for the same market data.
 *
 * - candle: closed bars of one interval from `candles` (the last stored bar of a symbol counts only
 *   when it was last updated at or after its close; a live store may hold the forming bar), with
 *   the last settled funding rate at each bar close attached (`attachSettledFunding`). Reference
 *   price of a row = the bar close, known at ts + interval.
 * - micro: 1 s records from micro_dataset.ts `loadMicroInputs`: the book of each second from the
 *   last stored top-15 `books15` row of the second through `microBookFromLevels` (the live
 *   MicroSampler rule, so imb3 and depth_total_usdt are computed exactly as live), falling back
 *   to the agg_1s BookTop (imb3, depth_total_usdt missing) only for seconds without a books15
 *   row; trade flow of the second from agg_1s; the last stored ticker as of each second.
 *   Reference price = mid.
 *
 * Labels: labels.ts `makeLabels` (forward log return over `horizon` rows on the step grid, class
 * flat/long/short against the taker round-trip cost). Rows without a label are dropped.
 * Symbols are pooled: rows of all symbols are kept together, ordered by time then symbol.
 */
import { z } from "zod";
import { attachSettledFunding, type Bar, runCandleBatch } from "../features/candle.ts";
import { type DataGap, makeLabels } from "../features/labels.ts";
import type { FeatureMatrix } from "../features/matrix.ts";
import { type MicroOptions, runMicroBatch } from "../features/micro.ts";
import { featureSet, type FeatureSetName } from "../features/registry.ts";
import {
  intervalMs as parseInterval,
  readCandles,
  readFundingRates,
  readGaps,
} from "../store/readers.ts";
import type { Store } from "../store/store.ts";
import { loadMicroInputs } from "./micro_dataset.ts";

export { loadMicroInputs, type MicroBookSources } from "./micro_dataset.ts";

/** A user-facing problem with the requested dataset (no data, too short, …): exit code 2. */
export class DatasetError extends Error {
  override name = "DatasetError";
}

/** Trading costs used for the label threshold, all bps. */
export interface CostSpec {
  /** Taker fee per side, bps. */
  takerFeeBps: number;
  /** Slippage per side, bps. */
  slippageBps: number;
  /** Full bid–ask spread, bps; null = the observed spread per row (micro only). */
  spreadBps: number | null;
}

export interface DatasetSpec {
  features: FeatureSetName;
  symbols: string[];
  /** Label horizon in rows: bars (candle) or seconds (micro). */
  horizon: number;
  /** Candle interval ("1m", "15m"); ignored for micro. */
  interval: string;
  /** Half-open time range [from, to) on the row time (bar start / sample second), epoch ms. */
  from: number;
  to: number;
  costs: CostSpec;
  /** Micro engine settings (defaults of micro.ts when absent). */
  micro?: MicroOptions;
}

/** Labelled rows of all symbols, time-ordered (ties by symbol order), features in set order. */
export interface Dataset {
  featureNames: readonly string[];
  /** Step between consecutive rows of one symbol, ms (interval or 1000). */
  stepMs: number;
  rows: number;
  cols: number;
  /** Row-major features, rows × cols. */
  values: Float64Array;
  /** Row time (bar start / sample second), epoch ms. */
  ts: Float64Array;
  /** Index into `symbols` of each row. */
  symbolIndex: Int32Array;
  symbols: string[];
  /** Forward log return over the horizon, bps. */
  fwdRetBps: Float64Array;
  /** 0 flat, 1 long, 2 short. */
  cls: Int8Array;
  /** Round-trip cost threshold per row, bps. */
  thresholdBps: Float64Array;
  /** Per symbol: rows with features before labelling, rows kept. */
  perSymbol: { symbol: string; featureRows: number; labelled: number }[];
  /**
   * Set when the symbols' feature rows span different times: the rows were clipped to their
   * common span [from, to] (row times, epoch ms, inclusive); `droppedRows` labelled rows left out.
   */
  commonRange: { from: number; to: number; droppedRows: number } | null;
}

interface SymbolRows {
  m: FeatureMatrix;
  price: Float64Array;
  spread: Float64Array | null;
  gaps: DataGap[];
}

/** Closed bars of `symbol` in [from, to) with settled funding attached; see file doc. */
export function loadClosedBars(
  store: Store,
  symbol: string,
  interval: string,
  from: number,
  to: number,
): Bar[] {
  const step = parseInterval(interval);
  const rows = readCandles(store, symbol, interval, from, to);
  if (rows.length && rows[rows.length - 1].updatedTs < rows[rows.length - 1].ts + step) rows.pop();
  // Funding settled before the first bar is needed for its value: read from the earliest time.
  const settled = readFundingRates(store, symbol, 0, to + step)
    .filter((f) => f.type === "settled")
    .map((f) => ({ ts: f.ts, rate: f.fundingRate }));
  const bars: Bar[] = rows.map((r) => ({
    ts: r.ts,
    open: r.open,
    high: r.high,
    low: r.low,
    close: r.close,
    volume: r.volume,
  }));
  return attachSettledFunding(bars, settled, step);
}

function symbolRows(store: Store, spec: DatasetSpec, symbol: string, stepMs: number): SymbolRows {
  if (spec.features === "candle") {
    const bars = loadClosedBars(store, symbol, spec.interval, spec.from, spec.to);
    const m = bars.length ? runCandleBatch(bars, stepMs) : emptyMatrix("candle");
    return { m, price: Float64Array.from(bars, (b) => b.close), spread: null, gaps: [] };
  }
  const inputs = loadMicroInputs(store, symbol, spec.from, spec.to);
  const m = inputs.length ? runMicroBatch(inputs, spec.micro) : emptyMatrix("micro");
  const gaps = readGaps(store, symbol, 0, Number.MAX_SAFE_INTEGER)
    .map((g) => ({ startTs: g.startTs, endTs: g.endTs }));
  return {
    m,
    price: Float64Array.from(inputs, (r) => r.mid),
    spread: Float64Array.from(inputs, (r) => r.spreadBps),
    gaps,
  };
}

function emptyMatrix(set: FeatureSetName): FeatureMatrix {
  const names = featureSet(set).features;
  return {
    names,
    ts: new Float64Array(0),
    values: new Float64Array(0),
    rows: 0,
    cols: names.length,
  };
}

/**
 * Builds the labelled, pooled dataset described in the file doc.
 * @throws DatasetError when a symbol has no rows in the range, when no row of any symbol can be
 *   labelled (horizon longer than the data), or for an unknown interval.
 */
export function buildDataset(store: Store, spec: DatasetSpec): Dataset {
  const set = featureSet(spec.features);
  let stepMs: number;
  try {
    stepMs = spec.features === "candle" ? parseInterval(spec.interval) : 1000;
  } catch (e) {
    throw new DatasetError(e instanceof Error ? e.message : String(e));
  }
  const cols = set.features.length;
  const parts: {
    sym: number;
    s: SymbolRows;
    keep: number[];
    fwd: Float64Array;
    cls: Int8Array;
    thr: Float64Array;
  }[] = [];
  const perSymbol: Dataset["perSymbol"] = [];
  const when = (ms: number) => (Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms));
  const range = spec.from <= 0 && spec.to >= 8.64e15
    ? "the database"
    : `[${when(spec.from)}, ${when(spec.to)})`;
  spec.symbols.forEach((symbol, sym) => {
    const s = symbolRows(store, spec, symbol, stepMs);
    if (s.m.rows === 0) {
      const src = spec.features === "candle"
        ? `${spec.interval} candles`
        : "books15 or agg_1s rows with a book";
      throw new DatasetError(`no ${src} for ${symbol} in ${range} (unknown symbol or no data)`);
    }
    const lab = makeLabels(s.m.ts, s.price, {
      horizon: spec.horizon,
      stepMs,
      takerFeeBps: spec.costs.takerFeeBps,
      slippageBps: spec.costs.slippageBps,
      spreadBps: spec.costs.spreadBps ?? s.spread ?? 0,
      gaps: s.gaps,
    });
    const keep: number[] = [];
    for (let i = 0; i < s.m.rows; i++) if (lab.cls[i] >= 0) keep.push(i);
    perSymbol.push({ symbol, featureRows: s.m.rows, labelled: keep.length });
    parts.push({ sym, s, keep, fwd: lab.fwdRetBps, cls: lab.cls, thr: lab.thresholdBps });
  });
  // Symbols covering different spans: keep only their common span, so the validation window (the
  // latest rows) holds every symbol, not only the one with the longest history (as backtest does).
  let common: Dataset["commonRange"] = null;
  if (parts.length > 1) {
    const first = Math.max(...parts.map((p) => p.s.m.ts[0]));
    const last = Math.min(...parts.map((p) => p.s.m.ts[p.s.m.rows - 1]));
    const differ = parts.some((p) => p.s.m.ts[0] !== first || p.s.m.ts[p.s.m.rows - 1] !== last);
    if (differ) {
      if (!(first <= last)) {
        throw new DatasetError(
          `the symbols' data do not overlap: ${
            parts.map((p) =>
              `${spec.symbols[p.sym]} ${when(p.s.m.ts[0])} → ${when(p.s.m.ts[p.s.m.rows - 1])}`
            ).join(", ")
          }`,
        );
      }
      let dropped = 0;
      for (const p of parts) {
        const before = p.keep.length;
        p.keep = p.keep.filter((i) => p.s.m.ts[i] >= first && p.s.m.ts[i] <= last);
        dropped += before - p.keep.length;
        perSymbol[p.sym].labelled = p.keep.length;
      }
      common = { from: first, to: last, droppedRows: dropped };
    }
  }
  const total = parts.reduce((n, p) => n + p.keep.length, 0);
  if (total === 0) {
    const spans = perSymbol.map((p) => `${p.symbol}: ${p.featureRows} rows`).join(", ");
    throw new DatasetError(
      `horizon ${spec.horizon} × ${stepMs} ms is too long for the data (${spans}): no row has a ` +
        `complete label window`,
    );
  }
  // Merge by (ts, symbol order) so time-based splitting sees one ordered sequence.
  const order: [number, number][] = [];
  parts.forEach((p, pi) => p.keep.forEach((i) => order.push([pi, i])));
  order.sort((a, b) => parts[a[0]].s.m.ts[a[1]] - parts[b[0]].s.m.ts[b[1]] || a[0] - b[0]);
  const values = new Float64Array(total * cols);
  const ts = new Float64Array(total);
  const symbolIndex = new Int32Array(total);
  const fwdRetBps = new Float64Array(total);
  const cls = new Int8Array(total);
  const thresholdBps = new Float64Array(total);
  order.forEach(([pi, i], r) => {
    const p = parts[pi];
    values.set(p.s.m.values.subarray(i * cols, (i + 1) * cols), r * cols);
    ts[r] = p.s.m.ts[i];
    symbolIndex[r] = p.sym;
    fwdRetBps[r] = p.fwd[i];
    cls[r] = p.cls[i];
    thresholdBps[r] = p.thr[i];
  });
  return {
    featureNames: set.features,
    stepMs,
    rows: total,
    cols,
    values,
    ts,
    symbolIndex,
    symbols: [...spec.symbols],
    fwdRetBps,
    cls,
    thresholdBps,
    perSymbol,
    commonRange: common,
  };
}

/**
 * The `training` section `bitget-bot train` adds to a bundle's JSON: what the live chain needs to
 * rebuild the model's inputs exactly (feature set, interval, engine settings) and how the model
 * was trained and validated. Unknown to bundle.ts's schema (which ignores it); read it with
 * {@link readTrainingSection}.
 */
export const TrainingSectionSchema = z.object({
  featureSet: z.enum(["candle", "micro"]),
  /** Candle interval ("1m", "15m") or "1s" for micro. */
  interval: z.string(),
  stepMs: z.number().int().positive(),
  engine: z.object({
    intervalMs: z.number().int().positive().optional(),
    maxFillMs: z.number().optional(),
    longWindow: z.number().optional(),
    atrBarMs: z.number().optional(),
  }),
  symbols: z.array(z.string()),
  horizon: z.number().int().positive(),
  horizonMs: z.number().positive(),
  objective: z.enum(["multiclass", "binary", "regression"]),
  labelDefinition: z.string(),
  costs: z.object({
    takerFeeBps: z.number(),
    slippageBps: z.number(),
    spreadBps: z.number().nullable(),
  }),
  thresholdBps: z.number().nullable(),
  windows: z.object({
    train: z.object({ startMs: z.number(), endMs: z.number(), rows: z.number() }),
    valid: z.object({ startMs: z.number(), endMs: z.number(), rows: z.number() }),
    gapMs: z.number(),
    purgedRows: z.number(),
  }),
  params: z.record(z.string()),
});
export type TrainingSection = z.infer<typeof TrainingSectionSchema>;

/**
 * Reads the `training` section of bundle `<base>.json`.
 * @throws DatasetError when the file cannot be read, or has no valid `training` section (a bundle
 *   not made by `bitget-bot train`, e.g. a LightGBM import).
 */
export async function readTrainingSection(path: string): Promise<TrainingSection> {
  const json = path.replace(/\.(raw\.onnx|onnx|json)$/, "") + ".json";
  let obj: { training?: unknown };
  try {
    obj = JSON.parse(await Deno.readTextFile(json));
  } catch (e) {
    throw new DatasetError(`cannot read ${json}: ${e instanceof Error ? e.message : e}`);
  }
  const r = TrainingSectionSchema.safeParse(obj.training);
  if (!r.success) {
    throw new DatasetError(
      `${json} has no valid "training" section (not written by bitget-bot train): ` +
        r.error.issues.map((i) => `${i.path.join(".") || "training"}: ${i.message}`).join("; "),
    );
  }
  return r.data;
}
