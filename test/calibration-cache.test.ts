// Calibration statistics are kept per model + images + observer options and reused across bit widths: a reused run
// gives exactly the numbers of a fresh one, and different images under the same file name are never confused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { openDataset } from '../src/data';
import type { Dataset } from '../src/data/types';
import { loadModel } from '../src/onnx/load';
import { quantizeJob, type QuantizeResult } from '../src/pipeline/quantize';
import { clearCalibrationCache } from '../src/pipeline/calibration-cache';

const SAMPLES = path.join(__dirname, '..', 'samples');
const MODEL = path.join(SAMPLES, 'resnet20_cifar10.onnx');
const pre = { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

function run(calib: Dataset, bits: number): Promise<QuantizeResult> {
  return quantizeJob({
    model: loadModel(MODEL), // a fresh load each time, as the CLI does per command
    calibration: { dataset: calib, preprocess: pre },
    evaluation: { dataset: openDataset(path.join(SAMPLES, 'cifar10_test500.bin'), { limit: 60 }), preprocess: pre },
    quant: { weightBits: bits, activationBits: bits },
    batchSize: 20,
  });
}

const numbers = (r: QuantizeResult) => ({ agreement: r.quantized.agreement, logit: r.logitSqnrDb, layers: r.layers.map((l) => [l.outputScale, l.outputSqnrDb, l.maxAccumulator]) });

test('calibration is reused across bit widths with the same numbers as a fresh calibration', async () => {
  const calib = () => openDataset(path.join(SAMPLES, 'cifar10_calib500.bin'), { limit: 60 });
  clearCalibrationCache();
  const fresh4 = await run(calib(), 4);
  clearCalibrationCache();
  const w8 = await run(calib(), 8);
  assert.equal(w8.calibrationReused, false);
  const w4 = await run(calib(), 4);
  assert.equal(w4.calibrationReused, true, 'the W8A8 run calibrated these images already');
  assert.deepEqual(numbers(w4), numbers(fresh4));
  assert.equal(w4.calibrationImages, 60);
  assert.ok(w8.logitSqnrDb! > w4.logitSqnrDb! + 6, `W8 ${w8.logitSqnrDb} dB vs W4 ${w4.logitSqnrDb} dB`);
});

test('other images under the same file name, or another image count, calibrate afresh', async () => {
  clearCalibrationCache();
  const real = openDataset(path.join(SAMPLES, 'cifar10_calib500.bin'), { limit: 40 });
  await run(real, 8);
  const inverted: Dataset = { ...real, readPixels: (s, e) => real.readPixels(s, e).map((v) => 255 - v) };
  const other = await run(inverted, 8);
  assert.equal(other.calibrationReused, false, 'same source name, different pixels');
  const more = await run(openDataset(path.join(SAMPLES, 'cifar10_calib500.bin'), { limit: 41 }), 8);
  assert.equal(more.calibrationReused, false, 'one image more');
  const again = await run(openDataset(path.join(SAMPLES, 'cifar10_calib500.bin'), { limit: 40 }), 8);
  assert.equal(again.calibrationReused, false, 'only the 2 most recent calibrations are kept');
});
