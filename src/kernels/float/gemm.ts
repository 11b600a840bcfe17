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

let panelBuffer = new Float32Array(0);

/** Packs B (K×N) into 4-column panels: panels[p][k][0..3] = B[k][4p..4p+3], zero past column N. */
function packColumnPanels(N: number, K: number, B: Float32Array, bOffset: number): Float32Array {
  const panels = Math.ceil(N / 4);
  if (panelBuffer.length < panels * K * 4) panelBuffer = new Float32Array(panels * K * 4);
  const P = panelBuffer;
  for (let p = 0; p < panels; p++) {
    const j0 = p * 4;
    const width = Math.min(4, N - j0);
    const base = p * K * 4;
    for (let k = 0; k < K; k++) {
      const src = bOffset + k * N + j0;
      const d = base + k * 4;
      P[d] = B[src];
      P[d + 1] = width > 1 ? B[src + 1] : 0;
      P[d + 2] = width > 2 ? B[src + 2] : 0;
      P[d + 3] = width > 3 ? B[src + 3] : 0;
    }
  }
  return P;
}

/** Adds a 4-wide accumulator row to C, writing only the `width` columns inside the matrix. */
function addRow(C: Float32Array, at: number, width: number, v0: number, v1: number, v2: number, v3: number): void {
  C[at] += v0;
  if (width > 1) C[at + 1] += v1;
  if (width > 2) C[at + 2] += v2;
  if (width > 3) C[at + 3] += v3;
}

/**
 * Reference TypeScript GEMM: B packed into 4-column panels, then 4×4 blocks of C accumulated in registers
 * over the whole K (8 loads per 16 multiply-adds, no stores in the inner loop).
 */
export const sgemmTs: Sgemm = (M, N, K, A, aOffset, B, bOffset, C, cOffset, accumulate) => {
  if (!accumulate) C.fill(0, cOffset, cOffset + M * N);
  if (M === 0 || N === 0 || K === 0) return;
  const P = packColumnPanels(N, K, B, bOffset);
  const panels = Math.ceil(N / 4);
  let i = 0;
  for (; i + 4 <= M; i += 4) {
    const a0 = aOffset + i * K, a1 = a0 + K, a2 = a1 + K, a3 = a2 + K;
    for (let p = 0; p < panels; p++) {
      const base = p * K * 4;
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let k = 0; k < K; k++) {
        const d = base + 4 * k;
        const b0 = P[d], b1 = P[d + 1], b2 = P[d + 2], b3 = P[d + 3];
        const x0 = A[a0 + k], x1 = A[a1 + k], x2 = A[a2 + k], x3 = A[a3 + k];
        c00 += x0 * b0; c01 += x0 * b1; c02 += x0 * b2; c03 += x0 * b3;
        c10 += x1 * b0; c11 += x1 * b1; c12 += x1 * b2; c13 += x1 * b3;
        c20 += x2 * b0; c21 += x2 * b1; c22 += x2 * b2; c23 += x2 * b3;
        c30 += x3 * b0; c31 += x3 * b1; c32 += x3 * b2; c33 += x3 * b3;
      }
      const j0 = p * 4;
      const width = Math.min(4, N - j0);
      const r0 = cOffset + i * N + j0;
      addRow(C, r0, width, c00, c01, c02, c03);
      addRow(C, r0 + N, width, c10, c11, c12, c13);
      addRow(C, r0 + 2 * N, width, c20, c21, c22, c23);
      addRow(C, r0 + 3 * N, width, c30, c31, c32, c33);
    }
  }
  for (; i < M; i++) {
    const a0 = aOffset + i * K;
    for (let p = 0; p < panels; p++) {
      const base = p * K * 4;
      let c0 = 0, c1 = 0, c2 = 0, c3 = 0;
      for (let k = 0; k < K; k++) {
        const d = base + 4 * k;
        const x = A[a0 + k];
        c0 += x * P[d]; c1 += x * P[d + 1]; c2 += x * P[d + 2]; c3 += x * P[d + 3];
      }
      const j0 = p * 4;
      addRow(C, cOffset + i * N + j0, Math.min(4, N - j0), c0, c1, c2, c3);
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
