/**
 * Sequential empirical bias correction: exact mean input columns (against a brute-force average over every output
 * position), the correction formula b' = b + W·E[x] − Ŵ·E[x̂], and on resnet20_cifar10 at W4A8 the corrected
 * integer logits' mean on the calibration images equals the float logits' mean to within the bias rounding,
 * where the per-layer correction (E[x̂] taken as E[x]) leaves a visible shift.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { iterateBatches, openDataset } from '../src/data';
import type { Preprocess } from '../src/data';
import { correctBiasesSequentially, biasCorrectionImages } from '../src/engine/bias-correction';
import { FloatModel } from '../src/engine/float-engine';
import { IntModel } from '../src/engine/int-engine';
import { DEFAULT_QUANT_OPTIONS, buildQuantPlan, quantizableLayers } from '../src/engine/int-plan';
import { Calibrator, inputColumnMeans } from '../src/engine/quant-calibrate';
import type { Node } from '../src/graph/ir';
import { floatTensor } from '../src/graph/tensor';
import { loadModel } from '../src/onnx/load';
import { mulberry32 } from '../src/util/random';

const SHARED = path.resolve(__dirname, '../../shared');
const CIFAR: Preprocess = { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

function convNode(attributes: Record<string, unknown>): Node {
  return { name: 'c', opType: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attributes } as unknown as Node;
}

test('inputColumnMeans equals the average of every im2col column (padding, stride, dilation, groups)', () => {
  const random = mulberry32(7);
  const [n, c, h, w, kh, kw, group] = [3, 4, 7, 6, 3, 2, 2];
  const node = convNode({ pads: [1, 2, 0, 1], strides: [2, 1], dilations: [1, 2], group });
  const x = floatTensor([n, c, h, w], Float32Array.from({ length: n * c * h * w }, () => random() * 2 - 1));
  const { means, count } = inputColumnMeans(node, x, [4, c / group, kh, kw]);
  const oh = Math.floor((h + 1 + 0 - kh) / 2) + 1, ow = Math.floor((w + 2 + 1 - (kw - 1) * 2 - 1) / 1) + 1;
  assert.equal(count, n * oh * ow);
  for (let g = 0; g < group; g++) {
    let r = 0;
    for (let ci = 0; ci < c / group; ci++) for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++, r++) {
      let sum = 0;
      for (let b = 0; b < n; b++) for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
        const iy = oy * 2 - 1 + ky, ix = ox - 2 + kx * 2;
        if (iy >= 0 && iy < h && ix >= 0 && ix < w) sum += x.data[((b * c + g * (c / group) + ci) * h + iy) * w + ix] as number;
      }
      assert.ok(Math.abs(means[g][r] - sum / count) < 1e-12, `group ${g} column ${r}: ${means[g][r]} vs ${sum / count}`);
    }
  }
  const gemm = { name: 'g', opType: 'Gemm', inputs: ['x', 'w'], outputs: ['y'], attributes: {} } as unknown as Node;
  const rows = inputColumnMeans(gemm, floatTensor([2, 3], Float32Array.of(1, 2, 3, 5, 6, 10)), [4, 3]);
  assert.deepEqual([...rows.means[0]], [3, 4, 6.5]);
  assert.equal(rows.count, 2);
});

test('sequential correction: the W4A8 integer logits average the float logits on the calibration images', () => {
  const model = loadModel(path.join(SHARED, 'models/resnet20_cifar10.onnx'));
  const floatModel = new FloatModel(model);
  const prepared = floatModel.getPrepared(25);
  const options = { ...DEFAULT_QUANT_OPTIONS, weightBits: 4, activationBits: 8, weightMethod: 'mse' as const };
  const calib = openDataset(path.join(SHARED, 'data/cifar10/train_first4000.bin'), { limit: 100 });
  assert.equal(biasCorrectionImages(prepared, 100, 8), 100);
  const calibrator = new Calibrator(prepared.constants, {
    sampledLayers: new Set(quantizableLayers(prepared, options).map((l) => l.name)), keepSamples: false, keepMeans: true, meanImages: 90,
  });
  const floatSum = new Float64Array(10);
  for (const b of iterateBatches(calib, 25, CIFAR)) {
    calibrator.observeInput(prepared.inputName, b.input);
    const logits = floatModel.run(b.input, calibrator.hooks()).data.subarray(0, Math.max(0, 90 - b.start) * 10);
    logits.forEach((v, i) => { floatSum[i % 10] += Number(v); });
  }
  const stats = calibrator.finish();
  // the means cover the first 90 images, each batch kept in halves (the pool's threads share them evenly)
  assert.deepEqual(stats.meanBatches.map((b) => b.dims[0]), [13, 12, 13, 12, 13, 12, 8, 7]);
  const logitMeanGap = (intModel: IntModel): number => {
    const sum = new Float64Array(10);
    for (const b of stats.meanBatches) intModel.run(b).data.forEach((v, i) => { sum[i % 10] += Number(v); });
    return Math.max(...sum.map((s, c) => Math.abs(s - floatSum[c]) / 90));
  };
  const perLayer = new IntModel(model, buildQuantPlan(prepared, stats, options), prepared);
  const corrected = new IntModel(model, buildQuantPlan(prepared, stats, options), prepared);
  correctBiasesSequentially(corrected, stats.meanBatches, stats.inputMeans);
  const last = corrected.plan.layers[corrected.plan.layers.length - 1];
  const lsb = last.outputParams.scale; // the logits' accumulator scale s_in · max s_w
  const before = logitMeanGap(perLayer), after = logitMeanGap(corrected);
  console.log(`# mean logit gap: per-layer correction ${before.toFixed(4)}, sequential ${after.toFixed(5)} (LSB ${lsb.toExponential(2)})`);
  assert.ok(after <= lsb, `sequential: mean logits ${after} apart, more than one LSB ${lsb}`);
  assert.ok(before > 20 * lsb, `per-layer correction leaves ${before}, expected a visible shift`);
  assert.ok(corrected.plan.layers.some((l, i) => l.bias.some((b, c) => b !== perLayer.plan.layers[i].bias[c])));
});
