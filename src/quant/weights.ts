/**
 * Weight quantization: symmetric signed codes (narrow range ±(2^(b−1)−1), zero point 0), one scale per output
 * channel or per tensor, the clipping range chosen by a cost function.
 */
import { InputError } from '../util/errors';
import { clampInt, quantRange, roundHalfEven, MIN_SCALE } from './quantizer';

export type WeightMethod = 'minmax' | 'sigma3' | 'mse' | 'output' | 'cosine';
export const WEIGHT_METHODS: readonly WeightMethod[] = ['minmax', 'sigma3', 'mse', 'output', 'cosine'];

/** Calibration inputs of one layer for the output-error criterion: per group, S sampled input columns of length K. */
export interface LayerInputSamples {
  /** columns[g] holds S rows of K values: the inputs the group's filters see at S sampled positions. */
  columns: Float32Array[];
  count: number;
  k: number;
}

export interface WeightQuantOptions {
  bits: number;
  perChannel: boolean;
  method: WeightMethod;
  /** Needed by 'output'. */
  samples?: LayerInputSamples;
  /** Output channels per group (Conv group > 1); defaults to all channels in one group. */
  channelsPerGroup?: number;
}

export interface QuantizedWeights {
  /** Integer codes, same layout as the float weights ([channels, K]). */
  codes: Int32Array;
  /** One scale per output channel (equal values when per-tensor). */
  scales: Float64Array;
  bits: number;
  qmin: number;
  qmax: number;
  perChannel: boolean;
}

/** q = clamp(round(w / s), −qmax, qmax) for one row. */
function quantizeRow(w: Float32Array, off: number, k: number, scale: number, qmax: number, out: Int32Array): void {
  const inv = 1 / scale;
  for (let i = 0; i < k; i++) out[off + i] = clampInt(roundHalfEven(w[off + i] * inv), -qmax, qmax);
}

/** Σ (w − s·q)² of one row under scale s. */
function rowSquaredError(w: Float32Array, off: number, k: number, scale: number, qmax: number): number {
  const inv = 1 / scale;
  let e = 0;
  for (let i = 0; i < k; i++) {
    const d = w[off + i] - scale * clampInt(roundHalfEven(w[off + i] * inv), -qmax, qmax);
    e += d * d;
  }
  return e;
}

/** −cos(w, ŵ) of one row (so that smaller is better, like the other costs). */
function rowNegativeCosine(w: Float32Array, off: number, k: number, scale: number, qmax: number): number {
  const inv = 1 / scale;
  let ww = 0, qq = 0, wq = 0;
  for (let i = 0; i < k; i++) {
    const x = w[off + i], q = scale * clampInt(roundHalfEven(x * inv), -qmax, qmax);
    ww += x * x; qq += q * q; wq += x * q;
  }
  return ww === 0 || qq === 0 ? (ww === qq ? -1 : 0) : -wq / Math.sqrt(ww * qq);
}

/** Σ_n ((w − ŵ)·x_n)² over the sampled input columns: the output error the layer would make. */
function rowOutputError(w: Float32Array, off: number, k: number, scale: number, qmax: number, x: Float32Array, count: number, err: Float64Array): number {
  const inv = 1 / scale;
  for (let i = 0; i < k; i++) err[i] = w[off + i] - scale * clampInt(roundHalfEven(w[off + i] * inv), -qmax, qmax);
  let total = 0;
  for (let n = 0; n < count; n++) {
    let dot = 0;
    const base = n * k;
    for (let i = 0; i < k; i++) dot += err[i] * x[base + i];
    total += dot * dot;
  }
  return total;
}

function rowAbsMax(w: Float32Array, off: number, k: number): number {
  let m = 0;
  for (let i = 0; i < k; i++) m = Math.max(m, Math.abs(w[off + i]));
  return m;
}

