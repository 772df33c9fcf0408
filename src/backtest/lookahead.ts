/**
 * Look-ahead check (`bitget-bot backtest … --check-lookahead`): a causal strategy's decision at
 * time t depends only on data before t, so cutting the data at T must leave every decision
 * recorded before T unchanged. The check reruns the backtest on data truncated at several cut
 * points and lists every recorded value (StrategyContext.record) that differs from the full run.
 * Records are matched per (symbol, name) in order of occurrence, and compared exactly
 * (`Object.is`, so NaN equals NaN and 0 differs from −0 only as the engines produce them).
 */
import type { SignalRecord } from "../engine/contract.ts";

/** A decision value that changed (or appeared / vanished) when the data was cut at `cut`. */
export interface LookaheadDiff {
  cut: number;
  ts: number;
  symbol: string;
  name: string;
  /** Value in the full run; null when the truncated run has a record the full run lacks. */
  full: number | null;
  /** Value in the truncated run; null when it is missing there. */
  truncated: number | null;
}

export interface LookaheadReport {
  /** Cut times (epoch ms), ascending. */
  cuts: number[];
  /** Records compared over all cuts. */
  compared: number;
  diffs: LookaheadDiff[];
}

/**
 * Evenly spaced cut points strictly inside (from, to), aligned down to `alignMs` (bar length) so a
 * cut never falls inside a bar. Throws RangeError for cuts < 1 or an empty range.
 */
export function cutPoints(from: number, to: number, cuts: number, alignMs = 1): number[] {
  if (!(Number.isInteger(cuts) && cuts >= 1)) {
    throw new RangeError(`cuts must be an integer ≥ 1, got ${cuts}`);
  }
  if (!(to > from)) throw new RangeError(`empty range [${from}, ${to})`);
  const out: number[] = [];
  for (let k = 1; k <= cuts; k++) {
    const t = Math.floor((from + (to - from) * k / (cuts + 1)) / alignMs) * alignMs;
    if (t > from && t < to && !out.includes(t)) out.push(t);
  }
  return out;
}

/** Compares the records of a full run with those of a run whose data ended at `cut`. */
export function compareRecords(
  full: readonly SignalRecord[],
  truncated: readonly SignalRecord[],
  cut: number,
): { compared: number; diffs: LookaheadDiff[] } {
  const group = (rs: readonly SignalRecord[]) => {
    const m = new Map<string, SignalRecord[]>();
    for (const r of rs) {
      if (r.ts >= cut) continue;
      const k = `${r.symbol}\u0000${r.name}`;
      let a = m.get(k);
      if (!a) m.set(k, a = []);
      a.push(r);
    }
    return m;
  };
  const a = group(full);
  const b = group(truncated);
  const diffs: LookaheadDiff[] = [];
  let compared = 0;
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(key) ?? [];
    const y = b.get(key) ?? [];
    for (let i = 0; i < Math.max(x.length, y.length); i++) {
      compared++;
      const p = x[i];
      const q = y[i];
      if (p && q && p.ts === q.ts && Object.is(p.value, q.value)) continue;
      const r = (p ?? q)!;
      diffs.push({
        cut,
        ts: r.ts,
        symbol: r.symbol,
        name: r.name,
        full: p ? p.value : null,
        truncated: q ? q.value : null,
      });
    }
  }
  diffs.sort((u, v) => u.ts - v.ts);
  return { compared, diffs };
}

/**
 * Runs the check: `run(to)` must replay [from, to) with everything else equal and return the
 * records. The full run's records are passed in to avoid a rerun.
 */
export async function checkLookahead(
  fullRecords: readonly SignalRecord[],
  run: (to: number) => Promise<readonly SignalRecord[]>,
  cuts: readonly number[],
): Promise<LookaheadReport> {
  const diffs: LookaheadDiff[] = [];
  let compared = 0;
  for (const cut of cuts) {
    const r = compareRecords(fullRecords, await run(cut), cut);
    compared += r.compared;
    diffs.push(...r.diffs);
  }
  return { cuts: [...cuts], compared, diffs };
}
