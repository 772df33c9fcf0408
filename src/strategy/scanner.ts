/**
 * The symbol scanner: ranks the traded symbols on each closed bar of `interval` (default 15m) and
 * lets only the top N trade (`view.tradable`). Per symbol, from its own bars:
 *
 * - trendStrength = ADX(adxPeriod), 0..100 (Wilder 1978);
 * - atrExpansion = ATR(atrShort) / ATR(atrLong), both Wilder ATRs (ratio; > 1 = volatility is
 *   expanding);
 * - momentum = ROC(rocPeriod) = 100·(close/close₋ₙ − 1) in %, taken as |ROC| when
 *   `momentumMode` = "abs" (default: the strategies trade both directions, so the size of the move
 *   matters, not its sign) or signed when "signed" (favours risers, for long-only use);
 * - volumeSpike = volume / mean volume of the last `volumeWindow` bars including this one (the
 *   registry's `vol_ratio20` convention; NaN when that mean is 0).
 *
 * Score. Among the *ready* symbols, each component is standardised across symbols and the score
 * is the weighted sum Σ wₖ·sₖ:
 * - "zscore" (default): sₖ = (xₖ − mean)/σ over the ready symbols (population σ; 0 when σ = 0,
 *   e.g. a single ready symbol);
 * - "rank": sₖ = (rank − 1)/(n − 1) with rank 1 the smallest value and tied values sharing their
 *   average rank (0.5 when n = 1).
 * Symbols are ordered by score, highest first; equal scores by symbol name, so the ranking is a
 * deterministic function of the bars. `rank` is 1-based.
 *
 * Readiness and the warm-up rule. A symbol is ready when all four components are finite (after
 * max(2·adxPeriod, atrLong + 1, rocPeriod + 1, volumeWindow) consecutive bars; a hole in its bars
 * restarts the warm-up) and its last bar is at most one interval older than the newest bar seen on
 * any symbol (a symbol whose feed stopped is not ranked on stale values). Tradable = the top N
 * ready symbols. A symbol that is not ready is not tradable — unless no symbol is ready at all
 * (start-up, or every feed stale): then the scanner has no opinion and every symbol is tradable, so
 * strategies (which have their own warm-ups) are not blocked by the scanner's longer one.
 *
 * Ranking is computed lazily: onBar only updates the symbol's components; ranking() recomputes
 * when a bar arrived since the last call. Bars of one close time arriving one symbol at a time
 * therefore give the same ranking once all of them are in, whatever their order.
 */
import { z } from "zod";
import { Adx, Atr, Roc, RollingStats } from "../features/indicators.ts";
import { BarSequence } from "./bar_sequence.ts";
import { type ConfigProblem, parseStrategyConfig, throwProblems } from "./config_parse.ts";
import type { ClosedBar } from "./types.ts";

const int = (min: number, def: number) => z.number().int().min(min).default(def);
const weight = (def: number) => z.number().min(0).default(def);

export const ScannerConfigSchema = z.object({
  /** Bar interval ranked on (e.g. "15m"); bars of other intervals are ignored. */
  interval: z.string().regex(/^\d+[mhd]$/, 'expected an interval like "1m", "15m", "1h"')
    .default("15m"),
  /** How many top-ranked symbols are tradable. */
  topN: int(1, 3),
  /** ADX period (bars); trendStrength is ready after 2·adxPeriod bars. */
  adxPeriod: int(2, 14),
  /** Short Wilder ATR period (bars), numerator of atrExpansion. */
  atrShort: int(1, 14),
  /** Long Wilder ATR period (bars), denominator of atrExpansion; > atrShort. */
  atrLong: int(2, 96),
  /** ROC look-back (bars). */
  rocPeriod: int(1, 16),
  /** "abs": momentum = |ROC| (%); "signed": ROC (%). */
  momentumMode: z.enum(["abs", "signed"]).default("abs"),
  /** Bars in the mean volume of volumeSpike (this bar included). */
  volumeWindow: int(1, 96),
  /** Cross-sectional standardisation: "zscore" or "rank" (see file doc). */
  scoreMethod: z.enum(["zscore", "rank"]).default("zscore"),
  /** Component weights (≥ 0, not all 0) in the score. */
  weights: z.object({
    trendStrength: weight(1),
    atrExpansion: weight(1),
    momentum: weight(1),
    volumeSpike: weight(1),
  }).strict().default({}),
}).strict();

