/**
 * The what-if editor (issue #12): per layer, in the layer table's row (the comparison's too), the graph node's
 * context menu (graph-menu.ts) and the layer's details, the weight bits, the activation bits or "keep in float"; the pending changes listed against
 * the base run, "Apply what-if" (or Enter on any of the controls) and "Reset". Apply asks the host to run the
 * base run's settings again with these per-layer choices; the result comes back as a new kept run, compared with
 * its base (main.ts). The pending changes live in the page's state, so they survive a reload.
 * The base run: run B while two runs are compared (the newer one the user looks at), else the shown run.
 * The settings math is src/extension/whatif.ts.
 */
import { layerBitsIn, layerChoicesOf, MAX_BITS, MIN_BITS, pendingList, shortLayerName, type LayerChange } from '../src/extension/whatif';
import { bitsLabel, type LayerResult, type QuantRun } from '../src/extension/results';
import { custom, el } from './dom';
import { comparing, moduleName, page, saveState, vscode } from './state';

/** One layer's pending choice (absolute values; a field equal to the base run's is dropped). */
export type PendingChoice = { weightBits?: number; activationBits?: number; float?: boolean };

const layerOrder = () => page.model?.summary?.layers.map((l) => l.name) ?? [];
/** The run a what-if starts from: run B of the comparison, else the shown run. */
export const baseRun = (): QuantRun | undefined => comparing()?.b ?? page.model?.run;

/** The pending changes, for layers the model has. */
export function pendingChanges(): LayerChange[] {
  const names = new Set(layerOrder());
  return Object.entries(page.state.whatIf ?? {}).filter(([layer]) => names.has(layer)).map(([layer, c]) => ({ layer, ...c }));
}

/** The pending changes that change something of the base run, as the list shows them. */
export function pendingItems(): { layer: string; text: string }[] {
  const run = baseRun();
  return run ? pendingList(run.settings, pendingChanges(), layerOrder()) : [];
}

/** What a layer would have if the what-if ran now: the base run's choice with the pending one over it. */
export function effectiveChoice(layer: string): { weightBits: number; activationBits: number; float: boolean; pending: boolean } {
  const run = baseRun()!;
  const now = layerBitsIn(run.settings, layer);
  const p = page.state.whatIf?.[layer];
  const float = p?.float ?? now.float;
  return { weightBits: p?.weightBits ?? now.weightBits, activationBits: p?.activationBits ?? now.activationBits, float, pending: pendingItems().some((i) => i.layer === layer) };
}

/** Sets part of a layer's pending choice; fields equal to the base run's are dropped, and an empty choice with them. */
export function setPendingChoice(layer: string, patch: PendingChoice): void {
  const run = baseRun();
  if (!run) return;
  const now = layerBitsIn(run.settings, layer);
  const next: PendingChoice = { ...page.state.whatIf?.[layer], ...patch };
  if (next.float === now.float) delete next.float;
  if (next.weightBits === now.weightBits) delete next.weightBits;
  if (next.activationBits === now.activationBits) delete next.activationBits;
  const all = { ...page.state.whatIf };
  if (Object.keys(next).length) all[layer] = next;
  else delete all[layer];
  saveState({ whatIf: Object.keys(all).length ? all : undefined });
  refreshWhatIf();
}

/** A layer's choice as the what-if would run it now and the base run's global bits; undefined for a non-layer or without a run. */
export function whatIfChoiceOf(layer: string): { weightBits: number; activationBits: number; float: boolean; defaults: { weightBits: number; activationBits: number } } | undefined {
  const run = baseRun();
  if (!run || !layerOrder().includes(layer)) return undefined;
  const { weightBits, activationBits, float } = effectiveChoice(layer);
  return { weightBits, activationBits, float, defaults: { weightBits: run.settings.weightBits, activationBits: run.settings.activationBits } };
}

/** Asks the host for the what-if run; nothing when there is no change, no base run or a job running. */
export function applyWhatIf(): boolean {
  const run = baseRun();
  const items = pendingItems();
  if (!run?.id || items.length === 0 || page.model?.busy) return false;
  const layers = new Set(items.map((i) => i.layer));
  vscode.postMessage({ type: 'whatIf', baseRun: run.id, changes: pendingChanges().filter((c) => layers.has(c.layer)) });
  return true;
}

