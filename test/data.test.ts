import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import {
  checkDatasetFitsInput, checkPreprocess, findSidecar, iterateBatches, openDataset, parseCifar10, perClassAccuracy, resolvePreprocess,
} from '../src/data';
import { madeTemp, inputError } from './data-helpers';

const SHARED = path.resolve(__dirname, '../../shared/data');
const CIFAR_1000 = path.join(SHARED, 'cifar10/test_batch_first1000_lossless.bin');
const CIFAR_JPEG = path.join(SHARED, 'cifar10/test_batch_jpeg10k.bin.gz');
const FMNIST = path.join(SHARED, 'fmnist/t10k-images-idx3-ubyte.gz');
const MNIST = path.join(SHARED, 'mnist/t10k-images-idx3-ubyte.gz');
const SAMPLES = path.resolve(__dirname, '../samples');

function tempDir(): string {
  return madeTemp('qi-data-');
}

test('CIFAR-10 binary: count, official labels, record 0 pixels equal the raw bytes', () => {
  const raw = fs.readFileSync(CIFAR_1000);
  const ds = openDataset(CIFAR_1000);
  assert.equal(ds.format, 'cifar10-binary');
  assert.deepEqual([ds.count, ds.channels, ds.height, ds.width], [1000, 3, 32, 32]);
  // the official test set starts cat, ship, ship, airplane, frog, frog, automobile, frog, cat, automobile
  assert.deepEqual([...ds.labels.subarray(0, 10)], [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]);
  assert.deepEqual(Buffer.from(ds.readPixels(0, 1)), raw.subarray(1, 3073));
  assert.deepEqual(Buffer.from(ds.readPixels(999, 1000)), raw.subarray(999 * 3073 + 1, 1000 * 3073));
  assert.equal(ds.labels[999], raw[999 * 3073]);
});

test('CIFAR-10 .bin.gz: 10k images with the same official labels as the lossless file', () => {
  const ds = openDataset(CIFAR_JPEG);
  assert.equal(ds.count, 10000);
  const lossless = openDataset(CIFAR_1000);
  assert.deepEqual([...ds.labels.subarray(0, 1000)], [...lossless.labels]);
  const counts = new Array(10).fill(0);
  for (const l of ds.labels) counts[l]++;
  assert.deepEqual(counts, new Array(10).fill(1000)); // the official test set is balanced
});

test('--limit keeps the first N images', () => {
  const ds = openDataset(CIFAR_1000, { limit: 7 });
  assert.equal(ds.count, 7);
  assert.equal(ds.labels.length, 7);
  inputError(() => openDataset(CIFAR_1000, { limit: 0 }), /--limit must be a positive whole number/);
});

