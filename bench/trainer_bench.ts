/**
 * Trainer benchmark: `deno run -A bench/trainer_bench.ts [--quick] [--json]`.
 *
 * A deterministic synthetic data set (nonlinear signal + noise over 20 features, 10 pure-noise
 * features, 2% NaN in one feature), 200,000 rows × 30 features with 20% held out, i.e. 160,000
 * training rows as in the LightGBM reference runs. Tasks and LightGBM 4.6 CLI reference times on
 * this machine (2 threads, num_leaves 31, learning_rate 0.05, max_bin 255, min_data_in_leaf 20):
 * multiclass (3 classes) 200 iterations 12.5 s, binary 100 iterations 3.7 s, regression 100
 * iterations 2.1 s. Wall time here covers binning + training + per-iteration validation metrics
 * (LightGBM's also includes reading its CSV files). `--quick`: 20,000 rows, 20 iterations (CI).
 *
 * `runTrainerBench()` returns the figures for the aggregated `deno task bench`.
 */
import { train, type TrainData } from "../src/model/train/gbdt.ts";
import { parseParams } from "../src/model/train/params.ts";

/** One benchmark task's figures. */
export interface TrainerBenchResult {
  task: "multiclass" | "binary" | "regression";
  trainRows: number;
  validRows: number;
  features: number;
  iterations: number;
  threads: number;
  wallSec: number;
  /** Peak resident set size seen during the task (sampled every iteration), MiB. */
  peakRssMiB: number;
  /** Validation metrics after the last iteration. */
  metrics: Record<string, number>;
  /** LightGBM's wall time for the full-size task on this machine (s), null in quick mode. */
  lightgbmSec: number | null;
  /** wallSec / lightgbmSec (goal ≤ 2), null in quick mode. */
  ratioToLightgbm: number | null;
}

/** Small deterministic PRNG (mulberry32) so the data set is identical on every run. */
function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Synthetic regression signal, binary and 3-class labels for `rows` rows × 30 features.
 * Features 0–4 N(0,1), 5 U(−3,3), 6 integer 0..10, 7 log-normal, 8–19 N(0,1) (8 has 2% NaN),
 * 20–29 pure noise. Values are rounded to 7 significant digits like a CSV export.
 */
export function syntheticData(rows: number, seed = 20240601) {
  const F = 30;
  const r = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const x = new Float64Array(rows * F);
  const yReg = new Float64Array(rows), yBin = new Float64Array(rows), yMc = new Float64Array(rows);
  const round7 = (v: number) => Number(v.toPrecision(7));
  for (let i = 0; i < rows; i++) {
    const o = i * F;
    for (let f = 0; f < F; f++) x[o + f] = round7(gauss());
    x[o + 5] = round7(6 * r() - 3);
    let k = 0;
    for (let t = 0; t < 10; t++) if (r() < 0.5) k++;
    x[o + 6] = k;
    x[o + 7] = round7(Math.exp(0.6 * gauss()));
    if (r() < 0.02) x[o + 8] = NaN;
    const v = (f: number) => x[o + f];
    let s = 1.2 * Math.sin(v(0)) + 0.8 * v(1) * v(2) + 0.6 * Math.abs(v(3)) - 0.5 +
      0.4 * v(4) * v(4) - 0.4 + 0.3 * v(5) + 0.15 * (v(6) - 5) + 0.5 * Math.log(v(7)) +
      (Number.isNaN(v(8)) ? 0.7 : 0.5 * Math.tanh(v(8)));
    for (let f = 9; f < 20; f++) s += (f % 2 ? 0.12 : -0.12) * v(f);
    yReg[i] = s + gauss();
    const u = Math.min(Math.max(r(), 1e-12), 1 - 1e-12);
    yBin[i] = s + Math.log(u / (1 - u)) > 0 ? 1 : 0;
    const z = s + 0.8 * gauss();
    yMc[i] = z < -0.6 ? 0 : z < 0.6 ? 1 : 2;
  }
  return { rows, features: F, x, yReg, yBin, yMc };
}

