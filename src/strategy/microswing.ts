/**
 * `microswing`: enters on a burst of one-sided taker flow confirmed by the order book and the
 * mark price, and aims the exits at a 1–2 % swing measured in 15-minute ATRs.
 *
 * Data path. Market events go through the feature layer's own `MicroSampler` (one `MicroInput` a
 * second: book, trade flow, ticker) and `MicroEngine` (the `micro` feature set, registry.ts), so
 * the values this strategy acts on are exactly the ones stored and fed to models. One decision is
 * taken per emitted second and symbol, on the newest second only when an event completes several
 * at once (older ones are stale by then): at most one decision per second per symbol.
 *
 * Gates (all must pass to enter):
 * - spread_bps ≤ maxSpreadBps;
 * - volatility in [minVolBps, maxVolBps]: `volSource` "rv_60s" = √Σr² of the last 60 one-second
 *   mid log returns (bps), or "atr" = ATR/mid (bps) of the ATR below;
 * - flat, out of the cooldown, `view.tradable(symbol)`, an ATR known, and the target distance
 *   covering `minTargetCostMult` × the round-trip taker fee (2 × takerFeeRate).
 *
 * Triggers, each a vote +1 (long), −1 (short) or 0:
 * - flow: flow_delta_z_60s ≥ zEntry → +1, ≤ −zEntry → −1;
 * - imbalance: imb5_chg_5s (change of top-5 book imbalance over 5 s) ≥ imbShift → +1, ≤ −imbShift
 *   → −1;
 * - mark: the deviation d (bps) of the perp's traded price from its reference, positive when the
 *   perp trades above it: d = −mark_last_bps = (last − mark)/mid (markSource "mark_last") or
 *   d = basis_bps = (mark − index)/index ("basis"). markMode "momentum" reads d ≥ markDevBps as
 *   +1 (buyers pay up: price leads its reference); "reversion" flips the sign (a cheap perp is a
 *   long).
 * Every trigger in `required` must vote the same non-zero side, and at least `minOptional` of the
 * others must vote that side too (default: flow plus one of imbalance/mark). Opposite votes of
 * optional triggers do not veto.
 *
 * ATR. Wilder ATR(atrPeriod) of closed `atrInterval` bars (ClosedBar via onBar, default 15m),
 * used while its last bar closed at most `atrMaxAgeBars` intervals ago. Before atrPeriod + 1 bars
 * (or when stale) and with `atrFallback` "rv_60s", it is estimated from the micro engine's
 * realised volatility: σ₁ₛ = rv_60s/√60 (per-second σ, bps), scaled to the bar by √t,
 * ATR ≈ fallbackRangeFactor × σ₁ₛ × √(interval seconds) × 1e-4 × mid. The default factor 1.6 ≈
 * √(8/π) is the expected high−low range of a Brownian bar in σ units (Parkinson 1980, J.
 * Business), which the true range approximates. This lets the strategy trade short recordings.
 *
 * Orders. stop = entry ∓ atrStopMult × ATR, take-profit = entry ± atrTargetMult × ATR, trailing
 * callback `trailingRatio` (0 = none); entry price = the second's book mid. With the defaults (2
 * and 4 ATR) and BTC's median 15m ATR of 35 bps (Mar–Apr 2025) the target is ≈ 1.4 %.
 *
 * Exits emitted by the strategy: after `maxHoldMs` in the position (`openedAt` from the view), or
 * when the triggers fire against the position. Stop/target/trailing are the venue's. After any
 * exit (ours, or the engine's via onPositionClosed, or a position that vanished) no entry for
 * `cooldownMs`; an entry the engine declined counts as a vanished position.
 *
 * Recorded at each decision (when flow z, spread and volatility are known): flow_z, imb_shift,
 * mark_dev_bps, spread_bps, vol_bps, atr (USDT; NaN when unknown).
 */
import { z } from "zod";
import { parseDuration } from "../config/duration.ts";
import { Atr } from "../features/indicators.ts";
import { MicroEngine } from "../features/micro.ts";
import { type MicroInput, MicroSampler } from "../features/micro_input.ts";
import { columnIndex, MICRO_FEATURES } from "../features/registry.ts";
import type { MarketEvent } from "../market/events.ts";
import { BarSequence } from "./bar_sequence.ts";
import { type ConfigProblem, parseStrategyConfig, throwProblems } from "./config_parse.ts";
import type { ClosedBar, Signal, StrategyView, TradingStrategy } from "./types.ts";

