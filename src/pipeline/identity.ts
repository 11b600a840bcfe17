/** What the pipeline's caches key on: a model (its file, or its identity in memory) and the images a run reads. */
import * as crypto from 'crypto';
import * as fs from 'fs';
import type { Dataset } from '../data/types';
import type { Model } from '../graph/ir';

const modelIds = new WeakMap<Model, number>();
let nextModelId = 1;

/** A model read from a file is known by the file (size, mtime) and its graph; one built in memory by its identity. */
export function modelIdentity(model: Model): unknown {
  try {
    const s = fs.statSync(model.path);
    if (s.isFile()) return [model.path, s.size, s.mtimeMs, model.graph.inputs.map((i) => i.dims), model.graph.nodes.map((n) => `${n.opType}:${n.name}`)];
  } catch {
    /* not a file: identity below */
  }
  if (!modelIds.has(model)) modelIds.set(model, nextModelId++);
  return ['memory', modelIds.get(model)];
}

/** The calibration images themselves (pixels and labels), so a key never confuses two data sets that share a name. */
export function imagesDigest(dataset: Dataset, images: number): string {
  const h = crypto.createHash('sha1');
  const n = Math.min(images, dataset.count);
  const chunk = 256;
  for (let start = 0; start < n; start += chunk) h.update(dataset.readPixels(start, Math.min(n, start + chunk)));
  h.update(new Uint8Array(dataset.labels.buffer, dataset.labels.byteOffset, 4 * Math.min(n, dataset.labels.length)));
  return `${n}:${dataset.channels}x${dataset.height}x${dataset.width}:${h.digest('hex')}`;
}
