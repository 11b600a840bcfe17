import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';
import { checkDatasetFitsInput, iterateBatches, openDataset } from '../src/data';
import { madeTemp, inputError } from './data-helpers';



/** An RGBA image whose pixel (x, y) is (r, g, b) = (x + 10y, 100 + x, 200 - y) plus `seed`. */
function rgba(width: number, height: number, seed: number): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = 4 * (y * width + x);
      data[p] = x + 10 * y + seed;
      data[p + 1] = 100 + x + seed;
      data[p + 2] = 200 - y + seed;
      data[p + 3] = 255;
    }
  }
  return data;
}

function writePng(file: string, width: number, height: number, seed: number, colorType: 0 | 2 | 6 = 6): void {
  const png = new PNG({ width, height, colorType, inputColorType: 6 });
  const data = rgba(width, height, seed);
  if (colorType === 0) for (let p = 0; p < data.length; p += 4) data[p + 1] = data[p + 2] = data[p];
  png.data = data;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, PNG.sync.write(png, { colorType, inputColorType: 6 }));
}

function makeFolder(): string {
  const root = madeTemp('qi-folder-');
  writePng(path.join(root, 'dog', 'b.png'), 4, 3, 1);
  writePng(path.join(root, 'dog', 'a.png'), 4, 3, 2);
  writePng(path.join(root, 'cat', 'x.png'), 4, 3, 3);
  const jpg = jpeg.encode({ width: 4, height: 3, data: rgba(4, 3, 4) }, 100);
  fs.writeFileSync(path.join(root, 'cat', 'y.jpg'), jpg.data);
  fs.writeFileSync(path.join(root, 'cat', 'notes.txt'), 'not an image');
  return root;
}

test('image folder: class index = sorted sub-folder names, PNG pixels exact, JPEG close, CHW planes', () => {
  const root = makeFolder();
  const ds = openDataset(root);
  assert.equal(ds.format, 'image-folder');
  assert.deepEqual(ds.classNames, ['cat', 'dog']);
  assert.deepEqual([ds.count, ds.channels, ds.height, ds.width], [4, 3, 3, 4]);
  assert.deepEqual([...ds.labels], [0, 0, 1, 1]);
  assert.equal(ds.describeImage(2), path.join(root, 'dog', 'a.png'));
  const px = ds.readPixels(2, 3); // dog/a.png, seed 2
  const area = 12;
  // pixel (x=3, y=2): r = 3 + 20 + 2, g = 100 + 3 + 2, b = 200 - 2 + 2
  assert.deepEqual([px[2 * 4 + 3], px[area + 2 * 4 + 3], px[2 * area + 2 * 4 + 3]], [25, 105, 200]);
  const jpgPixels = ds.readPixels(1, 2); // cat/y.jpg, seed 4, quality 100
  assert.ok(Math.abs(jpgPixels[area + 0] - 104) <= 3, `JPEG green ${jpgPixels[area]}`);
  const batches = [...iterateBatches(ds, 3, { scale: 1 / 255, mean: [0], std: [1] })];
  assert.deepEqual(batches.map((b) => b.input.dims[0]), [3, 1]);
  assert.equal((batches[0].input.data as Float32Array)[2 * 36 + 2 * 4 + 3], Math.fround(25 / 255));
});

test('image folder: grayscale wanted from RGB uses ITU-R 601 luma; gray PNG replicates into RGB', () => {
  const root = makeFolder();
  const gray = openDataset(root, { channels: 1 });
  assert.equal(gray.channels, 1);
  const px = gray.readPixels(2, 3);
  assert.equal(px[2 * 4 + 3], Math.round(0.299 * 25 + 0.587 * 105 + 0.114 * 200));
  const grayRoot = madeTemp('qi-gray-');
  writePng(path.join(grayRoot, 'one', 'g.png'), 4, 3, 0, 0);
  const rgb = openDataset(grayRoot, { channels: 3 }).readPixels(0, 1);
  assert.deepEqual([rgb[5], rgb[12 + 5], rgb[24 + 5]], [11, 11, 11]); // x=1, y=1: 1 + 10
});

test('image folder errors: empty folder, no images, mixed sizes, corrupt PNG name the file', () => {
  const empty = madeTemp('qi-empty-');
  inputError(() => openDataset(empty), /no images found/);
  fs.mkdirSync(path.join(empty, 'a'));
  inputError(() => openDataset(empty), /hold no \.png\/\.jpg\/\.jpeg images/);

  const mixed = makeFolder();
  writePng(path.join(mixed, 'dog', 'c.png'), 5, 3, 0);
  inputError(() => openDataset(mixed), /dog\/c.png: image is 5×3 but .*cat\/x.png is 4×3; all images must have the same size/);

  const corrupt = makeFolder();
  const file = path.join(corrupt, 'dog', 'a.png');
  const bytes = fs.readFileSync(file);
  fs.writeFileSync(file, bytes.subarray(0, 40)); // header intact, pixel data cut
  const ds = openDataset(corrupt);
  inputError(() => ds.readPixels(0, 4), /dog\/a.png: unreadable image/);
  fs.writeFileSync(file, 'garbage that is not an image');
  inputError(() => openDataset(corrupt), /dog\/a.png: not a PNG or JPEG image/);
});

