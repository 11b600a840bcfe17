/** Integer pooling: max over codes (order-preserving), and global average with fixed-point rounding. */
import { FixedPointMultiplier } from '../../quant/requantize';
import type { Codes } from './gemm';
import { requantizeInto } from './requant';

/**
 * GlobalAveragePool: acc = Σ_hw (q − z_in); q_out = clamp(z_out + M·acc), M = s_in / (s_out · H·W).
 * Returns the largest |acc| seen.
 */
export function globalAveragePoolInt(
  x: Codes, planes: number, area: number, zIn: number, m: FixedPointMultiplier, zOut: number, lo: number, hi: number, out: Codes,
): number {
  const acc = x instanceof Int32Array ? new Float64Array(planes) : new Int32Array(planes); // sums of int32 codes may pass 2^31
  let maxAcc = 0;
  for (let p = 0; p < planes; p++) {
    let s = 0;
    const base = p * area;
    for (let i = 0; i < area; i++) s += x[base + i] - zIn;
    acc[p] = s;
    if (Math.abs(s) > maxAcc) maxAcc = Math.abs(s);
  }
  requantizeInto(acc, 0, planes, m, zOut, lo, hi, out, 0);
  return maxAcc;
}

export interface MaxPoolGeometry {
  n: number; c: number; h: number; w: number; kh: number; kw: number; sh: number; sw: number; dh: number; dw: number;
  padTop: number; padLeft: number; oh: number; ow: number;
}

/** MaxPool on codes: max is monotonic, so pooling codes equals pooling values (padding never wins). */
export function maxPoolInt(p: MaxPoolGeometry, x: Codes, out: Codes): void {
  for (let pl = 0; pl < p.n * p.c; pl++) {
    const inBase = pl * p.h * p.w, outBase = pl * p.oh * p.ow;
    for (let oy = 0; oy < p.oh; oy++) {
      for (let ox = 0; ox < p.ow; ox++) {
        let best = -Infinity;
        for (let ky = 0; ky < p.kh; ky++) {
          const iy = oy * p.sh - p.padTop + ky * p.dh;
          if (iy < 0 || iy >= p.h) continue;
          for (let kx = 0; kx < p.kw; kx++) {
            const ix = ox * p.sw - p.padLeft + kx * p.dw;
            if (ix < 0 || ix >= p.w) continue;
            const v = x[inBase + iy * p.w + ix];
            if (v > best) best = v;
          }
        }
        out[outBase + oy * p.ow + ox] = best;
      }
    }
  }
}
