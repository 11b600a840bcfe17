/** `qinspect sensitivity MODEL --calib PATH --data PATH`: which layers cost the most at low bits, a bit sweep, mixed precision. */
import { FloatModel } from '../../engine/float-engine';
import { listLayers } from '../../graph/layers';
import { CALIBRATION_METHODS, type CalibrationMethod } from '../../quant/observers';
import { WEIGHT_METHODS, type WeightMethod } from '../../quant/weights';
import { sensitivityStudy, type DataSource, type StudyOptions, type StudyResult } from '../../inspect/study';
import { InputError, requireLabels } from '../../util/errors';
import type { CliContext, Command, OptionSpec, ParsedArgs } from '../command';
import { CALIBRATION_OPTION, DATA_OPTIONS, loadModelWithSidecar, openDataFor, type LoadedModel } from '../model-data';
import { flagOption, numberOption, stringOption } from '../options';

export const QUANT_STUDY_OPTIONS: Record<string, OptionSpec> = {
  ...DATA_OPTIONS,
  ...CALIBRATION_OPTION,
  calib: { type: 'string', valueName: 'PATH', description: 'same as --calibration' },
  'calib-limit': { type: 'string', valueName: 'N', description: 'calibration images to use (default 500)' },
  bits: { type: 'string', valueName: 'N', description: 'weight and activation bits (default: 4 for sensitivity, 8 for report)' },
  wbits: { type: 'string', valueName: 'N', description: 'weight bits (overrides --bits)' },
  abits: { type: 'string', valueName: 'N', description: 'activation bits (overrides --bits)' },
  granularity: { type: 'string', valueName: 'per-channel|per-tensor', description: 'weight scales (default per-channel)' },
  method: { type: 'string', valueName: CALIBRATION_METHODS.join('|'), description: 'activation calibration (default percentile)' },
  'weight-method': { type: 'string', valueName: 'minmax|sigma3|mse|cosine', description: 'weight clipping cost function (default mse)' },
};

export interface StudyInputs {
  loaded: LoadedModel;
  calib: DataSource;
  data: DataSource;
  bits: { weightBits: number; activationBits: number };
  settings: StudyOptions['settings'];
}

function withValues(args: ParsedArgs, values: Record<string, string | boolean | undefined>): ParsedArgs {
  return { positionals: args.positionals, values: { ...args.values, ...values } };
}

/** Model, calibration and evaluation data, bit widths and quantization settings shared by `sensitivity` and `report`. */
export function readStudyInputs(args: ParsedArgs, ctx: CliContext, defaults: { bits: number; evalLimit: number }): StudyInputs {
  const loaded = loadModelWithSidecar(args.positionals[0], args);
  const calibPath = stringOption(args, 'calib') ?? stringOption(args, 'calibration');
  const calibLimit = numberOption(args, 'calib-limit', { integer: true, min: 1 }) ?? 500;
  const evalLimit = numberOption(args, 'limit', { integer: true, min: 1 }) ?? defaults.evalLimit;
  const warned = new Set<string>();
  const once: CliContext = { ...ctx, err: (line) => { if (!warned.has(line)) { warned.add(line); ctx.err(line); } } }; // both splits warn alike
  const calib = openDataFor(loaded, withValues(args, { calibration: calibPath, limit: String(calibLimit) }), once, 'calibration');
  const data = openDataFor(loaded, withValues(args, { limit: String(evalLimit) }), once, 'test');
  requireLabels(data.dataset, 'ranks layers by the accuracy they cost');
  const bits = numberOption(args, 'bits', { integer: true, min: 2, max: 16 }) ?? defaults.bits;
  const weightBits = numberOption(args, 'wbits', { integer: true, min: 2, max: 16 }) ?? bits;
  const activationBits = numberOption(args, 'abits', { integer: true, min: 2, max: 16 }) ?? bits;
  const granularity = stringOption(args, 'granularity') ?? 'per-channel';
  if (granularity !== 'per-channel' && granularity !== 'per-tensor') throw new InputError(`--granularity must be per-channel or per-tensor, got '${granularity}'`);
  const method = (stringOption(args, 'method') ?? 'percentile') as CalibrationMethod;
  if (!CALIBRATION_METHODS.includes(method)) throw new InputError(`--method must be one of ${CALIBRATION_METHODS.join(', ')}, got '${method}'`);
  const weightMethod = (stringOption(args, 'weight-method') ?? 'mse') as WeightMethod;
  if (!WEIGHT_METHODS.includes(weightMethod) || weightMethod === 'output') throw new InputError(`--weight-method must be one of minmax, sigma3, mse, cosine, got '${weightMethod}'`);
  return { loaded, calib, data, bits: { weightBits, activationBits }, settings: { perChannel: granularity === 'per-channel', weightMethod, calibration: method } };
}