export type ScannerConfig = z.infer<typeof ScannerConfigSchema>;

/** One symbol's place in the ranking. Components are NaN until the symbol has enough bars. */
export interface ScannerRank {
  symbol: string;
  /** Weighted standardised score (NaN when not ready). */
  score: number;
  /** ADX, 0..100. */
  trendStrength: number;
  /** ATR(short)/ATR(long), ratio. */
  atrExpansion: number;
  /** ROC in % (|ROC| in "abs" mode). */
  momentum: number;
  /** volume / mean volume, ratio. */
  volumeSpike: number;
  /** 1 = best; NaN for a symbol that is not ready (not ranked). */
  rank: number;
  /** Whether isTradable(symbol) is true (see the warm-up rule in the file doc). */
  tradable: boolean;
}

function scannerProblems(c: ScannerConfig): ConfigProblem[] {
  const p: ConfigProblem[] = [];
  if (c.atrLong <= c.atrShort) p.push({ field: "atrLong", message: "must be > atrShort" });
  const w = c.weights;
  if (w.trendStrength + w.atrExpansion + w.momentum + w.volumeSpike === 0) {
    p.push({ field: "weights", message: "at least one weight must be > 0" });
  }
  return p;
}

/** Validates a raw `scanner` config section (defaults filled). @throws StrategyConfigError per bad field. */
export function parseScannerConfig(raw: unknown): ScannerConfig {
  return parseStrategyConfig(ScannerConfigSchema, raw, "scanner", scannerProblems);
}

const COMPONENTS = ["trendStrength", "atrExpansion", "momentum", "volumeSpike"] as const;
type Component = typeof COMPONENTS[number];

class SymbolState {
  readonly seq = new BarSequence();
  /** Bar length (ms) of the last bar. */
  intervalMs = 0;
  readonly adx: Adx;
  readonly atrShort: Atr;
  readonly atrLong: Atr;
  readonly roc: Roc;
  readonly volume: RollingStats;
  readonly values: Record<Component, number> = {
    trendStrength: NaN,
    atrExpansion: NaN,
    momentum: NaN,
    volumeSpike: NaN,
  };
  constructor(c: ScannerConfig) {
    this.adx = new Adx(c.adxPeriod);
    this.atrShort = new Atr(c.atrShort);
    this.atrLong = new Atr(c.atrLong);
    this.roc = new Roc(c.rocPeriod);
    this.volume = new RollingStats(c.volumeWindow);
  }
  reset(): void {
    this.adx.reset();
    this.atrShort.reset();
    this.atrLong.reset();
    this.roc.reset();
    this.volume.reset();
  }
}

/** Standardised values of `xs` (see file doc), written into `out`. */
function standardise(xs: readonly number[], method: "zscore" | "rank", out: number[]): void {
  const n = xs.length;
  if (method === "zscore") {
    let mean = 0;
    for (const x of xs) mean += x;
    mean /= n;
    let v = 0;
    for (const x of xs) v += (x - mean) * (x - mean);
    const sd = Math.sqrt(v / n);
    for (let i = 0; i < n; i++) out[i] = sd > 0 ? (xs[i] - mean) / sd : 0;
    return;
  }
  if (n === 1) {
    out[0] = 0.5;
    return;
  }
  for (let i = 0; i < n; i++) {
    let below = 0;
    let equal = 0;
    for (let j = 0; j < n; j++) {
      if (xs[j] < xs[i]) below++;
      else if (xs[j] === xs[i]) equal++;
    }
    // Average 1-based rank of the tie group, mapped to [0, 1].
    const rank = below + (equal + 1) / 2;
    out[i] = (rank - 1) / (n - 1);
  }
}

/** Ranks `symbols` on their closed bars (see file doc). */
export class Scanner {
  readonly interval: string;
  private readonly states = new Map<string, SymbolState>();
  private newestTs = -Infinity;
  private dirty = true;
  private cached: ScannerRank[] = [];
  private readonly tradableSet = new Set<string>();

