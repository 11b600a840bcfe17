/** The contract every float kernel follows: one ONNX node, its input tensors, the model's opset. */
import type { Node } from '../../graph/ir';
import { describeNode } from '../../graph/ir';
import type { Tensor } from '../../graph/tensor';
import { toNumbers } from '../../graph/tensor';
import { InputError } from '../../util/errors';

/** inputs[i] is undefined where the node omits an optional input (''). */
export type FloatKernel = (node: Node, inputs: (Tensor | undefined)[], opset: number) => Tensor[];

export function fail(node: Node, why: string): never {
  throw new InputError(`${describeNode(node)}: ${why}`);
}

export function required(node: Node, inputs: (Tensor | undefined)[], i: number): Tensor {
  const t = inputs[i];
  if (!t) fail(node, `input ${i} is missing`);
  return t;
}

export function requireFloat(node: Node, t: Tensor, what = 'input'): Float32Array {
  if (t.dtype !== 'float32') fail(node, `${what} must be float32, got ${t.dtype}`);
  return t.data as Float32Array;
}

/** Normalizes a possibly negative axis into [0, rank). */
export function normalizeAxis(node: Node, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) fail(node, `axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Reads an optional int tensor input (shapes, axes, pads) as numbers. */
export function optionalInts(inputs: (Tensor | undefined)[], i: number): number[] | undefined {
  const t = inputs[i];
  return t ? toNumbers(t) : undefined;
}

/** Row-major strides of a shape. */
export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i];
  }
  return s;
}

/** numpy-style broadcast of two shapes; throws InputError naming the node when incompatible. */
export function broadcastDims(node: Node, a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) fail(node, `shapes [${a.join(',')}] and [${b.join(',')}] cannot be broadcast`);
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides of `dims` as seen from a broadcast output of rank `rank` (0 on broadcast axes). */
export function broadcastStrides(dims: readonly number[], outDims: readonly number[]): number[] {
  const rank = outDims.length;
  const own = stridesOf(dims);
  const s = new Array<number>(rank).fill(0);
  for (let i = 0; i < dims.length; i++) {
    const oi = rank - dims.length + i;
    s[oi] = dims[i] === 1 && outDims[oi] !== 1 ? 0 : own[i];
  }
  return s;
}

/** Data arrays of prepared constants (weights, folded values): never written, safe to cache derived forms of. */
const constantData = new WeakSet<object>();

export function markConstant(t: Tensor): void {
  constantData.add(t.data);
}

export function isConstantData(data: object): boolean {
  return constantData.has(data);
}