test('IDX: Fashion-MNIST and MNIST test sets find their labels and match the raw bytes', () => {
  const ds = openDataset(FMNIST);
  assert.equal(ds.format, 'idx');
  assert.deepEqual([ds.count, ds.channels, ds.height, ds.width], [10000, 1, 28, 28]);
  const rawImages = zlib.gunzipSync(fs.readFileSync(FMNIST));
  const rawLabels = zlib.gunzipSync(fs.readFileSync(FMNIST.replace('images-idx3', 'labels-idx1')));
  assert.deepEqual(Buffer.from(ds.readPixels(0, 1)), rawImages.subarray(16, 16 + 784));
  assert.deepEqual([...ds.labels], [...rawLabels.subarray(8)]);
  assert.deepEqual([...ds.labels.subarray(0, 5)], [9, 2, 1, 1, 6]); // ankle boot, pullover, trouser, trouser, shirt
  const mnist = openDataset(MNIST, { limit: 10 });
  assert.deepEqual([...mnist.labels], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
});

test('preprocessing: y = (x/255 - mean[c]) / std[c] in NCHW, batches stream the whole set', () => {
  const ds = openDataset(CIFAR_1000, { limit: 150 });
  const raw = fs.readFileSync(CIFAR_1000);
  const pre = { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
  const batches = [...iterateBatches(ds, 64, pre)];
  assert.deepEqual(batches.map((b) => b.input.dims), [[64, 3, 32, 32], [64, 3, 32, 32], [22, 3, 32, 32]]);
  assert.deepEqual(batches.map((b) => b.start), [0, 64, 128]);
  const last = batches[2];
  const x = last.input.data as Float32Array;
  // image 130 (index 2 of the last batch), channel 1 (green), pixel (5, 7)
  const byte = raw[130 * 3073 + 1 + 1024 + 5 * 32 + 7];
  const expected = (byte / 255 - 0.456) / 0.224;
  assert.ok(Math.abs(x[2 * 3072 + 1024 + 5 * 32 + 7] - expected) < 1e-6);
  assert.equal(last.labels[2], raw[130 * 3073]);
  const gray = [...iterateBatches(openDataset(FMNIST, { limit: 2 }), 2, { scale: 1 / 255, mean: [0.286], std: [0.353] })][0];
  const fm = zlib.gunzipSync(fs.readFileSync(FMNIST));
  assert.ok(Math.abs((gray.input.data as Float32Array)[784 + 400] - (fm[16 + 784 + 400] / 255 - 0.286) / 0.353) < 1e-6);
});

test('preprocessing checks: channel counts, zero std, a single value broadcasts', () => {
  assert.deepEqual(checkPreprocess({ scale: 1, mean: [0.5], std: [2] }, 3).mean, [0.5, 0.5, 0.5]);
  inputError(() => checkPreprocess({ scale: 1, mean: [1, 2], std: [1] }, 3), /mean has 2 values .* 3 channel/);
  inputError(() => checkPreprocess({ scale: 1, mean: [0], std: [0] }, 1), /std must not be 0/);
  inputError(() => checkPreprocess({ scale: 1, mean: [NaN], std: [1] }, 1), /finite/);
});

test('data that does not fit the model input is a clear error naming both shapes', () => {
  const fm = openDataset(FMNIST, { limit: 1 });
  inputError(() => checkDatasetFitsInput(fm, ['batch', 3, 32, 32], 'resnet20.onnx'), /images are \[C,H,W\] = \[1,28,28\] but resnet20.onnx expects \[3,32,32\]/);
  checkDatasetFitsInput(fm, ['N', 1, 28, 28], 'fmnist.onnx');
  checkDatasetFitsInput(fm, ['N', 'C', 'H', 'W'], 'dynamic.onnx');
  inputError(() => checkDatasetFitsInput(fm, ['N', 784], 'mlp.onnx'), /NCHW/);
});

test('bad CIFAR and IDX files: truncated, label count mismatch, missing labels, wrong names', () => {
  const dir = tempDir();
  const raw = fs.readFileSync(CIFAR_1000).subarray(0, 3 * 3073);
  inputError(() => parseCifar10(raw.subarray(0, 3 * 3073 - 5), 'cut.bin'), /cut.bin: 9214 bytes is not a whole number of CIFAR-10 records/);
  fs.writeFileSync(path.join(dir, 'empty.bin'), '');
  inputError(() => openDataset(path.join(dir, 'empty.bin')), /empty file/);
  fs.writeFileSync(path.join(dir, 'bad.bin.gz'), Buffer.from([0x1f, 0x8b, 1, 2, 3]));
  inputError(() => openDataset(path.join(dir, 'bad.bin.gz')), /corrupt or truncated gzip/);

  const header = (magic: number, dims: number[]) => {
    const b = Buffer.alloc(4 + 4 * dims.length);
    b.writeUInt32BE(magic, 0);
    dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
    return b;
  };
  const images = path.join(dir, 'x-images-idx3-ubyte');
  fs.writeFileSync(images, Buffer.concat([header(0x803, [3, 2, 2]), Buffer.alloc(12)]));
  const unlabelled = openDataset(images); // no labels file beside it: images without labels
  assert.equal(unlabelled.unlabelled, true);
  assert.deepEqual([...unlabelled.labels], [-1, -1, -1]);
  fs.writeFileSync(path.join(dir, 'x-labels-idx1-ubyte.gz'), zlib.gzipSync(Buffer.concat([header(0x801, [2]), Buffer.from([1, 2])])));
  inputError(() => openDataset(images), /x-labels-idx1-ubyte.gz: 2 labels but .*x-images-idx3-ubyte has 3 images/);
  fs.writeFileSync(path.join(dir, 'x-labels-idx1-ubyte.gz'), zlib.gzipSync(Buffer.concat([header(0x801, [3]), Buffer.from([1, 2, 0])])));
  assert.deepEqual([...openDataset(images).labels], [1, 2, 0]);
  const rgb = path.join(dir, 'rgb-images-idx3-ubyte'); // 4-D IDX: [count, rows, cols, channels], channels last
  fs.writeFileSync(rgb, Buffer.concat([header(0x804, [1, 1, 2, 3]), Buffer.from([1, 2, 3, 4, 5, 6])]));
  fs.writeFileSync(path.join(dir, 'rgb-labels-idx1-ubyte'), Buffer.concat([header(0x801, [1]), Buffer.from([4])]));
  const planes = openDataset(rgb);
  assert.deepEqual([planes.channels, planes.height, planes.width], [3, 1, 2]);
  assert.deepEqual([...planes.readPixels(0, 1)], [1, 4, 2, 5, 3, 6]);
  fs.writeFileSync(images, Buffer.concat([header(0x803, [3, 2, 2]), Buffer.alloc(11)]));
  inputError(() => openDataset(images), /declares dimensions \[3,2,2\] \(12 bytes\) but the file holds 11/);
  inputError(() => openDataset(path.join(dir, 'x-labels-idx1-ubyte.gz')), /IDX label file; pass the images file/);
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'hello');
  inputError(() => openDataset(path.join(dir, 'notes.txt')), /unknown data format/);
  inputError(() => openDataset(path.join(dir, 'missing.bin')), /missing.bin: no such file/);
});

test('sidecar: the sample records its preprocessing and data; no sidecar means x/255 with a warning', () => {
  const sidecar = findSidecar(path.join(SAMPLES, 'resnet20_cifar10.onnx'));
  assert.ok(sidecar);
  assert.deepEqual(sidecar.mean, [0.485, 0.456, 0.406]);
  assert.deepEqual(sidecar.std, [0.229, 0.224, 0.225]);
  assert.equal(sidecar.scale, 1 / 255);
  assert.equal(sidecar.labels?.[3], 'cat');
  assert.equal(sidecar.test, path.join(SAMPLES, 'cifar10_test500.bin'));
  assert.equal(openDataset(sidecar.calibration!).count, 500);
  const fromSidecar = resolvePreprocess(sidecar, {});
  assert.equal(fromSidecar.warning, undefined);
  const cli = resolvePreprocess(sidecar, { mean: [0.5], std: [0.5] });
  assert.deepEqual([cli.preprocess.mean, cli.preprocess.std, cli.preprocess.scale], [[0.5], [0.5], 1 / 255]);
  const none = resolvePreprocess(undefined, {});
  assert.deepEqual(none.preprocess, { scale: 1 / 255, mean: [0], std: [1] });
  assert.match(none.warning ?? '', /^warning: no --mean\/--std and no <model>.qinspect.json sidecar/);

  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'm.onnx'), '');
  fs.writeFileSync(path.join(dir, 'm.qinspect.json'), '{"mean": [0.5, "x"]}');
  inputError(() => findSidecar(path.join(dir, 'm.onnx')), /m.qinspect.json: "mean" must be a non-empty array of numbers/);
  fs.writeFileSync(path.join(dir, 'm.qinspect.json'), '{"mean": ');
  inputError(() => findSidecar(path.join(dir, 'm.onnx')), /not a readable JSON sidecar/);
});

test('per-class accuracy counts images and hits by true class', () => {
  const rows = perClassAccuracy(Int32Array.from([0, 0, 1, 2, 2, 2]), Int32Array.from([0, 1, 1, 2, 0, 2]), 4, ['a', 'b', 'c']);
  assert.deepEqual(rows.map((r) => [r.name, r.images, r.correct]), [['a', 2, 1], ['b', 1, 1], ['c', 3, 2], ['3', 0, 0]]);
  assert.equal(rows[2].accuracy, 200 / 3);
});
