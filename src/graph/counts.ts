/** Counts a model's summary shows: operators (weights held by nodes in the file included) and parameters. */
import type { Model } from './ir';
import { elementCount } from './tensor';

/** Nodes per operator, most frequent first; Constant / Identity nodes that only held weights count as in the file. */
export function operatorCounts(model: Model): Record<string, number> {
  const counts: Record<string, number> = { ...model.graph.hoisted };
  for (const n of model.graph.nodes) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}

/** Nodes as stored in the file (before weight-holding nodes became initializers). */
export function fileNodeCount(model: Model): number {
  return model.graph.nodes.length + Object.values(model.graph.hoisted ?? {}).reduce((a, b) => a + b, 0);
}

/** Elements of floating-point initializers (weights and biases; shape constants excluded). */
export function parameterCount(model: Model): number {
  let n = 0;
  for (const t of model.graph.initializers.values()) if (t.dtype === 'float32' || t.dtype === 'float64') n += elementCount(t.dims);
  return n;
}
