/** One benchmark measurement each, run in a child process by bench.ts (so peak RSS is per measurement). */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadModel } from '../src/onnx/load';
import { exportQdq } from '../src/onnx/export';
import { prepareModel, resolveInputShape } from '../src/graph/prepare';
import { openDataset } from '../src/data';
import type { Dataset, Preprocess } from '../src/data/types';
import { DataSplit, buildQuantizedModel, quantizeJob } from '../src/pipeline/quantize';
import { FloatModel } from '../src/engine/float-engine';
import { Tensor, elementCount, floatTensor } from '../src/graph/tensor';
import type { Model } from '../src/graph/ir';
import { WorkerPool } from '../src/parallel/pool';
import { closeKeptPool } from '../src/pipeline/pool-cache';

export interface PartArgs {
  model: string;
  batch: number;
  images: number;
  workers: number;
}

export interface PartResult {
  ips?: number;
  seconds?: number;
  peakRssMB?: number;
  skipped?: string;
  extra?: Record<string, unknown>;
}

export type Part = (a: PartArgs) => Promise<PartResult>;

/** A few distinct pseudo-random input batches (reused cyclically), N(0,1)-like values as after normalisation. */
export function randomBatches(model: Model, batch: number, count: number): Tensor[] {
  const dims = resolveInputShape(model, batch).dims;
  let s = 12345;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return Array.from({ length: count }, () => {
    const data = new Float32Array(elementCount(dims));
    for (let i = 0; i < data.length; i++) data[i] = (next() + next() + next() - 1.5) * 2;
    return floatTensor(dims, data);
  });
}

function batchCount(a: PartArgs): number {
  return Math.max(1, Math.round(a.images / a.batch));
}

/** Our float engine: in-process for 1 worker, otherwise the worker pool. */
const oursFloat: Part = async (a) => {
  const model = loadModel(a.model);
  const inputs = randomBatches(model, a.batch, 3);
  const n = batchCount(a);
  if (a.workers <= 1) {
    const fm = new FloatModel(model);
    fm.run(inputs[0]);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fm.run(inputs[i % inputs.length]);
    const s = (performance.now() - t0) / 1000;
    return { ips: (n * a.batch) / s, seconds: s };
  }
  const pool = await WorkerPool.create(model, { workers: a.workers });
  try {
    await Promise.all(Array.from({ length: a.workers }, (_, i) => pool.run(inputs[i % inputs.length])));
    const t0 = performance.now();
    const stream = Array.from({ length: n }, (_, i) => inputs[i % inputs.length]);
    for await (const _ of pool.map(stream)) void _;
    const s = (performance.now() - t0) / 1000;
    return { ips: (n * a.batch) / s, seconds: s };
  } finally {
    await pool.close();
  }
};

type Ort = typeof import('onnxruntime-node');

