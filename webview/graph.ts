/**
 * The dataflow graph: the model's real DAG laid out by dagre (graph-model.ts), drawn as SVG with pan (drag) and
 * zoom (wheel, + / − / fit), blocks as collapsible clusters, nodes coloured by SQNR after a run (accumulated or
 * local) or, while two runs are compared, by the change of that SQNR from run A to run B (compare-model.ts), keyboard reachable (Tab, Enter opens details or toggles a block, arrow keys move between neighbours).
 * Right-click, Shift+F10 or the ContextMenu key on a node opens its menu (graph-menu.ts): what-if choices, details, source, block.
 */
import { formatDeltaDb } from '../src/extension/compare';
import { bitsLabel, formatDb, layerErrorLine, type QuantRun } from '../src/extension/results';
import { deltaClass, nodeDeltas, type NodeDelta } from './compare-model';
import { custom, el, svg } from './dom';
import { menuEntries, pendingPatchOf, type MenuAction, type MenuTarget } from './graph-menu-model';
import { closeNodeMenu, openNodeMenu } from './graph-menu';
import {
  blockLabel, buildView, collapseByDefault, drawnBlocks, layoutView, neighbour, nodeError, sqnrClass,
  type GraphData, type Layout, type NodeError, type SqnrMode, type ViewGraph, type VNode,
} from './graph-model';
import { actions, comparing, fmt, moduleName, page, resultOf, saveState, vscode, type GraphViewState } from './state';
import { attachTooltip, hideTooltip } from './tooltip';
import { pendingItems, setPendingChoice, whatIfChoiceOf } from './whatif';

/** Expanding everything beyond this many boxes would make the layout slow and the page heavy. */
const MAX_EXPANDED = 1500;
const MIN_ZOOM = 0.04;
const MAX_ZOOM = 3;

let cache: { key: string; data: GraphData; view: ViewGraph; layout: Layout } | undefined;
/** Where a toggled block was on screen, so that the view keeps it in place after the new layout. */
let anchor: { block: string; screenX: number; screenY: number } | undefined;
/** The drawn id to focus after the next render (keyboard users keep their place). */
let focusAfterRender: string | undefined;
let suppressClick = false;

function graphData(): GraphData | undefined {
  const s = page.model?.summary;
  if (!s?.graph) return undefined;
  return { nodes: s.graph.nodes, inputs: s.inputs, outputs: s.outputs };
}

/** Blocks drawn collapsed: the default for the model's size, then what the user toggled. */
function collapsedBlocks(data: GraphData, showConstants: boolean): { collapsed: Set<string>; blocks: string[]; drawn: number } {
  const { drawn, blockOf } = drawnBlocks(data, showConstants);
  const blocks = [...new Set([...blockOf.values()].filter((b): b is string => !!b))];
  const byDefault = collapseByDefault(drawn.length);
  const chosen = page.state.blocks ?? {};
  return { collapsed: new Set(blocks.filter((b) => chosen[b] ?? byDefault)), blocks, drawn: drawn.length };
}

function viewAndLayout(data: GraphData): { view: ViewGraph; layout: Layout; blocks: string[]; drawn: number } {
  const showConstants = page.state.showConstants ?? false;
  const { collapsed, blocks, drawn } = collapsedBlocks(data, showConstants);
  const key = `${page.model!.modelPath}|${showConstants}|${[...collapsed].sort().join(',')}`;
  if (!cache || cache.key !== key || cache.data.nodes !== data.nodes) {
    const view = buildView(data, { collapsed, showConstants });
    cache = { key, data, view, layout: layoutView(view) };
  }
  return { view: cache.view, layout: cache.layout, blocks, drawn };
}

const mark = (cls: string) => (cls === 'q-good' ? '●' : cls === 'q-fair' ? '▲' : cls === 'q-poor' ? '✖' : '');
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

