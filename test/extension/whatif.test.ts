// The editor's what-if, pure parts: per-layer changes merged into a base run's settings, the label of a what-if run,
// what the pending list shows, the webview message that asks for a what-if, the job's reuse report, and what-if runs
// left out of the accuracy-vs-bits points. Layer names are the embedded sample's (ResNet-20, 20 conv / linear layers).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accuracyByBits } from '../../src/extension/compare';
import { MAX_WHATIF_CHANGES, parseWebviewMessage } from '../../src/extension/messages';
import { quantRunFrom, reuseFrom, runLabel, type RunSettings } from '../../src/extension/results';
import { normalizeRun } from '../../src/extension/store';
import {
  applyLayerChanges, choicesLabel, hasLayerChoices, layerBitsIn, layerChoiceList, pendingList, sameLayerChoices, shortLayerName,
} from '../../src/extension/whatif';

/** The sample's layers in model order, as `qinspect info samples/resnet20_cifar10.onnx` lists them. */
const LAYERS = [
  '/conv1/Conv',
  ...[1, 2, 3].flatMap((s) => [0, 1, 2].flatMap((b) => [`/layer${s}/layer${s}.${b}/conv1/Conv`, `/layer${s}/layer${s}.${b}/conv2/Conv`])),
  '/linear/Gemm',
];
const CONV1_21 = '/layer2/layer2.1/conv1/Conv';
const CONV2_32 = '/layer3/layer3.2/conv2/Conv';

/** The settings of the UI test's W8A8 run (128 calibration / 200 test images of the sample). */
const W8A8: RunSettings = {
  weightBits: 8, activationBits: 8, method: 'percentile', granularity: 'per-channel',
  calibrationData: '/ws/cifar10_calib500.bin', testData: '/ws/cifar10_test500.bin', calibrationImages: 128, testImages: 200,
};

test('the sample has 20 layers with their module names', () => {
  assert.equal(LAYERS.length, 20);
  assert.equal(shortLayerName(CONV1_21), 'layer2.1.conv1');
  assert.equal(shortLayerName(CONV2_32), 'layer3.2.conv2');
  assert.equal(shortLayerName('/conv1/Conv'), 'conv1');
  assert.equal(shortLayerName('/linear/Gemm'), 'linear');
  assert.equal(shortLayerName('conv_without_scope'), 'conv_without_scope');
});

test('a what-if keeps every setting of the base run and adds the per-layer maps, in model order', () => {
  const s = applyLayerChanges(W8A8, [{ layer: CONV2_32, float: true }, { layer: CONV1_21, weightBits: 4 }], LAYERS);
  assert.deepEqual(s, { ...W8A8, layerWeightBits: { [CONV1_21]: 4 }, floatLayers: [CONV2_32] });
  assert.equal(W8A8.layerWeightBits, undefined, 'the base settings are not changed');
  assert.equal(runLabel(s, LAYERS), 'W8A8 percentile per-channel + what-if: layer2.1.conv1 W4, layer3.2.conv2 float');
  assert.equal(runLabel(W8A8), 'W8A8 percentile per-channel', 'a run without choices is named as before');
  assert.deepEqual(layerBitsIn(s, CONV1_21), { weightBits: 4, activationBits: 8, float: false });
  assert.deepEqual(layerBitsIn(s, CONV2_32), { weightBits: 8, activationBits: 8, float: true });
  assert.deepEqual(layerBitsIn(s, '/conv1/Conv'), { weightBits: 8, activationBits: 8, float: false });
  // activation bits of a layer, and both of another: 'W4 A6'
  const t = applyLayerChanges(W8A8, [{ layer: '/linear/Gemm', activationBits: 6 }, { layer: '/layer1/layer1.0/conv1/Conv', weightBits: 3, activationBits: 6 }], LAYERS);
  assert.deepEqual(t.layerWeightBits, { '/layer1/layer1.0/conv1/Conv': 3 });
  assert.deepEqual(Object.keys(t.layerActivationBits!), ['/layer1/layer1.0/conv1/Conv', '/linear/Gemm'], 'model order, not the order of the changes');
  assert.equal(runLabel(t, LAYERS), 'W8A8 percentile per-channel + what-if: layer1.0.conv1 W3 A6, linear A6');
});

