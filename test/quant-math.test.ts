import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  quantRange, scaleAndZeroPoint, quantizeArray, dequantizeArray, roundHalfEven, activationParams, codeOf,
} from '../src/quant/quantizer';
import {
  quantizeMultiplier, multiplierValue, saturatingRoundingDoublingHighMul, roundingDivideByPOT,
  multiplyByQuantizedMultiplier, multiplyByQuantizedMultiplierSingleRounding, INT32_MIN, INT32_MAX,
} from '../src/quant/requantize';
import { StreamingObserver, calibratedRange, CALIBRATION_METHODS } from '../src/quant/observers';
import { quantizeWeights, dequantizeWeights, quantizeBias, biasCorrection, weightGainFactors, WeightMethod } from '../src/quant/weights';
import { InputError } from '../src/util/errors';
import { requantizeInto } from '../src/kernels/int/requant';
import { mulberry32 as rng } from '../src/util/random';

function randInt32(r: () => number): number {
  return (Math.floor(r() * 4294967296) - 2147483648) | 0;
}

/** gemmlowp reference in BigInt: (a·b + nudge) / 2^31 truncating toward zero. */
function srdhmRef(a: number, b: number): number {
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  const ab = BigInt(a) * BigInt(b);
  const nudge = ab >= 0n ? 1n << 30n : 1n - (1n << 30n);
  return Number((ab + nudge) / (1n << 31n));
}
function rdbpotRef(x: number, e: number): number {
  const mask = (1n << BigInt(e)) - 1n;
  const bx = BigInt(x);
  const rem = bx & mask;
  const thr = (mask >> 1n) + (bx < 0n ? 1n : 0n);
  return Number((bx >> BigInt(e)) + (rem > thr ? 1n : 0n));
}

test('quantRange: signed, narrow and unsigned ranges for 2..16 bits', () => {
  assert.deepEqual(quantRange(8, true), { qmin: -128, qmax: 127 });
  assert.deepEqual(quantRange(8, true, true), { qmin: -127, qmax: 127 });
  assert.deepEqual(quantRange(8, false), { qmin: 0, qmax: 255 });
  assert.deepEqual(quantRange(2, true, true), { qmin: -1, qmax: 1 });
  assert.deepEqual(quantRange(16, false), { qmin: 0, qmax: 65535 });
  assert.throws(() => quantRange(1, true), InputError);
  assert.throws(() => quantRange(17, false), InputError);
});

test('scaleAndZeroPoint: includes 0 exactly, never scale 0 or NaN', () => {
  const p = scaleAndZeroPoint(-1, 3, 8, false, false);
  assert.equal(p.scale, Math.fround(4 / 255)); // scales are float32, as exported
  assert.equal(p.zeroPoint, 64); // round(0 - (-1)/(4/255)) = round(63.75)
  assert.equal(dequantizeArray(quantizeArray([0], p), p)[0], 0);
  const pos = activationParams(2, 6, 8); // range widened to [0, 6]
  assert.equal(pos.zeroPoint, 0);
  assert.equal(pos.scale, Math.fround(6 / 255));
  const sym = scaleAndZeroPoint(-0.5, 2, 4, true);
  assert.equal(sym.zeroPoint, 0);
  assert.equal(sym.scale, Math.fround(2 / 7));
  for (const [lo, hi] of [[0, 0], [3, 3], [-2, -2]]) {
    const q = scaleAndZeroPoint(lo, hi, 8, false, false);
    assert.ok(q.scale > 0 && Number.isFinite(q.scale), `scale for [${lo},${hi}]`);
    assert.ok(Number.isInteger(q.zeroPoint) && q.zeroPoint >= 0 && q.zeroPoint <= 255);
  }
  assert.throws(() => scaleAndZeroPoint(NaN, 1, 8, false), InputError);
});

test('quantize/dequantize: q = clamp(round(x/s)+z), error within s/2 inside the range, ties to even', () => {
  const p = scaleAndZeroPoint(-1, 1, 8, true);
  const xs = Array.from({ length: 1000 }, (_, i) => -1 + (2 * i) / 999);
  const q = quantizeArray(xs, p);
  const back = dequantizeArray(q, p);
  for (let i = 0; i < xs.length; i++) {
    assert.ok(q[i] >= -127 && q[i] <= 127);
    assert.ok(Math.abs(back[i] - xs[i]) <= p.scale / 2 + 1e-7);
  }
  assert.equal(roundHalfEven(2.5), 2);
  assert.equal(roundHalfEven(-2.5), -2);
  assert.equal(roundHalfEven(3.5), 4);
  assert.equal(quantizeArray([100], p)[0], 127);
  assert.equal(codeOf(6, activationParams(0, 12.75, 8)), 120); // 6 / 0.05
});

