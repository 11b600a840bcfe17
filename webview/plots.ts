/**
 * The Plots part, drawn by uPlot (canvas; its stylesheet is media/uplot.min.css): SQNR across depth, accuracy vs bits
 * over the kept runs, the sensitivity ranking (plots-model.ts says what). Coloured from VS Code's theme variables
 * (--vscode-charts-*, --vscode-editor-foreground …) and redrawn when the theme changes; values show on hover in
 * uPlot's legend. Keyboard: Tab to a plot, ← / → (Home / End) move the cursor along x, the legend and a live
 * readout follow.
 */
import uPlot from 'uplot';
import { el } from './dom';
import { accuracyBitsPlot, readout, sensitivityPlot, sqnrDepthPlot, type PlotData, type PlotSeries } from './plots-model';
import { comparing, moduleName, page } from './state';

const HEIGHT = 240;
const PALETTE: [string, string][] = [
  ['--vscode-charts-blue', '#3794ff'],
  ['--vscode-charts-orange', '#d18616'],
  ['--vscode-charts-green', '#89d185'],
  ['--vscode-charts-purple', '#b180d7'],
  ['--vscode-charts-red', '#f14c4c'],
  ['--vscode-charts-yellow', '#cca700'],
];

const live: { plot: uPlot; observer: ResizeObserver }[] = [];

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

function theme() {
  const family = cssVar('--vscode-font-family', 'sans-serif');
  const size = Number.parseFloat(cssVar('--vscode-font-size', '13px')) || 13;
  return {
    fg: cssVar('--vscode-editor-foreground', cssVar('--vscode-foreground', '#888')),
    muted: cssVar('--vscode-descriptionForeground', '#888'),
    grid: cssVar('--vscode-charts-lines', cssVar('--vscode-editorWidget-border', 'rgba(128,128,128,0.35)')),
    cursor: cssVar('--vscode-focusBorder', '#007fd4'),
    font: `${Math.max(10, size - 2)}px ${family}`,
    labelFont: `${Math.max(10, size - 1)}px ${family}`,
    colors: PALETTE.map(([v, f]) => cssVar(v, f)),
  };
}

function seriesOptions(s: PlotSeries, t: ReturnType<typeof theme>): uPlot.Series {
  const stroke = t.colors[s.color % t.colors.length];
  const digits = s.unit === 'dB' ? 1 : 2;
  const base: uPlot.Series = {
    label: s.label,
    stroke,
    width: 2,
    scale: s.scale ?? 'y',
    spanGaps: true,
    value: (_u, v) => (v === null || v === undefined ? '—' : `${v.toFixed(digits)} ${s.unit}`),
  };
  switch (s.kind) {
    case 'dashed':
      return { ...base, dash: [6, 4], points: { show: true, size: 5 } };
    case 'points':
      return { ...base, width: 0, paths: () => null, points: { show: true, size: 7, fill: stroke } };
    case 'bars':
      return { ...base, width: 1, fill: stroke, paths: uPlot.paths.bars!({ size: [0.7, 40] }), points: { show: false } };
    default:
      return { ...base, points: { show: true, size: 6 } };
  }
}

