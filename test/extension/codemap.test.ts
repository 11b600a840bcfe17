import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  forwardLocationFromMetadata,
  mapLayersToCode,
  modulePathFromMetadata,
  modulePathFromNodeName,
  parsePythonClasses,
} from '../../src/extension/codemap';
import { loadModel } from '../../src/onnx/load';

const root = path.resolve(__dirname, '../..');
const shared = path.resolve(root, '../shared');

test('ONNX node names map to PyTorch module paths', () => {
  assert.equal(modulePathFromNodeName('/conv1/Conv'), 'conv1');
  assert.equal(modulePathFromNodeName('/layer1/layer1.0/conv1/Conv'), 'layer1.0.conv1');
  assert.equal(modulePathFromNodeName('/layer3/layer3.2/conv2/Conv'), 'layer3.2.conv2');
  assert.equal(modulePathFromNodeName('/linear/Gemm'), 'linear');
  assert.equal(modulePathFromNodeName('/features/features.3/conv/conv.3/Conv'), 'features.3.conv.3');
  assert.equal(modulePathFromNodeName('/features/features.0/features.0.0/Conv'), 'features.0.0');
  assert.equal(modulePathFromNodeName('Conv_12'), undefined, 'no scope in the name');
  assert.equal(modulePathFromNodeName('/Gemm'), undefined);
});

test('exporter metadata (name_scopes, namespace, stack_trace) wins over the node name', () => {
  assert.equal(modulePathFromMetadata({ 'pkg.torch.onnx.name_scopes': "['', 'layer1', 'layer1.0', 'layer1.0.conv1']" }), 'layer1.0.conv1');
  assert.equal(
    modulePathFromMetadata({ namespace: ': __main__.ResNet/layer2: torch.nn.Sequential/layer2.1: __main__.BasicBlock/conv2: torch.nn.Conv2d/conv2d: aten.convolution.default' }),
    'layer2.1.conv2',
  );
  assert.deepEqual(forwardLocationFromMetadata({ 'pkg.torch.onnx.stack_trace': 'File "/src/m.py", line 40, in forward\n  x\nFile "/src/m.py", line 12, in forward\n  y' }), { file: '/src/m.py', line: 11 });
  assert.equal(modulePathFromMetadata({}), undefined);
});

test('Python classes: self.x = Ctor(...) lines and nn.Sequential members', () => {
  const src = [
    'class Net(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.features = nn.Sequential(',
    '            nn.Conv2d(1, 8, 3),  # 0',
    '            nn.ReLU(),',
    '            nn.Conv2d(8, 16, 3, padding=(1, 1)),',
    '        )',
    '        self.fc = nn.Linear(16, 10)',
    '        self.fc = nn.Linear(16, 2)',
    '',
    'def helper():',
    '    self.not_a_member = nn.Linear(1, 1)',
  ].join('\n');
  const [net, ...rest] = parsePythonClasses(src);
  assert.equal(rest.length, 0);
  assert.equal(net.name, 'Net');
  assert.deepEqual([...net.attributes.keys()], ['features', 'fc']);
  assert.equal(net.attributes.get('fc')!.line, 8, 'first assignment wins');
  const members = net.attributes.get('features')!.members!;
  assert.deepEqual(members.map((m) => [m.name, m.line, m.constructorName]), [['0', 4, 'nn.Conv2d'], ['1', 5, 'nn.ReLU'], ['2', 6, 'nn.Conv2d']]);
  const located = mapLayersToCode([{ name: '/features/features.2/Conv' }, { name: '/fc/Gemm' }], [{ file: 'net.py', classes: [net] }]);
  assert.deepEqual(located.map((l) => [l.modulePath, l.line, l.attribute]), [['features.2', 6, 'features'], ['fc', 8, 'fc']]);
});

test('every layer of the sample resnet20_cifar10.onnx maps to its line in samples/resnet_cifar.py', () => {
  const model = loadModel(path.join(shared, 'models/resnet20_cifar10.onnx'));
  const layers = model.graph.nodes.filter((n) => n.opType === 'Conv' || n.opType === 'Gemm').map((n) => ({ name: n.name }));
  const file = path.join(root, 'samples/resnet_cifar.py');
  const source = fs.readFileSync(file, 'utf8');
  const lines = source.split('\n');
  const located = mapLayersToCode(layers, [{ file, classes: parsePythonClasses(source) }]);
  assert.equal(located.length, 20, 'all 19 conv + 1 fc located');
  const lineOf = (text: string) => lines.findIndex((l) => l.includes(text));
  const byLayer = new Map(located.map((l) => [l.layer, l]));
  assert.equal(byLayer.get('/conv1/Conv')!.line, lineOf('self.conv1 = nn.Conv2d(3, 16'));
  assert.equal(byLayer.get('/conv1/Conv')!.className, 'ResNet');
  assert.equal(byLayer.get('/linear/Gemm')!.line, lineOf('self.linear = nn.Linear'));
  for (const stage of [1, 2, 3]) {
    for (const block of [0, 1, 2]) {
      const c1 = byLayer.get(`/layer${stage}/layer${stage}.${block}/conv1/Conv`)!;
      const c2 = byLayer.get(`/layer${stage}/layer${stage}.${block}/conv2/Conv`)!;
      assert.equal(c1.modulePath, `layer${stage}.${block}.conv1`);
      assert.equal(c1.className, 'BasicBlock');
      assert.equal(c1.line, lineOf('self.conv1 = nn.Conv2d(in_planes'));
      assert.equal(c2.line, lineOf('self.conv2 = nn.Conv2d(planes'));
    }
  }
});
