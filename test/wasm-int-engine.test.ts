// The integer engine with the wasm SIMD kernels gives the same codes as with the TypeScript kernels (whole models).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { loadModel } from '../src/onnx/load';
import { openDataset, iterateBatches } from '../src/data';
import { buildQuantizedModel } from '../src/pipeline/quantize';
import { setKernelPath } from '../src/kernels/wasm';
import { requantRounding, setRequantRounding } from '../src/kernels/int/requant';
import type { QTensor } from '../src/engine/int-engine';

const shared = path.resolve(__dirname, '../../shared');

function codesOf(v: unknown): ArrayLike<number> {
  const q = v as QTensor & { data?: ArrayLike<number> };
  return q.codes ?? q.data!;
}

for (const c of [
  { model: 'resnet20_cifar10.onnx', data: 'data/cifar10/train_first4000.bin', preprocess: { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } },
  { model: 'fmnist_mobilenetv2.onnx', data: 'data/fmnist/calib1000-images-idx3-ubyte.gz', preprocess: { scale: 1 / 255, mean: [0.286], std: [0.353] } },
]) {
  test(`integer engine on ${c.model}: wasm kernels give the TypeScript kernels' codes bit for bit`, () => {
    const model = loadModel(path.join(shared, 'models', c.model));
    const dataset = openDataset(path.join(shared, c.data), { limit: 48 });
    const split = { dataset, preprocess: c.preprocess };
    const { intModel } = buildQuantizedModel(model, split, { weightBits: 8, activationBits: 8 }, 16, 32);
    const batch = [...iterateBatches({ ...dataset, count: 48 }, 16, c.preprocess)][2].input;
    const defaultRounding = requantRounding();
    for (const rounding of ['single', 'gemmlowp'] as const) {
      setRequantRounding(rounding);
      let accTs = 0;
      let accWasm = 0;
      setKernelPath('ts');
      const ts = intModel.runValue(batch, { onAccumulator: (_n, a) => { accTs = Math.max(accTs, a); } });
      setKernelPath('wasm');
      const wasmFused = intModel.runValue(batch);
      const wasmRaw = intModel.runValue(batch, { onAccumulator: (_n, a) => { accWasm = Math.max(accWasm, a); } });
      setKernelPath(undefined);
      assert.deepEqual(Array.from(codesOf(wasmFused)), Array.from(codesOf(ts)), `fused conv + requantization (${rounding})`);
      assert.deepEqual(Array.from(codesOf(wasmRaw)), Array.from(codesOf(ts)), `accumulators + TypeScript requantization (${rounding})`);
      assert.equal(accWasm, accTs, 'largest accumulator');
      assert.ok(accTs > 1000);
      assert.ok(new Set(Array.from(codesOf(ts))).size > 20, 'logit codes vary');
    }
    setRequantRounding(defaultRounding);
  });
}
