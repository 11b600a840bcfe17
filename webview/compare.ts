/**
 * The comparison of run A and run B (picked in the Runs part): accuracy, agreement and logit SQNR side by side,
 * right / wrong per run, the top-1 decisions that flipped; and the layer table in comparison form (per layer
 * accumulated and local SQNR of A and B with their change, input / output / weight scales A → B, and the what-if
 * controls, which start from run B).
 * The math is src/extension/compare.ts; Δ is always B − A.
 */
import { compareRuns, deltaQuality, formatDeltaDb, formatRatio, type LayerDelta, type RunComparison } from '../src/extension/compare';
import { bitsLabel, formatDb, type QuantRun } from '../src/extension/results';
import { el } from './dom';
import { labelOf, whenOf } from './runs';
import { actions, comparing, fmt, moduleName, page } from './state';
import { attachTooltip } from './tooltip';
import { layerBits, pendingItems, whatIfControls } from './whatif';

let cached: { key: string; value: RunComparison } | undefined;

/** The comparison of the two runs picked (memoised: the page renders on every selection). */
export function currentComparison(): RunComparison | undefined {
  const pair = comparing();
  const s = page.model?.summary;
  if (!pair || !s) return undefined;
  const key = `${pair.a.id}|${pair.b.id}|${s.layers.length}`;
  if (cached?.key !== key || cached.value.a !== pair.a || cached.value.b !== pair.b) cached = { key, value: compareRuns(pair.a, pair.b, s.layers.map((l) => l.name)) };
  return cached.value;
}

const pct = (v: number | undefined) => (v === undefined ? '—' : `${v.toFixed(2)} %`);
const signedPts = (v: number | undefined) => (v === undefined ? '' : ` (${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(2)} pts)`);
const deltaCls = (db: number | undefined) => `d-${deltaQuality(db)}`;

function card(label: string, value: string, id: string, note = ''): HTMLElement {
  return el('div', { class: 'card' }, el('div', { class: 'card-label' }, label), el('div', { class: 'card-value', id }, value), note ? el('div', { class: 'card-note muted' }, note) : undefined);
}

const MAX_FLIPS_LISTED = 200;

