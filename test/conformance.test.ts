/**
 * The official ONNX node conformance cases (Debian package libonnx-testdata) for every operator the float
 * engine supports: model.onnx + test_data_set_0/input_*.pb → output_*.pb, rtol 1e-3 / atol 1e-4 (onnx backend default).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { onnx } from 'onnx-proto';
import { loadModel, convertTensor } from '../src/onnx/load';
import { prepareGraph } from '../src/graph/prepare';
import { runGraph } from '../src/engine/float-engine';
import { SUPPORTED_FLOAT_OPS } from '../src/kernels/float';
import { setKernelPath, wasmAvailable } from '../src/kernels/wasm';
import type { Model } from '../src/graph/ir';
import type { Tensor } from '../src/graph/tensor';
import { errorMessage } from '../src/util/errors';

const NODE_DIR = '/usr/share/libonnx-testdata/data/node';
const RTOL = 1e-3;
const ATOL = 1e-4;

/** Cases whose operators we support but which exercise features out of this project's scope. */
const OUT_OF_SCOPE: Record<string, string> = {
  test_averagepool_3d_default: '3-D pooling (image classifiers pool in 2-D)',
  test_maxpool_3d_default: '3-D pooling (image classifiers pool in 2-D)',
  test_convtranspose_3d: '3-D transposed convolution (image models use 1-D/2-D)',
  test_batchnorm_epsilon_training_mode: 'BatchNormalization training mode (inference engine)',
  test_batchnorm_example_training_mode: 'BatchNormalization training mode (inference engine)',
  test_training_dropout: 'random Dropout in training mode (inference engine)',
  test_training_dropout_default: 'random Dropout in training mode (inference engine)',
  test_training_dropout_default_mask: 'random Dropout in training mode (inference engine)',
  test_training_dropout_mask: 'random Dropout in training mode (inference engine)',
  test_cast_BFLOAT16_to_FLOAT: 'bfloat16 tensors are not supported',
  test_cast_FLOAT_to_BFLOAT16: 'bfloat16 tensors are not supported',
  test_castlike_BFLOAT16_to_FLOAT_expanded: 'bfloat16 tensors are not supported',
  test_castlike_FLOAT_to_BFLOAT16_expanded: 'bfloat16 tensors are not supported',
  test_maxpool_with_argmax_2d_precomputed_pads: 'the Indices output of MaxPool (used for unpooling in training)',
  test_maxpool_with_argmax_2d_precomputed_strides: 'the Indices output of MaxPool (used for unpooling in training)',
};

/** Families of cases on tensor types the float32 engine does not compute in, with the reason. */
const OUT_OF_SCOPE_PATTERNS: [RegExp, string][] = [
  [/^test_(max|min)_(float64|u?int\d+)$/, 'Max/Min on float64 or integer tensors (the float engine computes in float32)'],
  [/^test_pow_types_/, 'Pow on integer or mixed-type tensors (the float engine computes in float32)'],
  [/^test_reduce_log_sum_exp_/, 'these ReduceLogSumExp cases are float64 (the float engine computes in float32)'],
  [/^test_castlike_(BFLOAT16_to_FLOAT|FLOAT_to_BFLOAT16)$/, 'bfloat16 tensors are not supported'],
  [/^test_resize_.*cubic/, 'cubic Resize (image classifiers resize with nearest or linear, if at all)'],
  [/^test_resize_tf_crop_and_resize$/, "Resize's tf_crop_and_resize mode (a TensorFlow detection op)"],
];

function outOfScope(name: string): string | undefined {
  return OUT_OF_SCOPE[name] ?? OUT_OF_SCOPE_PATTERNS.find(([re]) => re.test(name))?.[1];
}

function ensureTestData(): string | undefined {
  if (fs.existsSync(NODE_DIR)) return undefined;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update'], { env, stdio: 'ignore' });
  const install = update.status === 0 ? spawnSync('apt-get', ['install', '-y', 'libonnx-testdata'], { env, stdio: 'ignore' }) : update;
  if (install.status !== 0 || !fs.existsSync(NODE_DIR)) return 'apt-get install libonnx-testdata failed (needs root and the Debian archive)';
  return undefined;
}

function readTensor(file: string): Tensor {
  return convertTensor(onnx.TensorProto.decode(fs.readFileSync(file)), file, path.basename(file));
}

function numberedFiles(dir: string, prefix: string): string[] {
  return fs.readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.pb'))
    .sort((a, b) => Number(a.slice(prefix.length, -3)) - Number(b.slice(prefix.length, -3)))
    .map((f) => path.join(dir, f));
}

interface Case { name: string; model: Model; inputs: Tensor[]; outputs: Tensor[] }

