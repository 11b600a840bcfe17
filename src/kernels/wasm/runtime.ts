/**
 * One instance of the SIMD kernel module per thread, with a stack-like arena over its memory:
 * packed constant weights stay resident at the bottom (keyed by the weight array), per-call scratch above them.
 */
import { KERNELS_RELAXED_WASM_BASE64, KERNELS_WASM_BASE64 } from './generated/kernels-wasm';

export interface KernelExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  packA_f32(a: number, lda: number, m: number, k: number, dst: number): void;
  packB_f32(b: number, ldb: number, n: number, k0: number, kc: number, dst: number): void;
  gemm_f32_block(
    pa: number, pb: number, m: number, n: number, kc: number, kTotal: number, k0: number,
    c: number, ldc: number, bias: number, first: number, last: number, lo: number, hi: number,
  ): void;
  compactRows(c: number, rows: number, ldSrc: number, n: number, elemBytes: number): void;
  packA_i8(a: number, lda: number, m: number, k: number, signed: number, za: number, dst: number): void;
  packB_i8(b: number, ldb: number, n: number, k: number, signed: number, zb: number, dst: number): void;
  gemm_i8(pa: number, pb: number, m: number, n: number, k: number, c: number, ldc: number, bias: number): void;
  conv2d_f32(
    x: number, n: number, c: number, h: number, w: number, oc: number, group: number, kh: number, kw: number,
    sh: number, sw: number, dh: number, dw: number, padT: number, padL: number, oh: number, ow: number,
    pa: number, bias: number, pb: number, pc: number, y: number, kcMax: number, lo: number, hi: number, xp: number,
  ): void;
  codesToI16(src: number, count: number, elemBytes: number, signed: number, zero: number, dst: number): void;
  packA_i16(a: number, lda: number, m: number, k: number, dst: number): void;
  qconv2d(
    x: number, n: number, c: number, h: number, w: number, oc: number, group: number, kh: number, kw: number,
    sh: number, sw: number, dh: number, dw: number, padT: number, padL: number, oh: number, ow: number,
    pa: number, bias: number, m0: number, shift: number, zOut: number, lo: number, hi: number,
    pb: number, pc: number, tmp: number, y: number, elemBytes: number, xp: number, single: number,
  ): void;
  qdepthwise(
    x: number, n: number, c: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number,
    dh: number, dw: number, padT: number, padL: number, oh: number, ow: number, wts: number, bias: number,
    m0: number, shift: number, zOut: number, lo: number, hi: number, pad: number, accRow: number, y: number, elemBytes: number,
    single: number, taps: number,
  ): void;
  /** Largest |accumulator| requantized (or copied raw) by qconv2d / qdepthwise since the last call; resets it. */
  takeMaxAbsAccumulator(): number;
  addCodes(
    a: number, aBytes: number, aSigned: number, za: number, b: number, bBytes: number, bSigned: number, zb: number,
    count: number, leftShift: number, ma: number, sa: number, mb: number, sb: number, mo: number, so: number,
    zOut: number, lo: number, hi: number, out: number, outBytes: number, finalSingle: number, tables: number,
  ): number;
  /** out[0..4] (f64) += Σref², Σt², Σref·t, Σ(ref − t)²; out[4] = max(out[4], max |ref − t|), t = fround(s·(q − z)). */
  errorSumsCodes(ref: number, codes: number, bytes: number, signed: number, n: number, scale: number, zero: number, out: number): void;
  /** out (f64) = [min, max, Σx, Σx², zeros] of n float32 values. */
  batchStatsF32(x: number, n: number, out: number): void;
  /** counts (i32)[clamp(floor((x − lo)·inv), 0, bins − 1)] += 1 per float32 value. */
  binIntoF32(x: number, n: number, lo: number, inv: number, bins: number, counts: number): void;
  /** codes (outBytes each) = clamp(round_half_even(x·inv) + z, qmin, qmax) of n float32 values; NaN → 0. */
  quantizeF32(x: number, n: number, inv: number, z: number, qmin: number, qmax: number, out: number, outBytes: number, unsigned: number): void;
  /** sums (i32)[i] += Σ_n codes[n·per + i] of 1-byte codes. */
  sumBytesOverBatch(codes: number, batch: number, per: number, signed: number, sums: number): void;
  depthwise_f32(
    x: number, n: number, c: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number,
    dh: number, dw: number, padT: number, padL: number, oh: number, ow: number,
    wts: number, bias: number, pad: number, y: number, lo: number, hi: number,
  ): void;
}

