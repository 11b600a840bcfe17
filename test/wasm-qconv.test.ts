// Quantized conv in wasm (integer im2col, dot_i16x8 GEMM, fused fixed-point requantization) against a scalar
// reference built on src/quant/requantize.ts: identical codes, bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setKernelPath, tryQConv2dWasm, qconvFitsWasm } from '../src/kernels/wasm';
import type { ConvGeometry, IntCodes, QConvArgs } from '../src/kernels/wasm';
import { multiplyByQuantizedMultiplierSingleRounding, quantizeMultiplier, requantize } from '../src/quant/requantize';
import { mulberry32 as rng } from '../src/util/random';

/** Scalar quantized conv: acc = bias + Σ (x − zx)(w − zw) over the window (zero padding = code zx), then requantize. */
function referenceQConv(p: ConvGeometry, a: QConvArgs): Int32Array {
  const cg = p.c / p.group;
  const ocg = p.oc / p.group;
  const out = new Int32Array(p.n * p.oc * p.oh * p.ow);
  for (let b = 0; b < p.n; b++) for (let o = 0; o < p.oc; o++) {
    const g = Math.floor(o / ocg);
    const m = a.multiplier && a.shift ? { multiplier: a.multiplier[o], shift: a.shift[o] } : undefined;
    for (let oy = 0; oy < p.oh; oy++) for (let ox = 0; ox < p.ow; ox++) {
      let acc = a.bias ? a.bias[o] : 0;
      for (let ci = 0; ci < cg; ci++) for (let ky = 0; ky < p.kh; ky++) for (let kx = 0; kx < p.kw; kx++) {
        const iy = oy * p.sh - p.padTop + ky * p.dh;
        const ix = ox * p.sw - p.padLeft + kx * p.dw;
        if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w) continue;
        const xv = a.x[((b * p.c + g * cg + ci) * p.h + iy) * p.w + ix] - a.xZero;
        const wv = a.w[((o * cg + ci) * p.kh + ky) * p.kw + kx] - a.wZero;
        acc += xv * wv;
      }
      let q = acc;
      if (m && a.rounding === 'single') q = Math.min(Math.max(multiplyByQuantizedMultiplierSingleRounding(acc, m) + (a.yZero ?? 0), a.qmin ?? 0), a.qmax ?? 0);
      else if (m) q = requantize(acc, m, a.yZero ?? 0, a.qmin ?? 0, a.qmax ?? 0);
      out[((b * p.oc + o) * p.oh + oy) * p.ow + ox] = q;
    }
  }
  return out;
}

function geometry(n: number, c: number, h: number, w: number, oc: number, k: number, group: number, s: number, d: number, pad: number): ConvGeometry {
  const oh = Math.floor((h + 2 * pad - d * (k - 1) - 1) / s) + 1;
  const ow = Math.floor((w + 2 * pad - d * (k - 1) - 1) / s) + 1;
  return { n, c, h, w, oc, kh: k, kw: k, group, sh: s, sw: s, dh: d, dw: d, padTop: pad, padLeft: pad, oh, ow };
}

interface Case { rounding?: 'single' | 'gemmlowp'; p: ConvGeometry; xBits: number; xSigned: boolean; wBits: number; xType: 'u8' | 'i8' | 'i32'; yType: 'u8' | 'i8' | 'i32' }

