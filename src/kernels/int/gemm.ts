/**
 * The one integer GEMM every integer conv / linear layer goes through:
 * C[m,n] = bias[m] + Σ_k (A[m,k] − za)·(B[k,n] − zb), A and B integer codes, row-major.
 * 8-bit codes with an Int32Array result run in wasm SIMD when available; everything else in TypeScript.
 * A Float64Array result holds accumulators that could exceed int32 (wide bit widths), exactly up to 2^53.
 */
import { tryIgemmWasm } from '../wasm';

export type Codes = Uint8Array | Int8Array | Int16Array | Int32Array;
export type Accumulators = Int32Array | Float64Array;

export type Igemm = (
  M: number, N: number, K: number, A: Codes, za: number, B: Codes, zb: number, C: Accumulators, bias?: Int32Array,
  constantA?: boolean,
) => void;

/** TypeScript reference: row of A against B streamed row by row (k-outer), exact in doubles. */
export const igemmTs: Igemm = (M, N, K, A, za, B, zb, C, bias) => {
  const row = new Float64Array(N);
  for (let m = 0; m < M; m++) {
    row.fill(bias ? bias[m] : 0);
    const aBase = m * K;
    for (let k = 0; k < K; k++) {
      const a = A[aBase + k] - za;
      if (a === 0) continue;
      const bBase = k * N;
      for (let n = 0; n < N; n++) row[n] += a * (B[bBase + n] - zb);
    }
    C.set(row, m * N);
  }
};

function isByteCodes(x: Codes): x is Uint8Array | Int8Array {
  return x instanceof Uint8Array || x instanceof Int8Array;
}

let impl: Igemm | undefined;

/** Replaces the integer GEMM (undefined restores the default: wasm for 8-bit codes, else TypeScript). */
export function setIgemm(next: Igemm | undefined): void {
  impl = next;
}

/** C = bias + (A − za)(B − zb); `constantA` marks A as constant weights a backend may cache. */
export const igemm: Igemm = (M, N, K, A, za, B, zb, C, bias, constantA) => {
  if (impl) return impl(M, N, K, A, za, B, zb, C, bias, constantA);
  if (C instanceof Int32Array && isByteCodes(A) && isByteCodes(B)
    && tryIgemmWasm(M, N, K, A, za, B, zb, C, { bias, constantA })) return;
  igemmTs(M, N, K, A, za, B, zb, C, bias);
};
