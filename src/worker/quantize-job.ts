/** The worker's quantize job: options from the extension → the shared pipeline (src/pipeline/quantize.ts) → JSON for the editor. */
import { checkDatasetFitsInput, openDataset, resolvePreprocess, findSidecar } from '../data';
import type { Dataset, Preprocess } from '../data/types';
import type { Model } from '../graph/ir';
import { histogramOf } from '../inspect/stats';
import { dataflowOf } from '../inspect/build-report';
import { floatLayerPass } from '../inspect/collect';
import { layerSegment, runLayerAloneValue } from '../inspect/int-inspect';
import { ErrorAccumulator } from '../inspect/metrics';
import { iterateBatches } from '../data';
import { FloatModel, runFloatAll } from '../engine/float-engine';
import { IntModel, type GraphCheckpoint, type QTensor } from '../engine/int-engine';
import { checkpointNodes, resumeCheckpoint } from '../pipeline/incremental';
import type { Tensor } from '../graph/tensor';
import type { Node } from '../graph/ir';
import { listLayers } from '../graph/layers';
import type { PreparedModel } from '../engine/types';
import { loadModel } from '../onnx/load';
import { limitsFromSettings } from '../onnx/limits';
import { quantizeJob, type QuantizeResult } from '../pipeline/quantize';
import type { QuantOptions, QuantPlan } from '../engine/int-plan';
import { firstChangedNode } from '../engine/plan-diff';
import type { CalibrationStats } from '../engine/quant-calibrate';
import { imagesDigest, modelIdentity } from '../pipeline/identity';
import { CALIBRATION_METHODS, type CalibrationMethod } from '../quant/observers';
import { checkBits } from '../quant/quantizer';
import { asFloat32, elementCount } from '../graph/tensor';
import { CancelledError, InputError } from '../util/errors';
import { fitImageShape, imageModel, parseImageShape } from '../graph/input-shape';

export interface JobContext {
  onProgress(fraction: number, message: string): void;
  checkCancelled(): void;
}

const str = (o: Record<string, unknown>, k: string): string | undefined => (typeof o[k] === 'string' && o[k] !== '' ? (o[k] as string) : undefined);
const int = (o: Record<string, unknown>, k: string, lo: number, hi: number): number | undefined => {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new InputError(`option '${k}' must be a whole number from ${lo} to ${hi}, got ${JSON.stringify(v)}`);
  return v;
};
const numbers = (o: Record<string, unknown>, k: string): number[] | undefined =>
  Array.isArray(o[k]) && (o[k] as unknown[]).every((x) => typeof x === 'number') ? (o[k] as number[]) : undefined;

/** The model for an image job: option 'inputShape' ([C,H,W], from the setting) or the sidecar's fixes a symbolic size; NCHW in front. */
export function loadForJob(options: Record<string, unknown>): Model {
  const modelPath = str(options, 'modelPath');
  if (!modelPath) throw new InputError("option 'modelPath' is missing");
  const n = (v: unknown) => (typeof v === 'number' ? v : undefined);
  const model = loadModel(modelPath, limitsFromSettings({ maxModelSizeMB: n(options.maxModelSizeMB), maxTensorElements: n(options.maxTensorElements) }));
  const setting = numbers(options, 'inputShape');
  if (setting) return imageModel(model, { chw: parseImageShape(setting.join(','), 'setting quantInspector.inputShape'), source: 'setting quantInspector.inputShape' });
  const sidecar = findSidecar(modelPath);
  return imageModel(model, sidecar?.inputShape && { chw: sidecar.inputShape, source: sidecar.file });
}

/**
 * Opens a data set for the model; a still-symbolic image size is fixed from the images (the model returned may differ).
 * With option resizeImages (setting quantInspector.resizeImages) images are resized to the model's fixed height and width.
 */
