// The editor's dataflow graph, without a browser: the summary's graph, blocks from ONNX names, the collapse rule,
// the SQNR colour classes, what is drawn after collapsing, the dagre layout and keyboard neighbours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { loadModel } from '../src/onnx/load';
import { summarizeModel, GRAPH_NODE_LIMIT } from '../src/worker/summary';
import type { QuantRun } from '../src/extension/results';
import {
  COLLAPSE_ABOVE, assignBlocks, blockLabel, buildView, collapseByDefault, constantNodes, drawnBlocks, layoutView,
  neighbour, nodeError, nameSegments, sqnrClass, type GNode, type GraphData,
} from '../webview/graph-model';

const ROOT = path.resolve(__dirname, '..');
const MOBILENET = path.resolve(ROOT, '../shared/models/fmnist_mobilenetv2.onnx');
const RESNET = path.join(ROOT, 'samples/resnet20_cifar10.onnx');

function dataOf(file: string): GraphData & { summary: ReturnType<typeof summarizeModel> } {
  const summary = summarizeModel(loadModel(file));
  return { nodes: summary.graph.nodes, inputs: summary.inputs, outputs: summary.outputs, summary };
}

test('blocks from ONNX name prefixes: Sequential children, numbered modules, one-node blocks fall back or dissolve', () => {
  const names = [
    '/conv1/Conv', '/Relu',
    '/layer1/layer1.0/conv1/Conv', '/layer1/layer1.0/Relu', '/layer1/layer1.0/conv2/Conv', '/layer1/layer1.0/Add',
    '/layer1/layer1.1/conv1/Conv', '/layer1/layer1.1/Add',
    '/features/features.3/conv/conv.0/Conv', '/features/features.3/conv/conv.2/Clip', '/features/features.3/Add',
    '/stem/stem.0/Conv', '/stem/stem.2/Clip',
    '/features/denseblock1/denselayer1/conv1/Conv', '/features/denseblock1/denselayer1/relu2/Relu',
    '/features/denseblock1/denselayer2/conv1/Conv', '/features/denseblock1/denselayer2/relu2/Relu',
    '/classifier/Gemm', 'unnamed_output_7',
  ];
  const b = assignBlocks(names, 3);
  assert.equal(b.get('/layer1/layer1.0/conv2/Conv'), '/layer1/layer1.0');
  assert.equal(b.get('/layer1/layer1.1/Add'), '/layer1/layer1.1');
  assert.equal(b.get('/features/features.3/conv/conv.2/Clip'), '/features/features.3');
  assert.equal(blockLabel(b.get('/features/features.3/Add')!), 'features.3');
  assert.equal(b.get('/stem/stem.0/Conv'), '/stem', 'one-node blocks stem.0 and stem.2 fall back to stem');
  assert.equal(b.get('/stem/stem.2/Clip'), '/stem');
  // no Sequential index: the first numbered folder that is small enough (denseblock1 has 4 > 3 nodes)
  assert.equal(b.get('/features/denseblock1/denselayer2/relu2/Relu'), '/features/denseblock1/denselayer2');
  for (const alone of ['/conv1/Conv', '/Relu', '/classifier/Gemm', 'unnamed_output_7']) assert.equal(b.get(alone), undefined, alone);
  assert.deepEqual(nameSegments('/layer1/layer1.0/conv1/Conv'), ['layer1', 'layer1.0', 'conv1']);
  assert.deepEqual(nameSegments('logits'), []);
  // with room for it, denseblock1 is one block
  assert.equal(assignBlocks(names, 48).get('/features/denseblock1/denselayer1/conv1/Conv'), '/features/denseblock1');
});

test('collapse rule: blocks start collapsed above ~60 drawn nodes', () => {
  assert.equal(COLLAPSE_ABOVE, 60);
  assert.equal(collapseByDefault(20), false);
  assert.equal(collapseByDefault(60), false);
  assert.equal(collapseByDefault(61), true);
  assert.equal(collapseByDefault(1200), true);
});

test('SQNR colour classes: ≥ 30 dB good, 20–30 fair, < 20 poor, grey without a number or in float', () => {
  assert.equal(sqnrClass(45), 'q-good');
  assert.equal(sqnrClass(30), 'q-good');
  assert.equal(sqnrClass(29.99), 'q-fair');
  assert.equal(sqnrClass(20), 'q-fair');
  assert.equal(sqnrClass(19.9), 'q-poor');
  assert.equal(sqnrClass(-3), 'q-poor');
  assert.equal(sqnrClass(undefined), 'q-none');
  assert.equal(sqnrClass(40, true), 'q-none');
});

