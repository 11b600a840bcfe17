/**
 * The layer table: one row per conv / linear layer with its bits, scales and errors (weight SQNR, accumulated and
 * local output SQNR, Δacc); click or Enter selects. While two runs are compared it is compare.ts's table instead.
 */
import { formatDb, formatSigned, sqnrQuality } from '../src/extension/results';
import { choicesLabel, hasLayerChoices } from '../src/extension/whatif';
import { compareTable } from './compare';
import { el } from './dom';
import { actions, comparing, fmt, moduleName, page, resultOf } from './state';
import { attachTooltip, layerTooltip } from './tooltip';
import { bitsCell, pendingItems, whatIfControls } from './whatif';

function qualityCell(db: number | undefined): HTMLTableCellElement {
  const q = sqnrQuality(db);
  const mark = q === 'good' ? '●' : q === 'fair' ? '▲' : q === 'poor' ? '✖' : '';
  return el('td', { class: `num q-${q}`, title: q === 'unknown' ? '' : `${q} (≥30 dB good, 20–30 fair, <20 poor)` }, `${mark} ${formatDb(db)}`);
}

const HEAD_TITLES: Record<number, string> = {
  9: 'Accumulated: the quantized model against the float model at this layer’s output (the error of every layer up to here)',
  10: 'Local: this layer alone quantized, fed the float model’s input (the error it adds by itself)',
};

export function layerTable(): HTMLElement {
  if (comparing()) return compareTable(onRowKey);
  const s = page.model!.summary!;
  const selected = page.state.selected;
  const run = page.model!.run;
  const cols = ['#', 'layer', 'op', 'weights', 'bits', 'weight scale(s)', 'input scale / zp', 'output scale / zp', 'weight SQNR', 'output SQNR (accumulated)', 'local SQNR', 'Δacc', ...(run ? ['what-if (W / A / float)'] : [])];
  const head = el('tr', {}, ...cols.map((h, i) => el('th', { scope: 'col', ...(HEAD_TITLES[i] ? { title: HEAD_TITLES[i] } : {}) }, h)));
  const body = el('tbody');
  const pending = new Set(pendingItems().map((p) => p.layer));
  s.layers.forEach((l, i) => {
    const r = resultOf(l.name);
    const scales = r?.weightScales.length ? (r.weightScales.length === 1 ? fmt(r.weightScales[0], 3) : `${fmt(Math.min(...r.weightScales), 3)}…${fmt(Math.max(...r.weightScales), 3)} (${r.weightScales.length})`) : '—';
    const cls = [selected === l.name ? 'selected' : '', pending.has(l.name) ? 'whatif-pending' : ''].filter(Boolean).join(' ');
    const row = el('tr', { tabindex: '0', 'data-layer': l.name, class: cls, 'aria-selected': String(selected === l.name) },
      el('td', { class: 'num' }, String(i + 1)),
      el('td', { class: 'lname' }, moduleName(l.name)),
      el('td', {}, l.op),
      el('td', {}, l.weightDims.join('×')),
      bitsCell(run, l.name, r),
      el('td', { class: 'num' }, scales),
      el('td', { class: 'num' }, r?.inputScale !== undefined ? `${fmt(r.inputScale, 3)} / ${r.inputZeroPoint ?? 0}` : '—'),
      el('td', { class: 'num' }, r?.outputScale !== undefined ? `${fmt(r.outputScale, 3)} / ${r.outputZeroPoint ?? 0}` : '—'),
      qualityCell(r?.weightSqnrDb),
      qualityCell(r?.outputSqnrDb),
      qualityCell(r?.localSqnrDb),
      el('td', { class: 'num' }, formatSigned(r?.deltaAccuracy)),
      run ? el('td', { class: 'whatif-cell' }, whatIfControls(l.name, 'row')) : undefined,
    );
    row.addEventListener('click', () => actions.select(l.name, { scroll: true, from: 'table' }));
    row.addEventListener('keydown', (e) => onRowKey(e, row, l.name));
    attachTooltip(row, () => layerTooltip(l.name));
    body.append(row);
  });
  const note = run && hasLayerChoices(run.settings)
    ? el('p', { class: 'muted', id: 'layers-choices' }, `This run has per-layer choices (${choicesLabel(run.settings, s.layers.map((l) => l.name))}): ✎ marks bits chosen for a layer, “float” a layer kept in float (no integer numbers).`)
    : undefined;
  return el('section', { id: 'layers' }, el('h2', {}, 'Layers'), note, el('table', { class: 'layers', 'aria-label': 'Layers and their quantization' }, el('thead', {}, head), body));
}

function onRowKey(e: KeyboardEvent, row: HTMLElement, layer: string): void {
  if (e.target !== row) return; // keys on a control inside the row (the what-if's) are the control's
  if (e.key === 'Enter' || e.key === ' ') {
    e.preventDefault();
    actions.select(layer, { scroll: true, from: 'table' });
  } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
    e.preventDefault();
    const next = (e.key === 'ArrowDown' ? row.nextElementSibling : row.previousElementSibling) as HTMLElement | null;
    next?.focus();
  }
}
