/** The custom editor page: model summary, layer graph and table, run results, layer details. Talks to the host only via postMessage. */
import { provideVSCodeDesignSystem, vsCodeBadge, vsCodeButton, vsCodeDivider, vsCodeProgressRing, vsCodeTag } from '@vscode/webview-ui-toolkit';
import {
  accuracyDrop,
  bitsLabel,
  formatDb,
  formatSigned,
  layerErrorLine,
  sqnrQuality,
  type HistogramView,
  type LayerResult,
  type QuantRun,
  type SensitivityEntry,
} from '../src/extension/results';
import { modulePathFromNodeName } from '../src/extension/codemap';
import type { ModelSummary } from '../src/worker/summary';

provideVSCodeDesignSystem().register(vsCodeButton(), vsCodeProgressRing(), vsCodeBadge(), vsCodeDivider(), vsCodeTag());

interface VsCodeApi {
  postMessage(m: unknown): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
const vscode = acquireVsCodeApi();

interface ViewState {
  selected?: string;
  scrollY?: number;
}
interface Model {
  fileName: string;
  modelPath: string;
  summary?: ModelSummary;
  error?: string;
  run?: QuantRun;
  sensitivity?: SensitivityEntry[];
  code: { layer: string; modulePath: string; file: string; line: number }[];
  busy?: string;
}

let model: Model | undefined;
let state: ViewState = (vscode.getState() as ViewState | undefined) ?? {};
const app = document.getElementById('app')!;
const tooltip = document.getElementById('tooltip')!;

function saveState(patch: Partial<ViewState>): void {
  state = { ...state, ...patch };
  vscode.setState(state);
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string | undefined)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) if (c !== undefined) e.append(c);
  return e;
}

function custom(tag: string, attrs: Record<string, string>, ...children: (Node | string)[]): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

function moduleName(layer: string): string {
  return model?.code.find((c) => c.layer === layer)?.modulePath ?? modulePathFromNodeName(layer) ?? layer;
}

function resultOf(layer: string): LayerResult | undefined {
  return model?.run?.layers.find((l) => l.name === layer);
}

function fmt(v: number | undefined, digits = 4): string {
  return v === undefined ? '—' : Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : v.toPrecision(digits);
}

// ---------- rendering ----------

function render(): void {
  if (!model) return;
  app.replaceChildren();
  app.append(header(), busyBar());
  if (model.error) app.append(el('p', { class: 'error', role: 'alert', id: 'load-error' }, model.error));
  if (model.summary) {
    app.append(accuracyCards(), graph(), layerTable(), details(), sensitivitySection());
  }
  window.scrollTo(0, state.scrollY ?? 0);
}

function header(): HTMLElement {
  const s = model!.summary;
  const info = s
    ? `${s.inputs.map((i) => `${i.name} [${i.dims.join('×')}]`).join(', ')} → ${s.outputs.map((o) => `${o.name} [${o.dims.join('×')}]`).join(', ')} · opset ${s.opset} · ${s.nodeCount} nodes · ${s.layers.length} conv/linear layers · ${(s.parameters / 1e3).toFixed(1)} k parameters${s.producer ? ` · ${s.producer}` : ''}`
    : '';
  const button = (id: string, label: string, command: string, appearance = 'secondary') => {
    const b = custom('vscode-button', { id, appearance }, label);
    b.addEventListener('click', () => vscode.postMessage({ type: 'command', command }));
    return b;
  };
  return el(
    'header',
    {},
    el('h1', { id: 'title' }, model!.fileName),
    el('p', { class: 'muted', id: 'model-info' }, info),
    el('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Model actions' },
      button('btn-quantize', 'Quantize…', 'quantize', 'primary'),
      button('btn-sensitivity', 'Sensitivity', 'sensitivity'),
      button('btn-export', 'Export QDQ model', 'export'),
      button('btn-calibration', 'Calibration data…', 'selectCalibration'),
    ),
  );
}

