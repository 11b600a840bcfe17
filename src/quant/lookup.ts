/** Lookup tables on codes: any elementwise function of one quantized input becomes a table indexed by its code. */
import { dequantizeArray, quantizeArray, QuantParams } from './quantizer';

/** Every code of `p` in order, qmin..qmax. */
export function allCodes(p: QuantParams): Int32Array {
  return Int32Array.from({ length: p.qmax - p.qmin + 1 }, (_, i) => p.qmin + i);
}

/**
 * T[q − qmin_in] = clamp(round(f(s_in·(q − z_in)) / s_out) + z_out, qmin_out, qmax_out) for every input code q;
 * `f` maps the dequantized codes (all at once) to real outputs.
 */
export function lookupTable(f: (x: Float32Array) => Float32Array, input: QuantParams, output: QuantParams): Int32Array {
  return Int32Array.from(quantizeArray(f(dequantizeArray(allCodes(input), input)), output));
}

/** Largest input code width a table is built for (16-bit codes: 65,536 entries). */
export const MAX_TABLE_BITS = 16;
