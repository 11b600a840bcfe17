/**
 * The quantized plan: for a prepared model and its calibration statistics, decides per node whether it runs on
 * integer codes or in float, and fixes every integer parameter — weight codes and scales, int32 biases, activation
 * scales / zero points, fixed-point multipliers (M0, shift) per output channel.
 */
import { attrFloat, attrInt, defaultOpset, describeNode, Node } from '../graph/ir';
import { toNumbers, Tensor } from '../graph/tensor';
import { CalibrationMethod, CALIBRATION_METHODS, calibrate, StreamingObserver } from '../quant/observers';
import { QuantParams, activationParams, checkBits, codeOf } from '../quant/quantizer';
import { FixedPointMultiplier, quantizeMultiplier } from '../quant/requantize';
import { lookupTable, MAX_TABLE_BITS } from '../quant/lookup';
import { batchNormCoefficients } from '../kernels/float/norm';
import { normalizeAxis } from '../kernels/float/types';
import type { ChannelAffine } from '../kernels/int/elementwise';
import { elementwiseRegions, type ElementwiseRegion } from './elementwise-regions';
import {
  QuantizedWeights, WeightMethod, WEIGHT_METHODS, biasCorrection, dequantizeWeights, quantizeBias, quantizeWeights, weightGainFactors, weightSqnrDb,
} from '../quant/weights';
import { InputError } from '../util/errors';
import type { CalibrationStats } from './quant-calibrate';
import type { PreparedModel } from './types';

export interface QuantOptions {
  weightBits: number;
  activationBits: number;
  perChannel: boolean;
  method: CalibrationMethod;
  percentile?: number;
  weightMethod: WeightMethod;
  /**
   * Bias correction on calibration data: each per-channel weight scale restores its channel's gain
   * (ζ_c = ‖w_c − μ_c‖² / ⟨w_c − μ_c, ŵ_c − μ̂_c⟩), and biases are corrected layer by layer in order so that each layer's mean
   * output matches the float model's (engine/bias-correction.ts).
   */
  biasCorrection: boolean;
  /** Conv / Gemm node names kept in float (quantize / dequantize at their boundaries). */
  floatLayers: string[];
  /** Mixed precision: weight bits per layer name. */
  layerWeightBits: Record<string, number>;
  /** Mixed precision: activation bits of a layer's output, per layer name. */
  layerActivationBits: Record<string, number>;
  /** Quantize at the conv / add output AND again at the activation output (two roundings instead of one fused). */
  quantizeAfterActivation: boolean;
  /**
   * Requantize the model's output (the logits) to activation bits too. Off by default: the last layer hands out its
   * int32 accumulators (one common scale s_in·max s_w), so ties between 8-bit logits never decide the top-1.
   */
  quantizeOutput: boolean;
}

export const DEFAULT_QUANT_OPTIONS: QuantOptions = {
  weightBits: 8,
  activationBits: 8,
  perChannel: true,
  method: 'percentile',
  percentile: 99.999,
  weightMethod: 'minmax',
  biasCorrection: true,
  floatLayers: [],
  layerWeightBits: {},
  layerActivationBits: {},
  quantizeAfterActivation: false,
  quantizeOutput: false,
};

/** Params of int32 accumulator outputs: real = scale · code, codes span int32. */
export function accumulatorParams(scale: number): QuantParams {
  return { scale, zeroPoint: 0, qmin: -2147483648, qmax: 2147483647, bits: 32, signed: true };
}

/** A conv or linear layer that runs in integers. */
export interface QuantLayer {
  name: string;
  op: 'Conv' | 'Gemm';
  weightBits: number;
  activationBits: number;
  /** Weight codes [outChannels, K]. */
  weights: QuantizedWeights;
  weightCodes: Int8Array | Int32Array;
  weightDims: number[];
  outChannels: number;
  group: number;
  bias: Int32Array;
  inputParams: QuantParams;
  outputParams: QuantParams;
  multipliers: FixedPointMultiplier[];
  weightSqnrDb: number;
  /** The largest |accumulator| that weights and input codes allow: K·max|x−z|·max|w| + max|b|. */
  accumulatorBound: number;
}

