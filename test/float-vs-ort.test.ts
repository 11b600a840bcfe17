/**
 * Our float engine against onnxruntime-node on every model in ../shared/models: max abs error ≤ 1e-4 on
 * 100 real images (CIFAR-10 / Fashion-MNIST) and on seeded N(0,1) inputs for the 224×224 scale models.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { loadModel } from '../src/onnx/load';
import { FloatModel } from '../src/engine/float-engine';
import { floatTensor, Tensor } from '../src/graph/tensor';
import { openDataset, iterateBatches } from '../src/data';
import type { Preprocess } from '../src/data';
import { setKernelPath } from '../src/kernels/wasm';
import { mulberry32 } from '../src/util/random';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const ort = require('onnxruntime-node');

const SHARED = path.resolve(__dirname, '../../shared');
const MODELS = path.join(SHARED, 'models');
const CIFAR = path.join(SHARED, 'data/cifar10/test_batch_first1000_lossless.bin');
const FMNIST = path.join(SHARED, 'data/fmnist/t10k-images-idx3-ubyte.gz');
const CIFAR_NORM: Preprocess = { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const FMNIST_NORM: Preprocess = { scale: 1 / 255, mean: [0.286], std: [0.353] };
const MAX_ABS_ERROR = 1e-4;

/** Seeded N(0,1) values (mulberry32 + Box-Muller). */
function gaussian(count: number, seed: number): Float32Array {
  const uniform = mulberry32(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform());
  return out;
}

interface Case { file: string; batches: () => Tensor[]; note: string; kernels?: 'ts' }

function dataBatches(dataPath: string, pre: Preprocess, images: number, batch: number): () => Tensor[] {
  return () => [...iterateBatches(openDataset(dataPath, { limit: images }), batch, pre)].map((b) => b.input);
}

function randomBatches(images: number, batch: number, chw: number[]): () => Tensor[] {
  return () => {
    const out: Tensor[] = [];
    for (let start = 0; start < images; start += batch) {
      const n = Math.min(batch, images - start);
      const dims = [n, ...chw];
      out.push(floatTensor(dims, gaussian(dims.reduce((a, b) => a * b, 1), 1234 + start)));
    }
    return out;
  };
}

const cases: Case[] = [
  { file: 'resnet20_cifar10.onnx', batches: dataBatches(CIFAR, CIFAR_NORM, 100, 50), note: '100 CIFAR-10 test images' },
  { file: 'resnet32_cifar10.onnx', batches: dataBatches(CIFAR, CIFAR_NORM, 100, 50), note: '100 CIFAR-10 test images' },
  { file: 'fmnist_resnet20.onnx', batches: dataBatches(FMNIST, FMNIST_NORM, 100, 50), note: '100 Fashion-MNIST test images' },
  { file: 'fmnist_mobilenetv2.onnx', batches: dataBatches(FMNIST, FMNIST_NORM, 100, 50), note: '100 Fashion-MNIST test images' },
  // 224×224 models take ~0.3–1.8 GMAC per image in plain TypeScript: a few random images keep the suite short
  { file: 'scale/mobilenet_v2_imagenet_random.onnx', batches: randomBatches(4, 2, [3, 224, 224]), note: '4 random N(0,1) images (fewer for time)' },
  { file: 'scale/resnet18_imagenet_random.onnx', batches: randomBatches(2, 2, [3, 224, 224]), note: '2 random N(0,1) images (fewer for time)' },
  // the TypeScript reference kernels (QINSPECT_KERNELS=ts), slower: fewer images
  { file: 'resnet20_cifar10.onnx', batches: dataBatches(CIFAR, CIFAR_NORM, 20, 20), note: '20 CIFAR-10 test images, TypeScript kernels', kernels: 'ts' },
  { file: 'fmnist_mobilenetv2.onnx', batches: dataBatches(FMNIST, FMNIST_NORM, 20, 20), note: '20 Fashion-MNIST test images, TypeScript kernels', kernels: 'ts' },
];

for (const c of cases) {
  const file = path.join(MODELS, c.file);
  test(`float engine matches onnxruntime-node: ${c.file}${c.kernels ? ' (TypeScript kernels)' : ''}`, { skip: !fs.existsSync(file) && `${file} missing` }, async () => {
    const model = new FloatModel(loadModel(file));
    const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const inputName = session.inputNames[0];
    const outputName = session.outputNames[0];
    let maxAbs = 0;
    let maxRef = 0;
    let images = 0;
    for (const x of c.batches()) {
      setKernelPath(c.kernels);
      let ours: Float32Array;
      try {
        ours = model.run(x).data as Float32Array;
      } finally {
        setKernelPath(undefined);
      }
      const ref = (await session.run({ [inputName]: new ort.Tensor('float32', x.data, x.dims) }))[outputName].data as Float32Array;
      assert.equal(ours.length, ref.length);
      for (let i = 0; i < ref.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(ours[i] - ref[i]));
        maxRef = Math.max(maxRef, Math.abs(ref[i]));
      }
      images += x.dims[0];
    }
    const relative = maxAbs / Math.max(maxRef, 1e-30);
    console.log(`${c.file}: ${c.note}: max abs error ${maxAbs.toExponential(2)} (max |logit| ${maxRef.toExponential(2)}, relative ${relative.toExponential(2)})`);
    assert.ok(images > 0);
    assert.ok(maxRef > 0, 'reference output is all zeros: the comparison would prove nothing');
    assert.ok(maxAbs <= MAX_ABS_ERROR, `max abs error ${maxAbs} > ${MAX_ABS_ERROR}`);
    // random-weight models have tiny logits: the error must also be small relative to them
    assert.ok(relative <= 1e-4, `relative error ${relative} > 1e-4`);
    await session.release?.();
  });
}
