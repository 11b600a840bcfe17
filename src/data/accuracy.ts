/** Top-1 accuracy over a data set, streamed batch by batch through any engine (float, simulated or integer). */
import type { Tensor } from '../graph/tensor';
import { InputError } from '../util/errors';
import { iterateBatches } from './preprocess';
import type { Dataset, Preprocess } from './types';

export interface AccuracyResult {
  /** Percent, 0..100. */
  accuracy: number;
  correct: number;
  images: number;
  seconds: number;
  imagesPerSecond: number;
  /** Predicted class per image. */
  predictions: Int32Array;
}

export type RunBatch = (input: Tensor) => Tensor | Promise<Tensor>;

/** Index of the largest value in each row of [n, classes] logits (first one on ties). */
export function argmaxRows(logits: Tensor, rows: number): Int32Array {
  const classes = logits.data.length / rows;
  if (!Number.isInteger(classes) || classes < 1) throw new InputError(`model output of shape [${logits.dims.join(',')}] does not hold ${rows} rows of class scores`);
  const out = new Int32Array(rows);
  const d = logits.data as Float32Array;
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let k = 0; k < classes; k++) {
      if (Number.isNaN(d[r * classes + k])) { // NaN compares false: argmax would silently answer class 0
        throw new InputError(`model output row ${r} holds NaN: the model's weights or its input produce non-finite values`);
      }
    }
    for (let k = 1; k < classes; k++) if (d[r * classes + k] > d[r * classes + best]) best = k;
    out[r] = best;
  }
  return out;
}

/** Turns a stream of input batches into the stream of their outputs, in order (in-process or on a worker pool). */
export type MapBatches = (inputs: Iterable<Tensor>) => AsyncIterable<Tensor>;

/** Runs batches one after the other in this thread. */
export function sequentialBatches(runBatch: RunBatch): MapBatches {
  return async function* (inputs) {
    for (const input of inputs) yield await runBatch(input);
  };
}

export async function evaluateAccuracy(
  dataset: Dataset,
  preprocess: Preprocess,
  batchSize: number,
  runBatch: RunBatch,
  onProgress?: (done: number, total: number) => void,
): Promise<AccuracyResult> {
  return evaluateAccuracyMapped(dataset, preprocess, batchSize, sequentialBatches(runBatch), onProgress);
}

/** Top-1 over the data set; `map` may run several batches at once as long as it yields outputs in batch order. */
export async function evaluateAccuracyMapped(
  dataset: Dataset,
  preprocess: Preprocess,
  batchSize: number,
  map: MapBatches,
  onProgress?: (done: number, total: number) => void,
): Promise<AccuracyResult> {
  const started = process.hrtime.bigint();
  const predictions = new Int32Array(dataset.count);
  const inFlight: { start: number; labels: Int32Array }[] = [];
  function* inputs(): Generator<Tensor> {
    for (const batch of iterateBatches(dataset, batchSize, preprocess)) {
      inFlight.push({ start: batch.start, labels: batch.labels });
      yield batch.input;
    }
  }
  let correct = 0;
  for await (const logits of map(inputs())) {
    const batch = inFlight.shift();
    if (!batch) throw new Error('more outputs than input batches');
    const n = batch.labels.length;
    const predicted = argmaxRows(logits, n);
    predictions.set(predicted, batch.start);
    for (let i = 0; i < n; i++) if (predicted[i] === batch.labels[i]) correct++;
    onProgress?.(batch.start + n, dataset.count);
  }
  if (inFlight.length > 0) throw new Error(`${inFlight.length} batches produced no output`);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    accuracy: (100 * correct) / dataset.count,
    correct,
    images: dataset.count,
    seconds,
    imagesPerSecond: dataset.count / Math.max(seconds, 1e-9),
    predictions,
  };
}

export interface ClassAccuracy {
  label: number;
  name: string;
  images: number;
  correct: number;
  /** Percent; 0 for a class with no images. */
  accuracy: number;
}

/** Top-1 per true class; names default to the class index. */
export function perClassAccuracy(labels: Int32Array, predictions: Int32Array, classes: number, names: readonly string[] = []): ClassAccuracy[] {
  const images = new Array<number>(classes).fill(0);
  const correct = new Array<number>(classes).fill(0);
  for (let i = 0; i < predictions.length; i++) {
    images[labels[i]]++;
    if (predictions[i] === labels[i]) correct[labels[i]]++;
  }
  return images.map((n, label) => ({
    label,
    name: names[label] ?? String(label),
    images: n,
    correct: correct[label],
    accuracy: n > 0 ? (100 * correct[label]) / n : 0,
  }));
}
