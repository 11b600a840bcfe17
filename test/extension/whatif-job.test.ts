// A what-if through the real worker (src/worker/worker-main.ts in a worker thread, as the controller runs it): the
// sample at W8A8, then the same settings with layer2.1.conv1 at 4-bit weights and layer3.2.conv2 kept in float.
// The job options are the controller's (quantizeJobOptions); the run is read as the controller reads it.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { compareRuns } from '../../src/extension/compare';
import { quantizeJobOptions, quantRunFrom, type RunSettings } from '../../src/extension/results';
import { applyLayerChanges, sameLayerChoices } from '../../src/extension/whatif';
import { JobClient } from '../../src/worker/client';
import type { ModelSummary } from '../../src/worker/summary';

const root = path.resolve(__dirname, '../..');
const model = path.join(root, 'samples/resnet20_cifar10.onnx');
const CONV1_21 = '/layer2/layer2.1/conv1/Conv';
const CONV2_32 = '/layer3/layer3.2/conv2/Conv';

test('a what-if on the sample: per-layer bits and a float layer reach the job, the run is labelled, resumed and comparable with its base', async () => {
  const entry = path.join(root, 'src/worker/worker-main.ts');
  const client = new JobClient({ script: `require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(entry)});`, eval: true });
  try {
    const summary = await client.run<ModelSummary>('summary', { modelPath: model });
    const order = summary.layers.map((l) => l.name);
    assert.ok(order.includes(CONV1_21) && order.includes(CONV2_32));
    const base: RunSettings = {
      weightBits: 8, activationBits: 8, method: 'percentile', granularity: 'per-channel',
      calibrationData: path.join(root, 'samples/cifar10_calib500.bin'), testData: path.join(root, 'samples/cifar10_test500.bin'), calibrationImages: 64, testImages: 100,
    };
    const opts = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
    let t = Date.now();
    const a = quantRunFrom(await client.run('quantize', quantizeJobOptions(model, base, opts)), model, base, (Date.now() - t) / 1000, order);
    const baseSeconds = (Date.now() - t) / 1000;
    const settings = applyLayerChanges(base, [{ layer: CONV1_21, weightBits: 4 }, { layer: CONV2_32, float: true }], order);
    assert.equal(sameLayerChoices(settings, base), false);
    t = Date.now();
    const b = quantRunFrom(await client.run('quantize', quantizeJobOptions(model, settings, opts)), model, settings, (Date.now() - t) / 1000, order);
    console.log(`base ${baseSeconds.toFixed(1)} s, what-if ${b.seconds.toFixed(1)} s; reuse ${JSON.stringify(b.reuse)}; accuracy ${a.quantizedAccuracy} -> ${b.quantizedAccuracy}`);

    assert.equal(a.label, 'W8A8 percentile per-channel');
    assert.equal(b.label, 'W8A8 percentile per-channel + what-if: layer2.1.conv1 W4, layer3.2.conv2 float');
    assert.equal(a.layers.length, 20);
    const conv = b.layers.find((l) => l.name === CONV1_21)!;
    assert.deepEqual([conv.weightBits, conv.activationBits], [4, 8], 'the layer\'s own weight bits');
    assert.equal(b.layers.find((l) => l.name === CONV2_32), undefined, 'a layer kept in float has no integer numbers');
    assert.equal(b.layers.length, 19);
    for (const l of b.layers.filter((l) => l.name !== CONV1_21)) assert.deepEqual([l.weightBits, l.name], [8, l.name]);
    assert.ok(conv.weightSqnrDb! < a.layers.find((l) => l.name === CONV1_21)!.weightSqnrDb! - 15, 'W4 weights lose about 4 bits × 6 dB');
    // the worker reused the base run's calibration and float pass, and resumed the integer passes after the start
    assert.equal(b.reuse?.calibrationReused, true);
    assert.equal(b.reuse?.floatPassReused, 100);
    assert.ok(b.reuse?.resumedAt?.evaluation, `resumed: ${JSON.stringify(b.reuse?.resumedAt)}`);
    assert.notEqual(b.reuse!.resumedAt!.evaluation, '/conv1/Conv');
    // compared with its base decision by decision (same test images)
    const c = compareRuns(a, b, order);
    assert.equal(c.comparable.ok, true);
    assert.equal(c.decisions!.images, 100);
    assert.equal(c.decisions!.floatDiffers, 0, 'the same float model and inputs');
    const d = c.layers.find((l) => l.name === CONV1_21)!;
    assert.ok(d.weightSqnrDb! < -15, `ΔSQNR of the weights ${d.weightSqnrDb}`);
    assert.equal(c.layers.find((l) => l.name === CONV2_32)!.b, undefined);
    // layers before the first changed one are untouched
    assert.equal(c.layers[0].outputSqnrDb, 0);
  } finally {
    await client.dispose();
  }
});
