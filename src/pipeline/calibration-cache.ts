/**
 * Calibration statistics kept per model + calibration data + observer options, so that the settings a user tries
 * on the same data (the demo's W8A8 and W4A4, the editor's reruns, a what-if) calibrate once. The statistics do not
 * depend on bit widths; the key holds everything they do depend on. A few entries at most (most recent kept).
 */
import type { Dataset, Preprocess } from '../data/types';
import type { CalibrationStats, CalibratorOptions } from '../engine/quant-calibrate';
import { imagesDigest } from './identity';

const MAX_ENTRIES = 2;
const entries = new Map<string, CalibrationStats>();

/** Everything the statistics depend on: the model (its modelIdentity), the images, preprocessing, batching, observers. */
export function calibrationKey(
  modelKey: string, dataset: Dataset, preprocess: Preprocess, images: number, batchSize: number,
  observers: Omit<CalibratorOptions, 'sampledLayers'> & { sampledLayers: Iterable<string> },
): string {
  return JSON.stringify([
    modelKey, imagesDigest(dataset, images), batchSize, preprocess,
    [...observers.sampledLayers].sort(), observers.keepSamples, observers.keepMeans, observers.meanImages ?? null, observers.seed ?? null,
  ]);
}

/** The statistics kept under `key`, if any (they become the most recent). */
export function keptCalibration(key: string): CalibrationStats | undefined {
  const hit = entries.get(key);
  if (hit) {
    entries.delete(key);
    entries.set(key, hit); // most recent last
  }
  return hit;
}

/** Keeps statistics under `key` (the oldest beyond a few are forgotten). */
export function keepCalibration(key: string, stats: CalibrationStats): void {
  entries.set(key, stats);
  while (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value as string);
}

/** The statistics under `key`, computing (and keeping) them on a miss; `reused` says which. */
export function cachedCalibration(key: string, compute: () => CalibrationStats): { stats: CalibrationStats; reused: boolean } {
  const hit = keptCalibration(key);
  if (hit) return { stats: hit, reused: true };
  const stats = compute();
  keepCalibration(key, stats);
  return { stats, reused: false };
}

/** Forgets every kept calibration (tests; a model file rewritten in place is caught by its size and mtime anyway). */
export function clearCalibrationCache(): void {
  entries.clear();
}