interface Overlay {
  mode: SqnrMode;
  /** The run whose numbers are drawn (run B while comparing: its edges' bits and scales). */
  run?: QuantRun;
  /** Node name → what it shows: its SQNR, or while comparing its change B − A (db). */
  errors: Map<string, NodeError | undefined>;
  /** While two runs are compared: both runs and every node's A, B and change. */
  compare?: { a: QuantRun; b: QuantRun; deltas: Map<string, NodeDelta> };
  /** Colour class and text of a number in `errors` (SQNR bands, or bands of the change). */
  classOf(db: number | undefined, float?: boolean): ReturnType<typeof sqnrClass>;
  dbText(db: number | undefined): string;
}

function overlayFor(data: GraphData): Overlay {
  const mode: SqnrMode = page.state.sqnrMode ?? 'accumulated';
  const errors = new Map<string, NodeError | undefined>();
  const pair = comparing();
  if (pair) {
    const deltas = nodeDeltas(data.nodes, pair.a, pair.b, mode);
    for (const [name, d] of deltas) errors.set(name, { db: d.db, float: d.float, note: d.note, bits: d.b?.bits, scale: d.b?.scale, zeroPoint: d.b?.zeroPoint });
    return { mode, run: pair.b, errors, compare: { ...pair, deltas }, classOf: deltaClass, dbText: formatDeltaDb };
  }
  const run = page.model?.run;
  const byName = new Map(data.nodes.map((n) => [n.name, n]));
  if (run) for (const n of data.nodes) errors.set(n.name, nodeError(n, run, mode, byName));
  return { mode, run, errors, classOf: sqnrClass, dbText: formatDb };
}

function worstOf(members: string[], overlay: Overlay): number | undefined {
  let worst: number | undefined;
  for (const m of members) {
    const e = overlay.errors.get(m);
    if (e?.db !== undefined && !e.float) worst = worst === undefined ? e.db : Math.min(worst, e.db);
  }
  return worst;
}

// ---------- the section ----------

export function graphSection(): HTMLElement {
  const section = el('section', { id: 'graph', 'aria-label': 'Dataflow graph' });
  const data = graphData();
  section.append(el('h2', {}, 'Dataflow graph'));
  if (!data || data.nodes.length === 0) {
    section.append(el('p', { class: 'muted' }, 'This model summary has no graph (reopen the model).'));
    return section;
  }
  const { view, layout, blocks, drawn } = viewAndLayout(data);
  const overlay = overlayFor(data);
  section.append(toolbar(blocks, drawn, overlay));
  const notes: string[] = [];
  const s = page.model!.summary!;
  if (s.graph.truncated) notes.push(`The graph has ${s.graph.totalNodes.toLocaleString()} nodes: the first ${s.graph.nodes.length.toLocaleString()} are drawn.`);
  if (view.hiddenConstants && !page.state.showConstants) notes.push(`${view.hiddenConstants} constant node${view.hiddenConstants > 1 ? 's' : ''} (shape arithmetic, clip bounds) hidden.`);
  if (overlay.compare) notes.push(`Coloured by the change of ${overlay.mode} SQNR from run A (${overlay.compare.a.label ?? ''}) to run B (${overlay.compare.b.label ?? ''}), B − A; edges show run B.`);
  if (overlay.run?.graph) notes.push(`Nodes other than conv/linear layers measured on ${overlay.run.graph.images} images.`);
  if (notes.length) section.append(el('p', { class: 'muted graph-notes' }, notes.join(' ')));
  const viewport = el('div', { class: 'graph-viewport' });
  viewport.style.height = `${Math.round(Math.max(160, Math.min(460, layout.height + 40)))}px`; // CSSOM: allowed by the CSP
  const canvas = drawGraph(view, layout, overlay);
  viewport.append(canvas);
  section.append(viewport);
  requestAnimationFrame(() => mounted(canvas, view, layout));
  return section;
}

