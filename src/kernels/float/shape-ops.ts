/** Data-movement and shape ops, for every dtype: Reshape, Flatten, Transpose, Concat, Slice, Pad, Squeeze, Unsqueeze, Gather, Shape, ConstantOfShape, Constant, Identity, Dropout. */
import type { Node } from '../../graph/ir';
import { attrFloat, attrInt, attrInts, attrString } from '../../graph/ir';
import type { Tensor, TensorData } from '../../graph/tensor';
import { allocate, elementCount, floatTensor, int64Tensor, toNumbers } from '../../graph/tensor';
import { DEFAULT_LIMITS } from '../../onnx/limits';
import { FloatKernel, fail, normalizeAxis, optionalInts, required, stridesOf } from './types';

/** Reshaped view sharing the data (tensors are never modified in place). */
function view(t: Tensor, dims: number[]): Tensor {
  return { dtype: t.dtype, dims, data: t.data };
}

type RowCopy = (s: TensorData, d: TensorData, o: number, offset: number, inner: number, step: number) => void;
// V8 keeps element-access feedback per function literal: a loop fed float32 tensors and byte codes alike turns
// megamorphic (about 2× slower), so 1-byte arrays (the integer engine's codes, read as Uint8Array) get a literal of their own
const copyRowOfBytes: RowCopy = (s, d, o, offset, inner, step) => { for (let i = 0; i < inner; i++) d[o + i] = s[offset + i * step]; };
const copyRowOfOthers: RowCopy = (s, d, o, offset, inner, step) => { for (let i = 0; i < inner; i++) d[o + i] = s[offset + i * step]; };

/** A 1-byte array as Uint8Array (the same bytes), so that byte loops see one array type. */
function asBytes(a: TensorData): TensorData {
  return a.BYTES_PER_ELEMENT === 1 && !(a instanceof Uint8Array) ? new Uint8Array(a.buffer, a.byteOffset, a.length) : a;
}

/** dst[o] = src[base + Σ idx_d·strides_d] for every output index, innermost axis in a tight loop. */
export function affineCopy(src: TensorData, dst: TensorData, outDims: readonly number[], base: number, strides: readonly number[]): void {
  const rank = outDims.length;
  const total = elementCount(outDims);
  if (total === 0) return;
  if (rank === 0) {
    (dst as Float32Array)[0] = (src as Float32Array)[base];
    return;
  }
  const bytes = src.BYTES_PER_ELEMENT === 1 && dst.BYTES_PER_ELEMENT === 1;
  const copyRow = bytes ? copyRowOfBytes : copyRowOfOthers; // element type is irrelevant to copying (bigint arrays copy the same way)
  const s = bytes ? asBytes(src) : src;
  const d = bytes ? asBytes(dst) : dst;
  const inner = outDims[rank - 1];
  const step = strides[rank - 1];
  const idx = new Array<number>(rank).fill(0);
  let offset = base;
  for (let o = 0; o < total; o += inner) {
    copyRow(s, d, o, offset, inner, step);
    for (let ax = rank - 2; ax >= 0; ax--) {
      offset += strides[ax];
      if (++idx[ax] < outDims[ax]) break;
      offset -= strides[ax] * outDims[ax];
      idx[ax] = 0;
    }
  }
}

export function reshapeDims(node: Node, inDims: readonly number[], shape: readonly number[], allowZero: boolean): number[] {
  const total = elementCount(inDims);
  const out = shape.map((d, i) => (d === 0 && !allowZero ? inDims[i] : d));
  if (out.some((d) => d === undefined || d < -1)) fail(node, `invalid target shape [${shape.join(',')}] for input [${inDims.join(',')}]`);
  const unknown = out.filter((d) => d === -1).length;
  if (unknown > 1) fail(node, `target shape [${shape.join(',')}] has more than one -1`);
  const known = elementCount(out.filter((d) => d !== -1));
  if (unknown === 1) {
    if (known === 0 || total % known !== 0) fail(node, `cannot reshape [${inDims.join(',')}] into [${shape.join(',')}]`);
    out[out.indexOf(-1)] = total / known;
  } else if (known !== total) fail(node, `cannot reshape [${inDims.join(',')}] (${total} elements) into [${shape.join(',')}]`);
  return out;
}

