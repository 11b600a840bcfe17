import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  accuracyByBits, comparability, compareDecisions, compareRuns, deltaQuality, formatDeltaDb, formatRatio, layerDeltas, rightWrong, scaleRatio, weightScaleChange,
} from '../../src/extension/compare';
import { quantRunFrom, type QuantRun, type RunSettings } from '../../src/extension/results';

/** Numbers rounded to 9 significant digits (ratios of decimal scales are not exact in binary). */
const r9 = <T>(v: T): T => JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'number' ? Number(x.toPrecision(9)) : x)));

const settings = (bits: number, over: Partial<RunSettings> = {}): RunSettings => ({
  weightBits: bits, activationBits: bits, method: 'percentile', granularity: 'per-channel', calibrationData: '/d/calib.bin', testData: '/d/test.bin', calibrationImages: 128, testImages: 10, ...over,
});

// ten test images; labels would be 0..9 — the float model gets 9 of them (image 9 says 0)
const FLOAT = [0, 1, 2, 3, 4, 5, 6, 7, 8, 0];
function run(bits: number, quantized: number[], raw: Record<string, unknown> = {}, over: Partial<RunSettings> = {}): QuantRun {
  return quantRunFrom({ predictions: { float: FLOAT, quantized }, ...raw }, '/m.onnx', settings(bits, over), 1);
}

const W8 = run(8, [0, 1, 2, 3, 4, 5, 6, 7, 8, 0], {
  fp32: { accuracy: 90 }, quantized: { accuracy: 90, agreement: 100 }, logitSqnrDb: 31.5,
  layers: [
    { name: '/conv1/Conv', weightBits: 8, activationBits: 8, weightScales: [0.01, 0.02, 0.04], inputScale: 0.0187, outputScale: 0.0279, weightSqnrDb: 45, outputSqnrDb: 38.4, localSqnrDb: 38.4 },
    { name: '/layer1/conv/Conv', weightBits: 8, activationBits: 8, weightScales: [0.005], inputScale: 0.02, outputScale: 0.05, weightSqnrDb: 44, outputSqnrDb: 30, localSqnrDb: 36 },
    { name: '/linear/Gemm', weightBits: 8, activationBits: 8, weightScales: [0.1, 0.3], outputSqnrDb: 31 },
  ],
});
const W4 = run(4, [0, 1, 9, 3, 4, 2, 6, 7, 8, 5], {
  fp32: { accuracy: 90 }, quantized: { accuracy: 70, agreement: 70 }, logitSqnrDb: 9.25,
  layers: [
    { name: '/conv1/Conv', weightBits: 4, activationBits: 4, weightScales: [0.17, 0.34, 0.68], inputScale: 0.3179, outputScale: 0.4743, weightSqnrDb: 21, outputSqnrDb: 14.4, localSqnrDb: 14.4 },
    { name: '/layer1/conv/Conv', weightBits: 4, activationBits: 4, weightScales: [0.085], inputScale: 0.34, outputScale: 0.85, weightSqnrDb: 20, outputSqnrDb: 4, localSqnrDb: 12 },
    { name: '/linear/Gemm', weightBits: 4, activationBits: 4, weightScales: [1.2], outputSqnrDb: 8 },
  ],
});

test('flipped decisions: the images where the two runs\' quantized top-1 differ, with the float top-1 beside them', () => {
  const d = compareDecisions(W8, W4)!;
  assert.equal(d.images, 10);
  assert.deepEqual(d.flipped, [
    { image: 2, a: 2, b: 9, float: 2 },
    { image: 5, a: 5, b: 2, float: 5 },
    { image: 9, a: 0, b: 5, float: 0 },
  ]);
  assert.deepEqual(d.flippedAgreeFloat, { a: 3, b: 0 });
  assert.equal(d.floatDiffers, 0);
  // symmetric apart from the sides
  assert.deepEqual(compareDecisions(W4, W8)!.flipped.map((f) => [f.image, f.a, f.b]), [[2, 9, 2], [5, 2, 5], [9, 5, 0]]);
  assert.deepEqual(compareDecisions(W8, W8)!.flipped, []);
});

test('right and wrong per run from its accuracy over its images; none without labels', () => {
  assert.deepEqual(rightWrong(W8), { right: 9, wrong: 1 });
  assert.deepEqual(rightWrong(W4), { right: 7, wrong: 3 });
  assert.equal(rightWrong({ ...W4, labelled: false }), undefined);
  assert.equal(rightWrong({ ...W4, quantizedAccuracy: undefined }), undefined);
  // 500 images at 91.4 % → 457 right
  assert.deepEqual(rightWrong({ ...W4, predictions: undefined, quantizedAccuracy: 91.4, settings: settings(4, { testImages: 500 }) }), { right: 457, wrong: 43 });
});

