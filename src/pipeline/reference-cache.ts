/**
 * The float side of the last evaluation (logits and each compared value, per batch, in shared memory), so the next
 * run on the same model and test images (other bits, a what-if) runs only the integer pass. One entry; at most
 * `budgetBytes` of references are kept, the first batches first (the rest run their float pass again).
 */
import type { Dataset, Preprocess } from '../data/types';
import type { FloatReferences } from '../inspect/measure-batch';
import { imagesDigest } from './identity';

export const DEFAULT_REFERENCE_BUDGET_BYTES = 512 * 1024 * 1024;

let kept: { key: string; batches: (FloatReferences | undefined)[] } | undefined;

/** The key of a model's (its modelIdentity) float side on these test images, preprocessed and batched so. */
export function referenceKey(modelKey: string, dataset: Dataset, preprocess: Preprocess, images: number, batchSize: number): string {
  return JSON.stringify([modelKey, imagesDigest(dataset, images), preprocess, batchSize]);
}

/** The kept float references of each batch under `key` (a fresh empty list on a miss). */
export function keptReferences(key: string): (FloatReferences | undefined)[] {
  return kept?.key === key ? [...kept.batches] : [];
}

/** Keeps these references (replacing any others). */
export function keepReferences(key: string, batches: (FloatReferences | undefined)[]): void {
  kept = { key, batches };
}

export function clearReferenceCache(): void {
  kept = undefined;
}
