/**
 * Calibration pass: float inference over calibration batches with hooks that stream every float activation into a
 * bounded histogram observer, and (when asked) sample the input columns each conv / linear layer sees — for the
 * output-error weight criterion and empirical bias correction. Nothing grows with the number of images.
 */
import { InputError } from '../util/errors';
import { attrInt, Node } from '../graph/ir';
import type { Tensor } from '../graph/tensor';
import { Conv2dParams, conv2dParams } from '../kernels/float/conv';
import { trySumBytesOverBatchWasm } from '../kernels/wasm';
import { BatchStats, GrowthStep, StreamingObserver, applyGrowth, batchStats, binInto } from '../quant/observers';
import type { LayerInputSamples } from '../quant/weights';
import type { RunHooks } from './types';
import type { FloatModel } from './float-engine';
import { mulberry32 as rng } from '../util/random';

/** Columns kept per group for the output-error criterion (reservoir sample over all calibration images). */
export const SAMPLE_COLUMNS = 256;
/** Positions per image drawn for the output-error samples. */
const SAMPLED_POSITIONS_PER_IMAGE = 64;

export interface CalibrationStats {
  /** One observer per float activation value, by value name (graph input included). */
  observers: Map<string, StreamingObserver>;
  /** Sampled input columns per layer (node name). */
  samples: Map<string, LayerInputSamples>;
  /** Mean input column per group, per layer (node name), over the first `meanImages` calibration images. */
  inputMeans: Map<string, Float64Array[]>;
  /** Those images, as the batches that were fed (the sequential bias correction runs them again). */
  meanBatches: Tensor[];
  images: number;
}

export interface CalibratorOptions {
  /** Node names of the conv / linear layers whose inputs are sampled. */
  sampledLayers: Set<string>;
  keepSamples: boolean;
  keepMeans: boolean;
  /** Images the means cover (the first ones; default all). */
  meanImages?: number;
  seed?: number;
}

interface LayerSampler {
  k: number;
  groups: number;
  columns: Float32Array[];
  seen: number;
  kept: number;
  means: ColumnMeans;
}

/** Copies the input column of conv group g at (n, oy, ox) into dst (zeros for padding). */
function convColumn(p: Conv2dParams, x: Tensor, n: number, pos: number, g: number, dst: Float32Array, dstOff: number): void {
  const xd = x.data as Float32Array;
  const cg = p.c / p.group;
  const oy = Math.floor(pos / p.ow), ox = pos % p.ow;
  let r = dstOff;
  for (let ci = 0; ci < cg; ci++) {
    const plane = (n * p.c + g * cg + ci) * p.h * p.w;
    for (let ky = 0; ky < p.kh; ky++) {
      const iy = oy * p.sh - p.padTop + ky * p.dh;
      for (let kx = 0; kx < p.kw; kx++, r++) {
        const ix = ox * p.sw - p.padLeft + kx * p.dw;
        dst[r] = iy < 0 || iy >= p.h || ix < 0 || ix >= p.w ? 0 : xd[plane + iy * p.w + ix];
      }
    }
  }
}

/** Codes stand for x̂ = s·(q − z); plain floats for themselves. */
export interface CodeScale { scale: number; zeroPoint: number }

/** Σ_n x[n, i] for each of the `per` elements of one image; codes are summed exactly, then Σ_n x̂ = s·(Σ_n q_n − N·z). */
function sumOverBatch(data: Tensor['data'], batch: number, per: number, codes?: CodeScale): Float64Array {
  if (data instanceof BigInt64Array) throw new InputError('column means need float or integer code data, got int64');
  const byteCodes = codes && (data instanceof Uint8Array || data instanceof Int8Array) && batch < 2 ** 23;
  const sums = byteCodes ? sumBytes(data as Uint8Array | Int8Array, batch, per) : sumValues(data, batch, per);
  if (!codes) return sums as Float64Array;
  const out = new Float64Array(per);
  for (let i = 0; i < per; i++) out[i] = codes.scale * (sums[i] - batch * codes.zeroPoint);
  return out;
}

