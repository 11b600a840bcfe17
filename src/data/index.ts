/** Data sets and preprocessing: the public surface of src/data. */
export type { Dataset, DatasetFormat, OpenOptions, Preprocess } from './types';
export { openDataset, SUPPORTED_DATA } from './open';
export { readCifar10, parseCifar10 } from './cifar';
export { readIdx, parseIdx, findIdxLabels } from './idx';
export { readImageFolder } from './folder';
export { iterateBatches, normalizePixels, checkPreprocess, checkDatasetFitsInput, checkLabelsFit, PLAIN_SCALING } from './preprocess';
export type { Batch } from './preprocess';
export { findSidecar, readSidecar, resolvePreprocess, sidecarPaths } from './sidecar';
export type { Sidecar, ResolvedPreprocess } from './sidecar';
export { evaluateAccuracy, evaluateAccuracyMapped, sequentialBatches, argmaxRows, perClassAccuracy } from './accuracy';
export type { AccuracyResult, RunBatch, MapBatches, ClassAccuracy } from './accuracy';
