/** The jobs the extension runs off its UI thread. Each takes plain options and returns plain JSON. */
import { loadModel } from '../onnx/load';
import { configureLimits, limitsFromSettings } from '../onnx/limits';
import { InputError } from '../util/errors';
import type { JobKind } from './protocol';
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

/** Jobs whose engine is not part of this build yet answer with a clear message instead of a wrong number. */
function notAvailable(what: string): never {
  throw new InputError(`${what} is not available in this build yet (the quantization pipeline src/pipeline/quantize.ts is missing)`);
}

export async function runJob(job: JobKind, options: Record<string, unknown>, ctx: JobContext): Promise<unknown> {
  switch (job) {
    case 'summary':
      return summaryJob(options, ctx);
    case 'quantize':
      return notAvailable('Quantization');
    case 'sensitivity':
      return notAvailable('Sensitivity analysis');
    case 'export':
      return notAvailable('Export of the quantized model');
  }
}
