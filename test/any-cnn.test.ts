/**
 * Models as other exporters write them, on hand-made graphs: symbolic H/W fixed from a shape or the data, NHWC inputs
 * behind an NCHW adapter, weights in Constant / Identity nodes, a final Softmax left out of the metrics, label-free
 * data; and on codes: GELU written as Div/Erf/Add/Mul/Mul is one table, a MatMul on NHWC features a Gemm layer, the
 * whole graph integer with a float result within 30 dB.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Model, Node } from '../src/graph/ir';
import { floatTensor, Tensor } from '../src/graph/tensor';
import { fitImageShape, imageModel, inputLayout, parseImageShape, withImageShape } from '../src/graph/input-shape';
import { hoistConstants } from '../src/graph/hoist';
import { prepareModel } from '../src/graph/prepare';
import { listLayers } from '../src/graph/layers';
import { FloatModel } from '../src/engine/float-engine';
import { buildQuantizedModel, quantizeJob } from '../src/pipeline/quantize';
import type { Dataset } from '../src/data';
import { openDataset } from '../src/data';
import { ErrorAccumulator } from '../src/inspect/metrics';
import { InputError } from '../src/util/errors';
import { loadModel } from '../src/onnx/load';
import { mulberry32 } from '../src/util/random';

const node = (opType: string, inputs: string[], outputs: string[], attributes: Node['attributes'] = {}, name = outputs[0]): Node =>
  ({ name, opType, domain: '', inputs, outputs, attributes });

function model(nodes: Node[], initializers: [string, Tensor][], inputDims: (number | string)[], output = 'y'): Model {
  return {
    path: 'made.onnx', irVersion: 8, producerName: 'test', producerVersion: '', opsetImports: [{ domain: '', version: 13 }], metadata: {},
    graph: { name: 'g', nodes, inputs: [{ name: 'x', dtype: 'float32', dims: inputDims }], outputs: [{ name: output, dtype: 'float32' }], initializers: new Map(initializers), valueInfo: new Map() },
  };
}

function randomTensor(dims: number[], seed: number, scale = 0.5): Tensor {
  const r = mulberry32(seed);
  return floatTensor(dims, Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => (r() - 0.5) * 2 * scale));
}

/** Random 8-bit images [count, c, h, w] as a Dataset (labels 0..9, or none). */
function images(count: number, c: number, h: number, w: number, seed: number, unlabelled = false): Dataset {
  const r = mulberry32(seed);
  const pixels = Uint8Array.from({ length: count * c * h * w }, () => Math.floor(r() * 256));
  return {
    source: 'random', format: 'idx', count, channels: c, height: h, width: w,
    labels: unlabelled ? new Int32Array(count).fill(-1) : Int32Array.from({ length: count }, (_, i) => i % 10), ...(unlabelled ? { unlabelled } : {}),
    readPixels: (s, e) => pixels.subarray(s * c * h * w, e * c * h * w), describeImage: (i) => `image ${i}`,
  };
}
const PRE = { scale: 1 / 255, mean: [0.5], std: [0.25] };

/** Conv 3x3 → GELU (Div, Erf, Add, Mul, Mul) → NHWC → MatMul [8,10] + bias → mean over H,W → Softmax; weights in Constant nodes. */
function geluMatMulModel(inputDims: (number | string)[]): Model {
  const constant = (name: string, t: Tensor) => node('Constant', [], [name], { value: t }, `${name}_const`);
  return model([
    constant('w', randomTensor([8, 1, 3, 3], 1)), constant('b', randomTensor([8], 2, 0.1)),
    node('Identity', ['w'], ['w_id']),
    node('Conv', ['x', 'w_id', 'b'], ['c'], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }, '/conv/Conv'),
    constant('sqrt2', floatTensor([], Float32Array.of(Math.SQRT2))), constant('one', floatTensor([], Float32Array.of(1))), constant('half', floatTensor([], Float32Array.of(0.5))),
    node('Div', ['c', 'sqrt2'], ['g1'], {}, '/act/Div'), node('Erf', ['g1'], ['g2'], {}, '/act/Erf'), node('Add', ['g2', 'one'], ['g3'], {}, '/act/Add'),
    node('Mul', ['c', 'g3'], ['g4'], {}, '/act/Mul'), node('Mul', ['g4', 'half'], ['g5'], {}, '/act/Mul_1'),
    node('Transpose', ['g5'], ['t'], { perm: [0, 2, 3, 1] }, '/permute/Transpose'),
    constant('fc_w', randomTensor([8, 10], 3)), constant('fc_b', randomTensor([10], 4, 0.1)),
    node('MatMul', ['t', 'fc_w'], ['m'], {}, '/fc/MatMul'), node('Add', ['m', 'fc_b'], ['mb'], {}, '/fc/Add'),
    node('ReduceMean', ['mb'], ['logits'], { axes: [1, 2], keepdims: 0 }, '/pool/ReduceMean'),
    node('Softmax', ['logits'], ['y'], { axis: 1 }, '/Softmax'),
  ], [], inputDims);
}

