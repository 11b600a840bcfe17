/**
 * QDQ export: the original ONNX graph with QuantizeLinear → DequantizeLinear pairs on every quantized activation,
 * int8 weights with per-axis scales and int32 biases behind DequantizeLinear, so that runtimes such as
 * onnxruntime fuse them into integer kernels. Written atomically (temporary file + rename).
 */
import { onnx } from 'onnx-proto';
import type { QuantLayer, QuantPlan } from '../engine/int-plan';
import type { PreparedModel } from '../engine/types';
import type { Model } from '../graph/ir';
import type { QuantParams } from '../quant/quantizer';
import { writeFileAtomic } from '../util/atomic-write';
import { scanModelWire } from './limits';
import { readModelFile } from './load';
import { InputError } from '../util/errors';

const DT = onnx.TensorProto.DataType;

function tensorProto(name: string, dataType: number, dims: number[], values: ArrayLike<number>): onnx.TensorProto {
  const t = onnx.TensorProto.create({ name, dataType, dims });
  if (dataType === DT.FLOAT) t.rawData = new Uint8Array(Float32Array.from(values).buffer);
  else if (dataType === DT.INT32) t.rawData = new Uint8Array(Int32Array.from(values).buffer);
  else if (dataType === DT.INT8) t.rawData = new Uint8Array(Int8Array.from(values).buffer);
  else if (dataType === DT.UINT8) t.rawData = Uint8Array.from(values);
  else throw new Error(`tensorProto: unsupported data type ${dataType}`);
  return t;
}

function node(opType: string, inputs: string[], outputs: string[], name: string, axis?: number): onnx.NodeProto {
  const n = onnx.NodeProto.create({ opType, input: inputs, output: outputs, name });
  if (axis !== undefined) n.attribute = [onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: axis })];
  return n;
}

function activationType(p: QuantParams): number {
  if (p.bits > 8) throw new InputError(`QDQ export supports activations of at most 8 bits (got ${p.bits})`);
  return p.signed ? DT.INT8 : DT.UINT8;
}

interface Insertion { after: number; nodes: onnx.NodeProto[] }

/** Returns the QDQ model bytes for a plan built on `prepared` from `model`. */
export function encodeQdq(model: Model, prepared: PreparedModel, plan: QuantPlan): Uint8Array {
  if (!model.path) throw new InputError('QDQ export needs the model file it was loaded from');
  const bytes = readModelFile(model.path); // untrusted again: the file may have changed since it was loaded
  scanModelWire(bytes, model.path);
  let proto: onnx.ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new InputError(`${model.path}: the model file changed since it was loaded and no longer decodes (${e instanceof Error ? e.message : String(e)})`);
  }
  const opset = proto.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
  if (!opset || Number(opset.version) < 13) throw new InputError(`${model.path}: QDQ export needs opset ≥ 13 (per-axis DequantizeLinear), the model has ${opset?.version ?? 'none'}`);
  // decoded messages carry every repeated field as an array
  const g = proto.graph as unknown as { node: onnx.NodeProto[]; initializer: onnx.TensorProto[]; output: onnx.ValueInfoProto[] };
  if (g.initializer.some((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL)) {
    throw new InputError(`${model.path}: QDQ export of models with external data is not supported`);
  }
  const nodeIndex = new Map(g.node.map((n, i) => [n.name, i]));
  const producer = new Map<string, number>();
  g.node.forEach((n, i) => n.output.forEach((o) => producer.set(o, i)));
  const insertions: Insertion[] = [];
  const newInits: onnx.TensorProto[] = [];
  const renames = new Map<string, string>(); // consumer input renames: value → its dequantized twin

  for (const layer of plan.layers) {
    const i = nodeIndex.get(layer.name);
    const n = i === undefined ? undefined : g.node[i];
    const p = prepared.nodes.find((x) => x.name === layer.name)!;
    if (!n || n.input[0] !== p.inputs[0] || n.output[0] !== p.outputs[0]) {
      throw new InputError(`${model.path}: layer '${layer.name}' was rewritten during preparation (BatchNorm folding?); QDQ export needs it as in the file`);
    }
    insertions.push({ after: -1, nodes: weightNodes(layer, n, newInits) });
  }
  const graphOutputs = new Set(g.output.map((o) => o.name));
  for (const [value, params] of plan.valueParams) {
    if (params.bits > 16) continue; // int32 accumulator outputs stay float in the file (DequantizeLinear of the bias/weights feeds them)
    const type = activationType(params);
    const scaleName = `${value}_scale`, zpName = `${value}_zero_point`;
    newInits.push(tensorProto(scaleName, DT.FLOAT, [], [params.scale]), tensorProto(zpName, type, [], [params.zeroPoint]));
    let source = value, target = `${value}_dequantized`;
    const at = producer.get(value) ?? -1;
    if (graphOutputs.has(value)) {
      source = `${value}_prequantized`;
      g.node[at].output = g.node[at].output.map((o) => (o === value ? source : o));
      target = value;
    } else renames.set(value, target);
    const nodes: onnx.NodeProto[] = [];
    let qIn = source;
    const narrower = params.qmin > (params.signed ? -128 : 0) || params.qmax < (params.signed ? 127 : 255);
    if (narrower) { // N < 8 bits: clamp to the N-bit range in float, then QuantizeLinear rounds inside it
      const lo = `${value}_clip_min`, hi = `${value}_clip_max`;
      newInits.push(tensorProto(lo, DT.FLOAT, [], [params.scale * (params.qmin - params.zeroPoint)]),
        tensorProto(hi, DT.FLOAT, [], [params.scale * (params.qmax - params.zeroPoint)]));
      nodes.push(node('Clip', [source, lo, hi], [`${value}_clipped`], `${value}_Clip`));
      qIn = `${value}_clipped`;
    }
    nodes.push(node('QuantizeLinear', [qIn, scaleName, zpName], [`${value}_quantized`], `${value}_QuantizeLinear`));
    nodes.push(node('DequantizeLinear', [`${value}_quantized`, scaleName, zpName], [target], `${value}_DequantizeLinear`));
    insertions.push({ after: at, nodes });
  }
  // consumers read the dequantized twins (the new Q nodes keep reading the originals)
  for (const n of g.node) n.input = n.input.map((x) => renames.get(x) ?? x);
  // splice the new nodes in after their producers (weights and graph-input quantizers first)
  const after = new Map<number, onnx.NodeProto[]>();
  for (const ins of insertions) after.set(ins.after, [...(after.get(ins.after) ?? []), ...ins.nodes]);
  const nodes: onnx.NodeProto[] = [...(after.get(-1) ?? [])];
  g.node.forEach((n, i) => nodes.push(n, ...(after.get(i) ?? [])));
  g.node = nodes;
  const used = new Set(g.node.flatMap((n) => n.input));
  g.initializer = g.initializer.filter((t) => used.has(t.name)); // float weights replaced by their int8 codes
  g.initializer.push(...newInits);
  proto.producerName = 'quant-inspector';
  proto.docString = `QDQ export: W${plan.options.weightBits}A${plan.options.activationBits}, ${plan.options.perChannel ? 'per-channel' : 'per-tensor'} weights, calibration ${plan.options.method}`;
  return onnx.ModelProto.encode(proto).finish();
}