export type NodeMode =
  | { kind: 'layer'; layer: QuantLayer }
  | { kind: 'clamp'; lo: number; hi: number; requantTo?: QuantParams }
  | { kind: 'add'; output: QuantParams }
  | { kind: 'gap'; output: QuantParams }
  | { kind: 'maxpool' }
  | { kind: 'move'; padCode?: number }
  | { kind: 'concat'; output: QuantParams }
  /** A unary function on codes as a table (HardSwish, Sigmoid, …; SiLU / HardSwish written as x·σ(x) fused into the Mul). */
  | { kind: 'lut'; input: string; table: Int32Array; inputQmin: number; output: QuantParams }
  /** Product of two code tensors (squeeze-and-excite gate): requantized with M = s_a·s_b / s_out. */
  | { kind: 'mul'; multiplier: FixedPointMultiplier; output: QuantParams }
  /** AveragePool on codes: the rounded mean of the codes, same scale and zero point. */
  | { kind: 'avgpool' }
  /** A per-channel affine of `input` on codes (unfolded BatchNorm, constant Mul/Add); `axis`: where a_c, b_c vary (−1: one value). */
  | { kind: 'affine'; input: string; affine: ChannelAffine; axis: number; output: QuantParams }
  /**
   * Concat followed by a BatchNormalization (DenseNet): each input goes straight from its own scale through its
   * channels' affine into the output, one rounding, instead of first onto the concat's common (coarse) scale.
   */
  | { kind: 'concat-affine'; concat: Node; inputs: string[]; affines: ChannelAffine[]; output: QuantParams }
  /** Computed inside the node that reads it (the σ(x) of x·σ(x)). */
  | { kind: 'fused'; into: string }
  | { kind: 'float'; reason: string };

export interface QuantPlan {
  options: QuantOptions;
  /** Mode per node name. */
  modes: Map<string, NodeMode>;
  /** Quantization parameters of every value that holds codes (or is quantized at a float → integer boundary). */
  valueParams: Map<string, QuantParams>;
  layers: QuantLayer[];
  inputName: string;
  outputName: string;
}

/** Ops between the last layer and the logits that int32 accumulators pass through unrounded (SqueezeNet's conv head). */
const LOSSLESS_TAIL_OPS = new Set(['GlobalAveragePool', 'Flatten', 'Reshape', 'Squeeze', 'Unsqueeze', 'Identity']);

/** Ops that only move, copy or select elements: they run on codes and keep the quantization parameters. */
const MOVE_OPS = new Set([
  'Reshape', 'Flatten', 'Slice', 'Transpose', 'Squeeze', 'Unsqueeze', 'Identity', 'Pad', 'Split', 'Gather', 'DepthToSpace', 'SpaceToDepth',
  'Expand', 'Tile',
]);

export function checkQuantOptions(o: QuantOptions): QuantOptions {
  checkBits(o.weightBits, 'weight bits');
  checkBits(o.activationBits, 'activation bits');
  for (const [name, b] of Object.entries(o.layerWeightBits)) checkBits(b, `weight bits of layer '${name}'`);
  for (const [name, b] of Object.entries(o.layerActivationBits)) checkBits(b, `activation bits of layer '${name}'`);
  if (!CALIBRATION_METHODS.includes(o.method)) throw new InputError(`unknown calibration method '${o.method}': expected ${CALIBRATION_METHODS.join(', ')}`);
  if (!WEIGHT_METHODS.includes(o.weightMethod)) throw new InputError(`unknown weight method '${o.weightMethod}': expected ${WEIGHT_METHODS.join(', ')}`);
  if (o.percentile !== undefined && !(o.percentile > 50 && o.percentile <= 100)) throw new InputError(`percentile ${o.percentile}: expected a number in (50, 100]`);
  return o;
}

/** Names of the conv / linear nodes that will be quantized (weights constant, not kept in float). */
export function quantizableLayers(prepared: PreparedModel, options: QuantOptions): Node[] {
  const known = new Set(prepared.nodes.map((n) => n.name));
  for (const name of [...options.floatLayers, ...Object.keys(options.layerWeightBits), ...Object.keys(options.layerActivationBits)]) {
    if (!known.has(name)) throw new InputError(`no node named '${name}' in ${prepared.model.path || 'the model'} (see \`qinspect layers\`)`);
  }
  const floats = new Set(options.floatLayers);
  return prepared.nodes.filter((n) => isQuantizableLayer(prepared, n) && !floats.has(n.name));
}

