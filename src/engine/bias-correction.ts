/**
 * Sequential empirical bias correction (Nagel et al., "Data-Free Quantization", §4.2, empirical form): layer by
 * layer in execution order, each quantized layer's mean output on the calibration images is moved onto the float
 * model's, with every earlier layer already corrected — so a layer also cancels the mean shift it inherits from
 * upstream weight, activation and clamping error, not only its own (W − Ŵ)·E[x].
 *
 * All batches run through the integer graph in lockstep (paused before each layer), so layer i is corrected on
 * every image before layer i + 1 runs on any; what is held meanwhile is each batch's live integer codes.
 */
import { elementCount, type Tensor } from '../graph/tensor';
import { GraphCheckpoint, IntModel, LayerStep } from './int-engine';
import { buildQuantPlan, correctLayerBias, QuantLayer, QuantOptions, QuantPlan } from './int-plan';
import { CalibrationStats, ColumnMeans, inputColumnMeans } from './quant-calibrate';
import type { PreparedModel } from './types';

/** Memory the lockstep pass may hold for its batches' live values. */
const CORRECTION_BUDGET_BYTES = 256 * 1024 * 1024;

/**
 * Calibration images the sequential pass can hold at once: each keeps its float input and, conservatively, the
 * three largest activations as codes (1 byte each up to 8 bits, else 4).
 */
export function biasCorrectionImages(prepared: PreparedModel, calibrationImages: number, activationBits: number): number {
  const perImage = (dims: number[] | undefined) => (dims && dims.length > 0 ? elementCount(dims) / Math.max(1, dims[0]) : 0);
  const largest = [...prepared.shapes.values()].map(perImage).sort((a, b) => b - a).slice(0, 3);
  const codeBytes = activationBits <= 8 ? 1 : 4;
  const bytes = 4 * perImage(prepared.shapes.get(prepared.inputName)) + codeBytes * largest.reduce((a, b) => a + b, 0);
  return Math.max(1, Math.min(calibrationImages, Math.floor(CORRECTION_BUDGET_BYTES / Math.max(1, bytes))));
}

/** A lockstep pass resumed where an earlier plan of the same calibration stopped differing from this one. */
export interface BiasCorrectionResume {
  /** The earlier plan (biases corrected): its layers before node `firstChanged` keep their corrected biases. */
  previous: QuantPlan;
  firstChanged: number;
  /** Per batch: the earlier pass's checkpoint to resume from (one node index for all, ≤ firstChanged). */
  from: GraphCheckpoint[];
}

/** Checkpoints the pass records per batch (at these node indices), for a later pass to resume from. */
export interface BiasCorrectionRecord {
  at: ReadonlySet<number>;
  checkpoints: GraphCheckpoint[][];
}

/** A bias just corrected, for the copies of the plan in other threads. */
export interface BiasUpdate {
  layer: string;
  bias: Int32Array;
  accumulatorBound: number;
}

/** Where one thread's batches paused (a layer), with the column means of their inputs there when asked for. */
export interface ShardStep {
  node: string;
  means: { index: number; means: Float64Array[]; count: number }[];
}

export interface ShardBatch {
  /** Position of the batch among all the pass's batches (means pool in this order). */
  index: number;
  input: Tensor;
  from?: GraphCheckpoint;
}

/** One thread's batches of the lockstep pass: stepped together from layer to layer, recording checkpoints. */
export class LockstepShard {
  private readonly runs: Generator<LayerStep, unknown, void>[];
  private readonly layers: Map<string, QuantLayer>;
  readonly checkpoints: GraphCheckpoint[][];

  constructor(
    intModel: IntModel, private readonly batches: readonly ShardBatch[], private readonly needMeans: ReadonlySet<string>,
    recordAt: ReadonlySet<number> = new Set(), checkCancelled?: () => void,
  ) {
    this.layers = new Map(intModel.plan.layers.map((l) => [l.name, l]));
    this.checkpoints = batches.map(() => []);
    this.runs = batches.map((b, i) => intModel.steps(b.input, {
      checkCancelled, checkpoints: recordAt, onCheckpoint: (c) => this.checkpoints[i].push(c),
    }, b.from));
  }

  /** Takes the bias corrected for the layer the batches paused at, then runs every batch on to its next layer. */
  advance(update?: BiasUpdate): ShardStep | undefined {
    if (update) {
      const layer = this.layers.get(update.layer);
      if (!layer) throw new Error(`bias update for unknown layer '${update.layer}'`);
      if (layer.bias !== update.bias) layer.bias.set(update.bias);
      layer.accumulatorBound = update.accumulatorBound;
    }
    const states = this.runs.map((r) => r.next());
    if (states.some((st) => st.done !== states[0].done)) throw new Error('lockstep batches went out of step');
    if (states.length === 0 || states[0].done) return undefined;
    const steps = states.map((st) => st.value as LayerStep);
    const { node } = steps[0];
    const means = this.needMeans.has(node.name)
      ? steps.map(({ layer, x }, i) => ({ index: this.batches[i].index, ...inputColumnMeans(node, { dims: x.dims, data: x.codes }, layer.weightDims, x.params) }))
      : [];
    return { node: node.name, means };
  }
}

