/**
 * Streaming activation observers with bounded memory: running min/max, moments and a fixed-size histogram that is
 * re-binned when the range grows. Calibration methods (min-max, percentile, 3-sigma, MSE, KL/entropy) read the
 * final statistics; no activation is ever stored.
 */
import { InputError } from '../util/errors';
import { tryBatchStatsWasm, tryBinIntoWasm } from '../kernels/wasm';
import { QuantParams, activationParams, quantRange } from './quantizer';

export type CalibrationMethod = 'minmax' | 'percentile' | 'sigma3' | 'mse' | 'entropy';
export const CALIBRATION_METHODS: readonly CalibrationMethod[] = ['minmax', 'percentile', 'sigma3', 'mse', 'entropy'];

export const DEFAULT_BINS = 2048;

/** One batch's min, max, moments and exact zeros. */
export interface BatchStats { min: number; max: number; sum: number; sumSquares: number; zeros: number; count: number }

/** How a histogram's bins move when its range grows: bin b → shiftBins + ⌊b / factor⌋, or bin 0 → zeroBin at the first range. */
export type GrowthStep = { kind: 'merge'; factor: number; shiftBins: number } | { kind: 'first-range'; zeroBin: number };

/** [min, max, Σx, Σx², zeros] of the values, one by one. */
function statsLoop(values: ArrayLike<number>): number[] {
  let mn = Infinity, mx = -Infinity, s = 0, s2 = 0, zeros = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === 0) zeros++;
    if (v < mn) mn = v;
    if (v > mx) mx = v;
    s += v; s2 += v * v;
  }
  return [mn, mx, s, s2, zeros];
}

/** Min, max, Σx, Σx² and zeros of a batch; NaN or ±Inf is rejected as bad model output. */
export function batchStats(values: ArrayLike<number>): BatchStats {
  const [mn, mx, s, s2, zeros] = tryBatchStatsWasm(values) ?? statsLoop(values);
  if (values.length > 0 && (!Number.isFinite(mn) || !Number.isFinite(mx) || Number.isNaN(s))) {
    throw new InputError('calibration saw NaN or infinite activations: the model or the data produce non-finite values');
  }
  return { min: mn, max: mx, sum: s, sumSquares: s2, zeros, count: values.length };
}

/** Moves a histogram's counts as the step says (counts are whole numbers: exact in any order). */
export function applyGrowth(hist: Float64Array, step: GrowthStep): void {
  if (step.kind === 'first-range') {
    const zeros = hist[0];
    hist[0] = 0;
    if (zeros > 0) hist[step.zeroBin] += zeros;
    return;
  }
  const old = Float64Array.from(hist);
  hist.fill(0);
  for (let b = 0; b < hist.length; b++) if (old[b] > 0) hist[step.shiftBins + Math.floor(b / step.factor)] += old[b];
}

/** Counts values into hist's bins over [lo, hi) (all into bin 0 while the range is empty). */
export function binInto(values: ArrayLike<number>, lo: number, hi: number, hist: Float64Array): void {
  const bins = hist.length;
  const width = (hi - lo) / bins;
  if (width <= 0) { hist[0] += values.length; return; }
  const inv = 1 / width, last = bins - 1;
  if (tryBinIntoWasm(values, lo, inv, hist)) return;
  for (let i = 0; i < values.length; i++) {
    let b = Math.floor((values[i] - lo) * inv);
    if (b > last) b = last; else if (b < 0) b = 0;
    hist[b]++;
  }
}

/** Histogram over [lo, hi) with `bins` equal bins; the range only grows (by whole multiples), merging bins. */
export class StreamingObserver {
  min = Infinity;
  max = -Infinity;
  count = 0;
  /** Exact zeros (e.g. after ReLU): always representable, so they add no quantization error. */
  zeros = 0;
  sum = 0;
  sumSquares = 0;
  lo = 0;
  hi = 0;
  readonly hist: Float64Array;

  constructor(readonly bins = DEFAULT_BINS) {
    this.hist = new Float64Array(bins);
  }

  /** Adds a batch of values (NaN is rejected as bad model output). */
  observe(values: ArrayLike<number>): this {
    const stats = batchStats(values);
    if (stats.count === 0) return this;
    const step = this.addStats(stats);
    if (step) applyGrowth(this.hist, step);
    binInto(values, this.lo, this.hi, this.hist);
    return this;
  }

