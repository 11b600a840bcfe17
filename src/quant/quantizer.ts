/** Uniform affine and symmetric quantizers: ranges, scales, zero points, quantize / dequantize. */
import { InputError } from '../util/errors';
import { tryQuantizeWasm } from '../kernels/wasm';

export interface QuantRange {
  qmin: number;
  qmax: number;
}

/** Parameters of one uniform quantizer: x̂ = scale · (q − zeroPoint), q in [qmin, qmax]. */
export interface QuantParams extends QuantRange {
  scale: number;
  zeroPoint: number;
  bits: number;
  signed: boolean;
}

/** The smallest scale ever produced: keeps constant and all-zero tensors finite. */
export const MIN_SCALE = 1e-8;

export function checkBits(bits: number, what = 'bits'): number {
  if (!Number.isInteger(bits) || bits < 2 || bits > 16) throw new InputError(`${what} = ${bits}: expected an integer from 2 to 16`);
  return bits;
}

/** Integer range of a b-bit code: signed [−2^(b−1), 2^(b−1)−1] (narrow: symmetric ±(2^(b−1)−1)), unsigned [0, 2^b−1]. */
export function quantRange(bits: number, signed: boolean, narrow = false): QuantRange {
  checkBits(bits);
  if (!signed) return { qmin: 0, qmax: 2 ** bits - 1 };
  const half = 2 ** (bits - 1);
  return { qmin: narrow ? -(half - 1) : -half, qmax: half - 1 };
}

/** Round half away from zero (the rounding of TFLite / gemmlowp reference quantizers). */
export function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** Round half to even (ONNX QuantizeLinear's rounding). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function clampInt(q: number, qmin: number, qmax: number): number {
  return q < qmin ? qmin : q > qmax ? qmax : q;
}

/** q = clamp(round(x / s) + z, qmin, qmax), rounding half to even as ONNX QuantizeLinear does. */
export function quantizeValue(x: number, p: QuantParams): number {
  return clampInt(roundHalfEven(x / p.scale) + p.zeroPoint, p.qmin, p.qmax);
}

/** x̂ = s (q − z) */
export function dequantizeValue(q: number, p: QuantParams): number {
  return p.scale * (q - p.zeroPoint);
}

/**
 * Scale and zero point covering [min, max] with a b-bit code.
 * symmetric: s = max(|min|, |max|) / qmax, z = 0 (signed, narrow range); affine: s = (max − min)/(qmax − qmin),
 * z = round(qmin − min / s). The range is widened to include 0 so that 0 is exact; never returns scale 0 or NaN.
 * Scales are float32 values, as they are stored in an exported ONNX model.
 */
export function scaleAndZeroPoint(min: number, max: number, bits: number, symmetric: boolean, signed = symmetric): QuantParams {
  if (!Number.isFinite(min) || !Number.isFinite(max)) throw new InputError(`quantization range [${min}, ${max}] is not finite`);
  if (min > max) [min, max] = [max, min];
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0);
  if (symmetric) {
    const r = quantRange(bits, true, true);
    const scale = Math.fround(Math.max(Math.max(-lo, hi) / r.qmax, MIN_SCALE));
    if (!signed) {
      const u = quantRange(bits, false);
      return { ...u, scale: Math.fround(Math.max(hi / u.qmax, MIN_SCALE)), zeroPoint: 0, bits, signed: false };
    }
    return { ...r, scale, zeroPoint: 0, bits, signed: true };
  }
  const r = quantRange(bits, signed);
  const scale = Math.fround(Math.max((hi - lo) / (r.qmax - r.qmin), MIN_SCALE));
  const zeroPoint = clampInt(roundHalfAway(r.qmin - lo / scale), r.qmin, r.qmax);
  return { ...r, scale, zeroPoint, bits, signed };
}

/** Activation quantizer for a calibrated range: unsigned affine codes (zero point 0 for non-negative ranges). */
export function activationParams(min: number, max: number, bits: number): QuantParams {
  return scaleAndZeroPoint(min, max, bits, false, false);
}

/** Quantizes a whole array: q = clamp(round(x / s) + z, qmin, qmax). */
export function quantizeArray<T extends Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array = Int32Array>(
  x: ArrayLike<number>, p: QuantParams, out: T = new Int32Array(x.length) as T,
): T {
  const inv = 1 / p.scale, z = p.zeroPoint, qmin = p.qmin, qmax = p.qmax;
  if (tryQuantizeWasm(x, inv, z, qmin, qmax, out)) return out;
  for (let i = 0; i < x.length; i++) {
    const v = x[i] * inv;
    let r = Math.round(v); // half up; r − v is exact, and 0.5 exactly on a tie: then round half to even
    if (r - v === 0.5 && r % 2 !== 0) r -= 1;
    const q = r + z;
    out[i] = q < qmin ? qmin : q > qmax ? qmax : q;
  }
  return out;
}

/** x̂ = s (q − z) for a whole array. */
export function dequantizeArray(q: ArrayLike<number>, p: QuantParams, out: Float32Array = new Float32Array(q.length)): Float32Array {
  for (let i = 0; i < q.length; i++) out[i] = p.scale * (q[i] - p.zeroPoint);
  return out;
}

/** x̂ = s (clamp(round(x/s) + z) − z): the float value a quantize/dequantize round trip gives. */
export function fakeQuantizeArray(x: ArrayLike<number>, p: QuantParams, out: Float32Array = new Float32Array(x.length)): Float32Array {
  const inv = 1 / p.scale;
  for (let i = 0; i < x.length; i++) out[i] = p.scale * (clampInt(roundHalfEven(x[i] * inv) + p.zeroPoint, p.qmin, p.qmax) - p.zeroPoint);
  return out;
}

/** The code of a real value under p, e.g. the code of 6.0 that ReLU6 clamps to. */
export function codeOf(x: number, p: QuantParams): number {
  return quantizeValue(x, p);
}
