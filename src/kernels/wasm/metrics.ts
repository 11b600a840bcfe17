/** Streaming statistics in wasm: error sums of a reference against codes (inspect/metrics.ts), batch stats and histograms (quant/observers.ts). */
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

/** [min, max, Σx, Σx², zeros] of the values. */
export function batchStatsWasm(arena: KernelArena, values: Float32Array): Float64Array {
  try {
    const px = arena.copyIn(values);
    const po = arena.scratch(40);
    arena.exports.batchStatsF32(px, values.length, po);
    return new Float64Array(arena.bytes().buffer, po, 5).slice();
  } finally {
    arena.resetScratch();
  }
}

/** hist[clamp(floor((x − lo)·inv), 0, bins − 1)] += 1 per value. */
export function binIntoWasm(arena: KernelArena, values: Float32Array, lo: number, inv: number, hist: Float64Array): void {
  try {
    const px = arena.copyIn(values);
    const pc = arena.scratch(4 * hist.length);
    arena.bytes().fill(0, pc, pc + 4 * hist.length);
    arena.exports.binIntoF32(px, values.length, lo, inv, hist.length, pc);
    const counts = new Int32Array(arena.bytes().buffer, pc, hist.length);
    for (let b = 0; b < hist.length; b++) hist[b] += counts[b];
  } finally {
    arena.resetScratch();
  }
}
