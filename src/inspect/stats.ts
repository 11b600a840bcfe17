/** Weight and activation statistics per layer: moments, ranges, clipping share, per-channel spread, histograms. */
import { tryBatchStatsWasm, tryBinIntoWasm } from '../kernels/wasm';

export interface TensorStats {
  count: number;
  min: number;
  max: number;
  mean: number;
  std: number;
  /** mean ± 3·std, the range that holds ~99.7% of a Gaussian. */
  sigma3Low: number;
  sigma3High: number;
  /** Width of the ±3σ range as a share of the full min..max range (small: long tails / outliers). */
  sigma3ShareOfRange: number;
}

/** Streaming min/max/mean/std (float64 sums, Chan's parallel update so batches merge exactly). */
export class StatsAccumulator {
  private n = 0;
  private mean = 0;
  private m2 = 0;
  private lo = Infinity;
  private hi = -Infinity;

  add(values: ArrayLike<number>): this {
    const n = values.length;
    if (n === 0) return this;
    let sum = 0, lo = this.lo, hi = this.hi;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      sum += v;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const mean = sum / n;
    let m2 = 0;
    for (let i = 0; i < n; i++) { const d = values[i] - mean; m2 += d * d; }
    this.combine(n, mean, m2);
    this.lo = lo; this.hi = hi;
    return this;
  }

  merge(other: StatsAccumulator): this {
    if (other.n === 0) return this;
    this.combine(other.n, other.mean, other.m2);
    this.lo = Math.min(this.lo, other.lo); this.hi = Math.max(this.hi, other.hi);
    return this;
  }

  private combine(n: number, mean: number, m2: number): void {
    const total = this.n + n;
    const delta = mean - this.mean;
    this.mean += (delta * n) / total;
    this.m2 += m2 + (delta * delta * this.n * n) / total;
    this.n = total;
  }

  result(): TensorStats {
    const std = this.n > 0 ? Math.sqrt(this.m2 / this.n) : 0;
    const range = this.hi - this.lo;
    return {
      count: this.n,
      min: this.n ? this.lo : 0,
      max: this.n ? this.hi : 0,
      mean: this.mean,
      std,
      sigma3Low: this.mean - 3 * std,
      sigma3High: this.mean + 3 * std,
      sigma3ShareOfRange: range > 0 ? Math.min(6 * std, range) / range : 1,
    };
  }
}

export function tensorStats(values: ArrayLike<number>): TensorStats {
  return new StatsAccumulator().add(values).result();
}

/** Counts the values outside a clipping range [low, high] (the range the quantizer maps to qmin..qmax). */
export class ClipCounter {
  private below = 0;
  private above = 0;
  private total = 0;
  constructor(readonly low: number, readonly high: number) {}

  add(values: ArrayLike<number>): this {
    let below = 0, above = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v < this.low) below++;
      else if (v > this.high) above++;
    }
    this.below += below; this.above += above; this.total += values.length;
    return this;
  }

  /** Share of values clipped, in [0, 1]. */
  clippedShare(): number {
    return this.total ? (this.below + this.above) / this.total : 0;
  }

  counts(): { below: number; above: number; total: number } {
    return { below: this.below, above: this.above, total: this.total };
  }
}

export interface HistogramData {
  low: number;
  high: number;
  counts: number[];
  total: number;
}

/**
 * Fixed-bin streaming histogram whose range grows by doubling (adjacent bins merge), so no value is
 * ever stored and no range needs to be known in advance.
 */
export class StreamingHistogram {
  private counts: Float64Array;
  private low = 0;
  private width = 0; // width of one bin; 0 until the first finite value
  private total = 0;

  constructor(readonly bins = 64) {
    if (bins < 2 || bins % 2 !== 0) throw new Error(`histogram: bin count must be an even number ≥ 2, got ${bins}`);
    this.counts = new Float64Array(bins);
  }