function busyBar(): HTMLElement {
  const bar = el('div', { id: 'busy', class: 'busy', role: 'status' });
  if (model!.busy) bar.append(custom('vscode-progress-ring', {}), el('span', { id: 'busy-text' }, model!.busy));
  else bar.hidden = true;
  return bar;
}

function accuracyCards(): HTMLElement {
  const run = model!.run;
  const section = el('section', { id: 'accuracy', 'aria-label': 'Accuracy' });
  if (!run) {
    section.append(el('p', { class: 'muted', id: 'no-run' }, 'Not quantized yet. Run “Quantize…” (or the command “Quant Inspector: Quantize to N bits”) to see per-layer scales, errors and accuracy.'));
    return section;
  }
  const drop = accuracyDrop(run);
  const card = (label: string, value: string, id: string, cls = '') => el('div', { class: `card ${cls}` }, el('div', { class: 'card-label' }, label), el('div', { class: 'card-value', id }, value));
  section.append(
    el('div', { class: 'cards' },
      card('Setting', `${bitsLabel(run.settings.weightBits, run.settings.activationBits)} · ${run.settings.granularity} · ${run.settings.method}`, 'run-setting'),
      card('Float accuracy', run.labelled === false ? 'no labels' : run.fp32Accuracy === undefined ? '—' : `${run.fp32Accuracy.toFixed(2)} %`, 'acc-float'),
      card('Quantized accuracy', run.quantizedAccuracy === undefined ? '—' : `${run.quantizedAccuracy.toFixed(2)} %`, 'acc-quant'),
      card('Δ accuracy', `${formatSigned(drop)} pts`, 'acc-delta', drop === undefined ? '' : drop < -1 ? 'poor' : drop < -0.3 ? 'fair' : 'good'),
      card('Top-1 agreement', run.agreement === undefined ? '—' : `${run.agreement.toFixed(2)} %`, 'acc-agree'),
      card(run.softmax ? 'Logit SQNR (before Softmax)' : 'Logit SQNR', run.logitSqnrDb === undefined ? '—' : `${run.logitSqnrDb.toFixed(1)} dB`, 'acc-sqnr'),
    ),
    el('p', { class: 'muted' }, `Calibrated on ${run.settings.calibrationImages} images of ${basename(run.settings.calibrationData)}; evaluated on ${run.settings.testImages} images${run.settings.testData ? ` of ${basename(run.settings.testData)}` : ''}; ${run.seconds.toFixed(1)} s; ${new Date(run.finishedAt).toLocaleString()}.`),
  );
  if (run.floatNodes && run.floatNodes.length > 0) {
    const list = el('ul', { id: 'float-nodes' });
    for (const f of run.floatNodes) list.append(el('li', {}, el('code', {}, f.name), ` ${f.op}: ${f.reason}`));
    section.append(el('details', { class: 'float-nodes' }, el('summary', {}, `${run.floatNodes.length} node${run.floatNodes.length > 1 ? 's' : ''} ran in float (dequantized at their input)`), list));
  }
  return section;
}

function basename(p: string): string {
  return p.split(/[\\/]/).pop() ?? p;
}

function attachTooltip(target: HTMLElement, layer: string): void {
  const show = () => {
    const r = resultOf(layer);
    tooltip.replaceChildren(el('strong', {}, moduleName(layer)), el('br'), r ? layerErrorLine(r) : 'not quantized yet');
    tooltip.hidden = false;
    const box = target.getBoundingClientRect();
    tooltip.style.left = `${Math.min(window.innerWidth - 320, Math.max(4, box.left))}px`;
    tooltip.style.top = `${box.bottom + 4 + window.scrollY}px`;
    target.setAttribute('aria-describedby', 'tooltip');
  };
  const hide = () => {
    tooltip.hidden = true;
  };
  target.addEventListener('mouseenter', show);
  target.addEventListener('focus', show);
  target.addEventListener('mouseleave', hide);
  target.addEventListener('blur', hide);
}

