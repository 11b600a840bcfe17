/** The float32 reference engine: runs a PreparedModel node by node with the float kernels. */
import { defaultOpset, describeNode, Model, Node } from '../graph/ir';
import { checkInputShape, prepareModel } from '../graph/prepare';
import type { Tensor, TensorData } from '../graph/tensor';
import { shapeString } from '../graph/tensor';
import { guardKernel, runFloatKernel } from '../kernels/float';
import { canRunInPlace, runInPlace } from '../kernels/float/inplace';
import { isConstantData } from '../kernels/float/types';
import { convClamped } from '../kernels/float/conv';
import { clipBounds } from '../kernels/float/elementwise';
import { InputError } from '../util/errors';
import type { PreparedModel, RunHooks } from './types';

/** How many nodes read each value (graph outputs count once more so they are never freed). */
function consumerCounts(prepared: PreparedModel, keep: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const n of prepared.nodes) for (const i of n.inputs) if (i) counts.set(i, (counts.get(i) ?? 0) + 1);
  for (const k of keep) counts.set(k, (counts.get(k) ?? 0) + 1);
  return counts;
}

/**
 * True when input 0 of `node` is an intermediate read by no later node, whose buffer no other value shares:
 * the node may then write its output into it. Never for constants or the caller's input.
 */
function ownsInput0(
  node: Node, ins: (Tensor | undefined)[], remaining: Map<string, number>, shared: Set<TensorData>, prepared: PreparedModel,
  callerInputs: Map<string, Tensor>,
): boolean {
  const name = node.inputs[0];
  const t = ins[0];
  if (!name || !t || callerInputs.has(name) || prepared.constants.has(name) || shared.has(t.data) || isConstantData(t.data)) return false;
  return remaining.get(name) === 1;
}

/** Drops the node's inputs after their last reader, and outputs nobody reads. */
function releaseInputs(node: Node, remaining: Map<string, number> | undefined, values: Map<string, Tensor>): void {
  if (!remaining) return;
  for (const name of node.inputs) {
    if (!name) continue;
    const left = (remaining.get(name) ?? 0) - 1;
    remaining.set(name, left);
    if (left <= 0) values.delete(name);
  }
  for (const o of node.outputs) if (o && !remaining.has(o)) values.delete(o); // never read
}

/** A Relu or Clip that reads only a Conv's output, run as that conv's output clamp when nobody watches. */
interface FusedActivation {
  act: Node;
  lo: number;
  hi: number;
}

const fusionPlans = new WeakMap<PreparedModel, Map<Node, FusedActivation>>();

/** Conv → Relu / Clip(constant bounds) pairs where the conv output has no other reader and is no graph output. */
function activationFusions(prepared: PreparedModel): Map<Node, FusedActivation> {
  let plan = fusionPlans.get(prepared);
  if (plan) return plan;
  plan = new Map();
  const readers = new Map<string, Node[]>();
  for (const n of prepared.nodes) for (const i of n.inputs) if (i) readers.set(i, [...(readers.get(i) ?? []), n]);
  const outputs = new Set(prepared.model.graph.outputs.map((o) => o.name));
  const opset = defaultOpset(prepared.model);
  for (const conv of prepared.nodes) {
    const out = conv.outputs[0];
    if (conv.opType !== 'Conv' || outputs.has(out)) continue;
    const r = readers.get(out) ?? [];
    if (r.length !== 1 || r[0].inputs[0] !== out || r[0].inputs.slice(1).includes(out)) continue;
    const act = r[0];
    if (act.opType === 'Relu') plan.set(conv, { act, lo: 0, hi: Infinity });
    else if (act.opType === 'Clip') {
      const bounds = act.inputs.map((name, i) => (i > 0 && name ? prepared.constants.get(name) : undefined));
      if (act.inputs.slice(1).some((name, i) => name && !bounds[i + 1])) continue; // a bound computed at run time
      const [lo, hi] = clipBounds(act, bounds, opset);
      plan.set(conv, { act, lo, hi });
    }
  }
  fusionPlans.set(prepared, plan);
  return plan;
}

function runNode(node: Node, inputs: (Tensor | undefined)[], opset: number, hooks?: RunHooks): Tensor[] {
  const replaced = hooks?.replaceNode?.(node, inputs);
  if (replaced) return replaced;
  return runFloatKernel(node, inputs, opset);
}

/**
 * Runs the graph from several named inputs. Returns the values named in `keep` (default: graph outputs),
 * or every value when keepAll is set. Intermediates are dropped once their last consumer has run.
 */