/** Clip at mean|…| + 3σ of the row values (never beyond the row's max |w|). */
function sigma3Clip(w: Float32Array, rows: number[], k: number): number {
  let s = 0, s2 = 0, maxAbs = 0;
  for (const r of rows) for (let i = 0; i < k; i++) {
    const x = w[r * k + i];
    s += x; s2 += x * x; maxAbs = Math.max(maxAbs, Math.abs(x));
  }
  const n = rows.length * k;
  const mean = s / n, std = Math.sqrt(Math.max(s2 / n - mean * mean, 0));
  return Math.min(maxAbs, Math.abs(mean) + 3 * std);
}

/** Candidate clipping fractions of max|w| searched by the cost-based methods. */
const CLIP_FRACTIONS = Array.from({ length: 80 }, (_, i) => 1 - i * 0.01); // 1.00 … 0.21

/** Chooses the clipping value of a group of rows (one channel, or all channels when per-tensor). */
function chooseClip(w: Float32Array, rows: number[], k: number, qmax: number, opts: WeightQuantOptions): number {
  let maxAbs = 0;
  for (const r of rows) maxAbs = Math.max(maxAbs, rowAbsMax(w, r * k, k));
  if (maxAbs === 0) return 0;
  if (opts.method === 'minmax') return maxAbs;
  if (opts.method === 'sigma3') return sigma3Clip(w, rows, k);
  const cpg = opts.channelsPerGroup ?? Number.MAX_SAFE_INTEGER;
  const err = new Float64Array(k);
  let best = maxAbs, bestCost = Infinity;
  for (const f of CLIP_FRACTIONS) {
    const scale = Math.max((maxAbs * f) / qmax, MIN_SCALE);
    let cost = 0;
    for (const r of rows) {
      if (opts.method === 'mse') cost += rowSquaredError(w, r * k, k, scale, qmax);
      else if (opts.method === 'cosine') cost += rowNegativeCosine(w, r * k, k, scale, qmax);
      else {
        const s = opts.samples!;
        const g = Math.floor(r / cpg);
        cost += rowOutputError(w, r * k, k, scale, qmax, s.columns[g], s.count, err);
      }
    }
    if (cost < bestCost) { bestCost = cost; best = maxAbs * f; }
  }
  return best;
}

/** Quantizes weights laid out [channels, K] (output channel first) with symmetric signed codes. */
export function quantizeWeights(w: Float32Array, channels: number, opts: WeightQuantOptions): QuantizedWeights {
  if (channels <= 0 || w.length % channels !== 0) throw new InputError(`weights of ${w.length} values do not split into ${channels} output channels`);
  const { qmax } = quantRange(opts.bits, true, true);
  const k = w.length / channels;
  if (opts.method === 'output') {
    const s = opts.samples;
    if (!s || s.count === 0) throw new InputError(`weight method 'output' needs calibration input samples`);
    if (s.k !== k) throw new InputError(`output-error samples have ${s.k} values per column, weights have ${k}`);
  } else if (!WEIGHT_METHODS.includes(opts.method)) {
    throw new InputError(`unknown weight method '${String(opts.method)}': expected ${WEIGHT_METHODS.join(', ')}`);
  }
  const codes = new Int32Array(w.length);
  const scales = new Float64Array(channels);
  const groups: number[][] = opts.perChannel ? Array.from({ length: channels }, (_, c) => [c]) : [Array.from({ length: channels }, (_, c) => c)];
  for (const rows of groups) {
    const clip = chooseClip(w, rows, k, qmax, opts);
    // s = clip / qmax (a float32, as exported); an all-zero channel gets s = 1 (codes stay 0) so its bias
    // b / (s_in · s) still fits in int32 instead of saturating against a tiny scale
    const scale = Math.fround(clip > 0 ? Math.max(clip / qmax, MIN_SCALE) : 1);
    for (const r of rows) {
      scales[r] = scale;
      quantizeRow(w, r * k, k, scale, qmax, codes);
    }
  }
  return { codes, scales, bits: opts.bits, qmin: -qmax, qmax, perChannel: opts.perChannel };
}

