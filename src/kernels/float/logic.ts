/** Comparison, selection and shape-building ops found in exported graphs: Equal/Less/Greater…, Not/And/Or/Xor, Where, Expand, Tile, Range, Size, CastLike, Sign, ArgMax/ArgMin. */
import type { Node } from '../../graph/ir';
import { attrInt } from '../../graph/ir';
import type { DType, Tensor, TensorData } from '../../graph/tensor';
import { allocate, elementCount, int64Tensor, toNumbers } from '../../graph/tensor';
import { DEFAULT_LIMITS } from '../../onnx/limits';
import { Cast, forEachBroadcast } from './elementwise';
import { FloatKernel, broadcastDims, broadcastStrides, fail, normalizeAxis, required, stridesOf } from './types';

type Scalar = number | bigint;
const read = (d: TensorData, i: number): Scalar => d[i];

/** Elementwise comparison with broadcasting; output bool (1/0). */
function compare(test: (a: Scalar, b: Scalar) => boolean): FloatKernel {
  return (node, inputs) => {
    const a = required(node, inputs, 0);
    const b = required(node, inputs, 1);
    if (a.dtype !== b.dtype) fail(node, `input types differ (${a.dtype} and ${b.dtype})`);
    const outDims = broadcastDims(node, a.dims, b.dims);
    const out = allocate('bool', outDims);
    const od = out.data as Uint8Array;
    forEachBroadcast(outDims, broadcastStrides(a.dims, outDims), broadcastStrides(b.dims, outDims), (o, ia, ib, len, sa, sb) => {
      for (let i = 0; i < len; i++) od[o + i] = test(read(a.data, ia + i * sa), read(b.data, ib + i * sb)) ? 1 : 0;
    });
    return [out];
  };
}

function logical(fn: (a: boolean, b: boolean) => boolean): FloatKernel {
  return (node, inputs) => {
    const a = required(node, inputs, 0);
    const b = required(node, inputs, 1);
    if (a.dtype !== 'bool' || b.dtype !== 'bool') fail(node, 'inputs must be bool');
    return compare((x, y) => fn(x !== 0, y !== 0))(node, inputs, 0);
  };
}

const Not: FloatKernel = (node, inputs) => {
  const x = required(node, inputs, 0);
  if (x.dtype !== 'bool') fail(node, 'input must be bool');
  const out = allocate('bool', [...x.dims]);
  for (let i = 0; i < x.data.length; i++) out.data[i] = x.data[i] ? 0 : 1;
  return [out];
};

/** Where(cond, X, Y) with three-way broadcasting. */
const Where: FloatKernel = (node, inputs) => {
  const c = required(node, inputs, 0);
  const x = required(node, inputs, 1);
  const y = required(node, inputs, 2);
  if (x.dtype !== y.dtype) fail(node, `X and Y types differ (${x.dtype} and ${y.dtype})`);
  const outDims = broadcastDims(node, broadcastDims(node, c.dims, x.dims), y.dims);
  const out = allocate(x.dtype, outDims);
  const od = out.data as Float32Array;
  const sc = broadcastStrides(c.dims, outDims);
  const sx = broadcastStrides(x.dims, outDims);
  const sy = broadcastStrides(y.dims, outDims);
  const xd = x.data as Float32Array;
  const yd = y.data as Float32Array;
  const rank = outDims.length;
  const idx = new Array<number>(rank).fill(0);
  const total = elementCount(outDims);
  for (let o = 0; o < total; o++) {
    let ic = 0, ix = 0, iy = 0;
    for (let d = 0; d < rank; d++) {
      ic += idx[d] * sc[d];
      ix += idx[d] * sx[d];
      iy += idx[d] * sy[d];
    }
    od[o] = c.data[ic] ? xd[ix] : yd[iy];
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < outDims[d]) break;
      idx[d] = 0;
    }
  }
  return [out];
};

function checkSize(node: Node, dims: number[]): void {
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) fail(node, `invalid output shape [${dims.join(',')}]`);
  if (elementCount(dims) > DEFAULT_LIMITS.maxTensorElements) fail(node, `output [${dims.join(',')}] is over the tensor size limit`);
}