export function flattenDims(node: Node, dims: readonly number[]): number[] {
  const rank = dims.length;
  let axis = attrInt(node, 'axis', 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis > rank) fail(node, `axis ${attrInt(node, 'axis', 1)} is out of range for rank ${rank}`);
  return [elementCount(dims.slice(0, axis)), elementCount(dims.slice(axis))];
}

export function squeezeAxes(node: Node, inputs: (Tensor | undefined)[], opset: number): number[] | undefined {
  return opset < 13 ? attrInts(node, 'axes') : optionalInts(inputs, 1);
}

export function squeezeDims(node: Node, dims: readonly number[], axes: number[] | undefined): number[] {
  if (!axes) return dims.filter((d) => d !== 1);
  const drop = new Set(axes.map((a) => normalizeAxis(node, a, dims.length)));
  for (const a of drop) if (dims[a] !== 1) fail(node, `cannot squeeze axis ${a} of size ${dims[a]}`);
  return dims.filter((_, i) => !drop.has(i));
}

export function unsqueezeDims(node: Node, dims: readonly number[], axes: number[] | undefined): number[] {
  if (!axes) fail(node, 'axes are missing');
  const rank = dims.length + axes.length;
  const set = new Set(axes.map((a) => normalizeAxis(node, a, rank)));
  if (set.size !== axes.length) fail(node, `axes [${axes.join(',')}] repeat`);
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(set.has(i) ? 1 : dims[j++]);
  return out;
}

export function transposePerm(node: Node, rank: number): number[] {
  const perm = attrInts(node, 'perm') ?? [...Array(rank).keys()].reverse();
  if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) fail(node, `perm [${perm.join(',')}] is not a permutation of ${rank} axes`);
  return perm;
}

export interface SliceSpec { starts: number[]; steps: number[]; outDims: number[] }

/** Resolves Slice's starts/ends/axes/steps (negative values, clamping) against the input shape. */
export function sliceSpec(node: Node, inputs: (Tensor | undefined)[], dims: readonly number[], opset: number): SliceSpec {
  const rank = dims.length;
  let starts: number[] | undefined, ends: number[] | undefined, axes: number[] | undefined, steps: number[] | undefined;
  if (opset < 10) {
    starts = attrInts(node, 'starts');
    ends = attrInts(node, 'ends');
    axes = attrInts(node, 'axes');
  } else {
    starts = optionalInts(inputs, 1);
    ends = optionalInts(inputs, 2);
    axes = optionalInts(inputs, 3);
    steps = optionalInts(inputs, 4);
  }
  if (!starts || !ends || starts.length !== ends.length) fail(node, 'starts and ends are missing or differ in length');
  axes = axes ?? starts.map((_, i) => i);
  steps = steps ?? starts.map(() => 1);
  if (axes.length !== starts.length || steps.length !== starts.length) fail(node, 'axes/steps do not match starts');
  const outStarts = new Array<number>(rank).fill(0);
  const outSteps = new Array<number>(rank).fill(1);
  const outDims = [...dims];
  const seen = new Set<number>();
  for (let i = 0; i < axes.length; i++) {
    const ax = normalizeAxis(node, axes[i], rank);
    if (seen.has(ax)) fail(node, `axis ${axes[i]} appears twice`);
    seen.add(ax);
    const d = dims[ax];
    const step = steps[i];
    if (step === 0) fail(node, 'step 0 is not allowed');
    let start = starts[i] < 0 ? starts[i] + d : starts[i];
    let end = ends[i] < 0 ? ends[i] + d : ends[i];
    if (step > 0) {
      start = Math.min(Math.max(start, 0), d);
      end = Math.min(Math.max(end, 0), d);
    } else {
      start = Math.min(Math.max(start, 0), d - 1);
      end = Math.min(Math.max(end, -1), d - 1);
    }
    outStarts[ax] = start;
    outSteps[ax] = step;
    outDims[ax] = Math.max(0, Math.ceil((end - start) / step));
  }
  return { starts: outStarts, steps: outSteps, outDims };
}

export interface PadSpec { pads: number[]; mode: string; value: number }

