/** The worker's quantize job: options from the extension → the shared pipeline (src/pipeline/quantize.ts) → JSON for the editor. */
import { checkDatasetFitsInput, openDataset, resolvePreprocess, findSidecar } from '../data';
import type { Dataset, Preprocess } from '../data/types';
import type { Model } from '../graph/ir';
import { histogramOf } from '../inspect/stats';
import { dataflowOf } from '../inspect/build-report';
import { floatLayerPass } from '../inspect/collect';
import { FloatModel } from '../engine/float-engine';
import { listLayers } from '../graph/layers';
import type { PreparedModel } from '../engine/types';
import { loadModel } from '../onnx/load';
import { limitsFromSettings } from '../onnx/limits';
import { quantizeJob, type QuantizeResult } from '../pipeline/quantize';
import type { QuantPlan } from '../engine/int-plan';
import { CALIBRATION_METHODS, type CalibrationMethod } from '../quant/observers';
import { asFloat32 } from '../graph/tensor';
import { InputError } from '../util/errors';
import { fitImageShape, imageModel, parseImageShape } from '../graph/input-shape';

export interface JobContext {
  onProgress(fraction: number, message: string): void;
  checkCancelled(): void;
}

const str = (o: Record<string, unknown>, k: string): string | undefined => (typeof o[k] === 'string' && o[k] !== '' ? (o[k] as string) : undefined);
const int = (o: Record<string, unknown>, k: string, lo: number, hi: number): number | undefined => {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new InputError(`option '${k}' must be a whole number from ${lo} to ${hi}, got ${JSON.stringify(v)}`);
  return v;
};
const numbers = (o: Record<string, unknown>, k: string): number[] | undefined =>
  Array.isArray(o[k]) && (o[k] as unknown[]).every((x) => typeof x === 'number') ? (o[k] as number[]) : undefined;

/** The model for an image job: option 'inputShape' ([C,H,W], from the setting) or the sidecar's fixes a symbolic size; NCHW in front. */
export function loadForJob(options: Record<string, unknown>): Model {
  const modelPath = str(options, 'modelPath');
  if (!modelPath) throw new InputError("option 'modelPath' is missing");
  const n = (v: unknown) => (typeof v === 'number' ? v : undefined);
  const model = loadModel(modelPath, limitsFromSettings({ maxModelSizeMB: n(options.maxModelSizeMB), maxTensorElements: n(options.maxTensorElements) }));
  const setting = numbers(options, 'inputShape');
  if (setting) return imageModel(model, { chw: parseImageShape(setting.join(','), 'setting quantInspector.inputShape'), source: 'setting quantInspector.inputShape' });
  const sidecar = findSidecar(modelPath);
  return imageModel(model, sidecar?.inputShape && { chw: sidecar.inputShape, source: sidecar.file });
}

/** Opens a data set for the model; a still-symbolic image size is fixed from the images (the model returned may differ). */
export function openForJob(model: Model, dataPath: string, limit: number | undefined): { model: Model; dataset: Dataset } {
  const input = model.graph.inputs[0];
  const channels = typeof input?.dims?.[1] === 'number' ? input.dims[1] : undefined;
  const dataset = openDataset(dataPath, { limit, channels });
  const fitted = fitImageShape(model, [dataset.channels, dataset.height, dataset.width], dataset.source);
  checkDatasetFitsInput(dataset, fitted.graph.inputs[0]?.dims, model.path);
  return { model: fitted, dataset };
}

/** Weight histogram of a layer, straight from its initializer. */
function weightHistogram(model: Model, layerName: string) {
  const node = model.graph.nodes.find((n) => n.name === layerName);
  const w = node && model.graph.initializers.get(node.inputs[1] ?? '');
  if (!w || w.dtype !== 'float32') return undefined;
  const h = histogramOf(asFloat32(w), 64);
  return { low: h.low, high: h.high, counts: h.counts };
}

const HISTOGRAM_IMAGES = 32;