export function openForJob(model: Model, dataPath: string, limit: number | undefined, options: Record<string, unknown> = {}): { model: Model; dataset: Dataset } {
  const input = model.graph.inputs[0];
  const channels = typeof input?.dims?.[1] === 'number' ? input.dims[1] : undefined;
  const [height, width] = input?.dims?.slice(2) ?? [];
  const resize = options.resizeImages === true && typeof height === 'number' && typeof width === 'number' ? { height, width } : undefined;
  const dataset = openDataset(dataPath, { limit, channels, resize });
  const fitted = fitImageShape(model, [dataset.channels, dataset.height, dataset.width], dataset.source);
  checkDatasetFitsInput(dataset, fitted.graph.inputs[0]?.dims, model.path, 'turn on the setting quantInspector.resizeImages to resize them');
  return { model: fitted, dataset };
}

/** Weight histogram of a layer, straight from its initializer. */
function weightHistogram(model: Model, layerName: string) {
  const node = model.graph.nodes.find((n) => n.name === layerName);
  const w = node && model.graph.initializers.get(node.inputs[1] ?? '');
  if (!w || w.dtype !== 'float32') return undefined;
  const h = histogramOf(asFloat32(w), 64);
  return { low: h.low, high: h.high, counts: h.counts };
}

const HISTOGRAM_IMAGES = 32;
type ActivationHistograms = Map<string, { low: number; high: number; counts: number[] }>;
/** The float histograms of the last model + calibration data (they do not depend on the bits: a what-if reuses them). */
let keptHistograms: { key: string; histograms: ActivationHistograms } | undefined;

/** Float output (before the activation) of every layer on a few calibration images, as 64-bin histograms. */
function activationHistograms(model: Model, calibrationPath: string, pre: Preprocess, options: Record<string, unknown>): ActivationHistograms {
  const data = openForJob(model, calibrationPath, HISTOGRAM_IMAGES, options).dataset;
  const key = JSON.stringify([modelIdentity(model), imagesDigest(data, data.count), pre]);
  if (keptHistograms?.key === key) return keptHistograms.histograms;
  const floatModel = new FloatModel(model);
  const layers = listLayers(floatModel.getPrepared(data.count));
  const pass = floatLayerPass(floatModel, layers, data, pre, data.count);
  const histograms: ActivationHistograms = new Map(pass.layers.map((l) => [l.layer, { low: l.outputHistogram.low, high: l.outputHistogram.high, counts: Array.from(l.outputHistogram.counts) }]));
  keptHistograms = { key, histograms };
  return histograms;
}

/** Per-layer choices of a what-if: option 'layerWeightBits' / 'layerActivationBits' ({ name: bits }) and 'floatLayers' (names). */
export function layerChoices(options: Record<string, unknown>): Pick<QuantOptions, 'layerWeightBits' | 'layerActivationBits' | 'floatLayers'> {
  const bitsMap = (k: string): Record<string, number> => {
    const v = options[k];
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) throw new InputError(`option '${k}' must map layer names to bits, got ${JSON.stringify(v)}`);
    for (const [name, bits] of Object.entries(v)) {
      if (typeof bits !== 'number') throw new InputError(`option '${k}': bits of layer '${name}' must be a number, got ${JSON.stringify(bits)}`);
      checkBits(bits, `option '${k}': bits of layer '${name}'`); // the range every bit width has
    }
    return { ...(v as Record<string, number>) };
  };
  const floats = options.floatLayers;
  if (floats !== undefined && (!Array.isArray(floats) || !floats.every((f) => typeof f === 'string'))) throw new InputError(`option 'floatLayers' must be a list of layer names, got ${JSON.stringify(floats)}`);
  return { layerWeightBits: bitsMap('layerWeightBits'), layerActivationBits: bitsMap('layerActivationBits'), floatLayers: [...((floats as string[] | undefined) ?? [])] };
}

const GRAPH_IMAGES = 32;
const GRAPH_BATCH = 16;

