// The graph's context menu: the entries of a layer node against a non-layer node and a block (graph-menu-model.ts),
// the keyboard in the menu, and on a small DOM (webview-dom-stub.ts) the menu itself: role="menu" / "menuitem" / "menuitemradio" / "menuitemcheckbox",
// arrow keys, the bits submenu, Escape back to the node, and a choice landing in the what-if's pending list.
import { posted, pressKey, stubDocument, StubElement } from './webview-dom-stub';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { loadModel } from '../src/onnx/load';
import { summarizeModel } from '../src/worker/summary';
import type { QuantRun, RunSettings } from '../src/extension/results';
import { menuEntries, menuKey, pendingPatchOf, type MenuAction, type MenuEntry, type MenuTarget, type WhatIfChoice } from '../webview/graph-menu-model';
import { openNodeMenu } from '../webview/graph-menu';
import { page } from '../webview/state';
import { applyWhatIf, pendingItems, setPendingChoice, whatIfChoiceOf } from '../webview/whatif';

const LAYER = '/layer2/layer2.1/conv1/Conv';
const choice: WhatIfChoice = { weightBits: 8, activationBits: 8, float: false, defaults: { weightBits: 8, activationBits: 8 } };
const layerTarget: MenuTarget = { node: { name: LAYER, layer: true }, block: { key: '/layer2/layer2.1', label: 'layer2.1', collapsed: false }, whatIf: choice, revealable: true };
const ids = (entries: readonly MenuEntry[]) => entries.map((e) => e.id);
const labels = (entries: readonly MenuEntry[]) => entries.map((e) => e.label);

test('a layer node gets the what-if entries, details, source and its block; a non-layer node only what applies', () => {
  const layer = menuEntries(layerTarget);
  assert.deepEqual(labels(layer), ['Keep in float', 'Weights: 8 bits', 'Activations: 8 bits', 'Show details', 'Reveal source line', 'Collapse block layer2.1']);
  assert.deepEqual(layer[0].action, { kind: 'float', layer: LAYER, on: true });
  const weights = layer[1].submenu!;
  assert.deepEqual(labels(weights), ['Run default (8 bits)', '2 bits', '3 bits', '4 bits', '5 bits', '6 bits', '7 bits', '8 bits']);
  assert.deepEqual(weights.filter((e) => e.checked).map((e) => e.id), ['w-default'], 'the run default is the current choice, once');
  assert.deepEqual(weights[3].action, { kind: 'bits', layer: LAYER, field: 'weightBits', bits: 4 });
  assert.deepEqual(layer[5].action, { kind: 'block', block: '/layer2/layer2.1', collapse: true });

  // the same layer without model code, pending at W4, activations 6
  const pending = menuEntries({ ...layerTarget, revealable: false, block: undefined, whatIf: { ...choice, weightBits: 4, activationBits: 6 } });
  assert.deepEqual(ids(pending), ['float', 'w', 'a', 'details']);
  assert.equal(pending[1].label, 'Weights: 4 bits');
  assert.deepEqual(pending[1].submenu!.filter((e) => e.checked).map((e) => e.id), ['w-4']);
  assert.deepEqual(pending[2].submenu!.filter((e) => e.checked).map((e) => e.id), ['a-6']);
  // kept in float: the toggle is on (choosing it brings the layer back), no bits are current
  const float = menuEntries({ ...layerTarget, whatIf: { ...choice, float: true } });
  assert.equal(float[0].checked, true);
  assert.deepEqual(float[0].action, { kind: 'float', layer: LAYER, on: false });
  assert.equal(float[1].label, 'Weights: float');
  assert.equal(float[1].submenu!.some((e) => e.checked), false);

  // an Add, a ReLU: details and the block only; a layer before any run: no what-if entries
  assert.deepEqual(labels(menuEntries({ node: { name: '/layer2/layer2.1/Add', layer: false }, block: { key: '/layer2/layer2.1', label: 'layer2.1', collapsed: false }, revealable: true })),
    ['Show details', 'Collapse block layer2.1']);
  assert.deepEqual(labels(menuEntries({ node: { name: '/Relu', layer: false } })), ['Show details']);
  assert.deepEqual(ids(menuEntries({ node: { name: LAYER, layer: true }, revealable: true })), ['details', 'reveal']);
  // a collapsed block's box expands; a graph input has nothing
  assert.deepEqual(menuEntries({ block: { key: '/layer3', label: 'layer3', collapsed: true } }).map((e) => [e.label, e.action]),
    [['Expand block layer3', { kind: 'block', block: '/layer3', collapse: false }]]);
  assert.deepEqual(menuEntries({}), []);
});

