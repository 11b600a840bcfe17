// Numerical hazards in quantization: NaN/Inf weights, overflowing activations, all-zero layers, constant activations,
// a single calibration image. Never a NaN or zero scale, never a division by zero; bad values are named.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import { loadModel } from '../src/onnx/load';
import { quantizeJob, QuantizeResult } from '../src/pipeline/quantize';
import { readCifar10 } from '../src/data/cifar';
import type { Dataset } from '../src/data/types';
import type { Model } from '../src/graph/ir';
import { scaleAndZeroPoint } from '../src/quant/quantizer';
import { quantizeBias, quantizeWeights } from '../src/quant/weights';
import { StreamingObserver } from '../src/quant/observers';
import { findNonFinite } from '../src/util/finite';
import { argmaxRows } from '../src/data/accuracy';
import { layerHazards } from '../src/util/hazards';
import { MODELS, SHARED, expectInputError, tempDir } from './robust-fixtures';
import * as fs from 'fs';
import { spawnSync } from 'child_process';
import { onnx } from 'onnx-proto';

const PRE = { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const CIFAR = readCifar10(path.join(SHARED, 'data/cifar10/test_batch_first1000_lossless.bin'), { limit: 4 });

function resnet(): Model {
  return loadModel(path.join(MODELS, 'resnet20_cifar10.onnx'));
}

/** Weights of the n-th conv layer (4-D initializer) in file order. */
function convWeight(model: Model, n: number): [string, Float32Array] {
  const [name, t] = [...model.graph.initializers.entries()].filter(([, w]) => w.dims.length === 4)[n];
  return [name, t.data as Float32Array];
}

function uniformImages(count: number, value: number): Dataset {
  return {
    ...CIFAR, count, labels: new Int32Array(count),
    readPixels: (s, e) => new Uint8Array((e - s) * 3 * 32 * 32).fill(value),
    describeImage: (i) => `uniform image ${i}`,
  };
}

async function quantize(model: Model, calibration: Dataset = CIFAR): Promise<QuantizeResult> {
  return quantizeJob({
    model, calibration: { dataset: calibration, preprocess: PRE }, evaluation: { dataset: CIFAR, preprocess: PRE },
    batchSize: 2, calibrationLimit: calibration.count, limit: 2,
  });
}

function assertSaneScales(r: QuantizeResult): void {
  assert.equal(r.layers.length, 20);
  for (const l of r.layers) {
    for (const s of [l.inputScale, l.outputScale, ...l.weightScales]) {
      assert.ok(Number.isFinite(s) && s > 0, `${l.name}: scale ${s}`);
    }
    for (const m of l.multipliers) assert.ok(Number.isInteger(m.m0) && Number.isInteger(m.shift), `${l.name}: multiplier ${JSON.stringify(m)}`);
    assert.ok(!Number.isNaN(l.weightSqnrDb) && !Number.isNaN(l.outputSqnrDb ?? 0), `${l.name}: SQNR ${l.weightSqnrDb} / ${l.outputSqnrDb}`);
  }
  assert.ok(Number.isFinite(r.fp32.accuracy!) && Number.isFinite(r.quantized.accuracy!));
}

test('a NaN or infinite weight is refused, naming the constant and the node that reads it', async () => {
  for (const bad of [NaN, Infinity, -Infinity]) {
    const model = resnet();
    const [name, w] = convWeight(model, 2);
    w[7] = bad;
    w[9] = bad;
    await assert.rejects(quantize(model), (e: Error) => {
      assert.equal(e.name, 'InputError');
      assert.ok(e.message.includes(`constant '${name}' read by Conv node '/layer1/layer1.0/conv2/Conv': 2 of ${w.length} values are NaN or infinite (first: ${bad} at index 7)`), e.message);
      return true;
    });
  }
});

test('weights so large that activations overflow float32 are refused, naming the first non-finite value', async () => {
  const model = resnet();
  convWeight(model, 0)[1].fill(3e38);
  await assert.rejects(quantize(model), /value '.*': calibration saw NaN or infinite activations/);
});

test('an all-zero layer gets a usable scale: no division by zero, its bias stays exact, output SQNR stays high', async () => {
  const model = resnet();
  convWeight(model, 3)[1].fill(0);
  const r = await quantize(model);
  assertSaneScales(r);
  const zero = r.layers.find((l) => l.name === '/layer1/layer1.1/conv1/Conv')!;
  assert.deepEqual([...new Set(zero.weightScales)], [1]);
  assert.equal(zero.weightSqnrDb, Infinity); // zeros are quantized exactly
  assert.ok(zero.outputSqnrDb! > 30, `output SQNR ${zero.outputSqnrDb} dB (a saturated int32 bias gives ~4 dB)`);
  assert.deepEqual(zero.flags, ['16 of 16 output channels have all-zero weight codes']);
  assert.deepEqual(r.layers.filter((l) => l !== zero && l.flags.length > 0).map((l) => l.name), []);
});

test('a layer that only ever sees zeros is flagged in the report, with finite scales', async () => {
  const model = resnet();
  const conv1 = model.graph.nodes.find((n) => n.name === '/conv1/Conv')!;
  for (const name of conv1.inputs.slice(1)) (model.graph.initializers.get(name)!.data as Float32Array).fill(0);
  const r = await quantize(model);
  assertSaneScales(r);
  const flagged = new Map(r.layers.filter((l) => l.flags.length > 0).map((l) => [l.name, l.flags]));
  assert.deepEqual(flagged.get('/conv1/Conv'), [
    '16 of 16 output channels have all-zero weight codes',
    'output range is empty: the layer produced constant activations during calibration',
  ]);
  assert.ok(flagged.get('/layer1/layer1.0/conv1/Conv')!.includes('input range is empty: the layer saw constant activations during calibration'));
});

test('constant activations (uniform images) and a single calibration image give finite, positive scales', async () => {
  for (const calibration of [uniformImages(2, 0), uniformImages(1, 255), uniformImages(1, 128)]) {
    assertSaneScales(await quantize(resnet(), calibration));
  }
  const one = await quantize(resnet(), { ...CIFAR, count: 1, labels: CIFAR.labels.subarray(0, 1) });
  assertSaneScales(one);
  assert.equal(one.calibrationImages, 1);
});

test('quantizer math at the edges: zero ranges, zero weights and biases, NaN ranges', () => {
  for (const [lo, hi] of [[0, 0], [5, 5], [-3, -3], [0, 1e-30]]) {
    for (const symmetric of [true, false]) {
      const p = scaleAndZeroPoint(lo, hi, 8, symmetric);
      assert.ok(Number.isFinite(p.scale) && p.scale > 0, `[${lo}, ${hi}] symmetric=${symmetric}: scale ${p.scale}`);
      assert.ok(Number.isInteger(p.zeroPoint) && p.zeroPoint >= p.qmin && p.zeroPoint <= p.qmax);
    }
  }
  assert.match(expectInputError(() => scaleAndZeroPoint(NaN, 1, 8, false)).message, /not finite/);
  assert.match(expectInputError(() => scaleAndZeroPoint(0, Infinity, 8, true)).message, /not finite/);
  const q = quantizeWeights(new Float32Array(18), 2, { bits: 8, perChannel: true, method: 'mse' });
  assert.deepEqual([...q.scales], [1, 1]);
  assert.deepEqual([...quantizeBias([0.5, -0.26], 2, 0.02, q.scales)], [25, -13]); // b / (s_in · s_w), not saturated
  const obs = new StreamingObserver();
  obs.observe(new Float32Array(100).fill(2));
  assert.equal(obs.min, 2);
  assert.throws(() => new StreamingObserver().observe(new Float32Array([1, NaN])), /NaN or infinite/);
});

test('layerHazards flags saturated biases and accumulators beyond int32', () => {
  const params = { scale: 0.1, zeroPoint: 0, qmin: 0, qmax: 255, bits: 8, signed: false };
  const layer = {
    weights: { codes: new Int32Array([1, 0, 0, 0]), scales: new Float64Array([0.1, 1]), bits: 8, qmin: -127, qmax: 127, perChannel: true },
    outChannels: 2, bias: new Int32Array([2147483647, -5]), inputParams: params, outputParams: params, accumulatorBound: 3e9,
  };
  assert.deepEqual(layerHazards(layer), [
    '1 of 2 output channels have all-zero weight codes',
    '1 bias values saturate int32 (bias / (input scale × weight scale) is too large)',
    'accumulators may reach 3.00e+9, beyond int32',
  ]);
});

test('qinspect eval on a model with a NaN weight warns, naming the constant and its node (ReLU hides the NaN from the logits)', () => {
  const proto = onnx.ModelProto.decode(fs.readFileSync(path.join(MODELS, 'resnet20_cifar10.onnx')));
  const w = proto.graph!.initializer!.find((t) => (t.dims ?? []).length === 4)!;
  const raw = new Uint8Array(w.rawData!);
  new DataView(raw.buffer).setFloat32(0, NaN, true);
  w.rawData = raw;
  const dir = tempDir('nan');
  const file = path.join(dir, 'nan.onnx');
  fs.writeFileSync(file, onnx.ModelProto.encode(proto).finish());
  const root = path.resolve(__dirname, '..');
  if (!fs.existsSync(path.join(root, 'dist', 'cli.js'))) spawnSync(process.execPath, ['scripts/build.js'], { cwd: root });
  const r = spawnSync(process.execPath, [path.join(root, 'bin', 'qinspect'), 'eval', file, '--data', path.join(SHARED, 'data/cifar10/test_batch_first1000_lossless.bin'), '--limit', '2', '--workers', '1'], { encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stderr, /warning: .*nan\.onnx: constant 'onnx::Conv_264' read by Conv node '\/conv1\/Conv': 1 of 432 values are NaN or infinite \(first: NaN at index 0\); the accuracy below is that of a damaged model/);
  assert.match(r.stdout, /top-1/);
});

test('argmax refuses NaN logits instead of answering class 0', () => {
  const logits = { dtype: 'float32' as const, dims: [2, 3], data: new Float32Array([0, 1, 2, 5, NaN, 1]) };
  assert.match(expectInputError(() => argmaxRows(logits, 2)).message, /model output row 1 holds NaN/);
  assert.deepEqual([...argmaxRows({ ...logits, data: new Float32Array([0, 1, 2, 5, -Infinity, 1]) }, 2)], [2, 0]);
});

test('findNonFinite counts NaN and infinities and reports the first', () => {
  assert.equal(findNonFinite(new Float32Array([1, 2, 3])), undefined);
  assert.deepEqual(findNonFinite(new Float32Array([1, Infinity, NaN, -Infinity])), { index: 1, value: Infinity, count: 3 });
});