const PAGE = 65536;
const ALIGN = 64;
/** Resident packed weights beyond this are dropped (and re-packed on demand) to bound memory per thread. */
const RESIDENT_BUDGET_BYTES = 192 * 1024 * 1024;

/** wasm32 addresses 4 GiB; tests lower this to exercise the fallback. */
const MAX_WASM_BYTES = 4 * 1024 * 1024 * 1024 - PAGE;
let memoryLimit = MAX_WASM_BYTES;

/** Thrown when a kernel needs more wasm memory than can be had; callers fall back to the TypeScript kernels. */
export class WasmMemoryFull extends Error {
  constructor(bytes: number) {
    super(`wasm kernels: cannot grow memory to ${(bytes / 2 ** 20).toFixed(0)} MiB`);
    this.name = 'WasmMemoryFull';
  }
}

/** Caps the wasm memory of this thread's kernels (undefined: the wasm32 maximum). For tests. */
export function setWasmMemoryLimit(bytes: number | undefined): void {
  memoryLimit = bytes ?? MAX_WASM_BYTES;
}

let compiled: WebAssembly.Module | undefined;
let unsupportedReason: string | undefined;
let relaxedInUse = false;

/**
 * Relaxed SIMD (fused multiply-add in the float kernels) where the host validates the relaxed twin module (VS Code's
 * Electron does; Node 20 with --experimental-wasm-relaxed-simd). QINSPECT_RELAXED_SIMD=0 keeps the plain SIMD module.
 */
function relaxedWanted(): boolean {
  return process.env.QINSPECT_RELAXED_SIMD !== '0';
}

function compileModule(): WebAssembly.Module | undefined {
  if (compiled || unsupportedReason) return compiled;
  try {
    const relaxed = Buffer.from(KERNELS_RELAXED_WASM_BASE64, 'base64');
    relaxedInUse = relaxedWanted() && WebAssembly.validate(relaxed);
    compiled = new WebAssembly.Module(relaxedInUse ? relaxed : Buffer.from(KERNELS_WASM_BASE64, 'base64'));
  } catch (e) {
    unsupportedReason = e instanceof Error ? e.message : String(e);
  }
  return compiled;
}

/** True when the kernels of this thread use relaxed SIMD (the float kernels' results may then differ in the last bit). */
export function relaxedSimdInUse(): boolean {
  compileModule();
  return relaxedInUse;
}

/** True when this runtime can run the SIMD module (Node ≥ 16.4 / any current VS Code). */
export function wasmAvailable(): boolean {
  return compileModule() !== undefined;
}

export function wasmUnavailableReason(): string | undefined {
  compileModule();
  return unsupportedReason;
}

interface Resident {
  generation: number;
  ptr: number;
  bytes: number;
  key: string;
  fingerprint: number;
}

/** A cheap fingerprint of ~64 strided elements: a changed weight array is re-packed instead of silently reused. */
export function sampleFingerprint(data: ArrayBufferView): number {
  const words = new Int32Array(data.buffer, data.byteOffset, data.byteLength >> 2);
  let h = data.byteLength | 0;
  if (words.length === 0) return h;
  const step = Math.max(1, Math.floor(words.length / 64));
  for (let i = 0; i < words.length; i += step) h = Math.imul(h ^ words[i], 0x9e3779b1) + i;
  return (Math.imul(h ^ words[words.length - 1], 0x85ebca6b) ^ (h >>> 13)) | 0;
}

