// Webview and worker boundary: strict CSP with per-load nonces, no eval, nothing remote, every message validated.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { contentSecurityPolicy, editorHtml, makeNonce } from '../src/extension/html';
import { isInsideFolders, parseWebviewMessage, WEBVIEW_COMMANDS } from '../src/extension/messages';
import { isStartMessage, isWorkerMessage } from '../src/worker/protocol';
import { rng, tempDir } from './robust-fixtures';

const ROOT = path.resolve(__dirname, '..');

/** Random JSON-ish values, including the shapes real messages have and hostile keys. */
function randomValue(r: () => number, depth = 0): unknown {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  switch (Math.floor(r() * (depth > 2 ? 6 : 8))) {
    case 0: return pick([null, undefined, true, false, 0, -1, 1.5, NaN, Infinity, 2 ** 53, -0]);
    case 1: return pick(['', 'ready', 'command', 'selectLayer', 'revealLayer', 'start', 'quantize', '/conv1/Conv', 'x'.repeat(5000), '__proto__', '../../etc/passwd']);
    case 2: return pick([() => 1, Symbol('s'), 10n]);
    case 3: return { type: pick(['ready', 'command', 'selectLayer', 'revealLayer', 'start', 'progress', 'result', 'error', 'nope']), command: pick([...WEBVIEW_COMMANDS, 'rm', undefined]), layer: pick(['/conv1/Conv', '/missing', 7, undefined]), id: pick([1, -1, 1.5, '1', undefined]), job: pick(['summary', 'quantize', 'evil', undefined]), options: pick([{}, [], null, 'x', undefined]), fraction: pick([0.5, '0.5', undefined]), message: pick(['m', 5, undefined]), inputError: pick([true, 'yes', undefined]) };
    case 4: return JSON.parse('{"__proto__": {"type": "ready", "polluted": true}, "constructor": {"prototype": {"x": 1}}}');
    case 5: return Object.create({ type: 'command', command: 'quantize' }); // fields only on the prototype
    case 6: return [randomValue(r, depth + 1), randomValue(r, depth + 1)];
    default: return { type: randomValue(r, depth + 1), layer: randomValue(r, depth + 1), command: randomValue(r, depth + 1), id: randomValue(r, depth + 1), options: randomValue(r, depth + 1) };
  }
}