  /**
   * The statistics part of observe(): min/max, moments and zeros of a batch, and the range grown to cover it.
   * Returns how the histogram's bins move (applyGrowth) when the range grew; the batch's values then go into the
   * bins of the new [lo, hi) (binInto). A batch observed elsewhere replays exactly through these two.
   */
  addStats(b: BatchStats): GrowthStep | undefined {
    if (b.count === 0) return undefined;
    this.min = Math.min(this.min, b.min);
    this.max = Math.max(this.max, b.max);
    this.count += b.count; this.zeros += b.zeros; this.sum += b.sum; this.sumSquares += b.sumSquares;
    return this.growRange(Math.min(b.min, 0), Math.max(b.max, 0));
  }

  private binOf(x: number): number {
    const width = (this.hi - this.lo) / this.bins;
    if (width <= 0) return 0;
    return Math.min(this.bins - 1, Math.max(0, Math.floor((x - this.lo) / width)));
  }

  /** Widens [lo, hi) to cover [mn, mx]: the bin width grows by a power of 2 and old bins merge exactly into new ones. */
  private growRange(mn: number, mx: number): GrowthStep | undefined {
    if (this.hi === this.lo) {
      if (mx === mn) return undefined;
      this.lo = mn; this.hi = mx;
      return { kind: 'first-range', zeroBin: this.binOf(0) }; // earlier all-zero batches sat in bin 0: re-place them at 0
    }
    if (mn >= this.lo && mx <= this.hi) return undefined;
    const width = (this.hi - this.lo) / this.bins;
    let factor = 2, shiftBins = 0;
    for (;; factor *= 2) {
      const w = width * factor;
      shiftBins = mn < this.lo ? Math.ceil((this.lo - mn) / w) : 0;
      if (this.lo - shiftBins * w + this.bins * w >= mx && shiftBins + Math.ceil(this.bins / factor) <= this.bins) break;
    }
    const newWidth = width * factor;
    this.lo -= shiftBins * newWidth;
    this.hi = this.lo + this.bins * newWidth;
    return { kind: 'merge', factor, shiftBins };
  }

  mean(): number {
    return this.count > 0 ? this.sum / this.count : 0;
  }

  std(): number {
    if (this.count === 0) return 0;
    const m = this.mean();
    return Math.sqrt(Math.max(this.sumSquares / this.count - m * m, 0));
  }

  /** Value below which a fraction p of the observations lie (linear within a bin). */
  quantile(p: number): number {
    if (this.count === 0) return 0;
    const target = p * this.count;
    const width = (this.hi - this.lo) / this.bins;
    let acc = 0;
    for (let b = 0; b < this.bins; b++) {
      const next = acc + this.hist[b];
      if (next >= target && this.hist[b] > 0) {
        const within = (target - acc) / this.hist[b];
        return Math.min(Math.max(this.lo + (b + within) * width, this.min), this.max);
      }
      acc = next;
    }
    return this.max;
  }

  /** Bin centres and counts, for the methods that search a clipping range. */
  centres(): Float64Array {
    const width = (this.hi - this.lo) / this.bins;
    const c = new Float64Array(this.bins);
    for (let b = 0; b < this.bins; b++) c[b] = this.lo + (b + 0.5) * width;
    return c;
  }
}

export interface CalibrationOptions {
  percentile?: number; // default 99.999
}

/** The calibrated real range [min, max] of an observed tensor under a method. */
export function calibratedRange(obs: StreamingObserver, method: CalibrationMethod, bits: number, opts: CalibrationOptions = {}): [number, number] {
  if (obs.count === 0) return [0, 0];
  switch (method) {
    case 'minmax':
      return [obs.min, obs.max];
    case 'percentile': {
      const p = (opts.percentile ?? 99.999) / 100;
      return [obs.min >= 0 ? obs.min : obs.quantile(1 - p), obs.quantile(p)];
    }
    case 'sigma3': {
      const m = obs.mean(), s = obs.std();
      return [Math.max(obs.min, m - 3 * s), Math.min(obs.max, m + 3 * s)];
    }
    case 'mse':
      return mseRange(obs, bits);
    case 'entropy':
      return entropyRange(obs, bits);
    default:
      throw new InputError(`unknown calibration method '${String(method)}': expected ${CALIBRATION_METHODS.join(', ')}`);
  }
}

/** Activation quantization parameters of an observed tensor. */
export function calibrate(obs: StreamingObserver, method: CalibrationMethod, bits: number, opts: CalibrationOptions = {}): QuantParams {
  const [lo, hi] = calibratedRange(obs, method, bits, opts);
  return activationParams(lo, hi, bits);
}

/**
 * Expected squared error of quantizing the histogram with range [lo, hi]: each bin is integrated at 4 points
 * (rounding inside the range, clipping outside); exact zeros are error-free and left out.
 */
