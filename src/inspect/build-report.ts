/** Gathers every number of the report from the real engines: calibrate once, build integer plans per variant, inspect, compare. */
import type { Dataset, Preprocess } from '../data';
import { FloatModel } from '../engine/float-engine';
import { buildIntModel } from '../engine/bias-correction';
import { buildQuantPlan, DEFAULT_QUANT_OPTIONS, checkQuantOptions, type QuantLayer, type QuantOptions, type QuantPlan } from '../engine/int-plan';
import type { LayerInfo, PreparedModel } from '../engine/types';
import type { Model } from '../graph/ir';
import { listLayers } from '../graph/layers';
import { calibrateModel } from '../pipeline/quantize';
import { CALIBRATION_METHODS } from '../quant/observers';
import { multiplierValue } from '../quant/requantize';
import { WEIGHT_METHODS } from '../quant/weights';
import { InputError } from '../util/errors';
import { layerDataflow, type LayerDataflow } from './dataflow';
import { evaluateIntModel, inspectIntModel, layerSegment, type IntInspection } from './int-inspect';
import { rmseOverScale } from './metrics';
import type { LayerReportRow, MethodComparison, ReportData } from './report';
import type { Evaluation, SweepPoint } from './sensitivity';
import { sensitivityStudy, type StudyOptions } from './study';
import { analyzeWeights, layerKind, weightSqnrByBits } from './weights';
import { floatLayerPass } from './collect';
import type { QuantizedWeights } from '../quant/weights';

export interface ReportOptions {
  quant: Partial<QuantOptions>;
  batchSize: number;
  calibrationLimit: number;
  sweepBits: number[];
  /** Compare weight cost functions, calibration methods, granularity and activation placement (one evaluation each). */
  comparisons: boolean;
  /** Run the sensitivity study (simulated quantization) at these settings too. */
  sensitivity?: Omit<StudyOptions, 'settings'>;
  /** The layer whose dataflow is explained; default: the conv layer with the most accumulation terms. */
  dataflowLayer?: string;
}

export interface DataSplitInput {
  dataset: Dataset;
  preprocess: Preprocess;
  path: string;
}

export type ReportProgress = (stage: string, fraction: number) => void;

function activationName(prepared: PreparedModel, plan: QuantPlan, layer: QuantLayer): { kind: string; lo: number; hi: number } | undefined {
  const seg = layerSegment(prepared, plan, layer);
  if (seg.length < 2) return undefined;
  const mode = plan.modes.get(seg[1].name);
  if (mode?.kind !== 'clamp') return undefined;
  const clip = seg[1].opType === 'Clip' ? 'ReLU6 (Clip)' : 'ReLU';
  return { kind: seg[1].opType === 'Relu' ? 'ReLU' : clip, lo: mode.lo, hi: mode.hi };
}

/** The dataflow of one layer of the plan with the largest accumulator seen on images. */
export function dataflowOf(prepared: PreparedModel, plan: QuantPlan, layer: QuantLayer, maxAccumulatorSeen?: number): LayerDataflow {
  const act = activationName(prepared, plan, layer);
  return layerDataflow({
    name: layer.name, op: layer.op, accumulationTerms: layer.weightCodes.length / layer.outChannels,
    input: { bits: layer.inputParams.bits, scale: layer.inputParams.scale, zeroPoint: layer.inputParams.zeroPoint, qmin: layer.inputParams.qmin, qmax: layer.inputParams.qmax },
    weight: { bits: layer.weightBits, qmin: layer.weights.qmin, qmax: layer.weights.qmax, scales: layer.weights.perChannel ? Array.from(layer.weights.scales) : [layer.weights.scales[0]], codes: layer.weightCodes },
    biasCodes: layer.bias,
    requant: { multipliers: layer.multipliers.map(multiplierValue), m0: layer.multipliers.map((m) => m.multiplier), shift: layer.multipliers.map((m) => m.shift) },
    output: { bits: layer.outputParams.bits, scale: layer.outputParams.scale, zeroPoint: layer.outputParams.zeroPoint, qmin: layer.outputParams.qmin, qmax: layer.outputParams.qmax },
    activation: act ? { kind: act.kind, clampMin: act.lo, clampMax: act.hi } : undefined,
    maxAccumulatorSeen,
  });
}

