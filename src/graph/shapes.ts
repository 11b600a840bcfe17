/** Shape inference per operator: output dims from input dims and the values of constant inputs. */
import type { Node } from './ir';
import { attrInt, describeNode } from './ir';
import type { Tensor } from './tensor';
import { toNumbers } from './tensor';
import { convOutputDims } from '../kernels/float/conv';
import { convTransposeOutputDims } from '../kernels/float/conv-transpose';
import { poolOutputDims } from '../kernels/float/pool';
import {
  flattenDims, gatherDims, padDims, padSpec, reshapeDims, sliceSpec, squeezeAxes, squeezeDims, transposePerm, unsqueezeDims,
} from '../kernels/float/shape-ops';
import { broadcastDims, normalizeAxis } from '../kernels/float/types';
import { reduceAxes, reduceDims, splitSizes, UNARY_MATH_OPS } from '../kernels/float/math';
import { expandDims, rangeCount, tileDims } from '../kernels/float/logic';
import { resizeDims } from '../kernels/float/spatial';
import { InputError } from '../util/errors';

type Dims = number[];

function need(node: Node, shapes: (Dims | undefined)[], i: number): Dims {
  const s = shapes[i];
  if (!s && !node.inputs[i]) throw new InputError(`${describeNode(node)}: input ${i} is missing (the node has ${node.inputs.filter(Boolean).length} inputs)`);
  if (!s) throw new InputError(`${describeNode(node)}: the shape of input ${i} ('${node.inputs[i]}') is unknown`);
  return s;
}

function needValue(node: Node, values: (Tensor | undefined)[], i: number, what: string): number[] {
  const v = values[i];
  if (!v) throw new InputError(`${describeNode(node)}: ${what} (input ${i}) must be a constant or computable from constants`);
  return toNumbers(v);
}

/**
 * Output shapes of `node`. `shapes[i]` is the shape of input i (undefined if omitted),
 * `values[i]` its value when it is constant. Returns one entry per output.
 */
