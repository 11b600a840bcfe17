import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { loadModel } from '../src/onnx/load';
import { openDataset, iterateBatches } from '../src/data';
import { buildQuantizedModel } from '../src/pipeline/quantize';
import { runIntGraph, type QTensor } from '../src/engine/int-engine';
import type { Node } from '../src/graph/ir';
import { inspectIntModel, layerSegment } from '../src/inspect/int-inspect';
import { dataflowOf } from '../src/inspect/build-report';

const shared = path.resolve(__dirname, '../../shared');
const PRE = { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** SQNR computed here with plain loops: 10·log10(Σ ref² / Σ (ref − s·(q − z))²). */
function sqnrOfCodes(ref: Float32Array, q: QTensor): number {
  let signal = 0, noise = 0;
  for (let i = 0; i < ref.length; i++) {
    const deq = q.params.scale * (q.codes[i] - q.params.zeroPoint);
    signal += ref[i] * ref[i];
    noise += (ref[i] - deq) ** 2;
  }
  return 10 * Math.log10(signal / noise);
}

test('inspection: local and accumulated SQNR of every layer equal float engine vs integer engine on the same tensor (resnet20, W8A8)', () => {
  const model = loadModel(path.join(shared, 'models/resnet20_cifar10.onnx'));
  const calib = { dataset: openDataset(path.join(shared, 'data/cifar10/train_first4000.bin'), { limit: 64 }), preprocess: PRE };
  const { intModel, floatModel, plan } = buildQuantizedModel(model, calib, { weightBits: 8, activationBits: 8 }, 32, 64);
  const data = openDataset(path.join(shared, 'data/cifar10/test_batch_first1000_lossless.bin'), { limit: 16 });
  const report = inspectIntModel(floatModel, intModel, data, PRE, 16);
  assert.equal(report.layers.length, 20);

  const [batch] = [...iterateBatches(data, 16, PRE)];
  const prepared = floatModel.getPrepared(16);
  const floatValues = new Map<string, Float32Array>();
  floatModel.run(batch.input, { afterNode: (node, outs) => node.outputs.forEach((o, i) => outs[i] && floatValues.set(o, (outs[i].data as Float32Array).slice())) });
  // accumulated: the whole integer model, codes captured at each compared value
  const codes = new Map<string, QTensor>();
  intModel.run(batch.input, { onQuantized: (name, q) => codes.set(name, { dims: q.dims, codes: q.codes.slice(), params: q.params }) });
  for (const l of report.layers) {
    const independent = sqnrOfCodes(floatValues.get(l.comparedValue)!, codes.get(l.comparedValue)!);
    assert.ok(Math.abs(l.accumulated.sqnrDb - independent) < 1e-4, `${l.layer} accumulated ${l.accumulated.sqnrDb} vs ${independent}`);
  }
  // local: the full graph in float except this one layer (and its fused clamp), which the integer engine runs
  for (const ql of plan.layers) {
    const seg: Node[] = layerSegment(prepared, plan, ql);
    const onlyThis = { ...plan, modes: new Map(seg.map((n) => [n.name, plan.modes.get(n.name)!])) };
    const compared = seg[seg.length - 1].outputs[0];
    let captured: QTensor | undefined;
    runIntGraph(prepared, onlyThis, batch.input, { onQuantized: (name, q) => { if (name === compared) captured = { dims: q.dims, codes: q.codes.slice(), params: q.params }; } });
    const independent = sqnrOfCodes(floatValues.get(compared)!, captured!);
    const reported = report.layers.find((l) => l.layer === ql.name)!;
    assert.ok(Math.abs(reported.local.sqnrDb - independent) < 1e-4, `${ql.name} local ${reported.local.sqnrDb} vs ${independent}`);
  }
  // the first layer sees the image itself, so its local and accumulated errors coincide; later layers carry error in
  assert.ok(Math.abs(report.layers[0].local.sqnrDb - report.layers[0].accumulated.sqnrDb) < 1e-9);
  const last = report.layers[report.layers.length - 1];
  assert.ok(last.local.sqnrDb > last.accumulated.sqnrDb, 'the last layer alone is better than after 19 quantized layers');
  for (const l of report.layers) assert.ok(l.local.sqnrDb > 20 && l.local.sqnrDb < 60, `${l.layer}: local ${l.local.sqnrDb} dB is plausible at 8 bits`);

  // dataflow of a real 3x3x16 conv: uint8 codes minus zero point times int8 weights, K = 144
  const conv = plan.layers.find((l) => l.name === '/layer1/layer1.0/conv1/Conv')!;
  const seen = report.layers.find((l) => l.layer === conv.name)!.maxAccumulator;
  const df = dataflowOf(prepared, plan, conv, seen);
  assert.equal(df.steps.find((s) => s.stage === 'accumulate')!.title, 'int32 accumulation over K = 144 terms');
  assert.equal(df.accumulatorBitsFormula, df.productBits + 8);
  assert.ok(seen > 0 && seen <= conv.accumulatorBound, `largest accumulator ${seen} within the bound ${conv.accumulatorBound}`);
  assert.ok(df.accumulatorBitsSeen! <= df.accumulatorBitsThisLayer && df.fitsInt32 && df.headroomBits >= 8);
  const requant = df.steps.find((s) => s.stage === 'requantize')!;
  assert.ok(requant.range.min >= 2 ** 30 && requant.range.max < 2 ** 31, 'M0 is a Q31 value in [2^30, 2^31)');
  assert.equal(df.steps.find((s) => s.stage === 'activation')?.range.min, conv.outputParams.zeroPoint);
});