/** Loads a case, or returns why it is skipped. */
function loadCase(name: string): Case | string {
  const why = outOfScope(name);
  if (why) return `out of scope: ${why}`;
  const dir = path.join(NODE_DIR, name);
  let model: Model;
  try {
    model = loadModel(path.join(dir, 'model.onnx'));
  } catch (e) {
    return `model not loadable: ${errorMessage(e)}`;
  }
  const unsupported = [...new Set(model.graph.nodes.filter((n) => n.domain !== '' && n.domain !== 'ai.onnx' || !SUPPORTED_FLOAT_OPS.has(n.opType)).map((n) => n.opType))];
  if (unsupported.length) return `unsupported op ${unsupported.join(', ')}`;
  const data = path.join(dir, 'test_data_set_0');
  try {
    return { name, model, inputs: numberedFiles(data, 'input_').map(readTensor), outputs: numberedFiles(data, 'output_').map(readTensor) };
  } catch (e) {
    return `test data not loadable (dtype): ${errorMessage(e).replace(/^.*: /, '')}`;
  }
}

function close(actual: Tensor, expected: Tensor, what: string): void {
  assert.deepEqual(actual.dims, expected.dims, `${what}: shape`);
  assert.equal(actual.dtype, expected.dtype, `${what}: dtype`);
  for (let i = 0; i < expected.data.length; i++) {
    const a = Number(actual.data[i]);
    const b = Number(expected.data[i]);
    if (Number.isNaN(b) && Number.isNaN(a)) continue;
    const ok = expected.dtype === 'float32' || expected.dtype === 'float64' ? Math.abs(a - b) <= ATOL + RTOL * Math.abs(b) || a === b : a === b;
    if (!ok) assert.fail(`${what}: element ${i} is ${a}, expected ${b}`);
  }
}

/** Inputs of these ops at these positions decide output shapes. */
const SHAPE_PARAMETERS: Record<string, number[]> = { Range: [0, 1, 2], Resize: [1, 2, 3], Upsample: [1] };

function onlyShapeParameter(g: Model['graph'], name: string): boolean {
  const uses = g.nodes.flatMap((n) => n.inputs.map((inp, i) => (inp === name ? { op: n.opType, i } : undefined)).filter((u) => u !== undefined));
  return uses.length > 0 && uses.every((u) => SHAPE_PARAMETERS[u!.op]?.includes(u!.i));
}

function runCase(c: Case): void {
  const g = c.model.graph;
  // test inputs follow the graph's input list; trailing optional inputs may be absent
  const inputs = new Map<string, Tensor>();
  g.inputs.forEach((v, i) => c.inputs[i] && inputs.set(v.name, c.inputs[i]));
  const trimmed: Model = { ...c.model, graph: { ...g, inputs: g.inputs.filter((v) => inputs.has(v.name)) } };
  const shapes = new Map([...inputs].map(([k, t]) => [k, t.dims]));
  // integer inputs (shapes, axes, pads, indices) and the float parameters that fix an output shape (Range bounds,
  // Resize scales) are bound at preparation, like the constants an exporter writes
  const constantInputs = new Map([...inputs].filter(([name, t]) => t.dtype === 'int64' || t.dtype === 'int32' || onlyShapeParameter(g, name)));
  const prepared = prepareGraph(trimmed, shapes, { constantInputs });
  const out = runGraph(prepared, new Map([...inputs].filter(([k]) => !constantInputs.has(k))));
  g.outputs.forEach((o, i) => {
    const t = out.get(o.name);
    assert.ok(t, `output '${o.name}' missing`);
    close(t, c.outputs[i], `output '${o.name}'`);
  });
}

const missing = ensureTestData();
const cases = missing ? [] : fs.readdirSync(NODE_DIR).filter((d) => d.startsWith('test_')).sort();
const loaded = cases.map((name) => ({ name, c: loadCase(name) }));
const ran = loaded.filter((x): x is { name: string; c: Case } => typeof x.c !== 'string');
const skipped = loaded.filter((x) => typeof x.c === 'string') as { name: string; c: string }[];

test('ONNX node conformance (libonnx-testdata)', { skip: missing }, async (t) => {
  console.log(`conformance: ${ran.length} cases run, ${skipped.length} skipped`);
  console.log(`ran: ${ran.map((x) => x.name).join(' ')}`);
  const byReason = new Map<string, string[]>();
  for (const s of skipped) byReason.set(s.c, [...(byReason.get(s.c) ?? []), s.name]);
  for (const [reason, names] of [...byReason].sort()) console.log(`skipped (${reason}): ${names.join(' ')}`);
  assert.ok(ran.length > 150, `expected well over 150 runnable cases, found ${ran.length}`);
  for (const { name, c } of ran) {
    await t.test(name, () => runCase(c));
  }
});

// the TypeScript kernels are the reference the WebAssembly ones are checked against: they pass on their own
test('ONNX node conformance on the TypeScript kernel path', { skip: missing || !wasmAvailable() && 'the default path is already TypeScript' }, async (t) => {
  setKernelPath('ts');
  try {
    for (const { name, c } of ran) {
      await t.test(name, () => runCase(c));
    }
  } finally {
    setKernelPath(undefined);
  }
});