export function compareSection(): HTMLElement {
  const c = currentComparison();
  const section = el('section', { id: 'compare', 'aria-label': 'Comparison of run A and run B' });
  if (!c) return section;
  const { a, b } = c;
  section.append(el('h2', { id: 'compare-title' }, `Comparison: A ${labelOf(a)} → B ${labelOf(b)}`));
  const runLine = (side: string, r: QuantRun) => el('li', {}, el('strong', {}, `${side} `), `${labelOf(r)} · ${whenOf(r)} · calibrated on ${r.settings.calibrationImages} images · ${r.settings.testImages} test images`);
  section.append(el('ul', { class: 'compare-runs' }, runLine('A', a), runLine('B', b)));
  const rw = (x: { right: number; wrong: number } | undefined) => (x ? `${x.right} right · ${x.wrong} wrong` : 'no labels');
  const labelled = a.labelled !== false && b.labelled !== false;
  const d = c.decisions;
  section.append(el('div', { class: 'cards' },
    card('Quantized accuracy A → B', labelled ? `${pct(a.quantizedAccuracy)} → ${pct(b.quantizedAccuracy)}` : 'no labels', 'cmp-acc', labelled ? signedPts(c.accuracy).trim() : ''),
    card('Top-1 agreement A → B', `${pct(a.agreement)} → ${pct(b.agreement)}`, 'cmp-agree', signedPts(c.agreement).trim()),
    card('Logit SQNR A → B', `${formatDb(a.logitSqnrDb)} → ${formatDb(b.logitSqnrDb)}`, 'cmp-sqnr', formatDeltaDb(c.logitSqnrDb)),
    card('Run A', rw(c.rightWrong.a), 'cmp-rw-a'),
    card('Run B', rw(c.rightWrong.b), 'cmp-rw-b'),
    card('Flipped top-1 decisions', d ? `${d.flipped.length} of ${d.images}` : '—', 'cmp-flipped', d ? `${((100 * d.flipped.length) / Math.max(1, d.images)).toFixed(1)} % of the images` : ''),
  ));
  if (!c.comparable.ok) {
    section.append(el('p', { class: 'note', id: 'compare-note', role: 'note' }, `Top-1 decisions not compared: ${c.comparable.reason}. The layer numbers below are still compared.`));
  } else if (d) {
    const parts = [`${d.flipped.length} of ${d.images} test images get a different quantized top-1 in B than in A.`];
    if (d.flipped.length) parts.push(`Of those, A keeps the float model's top-1 on ${d.flippedAgreeFloat.a} and B on ${d.flippedAgreeFloat.b}.`);
    section.append(el('p', { id: 'compare-flips-text' }, parts.join(' ')));
    if (d.floatDiffers) section.append(el('p', { class: 'error', role: 'alert' }, `The two runs' float models disagree on ${d.floatDiffers} images: the inputs were not the same (preprocessing or data changed between the runs).`));
    if (d.flipped.length) {
      const shown = d.flipped.slice(0, MAX_FLIPS_LISTED);
      const names = page.model!.classNames;
      const cls = (c: number | undefined) => (c === undefined ? '—' : names?.[c] !== undefined ? `${c} ${names[c]}` : String(c));
      const keeps = (c: number, f: number | undefined) => (f !== undefined && c === f ? ' q-good' : '');
      const rows = shown.map((f) => el('tr', {}, el('td', { class: 'num' }, `#${f.image}`), el('td', { class: 'num' }, cls(f.float)),
        el('td', { class: `num${keeps(f.a, f.float)}` }, cls(f.a)), el('td', { class: `num${keeps(f.b, f.float)}` }, cls(f.b))));
      section.append(el('details', { class: 'flips', id: 'compare-flips' },
        el('summary', {}, `The ${d.flipped.length} flipped images${d.flipped.length > shown.length ? ` (first ${shown.length})` : ''}: top-1 class of the float model, A and B (green: keeps the float model's)`),
        // a scrolling region of its own (Tab reaches it, the arrow keys scroll it): up to 200 rows stay out of the page's way
        el('div', { class: 'flips-scroll', tabindex: '0', role: 'region', 'aria-label': 'Flipped images, scrollable' },
          el('table', { class: 'flips-table', 'aria-label': 'Flipped images' },
            el('thead', {}, el('tr', {}, ...['image (data order)', 'float', 'A', 'B'].map((h) => el('th', { scope: 'col' }, h)))), el('tbody', {}, ...rows)))));
    }
  }
  if (c.worstLayers.length) {
    section.append(el('p', { class: 'muted', id: 'compare-worst' }, `Largest accumulated SQNR losses: ${c.worstLayers.map((l) => `${moduleName(l.name)} ${formatDeltaDb(l.outputSqnrDb)}`).join(', ')}.`));
  }
  return section;
}

// ---------- the layer table, compared ----------

const arrow = (x: string, y: string) => `${x} → ${y}`;
const dbPair = (a: number | undefined, b: number | undefined) => arrow(a === undefined ? '—' : a.toFixed(1), b === undefined ? '— dB' : `${b.toFixed(1)} dB`);
const scalePair = (a: number | undefined, b: number | undefined, ratio: number | undefined) => (a === undefined && b === undefined ? '—' : `${arrow(fmt(a, 3), fmt(b, 3))} ${formatRatio(ratio)}`);

function deltaCell(db: number | undefined): HTMLTableCellElement {
  const q = deltaQuality(db);
  return el('td', { class: `num ${deltaCls(db)}`, title: q === 'unknown' ? '' : 'B − A: within 1 dB same, up to 6 dB (about a bit) lost fair, more poor' }, formatDeltaDb(db));
}

