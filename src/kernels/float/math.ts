/** Further float ops PyTorch image models export: unary math, PRelu, Pow, variadic Max/Min/Sum/Mean, reductions, LogSoftmax, Split. */
import type { Node } from '../../graph/ir';
import { attrFloat, attrInt, attrInts } from '../../graph/ir';
import type { Tensor } from '../../graph/tensor';
import { allocate, elementCount, floatTensor } from '../../graph/tensor';
import { forEachBroadcast } from './elementwise';
import { FloatKernel, broadcastDims, broadcastStrides, fail, normalizeAxis, optionalInts, required, requireFloat } from './types';

/** erf(x) by Abramowitz–Stegun 7.1.26 refined with one Newton step on erfc (|error| < 1e-7). */
function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.5 * a);
  // Numerical Recipes erfc (fractional error < 1.2e-7)
  const erfc = t * Math.exp(-a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return sign * (1 - erfc);
}

/** Round half to even, as ONNX Round. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function unary(fn: (x: number, node: Node) => number): FloatKernel {
  return (node, inputs) => {
    const x = required(node, inputs, 0);
    const xd = requireFloat(node, x);
    const y = floatTensor([...x.dims]);
    const yd = y.data as Float32Array;
    for (let i = 0; i < xd.length; i++) yd[i] = fn(xd[i], node);
    return [y];
  };
}

/** Abs and Neg on any numeric tensor (shape arithmetic in exported graphs negates int64). */
function signed(fn: (x: number) => number, big: (x: bigint) => bigint): FloatKernel {
  return (node, inputs) => {
    const x = required(node, inputs, 0);
    if (x.dtype === 'bool') fail(node, 'bool input is not supported');
    const y = allocate(x.dtype, [...x.dims]);
    if (x.data instanceof BigInt64Array) {
      const yd = y.data as BigInt64Array;
      for (let i = 0; i < x.data.length; i++) yd[i] = big(x.data[i]);
    } else {
      const xd = x.data as Float32Array;
      const yd = y.data as Float32Array;
      for (let i = 0; i < xd.length; i++) yd[i] = fn(xd[i]);
    }
    return [y];
  };
}

const UNARY: Record<string, FloatKernel> = {
  Abs: signed((x) => Math.abs(x), (x) => (x < 0n ? -x : x)),
  Neg: signed((x) => -x, (x) => -x),
  Exp: unary((x) => Math.exp(x)),
  Log: unary((x) => Math.log(x)),
  Sqrt: unary((x) => Math.sqrt(x)),
  Reciprocal: unary((x) => 1 / x),
  Tanh: unary((x) => Math.tanh(x)),
  Erf: unary(erf),
  Floor: unary((x) => Math.floor(x)),
  Ceil: unary((x) => Math.ceil(x)),
  Round: unary(roundHalfEven),
  Softsign: unary((x) => x / (1 + Math.abs(x))),
  Softplus: unary((x) => (x > 20 ? x : Math.log1p(Math.exp(x)))),
  Elu: unary((x, n) => (x >= 0 ? x : attrFloat(n, 'alpha', 1) * (Math.exp(x) - 1))),
  Selu: unary((x, n) => {
    const alpha = attrFloat(n, 'alpha', 1.67326319217681884765625);
    const gamma = attrFloat(n, 'gamma', 1.05070102214813232421875);
    return x > 0 ? gamma * x : gamma * (alpha * Math.exp(x) - alpha);
  }),
  ThresholdedRelu: unary((x, n) => (x > attrFloat(n, 'alpha', 1) ? x : 0)),
};

/** Float binary op with numpy broadcasting. */
function broadcastBinary(fn: (a: number, b: number) => number): FloatKernel {
  return (node, inputs) => {
    const a = required(node, inputs, 0);
    const b = required(node, inputs, 1);
    return [binaryFloat(node, a, b, fn)];
  };
}

function binaryFloat(node: Node, a: Tensor, b: Tensor, fn: (a: number, b: number) => number): Tensor {
  const ad = requireFloat(node, a);
  const bd = requireFloat(node, b);
  const outDims = broadcastDims(node, a.dims, b.dims);
  const out = floatTensor(outDims);
  const od = out.data as Float32Array;
  forEachBroadcast(outDims, broadcastStrides(a.dims, outDims), broadcastStrides(b.dims, outDims), (o, ia, ib, len, sa, sb) => {
    for (let i = 0; i < len; i++) od[o + i] = fn(ad[ia + i * sa], bd[ib + i * sb]);
  });
  return out;
}

