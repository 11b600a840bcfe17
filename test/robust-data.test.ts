// Bad data end to end: wrong image size or channel count, label files that do not match, unreadable images, empty
// folders. `qinspect eval` answers with one `error:` line naming the file; a quantization whose data fails half-way
// writes no export.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { spawnSync } from 'child_process';
import { PNG } from 'pngjs';
import { loadModel } from '../src/onnx/load';
import { quantizeJob } from '../src/pipeline/quantize';
import { readCifar10 } from '../src/data/cifar';
import { openDataset } from '../src/data/open';
import { MODELS, SHARED, rng, tempDir } from './robust-fixtures';

const ROOT = path.resolve(__dirname, '..');
const RESNET = path.join(MODELS, 'resnet20_cifar10.onnx');
const CIFAR = path.join(SHARED, 'data/cifar10/test_batch_first1000_lossless.bin');
const PRE = ['--mean', '0.485,0.456,0.406', '--std', '0.229,0.224,0.225'];
let dir: string;

function pngFile(file: string, width: number, height: number, seed: number): void {
  const r = rng(seed);
  const p = new PNG({ width, height });
  for (let i = 0; i < p.data.length; i++) p.data[i] = Math.floor(r() * 256);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, PNG.sync.write(p));
}

/** A class-folder data set of 32×32 RGB PNGs: 2 classes × 3 images. */
function imageFolder(name: string): string {
  const root = path.join(dir, name);
  for (const cls of ['airplane', 'automobile']) for (let i = 0; i < 3; i++) pngFile(path.join(root, cls, `${i}.png`), 32, 32, i);
  return root;
}

function qinspect(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli.js'))) spawnSync(process.execPath, ['scripts/build.js'], { cwd: ROOT });
  return spawnSync(process.execPath, [path.join(ROOT, 'bin', 'qinspect'), ...args], { encoding: 'utf8', cwd: ROOT });
}

function assertOneErrorLine(r: { status: number | null; stderr: string }, pattern: RegExp): void {
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^error: [^\n]+\n$/, 'exactly one error line, no stack trace');
  assert.match(r.stderr, pattern);
}

before(() => { dir = tempDir('baddata'); });
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('eval with data that does not fit the model or is broken: one error line naming the file', () => {
  const fmnist = path.join(SHARED, 'data/fmnist/t10k-images-idx3-ubyte.gz');
  assertOneErrorLine(qinspect('eval', RESNET, '--data', fmnist, '--limit', '4', ...PRE), /t10k-images-idx3-ubyte\.gz.*1.*28.*28|28×28|\[.*1,28,28\]/);

  const wrongSize = imageFolder('wrong-size');
  for (const f of fs.readdirSync(path.join(wrongSize, 'airplane'))) pngFile(path.join(wrongSize, 'airplane', f), 28, 28, 1);
  for (const f of fs.readdirSync(path.join(wrongSize, 'automobile'))) pngFile(path.join(wrongSize, 'automobile', f), 28, 28, 2);
  assertOneErrorLine(qinspect('eval', RESNET, '--data', wrongSize, ...PRE), /wrong-size.*28.*32|32.*28/);

  const mixed = imageFolder('mixed-size');
  pngFile(path.join(mixed, 'automobile', '1.png'), 31, 32, 5);
  assertOneErrorLine(qinspect('eval', RESNET, '--data', mixed, ...PRE), /automobile\/1\.png: image is 31×32 but .* is 32×32/);

  const corrupt = imageFolder('corrupt');
  const victim = path.join(corrupt, 'automobile', '2.png');
  fs.writeFileSync(victim, fs.readFileSync(victim).subarray(0, 60));
  assertOneErrorLine(qinspect('eval', RESNET, '--data', corrupt, ...PRE), /automobile\/2\.png: unreadable image/);

  const empty = path.join(dir, 'empty');
  fs.mkdirSync(path.join(empty, 'airplane'), { recursive: true });
  assertOneErrorLine(qinspect('eval', RESNET, '--data', empty, ...PRE), /empty: the class sub-folders \(airplane\) hold no \.png\/\.jpg\/\.jpeg images/);
  const nothing = path.join(dir, 'nothing');
  fs.mkdirSync(nothing);
  assertOneErrorLine(qinspect('eval', RESNET, '--data', nothing, ...PRE), /nothing: no images found/);

  const idxDir = path.join(dir, 'idx');
  fs.mkdirSync(idxDir);
  fs.copyFileSync(path.join(SHARED, 'data/fmnist/calib1000-images-idx3-ubyte.gz'), path.join(idxDir, 'c-images-idx3-ubyte.gz'));
  const labels = zlib.gunzipSync(fs.readFileSync(path.join(SHARED, 'data/fmnist/calib1000-labels-idx1-ubyte.gz')));
  const fewer = Buffer.from(labels.subarray(0, 8 + 999));
  fewer.writeUInt32BE(999, 4);
  fs.writeFileSync(path.join(idxDir, 'c-labels-idx1-ubyte'), fewer);
  assertOneErrorLine(
    qinspect('eval', path.join(MODELS, 'fmnist_mobilenetv2.onnx'), '--data', path.join(idxDir, 'c-images-idx3-ubyte.gz'), '--mean', '0.286', '--std', '0.353'),
    /c-labels-idx1-ubyte: 999 labels but .*c-images-idx3-ubyte\.gz has 1000 images; the counts must match/,
  );

  const truncated = path.join(dir, 'cut.bin');
  fs.writeFileSync(truncated, fs.readFileSync(CIFAR).subarray(0, 3073 * 3 + 100));
  assertOneErrorLine(qinspect('eval', RESNET, '--data', truncated, ...PRE), /cut\.bin: 9319 bytes is not a whole number of CIFAR-10 records/);
});

