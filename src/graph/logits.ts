/**
 * Classifiers exported with their probabilities (a final Softmax / LogSoftmax, as paddle2onnx and Keras do) are
 * measured on the logits before it: the top-1 decision is the same, and the error of a saturated probability says
 * little. `logitsModel` returns the model cut before that node.
 */
import type { Model, Node } from './ir';

const PROBABILITY_OPS = new Set(['Softmax', 'LogSoftmax']);

/** The final Softmax / LogSoftmax that produces the graph's only output, when there is one. */
export function finalSoftmax(model: Model): Node | undefined {
  const g = model.graph;
  if (g.outputs.length !== 1) return undefined;
  const out = g.outputs[0].name;
  const node = g.nodes.find((n) => n.outputs[0] === out);
  return node && PROBABILITY_OPS.has(node.opType) && node.inputs[0] ? node : undefined;
}

/** The model whose output is the logits entering a final Softmax, and that node's name; the model itself otherwise. */
export function logitsModel(model: Model): { model: Model; softmax?: string } {
  const softmax = finalSoftmax(model);
  if (!softmax) return { model };
  const g = model.graph;
  const logits = softmax.inputs[0];
  const cut: Model = {
    ...model,
    graph: { ...g, nodes: g.nodes.filter((n) => n !== softmax), outputs: [{ ...(g.valueInfo.get(logits) ?? { dtype: 'float32' }), name: logits, dtype: 'float32' }] },
  };
  return { model: cut, softmax: softmax.name };
}
