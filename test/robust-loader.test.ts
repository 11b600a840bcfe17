// Malformed and hostile model files: every one must end in an InputError that says what is wrong.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { loadModel, parseModel } from '../src/onnx/load';
import { DEFAULT_LIMITS, configureLimits, limitsFromSettings, scanModelWire } from '../src/onnx/limits';
import { spawnSync } from 'child_process';
import {
  MODELS, decodeFixture, encodeModel, expectInputError, floatInit, lengthField, rng, tempDir, tinyModel, varint,
} from './robust-fixtures';

const RESNET20 = path.join(MODELS, 'resnet20_cifar10.onnx');
const resnetBytes = fs.readFileSync(RESNET20);

test('a model truncated anywhere is refused as truncated or corrupt', () => {
  const random = rng(1);
  const cuts = [1, 2, 10, 100, 1000, resnetBytes.length - 1, resnetBytes.length - 100];
  for (let i = 0; i < 40; i++) cuts.push(Math.floor(random() * resnetBytes.length));
  for (const cut of cuts) {
    const err = expectInputError(() => parseModel(resnetBytes.subarray(0, cut), 'cut.onnx'));
    assert.match(err.message, /^cut\.onnx: /);
    assert.match(err.message, /truncated or corrupt|no graph|no nodes|bytes of data|needs/, `cut at ${cut}: ${err.message}`);
  }
});

test('random bytes, an empty file and an image are refused, never decoded into garbage', () => {
  const random = rng(2);
  for (let i = 0; i < 50; i++) {
    const bytes = Uint8Array.from({ length: 1 + Math.floor(random() * 4096) }, () => Math.floor(random() * 256));
    const err = expectInputError(() => parseModel(bytes, 'noise.onnx'));
    assert.match(err.message, /^noise\.onnx: /);
  }
  assert.match(expectInputError(() => parseModel(new Uint8Array(), 'empty.onnx')).message, /empty file/);
  const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  assert.match(expectInputError(() => parseModel(png, 'cat.png')).message, /^cat\.png: not a valid ONNX model/);
});

test('valid protobuf that is not a model is refused', () => {
  const tensor = onnx.TensorProto.encode(onnx.TensorProto.fromObject(floatInit('W', [2, 2], [1, 2, 3, 4]))).finish();
  assert.match(expectInputError(() => parseModel(tensor, 'tensor.pb')).message, /^tensor\.pb: not (a valid )?(an )?ONNX model/);
  const graphOnly = onnx.GraphProto.encode(onnx.GraphProto.fromObject(tinyModel().graph as object)).finish();
  assert.match(expectInputError(() => parseModel(graphOnly, 'graph.pb')).message, /^graph\.pb: not (a valid )?(an )?ONNX model/);
  const noNodes = encodeModel({ irVersion: 8, graph: { name: 'g' } });
  assert.match(expectInputError(() => parseModel(noNodes, 'nonodes.onnx')).message, /graph has no nodes/);
});

test('a huge declared length is refused before anything is allocated', () => {
  // ModelProto.graph (field 7) claiming 2 GiB, followed by 3 bytes.
  const bytes = Uint8Array.from([...varint(7 * 8 + 2), ...varint(2 ** 31), 1, 2, 3]);
  const before = process.memoryUsage().arrayBuffers;
  const err = expectInputError(() => parseModel(bytes, 'huge.onnx'));
  assert.match(err.message, /declares 2147483648 bytes but only 3 remain/);
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 2 ** 20);
});

test('deeply nested graphs (attribute in node in graph ...) are refused, not a stack overflow', () => {
  // graph{ node{ attribute{ g: graph{ ... } } } } repeated 3000 times, built from the inside out.
  let inner: Uint8Array = new Uint8Array();
  for (let i = 0; i < 3000; i++) inner = lengthField(1, lengthField(5, lengthField(6, inner))); // node.attribute.g
  const bytes = lengthField(7, inner);
  const err = expectInputError(() => parseModel(bytes, 'deep.onnx'));
  assert.match(err.message, /nested deeper than 64 levels/);
});