function isQuantizableLayer(prepared: PreparedModel, n: Node): boolean {
  if (n.opType === 'Conv') {
    const w = prepared.constants.get(n.inputs[1]);
    return !!w && w.dims.length === 4 && w.dtype === 'float32' && (!n.inputs[2] || prepared.constants.has(n.inputs[2]));
  }
  if (n.opType === 'Gemm') {
    const w = prepared.constants.get(n.inputs[1]);
    return !!w && w.dims.length === 2 && w.dtype === 'float32' && attrInt(n, 'transA', 0) === 0
      && attrFloat(n, 'alpha', 1) === 1 && attrFloat(n, 'beta', 1) === 1 && (!n.inputs[2] || prepared.constants.has(n.inputs[2]));
  }
  return false;
}

/** The clamp range [lo, hi] in real values of a Relu / Clip node, or undefined when it is not a constant clamp. */
export function activationClamp(prepared: PreparedModel, node: Node): [number, number] | undefined {
  if (node.opType === 'Relu') return [0, Infinity];
  if (node.opType !== 'Clip') return undefined;
  if (defaultOpset(prepared.model) < 11) return [attrFloat(node, 'min', -Infinity), attrFloat(node, 'max', Infinity)];
  const read = (i: number, fallback: number): number | undefined => {
    if (!node.inputs[i]) return fallback;
    const t = prepared.constants.get(node.inputs[i]);
    return t ? toNumbers(t)[0] : undefined;
  };
  const lo = read(1, -Infinity), hi = read(2, Infinity);
  return lo === undefined || hi === undefined ? undefined : [lo, hi];
}

function weightMatrix(node: Node, w: Tensor): { data: Float32Array; out: number; k: number } {
  const d = w.data as Float32Array;
  if (node.opType === 'Conv') return { data: d, out: w.dims[0], k: d.length / w.dims[0] };
  if (attrInt(node, 'transB', 0) === 1) return { data: d, out: w.dims[0], k: w.dims[1] };
  const [k, out] = w.dims; // B is [K, out]: transpose to [out, K]
  const t = new Float32Array(d.length);
  for (let i = 0; i < k; i++) for (let j = 0; j < out; j++) t[j * k + i] = d[i * out + j];
  return { data: t, out, k };
}