function toolbar(blocks: string[], drawn: number, overlay: Overlay): HTMLElement {
  const bar = el('div', { class: 'toolbar graph-toolbar', role: 'toolbar', 'aria-label': 'Graph view' });
  const button = (id: string, label: string, title: string, onClick: () => void, pressed?: boolean) => {
    const b = custom('vscode-button', { id, appearance: pressed ? 'primary' : 'secondary', title, 'aria-label': title }, label);
    if (pressed !== undefined) b.setAttribute('aria-pressed', String(pressed));
    b.addEventListener('click', onClick);
    return b;
  };
  if (overlay.run) {
    const group = el('div', { class: 'segmented', role: 'group', 'aria-label': 'SQNR shown' });
    for (const [mode, label, title] of [
      ['accumulated', 'Accumulated SQNR', 'Colour by accumulated SQNR: the quantized model vs the float model at each output'],
      ['local', 'Local SQNR', 'Colour by local SQNR: each node alone quantized, fed the float model’s input'],
    ] as const) {
      group.append(button(`sqnr-${mode}`, label, title, () => {
        saveState({ sqnrMode: mode });
        focusAfterRender = undefined;
        actions.render();
      }, overlay.mode === mode));
    }
    bar.append(group);
  }
  bar.append(
    button('graph-zoom-out', '−', 'Zoom out', () => zoomBy(1 / 1.25)),
    button('graph-zoom-in', '+', 'Zoom in', () => zoomBy(1.25)),
    button('graph-fit', 'Fit', 'Fit the whole graph', () => fit()),
  );
  if (blocks.length) {
    const expandAll = button('graph-expand-all', 'Expand all', 'Expand every block', () => setAllBlocks(blocks, false));
    if (drawn > MAX_EXPANDED) {
      expandAll.setAttribute('disabled', '');
      expandAll.title = `${drawn} nodes: expand blocks one at a time`;
    }
    bar.append(expandAll, button('graph-collapse-all', 'Collapse all', 'Collapse every block', () => setAllBlocks(blocks, true)));
  }
  const constants = el('input', { type: 'checkbox', id: 'graph-constants' });
  constants.checked = page.state.showConstants ?? false;
  constants.addEventListener('change', () => { saveState({ showConstants: constants.checked, graphView: undefined }); actions.render(); });
  bar.append(el('label', { class: 'check' }, constants, ' constants'));
  bar.append(overlay.compare
    ? el('span', { class: 'legend', id: 'graph-legend', 'aria-label': 'Colours: change of SQNR, B − A' },
      el('span', { class: 'lg q-good' }, '● Δ ≥ −1 dB'), el('span', { class: 'lg q-fair' }, '▲ −1 … −6 dB'), el('span', { class: 'lg q-poor' }, '✖ < −6 dB'), el('span', { class: 'lg q-none' }, 'grey: no data / float'))
    : el('span', { class: 'legend', id: 'graph-legend', 'aria-label': 'Colours' },
      el('span', { class: 'lg q-good' }, '● ≥ 30 dB'), el('span', { class: 'lg q-fair' }, '▲ 20–30 dB'), el('span', { class: 'lg q-poor' }, '✖ < 20 dB'), el('span', { class: 'lg q-none' }, 'grey: no data / float')));
  return bar;
}

function setAllBlocks(blocks: string[], collapsed: boolean): void {
  saveState({ blocks: Object.fromEntries(blocks.map((b) => [b, collapsed])), graphView: undefined });
  actions.render();
}

function toggleBlock(block: string, collapse: boolean, target: Element): void {
  const box = target.getBoundingClientRect();
  anchor = { block, screenX: box.left, screenY: box.top };
  focusAfterRender = collapse ? `b:${block}` : `c:${block}`;
  saveState({ blocks: { ...(page.state.blocks ?? {}), [block]: collapse } });
  actions.render();
}

// ---------- drawing ----------

function edgePath(points: { x: number; y: number }[]): string {
  if (points.length === 0) return '';
  let d = `M${points[0].x.toFixed(1)},${points[0].y.toFixed(1)}`;
  for (let i = 1; i < points.length - 1; i++) {
    const p = points[i], q = points[i + 1];
    const mx = i < points.length - 2 ? (p.x + q.x) / 2 : q.x, my = i < points.length - 2 ? (p.y + q.y) / 2 : q.y;
    d += ` Q${p.x.toFixed(1)},${p.y.toFixed(1)} ${mx.toFixed(1)},${my.toFixed(1)}`;
  }
  if (points.length === 2) d += ` L${points[1].x.toFixed(1)},${points[1].y.toFixed(1)}`;
  return d;
}

