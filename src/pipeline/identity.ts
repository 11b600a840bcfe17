/** What the pipeline's caches key on: a model's content and the images a run reads. */
import * as crypto from 'crypto';
import type { Dataset } from '../data/types';
import type { Model } from '../graph/ir';

/**
 * A model by its content: the digest of its graph (nodes with their attributes, inputs and outputs) and of every
 * initializer's name, shape and data. A model edited in memory, or a file rewritten in place, never matches its past.
 */
export function modelIdentity(model: Model): string {
  const h = crypto.createHash('sha1');
  const g = model.graph;
  h.update(JSON.stringify([g.inputs.map((i) => [i.name, i.dims]), g.outputs.map((o) => o.name)]));
  h.update(JSON.stringify(g.nodes.map((n) => [n.opType, n.domain, n.name, n.inputs, n.outputs, n.attributes]), (_k, v) => {
    if (ArrayBuffer.isView(v)) { h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)); return `${v.constructor.name}[${v.byteLength}]`; }
    if (v instanceof Map) return [...v]; // a subgraph's initializers
    return typeof v === 'bigint' ? v.toString() : v;
  }));
  for (const [name, t] of g.initializers) {
    h.update(`${name}:${t.dtype}:${t.dims.join('x')};`);
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest('hex');
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
