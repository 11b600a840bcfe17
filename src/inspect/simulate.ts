/**
 * Simulated quantization for sensitivity analysis: selected layers run with quantize→dequantize round trips (the
 * project's quantizers and calibration), the rest in float. Per batch, the float run is cached and each plan resumes
 * from its first quantized node, so quantizing a late layer costs only the tail of the network.
 */
import type { Dataset, Preprocess } from '../data';
import { iterateBatches } from '../data';
import { FloatModel, runFloatAll, runGraph } from '../engine/float-engine';
import type { LayerInfo, PreparedModel } from '../engine/types';
import { defaultOpset, type Node } from '../graph/ir';
import type { Tensor } from '../graph/tensor';
import { FLOAT_KERNELS } from '../kernels/float';
import { StreamingObserver, calibrate, type CalibrationMethod } from '../quant/observers';
import { fakeQuantizeArray, type QuantParams } from '../quant/quantizer';
import { dequantizeWeights, quantizeBias, quantizeWeights, type QuantizedWeights, type WeightMethod } from '../quant/weights';
import { InputError } from '../util/errors';
import { toLayerLayout } from './collect';
import { ErrorAccumulator, argmaxRows } from './metrics';
import type { Evaluation, LayerBits, PrecisionPlan } from './sensitivity';
import { weightsByOutputChannel } from './weights';

export interface SimulationSettings {
  perChannel: boolean;
  weightMethod: WeightMethod;
  calibration: CalibrationMethod;
  /** Also quantize the activation's output (a second quantizer after ReLU/ReLU6), not only the layer output before it. */
  quantizeAfterActivation?: boolean;
}

/** Observers of each layer's input, output (before the activation) and activation output, filled on calibration images. */
export interface LayerObservers {
  input: StreamingObserver;
  output: StreamingObserver;
  activation?: StreamingObserver;
  activationNode?: string;
}

function activationNodeOf(prepared: PreparedModel, layer: LayerInfo): Node | undefined {
  if (!layer.activation) return undefined;
  const node = prepared.nodes.find((n) => n.name === layer.name);
  return node ? prepared.nodes.find((n) => n.inputs[0] === node.outputs[0] && (n.opType === 'Relu' || n.opType === 'Clip')) : undefined;
}

/** Calibration pass: streaming histograms of every layer's input and output, in float. */
export function observeLayers(model: FloatModel, layers: readonly LayerInfo[], dataset: Dataset, preprocess: Preprocess, batchSize: number, onBatch?: (done: number) => void): Map<string, LayerObservers> {
  const obs = new Map<string, LayerObservers>();
  const byNode = new Map<string, { layer: string; role: 'layer' | 'activation' }>();
  let done = 0;
  for (const batch of iterateBatches(dataset, batchSize, preprocess)) {
    const prepared = model.getPrepared(batch.input.dims[0]);
    if (obs.size === 0) {
      for (const l of layers) {
        const act = activationNodeOf(prepared, l);
        obs.set(l.name, { input: new StreamingObserver(), output: new StreamingObserver(), activation: act ? new StreamingObserver() : undefined, activationNode: act?.name });
        byNode.set(l.name, { layer: l.name, role: 'layer' });
        if (act) byNode.set(act.name, { layer: l.name, role: 'activation' });
      }
    }
    const opset = defaultOpset(prepared.model);
    model.run(batch.input, {
      replaceNode(node, inputs) {
        const hit = byNode.get(node.name);
        if (!hit) return undefined;
        const o = obs.get(hit.layer)!;
        if (hit.role === 'layer') o.input.observe(inputs[0]!.data as Float32Array);
        const out = FLOAT_KERNELS[node.opType](node, inputs, opset);
        (hit.role === 'layer' ? o.output : o.activation!).observe(out[0].data as Float32Array);
        return out;
      },
    });
    done += batch.input.dims[0];
    onBatch?.(done);
  }
  if (obs.size === 0) throw new InputError(`${dataset.source}: no calibration images`);
  return obs;
}

interface LayerQuant {
  weight: Tensor;
  bias?: Tensor;
  input: QuantParams;
  output: QuantParams;
  activation?: QuantParams;
}

/** Runs plans of per-layer bit widths with simulated quantization and compares them with the float model. */
export class QuantSimulator {
  private readonly cache = new Map<string, LayerQuant>();
  private readonly weightCache = new Map<string, QuantizedWeights>();
  private readonly byName: Map<string, LayerInfo>;

