/** The jobs the extension runs off its UI thread. Each takes plain options and returns plain JSON. */
import { loadModel } from '../onnx/load';
import { configureLimits, limitsFromSettings } from '../onnx/limits';
import { InputError } from '../util/errors';
import type { JobKind } from './protocol';
import { quantizeWorkerJob } from './quantize-job';
import { reportWorkerJob } from './report-job';
import { sensitivityWorkerJob } from './sensitivity-job';
import { summarizeModel } from './summary';

export interface JobContext {
  onProgress(fraction: number, message: string): void;
  checkCancelled(): void;
}

function requireString(options: Record<string, unknown>, key: string, job: string): string {
  const v = options[key];
  if (typeof v !== 'string' || v === '') throw new InputError(`${job} job: option '${key}' must be a non-empty string`);
  return v;
}

function limitsOf(options: Record<string, unknown>) {
  const n = (v: unknown) => (typeof v === 'number' ? v : undefined);
  const settings = { maxModelSizeMB: n(options.maxModelSizeMB), maxTensorElements: n(options.maxTensorElements) };
  configureLimits(settings); // graph preparation and kernels read the process-wide limits
  return limitsFromSettings(settings);
}

function summaryJob(options: Record<string, unknown>, ctx: JobContext) {
  const modelPath = requireString(options, 'modelPath', 'summary');
  ctx.onProgress(0, `loading ${modelPath}`);
  const summary = summarizeModel(loadModel(modelPath, limitsOf(options)));
  ctx.onProgress(1, 'loaded');
  return summary;
}

export async function runJob(job: JobKind, options: Record<string, unknown>, ctx: JobContext): Promise<unknown> {
  switch (job) {
    case 'summary':
      return summaryJob(options, ctx);
    case 'quantize':
      return quantizeWorkerJob(options, ctx);
    case 'sensitivity':
      return sensitivityWorkerJob(options, ctx);
    case 'report':
      return reportWorkerJob(options, ctx);
    case 'export':
      if (typeof options.outputPath !== 'string' || !options.outputPath.endsWith('.onnx')) throw new InputError("export job: option 'outputPath' must name an .onnx file");
      return quantizeWorkerJob({ ...options, skipEvaluation: true }, ctx);
  }
}
