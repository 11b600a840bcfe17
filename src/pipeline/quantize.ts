/**
 * The quantization job the CLI and the VS Code worker both run: prepare → calibrate (streaming, calibration images
 * only) → build the integer plan → evaluate float vs integer on the test images → per-layer report (→ export).
 */
import { argmaxRows } from '../data/accuracy';
import { iterateBatches } from '../data/preprocess';
import type { Dataset, Preprocess } from '../data/types';
import { FloatModel } from '../engine/float-engine';
import { IntModel } from '../engine/int-engine';
import { DEFAULT_QUANT_OPTIONS, QuantOptions, QuantPlan, activationClamp, buildQuantPlan, checkQuantOptions, quantizableLayers } from '../engine/int-plan';
import { biasCorrectionImages, correctBiasesSequentially, takeEarlierBiases } from '../engine/bias-correction';
import { CalibrationStats, Calibrator, CalibratorOptions } from '../engine/quant-calibrate';
import { cachedCalibration, calibrationKey, keepCalibration, keptCalibration } from './calibration-cache';
import { modelIdentity } from './identity';
import { calibrateInPool, poolCalibrates } from './parallel-calibration';
import { BiasPass, configurePool, correctBiasesInPool, measureInPool, measureInThread } from './pool-passes';
import { EvaluationTrace, calibrationResume, checkpointBytesPerImage, checkpointNodes, evaluationResume, keepCalibrationTrace, keepEvaluationTrace } from './incremental';
import type { PreparedModel } from '../engine/types';
import type { Model } from '../graph/ir';
import { MeasureTotals, coversValues } from '../inspect/measure-batch';
import { DEFAULT_REFERENCE_BUDGET_BYTES, keepReferences, keptReferences, referenceKey } from './reference-cache';
import { type WorkerPool, defaultWorkerCount } from '../parallel/pool';
import { openJobPool, poolKey, releaseJobPool } from './pool-cache';
import { elementCount } from '../graph/tensor';
import { logitsModel } from '../graph/logits';
import { InputError } from '../util/errors';
import { checkFiniteConstants } from '../util/finite';
import { layerHazards } from '../util/hazards';

export interface DataSplit {
  dataset: Dataset;
  preprocess: Preprocess;
}

export interface QuantizeJobOptions {
  model: Model;
  calibration: DataSplit;
  /** Test images; without them only the plan is built (no accuracy). */
  evaluation?: DataSplit;
  quant?: Partial<QuantOptions>;
  batchSize?: number;
  /** Calibration images used (default 1000, or all when fewer). */
  calibrationLimit?: number;
  /** Test images used (default all). */
  limit?: number;
  /** Write the QDQ ONNX model here. */
  exportPath?: string;
  /** Threads that evaluate test batches (default: one per core; 1 evaluates in this thread). */
  workers?: number;
  /** Keep the worker pool for the next job on the same model (pool-cache.ts; closeKeptPool ends it). */
  keepPool?: boolean;
  /** Memory for the float side of the test images kept for the next run (default 512 MiB: the sample's 500 test images fit; 0 keeps none); the calibration checkpoints get as much again. */
  referenceBudgetBytes?: number;
}

export interface QuantizeCallbacks {
  onProgress?(fraction: number, message: string): void;
  /** Throws CancelledError to stop. */
  checkCancelled?(): void;
  /** Receives the integer plan once built (the extension derives each layer's integer dataflow from it). */
  onPlan?(plan: QuantPlan, prepared: PreparedModel, stats: CalibrationStats): void;

}

export interface LayerReport {
  name: string;
  op: string;
  weightBits: number;
  activationBits: number;
  granularity: 'per-channel' | 'per-tensor';
  weightScales: number[];
  inputScale: number;
  inputZeroPoint: number;
  outputScale: number;
  outputZeroPoint: number;
  /** The value the output metrics compare (the fused activation's output when there is one). */
  comparedValue: string;
  weightSqnrDb: number;
  outputSqnrDb: number | null;
  outputCosine: number | null;
  maxAccumulator: number;
  accumulatorBound: number;
  multipliers: { m0: number; shift: number }[];
  /** Numerical hazards found in this layer (all-zero channels, saturated biases, empty ranges); empty when none. */
  flags: string[];
}

