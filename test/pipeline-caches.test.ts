// Calibration statistics (per model + images + observer options) and the float side of the test images are kept and
// reused across bit widths: a reused run gives exactly the numbers of a fresh one, and different images under the
// same file name are never confused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { openDataset } from '../src/data';
import type { Dataset } from '../src/data/types';
import { loadModel } from '../src/onnx/load';
import { quantizeJob, type QuantizeResult } from '../src/pipeline/quantize';
import { clearCalibrationCache } from '../src/pipeline/calibration-cache';
import { clearReferenceCache } from '../src/pipeline/reference-cache';
import { clearIncrementalState } from '../src/pipeline/incremental';
import type { QuantOptions } from '../src/engine/int-plan';
import { closeKeptPool, keptPoolThreads } from '../src/pipeline/pool-cache';
import { clearGraphMemo, quantizeWorkerJob } from '../src/worker/quantize-job';

const SAMPLES = path.join(__dirname, '..', 'samples');
const MODEL = path.join(SAMPLES, 'resnet20_cifar10.onnx');
const pre = { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

function run(calib: Dataset, bits: number, more: { referenceBudgetBytes?: number; workers?: number; keepPool?: boolean; quant?: Partial<QuantOptions> } = {}): Promise<QuantizeResult> {
  const { quant, ...rest } = more;
  return quantizeJob({
    ...rest,
    model: loadModel(MODEL), // a fresh load each time, as the CLI does per command
    calibration: { dataset: calib, preprocess: pre },
    evaluation: { dataset: openDataset(path.join(SAMPLES, 'cifar10_test500.bin'), { limit: 60 }), preprocess: pre },
    quant: { weightBits: bits, activationBits: bits, ...quant },
    batchSize: 20,
  });
}

const numbers = (r: QuantizeResult) => ({ agreement: r.quantized.agreement, predictions: r.predictions, fp32: r.fp32, logit: r.logitSqnrDb, layers: r.layers.map((l) => [l.weightBits, l.activationBits, l.outputScale, l.outputSqnrDb, l.maxAccumulator, l.accumulatorBound]), floatNodes: r.floatNodes });

test('calibration is reused across bit widths with the same numbers as a fresh calibration', async () => {
  const calib = () => openDataset(path.join(SAMPLES, 'cifar10_calib500.bin'), { limit: 60 });
  clearCalibrationCache();
  const fresh4 = await run(calib(), 4);
  clearCalibrationCache();
  const w8 = await run(calib(), 8);
  assert.equal(w8.calibrationReused, false);
  const w4 = await run(calib(), 4);
  assert.equal(w4.calibrationReused, true, 'the W8A8 run calibrated these images already');
  assert.deepEqual(numbers(w4), numbers(fresh4));
  assert.equal(w4.calibrationImages, 60);
  assert.ok(w8.logitSqnrDb! > w4.logitSqnrDb! + 6, `W8 ${w8.logitSqnrDb} dB vs W4 ${w4.logitSqnrDb} dB`);
});

test('other images under the same file name, or another image count, calibrate afresh', async () => {
  clearCalibrationCache();
  const real = openDataset(path.join(SAMPLES, 'cifar10_calib500.bin'), { limit: 40 });
  await run(real, 8);
  const inverted: Dataset = { ...real, readPixels: (s, e) => real.readPixels(s, e).map((v) => 255 - v) };
  const other = await run(inverted, 8);
  assert.equal(other.calibrationReused, false, 'same source name, different pixels');
  const more = await run(openDataset(path.join(SAMPLES, 'cifar10_calib500.bin'), { limit: 41 }), 8);
  assert.equal(more.calibrationReused, false, 'one image more');
  const again = await run(openDataset(path.join(SAMPLES, 'cifar10_calib500.bin'), { limit: 40 }), 8);
  assert.equal(again.calibrationReused, false, 'only the 2 most recent calibrations are kept');
});

test('the float pass of the test images is recorded once and reused (all of it, or the batches within the budget)', async () => {
  const calib = () => openDataset(path.join(SAMPLES, 'cifar10_calib500.bin'), { limit: 40 });
  clearCalibrationCache();
  clearReferenceCache();
  const fresh4 = await run(calib(), 4, { workers: 1 });
  assert.equal(fresh4.floatPassReused, 0);
  clearReferenceCache();
  await run(calib(), 8);
  const w4 = await run(calib(), 4);
  assert.equal(w4.floatPassReused, 60, 'every test image: the W8A8 run recorded the float side');
  assert.deepEqual(numbers(w4), numbers(fresh4), 'pool + reused float side = one thread, fresh');
  // a budget for one batch of 20 images (~188k floats of compared values + ~106 KiB of checkpoints each): the rest runs float again
  clearReferenceCache();
  await run(calib(), 8, { referenceBudgetBytes: 20 * 1_000_000 });
  const partial = await run(calib(), 4, { referenceBudgetBytes: 20 * 1_000_000 });
  assert.equal(partial.floatPassReused, 20);
  assert.deepEqual(numbers(partial), numbers(fresh4));
  const none = await run(calib(), 4, { referenceBudgetBytes: 0 });
  assert.equal(none.floatPassReused, 20, 'what was kept stays usable');
});

test('a what-if (one layer to other bits, or kept in float) resumes both integer passes from a checkpoint, with the numbers of a fresh run', async () => {
  const calib = () => openDataset(path.join(SAMPLES, 'cifar10_calib500.bin'), { limit: 40 });
  const whatIfs: Partial<QuantOptions>[] = [
    { layerWeightBits: { '/layer3/layer3.0/conv2/Conv': 3 } },
    { layerActivationBits: { '/layer2/layer2.2/conv1/Conv': 4 } },
    { floatLayers: ['/layer3/layer3.2/conv1/Conv'] },
  ];
  for (const change of whatIfs) {
    clearCalibrationCache();
    clearReferenceCache();
    clearIncrementalState();
    const fresh = await run(calib(), 8, { quant: change });
    assert.equal(fresh.resumedAt, undefined);
    clearIncrementalState();
    await run(calib(), 8);
    const resumed = await run(calib(), 8, { quant: change });
    assert.ok(resumed.resumedAt?.biasCorrection && resumed.resumedAt.evaluation, `${JSON.stringify(change)} resumed: ${JSON.stringify(resumed.resumedAt)}`);
    assert.notEqual(resumed.resumedAt.evaluation, '/conv1/Conv', 'not from the start');
    assert.deepEqual(numbers(resumed), numbers(fresh), JSON.stringify(change));
  }
});

test('the bias correction pass on the worker pool gives the biases of the single-thread pass, bit for bit', async () => {
  const calib = () => openDataset(path.join(SAMPLES, 'cifar10_calib500.bin'), { limit: 50 }); // 3 batches of 20, 20, 10
  const fresh = async (workers: number) => {
    clearCalibrationCache();
    clearReferenceCache();
    clearIncrementalState();
    let biases: number[][] = [];
    const r = await quantizeJob({
      model: loadModel(MODEL), calibration: { dataset: calib(), preprocess: pre }, batchSize: 20, workers, quant: { weightBits: 6, activationBits: 8 },
      evaluation: { dataset: openDataset(path.join(SAMPLES, 'cifar10_test500.bin'), { limit: 60 }), preprocess: pre },
    }, { onPlan: (plan) => { biases = plan.layers.map((l) => Array.from(l.bias)); } });
    return { numbers: numbers(r), biases: () => biases };
  };
  const one = await fresh(1), two = await fresh(2);
  assert.deepEqual(two.numbers, one.numbers);
  assert.deepEqual(two.biases(), one.biases());
  assert.ok(one.biases().some((b) => b.some((v) => v !== 0)));
});

test('a model edited in memory (same file) calibrates afresh', async () => {
  clearCalibrationCache();
  const calib = () => openDataset(path.join(SAMPLES, 'cifar10_calib500.bin'), { limit: 20 });
  const job = (model: ReturnType<typeof loadModel>) => quantizeJob({ model, calibration: { dataset: calib(), preprocess: pre }, batchSize: 20 });
  assert.equal((await job(loadModel(MODEL))).calibrationReused, false);
  assert.equal((await job(loadModel(MODEL))).calibrationReused, true, 'the same file, loaded again');
  const edited = loadModel(MODEL);
  const w = edited.graph.initializers.get(edited.graph.nodes.find((n) => n.opType === 'Conv')!.inputs[1])!;
  (w.data as Float32Array)[0] += 0.5;
  assert.equal((await job(edited)).calibrationReused, false, 'one weight changed');
});

test('calibration on the worker pool gives the statistics of one thread, bit for bit', async () => {
  const stats = async (workers: number) => {
    clearCalibrationCache();
    clearReferenceCache();
    clearIncrementalState();
    let plan: unknown;
    let observed: unknown;
    const r = await quantizeJob({
      model: loadModel(MODEL), batchSize: 16, workers, quant: { weightBits: 8, activationBits: 8 },
      calibration: { dataset: openDataset(path.join(SAMPLES, 'cifar10_calib500.bin'), { limit: 70 }), preprocess: pre }, // 5 batches, the last of 6
      evaluation: { dataset: openDataset(path.join(SAMPLES, 'cifar10_test500.bin'), { limit: 32 }), preprocess: pre },
    }, { onPlan: (p, _prepared, s) => {
      plan = p.layers.map((l) => [l.inputParams, l.outputParams, Array.from(l.bias)]);
      observed = [...s.observers].map(([name, o]) => [name, o.min, o.max, o.sum, o.sumSquares, o.count, o.zeros, o.lo, o.hi, Array.from(o.hist)]);
      observed = [observed, [...s.inputMeans].map(([k, m]) => [k, m.map((a) => Array.from(a))]), s.images];
    } });
    return { numbers: numbers(r), plan, observed };
  };
  const one = await stats(1), two = await stats(2);
  assert.deepEqual(two.observed, one.observed);
  assert.deepEqual(two.plan, one.plan);
  assert.deepEqual(two.numbers, one.numbers);
});

test('a kept worker pool is reused by the next job on the model (its threads stay), with the numbers of a fresh pool', async () => {
  const calib = () => openDataset(path.join(SAMPLES, 'cifar10_calib500.bin'), { limit: 40 });
  const job = (bits: number, keepPool: boolean) => run(calib(), bits, { workers: 2, ...(keepPool ? { keepPool } : {}) });
  const clear = () => { clearCalibrationCache(); clearReferenceCache(); clearIncrementalState(); };
  clear();
  const fresh4 = await job(4, false);
  clear();
  try {
    await job(8, true);
    const kept = keptPoolThreads();
    assert.equal(kept.length, 2, 'the pool of the W8A8 job is still alive');
    const w4 = await job(4, true);
    assert.deepEqual(keptPoolThreads(), kept, 'the W4A4 job ran on the same two threads');
    assert.deepEqual(numbers(w4), numbers(fresh4));
  } finally {
    await closeKeptPool();
  }
  assert.deepEqual(keptPoolThreads(), [], 'closeKeptPool ends the threads');
});

test("the editor's per-node errors of a what-if (float values and integer checkpoints of the last run reused) equal a fresh run's", async () => {
  const options = { modelPath: MODEL, weightBits: 8, activationBits: 8, calibrationImages: 40, testImages: 40 };
  const ctx = { onProgress: () => undefined, checkCancelled: () => undefined };
  const change = { layerWeightBits: { '/layer2/layer2.1/conv1/Conv': 3 } };
  const graphOf = (r: unknown) => (r as { graph: unknown }).graph;
  try {
    clearGraphMemo();
    const fresh = graphOf(await quantizeWorkerJob({ ...options, ...change }, ctx));
    clearGraphMemo();
    const base = graphOf(await quantizeWorkerJob(options, ctx));
    const reused = graphOf(await quantizeWorkerJob({ ...options, ...change }, ctx));
    assert.deepEqual(reused, fresh);
    const sqnr = (g: unknown) => Object.entries((g as { values: Record<string, { sqnrDb?: number }> }).values).map(([v, e]) => [v, e.sqnrDb] as const);
    const moved = sqnr(fresh).filter(([, db], i) => db !== undefined && db < sqnr(base)[i][1]! - 1).map(([v]) => v);
    assert.ok(moved.includes('/layer2/layer2.1/Relu_output_0'), `the 3-bit layer's output lost > 1 dB: ${moved.slice(0, 5).join(', ')}`);
    assert.ok(!moved.some((v) => v.startsWith('/layer1/')), 'nothing before the change moved');
  } finally {
    await closeKeptPool();
  }
});