test('input shapes: symbolic H/W from a shape, from the data, a conflicting fixed axis named; the error says how to fix it', () => {
  const m = geluMatMulModel(['N', 1, 'height', 'width']);
  assert.throws(() => prepareModel(m, 1), (e: unknown) => e instanceof InputError
    && /made\.onnx: input 'x' \[N,1,height,width\] has symbolic 'height' at axis 2, 'width' at axis 3; give the image size with --input-shape C,H,W/.test(e.message));
  assert.deepEqual(withImageShape(m, { chw: [1, 6, 5], source: '--input-shape' }).graph.inputs[0].dims, ['N', 1, 6, 5]);
  assert.deepEqual(fitImageShape(m, [1, 7, 7], 'data.gz').graph.inputs[0].dims, ['N', 1, 7, 7]);
  assert.throws(() => withImageShape(m, { chw: [3, 6, 5], source: '--input-shape' }), /is \[N,1,height,width\] \(NCHW\), but --input-shape gives \[C,H,W\] = \[3,6,5\]/);
  assert.throws(() => parseImageShape('3,224', '--input-shape'), /expected C,H,W as three positive whole numbers/);
  assert.equal(prepareModel(withImageShape(m, { chw: [1, 6, 5], source: 's' }), 2).shapes.get('y')!.join(','), '2,10');
});

test('weights in Constant and Identity nodes become initializers; the MatMul on NHWC is a Gemm layer named after it', () => {
  const m = geluMatMulModel(['N', 1, 6, 6]);
  hoistConstants(m.graph);
  assert.deepEqual(m.graph.nodes.filter((n) => n.opType === 'Constant' || n.opType === 'Identity').map((n) => n.name), ['sqrt2_const', 'one_const', 'half_const'], 'scalars stay nodes');
  assert.deepEqual(m.graph.hoisted, { Constant: 4, Identity: 1 });
  const layers = listLayers(prepareModel(m, 1));
  assert.deepEqual(layers.map((l) => [l.name, l.op, l.weightDims.join('x'), l.parameters]), [['/conv/Conv', 'Conv', '8x1x3x3', 80], ['/fc/MatMul', 'Gemm', '8x10', 90]]);
  const y = new FloatModel(m).run(randomTensor([2, 1, 6, 6], 9)).data as Float32Array;
  assert.ok(Math.abs(y[0] + y[1] + y[2] + y[3] + y[4] + y[5] + y[6] + y[7] + y[8] + y[9] - 1) < 1e-5, 'softmax output');
});

test('on codes: GELU is one table, MatMul a Gemm layer, no float node left; logits within 30 dB of float; Softmax left out', async () => {
  const m = geluMatMulModel(['N', 1, 6, 6]);
  hoistConstants(m.graph);
  const calib = images(64, 1, 6, 6, 11);
  const { plan, intModel, floatModel, softmax } = buildQuantizedModel(m, { dataset: calib, preprocess: PRE }, {}, 32, 64);
  assert.equal(softmax, '/Softmax');
  const kinds = Object.fromEntries([...plan.modes].map(([name, mode]) => [name, mode.kind]));
  assert.equal(kinds['/act/Mul_1'], 'lut');
  for (const inner of ['/act/Div', '/act/Erf', '/act/Add', '/act/Mul']) assert.equal(kinds[inner], 'fused', inner);
  assert.equal(kinds['/fc/MatMul'], 'layer');
  const floats = Object.entries(kinds).filter(([, k]) => k === 'float').map(([n]) => n);
  assert.deepEqual(floats, ['/pool/ReduceMean'], 'only the mean over H,W (after the last layer, on int32 accumulators) is float');
  const input = randomTensor([16, 1, 6, 6], 13, 2);
  const e = new ErrorAccumulator().add(floatModel.run(input).data as Float32Array, intModel.run(input).data as Float32Array);
  assert.ok(e.result().sqnrDb > 30, `logit SQNR ${e.result().sqnrDb} dB`);
  const r = await quantizeJob({ model: m, calibration: { dataset: calib, preprocess: PRE }, evaluation: { dataset: images(64, 1, 6, 6, 12, true), preprocess: PRE } });
  assert.equal(r.labelled, false);
  assert.equal(r.fp32.accuracy, null, 'accuracy unavailable without labels, not 0');
  assert.equal(r.quantized.accuracy, null);
  assert.ok(r.quantized.agreement! > 50 && r.logitSqnrDb! > 30);
  assert.equal(r.softmax, '/Softmax');
});