export function histogramQuantError(obs: StreamingObserver, lo: number, hi: number, bits: number): number {
  const p = activationParams(lo, hi, bits);
  const width = (obs.hi - obs.lo) / obs.bins;
  const zeroBin = width > 0 ? Math.floor((0 - obs.lo) / width) : 0;
  const inv = 1 / p.scale;
  let err = 0;
  for (let b = 0; b < obs.bins; b++) {
    const n = b === zeroBin ? obs.hist[b] - obs.zeros : obs.hist[b];
    if (n <= 0) continue;
    let e = 0;
    for (let j = 0; j < 4; j++) {
      const x = obs.lo + (b + (j + 0.5) / 4) * width;
      const q = Math.min(Math.max(Math.round(x * inv) + p.zeroPoint, p.qmin), p.qmax); // q = clamp(round(x/s)+z)
      const d = x - p.scale * (q - p.zeroPoint);
      e += d * d;
    }
    err += (n * e) / 4;
  }
  return err;
}

/** MSE-optimal clipping: search the range [α·min, α·max] that minimises the expected squared quantization error. */
function mseRange(obs: StreamingObserver, bits: number): [number, number] {
  const steps = 100;
  let best: [number, number] = [obs.min, obs.max];
  let bestErr = Infinity;
  for (let i = steps; i >= 1; i--) {
    const a = i / steps;
    const lo = obs.min < 0 ? obs.min * a : obs.min, hi = obs.max * a;
    const e = histogramQuantError(obs, lo, hi, bits);
    if (e < bestErr) { bestErr = e; best = [lo, hi]; }
  }
  return best;
}

/**
 * TensorRT-style KL/entropy calibration on |x|: for each candidate threshold, compare the clipped reference
 * distribution P with its quantized version Q (2^bits levels... of the non-negative half) and keep the threshold
 * of smallest KL(P‖Q). Signed tensors are handled symmetrically.
 */
function entropyRange(obs: StreamingObserver, bits: number): [number, number] {
  const absHist = absoluteHistogram(obs);
  const levels = obs.min < 0 ? quantRange(bits, true, true).qmax + 1 : quantRange(bits, false).qmax + 1;
  const n = absHist.counts.length;
  if (n <= levels) return [obs.min, obs.max];
  let bestI = n, bestKl = Infinity;
  const stride = Math.max(1, Math.floor((n - levels) / 256));
  for (let i = levels; i <= n; i += stride) {
    const kl = klForThreshold(absHist.counts, i, levels);
    if (kl < bestKl) { bestKl = kl; bestI = i; }
  }
  const threshold = (bestI) * absHist.width;
  return [obs.min < 0 ? Math.max(obs.min, -threshold) : obs.min, Math.min(obs.max, threshold)];
}

function absoluteHistogram(obs: StreamingObserver): { counts: Float64Array; width: number } {
  const maxAbs = Math.max(Math.abs(obs.min), Math.abs(obs.max));
  const bins = obs.bins;
  const width = maxAbs / bins || 1;
  const counts = new Float64Array(bins);
  const centres = obs.centres();
  for (let b = 0; b < obs.bins; b++) {
    if (obs.hist[b] === 0) continue;
    counts[Math.min(bins - 1, Math.floor(Math.abs(centres[b]) / width))] += obs.hist[b];
  }
  counts[0] = Math.max(0, counts[0] - obs.zeros); // exact zeros are exact under any threshold: leave them out of the KL
  return { counts, width };
}

/** KL(P‖Q) where P = first i bins with the tail folded into the last, Q = P merged into `levels` buckets and expanded. */
function klForThreshold(hist: Float64Array, i: number, levels: number): number {
  const p = new Float64Array(i);
  for (let b = 0; b < i; b++) p[b] = hist[b];
  let tail = 0;
  for (let b = i; b < hist.length; b++) tail += hist[b];
  p[i - 1] += tail;
  const q = new Float64Array(i);
  const perLevel = i / levels;
  for (let l = 0; l < levels; l++) {
    const start = Math.floor(l * perLevel);
    const end = l === levels - 1 ? i : Math.floor((l + 1) * perLevel);
    let sum = 0, nonZero = 0;
    for (let b = start; b < end; b++) { sum += hist[b]; if (hist[b] > 0) nonZero++; }
    if (nonZero === 0) continue;
    for (let b = start; b < end; b++) if (hist[b] > 0) q[b] = sum / nonZero;
  }
  let pSum = 0, qSum = 0;
  for (let b = 0; b < i; b++) { pSum += p[b]; qSum += q[b]; }
  if (pSum === 0 || qSum === 0) return Infinity;
  let kl = 0;
  for (let b = 0; b < i; b++) {
    if (p[b] === 0) continue;
    const pb = p[b] / pSum;
    const qb = q[b] / qSum;
    kl += qb > 0 ? pb * Math.log(pb / qb) : pb * 20; // unmatched mass: a large finite penalty
  }
  return kl;
}