function runCase(r: () => number, c: Case): void {
  const { p } = c;
  const k = (p.c / p.group) * p.kh * p.kw;
  const xq = c.xSigned ? { lo: -(2 ** (c.xBits - 1)), hi: 2 ** (c.xBits - 1) - 1 } : { lo: 0, hi: 2 ** c.xBits - 1 };
  const wq = 2 ** (c.wBits - 1) - 1;
  const xCount = p.n * p.c * p.h * p.w;
  const xVals = Array.from({ length: xCount }, () => xq.lo + Math.floor(r() * (xq.hi - xq.lo + 1)));
  const x: IntCodes = c.xType === 'u8' ? Uint8Array.from(xVals) : c.xType === 'i8' ? Int8Array.from(xVals) : Int32Array.from(xVals);
  const w = Int32Array.from({ length: p.oc * k }, () => -wq + Math.floor(r() * (2 * wq + 1)));
  const bias = Int32Array.from({ length: p.oc }, () => Math.floor(r() * 4000) - 2000);
  const mults = Array.from({ length: p.oc }, () => quantizeMultiplier(r() < 0.2 ? 1.5 + r() * 3 : 1e-4 + r() * 0.05));
  const ySigned = c.yType !== 'u8';
  const outCount = p.n * p.oc * p.oh * p.ow;
  const y: IntCodes = c.yType === 'u8' ? new Uint8Array(outCount) : c.yType === 'i8' ? new Int8Array(outCount) : new Int32Array(outCount);
  const args: QConvArgs = {
    x, xZero: c.xSigned ? 1 : (xq.hi >> 1) + 3, w, wZero: 0, bias,
    multiplier: Int32Array.from(mults, (m) => m.multiplier), shift: Int32Array.from(mults, (m) => m.shift),
    yZero: ySigned ? -3 : 100, qmin: ySigned ? -128 : 0, qmax: ySigned ? 127 : 255, y, rounding: c.rounding,
  };
  let reportedMax = -1;
  assert.equal(tryQConv2dWasm(p, { ...args, onMaxAbsAccumulator: (m) => (reportedMax = m) }), true, 'wasm path taken');
  const want = referenceQConv(p, args);
  const got = Int32Array.from(y);
  let same = 0;
  for (let i = 0; i < want.length; i++) if (want[i] === got[i]) same++;
  assert.equal(same, want.length, `${JSON.stringify(c)}: ${want.length - same} of ${want.length} codes differ`);
  // the output is not degenerate: several distinct codes, not all clamped
  assert.ok(new Set(want).size > 3, 'reference output has variety');
  // raw accumulators (no multipliers) for inspection hooks
  const raw = new Int32Array(outCount);
  const rawArgs = { ...args, multiplier: undefined, shift: undefined, y: raw };
  assert.equal(tryQConv2dWasm(p, rawArgs), true);
  const rawWant = referenceQConv(p, rawArgs);
  assert.deepEqual(raw, rawWant, `${JSON.stringify(c)}: raw accumulators`);
  const maxAbs = rawWant.reduce((m, a) => Math.max(m, Math.abs(a)), 0);
  assert.ok(maxAbs > 0);
  assert.equal(reportedMax, maxAbs, `${JSON.stringify(c)}: max |accumulator| the fused kernel reports`);
}

