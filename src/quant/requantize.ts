/**
 * Fixed-point requantization as in gemmlowp / the TFLite integer spec: M = s_in·s_w/s_out = M0·2^shift with
 * M0 a 31-bit fixed-point integer in [2^30, 2^31). All int32×int32 products are computed exactly (16-bit halves),
 * since a JS number holds integers only up to 2^53.
 */
import { InputError } from '../util/errors';

export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;
const TWO_31 = 2147483648;
const TWO_30 = 1073741824;
const TWO_16 = 65536;
const TWO_15 = 32768;

export interface FixedPointMultiplier {
  /** M0 in [2^30, 2^31) (0 when M is 0). */
  multiplier: number;
  /** M = M0 · 2^(shift − 31); negative shift divides. */
  shift: number;
}

/** M = M0·2^(shift−31) with M0 = round(frac · 2^31), frac in [0.5, 1) (TFLite QuantizeMultiplier). */
export function quantizeMultiplier(real: number): FixedPointMultiplier {
  if (!Number.isFinite(real) || real < 0) throw new InputError(`requantization multiplier ${real} is not a finite non-negative number`);
  if (real === 0) return { multiplier: 0, shift: 0 };
  let shift = Math.floor(Math.log2(real)) + 1;
  let frac = real / 2 ** shift;
  if (frac >= 1) { frac /= 2; shift++; }
  if (frac < 0.5) { frac *= 2; shift--; }
  let m0 = Math.round(frac * TWO_31);
  if (m0 === TWO_31) { m0 /= 2; shift++; }
  if (shift < -31) return { multiplier: 0, shift: 0 }; // underflows to zero
  if (shift > 30) throw new InputError(`requantization multiplier ${real} is too large for fixed point (shift ${shift})`);
  return { multiplier: m0, shift };
}

/** Back to a real number: M0 · 2^(shift − 31). */
export function multiplierValue(m: FixedPointMultiplier): number {
  return m.multiplier * 2 ** (m.shift - 31);
}

/**
 * gemmlowp SaturatingRoundingDoublingHighMul: round(a·b / 2^31) with ties away from zero, computed exactly;
 * saturates the single overflow case a = b = −2^31.
 */
export function saturatingRoundingDoublingHighMul(a: number, b: number): number {
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  // a·b = aHi·b·2^16 + aLo·b with aLo in [0, 2^16): each partial product is below 2^47 in magnitude.
  const aLo = a & 0xffff;
  const aHi = (a - aLo) / TWO_16;
  const p1 = aHi * b;
  const p0 = aLo * b;
  const negative = (a < 0) !== (b < 0) && a !== 0 && b !== 0;
  const nudge = negative ? 1 - TWO_30 : TWO_30;
  // a·b + nudge = q1·2^31 + rest, rest = r1·2^16 + p0 + nudge (|rest| < 2^48): exact in doubles.
  const q1 = Math.floor(p1 / TWO_15);
  const r1 = p1 - q1 * TWO_15;
  const rest = r1 * TWO_16 + p0 + nudge;
  const restFloor = Math.floor(rest / TWO_31);
  let result = q1 + restFloor;
  // C++ int64 division truncates toward zero: fix up the floor for negative totals with a remainder.
  const remainder = rest - restFloor * TWO_31;
  if (result < 0 && remainder !== 0) result += 1;
  return result;
}

/** gemmlowp RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from zero. */
export function roundingDivideByPOT(x: number, exponent: number): number {
  if (exponent === 0) return x;
  const mask = (1 << exponent) - 1;
  const remainder = x & mask;
  const threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/** TFLite MultiplyByQuantizedMultiplier: x·M0·2^(shift−31) with gemmlowp rounding, x an int32. */
export function multiplyByQuantizedMultiplier(x: number, m: FixedPointMultiplier): number {
  const leftShift = m.shift > 0 ? m.shift : 0;
  const rightShift = m.shift > 0 ? 0 : -m.shift;
  const shifted = leftShift > 0 ? saturateInt32(x * 2 ** leftShift) : x;
  return roundingDivideByPOT(saturatingRoundingDoublingHighMul(shifted, m.multiplier), rightShift);
}

export function saturateInt32(x: number): number {
  return x < INT32_MIN ? INT32_MIN : x > INT32_MAX ? INT32_MAX : x;
}

/** q_out = clamp(z_out + M·acc, lo, hi), with M in fixed point. */
export function requantize(acc: number, m: FixedPointMultiplier, zeroPoint: number, lo: number, hi: number): number {
  const q = multiplyByQuantizedMultiplier(acc, m) + zeroPoint;
  return q < lo ? lo : q > hi ? hi : q;
}

/**
 * Single-rounding requantization (TFLite's TFLITE_SINGLE_ROUNDING): x·M0·2^(shift−31) rounded once, half up,
 * computed exactly from the 62-bit product. Unlike SRDHM + RoundingDivideByPOT, which round twice, this is
 * round-to-nearest like the float requantization of onnxruntime's QLinearConv, so the two agree except at exact ties.
 */
export function multiplyByQuantizedMultiplierSingleRounding(x: number, m: FixedPointMultiplier): number {
  if (m.multiplier === 0) return 0;
  const t = 31 - m.shift; // divide by 2^t
  if (t <= 16) return saturateInt32(Math.round(x * m.multiplier * 2 ** -t));
  // x·M0 = xHi·M0·2^16 + xLo·M0, |xHi·M0| < 2^47, 0 ≤ xLo·M0 < 2^47
  const xLo = x & 0xffff;
  const a = ((x - xLo) / TWO_16) * m.multiplier;
  const b = xLo * m.multiplier;
  const unit = 2 ** (t - 16);
  const qa = Math.floor(a / unit);
  const ra = a - qa * unit; // 0 ≤ ra < 2^(t−16)
  const rest = ra * TWO_16 + b + 2 ** (t - 1); // exact while t ≤ 52
  return saturateInt32(qa + Math.floor(rest / 2 ** t));
}
