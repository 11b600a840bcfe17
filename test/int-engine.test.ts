/**
 * The integer engine is truly integer: every quantized tensor holds integers inside its bit range, accumulators stay
 * inside int32 (and under the layer's static bound), ReLU6 clamps to the code of 6.0; options (float layers, mixed
 * precision, per-tensor, quantizing after activations, N-bit) do what they say; bad options are InputErrors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { loadModel } from '../src/onnx/load';
import { openDataset, iterateBatches } from '../src/data';
import type { Preprocess } from '../src/data';
import { argmaxRows } from '../src/data/accuracy';
import { buildQuantizedModel } from '../src/pipeline/quantize';
import type { QTensor } from '../src/engine/int-engine';
import type { QuantOptions } from '../src/engine/int-plan';
import { codeOf } from '../src/quant/quantizer';
import { InputError } from '../src/util/errors';
import { convIntAccumulate } from '../src/kernels/int/conv';
import { igemmTs } from '../src/kernels/int/gemm';

const SHARED = path.resolve(__dirname, '../../shared');
const FMNIST: Preprocess = { scale: 1 / 255, mean: [0.286], std: [0.353] };
const CIFAR: Preprocess = { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const INT32_MAX = 2147483647;

function setup(model: string, quant: Partial<QuantOptions>, calibImages = 64) {
  const cifar = model.startsWith('resnet');
  const pre = cifar ? CIFAR : FMNIST;
  const m = loadModel(path.join(SHARED, 'models', model));
  const calib = openDataset(path.join(SHARED, cifar ? 'data/cifar10/train_first4000.bin' : 'data/fmnist/calib1000-images-idx3-ubyte.gz'), { limit: calibImages });
  const test = openDataset(path.join(SHARED, cifar ? 'data/cifar10/test_batch_first1000_lossless.bin' : 'data/fmnist/t10k-images-idx3-ubyte.gz'), { limit: 32 });
  const built = buildQuantizedModel(m, { dataset: calib, preprocess: pre }, quant, 32, calibImages);
  const batch = [...iterateBatches(test, 32, pre)][0];
  return { ...built, batch };
}

function checkCodes(name: string, q: QTensor): void {
  const { qmin, qmax } = q.params;
  for (let i = 0; i < q.codes.length; i++) {
    const c = q.codes[i];
    if (!Number.isInteger(c) || c < qmin || c > qmax) assert.fail(`${name}: code ${c} at ${i} outside [${qmin}, ${qmax}]`);
  }
  assert.ok(q.params.scale > 0 && Number.isFinite(q.params.scale), `${name}: scale ${q.params.scale}`);
}

for (const [model, quant] of [
  ['fmnist_mobilenetv2.onnx', { weightBits: 8, activationBits: 8 }],
  ['resnet20_cifar10.onnx', { weightBits: 4, activationBits: 4, weightMethod: 'mse', biasCorrection: true }],
  ['fmnist_resnet20.onnx', { weightBits: 12, activationBits: 10, perChannel: false }],
] as const) {
  test(`${model} W${quant.weightBits}A${quant.activationBits}: codes within their bit range, accumulators within int32`, () => {
    const { plan, intModel, batch } = setup(model, quant);
    const seen = new Map<string, QTensor>();
    const acc = new Map<string, number>();
    intModel.run(batch.input, {
      onQuantized: (name, q) => { checkCodes(name, q); seen.set(name, q); },
      onAccumulator: (name, m) => acc.set(name, Math.max(acc.get(name) ?? 0, m)),
    });
    assert.ok(seen.size >= plan.layers.length, `${seen.size} quantized tensors observed`);
    for (const [name, q] of seen) {
      if (q.params.bits <= 16) {
        assert.equal(q.params.bits, quant.activationBits, `${name}: activation bits`);
        assert.ok(q.params.qmax - q.params.qmin === 2 ** q.params.bits - 1 || q.params.qmax - q.params.qmin === 2 ** q.params.bits - 2, `${name}: range of ${q.params.bits} bits`);
      }
    }
    for (const l of plan.layers) {
      const m = acc.get(l.name);
      assert.ok(m !== undefined && m > 0, `${l.name}: accumulator reported`);
      assert.ok(m <= INT32_MAX, `${l.name}: |acc| ${m} exceeds int32`);
      assert.ok(m <= l.accumulatorBound, `${l.name}: |acc| ${m} above its bound ${l.accumulatorBound}`);
      for (const c of l.weights.codes) assert.ok(Number.isInteger(c) && Math.abs(c) <= l.weights.qmax);
      assert.equal(l.weights.qmax, 2 ** (l.weightBits - 1) - 1);
      for (const mm of l.multipliers) assert.ok(mm.multiplier === 0 || (mm.multiplier >= 2 ** 30 && mm.multiplier < 2 ** 31));
    }
    if (quant.activationBits > 8) assert.ok([...seen.values()].some((q) => q.codes instanceof Int32Array));
  });
}

test('ReLU6 is a clamp on codes at the code of 6.0; output before the activation, or after it too', () => {
  const base = setup('fmnist_mobilenetv2.onnx', {});
  const clipModes = [...base.plan.modes.values()].filter((m) => m.kind === 'clamp');
  assert.ok(clipModes.length >= 20, 'ReLU6 / Clip nodes run as integer clamps');
  for (const [name, mode] of base.plan.modes) {
    if (mode.kind !== 'clamp') continue;
    const node = base.floatModel.getPrepared(32).nodes.find((n) => n.name === name)!;
    if (node.opType !== 'Clip') continue;
    const p = base.plan.valueParams.get(node.inputs[0])!;
    assert.equal(mode.hi, Math.min(p.qmax, codeOf(6, p)), `${name}: clamp at the code of 6.0`);
    assert.equal(mode.lo, Math.max(p.qmin, codeOf(0, p)));
  }
  const after = setup('fmnist_mobilenetv2.onnx', { quantizeAfterActivation: true });
  const requant = [...after.plan.modes.values()].filter((m) => m.kind === 'clamp' && m.requantTo);
  assert.ok(requant.length >= 20, 'with quantizeAfterActivation each activation requantizes to its own scale');
  const fOut = argmaxRows(base.floatModel.run(base.batch.input), 32);
  for (const s of [base, after]) {
    const q = argmaxRows(s.intModel.run(s.batch.input), 32);
    assert.ok(q.filter((v, i) => v === fOut[i]).length >= 30, 'both schemes keep the float top-1 on ≥ 30 of 32 images');
  }
});

test('float layers, mixed precision and per-tensor weights are applied by name', () => {
  const first = '/conv1/Conv', second = '/layer1/layer1.0/conv1/Conv';
  const { plan, intModel, floatModel, batch } = setup('fmnist_resnet20.onnx', { floatLayers: [first], layerWeightBits: { [second]: 4 }, perChannel: false });
  assert.equal(plan.modes.get(first)!.kind, 'float');
  assert.ok(!plan.layers.some((l) => l.name === first));
  const l = plan.layers.find((x) => x.name === second)!;
  assert.equal(l.weightBits, 4);
  assert.ok(l.weights.scales.every((s) => s === l.weights.scales[0]), 'per-tensor: one scale');
  const f = argmaxRows(floatModel.run(batch.input), 32), q = argmaxRows(intModel.run(batch.input), 32);
  assert.ok(q.filter((v, i) => v === f[i]).length >= 30);
  assert.throws(() => setup('fmnist_resnet20.onnx', { floatLayers: ['/no/such/Conv'] }), (e: unknown) => e instanceof InputError && /no node named '\/no\/such\/Conv'/.test((e as Error).message));
  assert.throws(() => setup('fmnist_resnet20.onnx', { weightBits: 1 }), InputError);
  assert.throws(() => setup('fmnist_resnet20.onnx', { activationBits: 17 }), InputError);
  assert.throws(() => setup('fmnist_resnet20.onnx', { method: 'bogus' as never }), InputError);
});

test('integer conv kernel equals a direct reference (grouped, strided, padded, zero point)', () => {
  const p = { n: 2, c: 4, h: 7, w: 6, oc: 6, kh: 3, kw: 3, group: 2, sh: 2, sw: 1, dh: 1, dw: 1, padTop: 1, padLeft: 1, oh: 4, ow: 6 };
  let seed = 5;
  const rnd = (lo: number, hi: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return lo + (seed % (hi - lo + 1)); };
  const x = Uint8Array.from({ length: p.n * p.c * p.h * p.w }, () => rnd(0, 255));
  const k = (p.c / p.group) * 9;
  const w = Int8Array.from({ length: p.oc * k }, () => rnd(-127, 127));
  const bias = Int32Array.from({ length: p.oc }, () => rnd(-5000, 5000));
  const zx = 37;
  const acc = new Int32Array(p.n * p.oc * p.oh * p.ow);
  convIntAccumulate(p, x, zx, w, bias, acc);
  const cg = p.c / p.group, ocg = p.oc / p.group;
  for (let n = 0; n < p.n; n++) for (let o = 0; o < p.oc; o++) for (let oy = 0; oy < p.oh; oy++) for (let ox = 0; ox < p.ow; ox++) {
    let s = bias[o];
    const g = Math.floor(o / ocg);
    for (let ci = 0; ci < cg; ci++) for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) {
      const iy = oy * p.sh - 1 + ky, ix = ox * p.sw - 1 + kx;
      const xv = iy < 0 || iy >= p.h || ix < 0 || ix >= p.w ? zx : x[((n * p.c + g * cg + ci) * p.h + iy) * p.w + ix];
      s += (xv - zx) * w[o * k + ci * 9 + ky * 3 + kx]; // acc = b + Σ (x − zx)·w
    }
    assert.equal(acc[((n * p.oc + o) * p.oh + oy) * p.ow + ox], s);
  }
  // depthwise path
  const dp = { ...p, c: 3, oc: 3, group: 3 };
  const dx = x.subarray(0, dp.n * 3 * dp.h * dp.w), dw = w.subarray(0, 27), dacc = new Int32Array(dp.n * 3 * dp.oh * dp.ow);
  convIntAccumulate(dp, dx, zx, dw, bias.subarray(0, 3), dacc);
  const gemmRef = new Float64Array(2 * 3);
  igemmTs(2, 3, 2, Int8Array.of(1, -2, 3, 4), 0, Uint8Array.of(10, 20, 30, 40, 50, 60), 10, gemmRef, Int32Array.of(7, -7));
  assert.deepEqual([...gemmRef], [7 + 0 - 60, 7 + 10 - 80, 7 + 20 - 100, -7 + 0 + 120, -7 + 30 + 160, -7 + 60 + 200]);
  let s0 = bias[0];
  for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) {
    const iy = -1 + ky, ix = -1 + kx;
    if (iy < 0 || ix < 0) continue;
    s0 += (dx[iy * dp.w + ix] - zx) * dw[ky * 3 + kx];
  }
  assert.equal(dacc[0], s0);
});