function valueLine(value: string, overlay: Overlay): string {
  const v = overlay.run?.graph?.values[value];
  const parts = [value];
  if (v?.bits !== undefined) parts.push(`${v.bits} bits`);
  if (v?.scale !== undefined) parts.push(`scale ${fmt(v.scale, 3)}`);
  if (v?.zeroPoint !== undefined) parts.push(`zero point ${v.zeroPoint}`);
  if (v?.sqnrDb !== undefined) parts.push(`SQNR ${formatDb(v.sqnrDb)}`);
  if (overlay.run && !v) parts.push('float');
  return parts.join(' · ');
}

function nodeTooltip(n: VNode, overlay: Overlay, err: NodeError | undefined, worst: number | undefined): (Node | string)[] {
  if (n.kind === 'block') {
    return [el('strong', {}, n.title), el('br'), `${n.members!.length} nodes · worst ${overlay.compare ? `change of ${overlay.mode} SQNR` : `${overlay.mode} SQNR`} ${overlay.dbText(worst)}`, el('br'), 'Enter or click: expand'];
  }
  if (n.kind === 'input' || n.kind === 'output') return [el('strong', {}, n.title), el('br'), `${n.kind === 'input' ? 'graph input' : 'graph output'} ${n.sub}`];
  const node = n.node!;
  const lines: (Node | string)[] = [el('strong', {}, node.layer ? moduleName(node.name) : node.name), el('br')];
  if (overlay.compare) {
    const d = overlay.compare.deltas.get(node.name);
    const side = (label: string, r: QuantRun, e: NodeError | undefined) => `${label} ${r.label ?? ''}: ${overlay.mode} SQNR ${e?.float ? 'float' : formatDb(e?.db)}`;
    lines.push(side('A', overlay.compare.a, d?.a), el('br'), side('B', overlay.compare.b, d?.b), el('br'), `change B − A ${formatDeltaDb(d?.db)}`);
    if (d?.note) lines.push(el('br'), d.note);
    return lines;
  }
  const r = node.layer ? resultOf(node.name) : undefined;
  const pending = node.layer ? pendingItems().find((p) => p.layer === node.name) : undefined;
  if (pending) lines.push(`what-if (pending): ${pending.text}`, el('br'));
  if (r) {
    lines.push(layerErrorLine(r), el('br'), `local SQNR ${formatDb(r.localSqnrDb)} (this layer alone)`);
  } else if (!overlay.run) {
    lines.push(`${node.op} · not quantized yet`);
  } else {
    const acc = nodeError(node, overlay.run, 'accumulated');
    const loc = nodeError(node, overlay.run, 'local');
    lines.push(`${node.op}${acc?.bits !== undefined ? ` · ${acc.bits}-bit codes` : ''} · accumulated SQNR ${formatDb(acc?.db)} · local SQNR ${formatDb(loc?.db)}`);
    const note = err?.note;
    if (note) lines.push(el('br'), note);
  }
  return lines;
}

