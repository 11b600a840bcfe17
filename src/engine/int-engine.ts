/**
 * The integer engine: runs a QuantPlan on a prepared model. Conv / linear layers multiply integer codes into
 * int32 accumulators and requantize with fixed-point multipliers; Relu / Relu6 clamp codes; Add, pooling, Concat
 * and data movement act on codes. Float nodes see dequantized inputs. Hooks observe every quantized tensor and
 * the accumulator magnitudes.
 */
import { defaultOpset, describeNode, Model, Node } from '../graph/ir';
import { checkInputShape, prepareModel } from '../graph/prepare';
import { Tensor, elementCount, floatTensor, shapeString } from '../graph/tensor';
import { FLOAT_KERNELS } from '../kernels/float';
import { conv2dParams } from '../kernels/float/conv';
import { pool2dParams } from '../kernels/float/pool';
import { addInt, addRescale } from '../kernels/int/add';
import { multiplierArrays, tryQConv2dWasm } from '../kernels/wasm';
import { convIntAccumulate } from '../kernels/int/conv';
import { Accumulators, Codes, igemm } from '../kernels/int/gemm';
import { maxPoolInt, globalAveragePoolInt } from '../kernels/int/pool';
import { maxAbs, requantRounding, requantizeInto } from '../kernels/int/requant';
import { channelAffineInt, lookupInt, mulInt } from '../kernels/int/elementwise';
import { QuantParams, dequantizeArray, quantizeArray } from '../quant/quantizer';
import { quantizeMultiplier, INT32_MAX } from '../quant/requantize';
import { InputError } from '../util/errors';
import type { QuantLayer, QuantPlan } from './int-plan';
import type { PreparedModel } from './types';

/** Integer codes with their quantizer: real value = scale · (code − zeroPoint). */
export interface QTensor {
  dims: number[];
  codes: Codes;
  params: QuantParams;
}

export interface IntRunHooks {
  /** Every tensor that holds codes, when produced (also float → integer boundary quantizations). */
  onQuantized?(valueName: string, q: QTensor, node: Node | undefined): void;
  /** Largest |accumulator| of a requantizing node (conv / linear / add / pool) in this batch. */
  onAccumulator?(nodeName: string, maxAbsAccumulator: number): void;
  /** Float outputs of nodes left in float. */
  onFloat?(valueName: string, t: Tensor, node: Node): void;
  /** Node indices before which the run reports a checkpoint (onCheckpoint), to be resumed there later. */
  checkpoints?: ReadonlySet<number>;
  onCheckpoint?(checkpoint: GraphCheckpoint): void;
  checkCancelled?(): void;
}

export type Value = QTensor | Tensor;

/**
 * A run paused just before node `at` (an index into the prepared nodes): the values still to be read then. A run of
 * the same plan resumed there computes what the whole run would have, bit for bit; so does one of a plan that
 * differs only from node `at` on. Values are never written after they are produced, so this holds references.
 */
export interface GraphCheckpoint {
  at: number;
  values: Map<string, Value>;
}

function isQ(v: Value): v is QTensor {
  return (v as QTensor).params !== undefined;
}

/** Codes array for params: Uint8Array for unsigned ≤ 8 bits, Int8Array for signed ≤ 8 bits, else Int32Array. */
export function allocCodes(p: QuantParams, size: number): Codes {
  if (p.bits <= 8) return p.signed ? new Int8Array(size) : new Uint8Array(size);
  return new Int32Array(size);
}

function quantizeTensor(t: Tensor, p: QuantParams): QTensor {
  const codes = quantizeArray(t.data as Float32Array, p, allocCodes(p, t.data.length)); // q = clamp(round(x/s) + z, qmin, qmax)
  return { dims: [...t.dims], codes, params: p };
}

export function dequantizeTensor(q: QTensor): Tensor {
  return floatTensor([...q.dims], dequantizeArray(q.codes, q.params)); // x̂ = s (q − z)
}

function asCodeTensor(q: QTensor): Tensor {
  const dtype = q.codes instanceof Uint8Array ? 'uint8' : q.codes instanceof Int8Array ? 'int8' : q.codes instanceof Int16Array ? 'int16' : 'int32';
  return { dtype, dims: q.dims, data: q.codes };
}

/** acc → codes, per output channel c (channel-major blocks of `spatial` values per image). */
function requantizeChannels(layer: QuantLayer, acc: Accumulators, batch: number, spatial: number, out: Codes, lo: number, hi: number): void {
  const z = layer.outputParams.zeroPoint;
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < layer.outChannels; c++) {
      const start = (n * layer.outChannels + c) * spatial;
      requantizeInto(acc, start, spatial, layer.multipliers[c], z, lo, hi, out, start);
    }
  }
}

