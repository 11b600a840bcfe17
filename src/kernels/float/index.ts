/** Registry of float32 reference kernels by ONNX op type (default domain). */
import { CONV_KERNELS } from './conv';
import { ELEMENTWISE_KERNELS } from './elementwise';
import { MATH_KERNELS } from './math';
import { LOGIC_KERNELS } from './logic';
import { SPATIAL_KERNELS } from './spatial';
import { MATMUL_KERNELS } from './matmul';
import { NORM_KERNELS } from './norm';
import { POOL_KERNELS } from './pool';
import { SHAPE_KERNELS } from './shape-ops';
import type { FloatKernel } from './types';
import type { Node } from '../../graph/ir';
import { describeNode } from '../../graph/ir';
import type { Tensor } from '../../graph/tensor';
import { shapeString } from '../../graph/tensor';
import { CancelledError, errorMessage, InputError } from '../../util/errors';

export type { FloatKernel } from './types';
export { sgemm, setSgemm, sgemmTs } from './gemm';
export type { Sgemm } from './gemm';

export const FLOAT_KERNELS: Readonly<Record<string, FloatKernel>> = {
  ...CONV_KERNELS,
  ...ELEMENTWISE_KERNELS,
  ...MATH_KERNELS,
  ...LOGIC_KERNELS,
  ...SPATIAL_KERNELS,
  ...MATMUL_KERNELS,
  ...NORM_KERNELS,
  ...POOL_KERNELS,
  ...SHAPE_KERNELS,
};

export const SUPPORTED_FLOAT_OPS: ReadonlySet<string> = new Set(Object.keys(FLOAT_KERNELS));

/**
 * Runs the float kernel of `node`. Any failure becomes an InputError naming the node (a malformed model is the
 * only way a kernel can fail); cancellation passes through.
 */
export function runFloatKernel(node: Node, inputs: (Tensor | undefined)[], opset: number): Tensor[] {
  const kernel = FLOAT_KERNELS[node.opType];
  if (!kernel || (node.domain !== '' && node.domain !== 'ai.onnx')) throw new InputError(`${describeNode(node)}: unsupported operator ${node.opType}`);
  return guardKernel(node, inputs, () => kernel(node, inputs, opset));
}

/** Runs `fn` (a kernel call for `node`), turning any failure but cancellation into an InputError naming the node. */
export function guardKernel<T>(node: Node, inputs: (Tensor | undefined)[], fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof InputError || e instanceof CancelledError) throw e;
    const why = e instanceof RangeError && /alloc/i.test(e.message) ? 'out of memory' : errorMessage(e);
    const shapes = inputs.length ? ` (inputs ${inputs.map((t) => (t ? shapeString(t.dims) : '-')).join(', ')})` : '';
    throw new InputError(`${describeNode(node)}: ${why}${shapes}`);
  }
}
