/**
 * Integer residual Add in wasm (TFLite rescaling, kernels/int/add.ts), bit-exact; returns the largest |sum|.
 * `rounding` applies to the final rescale (the input rescales are always gemmlowp), as in the TypeScript kernel.
 */
import type { IntCodes } from './qconv';
import { Rounding, codeBound } from './qconv';
import type { KernelArena } from './runtime';

export interface AddRescaleArgs {
  leftShift: number;
  a: { multiplier: number; shift: number };
  b: { multiplier: number; shift: number };
  out: { multiplier: number; shift: number };
}

function isSigned(x: IntCodes): number {
  return x instanceof Int8Array || x instanceof Int16Array || x instanceof Int32Array ? 1 : 0;
}

/** True when (code − zero)·2^L stays inside int32 for both inputs, as the TypeScript kernel assumes. */
export function addFitsWasm(a: IntCodes, za: number, b: IntCodes, zb: number, leftShift: number): boolean {
  const limit = 2 ** (31 - leftShift);
  return leftShift >= 0 && leftShift <= 30 && codeBound(a, za) < limit && codeBound(b, zb) < limit;
}

export function addCodesWasm(
  arena: KernelArena, a: IntCodes, za: number, b: IntCodes, zb: number, r: AddRescaleArgs,
  zOut: number, lo: number, hi: number, out: IntCodes, rounding: Rounding = 'gemmlowp',
): number {
  const n = out.length;
  try {
    const pa = arena.copyIn(a.subarray(0, n));
    const pb = arena.copyIn(b.subarray(0, n));
    const po = arena.scratch(n * out.BYTES_PER_ELEMENT + 16);
    const tables = arena.scratch(2 * 256 * 4);
    const maxAcc = arena.exports.addCodes(pa, a.BYTES_PER_ELEMENT, isSigned(a), za, pb, b.BYTES_PER_ELEMENT, isSigned(b), zb, n,
      r.leftShift, r.a.multiplier, r.a.shift, r.b.multiplier, r.b.shift, r.out.multiplier, r.out.shift, zOut, lo, hi,
      po, out.BYTES_PER_ELEMENT, rounding === 'single' ? 1 : 0, tables);
    const view = new (out.constructor as { new (b: ArrayBuffer, o: number, l: number): IntCodes })(arena.bytes().buffer as ArrayBuffer, po, n);
    out.set(view as unknown as ArrayLike<number>);
    return maxAcc;
  } finally {
    arena.resetScratch();
  }
}
