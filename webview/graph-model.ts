/**
 * The dataflow graph as the editor draws it, without the DOM: blocks from the ONNX names, which blocks start
 * collapsed, the nodes and edges left after collapsing, each node's SQNR for the overlay, and the layered layout
 * (dagre). Everything here is pure so that node:test covers it (test/webview-graph.test.ts).
 */
import { graphlib, layout as dagreLayout } from '@dagrejs/dagre';
import { sqnrQuality, type GraphErrorsView, type QuantRun } from '../src/extension/results';
import type { GraphNodeSummary } from '../src/worker/summary';

export type GNode = GraphNodeSummary;

/** Blocks larger than this are split at a deeper indexed name segment when there is one. */
export const MAX_BLOCK_NODES = 48;
/** Graphs with more drawn nodes than this start with every block collapsed. */
export const COLLAPSE_ABOVE = 60;

/** The folders of an ONNX node name: '/layer1/layer1.0/conv1/Conv' → ['layer1', 'layer1.0', 'conv1']. */
export function nameSegments(name: string): string[] {
  if (!name.startsWith('/')) return [];
  const parts = name.split('/').filter(Boolean);
  return parts.slice(0, -1);
}

const keyOf = (segments: string[], upTo: number) => '/' + segments.slice(0, upTo + 1).join('/');

/** The block's name as shown: the last folder of its key ('/layer1/layer1.0' → 'layer1.0'). */
export function blockLabel(key: string): string {
  return key.split('/').filter(Boolean).pop() ?? key;
}

/**
 * Groups nodes into blocks by the prefix of their ONNX names: the first repeated unit of the path — a folder
 * numbered like a Sequential child (`layer1.0`, `features.3`, `blocks.2`), else one ending in a number
 * (`denseblock1`, `denselayer4`) — whose subtree holds at most MAX_BLOCK_NODES nodes (else the deepest such folder);
 * names without one group by their first folder. A block of one node falls back to its first folder (`stem.0` and
 * `stem.2` → `stem`); what is still alone belongs to no block. Returns node name → block key ('/layer1/layer1.0').
 */
export function assignBlocks(names: readonly string[], maxBlock = MAX_BLOCK_NODES): Map<string, string | undefined> {
  const segs = new Map(names.map((n) => [n, nameSegments(n)]));
  const subtree = new Map<string, number>();
  for (const s of segs.values()) for (let i = 0; i < s.length; i++) subtree.set(keyOf(s, i), (subtree.get(keyOf(s, i)) ?? 0) + 1);
  const choice = new Map<string, string | undefined>();
  for (const [name, s] of segs) {
    let candidates = s.map((seg, i) => (/\.\d+$/.test(seg) ? i : -1)).filter((i) => i >= 0);
    if (candidates.length === 0) candidates = s.map((seg, i) => (/\d$/.test(seg) ? i : -1)).filter((i) => i >= 0);
    let key: string | undefined;
    if (candidates.length) {
      const fits = candidates.find((i) => (subtree.get(keyOf(s, i)) ?? 0) <= maxBlock);
      key = keyOf(s, fits ?? candidates[candidates.length - 1]);
    } else if (s.length) key = keyOf(s, 0);
    choice.set(name, key);
  }
  const sizes = (m: Map<string, string | undefined>) => {
    const c = new Map<string, number>();
    for (const k of m.values()) if (k) c.set(k, (c.get(k) ?? 0) + 1);
    return c;
  };
  const first = sizes(choice);
  for (const [name, key] of choice) {
    if (!key || first.get(key)! > 1) continue;
    const s = segs.get(name)!;
    choice.set(name, s.length ? keyOf(s, 0) : undefined);
  }
  const second = sizes(choice);
  for (const [name, key] of choice) if (key && second.get(key)! < 2) choice.set(name, undefined);
  return choice;
}

/** True when a graph of this many drawn nodes starts with its blocks collapsed. */
export function collapseByDefault(drawnNodes: number): boolean {
  return drawnNodes > COLLAPSE_ABOVE;
}

/** Nodes the graph input does not reach (Constant nodes, shape arithmetic on constants): folded away before running. */
export function constantNodes(nodes: readonly GNode[], graphInputs: readonly string[]): Set<string> {
  const readers = new Map<string, GNode[]>();
  for (const n of nodes) for (const i of n.inputs) readers.set(i, [...(readers.get(i) ?? []), n]);
  const reached = new Set<string>();
  const queue = [...graphInputs];
  const seenValues = new Set(queue);
  while (queue.length) {
    const v = queue.shift()!;
    for (const n of readers.get(v) ?? []) {
      if (reached.has(n.name)) continue;
      reached.add(n.name);
      for (const o of n.outputs) if (!seenValues.has(o)) { seenValues.add(o); queue.push(o); }
    }
  }
  return new Set(nodes.filter((n) => !reached.has(n.name)).map((n) => n.name));
}

