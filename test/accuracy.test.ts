// `bin/qinspect eval` must give exactly onnxruntime-node's top-1 on the shared data sets (heavy: ~42k images in all).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');
const SHARED = path.resolve(ROOT, '../shared');
const CIFAR_MEAN_STD = ['--mean', '0.485,0.456,0.406', '--std', '0.229,0.224,0.225'];
const FMNIST_MEAN_STD = ['--mean', '0.2860', '--std', '0.3530'];

interface Case {
  model: string;
  data: string;
  preprocessing: string[];
  /** onnxruntime-node's top-1 in percent on the same file (shared/README.md; the sample measured for samples/). */
  expected: number;
  images: number;
}

const CASES: Case[] = [
  { model: 'samples/resnet20_cifar10.onnx', data: 'samples/cifar10_test500.bin', preprocessing: [], expected: 91.0, images: 500 },
  { model: 'models/resnet20_cifar10.onnx', data: 'data/cifar10/test_batch_first1000_lossless.bin', preprocessing: CIFAR_MEAN_STD, expected: 91.5, images: 1000 },
  { model: 'models/resnet32_cifar10.onnx', data: 'data/cifar10/test_batch_first1000_lossless.bin', preprocessing: CIFAR_MEAN_STD, expected: 92.8, images: 1000 },
  { model: 'models/fmnist_resnet20.onnx', data: 'data/fmnist/t10k-images-idx3-ubyte.gz', preprocessing: FMNIST_MEAN_STD, expected: 94.88, images: 10000 },
  { model: 'models/fmnist_mobilenetv2.onnx', data: 'data/fmnist/t10k-images-idx3-ubyte.gz', preprocessing: FMNIST_MEAN_STD, expected: 94.35, images: 10000 },
  { model: 'models/resnet20_cifar10.onnx', data: 'data/cifar10/test_batch_jpeg10k.bin.gz', preprocessing: CIFAR_MEAN_STD, expected: 81.03, images: 10000 },
  { model: 'models/resnet32_cifar10.onnx', data: 'data/cifar10/test_batch_jpeg10k.bin.gz', preprocessing: CIFAR_MEAN_STD, expected: 82.56, images: 10000 },
];

const resolve = (p: string) => (p.startsWith('samples/') ? path.join(ROOT, p) : path.join(SHARED, p));

for (const c of CASES) {
  test(`eval ${path.basename(c.model)} on ${path.basename(c.data)}: ${c.expected}% as onnxruntime-node`, () => {
    const args = [path.join(ROOT, 'bin/qinspect'), 'eval', resolve(c.model), '--data', resolve(c.data), ...c.preprocessing, '--batch', '50', '--json'];
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 16 * 2 ** 20 });
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout.trimEnd().split('\n').pop() ?? '');
    assert.equal(result.images, c.images);
    assert.equal(result.accuracy, c.expected);
    console.log(`${path.basename(c.model)} ${path.basename(c.data)}: ${result.accuracy}% (${result.images} images, ${result.imagesPerSecond} images/s)`);
  });
}