/** Builds the plan from calibration statistics. */
export function buildQuantPlan(prepared: PreparedModel, stats: CalibrationStats, options: QuantOptions): QuantPlan {
  checkQuantOptions(options);
  const layerNodes = new Set(quantizableLayers(prepared, options).map((n) => n.name));
  const consumers = new Map<string, Node[]>();
  for (const n of prepared.nodes) for (const i of n.inputs) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const modes = new Map<string, NodeMode>();
  const valueParams = new Map<string, QuantParams>();
  const layers: QuantLayer[] = [];
  const quantized = new Set<string>(); // values that hold codes at run time

  const observerOf = (value: string, node?: Node): StreamingObserver => {
    const o = stats.observers.get(value);
    if (!o) throw new InputError(`${node ? describeNode(node) : 'value'}: no calibration statistics for '${value}'`);
    return o;
  };
  const paramsOf = (value: string, bits: number, node?: Node): QuantParams => {
    const p = calibrate(observerOf(value, node), options.method, bits, { percentile: options.percentile });
    return p;
  };
  /** Params of a value that enters an integer node; quantized at the boundary when it is still float. */
  const inputParams = (value: string, bits: number, node: Node): QuantParams => {
    const known = valueParams.get(value);
    if (known) return known;
    const p = paramsOf(value, bits, node);
    valueParams.set(value, p);
    return p;
  };
  /** A Relu / Clip that alone reads `value`: its clamp range, for fusing into the producer's requantization. */
  const fusedActivation = (value: string): { node: Node; clamp: [number, number] } | undefined => {
    const readers = consumers.get(value) ?? [];
    if (readers.length !== 1 || value === prepared.outputName) return undefined;
    const clamp = activationClamp(prepared, readers[0]);
    return clamp ? { node: readers[0], clamp } : undefined;
  };
  /** Output params of a requantizing node: from the fused activation's output unless quantizing after it too. */
  const outputParams = (node: Node, bits: number): QuantParams => {
    const out = node.outputs[0];
    const act = fusedActivation(out);
    const source = act && !options.quantizeAfterActivation ? act.node.outputs[0] : out;
    const p = paramsOf(source, bits, node);
    valueParams.set(out, p);
    quantized.add(out);
    return p;
  };
  const actBits = (node: Node): number => options.layerActivationBits[node.name] ?? options.activationBits;

  /** The value reaches the graph output through ops that keep int32 codes exact (global pooling, reshapes) only. */
  const reachesOutputLosslessly = (value: string): boolean => {
    for (let v = value; ;) {
      if (v === prepared.outputName) return true;
      const readers = consumers.get(v) ?? [];
      if (readers.length !== 1 || !LOSSLESS_TAIL_OPS.has(readers[0].opType)) return false;
      v = readers[0].outputs[0];
    }
  };
  const opset = defaultOpset(prepared.model);
  const regions = elementwiseRegions(prepared);
  const regionOfInner = new Map<string, ElementwiseRegion>();
  for (const r of regions.values()) for (const n of r.inner) if (!regions.has(n.name)) regionOfInner.set(n.name, r);
  for (const node of prepared.nodes) {
    if (modes.has(node.name)) continue; // planned with an earlier node (a BatchNorm fused into its Concat)
    const x = node.inputs[0];
    const dataInputs = node.inputs.filter((i) => i && !prepared.constants.has(i));
    const anyQuantized = dataInputs.some((i) => quantized.has(i));
    if (layerNodes.has(node.name)) {
      const wide = !options.quantizeOutput && reachesOutputLosslessly(node.outputs[0]);
      const layer = buildLayer(prepared, node, inputParams(x, actBits(node), node), wide ? 'accumulator' : outputParams(node, actBits(node)), stats, options);
      if (wide) { valueParams.set(node.outputs[0], layer.outputParams); quantized.add(node.outputs[0]); }
      layers.push(layer);
      modes.set(node.name, { kind: 'layer', layer });
      continue;
    }
    const region = regions.get(node.name) ?? regionOfInner.get(node.name);
    const tabulated = region && quantized.has(region.source) && valueParams.get(region.source)!.bits <= MAX_TABLE_BITS
      && !(region.inner.length === 0 && activationClamp(prepared, node)); // a lone Relu / Clip stays a clamp on codes
    if (tabulated && region.end !== node) {
      modes.set(node.name, { kind: 'fused', into: region.end.name });
      continue;
    }
    if (tabulated) {
      const input = valueParams.get(region.source)!;
      const output = outputParams(node, actBits(node));
      const table = lookupTable((xs) => region.evaluate(xs, opset), input, output);
      modes.set(node.name, { kind: 'lut', input: region.source, table, inputQmin: input.qmin, output });
      continue;
    }
    const clamp = activationClamp(prepared, node);
    if (clamp && quantized.has(x)) {
      const p = valueParams.get(x)!;
      const lo = Number.isFinite(clamp[0]) ? Math.max(p.qmin, codeOf(clamp[0], p)) : p.qmin;
      const hi = Number.isFinite(clamp[1]) ? Math.min(p.qmax, codeOf(clamp[1], p)) : p.qmax;
      const producerRequantizes = prepared.nodes.some((n) => n.outputs[0] === x && (modes.get(n.name)?.kind === 'layer' || modes.get(n.name)?.kind === 'add'));
      if (options.quantizeAfterActivation && producerRequantizes) {
        const to = paramsOf(node.outputs[0], actBits(node), node);
        modes.set(node.name, { kind: 'clamp', lo, hi, requantTo: to });
        valueParams.set(node.outputs[0], to);
      } else {
        modes.set(node.name, { kind: 'clamp', lo, hi });
        valueParams.set(node.outputs[0], p);
      }
      quantized.add(node.outputs[0]);
      continue;
    }
    if (node.opType === 'Add' && anyQuantized && dataInputs.length === 2) {
      const [a, b] = dataInputs;
      const sa = prepared.shapes.get(a)?.join(','), sb = prepared.shapes.get(b)?.join(',');
      if (sa && sa === sb) {
        inputParams(a, options.activationBits, node);
        inputParams(b, options.activationBits, node);
        modes.set(node.name, { kind: 'add', output: outputParams(node, actBits(node)) });
        continue;
      }
    }
    if (node.opType === 'GlobalAveragePool' && quantized.has(x)) {
      const input = valueParams.get(x)!;
      if (input.bits === 32) { // the logits' tail: the mean of int32 accumulators stays int32, s_out = s_in
        const output = accumulatorParams(input.scale);
        valueParams.set(node.outputs[0], output);
        quantized.add(node.outputs[0]);
        modes.set(node.name, { kind: 'gap', output });
      } else modes.set(node.name, { kind: 'gap', output: outputParams(node, actBits(node)) });
      continue;
    }
    if (node.opType === 'MaxPool' && quantized.has(x) && node.outputs.length === 1) {
      modes.set(node.name, { kind: 'maxpool' });
      valueParams.set(node.outputs[0], valueParams.get(x)!);
      quantized.add(node.outputs[0]);
      continue;
    }
    if (MOVE_OPS.has(node.opType) && quantized.has(x) && dataInputs.length === 1) {
      const p = valueParams.get(x)!;
      let padCode: number | undefined;
      if (node.opType === 'Pad') {
        const mode = node.attributes.mode ?? 'constant';
        const valueTensor = node.inputs[2] ? prepared.constants.get(node.inputs[2]) : undefined;
        const value = valueTensor && valueTensor.data.length > 0 ? Number(valueTensor.data[0]) : attrFloat(node, 'value', 0);
        padCode = mode === 'constant' ? codeOf(value, p) : undefined; // pad value 0 → the zero point
      }
      modes.set(node.name, { kind: 'move', padCode });
      for (const o of node.outputs.filter(Boolean)) {
        valueParams.set(o, p);
        quantized.add(o);
      }
      continue;
    }
    if (node.opType === 'Mul' && anyQuantized && dataInputs.length === 2 && node.inputs.length === 2
      && dataInputs.every((i) => (valueParams.get(i)?.bits ?? options.activationBits) <= 15)) { // |Δq_a·Δq_b| < 2^31
      const [a, b] = dataInputs.map((i) => inputParams(i, options.activationBits, node));
      const output = outputParams(node, actBits(node));
      modes.set(node.name, { kind: 'mul', multiplier: quantizeMultiplier(Math.fround(a.scale * b.scale) / output.scale), output });
      continue;
    }
    if (node.opType === 'AveragePool' && quantized.has(x)) {
      modes.set(node.name, { kind: 'avgpool' });
      valueParams.set(node.outputs[0], valueParams.get(x)!);
      quantized.add(node.outputs[0]);
      continue;
    }
    const affine = quantized.has(x) || (dataInputs.length === 1 && quantized.has(dataInputs[0])) ? channelAffineOf(prepared, node) : undefined;
    if (affine) {
      const input = valueParams.get(affine.input)!;
      const output = outputParams(node, actBits(node));
      modes.set(node.name, { kind: 'affine', input: affine.input, affine: affineOnCodes(affine.a, affine.b, input, output), axis: affine.axis, output });
      continue;
    }
    const bn = node.opType === 'Concat' && anyQuantized ? batchNormAfterConcat(prepared, node, consumers) : undefined;
    if (bn) {
      const affine = channelAffineOf(prepared, bn)!;
      const parts = node.inputs.map((i) => inputParams(i, options.activationBits, node));
      const output = outputParams(bn, actBits(bn));
      let offset = 0;
      const affines = parts.map((p, k) => {
        const channels = prepared.shapes.get(node.inputs[k])![1];
        const slice = affineOnCodes(affine.a.subarray(offset, offset + channels), affine.b.subarray(offset, offset + channels), p, output);
        offset += channels;
        return slice;
      });
      modes.set(node.name, { kind: 'fused', into: bn.name });
      modes.set(bn.name, { kind: 'concat-affine', concat: node, inputs: [...node.inputs], affines, output });
      continue;
    }
    if (node.opType === 'Concat' && anyQuantized) {
      const output = concatParams(dataInputs.map((i) => inputParams(i, options.activationBits, node)), actBits(node));
      valueParams.set(node.outputs[0], output);
      quantized.add(node.outputs[0]);
      modes.set(node.name, { kind: 'concat', output });
      continue;
    }
    modes.set(node.name, { kind: 'float', reason: floatReason(prepared, node, options, anyQuantized) });
  }
  return { options, modes, valueParams, layers, inputName: prepared.inputName, outputName: prepared.outputName };
}