test('a quantization whose test images fail half-way writes no exported model and no temporary file', async () => {
  const folder = imageFolder('fails-late');
  const late = path.join(folder, 'automobile', '2.png'); // the last image, read in the last batch
  fs.writeFileSync(late, fs.readFileSync(late).subarray(0, 60)); // a valid header, pixel data cut off
  const data = openDataset(folder); // headers are checked up front; this one fails only when its pixels are read
  assert.equal(data.count, 6);
  const out = path.join(dir, 'export');
  fs.mkdirSync(out);
  const exportPath = path.join(out, 'resnet20.qdq.onnx');
  const pre = { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
  const calibration = readCifar10(CIFAR, { limit: 2 });
  await assert.rejects(
    quantizeJob({ model: loadModel(RESNET), calibration: { dataset: calibration, preprocess: pre }, evaluation: { dataset: data, preprocess: pre }, batchSize: 2, exportPath }),
    (e: Error) => e.name === 'InputError' && /fails-late\/automobile\/2\.png: unreadable image/.test(e.message),
  );
  assert.deepEqual(fs.readdirSync(out), []);
});

test('an export that fails while writing keeps the previous exported model and leaves no temporary file', async () => {
  const out = path.join(dir, 'export-fails');
  fs.mkdirSync(out);
  const exportPath = path.join(out, 'resnet20.qdq.onnx');
  fs.writeFileSync(exportPath, 'previous export');
  const pre = { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
  const calibration = { dataset: readCifar10(CIFAR, { limit: 2 }), preprocess: pre };
  const nodeFs = require('fs') as Record<string, unknown>;
  const realWriteSync = nodeFs.writeSync as (...a: unknown[]) => number;
  let writes = 0;
  nodeFs.writeSync = (...args: unknown[]) => {
    writes++;
    const isFile = typeof args[0] === 'number' && args[0] > 2; // any file but stdin/stdout/stderr
    if (isFile) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return realWriteSync(...args);
  };
  try {
    await assert.rejects(
      quantizeJob({ model: loadModel(RESNET), calibration, batchSize: 2, exportPath }),
      (e: Error) => e.name === 'InputError' && /resnet20\.qdq\.onnx: could not be written \(ENOSPC/.test(e.message),
    );
  } finally {
    nodeFs.writeSync = realWriteSync;
  }
  assert.ok(writes > 0, 'the exporter wrote through fs.writeSync (writeFileAtomic)');
  assert.equal(fs.readFileSync(exportPath, 'utf8'), 'previous export');
  assert.deepEqual(fs.readdirSync(out), ['resnet20.qdq.onnx']);
  await quantizeJob({ model: loadModel(RESNET), calibration, batchSize: 2, exportPath }); // and without the fault it is replaced whole
  assert.equal(loadModel(exportPath).graph.nodes.some((n) => n.opType === 'QuantizeLinear'), true);
  assert.deepEqual(fs.readdirSync(out), ['resnet20.qdq.onnx']);
});