/** Float output (before the activation) of every layer on a few calibration images, as 64-bin histograms. */
function activationHistograms(model: Model, calibrationPath: string, pre: Preprocess) {
  const data = openForJob(model, calibrationPath, HISTOGRAM_IMAGES).dataset;
  const floatModel = new FloatModel(model);
  const layers = listLayers(floatModel.getPrepared(data.count));
  const pass = floatLayerPass(floatModel, layers, data, pre, data.count);
  return new Map(pass.layers.map((l) => [l.layer, { low: l.outputHistogram.low, high: l.outputHistogram.high, counts: l.outputHistogram.counts }]));
}

export async function quantizeWorkerJob(options: Record<string, unknown>, ctx: JobContext): Promise<unknown> {
  ctx.onProgress(0, 'loading model');
  const loaded = loadForJob(options);
  const sidecar = findSidecar(loaded.path);
  const pre = resolvePreprocess(sidecar, { mean: numbers(options, 'mean'), std: numbers(options, 'std') }).preprocess;
  const calibrationPath = str(options, 'calibrationData') ?? sidecar?.calibration;
  if (!calibrationPath) throw new InputError(`${loaded.path}: no calibration data (choose it with "Select Calibration Data" or set quantInspector.calibrationData)`);
  const calibrationImages = int(options, 'calibrationImages', 1, 1_000_000);
  const testImages = int(options, 'testImages', 1, 1_000_000);
  const testPath = options.skipEvaluation === true ? undefined : str(options, 'testData') ?? sidecar?.test;
  const method = (str(options, 'method') ?? 'percentile') as CalibrationMethod;
  if (!CALIBRATION_METHODS.includes(method)) throw new InputError(`unknown calibration method '${method}': expected ${CALIBRATION_METHODS.join(', ')}`);
  const granularity = str(options, 'granularity') ?? 'per-channel';
  if (granularity !== 'per-channel' && granularity !== 'per-tensor') throw new InputError(`granularity must be per-channel or per-tensor, got '${granularity}'`);
  ctx.onProgress(0.01, 'opening data');
  const { model, dataset: calibration } = openForJob(loaded, calibrationPath, calibrationImages);
  const evaluation = testPath ? openForJob(model, testPath, testImages).dataset : undefined;
  let planned: { plan: QuantPlan; prepared: PreparedModel } | undefined;
  const result: QuantizeResult = await quantizeJob(
    {
      model,
      calibration: { dataset: calibration, preprocess: pre },
      evaluation: evaluation && { dataset: evaluation, preprocess: pre },
      quant: {
        weightBits: int(options, 'weightBits', 2, 16) ?? 8,
        activationBits: int(options, 'activationBits', 2, 16) ?? 8,
        perChannel: granularity === 'per-channel',
        method,
      },
      calibrationLimit: calibrationImages,
      limit: testImages,
      exportPath: str(options, 'outputPath'),
    },
    { onProgress: ctx.onProgress, checkCancelled: ctx.checkCancelled, onPlan: (plan, prepared) => (planned = { plan, prepared }) },
  );
  ctx.onProgress(0.97, 'activation histograms');
  const activations = activationHistograms(model, calibrationPath, pre);
  const maxAcc = new Map(result.layers.map((l) => [l.name, l.maxAccumulator]));
  const p = planned as { plan: QuantPlan; prepared: PreparedModel } | undefined;
  const flows = new Map(p ? p.plan.layers.map((l) => [l.name, dataflowOf(p.prepared, p.plan, l, maxAcc.get(l.name))]) : []);
  return {
    ...result,
    layers: result.layers.map((l) => ({
      ...l,
      outputSqnrDb: l.outputSqnrDb ?? undefined,
      outputCosine: l.outputCosine ?? undefined,
      weightHistogram: weightHistogram(model, l.name),
      activationHistogram: activations.get(l.name),
      dataflow: flows.get(l.name)?.steps,
    })),
  };
}