/** Errors the editor's graph overlay colours nodes and labels edges with. */
export interface GraphErrors {
  /** Every value that holds codes: its quantizer, and its accumulated SQNR (integer model vs float model) when measured. */
  values: Record<string, { bits?: number; scale?: number; zeroPoint?: number; sqnrDb?: number }>;
  /**
   * Every node the engines ran: how (the plan's mode: layer, clamp, add, lut, move, float, fused …), its local SQNR,
   * and, when its codes already carry the clamp of the activation after it, the value its error is read at (`compared`).
   */
  nodes: Record<string, { mode: string; reason?: string; into?: string; compared?: string; localSqnrDb?: number }>;
  images: number;
}

const finite = (db: number): number | undefined => (Number.isFinite(db) ? db : undefined);

/**
 * Local and accumulated error of every node on a few images, from the same integer plan the job ran:
 * local (as src/inspect measures it): the node alone in integers on the float model's own input — a layer with its
 * fused clamp (layerSegment / runLayerAlone), and any other integer node with one flowing input; accumulated: each
 * value of the whole integer model against the float model's. A node whose output codes already carry the clamp of
 * the ReLU after it (a conv, a residual Add: their scale comes from the activation's output) is compared after the
 * clamp, as the job's layer table does, so its raw output is not measured against the unclamped float value.
 */