async function ortRun(a: PartArgs, file: string): Promise<PartResult> {
  const ort = require('onnxruntime-node') as Ort;
  const session = await ort.InferenceSession.create(file, {
    intraOpNumThreads: a.workers, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const model = loadModel(a.model);
  const inputs = randomBatches(model, a.batch, 3).map((t) => new ort.Tensor('float32', t.data as Float32Array, t.dims));
  const name = session.inputNames[0];
  await session.run({ [name]: inputs[0] });
  const n = batchCount(a);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await session.run({ [name]: inputs[i % inputs.length] });
  const s = (performance.now() - t0) / 1000;
  return { ips: (n * a.batch) / s, seconds: s };
}

const ortFloat: Part = (a) => ortRun(a, a.model);

const SHARED = path.resolve(__dirname, '../../shared');
const CIFAR_PRE: Preprocess = { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const FMNIST_PRE: Preprocess = { scale: 1 / 255, mean: [0.286], std: [0.353] };

/** Uniform random uint8 images shaped for the model (the scale models have no data set). */
export function randomDataset(model: Model, count: number): Dataset {
  const [, c, h, w] = resolveInputShape(model, 1).dims;
  const per = c * h * w;
  return {
    source: 'random images', format: 'image-folder', count, channels: c, height: h, width: w,
    labels: new Int32Array(count),
    readPixels(start: number, end: number): Uint8Array { // image i is the same on every read (seeded by i)
      const px = new Uint8Array((end - start) * per);
      for (let img = start; img < end; img++) {
        let s = (777 + Math.imul(img, 2654435761)) >>> 0;
        for (let i = 0; i < per; i++) {
          s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
          px[(img - start) * per + i] = s >>> 24;
        }
      }
      return px;
    },
    describeImage: (i: number) => `random image ${i}`,
  };
}

/** The calibration split for a benchmark model: its own calibration data, or random images for the scale models. */
function calibrationSplit(modelFile: string, model: Model, count: number): DataSplit {
  const name = path.basename(modelFile);
  if (name.startsWith('resnet20') || name.startsWith('resnet32')) {
    return { dataset: openDataset(path.join(SHARED, 'data/cifar10/train_first4000.bin'), { limit: count }), preprocess: CIFAR_PRE };
  }
  if (name.startsWith('fmnist')) {
    return { dataset: openDataset(path.join(SHARED, 'data/fmnist/calib1000-images-idx3-ubyte.gz'), { limit: count }), preprocess: FMNIST_PRE };
  }
  return { dataset: randomDataset(model, count), preprocess: { scale: 1 / 255, mean: [0.45, 0.45, 0.45], std: [0.25, 0.25, 0.25] } };
}

/** Calibration images per model: 256 for the scale models (issue 5), 200 otherwise (speed only). */
function calibrationCount(modelFile: string): number {
  return modelFile.includes('imagenet') ? 256 : 200;
}

/** Our integer engine: calibrate in-process, then the worker pool with the shared plan. */
const oursInt: Part = async (a) => {
  const model = loadModel(a.model);
  const t0 = performance.now();
  const calibBatch = Math.min(a.batch, 32);
  const { plan, intModel } = buildQuantizedModel(model, calibrationSplit(a.model, model, calibrationCount(a.model)), {}, calibBatch, calibrationCount(a.model));
  const calibrationSeconds = (performance.now() - t0) / 1000;
  const inputs = randomBatches(model, a.batch, 3);
  const n = batchCount(a);
  const extra = { calibrationSeconds, calibrationImages: calibrationCount(a.model) };
  if (a.workers <= 1) {
    intModel.run(inputs[0]);
    const t1 = performance.now();
    for (let i = 0; i < n; i++) intModel.run(inputs[i % inputs.length]);
    const s = (performance.now() - t1) / 1000;
    return { ips: (n * a.batch) / s, seconds: s, extra };
  }
  const pool = await WorkerPool.create(model, { workers: a.workers, task: 'int', config: { plan } });
  try {
    await Promise.all(Array.from({ length: a.workers }, (_, i) => pool.run(inputs[i % inputs.length])));
    const t1 = performance.now();
    for await (const _ of pool.map(Array.from({ length: n }, (_, i) => inputs[i % inputs.length]))) void _;
    const s = (performance.now() - t1) / 1000;
    return { ips: (n * a.batch) / s, seconds: s, extra };
  } finally {
    await pool.close();
  }
};

/** onnxruntime-node on our exported QDQ model (float in, float out; ORT runs its own int8 kernels). */
const ortQuant: Part = async (a) => {
  const model = loadModel(a.model);
  const { plan } = buildQuantizedModel(model, calibrationSplit(a.model, model, 100), {}, 25, 100);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'qinspect-bench-')), 'model.qdq.onnx');
  try {
    exportQdq(model, prepareModel(model, 1), plan, file);
    return await ortRun(a, file);
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
};

/** The full quantize job as the CLI runs it: calibrate 1,000 + evaluate 10,000 CIFAR-10 images (resnet20). */
const quantize: Part = async (a) => {
  const model = loadModel(a.model);
  const t0 = performance.now();
  const result = await quantizeJob({
    model,
    calibration: { dataset: openDataset(path.join(SHARED, 'data/cifar10/train_first4000.bin'), { limit: 1000 }), preprocess: CIFAR_PRE },
    evaluation: { dataset: openDataset(path.join(SHARED, 'data/cifar10/test_batch_jpeg10k.bin.gz')), preprocess: CIFAR_PRE },
    batchSize: 100,
  });
  const seconds = (performance.now() - t0) / 1000;
  return { seconds, extra: { fp32Accuracy: result.fp32.accuracy, int8Accuracy: result.quantized.accuracy, images: result.images } };
};

/** Peak memory of calibrating on all 4,000 CIFAR-10 training images (streaming statistics). */
const calibrate4000: Part = async (a) => {
  const model = loadModel(a.model);
  const t0 = performance.now();
  buildQuantizedModel(model, calibrationSplit(a.model, model, 4000), {}, 100, 4000);
  return { seconds: (performance.now() - t0) / 1000 };
};

/**
 * The quantize job's own throughput (calibration reused, so bias correction + evaluation): float and integer pass,
 * per-layer errors and max accumulators on every test image, on the pool of a.workers threads.
 */
const jobThroughput: Part = async (a) => {
  const model = loadModel(a.model);
  const calibration = calibrationSplit(a.model, model, 200);
  const evaluation = { dataset: randomDataset(model, a.images), preprocess: calibration.preprocess };
  // as the editor runs them: one kept worker pool for the model (src/pipeline/pool-cache.ts)
  const job = (limit: number, bits = 8) => quantizeJob({
    model, calibration, evaluation, batchSize: Math.min(a.batch, 50), calibrationLimit: 200, limit, workers: a.workers, quant: { weightBits: bits, activationBits: bits }, keepPool: true,
  });
  await job(Math.min(a.batch, 50)); // calibrates (kept for the runs below) and starts the pool
  const t0 = performance.now();
  const first = await job(a.images);
  const t1 = performance.now();
  const other = await job(a.images, 6); // other bits on the same images: the float side is reused
  const t2 = performance.now();
  await closeKeptPool();
  return {
    ips: first.images / ((t1 - t0) / 1000), seconds: (t1 - t0) / 1000,
    extra: { otherBitsIps: other.images / ((t2 - t1) / 1000), floatPassReused: other.floatPassReused, calibrationReused: first.calibrationReused },
  };
};

/** The editor's "Quantize to N bits" job on the embedded sample (256 calibration, 500 test images): cold, then warm at other bits. */
const sampleJob: Part = async () => {
  const { quantizeWorkerJob } = await import('../src/worker/quantize-job');
  const modelPath = path.join(__dirname, '../samples/resnet20_cifar10.onnx');
  const ctx = { onProgress: () => undefined, checkCancelled: () => undefined };
  const t0 = performance.now();
  await quantizeWorkerJob({ modelPath, weightBits: 8, activationBits: 8, calibrationImages: 256, testImages: 500 }, ctx);
  const t1 = performance.now();
  await quantizeWorkerJob({ modelPath, weightBits: 4, activationBits: 4, calibrationImages: 256, testImages: 500 }, ctx);
  const t2 = performance.now();
  return { seconds: (t1 - t0) / 1000, extra: { warmSeconds: (t2 - t1) / 1000 } };
};

/**
 * The editor's what-if on the sample (500 test images): after a W8A8 run, per-layer changes — one layer's weights to
 * 4 bits early, mid and late in the network, a layer kept in float — each run against the previous one.
 */
const whatIf: Part = async () => {
  const { quantizeWorkerJob } = await import('../src/worker/quantize-job');
  const modelPath = path.join(__dirname, '../samples/resnet20_cifar10.onnx');
  const ctx = { onProgress: () => undefined, checkCancelled: () => undefined };
  const base = { modelPath, weightBits: 8, activationBits: 8, calibrationImages: 256, testImages: 500 };
  await quantizeWorkerJob(base, ctx);
  const edits: Record<string, unknown>[] = [
    { layerWeightBits: { '/layer1/layer1.1/conv2/Conv': 4 } },
    { layerWeightBits: { '/layer1/layer1.1/conv2/Conv': 4, '/layer2/layer2.1/conv1/Conv': 4 } },
    { layerWeightBits: { '/layer1/layer1.1/conv2/Conv': 4, '/layer2/layer2.1/conv1/Conv': 4, '/layer3/layer3.1/conv2/Conv': 4 } },
    { layerWeightBits: { '/layer1/layer1.1/conv2/Conv': 4, '/layer2/layer2.1/conv1/Conv': 4, '/layer3/layer3.1/conv2/Conv': 4 }, floatLayers: ['/layer3/layer3.2/conv2/Conv'] },
  ];
  const seconds: number[] = [];
  for (const edit of edits) {
    const t = performance.now();
    await quantizeWorkerJob({ ...base, ...edit }, ctx);
    seconds.push((performance.now() - t) / 1000);
  }
  return { seconds: Math.max(...seconds), extra: { each: seconds } };
};

/** ImageNet-size job: calibrate + quantize + inspect on a.images images (the model's own random input). */
const largeJob: Part = async (a) => {
  const model = loadModel(a.model);
  const split = calibrationSplit(a.model, model, a.images);
  const t0 = performance.now();
  const r = await quantizeJob({ model, calibration: split, evaluation: split, batchSize: a.batch, calibrationLimit: a.images, workers: a.workers });
  return { seconds: (performance.now() - t0) / 1000, extra: { images: r.images, layers: r.layers.length } };
};

export const PARTS: Record<string, Part> = {
  'job-throughput': jobThroughput,
  'sample-job': sampleJob,
  'what-if': whatIf,
  'large-job': largeJob,
  'ours-float': oursFloat,
  'ours-int': oursInt,
  'ort-float': ortFloat,
  'ort-quant': ortQuant,
  quantize,
  'calibrate-4000': calibrate4000,
};