function options(p: PlotData, width: number, readoutEl: HTMLElement): uPlot.Options {
  const t = theme();
  const names = new Map(p.x.map((x, i) => [x, p.xNames[i]]));
  const axis = (label: string | undefined, extra: Partial<uPlot.Axis> = {}): uPlot.Axis => ({
    label, stroke: t.fg, font: t.font, labelFont: t.labelFont, grid: { stroke: t.grid, width: 1 }, ticks: { stroke: t.grid, width: 1 }, ...extra,
  });
  const xAxis = p.tickAtData
    ? axis(p.xLabel, { splits: () => p.x, values: (_u, splits) => splits.map((v) => names.get(v)?.replace(/^#\d+ /, '') ?? '') })
    : axis(p.xLabel, { values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? String(v) : '')) });
  const axes: uPlot.Axis[] = [xAxis, axis(p.yLabel, { size: 56 })];
  const hasY2 = p.series.some((s) => s.scale === 'y2');
  if (hasY2) axes.push(axis(p.y2Label, { scale: 'y2', side: 1, size: 56, grid: { show: false } }));
  const pad = (min: number, max: number): uPlot.Range.MinMax => {
    const span = max - min || Math.abs(max) || 1;
    return [min - span * 0.08, max + span * 0.08];
  };
  const scales: uPlot.Scales = {
    x: { time: false, range: (_u, min, max) => (min === max ? [min - 1, max + 1] : p.tickAtData ? [min - (max - min) * 0.08, max + (max - min) * 0.08] : [min - 0.5, max + 0.5]) },
    y: { range: (_u, min, max) => (p.series.some((s) => s.kind === 'bars') ? pad(Math.min(min, 0), Math.max(max, 0)) : pad(min, max)) },
  };
  if (hasY2) scales.y2 = { range: (_u, min, max) => pad(min, max) };
  return {
    width,
    height: HEIGHT,
    scales,
    axes,
    series: [{ label: p.xLabel, value: (_u, v) => (v === null || v === undefined ? '—' : names.get(v) ?? String(v)) }, ...p.series.map((s) => seriesOptions(s, t))],
    cursor: { drag: { x: false, y: false }, points: { size: 8 }, focus: { prox: 24 } },
    legend: { live: true },
    focus: { alpha: 0.35 },
    hooks: {
      setCursor: [(u) => { readoutEl.textContent = u.cursor.idx === null || u.cursor.idx === undefined ? '' : readout(p, u.cursor.idx); }],
    },
  };
}

/** ← / → / Home / End move uPlot's cursor along x (its legend shows the values); Escape hides it. */
function keyboard(container: HTMLElement, u: uPlot, p: PlotData): void {
  let idx = -1;
  const moveTo = (i: number) => {
    idx = Math.max(0, Math.min(p.x.length - 1, i));
    const firstY = p.series.find((s) => s.values[idx] !== null);
    const top = firstY ? u.valToPos(firstY.values[idx]!, firstY.scale ?? 'y') : u.bbox.height / devicePixelRatio / 2;
    u.setCursor({ left: u.valToPos(p.x[idx], 'x'), top });
    container.dataset.cursor = String(idx);
  };
  container.addEventListener('keydown', (e) => {
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
    if (step !== undefined) moveTo(idx < 0 ? 0 : idx + step);
    else if (e.key === 'Home') moveTo(0);
    else if (e.key === 'End') moveTo(p.x.length - 1);
    else if (e.key === 'Escape') { idx = -1; u.setCursor({ left: -10, top: -10 }); }
    else return;
    e.preventDefault();
  });
  container.addEventListener('focus', () => { if (idx < 0) moveTo(0); });
}

function destroyPlots(): void {
  for (const { plot, observer } of live.splice(0)) {
    observer.disconnect();
    plot.destroy();
  }
}

function plotFigure(p: PlotData, width: number): HTMLElement {
  const readoutEl = el('p', { class: 'plot-readout', id: `${p.id}-readout`, 'aria-live': 'polite' });
  const target = el('div', {
    class: 'plot', id: p.id, tabindex: '0', role: 'group',
    'aria-label': `${p.title}. ${p.description} Arrow keys move along the ${p.xLabel}.`,
    'aria-describedby': `${p.id}-readout`,
  });
  const figure = el('figure', { class: 'plot-figure', 'data-plot': p.id }, el('figcaption', {}, el('strong', {}, p.title), ' ', el('span', { class: 'muted' }, p.description)), target, readoutEl);
  const u = new uPlot(options(p, width, readoutEl), [p.x, ...p.series.map((s) => s.values)] as uPlot.AlignedData, target);
  keyboard(target, u, p);
  const observer = new ResizeObserver(() => {
    const w = Math.floor(target.clientWidth);
    if (w > 50 && Math.abs(w - u.width) > 1) u.setSize({ width: w, height: HEIGHT });
  });
  observer.observe(target);
  live.push({ plot: u, observer });
  return figure;
}

/** The plots of the shown run (or of runs A and B while comparing), the kept runs and the sensitivity entries. */
export function plotsSection(): HTMLElement {
  destroyPlots();
  const model = page.model!;
  const section = el('section', { id: 'plots', 'aria-label': 'Plots' });
  const layers = model.summary?.layers.map((l) => l.name) ?? [];
  const pair = comparing();
  const depth = sqnrDepthPlot(layers, pair ? [{ tag: 'A', run: pair.a }, { tag: 'B', run: pair.b }] : model.run ? [{ tag: '', run: model.run }] : [], moduleName);
  const plots = [depth, accuracyBitsPlot(model.runs), sensitivityPlot(model.sensitivity, moduleName)].filter((p): p is PlotData => !!p);
  if (plots.length === 0) return section;
  section.append(el('h2', {}, 'Plots'));
  const grid = el('div', { class: 'plots' });
  section.append(grid);
  const full = Math.max(320, (document.getElementById('app')?.clientWidth ?? 900) - 4);
  for (const p of plots) {
    const wide = p.id === 'plot-sqnr';
    const figure = plotFigure(p, wide || full < 900 ? full : Math.floor((full - 16) / 2));
    if (wide) figure.classList.add('wide');
    grid.append(figure);
  }
  if (!model.sensitivity?.length) grid.append(el('p', { class: 'muted plot-hint' }, 'Run “Sensitivity” for the ranking of layers by the accuracy each costs alone.'));
  return section;
}

let themeTimer = 0;
/** Canvas colours do not follow CSS variables: redraw the plots when VS Code changes the theme (body class, root style). */
export function watchTheme(redraw: () => void): void {
  const changed = () => {
    cancelAnimationFrame(themeTimer);
    themeTimer = requestAnimationFrame(() => { if (document.getElementById('plots')) redraw(); });
  };
  new MutationObserver(changed).observe(document.body, { attributes: true, attributeFilter: ['class'] });
  new MutationObserver(changed).observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
}