function graph(): HTMLElement {
  const s = model!.summary!;
  const chain = el('ol', { class: 'graph', 'aria-label': 'Layer graph (data flows left to right)' });
  for (const l of s.layers) {
    const r = resultOf(l.name);
    const q = sqnrQuality(r?.outputSqnrDb);
    const node = el('li', { class: `gnode q-${q}${state.selected === l.name ? ' selected' : ''}`, tabindex: '-1', 'data-layer': l.name }, el('span', { class: 'gname' }, moduleName(l.name)), el('span', { class: 'gop' }, r ? `${bitsLabel(r.weightBits, r.activationBits)} ${formatDb(r.outputSqnrDb)}` : l.op));
    node.addEventListener('click', () => select(l.name, true));
    attachTooltip(node, l.name);
    chain.append(node);
  }
  return el('section', { id: 'graph' }, el('h2', {}, 'Layer graph'), chain);
}

function qualityCell(db: number | undefined): HTMLTableCellElement {
  const q = sqnrQuality(db);
  const mark = q === 'good' ? '●' : q === 'fair' ? '▲' : q === 'poor' ? '✖' : '';
  return el('td', { class: `num q-${q}`, title: q === 'unknown' ? '' : `${q} (≥30 dB good, 20–30 fair, <20 poor)` }, `${mark} ${formatDb(db)}`);
}

function layerTable(): HTMLElement {
  const s = model!.summary!;
  const head = el('tr', {}, ...['#', 'layer', 'op', 'weights', 'bits', 'weight scale(s)', 'input scale / zp', 'output scale / zp', 'weight SQNR', 'output SQNR', 'Δacc'].map((h) => el('th', { scope: 'col' }, h)));
  const body = el('tbody');
  s.layers.forEach((l, i) => {
    const r = resultOf(l.name);
    const scales = r?.weightScales.length ? (r.weightScales.length === 1 ? fmt(r.weightScales[0], 3) : `${fmt(Math.min(...r.weightScales), 3)}…${fmt(Math.max(...r.weightScales), 3)} (${r.weightScales.length})`) : '—';
    const row = el('tr', { tabindex: '0', 'data-layer': l.name, class: state.selected === l.name ? 'selected' : '', 'aria-selected': String(state.selected === l.name) },
      el('td', { class: 'num' }, String(i + 1)),
      el('td', { class: 'lname' }, moduleName(l.name)),
      el('td', {}, l.op),
      el('td', {}, l.weightDims.join('×')),
      el('td', {}, r ? bitsLabel(r.weightBits, r.activationBits) : '—'),
      el('td', { class: 'num' }, scales),
      el('td', { class: 'num' }, r?.inputScale !== undefined ? `${fmt(r.inputScale, 3)} / ${r.inputZeroPoint ?? 0}` : '—'),
      el('td', { class: 'num' }, r?.outputScale !== undefined ? `${fmt(r.outputScale, 3)} / ${r.outputZeroPoint ?? 0}` : '—'),
      qualityCell(r?.weightSqnrDb),
      qualityCell(r?.outputSqnrDb),
      el('td', { class: 'num' }, formatSigned(r?.deltaAccuracy)),
    );
    row.addEventListener('click', () => select(l.name, true));
    row.addEventListener('keydown', (e) => onRowKey(e, row, l.name));
    attachTooltip(row, l.name);
    body.append(row);
  });
  return el('section', { id: 'layers' }, el('h2', {}, 'Layers'), el('table', { class: 'layers', 'aria-label': 'Layers and their quantization' }, el('thead', {}, head), body));
}

function onRowKey(e: KeyboardEvent, row: HTMLElement, layer: string): void {
  if (e.key === 'Enter' || e.key === ' ') {
    e.preventDefault();
    select(layer, true);
  } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
    e.preventDefault();
    const next = (e.key === 'ArrowDown' ? row.nextElementSibling : row.previousElementSibling) as HTMLElement | null;
    next?.focus();
  }
}

