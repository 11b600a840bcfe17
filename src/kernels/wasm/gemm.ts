/** TypeScript wrappers of the wasm SIMD GEMMs: copy operands in, run, copy the result out. */
import { KernelArena, kernelArena } from './runtime';

const MR = 4;
const NR = 8;
/** Rows of B packed per pass (keeps an 8-column panel of B in L1 for large K). */
const KC = 256;

export interface SgemmWasmOptions {
  /** Added to every element of row m. */
  bias?: Float32Array;
  /** Fused clamp of the result (ReLU: [0, Infinity], ReLU6: [0, 6]). */
  clampMin?: number;
  clampMax?: number;
  /**
   * A holds constant weights: keep its packed copy resident in wasm memory, keyed by the array object.
   * The caller promises not to modify A afterwards (pass a new array instead).
   */
  constantA?: boolean;
  /** C += A·B (C's current content is the starting value) instead of C = A·B. */
  accumulate?: boolean;
}

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/**
 * The packed copy of A in wasm memory: resident (packed once, keyed by the array) for constant weights,
 * else packed into scratch for this call.
 */
function packedOperand(arena: KernelArena, A: ArrayBufferView, key: string, bytes: number, constant: boolean, pack: (dst: number) => void): number {
  if (constant) {
    return arena.residentFor(A, key, bytes, (dst) => {
      pack(dst);
      arena.resetScratch();
    });
  }
  const dst = arena.scratch(bytes);
  pack(dst);
  return dst;
}

function packedF32A(arena: KernelArena, A: Float32Array, M: number, K: number, constant: boolean): number {
  return packedOperand(arena, A, `f32:${M}x${K}`, roundUp(M, MR) * K * 4, constant, (dst) => {
    arena.exports.packA_f32(arena.copyIn(A.subarray(0, M * K)), K, M, K, dst);
  });
}

/** C[M×N] = clamp((C +) A[M×K]·B[K×N] + bias, lo, hi), all row-major float32 (use subarrays for offsets). */
export function sgemmWasm(
  arena: KernelArena, M: number, N: number, K: number,
  A: Float32Array, B: Float32Array, C: Float32Array, opts: SgemmWasmOptions = {},
): void {
  const ex = arena.exports;
  const lo = opts.clampMin ?? -Infinity;
  const hi = opts.clampMax ?? Infinity;
  if (K === 0) {
    for (let i = 0; i < M * N; i++) {
      const start = (opts.accumulate ? C[i] : 0) + (opts.bias ? opts.bias[Math.floor(i / N)] : 0);
      C[i] = Math.min(Math.max(start, lo), hi);
    }
    return;
  }
  try {
    const pa = packedF32A(arena, A, M, K, opts.constantA === true);
    const pbias = opts.bias ? arena.copyIn(opts.bias.subarray(0, M)) : 0;
    const bSrc = arena.copyIn(B.subarray(0, K * N));
    const ldc = roundUp(N, NR);
    const rows = roundUp(M, MR);
    const kc = Math.min(K, KC);
    const pb = arena.scratch(ldc * kc * 4);
    const pc = arena.scratch(rows * ldc * 4);
    if (opts.accumulate) {
      const cView = arena.f32(pc, rows * ldc);
      if (ldc === N) cView.set(C.subarray(0, M * N));
      else for (let m = 0; m < M; m++) cView.set(C.subarray(m * N, (m + 1) * N), m * ldc);
      if (opts.bias) for (let m = 0; m < M; m++) for (let j = 0; j < N; j++) cView[m * ldc + j] += opts.bias[m];
    }
    for (let k0 = 0; k0 < K; k0 += KC) {
      const kLen = Math.min(KC, K - k0);
      const first = k0 === 0 && !opts.accumulate ? 1 : 0;
      ex.packB_f32(bSrc, N, N, k0, kLen, pb);
      ex.gemm_f32_block(pa, pb, M, N, kLen, K, k0, pc, ldc, k0 === 0 ? pbias : 0, first, k0 + kLen >= K ? 1 : 0, lo, hi);
    }
    ex.compactRows(pc, M, ldc, N, 4);
    C.set(arena.f32(pc, M * N));
  } finally {
    arena.resetScratch();
  }
}

export type Int8Codes = Int8Array | Uint8Array;

export interface IgemmWasmOptions {
  /** int32 added to row m. */
  bias?: Int32Array;
  /** A holds constant weights (see SgemmWasmOptions.constantA). */
  constantA?: boolean;
}

function packedI8A(arena: KernelArena, A: Int8Codes, za: number, M: number, K: number, constant: boolean): number {
  const signed = A instanceof Int8Array ? 1 : 0;
  const bytes = roundUp(M, MR) * ((K + 1) >> 1) * 4;
  return packedOperand(arena, A, `i8:${M}x${K}:${signed}:${za}`, bytes, constant, (dst) => {
    arena.exports.packA_i8(arena.copyIn(A.subarray(0, M * K)), K, M, K, signed, za, dst);
  });
}

/** C[M×N] = Σ_k (A[m,k] − za)(B[k,n] − zb) + bias[m], exact in int32; A, B are 8-bit codes, row-major. */
export function igemmWasm(
  arena: KernelArena, M: number, N: number, K: number,
  A: Int8Codes, za: number, B: Int8Codes, zb: number, C: Int32Array, opts: IgemmWasmOptions = {},
): void {
  const ex = arena.exports;
  try {
    const pa = packedI8A(arena, A, za, M, K, opts.constantA === true);
    const pbias = opts.bias ? arena.copyIn(opts.bias.subarray(0, M)) : 0;
    // K×N codes plus 8 bytes of slack: the packer reads 8 columns at a time
    const bSrc = arena.scratch(K * N + 8);
    arena.bytes().set(new Uint8Array(B.buffer, B.byteOffset, K * N), bSrc);
    const ldc = roundUp(N, NR);
    const pb = arena.scratch(ldc * ((K + 1) >> 1) * 4);
    const pc = arena.scratch(roundUp(M, MR) * ldc * 4);
    ex.packB_i8(bSrc, N, N, K, B instanceof Int8Array ? 1 : 0, zb, pb);
    ex.gemm_i8(pa, pb, M, N, K, pc, ldc, pbias);
    ex.compactRows(pc, M, ldc, N, 4);
    C.set(arena.i32(pc, M * N));
  } finally {
    arena.resetScratch();
  }
}

export { kernelArena };