function accumulators(layer: QuantLayer, size: number): Accumulators {
  return layer.accumulatorBound <= INT32_MAX ? new Int32Array(size) : new Float64Array(size);
}

function runConv(node: Node, layer: QuantLayer, x: QTensor, hooks?: IntRunHooks): QTensor {
  const p = conv2dParams(node, x.dims, layer.weightDims);
  const spatial = p.oh * p.ow;
  { // fused conv + requantization in wasm SIMD when exact, in the selected rounding; it reports max |acc| too
    const o = layer.outputParams;
    const out = allocCodes(o, p.n * p.oc * spatial);
    const onAccumulator = hooks?.onAccumulator;
    const fused = tryQConv2dWasm(p, {
      x: x.codes, xZero: x.params.zeroPoint, w: layer.weightCodes, wZero: 0, bias: layer.bias,
      ...multiplierArrays(layer.multipliers), yZero: o.zeroPoint, qmin: o.qmin, qmax: o.qmax, y: out, rounding: requantRounding(),
      ...(onAccumulator ? { onMaxAbsAccumulator: (m: number) => onAccumulator(node.name, m) } : {}),
    });
    if (fused) return { dims: x.dims.length === 3 ? [p.n, p.oc, p.ow] : [p.n, p.oc, p.oh, p.ow], codes: out, params: o };
  }
  const acc = accumulators(layer, p.n * p.oc * spatial);
  convIntAccumulate(p, x.codes, x.params.zeroPoint, layer.weightCodes, layer.bias, acc);
  hooks?.onAccumulator?.(node.name, maxAbs(acc));
  const o = layer.outputParams;
  const out = allocCodes(o, acc.length);
  requantizeChannels(layer, acc, p.n, spatial, out, o.qmin, o.qmax);
  return { dims: x.dims.length === 3 ? [p.n, p.oc, p.ow] : [p.n, p.oc, p.oh, p.ow], codes: out, params: o };
}

/** Y[n, o] = requant(bias[o] + Σ_k (x[n,k] − zx)·w[o,k]): GEMM of W [O, K] with Xᵀ [K, N]. */
function runGemm(node: Node, layer: QuantLayer, x: QTensor, hooks?: IntRunHooks): QTensor {
  if (x.dims.length !== 2) throw new InputError(`${describeNode(node)}: input must be 2-D, got ${shapeString(x.dims)}`);
  const [batch, k] = x.dims;
  const o = layer.outChannels;
  if (k * o !== layer.weightCodes.length) throw new InputError(`${describeNode(node)}: input has ${k} features, weights expect ${layer.weightCodes.length / o}`);
  const xt = allocCodes(x.params, k * batch);
  for (let n = 0; n < batch; n++) for (let i = 0; i < k; i++) xt[i * batch + n] = x.codes[n * k + i];
  const acc = accumulators(layer, o * batch);
  igemm(o, batch, k, layer.weightCodes, 0, xt, x.params.zeroPoint, acc, layer.bias, true);
  hooks?.onAccumulator?.(node.name, maxAbs(acc));
  const p = layer.outputParams;
  const codesT = allocCodes(p, o * batch);
  for (let c = 0; c < o; c++) requantizeInto(acc, c * batch, batch, layer.multipliers[c], p.zeroPoint, p.qmin, p.qmax, codesT, c * batch);
  const out = allocCodes(p, o * batch);
  for (let c = 0; c < o; c++) for (let n = 0; n < batch; n++) out[n * o + c] = codesT[c * batch + n];
  return { dims: [batch, o], codes: out, params: p };
}

/** Codes of `from` re-expressed under `to`: q' = clamp(z' + (s/s')·(q − z)). */
function requantizeTensor(q: QTensor, to: QuantParams): QTensor {
  const f = q.params;
  if (f.scale === to.scale && f.zeroPoint === to.zeroPoint && f.qmin === to.qmin && f.qmax === to.qmax) return q;
  const m = quantizeMultiplier(f.scale / to.scale);
  const centred = new Int32Array(q.codes.length);
  for (let i = 0; i < centred.length; i++) centred[i] = q.codes[i] - f.zeroPoint;
  const out = allocCodes(to, centred.length);
  requantizeInto(centred, 0, centred.length, m, to.zeroPoint, to.qmin, to.qmax, out, 0);
  return { dims: q.dims, codes: out, params: to };
}

