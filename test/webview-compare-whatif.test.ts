// The comparison's layer table carries the what-if controls (webview/compare.ts with webview/whatif.ts, on the small
// DOM of webview-dom-stub.ts): every row has W / A / float for its layer, showing run B's bits, and a what-if made
// there starts from run B (not the shown run) and is sent to the host with B's id.
import { posted, stubDocument, StubElement, StubEvent } from './webview-dom-stub';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { loadModel } from '../src/onnx/load';
import { summarizeModel } from '../src/worker/summary';
import type { LayerResult, QuantRun, RunSettings } from '../src/extension/results';
import { compareTable } from '../webview/compare';
import { page } from '../webview/state';
import { applyWhatIf, baseRun, pendingItems, refreshWhatIf } from '../webview/whatif';

const summary = summarizeModel(loadModel(path.resolve(__dirname, '../samples/resnet20_cifar10.onnx')));
const names = summary.layers.map((l) => l.name);
const W4_LAYER = '/layer2/layer2.1/conv1/Conv';
const FLOAT_LAYER = '/layer3/layer3.2/conv2/Conv';

const base: RunSettings = { weightBits: 8, activationBits: 8, method: 'percentile', granularity: 'per-channel', calibrationData: 'calib.bin', calibrationImages: 64, testImages: 100 };

function runOf(id: string, settings: RunSettings): QuantRun {
  const layers: LayerResult[] = names.filter((n) => !settings.floatLayers?.includes(n)).map((name) => ({
    name, op: 'Conv', weightBits: settings.layerWeightBits?.[name] ?? settings.weightBits, activationBits: settings.activationBits, weightScales: [0.01], outputSqnrDb: 30, localSqnrDb: 35, outputScale: 0.1,
  }));
  return { id, label: id, modelPath: 'm.onnx', settings, layers, finishedAt: '2025-01-01T00:00:00Z', seconds: 1 } as QuantRun;
}

const A = runOf('run-a', base);
const B = runOf('run-b', { ...base, layerWeightBits: { [W4_LAYER]: 4 }, floatLayers: [FLOAT_LAYER] });

function showComparison(): StubElement {
  // the page shows run A (the user picked it with Show) while comparing A with B
  page.model = { fileName: 'm.onnx', modelPath: 'm.onnx', summary, run: A, runs: [B, A], code: [] };
  page.state = { shownRun: 'run-a', compare: { a: 'run-a', b: 'run-b', on: true } };
  const table = compareTable(() => {}) as unknown as StubElement;
  stubDocument.body.replaceChildren(table);
  return table;
}

const control = (row: StubElement, field: string) => row.querySelector(`[data-whatif-field="${field}"]`)!;

test('every row of the comparison has the what-if controls for its layer, showing run B\'s choices', () => {
  const table = showComparison();
  assert.equal(baseRun()?.id, 'run-b', 'while comparing, the what-if starts from run B');
  const heads = table.querySelectorAll('th').map((h) => h.textContent);
  assert.equal(heads.at(-1), 'what-if on B (W / A / float)');
  const rows = table.querySelectorAll('tr[data-layer]');
  assert.equal(rows.length, names.length);
  for (const row of rows) {
    const layer = row.getAttribute('data-layer')!;
    const group = row.querySelector('.whatif-controls.whatif-compare')!;
    assert.ok(group, `${layer} has controls`);
    assert.equal(group.getAttribute('role'), 'group');
    for (const field of ['weightBits', 'activationBits', 'float']) assert.equal(control(row, field).getAttribute('data-whatif-layer'), layer);
    assert.match(control(row, 'weightBits').id, /^whatif-compare-w-\d+$/, 'ids apart from the normal table\'s');
  }
  const row = (layer: string) => rows.find((r) => r.getAttribute('data-layer') === layer)!;
  assert.equal(control(row(W4_LAYER), 'weightBits').value, '4', 'B\'s W4');
  assert.equal(control(row(names[0]), 'weightBits').value, '8');
  assert.equal(control(row(FLOAT_LAYER), 'float').checked, true, 'B keeps it in float');
  assert.equal(control(row(FLOAT_LAYER), 'weightBits').disabled, true);
});

test('a what-if from the comparison is made on run B: its choices kept, the change against B, B\'s id sent', () => {
  const table = showComparison();
  const row = table.querySelectorAll('tr[data-layer]').find((r) => r.getAttribute('data-layer') === names[1])!;
  const select = control(row, 'activationBits');
  select.value = '6';
  select.dispatchEvent(new StubEvent('change'));
  assert.deepEqual(page.state.whatIf, { [names[1]]: { activationBits: 6 } });
  assert.deepEqual(pendingItems(), [{ layer: names[1], text: 'A6' }]);
  // back to B's own W4 on its W4 layer is no change; 8 bits there is one (against B, not the shown run A)
  const w4 = control(table.querySelectorAll('tr[data-layer]').find((r) => r.getAttribute('data-layer') === W4_LAYER)!, 'weightBits');
  w4.value = '4';
  w4.dispatchEvent(new StubEvent('change'));
  assert.equal(pendingItems().length, 1);
  w4.value = '8';
  w4.dispatchEvent(new StubEvent('change'));
  assert.deepEqual(new Set(pendingItems().map((p) => `${p.layer} ${p.text}`)), new Set([`${names[1]} A6`, `${W4_LAYER} W8`]));
  refreshWhatIf();
  assert.equal(row.classList.contains('whatif-pending'), true, 'the row is marked pending');
  assert.ok(applyWhatIf());
  const sent = posted.at(-1) as { type: string; baseRun: string; changes: unknown[] };
  assert.equal(sent.type, 'whatIf');
  assert.equal(sent.baseRun, 'run-b');
  assert.deepEqual(new Set(sent.changes.map((c) => JSON.stringify(c))), new Set([JSON.stringify({ layer: names[1], activationBits: 6 }), JSON.stringify({ layer: W4_LAYER, weightBits: 8 })]));
});

test('without a comparison the what-if starts from the shown run again', () => {
  showComparison();
  page.state = { shownRun: 'run-a' };
  assert.equal(baseRun()?.id, 'run-a');
});
