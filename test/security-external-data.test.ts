// External data confinement: a model may only pull tensor bytes from files inside its own folder.
// Crafted models point at a real file outside; a spy on fs shows nothing outside is ever opened.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { execFileSync, spawnSync } from 'child_process';
import { onnx } from 'onnx-proto';
import { loadModel } from '../src/onnx/load';
import { encodeModel, expectInputError, tempDir, tinyModel } from './robust-fixtures';

const ROOT = path.resolve(__dirname, '..');
const WEIGHTS = new Float32Array([1, -2, 3, 4]);
let base: string;
let folder: string; // the model's folder
let outside: string; // a real file with valid tensor bytes, outside the folder

function externalWeight(location: string, extra: Record<string, string> = {}): onnx.ITensorProto {
  return {
    name: 'W',
    dims: [2, 2],
    dataType: onnx.TensorProto.DataType.FLOAT,
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [{ key: 'location', value: location }, ...Object.entries(extra).map(([key, value]) => ({ key, value }))],
  };
}

let counter = 0;
function writeModel(location: string, extra: Record<string, string> = {}): string {
  const file = path.join(folder, `model-${counter++}.onnx`);
  fs.writeFileSync(file, encodeModel(tinyModel(externalWeight(location, extra))));
  return file;
}

/** Every path fs is asked to open or read while fn runs (in this process). */
function openedPaths(fn: () => void): string[] {
  const seen: string[] = [];
  const fsAny = require('fs') as Record<string, (...a: unknown[]) => unknown>; // the module object, not the ESM namespace
  const names = ['openSync', 'readFileSync', 'createReadStream', 'open', 'readFile', 'readSync', 'openAsBlob'];
  const originals = names.map((n) => fsAny[n]);
  names.forEach((n, i) => {
    fsAny[n] = function (this: unknown, ...args: unknown[]) {
      if (typeof args[0] === 'string' || args[0] instanceof URL) seen.push(String(args[0]));
      return originals[i].apply(this, args);
    };
  });
  try {
    fn();
  } finally {
    names.forEach((n, i) => { fsAny[n] = originals[i]; });
  }
  return seen;
}

function isOutside(p: string): boolean {
  const real = fs.existsSync(p) ? fs.realpathSync(p) : path.resolve(p);
  const rel = path.relative(fs.realpathSync(folder), real);
  return rel.startsWith('..') || path.isAbsolute(rel);
}

before(() => {
  base = tempDir('extdata');
  folder = path.join(base, 'model');
  fs.mkdirSync(path.join(folder, 'sub'), { recursive: true });
  fs.mkdirSync(path.join(base, 'outside'));
  outside = path.join(base, 'outside', 'secret.bin');
  fs.writeFileSync(outside, new Uint8Array(WEIGHTS.buffer));
  fs.writeFileSync(path.join(folder, 'inside.bin'), Buffer.concat([Buffer.alloc(8), new Uint8Array(WEIGHTS.buffer)]));
  fs.symlinkSync(outside, path.join(folder, 'link-out.bin'));
  fs.symlinkSync(path.join(base, 'outside'), path.join(folder, 'linkdir'));
  fs.symlinkSync('inside.bin', path.join(folder, 'link-in.bin')); // a link that stays inside is fine
  execFileSync('mkfifo', [path.join(folder, 'pipe.bin')]); // reading a FIFO would block forever
});

after(() => fs.rmSync(base, { recursive: true, force: true }));