test('resize: bilinear with aligned pixel centres (2× down = 2×2 block means), folder images resized on request', async () => {
  const { resizeBilinear } = await import('../src/data/image-decode');
  const plane = Uint8Array.from([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150]); // 4×4
  assert.deepEqual([...resizeBilinear(plane, 1, { width: 4, height: 4 }, { width: 2, height: 2 })], [25, 45, 105, 125]);
  const up = resizeBilinear(Uint8Array.from([10, 10, 10, 10]), 1, { width: 2, height: 2 }, { width: 5, height: 3 });
  assert.deepEqual([...up], new Array(15).fill(10));
  const root = makeFolder(); // 4×3 images
  inputError(() => checkDatasetFitsInput(openDataset(root), ['N', 3, 6, 8], 'm.onnx'), /expects \[3,6,8\]; pass --resize to resize them/);
  const resized = openDataset(root, { resize: { height: 6, width: 8 } });
  assert.deepEqual([resized.height, resized.width], [6, 8]);
  checkDatasetFitsInput(resized, ['N', 3, 6, 8], 'm.onnx');
  const px = resized.readPixels(2, 3); // dog/a.png, red = x + 10y + 2 on 4×3
  assert.equal(px.length, 3 * 48);
  assert.equal(px[0], 2); // top-left corner keeps the corner value
  assert.equal(px[47], 3 + 20 + 2); // bottom-right corner
});

test('resize: CIFAR-10 and IDX files are resized as they are read; the editor resizes with quantInspector.resizeImages', async () => {
  const { resizeBilinear } = await import('../src/data/image-decode');
  const { openForJob } = await import('../src/worker/quantize-job');
  const { loadModel } = await import('../src/onnx/load');
  const cifar = path.resolve(__dirname, '../../shared/data/cifar10/train_first4000.bin');
  const plain = openDataset(cifar, { limit: 3 });
  const big = openDataset(cifar, { limit: 3, resize: { height: 48, width: 40 } });
  assert.deepEqual([big.count, big.channels, big.height, big.width, [...big.labels]], [3, 3, 48, 40, [...plain.labels]]);
  const px = big.readPixels(1, 3);
  const image2 = resizeBilinear(plain.readPixels(2, 3), 3, { height: 32, width: 32 }, { height: 48, width: 40 });
  assert.deepEqual([...px.subarray(3 * 48 * 40)], [...image2], 'image 2 of the batch is image 2 resized');
  assert.notDeepEqual([...px.subarray(0, 3 * 48 * 40)], [...image2]);
  const fmnist = openDataset(path.resolve(__dirname, '../../shared/data/fmnist/calib1000-images-idx3-ubyte.gz'), { limit: 2, resize: { height: 14, width: 14 } });
  assert.deepEqual([fmnist.channels, fmnist.height, fmnist.width, fmnist.readPixels(0, 2).length], [1, 14, 14, 2 * 196]);
  inputError(() => checkDatasetFitsInput(plain, ['N', 3, 48, 40], 'm.onnx'), /images are \[C,H,W\] = \[3,32,32\] but m.onnx expects \[3,48,40\]; pass --resize to resize them/);
  // the sample model (fully convolutional, global pooling) with a fixed 64×64 input
  const sample = loadModel(path.resolve(__dirname, '../samples/resnet20_cifar10.onnx'));
  const input = { ...sample.graph.inputs[0], dims: [1, 3, 64, 64] };
  const at64 = { ...sample, graph: { ...sample.graph, inputs: [input, ...sample.graph.inputs.slice(1)] } };
  inputError(() => openForJob(at64, cifar, 2), /expects \[3,64,64\]; turn on the setting quantInspector.resizeImages to resize them/);
  const { dataset } = openForJob(at64, cifar, 2, { resizeImages: true });
  assert.deepEqual([dataset.height, dataset.width, dataset.readPixels(0, 1).length], [64, 64, 3 * 64 * 64]);
});

test('class index: known class names (sidecar labels) win, then numeric folder names, then sorted order', () => {
  const root = makeFolder(); // cat/, dog/
  assert.deepEqual([...openDataset(root, { classNames: ['airplane', 'cat', 'dog'] }).labels], [1, 1, 2, 2]);
  assert.deepEqual(openDataset(root, { classNames: ['airplane', 'cat', 'dog'] }).classNames, ['airplane', 'cat', 'dog']);
  inputError(() => openDataset(root, { classNames: ['airplane', 'cat'] }), /sub-folders 'dog' are not among the model's class names \(airplane, cat\)/);
  assert.deepEqual([...openDataset(root, { classNames: ['0', '1'] }).labels], [0, 0, 1, 1]); // no name matches: sorted order
  const numeric = madeTemp('qi-numeric-');
  writePng(path.join(numeric, '10', 'a.png'), 2, 2, 0);
  writePng(path.join(numeric, '2', 'b.png'), 2, 2, 0);
  const ds = openDataset(numeric);
  assert.deepEqual(ds.describeImage(0).endsWith(path.join('10', 'a.png')), true);
  assert.deepEqual([...ds.labels], [10, 2]);
  assert.equal(ds.classNames?.length, 11);
});
