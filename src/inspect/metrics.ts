/** Error metrics between a float reference tensor and its quantized counterpart, streamed over many images. */
import { tryErrorSumsWasm } from '../kernels/wasm';

/** rmse/scale of ideal uniform rounding: the error is uniform on [-s/2, s/2], so its rms is s/sqrt(12). */
export const UNIFORM_ROUNDING_RMSE_OVER_SCALE = 1 / Math.sqrt(12);

export interface ErrorMetrics {
  count: number;
  /** 10·log10(Σref² / Σ(ref−test)²); Infinity when the two agree exactly. */
  sqnrDb: number;
  mse: number;
  rmse: number;
  /** Σref·test / (‖ref‖·‖test‖); 1 when both are zero. */
  cosine: number;
  maxAbsError: number;
  /** Mean of ref², the signal power the SQNR is measured against. */
  signalPower: number;
}

function sameLength(a: number, b: number): void {
  if (a !== b) throw new Error(`metrics: tensors differ in size (${a} vs ${b})`);
}

/** The sums an ErrorAccumulator keeps. */
export interface ErrorSums { count: number; sumRef2: number; sumTest2: number; sumCross: number; sumErr2: number; maxAbs: number }

/** Streaming accumulator: feed pairs of tensors (one image or a batch at a time), read metrics at the end. */
export class ErrorAccumulator {
  private count = 0;
  private sumRef2 = 0;
  private sumTest2 = 0;
  private sumCross = 0;
  private sumErr2 = 0;
  private maxAbs = 0;

  add(reference: ArrayLike<number>, test: ArrayLike<number>): this {
    sameLength(reference.length, test.length);
    let r2 = 0, t2 = 0, rt = 0, e2 = 0, maxAbs = this.maxAbs;
    for (let i = 0; i < reference.length; i++) {
      const r = reference[i], t = test[i], e = r - t;
      r2 += r * r; t2 += t * t; rt += r * t; e2 += e * e;
      const a = Math.abs(e);
      if (a > maxAbs) maxAbs = a;
    }
    return this.take(reference.length, r2, t2, rt, e2, maxAbs);
  }

  /** add() of a reference against integer codes, dequantized on the fly: test = fround(s·(q − z)). */
  addCodes(reference: ArrayLike<number>, codes: ArrayLike<number>, scale: number, zeroPoint: number): this {
    sameLength(reference.length, codes.length);
    if (reference instanceof Float32Array) {
      const sums = new Float64Array([0, 0, 0, 0, this.maxAbs]);
      if (tryErrorSumsWasm(reference, codes, scale, zeroPoint, sums)) return this.take(reference.length, sums[0], sums[1], sums[2], sums[3], sums[4]);
    }
    let r2 = 0, t2 = 0, rt = 0, e2 = 0, maxAbs = this.maxAbs;
    for (let i = 0; i < reference.length; i++) {
      const r = reference[i], t = Math.fround(scale * (codes[i] - zeroPoint)), e = r - t;
      r2 += r * r; t2 += t * t; rt += r * t; e2 += e * e;
      const a = Math.abs(e);
      if (a > maxAbs) maxAbs = a;
    }
    return this.take(reference.length, r2, t2, rt, e2, maxAbs);
  }

  /** Adds one tensor's sums (the loops above stay separate: one call per element would cost more than the loop). */
  private take(count: number, r2: number, t2: number, rt: number, e2: number, maxAbs: number): this {
    this.count += count;
    this.sumRef2 += r2; this.sumTest2 += t2; this.sumCross += rt; this.sumErr2 += e2;
    this.maxAbs = maxAbs;
    return this;
  }

  /** The running sums, structured-clonable (a pool worker sends them; fromState rebuilds the accumulator). */
  state(): ErrorSums {
    return { count: this.count, sumRef2: this.sumRef2, sumTest2: this.sumTest2, sumCross: this.sumCross, sumErr2: this.sumErr2, maxAbs: this.maxAbs };
  }