test('quantizeMultiplier: M0 in [2^30, 2^31) and M0·2^(shift−31) ≈ M', () => {
  const r = rng(1);
  for (let i = 0; i < 2000; i++) {
    const m = Math.exp((r() - 0.85) * 20); // 2^-25 … 2^4
    const q = quantizeMultiplier(m);
    assert.ok(q.multiplier >= 2 ** 30 && q.multiplier < 2 ** 31, `M0 ${q.multiplier}`);
    assert.ok(Math.abs(multiplierValue(q) - m) / m < 2 ** -30);
  }
  assert.deepEqual(quantizeMultiplier(0), { multiplier: 0, shift: 0 });
  assert.deepEqual(quantizeMultiplier(0.5), { multiplier: 2 ** 30, shift: 0 });
  assert.throws(() => quantizeMultiplier(NaN), InputError);
});

test('SaturatingRoundingDoublingHighMul matches a BigInt reference exactly on random int32 pairs', () => {
  const r = rng(7);
  const special = [0, 1, -1, INT32_MIN, INT32_MAX, 2 ** 30, -(2 ** 30), 65535, -65536, 32768];
  const pairs: [number, number][] = [];
  for (const a of special) for (const b of special) pairs.push([a, b]);
  for (let i = 0; i < 20000; i++) pairs.push([randInt32(r), randInt32(r)]);
  for (let i = 0; i < 5000; i++) pairs.push([randInt32(r) >> Math.floor(r() * 31), 2 ** 30 + Math.floor(r() * 2 ** 30)]);
  for (const [a, b] of pairs) assert.equal(saturatingRoundingDoublingHighMul(a, b), srdhmRef(a, b), `a=${a} b=${b}`);
});

test('RoundingDivideByPOT and MultiplyByQuantizedMultiplier match BigInt references', () => {
  const r = rng(11);
  for (let i = 0; i < 20000; i++) {
    const x = randInt32(r) >> Math.floor(r() * 20);
    const e = Math.floor(r() * 31);
    assert.equal(roundingDivideByPOT(x, e), rdbpotRef(x, e), `x=${x} e=${e}`);
  }
  for (let i = 0; i < 20000; i++) {
    const acc = randInt32(r) >> Math.floor(r() * 16);
    const m = quantizeMultiplier(Math.exp(-r() * 15));
    const expected = rdbpotRef(srdhmRef(acc, m.multiplier), -m.shift);
    assert.equal(multiplyByQuantizedMultiplier(acc, m), expected);
    assert.ok(Math.abs(multiplyByQuantizedMultiplier(acc, m) - acc * multiplierValue(m)) <= 1);
  }
});

test('single-rounding requantization equals floor((x·M0 + 2^(t−1)) / 2^t) in BigInt', () => {
  const r = rng(17);
  for (let i = 0; i < 30000; i++) {
    const x = randInt32(r) >> Math.floor(r() * 24);
    const m = quantizeMultiplier(Math.exp(-r() * 18));
    const t = BigInt(31 - m.shift);
    const expected = Number((BigInt(x) * BigInt(m.multiplier) + (1n << (t - 1n))) >> t);
    assert.equal(multiplyByQuantizedMultiplierSingleRounding(x, m), expected, `x=${x} M0=${m.multiplier} shift=${m.shift}`);
  }
  // the case where gemmlowp's double rounding goes the other way: 36.4991… → 36, not 37
  const m = { multiplier: 1676885177, shift: -8 };
  assert.equal(multiplyByQuantizedMultiplierSingleRounding(11966, m), 36);
  assert.equal(multiplyByQuantizedMultiplier(11966, m), 37);
});

test('requantizeInto (fast and exact paths) equals clamp(z + single-rounding M·acc) elementwise', () => {
  const r = rng(23);
  for (let trial = 0; trial < 200; trial++) {
    const m = quantizeMultiplier(Math.exp(-r() * 14));
    const acc = Int32Array.from({ length: 64 }, () => randInt32(r) >> Math.floor(r() * 28));
    const out = new Int32Array(64);
    requantizeInto(acc, 0, 64, m, 3, -1000, 100000, out, 0);
    for (let i = 0; i < 64; i++) {
      const expected = Math.min(100000, Math.max(-1000, multiplyByQuantizedMultiplierSingleRounding(acc[i], m) + 3));
      assert.equal(out[i], expected, `acc ${acc[i]}`);
    }
  }
});

