import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { loadModel } from '../src/onnx/load';
import { openDataset } from '../src/data';
import { FloatModel } from '../src/engine/float-engine';
import { listLayers } from '../src/graph/layers';
import { sensitivityStudy } from '../src/inspect/study';
import { mixedPlan } from '../src/inspect/sensitivity';
import { observeLayers, QuantSimulator } from '../src/inspect/simulate';

const shared = path.resolve(__dirname, '../../shared');
const PRE = { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

test('sensitivity on resnet20 at W4A4: the ranking names the costly layers, and keeping its top 3 at 8 bits beats keeping the 3 cheapest', async () => {
  const model = new FloatModel(loadModel(path.join(shared, 'models/resnet20_cifar10.onnx')));
  const layers = listLayers(model.getPrepared(32));
  const calib = { dataset: openDataset(path.join(shared, 'data/cifar10/train_first4000.bin'), { limit: 64 }), preprocess: PRE, batchSize: 32 };
  const data = { dataset: openDataset(path.join(shared, 'data/cifar10/test_batch_first1000_lossless.bin'), { limit: 64 }), preprocess: PRE, batchSize: 32 };
  const settings = { perChannel: true, weightMethod: 'mse' as const, calibration: 'percentile' as const };
  const w4a4 = { weightBits: 4, activationBits: 4 }, w8a8 = { weightBits: 8, activationBits: 8 };
  const r = await sensitivityStudy(model, layers, calib, data, { bits: w4a4, keep: 3, highBits: w8a8, sweepBits: [4, 8], allButOne: false, settings });
  assert.equal(r.ranking.length, 20);
  assert.deepEqual(r.ranking.map((e) => e.rank), Array.from({ length: 20 }, (_, i) => i + 1));
  const low = r.sweep.find((p) => p.weightBits === 4)!.evaluation, high = r.sweep.find((p) => p.weightBits === 8)!.evaluation;
  assert.ok(low.logitSqnrDb < high.logitSqnrDb - 10, `W4A4 ${low.logitSqnrDb} dB vs W8A8 ${high.logitSqnrDb} dB`);
  assert.ok(r.float.accuracy - low.accuracy > 2, `W4A4 loses accuracy: float ${r.float.accuracy}, W4A4 ${low.accuracy}`);
  // one layer alone at 4 bits always costs less than all twenty
  for (const e of r.ranking) assert.ok(e.alone.logitSqnrDb > low.logitSqnrDb, `${e.layer} alone ${e.alone.logitSqnrDb} dB`);
  const m = r.mixed!;
  assert.deepEqual(m.highBitLayers, r.ranking.slice(0, 3).map((e) => e.layer));
  assert.ok(m.mixed.logitSqnrDb > m.low.logitSqnrDb, `mixed ${m.mixed.logitSqnrDb} dB > all-4-bit ${m.low.logitSqnrDb} dB`);
  assert.ok(m.recoveredShare > 0, `recovered share ${m.recoveredShare}`);
  // control: the 3 cheapest layers at 8 bits recover less than the 3 costliest
  const sim = new QuantSimulator(model, layers, observeLayers(model, layers, calib.dataset, PRE, 32), settings);
  const reversed = [...r.ranking].reverse();
  const cheapest = mixedPlan(layers.map((l) => l.name), reversed, 3, w8a8, w4a4).plan;
  const [cheap] = sim.evaluatePlans(data.dataset, PRE, 32, [cheapest]).plans;
  assert.ok(m.mixed.logitSqnrDb > cheap.logitSqnrDb, `top-3 plan ${m.mixed.logitSqnrDb} dB > cheapest-3 plan ${cheap.logitSqnrDb} dB`);
  assert.ok(r.timings.total > 0 && r.timings.sensitivity > 0);
});
