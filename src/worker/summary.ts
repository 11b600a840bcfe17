/** A model summary for the editor: inputs, outputs, operators and the conv/linear layers, from the loaded IR only. */
import type { Model } from '../graph/ir';
import { elementCount } from '../graph/tensor';
import { fileNodeCount, operatorCounts, parameterCount } from '../graph/counts';

export interface LayerSummary {
  name: string;
  op: string;
  weightDims: number[];
  parameters: number;
}

/** One node of the dataflow graph as the editor draws it: inputs and outputs are only values that flow (no weights). */
export interface GraphNodeSummary {
  name: string;
  op: string;
  /** Values read that a node or the graph input produces (initializers and omitted inputs left out). */
  inputs: string[];
  outputs: string[];
  /** A conv / linear layer of `layers`. */
  layer: boolean;
}

export interface GraphSummary {
  nodes: GraphNodeSummary[];
  /** Nodes in the loaded graph (after weight-holding Constant / Identity nodes became initializers). */
  totalNodes: number;
  /** True when the graph had more than GRAPH_NODE_LIMIT nodes and only the first ones (in file order) are listed. */
  truncated: boolean;
}

/** Largest graph the editor draws; beyond it the editor says so and lists the first nodes only. */
export const GRAPH_NODE_LIMIT = 5000;

export interface ModelSummary {
  file: string;
  producer: string;
  opset: number;
  inputs: { name: string; dtype: string; dims: (number | string)[] }[];
  outputs: { name: string; dtype: string; dims: (number | string)[] }[];
  nodeCount: number;
  operators: Record<string, number>;
  parameters: number;
  layers: LayerSummary[];
  metadata: Record<string, string>;
  /** Per-node metadata kept for code mapping (pkg.torch.onnx.stack_trace / namespace), only for layers. */
  layerMetadata: Record<string, Record<string, string>>;
  /** The dataflow graph (every node, weights not edges). */
  graph: GraphSummary;
}

const LAYER_OPS = new Set(['Conv', 'Gemm', 'MatMul']);

export function summarizeModel(model: Model, limit = GRAPH_NODE_LIMIT): ModelSummary {
  const g = model.graph;
  const operators = operatorCounts(model);
  const parameters = parameterCount(model);
  const layers: LayerSummary[] = [];
  const layerMetadata: Record<string, Record<string, string>> = {};
  for (const n of g.nodes) {
    if (!LAYER_OPS.has(n.opType)) continue;
    const w = g.initializers.get(n.inputs[1] ?? '');
    if (!w) continue; // activation × activation MatMul: not a weight layer
    const bias = g.initializers.get(n.inputs[2] ?? '');
    const name = n.name || n.outputs[0];
    layers.push({ name, op: n.opType, weightDims: [...w.dims], parameters: elementCount(w.dims) + (bias ? elementCount(bias.dims) : 0) });
    if (n.metadata && Object.keys(n.metadata).length) layerMetadata[name] = { ...n.metadata };
  }
  const opset = model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
  const io = (v: { name: string; dtype: string; dims?: (number | string)[] }) => ({ name: v.name, dtype: v.dtype, dims: v.dims ?? [] });
  return {
    file: model.path,
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    opset,
    inputs: g.inputs.map(io),
    outputs: g.outputs.map(io),
    nodeCount: fileNodeCount(model),
    operators,
    parameters,
    layers,
    metadata: { ...model.metadata },
    layerMetadata,
    graph: graphSummary(model, new Set(layers.map((l) => l.name)), limit),
  };
}

/**
 * The dataflow graph of the loaded IR: one entry per node (named like the layer list: its name, else its first
 * output), with only the values that flow as inputs: those a node or the graph input produces. Weights, biases and
 * shape constants (initializers, hoisted Constant nodes included) are not edges.
 */
export function graphSummary(model: Model, layerNames: ReadonlySet<string>, limit = GRAPH_NODE_LIMIT): GraphSummary {
  const g = model.graph;
  const flowing = new Set<string>(g.inputs.filter((i) => !g.initializers.has(i.name)).map((i) => i.name));
  for (const n of g.nodes) for (const o of n.outputs) if (o) flowing.add(o);
  const used = new Map<string, number>();
  const nodes: GraphNodeSummary[] = [];
  for (const n of g.nodes.slice(0, limit)) {
    const base = n.name || n.outputs.find(Boolean) || n.opType;
    const k = used.get(base) ?? 0;
    used.set(base, k + 1);
    const name = k === 0 ? base : `${base}#${k}`; // unnamed or duplicate names stay distinct
    nodes.push({
      name,
      op: n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType,
      inputs: [...new Set(n.inputs.filter((i) => i && flowing.has(i) && !g.initializers.has(i)))],
      outputs: n.outputs.filter(Boolean),
      layer: layerNames.has(name),
    });
  }
  return { nodes, totalNodes: g.nodes.length, truncated: g.nodes.length > limit };
}