/** Copies x into a larger output through index maps per axis: out[i] = x[Σ map_d(i_d)·stride_d]. */
function gatherAxes(x: Tensor, outDims: number[], sourceIndex: (axis: number, i: number) => number): Tensor {
  const out = allocate(x.dtype, outDims);
  const rank = outDims.length;
  const total = elementCount(outDims);
  if (total === 0) return out;
  const xs = stridesOf(x.dims);
  const offsets = outDims.map((d, ax) => Int32Array.from({ length: d }, (_, i) => sourceIndex(ax, i) * xs[ax]));
  const od = out.data as Float32Array;
  const xd = x.data as Float32Array;
  if (rank === 0) {
    od[0] = xd[0];
    return out;
  }
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < total; o++) {
    let s = 0;
    for (let d = 0; d < rank; d++) s += offsets[d][idx[d]];
    od[o] = xd[s];
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < outDims[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

export function expandDims(node: Node, dims: readonly number[], shape: readonly number[]): number[] {
  return broadcastDims(node, dims, shape);
}

const Expand: FloatKernel = (node, inputs) => {
  const x = required(node, inputs, 0);
  const outDims = expandDims(node, x.dims, toNumbers(required(node, inputs, 1)));
  checkSize(node, outDims);
  const lead = outDims.length - x.dims.length;
  const padded = { ...x, dims: [...new Array<number>(lead).fill(1), ...x.dims] };
  return [gatherAxes(padded, outDims, (ax, i) => (padded.dims[ax] === 1 ? 0 : i))];
};

export function tileDims(node: Node, dims: readonly number[], repeats: readonly number[]): number[] {
  if (repeats.length !== dims.length || repeats.some((r) => !Number.isInteger(r) || r < 0)) fail(node, `repeats [${repeats.join(',')}] must give one non-negative count per axis of [${dims.join(',')}]`);
  return dims.map((d, i) => d * repeats[i]);
}

const Tile: FloatKernel = (node, inputs) => {
  const x = required(node, inputs, 0);
  const outDims = tileDims(node, x.dims, toNumbers(required(node, inputs, 1)));
  checkSize(node, outDims);
  return [gatherAxes(x, outDims, (ax, i) => i % x.dims[ax])];
};

export function rangeCount(start: number, limit: number, delta: number): number {
  return Math.max(0, Math.ceil((limit - start) / delta));
}

const Range: FloatKernel = (node, inputs) => {
  const [start, limit, delta] = [0, 1, 2].map((i) => Number(required(node, inputs, i).data[0]));
  if (delta === 0 || !Number.isFinite(start + limit + delta)) fail(node, `invalid range (${start}, ${limit}, ${delta})`);
  const n = rangeCount(start, limit, delta);
  checkSize(node, [n]);
  const out = allocate(required(node, inputs, 0).dtype, [n]);
  for (let i = 0; i < n; i++) {
    if (out.data instanceof BigInt64Array) out.data[i] = BigInt(start + i * delta);
    else (out.data as Float32Array)[i] = start + i * delta;
  }
  return [out];
};

const Size: FloatKernel = (node, inputs) => [int64Tensor([elementCount(required(node, inputs, 0).dims)], [])];

const DTYPE_CODE: Record<DType, number> = { float32: 1, uint8: 2, int8: 3, uint16: 4, int16: 5, int32: 6, int64: 7, bool: 9, float64: 11 };

const CastLike: FloatKernel = (node, inputs, opset) => {
  const target = required(node, inputs, 1);
  return Cast({ ...node, attributes: { ...node.attributes, to: DTYPE_CODE[target.dtype] } }, [inputs[0]], opset);
};

const Sign: FloatKernel = (node, inputs) => {
  const x = required(node, inputs, 0);
  const out = allocate(x.dtype, [...x.dims]);
  if (x.data instanceof BigInt64Array) {
    const od = out.data as BigInt64Array;
    for (let i = 0; i < x.data.length; i++) od[i] = x.data[i] > 0n ? 1n : x.data[i] < 0n ? -1n : 0n;
  } else {
    for (let i = 0; i < x.data.length; i++) (out.data as Float32Array)[i] = Math.sign(x.data[i] as number);
  }
  return [out];
};

/** ArgMax / ArgMin along `axis` (keepdims, select_last_index); int64 output. */
function argReduce(max: boolean): FloatKernel {
  return (node, inputs) => {
    const x = required(node, inputs, 0);
    const rank = x.dims.length;
    const axis = normalizeAxis(node, attrInt(node, 'axis', 0), rank);
    const keep = attrInt(node, 'keepdims', 1) === 1;
    const last = attrInt(node, 'select_last_index', 0) === 1;
    const outer = elementCount(x.dims.slice(0, axis));
    const n = x.dims[axis];
    const inner = elementCount(x.dims.slice(axis + 1));
    const dims = keep ? x.dims.map((d, i) => (i === axis ? 1 : d)) : x.dims.filter((_, i) => i !== axis);
    const out = allocate('int64', dims);
    const od = out.data as BigInt64Array;
    const xd = x.data as Float32Array;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let best = 0;
        let bestV = xd[o * n * inner + i];
        for (let k = 1; k < n; k++) {
          const v = xd[(o * n + k) * inner + i];
          const better = max ? v > bestV || (last && v === bestV) : v < bestV || (last && v === bestV);
          if (better) {
            best = k;
            bestV = v;
          }
        }
        od[o * inner + i] = BigInt(best);
      }
    }
    return [out];
  };
}

export const LOGIC_KERNELS: Record<string, FloatKernel> = {
  Equal: compare((a, b) => a === b),
  Less: compare((a, b) => a < b),
  LessOrEqual: compare((a, b) => a <= b),
  Greater: compare((a, b) => a > b),
  GreaterOrEqual: compare((a, b) => a >= b),
  And: logical((a, b) => a && b),
  Or: logical((a, b) => a || b),
  Xor: logical((a, b) => a !== b),
  Not,
  Where,
  Expand,
  Tile,
  Range,
  Size,
  CastLike,
  Sign,
  ArgMax: argReduce(true),
  ArgMin: argReduce(false),
};