function drawGraph(view: ViewGraph, layout: Layout, overlay: Overlay): SVGSVGElement {
  const canvas = svg('svg', { id: 'graph-svg', class: 'graph-svg', role: 'group', 'aria-label': `Dataflow graph, ${view.nodes.length} boxes; Tab to a node, Enter for details, arrow keys to its neighbours; + and − zoom` , tabindex: '-1' });
  canvas.append(svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }))));
  const root = svg('g', { class: 'viewport' });
  canvas.append(root);
  // clusters (expanded blocks) underneath; their titles join the nodes below so that Tab meets them in flow order
  const titles: { x: number; y: number; el: SVGGElement }[] = [];
  for (const c of view.clusters) {
    const b = layout.clusters.get(c.id);
    if (!b) continue;
    const worst = worstOf(c.members, overlay);
    const cls = overlay.run ? overlay.classOf(worst) : 'q-none';
    const title = svg('g', { class: 'ctitle', tabindex: '0', role: 'button', 'aria-expanded': 'true', 'aria-label': `Block ${c.label}, ${c.members.length} nodes, expanded; Enter collapses`, 'data-block': c.block, 'data-id': c.id },
      svg('text', { x: b.x - b.width / 2 + 8, y: b.y - b.height / 2 + 15 }, `▾ ${c.label} · ${c.members.length} nodes${worst !== undefined ? ` · worst ${overlay.dbText(worst)}` : ''}`));
    const g = svg('g', { class: `gcluster ${cls}`, 'data-block': c.block },
      svg('rect', { x: b.x - b.width / 2, y: b.y - b.height / 2, width: b.width, height: b.height, rx: 6 }));
    titles.push({ x: b.x - b.width / 2, y: b.y - b.height / 2, el: title });
    const collapse = () => toggleBlock(c.block, true, title);
    title.addEventListener('click', (e) => { e.stopPropagation(); if (!suppressClick) collapse(); });
    title.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); collapse(); }
      else if (isMenuKey(e)) { e.preventDefault(); openMenuFor({ block: { key: c.block, label: c.label, collapsed: false } }, c.label, title); }
    });
    title.addEventListener('contextmenu', (e) => { e.preventDefault(); e.stopPropagation(); openMenuFor({ block: { key: c.block, label: c.label, collapsed: false } }, c.label, title, e); });
    root.append(g);
  }
  // edges
  const edgeLayer = svg('g', { class: 'edges' });
  for (const e of view.edges) {
    const pts = layout.edges.get(e.id) ?? [];
    if (pts.length < 2) continue;
    const d = edgePath(pts);
    const v = overlay.run?.graph?.values[e.values[0]];
    const g = svg('g', { class: `gedge${v?.bits !== undefined ? ' coded' : ''}`, 'data-from': e.from, 'data-to': e.to },
      svg('path', { class: 'edge-hit', d }), svg('path', { class: 'edge', d, 'marker-end': 'url(#arrow)' }));
    if (v?.bits !== undefined && e.values.length === 1) {
      const mid = pts[Math.floor(pts.length / 2)];
      g.append(svg('text', { class: 'elabel', x: mid.x, y: mid.y - 3, 'text-anchor': 'middle' }, `${v.bits}b`));
    }
    // mouse only: keyboard users read a node's values in its details, and Tab stays on nodes
    attachTooltip(g, () => e.values.slice(0, 6).flatMap((val, i) => [...(i ? [el('br')] : []), valueLine(val, overlay)]).concat(e.values.length > 6 ? [el('br'), `… ${e.values.length - 6} more`] : []), false);
    edgeLayer.append(g);
  }
  root.append(edgeLayer);
  // nodes and block titles in layout order (left to right, then top to bottom) so that Tab follows the flow
  const items: ({ x: number; y: number } & ({ n: VNode } | { title: SVGGElement }))[] = [
    ...view.nodes.map((n) => { const b = layout.nodes.get(n.id)!; return { x: b.x - b.width / 2, y: b.y - b.height / 2, n }; }),
    ...titles.map((t) => ({ x: t.x, y: t.y, title: t.el })),
  ].sort((a, b) => a.x - b.x || a.y - b.y);
  const selected = page.state.selected;
  const pending = new Map(pendingItems().map((p) => [p.layer, p.text]));
  for (const item of items) {
    if ('title' in item) { root.append(item.title); continue; }
    const n = item.n;
    const b = layout.nodes.get(n.id)!;
    const err = n.node ? overlay.errors.get(n.node.name) : undefined;
    const worst = n.kind === 'block' ? worstOf(n.members!, overlay) : undefined;
    const cls = !overlay.run || n.kind === 'input' || n.kind === 'output' ? 'q-none' : n.kind === 'block' ? overlay.classOf(worst) : overlay.classOf(err?.db, err?.float);
    const isSelected = selected !== undefined && (n.node?.name === selected || !!n.members?.includes(selected));
    const g = svg('g', {
      class: `gnode kind-${n.kind} ${cls}${n.node?.layer ? ' layer' : ''}${isSelected ? ' selected' : ''}${n.node && pending.has(n.node.name) ? ' whatif-pending' : ''}`,
      transform: `translate(${(b.x - b.width / 2).toFixed(1)},${(b.y - b.height / 2).toFixed(1)})`,
      tabindex: '0', role: 'button', 'data-id': n.id,
      'aria-label': ariaLabel(n, err, worst, overlay),
    });
    if (n.node) g.setAttribute('data-node', n.node.name);
    if (n.block && n.kind === 'block') { g.setAttribute('data-block', n.block); g.setAttribute('aria-expanded', 'false'); }
    if (isSelected) g.setAttribute('aria-pressed', 'true');
    g.append(svg('rect', { width: b.width, height: b.height, rx: n.kind === 'input' || n.kind === 'output' ? b.height / 2 : 4 }));
    const third = thirdLine(n, err, worst, overlay, cls);
    g.append(
      svg('text', { class: 't1', x: 8, y: 15 }, clip(n.kind === 'block' ? `▸ ${n.title}` : n.title, 30)),
      svg('text', { class: 't2', x: 8, y: 28 }, clip(n.sub, 30)),
    );
    if (third) g.append(svg('text', { class: 't3', x: 8, y: 41 }, third));
    const activate = () => {
      if (suppressClick) return;
      if (n.kind === 'block') toggleBlock(n.block!, false, g);
      else if (n.node) { focusAfterRender = n.id; actions.select(n.node.name, { scroll: false, from: 'graph' }); }
    };
    g.addEventListener('click', (e) => { e.stopPropagation(); activate(); });
    g.addEventListener('keydown', (e) => onNodeKey(e as KeyboardEvent, n, view, layout, activate));
    g.addEventListener('contextmenu', (e) => { e.preventDefault(); e.stopPropagation(); openMenuFor(menuTargetOf(n), menuName(n), g, e as MouseEvent); });
    g.addEventListener('focus', () => { if (g.matches(':focus-visible')) ensureVisible(n.id); }); // keyboard focus: bring it into view
    attachTooltip(g, () => nodeTooltip(n, overlay, err, worst));
    root.append(g);
  }
  return canvas;
}

