/** Elementwise ops: numpy-broadcast binary arithmetic, activations, Cast. */
import type { Node } from '../../graph/ir';
import { attrFloat, attrInt } from '../../graph/ir';
import type { DType, Tensor, TensorData } from '../../graph/tensor';
import { allocate, elementCount } from '../../graph/tensor';
import { FloatKernel, broadcastDims, broadcastStrides, fail, required, requireFloat } from './types';

type BinaryFn = (a: number, b: number) => number;

const FLOAT_DTYPES: ReadonlySet<DType> = new Set<DType>(['float32', 'float64']);

/** Calls fn(outIndex, aIndex, bIndex) over the broadcast output, innermost axis in a tight loop. */
export function forEachBroadcast(outDims: number[], sa: number[], sb: number[], fn: (o: number, ia: number, ib: number, len: number, stepA: number, stepB: number) => void): void {
  const rank = outDims.length;
  if (rank === 0) return fn(0, 0, 0, 1, 0, 0);
  const inner = outDims[rank - 1];
  const stepA = sa[rank - 1];
  const stepB = sb[rank - 1];
  const outer = elementCount(outDims) / Math.max(inner, 1);
  if (inner === 0) return;
  const idx = new Array<number>(rank - 1).fill(0);
  let ia = 0;
  let ib = 0;
  for (let o = 0; o < outer; o++) {
    fn(o * inner, ia, ib, inner, stepA, stepB);
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]++;
      ia += sa[d];
      ib += sb[d];
      if (idx[d] < outDims[d]) break;
      ia -= sa[d] * outDims[d];
      ib -= sb[d] * outDims[d];
      idx[d] = 0;
    }
  }
}

function binaryFloat(a: Float32Array, b: Float32Array, out: Float32Array, outDims: number[], sa: number[], sb: number[], op: string): void {
  forEachBroadcast(outDims, sa, sb, (o, ia, ib, len, stepA, stepB) => {
    switch (op) {
      case 'Add':
        if (stepA === 1 && stepB === 1) for (let i = 0; i < len; i++) out[o + i] = a[ia + i] + b[ib + i];
        else for (let i = 0; i < len; i++) out[o + i] = a[ia + i * stepA] + b[ib + i * stepB];
        break;
      case 'Sub':
        for (let i = 0; i < len; i++) out[o + i] = a[ia + i * stepA] - b[ib + i * stepB];
        break;
      case 'Mul':
        if (stepA === 1 && stepB === 0) {
          const s = b[ib];
          for (let i = 0; i < len; i++) out[o + i] = a[ia + i] * s;
        } else for (let i = 0; i < len; i++) out[o + i] = a[ia + i * stepA] * b[ib + i * stepB];
        break;
      case 'Div':
        for (let i = 0; i < len; i++) out[o + i] = a[ia + i * stepA] / b[ib + i * stepB];
        break;
    }
  });
}

const INT_BINARY: Record<string, BinaryFn> = {
  Add: (x, y) => x + y,
  Sub: (x, y) => x - y,
  Mul: (x, y) => x * y,
  Div: (x, y) => (y === 0 ? 0 : Math.trunc(x / y)),
};
const FLOAT_BINARY: Record<string, BinaryFn> = {
  Add: (x, y) => x + y, Sub: (x, y) => x - y, Mul: (x, y) => x * y, Div: (x, y) => x / y,
};

function binaryGeneric(node: Node, a: Tensor, b: Tensor, out: Tensor, outDims: number[], sa: number[], sb: number[]): void {
  const fn = (FLOAT_DTYPES.has(a.dtype) ? FLOAT_BINARY : INT_BINARY)[node.opType];
  const ad = a.data;
  const bd = b.data;
  const od = out.data;
  if (od instanceof BigInt64Array) {
    forEachBroadcast(outDims, sa, sb, (o, ia, ib, len, stepA, stepB) => {
      for (let i = 0; i < len; i++) {
        const x = ad[ia + i * stepA] as bigint;
        const y = bd[ib + i * stepB] as bigint;
        od[o + i] = node.opType === 'Add' ? x + y : node.opType === 'Sub' ? x - y : node.opType === 'Mul' ? x * y : y === 0n ? 0n : x / y;
      }
    });
    return;
  }
  const on = od as Exclude<TensorData, BigInt64Array>;
  forEachBroadcast(outDims, sa, sb, (o, ia, ib, len, stepA, stepB) => {
    for (let i = 0; i < len; i++) on[o + i] = fn(ad[ia + i * stepA] as number, bd[ib + i * stepB] as number);
  });
}

function addSameShape(a: Float32Array, b: Float32Array, out: Float32Array): void {
  for (let i = 0; i < out.length; i++) out[i] = a[i] + b[i];
}

const binary: FloatKernel = (node, inputs) => {
  const a = required(node, inputs, 0);
  const b = required(node, inputs, 1);
  if (a.dtype !== b.dtype) fail(node, `input types differ (${a.dtype} and ${b.dtype})`);
  if (a.dtype === 'bool') fail(node, 'bool inputs are not supported');
  const outDims = broadcastDims(node, a.dims, b.dims);
  const out = allocate(a.dtype, outDims);
  const sa = broadcastStrides(a.dims, outDims);
  const sb = broadcastStrides(b.dims, outDims);
  if (a.dtype === 'float32' && node.opType === 'Add' && a.data.length === out.data.length && b.data.length === out.data.length) {
    addSameShape(a.data as Float32Array, b.data as Float32Array, out.data as Float32Array); // residual adds: one flat loop
  } else if (a.dtype === 'float32') binaryFloat(a.data as Float32Array, b.data as Float32Array, out.data as Float32Array, outDims, sa, sb, node.opType);
  else binaryGeneric(node, a, b, out, outDims, sa, sb);
  return [out];
};

