// The relaxed-SIMD twin of the kernels (fused multiply-add in float): chosen where WebAssembly.validate accepts it,
// float results within rounding of the plain module's, integer results bit-identical.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { spawnSync } from 'child_process';

const ROOT = path.join(__dirname, '..');
const PROBE = `
  const path = require('path');
  const { loadModel } = require(${JSON.stringify(path.join(ROOT, 'src/onnx/load.ts'))});
  const { openDataset } = require(${JSON.stringify(path.join(ROOT, 'src/data/index.ts'))});
  const { buildQuantizedModel } = require(${JSON.stringify(path.join(ROOT, 'src/pipeline/quantize.ts'))});
  const { iterateBatches } = require(${JSON.stringify(path.join(ROOT, 'src/data/preprocess.ts'))});
  const { relaxedSimdInUse, setKernelPath } = require(${JSON.stringify(path.join(ROOT, 'src/kernels/wasm/index.ts'))});
  const pre = { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
  const samples = ${JSON.stringify(path.join(ROOT, 'samples'))};
  const model = loadModel(path.join(samples, 'resnet20_cifar10.onnx'));
  const calib = { dataset: openDataset(path.join(samples, 'cifar10_calib500.bin'), { limit: 20 }), preprocess: pre };
  setKernelPath('ts'); // calibrate on the TypeScript float kernels: both processes build the same integer plan
  const { floatModel, intModel } = buildQuantizedModel(model, calib, { biasCorrection: false }, 20, 20);
  setKernelPath('wasm');
  const [batch] = iterateBatches(openDataset(path.join(samples, 'cifar10_test500.bin'), { limit: 20 }), 20, pre);
  const f = floatModel.run(batch.input).data, q = intModel.run(batch.input).data;
  process.stdout.write(JSON.stringify({ relaxed: relaxedSimdInUse(), float: Array.from(f), int: Array.from(q) }));
`;

function probe(flags: string[]): { relaxed: boolean; float: number[]; int: number[] } {
  const r = spawnSync(process.execPath, [...flags, '--import', 'tsx', '-e', PROBE], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, QINSPECT_KERNELS: 'wasm' } });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('relaxed SIMD where the host has it: float logits within rounding, integer logits bit-identical', () => {
  const plain = probe(['--no-experimental-wasm-relaxed-simd']);
  const relaxed = probe(['--experimental-wasm-relaxed-simd']);
  assert.equal(plain.relaxed, false);
  assert.equal(relaxed.relaxed, true, 'the flag makes WebAssembly.validate accept the relaxed module');
  let maxRel = 0;
  plain.float.forEach((v, i) => { maxRel = Math.max(maxRel, Math.abs(v - relaxed.float[i]) / Math.max(1, Math.abs(v))); });
  assert.ok(maxRel < 1e-4, `float logits differ by ${maxRel} (relative)`);
  assert.ok(plain.float.length === 200 && plain.float.some((v) => v !== 0));
  const diff = plain.int.filter((v, i) => v !== relaxed.int[i]).length;
  assert.equal(diff, 0, `${diff} of ${plain.int.length} integer logits differ`);
});
