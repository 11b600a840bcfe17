/** Requantization of int32 accumulators to output codes: q = clamp(z_out + M·acc, lo, hi), M = M0·2^(shift−31). */
import {
  FixedPointMultiplier, multiplierValue, multiplyByQuantizedMultiplier, multiplyByQuantizedMultiplierSingleRounding, INT32_MAX, INT32_MIN,
} from '../../quant/requantize';

export type Rounding = 'single' | 'gemmlowp';

/** 'single' (default): one round-to-nearest, as onnxruntime; 'gemmlowp': SRDHM then RoundingDivideByPOT, as TFLite's reference. */
let rounding: Rounding = 'single';
export function setRequantRounding(r: Rounding): void {
  rounding = r;
}
export function requantRounding(): Rounding {
  return rounding;
}
import type { Accumulators, Codes } from './gemm';

/** Largest |acc| in a buffer (inspection reports it per layer). */
export function maxAbs(acc: Accumulators, start = 0, end = acc.length): number {
  let m = 0;
  for (let i = start; i < end; i++) {
    const a = acc[i] < 0 ? -acc[i] : acc[i];
    if (a > m) m = a;
  }
  return m;
}

/** q = clamp(z + M·acc, lo, hi) with the fixed-point multiplier; accumulators beyond int32 fall back to exact doubles. */
export function requantizeInto(
  acc: Accumulators, accStart: number, count: number, m: FixedPointMultiplier, zeroPoint: number,
  lo: number, hi: number, out: Codes, outStart: number,
): void {
  const real = multiplierValue(m);
  const mul = rounding === 'single' ? multiplyByQuantizedMultiplierSingleRounding : multiplyByQuantizedMultiplier;
  const t = 31 - m.shift;
  if (rounding === 'single' && t >= 17 && t <= 52) {
    // fast path: for |acc| < 2^21, acc·M0 + 2^(t−1) < 2^53 is exact in a double, so one floor is the exact result
    const m0 = m.multiplier, half = 2 ** (t - 1), inv = 2 ** -t, small = 2 ** 21;
    for (let i = 0; i < count; i++) {
      const a = acc[accStart + i];
      let q = a > -small && a < small ? Math.floor((a * m0 + half) * inv) + zeroPoint
        : a >= INT32_MIN && a <= INT32_MAX ? mul(a, m) + zeroPoint : Math.round(a * real) + zeroPoint;
      if (q < lo) q = lo; else if (q > hi) q = hi;
      out[outStart + i] = q;
    }
    return;
  }
  for (let i = 0; i < count; i++) {
    const a = acc[accStart + i];
    let q = a >= INT32_MIN && a <= INT32_MAX
      ? mul(a, m) + zeroPoint
      : Math.round(a * real) + zeroPoint; // only reachable for bit widths whose accumulators outgrow int32
    if (q < lo) q = lo; else if (q > hi) q = hi;
    out[outStart + i] = q;
  }
}