test('keys in the menu: arrows move and wrap, → / Enter open the bits, ← / Escape go back, Enter chooses, Escape closes', () => {
  const e = menuEntries(layerTarget);
  assert.deepEqual(menuKey(e, [0], 'ArrowDown').path, [1]);
  assert.deepEqual(menuKey(e, [0], 'ArrowUp').path, [5], 'wraps to the last');
  assert.deepEqual(menuKey(e, [5], 'ArrowDown').path, [0], 'wraps to the first');
  assert.deepEqual(menuKey(e, [3], 'Home').path, [0]);
  assert.deepEqual(menuKey(e, [0], 'End').path, [5]);
  assert.deepEqual(menuKey(e, [1], 'ArrowRight').path, [1, 0], 'opens on the current (run default)');
  assert.deepEqual(menuKey(e, [1], 'Enter').path, [1, 0]);
  assert.deepEqual(menuKey(e, [0], 'ArrowRight').path, [0], 'no submenu: stays');
  assert.deepEqual(menuKey(e, [1, 0], 'ArrowDown').path, [1, 1]);
  assert.deepEqual(menuKey(e, [1, 0], 'ArrowUp').path, [1, 7]);
  assert.deepEqual(menuKey(e, [1, 4], 'ArrowLeft').path, [1]);
  const back = menuKey(e, [1, 4], 'Escape');
  assert.deepEqual([back.path, back.close], [[1], undefined], 'Escape in the submenu only closes it');
  assert.deepEqual(menuKey(e, [1, 3], 'Enter').choose, { kind: 'bits', layer: LAYER, field: 'weightBits', bits: 4 });
  assert.deepEqual(menuKey(e, [3], ' ').choose, { kind: 'details', node: LAYER });
  const esc = menuKey(e, [2], 'Escape');
  assert.deepEqual([esc.close, esc.handled], [true, true]);
  const tab = menuKey(e, [2], 'Tab');
  assert.deepEqual([tab.close, tab.handled], [true, false], 'Tab closes and goes on');
  assert.equal(menuKey(e, [2], 'x').handled, false);
});

test('a what-if entry asks the pending list for its part of the choice; the other entries are not what-ifs', () => {
  assert.deepEqual(pendingPatchOf({ kind: 'bits', layer: LAYER, field: 'weightBits', bits: 4 }), { layer: LAYER, patch: { weightBits: 4, float: false } });
  assert.deepEqual(pendingPatchOf({ kind: 'bits', layer: LAYER, field: 'activationBits', bits: 6 }), { layer: LAYER, patch: { activationBits: 6, float: false } });
  assert.deepEqual(pendingPatchOf({ kind: 'float', layer: LAYER, on: true }), { layer: LAYER, patch: { float: true } });
  assert.equal(pendingPatchOf({ kind: 'details', node: LAYER }), undefined);
  assert.equal(pendingPatchOf({ kind: 'block', block: '/layer2', collapse: true }), undefined);
});

// ---------- the menu on a page ----------

const summary = summarizeModel(loadModel(path.resolve(__dirname, '../samples/resnet20_cifar10.onnx')));
const settings: RunSettings = { weightBits: 8, activationBits: 8, method: 'percentile', granularity: 'per-channel', calibrationData: 'calib.bin', calibrationImages: 64, testImages: 100 };
const run = { id: 'run-1', label: 'W8A8 percentile per-channel', modelPath: 'm.onnx', settings, layers: [], finishedAt: '2025-01-01T00:00:00Z', seconds: 1 } as unknown as QuantRun;

function showPage(): StubElement {
  page.model = { fileName: 'm.onnx', modelPath: 'm.onnx', summary, run, runs: [run], code: [] };
  page.state = {};
  const node = new StubElement('g');
  node.setAttribute('tabindex', '0');
  stubDocument.body.replaceChildren(node);
  node.focus();
  return node;
}

/** Opens the menu for the layer as graph.ts does, its choices going where graph.ts sends them. */
function openLayerMenu(node: StubElement, chosen: MenuAction[]): void {
  const target: MenuTarget = { node: { name: LAYER, layer: true }, whatIf: whatIfChoiceOf(LAYER) };
  openNodeMenu(menuEntries(target), {
    label: 'Actions for layer2.1.conv1', at: { x: 30, y: 40 }, owner: node as unknown as HTMLElement,
    choose: (a) => { chosen.push(a); const p = pendingPatchOf(a); if (p) setPendingChoice(p.layer, p.patch); },
  });
}

const focused = () => stubDocument.activeElement;

