// Atomic writes: a failure at any point leaves the previous file intact and no temporary file behind.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic, writeFileAtomicAsync } from '../src/util/atomic-write';
import { expectInputError, tempDir } from './robust-fixtures';

const nodeFs = require('fs') as Record<string, unknown>; // the module object, patchable (not the ESM namespace)

function withPatched<T>(name: string, replacement: unknown, fn: () => T): T {
  const original = nodeFs[name];
  nodeFs[name] = replacement;
  try {
    return fn();
  } finally {
    nodeFs[name] = original;
  }
}

test('writeFileAtomic writes and replaces whole files, leaving no temporary file', async () => {
  const dir = tempDir('atomic');
  const file = path.join(dir, 'out.onnx');
  writeFileAtomic(file, 'first');
  assert.equal(fs.readFileSync(file, 'utf8'), 'first');
  writeFileAtomic(file, [new Uint8Array([1, 2]), new Uint8Array([3])]);
  assert.deepEqual([...fs.readFileSync(file)], [1, 2, 3]);
  await writeFileAtomicAsync(file, new Uint8Array(1 << 20).fill(7));
  assert.equal(fs.statSync(file).size, 1 << 20);
  assert.deepEqual(fs.readdirSync(dir), ['out.onnx']);
  fs.rmSync(dir, { recursive: true });
});

test('a write that fails half-way keeps the previous file and removes the temporary one', async () => {
  const dir = tempDir('atomic-fail');
  const file = path.join(dir, 'model.onnx');
  fs.writeFileSync(file, 'previous complete model');
  const data = [new Uint8Array(1000).fill(1), new Uint8Array(1000).fill(2)];
  let calls = 0;
  const realWriteSync = fs.writeSync;
  const failing = (...args: unknown[]) => {
    if (++calls === 2) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return (realWriteSync as (...a: unknown[]) => number)(...args);
  };
  const err = withPatched('writeSync', failing, () => expectInputError(() => writeFileAtomic(file, data)));
  assert.equal(calls, 2, 'the first chunk was written before the failure');
  assert.match(err.message, /model\.onnx: could not be written \(ENOSPC: no space left on device, write\); the previous file, if any, is unchanged/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'previous complete model');
  assert.deepEqual(fs.readdirSync(dir), ['model.onnx']);
  // A failing rename (the last step) must not leave the temporary file either.
  const renameFails = () => { throw new Error('EXDEV: cross-device link not permitted'); };
  withPatched('renameSync', renameFails, () => expectInputError(() => writeFileAtomic(file, 'new')));
  assert.equal(fs.readFileSync(file, 'utf8'), 'previous complete model');
  assert.deepEqual(fs.readdirSync(dir), ['model.onnx']);
  // The async form: a failing handle write.
  const realOpen = fs.promises.open;
  const promisesAny = fs.promises as unknown as Record<string, unknown>;
  promisesAny.open = async (...args: unknown[]) => {
    const handle = await (realOpen as (...a: unknown[]) => Promise<fs.promises.FileHandle>)(...args);
    handle.write = (async () => { throw new Error('EIO: i/o error, write'); }) as unknown as typeof handle.write;
    return handle;
  };
  try {
    await assert.rejects(writeFileAtomicAsync(file, 'async new'), /could not be written \(EIO: i\/o error, write\)/);
  } finally {
    promisesAny.open = realOpen;
  }
  assert.equal(fs.readFileSync(file, 'utf8'), 'previous complete model');
  assert.deepEqual(fs.readdirSync(dir), ['model.onnx']);
  fs.rmSync(dir, { recursive: true });
});

test('bad targets are clear errors: missing folder, a folder in the way, a file as folder', () => {
  const dir = tempDir('atomic-bad');
  assert.match(expectInputError(() => writeFileAtomic(path.join(dir, 'no', 'x.onnx'), 'x')).message, /cannot write, folder .*no does not exist/);
  fs.mkdirSync(path.join(dir, 'taken'));
  assert.match(expectInputError(() => writeFileAtomic(path.join(dir, 'taken'), 'x')).message, /taken: could not be written/);
  fs.writeFileSync(path.join(dir, 'plain'), 'x');
  assert.match(expectInputError(() => writeFileAtomic(path.join(dir, 'plain', 'x.onnx'), 'x')).message, /is not a folder/);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['plain', 'taken']);
  fs.rmSync(dir, { recursive: true });
});

test('every file the product writes goes through writeFileAtomic (no direct writes in src/)', () => {
  const src = path.resolve(__dirname, '../src');
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) files.push(p);
    }
  };
  walk(src);
  assert.ok(files.length > 40);
  const direct = /\b(writeFileSync|appendFileSync|createWriteStream|appendFile)\s*\(|\.writeFile\s*\(|promises\.(writeFile|appendFile)/;
  const offenders = files
    .filter((f) => !f.endsWith(path.join('util', 'atomic-write.ts')))
    .flatMap((f) => fs.readFileSync(f, 'utf8').split('\n').map((line, i) => [f, i + 1, line] as const))
    .filter(([, , line]) => direct.test(line))
    .map(([f, n, line]) => `${path.relative(src, f)}:${n}: ${line.trim()}`);
  assert.deepEqual(offenders, []);
  assert.ok(files.some((f) => /writeFileAtomic\(/.test(fs.readFileSync(f, 'utf8')) && f.includes(path.join('onnx', 'export.ts'))), 'the QDQ export writes with writeFileAtomic');
});