export function resetWhatIf(): void {
  saveState({ whatIf: undefined });
  refreshWhatIf();
}

/** Enter on a control applies the what-if (Space and the arrows keep their usual meaning). */
function onControlKey(e: KeyboardEvent): void {
  e.stopPropagation(); // the table row's own keys (Enter selects, arrows move) are not the control's
  if (e.key === 'Enter') {
    e.preventDefault();
    applyWhatIf();
  }
}

const BITS = Array.from({ length: MAX_BITS - MIN_BITS + 1 }, (_, i) => MIN_BITS + i);

function bitsSelect(layer: string, field: 'weightBits' | 'activationBits', where: string): HTMLSelectElement {
  const letter = field === 'weightBits' ? 'W' : 'A';
  const what = field === 'weightBits' ? 'Weight bits' : 'Activation bits';
  const select = el('select', {
    class: 'whatif-bits', id: `whatif-${where}-${field === 'weightBits' ? 'w' : 'a'}-${layerIndex(layer)}`,
    'data-whatif-layer': layer, 'data-whatif-field': field,
    'aria-label': `${what} of ${moduleName(layer)} (what-if)`, title: `${what} of ${moduleName(layer)} in the what-if (Enter applies)`,
  }, ...BITS.map((b) => el('option', { value: String(b) }, `${letter}${b}`)));
  select.addEventListener('change', () => setPendingChoice(layer, { [field]: Number(select.value) }));
  select.addEventListener('keydown', onControlKey);
  return select;
}

function layerIndex(layer: string): number {
  return layerOrder().indexOf(layer);
}

/**
 * The controls for one layer: weight bits, activation bits, keep in float. `where` (the layer table's row, the
 * comparison's row, the details) keeps the ids apart; every copy shows the same pending choice.
 */
export function whatIfControls(layer: string, where: 'row' | 'compare' | 'details'): HTMLElement {
  const box = el('span', { class: `whatif-controls whatif-${where}`, role: 'group', 'aria-label': `What-if for ${moduleName(layer)}` });
  if (!baseRun()) return box;
  const floatBox = el('input', { type: 'checkbox', class: 'whatif-float', id: `whatif-${where}-f-${layerIndex(layer)}`, 'data-whatif-layer': layer, 'data-whatif-field': 'float' });
  floatBox.addEventListener('change', () => setPendingChoice(layer, { float: floatBox.checked }));
  floatBox.addEventListener('keydown', onControlKey);
  const label = el('label', { class: 'whatif-float-label', title: `Keep ${moduleName(layer)} in float in the what-if (Enter applies)` }, floatBox, 'float');
  box.append(bitsSelect(layer, 'weightBits', where), bitsSelect(layer, 'activationBits', where), label);
  for (const c of [box, floatBox]) c.addEventListener('click', (e) => e.stopPropagation()); // not a row click (that selects and re-renders)
  syncControls(box);
  return box;
}

/** Puts the pending choice into every control under `root` (values, disabled while in float, changed marks). */
function syncControls(root: ParentNode): void {
  if (!baseRun()) return;
  for (const c of Array.from(root.querySelectorAll<HTMLInputElement | HTMLSelectElement>('[data-whatif-layer]'))) {
    const layer = c.dataset.whatifLayer!;
    const field = c.dataset.whatifField as 'weightBits' | 'activationBits' | 'float';
    const eff = effectiveChoice(layer);
    const now = layerBitsIn(baseRun()!.settings, layer);
    if (field === 'float') {
      (c as HTMLInputElement).checked = eff.float;
      c.classList.toggle('changed', eff.float !== now.float);
    } else {
      c.value = String(eff[field]);
      c.disabled = eff.float;
      c.classList.toggle('changed', !eff.float && eff[field] !== now[field]);
    }
  }
}

/** After a change: the list, every copy of the controls, the rows' and graph nodes' pending marks. */
export function refreshWhatIf(): void {
  document.getElementById('whatif')?.replaceWith(whatIfSection());
  syncControls(document);
  const pending = new Set(pendingItems().map((i) => i.layer));
  for (const row of Array.from(document.querySelectorAll<HTMLElement>('tr[data-layer]'))) row.classList.toggle('whatif-pending', pending.has(row.dataset.layer!));
  for (const g of Array.from(document.querySelectorAll<SVGGElement>('#graph-svg g.gnode[data-node]'))) g.classList.toggle('whatif-pending', pending.has(g.dataset.node!));
  document.body.classList.toggle('has-whatif', pending.size > 0);
}