/** Max, Min, Sum, Mean over any number of inputs, broadcast pairwise. */
function variadic(fn: (a: number, b: number) => number, mean = false): FloatKernel {
  return (node, inputs) => {
    const parts = inputs.filter((t): t is Tensor => !!t);
    if (parts.length === 0) fail(node, 'needs at least one input');
    let acc: Tensor = { ...parts[0], dims: [...parts[0].dims], data: Float32Array.from(requireFloat(node, parts[0])) };
    for (let i = 1; i < parts.length; i++) acc = binaryFloat(node, acc, parts[i], fn);
    if (mean) {
      const d = acc.data as Float32Array;
      for (let i = 0; i < d.length; i++) d[i] /= parts.length;
    }
    return [acc];
  };
}

/** NaN-propagating max/min, as ONNX Max/Min. */
const maxNaN = (a: number, b: number) => (a !== a || b !== b ? NaN : a > b ? a : b);
const minNaN = (a: number, b: number) => (a !== a || b !== b ? NaN : a < b ? a : b);

type ReduceKind = 'ReduceMean' | 'ReduceSum' | 'ReduceMax' | 'ReduceMin' | 'ReduceProd' | 'ReduceSumSquare' | 'ReduceL1' | 'ReduceL2' | 'ReduceLogSumExp' | 'ReduceLogSum';

/** Axes reduced by a Reduce* node: attribute before opset 18 (13 for ReduceSum), input 1 after; empty → all, or none with noop_with_empty_axes. */
export function reduceAxes(node: Node, inputs: (Tensor | undefined)[], rank: number, opset: number): number[] {
  const axesAsInput = node.opType === 'ReduceSum' ? opset >= 13 : opset >= 18;
  const axes = axesAsInput ? optionalInts(inputs, 1) : attrInts(node, 'axes');
  if (!axes || axes.length === 0) {
    return axesAsInput && attrInt(node, 'noop_with_empty_axes', 0) === 1 ? [] : [...Array(rank).keys()];
  }
  return [...new Set(axes.map((a) => normalizeAxis(node, a, rank)))].sort((x, y) => x - y);
}

export function reduceDims(node: Node, dims: readonly number[], axes: number[]): number[] {
  const keep = attrInt(node, 'keepdims', 1) === 1;
  const out: number[] = [];
  dims.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keep) out.push(1);
  });
  return out;
}

function reduce(kind: ReduceKind): FloatKernel {
  return (node, inputs, opset) => {
    const x = required(node, inputs, 0);
    const xd = requireFloat(node, x);
    const rank = x.dims.length;
    const axes = reduceAxes(node, inputs, rank, opset);
    const outDims = reduceDims(node, x.dims, axes);
    const out = floatTensor(outDims);
    const od = out.data as Float32Array;
    if (axes.length === 0) {
      od.set(xd);
      return [out];
    }
    // output index of every input element: drop the reduced axes
    const keptStrides = new Array<number>(rank).fill(0);
    let s = 1;
    for (let i = rank - 1; i >= 0; i--) {
      if (!axes.includes(i)) {
        keptStrides[i] = s;
        s *= x.dims[i];
      }
    }
    const count = axes.reduce((p, a) => p * x.dims[a], 1);
    const acc = new Float64Array(od.length).fill(kind === 'ReduceMax' ? -Infinity : kind === 'ReduceMin' ? Infinity : kind === 'ReduceProd' ? 1 : 0);
    const maxes = kind === 'ReduceLogSumExp' ? new Float64Array(od.length).fill(-Infinity) : undefined;
    const idx = new Array<number>(rank).fill(0);
    const passes = maxes ? 2 : 1;
    for (let pass = 0; pass < passes; pass++) {
      idx.fill(0);
      let o = 0;
      for (let i = 0; i < xd.length; i++) {
        const v = xd[i];
        if (maxes && pass === 0) maxes[o] = Math.max(maxes[o], v);
        else {
          switch (kind) {
            case 'ReduceMean': case 'ReduceSum': acc[o] += v; break;
            case 'ReduceMax': acc[o] = v > acc[o] || v !== v ? v : acc[o]; break;
            case 'ReduceMin': acc[o] = v < acc[o] || v !== v ? v : acc[o]; break;
            case 'ReduceProd': acc[o] *= v; break;
            case 'ReduceSumSquare': case 'ReduceL2': acc[o] += v * v; break;
            case 'ReduceL1': acc[o] += Math.abs(v); break;
            case 'ReduceLogSum': acc[o] += v; break;
            case 'ReduceLogSumExp': acc[o] += Math.exp(v - maxes![o]); break;
          }
        }
        for (let d = rank - 1; d >= 0; d--) {
          o += keptStrides[d];
          if (++idx[d] < x.dims[d]) break;
          o -= keptStrides[d] * x.dims[d];
          idx[d] = 0;
        }
      }
    }
    for (let o = 0; o < od.length; o++) {
      const v = acc[o];
      od[o] = kind === 'ReduceMean' ? v / count
        : kind === 'ReduceL2' ? Math.sqrt(v)
        : kind === 'ReduceLogSum' ? Math.log(v)
        : kind === 'ReduceLogSumExp' ? Math.log(v) + maxes![o]
        : v;
    }
    return [out];
  };
}