  constructor(
    readonly model: FloatModel,
    readonly layers: readonly LayerInfo[],
    readonly observers: Map<string, LayerObservers>,
    readonly settings: SimulationSettings,
  ) {
    this.byName = new Map(layers.map((l) => [l.name, l]));
  }

  /** Quantized weights of a layer at a bit width (cached). */
  quantizedWeights(prepared: PreparedModel, layer: LayerInfo, bits: number): QuantizedWeights {
    const key = `${layer.name}|${bits}`;
    let q = this.weightCache.get(key);
    if (!q) {
      const { weights, channels } = weightsByOutputChannel(prepared, layer);
      const method = this.settings.weightMethod === 'output' ? 'mse' : this.settings.weightMethod;
      q = quantizeWeights(weights, channels, { bits, perChannel: this.settings.perChannel, method });
      this.weightCache.set(key, q);
    }
    return q;
  }

  /** Simulation parameters of a layer at a bit width: dequantized weights and int32-rounded bias, input/output quantizers. */
  layerParams(prepared: PreparedModel, node: Node, bits: LayerBits): LayerQuant {
    return this.layerQuant(prepared, node, this.byName.get(node.name)!, bits);
  }

  /** Runs a plan on a batch whose float values are known; afterLayer sees each quantized layer's output. */
  runPlanFrom(prepared: PreparedModel, values: Map<string, Tensor>, plan: PrecisionPlan, afterLayer?: (node: Node, out: Tensor) => void): Tensor {
    const order = new Map(prepared.nodes.map((n, i) => [n, i]));
    const activationOf = new Map<string, string>();
    for (const l of this.layers) { const a = this.observers.get(l.name)?.activationNode; if (a) activationOf.set(a, l.name); }
    const first = Math.min(...prepared.nodes.filter((n) => plan[n.name]).map((n) => order.get(n)!));
    if (!Number.isFinite(first)) return values.get(prepared.outputName)!;
    return this.runPlan(prepared, values, order, first, plan, activationOf, afterLayer);
  }

  private layerQuant(prepared: PreparedModel, node: Node, layer: LayerInfo, bits: LayerBits): LayerQuant {
    const key = `${layer.name}|${bits.weightBits}|${bits.activationBits}`;
    let lq = this.cache.get(key);
    if (lq) return lq;
    const obs = this.observers.get(layer.name)!;
    const q = this.quantizedWeights(prepared, layer, bits.weightBits);
    const original = prepared.constants.get(layer.weightName)!;
    const input = calibrate(obs.input, this.settings.calibration, bits.activationBits);
    let bias: Tensor | undefined;
    const b = node.inputs[2] ? prepared.constants.get(node.inputs[2]) : undefined;
    if (b) {
      // b̂ = round(b / (s_in·s_w))·s_in·s_w: the int32 bias the integer engine adds to the accumulator
      const codes = quantizeBias(b.data as Float32Array, q.scales.length, input.scale, q.scales);
      const data = new Float32Array(codes.length);
      for (let c = 0; c < codes.length; c++) data[c] = codes[c] * input.scale * q.scales[c];
      bias = { dtype: 'float32', dims: [...b.dims], data };
    }
    lq = {
      weight: { dtype: 'float32', dims: [...original.dims], data: toLayerLayout(node, dequantizeWeights(q), original.dims) },
      bias,
      input,
      // like the integer engine: a fused ReLU/ReLU6 output is calibrated on the activation's range (its clamp is then free)
      output: calibrate(obs.activation && !this.settings.quantizeAfterActivation ? obs.activation : obs.output, this.settings.calibration, bits.activationBits),
      activation: obs.activation ? calibrate(obs.activation, this.settings.calibration, bits.activationBits) : undefined,
    };
    this.cache.set(key, lq);
    return lq;
  }