/** int8 weights (per-axis scales, zero points 0) and int32 bias behind DequantizeLinear, wired into the layer node. */
function weightNodes(layer: QuantLayer, n: onnx.NodeProto, inits: onnx.TensorProto[]): onnx.NodeProto[] {
  if (layer.weightBits > 8) throw new InputError(`QDQ export supports weights of at most 8 bits (layer '${layer.name}' has ${layer.weightBits})`);
  const out = layer.outChannels;
  const k = layer.weightCodes.length / out;
  const w = n.input[1];
  let codes: ArrayLike<number> = layer.weightCodes;
  let axis = 0;
  const transB = n.opType === 'Gemm' && (n.attribute.find((a) => a.name === 'transB')?.i ?? 0) !== 0;
  if (n.opType === 'Gemm' && !transB) { // the file holds B as [K, out]: store codes that way, scales along axis 1
    const t = new Int8Array(codes.length);
    for (let o = 0; o < out; o++) for (let i = 0; i < k; i++) t[i * out + o] = layer.weightCodes[o * k + i];
    codes = t;
    axis = 1;
  }
  const wq = `${w}_quantized`, ws = `${w}_scale`, wz = `${w}_zero_point`, wd = `${w}_dequantized`;
  inits.push(tensorProto(wq, DT.INT8, layer.weightDims, codes), tensorProto(ws, DT.FLOAT, [out], Array.from(layer.weights.scales)),
    tensorProto(wz, DT.INT8, [out], new Int8Array(out)));
  const nodes = [node('DequantizeLinear', [wq, ws, wz], [wd], `${w}_DequantizeLinear`, axis)];
  n.input[1] = wd;
  if (n.input[2]) {
    const b = n.input[2];
    const bq = `${b}_quantized`, bs = `${b}_scale`, bz = `${b}_zero_point`, bd = `${b}_dequantized`;
    inits.push(tensorProto(bq, DT.INT32, [out], layer.bias),
      tensorProto(bs, DT.FLOAT, [out], Array.from(layer.weights.scales, (s) => layer.inputParams.scale * s)), // s_b = s_in · s_w
      tensorProto(bz, DT.INT32, [out], new Int32Array(out)));
    nodes.push(node('DequantizeLinear', [bq, bs, bz], [bd], `${b}_DequantizeLinear`, 0));
    n.input[2] = bd;
  }
  return nodes;
}

/** Writes the QDQ model to `file` atomically. */
export function exportQdq(model: Model, prepared: PreparedModel, plan: QuantPlan, file: string): void {
  writeFileAtomic(file, encodeQdq(model, prepared, plan));
}
