/** Float passes over images that feed the report: per-layer output statistics, histograms, and weight-only output error. */
import type { Dataset, Preprocess } from '../data';
import { iterateBatches } from '../data';
import { FloatModel } from '../engine/float-engine';
import type { LayerInfo, PreparedModel } from '../engine/types';
import { attrInt, defaultOpset, type Node } from '../graph/ir';
import type { Tensor } from '../graph/tensor';
import { FLOAT_KERNELS } from '../kernels/float';
import { dequantizeWeights, type QuantizedWeights } from '../quant/weights';
import { ErrorAccumulator, type ErrorMetrics } from './metrics';
import { StatsAccumulator, StreamingHistogram, type HistogramData, type TensorStats } from './stats';

/** Weights laid out [C_out, K] back to the layer's own layout (Gemm without transB and MatMul store [K, C_out]). */
export function toLayerLayout(node: Node, byChannel: Float32Array, dims: number[]): Float32Array {
  const transposed = node.opType === 'MatMul' || (node.opType === 'Gemm' && attrInt(node, 'transB', 0) === 0);
  if (!transposed) return byChannel;
  const [k, channels] = dims;
  const out = new Float32Array(byChannel.length);
  for (let i = 0; i < k; i++) for (let c = 0; c < channels; c++) out[i * channels + c] = byChannel[c * k + i];
  return out;
}

export interface FloatLayerObservation {
  layer: string;
  /** The layer's output before its activation: the tensor the integer engine quantizes. */
  outputStats: TensorStats;
  outputHistogram: HistogramData;
  /** Layer output with quantized weights (float input, float activations) against the float output, per weight variant. */
  weightOnly: Record<string, ErrorMetrics>;
}

export interface FloatPassResult {
  layers: FloatLayerObservation[];
  images: number;
  seconds: number;
}

/**
 * One float pass: statistics of every layer's output and, for each weight variant (e.g. per-tensor and per-channel),
 * the error the quantized weights alone cause at that layer's output (float inputs, so no error carried in).
 */
export function floatLayerPass(
  model: FloatModel,
  layers: readonly LayerInfo[],
  dataset: Dataset,
  preprocess: Preprocess,
  batchSize: number,
  weightVariants: Record<string, Map<string, QuantizedWeights>> = {},
  onBatch?: (done: number) => void,
): FloatPassResult {
  const started = performance.now();
  const byName = new Map(layers.map((l) => [l.name, l]));
  const stats = new Map(layers.map((l) => [l.name, new StatsAccumulator()]));
  const hists = new Map(layers.map((l) => [l.name, new StreamingHistogram(64)]));
  const errors = new Map(layers.map((l) => [l.name, Object.fromEntries(Object.keys(weightVariants).map((v) => [v, new ErrorAccumulator()]))]));
  const variantWeights = new Map<string, Map<string, Tensor>>(); // layer → variant → dequantized weight tensor in layer layout
  let prepared: PreparedModel | undefined;
  let images = 0;
  for (const batch of iterateBatches(dataset, batchSize, preprocess)) {
    prepared = model.getPrepared(batch.input.dims[0]);
    const opset = defaultOpset(prepared.model);
    const p = prepared;
    model.run(batch.input, {
      replaceNode(node, inputs) {
        const layer = byName.get(node.name);
        if (!layer) return undefined;
        const kernel = FLOAT_KERNELS[node.opType];
        const out = kernel(node, inputs, opset);
        const ref = out[0].data as Float32Array;
        stats.get(node.name)!.add(ref);
        hists.get(node.name)!.add(ref);
        for (const [variant, acc] of Object.entries(errors.get(node.name)!)) {
          const w = weightTensorFor(variantWeights, node, layer, variant, weightVariants[variant].get(node.name), p);
          if (!w) continue;
          const ins = [...inputs];
          ins[1] = w;
          acc.add(ref, kernel(node, ins, opset)[0].data as Float32Array);
        }
        return out;
      },
    });
    images += batch.input.dims[0];
    onBatch?.(images);
  }
  return {
    images,
    seconds: (performance.now() - started) / 1000,
    layers: layers.map((l) => ({
      layer: l.name,
      outputStats: stats.get(l.name)!.result(),
      outputHistogram: hists.get(l.name)!.result(),
      weightOnly: Object.fromEntries(Object.entries(errors.get(l.name)!).map(([v, a]) => [v, a.result()])),
    })),
  };
}

function weightTensorFor(cache: Map<string, Map<string, Tensor>>, node: Node, layer: LayerInfo, variant: string, q: QuantizedWeights | undefined, prepared: PreparedModel): Tensor | undefined {
  if (!q) return undefined;
  let perLayer = cache.get(node.name);
  if (!perLayer) cache.set(node.name, (perLayer = new Map()));
  let t = perLayer.get(variant);
  if (!t) {
    const original = prepared.constants.get(layer.weightName)!;
    t = { dtype: 'float32', dims: [...original.dims], data: toLayerLayout(node, dequantizeWeights(q), original.dims) };
    perLayer.set(variant, t);
  }
  return t;
}