export function runGraph(
  prepared: PreparedModel,
  inputs: Map<string, Tensor>,
  hooks?: RunHooks,
  options: { keep?: string[]; keepAll?: boolean } = {},
): Map<string, Tensor> {
  const opset = defaultOpset(prepared.model);
  const keep = options.keep ?? prepared.model.graph.outputs.map((o) => o.name);
  const remaining = options.keepAll ? undefined : consumerCounts(prepared, keep);
  const values = new Map<string, Tensor>(inputs);
  const lookup = (name: string): Tensor | undefined => values.get(name) ?? prepared.constants.get(name);
  const shared = new Set<TensorData>(); // buffers seen by more than one value: never overwritten
  const keepSet = new Set(keep);
  // nodes run fused or in place only when no hook watches or replaces them (checkCancelled alone is fine)
  const watched = !!(hooks?.afterNode || hooks?.replaceNode);
  const fusions = !watched && !options.keepAll ? activationFusions(prepared) : undefined;
  const fusedAway = new Set<Node>();
  for (const node of prepared.nodes) {
    hooks?.checkCancelled?.();
    if (fusedAway.has(node)) continue; // its output came from the conv it follows
    const ins = node.inputs.map((name) => {
      if (!name) return undefined;
      const t = lookup(name);
      if (!t) throw new InputError(`${describeNode(node)}: input '${name}' has no value`);
      return t;
    });
    const fused = fusions?.get(node);
    if (fused && !keepSet.has(node.outputs[0])) {
      values.set(fused.act.outputs[0], guardKernel(node, ins, () => convClamped(node, ins, fused.lo, fused.hi))); // y = clamp(conv(x), lo, hi)
      fusedAway.add(fused.act);
      releaseInputs(node, remaining, values);
      continue;
    }
    const inPlace = remaining !== undefined && !watched && ownsInput0(node, ins, remaining, shared, prepared, inputs) && canRunInPlace(node, ins);
    const outs = inPlace ? runInPlace(node, ins, opset) : runNode(node, ins, opset, hooks);
    node.outputs.forEach((o, k) => {
      if (!o || !outs[k]) return;
      values.set(o, outs[k]);
      if (!inPlace && ins.some((t) => t && t.data === outs[k].data)) shared.add(outs[k].data); // a view (Reshape, Identity)
    });
    hooks?.afterNode?.(node, outs);
    releaseInputs(node, remaining, values);
  }
  const out = new Map<string, Tensor>();
  if (options.keepAll) {
    for (const [k, v] of prepared.constants) out.set(k, v);
    for (const [k, v] of values) out.set(k, v);
    return out;
  }
  for (const k of keep) {
    const t = lookup(k);
    if (t) out.set(k, t);
  }
  return out;
}

function checkedInput(prepared: PreparedModel, input: Tensor): Map<string, Tensor> {
  if (input.dtype !== 'float32') throw new InputError(`input '${prepared.inputName}' must be float32, got ${input.dtype}`);
  checkInputShape(prepared, input.dims);
  return new Map([[prepared.inputName, input]]);
}

/** The model's output among the values a run kept. */
function outputOf(prepared: PreparedModel, kept: Map<string, Tensor>): Tensor {
  const out = kept.get(prepared.outputName);
  if (!out) throw new InputError(`output '${prepared.outputName}' was not produced`);
  return out;
}

/** Runs the model on one batch; returns the output named prepared.outputName. */
export function runFloat(prepared: PreparedModel, input: Tensor, hooks?: RunHooks): Tensor {
  return outputOf(prepared, runGraph(prepared, checkedInput(prepared, input), hooks, { keep: [prepared.outputName] }));
}

/** Runs the model and returns every value (inputs, constants, intermediates, outputs) by name, for inspection. */
export function runFloatAll(prepared: PreparedModel, input: Tensor, hooks?: RunHooks): Map<string, Tensor> {
  return runGraph(prepared, checkedInput(prepared, input), hooks, { keepAll: true });
}

/** A model with PreparedModels cached per batch size (the last batch of a data set is often smaller). */
export class FloatModel {
  private readonly cache = new Map<number, PreparedModel>();

  constructor(readonly model: Model) {}

  getPrepared(batchSize: number): PreparedModel {
    let p = this.cache.get(batchSize);
    if (!p) {
      p = prepareModel(this.model, batchSize);
      this.cache.set(batchSize, p);
    }
    return p;
  }

  /** Runs any batch size: input dims [N, ...] pick the prepared graph for N. */
  run(input: Tensor, hooks?: RunHooks): Tensor {
    return runFloat(this.preparedFor(input), input, hooks);
  }

  /**
   * The output and the named values, with nothing watching the other nodes: a conv still runs fused with the ReLU /
   * Clip after it when its own output is not asked for, and values read once are overwritten in place.
   */
  runKeeping(input: Tensor, values: Iterable<string>, checkCancelled?: () => void): { output: Tensor; values: Map<string, Tensor> } {
    const prepared = this.preparedFor(input);
    const kept = runGraph(prepared, checkedInput(prepared, input), { checkCancelled }, { keep: [prepared.outputName, ...values] });
    return { output: outputOf(prepared, kept), values: kept };
  }

  private preparedFor(input: Tensor): PreparedModel {
    if (input.dims.length === 0) throw new InputError(`input must have a batch axis, got shape ${shapeString(input.dims)}`);
    return this.getPrepared(input.dims[0]);
  }
}
