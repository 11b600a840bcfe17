/** The details pane: a layer's scales, errors, histograms and integer dataflow, or any graph node's values and errors. */
import { bitsLabel, formatDb, formatSigned, type HistogramView } from '../src/extension/results';
import { custom, el, svg } from './dom';
import { nodeError } from './graph-model';
import { fmt, moduleName, page, resultOf, vscode } from './state';
import { layerBits, whatIfControls } from './whatif';

function histogramSvg(title: string, h: HistogramView): SVGSVGElement {
  const w = 320;
  const hgt = 110;
  const chart = svg('svg', { viewBox: `0 0 ${w} ${hgt + 18}`, class: 'hist', role: 'img', 'aria-label': `${title}: ${h.counts.length} bins from ${fmt(h.low)} to ${fmt(h.high)}` });
  const max = Math.max(1, ...h.counts);
  const bw = w / Math.max(1, h.counts.length);
  h.counts.forEach((c, i) => {
    const bh = (Math.log1p(c) / Math.log1p(max)) * hgt;
    chart.append(svg('rect', { x: i * bw, y: hgt - bh, width: Math.max(0.5, bw - 0.5), height: bh }));
  });
  for (const [x, anchor, text] of [[0, 'start', fmt(h.low, 3)], [w, 'end', fmt(h.high, 3)]] as const) {
    chart.append(svg('text', { x, y: hgt + 14, 'text-anchor': anchor }, text));
  }
  return chart;
}

const kvTable = (rows: [string, string][]) => el('table', { class: 'kv' }, ...rows.map(([k, v]) => el('tr', {}, el('th', { scope: 'row' }, k), el('td', {}, v))));

export function details(): HTMLElement {
  const section = el('section', { id: 'details', 'aria-label': 'Layer details' });
  const name = page.state.selected;
  const info = page.model!.summary!.layers.find((l) => l.name === name);
  if (name && !info) {
    const node = page.model!.summary!.graph?.nodes.find((n) => n.name === name);
    if (node) return nodeDetails(section, node);
  }
  if (!name || !info) {
    section.append(el('p', { class: 'muted' }, 'Select a layer (click, or Enter on a focused row or graph node) to see its scales, histograms and integer dataflow.'));
    return section;
  }
  const r = resultOf(name);
  const code = page.model!.code.find((c) => c.layer === name);
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
    if (r.localSqnrDb !== undefined) rows.push(['local SQNR (this layer alone)', formatDb(r.localSqnrDb)]);
    if (r.outputCosine !== undefined) rows.push(['output cosine', r.outputCosine.toFixed(5)]);
    if (r.maxAccumulator !== undefined) rows.push(['largest |accumulator|', `${r.maxAccumulator} (${Math.ceil(Math.log2(r.maxAccumulator + 1)) + 1} bits of 32)`]);
    if (r.deltaAccuracy !== undefined) rows.push(['Δacc (this layer alone)', `${formatSigned(r.deltaAccuracy)} pts`]);
  } else if (page.model!.run && layerBits(page.model!.run, name, r).float) {
    rows.push(['bits', 'float: this run kept the layer in float (a what-if choice); its input is dequantized, its output quantized again']);
  }
  const run = page.model!.run;
  if (run && layerBits(run, name, r).choice && !layerBits(run, name, r).float) rows.push(['what-if choice', `this run chose ${bitsLabel(r?.weightBits ?? 0, r?.activationBits ?? 0)} for this layer (the others: ${bitsLabel(run.settings.weightBits, run.settings.activationBits)})`]);
  const charts = el('div', { class: 'charts' });
  if (r?.weightHistogram) charts.append(el('figure', {}, histogramSvg('weights', r.weightHistogram), el('figcaption', {}, 'weights (log counts)')));
  if (r?.activationHistogram) charts.append(el('figure', {}, histogramSvg('output activations', r.activationHistogram), el('figcaption', {}, 'output activations (log counts)')));
  const whatIf = run
    ? el('div', { class: 'toolbar whatif-details-bar', id: 'details-whatif' }, el('span', { class: 'muted' }, 'What-if for this layer:'), whatIfControls(name, 'details'),
      el('span', { class: 'muted' }, 'then Apply in the what-if bar (or Enter here)'))
    : undefined;
  section.append(el('h2', { id: 'details-title' }, `Layer ${moduleName(name)}`), el('div', { class: 'toolbar' }, reveal), whatIf ?? '', kvTable(rows), charts);
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

const MODE_TEXT: Record<string, string> = {
  layer: 'integer conv / linear layer',
  clamp: 'ReLU / clip as a clamp on the codes',
  add: 'integer add of two code tensors, requantized',
  gap: 'global average pool on the codes',
  maxpool: 'max pool on the codes',
  avgpool: 'average pool: rounded mean of the codes',
  move: 'moves codes (same scale and zero point)',
  concat: 'concatenation onto one scale',
  lut: 'lookup table on the input codes',
  mul: 'integer product of two code tensors, requantized',
  affine: 'per-channel affine on the codes',
  fused: 'computed inside another node',
  float: 'ran in float',
};

/** Details of a node that is not a conv / linear layer: its values, how it ran, and its errors. */
function nodeDetails(section: HTMLElement, node: { name: string; op: string; inputs: string[]; outputs: string[]; layer: boolean }): HTMLElement {
  const run = page.model!.run;
  const info = run?.graph?.nodes[node.name];
  const acc = nodeError(node, run, 'accumulated');
  const loc = nodeError(node, run, 'local');
  const rows: [string, string][] = [
    ['ONNX node', node.name],
    ['operator', node.op],
    ['inputs', node.inputs.join(', ') || '—'],
    ['outputs', node.outputs.join(', ') || '—'],
  ];
  if (run) {
    rows.push(['how it ran', info ? `${MODE_TEXT[info.mode] ?? info.mode}${info.reason ? `: ${info.reason}` : ''}${info.into ? ` (${info.into})` : ''}` : 'folded away before running (constant or merged into the node before it)']);
    if (acc?.bits !== undefined) rows.push(['output codes', `${acc.bits} bits, scale ${fmt(acc.scale)}, zero point ${acc.zeroPoint ?? 0}`]);
    rows.push(['accumulated SQNR (whole model quantized)', formatDb(acc?.db)], ['local SQNR (this node alone)', formatDb(loc?.db)]);
    const note = loc?.note ?? acc?.note;
    if (note) rows.push(['note', note]);
    if (run.graph) rows.push(['measured on', `${run.graph.images} images`]);
  }
  section.append(el('h2', { id: 'details-title' }, `Node ${node.name} (${node.op})`), kvTable(rows));
  if (!run) section.append(el('p', { class: 'muted' }, 'Not quantized yet: quantize to see how this node runs and its error.'));
  return section;
}
