/** The worker's report job: the full layer report of src/inspect (HTML + Markdown) at the run's settings. */
import { findSidecar, resolvePreprocess } from '../data';
import { buildReport } from '../inspect/build-report';
import { renderHtml, renderMarkdown } from '../inspect/report';
import { CALIBRATION_METHODS, type CalibrationMethod } from '../quant/observers';
import { InputError, requireLabels } from '../util/errors';
import { loadForJob, openForJob, type JobContext } from './quantize-job';

const BATCH = 50;

export async function reportWorkerJob(options: Record<string, unknown>, ctx: JobContext): Promise<{ html: string; markdown: string }> {
  ctx.onProgress(0, 'loading model');
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
  const { model, dataset: calib } = openForJob(loaded, calibPath, count(options.calibrationImages, 256));
  const data = openForJob(model, testPath, count(options.testImages, 200)).dataset;
  requireLabels(data, 'report compares accuracies');
  const report = await buildReport(
    model,
    { dataset: calib, preprocess: pre, path: calibPath },
    { dataset: data, preprocess: pre, path: testPath },
    {
      quant: { weightBits: bits(options.weightBits), activationBits: bits(options.activationBits), perChannel: options.granularity !== 'per-tensor', method },
      batchSize: BATCH,
      calibrationLimit: calib.count,
      sweepBits: [],
      comparisons: false,
    },
    (stage, fraction) => ctx.onProgress(fraction, stage),
  );
  return { html: renderHtml(report), markdown: renderMarkdown(report) };
}