/**
 * Gives the plan's layers before `resume.firstChanged` the earlier plan's corrected biases (their correction is the
 * same) and returns their names: the pass leaves them as they are.
 */
export function takeEarlierBiases(prepared: PreparedModel, plan: QuantPlan, resume: BiasCorrectionResume | undefined): Set<string> {
  const unchanged = new Set<string>();
  if (!resume) return unchanged;
  const index = new Map(prepared.nodes.map((n, i) => [n.name, i]));
  const before = new Map(resume.previous.layers.map((l) => [l.name, l]));
  for (const layer of plan.layers) {
    const old = before.get(layer.name);
    if (old && (index.get(layer.name) ?? Infinity) < resume.firstChanged) {
      layer.bias.set(old.bias);
      layer.accumulatorBound = old.accumulatorBound; // follows the bias
      unchanged.add(layer.name);
    }
  }
  return unchanged;
}

/** Layers whose input means the pass needs: those with float means that it corrects. */
export function layersToCorrect(floatMeans: ReadonlyMap<string, Float64Array[]>, unchanged: ReadonlySet<string>): Set<string> {
  return new Set([...floatMeans.keys()].filter((name) => !unchanged.has(name)));
}

/**
 * The lockstep pass's decisions: receives every shard's step (all paused at one layer), corrects that layer's bias
 * from the pooled means of all batches (in batch order) and yields the update for the shards to take before moving on.
 */
export function* lockstepCorrections(
  prepared: PreparedModel, plan: QuantPlan, floatMeans: ReadonlyMap<string, Float64Array[]>, unchanged: ReadonlySet<string>,
): Generator<BiasUpdate | undefined, void, (ShardStep | undefined)[]> {
  const nodes = new Map(prepared.nodes.map((n) => [n.name, n]));
  const layers = new Map(plan.layers.map((l) => [l.name, l]));
  let update: BiasUpdate | undefined;
  for (;;) {
    const steps = yield update;
    if (steps.every((st) => st === undefined)) return;
    if (steps.some((st) => st === undefined || st.node !== steps[0]!.node)) throw new Error('lockstep shards went out of step');
    const name = steps[0]!.node;
    const means = floatMeans.get(name);
    update = undefined;
    if (!means || unchanged.has(name)) continue;
    let pooled: ColumnMeans | undefined;
    for (const batch of steps.flatMap((st) => st!.means).sort((a, b) => a.index - b.index)) {
      pooled ??= new ColumnMeans(batch.means.length, batch.means[0].length);
      pooled.add(batch);
    }
    const layer = layers.get(name)!;
    correctLayerBias(prepared, nodes.get(name)!, layer, means, pooled!.result());
    update = { layer: name, bias: layer.bias, accumulatorBound: layer.accumulatorBound };
  }
}

/**
 * Rewrites the int32 biases of `intModel.plan` in place, in this thread. `batches` are the calibration images whose
 * float mean input columns `floatMeans` holds (per layer name, as the Calibrator computes them).
 */
export function correctBiasesSequentially(
  intModel: IntModel, batches: readonly Tensor[], floatMeans: ReadonlyMap<string, Float64Array[]>, checkCancelled?: () => void,
  resume?: BiasCorrectionResume, record?: BiasCorrectionRecord, taken?: ReadonlySet<string>,
): void {
  if (batches.length === 0) return;
  const prepared = intModel.getPrepared(batches[0].dims[0]);
  const unchanged = taken ?? takeEarlierBiases(prepared, intModel.plan, resume); // `taken`: the caller took them already
  const shard = new LockstepShard(intModel, batches.map((input, index) => ({ index, input, from: resume?.from[index] })),
    layersToCorrect(floatMeans, unchanged), record?.at, checkCancelled);
  const decisions = lockstepCorrections(prepared, intModel.plan, floatMeans, unchanged);
  let decision = decisions.next(undefined as never);
  while (!decision.done) decision = decisions.next([shard.advance(decision.value)]);
  if (record) shard.checkpoints.forEach((cs, i) => record.checkpoints[i].push(...cs));
}

/**
 * The integer model for a prepared model, its calibration statistics and options: the plan, and with bias
 * correction on, the sequential pass over the calibration batches the statistics' input means cover.
 */
export function buildIntModel(prepared: PreparedModel, stats: CalibrationStats, options: QuantOptions, checkCancelled?: () => void): IntModel {
  const intModel = new IntModel(prepared.model, buildQuantPlan(prepared, stats, options), prepared);
  if (options.biasCorrection) correctBiasesSequentially(intModel, stats.meanBatches, stats.inputMeans, checkCancelled);
  return intModel;
}
