/** Turns a loaded model into a PreparedModel for one batch size: validated, sorted, constants and BatchNorm folded, shapes known. */
import type { PreparedModel } from '../engine/types';
import { FLOAT_KERNELS, guardKernel, runFloatKernel } from '../kernels/float';
import { markConstant } from '../kernels/float/types';
import { batchNormCoefficients } from '../kernels/float/norm';
import { InputError } from '../util/errors';
import { DEFAULT_LIMITS } from '../onnx/limits';
import { attrFloat, defaultOpset, describeNode, Model, Node } from './ir';
import { inferNodeShapes } from './shapes';
import { unresolvedShapeError } from './input-shape';
import { elementCount, floatTensor, int64Tensor, shapeString, Tensor } from './tensor';
import { checkSupported, topologicalOrder, validateGraph } from './validate';

/** Nodes removed at preparation: their output is their first input. */
const PASS_THROUGH = new Set(['Identity', 'Dropout']);

function modelName(model: Model): string {
  return model.path || '<model>';
}

/** Concrete input shape for a batch size: the symbolic (or missing) batch dim becomes batchSize. */
export function resolveInputShape(model: Model, batchSize: number, options: { overrideFixedBatch?: boolean } = {}): { name: string; dims: number[] } {
  const file = modelName(model);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new InputError(`batch size must be a positive integer, got ${batchSize}`);
  const inputs = model.graph.inputs;
  if (inputs.length !== 1) {
    throw new InputError(`${file}: the model has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); only single-input image classifiers are supported`);
  }
  const input = inputs[0];
  if (!input.dims) throw new InputError(`${file}: input '${input.name}' declares no shape`);
  if (input.dtype !== 'float32') throw new InputError(`${file}: input '${input.name}' is ${input.dtype}; only float32 inputs are supported`);
  const dims = input.dims.map((d, i) => {
    if (typeof d === 'number') {
      if (i === 0 && d !== batchSize) {
        if (options.overrideFixedBatch) return batchSize;
        throw new InputError(`${file}: input '${input.name}' has a fixed batch size of ${d}; cannot run with batch ${batchSize}`);
      }
      return d;
    }
    if (i === 0) return batchSize;
    throw unresolvedShapeError(model);
  });
  return { name: input.name, dims };
}

/** prepareModel for a single-input classifier at `batchSize`. */
export function prepareModel(model: Model, batchSize: number): PreparedModel {
  let input: { name: string; dims: number[] };
  try {
    input = resolveInputShape(model, batchSize);
  } catch (fixedBatch) {
    // a model exported with a fixed batch (often 1) still runs other batch sizes when nothing in it depends on
    // the batch: accepted only if the output then carries the requested batch as well
    const retry = fixedBatch instanceof InputError && /fixed batch size/.test(fixedBatch.message) ? tryOtherBatch(model, batchSize) : undefined;
    if (retry) return retry;
    throw fixedBatch;
  }
  return prepareGraph(model, new Map([[input.name, input.dims]]), { batchSize });
}