test('summary graph of fmnist_mobilenetv2: every node, edges only between flowing values, residual Adds with two producers', () => {
  const model = loadModel(MOBILENET);
  const proto = onnx.ModelProto.decode(fs.readFileSync(MOBILENET));
  const fileNodes = proto.graph!.node!.length;
  const hoisted = Object.values(model.graph.hoisted ?? {}).reduce((a, b) => a + b, 0);
  const s = summarizeModel(model);
  assert.equal(s.graph.nodes.length, fileNodes - hoisted, `${fileNodes} nodes in the file, ${hoisted} hoisted`);
  assert.equal(s.graph.totalNodes, s.graph.nodes.length);
  assert.equal(s.graph.truncated, false);
  const producers = new Map<string, string>();
  for (const n of s.graph.nodes) for (const o of n.outputs) producers.set(o, n.name);
  const inputs = new Set(s.inputs.map((i) => i.name));
  const initializers = new Set(model.graph.initializers.keys());
  let edges = 0;
  for (const n of s.graph.nodes) {
    for (const i of n.inputs) {
      assert.ok(producers.has(i) || inputs.has(i), `${n.name} reads ${i}, which no node or graph input produces`);
      assert.ok(!initializers.has(i), `${n.name}: the initializer ${i} is not an edge`);
      edges++;
    }
  }
  assert.ok(edges >= s.graph.nodes.length - 1, `${edges} edges`);
  assert.equal(new Set(s.graph.nodes.map((n) => n.name)).size, s.graph.nodes.length, 'node names are unique');
  assert.deepEqual(s.graph.nodes.filter((n) => n.layer).map((n) => n.name), s.layers.map((l) => l.name), 'layer flags match the layer list');
  const adds = s.graph.nodes.filter((n) => n.op === 'Add');
  assert.ok(adds.length >= 4, `${adds.length} residual Adds`);
  for (const a of adds) {
    const from = new Set(a.inputs.map((i) => producers.get(i)));
    assert.equal(a.inputs.length, 2, `${a.name} reads two values`);
    assert.equal(from.size, 2, `${a.name} has two producers: ${[...from].join(', ')}`);
  }
  // weights are never edges: each conv reads exactly one flowing value
  for (const n of s.graph.nodes.filter((x) => x.op === 'Conv')) assert.equal(n.inputs.length, 1, n.name);
});

test('summary graph is capped: beyond the limit it says so and lists the first nodes', () => {
  const s = summarizeModel(loadModel(RESNET), 10);
  assert.equal(s.graph.nodes.length, 10);
  assert.equal(s.graph.truncated, true);
  assert.ok(s.graph.totalNodes > 10);
  assert.equal(GRAPH_NODE_LIMIT, 5000);
});

test('drawn view of the sample resnet20: constants hidden, ≥ 40 nodes expanded, collapsed blocks as boxes, edges between drawn nodes', () => {
  const data = dataOf(RESNET);
  const hidden = constantNodes(data.nodes, data.inputs.map((i) => i.name));
  for (const name of hidden) {
    const n = data.nodes.find((x) => x.name === name)!;
    assert.ok(!n.layer, `${name} is a layer but counted as a constant`);
  }
  const { drawn, blockOf } = drawnBlocks(data, false);
  const blocks = new Set([...blockOf.values()].filter(Boolean) as string[]);
  assert.equal(blocks.size, 9, [...blocks].join(' '));
  assert.ok([...blocks].every((b) => /^\/layer\d\/layer\d\.\d$/.test(b)));
  const expanded = buildView(data, { collapsed: new Set(), showConstants: false });
  const ops = expanded.nodes.filter((n) => n.kind === 'op');
  assert.equal(ops.length, drawn.length);
  assert.ok(ops.length >= 40, `${ops.length} nodes drawn`);
  assert.equal(expanded.clusters.length, 9);
  assert.equal(expanded.nodes.filter((n) => n.kind === 'input').length, 1);
  assert.equal(expanded.nodes.filter((n) => n.kind === 'output').length, 1);
  const ids = new Set(expanded.nodes.map((n) => n.id));
  for (const e of expanded.edges) assert.ok(ids.has(e.from) && ids.has(e.to), e.id);
  // every residual Add keeps its two incoming edges
  for (const add of ops.filter((n) => n.node!.op === 'Add')) assert.equal(expanded.edges.filter((e) => e.to === add.id).length, 2, add.id);

  const collapsed = buildView(data, { collapsed: blocks, showConstants: false });
  const boxes = collapsed.nodes.filter((n) => n.kind === 'block');
  assert.equal(boxes.length, 9);
  assert.equal(collapsed.clusters.length, 0);
  assert.equal(boxes.reduce((k, b) => k + b.members!.length, 0) + collapsed.nodes.filter((n) => n.kind === 'op').length, drawn.length);
  const cids = new Set(collapsed.nodes.map((n) => n.id));
  for (const e of collapsed.edges) assert.ok(cids.has(e.from) && cids.has(e.to) && e.from !== e.to, e.id);
  // the residual edges inside a block are gone; the block is one link of the chain
  assert.equal(collapsed.edges.filter((e) => e.to === 'b:/layer1/layer1.1').length, 1);

  const withConstants = buildView(data, { collapsed: new Set(), showConstants: true });
  assert.equal(withConstants.nodes.filter((n) => n.kind === 'op').length, data.nodes.length);
});