function parseSweep(text: string | undefined): number[] {
  if (text === undefined) return [2, 3, 4, 5, 6, 7, 8];
  const bits = text.split(',').map((s) => Number(s.trim()));
  if (bits.length === 0 || bits.some((b) => !Number.isInteger(b) || b < 2 || b > 16)) throw new InputError(`--sweep must be comma-separated bit widths from 2 to 16, got '${text}'`);
  return bits;
}

const short = (name: string) => name.replace(/^\//, '').replace(/\/(Conv|Gemm|MatMul)$/, '');
const pct = (v: number) => `${v.toFixed(2)}%`;

export function formatStudy(r: StudyResult, bits: { weightBits: number; activationBits: number }): string[] {
  const lines = [`float top-1 ${pct(r.float.accuracy)} on ${r.evaluationImages} images (calibration: ${r.calibrationImages} images)`, '',
    `layers ranked by the accuracy they cost at W${bits.weightBits}A${bits.activationBits} (others float):`,
    `${'rank'.padStart(4)}  ${'layer'.padEnd(42)} ${'alone'.padStart(8)} ${'cost'.padStart(7)} ${'SQNR dB'.padStart(8)} ${'all-but'.padStart(8)} ${'gain'.padStart(6)}`];
  for (const e of r.ranking) {
    lines.push(`${String(e.rank).padStart(4)}  ${short(e.layer).padEnd(42)} ${pct(e.alone.accuracy).padStart(8)} ${e.aloneCost.toFixed(2).padStart(7)} ${e.alone.logitSqnrDb.toFixed(1).padStart(8)} ${(e.allBut ? pct(e.allBut.accuracy) : '').padStart(8)} ${(e.allButGain !== undefined ? e.allButGain.toFixed(2) : '').padStart(6)}`);
  }
  lines.push('', 'bit sweep (whole model):');
  for (const p of r.sweep) lines.push(`  W${p.weightBits}A${p.activationBits}  top-1 ${pct(p.evaluation.accuracy).padStart(7)}  agreement ${pct(p.evaluation.agreement).padStart(7)}  logit SQNR ${p.evaluation.logitSqnrDb.toFixed(1)} dB`);
  if (r.mixed) {
    const m = r.mixed;
    lines.push('', `mixed precision: ${m.highBitLayers.map(short).join(', ')} at W${m.highBits.weightBits}A${m.highBits.activationBits}, the rest at W${m.lowBits.weightBits}A${m.lowBits.activationBits}: top-1 ${pct(m.mixed.accuracy)} (all low: ${pct(m.low.accuracy)}, float ${pct(r.float.accuracy)}) — recovers ${(m.recoveredShare * 100).toFixed(0)}% of the lost accuracy`);
  }
  lines.push('', `time: ${Object.entries(r.timings).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ')}`);
  return lines;
}

export function studyJson(r: StudyResult) {
  const ev = (e: { accuracy: number; agreement: number; logitSqnrDb: number }) => ({ accuracy: e.accuracy, agreement: e.agreement, logitSqnrDb: Number.isFinite(e.logitSqnrDb) ? e.logitSqnrDb : null });
  return {
    float: ev(r.float), calibrationImages: r.calibrationImages, evaluationImages: r.evaluationImages,
    ranking: r.ranking.map((e) => ({ rank: e.rank, layer: e.layer, alone: ev(e.alone), aloneCost: e.aloneCost, allBut: e.allBut ? ev(e.allBut) : undefined, allButGain: e.allButGain })),
    sweep: r.sweep.map((p) => ({ weightBits: p.weightBits, activationBits: p.activationBits, ...ev(p.evaluation) })),
    mixed: r.mixed ? { highBitLayers: r.mixed.highBitLayers, highBits: r.mixed.highBits, lowBits: r.mixed.lowBits, low: ev(r.mixed.low), mixed: ev(r.mixed.mixed), recoveredShare: r.mixed.recoveredShare } : undefined,
    timings: r.timings,
  };
}

export const sensitivityCommand: Command = {
  name: 'sensitivity',
  summary: 'rank layers by the accuracy they cost when quantized alone, sweep bit widths, try mixed precision',
  usage: 'MODEL --calib PATH --data PATH [--bits N] [--limit N] [--keep N] [--json]',
  positionals: ['MODEL'],
  options: {
    ...QUANT_STUDY_OPTIONS,
    keep: { type: 'string', valueName: 'N', description: 'costliest layers the mixed-precision plan keeps at --high-bits (default 3; 0 skips it)' },
    'high-bits': { type: 'string', valueName: 'N', description: 'bits of the kept layers (default 8)' },
    sweep: { type: 'string', valueName: 'b,b,...', description: 'bit widths of the whole-model sweep (default 2,3,4,5,6,7,8)' },
    'alone-only': { type: 'boolean', description: 'skip the all-but-one pass (about half the time)' },
  },
  details: [
    'Quantization is simulated (quantize/dequantize round trips with the calibrated scales) so any mix of',
    'float and quantized layers runs; the float prefix before the first quantized layer is computed once per batch.',
    'Defaults: W4A4, 300 evaluation images (--limit), 500 calibration images (--calib-limit).',
    '',
    'example:',
    '  qinspect sensitivity resnet20_cifar10.onnx --calib train_first4000.bin --data test_batch_first1000_lossless.bin --bits 4',
  ].join('\n'),
  async run(args, ctx) {
    const inputs = readStudyInputs(args, ctx, { bits: 4, evalLimit: 300 });
    const keep = numberOption(args, 'keep', { integer: true, min: 0 }) ?? 3;
    const high = numberOption(args, 'high-bits', { integer: true, min: 2, max: 16 }) ?? 8;
    const model = new FloatModel(inputs.loaded.model);
    const layers = listLayers(model.getPrepared(Math.min(inputs.data.batchSize, inputs.data.dataset.count)));
    if (layers.length === 0) throw new InputError(`${inputs.loaded.model.path}: no conv or linear layers to analyse`);
    const bars = new Map<string, ReturnType<CliContext['progress']>>();
    const result = await sensitivityStudy(model, layers, inputs.calib, inputs.data, {
      bits: inputs.bits, keep: Math.min(keep, layers.length), highBits: { weightBits: high, activationBits: high }, sweepBits: parseSweep(stringOption(args, 'sweep')),
      allButOne: !flagOption(args, 'alone-only'), settings: inputs.settings,
    }, (stage, done, total) => {
      let bar = bars.get(stage);
      if (!bar) bars.set(stage, (bar = ctx.progress(stage, total)));
      bar.update(done);
      if (done >= total) bar.done();
    });
    if (ctx.json) ctx.out(JSON.stringify(studyJson(result)));
    else for (const line of formatStudy(result, inputs.bits)) ctx.out(line);
  },
};