/** A layer's comparison tooltip: A and B side by side. */
export function deltaTooltip(d: LayerDelta): (Node | string)[] {
  const line = (side: string, r: typeof d.a) => (r ? `${side} ${bitsLabel(r.weightBits, r.activationBits)}: accumulated ${formatDb(r.outputSqnrDb)}, local ${formatDb(r.localSqnrDb)}` : `${side}: kept in float or not in this run`);
  return [el('strong', {}, moduleName(d.name)), el('br'), line('A', d.a), el('br'), line('B', d.b), el('br'),
    `Δ accumulated ${formatDeltaDb(d.outputSqnrDb)} · Δ local ${formatDeltaDb(d.localSqnrDb)} · output scale ${formatRatio(d.outputScale)}`];
}

export function compareTable(onRowKey: (e: KeyboardEvent, row: HTMLElement, layer: string) => void): HTMLElement {
  const c = currentComparison()!;
  const s = page.model!.summary!;
  const selected = page.state.selected;
  const head = el('tr', {}, ...['#', 'layer', 'op', 'bits A → B', 'accumulated SQNR A → B', 'Δ accumulated', 'local SQNR A → B', 'Δ local', 'input scale A → B', 'output scale A → B', 'weight scale (median) A → B', 'what-if on B (W / A / float)']
    .map((h) => el('th', { scope: 'col' }, h)));
  const body = el('tbody');
  const pending = new Set(pendingItems().map((p) => p.layer));
  c.layers.forEach((d, i) => {
    const l = s.layers[i];
    const bits = (run: QuantRun, r: typeof d.a) => layerBits(run, l.name, r).text;
    const w = d.weightScale;
    const cls = [selected === l.name ? 'selected' : '', pending.has(l.name) ? 'whatif-pending' : ''].filter(Boolean).join(' ');
    const row = el('tr', { tabindex: '0', 'data-layer': l.name, class: cls, 'aria-selected': String(selected === l.name) },
      el('td', { class: 'num' }, String(i + 1)),
      el('td', { class: 'lname' }, moduleName(l.name)),
      el('td', {}, l.op),
      el('td', { class: `num${layerBits(c.b, l.name, d.b).choice ? ' choice' : ''}` }, arrow(bits(c.a, d.a), bits(c.b, d.b))),
      el('td', { class: 'num' }, dbPair(d.a?.outputSqnrDb, d.b?.outputSqnrDb)),
      deltaCell(d.outputSqnrDb),
      el('td', { class: 'num' }, dbPair(d.a?.localSqnrDb, d.b?.localSqnrDb)),
      deltaCell(d.localSqnrDb),
      el('td', { class: 'num' }, scalePair(d.a?.inputScale, d.b?.inputScale, d.inputScale)),
      el('td', { class: 'num' }, scalePair(d.a?.outputScale, d.b?.outputScale, d.outputScale)),
      el('td', { class: 'num', title: w.by === 'channels' && w.min !== undefined ? `per channel B / A from ${formatRatio(w.min)} to ${formatRatio(w.max)}` : w.by === 'medians' ? 'the runs differ in granularity: median against median' : '' },
        w.a === undefined && w.b === undefined ? '—' : `${arrow(fmt(w.a, 3), fmt(w.b, 3))} ${formatRatio(w.median)}`),
      el('td', { class: 'whatif-cell' }, whatIfControls(l.name, 'compare')),
    );
    row.addEventListener('click', () => actions.select(l.name, { scroll: true, from: 'table' }));
    row.addEventListener('keydown', (e) => onRowKey(e, row, l.name));
    attachTooltip(row, () => deltaTooltip(d));
    body.append(row);
  });
  return el('section', { id: 'layers' },
    el('h2', {}, 'Layers: B against A'),
    el('p', { class: 'muted' }, `A ${labelOf(c.a)} → B ${labelOf(c.b)}. Δ is B − A; scales show A → B and their ratio B / A. Stop comparing in the Runs part for the shown run's full table. A what-if from here starts from run B.`),
    el('table', { class: 'layers compare', 'aria-label': 'Layers of run A against run B' }, el('thead', {}, head), body));
}