/** Σ_n q[n, i] of byte codes in int32 (no overflow below 2^23 images). */
function sumBytes(data: Uint8Array | Int8Array, batch: number, per: number): Int32Array {
  const simd = trySumBytesOverBatchWasm(data, batch, per);
  if (simd) return simd;
  const sums = new Int32Array(per);
  for (let n = 0; n < batch; n++) {
    const base = n * per;
    for (let i = 0; i < per; i++) sums[i] += data[base + i];
  }
  return sums;
}

/** Σ_n x[n, i] in float64 (exact for integer codes below 2^53). */
function sumValues(data: Exclude<Tensor['data'], BigInt64Array>, batch: number, per: number): Float64Array {
  const sums = new Float64Array(per);
  for (let n = 0; n < batch; n++) {
    const base = n * per;
    for (let i = 0; i < per; i++) sums[i] += data[base + i];
  }
  return sums;
}

/**
 * E[x_col] per group: the mean of the input column each output position of a conv / linear layer sees, over the
 * batch and every output position (zeros where the window covers padding), exactly. `count` is the columns averaged.
 * With `codes`, x holds integer codes and the means are those of their dequantized values (no float copy is made).
 */
export function inputColumnMeans(node: Node, x: { dims: readonly number[]; data: Tensor['data'] }, weightDims: readonly number[], codes?: CodeScale): { means: Float64Array[]; count: number } {
  if (node.opType === 'Gemm') {
    const [batch, k] = x.dims;
    const mean = sumOverBatch(x.data, batch, k, codes);
    for (let i = 0; i < k; i++) mean[i] /= Math.max(1, batch);
    return { means: [mean], count: batch };
  }
  const p = conv2dParams(node, x.dims as number[], weightDims);
  const planeSize = p.h * p.w;
  const planes = sumOverBatch(x.data, p.n, p.c * planeSize, codes); // Σ_n x[n, c] — the window sums below are linear in x
  const cg = p.c / p.group;
  const count = p.n * p.oh * p.ow;
  const means = Array.from({ length: p.group }, (_, g) => {
    const mean = new Float64Array(cg * p.kh * p.kw);
    let r = 0;
    for (let ci = 0; ci < cg; ci++) {
      const plane = (g * cg + ci) * planeSize;
      for (let ky = 0; ky < p.kh; ky++) {
        for (let kx = 0; kx < p.kw; kx++, r++) {
          let sum = 0;
          for (let oy = 0; oy < p.oh; oy++) {
            const iy = oy * p.sh - p.padTop + ky * p.dh;
            if (iy < 0 || iy >= p.h) continue;
            for (let ox = 0; ox < p.ow; ox++) {
              const ix = ox * p.sw - p.padLeft + kx * p.dw;
              if (ix >= 0 && ix < p.w) sum += planes[plane + iy * p.w + ix];
            }
          }
          mean[r] = sum / Math.max(1, count);
        }
      }
    }
    return mean;
  });
  return { means, count };
}

/** Running E[x_col] per group over batches: Σ_b mean_b·count_b / Σ_b count_b. */
export class ColumnMeans {
  private readonly sums: Float64Array[];
  private count = 0;

  constructor(groups: number, k: number) {
    this.sums = Array.from({ length: groups }, () => new Float64Array(k));
  }

  add(batch: { means: Float64Array[]; count: number }): void {
    batch.means.forEach((mean, g) => { const sum = this.sums[g]; for (let i = 0; i < mean.length; i++) sum[i] += mean[i] * batch.count; });
    this.count += batch.count;
  }

  result(): Float64Array[] {
    return this.sums.map((sum) => sum.map((v) => v / Math.max(1, this.count)));
  }
}

/** The first n images of a batch tensor (the tensor itself when that is all of it). */
export function firstImages(t: Tensor, n: number): Tensor {
  if (n >= t.dims[0]) return t;
  return { ...t, dims: [n, ...t.dims.slice(1)], data: t.data.subarray(0, (t.data.length / t.dims[0]) * n) } as Tensor;
}

