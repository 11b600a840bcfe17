/**
 * Where two integer plans of one prepared model start to differ: the first node (in execution order) whose mode,
 * layer or quantizers differ. A run of the new plan may resume from a checkpoint of the old one at or before it.
 * Biases (and the accumulator bound that follows them) are left out: bias correction rewrites them,
 * deterministically from everything upstream.
 */
import * as crypto from 'crypto';
import type { QuantOptions, QuantPlan } from './int-plan';
import type { PreparedModel } from './types';

const PER_LAYER_OPTIONS = new Set<keyof QuantOptions>(['layerWeightBits', 'layerActivationBits', 'floatLayers']);

function digest(a: ArrayBufferView): string {
  return crypto.createHash('sha1').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
}

/** A JSON text of what a node's execution depends on; typed arrays by their digest, biases left out. */
function signature(value: unknown): string {
  return JSON.stringify(value, (key, v) => {
    if (key === 'bias' || key === 'accumulatorBound') return undefined; // bias correction rewrites both
    if (ArrayBuffer.isView(v)) return `${v.constructor.name}:${digest(v)}`;
    if (v instanceof Map) return [...v];
    return v;
  });
}

/** The options both plans must share for any prefix to be reusable (all but the per-layer choices). */
function sharedOptions(o: QuantOptions): string {
  return JSON.stringify(Object.fromEntries(Object.entries(o).filter(([k]) => !PER_LAYER_OPTIONS.has(k as keyof QuantOptions))));
}

/** Index of the first node of `prepared` the two plans run differently (nodes.length when they agree throughout). */
export function firstChangedNode(prepared: PreparedModel, before: QuantPlan, after: QuantPlan): number {
  if (sharedOptions(before.options) !== sharedOptions(after.options)) return 0;
  const quantizers = (plan: QuantPlan, names: readonly string[]) => names.map((n) => plan.valueParams.get(n) ?? null);
  for (let i = 0; i < prepared.nodes.length; i++) {
    const node = prepared.nodes[i];
    const values = [...node.inputs, ...node.outputs];
    if (signature([before.modes.get(node.name) ?? null, quantizers(before, values)]) !== signature([after.modes.get(node.name) ?? null, quantizers(after, values)])) return i;
  }
  return prepared.nodes.length;
}
