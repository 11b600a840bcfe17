/** Structural checks of a model before anything runs: names, dangling inputs, cycles, outputs, supported ops. */
import { describeNode, Model, Node } from './ir';
import { SUPPORTED_FLOAT_OPS } from '../kernels/float';
import { InputError } from '../util/errors';

function modelName(model: Model): string {
  return model.path || '<model>';
}

/** Nodes in an order where every node follows the producers of its inputs; throws InputError on a cycle. */
export function topologicalOrder(model: Model): Node[] {
  const { nodes } = model.graph;
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.outputs.forEach((o) => o && producer.set(o, i)));
  const indegree = new Array<number>(nodes.length).fill(0);
  const consumers: number[][] = nodes.map(() => []);
  nodes.forEach((n, i) => {
    const deps = new Set<number>();
    for (const inp of n.inputs) {
      const p = inp ? producer.get(inp) : undefined;
      if (p !== undefined && !deps.has(p)) {
        deps.add(p);
        consumers[p].push(i);
        indegree[i]++;
      }
    }
  });
  const ready: number[] = [];
  indegree.forEach((d, i) => d === 0 && ready.push(i));
  const order: Node[] = [];
  for (let r = 0; r < ready.length; r++) {
    const i = ready[r];
    order.push(nodes[i]);
    for (const c of consumers[i]) if (--indegree[c] === 0) ready.push(c);
  }
  if (order.length !== nodes.length) {
    const stuck = nodes.filter((_, i) => indegree[i] > 0).slice(0, 5).map(describeNode);
    throw new InputError(`${modelName(model)}: the graph has a cycle through ${stuck.join(', ')}`);
  }
  return order;
}

/** Duplicate names, dangling inputs, cycles and missing output producers, as InputError naming the file and node. */
export function validateGraph(model: Model): void {
  const file = modelName(model);
  const g = model.graph;
  const defined = new Map<string, string>();
  const define = (name: string, what: string) => {
    const prev = defined.get(name);
    if (prev) throw new InputError(`${file}: value '${name}' is defined twice (by ${prev} and ${what})`);
    defined.set(name, what);
  };
  for (const v of g.inputs) define(v.name, 'a graph input');
  for (const name of g.initializers.keys()) if (!defined.has(name)) define(name, 'an initializer');
  for (const n of g.nodes) {
    for (const o of n.outputs) if (o) define(o, describeNode(n));
  }
  for (const n of g.nodes) {
    for (const inp of n.inputs) {
      if (inp && !defined.has(inp)) {
        throw new InputError(`${file}: ${describeNode(n)} reads '${inp}', which is no graph input, initializer or node output`);
      }
    }
  }
  if (g.outputs.length === 0) throw new InputError(`${file}: the graph declares no outputs`);
  for (const o of g.outputs) {
    if (!defined.has(o.name)) throw new InputError(`${file}: graph output '${o.name}' is produced by no node`);
  }
  topologicalOrder(model);
}

/** Every node whose operator the float engine lacks, listed by op type and node name (one InputError). */
export function checkSupported(model: Model): void {
  const bad: string[] = [];
  for (const n of model.graph.nodes) {
    const domainOk = n.domain === '' || n.domain === 'ai.onnx';
    if (!domainOk || !SUPPORTED_FLOAT_OPS.has(n.opType)) {
      bad.push(`${n.domain && !domainOk ? n.domain + '.' : ''}${n.opType} (node '${n.name}')`);
    }
  }
  if (bad.length > 0) {
    throw new InputError(`${modelName(model)}: unsupported operator${bad.length > 1 ? 's' : ''}: ${bad.join(', ')}`);
  }
}
