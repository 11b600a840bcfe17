/**
 * In-place variants of elementwise kernels, for the engine to call when input 0 is dead after the node and its
 * buffer is owned by nobody else: the output reuses input 0's Float32Array (saves allocation and zeroing).
 */
import type { Node } from '../../graph/ir';
import { attrFloat } from '../../graph/ir';
import type { Tensor } from '../../graph/tensor';
import { FLOAT_KERNELS } from './index';
import { broadcastDims } from './types';
import { clipBounds } from './elementwise';

const UNARY_IN_PLACE = new Set(['Relu', 'Clip', 'LeakyRelu']);
const BINARY_IN_PLACE = new Set(['Add', 'Sub', 'Mul', 'Div']);

/** True when `node` may overwrite its input 0 (float32, output shape equal to input 0's). */
export function canRunInPlace(node: Node, inputs: (Tensor | undefined)[]): boolean {
  const a = inputs[0];
  if (!a || a.dtype !== 'float32') return false;
  if (UNARY_IN_PLACE.has(node.opType)) return true;
  if (!BINARY_IN_PLACE.has(node.opType)) return false;
  const b = inputs[1];
  if (!b || b.dtype !== 'float32' || b.data === a.data) return false;
  const out = broadcastDims(node, a.dims, b.dims);
  return out.length === a.dims.length && out.every((d, i) => d === a.dims[i]);
}

/** Runs the node writing into input 0's buffer; call only when canRunInPlace() said so. */
export function runInPlace(node: Node, inputs: (Tensor | undefined)[], opset: number): Tensor[] {
  const a = inputs[0]!;
  const x = a.data as Float32Array;
  switch (node.opType) {
    case 'Relu':
      {
        // same bit trick as the Relu kernel: a set sign bit gives +0
        const xi = new Int32Array(x.buffer, x.byteOffset, x.length);
        for (let i = 0; i < xi.length; i++) {
          const v = xi[i];
          xi[i] = v & ~(v >> 31);
        }
      }
      return [{ dtype: 'float32', dims: [...a.dims], data: x }];
    case 'LeakyRelu': {
      const alpha = attrFloat(node, 'alpha', 0.01);
      for (let i = 0; i < x.length; i++) if (x[i] < 0) x[i] = alpha * x[i];
      return [{ dtype: 'float32', dims: [...a.dims], data: x }];
    }
    case 'Clip': {
      const [lo, hi] = clipBounds(node, inputs, opset);
      for (let i = 0; i < x.length; i++) {
        const v = x[i];
        if (v < lo) x[i] = lo;
        else if (v > hi) x[i] = hi;
      }
      return [{ dtype: 'float32', dims: [...a.dims], data: x }];
    }
    default:
      return binaryInto(node, inputs, x);
  }
}

function binaryInto(node: Node, inputs: (Tensor | undefined)[], out: Float32Array): Tensor[] {
  const a = inputs[0]!;
  const b = inputs[1]!;
  const bd = b.data as Float32Array;
  const n = out.length;
  if (bd.length === n) {
    // same shape: elementwise
    switch (node.opType) {
      case 'Add': for (let i = 0; i < n; i++) out[i] += bd[i]; break;
      case 'Sub': for (let i = 0; i < n; i++) out[i] -= bd[i]; break;
      case 'Mul': for (let i = 0; i < n; i++) out[i] *= bd[i]; break;
      case 'Div': for (let i = 0; i < n; i++) out[i] /= bd[i]; break;
    }
    return [{ dtype: 'float32', dims: [...a.dims], data: out }];
  }
  // broadcast b: fall back to the allocating kernel (correct for every broadcast pattern)
  return FLOAT_KERNELS[node.opType](node, inputs, 13);
}
