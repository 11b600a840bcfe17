// Extension-host tests through @vscode/test-electron, for machines with internet access (it downloads VS Code).
// Offline machines use scripts/e2e/run-e2e.js (code-server) instead, which `npm test` runs.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { runTests } = require('@vscode/test-electron');

const root = path.resolve(__dirname, '../..');
async function main() {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'qi-electron-ws-'));
  for (const f of fs.readdirSync(path.join(root, 'samples'))) fs.copyFileSync(path.join(root, 'samples', f), path.join(ws, f));
  const userData = fs.mkdtempSync(path.join(os.tmpdir(), 'qi-electron-ud-'));
  fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
  fs.copyFileSync(path.join(__dirname, 'vscode-settings.json'), path.join(userData, 'User', 'settings.json'));
  try {
    await runTests({
      extensionDevelopmentPath: root,
      extensionTestsPath: path.join(root, 'test', 'exthost', 'index.js'),
      launchArgs: [ws, '--disable-extensions', '--disable-workspace-trust', `--user-data-dir=${userData}`],
    });
  } finally {
    fs.rmSync(ws, { recursive: true, force: true });
    fs.rmSync(userData, { recursive: true, force: true });
  }
}
main().catch((e) => { console.error('extension-host tests failed:', e.message || e); process.exit(1); });
