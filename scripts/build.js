// Bundles the extension, the worker, the CLI and the webview with esbuild; compiles the wasm kernels.
const esbuild = require('esbuild');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const watch = process.argv.includes('--watch');
const exists = (p) => fs.existsSync(path.join(root, p));

const nodeEntries = [
  ['src/extension/extension.ts', 'dist/extension.js'],
  ['src/worker/worker-main.ts', 'dist/worker.js'],
  ['src/cli/main.ts', 'dist/cli.js'],
  ['src/parallel/pool-worker.ts', 'dist/pool-worker.js'],
].filter(([src]) => exists(src));
const webEntries = [['webview/main.ts', 'dist/webview.js']].filter(([src]) => exists(src));

function buildWasm() {
  const script = path.join(root, 'scripts/build-wasm.js');
  if (fs.existsSync(script)) execFileSync(process.execPath, [script], { stdio: 'inherit', cwd: root });
}

async function main() {
  buildWasm();
  const common = { bundle: true, sourcemap: true, logLevel: 'warning', absWorkingDir: root };
  const builds = [
    ...nodeEntries.map(([entry, outfile]) => ({
      ...common, entryPoints: [entry], outfile, platform: 'node', target: 'node18', format: 'cjs',
      external: ['vscode', 'onnxruntime-node'],
    })),
    ...webEntries.map(([entry, outfile]) => ({
      ...common, entryPoints: [entry], outfile, platform: 'browser', target: 'es2020', format: 'iife',
    })),
  ];
  if (watch) {
    for (const b of builds) await (await esbuild.context(b)).watch();
  } else {
    await Promise.all(builds.map((b) => esbuild.build(b)));
  }
}
main().catch((e) => { console.error(e.message); process.exit(1); });