export class KernelArena {
  readonly exports: KernelExports;
  private readonly memory: WebAssembly.Memory;
  private residentTop: number;
  private scratchTop: number;
  private generation = 0;
  private residentBytes = 0;
  private readonly resident = new WeakMap<object, Resident>();
  private u8: Uint8Array;

  constructor(module: WebAssembly.Module) {
    const instance = new WebAssembly.Instance(module, { env: { abort: () => { throw new Error('wasm abort'); } } });
    this.exports = instance.exports as unknown as KernelExports;
    this.memory = this.exports.memory;
    this.residentTop = alignUp(this.exports.heapBase());
    this.scratchTop = this.residentTop;
    this.u8 = new Uint8Array(this.memory.buffer);
  }

  /** The current byte view of wasm memory (renewed after growth). */
  bytes(): Uint8Array {
    if (this.u8.buffer !== this.memory.buffer) this.u8 = new Uint8Array(this.memory.buffer);
    return this.u8;
  }

  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }

  i32(ptr: number, length: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, length);
  }

  /** Allocates per-call scratch; release with resetScratch() when the call is done. */
  scratch(bytes: number): number {
    const ptr = this.scratchTop;
    this.ensure(ptr + bytes);
    this.scratchTop = alignUp(ptr + bytes);
    return ptr;
  }

  resetScratch(): void {
    this.scratchTop = this.residentTop;
  }

  /** Copies a typed array into scratch and returns its offset. */
  copyIn(data: ArrayBufferView): number {
    const ptr = this.scratch(data.byteLength);
    this.bytes().set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), ptr);
    return ptr;
  }

  /** Returns the resident copy made by `pack` for (owner, key), packing it now if absent. No scratch may be live. */
  residentFor(owner: ArrayBufferView, key: string, bytes: number, pack: (dst: number) => void): number {
    const hit = this.resident.get(owner);
    const fingerprint = sampleFingerprint(owner);
    if (hit && hit.generation === this.generation && hit.key === key && hit.fingerprint === fingerprint) return hit.ptr;
    if (this.scratchTop !== this.residentTop) throw new Error('wasm arena: resident allocation while scratch is live');
    if (this.residentBytes + bytes > RESIDENT_BUDGET_BYTES) this.dropResident();
    const ptr = this.residentTop;
    this.ensure(ptr + bytes);
    this.residentTop = alignUp(ptr + bytes);
    this.scratchTop = this.residentTop;
    this.residentBytes += bytes;
    pack(ptr);
    this.resident.set(owner, { generation: this.generation, ptr, bytes, key, fingerprint });
    return ptr;
  }

  /** Forgets every resident packed weight (memory is reused; wasm memory never shrinks). */
  dropResident(): void {
    this.generation++;
    this.residentBytes = 0;
    this.residentTop = alignUp(this.exports.heapBase());
    this.scratchTop = this.residentTop;
  }

  memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    if (end > memoryLimit) throw new WasmMemoryFull(end);
    const pages = Math.ceil((end - have) / PAGE);
    const wanted = Math.min(Math.max(pages, Math.ceil(have / PAGE / 4)), Math.floor((memoryLimit - have) / PAGE)); // ≥ 25% at a time
    try {
      this.memory.grow(Math.max(pages, wanted));
    } catch {
      throw new WasmMemoryFull(end);
    }
  }
}

function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

let arena: KernelArena | undefined;

/** This thread's kernel arena (created on first use); undefined when wasm SIMD is unavailable. */
export function kernelArena(): KernelArena | undefined {
  if (arena) return arena;
  const m = compileModule();
  if (!m) return undefined;
  arena = new KernelArena(m);
  return arena;
}

/** Releases this thread's wasm memory entirely (a later call starts a fresh instance). */
export function releaseKernelArena(): void {
  arena = undefined;
}