interface RealAffine { input: string; a: Float32Array; b: Float32Array; axis: number }

/**
 * A per-channel affine y = a_c·x + b_c of one data input: an unfolded BatchNormalization (a = γ/√(σ²+ε),
 * b = β − μ·a), or Mul / Add / Sub / Div by a constant that varies along one axis (ConvNeXt's layer scale).
 */
function channelAffineOf(prepared: PreparedModel, node: Node): RealAffine | undefined {
  const dims = prepared.shapes.get(node.inputs[0]);
  if (node.opType === 'BatchNormalization') {
    const params = node.inputs.slice(1, 5).map((i) => prepared.constants.get(i));
    if (!dims || dims.length < 2 || params.length !== 4 || params.some((p) => !p || p.dtype !== 'float32')) return undefined;
    const [gamma, beta, mean, variance] = params.map((p) => p!.data as Float32Array);
    const { a, b } = batchNormCoefficients(gamma, beta, mean, variance, attrFloat(node, 'epsilon', 1e-5));
    if (a.length !== dims[1]) return undefined;
    return { input: node.inputs[0], a: Float32Array.from(a), b: Float32Array.from(b), axis: 1 };
  }
  if (!['Mul', 'Add', 'Sub', 'Div'].includes(node.opType) || node.inputs.length !== 2) return undefined;
  const ci = node.inputs.findIndex((i) => prepared.constants.has(i));
  if (ci < 0 || prepared.constants.has(node.inputs[1 - ci])) return undefined;
  const input = node.inputs[1 - ci];
  const xDims = prepared.shapes.get(input), c = prepared.constants.get(node.inputs[ci])!;
  if (!xDims || c.dtype !== 'float32' || c.dims.length > xDims.length || prepared.shapes.get(node.outputs[0])?.join(',') !== xDims.join(',')) return undefined;
  const cDims = [...new Array(xDims.length - c.dims.length).fill(1), ...c.dims];
  const axes = cDims.flatMap((d, i) => (d !== 1 ? [i] : []));
  if (axes.length > 1 || (axes.length === 1 && cDims[axes[0]] !== xDims[axes[0]])) return undefined;
  const axis = axes[0] ?? xDims.length - 1;
  const channels = axes.length ? xDims[axis] : 1;
  const values = Float32Array.from({ length: channels }, (_, k) => (c.data as Float32Array)[axes.length ? k : 0]);
  const ones = new Float32Array(channels).fill(1), zeros = new Float32Array(channels);
  const layout = axes.length ? axis : -1;
  switch (node.opType) {
    case 'Mul': return { input, a: values, b: zeros, axis: layout };
    case 'Add': return { input, a: ones, b: values, axis: layout };
    case 'Sub': return ci === 1 ? { input, a: ones, b: values.map((v) => -v), axis: layout } : { input, a: ones.map(() => -1), b: values, axis: layout };
    default: return ci === 1 ? { input, a: values.map((v) => 1 / v), b: zeros, axis: layout } : undefined; // c / x is no affine
  }
}

