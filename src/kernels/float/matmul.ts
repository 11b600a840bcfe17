/** Gemm and MatMul over sgemm. */
import { attrFloat, attrInt } from '../../graph/ir';
import { floatTensor, elementCount } from '../../graph/tensor';
import { sgemm, transposeMatrix } from './gemm';
import { FloatKernel, broadcastDims, broadcastStrides, fail, isConstantData, required, requireFloat } from './types';

/** Transposed copies of constant operands (weights), keyed by their data array. */
const transposedCache = new WeakMap<Float32Array, Float32Array>();

function transposed(src: Float32Array, rows: number, cols: number, cacheable: boolean): Float32Array {
  const hit = cacheable ? transposedCache.get(src) : undefined;
  if (hit && hit.length === src.length) return hit;
  const t = transposeMatrix(src, 0, rows, cols, new Float32Array(rows * cols));
  if (cacheable) transposedCache.set(src, t);
  return t;
}

/** Y = alpha·A'·B' + beta·C, A' = transA ? Aᵀ : A, B' = transB ? Bᵀ : B, C broadcast to [M, N]. */
export const Gemm: FloatKernel = (node, inputs) => {
  const a = required(node, inputs, 0);
  const b = required(node, inputs, 1);
  const c = inputs[2];
  if (a.dims.length !== 2 || b.dims.length !== 2) fail(node, `A and B must be 2-D, got [${a.dims.join(',')}] and [${b.dims.join(',')}]`);
  const transA = attrInt(node, 'transA', 0) === 1;
  const transB = attrInt(node, 'transB', 0) === 1;
  const alpha = attrFloat(node, 'alpha', 1);
  const beta = attrFloat(node, 'beta', 1);
  const [m, ka] = transA ? [a.dims[1], a.dims[0]] : a.dims;
  const [kb, n] = transB ? [b.dims[1], b.dims[0]] : b.dims;
  if (ka !== kb) fail(node, `inner dimensions differ: A gives K=${ka}, B gives K=${kb}`);
  const ad = requireFloat(node, a, 'A');
  const bd = requireFloat(node, b, 'B');
  const aMat = transA ? transposed(ad, a.dims[0], a.dims[1], false) : ad;
  // B is usually the constant weight matrix: its transpose is cached (only for prepared constants)
  const bMat = transB ? transposed(bd, b.dims[0], b.dims[1], isConstantData(bd)) : bd;
  const y = floatTensor([m, n]);
  const yd = y.data as Float32Array;
  if (c && beta !== 0) {
    const cd = requireFloat(node, c, 'C');
    const outDims = broadcastDims(node, c.dims, [m, n]);
    if (outDims[0] !== m || outDims[1] !== n || c.dims.length > 2) fail(node, `C [${c.dims.join(',')}] cannot broadcast to [${m},${n}]`);
    const s = broadcastStrides(c.dims, [m, n]);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) yd[i * n + j] = cd[i * s[0] + j * s[1]];
  }
  const withC = !!c && beta !== 0;
  if (alpha === 1 && (beta === 1 || !withC)) {
    sgemm(m, n, ka, aMat, 0, bMat, 0, yd, 0, withC);
  } else {
    const prod = new Float32Array(m * n);
    sgemm(m, n, ka, aMat, 0, bMat, 0, prod, 0, false);
    for (let i = 0; i < yd.length; i++) yd[i] = alpha * prod[i] + (withC ? beta * yd[i] : 0);
  }
  return [y];
};

/** numpy matmul: 1-D operands promoted, leading (batch) dims broadcast. */
export const MatMul: FloatKernel = (node, inputs) => {
  const a = required(node, inputs, 0);
  const b = required(node, inputs, 1);
  const ad = requireFloat(node, a, 'A');
  const bd = requireFloat(node, b, 'B');
  if (a.dims.length === 0 || b.dims.length === 0) fail(node, 'MatMul operands must have rank ≥ 1');
  const aDims = a.dims.length === 1 ? [1, a.dims[0]] : a.dims;
  const bDims = b.dims.length === 1 ? [b.dims[0], 1] : b.dims;
  const m = aDims[aDims.length - 2];
  const k = aDims[aDims.length - 1];
  const n = bDims[bDims.length - 1];
  if (bDims[bDims.length - 2] !== k) fail(node, `inner dimensions differ: [${a.dims.join(',')}] × [${b.dims.join(',')}]`);
  const aBatch = aDims.slice(0, -2);
  const bBatch = bDims.slice(0, -2);
  const batch = broadcastDims(node, aBatch, bBatch);
  const sa = broadcastStrides(aBatch, batch);
  const sb = broadcastStrides(bBatch, batch);
  const count = elementCount(batch);
  const outDims = [...batch, m, n];
  const y = floatTensor(outDims);
  const yd = y.data as Float32Array;
  const idx = new Array<number>(batch.length).fill(0);
  for (let t = 0; t < count; t++) {
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < batch.length; d++) {
      ia += idx[d] * sa[d];
      ib += idx[d] * sb[d];
    }
    sgemm(m, n, k, ad, ia * m * k, bd, ib * k * n, yd, t * m * n, false);
    for (let d = batch.length - 1; d >= 0; d--) {
      if (++idx[d] < batch[d]) break;
      idx[d] = 0;
    }
  }
  const finalDims = [...batch];
  if (a.dims.length > 1) finalDims.push(m);
  if (b.dims.length > 1) finalDims.push(n);
  y.dims = finalDims;
  return [y];
};

export const MATMUL_KERNELS: Record<string, FloatKernel> = { Gemm, MatMul };