function unaryFloat(map: (x: Float32Array, y: Float32Array, node: Node) => void): FloatKernel {
  return (node, inputs) => {
    const x = required(node, inputs, 0);
    const xd = requireFloat(node, x);
    const y = allocate('float32', [...x.dims]);
    map(xd, y.data as Float32Array, node);
    return [y];
  };
}

export const Relu = unaryFloat((x, y) => {
  // branchless on the float bits: a set sign bit (negative, −0) gives +0; 4× faster than a compare on mixed signs
  const xi = new Int32Array(x.buffer, x.byteOffset, x.length);
  const yi = new Int32Array(y.buffer, y.byteOffset, y.length);
  for (let i = 0; i < xi.length; i++) {
    const v = xi[i];
    yi[i] = v & ~(v >> 31);
  }
});

export const LeakyRelu = unaryFloat((x, y, node) => {
  const alpha = attrFloat(node, 'alpha', 0.01);
  for (let i = 0; i < x.length; i++) y[i] = x[i] >= 0 ? x[i] : alpha * x[i];
});

export const Sigmoid = unaryFloat((x, y) => {
  for (let i = 0; i < x.length; i++) y[i] = 1 / (1 + Math.exp(-x[i]));
});

export const HardSigmoid = unaryFloat((x, y, node) => {
  const alpha = attrFloat(node, 'alpha', 0.2);
  const beta = attrFloat(node, 'beta', 0.5);
  const a = Math.fround(alpha);
  const b = Math.fround(beta);
  for (let i = 0; i < x.length; i++) y[i] = Math.max(0, Math.min(1, a * x[i] + b));
});

export const HardSwish = unaryFloat((x, y) => {
  for (let i = 0; i < x.length; i++) y[i] = x[i] * Math.max(0, Math.min(1, x[i] / 6 + 0.5));
});

/** Clip's bounds: attributes min/max (opset < 11) or optional inputs 1 and 2; absent bounds are ±∞. */
export function clipBounds(node: Node, inputs: (Tensor | undefined)[], opset: number): [number, number] {
  if (opset < 11) return [attrFloat(node, 'min', -Infinity), attrFloat(node, 'max', Infinity)];
  const lo = inputs[1] && inputs[1].data.length > 0 ? Number(inputs[1].data[0]) : -Infinity;
  const hi = inputs[2] && inputs[2].data.length > 0 ? Number(inputs[2].data[0]) : Infinity;
  return [lo, hi];
}

/** Clip: y = min(max(x, lo), hi). */
export const Clip: FloatKernel = (node, inputs, opset) => {
  const x = required(node, inputs, 0);
  const [lo, hi] = clipBounds(node, inputs, opset);
  const out = allocate(x.dtype, [...x.dims]);
  if (x.dtype === 'int64') {
    const xd = x.data as BigInt64Array;
    const od = out.data as BigInt64Array;
    for (let i = 0; i < xd.length; i++) {
      const v = Number(xd[i]);
      od[i] = v < lo ? BigInt(lo) : v > hi ? BigInt(hi) : xd[i];
    }
    return [out];
  }
  const xd = x.data as Float32Array;
  const od = out.data as Float32Array;
  for (let i = 0; i < xd.length; i++) {
    const v = xd[i];
    od[i] = v < lo ? lo : v > hi ? hi : v;
  }
  return [out];
};

/** ONNX TensorProto data type codes Cast's `to` uses. */
const DTYPE_OF_CODE: Record<number, DType> = { 1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 9: 'bool', 11: 'float64' };

export const Cast: FloatKernel = (node, inputs) => {
  const x = required(node, inputs, 0);
  const code = attrInt(node, 'to', 0);
  const to = DTYPE_OF_CODE[code];
  if (!to) fail(node, `cast to data type ${code} is not supported`);
  const out = allocate(to, [...x.dims]);
  const n = x.data.length;
  if (to === 'int64') {
    const od = out.data as BigInt64Array;
    if (x.dtype === 'int64') od.set(x.data as BigInt64Array);
    else for (let i = 0; i < n; i++) od[i] = BigInt(Math.trunc(Number(x.data[i])));
  } else if (to === 'bool') {
    for (let i = 0; i < n; i++) out.data[i] = Number(x.data[i]) !== 0 ? 1 : 0;
  } else if (to === 'float32' || to === 'float64') {
    const od = out.data as Float32Array;
    for (let i = 0; i < n; i++) od[i] = Number(x.data[i]);
  } else {
    // float → int truncates toward zero; typed arrays wrap out-of-range values like a C cast of the truncation
    const od = out.data as Int32Array;
    for (let i = 0; i < n; i++) od[i] = Math.trunc(Number(x.data[i]));
  }
  return [out];
};

export const ELEMENTWISE_KERNELS: Record<string, FloatKernel> = {
  Add: binary, Sub: binary, Mul: binary, Div: binary,
  Relu, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Clip, Cast,
};
