/** What eval, quantize and friends share: load a model, find its sidecar, open a data set that fits its input. */
import * as path from 'path';
import type { Model, ValueInfo } from '../graph/ir';
import { loadModel } from '../onnx/load';
import { InputError } from '../util/errors';
import {
  Dataset, Preprocess, Sidecar, checkDatasetFitsInput, checkPreprocess, findSidecar, openDataset, resolvePreprocess,
} from '../data';
import type { CliContext, OptionSpec, ParsedArgs } from './command';
import { flagOption, numberListOption, numberOption, scaleOption, stringOption } from './options';
import { fitImageShape, imageInput, imageModel, parseImageShape } from '../graph/input-shape';

/** `--input-shape C,H,W`: the image size of a model whose input leaves it symbolic. */
export const INPUT_SHAPE_OPTION: Record<string, OptionSpec> = {
  'input-shape': { type: 'string', valueName: 'C,H,W', description: 'image size of a model whose input height/width (or channels) are symbolic (default: the sidecar\'s "inputShape", else the data set\'s image size)' },
};

/** Options for commands that read a data set; spread into a command's `options`. */
export const DATA_OPTIONS: Record<string, OptionSpec> = {
  data: { type: 'string', valueName: 'PATH', description: "data set: CIFAR-10 .bin[.gz], IDX *-images-idx3-ubyte[.gz], or a folder of class folders (default: the sidecar's \"test\")" },
  mean: { type: 'string', valueName: 'a,b,c', description: 'per-channel mean after scaling (default: sidecar, else 0)' },
  std: { type: 'string', valueName: 'a,b,c', description: 'per-channel std after scaling (default: sidecar, else 1)' },
  scale: { type: 'string', valueName: 'S', description: 'pixel scale before mean/std, e.g. 1/255 (default: sidecar, else 1/255)' },
  limit: { type: 'string', valueName: 'N', description: 'use only the first N images' },
  batch: { type: 'string', valueName: 'N', description: 'images per batch (default 50)' },
  resize: { type: 'boolean', description: "resize the images (any data format) to the model's input size (bilinear); otherwise a different size is an error" },
  ...INPUT_SHAPE_OPTION,
};

export const DEFAULT_BATCH = 50;

/** The model as the engines need it: image size fixed (--input-shape, else the sidecar) and NCHW in front. */
export function modelForImages(model: Model, args: ParsedArgs | undefined, sidecar: Sidecar | undefined): Model {
  const flag = args && stringOption(args, 'input-shape');
  if (flag) return imageModel(model, { chw: parseImageShape(flag, '--input-shape'), source: '--input-shape' });
  return imageModel(model, sidecar?.inputShape && { chw: sidecar.inputShape, source: sidecar.file });
}

/** Fixes the input's symbolic [C,H,W] from the images themselves when nothing else did. */
function fitToData(loaded: LoadedModel, dataset: Dataset): void {
  loaded.model = fitImageShape(loaded.model, [dataset.channels, dataset.height, dataset.width], dataset.source);
  loaded.input = modelInput(loaded.model);
}

const WARNED = new WeakSet<CliContext>();

export interface ModelData {
  model: Model;
  input: ValueInfo;
  sidecar?: Sidecar;
  dataset: Dataset;
  preprocess: Preprocess;
  batchSize: number;
}

export const modelInput = imageInput;

export interface LoadedModel {
  model: Model;
  input: ValueInfo;
  sidecar?: Sidecar;
}

export interface OpenedData {
  dataset: Dataset;
  preprocess: Preprocess;
  batchSize: number;
}

/** Option for commands that calibrate; spread into a command's `options` next to DATA_OPTIONS. */
export const CALIBRATION_OPTION: Record<string, OptionSpec> = {
  calibration: { type: 'string', valueName: 'PATH', description: 'calibration images, same formats as --data (default: the sidecar\'s "calibration")' },
};

/** Loads MODEL and its sidecar; --input-shape (in `args`) or the sidecar's inputShape fixes a symbolic image size. */
export function loadModelWithSidecar(modelPath: string, args?: ParsedArgs): LoadedModel {
  const sidecar = findSidecar(modelPath);
  const model = modelForImages(loadModel(modelPath), args, sidecar);
  return { model, input: modelInput(model), sidecar };
}

/** Opens the data named by --data / --calibration (or the sidecar's `role` entry), checked against the model's input. */
export function openDataFor(loaded: LoadedModel, args: ParsedArgs, ctx: CliContext, role: 'test' | 'calibration' = 'test'): OpenedData {
  const { model, input, sidecar } = loaded;
  const flag = role === 'test' ? 'data' : 'calibration';
  const dataPath = stringOption(args, flag) ?? sidecar?.[role];
  if (!dataPath) {
    throw new InputError(`${model.path}: no data set given; pass --${flag} PATH (or add "${role}" to ${path.basename(model.path).replace(/\.onnx$/i, '')}.qinspect.json)`);
  }
  const limit = numberOption(args, 'limit', { integer: true, min: 1 });
  const batchSize = numberOption(args, 'batch', { integer: true, min: 1, max: 4096 }) ?? DEFAULT_BATCH;
  const channels = typeof input.dims?.[1] === 'number' ? input.dims[1] : undefined;
  const resize = flagOption(args, 'resize') ? modelImageSize(input) : undefined;
  const dataset = openDataset(dataPath, { limit, channels, resize, classNames: sidecar?.labels });
  fitToData(loaded, dataset);
  checkDatasetFitsInput(dataset, loaded.input.dims, model.path);
  const resolved = resolvePreprocess(sidecar, { mean: numberListOption(args, 'mean'), std: numberListOption(args, 'std'), scale: scaleOption(args, 'scale') });
  if (resolved.warning && !WARNED.has(ctx)) {
    WARNED.add(ctx); // calibration and test data share the preprocessing: warn once per run
    ctx.err(resolved.warning);
  }
  const preprocess = checkPreprocess(resolved.preprocess, dataset.channels, `preprocessing from ${resolved.source}`);
  return { dataset, preprocess, batchSize };
}

/** The model's fixed [H,W] for --resize. */
function modelImageSize(input: ValueInfo): { height: number; width: number } {
  const [height, width] = input.dims?.slice(2) ?? [];
  if (typeof height !== 'number' || typeof width !== 'number') {
    throw new InputError(`--resize needs a model input with a fixed height and width, but '${input.name}' has shape [${input.dims?.join(',') ?? '?'}]`);
  }
  return { height, width };
}

/** Loads MODEL and opens its test (or calibration) data in one step. */
export function loadModelAndData(modelPath: string, args: ParsedArgs, ctx: CliContext, role: 'test' | 'calibration' = 'test'): ModelData {
  const loaded = loadModelWithSidecar(modelPath, args);
  const data = openDataFor(loaded, args, ctx, role);
  return { ...loaded, ...data };
}
