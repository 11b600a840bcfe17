/** `qinspect quantize MODEL --calib PATH --data PATH`: post-training quantization, float vs integer accuracy, per-layer report. */
import { CALIBRATION_METHODS, CalibrationMethod } from '../../quant/observers';
import { WEIGHT_METHODS, WeightMethod } from '../../quant/weights';
import type { QuantOptions } from '../../engine/int-plan';
import { DEFAULT_CALIBRATION_IMAGES, QuantizeResult, quantizeJob } from '../../pipeline/quantize';
import { InputError } from '../../util/errors';
import type { CliContext, Command, ParsedArgs } from '../command';
import { DATA_OPTIONS, loadModelWithSidecar, openDataFor } from '../model-data';
import { flagOption, numberOption, stringOption } from '../options';

function oneOf<T extends string>(args: ParsedArgs, name: string, allowed: readonly T[]): T | undefined {
  const v = stringOption(args, name);
  if (v === undefined) return undefined;
  if (!allowed.includes(v as T)) throw new InputError(`--${name} ${v}: expected one of ${allowed.join(', ')}`);
  return v as T;
}

/** `a=4,b=6` → { a: 4, b: 6 } (layer names may contain '/' and '.'). */
export function parseLayerBits(text: string | undefined, flag: string): Record<string, number> {
  const out: Record<string, number> = {};
  if (!text) return out;
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.lastIndexOf('=');
    const bits = Number(part.slice(eq + 1));
    if (eq <= 0 || !Number.isInteger(bits)) throw new InputError(`--${flag} '${part}': expected NAME=BITS, e.g. /conv1/Conv=4`);
    out[part.slice(0, eq)] = bits;
  }
  return out;
}

/** Reads the quantization options of the command line. */
export function quantOptionsFrom(args: ParsedArgs): Partial<QuantOptions> {
  const bits = numberOption(args, 'bits', { integer: true, min: 2, max: 16 });
  const q: Partial<QuantOptions> = {};
  const wbits = numberOption(args, 'wbits', { integer: true, min: 2, max: 16 }) ?? bits;
  const abits = numberOption(args, 'abits', { integer: true, min: 2, max: 16 }) ?? bits;
  if (wbits !== undefined) q.weightBits = wbits;
  if (abits !== undefined) q.activationBits = abits;
  const g = oneOf(args, 'granularity', ['per-channel', 'per-tensor'] as const);
  if (g) q.perChannel = g === 'per-channel';
  const method = oneOf<CalibrationMethod>(args, 'method', CALIBRATION_METHODS);
  if (method) q.method = method;
  const percentile = numberOption(args, 'percentile', { min: 50, max: 100 });
  if (percentile !== undefined) q.percentile = percentile;
  const wm = oneOf<WeightMethod>(args, 'weight-method', WEIGHT_METHODS);
  if (wm) q.weightMethod = wm;
  if (flagOption(args, 'bias-correction') && flagOption(args, 'no-bias-correction')) throw new InputError('--bias-correction and --no-bias-correction contradict each other');
  if (flagOption(args, 'bias-correction')) q.biasCorrection = true;
  if (flagOption(args, 'no-bias-correction')) q.biasCorrection = false;
  if (flagOption(args, 'quantize-after-activation')) q.quantizeAfterActivation = true;
  if (flagOption(args, 'quantize-output')) q.quantizeOutput = true;
  const floats = stringOption(args, 'float-layers');
  if (floats) q.floatLayers = floats.split(',').map((s) => s.trim()).filter(Boolean);
  q.layerWeightBits = parseLayerBits(stringOption(args, 'layer-bits'), 'layer-bits');
  q.layerActivationBits = parseLayerBits(stringOption(args, 'layer-abits'), 'layer-abits');
  return q;
}

function fmt(v: number | null, digits = 2): string {
  return v === null ? 'n/a' : Number.isFinite(v) ? v.toFixed(digits) : String(v);
}

export function formatQuantize(r: QuantizeResult): string[] {
  const o = r.options;
  const lines = [
    `model        ${r.model}`,
    `scheme       W${o.weightBits}A${o.activationBits}, ${o.perChannel ? 'per-channel' : 'per-tensor'} weights (${o.weightMethod}), activations ${o.method}${o.biasCorrection ? ', bias correction' : ''}${o.quantizeAfterActivation ? ', quantized after activations too' : ''}`,
    `calibration  ${r.calibrationImages} images${r.calibrationReused ? ' (statistics of the previous run on these images reused)' : ''}`,
    ...(r.labelled ? [
      `fp32 top-1   ${fmt(r.fp32.accuracy)}% (${r.images} images)`,
      `int  top-1   ${fmt(r.quantized.accuracy)}%  (drop ${r.fp32.accuracy !== null && r.quantized.accuracy !== null ? (r.fp32.accuracy - r.quantized.accuracy).toFixed(2) : 'n/a'} points)`,
    ] : [`top-1        accuracy unavailable: the ${r.images} test images have no labels`]),
    `agreement    ${fmt(r.quantized.agreement)}% of images keep the float model's top-1`,
    `logit SQNR   ${fmt(r.logitSqnrDb, 1)} dB${r.softmax ? ` (logits before the final ${r.softmax})` : ''}`,
    '',
    'layer                                            op    W  A   in scale   out scale  zp   W SQNR  out SQNR  max |acc|',
  ];
  for (const l of r.layers) {
    lines.push(`${l.name.padEnd(48)} ${l.op.padEnd(5)} ${String(l.weightBits).padStart(2)} ${String(l.activationBits).padStart(2)}  ${l.inputScale.toExponential(2)}  ${l.outputScale.toExponential(2)} ${String(l.outputZeroPoint).padStart(3)}  ${fmt(l.weightSqnrDb, 1).padStart(6)}  ${fmt(l.outputSqnrDb, 1).padStart(8)}  ${String(l.maxAccumulator).padStart(9)}`);
  }
  if (r.floatLayers.length) lines.push('', `kept in float: ${r.floatLayers.join(', ')}`);
  if (r.floatNodes.length) {
    lines.push('', `ran in float (${r.floatNodes.length} node${r.floatNodes.length > 1 ? 's' : ''} where codes are dequantized):`);
    for (const f of r.floatNodes) lines.push(`  ${f.name.padEnd(46)} ${f.op.padEnd(18)} ${f.reason}`);
  }
  if (r.exported) lines.push('', `exported     ${r.exported} (ONNX QDQ)`);
  return lines;
}