function thirdLine(n: VNode, err: NodeError | undefined, worst: number | undefined, overlay: Overlay, cls: string): string {
  if (!overlay.run) return n.kind === 'op' && n.node?.layer ? 'layer' : '';
  if (n.kind === 'block') return worst === undefined ? 'no data' : `worst ${mark(cls)} ${overlay.dbText(worst)}`;
  if (n.kind !== 'op') return '';
  if (err?.float) return 'float';
  const r = n.node?.layer ? resultOf(n.node.name) : undefined;
  const db = err?.db;
  const bits = r ? `${bitsLabel(r.weightBits, r.activationBits)} ` : '';
  if (overlay.compare) return db === undefined ? 'Δ —' : `${mark(cls)} Δ ${overlay.dbText(db)}`;
  return db === undefined ? `${bits}—` : `${bits}${mark(cls)} ${formatDb(db)}`;
}

function ariaLabel(n: VNode, err: NodeError | undefined, worst: number | undefined, overlay: Overlay): string {
  if (n.kind === 'block') return `Block ${n.title}, ${n.members!.length} nodes, collapsed${overlay.run ? `, worst ${overlay.compare ? 'change of ' : ''}${overlay.mode} SQNR ${overlay.dbText(worst)}` : ''}; Enter expands`;
  if (n.kind === 'input' || n.kind === 'output') return `Graph ${n.kind} ${n.title} ${n.sub}`;
  const name = n.node!.layer ? moduleName(n.node!.name) : n.node!.name;
  return `${n.title} ${name}${overlay.run ? `, ${overlay.compare ? 'change of ' : ''}${overlay.mode} SQNR ${err?.float ? 'float' : overlay.dbText(err?.db)}` : ''}`;
}

// ---------- the context menu ----------

const isMenuKey = (e: KeyboardEvent) => e.key === 'ContextMenu' || (e.key === 'F10' && e.shiftKey);

/** What the menu of a drawn box offers: see graph-menu-model.ts. */
function menuTargetOf(n: VNode): MenuTarget {
  if (n.kind === 'block') return { block: { key: n.block!, label: n.title, collapsed: true } };
  if (!n.node) return {};
  const { name, layer } = n.node;
  return {
    node: { name, layer },
    block: n.block ? { key: n.block, label: blockLabel(n.block), collapsed: false } : undefined,
    whatIf: layer ? whatIfChoiceOf(name) : undefined,
    revealable: layer && !!page.model?.code.some((c) => c.layer === name),
  };
}