/** A node left in float where codes reach it, and why. */
export interface FloatNode { name: string; op: string; reason: string }

export interface QuantizeResult {
  model: string;
  options: QuantOptions;
  calibrationImages: number;
  /** True when the calibration statistics of an earlier run on the same model and images were reused. */
  calibrationReused: boolean;
  /** Test images whose float pass an earlier run on the same images recorded (only the integer pass ran). */
  floatPassReused: number;
  /** Where the integer passes resumed from an earlier run's checkpoint (its plan agreed with this one up to there). */
  resumedAt?: { biasCorrection?: string; evaluation?: string };
  images: number;
  fp32: { accuracy: number | null };
  quantized: { accuracy: number | null; agreement: number | null };
  layers: LayerReport[];
  floatLayers: string[];
  /** Nodes that ran in float where codes reached them (a float island: dequantize → float op → quantize), and why. */
  floatNodes: FloatNode[];
  /** The final Softmax / LogSoftmax left out of the metrics (they compare the logits before it), when the model has one. */
  softmax?: string;
  /** Output (logit) SQNR over the test images: 10·log10(Σ f² / Σ (f − q)²). */
  logitSqnrDb: number | null;
  /** False when the test images have no labels: accuracies are null, agreement and SQNR stand. */
  labelled: boolean;
  /** Top-1 class of each test image, in data order, from the float and the integer model (runs compare them). */
  predictions: { float: number[]; quantized: number[] };
  exported?: string;
  seconds: number;
}

export const DEFAULT_CALIBRATION_IMAGES = 1000;

function limited(split: DataSplit, limit: number | undefined): Dataset {
  const d = split.dataset;
  if (limit === undefined || limit >= d.count) return d;
  if (!Number.isInteger(limit) || limit < 1) throw new InputError(`image limit ${limit}: expected a positive whole number`);
  return { ...d, count: limit, labels: d.labels.subarray(0, limit) };
}

/** What a calibration of these images depends on: the images used, the observers' options, the cache key. */
function calibrationSetup(prepared: PreparedModel, modelKey: string, split: DataSplit, options: QuantOptions, batchSize: number, limit: number) {
  const data = limited(split, limit);
  quantizableLayers(prepared, options); // names in the per-layer choices exist
  const observers: CalibratorOptions = {
    // every candidate layer, also those kept in float: a what-if that moves a layer to float reuses the statistics
    sampledLayers: new Set(quantizableLayers(prepared, { ...options, floatLayers: [] }).map((l) => l.name)),
    keepSamples: options.weightMethod === 'output',
    keepMeans: options.biasCorrection,
    meanImages: biasCorrectionImages(prepared, data.count, options.activationBits),
  };
  return { data, observers, key: calibrationKey(modelKey, data, split.preprocess, data.count, batchSize, observers) };
}

/** Calibration in this thread: float inference over the batches with the Calibrator's hooks. */
function calibrateInThread(
  floatModel: FloatModel, prepared: PreparedModel, data: Dataset, preprocess: Preprocess, batchSize: number, observers: CalibratorOptions, callbacks: QuantizeCallbacks,
): CalibrationStats {
  const calibrator = new Calibrator(prepared.constants, observers);
  const hooks = { ...calibrator.hooks(), checkCancelled: callbacks.checkCancelled };
  for (const batch of iterateBatches(data, batchSize, preprocess)) {
    callbacks.checkCancelled?.();
    calibrator.observeInput(prepared.inputName, batch.input);
    floatModel.run(batch.input, hooks);
    callbacks.onProgress?.((batch.start + batch.labels.length) / data.count, `calibrating ${batch.start + batch.labels.length}/${data.count}`);
  }
  return calibrator.finish();
}

/** Runs calibration over the calibration split and returns the statistics (kept, and reused for the same model and data). */
export function calibrateModel(
  floatModel: FloatModel, prepared: PreparedModel, split: DataSplit, options: QuantOptions, batchSize: number,
  limit: number, callbacks: QuantizeCallbacks = {},
): { stats: CalibrationStats; reused: boolean } {
  const { data, observers, key } = calibrationSetup(prepared, modelIdentity(prepared.model), split, options, batchSize, limit);
  return cachedCalibration(key, () => calibrateInThread(floatModel, prepared, data, split.preprocess, batchSize, observers, callbacks));
}

