/** Moves a model's weights into SharedArrayBuffers so worker threads read one copy instead of one each. */
import type { Graph, Model } from '../graph/ir';
import { sharedCopy, type Tensor } from '../graph/tensor';
import type { QuantPlan } from '../engine/int-plan';

export function shareTensor(t: Tensor): Tensor {
  return { dtype: t.dtype, dims: t.dims.slice(), data: sharedCopy(t.data) };
}

function shareGraph(g: Graph): Graph {
  const initializers = new Map<string, Tensor>();
  for (const [name, t] of g.initializers) initializers.set(name, shareTensor(t));
  return { ...g, initializers };
}

/** A copy of the model whose initializers live in SharedArrayBuffers (postMessage then shares, not copies, them). */
export function shareModel(model: Model): Model {
  return { ...model, graph: shareGraph(model.graph) };
}

/** Bytes of initializer data held in SharedArrayBuffers (for tests and memory reports). */
export function sharedBytes(model: Model): number {
  let n = 0;
  for (const t of model.graph.initializers.values()) if (t.data.buffer instanceof SharedArrayBuffer) n += t.data.byteLength;
  return n;
}

/**
 * A copy of an integer plan whose weight codes live in SharedArrayBuffers (layers keep their identity between
 * `layers` and `modes`, as structured clone preserves it within one message).
 */
export function sharePlan(plan: QuantPlan): QuantPlan {
  const layers = new Map(plan.layers.map((l) => [l, {
    ...l,
    weightCodes: sharedCopy(l.weightCodes),
    weights: { ...l.weights, codes: sharedCopy(l.weights.codes) },
  }]));
  const modes = new Map([...plan.modes].map(([name, m]) => [name, m.kind === 'layer' ? { ...m, layer: layers.get(m.layer) ?? m.layer } : m]));
  return { ...plan, layers: plan.layers.map((l) => layers.get(l)!), modes };
}
