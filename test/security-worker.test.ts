// Hostile model files opened through the extension's real job worker: each is reported as an InputError, the same
// worker stays alive for the next job, and a heap blow-up is a reported crash with a fresh worker after it.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { InputError } from '../src/util/errors';
import { JobClient, WorkerCrashError } from '../src/worker/client';
import type { ModelSummary } from '../src/worker/summary';
import { MODELS, encodeModel, lengthField, tempDir, tinyModel, varint } from './robust-fixtures';

const ROOT = path.resolve(__dirname, '..');
const dir = tempDir('worker');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function realWorker(options: { resourceLimits?: { maxOldGenerationSizeMb?: number } } = {}): JobClient {
  const entry = path.join(ROOT, 'src/worker/worker-main.ts');
  const script = `require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(entry)});`;
  return new JobClient({ script, eval: true, ...options });
}

function write(name: string, bytes: Uint8Array): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

test('hostile models through the real worker: InputErrors, one worker for all of them, then a normal job', async () => {
  const secret = path.join(dir, 'secret.bin');
  fs.writeFileSync(secret, new Uint8Array(16));
  fs.mkdirSync(path.join(dir, 'models'));
  const outside = tinyModel({
    name: 'W', dims: [2, 2], dataType: 1, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [{ key: 'location', value: '../secret.bin' }],
  });
  let deep: Uint8Array = new Uint8Array();
  for (let i = 0; i < 200; i++) deep = lengthField(1, lengthField(5, lengthField(6, deep)));
  const hostile: [string, Uint8Array, RegExp][] = [
    ['models/outside.onnx', encodeModel(outside), /external data location '\.\.\/secret\.bin' which contains '\.\.'/],
    ['deep.onnx', lengthField(7, deep), /nested deeper than 64 levels/],
    ['huge-length.onnx', Uint8Array.from([...varint(7 * 8 + 2), ...varint(2 ** 31), 0]), /declares 2147483648 bytes but only 1 remain/],
    ['huge-tensor.onnx', encodeModel(tinyModel({ name: 'W', dims: [65536, 65536, 65536], dataType: 1 })), /over the limit of \d+ \(setting quantInspector\.maxTensorElements\)/],
    ['truncated.onnx', fs.readFileSync(path.join(MODELS, 'resnet20_cifar10.onnx')).subarray(0, 5000), /truncated or corrupt/],
  ];
  const client = realWorker();
  try {
    for (const [name, bytes, expected] of hostile) {
      const file = write(name, bytes);
      await assert.rejects(client.run('summary', { modelPath: file }), (e: Error) => {
        assert.ok(e instanceof InputError, `${name}: ${e.name}: ${e.message}`);
        assert.match(e.message, expected);
        return true;
      });
    }
    await assert.rejects(
      client.run('summary', { modelPath: path.join(MODELS, 'resnet20_cifar10.onnx'), maxModelSizeMB: 0.5 }),
      (e: Error) => e instanceof InputError && /over the limit of 0\.5 MB \(setting quantInspector\.maxModelSizeMB/.test(e.message),
    );
    const summary = await client.run<ModelSummary>('summary', { modelPath: path.join(MODELS, 'resnet20_cifar10.onnx') });
    assert.equal(summary.layers.length, 20);
    assert.equal(client.startedWorkers, 1, 'no hostile file took the worker down');
  } finally {
    await client.dispose();
  }
});

test('a worker that runs out of heap is reported as a crash and replaced by a fresh one', async () => {
  // 3 million empty nodes pass the decoded-size guard (~480 MB estimated, under the 1 GB default) but not a
  // worker capped at 48 MB of heap: the worker dies, and the client must report that and recover.
  const nodes = 3_000_000;
  const graph = new Uint8Array(nodes * 2);
  for (let i = 0; i < graph.length; i += 2) graph[i] = 0x0a;
  const file = write('many-nodes.onnx', Buffer.concat([Uint8Array.from([...varint(7 * 8 + 2), ...varint(graph.length)]), graph]));
  const client = realWorker({ resourceLimits: { maxOldGenerationSizeMb: 48 } });
  try {
    await assert.rejects(client.run('summary', { modelPath: file }), (e: Error) => e instanceof WorkerCrashError && /out of memory|ERR_WORKER_OUT_OF_MEMORY|crash|exit/i.test(e.message));
    const summary = await client.run<ModelSummary>('summary', { modelPath: path.join(MODELS, 'fmnist_mobilenetv2.onnx') });
    assert.ok(summary.layers.length > 30);
    assert.equal(client.startedWorkers, 2);
  } finally {
    await client.dispose();
  }
});
