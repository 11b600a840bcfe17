/**
 * Per-layer inspection of the integer engine against the float engine on the same images: local error (each layer
 * run alone in integers on the float model's own input), accumulated error (the whole integer model), output
 * statistics, histograms, clipping, and the largest accumulators.
 */
import type { Dataset, Preprocess } from '../data';
import { iterateBatches } from '../data';
import { runFloatAll, type FloatModel } from '../engine/float-engine';
import { IntModel, dequantizeTensor, runIntGraph, type QTensor } from '../engine/int-engine';
import type { QuantLayer, QuantPlan } from '../engine/int-plan';
import type { PreparedModel } from '../engine/types';
import type { Node } from '../graph/ir';
import type { Tensor } from '../graph/tensor';
import { InputError } from '../util/errors';
import { ErrorAccumulator, argmaxRows, type ErrorMetrics } from './metrics';
import type { Evaluation } from './sensitivity';
import { ClipCounter, StatsAccumulator, StreamingHistogram, type HistogramData, type TensorStats } from './stats';

export interface IntLayerInspection {
  layer: string;
  /** The value compared: the fused activation's output when the activation is a clamp on the codes, else the layer output. */
  comparedValue: string;
  local: ErrorMetrics;
  accumulated: ErrorMetrics;
  outputStats: TensorStats;
  outputHistogram: HistogramData;
  /** Real range the output codes cover: [s·(qmin − z), s·(qmax − z)]. */
  clipLow: number;
  clipHigh: number;
  clippedShare: number;
  maxAccumulator: number;
}

export interface IntInspection {
  float: Evaluation;
  quantized: Evaluation;
  layers: IntLayerInspection[];
  images: number;
  seconds: number;
}

/** The nodes that make up a layer as the integer engine runs it: the layer and, when fused, its clamp. */
export function layerSegment(prepared: PreparedModel, plan: QuantPlan, layer: QuantLayer): Node[] {
  const node = prepared.nodes.find((n) => n.name === layer.name);
  if (!node) throw new InputError(`layer '${layer.name}' is not in the prepared graph`);
  const readers = prepared.nodes.filter((n) => n.inputs.includes(node.outputs[0]));
  const act = readers.length === 1 ? readers[0] : undefined;
  return act && plan.modes.get(act.name)?.kind === 'clamp' && node.outputs[0] !== prepared.outputName ? [node, act] : [node];
}

/** Runs just this layer (and its fused clamp) in integers on a float input: the engine's own code path on a one-layer graph. */
export function runLayerAlone(prepared: PreparedModel, plan: QuantPlan, segment: Node[], input: Tensor): Tensor {
  const out = runLayerAloneValue(prepared, plan, segment, input);
  return (out as QTensor).params ? dequantizeTensor(out as QTensor) : (out as Tensor);
}

/** runLayerAlone, its output as the engine left it: codes (a QTensor) or a float tensor. */
export function runLayerAloneValue(prepared: PreparedModel, plan: QuantPlan, segment: Node[], input: Tensor): QTensor | Tensor {
  const last = segment[segment.length - 1];
  const sub: PreparedModel = { ...prepared, nodes: segment, inputName: segment[0].inputs[0], outputName: last.outputs[0] };
  const modes = new Map(segment.map((n) => [n.name, plan.modes.get(n.name)!]));
  return runIntGraph(sub, { ...plan, modes, inputName: sub.inputName, outputName: sub.outputName }, input);
}