/** Images [start, end) of a batch tensor (a copy: a pool worker is sent these images only). */
function imageRange(t: Tensor, start: number, end: number): Tensor {
  const per = t.data.length / t.dims[0];
  return { ...t, dims: [end - start, ...t.dims.slice(1)], data: t.data.slice(start * per, end * per) } as Tensor;
}

/**
 * The first n images of a calibration batch as kept for the bias-correction pass: in two halves, so that the pass's
 * threads (which take whole kept batches) get near-equal shares also when the batches do not divide among them.
 */
export function meanBatchHalves(t: Tensor, n: number): Tensor[] {
  const kept = firstImages(t, n);
  const count = kept.dims[0];
  if (count < 2) return [kept];
  const half = Math.ceil(count / 2);
  return [imageRange(kept, 0, half), imageRange(kept, half, count)];
}

/** Runs an observation; a bad-input error (NaN / Inf activations) then names the value where it first appeared. */
function namingValue<T>(name: string, observe: () => T): T {
  try {
    return observe();
  } catch (e) {
    if (e instanceof InputError) throw new InputError(`value '${name}': ${e.message}`);
    throw e;
  }
}

/**
 * The exact mean input columns a layer sees over the first `meanImages` images of a batch of `batchImages`
 * (undefined when none count, or for a Gemm with transA). A Gemm on [N·H·W, C] rows (a Linear on NHWC features)
 * holds several rows per image.
 */
export function batchInputMeans(node: Node, x: Tensor, w: Tensor, batchImages: number, meanImages: number): { means: Float64Array[]; count: number } | undefined {
  if (meanImages <= 0 || (node.opType === 'Gemm' && attrInt(node, 'transA', 0) !== 0)) return undefined;
  const batch = x.dims[0];
  const rowsPerImage = batchImages > 0 && batch % batchImages === 0 ? batch / batchImages : 1;
  return inputColumnMeans(node, firstImages(x, meanImages * rowsPerImage), w.dims);
}

/** The float values of a batch a calibration observes, as statistics now and a histogram once its range is known. */
export interface ObservedBatch {
  /** Per observed value, in the order first seen (the graph input first): its batch statistics. */
  stats: [string, BatchStats][];
  /** Per sampled layer (with means asked for): the batch's mean input columns. */
  means: [string, { means: Float64Array[]; count: number }][];
}

/**
 * One thread's share of a parallel calibration: it runs the float pass of its batches, returns each value's
 * statistics, keeps the values until the job thread (which replays the observers' range growth in batch order) sends
 * the range each goes into, then returns their histograms. The result equals one Calibrator's, bit for bit.
 */
export class CalibrationShard {
  private readonly held = new Map<number, Map<string, Float32Array>>();

  constructor(private readonly floatModel: FloatModel, private readonly constants: Map<string, Tensor>, private readonly sampledLayers: ReadonlySet<string>) {}

  observe(index: number, inputName: string, input: Tensor, meanImages: number, checkCancelled?: () => void): ObservedBatch {
    const values = new Map<string, Float32Array>();
    const stats: [string, BatchStats][] = [];
    const means: ObservedBatch['means'] = [];
    const keep = (name: string, t: Tensor) => {
      if (t.dtype !== 'float32' || this.constants.has(name) || values.has(name)) return;
      const data = t.data as Float32Array; // held as is: with hooks the float engine runs nothing in place
      stats.push([name, namingValue(name, () => batchStats(data))]);
      values.set(name, data);
    };
    keep(inputName, input);
    const batchImages = input.dims[0] ?? 0;
    this.floatModel.run(input, {
      replaceNode: (node, inputs) => {
        if (this.sampledLayers.has(node.name) && inputs[0] && inputs[1] && inputs[0].dtype === 'float32') {
          const m = batchInputMeans(node, inputs[0], inputs[1], batchImages, meanImages);
          if (m) means.push([node.name, m]);
        }
        return undefined;
      },
      afterNode: (node, outputs) => node.outputs.forEach((name, i) => outputs[i] && keep(name, outputs[i])),
      checkCancelled,
    });
    this.held.set(index, values);
    return { stats, means };
  }