function menuName(n: VNode): string {
  return n.node?.layer ? moduleName(n.node.name) : n.node?.name ?? n.title;
}

/** Opens the menu at the pointer, or under the box when opened from the keyboard. */
function openMenuFor(target: MenuTarget, name: string, owner: SVGGElement, pointer?: MouseEvent): void {
  hideTooltip();
  const box = owner.getBoundingClientRect();
  const at = pointer && (pointer.clientX || pointer.clientY) ? { x: pointer.clientX, y: pointer.clientY } : { x: box.left, y: box.bottom + 2 };
  openNodeMenu(menuEntries(target), { label: `Actions for ${name}`, at, owner, choose: (a) => runMenuAction(a, owner) });
}

function runMenuAction(a: MenuAction, owner: SVGGElement): void {
  const pending = pendingPatchOf(a);
  if (pending) setPendingChoice(pending.layer, pending.patch);
  else if (a.kind === 'details') { focusAfterRender = owner.dataset.id; actions.select(a.node, { scroll: true, from: 'graph' }); }
  else if (a.kind === 'reveal') vscode.postMessage({ type: 'revealLayer', layer: a.layer });
  else if (a.kind === 'block') toggleBlock(a.block, a.collapse, owner);
}

function onNodeKey(e: KeyboardEvent, n: VNode, view: ViewGraph, layout: Layout, activate: () => void): void {
  if (isMenuKey(e)) {
    e.preventDefault();
    openMenuFor(menuTargetOf(n), menuName(n), e.currentTarget as SVGGElement);
  } else if (e.key === 'Enter' || e.key === ' ') {
    e.preventDefault();
    activate();
  } else if (e.key === 'ArrowRight' || e.key === 'ArrowLeft' || e.key === 'ArrowUp' || e.key === 'ArrowDown') {
    e.preventDefault();
    const next = neighbour(view, layout, n.id, e.key);
    if (next) focusNode(next);
  } else if (n.kind === 'op' && n.block && e.key === '-' && e.altKey) {
    e.preventDefault();
    toggleBlock(n.block, true, e.currentTarget as Element);
  }
}

function nodeElement(id: string): SVGGElement | null {
  return document.querySelector(`#graph-svg [data-id="${CSS.escape(id)}"]`);
}

function focusNode(id: string): void {
  nodeElement(id)?.focus({ preventScroll: true });
}

// ---------- pan and zoom ----------

function current(): { canvas: SVGSVGElement; root: SVGGElement } | undefined {
  const canvas = document.getElementById('graph-svg') as SVGSVGElement | null;
  const root = canvas?.querySelector('g.viewport') as SVGGElement | null;
  return canvas && root ? { canvas, root } : undefined;
}

/** Shows the view; `persist` false while dragging (kept in memory, stored when the drag ends). */
function apply(v: GraphViewState, persist = true): void {
  const c = current();
  if (!c) return;
  c.root.setAttribute('transform', `translate(${v.x.toFixed(1)},${v.y.toFixed(1)}) scale(${v.k.toFixed(4)})`);
  c.canvas.dataset.zoom = v.k.toFixed(4);
  if (persist) saveState({ graphView: v });
  else page.state = { ...page.state, graphView: v };
}

function viewNow(): GraphViewState {
  return page.state.graphView ?? { x: 0, y: 0, k: 1 };
}

function zoomAt(factor: number, cx: number, cy: number): void {
  const v = viewNow();
  const k = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, v.k * factor));
  apply({ k, x: cx - ((cx - v.x) * k) / v.k, y: cy - ((cy - v.y) * k) / v.k });
}

function zoomBy(factor: number): void {
  const c = current();
  if (!c) return;
  zoomAt(factor, c.canvas.clientWidth / 2, c.canvas.clientHeight / 2);
}

function fit(): void {
  const c = current();
  if (!c || !cache) return;
  apply(fitView(cache.layout, c.canvas.clientWidth, c.canvas.clientHeight));
}

