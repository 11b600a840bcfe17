/** The conv and linear layers of a prepared model, with shapes, parameter counts and MACs, as the UI lists them. */
import type { LayerInfo, PreparedModel } from '../engine/types';
import { attrFloat, attrInt, defaultOpset, Node } from './ir';
import { elementCount, toNumbers } from './tensor';

const LAYER_OPS = new Set(['Conv', 'Gemm', 'MatMul']);

/** Relu, Relu6 (Clip 0..6) or another activation op that alone consumes the layer's output. */
function followingActivation(prepared: PreparedModel, node: Node): string | undefined {
  const out = node.outputs[0];
  const readers = prepared.nodes.filter((n) => n.inputs.includes(out));
  if (readers.length !== 1) return undefined;
  const r = readers[0];
  if (r.opType === 'Relu') return 'Relu';
  if (r.opType === 'Clip') {
    let lo = -Infinity;
    let hi = Infinity;
    if (defaultOpset(prepared.model) < 11) {
      lo = attrFloat(r, 'min', -Infinity);
      hi = attrFloat(r, 'max', Infinity);
    } else {
      const min = r.inputs[1] ? prepared.constants.get(r.inputs[1]) : undefined;
      const max = r.inputs[2] ? prepared.constants.get(r.inputs[2]) : undefined;
      if ((r.inputs[1] && !min) || (r.inputs[2] && !max)) return 'Clip';
      if (min) lo = toNumbers(min)[0];
      if (max) hi = toNumbers(max)[0];
    }
    return lo === 0 && hi === 6 ? 'Relu6' : 'Clip';
  }
  if (['LeakyRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish'].includes(r.opType)) return r.opType;
  return undefined;
}

function layerInfo(prepared: PreparedModel, node: Node): LayerInfo | undefined {
  const weightName = node.inputs[1];
  const weight = prepared.constants.get(weightName);
  if (!weight) return undefined; // a product of two activations is no layer with weights
  const inputShape = prepared.shapes.get(node.inputs[0]) ?? [];
  const outputShape = prepared.shapes.get(node.outputs[0]) ?? [];
  const bias = node.inputs[2] ? prepared.constants.get(node.inputs[2]) : undefined;
  const parameters = elementCount(weight.dims) + (bias ? elementCount(bias.dims) : 0);
  const batch = Math.max(1, prepared.batchSize);
  let macsPerImage: number;
  let groups = 1;
  if (node.opType === 'Conv') {
    groups = attrInt(node, 'group', 1);
    // each output element takes C/group · k_h · k_w multiply-accumulates
    macsPerImage = (elementCount(outputShape) / batch) * elementCount(weight.dims.slice(1));
  } else {
    const k = node.opType === 'Gemm' && attrInt(node, 'transB', 0) === 1 ? weight.dims[1] : weight.dims[0];
    macsPerImage = (elementCount(outputShape) / batch) * k;
  }
  return {
    name: node.name,
    op: node.opType as LayerInfo['op'],
    weightName,
    weightDims: [...weight.dims],
    inputShape: [...inputShape],
    outputShape: [...outputShape],
    parameters,
    macsPerImage,
    groups,
    activation: followingActivation(prepared, node),
  };
}

/** Conv, Gemm and MatMul nodes with a constant weight, in execution order. */
export function listLayers(prepared: PreparedModel): LayerInfo[] {
  const layers: LayerInfo[] = [];
  for (const n of prepared.nodes) {
    if (!LAYER_OPS.has(n.opType)) continue;
    const info = layerInfo(prepared, n);
    if (info) layers.push(info);
  }
  return layers;
}