test('StreamingObserver: exact counts and min/max across re-binning, bounded memory, quantiles', () => {
  const obs = new StreamingObserver(256);
  const r = rng(3);
  const all: number[] = [];
  for (let batch = 0; batch < 20; batch++) {
    const spread = 1 + batch; // the range keeps growing → re-binning
    const v = Array.from({ length: 500 }, () => (r() - 0.3) * spread);
    all.push(...v);
    obs.observe(v);
  }
  const total = obs.hist.reduce((a, b) => a + b, 0);
  assert.equal(total, all.length);
  assert.equal(obs.min, Math.min(...all));
  assert.equal(obs.max, Math.max(...all));
  assert.equal(obs.hist.length, 256);
  all.sort((a, b) => a - b);
  const binWidth = (obs.hi - obs.lo) / obs.bins;
  assert.ok(Math.abs(obs.quantile(0.5) - all[all.length / 2]) < 2 * binWidth);
  assert.ok(Math.abs(obs.quantile(0.9) - all[Math.floor(all.length * 0.9)]) < 2 * binWidth);
  assert.ok(obs.lo <= obs.min && obs.hi >= obs.max);
});

test('calibration methods: all give finite ranges inside [min, max]; clipping methods clip a heavy tail', () => {
  const obs = new StreamingObserver();
  const r = rng(5);
  // a ReLU-like activation: half-normal with a few large outliers (5 in a million: beyond the default 99.999th percentile)
  const v = new Float32Array(1000000);
  for (let i = 0; i < v.length; i++) {
    const g = Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
    v[i] = Math.max(0, g);
  }
  for (let i = 0; i < 5; i++) v[i * 1000] = 40;
  obs.observe(v);
  for (const m of CALIBRATION_METHODS) {
    const [lo, hi] = calibratedRange(obs, m, 8);
    assert.ok(Number.isFinite(lo) && Number.isFinite(hi), m);
    assert.ok(lo >= obs.min - 1e-9 && hi <= obs.max + 1e-9 && hi > 0, `${m}: [${lo}, ${hi}]`);
    if (m !== 'minmax' && m !== 'mse') assert.ok(hi < 20, `${m} should clip the outliers at 40, got ${hi}`);
  }
  assert.equal(calibratedRange(obs, 'minmax', 8)[1], 40);
  // MSE at 4 bits trades the 5 outliers for finer steps on the bulk
  assert.ok(calibratedRange(obs, 'mse', 4)[1] < 20);
  const [, p] = calibratedRange(obs, 'percentile', 8);
  assert.ok(p > 3 && p < 5, `99.999th percentile of a half-normal ≈ 4.4, got ${p}`);
  const [, s] = calibratedRange(obs, 'sigma3', 8);
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  assert.ok(s > mean + 1.5 && s < mean + 3);
});

function gaussianWeights(channels: number, k: number, seed: number): Float32Array {
  const r = rng(seed);
  const w = new Float32Array(channels * k);
  for (let c = 0; c < channels; c++) {
    const spread = 0.01 * (1 + 20 * r()); // channel scales differ widely
    for (let i = 0; i < k; i++) w[c * k + i] = spread * Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  }
  return w;
}
function sqErr(a: Float32Array, b: Float32Array): number {
  let e = 0;
  for (let i = 0; i < a.length; i++) e += (a[i] - b[i]) ** 2;
  return e;
}

test('weight quantizers: codes in range, per-channel beats per-tensor, MSE clipping beats min-max at 4 bits', () => {
  const channels = 16, k = 72;
  const w = gaussianWeights(channels, k, 9);
  const errors: Record<string, number> = {};
  for (const method of ['minmax', 'sigma3', 'mse', 'cosine'] as WeightMethod[]) {
    for (const perChannel of [true, false]) {
      const q = quantizeWeights(w, channels, { bits: 4, perChannel, method });
      for (const c of q.codes) assert.ok(Number.isInteger(c) && c >= -7 && c <= 7);
      errors[`${method}/${perChannel}`] = sqErr(w, dequantizeWeights(q));
    }
  }
  assert.ok(errors['minmax/true'] < errors['minmax/false'] * 0.7);
  assert.ok(errors['mse/true'] < errors['minmax/true'] * 0.95, JSON.stringify(errors));
  assert.ok(errors['mse/true'] <= errors['sigma3/true'] + 1e-12);
});

test('output-error weight criterion minimises ||WX − ŴX||² on the samples', () => {
  const channels = 4, k = 32, count = 64;
  const w = gaussianWeights(channels, k, 12);
  const r = rng(13);
  const x = new Float32Array(count * k).map(() => r() * 2);
  const samples = { columns: [x], count, k };
  const outErr = (wHat: Float32Array): number => {
    let e = 0;
    for (let c = 0; c < channels; c++) for (let n = 0; n < count; n++) {
      let d = 0;
      for (let i = 0; i < k; i++) d += (w[c * k + i] - wHat[c * k + i]) * x[n * k + i];
      e += d * d;
    }
    return e;
  };
  const out = outErr(dequantizeWeights(quantizeWeights(w, channels, { bits: 3, perChannel: true, method: 'output', samples })));
  const mm = outErr(dequantizeWeights(quantizeWeights(w, channels, { bits: 3, perChannel: true, method: 'minmax' })));
  const mse = outErr(dequantizeWeights(quantizeWeights(w, channels, { bits: 3, perChannel: true, method: 'mse' })));
  assert.ok(out <= mm && out <= mse, `output ${out} minmax ${mm} mse ${mse}`);
  assert.throws(() => quantizeWeights(w, channels, { bits: 3, perChannel: true, method: 'output' }), InputError);
});