/** dims viewed as [outer, channels, inner] around `axis` (−1: one channel holding everything). */
function axisLayout(dims: readonly number[], axis: number): { outer: number; channels: number; inner: number } {
  if (axis < 0) return { outer: 1, channels: 1, inner: elementCount(dims) };
  return { outer: elementCount(dims.slice(0, axis)), channels: dims[axis], inner: elementCount(dims.slice(axis + 1)) };
}

/** Computes requantization parameters for a node; an out-of-range scale becomes an InputError naming the node. */
function forNode<T>(node: Node, compute: () => T): T {
  try {
    return compute();
  } catch (e) {
    if (e instanceof InputError && !e.message.includes(node.name)) throw new InputError(`${describeNode(node)}: ${e.message}`);
    throw e;
  }
}

/** A quantized model: the plan plus prepared graphs per batch size. */
export class IntModel {
  private readonly prepared = new Map<number, PreparedModel>();

  constructor(readonly model: Model, readonly plan: QuantPlan, first?: PreparedModel) {
    if (first) this.prepared.set(first.batchSize, first);
  }

  getPrepared(batch: number): PreparedModel {
    let p = this.prepared.get(batch);
    if (!p) { p = prepareModel(this.model, batch); this.prepared.set(batch, p); }
    return p;
  }

  /** Runs a batch [N, ...] (from a checkpoint of it, when given) and returns the dequantized output (float logits). */
  run(input: Tensor, hooks?: IntRunHooks, from?: GraphCheckpoint): Tensor {
    const out = this.runValue(input, hooks, from);
    return isQ(out) ? dequantizeTensor(out) : out;
  }

  /** Runs a batch and returns the output as it is: codes when the last layer is quantized. */
  runValue(input: Tensor, hooks?: IntRunHooks, from?: GraphCheckpoint): Value {
    return runIntGraph(this.preparedFor(input), this.plan, input, hooks, from);
  }

  /** Runs a batch step by step, pausing before each conv / linear layer (see intGraphSteps). */
  steps(input: Tensor, hooks?: IntRunHooks, from?: GraphCheckpoint): Generator<LayerStep, Value, void> {
    return intGraphSteps(this.preparedFor(input), this.plan, input, hooks, from);
  }

  private preparedFor(input: Tensor): PreparedModel {
    if (input.dims.length === 0) throw new InputError(`input must have a batch axis, got shape ${shapeString(input.dims)}`);
    const prepared = this.getPrepared(input.dims[0]);
    checkInputShape(prepared, input.dims);
    return prepared;
  }
}

/** A conv / linear layer about to run, with its input codes: where intGraphSteps pauses. */
export interface LayerStep {
  node: Node;
  layer: QuantLayer;
  x: QTensor;
}

/** Executes the plan over the prepared graph for one batch. */
export function runIntGraph(prepared: PreparedModel, plan: QuantPlan, input: Tensor, hooks?: IntRunHooks, from?: GraphCheckpoint): Value {
  const steps = intGraphSteps(prepared, plan, input, hooks, from);
  let step = steps.next();
  while (!step.done) step = steps.next();
  return step.value;
}

/**
 * The same execution, paused before each conv / linear layer: the caller may still change the layer (its bias)
 * before resuming. Several batches stepped in lockstep see each layer together (sequential bias correction).
 */
