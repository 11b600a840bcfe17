// The graph overlay while two runs are compared, without a browser: each node's SQNR in A and in B, its change
// B − A, the colour of that change, a block's worst change; and the same on the sample's real graph.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { loadModel } from '../src/onnx/load';
import { summarizeModel } from '../src/worker/summary';
import type { QuantRun } from '../src/extension/results';
import type { GNode } from '../webview/graph-model';
import { deltaClass, nodeDelta, nodeDeltas, worstDelta } from '../webview/compare-model';

const conv: GNode = { name: '/c/Conv', op: 'Conv', inputs: ['x'], outputs: ['c'], layer: true };
const add: GNode = { name: '/a/Add', op: 'Add', inputs: ['c', 'x'], outputs: ['a'], layer: false };
const norm: GNode = { name: '/n/LayerNormalization', op: 'LayerNormalization', inputs: ['a'], outputs: ['n'], layer: false };
const relu: GNode = { name: '/a/Relu', op: 'Relu', inputs: ['a'], outputs: ['r'], layer: false };

function run(bits: number, conv: { acc: number; local?: number }, add: number, relu: { local?: number }, normMode = 'float'): QuantRun {
  return {
    layers: [{ name: '/c/Conv', op: 'Conv', weightBits: bits, activationBits: bits, weightScales: [1], outputSqnrDb: conv.acc, localSqnrDb: conv.local, outputScale: 0.5 }],
    graph: {
      images: 32,
      values: { a: { bits, scale: 0.3, zeroPoint: 0, sqnrDb: add }, r: { bits, sqnrDb: add + 1 }, n: { sqnrDb: 30 } },
      nodes: { '/c/Conv': { mode: 'layer' }, '/a/Add': { mode: 'add' }, '/a/Relu': { mode: 'clamp', localSqnrDb: relu.local }, '/n/LayerNormalization': { mode: normMode, reason: 'no integer kernel' } },
    },
  } as unknown as QuantRun;
}

const A = run(8, { acc: 38.5, local: 40 }, 33, { local: 50 });
const B = run(4, { acc: 14, local: 16.5 }, 12, {}, 'affine');

test('a node\'s change is B − A of the SQNR the overlay shows (accumulated or local)', () => {
  const c = nodeDelta(conv, A, B, 'accumulated');
  assert.equal(c.a!.db, 38.5);
  assert.equal(c.b!.db, 14);
  assert.equal(c.db, -24.5);
  assert.equal(c.b!.bits, 4, 'B\'s codes label the node');
  assert.equal(nodeDelta(conv, A, B, 'local').db, -23.5);
  assert.equal(nodeDelta(add, A, B, 'accumulated').db, -21);
  // measured in A only: no change, and the note says where it is missing
  const r = nodeDelta(relu, A, B, 'local');
  assert.equal(r.db, undefined);
  assert.equal(r.note, 'not measured in run B');
  // float in one run: grey, whatever the numbers
  const n = nodeDelta(norm, A, B, 'accumulated');
  assert.equal(n.float, true);
  assert.equal(n.note, 'ran in float in run A');
  assert.equal(deltaClass(n.db, n.float), 'q-none');
  assert.equal(nodeDelta(norm, A, A, 'accumulated').note, 'ran in float in both runs');
  assert.equal(nodeDelta(conv, A, A, 'accumulated').db, 0);
});

test('colours of a change: kept or gained green, up to 6 dB lost amber, more red; a block shows its worst', () => {
  assert.deepEqual([2, 0, -1, -1.5, -6, -6.5, undefined].map((d) => deltaClass(d)), ['q-good', 'q-good', 'q-good', 'q-fair', 'q-fair', 'q-poor', 'q-none']);
  const deltas = nodeDeltas([conv, add, norm, relu], A, B, 'accumulated');
  assert.equal(deltas.size, 4);
  assert.equal(worstDelta(['/c/Conv', '/a/Add', '/n/LayerNormalization'], deltas), -24.5, 'float nodes do not count');
  assert.equal(worstDelta(['/n/LayerNormalization'], deltas), undefined);
});

test('on the sample\'s graph every conv / linear layer gets its change from the two runs\' layer tables', () => {
  const summary = summarizeModel(loadModel(path.join(__dirname, '..', 'samples', 'resnet20_cifar10.onnx')));
  const layers = summary.layers.map((l) => l.name);
  const mk = (shift: number) => ({ layers: layers.map((name, i) => ({ name, op: 'Conv', weightBits: 8, activationBits: 8, weightScales: [1], outputSqnrDb: 40 - i * 0.5 - shift, localSqnrDb: 45 - shift })), settings: {} }) as unknown as QuantRun;
  const deltas = nodeDeltas(summary.graph.nodes, mk(0), mk(24), 'accumulated');
  const layerDeltas = summary.graph.nodes.filter((n) => n.layer).map((n) => deltas.get(n.name)!.db);
  assert.equal(layerDeltas.length, 20);
  assert.ok(layerDeltas.every((d) => d !== undefined && Math.abs(d + 24) < 1e-9), JSON.stringify(layerDeltas));
  // nodes other than layers have no graph pass in these runs: no change, with the reason
  const addNode = summary.graph.nodes.find((n) => n.name === '/layer1/layer1.0/Add')!;
  assert.equal(deltas.get(addNode.name)!.db, undefined);
  assert.match(deltas.get(addNode.name)!.note!, /no per-node errors/);
});