  static fromState(s: ErrorSums): ErrorAccumulator {
    return Object.assign(new ErrorAccumulator(), s);
  }

  /** Merge another accumulator (e.g. from a worker) into this one. */
  merge(other: ErrorAccumulator): this {
    this.count += other.count;
    this.sumRef2 += other.sumRef2; this.sumTest2 += other.sumTest2;
    this.sumCross += other.sumCross; this.sumErr2 += other.sumErr2;
    this.maxAbs = Math.max(this.maxAbs, other.maxAbs);
    return this;
  }

  result(): ErrorMetrics {
    const n = Math.max(this.count, 1);
    const mse = this.sumErr2 / n;
    const norms = Math.sqrt(this.sumRef2) * Math.sqrt(this.sumTest2);
    return {
      count: this.count,
      sqnrDb: sqnrDb(this.sumRef2, this.sumErr2),
      mse,
      rmse: Math.sqrt(mse),
      cosine: norms > 0 ? this.sumCross / norms : this.sumRef2 === this.sumTest2 ? 1 : 0,
      maxAbsError: this.maxAbs,
      signalPower: this.sumRef2 / n,
    };
  }
}

/** SQNR in dB from signal and noise energies. */
export function sqnrDb(signalEnergy: number, noiseEnergy: number): number {
  if (noiseEnergy === 0) return signalEnergy === 0 ? 0 : Infinity;
  if (signalEnergy === 0) return -Infinity;
  return 10 * Math.log10(signalEnergy / noiseEnergy);
}

/** Metrics of one pair of tensors. */
export function compareTensors(reference: ArrayLike<number>, test: ArrayLike<number>): ErrorMetrics {
  return new ErrorAccumulator().add(reference, test).result();
}

/** rmse expressed in quantization steps: ≈ 0.289 (1/√12) for healthy rounding noise, more when clipping or accumulated error dominate. */
export function rmseOverScale(rmse: number, scale: number): number {
  return scale > 0 ? rmse / scale : Infinity;
}

/** One phrase a person can read next to an rmse/scale value. */
export function describeRmseOverScale(ratio: number): string {
  const healthy = UNIFORM_ROUNDING_RMSE_OVER_SCALE;
  if (!Number.isFinite(ratio)) return 'no scale to compare with';
  if (ratio < healthy * 0.8) return `below 0.289 (1/√12): less than one rounding step of noise (many exact zeros or values on the grid)`;
  if (ratio <= healthy * 1.25) return `≈ 0.289 (1/√12): healthy uniform rounding noise`;
  if (ratio <= healthy * 3) return `${(ratio / healthy).toFixed(1)}× the rounding noise of 0.289 (1/√12): error carried in from earlier layers or mild clipping`;
  return `${(ratio / healthy).toFixed(0)}× the rounding noise of 0.289 (1/√12): clipping or accumulated error dominate`;
}

/** Theoretical SQNR of an ideal b-bit uniform quantizer on a full-scale uniform signal: ≈ 6.02·b dB. */
export function idealSqnrDb(bits: number): number {
  return 20 * Math.log10(2) * bits;
}

/** Top-1 index of each row of a [N, C] logits buffer. */
export function argmaxRows(logits: ArrayLike<number>, classes: number): number[] {
  const n = Math.floor(logits.length / classes);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[i * classes + c] > logits[i * classes + best]) best = c;
    out[i] = best;
  }
  return out;
}

/** Accuracy (%) and top-1 agreement (%) with a reference prediction list. */
export function accuracyPercent(predictions: readonly number[], labels: ArrayLike<number>): number {
  if (predictions.length === 0) return 0;
  let ok = 0;
  for (let i = 0; i < predictions.length; i++) if (predictions[i] === labels[i]) ok++;
  return (100 * ok) / predictions.length;
}
