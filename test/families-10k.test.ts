// Two freshly trained family models (not the ones the defaults were tuned on) on all 10,000 Fashion-MNIST test
// images: our W8A8 keeps at least as many float top-1 decisions as PyTorch FX PTQ (measured on the same images) and
// its logits are closer to float.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { openDataset } from '../src/data';
import { loadModel } from '../src/onnx/load';
import { quantizeJob } from '../src/pipeline/quantize';

const SHARED = path.resolve(__dirname, '../../shared');
const DIR = path.join(__dirname, 'fixtures/families10k');
const PRE = { scale: 1 / 255, mean: [0.286], std: [0.353] };

for (const name of ['resnet', 'regnet']) {
  test(`${name} (retrained): W8A8 agreement on 10,000 test images ≥ PyTorch FX's, logit SQNR above it`, async (t) => {
    const meta = JSON.parse(fs.readFileSync(path.join(DIR, `${name}.json`), 'utf8'));
    const testFile = path.join(SHARED, 'data', meta.test.file);
    if (!fs.existsSync(testFile)) return t.skip(`${testFile} missing`);
    assert.equal(meta.test.count, 10000);
    const r = await quantizeJob({
      model: loadModel(path.join(DIR, `${name}.onnx`)),
      calibration: { dataset: openDataset(path.join(SHARED, 'data', meta.calibration.file), { limit: meta.calibration.count }), preprocess: PRE },
      evaluation: { dataset: openDataset(testFile), preprocess: PRE },
      calibrationLimit: meta.calibration.count,
      batchSize: 100,
    });
    assert.equal(r.images, 10000);
    assert.ok(Math.abs(r.fp32.accuracy! / 100 - meta.floatAccuracyTorch) < 0.002, `float ${r.fp32.accuracy}% vs torch ${meta.floatAccuracyTorch}`);
    assert.ok(r.quantized.agreement! / 100 >= meta.fx.agreement, `agreement ours ${r.quantized.agreement}% vs FX ${100 * meta.fx.agreement}%`);
    assert.ok(r.logitSqnrDb! > meta.fx.logitSqnrDb, `logit SQNR ours ${r.logitSqnrDb} dB vs FX ${meta.fx.logitSqnrDb} dB`);
  });
}
