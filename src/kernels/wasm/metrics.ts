/** Error sums of a float reference against integer codes in wasm (the loop of inspect/metrics.ts addCodes, in f64). */
import type { KernelArena } from './runtime';

/** Codes the wasm loop reads: 1- or 4-byte elements. */
export type SumCodes = Uint8Array | Int8Array | Int32Array;

/** sums[0..3] += Σref², Σt², Σref·t, Σ(ref − t)²; sums[4] = max(sums[4], max |ref − t|), with t = fround(s·(q − z)). */
export function errorSumsCodesWasm(arena: KernelArena, ref: Float32Array, codes: SumCodes, scale: number, zero: number, sums: Float64Array): void {
  try {
    const pr = arena.copyIn(ref);
    const pc = arena.copyIn(codes);
    const ps = arena.copyIn(sums);
    arena.exports.errorSumsCodes(pr, pc, codes.BYTES_PER_ELEMENT, codes instanceof Uint8Array ? 0 : 1, ref.length, scale, zero, ps);
    sums.set(new Float64Array(arena.bytes().buffer, ps, 5));
  } finally {
    arena.resetScratch();
  }
}
