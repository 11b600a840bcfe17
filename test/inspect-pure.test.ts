import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorAccumulator, compareTensors, describeRmseOverScale, rmseOverScale, UNIFORM_ROUNDING_RMSE_OVER_SCALE } from '../src/inspect/metrics';
import { StatsAccumulator, StreamingHistogram, ClipCounter, channelRanges, tensorStats } from '../src/inspect/stats';
import { layerDataflow, signedBitsFor } from '../src/inspect/dataflow';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

test('metrics: SQNR, MSE, cosine, max error of a known pair', () => {
  const ref = [1, 2, 3, 4];
  const q = [1, 2, 3, 5];
  const m = compareTensors(ref, q);
  assert.equal(m.mse, 0.25);
  assert.equal(m.maxAbsError, 1);
  assert.ok(Math.abs(m.sqnrDb - 10 * Math.log10(30 / 1)) < 1e-12);
  assert.ok(Math.abs(m.cosine - 34 / Math.sqrt(30 * 39)) < 1e-12);
  assert.equal(compareTensors([1, 2], [1, 2]).sqnrDb, Infinity);
});

test('metrics: streaming over chunks equals one pass, merge equals add', () => {
  const r = lcg(1);
  const ref = Array.from({ length: 1000 }, () => r() * 2 - 1);
  const q = ref.map((v) => v + (r() - 0.5) * 0.01);
  const whole = compareTensors(ref, q);
  const a = new ErrorAccumulator().add(ref.slice(0, 300), q.slice(0, 300));
  const b = new ErrorAccumulator().add(ref.slice(300), q.slice(300));
  const merged = a.merge(b).result();
  assert.ok(Math.abs(merged.sqnrDb - whole.sqnrDb) < 1e-9);
  assert.ok(Math.abs(merged.mse - whole.mse) < 1e-15);
  assert.equal(merged.count, 1000);
});

test('metrics: uniform rounding of a smooth signal gives rmse/scale ≈ 1/sqrt(12)', () => {
  const r = lcg(7);
  const s = 0.05;
  const x = Array.from({ length: 20000 }, () => r() * 10 - 5);
  const q = x.map((v) => Math.round(v / s) * s); // q = round(x / s) · s
  const m = compareTensors(x, q);
  const ratio = rmseOverScale(m.rmse, s);
  assert.ok(Math.abs(ratio - UNIFORM_ROUNDING_RMSE_OVER_SCALE) < 0.01, `ratio ${ratio}`);
  assert.match(describeRmseOverScale(ratio), /healthy/);
  assert.match(describeRmseOverScale(ratio * 10), /dominate/);
});

test('stats: moments, 3-sigma share, clipping share', () => {
  const values = [-2, -1, 0, 1, 2, 10];
  const s = new StatsAccumulator().add(values.slice(0, 2)).add(values.slice(2)).result();
  const mean = 10 / 6;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / 6;
  assert.ok(Math.abs(s.mean - mean) < 1e-12);
  assert.ok(Math.abs(s.std - Math.sqrt(variance)) < 1e-12);
  assert.equal(s.min, -2);
  assert.equal(s.max, 10);
  assert.ok(Math.abs(s.sigma3ShareOfRange - Math.min(1, (6 * Math.sqrt(variance)) / 12)) < 1e-12);
  const c = new ClipCounter(-1.5, 5).add(values);
  assert.deepEqual(c.counts(), { below: 1, above: 1, total: 6 });
  assert.ok(Math.abs(c.clippedShare() - 2 / 6) < 1e-12);
});

test('stats: streaming histogram keeps every value when its range grows both ways', () => {
  const h = new StreamingHistogram(8);
  h.add([0, 1, 2, 3]).add([-40]).add([100, 55]);
  const d = h.result();
  assert.equal(d.total, 7);
  assert.equal(d.counts.reduce((a, b) => a + b, 0), 7);
  assert.ok(d.low <= -40 && d.high > 100);
  const width = (d.high - d.low) / 8;
  const binOf = (v: number) => Math.floor((v - d.low) / width);
  assert.equal(d.counts[binOf(-40)] >= 1, true);
  assert.equal(d.counts[binOf(100)] >= 1, true);
  assert.equal(tensorStats([]).count, 0);
});

test('stats: per-channel spread and bits lost with one per-tensor scale', () => {
  // 3 channels with max |w| of 1, 0.25 and 0.0625 → spread 16, worst channel loses log2(16) = 4 bits
  const w = [1, -0.5, 0.25, 0.1, -0.0625, 0.01];
  const r = channelRanges(w, 3);
  assert.deepEqual(r.absMax, [1, 0.25, 0.0625]);
  assert.equal(r.spread, 16);
  assert.equal(r.worstBitsLost, 4);
  assert.equal(r.worstChannel, 2);
  assert.ok(Math.abs(r.meanBitsLost - 2) < 1e-12);
});

test('dataflow: bit widths of an 8-bit 3x3x16 conv', () => {
  assert.equal(signedBitsFor({ min: -128, max: 127 }), 8);
  assert.equal(signedBitsFor({ min: 0, max: 255 }), 9);
  assert.equal(signedBitsFor({ min: -32640, max: 32385 }), 16);
  const K = 3 * 3 * 16;
  const codes = new Int8Array(2 * K).fill(1);
  codes[0] = -127;
  const d = layerDataflow({
    name: 'conv', op: 'Conv', accumulationTerms: K,
    input: { bits: 8, scale: 0.02, zeroPoint: 0, qmin: 0, qmax: 255 },
    weight: { bits: 8, qmin: -127, qmax: 127, scales: [0.01, 0.02], codes },
    biasCodes: [100, -300],
    requant: { multipliers: [0.5, 0.25], m0: [1073741824, 1073741824], shift: [0, -1] },
    output: { bits: 8, scale: 0.04, zeroPoint: -128, qmin: -128, qmax: 127 },
    activation: { kind: 'Relu', clampMin: -128, clampMax: 127 },
    maxAccumulatorSeen: 5000,
  });
  // (q_x − z_x) in [0, 255] times q_w in [−127, 127]: products in [−32385, 32385] → 16 bits
  assert.equal(d.productBits, 16);
  assert.equal(d.accumulatorBitsFormula, 16 + Math.ceil(Math.log2(K)));
  // channel 0 reaches −127·255 at its most negative, channel 1 (all ones) K·255 at its most positive
  const acc = d.steps.find((s) => s.stage === 'accumulate')!;
  assert.deepEqual(acc.range, { min: -127 * 255, max: K * 255 });
  assert.equal(d.accumulatorBitsThisLayer, signedBitsFor({ min: -127 * 255, max: K * 255 }));
  assert.equal(d.headroomBits, 32 - signedBitsFor({ min: -127 * 255 - 300, max: K * 255 + 100 }));
  assert.ok(d.fitsInt32);
  assert.match(acc.explanation, /K = 144/);
  const req = d.steps.find((s) => s.stage === 'requantize')!;
  assert.match(req.explanation, /right shift by 0\.\.1 bits/);
  const act = d.steps.find((s) => s.stage === 'activation')!;
  assert.match(act.explanation, /code of 0\.0 is the zero point -128/);
});
