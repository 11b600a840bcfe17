/**
 * Kernel path selection: the wasm SIMD kernels run when available, the TypeScript kernels are the fallback and
 * the reference. `QINSPECT_KERNELS=ts|wasm` (or setKernelPath) forces one path; 'wasm' where wasm SIMD cannot be
 * compiled is an InputError.
 */
import { InputError } from '../../util/errors';
import { ConvGeometry, conv2dWasm } from './conv';
import { IgemmWasmOptions, Int8Codes, SgemmWasmOptions, igemmWasm, sgemmWasm } from './gemm';
import { IntCodes, QConvArgs, Rounding, codeBound, qconv2dWasm, qconvFitsWasm, weightBound } from './qconv';
import { AddRescaleArgs, addCodesWasm, addFitsWasm } from './qadd';
import { QuantizedCodes, SumCodes, batchStatsWasm, binIntoWasm, errorSumsCodesWasm, quantizeWasm, sumBytesOverBatchWasm } from './array-loops';
import { KernelArena, WasmMemoryFull, kernelArena, relaxedSimdInUse, releaseKernelArena, setWasmMemoryLimit, wasmAvailable, wasmUnavailableReason } from './runtime';

export type KernelPath = 'ts' | 'wasm';

let override: KernelPath | undefined;
let fromEnv: { value: KernelPath | undefined } | undefined;

function pathFromEnv(): KernelPath | undefined {
  const v = (process.env.QINSPECT_KERNELS ?? '').trim().toLowerCase();
  if (v === '' || v === 'auto') return undefined;
  if (v === 'ts' || v === 'wasm') return v;
  throw new InputError(`QINSPECT_KERNELS='${process.env.QINSPECT_KERNELS}': expected ts, wasm or auto`);
}

/** Forces a kernel path for this thread (undefined: back to the environment / automatic choice). */
export function setKernelPath(path: KernelPath | undefined): void {
  override = path;
  fromEnv = undefined;
}

/** The kernel path in force: override, then QINSPECT_KERNELS, then wasm when the runtime supports SIMD. */
export function kernelPath(): KernelPath {
  if (!override && !fromEnv) fromEnv = { value: pathFromEnv() };
  const wanted = override ?? fromEnv?.value;
  if (wanted === 'ts') return 'ts';
  if (wasmAvailable()) return 'wasm';
  if (wanted === 'wasm') throw new InputError(`QINSPECT_KERNELS=wasm: WebAssembly SIMD unavailable (${wasmUnavailableReason()})`);
  return 'ts';
}

/**
 * Runs fn on this thread's arena. When wasm memory cannot grow, drops the resident weights and tries once more;
 * still too big: false, and the caller runs the TypeScript kernel.
 */
function inArena(fn: (arena: KernelArena) => void): boolean {
  const arena = kernelArena();
  if (!arena) return false;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fn(arena);
      return true;
    } catch (e) {
      if (!(e instanceof WasmMemoryFull)) throw e;
      arena.dropResident();
    }
  }
  return false;
}

/** inArena for a kernel that returns a value: the value, or undefined when the caller should run TypeScript. */
function fromArena<T>(fn: (arena: KernelArena) => T): T | undefined {
  let out: T | undefined;
  return inArena((arena) => { out = fn(arena); }) ? out : undefined;
}

/** Runs the float GEMM in wasm when that path is selected; returns false when the caller should use TypeScript. */
export function trySgemmWasm(
  M: number, N: number, K: number, A: Float32Array, B: Float32Array, C: Float32Array, opts?: SgemmWasmOptions,
): boolean {
  if (kernelPath() !== 'wasm') return false;
  return inArena((arena) => sgemmWasm(arena, M, N, K, A, B, C, opts));
}

/** Runs the int8 GEMM in wasm when that path is selected; returns false when the caller should use TypeScript. */
export function tryIgemmWasm(
  M: number, N: number, K: number, A: Int8Codes, za: number, B: Int8Codes, zb: number, C: Int32Array,
  opts?: IgemmWasmOptions,
): boolean {
  if (kernelPath() !== 'wasm') return false;
  return inArena((arena) => igemmWasm(arena, M, N, K, A, za, B, zb, C, opts));
}

export { releaseKernelArena, relaxedSimdInUse, setWasmMemoryLimit, wasmAvailable };
export { qconvFitsWasm };
export type { AddRescaleArgs, IntCodes, QConvArgs, Rounding };
export type { ConvGeometry, IgemmWasmOptions, Int8Codes, SgemmWasmOptions };

/**
 * The float kernels' Sgemm contract (kernels/float/gemm.ts): C (+)= A·B at offsets. Returns false when the
 * TypeScript path is selected. A is not assumed constant (Gemm/MatMul pass activations as A).
 */
export function trySgemmWasmAt(
  M: number, N: number, K: number,
  A: Float32Array, aOffset: number, B: Float32Array, bOffset: number, C: Float32Array, cOffset: number,
  accumulate: boolean,
): boolean {
  if (kernelPath() !== 'wasm') return false;
  return inArena((arena) => sgemmWasm(arena, M, N, K, A.subarray(aOffset, aOffset + M * K), B.subarray(bOffset, bOffset + K * N),
    C.subarray(cOffset, cOffset + M * N), { accumulate }));
}