test('millions of empty messages (decoding amplification) are refused by the decoded-size estimate', () => {
  const nodes = 8_000_000; // 16 MB of file that protobufjs would turn into >1 GB of NodeProto objects
  const graph = new Uint8Array(nodes * 2);
  for (let i = 0; i < graph.length; i += 2) graph[i] = 0x0a; // field 1 (node), length 0
  const bytes = new Uint8Array([...varint(7 * 8 + 2), ...varint(graph.length)].concat());
  const model = Buffer.concat([bytes, graph]);
  const err = expectInputError(() => parseModel(model, 'amp.onnx'));
  assert.match(err.message, /decoding the model structure would take over 1024 MB/);
  // int64 values cost a Long object each: a small cap shows the same guard for them.
  const dims = new Uint8Array(200_000).fill(1);
  const tensor = lengthField(5, [...varint(1 * 8 + 2), ...varint(dims.length), ...dims]);
  const err2 = expectInputError(() => parseModel(lengthField(7, tensor), 'dims.onnx', { ...DEFAULT_LIMITS, maxDecodedBytes: 2 ** 20 }));
  assert.match(err2.message, /200000 int64 values/);
});

test('wrong wire types and packed arrays that end inside a value are refused', () => {
  const graphAsVarint = Uint8Array.from([7 * 8 + 0, 5]); // graph field sent as a varint
  assert.match(expectInputError(() => parseModel(graphAsVarint, 'w.onnx')).message, /field 7 of ModelProto has wire type 0/);
  const badFloats = lengthField(7, lengthField(5, lengthField(4, [0, 0, 128]))); // 3 bytes of packed float
  assert.match(expectInputError(() => parseModel(badFloats, 'f.onnx')).message, /packed float array of 3 bytes/);
  const badDims = lengthField(7, lengthField(5, lengthField(1, [1, 0x80]))); // varint cut in the middle
  assert.match(expectInputError(() => parseModel(badDims, 'd.onnx')).message, /packed integer array ends inside a value/);
});