test('quantized conv: wasm codes equal the scalar fixed-point reference bit for bit', () => {
  setKernelPath('wasm');
  const r = rng(11);
  const cases: Case[] = [
    { p: geometry(2, 3, 32, 32, 16, 3, 1, 1, 1, 1), xBits: 8, xSigned: false, wBits: 8, xType: 'u8', yType: 'u8' }, // stem
    { p: geometry(1, 16, 16, 16, 32, 3, 1, 2, 1, 1), xBits: 8, xSigned: true, wBits: 8, xType: 'i8', yType: 'i8' }, // stride 2
    { p: geometry(2, 13, 7, 9, 11, 1, 1, 1, 1, 0), xBits: 4, xSigned: false, wBits: 4, xType: 'i32', yType: 'i32' }, // 1x1, odd
    { p: geometry(1, 6, 9, 11, 6, 3, 2, 1, 2, 2), xBits: 6, xSigned: false, wBits: 5, xType: 'i32', yType: 'u8' }, // grouped, dilated
    { p: geometry(2, 12, 14, 14, 12, 3, 12, 1, 1, 1), xBits: 8, xSigned: false, wBits: 8, xType: 'u8', yType: 'u8' }, // depthwise
    { p: geometry(1, 10, 15, 13, 10, 3, 10, 2, 1, 1), xBits: 8, xSigned: true, wBits: 7, xType: 'i8', yType: 'i32' }, // depthwise s2
    { p: geometry(1, 64, 8, 8, 20, 3, 1, 1, 1, 1), xBits: 8, xSigned: false, wBits: 8, xType: 'u8', yType: 'u8' }, // K = 576
    { p: geometry(1, 33, 5, 5, 5, 3, 1, 1, 1, 1), xBits: 8, xSigned: false, wBits: 8, xType: 'u8', yType: 'u8' }, // K = 297 odd
    { p: geometry(1, 8, 11, 19, 8, 5, 8, 1, 2, 4), xBits: 8, xSigned: false, wBits: 8, xType: 'u8', yType: 'u8' }, // depthwise 5×5 dilated (odd tap count)
    { p: geometry(2, 4, 9, 9, 4, 3, 4, 3, 1, 1), xBits: 8, xSigned: false, wBits: 8, xType: 'u8', yType: 'u8' }, // depthwise stride 3 (scalar)
    { p: geometry(1, 6, 3, 3, 6, 3, 6, 1, 1, 1), xBits: 8, xSigned: false, wBits: 8, xType: 'u8', yType: 'u8' }, // depthwise, rows narrower than 8
    { p: geometry(1, 5, 17, 17, 5, 3, 5, 2, 1, 0), xBits: 8, xSigned: true, wBits: 8, xType: 'i8', yType: 'i8' }, // depthwise s2, no padding
  ];
  for (const c of cases) runCase(r, c);
  for (const c of cases) runCase(r, { ...c, rounding: 'single' });
  setKernelPath(undefined);
});

test('quantized conv: requantization of extreme accumulators and shifts is bit-exact in both roundings', () => {
  // a 1×1 conv of one channel whose bias puts accumulators near ±2^31; one output channel per multiplier, so every
  // shift from −31 (t = 62 in the single rounding) to +2 (saturating) meets accumulators of both signs and ties
  const reals = [2 ** -32 * 1.5, 2 ** -31, 0.7 * 2 ** -20, 2 ** -9, 0.5, 0.999999, 1, 1.5, 3.999];
  const mults = reals.map((v) => quantizeMultiplier(v));
  assert.ok(mults.some((m) => m.shift === -31) && mults.some((m) => m.shift === 0) && mults.some((m) => m.shift > 0));
  const biases = [2 ** 31 - 300, -(2 ** 31) + 300, 2 ** 30, -(2 ** 30), 2 ** 20 + 2 ** 19, -(2 ** 20) - 2 ** 19, 12345, -12345, 0];
  const w = 16;
  const p = geometry(1, 1, 1, w, reals.length * biases.length, 1, 1, 1, 1, 0);
  const x = Uint8Array.from({ length: w }, (_, i) => i * 17 % 256);
  const oc = p.oc;
  const bias = Int32Array.from({ length: oc }, (_, o) => biases[o % biases.length]);
  const weights = Int8Array.from({ length: oc }, (_, o) => (o % 3) - 1); // −1, 0, 1: |Σ| ≤ 255 stays inside int32
  const multiplier = Int32Array.from({ length: oc }, (_, o) => mults[Math.floor(o / biases.length)].multiplier);
  const shift = Int32Array.from({ length: oc }, (_, o) => mults[Math.floor(o / biases.length)].shift);
  setKernelPath('wasm');
  for (const rounding of ['single', 'gemmlowp'] as const) {
    for (const [qmin, qmax, yZero] of [[-(2 ** 31), 2 ** 31 - 1, 0], [-128, 127, -3]] as const) {
      const y = new Int32Array(oc * w);
      const args: QConvArgs = { x, xZero: 100, w: weights, wZero: 0, bias, multiplier, shift, yZero, qmin, qmax, y, rounding };
      assert.equal(tryQConv2dWasm(p, args), true, 'wasm path taken');
      const want = referenceQConv(p, args);
      const diff = want.findIndex((v, i) => v !== y[i]);
      assert.equal(diff, -1, `${rounding} [${qmin}, ${qmax}]: code ${diff} is ${y[diff]}, the reference says ${want[diff]}`);
      if (qmin < -128) assert.ok(new Set(want).size > oc, 'wide outputs vary');
    }
  }
  setKernelPath(undefined);
});