export async function graphErrors(
  plan: QuantPlan, prepared: PreparedModel, data: Dataset, pre: Preprocess, checkCancelled?: () => void, earlier?: EarlierGraphErrors,
  memo: GraphPassMemo = { floatValues: [], checkpoints: [], keep: false },
): Promise<GraphErrors> {
  // it runs beside the evaluation (whose batches this thread hands to the pool): short steps, each after an event-loop turn
  const pause = () => { checkCancelled?.(); return new Promise<void>((resolve) => setImmediate(resolve)); };
  await pause();
  const index = new Map(prepared.nodes.map((n, i) => [n.name, i]));
  // nodes before the first one the plans run differently have the earlier run's errors: not measured again
  const settled = (name: string) => earlier !== undefined && (index.get(name) ?? Infinity) < earlier.firstChanged;
  const producer = new Map(prepared.nodes.flatMap((n) => n.outputs.map((o) => [o, n.name] as const)));
  const settledValue = (v: string) => earlier !== undefined && (producer.has(v) ? settled(producer.get(v)!) : v === prepared.inputName);
  const count = Math.min(data.count, GRAPH_IMAGES);
  const subset: Dataset = { ...data, count, labels: data.labels.subarray(0, count) };
  const floatModel = new FloatModel(prepared.model);
  const intModel = new IntModel(prepared.model, plan, prepared);
  const accumulated = new Map<string, ErrorAccumulator>();
  const local = new Map<string, ErrorAccumulator>();
  const compared = clampedOutputs(prepared, plan);
  const acc = (m: Map<string, ErrorAccumulator>, k: string) => m.get(k) ?? m.set(k, new ErrorAccumulator()).get(k)!;
  /** Error of a float or integer result against the float value (codes read as s·(q − z), no dequantized copy). */
  const add = (m: Map<string, ErrorAccumulator>, k: string, ref: unknown, test: QTensor | Tensor | undefined) => {
    if (!(ref instanceof Float32Array) || !test) return;
    if ('codes' in test) { if (test.codes.length === ref.length) acc(m, k).addCodes(ref, test.codes, test.params.scale, test.params.zeroPoint); }
    else if (test.data instanceof Float32Array && test.data.length === ref.length) acc(m, k).add(ref, test.data);
  };
  const at = memo.keep ? checkpointNodes(prepared) : [];
  let images = 0, batchIndex = 0;
  for (const batch of iterateBatches(subset, GRAPH_BATCH, pre)) {
    checkCancelled?.();
    const fp = floatModel.getPrepared(batch.input.dims[0]);
    const values = memo.floatValues[batchIndex] ?? runFloatAll(fp, batch.input);
    if (memo.keep) memo.floatValues[batchIndex] = values;
    const inSegment = new Set<string>();
    for (const layer of plan.layers) {
      await pause();
      const segment = layerSegment(fp, plan, layer);
      if (segment.every((n) => settled(n.name))) { segment.forEach((n) => inSegment.add(n.name)); continue; }
      const input = values.get(segment[0].inputs[0]);
      const ref = values.get(segment[segment.length - 1].outputs[0]);
      if (!input || !ref) continue;
      try {
        const alone = runLayerAloneValue(fp, plan, segment, input);
        for (const n of segment) {
          add(local, n.name, ref.data, alone);
          inSegment.add(n.name);
        }
      } catch {
        /* not measurable alone: no local number */
      }
    }
    await pause();
    for (const node of fp.nodes) {
      const mode = plan.modes.get(node.name);
      if (!mode || inSegment.has(node.name) || settled(node.name) || ['layer', 'float', 'fused'].includes(mode.kind)) continue;
      // one flowing input (a table reads its region's source): the engine's own code path on a one-node graph
      const reads = mode.kind === 'lut' ? [mode.input] : node.inputs.filter((i) => i && !fp.constants.has(i));
      const input = reads.length === 1 ? values.get(reads[0]) : undefined;
      const ref = values.get(node.outputs[0]);
      if (!input || !ref) continue;
      const single: Node = mode.kind === 'lut' ? { ...node, inputs: [mode.input] } : node;
      if (single.inputs[0] !== reads[0]) continue;
      try {
        add(local, node.name, ref.data, runLayerAloneValue(fp, plan, [single], input));
      } catch {
        /* not measurable alone */
      }
    }
    await pause();
    // the integer pass resumes at the last run's checkpoint before the first changed node (what precedes is settled)
    const c = earlier ? resumeCheckpoint(at, earlier.firstChanged) : undefined;
    const from = c === undefined ? undefined : memo.checkpoints[batchIndex]?.find((x) => x.at === c);
    const recorded = from ? memo.checkpoints[batchIndex].filter((x) => x.at <= from.at) : [];
    intModel.run(batch.input, {
      onQuantized: (name, q) => { if (!compared.has(name) && !settledValue(name)) add(accumulated, name, values.get(name)?.data, q); },
      onFloat: (name, t) => { if (!settledValue(name)) add(accumulated, name, values.get(name)?.data, t); },
      checkpoints: new Set(at), onCheckpoint: (cp) => recorded.push(cp),
      checkCancelled,
    }, from);
    if (memo.keep) memo.checkpoints[batchIndex] = recorded;
    images += batch.input.dims[0];
    batchIndex++;
  }
  const out: GraphErrors = { values: {}, nodes: {}, images };
  for (const [name, p] of plan.valueParams) out.values[name] = { bits: p.bits, scale: p.scale, zeroPoint: p.zeroPoint };
  for (const [name, a] of accumulated) (out.values[name] ??= {}).sqnrDb = finite(a.result().sqnrDb);
  if (earlier) for (const [name, v] of Object.entries(earlier.errors.values)) if (settledValue(name) && out.values[name] && v.sqnrDb !== undefined) out.values[name].sqnrDb = v.sqnrDb;
  for (const node of prepared.nodes) {
    const mode = plan.modes.get(node.name);
    if (!mode) continue;
    out.nodes[node.name] = {
      mode: mode.kind,
      ...(mode.kind === 'float' && mode.reason ? { reason: mode.reason } : {}),
      ...(mode.kind === 'fused' ? { into: mode.into } : {}),
      ...(compared.has(node.outputs[0]) ? { compared: compared.get(node.outputs[0]) } : {}),
      ...(local.has(node.name) ? { localSqnrDb: finite(local.get(node.name)!.result().sqnrDb) } : {}),
      ...(settled(node.name) && earlier!.errors.nodes[node.name]?.localSqnrDb !== undefined ? { localSqnrDb: earlier!.errors.nodes[node.name].localSqnrDb } : {}),
    };
  }
  return out;
}