/** The value whose float and integer versions a layer's output metrics compare. */
function comparedValue(prepared: PreparedModel, plan: QuantPlan, layerName: string): string {
  const node = prepared.nodes.find((n) => n.name === layerName)!;
  const out = node.outputs[0];
  if (plan.options.quantizeAfterActivation) return out;
  const readers = prepared.nodes.filter((n) => n.inputs.includes(out));
  if (readers.length === 1 && activationClamp(prepared, readers[0]) && plan.modes.get(readers[0].name)?.kind === 'clamp') return readers[0].outputs[0];
  return out;
}

/** Float nodes that codes reach: where the integer dataflow is dequantized, with the plan's reason. */
export function floatIslands(prepared: PreparedModel, plan: QuantPlan): FloatNode[] {
  const islands: FloatNode[] = [];
  for (const node of prepared.nodes) {
    const mode = plan.modes.get(node.name);
    if (mode?.kind !== 'float') continue;
    if (node.inputs.some((i) => i && plan.valueParams.has(i) && !prepared.constants.has(i))) islands.push({ name: node.name, op: node.opType, reason: mode.reason });
  }
  return islands;
}

/** Calibration and the integer plan, before bias correction. */
interface Planned {
  options: QuantOptions;
  floatModel: FloatModel;
  prepared: PreparedModel;
  stats: CalibrationStats;
  calibrationReused: boolean;
  intModel: IntModel;
  softmax?: string;
}

/** The float model of the logits and its prepared graph, with the options checked and the weights finite. */
function prepareQuantization(model: Model, calibration: DataSplit, quant: Partial<QuantOptions>, batchSize: number) {
  const options = checkQuantOptions({ ...DEFAULT_QUANT_OPTIONS, ...quant });
  const { model: logits, softmax } = logitsModel(model);
  const floatModel = new FloatModel(logits);
  const prepared = floatModel.getPrepared(Math.min(batchSize, calibration.dataset.count));
  if (calibration.dataset.count === 0) throw new InputError(`${calibration.dataset.source}: no calibration images`);
  checkFiniteConstants(prepared); // NaN/Inf weights would give NaN scales: name the initializer instead
  return { options, floatModel, prepared, softmax };
}

function planQuantization(
  model: Model, calibration: DataSplit, quant: Partial<QuantOptions>, batchSize: number, calibrationLimit: number, callbacks: QuantizeCallbacks,
): Planned {
  const { options, floatModel, prepared, softmax } = prepareQuantization(model, calibration, quant, batchSize);
  const { stats, reused } = calibrateModel(floatModel, prepared, calibration, options, batchSize, calibrationLimit, callbacks);
  return planned(options, floatModel, prepared, stats, reused, softmax, callbacks);
}

function planned(
  options: QuantOptions, floatModel: FloatModel, prepared: PreparedModel, stats: CalibrationStats, reused: boolean, softmax: string | undefined, callbacks: QuantizeCallbacks,
): Planned {
  if (reused) callbacks.onProgress?.(1, `calibration of ${stats.images} images reused`);
  const intModel = new IntModel(prepared.model, buildQuantPlan(prepared, stats, options), prepared);
  return { options, floatModel, prepared, stats, calibrationReused: reused, intModel, softmax };
}

/**
 * The bias-correction pass to run: it resumes where the last plan on these statistics stops agreeing with this
 * one (the layers before keep that plan's corrected biases, taken here), and records checkpoints for the next run.
 */
function biasPass(p: Planned, callbacks: QuantizeCallbacks, budgetBytes: number): BiasPass {
  const images = p.stats.meanBatches.reduce((n, b) => n + b.dims[0], 0);
  const candidates = checkpointNodes(p.prepared);
  // checkpoints of every calibration image, or none (a what-if then reruns the whole pass)
  const at = images * checkpointBytesPerImage(p.prepared, p.intModel.plan, candidates) <= budgetBytes ? candidates : [];
  const resume = calibrationResume(p.prepared, p.stats, p.intModel.plan, at);
  const unchanged = takeEarlierBiases(p.prepared, p.intModel.plan, resume);
  const resumedAt = resume ? p.prepared.nodes[resume.from[0].at].name : undefined;
  callbacks.onProgress?.(1, `bias correction on ${images} calibration images${resumedAt ? ` from ${resumedAt} on` : ''}`);
  const record = { at: new Set(at), checkpoints: p.stats.meanBatches.map((_, i) => [...(resume?.kept[i] ?? [])]) };
  return { at, resume, unchanged, resumedAt, record };
}

