// The pool from esbuild bundles (as dist/ ships it): the worker is the bundled pool-worker.js beside the entry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';

const root = path.resolve(__dirname, '..');

test('a bundled entry runs the worker pool with the bundled pool-worker.js (no tsx)', async () => {
  const esbuild = await import('esbuild');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qinspect-bundle-'));
  try {
    const entry = path.join(dir, 'entry.ts');
    fs.writeFileSync(entry, `
      import { WorkerPool } from ${JSON.stringify(path.join(root, 'src/parallel/pool'))};
      import { floatTensor } from ${JSON.stringify(path.join(root, 'src/graph/tensor'))};
      WorkerPool.create(${JSON.stringify(path.resolve(root, '../shared/models/resnet20_cifar10.onnx'))}, { workers: 2 }).then(async (pool) => {
        const out = await pool.runSplit(floatTensor([4, 3, 32, 32]));
        console.log('logits', out.dims.join('x'));
        await pool.close();
      });`);
    const common = { bundle: true, platform: 'node' as const, format: 'cjs' as const, target: 'node18', logLevel: 'silent' as const, absWorkingDir: root };
    await esbuild.build({ ...common, entryPoints: [entry], outfile: path.join(dir, 'entry.js') });
    await esbuild.build({ ...common, entryPoints: [path.join(root, 'src/parallel/pool-worker.ts')], outfile: path.join(dir, 'pool-worker.js') });
    const r = spawnSync(process.execPath, [path.join(dir, 'entry.js')], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, NODE_OPTIONS: '' } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /logits 4x10/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
