import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { CancelledError, InputError } from '../../src/util/errors';
import { JobClient, WorkerCrashError } from '../../src/worker/client';
import { isStartMessage, isWorkerMessage } from '../../src/worker/protocol';
import type { ModelSummary } from '../../src/worker/summary';

const root = path.resolve(__dirname, '../..');
const shared = path.resolve(root, '../shared');
const fake = path.join(__dirname, 'fixtures/fake-worker.js');

test('the real worker (src/worker/worker-main.ts) loads a model summary and reports bad input as InputError', async () => {
  const entry = path.join(root, 'src/worker/worker-main.ts');
  const script = `require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(entry)});`;
  const client = new JobClient({ script, eval: true });
  try {
    const progress: number[] = [];
    const s = await client.run<ModelSummary>('summary', { modelPath: path.join(shared, 'models/resnet20_cifar10.onnx') }, { onProgress: (f) => progress.push(f) });
    assert.equal(s.layers.length, 20);
    assert.deepEqual(s.layers[19], { name: '/linear/Gemm', op: 'Gemm', weightDims: [10, 64], parameters: 650 });
    assert.equal(s.operators.Conv, 19);
    assert.equal(s.opset, 13);
    assert.ok(progress.includes(1));
    await assert.rejects(client.run('summary', { modelPath: path.join(shared, 'README.md') }), (e: Error) => e instanceof InputError && e.message.includes('README.md'));
    await assert.rejects(client.run('summary', {}), (e: Error) => e instanceof InputError && /modelPath/.test(e.message));
    assert.equal(client.startedWorkers, 1, 'input errors do not kill the worker');
  } finally {
    await client.dispose();
  }
});

test('cancel terminates the worker at once; the next job gets a fresh worker', async () => {
  const client = new JobClient({ script: fake });
  let calls = 0;
  let gotProgress!: () => void;
  const progressed = new Promise<void>((r) => (gotProgress = r));
  const job = client.run('quantize', {}, { onProgress: () => { if (++calls === 3) gotProgress(); } });
  await progressed;
  const thread = client.workerThreadId;
  assert.ok(thread !== undefined && client.busy);
  await client.cancel();
  await assert.rejects(job, CancelledError);
  assert.equal(client.workerThreadId, undefined, 'no worker left');
  assert.equal(client.busy, false);
  const seen = calls;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(calls, seen, 'no progress after cancel');
  const again = client.run('quantize', {});
  assert.notEqual(client.workerThreadId, thread);
  assert.equal(client.startedWorkers, 2);
  await client.cancel();
  await assert.rejects(again, CancelledError);
});

test('a crashed or exiting worker fails its job with a clear error and is replaced', async () => {
  const client = new JobClient({ script: fake });
  await assert.rejects(client.run('quantize', { crash: true }), (e: Error) => e instanceof WorkerCrashError && /crashed: boom in worker/.test(e.message));
  assert.equal(client.workerThreadId, undefined);
  await assert.rejects(client.run('quantize', { exit: true }), (e: Error) => e instanceof WorkerCrashError && /code 3/.test(e.message));
  assert.equal(await client.run('quantize', { garbage: true }), 7, 'malformed messages are ignored, the valid result still arrives');
  assert.equal(client.startedWorkers, 3);
  await assert.rejects(Promise.all([client.run('quantize', {}), client.run('quantize', {})]), InputError, 'one job at a time');
  await client.dispose();
});

test('protocol validators', () => {
  assert.equal(isStartMessage({ type: 'start', id: 1, job: 'quantize', options: {} }), true);
  assert.equal(isStartMessage({ type: 'start', id: 1, job: 'rm -rf', options: {} }), false);
  assert.equal(isWorkerMessage({ type: 'progress', id: 1, fraction: 0.5, message: 'x' }), true);
  assert.equal(isWorkerMessage({ type: 'error', id: 1, message: 'x' }), false);
});
