// Mutated models through `qinspect info`, the way a user meets them: exit 0 with a description, or exit 1 with one
// `error: ...` line; never an "unexpected" error, a stack trace or another exit code.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { MODELS, tempDir } from './robust-fixtures';
import { generateCase, STRATEGY_NAMES } from './fuzz-mutations';

const ROOT = path.resolve(__dirname, '..');

test('qinspect info on 30 mutated models: a description or one clean error line each', { timeout: 300_000 }, () => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli.js'))) spawnSync(process.execPath, ['scripts/build.js'], { cwd: ROOT });
  const dir = tempDir('fuzz-cli');
  const base = new Uint8Array(fs.readFileSync(path.join(MODELS, 'fmnist_mobilenetv2.onnx')));
  let described = 0, refused = 0;
  try {
    for (let i = 0; i < 30; i++) {
      const strategy = STRATEGY_NAMES[i % STRATEGY_NAMES.length];
      const c = generateCase(base, strategy, 9000 + i);
      const file = path.join(dir, `case-${i}.onnx`);
      fs.writeFileSync(file, c.bytes);
      const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'qinspect'), 'info', file], { encoding: 'utf8', timeout: 60_000 });
      const what = `${strategy} seed ${9000 + i} (${c.description}): exit ${r.status}\n${r.stderr}`;
      assert.equal(r.signal, null, what);
      assert.ok(r.status === 0 || r.status === 1, what);
      assert.ok(!/unexpected|\n\s+at /.test(r.stderr), what);
      if (r.status === 0) {
        described++;
        assert.match(r.stdout, /^model\s+.*case-\d+\.onnx/m, what);
      } else {
        refused++;
        assert.match(r.stderr, /^error: [^\n]+\n$/, what);
      }
      fs.rmSync(file);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`qinspect info on mutated models: ${described} described, ${refused} refused with one error line, 0 crashes`);
  assert.ok(described > 0 && refused > 0);
});
