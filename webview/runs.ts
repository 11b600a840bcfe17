/**
 * The Runs part: every kept quantize run of the model (newest first) with its accuracy, agreement and logit SQNR;
 * radio buttons pick run A and run B, "Compare" turns the comparison on (table, graph and plots show B against A),
 * "Show" makes the page show an older run, "Remove" forgets one. Native inputs and toolkit buttons: Tab, Space, arrows.
 */
import { testImagesOf } from '../src/extension/compare';
import { runLabel, type QuantRun } from '../src/extension/results';
import { custom, el } from './dom';
import { actions, basename, comparing, page, runPair, saveState, vscode } from './state';

const pct = (v: number | undefined) => (v === undefined ? '—' : `${v.toFixed(2)} %`);
export const labelOf = (r: QuantRun) => r.label ?? runLabel(r.settings);
export const whenOf = (r: QuantRun) => new Date(r.finishedAt).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });

/** Re-renders the page and puts the keyboard focus back on the control that caused it. */
function rerender(focusId: string): void {
  actions.render();
  document.getElementById(focusId)?.focus({ preventScroll: true });
}

export function runsSection(): HTMLElement {
  const model = page.model!;
  const runs = model.runs;
  const section = el('section', { id: 'runs', 'aria-label': 'Kept runs' });
  if (runs.length === 0) return section;
  const { a, b } = runPair();
  const on = !!comparing();
  section.append(el('h2', {}, `Runs (${runs.length} kept)`));
  section.append(el('p', { class: 'muted' }, runs.length < 2
    ? 'Every quantize run of this model is kept here (up to 20). Quantize again, e.g. at 4 bits, to compare two runs.'
    : 'Pick run A and run B, then Compare: the layer table, the graph and the plots show B against A (Δ = B − A), and the top-1 decisions that flipped.'));
  const head = el('tr', {}, ...['A', 'B', 'run', 'finished', 'test images', 'accuracy', 'agreement', 'logit SQNR', ''].map((h) => el('th', { scope: 'col' }, h)));
  const body = el('tbody');
  runs.forEach((r, i) => {
    const shown = model.run?.id === r.id;
    const radio = (side: 'a' | 'b') => {
      const input = el('input', { type: 'radio', name: `run-${side}`, id: `run-${side}-${i}`, value: r.id ?? '', 'aria-label': `Run ${side.toUpperCase()}: ${labelOf(r)}, ${whenOf(r)}` });
      input.checked = (side === 'a' ? a : b)?.id === r.id;
      input.addEventListener('change', () => {
        saveState({ compare: { ...page.state.compare, ...(side === 'a' ? { a: r.id } : { b: r.id }) } });
        rerender(input.id);
      });
      return input;
    };
    const show = custom('vscode-button', { appearance: 'secondary', id: `run-show-${i}`, 'aria-label': `Show ${labelOf(r)} of ${whenOf(r)} in the page` }, shown ? 'Shown' : 'Show');
    if (shown) show.setAttribute('disabled', '');
    show.addEventListener('click', () => {
      saveState({ shownRun: r.id });
      model.run = r;
      rerender(`run-show-${i}`);
    });
    const remove = custom('vscode-button', { appearance: 'icon', id: `run-remove-${i}`, title: 'Remove this run', 'aria-label': `Remove ${labelOf(r)} of ${whenOf(r)}` }, '✕');
    remove.addEventListener('click', () => vscode.postMessage({ type: 'removeRun', id: r.id }));
    const t = testImagesOf(r);
    const row = el('tr', { class: shown ? 'shown' : '', 'data-run': r.id ?? '' },
      el('td', {}, radio('a')),
      el('td', {}, radio('b')),
      el('td', { class: 'run-label' }, labelOf(r), i === 0 ? el('span', { class: 'tag' }, 'newest') : undefined),
      el('td', { class: 'num' }, whenOf(r)),
      el('td', { class: 'num', title: r.settings.testData ?? '' }, `${t.images}${t.data ? ` of ${basename(t.data)}` : ''}`),
      el('td', { class: 'num' }, r.labelled === false ? 'no labels' : pct(r.quantizedAccuracy)),
      el('td', { class: 'num' }, pct(r.agreement)),
      el('td', { class: 'num' }, r.logitSqnrDb === undefined ? '—' : `${r.logitSqnrDb.toFixed(1)} dB`),
      el('td', { class: 'run-actions' }, show, remove),
    );
    body.append(row);
  });
  section.append(el('table', { class: 'runs', 'aria-label': 'Kept runs; pick A and B to compare' }, el('thead', {}, head), body));
  if (runs.length >= 2) {
    const bar = el('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Comparison' });
    const same = a?.id === b?.id;
    const toggle = custom('vscode-button', { id: 'btn-compare', appearance: on ? 'primary' : 'secondary', 'aria-pressed': String(on) },
      on ? 'Stop comparing' : `Compare A with B`);
    if (same && !on) {
      toggle.setAttribute('disabled', '');
      toggle.title = 'Pick two different runs';
    }
    toggle.addEventListener('click', () => {
      saveState({ compare: { ...page.state.compare, a: a?.id, b: b?.id, on: !on } });
      rerender('btn-compare');
      if (!on) document.getElementById('compare')?.scrollIntoView({ block: 'nearest' });
    });
    bar.append(toggle);
    if (a && b && !same) bar.append(el('span', { class: 'muted', id: 'compare-pick' }, `A: ${labelOf(a)} (${whenOf(a)}) · B: ${labelOf(b)} (${whenOf(b)})`));
    else bar.append(el('span', { class: 'muted', id: 'compare-pick' }, 'A and B are the same run: pick two.'));
    section.append(bar);
  }
  return section;
}
