// Runs the e2e tests (extension-host mocha + playwright UI) in code-server; installs code-server/chromium on first use.
// Set QI_SKIP_E2E=1 to leave them out of a unit-only run.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(__dirname, '..');

test('extension e2e in a real VS Code (code-server 4.100.3): extension-host tests and UI tests', { skip: process.env.QI_SKIP_E2E === '1' ? 'QI_SKIP_E2E=1' : false, timeout: 30 * 60 * 1000 }, () => {
  const build = spawnSync(process.execPath, [path.join(root, 'scripts/build.js')], { cwd: root, stdio: 'inherit' });
  assert.equal(build.status, 0, 'build');
  const r = spawnSync(process.execPath, [path.join(root, 'scripts/e2e/run-e2e.js')], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  const output = `${r.stdout}\n${r.stderr}`;
  if (r.status !== 0) console.log(output.slice(-20000));
  assert.equal(r.status, 0, 'e2e tests failed (see output above; screenshots in test-results/)');
  assert.match(output, /extension-host tests: passed/);
  assert.match(output, /UI tests: passed/);
});
