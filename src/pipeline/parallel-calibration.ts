/**
 * Calibration on the job's worker pool: each worker runs the float pass of its batches and returns the observed
 * values' statistics; this thread replays the observers' range growth in batch order and sends back the range each
 * histogram uses; the workers bin their values and return the histograms. The statistics equal one thread's.
 */
import { iterateBatches } from '../data/preprocess';
import type { Dataset, Preprocess } from '../data/types';
import { CalibrationMerge, CalibrationStats, CalibratorOptions, ObservedBatch, meanBatchHalves } from '../engine/quant-calibrate';
import type { PreparedModel } from '../engine/types';
import type { Tensor } from '../graph/tensor';
import { elementCount } from '../graph/tensor';
import type { WorkerPool } from '../parallel/pool';
import type { QuantizeTaskPayload } from '../parallel/tasks';
import { DEFAULT_BINS } from '../quant/observers';

/** Batches a worker holds at once: one waiting for its ranges, one being observed. */
const HELD_BATCHES = 2;

/** True when the pool can calibrate this model: no input samples wanted, and a worker's held batches fit in `budgetBytes`. */
export function poolCalibrates(prepared: PreparedModel, observers: Pick<CalibratorOptions, 'keepSamples'>, batchSize: number, budgetBytes: number): boolean {
  if (observers.keepSamples) return false; // reservoir sampling draws from one random stream in batch order
  let perImage = 0;
  for (const [name, dims] of prepared.shapes) {
    if (prepared.constants.has(name) || dims.length === 0) continue;
    perImage += elementCount(dims) / Math.max(1, dims[0]);
  }
  return HELD_BATCHES * batchSize * perImage * 4 <= budgetBytes;
}

export async function calibrateInPool(
  pool: WorkerPool, prepared: PreparedModel, data: Dataset, preprocess: Preprocess, batchSize: number, observers: CalibratorOptions,
  callbacks: { checkCancelled?(): void; onProgress?(fraction: number, message: string): void } = {},
): Promise<CalibrationStats> {
  const merge = new CalibrationMerge();
  const meanBatches: Tensor[] = [];
  const sampledLayers = [...observers.sampledLayers];
  const inFlight: { index: number; worker: number; images: number; observed: Promise<unknown> }[] = [];
  const histograms: Promise<void>[] = [];
  let seen = 0, merged = 0;
  const mergeOldest = async (): Promise<void> => {
    const f = inFlight.shift()!;
    const ranges = merge.addStats(f.index, f.images, (await f.observed) as ObservedBatch);
    const payload: QuantizeTaskPayload = { op: 'calibrate-histograms', index: f.index, ranges, bins: DEFAULT_BINS };
    const binned = pool.runOn(f.worker, payload).then((h) => merge.addHistograms(f.index, h as [string, Float64Array][]));
    binned.catch(() => undefined); // surfaces below; a pool closed on an earlier error must not leave it unhandled
    histograms.push(binned);
    merged += f.images;
    callbacks.onProgress?.(merged / data.count, `calibrating ${merged}/${data.count}`);
  };
  let index = 0;
  for (const batch of iterateBatches(data, batchSize, preprocess)) {
    callbacks.checkCancelled?.();
    const images = batch.labels.length;
    const meanImages = observers.keepMeans ? Math.max(0, Math.min(images, (observers.meanImages ?? Infinity) - seen)) : 0;
    if (meanImages > 0) meanBatches.push(...meanBatchHalves(batch.input, meanImages));
    seen += images;
    const worker = index % pool.size;
    const payload: QuantizeTaskPayload = { op: 'calibrate-observe', index, inputName: prepared.inputName, input: batch.input, meanImages, sampledLayers };
    const observed = pool.runOn(worker, payload);
    observed.catch(() => undefined); // surfaces when merged, in order
    inFlight.push({ index: index++, worker, images, observed });
    if (inFlight.length >= 2 * pool.size) await mergeOldest();
  }
  while (inFlight.length) await mergeOldest();
  await Promise.all(histograms);
  return merge.finish(meanBatches, observers.keepMeans);
}
