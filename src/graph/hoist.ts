/**
 * Weights wherever the exporter put them: `Constant` nodes (paddle2onnx, tf2onnx) and `Identity` nodes of
 * initializers (torch exports of shared weights) become plain initializers, so parameter counts, the layer list,
 * weight sharing between threads and quantization see every weight the same way.
 */
import { constantValue } from '../kernels/float/shape-ops';
import type { Graph, Node } from './ir';
import { elementCount, type Tensor } from './tensor';

/** The tensor of a Constant node, or undefined when it holds no value we can read (it then stays a node). */
function readConstant(node: Node): Tensor | undefined {
  try {
    return constantValue(node);
  } catch {
    return undefined;
  }
}

/** Moves weight-holding Constant nodes and Identity-of-initializer nodes of the top graph into its initializers, in place. */
export function hoistConstants(graph: Graph): void {
  const defined = new Set<string>([...graph.initializers.keys(), ...graph.inputs.map((v) => v.name)]);
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const counts: Record<string, number> = {};
  const kept: Node[] = [];
  for (const node of graph.nodes) {
    const out = node.outputs[0];
    const single = node.outputs.length === 1 && !!out && !defined.has(out) && !outputs.has(out);
    let value: Tensor | undefined;
    if (single && node.opType === 'Constant' && node.inputs.every((i) => !i) && isDefaultDomain(node)) value = weightOf(readConstant(node));
    else if (single && node.opType === 'Identity' && isDefaultDomain(node) && node.inputs[0]) value = graph.initializers.get(node.inputs[0]);
    if (!value) {
      kept.push(node);
      continue;
    }
    graph.initializers.set(out, value);
    defined.add(out);
    counts[node.opType] = (counts[node.opType] ?? 0) + 1;
  }
  if (kept.length === graph.nodes.length) return;
  graph.nodes = kept;
  graph.hoisted = counts;
}

/** Only weights move: float tensors of more than one element (scalars and shape constants stay nodes and fold as before). */
function weightOf(t: Tensor | undefined): Tensor | undefined {
  return t && (t.dtype === 'float32' || t.dtype === 'float64') && elementCount(t.dims) > 1 ? t : undefined;
}

function isDefaultDomain(node: Node): boolean {
  return node.domain === '' || node.domain === 'ai.onnx';
}
