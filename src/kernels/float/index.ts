/** Registry of float32 reference kernels by ONNX op type (default domain). */
import { CONV_KERNELS } from './conv';
import { ELEMENTWISE_KERNELS } from './elementwise';
import { MATH_KERNELS } from './math';
import { MATMUL_KERNELS } from './matmul';
import { NORM_KERNELS } from './norm';
import { POOL_KERNELS } from './pool';
import { SHAPE_KERNELS } from './shape-ops';
import type { FloatKernel } from './types';

export type { FloatKernel } from './types';
export { sgemm, setSgemm, sgemmTs } from './gemm';
export type { Sgemm } from './gemm';

export const FLOAT_KERNELS: Readonly<Record<string, FloatKernel>> = {
  ...CONV_KERNELS,
  ...ELEMENTWISE_KERNELS,
  ...MATH_KERNELS,
  ...MATMUL_KERNELS,
  ...NORM_KERNELS,
  ...POOL_KERNELS,
  ...SHAPE_KERNELS,
};

export const SUPPORTED_FLOAT_OPS: ReadonlySet<string> = new Set(Object.keys(FLOAT_KERNELS));