// ---------- the SQNR overlay ----------

export type SqnrMode = 'accumulated' | 'local';
export type QualityClass = 'q-good' | 'q-fair' | 'q-poor' | 'q-none';

/** CSS class of an SQNR: ≥ 30 dB good (green), 20–30 fair (amber), < 20 poor (red); no data or float: none (grey). */
export function sqnrClass(db: number | undefined, ranInFloat = false): QualityClass {
  if (ranInFloat) return 'q-none';
  const q = sqnrQuality(db);
  return q === 'unknown' ? 'q-none' : `q-${q}`;
}

export interface NodeError {
  db?: number;
  /** Why the node has no colour or where its number comes from (float, fused, folded, not measured). */
  note?: string;
  /** The node ran in float (a dequantize → float op → quantize island, or before any codes). */
  float?: boolean;
  /** Bits / scale / zero point of its output value, when it holds codes. */
  bits?: number;
  scale?: number;
  zeroPoint?: number;
}

/**
 * The error a node shows: a layer its table numbers (accumulated = output SQNR over the test images, local = alone
 * quantized); any other node its output value's accumulated SQNR or its own local SQNR from the run's graph pass.
 */
export function nodeError(node: GNode, run: QuantRun | undefined, mode: SqnrMode, byName?: ReadonlyMap<string, GNode>): NodeError | undefined {
  if (!run) return undefined;
  const g: GraphErrorsView | undefined = run.graph;
  const info = g?.nodes[node.name];
  const own = g?.values[node.outputs[0] ?? ''];
  // codes that already carry the next ReLU's clamp are read after it (as the layer table reads a conv)
  const value = info?.compared ? g?.values[info.compared] : own;
  const quant = own ? { bits: own.bits, scale: own.scale, zeroPoint: own.zeroPoint } : {};
  const layer = node.layer ? run.layers.find((l) => l.name === node.name) : undefined;
  if (layer) {
    const q = { bits: layer.activationBits, scale: layer.outputScale, zeroPoint: layer.outputZeroPoint };
    return mode === 'accumulated'
      ? { db: layer.outputSqnrDb, ...q }
      : { db: layer.localSqnrDb ?? info?.localSqnrDb, ...q, note: layer.localSqnrDb === undefined && info?.localSqnrDb === undefined ? 'local SQNR not measured' : undefined };
  }
  if (!g) return { note: 'this run has no per-node errors (quantize again)' };
  if (info?.mode === 'float') return { float: true, note: `ran in float${info.reason ? `: ${info.reason}` : ''}`, db: value?.sqnrDb, ...quant };
  if (info?.mode === 'fused') {
    const into = byName?.get(info.into ?? '');
    const v = into ? g.values[into.outputs[0] ?? ''] : undefined;
    const db = mode === 'accumulated' ? v?.sqnrDb : g.nodes[info.into ?? '']?.localSqnrDb;
    return { db, note: `computed inside ${info.into}'s lookup table` };
  }
  if (!info) {
    // folded at preparation (a BatchNormalization into its conv: the conv writes this value), or a constant
    if (mode === 'accumulated' && value?.sqnrDb !== undefined) return { db: value.sqnrDb, ...quant, note: 'folded into the node before it' };
    return { note: 'folded away before running (constant or merged)' };
  }
  if (mode === 'accumulated') {
    const note = value?.sqnrDb === undefined ? 'not measured' : info.compared ? 'read after the activation that follows (its codes are already clamped)' : undefined;
    return { db: value?.sqnrDb, ...quant, note };
  }
  return { db: info.localSqnrDb, ...quant, note: info.localSqnrDb === undefined ? 'local SQNR not measured (more than one input)' : undefined };
}

// ---------- what is drawn ----------

export interface VNode {
  id: string;
  kind: 'op' | 'block' | 'input' | 'output';
  /** First line (op type, block name, value name). */
  title: string;
  /** Second line (short node name, node count, shape). */
  sub: string;
  node?: GNode;
  /** Block key: of a collapsed block's box, or of the expanded cluster an op node sits in. */
  block?: string;
  /** Node names inside a collapsed block. */
  members?: string[];
}

export interface VEdge {
  id: string;
  from: string;
  to: string;
  /** Values carried (several when a collapsed block reads or writes more than one). */
  values: string[];
}

export interface VCluster {
  id: string;
  block: string;
  label: string;
  members: string[];
}