/** One pass over the data: float run (all values kept), each layer alone in integers, then the whole integer model. */
export function inspectIntModel(floatModel: FloatModel, intModel: IntModel, dataset: Dataset, preprocess: Preprocess, batchSize: number, onBatch?: (done: number) => void): IntInspection {
  const started = performance.now();
  const plan = intModel.plan;
  const perLayer = plan.layers.map((layer) => ({
    layer, local: new ErrorAccumulator(), accumulated: new ErrorAccumulator(), stats: new StatsAccumulator(), hist: new StreamingHistogram(64),
    clip: undefined as ClipCounter | undefined, maxAcc: 0, segment: [] as Node[],
  }));
  const byCompared = new Map<string, (typeof perLayer)[number]>();
  const logitErr = new ErrorAccumulator();
  let images = 0, floatCorrect = 0, quantCorrect = 0, agree = 0;
  for (const batch of iterateBatches(dataset, batchSize, preprocess)) {
    const prepared = floatModel.getPrepared(batch.input.dims[0]);
    const values = runFloatAll(prepared, batch.input);
    for (const l of perLayer) {
      l.segment = layerSegment(prepared, plan, l.layer);
      const compared = l.segment[l.segment.length - 1].outputs[0];
      byCompared.set(compared, l);
      const ref = values.get(compared)!.data as Float32Array;
      const o = l.layer.outputParams;
      l.clip ??= new ClipCounter(o.scale * (o.qmin - o.zeroPoint), o.scale * (o.qmax - o.zeroPoint));
      l.clip.add(ref);
      l.stats.add(ref);
      l.hist.add(ref);
      const alone = runLayerAlone(prepared, plan, l.segment, values.get(l.segment[0].inputs[0])!);
      l.local.add(ref, alone.data as Float32Array);
    }
    const logits = intModel.run(batch.input, {
      onQuantized(name, q) {
        const l = byCompared.get(name);
        if (l) l.accumulated.add(values.get(name)!.data as Float32Array, dequantizeTensor(q).data as Float32Array);
      },
      onAccumulator(name, m) {
        const l = perLayer.find((p) => p.layer.name === name);
        if (l) l.maxAcc = Math.max(l.maxAcc, m);
      },
    });
    const floatLogits = values.get(prepared.outputName)!;
    const classes = floatLogits.dims[1];
    const fp = argmaxRows(floatLogits.data as Float32Array, classes), qp = argmaxRows(logits.data as Float32Array, classes);
    for (let i = 0; i < fp.length; i++) {
      if (fp[i] === batch.labels[i]) floatCorrect++;
      if (qp[i] === batch.labels[i]) quantCorrect++;
      if (qp[i] === fp[i]) agree++;
    }
    logitErr.add(floatLogits.data as Float32Array, logits.data as Float32Array);
    images += fp.length;
    onBatch?.(images);
  }
  if (images === 0) throw new InputError(`${dataset.source}: no images to evaluate`);
  const seconds = (performance.now() - started) / 1000;
  return {
    float: { accuracy: (100 * floatCorrect) / images, agreement: 100, logitSqnrDb: Infinity },
    quantized: { accuracy: (100 * quantCorrect) / images, agreement: (100 * agree) / images, logitSqnrDb: logitErr.result().sqnrDb, seconds },
    images, seconds,
    layers: perLayer.map((l) => ({
      layer: l.layer.name, comparedValue: l.segment[l.segment.length - 1]?.outputs[0] ?? l.layer.name,
      local: l.local.result(), accumulated: l.accumulated.result(), outputStats: l.stats.result(), outputHistogram: l.hist.result(),
      clipLow: l.clip?.low ?? 0, clipHigh: l.clip?.high ?? 0, clippedShare: l.clip?.clippedShare() ?? 0, maxAccumulator: l.maxAcc,
    })),
  };
}

/** Accuracy, agreement and logit SQNR of an integer model against the float model (no per-layer work). */
export function evaluateIntModel(floatModel: FloatModel, intModel: IntModel, dataset: Dataset, preprocess: Preprocess, batchSize: number, floatLogitsCache?: Map<number, Float32Array>): Evaluation {
  const started = performance.now();
  const err = new ErrorAccumulator();
  let images = 0, correct = 0, agree = 0;
  for (const batch of iterateBatches(dataset, batchSize, preprocess)) {
    let ref = floatLogitsCache?.get(batch.start);
    if (!ref) {
      ref = floatModel.run(batch.input).data as Float32Array;
      floatLogitsCache?.set(batch.start, ref);
    }
    const q = intModel.run(batch.input).data as Float32Array;
    const classes = ref.length / batch.labels.length;
    const fp = argmaxRows(ref, classes), qp = argmaxRows(q, classes);
    for (let i = 0; i < fp.length; i++) { if (qp[i] === batch.labels[i]) correct++; if (qp[i] === fp[i]) agree++; }
    err.add(ref, q);
    images += fp.length;
  }
  if (images === 0) throw new InputError(`${dataset.source}: no images to evaluate`);
  return { accuracy: (100 * correct) / images, agreement: (100 * agree) / images, logitSqnrDb: err.result().sqnrDb, seconds: (performance.now() - started) / 1000 };
}