export function inferNodeShapes(node: Node, shapes: (Dims | undefined)[], values: (Tensor | undefined)[], opset: number): Dims[] {
  const x = () => need(node, shapes, 0);
  switch (node.opType) {
    case 'Conv':
      return [convOutputDims(node, x(), need(node, shapes, 1))];
    case 'ConvTranspose':
      return [convTransposeOutputDims(node, x(), need(node, shapes, 1))];
    case 'MaxPool':
    case 'AveragePool':
      if (node.outputs.length > 1 && node.outputs[1] !== '') throw new InputError(`${describeNode(node)}: the Indices output of MaxPool is not supported`);
      return [poolOutputDims(node, x())];
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
      return [[...x().slice(0, 2), ...x().slice(2).map(() => 1)]];
    case 'Gemm': {
      const a = x();
      const b = need(node, shapes, 1);
      const m = attrInt(node, 'transA', 0) ? a[1] : a[0];
      const n = attrInt(node, 'transB', 0) ? b[0] : b[1];
      return [[m, n]];
    }
    case 'MatMul': {
      const a = x();
      const b = need(node, shapes, 1);
      const aD = a.length === 1 ? [1, a[0]] : a;
      const bD = b.length === 1 ? [b[0], 1] : b;
      const batch = broadcastDims(node, aD.slice(0, -2), bD.slice(0, -2));
      const out = [...batch];
      if (a.length > 1) out.push(aD[aD.length - 2]);
      if (b.length > 1) out.push(bD[bD.length - 1]);
      return [out];
    }
    case 'Add': case 'Sub': case 'Mul': case 'Div': case 'PRelu': case 'Pow':
      return [broadcastDims(node, x(), need(node, shapes, 1))];
    case 'Max': case 'Min': case 'Sum': case 'Mean':
      return [shapes.filter((s): s is Dims => !!s).reduce((acc, s) => broadcastDims(node, acc, s))];
    case 'ReduceMean': case 'ReduceSum': case 'ReduceMax': case 'ReduceMin': case 'ReduceProd': case 'ReduceSumSquare':
    case 'ReduceL1': case 'ReduceL2': case 'ReduceLogSum': case 'ReduceLogSumExp':
      return [reduceDims(node, x(), reduceAxes(node, values, x().length, opset))];
    case 'LogSoftmax': case 'InstanceNormalization': case 'Sign': case 'Not': case 'CastLike':
      return [[...x()]];
    case 'LayerNormalization': {
      const d = x();
      const axis = normalizeAxis(node, attrInt(node, 'axis', -1), d.length);
      const stat = d.map((v, i) => (i < axis ? v : 1));
      return [[...d], stat, stat];
    }
    case 'Equal': case 'Less': case 'LessOrEqual': case 'Greater': case 'GreaterOrEqual': case 'And': case 'Or': case 'Xor':
      return [broadcastDims(node, x(), need(node, shapes, 1))];
    case 'Where':
      return [broadcastDims(node, broadcastDims(node, x(), need(node, shapes, 1)), need(node, shapes, 2))];
    case 'Expand':
      return [expandDims(node, x(), needValue(node, values, 1, 'the shape'))];
    case 'Tile':
      return [tileDims(node, x(), needValue(node, values, 1, 'repeats'))];
    case 'Range': {
      const [start, limit, delta] = [0, 1, 2].map((i) => needValue(node, values, i, 'start/limit/delta')[0]);
      return [[rangeCount(start, limit, delta)]];
    }
    case 'Size':
      return [[]];
    case 'ArgMax': case 'ArgMin': {
      const d = x();
      const axis = normalizeAxis(node, attrInt(node, 'axis', 0), d.length);
      return [attrInt(node, 'keepdims', 1) === 1 ? d.map((v, i) => (i === axis ? 1 : v)) : d.filter((_, i) => i !== axis)];
    }
    case 'DepthToSpace': case 'SpaceToDepth': {
      const [n, c, h, w] = x();
      const b = attrInt(node, 'blocksize', 1);
      return [node.opType === 'DepthToSpace' ? [n, c / (b * b), h * b, w * b] : [n, c * b * b, h / b, w / b]];
    }
    case 'Resize': case 'Upsample': {
      const mode = typeof node.attributes.mode === 'string' ? node.attributes.mode : 'nearest';
      if (mode !== 'nearest' && mode !== 'linear') throw new InputError(`${describeNode(node)}: resize mode '${mode}' is not supported (nearest and linear are)`);
      if (node.attributes.coordinate_transformation_mode === 'tf_crop_and_resize') {
        throw new InputError(`${describeNode(node)}: coordinate_transformation_mode 'tf_crop_and_resize' is not supported`);
      }
      return [resizeDims(node, x(), values, opset)];
    }
    case 'Split': {
      const d = x();
      const axis = normalizeAxis(node, attrInt(node, 'axis', 0), d.length);
      return splitSizes(node, values, d[axis], opset).map((size) => d.map((v, i) => (i === axis ? size : v)));
    }
    case 'BatchNormalization':
      if (attrInt(node, 'training_mode', 0) === 1) throw new InputError(`${describeNode(node)}: training_mode=1 is not supported (inference only)`);
      return [[...x()]];
    case 'Relu': case 'Clip': case 'LeakyRelu': case 'Sigmoid': case 'HardSigmoid': case 'HardSwish':
    case 'Cast': case 'Identity': case 'Softmax':
      return [[...x()]];
    case 'Dropout':
      return node.outputs.map(() => [...x()]);
    case 'Flatten':
      return [flattenDims(node, x())];
    case 'Reshape':
      return [reshapeDims(node, x(), needValue(node, values, 1, 'the target shape'), attrInt(node, 'allowzero', 0) === 1)];
    case 'Squeeze':
      return [squeezeDims(node, x(), squeezeAxes(node, values, opset))];
    case 'Unsqueeze':
      return [unsqueezeDims(node, x(), squeezeAxes(node, values, opset))];
    case 'Transpose': {
      const d = x();
      return [transposePerm(node, d.length).map((p) => d[p])];
    }
    case 'Slice':
      if (opset >= 10) needValue(node, values, 1, 'starts');
      return [sliceSpec(node, values, x(), opset).outDims];
    case 'Pad':
      if (opset >= 11) needValue(node, values, 1, 'pads');
      return [padDims(node, x(), padSpec(node, values, x().length, opset).pads)];
    case 'Concat': {
      const parts = shapes.filter((s): s is Dims => !!s);
      const first = parts[0];
      const axis = normalizeAxis(node, attrInt(node, 'axis', 0), first.length);
      const out = [...first];
      out[axis] = parts.reduce((s, p) => s + p[axis], 0);
      return [out];
    }
    case 'Gather':
      return [gatherDims(node, x(), need(node, shapes, 1))];
    case 'Shape': {
      const rank = x().length;
      const clampAxis = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
      return [[Math.max(0, clampAxis(attrInt(node, 'end', rank)) - clampAxis(attrInt(node, 'start', 0)))]];
    }
    case 'ConstantOfShape':
      return [needValue(node, values, 0, 'the shape')];
    default:
      if (UNARY_MATH_OPS.has(node.opType)) return [[...x()]];
      throw new InputError(`${describeNode(node)}: no shape inference for operator ${node.opType}`);
  }
}
