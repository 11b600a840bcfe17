// The worker pool: same logits as the single-thread engine, shared weights, errors, clean termination.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { loadModel } from '../src/onnx/load';
import { FloatModel } from '../src/engine/float-engine';
import { Tensor, floatTensor } from '../src/graph/tensor';
import { WorkerPool, evaluateParallel } from '../src/parallel/pool';
import { shareModel, sharedBytes } from '../src/parallel/share';
import { InputError } from '../src/util/errors';

const root = path.resolve(__dirname, '..');
const modelPath = path.resolve(root, '../shared/models/resnet20_cifar10.onnx');

function randomBatch(n: number, seed: number): Tensor {
  let s = seed;
  const data = Float32Array.from({ length: n * 3 * 32 * 32 }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 * 4 - 2;
  });
  return floatTensor([n, 3, 32, 32], data);
}

test('shareModel moves every initializer into SharedArrayBuffers with identical values', () => {
  const model = loadModel(modelPath);
  const shared = shareModel(model);
  let total = 0;
  for (const [name, t] of model.graph.initializers) {
    const s = shared.graph.initializers.get(name)!;
    assert.ok(s.data.buffer instanceof SharedArrayBuffer, name);
    assert.deepEqual(s.data, t.data);
    total += t.data.byteLength;
  }
  assert.equal(sharedBytes(shared), total);
  assert.ok(total > 1_000_000); // resnet20: 0.27 M parameters
});

test('pool: map streams logits in batch order, identical to the single-thread engine; weights are shared', async () => {
  const model = loadModel(modelPath);
  const batches = [randomBatch(4, 1), randomBatch(3, 2), randomBatch(4, 3), randomBatch(1, 4), randomBatch(4, 5)];
  const fm = new FloatModel(model);
  const expected = batches.map((b) => fm.run(b));
  const pool = await WorkerPool.create(model, { workers: 2 });
  try {
    assert.equal(pool.size, 2);
    assert.equal(pool.threadIds().length, 2);
    const got: Tensor[] = [];
    for await (const { index, output } of pool.map(batches)) {
      assert.equal(index, got.length);
      got.push(output as Tensor);
    }
    assert.equal(got.length, batches.length);
    for (let i = 0; i < got.length; i++) {
      assert.deepEqual(got[i].dims, expected[i].dims);
      assert.deepEqual(got[i].data, expected[i].data, `batch ${i}`);
    }
    const split = await pool.runSplit(batches[0]);
    assert.deepEqual(split.data, expected[0].data);
  } finally {
    await pool.close();
  }
  assert.deepEqual(pool.threadIds(), []);
  const kinds = await (async () => {
    const p = await WorkerPool.create(model, { workers: 2, task: 'test-buffer-kind' });
    try {
      return await Promise.all([p.run(randomBatch(1, 0)), p.run(randomBatch(1, 0))]);
    } finally {
      await p.close();
    }
  })();
  assert.deepEqual(kinds, [true, true]);
});

test('pool: a task error rejects that batch with the same InputError and the pool goes on', async () => {
  const pool = await WorkerPool.create(modelPath, { workers: 1, task: 'test-fail' });
  try {
    await assert.rejects(pool.run(randomBatch(2, 1)), (e: unknown) => e instanceof InputError && /test-fail: batch of 2 rejected/.test(e.message));
    await assert.rejects(pool.run(randomBatch(3, 1)), /batch of 3 rejected/);
  } finally {
    await pool.close();
  }
  await assert.rejects(pool.run(randomBatch(1, 1)), /closed/);
});

test('pool: a crashing worker rejects its batch and every queued one; unknown tasks fail at start', async () => {
  const pool = await WorkerPool.create(modelPath, { workers: 1, task: 'test-crash' });
  const a = pool.run(randomBatch(1, 1));
  const b = pool.run(randomBatch(1, 2));
  await assert.rejects(a, /exited \(code 3\)/);
  await assert.rejects(b, /exited \(code 3\)/);
  await pool.close();
  await assert.rejects(WorkerPool.create(modelPath, { workers: 1, task: 'no-such-task' }), /unknown pool task 'no-such-task'/);
  await assert.rejects(WorkerPool.create(modelPath, { workers: 0 }), InputError);
  await assert.rejects(WorkerPool.create(path.join(root, 'no-such.onnx'), { workers: 1 }), InputError);
});

test('pool: evaluateParallel closes its workers; an unclosed idle pool does not keep the process alive', async () => {
  const outputs: number[] = [];
  await evaluateParallel(modelPath, [randomBatch(2, 7), randomBatch(2, 8), randomBatch(2, 9)], (out, i) => {
    outputs.push(i);
    assert.deepEqual((out as Tensor).dims, [2, 10]);
  }, { workers: 2 });
  assert.deepEqual(outputs, [0, 1, 2]);
  // a child that runs a batch and never calls close() must still exit by itself, with its result printed
  const script = `
    const { WorkerPool } = require(${JSON.stringify(path.join(root, 'src/parallel/pool'))});
    const { floatTensor } = require(${JSON.stringify(path.join(root, 'src/graph/tensor'))});
    WorkerPool.create(${JSON.stringify(modelPath)}, { workers: 2 }).then(async (pool) => {
      const out = await pool.run(floatTensor([1, 3, 32, 32]));
      console.log('logits', out.dims.join('x'), pool.threadIds().length);
    });`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.signal, null, 'the child hung with idle workers');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /logits 1x10 2/);
});

test('pool: the integer engine in workers gives the in-process logits; plan weight codes are shared', async () => {
  const { openDataset } = await import('../src/data');
  const { buildQuantizedModel } = await import('../src/pipeline/quantize');
  const { sharePlan } = await import('../src/parallel/share');
  const model = loadModel(modelPath);
  const preprocess = { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
  const dataset = openDataset(path.resolve(root, '../shared/data/cifar10/train_first4000.bin'), { limit: 32 });
  const { plan, intModel } = buildQuantizedModel(model, { dataset, preprocess }, {}, 16, 32);
  const shared = sharePlan(plan);
  for (const l of shared.layers) assert.ok(l.weightCodes.buffer instanceof SharedArrayBuffer, l.name);
  const batches = [randomBatch(3, 21), randomBatch(5, 22), randomBatch(2, 23)];
  const pool = await WorkerPool.create(model, { workers: 2, task: 'int', config: { plan } });
  try {
    let i = 0;
    for await (const { output } of pool.map(batches)) {
      assert.deepEqual((output as Tensor).data, intModel.run(batches[i]).data, `batch ${i}`);
      i++;
    }
    assert.equal(i, 3);
  } finally {
    await pool.close();
  }
});

test('pool: aborting evaluateParallel stops the workers and rejects with CancelledError', async () => {
  const { CancelledError } = await import('../src/util/errors');
  const controller = new AbortController();
  const seen: number[] = [];
  const batches = Array.from({ length: 12 }, (_, i) => randomBatch(2, 30 + i));
  await assert.rejects(evaluateParallel(modelPath, batches, (_out, i) => {
    seen.push(i);
    if (i === 1) controller.abort();
  }, { workers: 2, signal: controller.signal }), CancelledError);
  assert.deepEqual(seen, [0, 1]);
  const pre = new AbortController();
  pre.abort();
  await assert.rejects(evaluateParallel(modelPath, batches, () => assert.fail('no batch may run'), { workers: 1, signal: pre.signal }), CancelledError);
});