const TRIGGERS = ["flow", "imbalance", "mark"] as const;
type Trigger = typeof TRIGGERS[number];

export const MicroswingConfigSchema = z.object({
  /** Book channel the sampler reads: "books15" (top-15 snapshots) or "books" (full depth). */
  bookChannel: z.enum(["books15", "books"]).default("books15"),
  /** Largest quoted spread allowed for an entry (bps of mid). */
  maxSpreadBps: z.number().positive().default(3),
  /** Volatility measure of the gate: "rv_60s" (60 s realised vol) or "atr" (ATR/mid). */
  volSource: z.enum(["rv_60s", "atr"]).default("rv_60s"),
  /** Lowest volatility allowed for an entry (bps). */
  minVolBps: z.number().min(0).default(0.5),
  /** Highest volatility allowed for an entry (bps). */
  maxVolBps: z.number().positive().default(20),
  /** |flow_delta_z_60s| (z-score of the second's taker buy − sell volume) that triggers. */
  zEntry: z.number().positive().default(3),
  /** |imb5_chg_5s| (change of top-5 imbalance over 5 s, ratio in [−2, 2]) that triggers. */
  imbShift: z.number().min(0).max(2).default(0.3),
  /** Mark deviation source: "mark_last" (mark vs last trade) or "basis" (mark vs index). */
  markSource: z.enum(["mark_last", "basis"]).default("mark_last"),
  /** "momentum": perp above its reference votes long; "reversion": votes short. */
  markMode: z.enum(["momentum", "reversion"]).default("momentum"),
  /** |mark deviation| (bps) that votes. */
  markDevBps: z.number().min(0).default(0.5),
  /** Triggers that must all vote the entry side. */
  required: z.array(z.enum(TRIGGERS)).min(1).default(["flow"]),
  /** How many of the other triggers must also vote that side. */
  minOptional: z.number().int().min(0).max(2).default(1),
  /** Bar interval of the ATR (ClosedBar via onBar). */
  atrInterval: z.string().regex(/^\d+[mhd]$/, 'expected an interval like "15m"').default("15m"),
  /** Wilder ATR period (bars); bar ATR is used from bar atrPeriod + 1. */
  atrPeriod: z.number().int().min(1).default(14),
  /** Bar ATR older than this many intervals (last bar close to now) is stale. */
  atrMaxAgeBars: z.number().int().min(1).default(2),
  /** ATR estimate while bar ATR is unavailable: "rv_60s" (see file doc) or "none" (no entry). */
  atrFallback: z.enum(["rv_60s", "none"]).default("rv_60s"),
  /** Range factor of the rv_60s fallback, ATR ≈ factor × σ_bar (default ≈ √(8/π)). */
  fallbackRangeFactor: z.number().positive().default(1.6),
  /** Stop distance in ATRs (> 0). */
  atrStopMult: z.number().positive().default(2),
  /** Take-profit distance in ATRs (> 0). */
  atrTargetMult: z.number().positive().default(4),
  /** Trailing-stop callback as a ratio of the best price (0.008 = 0.8 %); 0 = no trailing stop. */
  trailingRatio: z.number().min(0).max(0.1).default(0.008),
  /** Target distance must be ≥ this × round-trip taker fee (2 × takerFeeRate); 0 = no check. */
  minTargetCostMult: z.number().min(0).default(2),
  /** No entry for this long after an exit (ms). */
  cooldownMs: z.number().int().min(0).default(60_000),
  /** Longest time in a position before the strategy exits it (ms). */
  maxHoldMs: z.number().int().positive().default(3_600_000),
}).strict();

export type MicroswingConfig = z.infer<typeof MicroswingConfigSchema>;