test('int32 bias and bias correction', () => {
  const b = quantizeBias([0.5, -0.25], 2, 0.01, [0.1, 0.05]);
  assert.deepEqual([...b], [500, -500]); // b / (s_in·s_w)
  const w = new Float32Array([1, 2, 3, 4]);
  const wHat = new Float32Array([1.1, 2, 3, 3.5]);
  const d = biasCorrection(w, wHat, 2, [new Float64Array([2, 1])]);
  assert.ok(Math.abs(d[0] - -0.2) < 1e-6 && Math.abs(d[1] - 0.5) < 1e-6);
  // the quantized model feeds E[x̂] = [2.5, 1]: Δ = W·E[x] − Ŵ·E[x̂] = [4 − 4.75, 10 − 11] (float32 weights)
  const s = biasCorrection(w, wHat, 2, [new Float64Array([2, 1])], 2, [new Float64Array([2.5, 1])]);
  assert.ok(Math.abs(s[0] - -0.75) < 1e-6 && Math.abs(s[1] - -1) < 1e-6, `${s}`);
  // groups: channel c reads group floor(c / channelsPerGroup)
  const g = biasCorrection(w, wHat, 2, [new Float64Array([1, 0]), new Float64Array([0, 1])], 1, [new Float64Array([1, 0]), new Float64Array([0, 2])]);
  assert.ok(Math.abs(g[0] - -0.1) < 1e-6 && Math.abs(g[1] - (4 - 7)) < 1e-6, `${g}`);
});

test('weight gain factors ζ_c = ‖w_c − μ_c‖² / ⟨w_c − μ_c, ŵ_c − μ̂_c⟩', () => {
  const w = Float32Array.of(3, -3, 1, -1, /* constant */ 1, 1, 1, 1, /* collapsed */ 5, 3, 5, 3, /* noise ⟂ w */ 1, -1, 1, -1);
  const wHat = Float32Array.of(2, -2, 1, -1, 1, 1, 1, 1, 4, 4, 4, 4, 1.5, -0.5, 0.5, -1.5);
  const z = weightGainFactors(w, wHat, 4);
  assert.ok(Math.abs(z[0] - 20 / 14) < 1e-12, `${z[0]}`); // clipped taps: attenuated, ζ > 1
  assert.equal(z[1], 1); // a constant channel keeps its scale
  assert.equal(z[2], 1); // ŵ collapsed to one value: nothing to rescale
  assert.equal(z[3], 1); // zero-mean noise uncorrelated with w: no gain to restore (the spread ratio would give 0.89)
  // a channel left with two nonzero codes: the unit gain would be 4.94 / 2 = 2.47, bounded to 2
  const sparse = weightGainFactors(Float32Array.of(1, -1, 0.7, -0.7, 0.7, -0.7, 0.7, -0.7), Float32Array.of(1, -1, 0, 0, 0, 0, 0, 0), 1);
  assert.equal(sparse[0], 2);
  // 4-bit MSE clipping cuts each channel's one large tap: ζ > 1 on average, and ζ·ŵ projects onto w with unit gain
  const random = rng(3);
  const gw = Float32Array.from({ length: 8 * 27 }, (_, i) => (i % 27 === 5 ? 1 : (random() - 0.5) * 0.4));
  const wq = dequantizeWeights(quantizeWeights(gw, 8, { bits: 4, perChannel: true, method: 'mse' }));
  const zeta = weightGainFactors(gw, wq, 8);
  assert.ok(zeta.reduce((a, b) => a + b, 0) / 8 > 1.01 && zeta.every((v) => v > 0.95 && v < 1.2), `${zeta}`);
  for (let c = 0; c < 8; c++) {
    const row = (a: Float32Array, f: number) => { const r = Array.from(a.subarray(c * 27, (c + 1) * 27), (v) => v * f); const m = r.reduce((x, y) => x + y, 0) / 27; return r.map((v) => v - m); };
    const a = row(gw, 1), b = row(wq, zeta[c]);
    const dot = a.reduce((s, v, i) => s + v * b[i], 0), norm = a.reduce((s, v) => s + v * v, 0);
    assert.ok(Math.abs(dot - norm) < 1e-5 * norm, `channel ${c}: ⟨w, ζŵ⟩ ${dot} vs ‖w‖² ${norm}`);
  }
});