  add(values: ArrayLike<number>): this {
    if (values.length === 0) return this;
    // wasm loops (the calibration observers' own) where the values are float32 without NaN: the same bins
    const wasm = tryBatchStatsWasm(values);
    const noNaN = wasm !== undefined && !Number.isNaN(wasm[2]);
    let lo = Infinity, hi = -Infinity;
    if (noNaN) [lo, hi] = [wasm[0], wasm[1]];
    else for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new Error('histogram: non-finite value');
    if (this.width === 0) this.initRange(lo, hi);
    while (lo < this.low) this.grow(true);
    while (hi >= this.low + this.width * this.bins) this.grow(false);
    const inv = 1 / this.width;
    const last = this.bins - 1;
    if (!(noNaN && tryBinIntoWasm(values, this.low, inv, this.counts))) {
      for (let i = 0; i < values.length; i++) {
        const b = Math.floor((values[i] - this.low) * inv); // NaN: no bin
        this.counts[b < 0 ? 0 : b > last ? last : b]++;
      }
    }
    this.total += values.length;
    return this;
  }

  private initRange(lo: number, hi: number): void {
    const span = hi - lo;
    this.width = span > 0 ? (span * 1.0001) / this.bins : Math.max(Math.abs(lo), 1e-6) / this.bins;
    this.low = span > 0 ? lo : lo - (this.width * this.bins) / 2;
  }

  /** Double the range towards the low or the high side, merging bin pairs. */
  private grow(towardsLow: boolean): void {
    const n = this.bins;
    const merged = new Float64Array(n);
    const offset = towardsLow ? n / 2 : 0; // old bins land in the upper half when growing downward
    for (let i = 0; i < n; i++) merged[offset + (i >> 1)] += this.counts[i];
    if (towardsLow) this.low -= this.width * n;
    this.width *= 2;
    this.counts = merged;
  }

  result(): HistogramData {
    return { low: this.low, high: this.low + this.width * this.bins, counts: Array.from(this.counts), total: this.total };
  }
}

export function histogramOf(values: ArrayLike<number>, bins = 64): HistogramData {
  return new StreamingHistogram(bins).add(values).result();
}

/** Histogram over a fixed range (e.g. the clipping range ± a margin); values outside land in the end bins. */
export function fixedRangeHistogram(values: ArrayLike<number>, low: number, high: number, bins = 64): HistogramData {
  const counts = new Array<number>(bins).fill(0);
  const scale = high > low ? bins / (high - low) : 0;
  for (let i = 0; i < values.length; i++) {
    const b = Math.floor((values[i] - low) * scale);
    counts[b < 0 ? 0 : b >= bins ? bins - 1 : b]++;
  }
  return { low, high, counts, total: values.length };
}

export interface ChannelRanges {
  /** max |w| of each output channel. */
  absMax: number[];
  /** Largest channel range over the smallest non-zero one. */
  spread: number;
  /** Largest channel range over the median one. */
  spreadOverMedian: number;
  /**
   * Bits a channel loses with one per-tensor scale instead of its own: log2(tensor max / channel max),
   * averaged over channels and the worst one.
   */
  meanBitsLost: number;
  worstBitsLost: number;
  worstChannel: number;
}

/** Per-output-channel ranges of a weight tensor laid out [C_out, ...] (Conv OIHW, Gemm with transB). */
export function channelRanges(weights: ArrayLike<number>, outChannels: number): ChannelRanges {
  if (outChannels <= 0 || weights.length % outChannels !== 0) {
    throw new Error(`channel ranges: ${weights.length} weights do not split into ${outChannels} channels`);
  }
  const per = weights.length / outChannels;
  const absMax = new Array<number>(outChannels);
  for (let c = 0; c < outChannels; c++) {
    let m = 0;
    for (let i = c * per; i < (c + 1) * per; i++) { const a = Math.abs(weights[i]); if (a > m) m = a; }
    absMax[c] = m;
  }
  const tensorMax = Math.max(...absMax);
  const nonZero = absMax.filter((m) => m > 0);
  const sorted = [...nonZero].sort((a, b) => a - b);
  const median = sorted.length ? sorted[Math.floor(sorted.length / 2)] : 0;
  const lost = absMax.map((m) => (m > 0 ? Math.log2(tensorMax / m) : 0));
  let worst = 0;
  for (let c = 1; c < outChannels; c++) if (lost[c] > lost[worst]) worst = c;
  return {
    absMax,
    spread: sorted.length ? tensorMax / sorted[0] : 1,
    spreadOverMedian: median > 0 ? tensorMax / median : 1,
    meanBitsLost: nonZero.length ? lost.reduce((s, v) => s + v, 0) / outChannels : 0,
    worstBitsLost: lost[worst] ?? 0,
    worstChannel: worst,
  };
}