function microswingProblems(c: MicroswingConfig): ConfigProblem[] {
  const p: ConfigProblem[] = [];
  if (c.minVolBps > c.maxVolBps) p.push({ field: "minVolBps", message: "must be ≤ maxVolBps" });
  if (new Set(c.required).size !== c.required.length) {
    p.push({ field: "required", message: "lists a trigger twice" });
  }
  if (c.minOptional > TRIGGERS.length - c.required.length) {
    p.push({ field: "minOptional", message: "exceeds the number of triggers not in `required`" });
  }
  try {
    parseDuration(c.atrInterval);
  } catch (e) {
    p.push({ field: "atrInterval", message: (e as Error).message });
  }
  return p;
}

/** Validates a raw `microswing` config section. @throws StrategyConfigError per bad field. */
export function parseMicroswingConfig(raw: unknown): MicroswingConfig {
  return parseStrategyConfig(
    MicroswingConfigSchema,
    raw,
    "strategy.microswing",
    microswingProblems,
  );
}

const C = columnIndex(MICRO_FEATURES);

class SymbolState {
  readonly sampler: MicroSampler;
  readonly engine = new MicroEngine();
  readonly samples: MicroInput[] = [];
  readonly seq = new BarSequence();
  readonly atr: Atr;
  /** Close time (ms) of the last ATR bar. */
  lastBarEnd = NaN;
  /** Whether the last atrAt() came from bars (else the fallback). */
  atrFromBars = false;
  lastDecisionTs = -Infinity;
  cooldownUntil = -Infinity;
  /** Side of the position we believe is open (ours or adopted from the view). */
  side: "long" | "short" | null = null;
  constructor(symbol: string, c: MicroswingConfig) {
    this.sampler = new MicroSampler(symbol, c.bookChannel);
    this.atr = new Atr(c.atrPeriod);
  }
}

const vote = (x: number, thr: number): number => (x >= thr ? 1 : x <= -thr ? -1 : 0);

/**
 * Creates the microswing strategy (see file doc) from a parsed config.
 * @throws StrategyConfigError on inconsistent fields (minVolBps > maxVolBps, duplicated or
 * over-constrained triggers, bad atrInterval). onBar throws RangeError on bars out of order.
 */