export function padSpec(node: Node, inputs: (Tensor | undefined)[], rank: number, opset: number): PadSpec {
  const mode = attrString(node, 'mode', 'constant');
  if (!['constant', 'reflect', 'edge', 'wrap'].includes(mode)) fail(node, `unknown pad mode '${mode}'`);
  if (opset < 11) {
    const pads = attrInts(node, 'pads') ?? attrInts(node, 'paddings');
    if (!pads || pads.length !== 2 * rank) fail(node, `pads must have ${2 * rank} values`);
    return { pads, mode, value: attrFloat(node, 'value', 0) };
  }
  const raw = optionalInts(inputs, 1);
  if (!raw) fail(node, 'pads input is missing');
  const value = inputs[2] && inputs[2].data.length > 0 ? Number(inputs[2].data[0]) : 0;
  const axesIn = optionalInts(inputs, 3);
  const axes = axesIn ? axesIn.map((a) => normalizeAxis(node, a, rank)) : [...Array(rank).keys()];
  if (raw.length !== 2 * axes.length) fail(node, `pads has ${raw.length} values, expected ${2 * axes.length}`);
  const pads = new Array<number>(2 * rank).fill(0);
  axes.forEach((ax, i) => {
    pads[ax] = raw[i];
    pads[ax + rank] = raw[i + axes.length];
  });
  return { pads, mode, value };
}

export function padDims(node: Node, dims: readonly number[], pads: readonly number[]): number[] {
  const rank = dims.length;
  const out = dims.map((d, i) => d + pads[i] + pads[i + rank]);
  if (out.some((d) => d < 0)) fail(node, `pads [${pads.join(',')}] crop more than the input [${dims.join(',')}] has`);
  return out;
}

/** Source coordinate of output coordinate `o` on one axis, or -1 where constant padding applies. */
function padSource(o: number, before: number, size: number, mode: string): number {
  let i = o - before;
  if (i >= 0 && i < size) return i;
  if (mode === 'constant' || size === 0) return -1;
  if (mode === 'edge') return i < 0 ? 0 : size - 1;
  if (mode === 'wrap') return ((i % size) + size) % size;
  if (size === 1) return 0; // reflect
  const period = 2 * (size - 1);
  i = ((i % period) + period) % period;
  return i < size ? i : period - i;
}

type PadRow = (xd: TensorData, od: TensorData, o: number, base: number, innerMap: Int32Array, fill: number) => void;
// od[o + i] = xd[base + innerMap[i]], or the pad value where innerMap[i] < 0; bytes apart (see copyRowOfBytes)
const padRowOfBytes: PadRow = (xd, od, o, base, innerMap, fill) => { for (let i = 0; i < innerMap.length; i++) od[o + i] = innerMap[i] < 0 ? fill : xd[base + innerMap[i]]; };
const padRowOfOthers: PadRow = (xd, od, o, base, innerMap, fill) => { for (let i = 0; i < innerMap.length; i++) od[o + i] = innerMap[i] < 0 ? fill : xd[base + innerMap[i]]; };

function padTensor(node: Node, x: Tensor, spec: PadSpec): Tensor {
  const rank = x.dims.length;
  const outDims = padDims(node, x.dims, spec.pads);
  const out = allocate(x.dtype, outDims);
  if (spec.mode !== 'constant' && x.dims.some((d, i) => d === 0 && outDims[i] > 0)) fail(node, `${spec.mode} padding of an empty axis`);
  const total = elementCount(outDims);
  if (total === 0) return out;
  const bytes = x.data.BYTES_PER_ELEMENT === 1;
  const od = (bytes ? asBytes(out.data) : out.data) as Float32Array;
  const xd = (bytes ? asBytes(x.data) : x.data) as Float32Array;
  const padRow = bytes ? padRowOfBytes : padRowOfOthers;
  const fill = x.dtype === 'int64' ? (BigInt(Math.trunc(spec.value)) as unknown as number) : spec.value;
  if (rank === 0) {
    od[0] = xd[0];
    return out;
  }
  const inStrides = stridesOf(x.dims);
  // per axis: output coordinate → input coordinate (-1: padding)
  const maps = outDims.map((d, ax) => Int32Array.from({ length: d }, (_, o) => padSource(o, spec.pads[ax], x.dims[ax], spec.mode)));
  const inner = outDims[rank - 1];
  const innerMap = maps[rank - 1];
  const idx = new Array<number>(rank - 1).fill(0);
  for (let o = 0; o < total; o += inner) {
    let base = 0;
    let outside = false;
    for (let ax = 0; ax < rank - 1; ax++) {
      const s = maps[ax][idx[ax]];
      if (s < 0) { outside = true; break; }
      base += s * inStrides[ax];
    }
    if (outside) od.fill(fill, o, o + inner);
    else padRow(xd, od, o, base, innerMap, fill);
    for (let ax = rank - 2; ax >= 0; ax--) {
      if (++idx[ax] < outDims[ax]) break;
      idx[ax] = 0;
    }
  }
  return out;
}