export interface ViewGraph {
  nodes: VNode[];
  edges: VEdge[];
  clusters: VCluster[];
  /** Nodes left out because the graph input does not reach them (shown with showConstants). */
  hiddenConstants: number;
  /** Blocks and their members (drawn nodes only). */
  blocks: Map<string, string[]>;
}

export interface GraphData {
  nodes: readonly GNode[];
  inputs: readonly { name: string; dims: (number | string)[] }[];
  outputs: readonly { name: string; dims: (number | string)[] }[];
}

export interface ViewOptions {
  /** Blocks drawn as one box. */
  collapsed: ReadonlySet<string>;
  showConstants: boolean;
}

/** The part of the name inside its block: '/layer1/layer1.0/conv1/Conv' in 'layer1.0' → 'conv1/Conv'. */
export function shortName(name: string, block: string | undefined): string {
  if (block && name.startsWith(block + '/')) return name.slice(block.length + 1);
  return name.startsWith('/') ? name.slice(1) : name;
}

/** Blocks of the drawn nodes (constants left out unless shown). */
export function drawnBlocks(data: GraphData, showConstants: boolean): { drawn: GNode[]; blockOf: Map<string, string | undefined>; hidden: Set<string> } {
  let hidden = showConstants ? new Set<string>() : constantNodes(data.nodes, data.inputs.map((i) => i.name));
  if (hidden.size === data.nodes.length) hidden = new Set(); // nothing reachable: draw it all rather than nothing
  const drawn = data.nodes.filter((n) => !hidden.has(n.name));
  return { drawn, blockOf: assignBlocks(drawn.map((n) => n.name)), hidden };
}

/** Nodes, clusters and edges after collapsing: an edge between two drawn things per pair, carrying its values. */
export function buildView(data: GraphData, opts: ViewOptions): ViewGraph {
  const { drawn, blockOf, hidden } = drawnBlocks(data, opts.showConstants);
  const blocks = new Map<string, string[]>();
  for (const n of drawn) { const b = blockOf.get(n.name); if (b) blocks.set(b, [...(blocks.get(b) ?? []), n.name]); }
  const idOf = new Map<string, string>(); // node name → drawn id
  const nodes: VNode[] = [];
  const clusters: VCluster[] = [];
  const graphInputs = new Set(data.inputs.map((i) => i.name));
  const used = new Set(drawn.flatMap((n) => n.inputs));
  for (const i of data.inputs) if (used.has(i.name)) nodes.push({ id: `i:${i.name}`, kind: 'input', title: i.name, sub: `[${i.dims.join('×')}]` });
  const placedBlocks = new Set<string>();
  for (const n of drawn) {
    const b = blockOf.get(n.name);
    if (b && opts.collapsed.has(b)) {
      idOf.set(n.name, `b:${b}`);
      if (!placedBlocks.has(b)) {
        placedBlocks.add(b);
        const members = blocks.get(b)!;
        nodes.push({ id: `b:${b}`, kind: 'block', title: blockLabel(b), sub: `${members.length} nodes`, block: b, members });
      }
      continue;
    }
    idOf.set(n.name, `n:${n.name}`);
    nodes.push({ id: `n:${n.name}`, kind: 'op', title: n.op, sub: shortName(n.name, b), node: n, block: b });
    if (b && !placedBlocks.has(b)) {
      placedBlocks.add(b);
      clusters.push({ id: `c:${b}`, block: b, label: blockLabel(b), members: blocks.get(b)! });
    }
  }
  const producer = new Map<string, string>();
  for (const n of drawn) for (const o of n.outputs) producer.set(o, idOf.get(n.name)!);
  for (const v of graphInputs) if (used.has(v)) producer.set(v, `i:${v}`);
  const edges = new Map<string, VEdge>();
  const link = (from: string, to: string, value: string) => {
    if (from === to) return;
    const id = `${from}->${to}`;
    const e = edges.get(id);
    if (e) { if (!e.values.includes(value)) e.values.push(value); } else edges.set(id, { id, from, to, values: [value] });
  };
  for (const n of drawn) for (const v of n.inputs) { const from = producer.get(v); if (from) link(from, idOf.get(n.name)!, v); }
  for (const o of data.outputs) {
    const from = producer.get(o.name);
    if (!from) continue;
    nodes.push({ id: `o:${o.name}`, kind: 'output', title: o.name, sub: `[${o.dims.join('×')}]` });
    link(from, `o:${o.name}`, o.name);
  }
  return { nodes, edges: [...edges.values()], clusters, hiddenConstants: hidden.size, blocks };
}

// ---------- layout ----------

export interface Box { x: number; y: number; width: number; height: number }
export interface Layout {
  width: number;
  height: number;
  /** Centre and size of every drawn node. */
  nodes: Map<string, Box>;
  clusters: Map<string, Box>;
  edges: Map<string, { x: number; y: number }[]>;
}