export const quantizeCommand: Command = {
  name: 'quantize',
  summary: 'post-training quantization to N bits: integer engine accuracy vs float, per-layer scales and errors, QDQ export',
  usage: 'MODEL --calib PATH --data PATH [--bits N | --wbits N --abits N] [--granularity per-channel|per-tensor] [--method M] [--export OUT.onnx] [--json]',
  positionals: ['MODEL'],
  options: {
    ...DATA_OPTIONS,
    calib: { type: 'string', valueName: 'PATH', description: "calibration images (never the test set; default: the sidecar's \"calibration\")" },
    'calib-limit': { type: 'string', valueName: 'N', description: `calibration images used (default ${DEFAULT_CALIBRATION_IMAGES})` },
    bits: { type: 'string', valueName: 'N', description: 'weight and activation bits, 2..16 (default 8)' },
    wbits: { type: 'string', valueName: 'N', description: 'weight bits (overrides --bits)' },
    abits: { type: 'string', valueName: 'N', description: 'activation bits (overrides --bits)' },
    granularity: { type: 'string', valueName: 'G', description: 'weight scales per-channel (default) or per-tensor' },
    method: { type: 'string', valueName: 'M', description: `activation calibration: ${CALIBRATION_METHODS.join('|')} (default percentile)` },
    percentile: { type: 'string', valueName: 'P', description: 'percentile of --method percentile (default 99.999)' },
    'weight-method': { type: 'string', valueName: 'M', description: `weight clipping: ${WEIGHT_METHODS.join('|')} (default minmax)` },
    'bias-correction': { type: 'boolean', description: 'bias correction on calibration data: per-channel weight gain restored, biases corrected layer by layer so each mean output matches the float model (the default)' },
    'no-bias-correction': { type: 'boolean', description: 'turn bias correction off' },
    'float-layers': { type: 'string', valueName: 'a,b', description: 'conv/linear layers kept in float (names as in `qinspect layers`)' },
    'layer-bits': { type: 'string', valueName: 'name=N,...', description: 'weight bits per layer (mixed precision)' },
    'layer-abits': { type: 'string', valueName: 'name=N,...', description: 'output activation bits per layer' },
    'quantize-after-activation': { type: 'boolean', description: 'quantize at the conv output and again after its activation' },
    'quantize-output': { type: 'boolean', description: 'requantize the logits too (default: int32 accumulators)' },
    export: { type: 'string', valueName: 'OUT.onnx', description: 'write the quantized model as ONNX QDQ' },
  },
  details: [
    'examples:',
    '  qinspect quantize resnet20_cifar10.onnx --calib train_first4000.bin --data test_batch_jpeg10k.bin.gz',
    '  qinspect quantize model.onnx --calib calib1000-images-idx3-ubyte.gz --data t10k-images-idx3-ubyte.gz \\',
    '      --mean 0.2860 --std 0.3530 --wbits 4 --abits 8 --weight-method mse --bias-correction --json',
  ].join('\n'),
  async run(args, ctx: CliContext) {
    const quant = quantOptionsFrom(args);
    const loaded = loadModelWithSidecar(args.positionals[0], args);
    const calibArgs: ParsedArgs = { positionals: args.positionals, values: { ...args.values, calibration: args.values.calib ?? args.values.calibration, limit: undefined } };
    const calibration = openDataFor(loaded, calibArgs, ctx, 'calibration');
    const evaluation = openDataFor(loaded, args, ctx, 'test');
    const calibLimit = numberOption(args, 'calib-limit', { integer: true, min: 1 });
    const progress = ctx.progress('quantize', 1000);
    const result = await quantizeJob({
      model: loaded.model,
      calibration: { dataset: calibration.dataset, preprocess: calibration.preprocess },
      evaluation: { dataset: evaluation.dataset, preprocess: evaluation.preprocess },
      quant,
      batchSize: evaluation.batchSize,
      calibrationLimit: calibLimit ?? DEFAULT_CALIBRATION_IMAGES,
      exportPath: stringOption(args, 'export'),
      // a single command keeps nothing for a next run (its float side can take hundreds of MB)
      ...(ctx.moreRunsFollow ? { keepPool: true } : { referenceBudgetBytes: 0 }),
    }, { onProgress: (f) => progress.update(Math.round(f * 1000)) });
    progress.done();
    if (ctx.json) ctx.out(JSON.stringify(result));
    else for (const line of formatQuantize(result)) ctx.out(line);
  },
};
