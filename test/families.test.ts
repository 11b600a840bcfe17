/**
 * Any CNN a user brings: one trained model per classifier family (test/fixtures/families, built and measured by
 * scripts/models/make_family_models.py), each exported as its exporter writes it (opsets 7..17, NHWC input,
 * unfused BatchNorm, weights in Constant nodes, symbolic H/W, a final Softmax). For each:
 *  - our float engine equals onnxruntime-node on the test images (max |Δ| ≤ 1e-4 of the largest output);
 *  - W8A8 logits are closer to float than PyTorch FX PTQ's (onednn qconfig, same 256 calibration and 1000 test
 *    images): logit SQNR ≥ FX's and ≥ 25 dB; top-1 agreement within 3 images of FX's on each model (one flipped
 *    near-tie image is 0.1 point) and, over all families, at least FX's on average;
 *  - what ran in float is listed, with why.
 * Prints one README table row per model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { loadModel } from '../src/onnx/load';
import { FloatModel } from '../src/engine/float-engine';
import { fitImageShape, imageModel } from '../src/graph/input-shape';
import { openDataset, iterateBatches } from '../src/data';
import type { Preprocess } from '../src/data';
import { quantizeJob } from '../src/pipeline/quantize';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const ort = require('onnxruntime-node');

const DIR = path.resolve(__dirname, 'fixtures/families');
const SHARED = path.resolve(__dirname, '../../shared');

interface Entry {
  name: string; family: string; file: string; opset: number; layout: 'NCHW' | 'NHWC'; input: string; output: string; outputIsSoftmax: boolean;
  fx: { accuracy: number; agreement: number; logitSqnrDb: number; error: string | null };
  floatAccuracyTorch: number;
}
const index = JSON.parse(fs.readFileSync(path.join(DIR, 'index.json'), 'utf8')) as {
  models: Entry[]; mean: number; std: number; calibration: { file: string; count: number }; test: { file: string; count: number };
};
const PRE: Preprocess = { scale: 1 / 255, mean: [index.mean], std: [index.std] };
const ORT_IMAGES = 200;
const rows: string[] = [];
const agreements: { ours: number; fx: number }[] = [];
/** Flipped near-tie images that 1000 test images cannot tell apart from noise: 3 images. */
const AGREEMENT_NOISE_POINTS = 0.3;

async function ortOutput(entry: Entry, input: Float32Array, n: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(path.join(DIR, entry.file));
  const dims = entry.layout === 'NHWC' ? [n, 28, 28, 1] : [n, 1, 28, 28]; // one channel: the same bytes either way
  const out = await session.run({ [entry.input]: new ort.Tensor('float32', input, dims) });
  return out[entry.output].data as Float32Array;
}

for (const entry of index.models) {
  test(`${entry.name} (${entry.family}, opset ${entry.opset}${entry.layout === 'NHWC' ? ', NHWC' : ''}): float = onnxruntime, W8A8 ≥ PyTorch FX`, { timeout: 900_000 }, async () => {
    const calib = openDataset(path.join(SHARED, 'data', index.calibration.file), { limit: index.calibration.count });
    const data = openDataset(path.join(SHARED, 'data', index.test.file), { limit: index.test.count });
    const model = fitImageShape(imageModel(loadModel(path.join(DIR, entry.file))), [data.channels, data.height, data.width], data.source);

    const [batch] = [...iterateBatches({ ...data, count: ORT_IMAGES }, ORT_IMAGES, PRE)];
    const ours = new FloatModel(model).run(batch.input).data as Float32Array;
    const ref = await ortOutput(entry, batch.input.data as Float32Array, ORT_IMAGES);
    assert.equal(ours.length, ref.length);
    let maxDiff = 0, maxRef = 0;
    for (let i = 0; i < ref.length; i++) { maxDiff = Math.max(maxDiff, Math.abs(ours[i] - ref[i])); maxRef = Math.max(maxRef, Math.abs(ref[i])); }
    assert.ok(maxDiff <= 1e-4 * Math.max(1, maxRef), `${entry.name}: max |ours − onnxruntime| = ${maxDiff} (max |output| ${maxRef})`);

    const r = await quantizeJob({ model, calibration: { dataset: calib, preprocess: PRE }, evaluation: { dataset: data, preprocess: PRE }, calibrationLimit: index.calibration.count });
    const ourAgreement = r.quantized.agreement!;
    const fxAgreement = 100 * entry.fx.agreement;
    const floats = r.floatNodes.map((f) => f.op).filter((op, i, all) => all.indexOf(op) === i);
    rows.push(`| ${entry.name} | ${entry.opset} | ${(100 * entry.floatAccuracyTorch).toFixed(1)} | ${maxDiff.toExponential(1)} | ${ourAgreement.toFixed(1)} | ${fxAgreement.toFixed(1)} | ` +
      `${r.logitSqnrDb!.toFixed(1)} | ${entry.fx.logitSqnrDb.toFixed(1)} | ${floats.length ? floats.join(', ') : '—'} |`);
    console.log(rows[rows.length - 1]);
    for (const f of r.floatNodes) console.log(`  float: ${f.name} (${f.op}): ${f.reason}`);
    assert.ok(Math.abs(r.fp32.accuracy! - 100 * entry.floatAccuracyTorch) <= 0.2, `${entry.name}: float top-1 ${r.fp32.accuracy}% vs torch ${100 * entry.floatAccuracyTorch}% on the same images`);
    agreements.push({ ours: ourAgreement, fx: fxAgreement });
    assert.ok(ourAgreement >= fxAgreement - AGREEMENT_NOISE_POINTS, `${entry.name}: W8A8 agreement ${ourAgreement}% < PyTorch FX ${fxAgreement}% by more than ${AGREEMENT_NOISE_POINTS} points`);
    assert.ok(r.logitSqnrDb! >= 25, `${entry.name}: W8A8 logit SQNR ${r.logitSqnrDb} dB < 25 dB`);
    assert.ok(r.logitSqnrDb! >= entry.fx.logitSqnrDb, `${entry.name}: W8A8 logit SQNR ${r.logitSqnrDb} dB < PyTorch FX ${entry.fx.logitSqnrDb} dB`);
    if (entry.outputIsSoftmax) assert.ok(r.softmax, `${entry.name}: metrics are taken on the logits before the Softmax`);
  });
}

test('family table; over all families W8A8 keeps at least as many decisions as PyTorch FX', () => {
  assert.equal(agreements.length, index.models.length, 'every family ran');
  const mean = (k: 'ours' | 'fx') => agreements.reduce((a, x) => a + x[k], 0) / agreements.length;
  console.log(`mean W8A8 agreement: ours ${mean('ours').toFixed(2)}%, PyTorch FX ${mean('fx').toFixed(2)}%`);
  assert.ok(mean('ours') >= mean('fx'), `mean agreement ${mean('ours')}% < PyTorch FX ${mean('fx')}%`);
  console.log(['| model | opset | float top-1 % | max \\|ours − ORT\\| | W8A8 agreement % (ours) | (PyTorch FX) | logit SQNR dB (ours) | (FX) | ran in float |',
    '|---|---|---|---|---|---|---|---|---|', ...rows].join('\n'));
});
