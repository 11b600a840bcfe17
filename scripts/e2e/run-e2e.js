// Runs the e2e tests in a real VS Code (code-server 4.100.3 = VS Code 1.100, offline) driven by Debian chromium:
// 1. extension-host tests (mocha inside the extension host, test/exthost/), 2. UI tests (playwright-core, test/e2e/ui.js).
// Installs what it needs on first use (scripts/e2e/setup.sh). Exit code 0 only if both pass.
// usage: node scripts/e2e/run-e2e.js [--only exthost|ui]
const fs = require('fs');
const os = require('os');
const path = require('path');
const http = require('http');
const { spawn, spawnSync } = require('child_process');

const root = path.resolve(__dirname, '../..');
const home = process.env.QI_E2E_HOME || path.join(root, '.cache', 'vscode-harness');
const codeServer = path.join(home, 'cs20', 'node_modules', '.bin', 'code-server');
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const log = (...a) => console.log('[e2e]', ...a);

function ensureInstalled() {
  if (fs.existsSync(codeServer) && fs.existsSync(path.join(home, 'cs20', '.installed')) && fs.existsSync('/usr/bin/chromium')) return;
  log('installing code-server 4.100.3 and chromium (first use)…');
  const r = spawnSync('bash', [path.join(__dirname, 'setup.sh')], { stdio: 'inherit', env: { ...process.env, QI_E2E_HOME: home } });
  if (r.status !== 0) throw new Error('e2e setup failed (scripts/e2e/setup.sh)');
}

function freePort() {
  return new Promise((resolve) => {
    const srv = require('net').createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function healthy(port) {
  return new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port, path: '/healthz', timeout: 1000 }, (res) => { res.resume(); resolve(res.statusCode === 200); }).on('error', () => resolve(false));
  });
}

/** A throwaway workspace: the embedded sample (model, data, sidecar, Python definition) plus small e2e settings. */
function makeWorkspace(scratch, name) {
  const ws = path.join(scratch, name);
  fs.mkdirSync(path.join(ws, '.vscode'), { recursive: true });
  for (const f of fs.readdirSync(path.join(root, 'samples'))) fs.copyFileSync(path.join(root, 'samples', f), path.join(ws, f));
  fs.writeFileSync(path.join(ws, '.vscode', 'settings.json'), JSON.stringify({
    'quantInspector.calibrationImages': 128,
    'quantInspector.testImages': 200,
    'python.languageServer': 'None',
  }, null, 2));
  return ws;
}

/** Packages the .vsix exactly as `npm run package` does and unpacks it: the extension-host tests run against what ships. */
function unpackedPackage(scratch) {
  const vsix = path.join(scratch, 'quant-inspector.vsix');
  const vsce = path.join(root, 'node_modules', '.bin', 'vsce');
  const pack = spawnSync(vsce, ['package', '--no-dependencies', '--no-rewrite-relative-links', '-o', vsix], { cwd: root, encoding: 'utf8' });
  if (pack.status !== 0) throw new Error(`vsce package failed:\n${pack.stdout}\n${pack.stderr}`);
  const dir = path.join(scratch, 'vsix');
  const unzip = spawnSync('unzip', ['-q', vsix, '-d', dir], { encoding: 'utf8' });
  if (unzip.status !== 0) throw new Error(`unzip failed: ${unzip.stderr}`);
  return path.join(dir, 'extension');
}

async function main() {
  ensureInstalled();
  for (const f of ['dist/extension.js', 'dist/worker.js', 'dist/webview.js']) {
    if (!fs.existsSync(path.join(root, f))) throw new Error(`${f} is missing: run node scripts/build.js first`);
  }
  fs.mkdirSync(path.join(home, 'tmp'), { recursive: true });
  const scratch = fs.mkdtempSync(path.join(home, 'tmp', 'e2e-'));
  const ud = path.join(scratch, 'ud');
  fs.mkdirSync(path.join(ud, 'User'), { recursive: true });
  fs.mkdirSync(path.join(scratch, 'tmp'), { recursive: true });
  fs.copyFileSync(path.join(__dirname, 'vscode-settings.json'), path.join(ud, 'User', 'settings.json'));
  // one workspace per suite: settings and workspace storage (stored runs, last choices) do not leak between them
  const wsExthost = makeWorkspace(scratch, 'ws-exthost');
  const wsUi = makeWorkspace(scratch, 'ws');
  const port = await freePort();
  const env = {
    ...process.env,
    XDG_CONFIG_HOME: path.join(scratch, 'config'), XDG_DATA_HOME: path.join(scratch, 'data'), XDG_CACHE_HOME: path.join(scratch, 'cache'),
    TMPDIR: path.join(scratch, 'tmp'),
  };
  const serverLog = fs.openSync(path.join(scratch, 'server.log'), 'w');
  const server = spawn(codeServer, [
    '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
    '--user-data-dir', ud, '--extensions-dir', path.join(scratch, 'ext'), '--config', path.join(scratch, 'config.yaml'),
  ], { env, detached: true, stdio: ['ignore', serverLog, serverLog] }); // own process group: killed as a whole below
  const stop = () => { try { process.kill(-server.pid, 'SIGKILL'); } catch { /* already gone */ } };
  process.on('exit', stop);
  process.on('SIGINT', () => { stop(); process.exit(130); });
  process.on('SIGTERM', () => { stop(); process.exit(143); });
  let up = false;
  for (let i = 0; i < 240 && !up; i++) { up = await healthy(port); if (!up) await new Promise((r) => setTimeout(r, 250)); }
  if (!up) throw new Error(`code-server did not start; log: ${path.join(scratch, 'server.log')}`);
  const base = `http://127.0.0.1:${port}`;
  log(`code-server ${base}, workspaces ${wsExthost}, ${wsUi}`);
  const results = path.join(root, 'test-results');
  fs.mkdirSync(results, { recursive: true });
  const run = (script, args) => spawnSync(process.execPath, [script, ...args], { stdio: 'inherit', env: { ...process.env, QI_E2E_BASE: base, QI_ROOT: root } }).status;
  let failed = 0;
  if (!only || only === 'exthost') {
    const extDir = process.argv.includes('--dev') ? root : unpackedPackage(scratch);
    log(`extension-host tests against ${extDir === root ? 'the repository' : `the packaged .vsix (${extDir})`}`);
    const code = run(path.join(root, 'test', 'exthost', 'run-in-code-server.js'), [base, wsExthost, extDir, path.join(root, 'test', 'exthost', 'index.js')]);
    log(`extension-host tests: ${code === 0 ? 'passed' : 'FAILED'}`);
    if (code !== 0) failed++;
  }
  if (!only || only === 'ui') {
    const code = run(path.join(root, 'test', 'e2e', 'ui.js'), [base, wsUi, results]);
    log(`UI tests: ${code === 0 ? 'passed' : 'FAILED'} (screenshots in test-results/)`);
    if (code !== 0) failed++;
  }
  stop();
  if (failed) log(`server log: ${path.join(scratch, 'server.log')}`);
  else fs.rmSync(scratch, { recursive: true, force: true });
  process.exit(failed ? 1 : 0);
}
main().catch((e) => { console.error('[e2e] error:', e.message); process.exit(1); });
