/**
 * Quantized NCHW convolution in wasm: integer im2col, int8-range × int8-range → int32 GEMM (i32x4.dot_i16x8_s),
 * bias, and fused TFLite fixed-point requantization + clamp, bit-exact with src/quant/requantize.ts.
 */
import { ConvGeometry, depthwisePlaneElements, paddedImageElements } from './conv';
import type { KernelArena } from './runtime';

export type IntCodes = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array;

export interface QConvArgs {
  /** Input codes [N, C, H, W] and their zero point. */
  x: IntCodes;
  xZero: number;
  /** Weight codes [OC, C/group, kh, kw] (symmetric or with one zero point). */
  w: IntCodes;
  wZero: number;
  /** int32 bias per output channel, already in the accumulator's scale (s_x·s_w). */
  bias?: Int32Array;
  /** Per output channel: M = M0·2^(shift−31) (quantizeMultiplier). Absent: y receives the raw int32 accumulators. */
  multiplier?: Int32Array;
  shift?: Int32Array;
  /** q = clamp(yZero + M·acc, qmin, qmax) (unused for raw accumulators). */
  yZero?: number;
  qmin?: number;
  qmax?: number;
  /** Output codes [N, OC, OH, OW]. */
  y: IntCodes;
  /** 'single': one round-half-up of x·M (onnxruntime); 'gemmlowp' (default): SRDHM then rounding shift (TFLite). */
  rounding?: Rounding;
  /** Receives the largest |accumulator| (bias included) of the call, for inspection. */
  onMaxAbsAccumulator?(maxAbs: number): void;
}

export type Rounding = 'single' | 'gemmlowp';

const MR = 4;
const NR = 8;

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/** max |code − zero|: 255 for any 8-bit array, else a scan. */
export function codeBound(a: IntCodes, zero: number): number {
  if ((a instanceof Uint8Array || a instanceof Int8Array) && zero >= -128 && zero <= 255) return 255;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i] - zero);
    if (v > m) m = v;
  }
  return m;
}

const weightBounds = new WeakMap<object, { zero: number; bound: number }>();

/** codeBound of constant weights, remembered per array. */
export function weightBound(w: IntCodes, zero: number): number {
  const hit = weightBounds.get(w);
  if (hit && hit.zero === zero) return hit.bound;
  const bound = codeBound(w, zero);
  weightBounds.set(w, { zero, bound });
  return bound;
}

/**
 * True when the wasm kernel computes this conv exactly: every (code − zero) fits in int16 and no int32 partial sum
 * can overflow (|x−zx|max · |w−zw|max · (K+1) < 2^31), as holds for ≤ 8-bit activations and weights.
 */
export function qconvFitsWasm(p: ConvGeometry, xBound: number, wBound: number): boolean {
  const k = (p.c / p.group) * p.kh * p.kw;
  return xBound <= 32767 && wBound <= 32767 && xBound * wBound * (k + 1) < 2 ** 31;
}

function elemBytes(a: IntCodes): number {
  return a.BYTES_PER_ELEMENT;
}

/** Copies codes into wasm as i16 (code − zero). */
function codesIn(arena: KernelArena, codes: IntCodes, count: number, zero: number): number {
  const src = arena.copyIn(codes.subarray(0, count));
  const dst = arena.scratch(count * 2);
  const signed = codes instanceof Int8Array || codes instanceof Int16Array || codes instanceof Int32Array ? 1 : 0;
  arena.exports.codesToI16(src, count, elemBytes(codes), signed, zero, dst);
  return dst;
}

function packedQWeights(arena: KernelArena, p: ConvGeometry, w: IntCodes, wZero: number): number {
  const ocg = p.oc / p.group;
  const k = (p.c / p.group) * p.kh * p.kw;
  const groupBytes = roundUp(ocg, MR) * ((k + 1) >> 1) * 4;
  return arena.residentFor(w, `qconv:${p.oc}x${k}:${p.group}:${wZero}`, groupBytes * p.group, (dst) => {
    const src = codesIn(arena, w, p.oc * k, wZero);
    for (let g = 0; g < p.group; g++) arena.exports.packA_i16(src + g * ocg * k * 2, k, ocg, k, dst + g * groupBytes);
    arena.resetScratch();
  });
}

/** Runs the quantized conv (or depthwise conv) over the whole batch; the caller checked qconvFitsWasm. */
export function qconv2dWasm(arena: KernelArena, p: ConvGeometry, a: QConvArgs): void {
  const ex = arena.exports;
  const outCount = p.n * p.oc * p.oh * p.ow;
  const ob = elemBytes(a.y);
  try {
    const depthwise = p.group === p.c && p.oc === p.c;
    const pw = depthwise ? codesIn(arena, a.w, p.c * p.kh * p.kw, a.wZero) : packedQWeights(arena, p, a.w, a.wZero);
    const pbias = a.bias ? arena.copyIn(a.bias.subarray(0, p.oc)) : 0;
    if (!a.multiplier !== !a.shift) throw new Error('qconv2dWasm: multiplier and shift go together');
    if (!a.multiplier && !(a.y instanceof Int32Array)) throw new Error('qconv2dWasm: raw accumulators need an Int32Array output');
    const pm = a.multiplier ? arena.copyIn(a.multiplier.subarray(0, p.oc)) : 0;
    const ps = a.shift ? arena.copyIn(a.shift.subarray(0, p.oc)) : 0;
    const px = codesIn(arena, a.x, p.n * p.c * p.h * p.w, a.xZero);
    const py = arena.scratch(outCount * ob);
    ex.takeMaxAbsAccumulator();
    if (depthwise) {
      const pad = arena.scratch(depthwisePlaneElements(p) * 2);
      const accRow = arena.scratch((p.oh * p.ow + 8) * 4);
      const taps = arena.scratch(((p.kh * p.kw + 1) >> 1) * 24);
      ex.qdepthwise(px, p.n, p.c, p.h, p.w, p.kh, p.kw, p.sh, p.sw, p.dh, p.dw, p.padTop, p.padLeft, p.oh, p.ow,
        pw, pbias, pm, ps, a.yZero ?? 0, a.qmin ?? -2147483648, a.qmax ?? 2147483647, pad, accRow, py, ob, a.rounding === 'single' ? 1 : 0, taps);
    } else {
      const k = (p.c / p.group) * p.kh * p.kw;
      const ldc = roundUp(p.oh * p.ow, NR);
      const pb = arena.scratch(ldc * ((k + 1) >> 1) * 4);
      const pc = arena.scratch(roundUp(p.oc / p.group, MR) * ldc * 4);
      const tmp = arena.scratch(16);
      const xp = arena.scratch(paddedImageElements(p) * 2);
      ex.qconv2d(px, p.n, p.c, p.h, p.w, p.oc, p.group, p.kh, p.kw, p.sh, p.sw, p.dh, p.dw, p.padTop, p.padLeft,
        p.oh, p.ow, pw, pbias, pm, ps, a.yZero ?? 0, a.qmin ?? -2147483648, a.qmax ?? 2147483647, pb, pc, tmp, py, ob, xp,
        a.rounding === 'single' ? 1 : 0);
    }
    a.onMaxAbsAccumulator?.(ex.takeMaxAbsAccumulator());
    a.y.set(new (a.y.constructor as { new (b: ArrayBuffer, o: number, l: number): IntCodes })(
      arena.bytes().buffer as ArrayBuffer, py, outCount) as unknown as ArrayLike<number>);
  } finally {
    arena.resetScratch();
  }
}
