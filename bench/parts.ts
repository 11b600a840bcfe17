/** One benchmark measurement each, run in a child process by bench.ts (so peak RSS is per measurement). */
import * as fs from 'fs';
import { loadModel } from '../src/onnx/load';
import { resolveInputShape } from '../src/graph/prepare';
import { FloatModel } from '../src/engine/float-engine';
import { Tensor, elementCount, floatTensor } from '../src/graph/tensor';
import type { Model } from '../src/graph/ir';
import { WorkerPool } from '../src/parallel/pool';

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

/** Loads an optional module of another part of the project; undefined while it does not exist yet. */
function optionalModule<T>(rel: string): T | undefined {
  const base = require.resolve('../src/onnx/load').replace(/onnx[\\/]load\.(ts|js)$/, '');
  for (const ext of ['.ts', '.js']) if (fs.existsSync(base + rel + ext)) return require(base + rel) as T;
  return undefined;
}

const oursInt: Part = async () => {
  if (!optionalModule('engine/int-engine')) return { skipped: 'integer engine (src/engine/int-engine.ts) not available yet' };
  return { skipped: 'integer engine benchmark not wired yet' };
};

const ortQuant: Part = async () => {
  if (!optionalModule('onnx/export')) return { skipped: 'QDQ export (src/onnx/export.ts) not available yet' };
  return { skipped: 'quantized export benchmark not wired yet' };
};

const quantize: Part = async () => {
  if (!optionalModule('pipeline/quantize')) return { skipped: 'quantize job (src/pipeline/quantize.ts) not available yet' };
  return { skipped: 'quantize benchmark not wired yet' };
};

export const PARTS: Record<string, Part> = {
  'ours-float': oursFloat,
  'ours-int': oursInt,
  'ort-float': ortFloat,
  'ort-quant': ortQuant,
  quantize,
};
