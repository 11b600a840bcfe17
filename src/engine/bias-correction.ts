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
import { buildQuantPlan, correctLayerBias, QuantOptions, QuantPlan } from './int-plan';
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

/**
 * Rewrites the int32 biases of `intModel.plan` in place. `batches` are the calibration images whose float mean
 * input columns `floatMeans` holds (per layer name, as the Calibrator computes them).
 */
export function correctBiasesSequentially(
  intModel: IntModel, batches: readonly Tensor[], floatMeans: ReadonlyMap<string, Float64Array[]>, checkCancelled?: () => void,
  resume?: BiasCorrectionResume, record?: BiasCorrectionRecord,
): void {
  if (batches.length === 0) return;
  const prepared = intModel.getPrepared(batches[0].dims[0]);
  const index = new Map(prepared.nodes.map((n, i) => [n.name, i]));
  const unchanged = new Set<string>();
  if (resume) {
    const before = new Map(resume.previous.layers.map((l) => [l.name, l]));
    for (const layer of intModel.plan.layers) {
      const old = before.get(layer.name);
      if (old && (index.get(layer.name) ?? Infinity) < resume.firstChanged) {
        layer.bias.set(old.bias);
        layer.accumulatorBound = old.accumulatorBound; // follows the bias
        unchanged.add(layer.name);
      }
    }
  }
  const runs = batches.map((b, i) => intModel.steps(b, {
    checkCancelled,
    ...(record ? { checkpoints: record.at, onCheckpoint: (c: GraphCheckpoint) => record.checkpoints[i].push(c) } : {}),
  }, resume?.from[i]));
  let states = runs.map((r) => r.next());
  while (!states[0].done) {
    const steps = states.map((s) => s.value as LayerStep);
    const { node, layer } = steps[0];
    const means = floatMeans.get(node.name);
    if (means && !unchanged.has(node.name)) correctLayerBias(prepared, node, layer, means, pooledInputMeans(steps));
    states = runs.map((r) => r.next());
  }
}

/** E[x̂] per group over every batch. */
function pooledInputMeans(steps: readonly LayerStep[]): Float64Array[] {
  let pooled: ColumnMeans | undefined;
  for (const { node, layer, x } of steps) {
    const batch = inputColumnMeans(node, { dims: x.dims, data: x.codes }, layer.weightDims, x.params);
    pooled ??= new ColumnMeans(batch.means.length, batch.means[0].length);
    pooled.add(batch);
  }
  return pooled!.result();
}

/**
 * The integer model for a prepared model, its calibration statistics and options: the plan, and with bias
 * correction on, the sequential pass over the calibration batches the statistics' input means cover.
 */
export function buildIntModel(
  prepared: PreparedModel, stats: CalibrationStats, options: QuantOptions, checkCancelled?: () => void,
  resume?: BiasCorrectionResume, record?: BiasCorrectionRecord,
): IntModel {
  const intModel = new IntModel(prepared.model, buildQuantPlan(prepared, stats, options), prepared);
  if (options.biasCorrection) correctBiasesSequentially(intModel, stats.meanBatches, stats.inputMeans, checkCancelled, resume, record);
  return intModel;
}