/** The BatchNormalization that alone reads a channel Concat of 4-D data inputs, when there is one. */
function batchNormAfterConcat(prepared: PreparedModel, concat: Node, consumers: Map<string, Node[]>): Node | undefined {
  const readers = consumers.get(concat.outputs[0]) ?? [];
  const dims = prepared.shapes.get(concat.outputs[0]);
  if (readers.length !== 1 || readers[0].opType !== 'BatchNormalization' || !dims || dims.length !== 4 || concat.outputs[0] === prepared.outputName) return undefined;
  if (normalizeAxis(concat, attrInt(concat, 'axis', 0), 4) !== 1 || concat.inputs.some((i) => !i || prepared.constants.has(i))) return undefined;
  return channelAffineOf(prepared, readers[0]) ? readers[0] : undefined;
}

/** y = a_c·x + b_c on codes: q_out = z_out + round(b_c / s_out) + sign(a_c)·M_c·(q − z_in), M_c = |a_c|·s_in / s_out. */
function affineOnCodes(a: Float32Array, b: Float32Array, input: QuantParams, output: QuantParams): ChannelAffine {
  return {
    multipliers: Array.from(a, (ac) => quantizeMultiplier(Math.abs(ac) * input.scale / output.scale)),
    signs: Int8Array.from(a, (ac) => (ac < 0 ? -1 : 1)),
    offsets: Int32Array.from(b, (bc) => Math.round(bc / output.scale)),
  };
}

