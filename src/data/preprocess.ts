/** Preprocessing to NCHW float32 and batched iteration, so large data sets never live as float32 at once. */
import type { Dim } from '../graph/ir';
import { Tensor, floatTensor, shapeString } from '../graph/tensor';
import { InputError } from '../util/errors';
import type { Dataset, Preprocess } from './types';

export interface Batch {
  /** Index of the batch's first image in the data set. */
  start: number;
  input: Tensor; // [n, C, H, W] float32
  labels: Int32Array;
}

export const PLAIN_SCALING: Preprocess = { scale: 1 / 255, mean: [0], std: [1] };

/** Checks mean/std against the channel count (a single value applies to every channel) and returns per-channel arrays. */
export function checkPreprocess(pre: Preprocess, channels: number, what = 'preprocessing'): Preprocess {
  const perChannel = (values: number[], name: string): number[] => {
    if (values.length !== 1 && values.length !== channels) {
      throw new InputError(`${what}: ${name} has ${values.length} values (${values.join(',')}) but the data has ${channels} channel(s)`);
    }
    if (values.some((v) => !Number.isFinite(v))) throw new InputError(`${what}: ${name} (${values.join(',')}) must be finite numbers`);
    return values.length === channels ? [...values] : new Array<number>(channels).fill(values[0]);
  };
  const std = perChannel(pre.std, 'std');
  if (std.some((s) => s === 0)) throw new InputError(`${what}: std must not be 0 (got ${pre.std.join(',')})`);
  if (!Number.isFinite(pre.scale) || pre.scale === 0) throw new InputError(`${what}: scale must be a non-zero number, got ${pre.scale}`);
  return { scale: pre.scale, mean: perChannel(pre.mean, 'mean'), std };
}

/** Writes y = (x * scale - mean[c]) / std[c] for `count` CHW images of uint8 pixels into `out`. */
export function normalizePixels(pixels: Uint8Array, count: number, channels: number, area: number, pre: Preprocess, out: Float32Array): void {
  for (let n = 0; n < count; n++) {
    for (let c = 0; c < channels; c++) {
      const gain = pre.scale / pre.std[c];
      const offset = -pre.mean[c] / pre.std[c];
      const base = (n * channels + c) * area;
      for (let p = 0; p < area; p++) out[base + p] = pixels[base + p] * gain + offset; // y = (x·scale − mean) / std
    }
  }
}

/** Yields NCHW float32 batches of at most `batchSize` images (the last one may be smaller). */
export function* iterateBatches(dataset: Dataset, batchSize: number, preprocess: Preprocess): Generator<Batch> {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new InputError(`batch size must be a positive whole number, got ${batchSize}`);
  const pre = checkPreprocess(preprocess, dataset.channels);
  const { channels, height, width } = dataset;
  for (let start = 0; start < dataset.count; start += batchSize) {
    const end = Math.min(dataset.count, start + batchSize);
    const n = end - start;
    const input = floatTensor([n, channels, height, width]);
    normalizePixels(dataset.readPixels(start, end), n, channels, height * width, pre, input.data as Float32Array);
    yield { start, input, labels: dataset.labels.subarray(start, end) };
  }
}

/** The model input's [C,H,W] must equal the data's; symbolic dimensions accept any size. `resizeHint`: how to resize. */
export function checkDatasetFitsInput(dataset: Dataset, inputDims: readonly Dim[] | undefined, modelName: string, resizeHint = 'pass --resize to resize them'): void {
  if (!inputDims) return;
  const got = [dataset.channels, dataset.height, dataset.width];
  if (inputDims.length !== 4) {
    throw new InputError(`${modelName}: model input has shape ${shapeString(inputDims)}; image data sets need an NCHW input [N,C,H,W]`);
  }
  const expected = inputDims.slice(1);
  const mismatch = expected.some((d, i) => typeof d === 'number' && d !== got[i]);
  if (mismatch) {
    throw new InputError(
      `${dataset.source}: images are [C,H,W] = ${shapeString(got)} but ${modelName} expects ${shapeString(expected)}` +
        (got[0] !== expected[0] ? ' (grayscale vs RGB?)' : '') +
        (got[1] !== expected[1] || got[2] !== expected[2] ? `; ${resizeHint}` : ''),
    );
  }
}

/** Labels must index the model's classes. */
export function checkLabelsFit(dataset: Dataset, classes: number, modelName: string): void {
  for (let i = 0; i < dataset.count; i++) {
    const label = dataset.labels[i];
    if (label < 0 || label >= classes) {
      throw new InputError(`${dataset.describeImage(i)}: label ${label} is outside the ${classes} classes of ${modelName}`);
    }
  }
}
