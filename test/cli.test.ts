import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { runCli, CliIO } from '../src/cli/cli';
import { createProgress } from '../src/cli/progress';
import { madeTemp } from './data-helpers';


const ROOT = path.resolve(__dirname, '..');
const MODELS = path.resolve(ROOT, '../shared/models');
const SAMPLE = path.join(ROOT, 'samples/resnet20_cifar10.onnx');
const SAMPLE_TEST = path.join(ROOT, 'samples/cifar10_test500.bin');
const FMNIST = path.resolve(ROOT, '../shared/data/fmnist/t10k-images-idx3-ubyte.gz');

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = {
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
    progressSink: { write: (t) => void (err += t), isTTY: false, now: () => 0 },
  };
  const code = await runCli(argv, io);
  return { code, out, err };
}

const lastLine = (text: string) => text.trimEnd().split('\n').pop() ?? '';

function assertOneErrorLine(err: string, pattern: RegExp): void {
  const lines = err.trimEnd().split('\n');
  assert.equal(lines.length, 1, `stderr should be one line, got:\n${err}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], pattern);
}

test('info --json: resnet20 inputs, outputs, opset, operators, 20 layers and their MACs', async () => {
  const r = await cli('info', SAMPLE, '--json');
  assert.equal(r.code, 0);
  const info = JSON.parse(lastLine(r.out));
  assert.equal(info.opset, 13);
  assert.deepEqual(info.inputs, [{ name: 'input', dtype: 'float32', dims: ['batch', 3, 32, 32] }]);
  assert.deepEqual(info.outputs, [{ name: 'logits', dtype: 'float32', dims: ['batch', 10] }]);
  assert.equal(info.operators.Conv, 19);
  assert.equal(info.operators.Gemm, 1);
  assert.equal(info.layers.length, 20);
  assert.equal(info.layers[0].name, '/conv1/Conv');
  assert.deepEqual(info.layers[0].weightDims, [16, 3, 3, 3]);
  assert.deepEqual(info.layers[19].weightDims, [10, 64]);
  const sum = (key: string) => info.layers.reduce((s: number, l: Record<string, number>) => s + l[key], 0);
  // conv1 16·3·9·32² + 16 convs of 2359296 + two stride-2 convs of 1179648 + fc 640
  assert.equal(sum('macsPerImage'), 442368 + 16 * 2359296 + 2 * 1179648 + 640);
  assert.equal(sum('parameters'), info.parameters); // after BN folding every weight belongs to a conv or the fc
});

test('info: MobileNetV2 depthwise layers show their groups; text output lists layers', async () => {
  const r = await cli('info', path.join(MODELS, 'fmnist_mobilenetv2.onnx'), '--json');
  const info = JSON.parse(lastLine(r.out));
  assert.equal(info.layers.length, 32);
  assert.equal(info.layers[1].groups, 32);
  assert.equal(info.layers[1].activation, 'Relu6');
  const text = await cli('info', SAMPLE);
  assert.match(text.out, /layers +20 conv\/linear, 40\.55 M MACs per image/);
  assert.match(text.out, /\/layer3\/layer3\.2\/conv2\/Conv +Conv +\[64,64,3,3\]/);
});

test('bad input: exit 1 with exactly one error line', async () => {
  let r = await cli('frobnicate');
  assert.equal(r.code, 1);
  assertOneErrorLine(r.err, /unknown command 'frobnicate'/);
  r = await cli('info', '/no/such/model.onnx');
  assert.equal(r.code, 1);
  assertOneErrorLine(r.err, /\/no\/such\/model.onnx: no such file/);
  r = await cli('info', path.join(ROOT, 'package.json'));
  assertOneErrorLine(r.err, /package.json: not a valid ONNX model/);
  r = await cli('eval', SAMPLE, '--limit', 'ten');
  assertOneErrorLine(r.err, /--limit must be a whole number, got 'ten'/);
  r = await cli('eval', SAMPLE, '--frobnicate');
  assertOneErrorLine(r.err, /Unknown option '--frobnicate'/);
  r = await cli('eval', SAMPLE, '--data', FMNIST, '--limit', '5');
  assert.equal(r.code, 1);
  assertOneErrorLine(r.err, /images are \[C,H,W\] = \[1,28,28\] but .*resnet20_cifar10.onnx expects \[3,32,32\]/);
  r = await cli('eval', SAMPLE, '--mean', '0.5,0.5', '--limit', '5');
  assertOneErrorLine(r.err, /mean has 2 values/);
  r = await cli('info');
  assertOneErrorLine(r.err, /info: missing MODEL/);
  assert.equal(r.out, '');
});

test('help: global and per command, exit 0 on stdout', async () => {
  const global = await cli('--help');
  assert.equal(global.code, 0);
  assert.match(global.out, /commands:\n  info .*\n  eval .*\n  demo /);
  const evalHelp = await cli('eval', '--help');
  assert.equal(evalHelp.code, 0);
  assert.match(evalHelp.out, /^usage: qinspect eval MODEL --data PATH/);
  assert.match(evalHelp.out, /--limit N/);
});

/** onnxruntime-node's top-1 on the first n sample images with the sample's preprocessing. */
async function ortCorrect(n: number): Promise<number> {
  const bytes = fs.readFileSync(SAMPLE_TEST);
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  const x = new Float32Array(n * 3072);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) {
    x[i * 3072 + c * 1024 + p] = (bytes[i * 3073 + 1 + c * 1024 + p] / 255 - mean[c]) / std[c];
  }
  const session = await ort.InferenceSession.create(SAMPLE);
  const y = (await session.run({ input: new ort.Tensor('float32', x, [n, 3, 32, 32]) })).logits.data as Float32Array;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < 10; k++) if (y[i * 10 + k] > y[i * 10 + best]) best = k;
    if (best === bytes[i * 3073]) correct++;
  }
  return correct;
}

test('eval --json on the sample (sidecar preprocessing, partial last batch, 1 or 2 worker threads) equals onnxruntime-node', async () => {
  const r = await cli('eval', SAMPLE, '--limit', '70', '--batch', '32', '--workers', '2', '--json');
  assert.equal(r.code, 0, r.err);
  const result = JSON.parse(lastLine(r.out));
  assert.equal(result.images, 70);
  assert.equal(result.workers, 2);
  assert.equal(result.correct, await ortCorrect(70));
  const inProcess = JSON.parse(lastLine((await cli('eval', SAMPLE, '--limit', '70', '--batch', '32', '--workers', '1', '--json')).out));
  assert.deepEqual([inProcess.workers, inProcess.correct], [1, result.correct]);
  assert.deepEqual(result.perClass.map((c: { name: string }) => c.name).slice(0, 4), ['airplane', 'automobile', 'bird', 'cat']);
  const labels = [...fs.readFileSync(SAMPLE_TEST).subarray(0, 70 * 3073)].filter((_, i) => i % 3073 === 0);
  assert.deepEqual(result.perClass.map((c: { images: number }) => c.images), [...Array(10).keys()].map((k) => labels.filter((l) => l === k).length));
  assert.equal(result.perClass.reduce((s: number, c: { correct: number }) => s + c.correct, 0), result.correct);
  assert.equal(result.accuracy, (100 * result.correct) / 70);
  assert.ok(result.imagesPerSecond > 0);
  assert.equal(r.err, '', 'no warning: the sidecar gives mean/std');
});

test('eval: no sidecar and no --mean/--std warns on stderr; labels outside the classes are an error', async () => {
  const dir = madeTemp('qi-cli-');
  const model = path.join(dir, 'bare.onnx');
  fs.copyFileSync(SAMPLE, model);
  let r = await cli('eval', model, '--data', SAMPLE_TEST, '--limit', '2', '--json');
  assert.equal(r.code, 0);
  assert.match(r.err, /^warning: no --mean\/--std and no <model>.qinspect.json sidecar/);
  assert.equal(JSON.parse(lastLine(r.out)).images, 2);
  r = await cli('eval', model, '--limit', '2');
  assertOneErrorLine(r.err, /no data set given; pass --data PATH/);
  const bad = Buffer.from(fs.readFileSync(SAMPLE_TEST).subarray(0, 2 * 3073));
  bad[3073] = 12;
  fs.writeFileSync(path.join(dir, 'bad.bin'), bad);
  r = await cli('eval', model, '--data', path.join(dir, 'bad.bin'), '--mean', '0.5', '--std', '0.25');
  assertOneErrorLine(r.err, /bad.bin record 1: label 12 is outside the 10 classes/);
});

test('progress: hidden for the first second, then plain lines when stderr is not a terminal, \\r redraws on a terminal', () => {
  let now = 0;
  let text = '';
  const plain = createProgress('eval', 100, { write: (t) => void (text += t), isTTY: false, now: () => now });
  plain.update(10);
  now = 900;
  plain.update(50);
  assert.equal(text, '');
  now = 2000;
  plain.update(60);
  plain.done();
  assert.equal(text, 'eval [##################............] 60/100 60% 30.0/s\neval [##################............] 60/100 60% 30.0/s\n');
  text = '';
  now = 0;
  const tty = createProgress('eval', 4, { write: (t) => void (text += t), isTTY: true, now: () => now });
  now = 1500;
  tty.update(4);
  tty.done();
  assert.match(text, /^\reval \[#+\] 4\/4 100% 2\.7\/s\reval .*\n$/);
});

test('bin/qinspect: real process exit codes, error line on stderr, JSON last on stdout', () => {
  const bin = path.join(ROOT, 'bin/qinspect');
  const bad = spawnSync(process.execPath, [bin, 'info', '/no/such.onnx'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, 'error: /no/such.onnx: no such file\n');
  assert.equal(bad.stdout, '');
  const ok = spawnSync(process.execPath, [bin, 'eval', SAMPLE, '--limit', '4', '--json'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  const lines = ok.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 1);
  assert.deepEqual(Object.keys(JSON.parse(lines[0])).slice(0, 3), ['accuracy', 'correct', 'images']);
});

test('demo: no arguments, info, float eval (91% on its 500 images, as onnxruntime-node), then W8A8 and W4A4 integer runs', async () => {
  const r = await cli('demo', '--json');
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 4);
  assert.equal(lines[0].layers.length, 20);
  assert.deepEqual([lines[1].accuracy, lines[1].correct, lines[1].images], [91, 455, 500]);
  const [w8, w4] = [lines[2], lines[3]];
  for (const [q, bits] of [[w8, 8], [w4, 4]] as const) {
    assert.equal(q.options.weightBits, bits);
    assert.equal(q.calibrationImages, 500, 'calibrated on the sidecar\'s 500 training images');
    assert.equal(q.images, 500);
    assert.equal(q.fp32.accuracy, 91);
    assert.equal(q.layers.length, 20);
  }
  // 8 bits keeps the float accuracy (within a point, ≥ 98% agreement); 4 bits visibly loses, and every layer's error grows
  assert.ok(Math.abs(w8.quantized.accuracy - 91) <= 1 && w8.quantized.agreement >= 98, JSON.stringify(w8.quantized));
  assert.ok(w4.quantized.accuracy < w8.quantized.accuracy - 2, JSON.stringify(w4.quantized));
  for (let i = 0; i < 20; i++) assert.ok(w4.layers[i].outputSqnrDb < w8.layers[i].outputSqnrDb - 10, w8.layers[i].name);
  assert.equal(r.err.includes('warning'), false);
});

test('eval on a folder of PNG/JPEG class folders gives the same predictions as the CIFAR-10 .bin it was written from', async () => {
  const { PNG } = await import('pngjs');
  const classes = fs.readFileSync(path.join(ROOT, 'samples/batches.meta.txt'), 'utf8').split('\n').filter(Boolean);
  assert.deepEqual([...classes].sort(), classes); // CIFAR-10 names are in alphabetical order, so folder order = label order
  const bytes = fs.readFileSync(SAMPLE_TEST);
  const dir = madeTemp('qi-cli-folder-');
  const n = 30;
  for (let i = 0; i < n; i++) {
    const png = new PNG({ width: 32, height: 32 });
    for (let p = 0; p < 1024; p++) {
      for (let c = 0; c < 3; c++) png.data[4 * p + c] = bytes[i * 3073 + 1 + c * 1024 + p];
      png.data[4 * p + 3] = 255;
    }
    const folder = path.join(dir, classes[bytes[i * 3073]]);
    fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(path.join(folder, `${String(i).padStart(3, '0')}.png`), PNG.sync.write(png));
  }
  const fromFolder = JSON.parse(lastLine((await cli('eval', SAMPLE, '--data', dir, '--json')).out));
  const fromBin = JSON.parse(lastLine((await cli('eval', SAMPLE, '--limit', String(n), '--json')).out));
  assert.equal(fromFolder.images, n);
  assert.equal(fromFolder.correct, fromBin.correct);
  assert.equal(fromFolder.correct, await ortCorrect(n));
  // only some classes present: the sidecar's labels keep each folder's true class index
  for (const name of classes) if (name !== 'cat' && name !== 'ship') fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  const subset = JSON.parse(lastLine((await cli('eval', SAMPLE, '--data', dir, '--json')).out));
  const catShip = fromBin.perClass.filter((c: { name: string }) => c.name === 'cat' || c.name === 'ship');
  assert.equal(subset.images, catShip[0].images + catShip[1].images);
  assert.equal(subset.correct, catShip[0].correct + catShip[1].correct);
});

test('an unsupported operator: info still describes the model, eval names the operator before any image runs', async () => {
  const { encodeModel, valueInfo } = await import('./robust-fixtures');
  const proto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'odd',
      node: [{ name: 'odd_op', opType: 'Frobnicate', input: ['x'], output: ['y'] }],
      input: [valueInfo('x', ['N', 3, 32, 32])],
      output: [valueInfo('y', ['N', 10])],
    },
  };
  const dir = madeTemp('qi-cli-op-');
  const file = path.join(dir, 'odd.onnx');
  fs.writeFileSync(file, encodeModel(proto));
  const info = await cli('info', file, '--json');
  assert.equal(info.code, 0, info.err);
  const json = JSON.parse(lastLine(info.out));
  assert.deepEqual(json.operators, { Frobnicate: 1 });
  assert.match(json.layersError, /Frobnicate/);
  const r = await cli('eval', file, '--data', SAMPLE_TEST, '--mean', '0', '--std', '1');
  assert.equal(r.code, 1);
  assertOneErrorLine(r.err, /Frobnicate/);
});

test('unexpected errors: one line with a hint, the stack only with --debug', async () => {
  const boom = { name: 'boom', summary: 'fails', usage: '', positionals: [], options: {}, run: () => { throw new TypeError('x is undefined'); } };
  let err = '';
  const io: CliIO = { stdout: () => {}, stderr: (t) => void (err += t), progressSink: { write: () => {}, isTTY: false, now: () => 0 } };
  assert.equal(await runCli(['boom'], io, [boom]), 1);
  assert.equal(err, 'error: unexpected TypeError: x is undefined (run with --debug for the stack trace)\n');
  err = '';
  assert.equal(await runCli(['boom', '--debug'], io, [boom]), 1);
  assert.match(err, /^error: unexpected TypeError: x is undefined\nTypeError: x is undefined\n +at /);
});

test('--max-model-mb refuses a model over the cap, naming the setting; the default accepts it again', async () => {
  const r = await cli('info', SAMPLE, '--max-model-mb', '0.5');
  assert.equal(r.code, 1);
  assertOneErrorLine(r.err, /resnet20_cifar10.onnx: model is 1\.04 MB, over the limit of 0\.5 MB .*maxModelSizeMB/);
  assert.equal((await cli('info', SAMPLE, '--json')).code, 0);
  assertOneErrorLine((await cli('info', SAMPLE, '--max-model-mb=-3')).err, /--max-model-mb must be at least 0\.001, got -3/);
});