  /**
   * @param cfg parsed scanner config. @throws StrategyConfigError when atrLong ≤ atrShort or all weights
   * are 0; RangeError when `symbols` is empty or has duplicates.
   */
  constructor(private readonly cfg: ScannerConfig, symbols: readonly string[]) {
    throwProblems("scanner", cfg, scannerProblems(cfg));
    if (symbols.length === 0) throw new RangeError("Scanner: need at least one symbol");
    for (const s of symbols) {
      if (this.states.has(s)) throw new RangeError(`Scanner: symbol ${s} listed twice`);
      this.states.set(s, new SymbolState(cfg));
    }
    this.interval = cfg.interval;
  }

  /**
   * Updates `bar.symbol`'s components. Bars of another interval or of a symbol not scanned are
   * ignored. @throws RangeError on a bar out of order, off its grid or with inconsistent OHLC.
   */
  onBar(bar: ClosedBar): void {
    if (bar.interval !== this.cfg.interval) return;
    const st = this.states.get(bar.symbol);
    if (!st) return;
    if (st.seq.accept(bar) === "gap") st.reset();
    st.intervalMs = bar.intervalMs;
    const { high, low, close, volume } = bar;
    st.adx.update(high, low, close);
    const short = st.atrShort.update(high, low, close);
    const long = st.atrLong.update(high, low, close);
    const roc = st.roc.update(close);
    st.volume.push(volume);
    const meanVol = st.volume.mean();
    const v = st.values;
    v.trendStrength = st.adx.adx;
    v.atrExpansion = long > 0 ? short / long : NaN;
    v.momentum = this.cfg.momentumMode === "abs" ? Math.abs(roc) : roc;
    v.volumeSpike = meanVol > 0 ? volume / meanVol : NaN;
    if (bar.ts > this.newestTs) this.newestTs = bar.ts;
    this.dirty = true;
  }

  private isReady(st: SymbolState): boolean {
    const v = st.values;
    if (st.seq.lastTs < this.newestTs - st.intervalMs) return false;
    return v.trendStrength === v.trendStrength && v.atrExpansion === v.atrExpansion &&
      v.momentum === v.momentum && v.volumeSpike === v.volumeSpike;
  }

  private recompute(): void {
    this.dirty = false;
    const ready: [string, SymbolState][] = [];
    for (const e of this.states) if (this.isReady(e[1])) ready.push(e);
    const n = ready.length;
    const scores = new Array<number>(n).fill(0);
    const xs = new Array<number>(n);
    const zs = new Array<number>(n);
    for (const k of COMPONENTS) {
      const w = this.cfg.weights[k];
      if (w === 0 || n === 0) continue;
      for (let i = 0; i < n; i++) xs[i] = ready[i][1].values[k];
      standardise(xs, this.cfg.scoreMethod, zs);
      for (let i = 0; i < n; i++) scores[i] += w * zs[i];
    }
    const order = ready.map((_, i) => i).sort((a, b) =>
      scores[b] - scores[a] || (ready[a][0] < ready[b][0] ? -1 : 1)
    );
    const out: ScannerRank[] = [];
    this.tradableSet.clear();
    order.forEach((i, r) => {
      const [symbol, st] = ready[i];
      const tradable = r < this.cfg.topN;
      if (tradable) this.tradableSet.add(symbol);
      out.push({ symbol, score: scores[i], ...st.values, rank: r + 1, tradable });
    });
    const rest = [...this.states].filter(([s]) => !ready.some(([r]) => r === s))
      .sort(([a], [b]) => (a < b ? -1 : 1));
    for (const [symbol, st] of rest) {
      // No ready symbol at all: the scanner has no opinion and lets everything trade.
      if (n === 0) this.tradableSet.add(symbol);
      out.push({ symbol, score: NaN, ...st.values, rank: NaN, tradable: n === 0 });
    }
    this.cached = out;
  }

  /** All scanned symbols: ranked (ready) ones by rank, then the others by name. Fresh copies. */
  ranking(): ScannerRank[] {
    if (this.dirty) this.recompute();
    return this.cached.map((r) => ({ ...r }));
  }

  /** True for the top-N ready symbols (all symbols while none is ready); false for unknown ones. */
  isTradable(symbol: string): boolean {
    if (this.dirty) this.recompute();
    return this.tradableSet.has(symbol);
  }
}