export function gatherDims(node: Node, dims: readonly number[], indexDims: readonly number[]): number[] {
  const axis = normalizeAxis(node, attrInt(node, 'axis', 0), dims.length);
  return [...dims.slice(0, axis), ...indexDims, ...dims.slice(axis + 1)];
}

const Gather: FloatKernel = (node, inputs) => {
  const x = required(node, inputs, 0);
  const ind = required(node, inputs, 1);
  if (ind.dtype !== 'int64' && ind.dtype !== 'int32') fail(node, `indices must be int32 or int64, got ${ind.dtype}`);
  const axis = normalizeAxis(node, attrInt(node, 'axis', 0), x.dims.length);
  const outDims = gatherDims(node, x.dims, ind.dims);
  const out = allocate(x.dtype, outDims);
  const outer = elementCount(x.dims.slice(0, axis));
  const inner = elementCount(x.dims.slice(axis + 1));
  const size = x.dims[axis];
  const indices = toNumbers(ind).map((v) => {
    if (v < -size || v >= size) fail(node, `index ${v} is out of range for axis ${axis} of size ${size}`);
    return v < 0 ? v + size : v;
  });
  const xd = x.data as Float32Array;
  const od = out.data as Float32Array;
  let o = 0;
  for (let a = 0; a < outer; a++) {
    for (const k of indices) {
      const s = (a * size + k) * inner;
      for (let i = 0; i < inner; i++) od[o++] = xd[s + i];
    }
  }
  return [out];
};

const Concat: FloatKernel = (node, inputs) => {
  const parts = inputs.filter((t): t is Tensor => !!t);
  if (parts.length === 0) fail(node, 'no inputs');
  const first = parts[0];
  const rank = first.dims.length;
  const axis = normalizeAxis(node, attrInt(node, 'axis', 0), rank);
  for (const p of parts) {
    if (p.dtype !== first.dtype) fail(node, `inputs mix ${first.dtype} and ${p.dtype}`);
    if (p.dims.length !== rank || p.dims.some((d, i) => i !== axis && d !== first.dims[i])) {
      fail(node, `input shapes [${first.dims.join(',')}] and [${p.dims.join(',')}] differ outside axis ${axis}`);
    }
  }
  const outDims = [...first.dims];
  outDims[axis] = parts.reduce((s, p) => s + p.dims[axis], 0);
  const out = allocate(first.dtype, outDims);
  const outer = elementCount(first.dims.slice(0, axis));
  const od = out.data as Float32Array;
  const rowOut = elementCount(outDims.slice(axis));
  let offset = 0;
  for (const p of parts) {
    const row = elementCount(p.dims.slice(axis));
    const pd = p.data as Float32Array;
    for (let a = 0; a < outer; a++) od.set(pd.subarray(a * row, (a + 1) * row), a * rowOut + offset);
    offset += row;
  }
  return [out];
};

/** The tensor a Constant node holds (value, value_float(s), value_int(s)). */
export function constantValue(node: Node): Tensor {
  const a = node.attributes;
  const v = a.value;
  if (v && typeof v === 'object' && !Array.isArray(v) && 'data' in v) return v as Tensor;
  if (typeof a.value_float === 'number') return floatTensor([], Float32Array.of(a.value_float));
  if (Array.isArray(a.value_floats)) return floatTensor([a.value_floats.length], Float32Array.from(a.value_floats as number[]));
  if (typeof a.value_int === 'number') return int64Tensor([a.value_int], []);
  if (Array.isArray(a.value_ints)) return int64Tensor(a.value_ints as number[]);
  return fail(node, 'Constant has no supported value attribute (sparse and string values are not supported)');
}