test('layout: every drawn node placed without overlaps, clusters around their members, edges routed', () => {
  const data = dataOf(MOBILENET);
  const view = buildView(data, { collapsed: new Set(), showConstants: false });
  const lay = layoutView(view);
  const boxes = view.nodes.map((n) => ({ id: n.id, ...lay.nodes.get(n.id)! }));
  for (const b of boxes) assert.ok(Number.isFinite(b.x) && Number.isFinite(b.y) && b.width > 0, b.id);
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], b = boxes[j];
      const overlap = Math.abs(a.x - b.x) < (a.width + b.width) / 2 - 0.5 && Math.abs(a.y - b.y) < (a.height + b.height) / 2 - 0.5;
      assert.ok(!overlap, `${a.id} overlaps ${b.id}`);
    }
  }
  for (const c of view.clusters) {
    const box = lay.clusters.get(c.id)!;
    for (const n of view.nodes.filter((x) => x.kind === 'op' && x.block === c.block)) {
      const b = lay.nodes.get(n.id)!;
      assert.ok(b.x - b.width / 2 >= box.x - box.width / 2 && b.x + b.width / 2 <= box.x + box.width / 2, `${n.id} inside ${c.id}`);
    }
  }
  for (const e of view.edges) assert.ok((lay.edges.get(e.id)?.length ?? 0) >= 2, e.id);
  // left to right: every edge goes forward
  for (const e of view.edges) assert.ok(lay.nodes.get(e.from)!.x < lay.nodes.get(e.to)!.x, e.id);
  // arrow keys: right follows the chain, left comes back
  const first = view.nodes.find((n) => n.kind === 'input')!.id;
  const next = neighbour(view, lay, first, 'ArrowRight')!;
  assert.equal(next, 'n:/stem/stem.0/Conv');
  assert.equal(neighbour(view, lay, next, 'ArrowLeft'), first);
});

test('a large graph collapses into a readable number of boxes', () => {
  // 100 blocks of 12 nodes each, chained: /blocks/blocks.i/{a0..a11}
  const nodes: GNode[] = [];
  let prev = 'x';
  for (let b = 0; b < 100; b++) {
    for (let k = 0; k < 12; k++) {
      const name = `/blocks/blocks.${b}/op${k}/Relu`;
      nodes.push({ name, op: 'Relu', inputs: [prev], outputs: [`${name}_out`], layer: false });
      prev = `${name}_out`;
    }
  }
  const data: GraphData = { nodes, inputs: [{ name: 'x', dims: [1, 3, 8, 8] }], outputs: [{ name: prev, dims: [1] }] };
  const { drawn, blockOf } = drawnBlocks(data, false);
  assert.ok(collapseByDefault(drawn.length));
  const blocks = new Set([...blockOf.values()].filter(Boolean) as string[]);
  assert.equal(blocks.size, 100);
  const view = buildView(data, { collapsed: blocks, showConstants: false });
  assert.equal(view.nodes.length, 102);
  const lay = layoutView(view);
  assert.equal(lay.nodes.size, 102);
});

