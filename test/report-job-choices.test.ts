// The report job honours a run's per-layer choices: the sample's report with one layer at 4-bit weights (the options
// as the host builds them, reportJobOptions) against the same run at 8 bits everywhere, read from the Markdown table.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { reportJobOptions, type RunSettings } from '../src/extension/results';
import { reportWorkerJob } from '../src/worker/report-job';

const root = path.resolve(__dirname, '..');
const model = path.join(root, 'samples/resnet20_cifar10.onnx');
const LAYER = '/layer2/layer2.1/conv1/Conv';
const OTHER = '/layer2/layer2.1/conv2/Conv';
const ctx = { onProgress: () => {}, checkCancelled: () => {} };

const base: RunSettings = {
  weightBits: 8, activationBits: 8, method: 'percentile', granularity: 'per-channel',
  calibrationData: path.join(root, 'samples/cifar10_calib500.bin'), testData: path.join(root, 'samples/cifar10_test500.bin'),
  calibrationImages: 16, testImages: 16,
};

/** The layer table's row of a layer: W/A bits and weight SQNR (dB) as the Markdown report prints them. */
function layerRow(markdown: string, layer: string): { bits: string; weightSqnrDb: number } {
  const short = layer.replace(/^\//, '').replace(/\/Conv$/, '');
  const line = markdown.split('\n').find((l) => l.startsWith(`| ${short} |`) && /\| \d+\/\d+ \|/.test(l));
  assert.ok(line, `no layer-table row for ${short}`);
  const cells = line.split('|').map((c) => c.trim());
  return { bits: cells[3], weightSqnrDb: Number(cells[4]) };
}

test('report job: layerWeightBits {layer: 4} gives that layer 4-bit weights in the report, the others stay at 8', async () => {
  const at8 = await reportWorkerJob(reportJobOptions(model, base, {}), ctx);
  const mixed = await reportWorkerJob(reportJobOptions(model, { ...base, layerWeightBits: { [LAYER]: 4 } }, {}), ctx);
  const before = layerRow(at8.markdown, LAYER), after = layerRow(mixed.markdown, LAYER);
  console.log(`${LAYER}: ${before.bits} ${before.weightSqnrDb} dB -> ${after.bits} ${after.weightSqnrDb} dB`);
  assert.equal(before.bits, '8/8');
  assert.equal(after.bits, '4/8');
  assert.ok(Number.isFinite(before.weightSqnrDb) && Number.isFinite(after.weightSqnrDb));
  assert.ok(before.weightSqnrDb - after.weightSqnrDb > 15, `4-bit weights lose about 24 dB of weight SQNR (${before.weightSqnrDb} -> ${after.weightSqnrDb})`);
  assert.deepEqual(layerRow(mixed.markdown, OTHER), layerRow(at8.markdown, OTHER), 'another layer is unchanged');
  assert.deepEqual(mixed.layerChoices, [`${LAYER} W4`]);
  assert.deepEqual(at8.layerChoices, []);
  assert.match(mixed.markdown, /Per-layer choices \(1 layer; the others at W8A8\): \/layer2\/layer2\.1\/conv1\/Conv W4\./);
  assert.match(mixed.html, /<p class="qi-meta" id="layer-choices">Per-layer choices \(1 layer; the others at W8A8\): \/layer2\/layer2\.1\/conv1\/Conv W4\.<\/p>/);
  assert.doesNotMatch(at8.markdown, /Per-layer choices/);
});

test('report job: a layer kept in float leaves the layer table and is named; malformed choices are refused', async () => {
  const r = await reportWorkerJob(reportJobOptions(model, { ...base, floatLayers: [LAYER], layerActivationBits: { [OTHER]: 6 } }, {}), ctx);
  const short = LAYER.replace(/^\//, '').replace(/\/Conv$/, '');
  assert.equal(r.markdown.split('\n').some((l) => l.startsWith(`| ${short} |`) && /\| \d+\/\d+ \|/.test(l)), false, 'the float layer has no integer row');
  assert.equal(layerRow(r.markdown, OTHER).bits, '8/6');
  assert.deepEqual(r.layerChoices, [`${OTHER} A6`, `${LAYER} kept in float`]);
  await assert.rejects(reportWorkerJob({ ...reportJobOptions(model, base, {}), layerWeightBits: { [LAYER]: 40 } }, ctx), /bits of layer/);
  await assert.rejects(reportWorkerJob({ ...reportJobOptions(model, base, {}), floatLayers: 'conv1' }, ctx), /floatLayers/);
});