/** LogSoftmax with the same axis rules as Softmax (opset < 13: 2-D coercion). */
const LogSoftmax: FloatKernel = (node, inputs, opset) => {
  const x = required(node, inputs, 0);
  const xd = requireFloat(node, x);
  const rank = x.dims.length;
  const y = floatTensor([...x.dims]);
  const yd = y.data as Float32Array;
  if (rank === 0) return [y];
  const axis = normalizeAxis(node, attrInt(node, 'axis', opset < 13 ? 1 : -1), rank);
  const outer = elementCount(x.dims.slice(0, axis));
  const axisLen = opset < 13 ? elementCount(x.dims.slice(axis)) : x.dims[axis];
  const inner = opset < 13 ? 1 : elementCount(x.dims.slice(axis + 1));
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * axisLen * inner + i;
      let max = -Infinity;
      for (let k = 0; k < axisLen; k++) max = Math.max(max, xd[base + k * inner]);
      let sum = 0;
      for (let k = 0; k < axisLen; k++) sum += Math.exp(xd[base + k * inner] - max);
      const lse = Math.log(sum) + max; // log_softmax(x) = x − log Σ exp(x)
      for (let k = 0; k < axisLen; k++) yd[base + k * inner] = xd[base + k * inner] - lse;
    }
  }
  return [y];
};

/** Sizes of Split's pieces: the `split` input/attribute, else equal parts (num_outputs, last one smaller). */
export function splitSizes(node: Node, inputs: (Tensor | undefined)[], dim: number, opset: number): number[] {
  const given = opset >= 13 ? optionalInts(inputs, 1) : attrInts(node, 'split');
  const parts = node.outputs.length;
  if (given && given.length > 0) {
    if (given.length !== parts || given.reduce((a, b) => a + b, 0) !== dim || given.some((s) => s < 0)) {
      fail(node, `split [${given.join(',')}] does not divide an axis of ${dim} into ${parts} outputs`);
    }
    return given;
  }
  const chunk = Math.ceil(dim / parts);
  return Array.from({ length: parts }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
}

const Split: FloatKernel = (node, inputs, opset) => {
  const x = required(node, inputs, 0);
  const rank = x.dims.length;
  const axis = normalizeAxis(node, attrInt(node, 'axis', 0), rank);
  const sizes = splitSizes(node, inputs, x.dims[axis], opset);
  const outer = elementCount(x.dims.slice(0, axis));
  const inner = elementCount(x.dims.slice(axis + 1));
  const rowIn = x.dims[axis] * inner;
  const src = x.data as Float32Array;
  let offset = 0;
  return sizes.map((size) => {
    const dims = [...x.dims];
    dims[axis] = size;
    const out = { dtype: x.dtype, dims, data: new (src.constructor as Float32ArrayConstructor)(elementCount(dims)) } as Tensor;
    const od = out.data as Float32Array;
    for (let o = 0; o < outer; o++) od.set(src.subarray(o * rowIn + offset * inner, o * rowIn + (offset + size) * inner), o * size * inner);
    offset += size;
    return out;
  });
};

export const MATH_KERNELS: Record<string, FloatKernel> = {
  ...UNARY,
  PRelu: broadcastBinary((x, slope) => (x < 0 ? slope * x : x)),
  Pow: broadcastBinary((a, b) => Math.pow(a, b)),
  Max: variadic(maxNaN),
  Min: variadic(minNaN),
  Sum: variadic((a, b) => a + b),
  Mean: variadic((a, b) => a + b, true),
  ReduceMean: reduce('ReduceMean'),
  ReduceSum: reduce('ReduceSum'),
  ReduceMax: reduce('ReduceMax'),
  ReduceMin: reduce('ReduceMin'),
  ReduceProd: reduce('ReduceProd'),
  ReduceSumSquare: reduce('ReduceSumSquare'),
  ReduceL1: reduce('ReduceL1'),
  ReduceL2: reduce('ReduceL2'),
  ReduceLogSum: reduce('ReduceLogSum'),
  ReduceLogSumExp: reduce('ReduceLogSumExp'),
  LogSoftmax,
  Split,
};

export const UNARY_MATH_OPS: ReadonlySet<string> = new Set(Object.keys(UNARY));
