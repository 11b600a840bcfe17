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
}

const LAYER_OPS = new Set(['Conv', 'Gemm', 'MatMul']);

export function summarizeModel(model: Model): ModelSummary {
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
  };
}
