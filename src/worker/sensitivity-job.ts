/** The worker's sensitivity job: each layer quantized alone (others float), accuracy cost per layer (src/inspect/study.ts). */
import { findSidecar, resolvePreprocess } from '../data';
import { FloatModel } from '../engine/float-engine';
import { listLayers } from '../graph/layers';
import { sensitivityStudy } from '../inspect/study';
import { CALIBRATION_METHODS, type CalibrationMethod } from '../quant/observers';
import { InputError, requireLabels } from '../util/errors';
import { loadForJob, openForJob, type JobContext } from './quantize-job';

const BATCH = 50;

export async function sensitivityWorkerJob(options: Record<string, unknown>, ctx: JobContext): Promise<unknown> {
  ctx.onProgress(0, 'loading model');
  const loaded = loadForJob(options);
  const sidecar = findSidecar(loaded.path);
  const pre = resolvePreprocess(sidecar, {}).preprocess;
  const calibPath = typeof options.calibrationData === 'string' && options.calibrationData ? options.calibrationData : sidecar?.calibration;
  const testPath = typeof options.testData === 'string' && options.testData ? options.testData : sidecar?.test;
  if (!calibPath || !testPath) throw new InputError(`${loaded.path}: sensitivity needs calibration and test data (settings quantInspector.calibrationData / testData or the sidecar)`);
  const bits = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 2 && v <= 16 ? v : 4);
  const method = (typeof options.method === 'string' ? options.method : 'percentile') as CalibrationMethod;
  if (!CALIBRATION_METHODS.includes(method)) throw new InputError(`unknown calibration method '${method}'`);
  const count = (v: unknown, d: number) => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : d);
  const { model, dataset: calib } = openForJob(loaded, calibPath, count(options.calibrationImages, 256), options);
  const data = openForJob(model, testPath, count(options.testImages, 200), options).dataset;
  requireLabels(data, 'ranks layers by the accuracy they cost');
  const floatModel = new FloatModel(model);
  const layers = listLayers(floatModel.getPrepared(Math.min(BATCH, data.count)));
  const total = calib.count + data.count;
  const result = await sensitivityStudy(
    floatModel,
    layers,
    { dataset: calib, preprocess: pre, batchSize: BATCH },
    { dataset: data, preprocess: pre, batchSize: BATCH },
    {
      bits: { weightBits: bits(options.weightBits), activationBits: bits(options.activationBits) },
      keep: 0,
      highBits: { weightBits: 8, activationBits: 8 },
      sweepBits: [],
      allButOne: false,
      settings: { perChannel: options.granularity !== 'per-tensor', weightMethod: 'mse', calibration: method },
    },
    (stage, done) => ctx.onProgress((stage === 'calibration' ? done : calib.count + done) / total, `${stage} ${done}`),
  );
  // Δacc = accuracy with only this layer quantized − float accuracy (negative: the layer costs accuracy)
  return result.ranking.map((e) => ({ layer: e.layer, deltaAccuracy: -e.aloneCost, sqnrDb: e.alone.logitSqnrDb }));
}