  /** Histograms of a batch's values, each over the range [lo, hi) the job thread says, with `bins` bins; forgets the batch. */
  histograms(index: number, ranges: [string, number, number][], bins: number): [string, Float64Array][] {
    const values = this.held.get(index);
    if (!values) throw new Error(`calibration batch ${index} is not held here`);
    this.held.delete(index);
    return ranges.map(([name, lo, hi]) => {
      const hist = new Float64Array(bins);
      binInto(values.get(name)!, lo, hi, hist);
      return [name, hist];
    });
  }
}


/**
 * The job thread's side of a parallel calibration: feeds each batch's statistics in batch order (the observers'
 * ranges grow exactly as one Calibrator's would) and collects the histograms, binned elsewhere in those ranges.
 */
export class CalibrationMerge {
  private readonly observers = new Map<string, StreamingObserver>();
  /** Per value: per batch, the growth its statistics caused, and the batch's histogram once it arrives. */
  private readonly history = new Map<string, { step?: GrowthStep; hist?: Float64Array }[]>();
  private readonly means = new Map<string, ColumnMeans>();
  private batches = 0;
  private images = 0;

  /** Takes batch `index`'s statistics (call in batch order) and returns the range each value's histogram uses. */
  addStats(index: number, images: number, batch: ObservedBatch): [string, number, number][] {
    if (index !== this.batches) throw new Error(`calibration statistics of batch ${index} came before batch ${this.batches}`);
    this.batches++;
    this.images += images;
    const ranges: [string, number, number][] = [];
    for (const [name, st] of batch.stats) {
      let o = this.observers.get(name);
      if (!o) { o = new StreamingObserver(); this.observers.set(name, o); this.history.set(name, []); }
      const h = this.history.get(name)!;
      h[index] = { step: o.addStats(st) };
      if (st.count > 0) ranges.push([name, o.lo, o.hi]);
    }
    for (const [name, m] of batch.means) {
      let c = this.means.get(name);
      if (!c) { c = new ColumnMeans(m.means.length, m.means[0].length); this.means.set(name, c); }
      c.add(m);
    }
    return ranges;
  }

  addHistograms(index: number, hists: [string, Float64Array][]): void {
    for (const [name, hist] of hists) this.history.get(name)![index].hist = hist;
  }

  /** The statistics, as Calibrator.finish() gives them (no input samples: the parallel path keeps none). */
  finish(meanBatches: Tensor[], keepMeans: boolean): CalibrationStats {
    for (const [name, o] of this.observers) {
      o.hist.fill(0);
      for (const { step, hist } of this.history.get(name)!) { // replay: grow, then add the batch, in batch order
        if (step) applyGrowth(o.hist, step);
        if (hist) for (let b = 0; b < hist.length; b++) o.hist[b] += hist[b];
      }
    }
    const inputMeans = new Map<string, Float64Array[]>();
    if (keepMeans) for (const [name, c] of this.means) inputMeans.set(name, c.result());
    return { observers: this.observers, samples: new Map(), inputMeans, meanBatches, images: this.images };
  }
}

export class Calibrator {
  readonly observers = new Map<string, StreamingObserver>();
  private readonly samplers = new Map<string, LayerSampler>();
  private images = 0;
  /** Images of the current batch that still count towards the means. */
  private batchMeanImages = 0;
  /** Images in the current batch. */
  private batchImages = 0;
  private readonly meanBatches: Tensor[] = [];
  private readonly random: () => number;

  constructor(private readonly constants: Map<string, Tensor>, private readonly opts: CalibratorOptions) {
    this.random = rng(opts.seed ?? 1234);
  }

  private observe(name: string, t: Tensor): void {
    if (t.dtype !== 'float32' || this.constants.has(name)) return;
    let o = this.observers.get(name);
    if (!o) { o = new StreamingObserver(); this.observers.set(name, o); }
    const observer = o;
    namingValue(name, () => observer.observe(t.data as Float32Array));
  }