/**
 * Concat onto one scale: the range that holds every input's range, so no input is clipped by the concatenation and
 * the widest one passes unchanged, [lo, hi] = [min_i s_i(qmin − z_i), max_i s_i(qmax − z_i)]. A calibrated range of the
 * output would clip the largest features (percentile / MSE see them as rare once mixed with the others).
 */
function concatParams(parts: QuantParams[], bits: number): QuantParams {
  const lo = Math.min(...parts.map((p) => p.scale * (p.qmin - p.zeroPoint)));
  const hi = Math.max(...parts.map((p) => p.scale * (p.qmax - p.zeroPoint)));
  return activationParams(lo, hi, bits);
}

/** Why a node runs in float, as the report shows it. */
function floatReason(prepared: PreparedModel, node: Node, options: QuantOptions, anyQuantized: boolean): string {
  if (options.floatLayers.includes(node.name)) return 'kept in float (float layers option)';
  if (node.opType === 'Conv' || node.opType === 'Gemm') return 'weights not constant float32 (or Gemm with transA / alpha / beta)'; // quantizable ones are layers
  if (!anyQuantized) return 'its inputs are float';
  return `no integer kernel for ${node.opType}: dequantized at its input`;
}

function buildLayer(
  prepared: PreparedModel, node: Node, inParams: QuantParams, outSpec: QuantParams | 'accumulator', stats: CalibrationStats, options: QuantOptions,
): QuantLayer {
  const w = prepared.constants.get(node.inputs[1])!;
  const { data, out, k } = weightMatrix(node, w);
  const group = node.opType === 'Conv' ? attrInt(node, 'group', 1) : 1;
  const channelsPerGroup = out / group;
  const bits = options.layerWeightBits[node.name] ?? options.weightBits;
  const samples = stats.samples.get(node.name);
  if (options.weightMethod === 'output' && !samples) throw new InputError(`${describeNode(node)}: no calibration samples for the output-error weight criterion`);
  const weights = quantizeWeights(data, out, { bits, perChannel: options.perChannel, method: options.weightMethod, samples, channelsPerGroup });
  if (options.biasCorrection && options.perChannel) {
    // s_c ← ζ_c·s_c: the codes stay, each channel's gain is restored (a per-tensor scale must stay one value)
    const zeta = weightGainFactors(data, dequantizeWeights(weights), out);
    for (let c = 0; c < out; c++) weights.scales[c] = Math.fround(weights.scales[c] * zeta[c]);
  }
  const wHat = dequantizeWeights(weights);
  let means: Float64Array[] | undefined;
  if (options.biasCorrection) {
    means = stats.inputMeans.get(node.name);
    if (!means) throw new InputError(`${describeNode(node)}: no calibration input means for bias correction`);
  }
  const floatBias = layerFloatBias(prepared, node, { data, wHat, out, channelsPerGroup }, means, means);
  const bias = quantizeBias(floatBias, out, inParams.scale, weights.scales);
  // M = s_in·s_w/s_out, formed in float32 as ONNX runtimes do (QLinearConv), so M0 holds it exactly
  const outParams = outSpec === 'accumulator' ? accumulatorParams(Math.fround(inParams.scale * Math.max(...weights.scales))) : outSpec;
  const multipliers = Array.from(weights.scales, (sw, c) => {
    try {
      return quantizeMultiplier(Math.fround(Math.fround(inParams.scale * sw) / outParams.scale));
    } catch (e) { // e.g. weights near float32's limit: name the layer, not just the number
      if (e instanceof InputError) throw new InputError(`${describeNode(node)}, output channel ${c}: ${e.message}; its weights or activations are far out of range`);
      throw e;
    }
  });
  const weightCodes = bits <= 8 ? Int8Array.from(weights.codes) : weights.codes;
  return {
    name: node.name,
    op: node.opType as 'Conv' | 'Gemm',
    weightBits: bits,
    activationBits: outParams.bits,
    weights,
    weightCodes,
    weightDims: [...w.dims],
    outChannels: out,
    group,
    bias,
    inputParams: inParams,
    outputParams: outParams,
    multipliers,
    weightSqnrDb: weightSqnrDb(data, wHat),
    accumulatorBound: accumulatorBound(k, inParams, weights.qmax, bias),
  };
}

