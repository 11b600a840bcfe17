/** Integer elementwise kernels on codes: table lookup, requantized product (squeeze-and-excite gates), per-channel affine. */
import { broadcastDims } from '../float/types';
import type { Node } from '../../graph/ir';
import type { FixedPointMultiplier } from '../../quant/requantize';
import type { Codes } from './gemm';
import { requantizeInto } from './requant';

/** out[i] = T[x[i] − qmin_in]: a unary function on codes (HardSwish, Sigmoid, SiLU, …) as one table read. */
export function lookupInt(x: Codes, inputQmin: number, table: Int32Array, out: Codes): void {
  for (let i = 0; i < x.length; i++) out[i] = table[x[i] - inputQmin];
}

/** Strides of `dims` read under broadcast to `outDims` (0 along broadcast axes). */
function broadcastStridesOf(dims: readonly number[], outDims: readonly number[]): number[] {
  const rank = outDims.length;
  const padded = [...new Array(rank - dims.length).fill(1), ...dims];
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    strides[i] = padded[i] === 1 && outDims[i] !== 1 ? 0 : s;
    s *= padded[i];
  }
  return strides;
}

/**
 * q = clamp(z_out + M·(a − z_a)(b − z_b)), M = s_a·s_b / s_out, with ONNX broadcasting ([N,C,H,W] × [N,C,1,1] for
 * a squeeze-and-excite gate). Returns the output dims and the largest |product| (the accumulator).
 */
export function mulInt(
  node: Node, a: { dims: number[]; codes: Codes; zero: number }, b: { dims: number[]; codes: Codes; zero: number },
  m: FixedPointMultiplier, zOut: number, lo: number, hi: number, alloc: (size: number) => Codes,
): { dims: number[]; codes: Codes; maxAccumulator: number } {
  const dims = broadcastDims(node, a.dims, b.dims);
  const size = dims.reduce((p, d) => p * d, 1);
  const products = new Int32Array(size);
  const rank = dims.length;
  const sa = broadcastStridesOf(a.dims, dims), sb = broadcastStridesOf(b.dims, dims);
  const inner = rank > 0 ? dims[rank - 1] : 1;
  const ia = rank > 0 ? sa[rank - 1] : 0, ib = rank > 0 ? sb[rank - 1] : 0;
  const index = new Array<number>(Math.max(0, rank - 1)).fill(0);
  let maxAcc = 0;
  for (let row = 0; row * inner < size; row++) {
    let oa = 0, ob = 0;
    for (let d = 0; d < rank - 1; d++) { oa += index[d] * sa[d]; ob += index[d] * sb[d]; }
    for (let i = 0; i < inner; i++) {
      const p = (a.codes[oa + i * ia] - a.zero) * (b.codes[ob + i * ib] - b.zero);
      products[row * inner + i] = p;
      const abs = p < 0 ? -p : p;
      if (abs > maxAcc) maxAcc = abs;
    }
    for (let d = rank - 2; d >= 0; d--) { if (++index[d] < dims[d]) break; index[d] = 0; }
  }
  const out = alloc(size);
  requantizeInto(products, 0, size, m, zOut, lo, hi, out, 0);
  return { dims, codes: out, maxAccumulator: maxAcc };
}

/** Per-channel affine y_c = a_c·x + b_c on codes (an unfolded BatchNormalization): q = clamp(z_out + o_c + sign_c·M_c·(q − z_in)). */
export interface ChannelAffine {
  multipliers: FixedPointMultiplier[];
  /** −1 where a_c < 0 (the multiplier holds |M_c|). */
  signs: Int8Array;
  /** o_c = round(b_c / s_out). */
  offsets: Int32Array;
}

/** The affine along one axis of x viewed as [outer, channels, inner] (NCHW BatchNorm: [N, C, H·W]; NHWC: [N·H·W, C, 1]). */
export function channelAffineInt(
  x: Codes, layout: { outer: number; channels: number; inner: number }, zIn: number, affine: ChannelAffine, zOut: number, lo: number, hi: number, out: Codes,
): void {
  const { outer, channels, inner } = layout;
  const centred = new Int32Array(inner);
  for (let o = 0; o < outer; o++) {
    for (let ch = 0; ch < channels; ch++) {
      const base = (o * channels + ch) * inner;
      const sign = affine.signs[ch];
      for (let i = 0; i < inner; i++) centred[i] = sign * (x[base + i] - zIn);
      requantizeInto(centred, 0, inner, affine.multipliers[ch], zOut + affine.offsets[ch], lo, hi, out, base);
    }
  }
}