test('the wire scan accepts every field the encoder writes and every fixture model', () => {
  const full: onnx.IModelProto = {
    ...tinyModel(),
    modelVersion: 3, docString: 'doc', domain: 'd', producerVersion: '1',
    metadataProps: [{ key: 'k', value: 'v' }],
    trainingInfo: [{ initialization: { name: 'i' }, algorithm: { name: 'a' }, initializationBinding: [{ key: 'a', value: 'b' }] }],
    functions: [{ name: 'f', input: ['a'], output: ['b'], attribute: ['x'], node: [{ opType: 'Relu' }], opsetImport: [{ version: 13 }], docString: 'd', domain: 'd' }],
  };
  const g = full.graph as onnx.IGraphProto;
  g.node = [...(g.node ?? []), {
    name: 'attrs', opType: 'Custom', domain: 'x', docString: 'd', input: ['y'], output: ['q'],
    attribute: [
      { name: 'f', type: onnx.AttributeProto.AttributeType.FLOAT, f: 1.5 },
      { name: 'i', type: onnx.AttributeProto.AttributeType.INT, i: -7 },
      { name: 's', type: onnx.AttributeProto.AttributeType.STRING, s: new Uint8Array([65]) },
      { name: 'fs', type: onnx.AttributeProto.AttributeType.FLOATS, floats: [1, 2] },
      { name: 'is', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, -2, 2 ** 40] },
      { name: 'ss', type: onnx.AttributeProto.AttributeType.STRINGS, strings: [new Uint8Array([66])] },
      { name: 't', type: onnx.AttributeProto.AttributeType.TENSOR, t: { dims: [2], dataType: 7, int64Data: [1, -1] } },
      { name: 'ts', type: onnx.AttributeProto.AttributeType.TENSORS, tensors: [{ dims: [1], dataType: 11, doubleData: [2.5] }] },
      { name: 'g', type: onnx.AttributeProto.AttributeType.GRAPH, g: { name: 'sub', node: [{ opType: 'Identity', input: ['y'], output: ['w'] }] } },
      { name: 'gs', type: onnx.AttributeProto.AttributeType.GRAPHS, graphs: [{ name: 'sub2' }] },
      { name: 'tp', type: onnx.AttributeProto.AttributeType.TYPE_PROTO, tp: { sequenceType: { elemType: { mapType: { keyType: 7, valueType: { optionalType: { elemType: { sparseTensorType: { elemType: 1 } } } } } } } } },
      { name: 'sp', type: onnx.AttributeProto.AttributeType.SPARSE_TENSOR, sparseTensor: { values: { dims: [1], dataType: 1, floatData: [1] }, indices: { dims: [1], dataType: 7, int64Data: [0] }, dims: [4] } },
    ],
  }];
  g.initializer = [...(g.initializer ?? []), { name: 'I32', dims: [3], dataType: 6, int32Data: [1, -5, 300], segment: { begin: 0, end: 3 }, docString: 'd' }];
  g.valueInfo = [{ name: 'h', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimParam: 'n', denotation: 'd' }] } }, denotation: 'd' }, docString: 'd' }];
  g.quantizationAnnotation = [{ tensorName: 'h', quantParameterTensorNames: [{ key: 'SCALE_TENSOR', value: 's' }] }];
  g.sparseInitializer = [{ values: { dims: [1], dataType: 1, floatData: [1] }, indices: { dims: [1], dataType: 7, int64Data: [0] }, dims: [2] }];
  g.docString = 'doc';
  const scan = scanModelWire(encodeModel(full), 'full.onnx');
  assert.ok(scan.messages > 40, `messages ${scan.messages}`);
  const attrs = g.node[3].attribute!;
  assert.match(expectInputError(() => parseModel(encodeModel(full), 'full.onnx')).message, /attribute 'tp' of node 'attrs' has unsupported attribute type 13/);
  g.node[3].attribute = attrs.filter((a) => a.name !== 'tp' && a.name !== 'sp'); // types the loader refuses (above)
  const model = parseModel(encodeModel(full), 'full.onnx');
  assert.equal(model.graph.nodes.length, 4);
  assert.deepEqual(model.graph.nodes[3].attributes.is, [1, -2, 2 ** 40]);
  for (const name of fs.readdirSync(MODELS).filter((f) => f.endsWith('.onnx'))) {
    const s = scanModelWire(fs.readFileSync(path.join(MODELS, name)), name);
    assert.ok(s.maxDepth <= 8 && s.messages > 100, `${name}: ${JSON.stringify(s)}`);
  }
});

test('huge, negative and mismatched tensor shapes name the initializer', () => {
  const huge = encodeModel(tinyModel({ name: 'W', dims: [1e6, 1e6, 1e6], dataType: 1 }));
  const e1 = expectInputError(() => parseModel(huge, 'huge.onnx'));
  assert.match(e1.message, /initializer 'W' declares 1000000000000000000 elements, over the limit of 268435456 \(setting quantInspector\.maxTensorElements\)/);
  const negative = encodeModel(tinyModel({ name: 'W', dims: [2, -2], dataType: 1, floatData: [1, 2, 3, 4] }));
  assert.match(expectInputError(() => parseModel(negative, 'neg.onnx')).message, /initializer 'W' has invalid dimensions \[2,-2\]/);
  const short = encodeModel(tinyModel(floatInit('W', [2, 2], [1, 2, 3])));
  assert.match(expectInputError(() => parseModel(short, 'short.onnx')).message, /initializer 'W' has 12 bytes of data, but its shape \[2,2\] of float32 needs 16/);
  const fewValues = encodeModel(tinyModel({ name: 'W', dims: [2, 2], dataType: 1, floatData: [1, 2] }));
  assert.match(expectInputError(() => parseModel(fewValues, 'few.onnx')).message, /initializer 'W' has 2 values, but its shape \[2,2\] needs 4/);
  const strings = encodeModel(tinyModel({ name: 'W', dims: [1], dataType: 8, stringData: [new Uint8Array([1])] }));
  assert.match(expectInputError(() => parseModel(strings, 's.onnx')).message, /initializer 'W' has unsupported data type STRING/);
  const tooBigForCap = encodeModel(tinyModel());
  assert.match(
    expectInputError(() => parseModel(tooBigForCap, 'cap.onnx', { ...DEFAULT_LIMITS, maxTensorElements: 3 })).message,
    /initializer 'W' declares 4 elements, over the limit of 3/,
  );
  const dup = tinyModel();
  (dup.graph as onnx.IGraphProto).initializer!.push(floatInit('B', [2], [1, 1]));
  assert.match(expectInputError(() => parseModel(encodeModel(dup), 'dup.onnx')).message, /duplicate initializer 'B'/);
});

