/**
 * The custom editor page: model summary, kept runs and their comparison, plots, dataflow graph, layer table, run
 * results, details. Wires the parts (cards.ts, runs.ts, compare.ts, plots.ts, graph.ts, table.ts, details.ts)
 * together and talks to the host only via postMessage.
 */
import { provideVSCodeDesignSystem, vsCodeBadge, vsCodeButton, vsCodeDivider, vsCodeProgressRing, vsCodeTag } from '@vscode/webview-ui-toolkit';
import type { QuantRun, SensitivityEntry } from '../src/extension/results';
import type { ModelSummary } from '../src/worker/summary';
import { accuracyCards, busyBar, header, sensitivitySection } from './cards';
import { compareSection } from './compare';
import { details } from './details';
import { el } from './dom';
import { focusGraphNode, graphSection } from './graph';
import { closeNodeMenu } from './graph-menu';
import { actions, isLayer, page, saveState, vscode, type Model } from './state';
import { plotsSection, watchTheme } from './plots';
import { runsSection } from './runs';
import { layerTable } from './table';
import { hideTooltip } from './tooltip';
import { refreshWhatIf, whatIfSection } from './whatif';

provideVSCodeDesignSystem().register(vsCodeButton(), vsCodeProgressRing(), vsCodeBadge(), vsCodeDivider(), vsCodeTag());

const app = document.getElementById('app')!;

function render(): void {
  const model = page.model;
  if (!model) return;
  hideTooltip(); // its target is about to be replaced: it would never see the mouse leave
  closeNodeMenu(); // so is the node a graph menu belongs to
  app.replaceChildren();
  app.append(header(), busyBar());
  if (model.error) app.append(el('p', { class: 'error', role: 'alert', id: 'load-error' }, model.error));
  if (model.summary) app.append(accuracyCards(), runsSection(), compareSection(), plotsSection(), graphSection(), whatIfSection(), layerTable(), details(), sensitivitySection());
  else document.body.classList.remove('has-whatif');
  window.scrollTo(0, page.state.scrollY ?? 0);
}

/** Selects a layer or graph node: its details below; a layer also tells the host (which reveals its model code). */
function select(name: string, opts: { scroll: boolean; from: 'table' | 'graph' }): void {
  saveState({ selected: name });
  const layer = isLayer(name);
  if (layer) vscode.postMessage({ type: 'selectLayer', layer: name });
  render();
  const target = document.getElementById('details');
  if (opts.scroll && target) target.scrollIntoView({ block: 'nearest' });
  if (opts.from === 'table') (document.querySelector(`tr[data-layer="${CSS.escape(name)}"]`) as HTMLElement | null)?.focus({ preventScroll: true });
  else requestAnimationFrame(() => focusGraphNode(name));
  if (layer && page.model?.code.some((c) => c.layer === name)) vscode.postMessage({ type: 'revealLayer', layer: name });
}

actions.render = render;
actions.select = select;

// ---------- messages from the host (validated) ----------

window.addEventListener('message', (e: MessageEvent) => {
  const m = e.data as Record<string, unknown> | null;
  if (!m || typeof m !== 'object') return;
  switch (m.type) {
    case 'init': {
      const summary = m.summary as ModelSummary | undefined;
      const run = m.run as QuantRun | undefined;
      const runs = Array.isArray(m.runs) ? (m.runs as QuantRun[]) : run ? [run] : [];
      // a new run (or a removed shown one) brings the page back to the newest; a reload keeps the user's choice
      const newest = runs[0]?.id;
      const arrived = !!page.model && page.model.runs[0]?.id !== newest;
      if (arrived) saveState({ shownRun: undefined });
      // a what-if that just arrived is compared with the run it was made from (A = base, B = what-if) at once
      const base = arrived ? runs[0]?.whatIfOf?.id : undefined;
      const whatIfArrived = !!base && runs.some((r) => r.id === base);
      if (whatIfArrived) saveState({ compare: { a: base, b: newest, on: true }, whatIf: undefined });
      page.model = {
        fileName: String(m.fileName ?? ''),
        modelPath: String(m.modelPath ?? ''),
        summary: summary && typeof summary === 'object' && Array.isArray(summary.layers) ? summary : undefined,
        error: typeof m.error === 'string' ? m.error : undefined,
        run: runs.find((r) => r.id === page.state.shownRun) ?? runs[0],
        runs,
        sensitivity: m.sensitivity as SensitivityEntry[] | undefined,
        classNames: Array.isArray(m.classNames) && m.classNames.every((c) => typeof c === 'string') ? (m.classNames as string[]) : undefined,
        code: Array.isArray(m.code) ? (m.code as Model['code']) : [],
        busy: typeof m.busy === 'string' ? m.busy : undefined,
      };
      render();
      if (whatIfArrived) document.getElementById('accuracy')?.scrollIntoView({ block: 'start' });
      break;
    }
    case 'busy': {
      if (!page.model) return;
      const was = page.model.busy;
      page.model.busy = m.busy ? String(m.message ?? 'working') : undefined;
      document.getElementById('busy')?.replaceWith(busyBar());
      if (!was !== !page.model.busy) refreshWhatIf(); // Apply is disabled while a job runs
      break;
    }
    case 'error':
      if (!page.model) return;
      document.getElementById('job-error')?.remove();
      document.getElementById('busy')?.after(el('p', { class: 'error', role: 'alert', id: 'job-error' }, String(m.message ?? 'error')));
      break;
    case 'selectLayer':
      if (typeof m.layer === 'string' && page.model?.summary?.layers.some((l) => l.name === m.layer)) {
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
watchTheme(() => document.getElementById('plots')?.replaceWith(plotsSection()));
window.addEventListener('scroll', () => saveState({ scrollY: window.scrollY }), { passive: true });
vscode.postMessage({ type: 'ready' });