/** Builds the quantized model from calibration data (in this thread): returns the plan and the runnable integer model. */
export function buildQuantizedModel(
  model: Model, calibration: DataSplit, quant: Partial<QuantOptions> = {}, batchSize = 50,
  calibrationLimit = DEFAULT_CALIBRATION_IMAGES, callbacks: QuantizeCallbacks = {},
): BuiltModel {
  const p = planQuantization(model, calibration, quant, batchSize, calibrationLimit, callbacks);
  if (p.options.biasCorrection) {
    const pass = biasPass(p, callbacks, DEFAULT_REFERENCE_BUDGET_BYTES);
    correctBiasesSequentially(p.intModel, p.stats.meanBatches, p.stats.inputMeans, callbacks.checkCancelled, pass.resume, pass.record, pass.unchanged);
    keepCalibrationTrace({ stats: p.stats, plan: p.intModel.plan, checkpoints: pass.record.checkpoints });
  }
  return {
    plan: p.intModel.plan, intModel: p.intModel, floatModel: p.floatModel, stats: p.stats, calibrationImages: p.stats.images,
    calibrationReused: p.calibrationReused, softmax: p.softmax,
  };
}

export interface BuiltModel {
  plan: QuantPlan;
  intModel: IntModel;
  floatModel: FloatModel;
  stats: CalibrationStats;
  calibrationImages: number;
  calibrationReused: boolean;
  softmax?: string;
}

/** Bytes the float references of one image take: its logits and every compared value (float32). */
function referenceBytesPerImage(prepared: PreparedModel, compared: ReadonlySet<string>): number {
  let elements = 0;
  for (const v of [...compared, prepared.outputName]) {
    const dims = prepared.shapes.get(v);
    if (dims && dims.length > 0) elements += elementCount(dims) / Math.max(1, dims[0]);
  }
  return Math.max(1, 4 * elements);
}

export async function quantizeJob(job: QuantizeJobOptions, callbacks: QuantizeCallbacks = {}): Promise<QuantizeResult> {
  const started = Date.now();
  const batchSize = job.batchSize ?? 50;
  const progress = (lo: number, hi: number) => (f: number, m: string) => callbacks.onProgress?.(lo + (hi - lo) * f, m);
  const calibrationProgress = { ...callbacks, onProgress: progress(0, 0.3) };
  const { options, floatModel, prepared, softmax } = prepareQuantization(job.model, job.calibration, job.quant ?? {}, batchSize);
  const modelKey = modelIdentity(prepared.model); // the caches' key for this model, hashed once per job
  const setup = calibrationSetup(prepared, modelKey, job.calibration, options, batchSize, job.calibrationLimit ?? DEFAULT_CALIBRATION_IMAGES);
  const evalBatches = job.evaluation ? Math.ceil(Math.min(job.limit ?? Infinity, job.evaluation.dataset.count) / batchSize) : 0;
  const workers = Math.min(job.workers ?? defaultWorkerCount(), Math.max(evalBatches, Math.ceil(setup.data.count / batchSize)));
  const budget = job.referenceBudgetBytes ?? DEFAULT_REFERENCE_BUDGET_BYTES;
  // one pool for calibration, the bias correction pass and the evaluation (its workers get the plan once it exists)
  let pool: WorkerPool | undefined;
  let finished = false;
  const key = poolKey(modelKey, workers);
  try {
    let stats = keptCalibration(setup.key);
    const reused = stats !== undefined;
    if (!stats) {
      if (workers > 1 && poolCalibrates(prepared, setup.observers, batchSize, POOL_CALIBRATION_BYTES)) {
        pool = await openJobPool(key, prepared.model, workers);
        stats = await calibrateInPool(pool, prepared, setup.data, job.calibration.preprocess, batchSize, setup.observers, calibrationProgress);
      } else {
        stats = calibrateInThread(floatModel, prepared, setup.data, job.calibration.preprocess, batchSize, setup.observers, calibrationProgress);
      }
      keepCalibration(setup.key, stats);
    }
    const plannedModel = planned(options, floatModel, prepared, stats, reused, softmax, calibrationProgress);
    const plan = plannedModel.intModel.plan;
    const pass = options.biasCorrection ? biasPass(plannedModel, calibrationProgress, budget) : undefined;
    const compared = new Map(plan.layers.map((l) => [l.name, comparedValue(prepared, plan, l.name)]));
    const config = { plan, compared: [...new Set(compared.values())] };
    if (!pool && workers > 1) pool = await openJobPool(key, prepared.model, workers);
    if (pool) await configurePool(pool, config);
    const result = await quantizeWithPlan(job, callbacks, { planned: plannedModel, pass, pool, compared, modelKey, budget, started, batchSize });
    finished = true;
    return result;
  } finally {
    if (pool) await releaseJobPool(key, pool, finished && job.keepPool === true);
  }
}