test('a model over the size cap is refused with the setting named, before it is read', () => {
  const dir = tempDir('cap');
  const file = path.join(dir, 'model.onnx');
  fs.copyFileSync(RESNET20, file);
  const limits = limitsFromSettings({ maxModelSizeMB: 0.5 });
  const err = expectInputError(() => loadModel(file, limits));
  const mb = String(Number((resnetBytes.length / 2 ** 20).toFixed(2)));
  assert.ok(err.message.includes(`model is ${mb} MB, over the limit of 0.5 MB (setting quantInspector.maxModelSizeMB, CLI --max-model-mb)`), err.message);
  configureLimits({ maxModelSizeMB: 0.25 }); // process-wide, as the CLI flag and the worker's settings do
  try {
    assert.match(expectInputError(() => loadModel(file)).message, /over the limit of 0\.25 MB/);
  } finally {
    configureLimits({});
  }
  assert.equal(DEFAULT_LIMITS.maxModelBytes, 1024 * 1024 * 1024);
  assert.equal(loadModel(file, limitsFromSettings({ maxModelSizeMB: 2 })).graph.nodes.length > 0, true);
  assert.match(expectInputError(() => limitsFromSettings({ maxModelSizeMB: -1 })).message, /maxModelSizeMB must be a positive number, got -1/);
  assert.match(expectInputError(() => limitsFromSettings({ maxTensorElements: 1.5 })).message, /maxTensorElements must be a positive integer/);
  assert.match(expectInputError(() => loadModel(path.join(dir, 'missing.onnx'))).message, /missing\.onnx: no such file/);
  assert.match(expectInputError(() => loadModel(dir)).message, /not a file/);
  fs.rmSync(dir, { recursive: true });
});

test('the fixture models still load with the guards in place', () => {
  const model = decodeFixture('resnet20_cifar10.onnx');
  assert.ok(model.graph);
  const loaded = loadModel(RESNET20);
  assert.equal(loaded.graph.nodes.length, model.graph!.node!.length);
  assert.equal(loaded.graph.initializers.size, model.graph!.initializer!.length);
});

test('bin/qinspect --max-model-mb refuses a larger model with one error line naming the setting', () => {
  const root = path.resolve(__dirname, '..');
  if (!fs.existsSync(path.join(root, 'dist', 'cli.js'))) spawnSync(process.execPath, ['scripts/build.js'], { cwd: root });
  const run = (...args: string[]) => spawnSync(process.execPath, [path.join(root, 'bin', 'qinspect'), ...args], { encoding: 'utf8', cwd: root });
  const refused = run('info', RESNET20, '--max-model-mb', '0.5');
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /^error: .*resnet20_cifar10\.onnx: model is 1\.04 MB, over the limit of 0\.5 MB \(setting quantInspector\.maxModelSizeMB, CLI --max-model-mb\)\n$/);
  const bad = run('info', RESNET20, '--max-model-mb=-3');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^error: --max-model-mb must be at least/);
  const ok = run('info', RESNET20, '--max-model-mb', '2');
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /resnet20_cifar10\.onnx/);
});