test('channels-last input: an NCHW Transpose in front, cancelled by the model\'s own; same output as the NHWC model', () => {
  const w = randomTensor([4, 3, 3, 3], 5);
  const nhwc = model([
    node('Transpose', ['x'], ['xt'], { perm: [0, 3, 1, 2] }, '/to_nchw'),
    node('Conv', ['xt', 'w'], ['c'], { kernel_shape: [3, 3] }, '/conv'),
    node('GlobalAveragePool', ['c'], ['p']), node('Flatten', ['p'], ['y']),
  ], [['w', w]], ['N', 'h', 'w', 3]);
  assert.equal(inputLayout(nhwc), 'NHWC');
  const adapted = fitImageShape(imageModel(nhwc), [3, 5, 5], 'images');
  assert.deepEqual(adapted.graph.inputs[0].dims, ['N', 3, 5, 5]);
  const x = randomTensor([2, 3, 5, 5], 6);
  const xNhwc = floatTensor([2, 5, 5, 3]);
  for (let n = 0; n < 2; n++) for (let c = 0; c < 3; c++) for (let i = 0; i < 25; i++) (xNhwc.data as Float32Array)[(n * 25 + i) * 3 + c] = (x.data as Float32Array)[(n * 3 + c) * 25 + i];
  const viaAdapter = new FloatModel(adapted).run(x).data as Float32Array;
  const direct = new FloatModel(withImageShape(nhwc, { chw: [3, 5, 5], source: 's' })).run(xNhwc).data as Float32Array;
  assert.deepEqual([...viaAdapter], [...direct]);
});

test('label-free data: a flat folder of images and an IDX file without labels open as unlabelled', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qi-flat-'));
  const idx = path.join(dir, 'photos-images-idx3-ubyte');
  const header = Buffer.alloc(16);
  header.writeUInt32BE(0x803, 0); header.writeUInt32BE(2, 4); header.writeUInt32BE(2, 8); header.writeUInt32BE(2, 12);
  fs.writeFileSync(idx, Buffer.concat([header, Buffer.alloc(8, 7)]));
  const d = openDataset(idx);
  assert.equal(d.unlabelled, true);
  assert.equal(d.count, 2);
});

test('opset 18 forms (ReduceMean axes input, Split num_outputs, Pad axes input): float equals onnxruntime, W8A8 runs on codes', async () => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const ort = require('onnxruntime-node');
  const file = path.join(__dirname, 'fixtures/opsets/opset18.onnx'); // scripts/models/make_opset18_model.py
  const m = loadModel(file);
  const x = randomTensor([4, 1, 28, 28], 21, 2);
  const ours = new FloatModel(m).run(x).data as Float32Array;
  const session = await ort.InferenceSession.create(file);
  const ref = (await session.run({ x: new ort.Tensor('float32', x.data, x.dims) })).prob.data as Float32Array;
  assert.equal(ours.length, 40);
  for (let i = 0; i < 40; i++) assert.ok(Math.abs(ours[i] - ref[i]) < 1e-5, `output ${i}: ${ours[i]} vs onnxruntime ${ref[i]}`);
  const calib = images(32, 1, 28, 28, 22);
  const r = await quantizeJob({ model: m, calibration: { dataset: calib, preprocess: PRE }, evaluation: { dataset: images(32, 1, 28, 28, 23), preprocess: PRE } });
  assert.equal(r.softmax, '/Softmax');
  assert.ok(r.logitSqnrDb! > 25, `logit SQNR ${r.logitSqnrDb} dB`);
  assert.deepEqual(r.floatNodes.map((f) => f.op), ['ReduceMean'], 'Split, the gate, Concat and Pad run on codes');
});