test('the menu on a page: role="menu" with menuitems, arrows move the focus, Weights ▸ 4 bits adds W4 to the pending list', () => {
  const node = showPage();
  const chosen: MenuAction[] = [];
  openLayerMenu(node, chosen);
  const menu = stubDocument.getElementById('graph-menu')!;
  assert.equal(menu.getAttribute('role'), 'menu');
  assert.equal(menu.getAttribute('aria-label'), 'Actions for layer2.1.conv1');
  assert.deepEqual(menu.children.map((c) => c.getAttribute('role')), ['menuitemcheckbox', 'menuitem', 'menuitem', 'menuitem']);
  assert.equal(menu.children[0].getAttribute('aria-checked'), 'false', 'Keep in float is an unchecked toggle');
  assert.equal(menu.children[1].getAttribute('aria-checked'), null, 'a submenu entry is no choice itself');
  assert.deepEqual(menu.children.map((c) => c.querySelector('.ctx-label')!.textContent), ['Keep in float', 'Weights: 8 bits', 'Activations: 8 bits', 'Show details']);
  assert.deepEqual([menu.style.left, menu.style.top], ['30px', '40px']);
  assert.equal(focused()!.id, 'graph-menu-float', 'focus on the first entry');
  pressKey('ArrowDown');
  assert.equal(focused()!.id, 'graph-menu-w');
  pressKey('ArrowRight');
  const sub = stubDocument.getElementById('graph-menu-w-menu')!;
  assert.equal(sub.getAttribute('role'), 'menu');
  assert.equal(stubDocument.getElementById('graph-menu-w')!.getAttribute('aria-expanded'), 'true');
  assert.equal(focused()!.id, 'graph-menu-w-default');
  assert.deepEqual(sub.children.map((c) => c.getAttribute('role')), Array(8).fill('menuitemradio'));
  assert.deepEqual(sub.children.map((c) => c.getAttribute('aria-checked')), ['true', ...Array(7).fill('false')], 'the run default (8 bits) is the checked radio');
  for (let i = 0; i < 3; i++) pressKey('ArrowDown');
  assert.equal(focused()!.querySelector('.ctx-label')!.textContent, '4 bits');
  const enter = pressKey('Enter');
  assert.equal(enter.defaultPrevented, true);
  assert.deepEqual(chosen, [{ kind: 'bits', layer: LAYER, field: 'weightBits', bits: 4 }]);
  assert.equal(stubDocument.getElementById('graph-menu'), null, 'the menu closed');
  assert.equal(stubDocument.getElementById('graph-menu-w-menu'), null, 'and its submenu');
  assert.equal(focused(), node, 'focus back on the node');
  assert.deepEqual(page.state.whatIf, { [LAYER]: { weightBits: 4 } });
  assert.deepEqual(pendingItems(), [{ layer: LAYER, text: 'W4' }]);
  // opened again, the weights entry shows the pending choice; Keep in float replaces it
  openLayerMenu(node, chosen);
  assert.equal(stubDocument.getElementById('graph-menu-w')!.querySelector('.ctx-label')!.textContent, 'Weights: 4 bits');
  pressKey('Enter');
  assert.deepEqual(pendingItems(), [{ layer: LAYER, text: 'float' }]);
  assert.ok(applyWhatIf());
  assert.deepEqual(posted.at(-1), { type: 'whatIf', baseRun: 'run-1', changes: [{ layer: LAYER, weightBits: 4, float: true }] });
});

test('the menu on a page: Escape closes the submenu, then the menu, and focus goes back to the node; a click chooses', () => {
  const node = showPage();
  const chosen: MenuAction[] = [];
  openLayerMenu(node, chosen);
  pressKey('ArrowUp');
  assert.equal(focused()!.id, 'graph-menu-details', 'wraps to the last');
  pressKey('ArrowUp');
  pressKey('Enter');
  assert.equal(focused()!.id, 'graph-menu-a-default');
  pressKey('Escape');
  assert.equal(stubDocument.getElementById('graph-menu-a-menu'), null);
  assert.equal(focused()!.id, 'graph-menu-a');
  const esc = pressKey('Escape');
  assert.equal(esc.defaultPrevented, true);
  assert.equal(stubDocument.getElementById('graph-menu'), null);
  assert.equal(focused(), node);
  assert.deepEqual(chosen, []);
  assert.equal(page.state.whatIf, undefined, 'nothing pending');
  // the mouse: Activations ▸, then 6 bits
  openLayerMenu(node, chosen);
  stubDocument.getElementById('graph-menu-a')!.click();
  stubDocument.getElementById('graph-menu-a-6')!.click();
  assert.deepEqual(page.state.whatIf, { [LAYER]: { activationBits: 6 } });
  assert.equal(stubDocument.getElementById('graph-menu'), null);
});
