import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_RUNS, ResultStore } from '../../src/extension/store';
import { packClasses, predictionsFrom, quantRunFrom, runLabel, unpackClasses, type QuantRun, type RunSettings } from '../../src/extension/results';

/** workspaceState as VS Code implements it: JSON values, update(undefined) removes the key. */
function memento(initial: Record<string, unknown> = {}) {
  const data = new Map(Object.entries(initial).map(([k, v]) => [k, JSON.stringify(v)]));
  return {
    data,
    get<T>(key: string, fallback?: T): T | undefined {
      return data.has(key) ? (JSON.parse(data.get(key)!) as T) : fallback;
    },
    async update(key: string, value: unknown): Promise<void> {
      if (value === undefined) data.delete(key);
      else data.set(key, JSON.stringify(value));
    },
    keys: () => [...data.keys()],
  };
}

const settings = (bits: number, method = 'percentile'): RunSettings => ({
  weightBits: bits, activationBits: bits, method, granularity: 'per-channel', calibrationData: '/d/calib.bin', testData: '/d/test.bin', calibrationImages: 128, testImages: 200,
});

function run(bits: number, finishedAt: string): QuantRun {
  return { ...quantRunFrom({ quantized: { accuracy: 90 - (8 - bits) * 2 }, layers: [{ name: '/conv1/Conv' }] }, '/m.onnx', settings(bits), 1), finishedAt };
}

test('every run is kept, newest first, capped at MAX_RUNS; run() is the newest', async () => {
  const m = memento();
  const store = new ResultStore(m as never);
  assert.equal(store.run('/m.onnx'), undefined);
  assert.deepEqual(store.runs('/m.onnx'), []);
  const a = await store.addRun('/m.onnx', run(8, '2024-01-01T00:00:00.000Z'));
  const b = await store.addRun('/m.onnx', run(4, '2024-01-01T00:01:00.000Z'));
  assert.notEqual(a.id, b.id);
  assert.equal(a.label, 'W8A8 percentile per-channel');
  assert.deepEqual(store.runs('/m.onnx').map((r) => r.label), ['W4A4 percentile per-channel', 'W8A8 percentile per-channel']);
  assert.equal(store.run('/m.onnx')!.id, b.id);
  assert.deepEqual(store.modelsWithRuns(), ['/m.onnx']);
  for (let i = 0; i < MAX_RUNS + 5; i++) await store.addRun('/m.onnx', run(2 + (i % 7), `2024-01-02T00:00:${String(i).padStart(2, '0')}.000Z`));
  const kept = store.runs('/m.onnx');
  assert.equal(kept.length, MAX_RUNS);
  assert.equal(kept[0].finishedAt, `2024-01-02T00:00:${MAX_RUNS + 4}.000Z`, 'newest first');
  assert.ok(!kept.some((r) => r.id === a.id || r.id === b.id), 'the oldest went first');
  assert.equal(new Set(kept.map((r) => r.id)).size, MAX_RUNS, 'ids unique');
});

test('setRun replaces the kept run with the same id (sensitivity merged into the newest), removeRun forgets one', async () => {
  const store = new ResultStore(memento() as never);
  const a = await store.addRun('/m.onnx', run(8, '2024-01-01T00:00:00.000Z'));
  const b = await store.addRun('/m.onnx', run(4, '2024-01-01T00:01:00.000Z'));
  const newest = store.run('/m.onnx')!;
  newest.layers[0].deltaAccuracy = -1.5;
  await store.setRun('/m.onnx', newest);
  assert.equal(store.runs('/m.onnx').length, 2);
  assert.equal(store.run('/m.onnx')!.layers[0].deltaAccuracy, -1.5);
  assert.equal(store.runs('/m.onnx')[1].layers[0].deltaAccuracy, undefined);
  assert.equal(await store.removeRun('/m.onnx', b.id!), true);
  assert.equal(await store.removeRun('/m.onnx', 'nope'), false);
  assert.equal(store.run('/m.onnx')!.id, a.id);
  assert.equal(await store.removeRun('/m.onnx', a.id!), true);
  assert.equal(store.run('/m.onnx'), undefined);
  assert.deepEqual(store.modelsWithRuns(), []);
});