  /**
   * Evaluate every plan on the data set. Labels give accuracy; the float model's own predictions give agreement
   * and its logits the SQNR.
   */
  evaluatePlans(dataset: Dataset, preprocess: Preprocess, batchSize: number, plans: readonly PrecisionPlan[], onBatch?: (done: number) => void): { float: Evaluation; plans: Evaluation[] } {
    for (const plan of plans) for (const name of Object.keys(plan)) if (!this.byName.has(name)) throw new InputError(`no conv/linear layer named '${name}'`);
    const tally = plans.map(() => ({ correct: 0, agree: 0, err: new ErrorAccumulator(), ms: 0 }));
    let floatMs = 0;
    let floatCorrect = 0, images = 0;
    for (const batch of iterateBatches(dataset, batchSize, preprocess)) {
      const prepared = this.model.getPrepared(batch.input.dims[0]);
      const order = new Map(prepared.nodes.map((n, i) => [n, i]));
      const activationOf = new Map<string, string>(); // activation node → its layer
      for (const l of this.layers) { const a = this.observers.get(l.name)?.activationNode; if (a) activationOf.set(a, l.name); }
      const floatStart = performance.now();
      const values = runFloatAll(prepared, batch.input);
      floatMs += performance.now() - floatStart;
      const floatLogits = values.get(prepared.outputName)!;
      const classes = floatLogits.dims[1];
      const floatPred = argmaxRows(floatLogits.data as Float32Array, classes);
      floatPred.forEach((p, i) => { if (p === batch.labels[i]) floatCorrect++; });
      plans.forEach((plan, k) => {
        const planStart = performance.now();
        const first = Math.min(...prepared.nodes.filter((n) => plan[n.name]).map((n) => order.get(n)!));
        const logits = Number.isFinite(first) ? this.runPlan(prepared, values, order, first, plan, activationOf) : floatLogits;
        const pred = argmaxRows(logits.data as Float32Array, classes);
        const t = tally[k];
        pred.forEach((p, i) => { if (p === batch.labels[i]) t.correct++; if (p === floatPred[i]) t.agree++; });
        t.err.add(floatLogits.data as Float32Array, logits.data as Float32Array);
        t.ms += performance.now() - planStart;
      });
      images += batch.input.dims[0];
      onBatch?.(images);
    }
    if (images === 0) throw new InputError(`${dataset.source}: no images to evaluate`);
    return {
      float: { accuracy: (100 * floatCorrect) / images, agreement: 100, logitSqnrDb: Infinity, seconds: floatMs / 1000 },
      // each plan's own time (the shared float run is reported once, as the float evaluation's)
      plans: tally.map((t) => ({ accuracy: (100 * t.correct) / images, agreement: (100 * t.agree) / images, logitSqnrDb: t.err.result().sqnrDb, seconds: t.ms / 1000 })),
    };
  }

  private runPlan(prepared: PreparedModel, values: Map<string, Tensor>, order: Map<Node, number>, first: number, plan: PrecisionPlan, activationOf: Map<string, string>, afterLayer?: (node: Node, out: Tensor) => void): Tensor {
    const opset = defaultOpset(prepared.model);
    const after = this.settings.quantizeAfterActivation;
    const out = runGraph(prepared, new Map([[prepared.inputName, values.get(prepared.inputName)!]]), {
      replaceNode: (node, inputs) => {
        if (order.get(node)! < first) return node.outputs.map((o) => values.get(o)!); // unchanged float prefix
        const bits = plan[node.name];
        if (bits) {
          const lq = this.layerQuant(prepared, node, this.byName.get(node.name)!, bits);
          const y = quantizedLayerOutput(node, inputs, lq, opset); // x̂ = s(clamp(round(x/s)+z) − z) in, ŷ out
          afterLayer?.(node, y);
          return [y];
        }
        const owner = after ? activationOf.get(node.name) : undefined;
        if (owner && plan[owner]) {
          const lq = this.layerQuant(prepared, prepared.nodes.find((n) => n.name === owner)!, this.byName.get(owner)!, plan[owner]);
          const y = FLOAT_KERNELS[node.opType](node, inputs, opset)[0];
          if (lq.activation) fakeQuantizeArray(y.data as Float32Array, lq.activation, y.data as Float32Array);
          return [y];
        }
        return undefined;
      },
    }, { keep: [prepared.outputName] });
    return out.get(prepared.outputName)!;
  }
}

/** Simulated quantization of one layer given float inputs: x̂ → conv(x̂, ŵ, b̂) → ŷ (quantized before the activation). */
function quantizedLayerOutput(node: Node, inputs: (Tensor | undefined)[], lq: { weight: Tensor; bias?: Tensor; input: QuantParams; output: QuantParams }, opset: number): Tensor {
  const x = inputs[0]!;
  const xq: Tensor = { dtype: 'float32', dims: x.dims, data: fakeQuantizeArray(x.data as Float32Array, lq.input) };
  const ins = [xq, lq.weight, lq.bias ?? inputs[2]];
  const y = FLOAT_KERNELS[node.opType](node, ins.slice(0, node.inputs.length), opset)[0];
  fakeQuantizeArray(y.data as Float32Array, lq.output, y.data as Float32Array);
  return y;
}