test('a what-if of a what-if: choices add up; back to the global bits or out of float drops a choice', () => {
  const first = applyLayerChanges(W8A8, [{ layer: CONV1_21, weightBits: 4 }, { layer: CONV2_32, float: true }], LAYERS);
  const second = applyLayerChanges(first, [{ layer: '/layer3/layer3.0/conv2/Conv', activationBits: 6 }], LAYERS);
  assert.equal(runLabel(second, LAYERS), 'W8A8 percentile per-channel + what-if: layer2.1.conv1 W4, layer3.0.conv2 A6, layer3.2.conv2 float');
  const back = applyLayerChanges(second, [{ layer: CONV1_21, weightBits: 8 }, { layer: CONV2_32, float: false }, { layer: '/layer3/layer3.0/conv2/Conv', activationBits: 8 }], LAYERS);
  assert.deepEqual(back, W8A8, 'every choice undone: the base settings exactly, without empty maps');
  assert.equal(hasLayerChoices(back), false);
  assert.equal(sameLayerChoices(back, W8A8), true);
  assert.equal(sameLayerChoices(first, W8A8), false);
  // a layer moved to float loses its bits choices; out of float again it has the global bits
  const floated = applyLayerChanges(first, [{ layer: CONV1_21, float: true }], LAYERS);
  assert.deepEqual(floated.layerWeightBits, undefined);
  assert.deepEqual(floated.floatLayers, [CONV1_21, CONV2_32]);
  assert.equal(choicesLabel(floated, LAYERS), 'layer2.1.conv1 float, layer3.2.conv2 float');
});

test('a label names at most four layers, then how many more', () => {
  const s = applyLayerChanges(W8A8, LAYERS.slice(1, 7).map((layer) => ({ layer, weightBits: 4 })), LAYERS);
  assert.equal(runLabel(s, LAYERS), 'W8A8 percentile per-channel + what-if: layer1.0.conv1 W4, layer1.0.conv2 W4, layer1.1.conv1 W4, layer1.1.conv2 W4, and 2 more');
  assert.equal(layerChoiceList(s, LAYERS).length, 6);
});

test('stored settings are read defensively: malformed maps count as no choice', () => {
  const odd = { ...W8A8, layerWeightBits: { [CONV1_21]: 4, '/x': 40, '/y': 'four' }, layerActivationBits: 'A6', floatLayers: [CONV2_32, 7] } as unknown as RunSettings;
  assert.deepEqual(layerChoiceList(odd, LAYERS), [{ layer: CONV1_21, weightBits: 4 }, { layer: CONV2_32, float: true }]);
  assert.equal(runLabel(odd, LAYERS), 'W8A8 percentile per-channel + what-if: layer2.1.conv1 W4, layer3.2.conv2 float');
  // an older stored run gets its label from its settings
  const stored = normalizeRun({ modelPath: '/m.onnx', settings: applyLayerChanges(W8A8, [{ layer: CONV2_32, float: true }]), layers: [], finishedAt: '2026-01-01T00:00:00.000Z', seconds: 1 });
  assert.equal(stored.label, 'W8A8 percentile per-channel + what-if: layer3.2.conv2 float');
});

test('the pending list shows only what changes the shown run', () => {
  assert.deepEqual(pendingList(W8A8, [{ layer: CONV2_32, float: true }, { layer: CONV1_21, weightBits: 4 }, { layer: '/conv1/Conv', weightBits: 8 }], LAYERS), [
    { layer: CONV1_21, text: 'W4' },
    { layer: CONV2_32, text: 'float' },
  ]);
  const shown = applyLayerChanges(W8A8, [{ layer: CONV1_21, weightBits: 4 }, { layer: CONV2_32, float: true }], LAYERS);
  assert.deepEqual(pendingList(shown, [{ layer: CONV2_32, float: false }, { layer: CONV1_21, weightBits: 4, activationBits: 6 }, { layer: '/linear/Gemm', float: true, weightBits: 2 }], LAYERS), [
    { layer: CONV1_21, text: 'A6' },
    { layer: CONV2_32, text: 'back in integers (W8 A8)' },
    { layer: '/linear/Gemm', text: 'float' },
  ]);
  assert.deepEqual(pendingList(shown, [{ layer: CONV2_32, float: true }, { layer: CONV1_21, weightBits: 4 }], LAYERS), [], 'nothing new');
});