test('webview messages: only known, well-formed messages naming this model\'s layers get through, rebuilt without extra fields', () => {
  const layers = new Set(['/conv1/Conv', '/layer1/layer1.0/conv1/Conv']);
  assert.deepEqual(parseWebviewMessage({ type: 'ready', extra: 1 }, layers), { type: 'ready' });
  assert.deepEqual(parseWebviewMessage({ type: 'command', command: 'quantize', path: '/etc/passwd' }, layers), { type: 'command', command: 'quantize' });
  assert.deepEqual(parseWebviewMessage({ type: 'selectLayer', layer: '/conv1/Conv' }, layers), { type: 'selectLayer', layer: '/conv1/Conv' });
  for (const bad of [
    { type: 'selectLayer', layer: '/not/in/model' }, { type: 'revealLayer', layer: 5 }, { type: 'command', command: 'deleteFiles' },
    { type: 'command', command: 'toString' }, { type: 'eval', code: 'x' }, 'ready', null, [{ type: 'ready' }],
    { type: 'selectLayer', layer: 'x'.repeat(2000) },
  ]) {
    assert.equal(parseWebviewMessage(bad, new Set([...layers, 'x'.repeat(2000)])), undefined, JSON.stringify(bad)?.slice(0, 80));
  }
  const r = rng(7);
  let accepted = 0;
  for (let i = 0; i < 3000; i++) {
    const v = randomValue(r);
    const m = parseWebviewMessage(v, layers);
    if (m === undefined) continue;
    accepted++;
    assert.ok(['ready', 'command', 'selectLayer', 'revealLayer'].includes(m.type));
    if (m.type === 'command') assert.ok((WEBVIEW_COMMANDS as readonly string[]).includes(m.command));
    if (m.type === 'selectLayer' || m.type === 'revealLayer') assert.ok(layers.has(m.layer));
    const allowed = { ready: ['type'], command: ['type', 'command'], selectLayer: ['type', 'layer'], revealLayer: ['type', 'layer'] }[m.type];
    assert.deepEqual(Object.keys(m).sort(), [...allowed].sort());
  }
  assert.ok(accepted > 50, `only ${accepted} random messages were valid; the generator does not reach the validator`);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('worker protocol validators reject malformed start and worker messages without throwing', () => {
  assert.equal(isStartMessage({ type: 'start', id: 1, job: 'summary', options: {} }), true);
  for (const bad of [
    { type: 'start', id: 1.5, job: 'summary', options: {} }, { type: 'start', id: 1, job: 'shell', options: {} },
    { type: 'start', id: 1, job: 'summary', options: [] }, { type: 'start', id: '1', job: 'summary', options: {} }, null, 'start',
  ]) assert.equal(isStartMessage(bad), false, JSON.stringify(bad));
  assert.equal(isWorkerMessage({ type: 'progress', id: 1, fraction: 0.5, message: 'x' }), true);
  assert.equal(isWorkerMessage({ type: 'error', id: 1, message: 'x', inputError: 'yes' }), false);
  const r = rng(11);
  for (let i = 0; i < 3000; i++) {
    const v = randomValue(r);
    assert.equal(typeof isStartMessage(v), 'boolean');
    assert.equal(typeof isWorkerMessage(v), 'boolean');
  }
});

test('files named by the host are checked against the workspace folders (.., sibling prefixes, absolute paths)', () => {
  const ws = ['/home/u/project', '/data/shared'];
  assert.equal(isInsideFolders('/home/u/project/models/m.onnx', ws), true);
  assert.equal(isInsideFolders('/home/u/project', ws), true);
  assert.equal(isInsideFolders('/data/shared/x/../y.bin', ws), true);
  for (const outside of ['/home/u/project/../secret', '/home/u/project-evil/m.onnx', '/etc/passwd', '/data/sharedX/a', '/home/u', '/']) {
    assert.equal(isInsideFolders(outside, ws), false, outside);
  }
  assert.equal(isInsideFolders('/home/u/project/m.onnx', []), false);
});

test('a symbolic link inside the workspace that leads out of it does not count as inside', () => {
  const base = tempDir('ws');
  const ws = path.join(base, 'ws');
  fs.mkdirSync(path.join(ws, 'models'), { recursive: true });
  fs.writeFileSync(path.join(base, 'secret.py'), 'class Secret: pass\n');
  fs.writeFileSync(path.join(ws, 'models', 'net.py'), 'class Net: pass\n');
  fs.symlinkSync(path.join(base, 'secret.py'), path.join(ws, 'models', 'link.py'));
  fs.symlinkSync(base, path.join(ws, 'up'));
  fs.symlinkSync(path.join(ws, 'models'), path.join(base, 'ws-link')); // the workspace itself opened through a link
  try {
    assert.equal(isInsideFolders(path.join(ws, 'models', 'net.py'), [ws]), true);
    assert.equal(isInsideFolders(path.join(ws, 'models', 'link.py'), [ws]), false);
    assert.equal(isInsideFolders(path.join(ws, 'up', 'secret.py'), [ws]), false);
    assert.equal(isInsideFolders(path.join(base, 'ws-link', 'net.py'), [ws]), true);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test('the custom editor page: strict CSP, one nonce per load on every script, nothing remote, title escaped', () => {
  const webview = { cspSource: 'https://file+.vscode-resource.vscode-cdn.net', asWebviewUri: (u: unknown) => u };
  const joinPath = (base: unknown, ...parts: string[]) => `vscode-resource:/ext/${parts.join('/')}`;
  const html = (title: string) => editorHtml(webview as never, 'ext' as never, joinPath as never, title);
  const page = html('model<img src=x onerror=alert(1)>.onnx');
  const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(page)![1];
  const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
  assert.deepEqual(directives.get('default-src'), ["'none'"]);
  const nonce = /^'nonce-([A-Za-z0-9]{16,})'$/.exec(directives.get('script-src')!.join(' '))![1];
  assert.ok(!csp.includes('unsafe-eval') && !/script-src[^;]*unsafe-inline/.test(csp), csp);
  for (const [k, v] of directives) assert.ok(!v.some((s) => /^(https?:|\*|http:)/.test(s) && s !== webview.cspSource), `${k} allows ${v.join(' ')}`);
  const scripts = [...page.matchAll(/<script\b([^>]*)>/g)];
  assert.ok(scripts.length >= 1);
  for (const [, attrs] of scripts) assert.ok(attrs.includes(`nonce="${nonce}"`) && /src="vscode-resource:/.test(attrs), attrs);
  assert.ok(!/<img/.test(page) && page.includes('model&#60;img src=x onerror=alert(1)&#62;.onnx'), 'the title must be escaped');
  assert.ok(!/<[^>]*\son\w+=/.test(page), 'no inline event handlers');
  const other = /'nonce-([A-Za-z0-9]+)'/.exec(html('m.onnx'))![1];
  assert.notEqual(other, nonce);
  assert.notEqual(makeNonce(), makeNonce());
  assert.equal(contentSecurityPolicy('src', 'abc').includes("script-src 'nonce-abc'"), true);
});

test('webview code has no eval or remote resources (source and bundle)', () => {
  const source = fs.readFileSync(path.join(ROOT, 'webview', 'main.ts'), 'utf8');
  assert.ok(!/\beval\s*\(|new\s+Function\s*\(|setTimeout\s*\(\s*['"`]/.test(source), 'webview/main.ts evaluates strings');
  assert.ok(!/https?:\/\/(?!www\.w3\.org\/)/.test(source), 'webview/main.ts references a remote URL');
  const bundle = path.join(ROOT, 'dist', 'webview.js');
  if (!fs.existsSync(bundle)) return; // built by npm test (scripts/build.js) before the tests run
  const code = fs.readFileSync(bundle, 'utf8');
  // The only string-evaluation in the bundle is fast-element's globalThis fallback, inside try/catch and never reached.
  const evals = [...code.matchAll(/\beval\s*\(|new\s+Function\s*\(/g)].map((m) => code.slice(m.index!, m.index! + 30));
  assert.deepEqual(evals.filter((e) => !e.startsWith('new Function("return this")')), []);
  const remote = [...code.matchAll(/["'`](https?:\/\/[^"'`\s]+)/g)].map((m) => m[1]).filter((u) => !u.startsWith('http://www.w3.org/'));
  assert.deepEqual(remote, []);
});