test('quantized conv: codes whose int32 sums could overflow are left to the TypeScript kernel', () => {
  const p = geometry(1, 64, 8, 8, 8, 3, 1, 1, 1, 1);
  assert.equal(qconvFitsWasm(p, 255, 127), true);
  assert.equal(qconvFitsWasm(p, 65535, 127), false);
  assert.equal(qconvFitsWasm(p, 4095, 2047), false);
  setKernelPath('wasm');
  const wide = { x: Int32Array.from({ length: 64 * 64 }, (_, i) => (i % 2) * 60000), xZero: 0, w: new Int8Array(8 * 64 * 9).fill(1), wZero: 0, y: new Int32Array(8 * 64) };
  assert.equal(tryQConv2dWasm(p, wide), false);
  setKernelPath('ts');
  const dummy = { x: new Uint8Array(1), xZero: 0, w: new Int8Array(1), wZero: 0, multiplier: new Int32Array(1), shift: new Int32Array(1), yZero: 0, qmin: 0, qmax: 255, y: new Uint8Array(1) };
  assert.equal(tryQConv2dWasm(geometry(1, 1, 1, 1, 1, 1, 1, 1, 1, 0), dummy), false);
  setKernelPath(undefined);
});

test('integer Add: wasm equals the TypeScript kernel (codes and largest accumulator), 8-bit and int32 codes', async () => {
  const { addInt, addRescale } = await import('../src/kernels/int/add');
  const { requantRounding, setRequantRounding } = await import('../src/kernels/int/requant');
  const defaultRounding = requantRounding();
  const r = rng(5);
  for (const [n, signed, bits, sa, sb, so] of [[1, false, 8, 0.02, 0.05, 0.06], [37, false, 8, 0.1, 0.01, 0.04], [1000, true, 8, 0.3, 0.3, 0.5], [999, false, 4, 0.01, 0.2, 0.002]] as const) {
    const lo = signed ? -(2 ** (bits - 1)) : 0;
    const hi = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
    const make = (): Int8Array | Uint8Array | Int32Array => {
      const v = Array.from({ length: n }, () => lo + Math.floor(r() * (hi - lo + 1)));
      return bits < 8 ? Int32Array.from(v) : signed ? Int8Array.from(v) : Uint8Array.from(v);
    };
    const a = make();
    const b = make();
    const rescale = addRescale(sa, sb, so, bits);
    const za = signed ? 2 : 7;
    const zb = signed ? -1 : 3;
    const zOut = signed ? 0 : 5;
    const outTs = bits < 8 ? new Int32Array(n) : signed ? new Int8Array(n) : new Uint8Array(n);
    const outWasm = outTs.slice();
    for (const rounding of ['single', 'gemmlowp'] as const) {
      setRequantRounding(rounding);
      setKernelPath('ts');
      const accTs = addInt(a, za, b, zb, rescale, zOut, lo, hi, outTs);
      setKernelPath('wasm');
      const accWasm = addInt(a, za, b, zb, rescale, zOut, lo, hi, outWasm);
      setKernelPath(undefined);
      assert.deepEqual(Array.from(outWasm), Array.from(outTs), `add n=${n} signed=${signed} bits=${bits} ${rounding}`);
      assert.equal(accWasm, accTs);
    }
    setRequantRounding(defaultRounding);
    assert.ok(new Set(Array.from(outTs)).size > Math.min(3, n - 1));
  }
});
