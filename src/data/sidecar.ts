/** Preprocessing settings stored beside a model: `<model>.qinspect.json` (mean, std, scale, labels, calibration and test data). */
import * as fs from 'fs';
import * as path from 'path';
import { InputError, errorMessage } from '../util/errors';
import { PLAIN_SCALING } from './preprocess';
import type { Preprocess } from './types';

export interface Sidecar {
  file: string;
  mean?: number[];
  std?: number[];
  scale?: number;
  labels?: string[];
  /** The model input's [C,H,W] where the file leaves it symbolic. */
  inputShape?: number[];
  /** Absolute paths, resolved against the sidecar's folder. */
  calibration?: string;
  test?: string;
}

/** Candidate sidecar paths for a model: `name.qinspect.json` and `name.onnx.qinspect.json`. */
export function sidecarPaths(modelPath: string): string[] {
  const dir = path.dirname(modelPath);
  const base = path.basename(modelPath);
  const stem = base.replace(/\.onnx$/i, '');
  return [...new Set([path.join(dir, `${stem}.qinspect.json`), path.join(dir, `${base}.qinspect.json`)])];
}

export function findSidecar(modelPath: string): Sidecar | undefined {
  const file = sidecarPaths(modelPath).find((f) => fs.existsSync(f));
  return file ? readSidecar(file) : undefined;
}

const MAX_SIDECAR_BYTES = 1024 * 1024;

export function readSidecar(file: string): Sidecar {
  let json: unknown;
  try {
    const stat = fs.statSync(file); // a FIFO would block the read forever, a huge file exhaust memory
    if (!stat.isFile()) throw new Error('not a regular file');
    if (stat.size > MAX_SIDECAR_BYTES) throw new Error(`${stat.size} bytes, over the ${MAX_SIDECAR_BYTES}-byte limit for a sidecar`);
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(`${file}: not a readable JSON sidecar (${errorMessage(e)})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InputError(`${file}: the sidecar must be a JSON object`);
  const o = json as Record<string, unknown>;
  const numbers = (key: string): number[] | undefined => {
    const v = o[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
      throw new InputError(`${file}: "${key}" must be a non-empty array of numbers`);
    }
    return v as number[];
  };
  const text = (key: string): string | undefined => {
    const v = o[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v === '') throw new InputError(`${file}: "${key}" must be a non-empty string`);
    return v;
  };
  const scale = o.scale;
  if (scale !== undefined && (typeof scale !== 'number' || !Number.isFinite(scale) || scale === 0)) {
    throw new InputError(`${file}: "scale" must be a non-zero number (e.g. 0.00392156862745098 for 1/255)`);
  }
  const labels = o.labels;
  if (labels !== undefined && (!Array.isArray(labels) || labels.some((l) => typeof l !== 'string'))) {
    throw new InputError(`${file}: "labels" must be an array of class names`);
  }
  const inputShape = numbers('inputShape');
  if (inputShape && (inputShape.length !== 3 || inputShape.some((d) => !Number.isInteger(d) || d < 1))) {
    throw new InputError(`${file}: "inputShape" must be [C,H,W], three positive whole numbers (e.g. [3,224,224])`);
  }
  const dir = path.dirname(file);
  const resolve = (p: string | undefined) => (p === undefined ? undefined : path.resolve(dir, p));
  return {
    file,
    mean: numbers('mean'),
    std: numbers('std'),
    scale: scale as number | undefined,
    labels: labels as string[] | undefined,
    inputShape,
    calibration: resolve(text('calibration')),
    test: resolve(text('test')),
  };
}

export interface ResolvedPreprocess {
  preprocess: Preprocess;
  /** Where the numbers came from, for messages. */
  source: string;
  /** Set when nothing told us the normalisation and plain x/255 is used. */
  warning?: string;
}

/** Command-line values win over the sidecar; without either, x/255 only, with a warning. */
export function resolvePreprocess(sidecar: Sidecar | undefined, cli: { mean?: number[]; std?: number[]; scale?: number }): ResolvedPreprocess {
  const mean = cli.mean ?? sidecar?.mean;
  const std = cli.std ?? sidecar?.std;
  const scale = cli.scale ?? sidecar?.scale ?? PLAIN_SCALING.scale;
  const preprocess = { scale, mean: mean ?? PLAIN_SCALING.mean, std: std ?? PLAIN_SCALING.std };
  if (!mean && !std) {
    return {
      preprocess,
      source: 'default',
      warning: 'warning: no --mean/--std and no <model>.qinspect.json sidecar: using x/255 without mean/std normalisation',
    };
  }
  const source = cli.mean || cli.std ? (sidecar ? `command line + ${sidecar.file}` : 'command line') : sidecar!.file;
  return { preprocess, source };
}
