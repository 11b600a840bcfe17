/** Graph preparation: validation errors, constant folding of the exporter's shape subgraph, shape inference, BN folding, listLayers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { loadModel } from '../src/onnx/load';
import { prepareModel } from '../src/graph/prepare';
import { checkSupported, validateGraph } from '../src/graph/validate';
import { listLayers } from '../src/graph/layers';
import { runFloat, runFloatAll } from '../src/engine/float-engine';
import { FLOAT_KERNELS } from '../src/kernels/float';
import type { Model, Node } from '../src/graph/ir';
import { floatTensor, Tensor } from '../src/graph/tensor';
import { InputError } from '../src/util/errors';

const MODELS = path.resolve(__dirname, '../../shared/models');
const resnet20 = loadModel(path.join(MODELS, 'resnet20_cifar10.onnx'));

function node(opType: string, inputs: string[], outputs: string[], attributes: Node['attributes'] = {}, name = outputs[0]): Node {
  return { name, opType, domain: '', inputs, outputs, attributes };
}

function tinyModel(nodes: Node[], initializers: [string, Tensor][] = [], output = 'y', inputDims = ['N', 2, 4, 4]): Model {
  return {
    path: 'tiny.onnx', irVersion: 8, producerName: 'test', producerVersion: '', opsetImports: [{ domain: '', version: 13 }], metadata: {},
    graph: {
      name: 'g', nodes, inputs: [{ name: 'x', dtype: 'float32', dims: inputDims }], outputs: [{ name: output, dtype: 'float32' }],
      initializers: new Map(initializers), valueInfo: new Map(),
    },
  };
}

function ramp(dims: number[], scale = 0.1, offset = 0): Tensor {
  const t = floatTensor(dims);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = Math.sin(i * 0.7 + offset) * scale * (1 + (i % 3));
  return t;
}

test('resnet20: the Shape→Gather→…→Pad subgraph folds away and every conv output shape is known', () => {
  const p = prepareModel(resnet20, 7);
  const ops = new Set(p.nodes.map((n) => n.opType));
  for (const folded of ['Shape', 'Gather', 'Unsqueeze', 'Concat', 'ConstantOfShape', 'Constant', 'Cast', 'Transpose']) {
    assert.ok(!ops.has(folded), `${folded} should be folded away`);
  }
  assert.deepEqual([...ops].sort(), ['Add', 'Conv', 'Gemm', 'GlobalAveragePool', 'Pad', 'Relu', 'Reshape', 'Slice']);
  for (const pad of p.nodes.filter((n) => n.opType === 'Pad')) {
    assert.ok(p.constants.has(pad.inputs[1]), 'Pad pads are a folded constant');
  }
  const convShapes = p.nodes.filter((n) => n.opType === 'Conv').map((n) => p.shapes.get(n.outputs[0]));
  assert.equal(convShapes.length, 19);
  assert.deepEqual(convShapes[0], [7, 16, 32, 32]);
  assert.deepEqual(convShapes[7], [7, 32, 16, 16]);
  assert.deepEqual(convShapes[18], [7, 64, 8, 8]);
  assert.deepEqual(p.shapes.get('logits'), [7, 10]);
  // the option-A shortcut: Slice halves H and W, Pad adds 8 zero channels each side
  const pad = p.nodes.find((n) => n.opType === 'Pad')!;
  assert.deepEqual(p.shapes.get(pad.inputs[0]), [7, 16, 16, 16]);
  assert.deepEqual(p.shapes.get(pad.outputs[0]), [7, 32, 16, 16]);
  for (const n of p.nodes) for (const o of n.outputs) assert.ok(p.shapes.has(o), `shape of ${o} known`);
});

test('resnet20: results do not depend on the batch size the graph was prepared for', () => {
  const x5 = ramp([5, 3, 32, 32], 1);
  const y5 = runFloat(prepareModel(resnet20, 5), x5).data as Float32Array;
  const x2 = floatTensor([2, 3, 32, 32], (x5.data as Float32Array).slice(3 * 3072));
  const y2 = runFloat(prepareModel(resnet20, 2), x2).data as Float32Array;
  for (let i = 0; i < 20; i++) assert.ok(Math.abs(y2[i] - y5[30 + i]) < 1e-5, `logit ${i}`);
  assert.ok(y5.some((v) => Math.abs(v) > 0.1), 'logits are not trivially zero');
});

test('a wrong input shape is an InputError naming expected and actual shapes', () => {
  const p = prepareModel(resnet20, 4);
  assert.throws(() => runFloat(p, floatTensor([4, 1, 28, 28])), (e: unknown) =>
    e instanceof InputError && /\[4,3,32,32\]/.test(e.message) && /\[4,1,28,28\]/.test(e.message));
  assert.throws(() => prepareModel(resnet20, 0), InputError);
});

test('listLayers: resnet20 has 19 convs and one fc with parameters, MACs and ReLU activations', () => {
  const layers = listLayers(prepareModel(resnet20, 1));
  assert.equal(layers.length, 20);
  assert.equal(layers.filter((l) => l.op === 'Conv').length, 19);
  const fc = layers[19];
  assert.equal(fc.op, 'Gemm');
  assert.deepEqual(fc.weightDims, [10, 64]);
  assert.equal(fc.parameters, 650);
  // conv weights 267,696 (3·16·9 + 6·16·16·9 + 16·32·9 + 5·32·32·9 + 32·64·9 + 5·64·64·9), conv biases 688, fc 650
  assert.equal(layers.reduce((s, l) => s + l.parameters, 0), 267696 + 688 + 650);
  assert.equal(layers[0].macsPerImage, 32 * 32 * 16 * 3 * 9);
  assert.equal(layers[0].activation, 'Relu');
  assert.equal(layers[2].activation, undefined, 'conv2 of a block feeds the residual Add');
  assert.deepEqual(layers[7].inputShape, [1, 16, 32, 32]);
  assert.deepEqual(layers[7].outputShape, [1, 32, 16, 16]);
});

test('listLayers: MobileNetV2 depthwise convs have groups = channels and ReLU6 activations', () => {
  const layers = listLayers(prepareModel(loadModel(path.join(MODELS, 'fmnist_mobilenetv2.onnx')), 1));
  const dw = layers.filter((l) => l.groups > 1);
  assert.ok(dw.length >= 10);
  for (const l of dw) {
    assert.equal(l.groups, l.weightDims[0]);
    assert.equal(l.weightDims[1], 1);
    assert.equal(l.activation, 'Relu6');
  }
});

test('BatchNormalization after a Conv folds into it and gives the same numbers', () => {
  const w = ramp([3, 2, 3, 3], 0.5);
  const b = ramp([3], 0.2, 1);
  const gamma = ramp([3], 1, 2);
  const beta = ramp([3], 0.3, 3);
  const mean = ramp([3], 0.2, 4);
  const variance = floatTensor([3], Float32Array.of(0.5, 1.5, 2));
  const nodes = [
    node('Conv', ['x', 'w', 'b'], ['c'], { pads: [1, 1, 1, 1] }),
    node('BatchNormalization', ['c', 'gamma', 'beta', 'mean', 'var'], ['bn'], { epsilon: 1e-3 }),
    node('Identity', ['bn'], ['id']),
    node('Relu', ['id'], ['y']),
  ];
  const m = tinyModel(nodes, [['w', w], ['b', b], ['gamma', gamma], ['beta', beta], ['mean', mean], ['var', variance]]);
  const p = prepareModel(m, 2);
  assert.deepEqual(p.nodes.map((n) => n.opType), ['Conv', 'Relu']);
  const x = ramp([2, 2, 4, 4], 1, 5);
  const y = runFloat(p, x).data as Float32Array;
  const c = FLOAT_KERNELS.Conv(nodes[0], [x, w, b], 13)[0];
  const bn = FLOAT_KERNELS.BatchNormalization(nodes[1], [c, gamma, beta, mean, variance], 13)[0];
  const ref = FLOAT_KERNELS.Relu(nodes[3], [bn], 13)[0].data as Float32Array;
  assert.equal(y.length, ref.length);
  for (let i = 0; i < y.length; i++) assert.ok(Math.abs(y[i] - ref[i]) < 1e-5, `element ${i}: ${y[i]} vs ${ref[i]}`);
  assert.ok(ref.some((v) => v > 0.1));
  const all = runFloatAll(p, x);
  assert.ok(all.has('bn') && all.has('y'));
});

test('validateGraph: duplicates, dangling inputs, cycles and missing outputs are InputErrors naming the node', () => {
  const dup = tinyModel([node('Relu', ['x'], ['a'], {}, 'r1'), node('Relu', ['x'], ['a'], {}, 'r2'), node('Relu', ['a'], ['y'])]);
  assert.throws(() => validateGraph(dup), /tiny\.onnx.*'a' is defined twice.*r2/);
  const dangling = tinyModel([node('Add', ['x', 'ghost'], ['y'], {}, 'adder')]);
  assert.throws(() => validateGraph(dangling), /tiny\.onnx.*Add node 'adder' reads 'ghost'/);
  const cycle = tinyModel([node('Relu', ['x'], ['a']), node('Add', ['a', 'c'], ['b'], {}, 'loop_add'), node('Relu', ['b'], ['c']), node('Relu', ['a'], ['y'])]);
  assert.throws(() => validateGraph(cycle), /tiny\.onnx.*cycle.*loop_add/);
  const noOutput = tinyModel([node('Relu', ['x'], ['a'])], [], 'y');
  assert.throws(() => validateGraph(noOutput), /graph output 'y' is produced by no node/);
  assert.doesNotThrow(() => validateGraph(resnet20));
});

test('checkSupported lists every unsupported operator with its node before any run', () => {
  const m = tinyModel([node('RoiAlign', ['x'], ['a'], {}, 'roi_1'), node('Relu', ['a'], ['b']), node('Gelu', ['b'], ['y'], {}, 'my_gelu')]);
  assert.throws(() => checkSupported(m), (e: unknown) =>
    e instanceof InputError && /tiny\.onnx/.test(e.message) && /RoiAlign \(node 'roi_1'\)/.test(e.message) && /Gelu \(node 'my_gelu'\)/.test(e.message));
  assert.throws(() => prepareModel(m, 1), /RoiAlign \(node 'roi_1'\)/);
});

test('in-place elementwise reuse never touches the input, constants or values a hook sees', () => {
  const p = prepareModel(resnet20, 2);
  const x = ramp([2, 3, 32, 32], 1, 9);
  const before = Float32Array.from(x.data as Float32Array);
  const plain = Float32Array.from(runFloat(p, x).data as Float32Array);
  assert.deepEqual(x.data, before, 'the caller input is unchanged');
  const seen = new Map<string, Float32Array>();
  const hooked = runFloat(p, x, {
    afterNode(n, outs) {
      if (n.opType === 'Conv') seen.set(n.outputs[0], outs[0].data as Float32Array);
    },
  }).data as Float32Array;
  assert.deepEqual(hooked, plain, 'hooked and plain runs give identical logits');
  const again = runFloat(p, x).data as Float32Array;
  assert.deepEqual(again, plain, 'constants were not modified by the first run');
  // with hooks nothing runs in place: conv outputs the hook kept still hold negative pre-ReLU values
  const firstConv = seen.get(p.nodes[0].outputs[0])!;
  assert.ok(firstConv.some((v) => v < 0));
  const all = runFloatAll(p, x);
  assert.ok((all.get(p.nodes[0].outputs[0])!.data as Float32Array).some((v) => v < 0), 'runFloatAll keeps pre-ReLU values');
});

test('Conv→ReLU6 fusion of plain runs gives the same logits as the unfused, hooked run (MobileNetV2)', () => {
  const p = prepareModel(loadModel(path.join(MODELS, 'fmnist_mobilenetv2.onnx')), 3);
  const x = ramp([3, 1, 28, 28], 2, 1);
  const plain = runFloat(p, x).data as Float32Array;
  let clips = 0;
  const hooked = runFloat(p, x, { afterNode: (n) => { if (n.opType === 'Clip') clips++; } }).data as Float32Array;
  assert.ok(clips >= 20, 'the hooked run executes every Clip node');
  for (let i = 0; i < plain.length; i++) assert.ok(Math.abs(plain[i] - hooked[i]) <= 1e-6, `logit ${i}: ${plain[i]} vs ${hooked[i]}`);
  assert.ok(plain.some((v) => Math.abs(v) > 0.1));
});

test('a model exported with a fixed batch of 1 runs other batch sizes only when its output follows the batch', () => {
  const w = ramp([3, 2, 3, 3], 0.5);
  const batchSafe = tinyModel([node('Conv', ['x', 'w'], ['c'], { pads: [1, 1, 1, 1] }), node('Flatten', ['c'], ['y'])], [['w', w]], 'y', [1, 2, 4, 4]);
  const p = prepareModel(batchSafe, 3);
  assert.deepEqual(p.shapes.get('y'), [3, 48]);
  const x = ramp([3, 2, 4, 4], 1, 2);
  const y3 = runFloat(p, x).data as Float32Array;
  const y1 = runFloat(prepareModel(batchSafe, 1), floatTensor([1, 2, 4, 4], (x.data as Float32Array).slice(32, 64))).data as Float32Array;
  for (let i = 0; i < 48; i++) assert.ok(Math.abs(y3[48 + i] - y1[i]) < 1e-6);
  const batchBound = tinyModel([node('Reshape', ['x', 's'], ['y'])], [['s', { dtype: 'int64', dims: [2], data: BigInt64Array.of(1n, -1n) }]], 'y', [1, 2, 4, 4]);
  assert.throws(() => prepareModel(batchBound, 3), /fixed batch size of 1; cannot run with batch 3/);
  assert.deepEqual(prepareModel(batchBound, 1).shapes.get('y'), [1, 32]);
});

test('guardKernel: an unexpected kernel failure becomes an InputError naming the node and its input shapes', async () => {
  const { guardKernel } = await import('../src/kernels/float');
  const { CancelledError } = await import('../src/util/errors');
  const n = node('Conv', ['x', 'w'], ['y'], {}, 'broken_conv');
  assert.throws(() => guardKernel(n, [floatTensor([1, 2]), undefined], () => { throw new TypeError('boom'); }),
    (e: unknown) => e instanceof InputError && /Conv node 'broken_conv': boom \(inputs \[1,2\], -\)/.test(e.message));
  assert.throws(() => guardKernel(n, [], () => { throw new CancelledError(); }), CancelledError);
  assert.equal(guardKernel(n, [], () => 42), 42);
});
