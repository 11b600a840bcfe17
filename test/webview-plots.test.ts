// The editor's plots, without a browser: what each plot shows (SQNR across depth, accuracy vs bits over the kept
// runs, the sensitivity ranking), the keyboard readout, and that uPlot's stylesheet in media/ is the installed one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { quantRunFrom, type QuantRun, type RunSettings } from '../src/extension/results';
import { accuracyBitsPlot, readout, sensitivityPlot, sqnrDepthPlot } from '../webview/plots-model';

const ROOT = path.resolve(__dirname, '..');
const settings = (w: number, a = w, method = 'percentile'): RunSettings => ({
  weightBits: w, activationBits: a, method, granularity: 'per-channel', calibrationData: '/c.bin', testData: '/t.bin', calibrationImages: 128, testImages: 200,
});
const run = (s: RunSettings, raw: Record<string, unknown>, finishedAt: string): QuantRun => ({ ...quantRunFrom(raw, '/m.onnx', s, 1), finishedAt });

const LAYERS = ['/conv1/Conv', '/layer1/layer1.0/conv1/Conv', '/linear/Gemm'];
const W8 = run(settings(8), {
  fp32: { accuracy: 91 }, quantized: { accuracy: 91.4, agreement: 99.2 },
  layers: [{ name: '/conv1/Conv', outputSqnrDb: 38.4, localSqnrDb: 38.4 }, { name: '/layer1/layer1.0/conv1/Conv', outputSqnrDb: 33.1, localSqnrDb: 36.2 }, { name: '/linear/Gemm', outputSqnrDb: 31 }],
}, '2024-01-01T00:00:00Z');
const W4 = run(settings(4), {
  fp32: { accuracy: 91 }, quantized: { accuracy: 80.8, agreement: 83.2 },
  layers: [{ name: '/conv1/Conv', outputSqnrDb: 14.2, localSqnrDb: 14.2 }, { name: '/layer1/layer1.0/conv1/Conv', outputSqnrDb: 9.5, localSqnrDb: 12.25 }, { name: '/linear/Gemm', outputSqnrDb: 7 }],
}, '2024-01-02T00:00:00Z');
const moduleName = (l: string) => l.split('/').filter(Boolean).slice(0, -1).pop() ?? l;

test('SQNR across depth: accumulated and local per layer in model order; A and B while comparing', () => {
  const one = sqnrDepthPlot(LAYERS, [{ tag: '', run: W8 }], moduleName)!;
  assert.deepEqual(one.x, [1, 2, 3]);
  assert.deepEqual(one.xNames, ['#1 conv1', '#2 conv1', '#3 linear']);
  assert.deepEqual(one.series.map((s) => [s.label, s.kind, s.values]), [
    ['accumulated', 'line', [38.4, 33.1, 31]],
    ['local', 'dashed', [38.4, 36.2, null]],
  ]);
  const two = sqnrDepthPlot(LAYERS, [{ tag: 'A', run: W8 }, { tag: 'B', run: W4 }])!;
  assert.deepEqual(two.series.map((s) => [s.label, s.color, s.values[1]]), [
    ['accumulated (A)', 0, 33.1], ['local (A)', 0, 36.2], ['accumulated (B)', 1, 9.5], ['local (B)', 1, 12.25],
  ]);
  assert.equal(readout(two, 1), '#2 /layer1/layer1.0/conv1/Conv: accumulated (A) 33.1 dB · local (A) 36.2 dB · accumulated (B) 9.5 dB · local (B) 12.3 dB');
  assert.equal(readout(two, 3), '');
  assert.equal(sqnrDepthPlot(LAYERS, []), undefined);
  assert.equal(sqnrDepthPlot(LAYERS, [{ tag: '', run: { ...W8, layers: [] } }]), undefined, 'no numbers, no plot');
});

test('accuracy vs bits over the kept runs: x is the bit width, a line per method; float as reference', () => {
  const mse4 = run(settings(4, 4, 'mse'), { fp32: { accuracy: 91 }, quantized: { accuracy: 84, agreement: 86 } }, '2024-01-03T00:00:00Z');
  const p = accuracyBitsPlot([mse4, W4, W8])!;
  assert.deepEqual(p.x, [4, 8]);
  assert.deepEqual(p.xNames, ['W4A4', 'W8A8']);
  assert.equal(p.xLabel, 'bits (weights = activations)');
  assert.deepEqual(p.series.map((s) => [s.label, s.values]), [
    ['quantized accuracy (mse per-channel)', [84, null]],
    ['top-1 agreement (mse per-channel)', [86, null]],
    ['quantized accuracy (percentile per-channel)', [80.8, 91.4]],
    ['top-1 agreement (percentile per-channel)', [83.2, 99.2]],
    ['float accuracy', [91, 91]],
  ]);
  // one method: plain labels; a mixed setting (W8A4) makes x the settings in order
  const mixed = accuracyBitsPlot([W8, run(settings(8, 4), { quantized: { accuracy: 88, agreement: 95 } }, '2024-01-04T00:00:00Z')])!;
  assert.deepEqual(mixed.x, [1, 2]);
  assert.deepEqual(mixed.xNames, ['W8A4', 'W8A8']);
  assert.equal(mixed.series[0].label, 'quantized accuracy');
  // label-free data: agreement only
  const free = accuracyBitsPlot([{ ...W8, labelled: false }])!;
  assert.deepEqual(free.series.map((s) => s.label), ['top-1 agreement']);
  assert.equal(accuracyBitsPlot([]), undefined);
});

test('sensitivity ranking: Δacc per layer, most costly first, logit SQNR on the right axis', () => {
  const p = sensitivityPlot([
    { layer: '/conv1/Conv', deltaAccuracy: -0.5, sqnrDb: 20.5 },
    { layer: '/linear/Gemm', deltaAccuracy: 0.25 },
    { layer: '/layer1/layer1.0/conv1/Conv', deltaAccuracy: -3, sqnrDb: 12 },
  ], moduleName)!;
  assert.deepEqual(p.xNames, ['#1 conv1', '#2 conv1', '#3 linear']);
  assert.deepEqual(p.series.map((s) => [s.kind, s.scale ?? 'y', s.values]), [['bars', 'y', [-3, -0.5, 0.25]], ['points', 'y2', [12, 20.5, null]]]);
  assert.equal(readout(p, 0), '#1 conv1: Δacc (this layer alone) -3.00 pts · logit SQNR (this layer alone) 12.0 dB');
  assert.equal(sensitivityPlot([]), undefined);
  assert.equal(sensitivityPlot(undefined), undefined);
});

test('media/uplot.min.css is the installed uplot\'s stylesheet (the webview loads it from media/ under the CSP)', () => {
  const shipped = fs.readFileSync(path.join(ROOT, 'media/uplot.min.css'), 'utf8').replace(/^\/\*[^\n]*\*\/\n/, '').trim();
  const installed = fs.readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8').trim();
  assert.equal(shipped, installed);
  const version = JSON.parse(fs.readFileSync(require.resolve('uplot/package.json'), 'utf8')).version;
  assert.match(fs.readFileSync(path.join(ROOT, 'media/uplot.min.css'), 'utf8'), new RegExp(`uPlot ${version.replace(/\./g, '\\.')} `));
  const js = fs.readFileSync(require.resolve('uplot'), 'utf8');
  assert.ok(!/\beval\s*\(|new\s+Function\s*\(/.test(js), 'uPlot evaluates no strings');
});