test('runs compare only on the same test data and image count, and only with per-image decisions', () => {
  assert.deepEqual(comparability(W8, W4), { ok: true, images: 10 });
  const other = run(4, FLOAT, {}, { testData: '/d/other.bin' });
  assert.deepEqual(comparability(W8, other), { ok: false, reason: 'the runs used different test data (/d/test.bin vs /d/other.bin)' });
  const fewer = quantRunFrom({ predictions: { float: FLOAT.slice(0, 8), quantized: FLOAT.slice(0, 8) } }, '/m.onnx', settings(4), 1);
  assert.deepEqual(comparability(W8, fewer), { ok: false, reason: 'the runs used different numbers of test images (10 vs 8)' });
  const old = { ...W4, predictions: undefined };
  const c = comparability(W8, old);
  assert.equal(c.ok, false);
  assert.match((c as { reason: string }).reason, /run B kept no per-image decisions/);
  assert.equal(compareDecisions(W8, old), undefined);
  assert.equal(compareDecisions(W8, other), undefined);
  // same data path but different float decisions: the inputs were not the same (e.g. preprocessing changed)
  const shifted = quantRunFrom({ predictions: { float: [1, 1, 2, 3, 4, 5, 6, 7, 8, 0], quantized: FLOAT } }, '/m.onnx', settings(4), 1);
  assert.equal(compareDecisions(W8, shifted)!.floatDiffers, 1);
});

test('per layer: ΔSQNR (accumulated and local, B − A), scale ratios B / A, weight scales channel by channel', () => {
  const [conv1, l1, fc] = layerDeltas(['/conv1/Conv', '/layer1/conv/Conv', '/linear/Gemm'], W8, W4);
  assert.equal(conv1.outputSqnrDb, 14.4 - 38.4);
  assert.equal(conv1.localSqnrDb, 14.4 - 38.4);
  assert.equal(conv1.weightSqnrDb, -24);
  assert.ok(Math.abs(conv1.inputScale! - 17) < 1e-9, String(conv1.inputScale));
  assert.ok(Math.abs(conv1.outputScale! - 17) < 1e-9);
  assert.deepEqual(r9(conv1.weightScale), { a: 0.02, b: 0.34, median: 17, min: 17, max: 17, by: 'channels' });
  assert.equal(l1.outputSqnrDb, -26);
  assert.equal(l1.localSqnrDb, -24);
  assert.deepEqual(r9(l1.weightScale), { a: 0.005, b: 0.085, median: 17, min: 17, max: 17, by: 'channels' });
  // per-channel (2 channels) against per-tensor (1): median against median
  assert.deepEqual(r9(fc.weightScale), { a: 0.2, b: 1.2, median: 6, min: 6, max: 6, by: 'medians' });
  assert.equal(fc.localSqnrDb, undefined, 'not measured in A');
  assert.equal(fc.inputScale, undefined);
  const missing = layerDeltas(['/gone/Conv'], W8, W4)[0];
  assert.equal(missing.a, undefined);
  assert.equal(missing.outputSqnrDb, undefined);
  assert.deepEqual(r9(weightScaleChange([0.1, 0.2, 0.3, 0.4], [0.1, 0.6, 0.3, 0.8])), { a: 0.25, b: 0.45, median: 1.5, min: 1, max: 3, by: 'channels' });
  assert.equal(scaleRatio(0, 1), undefined);
  assert.equal(scaleRatio(0.5, 2), 4);
});

test('the whole comparison: accuracy, agreement and logit SQNR changes, worst layers first', () => {
  const c = compareRuns(W8, W4);
  assert.equal(c.accuracy, -20);
  assert.equal(c.agreement, -30);
  assert.equal(c.logitSqnrDb, 9.25 - 31.5);
  assert.deepEqual(c.rightWrong, { a: { right: 9, wrong: 1 }, b: { right: 7, wrong: 3 } });
  assert.equal(c.decisions!.flipped.length, 3);
  assert.deepEqual(c.worstLayers.map((l) => [l.name, l.outputSqnrDb]), [['/layer1/conv/Conv', -26], ['/conv1/Conv', -24], ['/linear/Gemm', -23]]);
});

test('formatting and colour bands of the changes', () => {
  assert.equal(formatDeltaDb(-23.04), '−23.0 dB');
  assert.equal(formatDeltaDb(0.26), '+0.3 dB');
  assert.equal(formatDeltaDb(undefined), '—');
  assert.equal(formatRatio(16.94), '×16.9');
  assert.equal(formatRatio(0.5234), '×0.52');
  assert.equal(formatRatio(undefined), '—');
  assert.deepEqual([3, 0.5, -0.9, -3, -6, -7, undefined].map(deltaQuality), ['better', 'same', 'same', 'fair', 'fair', 'poor', 'unknown']);
});

test('accuracy vs bits across the kept runs: one point per bit setting and family, the newest, fewest bits first', () => {
  const at = (r: QuantRun, t: string) => ({ ...r, finishedAt: t });
  const points = accuracyByBits([
    at(W4, '2024-01-03T00:00:00Z'),
    at({ ...W8, quantizedAccuracy: 89 }, '2024-01-01T00:00:00Z'),
    at(W8, '2024-01-02T00:00:00Z'),
    at({ ...W4, settings: settings(4, { method: 'mse' }), quantizedAccuracy: 80 }, '2024-01-04T00:00:00Z'),
    at({ ...W8, settings: settings(8, { weightBits: 8, activationBits: 6 }), quantizedAccuracy: 85, labelled: false }, '2024-01-05T00:00:00Z'),
  ]);
  assert.deepEqual(points.map((p) => [p.weightBits, p.activationBits, p.family, p.accuracy, p.agreement, p.runs]), [
    [4, 4, 'mse per-channel', 80, 70, 1],
    [4, 4, 'percentile per-channel', 70, 70, 1],
    [8, 6, 'percentile per-channel', undefined, 100, 1],
    [8, 8, 'percentile per-channel', 90, 100, 2],
  ]);
});