function tryOtherBatch(model: Model, batchSize: number): PreparedModel | undefined {
  try {
    const input = resolveInputShape(model, batchSize, { overrideFixedBatch: true });
    const prepared = prepareGraph(model, new Map([[input.name, input.dims]]), { batchSize });
    const out = prepared.shapes.get(prepared.outputName);
    return out && out[0] === batchSize ? prepared : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Prepares a graph given concrete shapes for its (non-initializer) inputs. Used by prepareModel and by
 * multi-input graphs (conformance tests). inputName/outputName are the first input/output.
 */
export function prepareGraph(
  model: Model,
  inputShapes: Map<string, number[]>,
  options: { batchSize?: number; constantInputs?: Map<string, Tensor> } = {},
): PreparedModel {
  const batchSize = options.batchSize ?? inputShapes.values().next().value?.[0] ?? 1;
  validateGraph(model);
  checkSupported(model);
  const file = modelName(model);
  const g = model.graph;
  const opset = defaultOpset(model);
  for (const v of g.inputs) if (!inputShapes.has(v.name)) throw new InputError(`${file}: no shape given for input '${v.name}'`);
  const graphOutputs = new Set(g.outputs.map((o) => o.name));
  const constants = new Map<string, Tensor>(g.initializers);
  const shapes = new Map<string, number[]>();
  for (const [name, t] of constants) shapes.set(name, t.dims);
  for (const [name, dims] of inputShapes) {
    checkValueSize(file, `input '${name}'`, dims);
    constants.delete(name); // a graph input overrides an initializer of the same name (its default)
    shapes.set(name, dims);
  }
  // inputs whose values are fixed at preparation (e.g. a shape fed as an input) fold like initializers
  for (const [name, t] of options.constantInputs ?? []) {
    constants.set(name, t);
    shapes.set(name, t.dims);
  }
  const alias = new Map<string, string>();
  const resolve = (name: string) => alias.get(name) ?? name;
  const kept: Node[] = [];
  for (const original of topologicalOrder(model)) {
    const node: Node = { ...original, inputs: original.inputs.map((i) => (i ? resolve(i) : i)) };
    const extraOutputsUsed = node.outputs.slice(1).some((o) => o !== '');
    if (PASS_THROUGH.has(node.opType) && !extraOutputsUsed && !graphOutputs.has(node.outputs[0]) && node.inputs[0]) {
      alias.set(node.outputs[0], node.inputs[0]);
      continue;
    }
    const present = node.inputs.filter((i) => i !== '');
    const foldable = present.every((i) => constants.has(i)) || (node.opType === 'Shape' && shapes.has(node.inputs[0]));
    if (foldable) {
      const ins = node.inputs.map((i) => (i ? constants.get(i) : undefined));
      const outs = node.opType === 'Shape'
        ? FLOAT_KERNELS.Shape(node, [floatTensor(shapes.get(node.inputs[0]) ?? [], new Float32Array(0))], opset)
        : runFloatKernel(node, ins, opset);
      node.outputs.forEach((o, k) => {
        if (o && outs[k]) {
          constants.set(o, outs[k]);
          shapes.set(o, outs[k].dims);
        }
      });
      continue;
    }
    const inShapes = node.inputs.map((i) => (i ? shapes.get(i) : undefined));
    const inValues = node.inputs.map((i) => (i ? constants.get(i) : undefined));
    const outShapes = guardKernel(node, [], () => inferNodeShapes(node, inShapes, inValues, opset));
    node.outputs.forEach((o, k) => o && outShapes[k] && checkValueSize(file, `output '${o}' of ${describeNode(node)}`, outShapes[k]));
    node.outputs.forEach((o, k) => o && outShapes[k] && shapes.set(o, outShapes[k]));
    kept.push(node);
  }
  for (const o of g.outputs) {
    const name = resolve(o.name);
    if (name !== o.name) throw new InputError(`${file}: graph output '${o.name}' is an alias of '${name}'`);
  }
  const folded = linearMatMuls(foldBatchNorm(kept, constants, graphOutputs), constants, shapes, graphOutputs);
  const nodes = removeDeadNodes(folded, graphOutputs);
  pruneConstants(constants, nodes, graphOutputs, new Set([...inputShapes.keys()].filter((k) => !options.constantInputs?.has(k))));
  for (const t of constants.values()) markConstant(t);
  const inputName = g.inputs[0]?.name ?? '';
  return { model, batchSize, nodes, constants, shapes, inputName, outputName: g.outputs[0].name };
}

/** Shapes inferred from a (possibly hostile) model are checked before any engine allocates them. */
function checkValueSize(file: string, what: string, dims: readonly number[]): void {
  const count = elementCount(dims);
  if (!(count <= DEFAULT_LIMITS.maxTensorElements)) {
    throw new InputError(
      `${file}: ${what} would have shape ${shapeString(dims)} (${count} elements), over the limit of ${DEFAULT_LIMITS.maxTensorElements} (setting quantInspector.maxTensorElements)`,
    );
  }
}

/** Conv → BatchNormalization (conv output used only by the BN) becomes one Conv with W·a and bias·a + b. */
function foldBatchNorm(nodes: Node[], constants: Map<string, Tensor>, graphOutputs: Set<string>): Node[] {
  const consumers = countConsumers(nodes);
  const producer = new Map<string, Node>();
  for (const n of nodes) for (const o of n.outputs) producer.set(o, n);
  const replaced = new Map<Node, Node>();
  const removed = new Set<Node>();
  for (const bn of nodes) {
    if (bn.opType !== 'BatchNormalization' || bn.outputs.filter((o) => o).length !== 1) continue;
    const conv = producer.get(bn.inputs[0]);
    if (!conv || conv.opType !== 'Conv' || replaced.has(conv)) continue;
    if ((consumers.get(bn.inputs[0]) ?? 0) !== 1 || graphOutputs.has(bn.inputs[0])) continue;
    const params = bn.inputs.slice(1, 5).map((i) => constants.get(i));
    const w = constants.get(conv.inputs[1]);
    const b = conv.inputs[2] ? constants.get(conv.inputs[2]) : undefined;
    if (!w || w.dtype !== 'float32' || (conv.inputs[2] && !b) || params.length !== 4 || params.some((p) => !p || p.dtype !== 'float32')) continue;
    const [gamma, beta, mean, variance] = params.map((p) => p!.data as Float32Array);
    const oc = w.dims[0];
    if ([gamma, beta, mean, variance].some((p) => p.length !== oc)) continue;
    const { a, b: shift } = batchNormCoefficients(gamma, beta, mean, variance, attrFloat(bn, 'epsilon', 1e-5));
    const wd = w.data as Float32Array;
    const per = wd.length / oc;
    const newW = new Float32Array(wd.length);
    for (let c = 0; c < oc; c++) for (let i = 0; i < per; i++) newW[c * per + i] = wd[c * per + i] * a[c];
    const newB = new Float32Array(oc);
    const bd = b ? (b.data as Float32Array) : undefined;
    // W' = W·a, b' = b·a + (β − μ·a)
    for (let c = 0; c < oc; c++) newB[c] = (bd ? bd[c] : 0) * a[c] + shift[c];
    const wName = `${conv.name}/bn_folded_weight`;
    const bName = `${conv.name}/bn_folded_bias`;
    constants.set(wName, floatTensor([...w.dims], newW));
    constants.set(bName, floatTensor([oc], newB));
    replaced.set(conv, { ...conv, inputs: [conv.inputs[0], wName, bName], outputs: [bn.outputs[0]] });
    removed.add(bn);
  }
  return nodes.filter((n) => !removed.has(n)).map((n) => replaced.get(n) ?? n);
}

/**
 * A MatMul by a constant [K, N] weight (a Linear on NHWC or token features, as ConvNeXt exports it), with the Add of a
 * constant [N] bias when one follows, becomes Reshape → Gemm → Reshape, so it is a linear layer like any other.
 * The Gemm keeps the MatMul's name (code mapping); the reshapes are named after it.
 */
function linearMatMuls(nodes: Node[], constants: Map<string, Tensor>, shapes: Map<string, number[]>, graphOutputs: Set<string>): Node[] {
  const consumers = new Map<string, Node[]>();
  for (const n of nodes) for (const i of n.inputs) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const out: Node[] = [];
  const dropped = new Set<Node>();
  for (const n of nodes) {
    if (dropped.has(n)) continue;
    const w = n.opType === 'MatMul' ? constants.get(n.inputs[1]) : undefined;
    const xDims = shapes.get(n.inputs[0]);
    if (!w || w.dtype !== 'float32' || w.dims.length !== 2 || !xDims || xDims.length < 2 || constants.has(n.inputs[0])) {
      out.push(n);
      continue;
    }
    const [k, cols] = w.dims;
    const rows = elementCount(xDims) / k;
    let output = n.outputs[0];
    let bias: string | undefined;
    const readers = consumers.get(output) ?? [];
    const add = readers.length === 1 && !graphOutputs.has(output) ? readers[0] : undefined;
    const b = add?.opType === 'Add' ? add.inputs.find((i) => i !== output) : undefined;
    const bt = b ? constants.get(b) : undefined;
    if (add && b && bt && bt.dtype === 'float32' && elementCount(bt.dims) === cols && bt.dims[bt.dims.length - 1] === cols && add.inputs.includes(output)) {
      bias = `${n.name}/bias`;
      constants.set(bias, floatTensor([cols], bt.data as Float32Array));
      output = add.outputs[0];
      dropped.add(add);
    }
    const outDims = shapes.get(output)!;
    const flat = `${n.name}/rows`, flatShape = `${n.name}/rows_shape`, product = `${n.name}/gemm`, backShape = `${n.name}/out_shape`;
    constants.set(flatShape, int64Tensor([rows, k]));
    constants.set(backShape, int64Tensor(outDims));
    shapes.set(flat, [rows, k]);
    shapes.set(product, [rows, cols]);
    out.push(
      { name: `${n.name}/flatten`, opType: 'Reshape', domain: '', inputs: [n.inputs[0], flatShape], outputs: [flat], attributes: {} },
      { ...n, opType: 'Gemm', inputs: bias ? [flat, n.inputs[1], bias] : [flat, n.inputs[1]], outputs: [product], attributes: {} },
      { name: `${n.name}/unflatten`, opType: 'Reshape', domain: '', inputs: [product, backShape], outputs: [output], attributes: {} },
    );
  }
  return out;
}

function countConsumers(nodes: Node[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const n of nodes) for (const i of n.inputs) if (i) counts.set(i, (counts.get(i) ?? 0) + 1);
  return counts;
}

/** Keeps only nodes that contribute to a graph output. */
function removeDeadNodes(nodes: Node[], graphOutputs: Set<string>): Node[] {
  const needed = new Set(graphOutputs);
  const live: Node[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    if (n.outputs.some((o) => needed.has(o))) {
      live.push(n);
      for (const inp of n.inputs) if (inp) needed.add(inp);
    }
  }
  return live.reverse();
}

function pruneConstants(constants: Map<string, Tensor>, nodes: Node[], graphOutputs: Set<string>, runtimeInputs: Set<string>): void {
  const used = new Set<string>(graphOutputs);
  for (const n of nodes) for (const i of n.inputs) used.add(i);
  for (const name of [...constants.keys()]) if (!used.has(name) || runtimeInputs.has(name)) constants.delete(name);
}

/** The input shape check every engine applies: InputError with expected vs got. */
export function checkInputShape(prepared: PreparedModel, dims: readonly number[]): void {
  const expected = prepared.shapes.get(prepared.inputName);
  if (!expected || expected.length !== dims.length || expected.some((d, i) => d !== dims[i])) {
    throw new InputError(
      `${modelName(prepared.model)}: input '${prepared.inputName}' must have shape ${shapeString(expected ?? [])}, got ${shapeString(dims)}`,
    );
  }
}

