/**
 * The layer table: one row per conv / linear layer with its bits, scales and errors (weight SQNR, accumulated and
 * local output SQNR, Δacc); click or Enter selects. While two runs are compared it is compare.ts's table instead.
 */
import { bitsLabel, formatDb, formatSigned, sqnrQuality } from '../src/extension/results';
import { compareTable } from './compare';
import { el } from './dom';
import { actions, comparing, fmt, moduleName, page, resultOf } from './state';
import { attachTooltip, layerTooltip } from './tooltip';

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
  const head = el('tr', {}, ...['#', 'layer', 'op', 'weights', 'bits', 'weight scale(s)', 'input scale / zp', 'output scale / zp', 'weight SQNR', 'output SQNR (accumulated)', 'local SQNR', 'Δacc'].map((h, i) => el('th', { scope: 'col', ...(HEAD_TITLES[i] ? { title: HEAD_TITLES[i] } : {}) }, h)));
  const body = el('tbody');
  s.layers.forEach((l, i) => {
    const r = resultOf(l.name);
    const scales = r?.weightScales.length ? (r.weightScales.length === 1 ? fmt(r.weightScales[0], 3) : `${fmt(Math.min(...r.weightScales), 3)}…${fmt(Math.max(...r.weightScales), 3)} (${r.weightScales.length})`) : '—';
    const row = el('tr', { tabindex: '0', 'data-layer': l.name, class: selected === l.name ? 'selected' : '', 'aria-selected': String(selected === l.name) },
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
      qualityCell(r?.localSqnrDb),
      el('td', { class: 'num' }, formatSigned(r?.deltaAccuracy)),
    );
    row.addEventListener('click', () => actions.select(l.name, { scroll: true, from: 'table' }));
    row.addEventListener('keydown', (e) => onRowKey(e, row, l.name));
    attachTooltip(row, () => layerTooltip(l.name));
    body.append(row);
  });
  return el('section', { id: 'layers' }, el('h2', {}, 'Layers'), el('table', { class: 'layers', 'aria-label': 'Layers and their quantization' }, el('thead', {}, head), body));
}

function onRowKey(e: KeyboardEvent, row: HTMLElement, layer: string): void {
  if (e.key === 'Enter' || e.key === ' ') {
    e.preventDefault();
    actions.select(layer, { scroll: true, from: 'table' });
  } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
    e.preventDefault();
    const next = (e.key === 'ArrowDown' ? row.nextElementSibling : row.previousElementSibling) as HTMLElement | null;
    next?.focus();
  }
}