const REFUSED: [string, RegExp][] = [
  ['<outside absolute>', /which is an absolute path; external data must stay inside the model's folder/],
  ['../outside/secret.bin', /which contains '\.\.'/],
  ['sub/../../outside/secret.bin', /which contains '\.\.'/],
  ['..\\outside\\secret.bin', /which contains '\.\.'/],
  ['C:\\Windows\\win.ini', /which is an absolute path/],
  ['/etc/passwd', /which is an absolute path/],
  ['link-out.bin', /which leads outside through a symbolic link/],
  ['linkdir/secret.bin', /which leads outside through a symbolic link/],
  ['sub', /which is not a regular file/],
  ['pipe.bin', /which is not a regular file/],
  ['missing.bin', /external data file 'missing\.bin' which does not exist next to the model/],
  ['', /uses external data but names no location/],
  ['in\0side.bin', /does not exist next to the model/],
];

for (const [where, expected] of REFUSED) {
  test(`external data location ${JSON.stringify(where)} is refused and nothing outside is opened`, () => {
    const location = where === '<outside absolute>' ? outside : where;
    const file = writeModel(location);
    let err: Error | undefined;
    const opened = openedPaths(() => { err = expectInputError(() => loadModel(file)); });
    assert.match(err!.message, expected);
    assert.ok(err!.message.startsWith(`${file}: initializer 'W'`), err!.message);
    assert.deepEqual(opened.filter(isOutside), [], `opened outside: ${opened.join(', ')}`);
    assert.ok(!opened.some((p) => p.endsWith('pipe.bin')), 'the FIFO was opened');
  });
}

test('external data inside the folder (also through an inner symlink) loads the right values', () => {
  for (const location of ['inside.bin', 'link-in.bin']) {
    const file = writeModel(location, { offset: '8', length: '16' });
    const opened = openedPaths(() => {
      const w = loadModel(file).graph.initializers.get('W')!;
      assert.deepEqual([...(w.data as Float32Array)], [...WEIGHTS]);
    });
    assert.ok(opened.some((p) => p === fs.realpathSync(path.join(folder, 'inside.bin'))), opened.join(', '));
    assert.deepEqual(opened.filter(isOutside), []);
  }
});

test('external data ranges outside the file, or of the wrong size, are refused', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ offset: '20', length: '16' }, /reads bytes 20\.\.36 of 'inside\.bin', which has 24/],
    [{ offset: '-4' }, /reads bytes -4\.\./],
    [{ offset: 'x' }, /reads bytes NaN\.\./],
    [{ offset: '0', length: '24' }, /has 24 bytes of data, but its shape \[2,2\] of float32 needs 16/],
    [{ length: '1e300' }, /reads bytes 0\.\.1e\+300/],
  ];
  for (const [extra, expected] of cases) {
    const file = writeModel('inside.bin', extra);
    assert.match(expectInputError(() => loadModel(file)).message, expected);
  }
});

test('external data counts toward the model size cap (setting named)', () => {
  const file = writeModel('inside.bin', { offset: '8', length: '16' });
  const size = fs.statSync(file).size;
  const err = expectInputError(() => loadModel(file, { maxModelBytes: size + 8, maxTensorElements: 100 }));
  assert.match(err.message, /the model and its external data exceed the limit of \d+ bytes \(setting quantInspector\.maxModelSizeMB, CLI --max-model-mb\)/);
  assert.equal(loadModel(file, { maxModelBytes: size + 16, maxTensorElements: 100 }).graph.initializers.get('W')!.dims.length, 2);
});

test('bin/qinspect info on a model whose external data points outside exits 1 with error: and opens nothing outside', () => {
  const cli = path.join(ROOT, 'dist', 'cli.js');
  if (!fs.existsSync(cli)) execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.js')], { cwd: ROOT });
  // A preloaded spy logs every path the CLI process opens (no strace needed).
  const spy = path.join(base, 'spy.cjs');
  const log = path.join(base, 'opened.log');
  fs.writeFileSync(spy, `
const fs = require('fs');
const seen = [];
for (const name of ['openSync', 'readFileSync', 'createReadStream', 'open', 'readFile']) {
  const original = fs[name];
  fs[name] = function (...args) { if (typeof args[0] === 'string') seen.push(args[0]); return original.apply(this, args); };
}
process.on('exit', () => { fs.writeFileSync(${JSON.stringify(log)}, seen.join('\\n')); });
`);
  for (const location of ['../outside/secret.bin', outside, 'link-out.bin', 'linkdir/secret.bin']) {
    const file = writeModel(location);
    const r = spawnSync(process.execPath, ['--require', spy, path.join(ROOT, 'bin', 'qinspect'), 'info', file], { encoding: 'utf8', cwd: base });
    assert.equal(r.status, 1, `exit ${r.status}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /^error: .*initializer 'W' has external data location .* external data must stay inside the model's folder\n$/);
    assert.equal(r.stderr.split('\n').length, 2, 'one line, no stack trace');
    const opened = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
    assert.ok(opened.some((p) => p.endsWith(path.basename(file))), `the spy saw the model being read: ${opened.join(', ')}`);
    assert.deepEqual(opened.filter((p) => p.includes(`${path.sep}outside${path.sep}`) || p.includes('secret')), []);
  }
});