/** The what-if part: what it is, the pending changes (each removable), Apply and Reset. */
export function whatIfSection(): HTMLElement {
  const run = baseRun();
  const items = pendingItems();
  const section = el('section', { id: 'whatif', class: items.length ? 'whatif pending' : 'whatif', 'aria-label': 'What-if' });
  if (!run) return section;
  document.body.classList.toggle('has-whatif', items.length > 0);
  if (!items.length) {
    section.append(el('h2', {}, 'What-if'), el('p', { class: 'muted', id: 'whatif-hint', tabindex: '-1' },
      `Change a layer's weight bits (W), activation bits (A) or keep it in float, in the layer table or a layer's details, then Apply: `
      + `${comparing() ? 'run B' : 'the shown run'} (${run.label ?? ''}) runs again with those choices and is compared with it.`));
    return section;
  }
  const list = el('ul', { class: 'whatif-list', id: 'whatif-list', 'aria-label': 'Pending what-if changes' });
  for (const item of items) {
    const drop = custom('vscode-button', { appearance: 'icon', class: 'whatif-drop', 'aria-label': `Drop the change of ${moduleName(item.layer)}`, title: 'Drop this change' }, '✕');
    drop.addEventListener('click', () => {
      const all = { ...page.state.whatIf };
      delete all[item.layer];
      saveState({ whatIf: Object.keys(all).length ? all : undefined });
      refreshWhatIf();
      document.getElementById('btn-whatif-apply')?.focus();
    });
    list.append(el('li', { 'data-layer': item.layer }, el('code', { title: item.layer }, shortLayerName(item.layer)), `: ${item.text}`, drop));
  }
  const apply = custom('vscode-button', { id: 'btn-whatif-apply', appearance: 'primary' }, `Apply what-if (${items.length} layer${items.length > 1 ? 's' : ''})`);
  if (page.model?.busy) {
    apply.setAttribute('disabled', '');
    apply.title = 'A job is running';
  }
  apply.addEventListener('click', () => applyWhatIf());
  const reset = custom('vscode-button', { id: 'btn-whatif-reset', appearance: 'secondary' }, 'Reset');
  reset.addEventListener('click', () => {
    resetWhatIf();
    document.getElementById('whatif-hint')?.focus();
  });
  section.append(
    el('div', { class: 'whatif-bar', role: 'toolbar', 'aria-label': 'What-if' },
      el('span', { class: 'whatif-title' }, `What-if on ${run.label ?? ''}:`), list, apply, reset),
  );
  return section;
}

/**
 * A layer's bits in a run: 'W4A8' (the job's per-layer bits), 'float' when the run kept it in float, '—' when the
 * run has no number for it; `choice` when the run chose them for this layer (a what-if).
 */
export function layerBits(run: QuantRun | undefined, layer: string, r: LayerResult | undefined): { text: string; float: boolean; choice: boolean } {
  if (!run) return { text: '—', float: false, choice: false };
  const c = layerChoicesOf(run.settings);
  const choice = c.float.has(layer) || c.weight.has(layer) || c.activation.has(layer);
  if (layerBitsIn(run.settings, layer).float) return { text: 'float', float: true, choice };
  return { text: r ? bitsLabel(r.weightBits, r.activationBits) : '—', float: false, choice };
}

/** The bits cell of a layer: its bits, 'float' for a layer kept in float, marked when the run chose them. */
export function bitsCell(run: QuantRun | undefined, layer: string, r: LayerResult | undefined, cls = ''): HTMLTableCellElement {
  const b = layerBits(run, layer, r);
  const title = b.float ? 'kept in float by this run (a what-if choice)' : b.choice ? 'per-layer bits chosen by this run (a what-if)' : '';
  return el('td', { class: `bits${cls}${b.float ? ' float-layer' : ''}${b.choice ? ' choice' : ''}`, ...(title ? { title } : {}) }, b.choice && !b.float ? `${b.text} ✎` : b.text);
}
