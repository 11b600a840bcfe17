/** Weight analysis per layer: statistics, per-channel spread, and weight SQNR per granularity, cost function and bit width. */
import type { LayerInfo, PreparedModel } from '../engine/types';
import { attrInt } from '../graph/ir';
import { asFloat32 } from '../graph/tensor';
import { InputError } from '../util/errors';
import { dequantizeWeights, quantizeWeights, weightSqnrDb, type QuantizedWeights, type WeightMethod } from '../quant/weights';
import { compareTensors, type ErrorMetrics } from './metrics';
import { channelRanges, histogramOf, tensorStats, type ChannelRanges, type HistogramData, type TensorStats } from './stats';

export type LayerKind = 'conv' | 'depthwise' | 'pointwise' | 'linear';

export function layerKind(layer: LayerInfo): LayerKind {
  if (layer.op !== 'Conv') return 'linear';
  if (layer.groups > 1 && layer.weightDims[1] === 1) return 'depthwise';
  if (layer.weightDims.slice(2).every((d) => d === 1)) return 'pointwise';
  return 'conv';
}

/** The layer's float weights laid out [C_out, K] (Gemm without transB and MatMul are transposed). */
export function weightsByOutputChannel(prepared: PreparedModel, layer: LayerInfo): { weights: Float32Array; channels: number } {
  const t = prepared.constants.get(layer.weightName);
  if (!t || t.dtype !== 'float32') throw new InputError(`layer '${layer.name}': weight '${layer.weightName}' is not a float32 constant`);
  const w = asFloat32(t);
  const node = prepared.nodes.find((n) => n.name === layer.name);
  const transposed = layer.op === 'MatMul' || (layer.op === 'Gemm' && (!node || attrInt(node, 'transB', 0) === 0));
  if (!transposed) return { weights: w, channels: layer.weightDims[0] };
  const [k, channels] = layer.weightDims;
  const out = new Float32Array(w.length);
  for (let i = 0; i < k; i++) for (let c = 0; c < channels; c++) out[c * k + i] = w[i * channels + c];
  return { weights: out, channels };
}

export interface WeightAnalysis {
  layer: string;
  kind: LayerKind;
  channels: number;
  stats: TensorStats;
  channelRanges: ChannelRanges;
  histogram: HistogramData;
  sqnrPerTensorDb: number;
  sqnrPerChannelDb: number;
  /** Mean over output channels of each channel's own weight SQNR (a channel with small weights counts as much as a large one). */
  channelMeanSqnrPerTensorDb: number;
  channelMeanSqnrPerChannelDb: number;
  /** The worst channel's SQNR with one per-tensor scale. */
  worstChannelSqnrPerTensorDb: number;
  /** The quantization used by the report's settings. */
  chosen: QuantizedWeights;
  /** Share of weights beyond the chosen clipping range (0 for min-max). */
  clippedShare: number;
  /** Error of the chosen quantization: ŵ against w. */
  error: ErrorMetrics;
  /** rmse over the mean weight scale (≈ 0.289 for pure rounding). */
  rmseOverScale: number;
}

/** q = clamp(round(w / s), −qmax, qmax) with the given granularity and cost function; returns the SQNR of ŵ = s·q. */
export function weightSqnrFor(w: Float32Array, channels: number, bits: number, perChannel: boolean, method: WeightMethod, channelsPerGroup?: number): { q: QuantizedWeights; sqnrDb: number; channelSqnrDb: number[] } {
  const q = quantizeWeights(w, channels, { bits, perChannel, method, channelsPerGroup });
  const wHat = dequantizeWeights(q);
  return { q, sqnrDb: weightSqnrDb(w, wHat), channelSqnrDb: channelSqnrs(w, wHat, channels) };
}

/** SQNR of each output channel's weights; all-zero channels are left out (NaN). */
export function channelSqnrs(w: ArrayLike<number>, wHat: ArrayLike<number>, channels: number): number[] {
  const k = w.length / channels;
  const out: number[] = [];
  for (let c = 0; c < channels; c++) {
    let s = 0, e = 0;
    for (let i = c * k; i < (c + 1) * k; i++) { s += w[i] * w[i]; e += (w[i] - wHat[i]) ** 2; }
    // a channel rounded entirely to zero has SQNR 0 dB; exact channels are capped at 100 dB
    out.push(s === 0 ? NaN : e === 0 ? 100 : Math.min(100, 10 * Math.log10(s / e)));
  }
  return out;
}

function meanFinite(values: number[]): number {
  const v = values.filter((x) => !Number.isNaN(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
}

export function analyzeWeights(prepared: PreparedModel, layer: LayerInfo, bits: number, perChannel: boolean, method: WeightMethod): WeightAnalysis {
  const { weights, channels } = weightsByOutputChannel(prepared, layer);
  const safeMethod: WeightMethod = method === 'output' ? 'mse' : method; // the output criterion needs calibration inputs; MSE stands in here
  const perTensor = weightSqnrFor(weights, channels, bits, false, safeMethod);
  const perCh = weightSqnrFor(weights, channels, bits, true, safeMethod);
  const chosen = perChannel ? perCh.q : perTensor.q;
  const error = compareTensors(weights, dequantizeWeights(chosen));
  const meanScale = chosen.scales.reduce((a, b) => a + b, 0) / chosen.scales.length;
  const k = weights.length / channels;
  let clipped = 0;
  for (let i = 0; i < weights.length; i++) if (Math.abs(weights[i]) > chosen.scales[Math.floor(i / k)] * (chosen.qmax + 0.5)) clipped++;
  return {
    layer: layer.name, kind: layerKind(layer), channels,
    stats: tensorStats(weights), channelRanges: channelRanges(weights, channels), histogram: histogramOf(weights, 64),
    sqnrPerTensorDb: perTensor.sqnrDb, sqnrPerChannelDb: perCh.sqnrDb,
    channelMeanSqnrPerTensorDb: meanFinite(perTensor.channelSqnrDb), channelMeanSqnrPerChannelDb: meanFinite(perCh.channelSqnrDb),
    worstChannelSqnrPerTensorDb: Math.min(...perTensor.channelSqnrDb.filter((x) => !Number.isNaN(x))), chosen,
    error, rmseOverScale: error.rmse / meanScale, clippedShare: clipped / weights.length,
  };
}

/** Weight SQNR of every layer at each bit width (weights only, no images needed). */
export function weightSqnrByBits(prepared: PreparedModel, layers: readonly LayerInfo[], bitWidths: readonly number[], perChannel: boolean, method: WeightMethod): { bits: number; perLayer: Record<string, number> }[] {
  const ws = layers.map((l) => ({ l, ...weightsByOutputChannel(prepared, l) }));
  return bitWidths.map((bits) => ({
    bits,
    perLayer: Object.fromEntries(ws.map(({ l, weights, channels }) => [l.name, weightSqnrFor(weights, channels, bits, perChannel, method === 'output' ? 'mse' : method).sqnrDb])),
  }));
}
