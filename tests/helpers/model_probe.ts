/** Probe rows for tree-ensemble tests (ONNX export, compiled ensemble). */
import { float32AtOrBelow } from "../../src/model/onnx_export.ts";
import { type GbdtModel, K_ZERO_THRESHOLD as Z } from "../../src/model/tree.ts";
import { mulberry32 } from "../../bench/scoring_bench.ts";

/** Rows that hit thresholds exactly, just below/above in float32, zeros, the zero band, NaN, ±inf. */
export function probeRows(m: GbdtModel, n: number, seed: number): Float32Array {
  const rnd = mulberry32(seed);
  const f = m.featureNames.length;
  const thr: number[][] = Array.from({ length: f }, () => []);
  for (const t of m.trees) t.splitFeature.forEach((sf, i) => thr[sf].push(t.threshold[i]));
  const x = new Float32Array(n * f);
  for (let i = 0; i < x.length; i++) {
    const ts = thr[i % f];
    const u = rnd();
    if (u < 0.35 && ts.length) {
      const t = ts[Math.floor(rnd() * ts.length)];
      const c = [Math.fround(t), float32AtOrBelow(t), Math.fround(t) * (1 + 2 ** -23)];
      x[i] = c[Math.floor(rnd() * 3)];
    } else if (u < 0.45) x[i] = NaN;
    else if (u < 0.55) x[i] = 0;
    else if (u < 0.62) x[i] = (rnd() < 0.5 ? -1 : 1) * (rnd() < 0.5 ? 1e-36 : Z);
    else if (u < 0.65) x[i] = rnd() < 0.5 ? Infinity : -Infinity;
    else x[i] = rnd() * 5 - 2.5;
  }
  return x;
}
