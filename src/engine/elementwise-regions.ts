/**
 * Elementwise regions: connected nodes that together compute a function of ONE value x, element by element —
 * SiLU x·σ(x), HardSwish x·hardσ(x) or x·relu6(x+3)/6, exact GELU x·½(1+erf(x/√2)), Mish, a lone Sigmoid. On codes,
 * the whole region is one lookup table indexed by x's code (quant/lookup.ts); its inner nodes are never computed.
 */
import type { Node } from '../graph/ir';
import { elementCount, floatTensor, Tensor } from '../graph/tensor';
import { FLOAT_KERNELS } from '../kernels/float';
import { UNARY_MATH_OPS } from '../kernels/float/math';
import type { PreparedModel } from './types';

const UNARY_OPS = new Set([...UNARY_MATH_OPS, 'Relu', 'Clip', 'LeakyRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Gelu', 'Mish', 'Celu']);
const BINARY_OPS = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min']);

export interface ElementwiseRegion {
  /** The one value the region is a function of. */
  source: string;
  /** The node whose output leaves the region (its table's output). */
  end: Node;
  /** Inner nodes, computed inside the table only. */
  inner: Node[];
  /** f(x) for a vector of real inputs: the region's float kernels run on it. */
  evaluate(x: Float32Array, opset: number): Float32Array;
}

/**
 * Regions of the prepared graph, keyed by end node name. A node joins x's region when it is elementwise, its data
 * inputs are x or nodes of the region, its other inputs are constants of one element, and its output has x's shape.
 */
export function elementwiseRegions(prepared: PreparedModel): Map<string, ElementwiseRegion> {
  const { constants, shapes } = prepared;
  const sourceOf = new Map<string, string>(); // value → the x it is an elementwise function of
  const producer = new Map<string, Node>();
  const consumers = new Map<string, Node[]>();
  for (const n of prepared.nodes) {
    n.outputs.forEach((o) => o && producer.set(o, n));
    for (const i of n.inputs) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  const scalarConstant = (name: string) => { const t = constants.get(name); return !!t && t.dtype === 'float32' && elementCount(t.dims) === 1; };
  const members = new Map<string, Node>(); // node name → node, for nodes inside some region
  for (const n of prepared.nodes) {
    const elementwise = (UNARY_OPS.has(n.opType) && (n.inputs.length === 1 || n.inputs.slice(1).every((i) => !i || scalarConstant(i))))
      || (BINARY_OPS.has(n.opType) && n.inputs.length === 2);
    if (!elementwise || n.outputs.length !== 1 || !FLOAT_KERNELS[n.opType]) continue;
    const data = n.inputs.filter((i) => i && !scalarConstant(i));
    if (data.length === 0) continue;
    const sources = new Set(data.map((i) => sourceOf.get(i) ?? i));
    if (sources.size !== 1) continue;
    const x = [...sources][0];
    const sx = shapes.get(x), so = shapes.get(n.outputs[0]);
    if (!sx || !so || sx.join(',') !== so.join(',') || constants.has(x)) continue;
    sourceOf.set(n.outputs[0], x);
    members.set(n.name, n);
  }
  const regions = new Map<string, ElementwiseRegion>();
  for (const end of members.values()) {
    const out = end.outputs[0];
    const x = sourceOf.get(out)!;
    const readers = consumers.get(out) ?? [];
    const leaves = out === prepared.outputName || readers.length === 0 || readers.some((r) => !members.has(r.name) || sourceOf.get(r.outputs[0]) !== x);
    if (!leaves) continue;
    const inner: Node[] = [];
    const visit = (value: string) => {
      const p = producer.get(value);
      if (!p || value === x || !members.has(p.name) || inner.includes(p)) return;
      p.inputs.forEach((i) => i && visit(i));
      if (p !== end) inner.push(p);
    };
    end.inputs.forEach((i) => i && visit(i));
    const nodes = [...inner, end];
    regions.set(end.name, {
      source: x, end, inner,
      evaluate: (xs, opset) => {
        const values = new Map<string, Tensor>([[x, floatTensor([xs.length], xs)]]);
        for (const n of nodes) {
          const ins = n.inputs.map((i) => (i ? values.get(i) ?? constants.get(i) : undefined));
          values.set(n.outputs[0], FLOAT_KERNELS[n.opType](n, ins, opset)[0]);
        }
        return values.get(out)!.data as Float32Array;
      },
    });
  }
  return regions;
}
