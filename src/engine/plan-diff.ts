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

/** Per node of `prepared`, the signature of how `plan` runs it; kept per plan (a plan never changes but for biases). */
const signatures = new WeakMap<QuantPlan, string[]>();

function nodeSignatures(prepared: PreparedModel, plan: QuantPlan): string[] {
  let kept = signatures.get(plan);
  if (!kept || kept.length !== prepared.nodes.length) {
    kept = prepared.nodes.map((node) => signature([plan.modes.get(node.name) ?? null, [...node.inputs, ...node.outputs].map((v) => plan.valueParams.get(v) ?? null)]));
    signatures.set(plan, kept);
  }
  return kept;
}

/** Index of the first node of `prepared` the two plans run differently (nodes.length when they agree throughout). */
export function firstChangedNode(prepared: PreparedModel, before: QuantPlan, after: QuantPlan): number {
  if (sharedOptions(before.options) !== sharedOptions(after.options)) return 0;
  const a = nodeSignatures(prepared, before), b = nodeSignatures(prepared, after);
  for (let i = 0; i < prepared.nodes.length; i++) if (a[i] !== b[i]) return i;
  return prepared.nodes.length;
}