test('node errors: layers from the table (accumulated / local), other nodes from the graph pass, grey in float', () => {
  const conv: GNode = { name: '/c/Conv', op: 'Conv', inputs: ['x'], outputs: ['c'], layer: true };
  const add: GNode = { name: '/a/Add', op: 'Add', inputs: ['c', 'x'], outputs: ['a'], layer: false };
  const sig: GNode = { name: '/s/Sigmoid', op: 'Sigmoid', inputs: ['a'], outputs: ['s'], layer: false };
  const mul: GNode = { name: '/s/Mul', op: 'Mul', inputs: ['a', 's'], outputs: ['m'], layer: false };
  const norm: GNode = { name: '/n/LayerNormalization', op: 'LayerNormalization', inputs: ['m'], outputs: ['n'], layer: false };
  const relu: GNode = { name: '/a/Relu', op: 'Relu', inputs: ['a'], outputs: ['r'], layer: false };
  const byName = new Map([conv, add, sig, mul, norm, relu].map((n) => [n.name, n]));
  const run = {
    layers: [{ name: '/c/Conv', op: 'Conv', weightBits: 4, activationBits: 4, weightScales: [1], outputSqnrDb: 14, localSqnrDb: 19, outputScale: 0.5, outputZeroPoint: 0 }],
    graph: {
      images: 32,
      values: { a: { bits: 4, scale: 0.3, zeroPoint: 0, sqnrDb: 12 }, r: { bits: 4, scale: 0.3, zeroPoint: 0, sqnrDb: 21 }, m: { bits: 4, scale: 0.2, zeroPoint: 1, sqnrDb: 25 }, n: { sqnrDb: 31 } },
      nodes: {
        '/c/Conv': { mode: 'layer', localSqnrDb: 19 }, '/a/Add': { mode: 'add' }, '/a/Relu': { mode: 'clamp', localSqnrDb: 40 }, '/s/Sigmoid': { mode: 'fused', into: '/s/Mul' },
        '/s/Mul': { mode: 'lut', localSqnrDb: 33 }, '/n/LayerNormalization': { mode: 'float', reason: 'no integer kernel' },
      },
    },
  } as unknown as QuantRun;
  assert.equal(nodeError(conv, undefined, 'accumulated'), undefined, 'no run, no error');
  assert.equal(nodeError(conv, run, 'accumulated')!.db, 14);
  assert.equal(nodeError(conv, run, 'local')!.db, 19);
  assert.equal(nodeError(add, run, 'accumulated')!.db, 12);
  assert.equal(nodeError(add, run, 'accumulated')!.bits, 4);
  assert.equal(nodeError(add, run, 'local')!.db, undefined, 'two inputs: no local number');
  // an Add whose codes already carry the ReLU's clamp is read after the ReLU, as the table reads a conv
  (run.graph!.nodes['/a/Add'] as { compared?: string }).compared = 'r';
  assert.equal(nodeError(add, run, 'accumulated')!.db, 21);
  assert.equal(nodeError(add, run, 'accumulated')!.scale, 0.3, 'its own codes still label its edge');
  assert.equal(nodeError(relu, run, 'local')!.db, 40);
  assert.equal(nodeError(mul, run, 'local')!.db, 33);
  assert.equal(nodeError(sig, run, 'accumulated', byName)!.db, 25, 'a fused node shows its table node');
  const f = nodeError(norm, run, 'accumulated')!;
  assert.equal(f.float, true);
  assert.equal(sqnrClass(f.db, f.float), 'q-none');
  assert.match(f.note!, /no integer kernel/);
  // the toggle changes a class: the table node is fair accumulated (25 dB), good alone (33 dB)
  assert.notEqual(sqnrClass(nodeError(mul, run, 'accumulated', byName)!.db), sqnrClass(nodeError(mul, run, 'local', byName)!.db));
});

test('webview sources evaluate no strings and load nothing remote (the CSP allows neither)', () => {
  const dir = path.join(ROOT, 'webview');
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
    const source = fs.readFileSync(path.join(dir, f), 'utf8');
    assert.ok(!/\beval\s*\(|new\s+Function\s*\(|setTimeout\s*\(\s*['"`]/.test(source), `${f} evaluates strings`);
    assert.ok(!/https?:\/\/(?!www\.w3\.org\/)/.test(source), `${f} references a remote URL`);
    assert.ok(!/\.innerHTML\s*=|insertAdjacentHTML|setAttribute\(\s*['"]style['"]/.test(source), `${f} writes HTML or inline style attributes`);
  }
  const dagre = fs.readFileSync(require.resolve('@dagrejs/dagre'), 'utf8');
  assert.ok(!/\beval\s*\(|new\s+Function\s*\(/.test(dagre), 'dagre evaluates no strings');
});
