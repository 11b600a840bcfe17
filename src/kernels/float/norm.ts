/** BatchNormalization (inference) and Softmax. */
import { attrFloat, attrInt } from '../../graph/ir';
import { elementCount, floatTensor } from '../../graph/tensor';
import { FloatKernel, fail, normalizeAxis, required, requireFloat } from './types';

/** Per-channel scale and shift of inference BatchNorm: y = x·a + b, a = γ/√(σ²+ε), b = β − μ·a. */
export function batchNormCoefficients(gamma: Float32Array, beta: Float32Array, mean: Float32Array, variance: Float32Array, epsilon: number): { a: Float64Array; b: Float64Array } {
  const c = gamma.length;
  const a = new Float64Array(c);
  const b = new Float64Array(c);
  for (let i = 0; i < c; i++) {
    a[i] = gamma[i] / Math.sqrt(variance[i] + epsilon);
    b[i] = beta[i] - mean[i] * a[i];
  }
  return { a, b };
}

export const BatchNormalization: FloatKernel = (node, inputs) => {
  if (attrInt(node, 'training_mode', 0) === 1) fail(node, 'training_mode=1 is not supported (inference only)');
  const x = required(node, inputs, 0);
  const xd = requireFloat(node, x);
  const params = [1, 2, 3, 4].map((i) => requireFloat(node, required(node, inputs, i), `input ${i}`));
  const c = x.dims.length > 1 ? x.dims[1] : 1;
  if (params.some((p) => p.length !== c)) fail(node, `scale/bias/mean/var must have ${c} elements`);
  const { a, b } = batchNormCoefficients(params[0], params[1], params[2], params[3], attrFloat(node, 'epsilon', 1e-5));
  const n = x.dims[0] ?? 1;
  const plane = elementCount(x.dims.slice(2));
  const y = floatTensor([...x.dims]);
  const yd = y.data as Float32Array;
  for (let img = 0; img < n; img++) {
    for (let ch = 0; ch < c; ch++) {
      const o = (img * c + ch) * plane;
      const s = a[ch];
      const t = b[ch];
      for (let i = 0; i < plane; i++) yd[o + i] = xd[o + i] * s + t;
    }
  }
  return [y];
};

/** Softmax over rows of length `inner`, `outer` rows, stride `stride` between the row's elements. */
function softmaxRows(x: Float32Array, y: Float32Array, outer: number, axisLen: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * axisLen * inner + i;
      let max = -Infinity;
      for (let k = 0; k < axisLen; k++) max = Math.max(max, x[base + k * inner]);
      let sum = 0;
      for (let k = 0; k < axisLen; k++) {
        const e = Math.exp(x[base + k * inner] - max);
        y[base + k * inner] = e;
        sum += e;
      }
      for (let k = 0; k < axisLen; k++) y[base + k * inner] /= sum;
    }
  }
}

/** opset < 13: the input is coerced to 2-D at `axis` (default 1); opset 13: softmax along `axis` (default -1). */
export const Softmax: FloatKernel = (node, inputs, opset) => {
  const x = required(node, inputs, 0);
  const xd = requireFloat(node, x);
  const rank = x.dims.length;
  const y = floatTensor([...x.dims]);
  if (rank === 0) {
    (y.data as Float32Array)[0] = 1;
    return [y];
  }
  const axis = normalizeAxis(node, attrInt(node, 'axis', opset < 13 ? 1 : -1), rank);
  const outer = elementCount(x.dims.slice(0, axis));
  if (opset < 13) {
    softmaxRows(xd, y.data as Float32Array, outer, elementCount(x.dims.slice(axis)), 1);
  } else {
    softmaxRows(xd, y.data as Float32Array, outer, x.dims[axis], elementCount(x.dims.slice(axis + 1)));
  }
  return [y];
};

export const NORM_KERNELS: Record<string, FloatKernel> = { BatchNormalization, Softmax };