/** Whole-batch NCHW float conv in wasm (weights resident); false when the TypeScript path is selected. */
export function tryConv2dWasm(
  p: ConvGeometry, x: Float32Array, wt: Float32Array, bias: Float32Array | undefined, y: Float32Array,
  clampMin = -Infinity, clampMax = Infinity,
): boolean {
  if (kernelPath() !== 'wasm') return false;
  return inArena((arena) => conv2dWasm(arena, p, x, wt, bias, y, clampMin, clampMax));
}

/**
 * Quantized conv (whole batch) in wasm when selected and exact for these codes (qconvFitsWasm): with multipliers,
 * y gets requantized codes; without, y (Int32Array) gets the raw int32 accumulators. False: use TypeScript.
 */
export function tryQConv2dWasm(p: ConvGeometry, args: QConvArgs): boolean {
  if (kernelPath() !== 'wasm') return false;
  if (!qconvFitsWasm(p, codeBound(args.x, args.xZero), weightBound(args.w, args.wZero))) return false;
  return inArena((arena) => qconv2dWasm(arena, p, args));
}

const multiplierCache = new WeakMap<object, { multiplier: Int32Array; shift: Int32Array }>();

/** Per-channel {multiplier, shift} objects (src/quant/requantize.ts) as the two Int32Arrays the kernel takes, cached. */
export function multiplierArrays(ms: readonly { multiplier: number; shift: number }[]): { multiplier: Int32Array; shift: Int32Array } {
  let hit = multiplierCache.get(ms);
  if (!hit || hit.multiplier.length !== ms.length) {
    hit = { multiplier: Int32Array.from(ms, (m) => m.multiplier), shift: Int32Array.from(ms, (m) => m.shift) };
    multiplierCache.set(ms, hit);
  }
  return hit;
}

/**
 * Integer residual Add (TFLite rescaling) in wasm when selected and exact; returns the largest |sum|, or undefined
 * when the caller should run the TypeScript kernel.
 */
export function tryAddIntWasm(
  a: IntCodes, za: number, b: IntCodes, zb: number, r: AddRescaleArgs, zOut: number, lo: number, hi: number, out: IntCodes,
  rounding: Rounding = 'gemmlowp',
): number | undefined {
  if (kernelPath() !== 'wasm' || a.length < out.length || b.length < out.length || !addFitsWasm(a, za, b, zb, r.leftShift)) return undefined;
  return fromArena((arena) => addCodesWasm(arena, a, za, b, zb, r, zOut, lo, hi, out, rounding));
}

/** Below this many elements a TypeScript loop is as fast as the copy into wasm memory. */
const WASM_MIN_ELEMENTS = 1024;

/**
 * Error sums of a float reference against codes (inspect/metrics.ts) in wasm when selected: sums[0..3] += Σref²,
 * Σt², Σref·t, Σe²; sums[4] = max(sums[4], max |e|). False: the caller runs its TypeScript loop.
 */
export function tryErrorSumsWasm(ref: Float32Array, codes: ArrayLike<number>, scale: number, zero: number, sums: Float64Array): boolean {
  if (ref.length < WASM_MIN_ELEMENTS || kernelPath() !== 'wasm') return false;
  if (!(codes instanceof Uint8Array || codes instanceof Int8Array || codes instanceof Int32Array)) return false;
  return inArena((arena) => errorSumsCodesWasm(arena, ref, codes as SumCodes, scale, zero, sums));
}

/** [min, max, Σx, Σx², zeros] of float32 values in wasm when selected; undefined: the caller's TypeScript loop. */
export function tryBatchStatsWasm(values: ArrayLike<number>): Float64Array | undefined {
  if (!(values instanceof Float32Array) || values.length < WASM_MIN_ELEMENTS || kernelPath() !== 'wasm') return undefined;
  return fromArena((arena) => batchStatsWasm(arena, values));
}

/** Histogram counts of float32 values in wasm when selected (same bins as quant/observers.ts binInto); false: use TypeScript. */
export function tryBinIntoWasm(values: ArrayLike<number>, lo: number, inv: number, hist: Float64Array): boolean {
  if (!(values instanceof Float32Array) || values.length < WASM_MIN_ELEMENTS || kernelPath() !== 'wasm') return false;
  return inArena((arena) => binIntoWasm(arena, values, lo, inv, hist));
}

/** q = clamp(round_half_even(x·inv) + z, qmin, qmax) of float32 values in wasm when selected; false: use TypeScript. */
export function tryQuantizeWasm(x: ArrayLike<number>, inv: number, z: number, qmin: number, qmax: number, out: QuantizedCodes): boolean {
  if (!(x instanceof Float32Array) || x.length < WASM_MIN_ELEMENTS || out.length < x.length || kernelPath() !== 'wasm') return false;
  return inArena((arena) => quantizeWasm(arena, x, inv, z, qmin, qmax, out));
}

/** Σ_n codes[n·per + i] of byte codes over a batch in wasm when selected (int32); undefined: use TypeScript. */
export function trySumBytesOverBatchWasm(codes: Uint8Array | Int8Array, batch: number, per: number): Int32Array | undefined {
  if (batch * per < WASM_MIN_ELEMENTS || kernelPath() !== 'wasm') return undefined;
  return fromArena((arena) => sumBytesOverBatchWasm(arena, codes, batch, per));
}