export function createMicroswingStrategy(cfg: MicroswingConfig): TradingStrategy {
  throwProblems("strategy.microswing", cfg, microswingProblems(cfg));
  const c = cfg;
  const atrIntervalMs = parseDuration(c.atrInterval);
  const fallbackScale = (c.fallbackRangeFactor * Math.sqrt(atrIntervalMs / 1000)) /
    Math.sqrt(60) * 1e-4;
  const required = new Set<Trigger>(c.required);
  const states = new Map<string, SymbolState>();
  const stateOf = (symbol: string): SymbolState => {
    let st = states.get(symbol);
    if (!st) states.set(symbol, st = new SymbolState(symbol, c));
    return st;
  };

  /** ATR (USDT) at `now`: bar ATR when fresh, else the rv_60s fallback, else NaN. */
  function atrAt(st: SymbolState, now: number, mid: number, rv60: number): number {
    const a = st.atr.value;
    st.atrFromBars = a > 0 && now - st.lastBarEnd <= c.atrMaxAgeBars * atrIntervalMs;
    if (st.atrFromBars) return a;
    if (c.atrFallback === "rv_60s" && rv60 > 0) return rv60 * fallbackScale * mid;
    return NaN;
  }

  function decide(
    symbol: string,
    st: SymbolState,
    x: MicroInput,
    f: Float64Array,
    view: StrategyView,
  ): Signal[] | void {
    if (x.ts <= st.lastDecisionTs) return;
    st.lastDecisionTs = x.ts;
    const now = view.time;
    const pos = view.position(symbol);
    if (!pos && st.side !== null) {
      // Closed by the venue (stop, target, liquidation) or the entry never filled.
      st.side = null;
      st.cooldownUntil = Math.max(st.cooldownUntil, now + c.cooldownMs);
    } else if (pos) st.side = pos.side;

    const z = f[C.flow_delta_z_60s];
    const spread = f[C.spread_bps];
    const rv60 = f[C.rv_60s];
    const mid = x.mid;
    const atr = atrAt(st, now, mid, rv60);
    const volBps = c.volSource === "rv_60s" ? rv60 : (atr / mid) * 1e4;
    const imb = f[C.imb5_chg_5s];
    let dev = c.markSource === "mark_last" ? -f[C.mark_last_bps] : f[C.basis_bps];
    if (c.markMode === "reversion") dev = -dev;
    const ready = z === z && spread === spread && volBps === volBps;
    if (ready) {
      view.record(symbol, "flow_z", z);
      view.record(symbol, "imb_shift", imb);
      view.record(symbol, "mark_dev_bps", dev);
      view.record(symbol, "spread_bps", spread);
      view.record(symbol, "vol_bps", volBps);
      view.record(symbol, "atr", atr);
    }
    // The holding limit does not depend on the features being warm.
    if (pos && now - pos.openedAt >= c.maxHoldMs) return exit(symbol, st, now, "max holding time");
    if (!ready) return;

    const votes: Record<Trigger, number> = {
      flow: vote(z, c.zEntry),
      imbalance: imb === imb ? vote(imb, c.imbShift) : 0,
      mark: dev === dev ? vote(dev, c.markDevBps) : 0,
    };
    let dir = 0;
    for (const t of required) {
      const v = votes[t];
      if (v === 0 || (dir !== 0 && v !== dir)) return;
      dir = v;
    }
    let agree = 0;
    for (const t of TRIGGERS) if (!required.has(t) && votes[t] === dir) agree++;
    if (agree < c.minOptional) return;
    const side = dir > 0 ? "long" : "short";
    const why = `flow z ${z.toFixed(2)}, imb5 Δ ${imb.toFixed(2)}, mark dev ${dev.toFixed(2)} bps`;

    if (pos) {
      if (pos.side !== side) return exit(symbol, st, now, `triggers turned ${side} (${why})`);
      return;
    }
    if (now < st.cooldownUntil || !view.tradable(symbol)) return;
    if (!(spread <= c.maxSpreadBps && volBps >= c.minVolBps && volBps <= c.maxVolBps)) return;
    if (!(atr > 0)) return;
    const stopDist = c.atrStopMult * atr;
    const targetDist = c.atrTargetMult * atr;
    const fee = view.takerFeeRate(symbol);
    if (fee > 0 && targetDist / mid < c.minTargetCostMult * 2 * fee) return;
    const long = side === "long";
    const stopPrice = long ? mid - stopDist : mid + stopDist;
    if (!(stopPrice > 0)) return;
    st.side = side;
    const atrSrc = st.atrFromBars ? `ATR(${c.atrInterval} bars)` : "ATR(rv_60s fallback)";
    return [{
      kind: "enter",
      symbol,
      side,
      price: mid,
      stopPrice,
      takeProfitPrice: long ? mid + targetDist : mid - targetDist,
      ...(c.trailingRatio > 0 ? { trailingRatio: c.trailingRatio } : {}),
      reason: `microswing ${side}: ${why}; ${atrSrc} ${atr.toPrecision(6)}`,
    }];
  }

  function exit(symbol: string, st: SymbolState, now: number, why: string): Signal[] {
    st.side = null;
    st.cooldownUntil = now + c.cooldownMs;
    return [{ kind: "exit", symbol, reason: `microswing: ${why}` }];
  }

  return {
    name: "microswing",
    barIntervals: [c.atrInterval],
    onBar(bar: ClosedBar): void {
      if (bar.interval !== c.atrInterval) return;
      const st = stateOf(bar.symbol);
      if (st.seq.accept(bar) === "gap") st.atr.reset();
      st.atr.update(bar.high, bar.low, bar.close);
      st.lastBarEnd = bar.ts + bar.intervalMs;
    },
    onEvent(ev: MarketEvent, view: StrategyView): Signal[] | void {
      const st = stateOf(ev.symbol);
      const buf = st.samples;
      st.sampler.push(ev, buf);
      if (buf.length === 0) return;
      let f: Float64Array | null = null;
      for (const x of buf) f = st.engine.update(x);
      const last = buf[buf.length - 1];
      buf.length = 0;
      return decide(ev.symbol, st, last, f!, view);
    },
    onPositionClosed(symbol: string, _reason: string, time: number): void {
      const st = states.get(symbol);
      if (!st) return;
      st.side = null;
      st.cooldownUntil = Math.max(st.cooldownUntil, time + c.cooldownMs);
    },
  };
}
