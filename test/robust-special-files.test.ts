// Special files where a model, sidecar or data file is expected: FIFOs (a read blocks forever), devices (endless),
// folders, huge sidecars. Each is refused at once; the checks run in a child process so a regression fails the
// test by timeout instead of blocking the test runner.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { execFileSync, spawnSync } from 'child_process';
import { MODELS, tempDir } from './robust-fixtures';

const ROOT = path.resolve(__dirname, '..');
let dir: string;

before(() => {
  dir = tempDir('special');
  execFileSync('mkfifo', [path.join(dir, 'fifo.onnx')]);
  fs.symlinkSync('/dev/zero', path.join(dir, 'zero.onnx'));
  fs.mkdirSync(path.join(dir, 'folder.onnx'));
  fs.copyFileSync(path.join(MODELS, 'resnet20_cifar10.onnx'), path.join(dir, 'model.onnx'));
  execFileSync('mkfifo', [path.join(dir, 'model.qinspect.json')]); // the sidecar next to a good model is a FIFO
  fs.copyFileSync(path.join(MODELS, 'resnet20_cifar10.onnx'), path.join(dir, 'big.onnx'));
  fs.writeFileSync(path.join(dir, 'big.qinspect.json'), `{"mean": [${'0,'.repeat(600_000)}0]}`);
  execFileSync('mkfifo', [path.join(dir, 'data.bin')]);
  fs.mkdirSync(path.join(dir, 'images', 'cat'), { recursive: true });
  execFileSync('mkfifo', [path.join(dir, 'images', 'cat', 'pipe.png')]);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs `body` (TypeScript statements) in a child with the project's modules; returns its stdout lines. */
function inChild(body: string): string[] {
  const script = path.join(dir, `child-${Math.random().toString(36).slice(2)}.ts`);
  fs.writeFileSync(script, `
import { loadModel } from ${JSON.stringify(path.join(ROOT, 'src/onnx/load'))};
import { findSidecar } from ${JSON.stringify(path.join(ROOT, 'src/data/sidecar'))};
import { openDataset } from ${JSON.stringify(path.join(ROOT, 'src/data/open'))};
const attempt = (what: string, fn: () => unknown) => {
  try { fn(); console.log(what + ' ok'); } catch (e) { console.log(what + ' ' + (e as Error).name + ': ' + (e as Error).message); }
};
${body}
`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 }); // a blocked read never ends; a busy machine only slows the child's start
  assert.equal(r.signal, null, `the child was killed (${r.signal}): a read blocked or ran away\n${r.stdout}${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n');
}

test('a FIFO, /dev/zero or a folder given as the model is refused without reading it', () => {
  const lines = inChild(['fifo.onnx', 'zero.onnx', 'folder.onnx'].map((f) => `attempt(${JSON.stringify(f)}, () => loadModel(${JSON.stringify(path.join(dir, f))}));`).join('\n'));
  assert.deepEqual(lines.map((l) => l.replace(dir, '<dir>')), [
    'fifo.onnx InputError: <dir>/fifo.onnx: not a file',
    'zero.onnx InputError: <dir>/zero.onnx: not a file',
    'folder.onnx InputError: <dir>/folder.onnx: not a file',
  ]);
});

test('a sidecar that is a FIFO or over 1 MB is refused, not read', () => {
  const lines = inChild(`
attempt('fifo sidecar', () => findSidecar(${JSON.stringify(path.join(dir, 'model.onnx'))}));
attempt('big sidecar', () => findSidecar(${JSON.stringify(path.join(dir, 'big.onnx'))}));`);
  assert.match(lines[0], /^fifo sidecar InputError: .*model\.qinspect\.json: not a readable JSON sidecar \(not a regular file\)$/);
  assert.match(lines[1], /^big sidecar InputError: .*big\.qinspect\.json: not a readable JSON sidecar \(1200013 bytes, over the 1048576-byte limit for a sidecar\)$/);
});

test('a FIFO as a data file is refused; a FIFO among images is not opened', () => {
  const lines = inChild(`
attempt('fifo data', () => openDataset(${JSON.stringify(path.join(dir, 'data.bin'))}));
attempt('fifo image', () => openDataset(${JSON.stringify(path.join(dir, 'images'))}));`);
  assert.match(lines[0], /^fifo data InputError: .*data\.bin: not a file$/);
  assert.match(lines[1], /^fifo image InputError: .*images: the class sub-folders \(cat\) hold no \.png\/\.jpg\/\.jpeg images$/);
});
