import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isInsideFolders, parseWebviewMessage } from '../../src/extension/messages';
import { contentSecurityPolicy, makeNonce } from '../../src/extension/html';
import { accuracyDrop, layerErrorLine, lensTitle, quantRunFrom, sqnrQuality, type RunSettings } from '../../src/extension/results';

const settings: RunSettings = { weightBits: 8, activationBits: 8, method: 'minmax', granularity: 'per-channel', calibrationData: '/d/c.bin', calibrationImages: 64, testImages: 100 };

test('quantize job JSON becomes a run; malformed fields are dropped, not guessed', () => {
  const run = quantRunFrom(
    {
      fp32: { accuracy: 91.5 },
      quantized: { accuracy: 91.25, agreement: 98.9 },
      layers: [
        { name: '/conv1/Conv', op: 'Conv', weightBits: 8, activationBits: 8, weightScales: new Float32Array([0.5, 0.25]), inputScale: 0.02, outputScale: 0.04, outputZeroPoint: [3], weightSqnrDb: 40.25, outputSqnrDb: 31.24, weightHistogram: { low: -1, high: 1, counts: [1, 2, 3] } },
        { name: 42 },
        { name: '/linear/Gemm', weightBits: 'eight', outputSqnrDb: NaN },
      ],
    },
    '/m.onnx',
    settings,
    1.5,
  );
  assert.equal(run.layers.length, 2);
  assert.deepEqual(run.layers[0].weightScales, [0.5, 0.25]);
  assert.equal(run.layers[0].outputZeroPoint, 3);
  assert.deepEqual(run.layers[0].weightHistogram, { low: -1, high: 1, counts: [1, 2, 3] });
  assert.equal(run.layers[1].weightBits, 0);
  assert.equal(run.layers[1].outputSqnrDb, undefined);
  assert.equal(accuracyDrop(run), 91.25 - 91.5);
  assert.equal(lensTitle('conv1', 1, [run.layers[0]]), 'conv1 · W8A8 · SQNR 31.2 dB');
  assert.equal(lensTitle('conv1', 9, []), 'conv1 ×9 · not quantized yet');
  assert.equal(lensTitle('conv1', 2, [{ ...run.layers[0], outputSqnrDb: 20.04, deltaAccuracy: -0.5 }, { ...run.layers[0], deltaAccuracy: -0.1 }]), 'conv1 ×2 · W8A8 · SQNR 20.0–31.2 dB · Δacc −0.50 pts');
  assert.equal(layerErrorLine(run.layers[0]), 'W8A8 · output SQNR 31.2 dB · weight SQNR 40.3 dB');
  assert.deepEqual([35, 25, 5, undefined].map(sqnrQuality), ['good', 'fair', 'poor', 'unknown']);
});

test('webview messages are validated: known types, known layers only', () => {
  const layers = new Set(['/conv1/Conv']);
  assert.deepEqual(parseWebviewMessage({ type: 'revealLayer', layer: '/conv1/Conv' }, layers), { type: 'revealLayer', layer: '/conv1/Conv' });
  assert.equal(parseWebviewMessage({ type: 'revealLayer', layer: '/etc/passwd' }, layers), undefined);
  assert.equal(parseWebviewMessage({ type: 'revealLayer', layer: 5 }, layers), undefined);
  assert.deepEqual(parseWebviewMessage({ type: 'command', command: 'quantize' }, layers), { type: 'command', command: 'quantize' });
  assert.equal(parseWebviewMessage({ type: 'command', command: 'workbench.action.terminal.new' }, layers), undefined);
  assert.equal(parseWebviewMessage({ type: 'eval', code: '1' }, layers), undefined);
  for (const bad of [null, 'ready', [], 3]) assert.equal(parseWebviewMessage(bad, layers), undefined);
});

test('paths are checked against the workspace folders', () => {
  assert.equal(isInsideFolders('/ws/a/model.py', ['/ws']), true);
  assert.equal(isInsideFolders('/ws', ['/ws']), true);
  assert.equal(isInsideFolders('/ws/../etc/passwd', ['/ws']), false);
  assert.equal(isInsideFolders('/ws-other/x.py', ['/ws']), false, 'sibling with the same prefix');
  assert.equal(isInsideFolders('/other/x.py', ['/a', '/other']), true);
});

test('CSP allows scripts only with a fresh nonce and nothing remote', () => {
  const a = makeNonce();
  assert.notEqual(a, makeNonce());
  assert.match(a, /^[A-Za-z0-9]{16,}$/);
  const csp = contentSecurityPolicy('https://file+.vscode-resource.vscode-cdn.net', a);
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, new RegExp(`script-src 'nonce-${a}'(;|$)`));
  assert.doesNotMatch(csp, /unsafe-eval|unsafe-inline|https?:\/\/\*/);
});