/**
 * What a graph-error run keeps for the next one on the same images (when it fits, `keep`): per batch, every float
 * value (the float pass is not run again) and the integer pass's checkpoints (a what-if resumes before its change).
 */
export interface GraphPassMemo {
  floatValues: (Map<string, Tensor> | undefined)[];
  checkpoints: GraphCheckpoint[][];
  keep: boolean;
}

/** Memory the float values of the graph-error images may keep (their checkpoints' codes are a fraction of it). */
const GRAPH_FLOAT_BUDGET_BYTES = 256 * 1024 * 1024;

/** Bytes of every value of a prepared graph for `images` images (float32). */
function allValuesBytes(prepared: PreparedModel, images: number): number {
  let perImage = 0;
  for (const dims of prepared.shapes.values()) if (dims.length > 0) perImage += elementCount(dims.slice(1));
  return 4 * perImage * images;
}

/** The errors of the last run on the same model, calibration and images, and where its plan stops agreeing with this one. */
export interface EarlierGraphErrors {
  errors: GraphErrors;
  firstChanged: number;
}

let lastGraph: { key: string; stats: CalibrationStats; plan: QuantPlan; errors: GraphErrors; memo: GraphPassMemo } | undefined;

/** Forgets the per-node errors and float values kept from the last run (tests compare a fresh run with a reused one). */
export function clearGraphMemo(): void {
  lastGraph = undefined;
}

/**
 * Values whose codes already hold the clamp of the one activation that reads them (the same rule as the job's
 * comparedValue for layers): value → the activation's output, where its error is read instead.
 */
function clampedOutputs(prepared: PreparedModel, plan: QuantPlan): Map<string, string> {
  const out = new Map<string, string>();
  if (plan.options.quantizeAfterActivation) return out;
  const readers = new Map<string, Node[]>();
  for (const n of prepared.nodes) for (const i of n.inputs) if (i) readers.set(i, [...(readers.get(i) ?? []), n]);
  for (const node of prepared.nodes) {
    const v = node.outputs[0];
    const r = v ? readers.get(v) : undefined;
    if (!r || r.length !== 1 || plan.modes.get(r[0].name)?.kind !== 'clamp' || v === prepared.outputName) continue;
    const a = plan.valueParams.get(v), b = plan.valueParams.get(r[0].outputs[0]);
    if (a && b && a.scale === b.scale && a.zeroPoint === b.zeroPoint) out.set(v, r[0].outputs[0]);
  }
  return out;
}