export const NODE_HEIGHT = 46;
const CHAR_WIDTH = 6.6;
const MAX_NODE_WIDTH = 220;

/** Box width for a node's text (estimated: the editor font at 11–12 px). */
export function nodeWidth(n: VNode): number {
  // room for the third line a run adds ('worst ✖ -12.3 dB', 'W8A8 ● 38.7 dB') so that the layout does not change with it
  const third = n.kind === 'block' ? 17 : n.kind === 'op' ? 15 : 0;
  const chars = Math.max(n.title.length + (n.kind === 'block' ? 2 : 0), Math.min(n.sub.length, 30), third, 8);
  return Math.min(MAX_NODE_WIDTH, Math.round(chars * CHAR_WIDTH + 20));
}

/** A layered left-to-right layout (dagre): clusters around expanded blocks, collapsed blocks as single boxes. */
export function layoutView(view: ViewGraph): Layout {
  const g = new graphlib.Graph({ compound: true, multigraph: false });
  g.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 34, edgesep: 8, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const c of view.clusters) g.setNode(c.id, { width: 0, height: 0, paddingTop: 22 });
  for (const n of view.nodes) {
    g.setNode(n.id, { width: nodeWidth(n), height: NODE_HEIGHT });
    if (n.kind === 'op' && n.block && view.clusters.some((c) => c.block === n.block)) g.setParent(n.id, `c:${n.block}`);
  }
  for (const e of view.edges) g.setEdge(e.from, e.to, { minlen: 1 });
  dagreLayout(g);
  const nodes = new Map<string, Box>();
  for (const n of view.nodes) {
    const l = g.node(n.id);
    nodes.set(n.id, { x: l.x ?? 0, y: l.y ?? 0, width: l.width, height: l.height });
  }
  // clusters: the box around their members, with room for the title above
  const clusters = new Map<string, Box>();
  for (const c of view.clusters) {
    const boxes = view.nodes.filter((n) => n.kind === 'op' && n.block === c.block).map((n) => nodes.get(n.id)!);
    if (!boxes.length) continue;
    const x0 = Math.min(...boxes.map((b) => b.x - b.width / 2)) - 8;
    const x1 = Math.max(...boxes.map((b) => b.x + b.width / 2)) + 8;
    const y0 = Math.min(...boxes.map((b) => b.y - b.height / 2)) - 22;
    const y1 = Math.max(...boxes.map((b) => b.y + b.height / 2)) + 8;
    clusters.set(c.id, { x: (x0 + x1) / 2, y: (y0 + y1) / 2, width: x1 - x0, height: y1 - y0 });
  }
  const edges = new Map<string, { x: number; y: number }[]>();
  for (const e of view.edges) edges.set(e.id, (g.edge(e.from, e.to)?.points ?? []).map((p: { x: number; y: number }) => ({ x: p.x, y: p.y })));
  let width = 0, height = 0;
  for (const b of [...nodes.values(), ...clusters.values()]) { width = Math.max(width, b.x + b.width / 2 + 16); height = Math.max(height, b.y + b.height / 2 + 16); }
  return { width, height, nodes, clusters, edges };
}

// ---------- keyboard neighbours ----------

/** The drawn node an arrow key moves to: Right/Left follow edges (nearest in y), Up/Down the nearest node above/below. */
export function neighbour(view: ViewGraph, lay: Layout, from: string, key: 'ArrowRight' | 'ArrowLeft' | 'ArrowUp' | 'ArrowDown'): string | undefined {
  const at = lay.nodes.get(from);
  if (!at) return undefined;
  const dist = (id: string) => { const b = lay.nodes.get(id)!; return Math.abs(b.x - at.x) + 2 * Math.abs(b.y - at.y); }; // the next rank first, not a skip connection
  const best = (ids: string[]) => ids.filter((id) => lay.nodes.has(id)).sort((a, b) => dist(a) - dist(b))[0];
  if (key === 'ArrowRight') return best(view.edges.filter((e) => e.from === from).map((e) => e.to));
  if (key === 'ArrowLeft') return best(view.edges.filter((e) => e.to === from).map((e) => e.from));
  const below = key === 'ArrowDown';
  const others = view.nodes.map((n) => n.id).filter((id) => {
    const b = lay.nodes.get(id);
    return !!b && id !== from && (below ? b.y > at.y + 1 : b.y < at.y - 1) && Math.abs(b.x - at.x) < Math.max(at.width, b.width);
  });
  return others.sort((a, b) => Math.abs(lay.nodes.get(a)!.y - at.y) - Math.abs(lay.nodes.get(b)!.y - at.y))[0];
}
