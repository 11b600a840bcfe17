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
    for (let k = 1; k < classes; k++) if (d[r * classes + k] > d[r * classes + best]) best = k;
    out[r] = best;
  }
  return out;
}

export async function evaluateAccuracy(
  dataset: Dataset,
  preprocess: Preprocess,
  batchSize: number,
  runBatch: RunBatch,
  onProgress?: (done: number, total: number) => void,
): Promise<AccuracyResult> {
  const started = process.hrtime.bigint();
  const predictions = new Int32Array(dataset.count);
  let correct = 0;
  for (const batch of iterateBatches(dataset, batchSize, preprocess)) {
    const n = batch.labels.length;
    const predicted = argmaxRows(await runBatch(batch.input), n);
    predictions.set(predicted, batch.start);
    for (let i = 0; i < n; i++) if (predicted[i] === batch.labels[i]) correct++;
    onProgress?.(batch.start + n, dataset.count);
  }
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