  /** Hooks for runFloat: observe every float output and sample layer inputs (the input itself goes through observeInput). */
  hooks(): RunHooks {
    return {
      replaceNode: (node, inputs) => {
        if (this.opts.sampledLayers.has(node.name) && inputs[0]) this.sample(node, inputs[0], inputs[1]);
        return undefined;
      },
      afterNode: (node, outputs) => node.outputs.forEach((name, i) => outputs[i] && this.observe(name, outputs[i])),
    };
  }

  /** Feeds one calibration batch's input (call before running it). */
  observeInput(inputName: string, input: Tensor): void {
    this.observe(inputName, input);
    const batch = input.dims[0] ?? 0;
    this.batchImages = batch;
    this.batchMeanImages = this.opts.keepMeans ? Math.max(0, Math.min(batch, (this.opts.meanImages ?? Infinity) - this.images)) : 0;
    if (this.batchMeanImages > 0) this.meanBatches.push(...meanBatchHalves(input, this.batchMeanImages));
    this.images += batch;
  }

  private sampler(node: Node, k: number, groups: number): LayerSampler {
    let s = this.samplers.get(node.name);
    if (!s) {
      s = {
        k, groups, seen: 0, kept: 0, means: new ColumnMeans(groups, k),
        columns: Array.from({ length: groups }, () => new Float32Array(this.opts.keepSamples ? SAMPLE_COLUMNS * k : 0)),
      };
      this.samplers.set(node.name, s);
    }
    return s;
  }

  private sample(node: Node, x: Tensor, w: Tensor | undefined): void {
    if (!w || x.dtype !== 'float32') return;
    const batch = x.dims[0];
    const means = batchInputMeans(node, x, w, this.batchImages, this.batchMeanImages);
    if (means) this.sampler(node, means.means[0].length, means.means.length).means.add(means);
    if (!this.opts.keepSamples) return;
    if (node.opType === 'Conv') {
      const p = conv2dParams(node, x.dims, w.dims);
      const k = (p.c / p.group) * p.kh * p.kw;
      const s = this.sampler(node, k, p.group);
      const spatial = p.oh * p.ow;
      const col = new Float32Array(k);
      for (let n = 0; n < batch; n++) {
        const positions = Math.min(spatial, SAMPLED_POSITIONS_PER_IMAGE);
        for (let j = 0; j < positions; j++) {
          const pos = positions === spatial ? j : Math.floor(this.random() * spatial);
          const slot = this.reservoirSlot(s);
          if (slot < 0) continue;
          for (let g = 0; g < p.group; g++) {
            convColumn(p, x, n, pos, g, col, 0);
            s.columns[g].set(col, slot * k);
          }
        }
      }
    } else if (node.opType === 'Gemm' && attrInt(node, 'transA', 0) === 0) {
      const k = x.dims[1];
      const s = this.sampler(node, k, 1);
      const xd = x.data as Float32Array;
      for (let n = 0; n < batch; n++) {
        const slot = this.reservoirSlot(s);
        if (slot >= 0) s.columns[0].set(xd.subarray(n * k, (n + 1) * k), slot * k);
      }
    }
  }

  /** Reservoir sampling: the slot to overwrite, or −1 to skip this column. */
  private reservoirSlot(s: LayerSampler): number {
    if (!this.opts.keepSamples) return -1;
    s.seen++;
    if (s.kept < SAMPLE_COLUMNS) return s.kept++;
    const j = Math.floor(this.random() * s.seen);
    return j < SAMPLE_COLUMNS ? j : -1;
  }

  finish(): CalibrationStats {
    const samples = new Map<string, LayerInputSamples>();
    const inputMeans = new Map<string, Float64Array[]>();
    for (const [name, s] of this.samplers) {
      if (this.opts.keepSamples) samples.set(name, { columns: s.columns.map((c) => c.subarray(0, s.kept * s.k)), count: s.kept, k: s.k });
      if (this.opts.keepMeans) inputMeans.set(name, s.means.result());
    }
    return { observers: this.observers, samples, inputMeans, meanBatches: this.meanBatches, images: this.images };
  }
}