test('whatIf messages: the kept base run and the model\'s layers only, bits 2..16, rebuilt field by field', () => {
  const layers = new Set(LAYERS);
  const runs = new Set(['mfz3k2-0a1b2c', 'mfz3k9-7x8y9z']);
  const ok = { type: 'whatIf', baseRun: 'mfz3k2-0a1b2c', changes: [{ layer: CONV1_21, weightBits: 4, extra: 'x' }, { layer: CONV2_32, float: true }], path: '/etc/passwd' };
  assert.deepEqual(parseWebviewMessage(ok, layers, runs), { type: 'whatIf', baseRun: 'mfz3k2-0a1b2c', changes: [{ layer: CONV1_21, weightBits: 4 }, { layer: CONV2_32, float: true }] });
  assert.deepEqual(parseWebviewMessage({ type: 'whatIf', baseRun: 'mfz3k9-7x8y9z', changes: [{ layer: '/linear/Gemm', activationBits: 16, float: false }] }, layers, runs),
    { type: 'whatIf', baseRun: 'mfz3k9-7x8y9z', changes: [{ layer: '/linear/Gemm', activationBits: 16, float: false }] });
  assert.equal(parseWebviewMessage(ok, layers), undefined, 'without the kept run ids no what-if gets through');
  const bad: unknown[] = [
    { ...ok, baseRun: 'gone' },
    { ...ok, baseRun: 7 },
    { ...ok, changes: [] },
    { ...ok, changes: {} },
    { ...ok, changes: [{ layer: '/layer2/layer2.1/conv9/Conv', weightBits: 4 }] },
    { ...ok, changes: [{ layer: CONV1_21, weightBits: 1 }] },
    { ...ok, changes: [{ layer: CONV1_21, weightBits: 17 }] },
    { ...ok, changes: [{ layer: CONV1_21, weightBits: 4.5 }] },
    { ...ok, changes: [{ layer: CONV1_21, weightBits: '4' }] },
    { ...ok, changes: [{ layer: CONV1_21, activationBits: NaN }] },
    { ...ok, changes: [{ layer: CONV1_21, float: 'yes' }] },
    { ...ok, changes: [{ layer: CONV1_21 }] },
    { ...ok, changes: [{ layer: CONV1_21, weightBits: 4 }, { layer: CONV1_21, float: true }] },
    { ...ok, changes: [null] },
    { ...ok, changes: [[CONV1_21, 4]] },
    { ...ok, changes: [Object.create({ layer: CONV1_21, weightBits: 4 })] },
    { ...ok, changes: JSON.parse(`[{"__proto__": {"layer": "${CONV1_21}"}, "weightBits": 4}]`) },
    { ...ok, changes: Array.from({ length: MAX_WHATIF_CHANGES + 1 }, () => ({ layer: CONV1_21, weightBits: 4 })) },
  ];
  for (const m of bad) assert.equal(parseWebviewMessage(m, layers, runs), undefined, JSON.stringify(m)?.slice(0, 160));
});

test('the job\'s reuse report: where the integer passes resumed, calibration and float pass reused, its own time', () => {
  // as the worker's quantize job reports a what-if on the sample (layer2.1.conv1 W4 after a W8A8 run)
  const job = {
    seconds: 0.84, calibrationReused: true, floatPassReused: 200,
    resumedAt: { biasCorrection: '/layer2/layer2.1/conv1/Conv', evaluation: '/layer2/layer2.0/Relu_1' },
    quantized: { accuracy: 90.5, agreement: 97.5 }, fp32: { accuracy: 91 },
    layers: [{ name: CONV1_21, op: 'Conv', weightBits: 4, activationBits: 8, weightScales: [0.0213, 0.0188] }],
  };
  const s = applyLayerChanges(W8A8, [{ layer: CONV1_21, weightBits: 4 }], LAYERS);
  const run = quantRunFrom(job, '/ws/resnet20_cifar10.onnx', s, 1.2, LAYERS);
  assert.equal(run.label, 'W8A8 percentile per-channel + what-if: layer2.1.conv1 W4');
  assert.deepEqual(run.reuse, { resumedAt: { biasCorrection: '/layer2/layer2.1/conv1/Conv', evaluation: '/layer2/layer2.0/Relu_1' }, calibrationReused: true, floatPassReused: 200, pipelineSeconds: 0.84 });
  assert.equal(run.seconds, 1.2);
  assert.equal(run.layers[0].weightBits, 4);
  assert.deepEqual(reuseFrom({ calibrationReused: false, floatPassReused: 0 }), { calibrationReused: false, floatPassReused: 0 });
  assert.deepEqual(reuseFrom({ resumedAt: { evaluation: 5, biasCorrection: '' } }), undefined);
  assert.equal(reuseFrom('x'), undefined);
});

test('what-if runs are no point of the accuracy-vs-bits plot (they have no one bit setting)', () => {
  const plain = quantRunFrom({ quantized: { accuracy: 91.5, agreement: 99 } }, '/m.onnx', W8A8, 6);
  const whatIf = quantRunFrom({ quantized: { accuracy: 88, agreement: 95 } }, '/m.onnx', applyLayerChanges(W8A8, [{ layer: CONV1_21, weightBits: 4 }]), 1);
  const points = accuracyByBits([{ ...whatIf, finishedAt: '2026-01-02T00:00:00Z' }, { ...plain, finishedAt: '2026-01-01T00:00:00Z' }]);
  assert.deepEqual(points.map((p) => [p.weightBits, p.activationBits, p.accuracy, p.runs]), [[8, 8, 91.5, 1]]);
});
