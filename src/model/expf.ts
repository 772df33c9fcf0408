/**
 * `expf` — single-precision e^x with the exact results of the C library onnxruntime-web is built
 * against (Emscripten's musl, whose expf is Arm's optimized-routines algorithm, MIT licence:
 * Szabolcs Nagy, "expf", https://github.com/ARM-software/optimized-routines, math/expf.c).
 * onnxruntime computes a classifier's SOFTMAX and LOGISTIC in float32 with `std::exp(float)`,
 * so reproducing its probabilities bit for bit needs this function rather than
 * `Math.fround(Math.exp(x))`, which differs in the last bit on about 1 input in 2,000 (measured
 * on the default model's real rows: 149 of 310,170 probabilities).
 *
 * Algorithm: x·32/ln2 = k + r (k the nearest integer, |r| ≤ 1/2, found by adding 1.5·2^52 and
 * reading the low bits); e^x = 2^(k/32) · 2^(r/32), with 2^(k/32) = a table entry of 2^(i/32)
 * (i = k mod 32) whose exponent field is shifted by k >> 5, and 2^(r/32) ≈ 1 + C2·r + C1·r² +
 * C0·r³ evaluated in double, then rounded once to float32. The table is computed here, each entry
 * correctly rounded (checked exactly with BigInt arithmetic); the three polynomial coefficients
 * are the published minimax ones.
 */

const N = 32;
const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);
/** The two 32-bit words of `f64[0]`: [low, high] on the little-endian hosts Deno runs on. */
const w32 = new Uint32Array(f64.buffer);
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("expf: expects a little-endian host");
}

/** The double nearest to 2^(i/32), 0 ≤ i < 32, proven by exact comparison of midpoints. */
function pow2Frac(i: number): number {
  f64[0] = Math.pow(2, i / N);
  let bits = u64[0];
  // Mantissa M (53 bits) of a double in [1, 2): value = M / 2^52. Midpoint to the next double:
  // (2M + 1) / 2^53. It lies above 2^(i/32) ⇔ (2M + 1)^32 > 2^(i + 53·32).
  const target = 1n << BigInt(i + 53 * 32);
  const mant = (b: bigint) => (b & ((1n << 52n) - 1n)) | (1n << 52n);
  for (let k = 0; k < 4; k++) {
    const m = mant(bits);
    const up = (2n * m + 1n) ** 32n; // midpoint to the next double up
    const down = (2n * m - 1n) ** 32n; // midpoint to the next double down
    if (up <= target) bits += 1n;
    else if (down > target) bits -= 1n;
    else break;
  }
  u64[0] = bits;
  return f64[0];
}

/**
 * tab[i] = bits(2^(i/32)) − (i << 47), so that tab[k mod 32] + (k << 47) = bits(2^(k/32)); kept as
 * 32-bit words so `expf` needs no BigInt: (k << 47) has zero low bits, so it only adds
 * (k << 15) mod 2^32 to the high word, with no carry from the low one.
 */
const TAB_LO = new Uint32Array(N);
const TAB_HI = new Uint32Array(N);
for (let i = 0; i < N; i++) {
  f64[0] = pow2Frac(i);
  u64[0] -= BigInt(i) << 47n;
  TAB_LO[i] = w32[0];
  TAB_HI[i] = w32[1];
}

const SHIFT = 1.5 * 2 ** 52; // 0x1.8p+52
const INV_LN2_N = (0x171547652b82fe / 2 ** 52) * N; // 0x1.71547652b82fep+0 · 32
const C0 = 0x1c6af84b912394 / 2 ** 57 / N / N / N; // 0x1.c6af84b912394p-5 / N³
const C1 = 0x1ebfce50fac4f3 / 2 ** 55 / N / N; // 0x1.ebfce50fac4f3p-3 / N²
const C2 = 0x162e42ff0c52d6 / 2 ** 53 / N; // 0x1.62e42ff0c52d6p-1 / N

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** e^x for a float32 `x`, rounded to float32 exactly as musl/optimized-routines `expf`. */
export function expf(x: number): number {
  x = Math.fround(x);
  f32[0] = x;
  const abstop = (u32[0] >>> 20) & 0x7ff;
  if (abstop >= 0x42b) { // top12(88.0f) = 0x42b: |x| ≥ 88, or NaN / Infinity
    if (x === -Infinity) return 0;
    if (abstop >= 0x7f8) return x + x; // NaN or +Infinity
    if (x > 88.72283172607422) return Infinity; // 0x1.62e42ep6f
    if (x < -103.97207641601562) return 0; // 0x1.9fe368p6f
  }
  const z = INV_LN2_N * x;
  let kd = z + SHIFT;
  f64[0] = kd;
  const ki = w32[0]; // the low word of kd's bits holds k (mod 2^32)
  kd -= SHIFT;
  const r = z - kd;
  const i = ki & (N - 1);
  w32[0] = TAB_LO[i];
  w32[1] = (TAB_HI[i] + (ki << 15)) >>> 0;
  const s = f64[0];
  const zz = C0 * r + C1;
  const r2 = r * r;
  let y = C2 * r + 1;
  y = zz * r2 + y;
  y = y * s;
  return Math.fround(y);
}