/** Memory a pool worker may hold for the calibration batches it observes. */
const POOL_CALIBRATION_BYTES = 256 * 1024 * 1024;

/** What the evaluation of a job gets from its set-up. */
interface EvaluationSetup {
  planned: Planned;
  pass: BiasPass | undefined;
  pool: WorkerPool | undefined;
  /** Per layer: the value its output metrics compare. */
  compared: Map<string, string>;
  modelKey: string;
  budget: number;
  started: number;
  batchSize: number;
}

async function quantizeWithPlan(job: QuantizeJobOptions, callbacks: QuantizeCallbacks, setup: EvaluationSetup): Promise<QuantizeResult> {
  const { planned, pass, pool, compared, modelKey, budget, started, batchSize } = setup;
  const { intModel, floatModel, stats, prepared, calibrationReused, softmax } = planned;
  const plan = intModel.plan;
  const calibrationImages = stats.images;
  if (pass) {
    if (pool) await correctBiasesInPool(pool, prepared, plan, stats, pass, callbacks.checkCancelled);
    else correctBiasesSequentially(intModel, stats.meanBatches, stats.inputMeans, callbacks.checkCancelled, pass.resume, pass.record, pass.unchanged);
    keepCalibrationTrace({ stats, plan, checkpoints: pass.record.checkpoints });
  }
  const biasCorrectionResumedAt = pass?.resumedAt;
  callbacks.onPlan?.(plan, prepared, stats);
  const wanted = new Set(compared.values());
  const totals = new MeasureTotals();
  let fpCorrect = 0, qCorrect = 0, agree = 0, images = 0, floatReused = 0;
  let evaluationResumedAt: string | undefined;
  const predictions: QuantizeResult['predictions'] = { float: [], quantized: [] };
  const labelled = !job.evaluation?.dataset.unlabelled;

  if (job.evaluation) {
    const data = limited(job.evaluation, job.limit);
    const refKey = referenceKey(modelKey, data, job.evaluation.preprocess, data.count, batchSize);
    const references = keptReferences(refKey);
    // what is kept for the next run (float side, checkpoints) stays within the budget: the first batches first
    const at = checkpointNodes(prepared);
    const keptImages = Math.floor(budget / (referenceBytesPerImage(prepared, wanted) + checkpointBytesPerImage(prepared, plan, at)));
    const resume = evaluationResume(refKey, prepared, stats, plan, at);
    if (resume) evaluationResumedAt = prepared.nodes[resume.at].name;
    const trace: EvaluationTrace = { key: refKey, stats, plan, batches: [] };
    const batchCount = Math.ceil(data.count / batchSize);
    const batches = (function* () {
      let index = 0;
      for (const b of iterateBatches(data, batchSize, job.evaluation!.preprocess)) {
        const kept = references[index];
        const within = b.start + b.labels.length <= keptImages;
        const from = resume?.trace.batches[index]?.checkpoints.find((c) => c.at === resume.at);
        yield { ...b, index: index++, references: kept, record: !coversValues(kept, wanted) && within, checkpointsAt: within || from ? at : [], from };
      }
    })();
    const measures = pool && batchCount > 1
      ? measureInPool(pool, batches, callbacks.checkCancelled)
      : measureInThread(floatModel, intModel, wanted, batches, callbacks.checkCancelled);
    for await (const { batch, measure } of measures) {
      // a resumed batch: the segments before the checkpoint (and the checkpoints up to it) are the earlier run's
      const earlier = batch.from ? resume!.trace.batches[batch.index] : undefined;
      const segments = earlier ? [...earlier.segments.slice(0, measure.firstSegment), ...measure.segments] : measure.segments;
      const checkpoints = earlier ? [...earlier.checkpoints.filter((c) => c.at <= batch.from!.at), ...measure.checkpoints] : measure.checkpoints;
      totals.add(segments, measure.floatLogits, measure.intLogits);
      trace.batches[batch.index] = { checkpoints, segments };
      if (measure.recorded) references[batch.index] = measure.recorded;
      else if (coversValues(batch.references, wanted)) floatReused += batch.labels.length;
      const n = batch.labels.length;
      const fp = argmaxRows(measure.floatLogits, n), qp = argmaxRows(measure.intLogits, n);
      for (let i = 0; i < n; i++) {
        if (fp[i] === batch.labels[i]) fpCorrect++;
        if (qp[i] === batch.labels[i]) qCorrect++;
        if (fp[i] === qp[i]) agree++;
        predictions.float.push(fp[i]);
        predictions.quantized.push(qp[i]);
      }
      images += n;
      callbacks.onProgress?.(0.3 + (0.65 * images) / data.count, `evaluating ${images}/${data.count}`);
    }
    keepReferences(refKey, references);
    keepEvaluationTrace(trace);
  }
  let exported: string | undefined;
  if (job.exportPath) {
    const { exportQdq } = await import('../onnx/export');
    exportQdq(job.model, prepared, plan, job.exportPath);
    exported = job.exportPath;
  }
  callbacks.onProgress?.(1, 'done');
  const pct = (k: number) => (images > 0 ? (100 * k) / images : null);
  const accuracy = (k: number) => (labelled ? pct(k) : null);
  return {
    model: job.model.path,
    options: plan.options,
    calibrationImages,
    calibrationReused,
    floatPassReused: floatReused,
    ...(biasCorrectionResumedAt || evaluationResumedAt ? { resumedAt: { biasCorrection: biasCorrectionResumedAt, evaluation: evaluationResumedAt } } : {}),
    images,
    fp32: { accuracy: accuracy(fpCorrect) },
    quantized: { accuracy: accuracy(qCorrect), agreement: pct(agree) },
    logitSqnrDb: images > 0 ? totals.logitError.result().sqnrDb : null,
    labelled,
    predictions,
    ...(softmax ? { softmax } : {}),
    layers: plan.layers.map((l) => {
      const m = images > 0 ? totals.errors.get(compared.get(l.name)!)?.result() : undefined;
      return {
        name: l.name,
        op: l.op,
        weightBits: l.weightBits,
        activationBits: l.activationBits,
        granularity: l.weights.perChannel ? 'per-channel' : 'per-tensor',
        weightScales: Array.from(l.weights.scales),
        inputScale: l.inputParams.scale,
        inputZeroPoint: l.inputParams.zeroPoint,
        outputScale: l.outputParams.scale,
        outputZeroPoint: l.outputParams.zeroPoint,
        comparedValue: compared.get(l.name)!,
        weightSqnrDb: l.weightSqnrDb,
        outputSqnrDb: m ? m.sqnrDb : null,
        outputCosine: m ? m.cosine : null,
        maxAccumulator: totals.maxAccumulators.get(l.name) ?? 0,
        accumulatorBound: l.accumulatorBound,
        multipliers: l.multipliers.map((mm) => ({ m0: mm.multiplier, shift: mm.shift })),
        flags: layerHazards(l),
      };
    }),
    floatLayers: plan.options.floatLayers,
    floatNodes: floatIslands(prepared, plan),
    exported,
    seconds: (Date.now() - started) / 1000,
  };
}
