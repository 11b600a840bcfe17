/** Whole-array quantization math in wasm: error sums against codes (inspect/metrics.ts), batch stats and histograms (quant/observers.ts), quantizing floats (quant/quantizer.ts). */
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

/** Codes an array can hold: the quantizer's outputs. */
export type QuantizedCodes = Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array;

/** out = clamp(round_half_even(x·inv) + z, qmin, qmax) per value (NaN → 0). */
export function quantizeWasm(arena: KernelArena, x: Float32Array, inv: number, z: number, qmin: number, qmax: number, out: QuantizedCodes): void {
  try {
    const px = arena.copyIn(x);
    const po = arena.scratch(x.length * out.BYTES_PER_ELEMENT + 16);
    const unsigned = out instanceof Uint8Array || out instanceof Uint16Array ? 1 : 0;
    arena.exports.quantizeF32(px, x.length, inv, z, qmin, qmax, po, out.BYTES_PER_ELEMENT, unsigned);
    const view = new (out.constructor as { new (b: ArrayBuffer, o: number, l: number): QuantizedCodes })(arena.bytes().buffer as ArrayBuffer, po, x.length);
    out.set(view);
  } finally {
    arena.resetScratch();
  }
}

/** Σ_n codes[n·per + i] per element i of one image, over the batch (int32). */
export function sumBytesOverBatchWasm(arena: KernelArena, codes: Uint8Array | Int8Array, batch: number, per: number): Int32Array {
  try {
    const pc = arena.copyIn(codes.subarray(0, batch * per));
    const ps = arena.scratch(4 * per + 64);
    arena.bytes().fill(0, ps, ps + 4 * per);
    arena.exports.sumBytesOverBatch(pc, batch, per, codes instanceof Int8Array ? 1 : 0, ps);
    return new Int32Array(arena.bytes().buffer, ps, per).slice();
  } finally {
    arena.resetScratch();
  }
}