test('a single run stored by an older version still loads, gets an id and a label, and joins the list', async () => {
  const old = { modelPath: '/m.onnx', settings: settings(8, 'minmax'), layers: [], finishedAt: '2023-05-01T10:00:00.000Z', seconds: 3, quantizedAccuracy: 91 };
  const m = memento({ 'run:/m.onnx': old, 'run:/broken.onnx': { modelPath: 5 } });
  const store = new ResultStore(m as never);
  const loaded = store.run('/m.onnx')!;
  assert.equal(loaded.id, 'run-2023-05-01T10:00:00.000Z');
  assert.equal(loaded.label, 'W8A8 minmax per-channel');
  assert.equal(loaded.quantizedAccuracy, 91);
  assert.equal(store.run('/m.onnx')!.id, loaded.id, 'the same id every time it loads');
  assert.equal(store.run('/broken.onnx'), undefined);
  assert.deepEqual(store.modelsWithRuns(), ['/m.onnx']);
  // sensitivity merged into the old run replaces it in place
  await store.setRun('/m.onnx', { ...loaded, seconds: 4 });
  assert.equal(store.runs('/m.onnx').length, 1);
  assert.equal(store.run('/m.onnx')!.seconds, 4);
  assert.equal(m.data.has('run:/m.onnx'), false, 'the old key is gone once the list holds it');
  await store.addRun('/m.onnx', run(4, '2024-01-01T00:00:00.000Z'));
  assert.deepEqual(store.runs('/m.onnx').map((r) => r.label), ['W4A4 percentile per-channel', 'W8A8 minmax per-channel']);
});

test('per-image predictions are kept packed: 1 byte per image for ≤ 256 classes, 2 for ImageNet, exact round trip', () => {
  const classes = [0, 3, 9, 9, 1, 255];
  const packed = packClasses(classes)!;
  assert.match(packed, /^u8:/);
  assert.equal(packed, `u8:${Buffer.from(classes).toString('base64')}`);
  assert.deepEqual(unpackClasses(packed), classes);
  const imagenet = [999, 0, 512, 65535];
  assert.match(packClasses(imagenet)!, /^u16:/);
  assert.deepEqual(unpackClasses(packClasses(imagenet)), imagenet);
  assert.deepEqual(unpackClasses(packClasses([70000, 1])), [70000, 1]);
  const many = Array.from({ length: 10000 }, (_, i) => (i * 7) % 10);
  const p = packClasses(many)!;
  assert.ok(p.length < 13400, `10,000 images in ${p.length} characters`);
  assert.deepEqual(unpackClasses(p), many);
  assert.deepEqual(unpackClasses(packClasses([])), []);
  for (const bad of [[1.5], [-1], [NaN], ['3' as unknown as number]]) assert.equal(packClasses(bad), undefined, JSON.stringify(bad));
  for (const bad of [undefined, 5, 'u8', 'u8:***', 'u16:AA==', 'u7:AA==', 'x:AA==']) assert.equal(unpackClasses(bad), undefined, String(bad));
  assert.equal(predictionsFrom({ float: [1, 2], quantized: [1] }), undefined, 'lengths differ');
  assert.equal(predictionsFrom({ float: [1, 2] }), undefined);
  assert.deepEqual(predictionsFrom({ float: new Int32Array([1, 2]), quantized: [1, 3] }), { float: 'u8:AQI=', quantized: 'u8:AQM=' });
});

test('quantRunFrom keeps the job\'s predictions, a label and an id', () => {
  const r = quantRunFrom({ quantized: { accuracy: 50, agreement: 75 }, predictions: { float: [1, 2, 3, 4], quantized: [1, 2, 0, 4] }, layers: [] }, '/m.onnx', settings(4, 'mse'), 2);
  assert.equal(r.label, 'W4A4 mse per-channel');
  assert.equal(r.label, runLabel(r.settings));
  assert.match(r.id!, /^[0-9a-z]+-[0-9a-z]{6}$/);
  assert.deepEqual(unpackClasses(r.predictions!.float), [1, 2, 3, 4]);
  assert.deepEqual(unpackClasses(r.predictions!.quantized), [1, 2, 0, 4]);
  assert.equal(quantRunFrom({ layers: [] }, '/m.onnx', settings(8), 1).predictions, undefined, 'an older worker without predictions');
});