export function* intGraphSteps(
  prepared: PreparedModel, plan: QuantPlan, input: Tensor, hooks?: IntRunHooks, from?: GraphCheckpoint,
): Generator<LayerStep, Value, void> {
  const opset = defaultOpset(prepared.model);
  const start = from?.at ?? 0;
  if (!Number.isInteger(start) || start < 0 || start > prepared.nodes.length) throw new Error(`checkpoint at node ${start} is outside the graph`);
  const values = new Map<string, Value>(from ? from.values : [[prepared.inputName, input]]);
  const remaining = new Map<string, number>();
  // a table reads its region's source, which need not be among the end node's own inputs
  const reads = (n: Node): string[] => {
    const m = plan.modes.get(n.name);
    return m?.kind === 'lut' ? [...n.inputs, m.input] : m?.kind === 'concat-affine' ? [...n.inputs, ...m.inputs] : n.inputs;
  };
  for (const n of prepared.nodes.slice(start)) for (const i of reads(n)) if (i) remaining.set(i, (remaining.get(i) ?? 0) + 1);
  remaining.set(prepared.outputName, (remaining.get(prepared.outputName) ?? 0) + 1);

  const get = (name: string, node: Node): Value => {
    const v = values.get(name) ?? prepared.constants.get(name);
    if (!v) throw new InputError(`${describeNode(node)}: input '${name}' has no value`);
    return v;
  };
  const codesOf = (name: string, node: Node): QTensor => {
    const v = get(name, node);
    if (isQ(v)) return v;
    const p = plan.valueParams.get(name);
    if (!p) throw new InputError(`${describeNode(node)}: no quantization parameters for '${name}'`);
    const q = quantizeTensor(v, p);
    hooks?.onQuantized?.(name, q, undefined);
    return q;
  };
  const floatOf = (name: string, node: Node): Tensor | undefined => {
    if (!name) return undefined;
    const v = get(name, node);
    return isQ(v) ? dequantizeTensor(v) : v;
  };
  const emit = (node: Node, q: QTensor): void => {
    values.set(node.outputs[0], q);
    hooks?.onQuantized?.(node.outputs[0], q, node);
  };

  for (let index = start; index < prepared.nodes.length; index++) {
    const node = prepared.nodes[index];
    hooks?.checkCancelled?.();
    if (hooks?.checkpoints?.has(index) && index !== start) hooks.onCheckpoint?.({ at: index, values: new Map(values) });
    const mode = plan.modes.get(node.name) ?? { kind: 'float' as const, reason: '' };
    const x = node.inputs[0];
    switch (mode.kind) {
      case 'layer': {
        const q = codesOf(x, node);
        yield { node, layer: mode.layer, x: q };
        emit(node, node.opType === 'Conv' ? runConv(node, mode.layer, q, hooks) : runGemm(node, mode.layer, q, hooks));
        break;
      }
      case 'clamp': {
        const q = codesOf(x, node);
        let clamped = q; // the producer's requantization already clamped to [lo, hi]: codes are shared, never written
        if (mode.lo > q.params.qmin || mode.hi < q.params.qmax) {
          const out = allocCodes(q.params, q.codes.length);
          for (let i = 0; i < out.length; i++) { const c = q.codes[i]; out[i] = c < mode.lo ? mode.lo : c > mode.hi ? mode.hi : c; } // ReLU / ReLU6 on codes
          clamped = { dims: q.dims, codes: out, params: q.params };
        }
        emit(node, mode.requantTo ? requantizeTensor(clamped, mode.requantTo) : clamped);
        break;
      }
      case 'add': {
        const [a, b] = node.inputs.filter((i) => i && !prepared.constants.has(i)).map((i) => codesOf(i, node));
        const o = mode.output;
        const out = allocCodes(o, a.codes.length);
        const acc = addInt(a.codes, a.params.zeroPoint, b.codes, b.params.zeroPoint,
          forNode(node, () => addRescale(a.params.scale, b.params.scale, o.scale, Math.max(a.params.bits, b.params.bits))), o.zeroPoint, o.qmin, o.qmax, out);
        hooks?.onAccumulator?.(node.name, acc);
        emit(node, { dims: a.dims, codes: out, params: o });
        break;
      }
      case 'gap': {
        const q = codesOf(x, node);
        const [n, c] = q.dims;
        const area = elementCount(q.dims.slice(2));
        const o = mode.output;
        const out = allocCodes(o, n * c);
        const m = forNode(node, () => quantizeMultiplier(q.params.scale / (o.scale * area))); // M = s_in / (s_out·H·W)
        const acc = globalAveragePoolInt(q.codes, n * c, area, q.params.zeroPoint, m, o.zeroPoint, o.qmin, o.qmax, out);
        hooks?.onAccumulator?.(node.name, acc);
        emit(node, { dims: [n, c, ...q.dims.slice(2).map(() => 1)], codes: out, params: o });
        break;
      }
      case 'maxpool': {
        const q = codesOf(x, node);
        const g = pool2dParams(node, q.dims);
        const out = allocCodes(q.params, g.n * g.c * g.oh * g.ow);
        maxPoolInt(g, q.codes, out);
        emit(node, { dims: q.dims.length === 3 ? [g.n, g.c, g.ow] : [g.n, g.c, g.oh, g.ow], codes: out, params: q.params });
        break;
      }
      case 'move': {
        const q = codesOf(x, node);
        const ins = node.inputs.map((name, i) => (i === 0 ? asCodeTensor(q) : name ? (prepared.constants.get(name) as Tensor) : undefined));
        if (node.opType === 'Pad' && mode.padCode !== undefined) ins[2] = floatTensor([], Float32Array.of(mode.padCode)); // pad with the code of the pad value
        const outs = FLOAT_KERNELS[node.opType](node, ins, opset);
        node.outputs.forEach((o, k) => {
          if (!o || !outs[k]) return;
          const moved = { dims: outs[k].dims, codes: outs[k].data as Codes, params: q.params };
          values.set(o, moved);
          hooks?.onQuantized?.(o, moved, node);
        });
        break;
      }
      case 'concat': {
        const parts = node.inputs.map((i) => (prepared.constants.has(i) ? quantizeTensor(prepared.constants.get(i)!, mode.output) : requantizeTensor(codesOf(i, node), mode.output)));
        const [t] = FLOAT_KERNELS.Concat(node, parts.map(asCodeTensor), opset);
        emit(node, { dims: t.dims, codes: t.data as Codes, params: mode.output });
        break;
      }
      case 'concat-affine': {
        const o = mode.output;
        const parts = mode.inputs.map((name, k) => {
          const q = codesOf(name, node);
          const out = allocCodes(o, q.codes.length);
          channelAffineInt(q.codes, axisLayout(q.dims, 1), q.params.zeroPoint, mode.affines[k], o.zeroPoint, o.qmin, o.qmax, out);
          return asCodeTensor({ dims: q.dims, codes: out, params: o });
        });
        const [t] = FLOAT_KERNELS.Concat(mode.concat, parts, opset);
        emit(node, { dims: t.dims, codes: t.data as Codes, params: o });
        break;
      }
      case 'lut': {
        const q = codesOf(mode.input, node);
        const out = allocCodes(mode.output, q.codes.length);
        lookupInt(q.codes, mode.inputQmin, mode.table, out);
        emit(node, { dims: q.dims, codes: out, params: mode.output });
        break;
      }
      case 'mul': {
        const [a, b] = node.inputs.map((i) => codesOf(i, node));
        const o = mode.output;
        const r = mulInt(node, { dims: a.dims, codes: a.codes, zero: a.params.zeroPoint }, { dims: b.dims, codes: b.codes, zero: b.params.zeroPoint },
          mode.multiplier, o.zeroPoint, o.qmin, o.qmax, (size) => allocCodes(o, size));
        hooks?.onAccumulator?.(node.name, r.maxAccumulator);
        emit(node, { dims: r.dims, codes: r.codes, params: o });
        break;
      }
      case 'avgpool': {
        const q = codesOf(x, node);
        const centred = new Float32Array(q.codes.length); // q − z: exact in float32, so the pool's sums are exact integers
        for (let i = 0; i < centred.length; i++) centred[i] = q.codes[i] - q.params.zeroPoint;
        const [mean] = FLOAT_KERNELS.AveragePool(node, [floatTensor([...q.dims], centred)], opset);
        const out = allocCodes(q.params, mean.data.length);
        const md = mean.data as Float32Array;
        for (let i = 0; i < out.length; i++) out[i] = Math.min(q.params.qmax, Math.max(q.params.qmin, Math.round(md[i]) + q.params.zeroPoint)); // q = z + round(mean(q − z))
        emit(node, { dims: mean.dims, codes: out, params: q.params });
        break;
      }
      case 'affine': {
        const q = codesOf(mode.input, node);
        const o = mode.output;
        const out = allocCodes(o, q.codes.length);
        channelAffineInt(q.codes, axisLayout(q.dims, mode.axis), q.params.zeroPoint, mode.affine, o.zeroPoint, o.qmin, o.qmax, out);
        emit(node, { dims: q.dims, codes: out, params: o });
        break;
      }
      case 'fused':
        break;
      case 'float': {
        const kernel = FLOAT_KERNELS[node.opType];
        if (!kernel) throw new InputError(`${describeNode(node)}: unsupported operator ${node.opType}`);
        const outs = kernel(node, node.inputs.map((i) => floatOf(i, node)), opset);
        node.outputs.forEach((o, k) => {
          if (o && outs[k]) { values.set(o, outs[k]); hooks?.onFloat?.(o, outs[k], node); }
        });
        break;
      }
    }
    for (const name of reads(node)) {
      if (!name) continue;
      const left = (remaining.get(name) ?? 0) - 1;
      remaining.set(name, left);
      if (left <= 0) values.delete(name);
    }
  }
  const out = values.get(prepared.outputName) ?? prepared.constants.get(prepared.outputName);
  if (!out) throw new InputError(`output '${prepared.outputName}' was not produced`);
  return out;
}
