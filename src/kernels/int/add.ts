/**
 * Integer residual Add (TFLite scheme): both inputs are rescaled to a common scale 2·max(s_a, s_b) with 2^leftShift
 * headroom, summed in int32, then requantized to the output: q = clamp(z_out + M_out·(M_a·(a − z_a)·2^L + M_b·(b − z_b)·2^L)).
 */
import {
  FixedPointMultiplier, multiplyByQuantizedMultiplier, multiplyByQuantizedMultiplierSingleRounding, quantizeMultiplier,
} from '../../quant/requantize';
import { requantRounding } from './requant';
import { tryAddIntWasm } from '../wasm';
import type { Codes } from './gemm';

export interface AddRescale {
  leftShift: number;
  a: FixedPointMultiplier;
  b: FixedPointMultiplier;
  out: FixedPointMultiplier;
}

/** Multipliers for adding codes of scales sA and sB into scale sOut; leftShift leaves room for `bits`-bit inputs. */
export function addRescale(sA: number, sB: number, sOut: number, bits: number): AddRescale {
  const leftShift = Math.min(20, 28 - bits);
  const twiceMax = 2 * Math.max(sA, sB);
  return {
    leftShift,
    a: quantizeMultiplier(sA / twiceMax),
    b: quantizeMultiplier(sB / twiceMax),
    out: quantizeMultiplier(twiceMax / (2 ** leftShift * sOut)),
  };
}

/** out = clamp(z_out + rescaled sum), elementwise over equal-shaped inputs; returns the largest |sum| (the accumulator). */
export function addInt(
  a: Codes, za: number, b: Codes, zb: number, r: AddRescale, zOut: number, lo: number, hi: number, out: Codes,
): number {
  const viaWasm = tryAddIntWasm(a, za, b, zb, r, zOut, lo, hi, out, requantRounding()); // wasm SIMD when exact
  if (viaWasm !== undefined) return viaWasm;
  const shift = 2 ** r.leftShift;
  const final = requantRounding() === 'single' ? multiplyByQuantizedMultiplierSingleRounding : multiplyByQuantizedMultiplier;
  let maxAcc = 0;
  for (let i = 0; i < out.length; i++) {
    const sa = multiplyByQuantizedMultiplier((a[i] - za) * shift, r.a);
    const sb = multiplyByQuantizedMultiplier((b[i] - zb) * shift, r.b);
    const sum = sa + sb;
    const m = sum < 0 ? -sum : sum;
    if (m > maxAcc) maxAcc = m;
    let q = final(sum, r.out) + zOut;
    if (q < lo) q = lo; else if (q > hi) q = hi;
    out[i] = q;
  }
  return maxAcc;
}