function pickDataflowLayer(layers: readonly LayerInfo[], plan: QuantPlan, wanted?: string): QuantLayer {
  if (wanted) {
    const hit = plan.layers.filter((l) => l.name === wanted || l.name.includes(wanted));
    if (hit.length !== 1) throw new InputError(`--dataflow-layer '${wanted}' ${hit.length ? `matches ${hit.length} layers` : 'matches no quantized layer'}`);
    return hit[0];
  }
  const convs = plan.layers.filter((l) => l.op === 'Conv' && ['conv', 'pointwise'].includes(layerKind(layers.find((x) => x.name === l.name)!)));
  const pool = convs.length ? convs : plan.layers;
  return pool.reduce((best, l) => (l.weightCodes.length / l.outChannels > best.weightCodes.length / best.outChannels ? l : best), pool[0]);
}

export async function buildReport(model: Model, calib: DataSplitInput, data: DataSplitInput, opts: ReportOptions, progress?: ReportProgress): Promise<ReportData> {
  const timings: Record<string, number> = {};
  const time = async <T>(label: string, f: () => T | Promise<T>): Promise<T> => {
    const t = performance.now();
    const r = await f();
    timings[label] = (timings[label] ?? 0) + (performance.now() - t) / 1000;
    return r;
  };
  const base = checkQuantOptions({ ...DEFAULT_QUANT_OPTIONS, ...opts.quant });
  const floatModel = new FloatModel(model);
  const prepared = floatModel.getPrepared(Math.min(opts.batchSize, calib.dataset.count));
  const layerInfos = listLayers(prepared);
  if (layerInfos.length === 0) throw new InputError(`${model.path}: no conv or linear layers to inspect`);
  progress?.('calibration', 0);
  // one calibration pass serves every variant: keep input samples (output-error weights) and means (bias correction)
  const stats = await time('calibration', () => calibrateModel(floatModel, prepared, calib, { ...base, weightMethod: 'output', biasCorrection: true }, opts.batchSize, opts.calibrationLimit).stats);
  const intModelFor = (o: Partial<QuantOptions>) => buildIntModel(prepared, stats, checkQuantOptions({ ...base, ...o }));
  // where only a variant's weights are read: the plan alone (the sequential bias pass changes biases, not weights)
  const planFor = (o: Partial<QuantOptions>) => buildQuantPlan(prepared, stats, checkQuantOptions({ ...base, ...o }));
  const mainModel = intModelFor({});
  const mainPlan = mainModel.plan;
  progress?.('inspection', 0.05);
  const main = await time('per-layer inspection', () => inspectIntModel(floatModel, mainModel, data.dataset, data.preprocess, opts.batchSize));
  const floatLogits = new Map<number, Float32Array>();
  const evaluate = (label: string, o: Partial<QuantOptions>) => time(label, () => evaluateIntModel(floatModel, intModelFor(o), data.dataset, data.preprocess, opts.batchSize, floatLogits));
  let otherGranularity: IntInspection | undefined;
  let weightMethods: MethodComparison[] | undefined;
  let calibrationMethods: MethodComparison[] | undefined;
  let placement: ReportData['activationPlacement'];
  if (opts.comparisons) {
    progress?.('granularity', 0.25);
    otherGranularity = await time('per-layer inspection', () => inspectIntModel(floatModel, intModelFor({ perChannel: !base.perChannel }), data.dataset, data.preprocess, opts.batchSize));
    weightMethods = [];
    for (const m of WEIGHT_METHODS) {
      progress?.(`weight cost ${m}`, 0.35 + 0.15 * (weightMethods.length / WEIGHT_METHODS.length));
      const variant = m === base.weightMethod ? mainModel : intModelFor({ weightMethod: m });
      const plan = variant.plan;
      const evaluation = m === base.weightMethod ? main.quantized : await time('method comparisons', () => evaluateIntModel(floatModel, variant, data.dataset, data.preprocess, opts.batchSize, floatLogits));
      weightMethods.push({ method: m, evaluation, meanWeightSqnrDb: plan.layers.reduce((s, l) => s + l.weightSqnrDb, 0) / plan.layers.length });
    }
    calibrationMethods = [];
    for (const m of CALIBRATION_METHODS) {
      progress?.(`calibration ${m}`, 0.5 + 0.15 * (calibrationMethods.length / CALIBRATION_METHODS.length));
      calibrationMethods.push({ method: m, evaluation: m === base.method ? main.quantized : await evaluate('method comparisons', { method: m }) });
    }
    progress?.('activation placement', 0.65);
    placement = { beforeOnly: base.quantizeAfterActivation ? await evaluate('method comparisons', { quantizeAfterActivation: false }) : main.quantized, beforeAndAfter: base.quantizeAfterActivation ? main.quantized : await evaluate('method comparisons', { quantizeAfterActivation: true }) };
  }
  let weightOnly: Map<string, { perTensor: number; perChannel: number }> | undefined;
  if (opts.comparisons) {
    progress?.('weight-only error', 0.68);
    // float activations, quantized weights: the error the weight scales alone cause at each layer's output
    const perChannelPlan = base.perChannel ? mainPlan : planFor({ perChannel: true });
    const perTensorPlan = base.perChannel ? planFor({ perChannel: false }) : mainPlan;
    const variants: Record<string, Map<string, QuantizedWeights>> = {
      'per-tensor': new Map(perTensorPlan.layers.map((l) => [l.name, l.weights])),
      'per-channel': new Map(perChannelPlan.layers.map((l) => [l.name, l.weights])),
    };
    const pass = await time('weight-only pass', () => floatLayerPass(floatModel, layerInfos, data.dataset, data.preprocess, opts.batchSize, variants));
    weightOnly = new Map(pass.layers.map((l) => [l.layer, { perTensor: l.weightOnly['per-tensor']?.sqnrDb ?? NaN, perChannel: l.weightOnly['per-channel']?.sqnrDb ?? NaN }]));
  }
  const sweep: SweepPoint[] = [];
  for (const b of opts.sweepBits) {
    progress?.(`sweep ${b} bits`, 0.7 + (0.2 * sweep.length) / Math.max(1, opts.sweepBits.length));
    const same = b === base.weightBits && b === base.activationBits && Object.keys(base.layerWeightBits).length === 0;
    const evaluation: Evaluation = same ? main.quantized : await evaluate('bit sweep', { weightBits: b, activationBits: b });
    sweep.push({ weightBits: b, activationBits: b, evaluation });
  }
  let splitBits: ReportData['splitBits'];
  const low = opts.sweepBits.includes(4) ? 4 : undefined;
  if (low && opts.comparisons) {
    progress?.('weights vs activations at 4 bits', 0.88);
    splitBits = {
      low,
      weightsLow: { weightBits: low, activationBits: 8, evaluation: await evaluate('bit sweep', { weightBits: low, activationBits: 8 }) },
      activationsLow: { weightBits: 8, activationBits: low, evaluation: await evaluate('bit sweep', { weightBits: 8, activationBits: low }) },
    };
  }
  let sensitivity: ReportData['sensitivity'];
  let mixed: ReportData['mixed'];
  if (opts.sensitivity) {
    progress?.('sensitivity', 0.9);
    const s = opts.sensitivity;
    const study = await time('sensitivity (simulated)', () => sensitivityStudy(floatModel, layerInfos, { ...calib, batchSize: opts.batchSize }, { ...data, batchSize: opts.batchSize }, {
      ...s, settings: { perChannel: base.perChannel, weightMethod: base.weightMethod === 'output' ? 'mse' : base.weightMethod, calibration: base.method },
    }));
    sensitivity = { bits: s.bits, ranking: study.ranking };
    mixed = study.mixed;
  }
  const layers = reportRows(prepared, layerInfos, mainPlan, main, otherGranularity, base, weightOnly);
  const dfLayer = pickDataflowLayer(layerInfos, mainPlan, opts.dataflowLayer);
  progress?.('done', 1);
  return {
    modelPath: model.path, generatedAt: new Date().toISOString(),
    settings: {
      weightBits: base.weightBits, activationBits: base.activationBits, granularity: base.perChannel ? 'per-channel' : 'per-tensor',
      calibration: base.method === 'percentile' ? `percentile ${base.percentile ?? 99.999}` : base.method, weightMethod: base.weightMethod,
      calibrationImages: stats.images, evaluationImages: main.images, calibPath: calib.path, dataPath: data.path,
    },
    float: { accuracy: main.float.accuracy }, quantized: main.quantized, layers,
    dataflow: dataflowOf(prepared, mainPlan, dfLayer, main.layers.find((l) => l.layer === dfLayer.name)?.maxAccumulator),
    bitSweep: sweep.length ? sweep : undefined, splitBits,
    weightMethods, calibrationMethods, activationPlacement: placement,
    granularity: otherGranularity ? (base.perChannel ? { perTensor: otherGranularity.quantized, perChannel: main.quantized } : { perTensor: main.quantized, perChannel: otherGranularity.quantized }) : undefined,
    weightSqnrByBits: weightSqnrByBits(prepared, layerInfos, [...new Set([2, 4, 6, 8, base.weightBits])].sort((a, b) => a - b), base.perChannel, base.weightMethod),
    sensitivity, mixed, timings,
  };
}