/** ŵ = s_c · q */
export function dequantizeWeights(q: QuantizedWeights): Float32Array {
  const k = q.codes.length / q.scales.length;
  const out = new Float32Array(q.codes.length);
  for (let i = 0; i < out.length; i++) out[i] = q.scales[Math.floor(i / k)] * q.codes[i];
  return out;
}

/** b_q = round(b / (s_in · s_w)), saturated to int32. */
export function quantizeBias(bias: ArrayLike<number> | undefined, channels: number, inputScale: number, weightScales: ArrayLike<number>): Int32Array {
  const out = new Int32Array(channels);
  if (!bias) return out;
  for (let c = 0; c < channels; c++) {
    const v = Math.round(bias[c] / (inputScale * weightScales[c]));
    out[c] = Math.max(-2147483648, Math.min(2147483647, v));
  }
  return out;
}

/**
 * Empirical bias correction: the shift that moves the quantized layer's mean output onto the float one,
 * Δ_c = W_c·E[x] − Ŵ_c·E[x̂] (E[x̂] the mean input column the quantized model feeds the layer; E[x] when omitted).
 */
export function biasCorrection(
  w: Float32Array, wHat: Float32Array, channels: number, meanInput: Float64Array[], channelsPerGroup = channels,
  meanQuantizedInput: Float64Array[] = meanInput,
): Float64Array {
  const k = w.length / channels;
  const delta = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    const g = Math.floor(c / channelsPerGroup);
    const mean = meanInput[g], meanHat = meanQuantizedInput[g];
    let d = 0;
    for (let i = 0; i < k; i++) d += w[c * k + i] * mean[i] - wHat[c * k + i] * meanHat[i];
    delta[c] = d;
  }
  return delta;
}

/** Bound on the weight gain factor ζ (and 1/bound below). */
const MAX_GAIN = 2;

/**
 * Per-channel gain correction of quantized weights, after Banner et al. 2019 ("Post training 4-bit quantization…",
 * bias correction of the weights' variance): ζ_c = ‖w_c − μ_c‖² / ⟨w_c − μ_c, ŵ_c − μ̂_c⟩, the factor that makes
 * ζ_c·ŵ_c reproduce w_c with unit gain. Clipping attenuates a channel (ζ > 1); rounding noise, uncorrelated with w,
 * leaves ζ ≈ 1 (the ratio of spreads would shrink the channel instead). 1 where a channel is constant or ŵ ⟂ w;
 * bounded to [½, 2], since a channel rounded to a few nonzero codes (2-bit min-max) would otherwise be amplified ×10.
 */
export function weightGainFactors(w: Float32Array, wHat: Float32Array, channels: number): Float64Array {
  const k = w.length / channels;
  const factors = new Float64Array(channels).fill(1);
  for (let c = 0; c < channels; c++) {
    let mean = 0, meanHat = 0;
    for (let i = c * k; i < (c + 1) * k; i++) { mean += w[i]; meanHat += wHat[i]; }
    mean /= k; meanHat /= k;
    let spread = 0, cross = 0;
    for (let i = c * k; i < (c + 1) * k; i++) { spread += (w[i] - mean) ** 2; cross += (w[i] - mean) * (wHat[i] - meanHat); }
    if (spread > 0 && cross > 0) factors[c] = Math.min(MAX_GAIN, Math.max(1 / MAX_GAIN, spread / cross));
  }
  return factors;
}

/** SQNR (dB) of the weights against their quantized version. */
export function weightSqnrDb(w: Float32Array, wHat: Float32Array): number {
  let s = 0, e = 0;
  for (let i = 0; i < w.length; i++) { s += w[i] * w[i]; e += (w[i] - wHat[i]) ** 2; }
  return e === 0 ? Infinity : 10 * Math.log10(s / e);
}