/** The largest |accumulator| that weights and input codes allow: K·max|x−z|·max|w| + max|b|. */
function accumulatorBound(k: number, inParams: QuantParams, weightQmax: number, bias: Int32Array): number {
  const maxX = Math.max(inParams.zeroPoint - inParams.qmin, inParams.qmax - inParams.zeroPoint);
  let maxBias = 0;
  for (const b of bias) maxBias = Math.max(maxBias, Math.abs(b));
  return k * maxX * weightQmax + maxBias;
}

interface LayerWeights { data: Float32Array; wHat: Float32Array; out: number; channelsPerGroup: number }

/**
 * The layer's float bias, corrected when mean input columns are given: b' = b + W·E[x] − Ŵ·E[x̂]
 * (E[x] from the float model, E[x̂] from the quantized one; equal means give the layer's own (W − Ŵ)·E[x]).
 */
function layerFloatBias(prepared: PreparedModel, node: Node, w: LayerWeights, floatMeans?: Float64Array[], quantizedMeans?: Float64Array[]): Float64Array {
  const biasTensor = node.inputs[2] ? prepared.constants.get(node.inputs[2]) : undefined;
  const floatBias = Float64Array.from(biasTensor ? (biasTensor.data as Float32Array) : new Float32Array(w.out));
  if (floatBias.length !== w.out) throw new InputError(`${describeNode(node)}: bias has ${floatBias.length} values for ${w.out} output channels`);
  if (floatMeans && quantizedMeans) {
    const delta = biasCorrection(w.data, w.wHat, w.out, floatMeans, w.channelsPerGroup, quantizedMeans);
    for (let c = 0; c < w.out; c++) floatBias[c] += delta[c];
  }
  return floatBias;
}

/**
 * Re-derives a layer's int32 bias in place from the float and quantized models' mean input columns on the same
 * calibration images (the sequential bias correction of engine/bias-correction.ts).
 */
export function correctLayerBias(prepared: PreparedModel, node: Node, layer: QuantLayer, floatMeans: Float64Array[], quantizedMeans: Float64Array[]): void {
  const { data, out, k } = weightMatrix(node, prepared.constants.get(node.inputs[1])!);
  const wHat = dequantizeWeights(layer.weights);
  const floatBias = layerFloatBias(prepared, node, { data, wHat, out, channelsPerGroup: out / layer.group }, floatMeans, quantizedMeans);
  layer.bias.set(quantizeBias(floatBias, out, layer.inputParams.scale, layer.weights.scales));
  layer.accumulatorBound = accumulatorBound(k, layer.inputParams, layer.weights.qmax, layer.bias);
}

/** Activation params of a value for a method, exposed for tables and inspection. */
export function valueParamsFor(obs: StreamingObserver, method: CalibrationMethod, bits: number): QuantParams {
  return calibrate(obs, method, bits);
}

export { activationParams };