function reportRows(prepared: PreparedModel, infos: readonly LayerInfo[], plan: QuantPlan, main: IntInspection, other: IntInspection | undefined, o: QuantOptions, weightOnly?: Map<string, { perTensor: number; perChannel: number }>): LayerReportRow[] {
  return plan.layers.map((ql) => {
    const info = infos.find((l) => l.name === ql.name)!;
    const ins = main.layers.find((l) => l.layer === ql.name)!;
    const alt = other?.layers.find((l) => l.layer === ql.name);
    const w = analyzeWeights(prepared, info, ql.weightBits, o.perChannel, o.weightMethod);
    const s = ql.outputParams.scale;
    const perChannelLocal = o.perChannel ? ins.local.sqnrDb : alt?.local.sqnrDb;
    const perTensorLocal = o.perChannel ? alt?.local.sqnrDb : ins.local.sqnrDb;
    return {
      name: ql.name, op: ql.op, kind: layerKind(info), weightBits: ql.weightBits, activationBits: ql.activationBits,
      weightScales: o.perChannel ? Array.from(ql.weights.scales) : [ql.weights.scales[0]],
      inputScale: ql.inputParams.scale, inputZeroPoint: ql.inputParams.zeroPoint, outputScale: s, outputZeroPoint: ql.outputParams.zeroPoint,
      weight: {
        stats: w.stats, channels: w.channelRanges,
        clipLow: -ql.weights.qmax * Math.max(...ql.weights.scales), clipHigh: ql.weights.qmax * Math.max(...ql.weights.scales),
        clippedShare: w.clippedShare, sqnrDb: ql.weightSqnrDb, sqnrPerTensorDb: w.sqnrPerTensorDb, sqnrPerChannelDb: w.sqnrPerChannelDb,
        channelMeanSqnrPerTensorDb: w.channelMeanSqnrPerTensorDb, channelMeanSqnrPerChannelDb: w.channelMeanSqnrPerChannelDb,
        localPerTensorDb: perTensorLocal, localPerChannelDb: perChannelLocal,
        weightOnlyPerTensorDb: weightOnly?.get(ql.name)?.perTensor, weightOnlyPerChannelDb: weightOnly?.get(ql.name)?.perChannel,
        error: w.error, rmseOverScale: w.rmseOverScale, histogram: w.histogram,
      },
      activation: { stats: ins.outputStats, clipLow: ins.clipLow, clipHigh: ins.clipHigh, clippedShare: ins.clippedShare, histogram: ins.outputHistogram },
      local: { ...ins.local, rmseOverScale: rmseOverScale(ins.local.rmse, s) },
      accumulated: { ...ins.accumulated, rmseOverScale: rmseOverScale(ins.accumulated.rmse, s) },
      maxAccumulator: ins.maxAccumulator,
    };
  });
}
