/**
 * The one matrix-multiply entry point of the float kernels (Conv via im2col, Gemm, MatMul).
 * A WebAssembly SIMD version may replace it through setSgemm(); this TypeScript one is the reference.
 *
 * Layout, all row-major and dense:
 *   A: M×K at A[aOffset + i*K + k]
 *   B: K×N at B[bOffset + k*N + j]
 *   C: M×N at C[cOffset + i*N + j]
 * C = A·B, or C += A·B when `accumulate` (e.g. C pre-filled with the bias).
 */
import { trySgemmWasmAt } from '../wasm';

export type Sgemm = (
  M: number, N: number, K: number,
  A: Float32Array, aOffset: number,
  B: Float32Array, bOffset: number,
  C: Float32Array, cOffset: number,
  accumulate: boolean,
) => void;

const K_BLOCK = 256;
const N_BLOCK = 1024;

/** Reference TypeScript GEMM: cache-blocked over K and N, four rows of C per pass over B. */
export const sgemmTs: Sgemm = (M, N, K, A, aOffset, B, bOffset, C, cOffset, accumulate) => {
  if (!accumulate) C.fill(0, cOffset, cOffset + M * N);
  for (let j0 = 0; j0 < N; j0 += N_BLOCK) {
    const j1 = Math.min(N, j0 + N_BLOCK);
    for (let k0 = 0; k0 < K; k0 += K_BLOCK) {
      const k1 = Math.min(K, k0 + K_BLOCK);
      let i = 0;
      for (; i + 4 <= M; i += 4) {
        const c0 = cOffset + i * N, c1 = c0 + N, c2 = c1 + N, c3 = c2 + N;
        const a0 = aOffset + i * K, a1 = a0 + K, a2 = a1 + K, a3 = a2 + K;
        for (let k = k0; k < k1; k++) {
          const x0 = A[a0 + k], x1 = A[a1 + k], x2 = A[a2 + k], x3 = A[a3 + k];
          const b = bOffset + k * N;
          for (let j = j0; j < j1; j++) {
            const bv = B[b + j];
            C[c0 + j] += x0 * bv;
            C[c1 + j] += x1 * bv;
            C[c2 + j] += x2 * bv;
            C[c3 + j] += x3 * bv;
          }
        }
      }
      for (; i < M; i++) {
        const c0 = cOffset + i * N;
        const a0 = aOffset + i * K;
        for (let k = k0; k < k1; k++) {
          const x0 = A[a0 + k];
          if (x0 === 0) continue;
          const b = bOffset + k * N;
          for (let j = j0; j < j1; j++) C[c0 + j] += x0 * B[b + j];
        }
      }
    }
  }
};

let current: Sgemm = sgemmTs;

/** C (+)= A·B with the layout documented above, using the active implementation. */
export function sgemm(
  M: number, N: number, K: number,
  A: Float32Array, aOffset: number,
  B: Float32Array, bOffset: number,
  C: Float32Array, cOffset: number,
  accumulate = false,
): void {
  if (current === sgemmTs && trySgemmWasmAt(M, N, K, A, aOffset, B, bOffset, C, cOffset, accumulate)) return; // wasm SIMD unless QINSPECT_KERNELS=ts
  current(M, N, K, A, aOffset, B, bOffset, C, cOffset, accumulate);
}

/** Installs a faster implementation (e.g. WebAssembly SIMD); pass undefined to restore the TypeScript one. */
export function setSgemm(impl: Sgemm | undefined): void {
  current = impl ?? sgemmTs;
}

/** Transposes a rows×cols row-major matrix into `out` (cols×rows). */
export function transposeMatrix(src: Float32Array, srcOffset: number, rows: number, cols: number, out: Float32Array): Float32Array {
  for (let r = 0; r < rows; r++) {
    const s = srcOffset + r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = src[s + c];
  }
  return out;
}