function histogramSvg(title: string, h: HistogramView): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const w = 320;
  const hgt = 110;
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${hgt + 18}`);
  svg.setAttribute('class', 'hist');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `${title}: ${h.counts.length} bins from ${fmt(h.low)} to ${fmt(h.high)}`);
  const max = Math.max(1, ...h.counts);
  const bw = w / Math.max(1, h.counts.length);
  h.counts.forEach((c, i) => {
    const r = document.createElementNS(ns, 'rect');
    const bh = (Math.log1p(c) / Math.log1p(max)) * hgt;
    r.setAttribute('x', String(i * bw));
    r.setAttribute('y', String(hgt - bh));
    r.setAttribute('width', String(Math.max(0.5, bw - 0.5)));
    r.setAttribute('height', String(bh));
    svg.append(r);
  });
  for (const [x, anchor, text] of [[0, 'start', fmt(h.low, 3)], [w, 'end', fmt(h.high, 3)]] as const) {
    const t = document.createElementNS(ns, 'text');
    t.setAttribute('x', String(x));
    t.setAttribute('y', String(hgt + 14));
    t.setAttribute('text-anchor', anchor);
    t.textContent = text;
    svg.append(t);
  }
  return svg;
}

function details(): HTMLElement {
  const section = el('section', { id: 'details', 'aria-label': 'Layer details' });
  const name = state.selected;
  const info = model!.summary!.layers.find((l) => l.name === name);
  if (!name || !info) {
    section.append(el('p', { class: 'muted' }, 'Select a layer (click, or Enter on a focused row) to see its scales, histograms and integer dataflow.'));
    return section;
  }
  const r = resultOf(name);
  const code = model!.code.find((c) => c.layer === name);
  const reveal = custom('vscode-button', { appearance: 'secondary', id: 'btn-reveal' }, code ? `Reveal ${code.file}:${code.line}` : 'No model code found');
  if (code) reveal.addEventListener('click', () => vscode.postMessage({ type: 'revealLayer', layer: name }));
  else reveal.setAttribute('disabled', '');
  const rows: [string, string][] = [
    ['ONNX node', name],
    ['module', moduleName(name)],
    ['weights', `${info.weightDims.join('×')} (${info.parameters} parameters)`],
  ];
  if (r) {
    rows.push(
      ['bits', `${bitsLabel(r.weightBits, r.activationBits)}`],
      ['weight scales', r.weightScales.length <= 8 ? r.weightScales.map((s) => fmt(s, 4)).join(', ') : `${r.weightScales.length} per-channel scales, ${fmt(Math.min(...r.weightScales))} … ${fmt(Math.max(...r.weightScales))}`],
      ['weight zero points', r.weightZeroPoints?.length ? [...new Set(r.weightZeroPoints)].join(', ') : '0 (symmetric)'],
      ['input scale / zero point', `${fmt(r.inputScale)} / ${r.inputZeroPoint ?? 0}`],
      ['output scale / zero point', `${fmt(r.outputScale)} / ${r.outputZeroPoint ?? 0}`],
      ['weight SQNR', formatDb(r.weightSqnrDb)],
      ['output SQNR', formatDb(r.outputSqnrDb)],
    );
    if (r.outputCosine !== undefined) rows.push(['output cosine', r.outputCosine.toFixed(5)]);
    if (r.maxAccumulator !== undefined) rows.push(['largest |accumulator|', `${r.maxAccumulator} (${Math.ceil(Math.log2(r.maxAccumulator + 1)) + 1} bits of 32)`]);
    if (r.deltaAccuracy !== undefined) rows.push(['Δacc (this layer alone)', `${formatSigned(r.deltaAccuracy)} pts`]);
  }
  const table = el('table', { class: 'kv' }, ...rows.map(([k, v]) => el('tr', {}, el('th', { scope: 'row' }, k), el('td', {}, v))));
  const charts = el('div', { class: 'charts' });
  if (r?.weightHistogram) charts.append(el('figure', {}, histogramSvg('weights', r.weightHistogram), el('figcaption', {}, 'weights (log counts)')));
  if (r?.activationHistogram) charts.append(el('figure', {}, histogramSvg('output activations', r.activationHistogram), el('figcaption', {}, 'output activations (log counts)')));
  section.append(el('h2', { id: 'details-title' }, `Layer ${moduleName(name)}`), el('div', { class: 'toolbar' }, reveal), table, charts);
  if (r?.dataflow?.length) {
    section.append(
      el('h3', {}, 'Integer dataflow'),
      el('table', { class: 'dataflow' },
        el('thead', {}, el('tr', {}, ...['stage', 'bits', 'range', 'what happens'].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, ...r.dataflow.map((s) => el('tr', {}, el('td', {}, s.title), el('td', { class: 'num' }, String(s.bits)), el('td', { class: 'num' }, `[${s.range.min}, ${s.range.max}]`), el('td', {}, s.explanation)))),
      ),
    );
  } else if (r) section.append(el('p', { class: 'muted' }, 'This run did not record the integer dataflow for this layer.'));
  return section;
}

function sensitivitySection(): HTMLElement {
  const entries = model!.sensitivity;
  const section = el('section', { id: 'sensitivity' });
  if (!entries?.length) return section;
  const worst = Math.min(...entries.map((e) => e.deltaAccuracy), -0.01);
  section.append(el('h2', {}, 'Sensitivity (one layer quantized at a time)'));
  const list = el('ol', { class: 'bars' });
  for (const e of [...entries].sort((a, b) => a.deltaAccuracy - b.deltaAccuracy)) {
    const bar = el('span', { class: 'bar' });
    bar.style.width = `${Math.max(1, (e.deltaAccuracy / worst) * 100)}%`;
    list.append(el('li', {}, el('span', { class: 'bar-label' }, moduleName(e.layer)), bar, el('span', { class: 'num' }, `${formatSigned(e.deltaAccuracy)} pts`)));
  }
  section.append(list);
  return section;
}

function select(layer: string, scroll: boolean): void {
  saveState({ selected: layer });
  vscode.postMessage({ type: 'selectLayer', layer });
  render();
  const target = document.getElementById('details');
  if (scroll && target) target.scrollIntoView({ block: 'nearest' });
  (document.querySelector(`tr[data-layer="${CSS.escape(layer)}"]`) as HTMLElement | null)?.focus({ preventScroll: true });
  if (model?.code.some((c) => c.layer === layer)) vscode.postMessage({ type: 'revealLayer', layer });
}

// ---------- messages from the host (validated) ----------

window.addEventListener('message', (e: MessageEvent) => {
  const m = e.data as Record<string, unknown> | null;
  if (!m || typeof m !== 'object') return;
  switch (m.type) {
    case 'init':
      model = {
        fileName: String(m.fileName ?? ''),
        modelPath: String(m.modelPath ?? ''),
        summary: m.summary as ModelSummary | undefined,
        error: typeof m.error === 'string' ? m.error : undefined,
        run: m.run as QuantRun | undefined,
        sensitivity: m.sensitivity as SensitivityEntry[] | undefined,
        code: Array.isArray(m.code) ? (m.code as Model['code']) : [],
        busy: typeof m.busy === 'string' ? m.busy : undefined,
      };
      render();
      break;
    case 'busy':
      if (!model) return;
      model.busy = m.busy ? String(m.message ?? 'working') : undefined;
      document.getElementById('busy')?.replaceWith(busyBar());
      break;
    case 'error':
      if (!model) return;
      document.getElementById('job-error')?.remove();
      document.getElementById('busy')?.after(el('p', { class: 'error', role: 'alert', id: 'job-error' }, String(m.message ?? 'error')));
      break;
    case 'selectLayer':
      if (typeof m.layer === 'string' && model?.summary?.layers.some((l) => l.name === m.layer)) {
        saveState({ selected: m.layer });
        render();
        document.getElementById('details')?.scrollIntoView({ block: 'start' });
      }
      break;
    case 'showSection':
      document.getElementById(String(m.section))?.scrollIntoView({ block: 'start' });
      break;
  }
});
window.addEventListener('scroll', () => saveState({ scrollY: window.scrollY }), { passive: true });
vscode.postMessage({ type: 'ready' });
