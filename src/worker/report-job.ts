/** The worker's report job: the full layer report of src/inspect (HTML + Markdown) at the run's settings, its per-layer choices included. */
import { findSidecar, resolvePreprocess } from '../data';
import type { QuantOptions } from '../engine/int-plan';
import { buildReport } from '../inspect/build-report';
import { renderHtml, renderMarkdown } from '../inspect/report';
import { CALIBRATION_METHODS, type CalibrationMethod } from '../quant/observers';
import { InputError, requireLabels } from '../util/errors';
import { layerChoices, loadForJob, openForJob, type JobContext } from './quantize-job';

const BATCH = 50;

type LayerChoiceOptions = Pick<QuantOptions, 'layerWeightBits' | 'layerActivationBits' | 'floatLayers'>;

/** The layers the run chose for, one line each part: 'conv1 W4 A6', 'fc float'; empty when there are none. */
export function layerChoiceLines(c: LayerChoiceOptions): string[] {
  const names = [...new Set([...Object.keys(c.layerWeightBits), ...Object.keys(c.layerActivationBits), ...c.floatLayers])];
  return names.map((name) => {
    if (c.floatLayers.includes(name)) return `${name} kept in float`;
    const parts = [c.layerWeightBits[name] !== undefined ? `W${c.layerWeightBits[name]}` : '', c.layerActivationBits[name] !== undefined ? `A${c.layerActivationBits[name]}` : ''];
    return `${name} ${parts.filter(Boolean).join(' ')}`;
  });
}

export async function reportWorkerJob(options: Record<string, unknown>, ctx: JobContext): Promise<{ html: string; markdown: string; layerChoices: string[] }> {
  ctx.onProgress(0, 'loading model');
  const choices = layerChoices(options);
  const loaded = loadForJob(options);
  const sidecar = findSidecar(loaded.path);
  const pre = resolvePreprocess(sidecar, {}).preprocess;
  const pick = (k: string, fallback?: string) => (typeof options[k] === 'string' && options[k] !== '' ? (options[k] as string) : fallback);
  const calibPath = pick('calibrationData', sidecar?.calibration);
  const testPath = pick('testData', sidecar?.test);
  if (!calibPath || !testPath) throw new InputError(`${loaded.path}: the report needs calibration and test data (settings quantInspector.calibrationData / testData or the sidecar)`);
  const count = (v: unknown, d: number) => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : d);
  const bits = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 2 && v <= 16 ? v : 8);
  const method = (pick('method', 'percentile') as CalibrationMethod);
  if (!CALIBRATION_METHODS.includes(method)) throw new InputError(`unknown calibration method '${method}'`);
  const { model, dataset: calib } = openForJob(loaded, calibPath, count(options.calibrationImages, 256), options);
  const data = openForJob(model, testPath, count(options.testImages, 200), options).dataset;
  requireLabels(data, 'report compares accuracies');
  const weightBits = bits(options.weightBits), activationBits = bits(options.activationBits);
  const report = await buildReport(
    model,
    { dataset: calib, preprocess: pre, path: calibPath },
    { dataset: data, preprocess: pre, path: testPath },
    {
      quant: { weightBits, activationBits, perChannel: options.granularity !== 'per-tensor', method, ...choices },
      batchSize: BATCH,
      calibrationLimit: calib.count,
      sweepBits: [],
      comparisons: false,
    },
    (stage, fraction) => ctx.onProgress(fraction, stage),
  );
  const lines = layerChoiceLines(choices);
  const named = { ...report, settings: { ...report.settings, layerChoices: lines } };
  return { html: renderHtml(named), markdown: renderMarkdown(named), layerChoices: lines };
}