const LIGHTGBM_SEC = { multiclass: 12.5, binary: 3.7, regression: 2.1 } as const;

/**
 * Runs the three tasks and returns their figures (also printed unless `print` is false).
 * @param opts.quick 20,000 rows and 20 iterations instead of 200,000 rows and 200/100/100
 */
export async function runTrainerBench(
  opts: { quick?: boolean; print?: boolean } = {},
): Promise<TrainerBenchResult[]> {
  const quick = opts.quick ?? false;
  const print = opts.print ?? true;
  const rows = quick ? 20_000 : 200_000;
  const d = syntheticData(rows);
  const nt = Math.floor(rows * 0.8);
  const F = d.features;
  const split = (y: Float64Array): [TrainData, TrainData] => [
    { numRows: nt, numFeatures: F, values: d.x.subarray(0, nt * F), labels: y.subarray(0, nt) },
    {
      numRows: rows - nt,
      numFeatures: F,
      values: d.x.subarray(nt * F),
      labels: y.subarray(nt),
    },
  ];
  const common = [
    "num_leaves=31",
    "learning_rate=0.05",
    "max_bin=255",
    "min_data_in_leaf=20",
    "num_threads=2",
    "seed=42",
  ];
  const tasks = [
    {
      task: "multiclass" as const,
      y: d.yMc,
      params: ["objective=multiclass", "num_class=3", "metric=multi_logloss,multi_error"],
      iters: quick ? 20 : 200,
    },
    {
      task: "binary" as const,
      y: d.yBin,
      params: ["objective=binary", "metric=binary_logloss,auc"],
      iters: quick ? 20 : 100,
    },
    {
      task: "regression" as const,
      y: d.yReg,
      params: ["objective=regression", "metric=l2,rmse"],
      iters: quick ? 20 : 100,
    },
  ];
  const out: TrainerBenchResult[] = [];
  for (const t of tasks) {
    const [tr, va] = split(t.y);
    const p = parseParams([...t.params, ...common, `num_iterations=${t.iters}`]);
    let peak = Deno.memoryUsage().rss;
    const t0 = performance.now();
    const { history } = await train(tr, p, va, {
      onIteration: () => {
        peak = Math.max(peak, Deno.memoryUsage().rss);
      },
    });
    const wallSec = (performance.now() - t0) / 1000;
    peak = Math.max(peak, Deno.memoryUsage().rss);
    const last = history.valid[history.valid.length - 1] ?? [];
    const metrics: Record<string, number> = {};
    history.metrics.forEach((m, i) => (metrics[m] = last[i]));
    const ref = quick ? null : LIGHTGBM_SEC[t.task];
    const r: TrainerBenchResult = {
      task: t.task,
      trainRows: tr.numRows,
      validRows: va.numRows,
      features: F,
      iterations: history.numIterations,
      threads: history.threads,
      wallSec,
      peakRssMiB: peak / 2 ** 20,
      metrics,
      lightgbmSec: ref,
      ratioToLightgbm: ref ? wallSec / ref : null,
    };
    out.push(r);
    if (print) {
      const ms = Object.entries(metrics).map(([k, v]) => `${k} ${v.toFixed(5)}`).join(", ");
      console.log(
        `${t.task.padEnd(10)} ${r.trainRows}×${F}, ${r.iterations} it, ${r.threads} thr: ` +
          `${wallSec.toFixed(2)} s` +
          (ref ? ` (LightGBM ${ref} s, ×${(wallSec / ref).toFixed(2)})` : "") +
          `, peak RSS ${r.peakRssMiB.toFixed(0)} MiB, valid ${ms}`,
      );
    }
  }
  return out;
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  const res = await runTrainerBench({ quick, print: !Deno.args.includes("--json") });
  if (Deno.args.includes("--json")) console.log(JSON.stringify(res, null, 2));
}