export const SHAPE_KERNELS: Record<string, FloatKernel> = {
  Identity: (node, inputs) => [required(node, inputs, 0)],
  Dropout: (node, inputs, opset) => {
    const x = required(node, inputs, 0);
    const training = opset >= 12 && inputs[2] ? Number(inputs[2].data[0]) !== 0 : false;
    const ratio = opset >= 12 && inputs[1] ? Number(inputs[1].data[0]) : attrFloat(node, 'ratio', 0.5);
    if (training && ratio !== 0) fail(node, 'Dropout in training mode is not supported (inference only)');
    const outs: Tensor[] = [x];
    if (node.outputs.length > 1 && node.outputs[1] !== '') {
      const mask = allocate('bool', [...x.dims]);
      (mask.data as Uint8Array).fill(1);
      outs.push(mask);
    }
    return outs;
  },
  Constant: (node) => [constantValue(node)],
  Shape: (node, inputs) => {
    const x = required(node, inputs, 0);
    const rank = x.dims.length;
    const clampAxis = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
    const start = clampAxis(attrInt(node, 'start', 0));
    const end = clampAxis(attrInt(node, 'end', rank));
    return [int64Tensor(x.dims.slice(start, Math.max(start, end)))];
  },
  ConstantOfShape: (node, inputs) => {
    const dims = toNumbers(required(node, inputs, 0));
    if (dims.some((d) => !Number.isInteger(d) || d < 0)) fail(node, `invalid shape [${dims.join(',')}]`);
    const count = elementCount(dims);
    if (count > DEFAULT_LIMITS.maxTensorElements) {
      fail(node, `shape [${dims.join(',')}] = ${count} elements is over the limit of ${DEFAULT_LIMITS.maxTensorElements} (setting quantInspector.maxTensorElements)`);
    }
    const v = node.attributes.value as Tensor | undefined;
    const dtype = v ? v.dtype : 'float32';
    const value = v ? toNumbers(v)[0] ?? 0 : 0;
    const out = allocate(dtype, dims);
    if (out.data instanceof BigInt64Array) out.data.fill(BigInt(Math.trunc(value)));
    else (out.data as Float32Array).fill(value);
    return [out];
  },
  Reshape: (node, inputs) => {
    const x = required(node, inputs, 0);
    const shape = toNumbers(required(node, inputs, 1));
    return [view(x, reshapeDims(node, x.dims, shape, attrInt(node, 'allowzero', 0) === 1))];
  },
  Flatten: (node, inputs) => {
    const x = required(node, inputs, 0);
    return [view(x, flattenDims(node, x.dims))];
  },
  Squeeze: (node, inputs, opset) => {
    const x = required(node, inputs, 0);
    return [view(x, squeezeDims(node, x.dims, squeezeAxes(node, inputs, opset)))];
  },
  Unsqueeze: (node, inputs, opset) => {
    const x = required(node, inputs, 0);
    return [view(x, unsqueezeDims(node, x.dims, squeezeAxes(node, inputs, opset)))];
  },
  Transpose: (node, inputs) => {
    const x = required(node, inputs, 0);
    const perm = transposePerm(node, x.dims.length);
    const inStrides = stridesOf(x.dims);
    const outDims = perm.map((p) => x.dims[p]);
    const out = allocate(x.dtype, outDims);
    affineCopy(x.data, out.data, outDims, 0, perm.map((p) => inStrides[p]));
    return [out];
  },
  Slice: (node, inputs, opset) => {
    const x = required(node, inputs, 0);
    const spec = sliceSpec(node, inputs, x.dims, opset);
    const inStrides = stridesOf(x.dims);
    const out = allocate(x.dtype, spec.outDims);
    const base = spec.starts.reduce((s, st, i) => s + st * inStrides[i], 0);
    affineCopy(x.data, out.data, spec.outDims, base, inStrides.map((s, i) => s * spec.steps[i]));
    return [out];
  },
  Pad: (node, inputs, opset) => {
    const x = required(node, inputs, 0);
    return [padTensor(node, x, padSpec(node, inputs, x.dims.length, opset))];
  },
  Gather,
  Concat,
};