export async function quantizeWorkerJob(options: Record<string, unknown>, ctx: JobContext): Promise<unknown> {
  ctx.onProgress(0, 'loading model');
  const loaded = loadForJob(options);
  const sidecar = findSidecar(loaded.path);
  const pre = resolvePreprocess(sidecar, { mean: numbers(options, 'mean'), std: numbers(options, 'std') }).preprocess;
  const calibrationPath = str(options, 'calibrationData') ?? sidecar?.calibration;
  if (!calibrationPath) throw new InputError(`${loaded.path}: no calibration data (choose it with "Select Calibration Data" or set quantInspector.calibrationData)`);
  const calibrationImages = int(options, 'calibrationImages', 1, 1_000_000);
  const testImages = int(options, 'testImages', 1, 1_000_000);
  const testPath = options.skipEvaluation === true ? undefined : str(options, 'testData') ?? sidecar?.test;
  const method = (str(options, 'method') ?? 'percentile') as CalibrationMethod;
  if (!CALIBRATION_METHODS.includes(method)) throw new InputError(`unknown calibration method '${method}': expected ${CALIBRATION_METHODS.join(', ')}`);
  const granularity = str(options, 'granularity') ?? 'per-channel';
  if (granularity !== 'per-channel' && granularity !== 'per-tensor') throw new InputError(`granularity must be per-channel or per-tensor, got '${granularity}'`);
  ctx.onProgress(0.01, 'opening data');
  const { model, dataset: calibration } = openForJob(loaded, calibrationPath, calibrationImages, options);
  const evaluation = testPath ? openForJob(model, testPath, testImages, options).dataset : undefined;
  let planned: { plan: QuantPlan; prepared: PreparedModel; stats: CalibrationStats } | undefined;
  /** Per-node errors of the final plan on a few images; nodes before the first the last run's plan differs at keep its values. */
  const graphErrorsOf = async (plan: QuantPlan, prepared: PreparedModel, stats: CalibrationStats, checkCancelled: () => void): Promise<GraphErrors> => {
    const graphData = evaluation ?? calibration;
    // the same statistics object means the same model and calibration (the pipeline's cache keys it by both)
    const key = JSON.stringify([imagesDigest(graphData, Math.min(graphData.count, GRAPH_IMAGES)), pre]);
    const same = lastGraph?.key === key && lastGraph.stats === stats ? lastGraph : undefined;
    const earlier = same && { errors: same.errors, firstChanged: firstChangedNode(prepared, same.plan, plan) };
    const memo = same?.memo ?? { floatValues: [], checkpoints: [], keep: allValuesBytes(prepared, Math.min(graphData.count, GRAPH_IMAGES)) <= GRAPH_FLOAT_BUDGET_BYTES };
    const errors = await graphErrors(plan, prepared, graphData, pre, checkCancelled, earlier, memo);
    lastGraph = { key, stats, plan, errors, memo };
    return errors;
  };
  // the per-node errors start once the plan is final and run beside the evaluation (this thread is idle meanwhile)
  let graphPass: Promise<GraphErrors> | undefined;
  let jobFailed = false;
  const checkGraphPass = () => {
    if (jobFailed) throw new CancelledError('the quantize job failed');
    ctx.checkCancelled();
  };
  const result: QuantizeResult = await quantizeJob(
    {
      model,
      calibration: { dataset: calibration, preprocess: pre },
      evaluation: evaluation && { dataset: evaluation, preprocess: pre },
      quant: {
        weightBits: int(options, 'weightBits', 2, 16) ?? 8,
        activationBits: int(options, 'activationBits', 2, 16) ?? 8,
        perChannel: granularity === 'per-channel',
        method,
        ...layerChoices(options),
      },
      calibrationLimit: calibrationImages,
      limit: testImages,
      exportPath: str(options, 'outputPath'),
      keepPool: true, // the editor's next run (other bits, a what-if) starts on warm threads
    },
    {
      onProgress: ctx.onProgress, checkCancelled: ctx.checkCancelled,
      onPlan: (plan, prepared, stats) => {
        planned = { plan, prepared, stats };
        if (options.skipEvaluation === true) return;
        graphPass = graphErrorsOf(plan, prepared, stats, checkGraphPass);
        graphPass.catch(() => undefined); // awaited below; a failure of the job itself wins
      },
    },
  ).catch((e) => { jobFailed = true; throw e; });
  ctx.onProgress(0.97, 'activation histograms');
  const activations = activationHistograms(model, calibrationPath, pre, options);
  const maxAcc = new Map(result.layers.map((l) => [l.name, l.maxAccumulator]));
  const p = planned as { plan: QuantPlan; prepared: PreparedModel; stats: CalibrationStats } | undefined;
  const flows = new Map(p ? p.plan.layers.map((l) => [l.name, dataflowOf(p.prepared, p.plan, l, maxAcc.get(l.name))]) : []);
  ctx.onProgress(0.98, 'per-node error');
  const graph = await graphPass;
  return {
    ...result,
    ...(graph ? { graph } : {}),
    layers: result.layers.map((l) => ({
      ...l,
      outputSqnrDb: l.outputSqnrDb ?? undefined,
      outputCosine: l.outputCosine ?? undefined,
      localSqnrDb: graph?.nodes[l.name]?.localSqnrDb,
      weightHistogram: weightHistogram(model, l.name),
      activationHistogram: activations.get(l.name),
      dataflow: flows.get(l.name)?.steps,
    })),
  };
}