function fitView(layout: Layout, w: number, h: number): GraphViewState {
  const k = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, Math.min(w / Math.max(1, layout.width), h / Math.max(1, layout.height), 1.25)));
  return { k, x: (w - layout.width * k) / 2, y: (h - layout.height * k) / 2 };
}

/** First view of a layout: all of it when that stays readable, else its start (the input) at full size. */
function initialView(layout: Layout, w: number, h: number): GraphViewState {
  const fitted = fitView(layout, w, h);
  if (fitted.k >= 0.7) return fitted;
  const k = 1;
  return { k, x: 8, y: layout.height * k < h ? (h - layout.height * k) / 2 : 8 };
}

function ensureVisible(id: string): void {
  const c = current();
  const b = cache?.layout.nodes.get(id);
  if (!c || !b) return;
  const v = viewNow();
  const w = c.canvas.clientWidth, h = c.canvas.clientHeight;
  const left = v.x + (b.x - b.width / 2) * v.k, right = v.x + (b.x + b.width / 2) * v.k;
  const top = v.y + (b.y - b.height / 2) * v.k, bottom = v.y + (b.y + b.height / 2) * v.k;
  if (left >= 0 && right <= w && top >= 0 && bottom <= h) return;
  apply({ k: v.k, x: w / 2 - b.x * v.k, y: h / 2 - b.y * v.k });
}

function mounted(canvas: SVGSVGElement, view: ViewGraph, layout: Layout): void {
  if (!canvas.isConnected) return;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  let v = page.state.graphView ?? initialView(layout, w, h);
  if (anchor) {
    // keep the toggled block where it was: its box (collapsed) or its cluster (expanded) under the same screen point
    const id = view.nodes.some((n) => n.id === `b:${anchor!.block}`) ? `b:${anchor.block}` : `c:${anchor.block}`;
    const box = layout.nodes.get(id) ?? layout.clusters.get(id);
    const origin = canvas.getBoundingClientRect();
    if (box) v = { k: v.k, x: anchor.screenX - origin.left - (box.x - box.width / 2) * v.k, y: anchor.screenY - origin.top - (box.y - box.height / 2) * v.k };
    anchor = undefined;
  }
  apply(v);
  enablePanZoom(canvas);
  if (focusAfterRender) {
    const id = focusAfterRender;
    focusAfterRender = undefined;
    nodeElement(id)?.focus({ preventScroll: true });
  }
}

function enablePanZoom(canvas: SVGSVGElement): void {
  let drag: { x: number; y: number; vx: number; vy: number; id: number; moved: boolean } | undefined;
  canvas.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    const v = viewNow();
    drag = { x: e.clientX, y: e.clientY, vx: v.x, vy: v.y, id: e.pointerId, moved: false };
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!drag || e.pointerId !== drag.id) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) < 4) return;
    if (!drag.moved) {
      drag.moved = true;
      canvas.setPointerCapture(e.pointerId); // only once it is a drag: a plain click still reaches the node
      canvas.classList.add('panning');
      hideTooltip();
    }
    apply({ k: viewNow().k, x: drag.vx + dx, y: drag.vy + dy }, false);
  });
  const end = (e: PointerEvent) => {
    if (!drag || e.pointerId !== drag.id) return;
    if (drag.moved) {
      suppressClick = true;
      setTimeout(() => { suppressClick = false; }, 0);
      canvas.classList.remove('panning');
      saveState({ graphView: viewNow() });
    }
    drag = undefined;
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  canvas.addEventListener('wheel', (e) => {
    e.preventDefault();
    closeNodeMenu(); // it would stay where the node was
    const r = canvas.getBoundingClientRect();
    zoomAt(Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015)), e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  canvas.addEventListener('keydown', (e) => {
    if (e.key === '+' || e.key === '=') { e.preventDefault(); zoomBy(1.25); }
    else if (e.key === '-' && !e.altKey) { e.preventDefault(); zoomBy(1 / 1.25); }
    else if (e.key === '0') { e.preventDefault(); fit(); }
  });
}

/** The drawn box of a node (for main.ts to focus a selected node after a render). */
export function focusGraphNode(name: string): void {
  const id = cache?.view.nodes.find((n) => n.node?.name === name || n.members?.includes(name))?.id;
  if (id) focusNode(id);
}
