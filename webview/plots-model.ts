/**
 * What the plots show, without the DOM or uPlot: SQNR across depth (accumulated and local per layer, in model
 * order, of the shown run or of runs A and B), accuracy and agreement against bit width over the kept runs, and the
 * sensitivity ranking (Δacc per layer, most costly first). Pure, so that node:test covers it (test/webview-plots.test.ts).
 */
import { accuracyByBits } from '../src/extension/compare';
import { bitsLabel, type QuantRun, type SensitivityEntry } from '../src/extension/results';

export interface PlotSeries {
  label: string;
  values: (number | null)[];
  /** line, dashed line, points only, or bars. */
  kind: 'line' | 'dashed' | 'points' | 'bars';
  /** Index into the chart palette (VS Code's --vscode-charts-* colours). */
  color: number;
  unit: string;
  /** 'y' (left axis) or 'y2' (right axis). */
  scale?: 'y' | 'y2';
}

export interface PlotData {
  id: string;
  title: string;
  /** One sentence for screen readers and under the title. */
  description: string;
  xLabel: string;
  yLabel: string;
  y2Label?: string;
  x: number[];
  /** Name of each x (layer, bit setting), in the order of x. */
  xNames: string[];
  /** Ticks only at the data's x values, labelled by name (few, categorical x). */
  tickAtData: boolean;
  series: PlotSeries[];
}

const orNull = (v: number | undefined): number | null => (v === undefined || !Number.isFinite(v) ? null : v);

/** SQNR across depth: per layer (model order) the accumulated and the local SQNR of each run given (its tag names it). */
export function sqnrDepthPlot(layers: readonly string[], runs: readonly { tag: string; run: QuantRun }[], name: (layer: string) => string = (l) => l): PlotData | undefined {
  if (layers.length === 0 || runs.length === 0) return undefined;
  const series: PlotSeries[] = [];
  runs.forEach(({ tag, run }, i) => {
    const byName = new Map(run.layers.map((l) => [l.name, l]));
    const suffix = runs.length > 1 || tag ? ` (${tag || run.label || bitsLabel(run.settings.weightBits, run.settings.activationBits)})` : '';
    series.push({ label: `accumulated${suffix}`, values: layers.map((l) => orNull(byName.get(l)?.outputSqnrDb)), kind: 'line', color: i, unit: 'dB' });
    series.push({ label: `local${suffix}`, values: layers.map((l) => orNull(byName.get(l)?.localSqnrDb)), kind: 'dashed', color: i, unit: 'dB' });
  });
  if (series.every((s) => s.values.every((v) => v === null))) return undefined;
  return {
    id: 'plot-sqnr',
    title: 'SQNR across depth',
    description: `Output SQNR of each of the ${layers.length} conv / linear layers in model order: accumulated (the quantized model against the float model, solid) and local (the layer alone quantized, dashed)${runs.length > 1 ? ', for run A and run B' : ''}.`,
    xLabel: 'layer (model order)',
    yLabel: 'SQNR (dB)',
    x: layers.map((_, i) => i + 1),
    xNames: layers.map((l, i) => `#${i + 1} ${name(l)}`),
    tickAtData: false,
    series,
  };
}

/**
 * Accuracy vs bits over the kept runs (the sensitivity job sweeps no bit widths, so the runs are the data): one x
 * per bit setting — the bit width itself when weights and activations share it, else the settings in order — and per
 * method family a line of quantized accuracy and one of top-1 agreement; the float accuracy as reference.
 */
export function accuracyBitsPlot(runs: readonly QuantRun[]): PlotData | undefined {
  const points = accuracyByBits(runs);
  if (points.length === 0) return undefined;
  const settings = [...new Map(points.map((p) => [`${p.weightBits}/${p.activationBits}`, p])).values()];
  const uniform = settings.every((p) => p.weightBits === p.activationBits);
  const x = settings.map((p, i) => (uniform ? p.weightBits : i + 1));
  const xNames = settings.map((p) => bitsLabel(p.weightBits, p.activationBits));
  const families = [...new Set(points.map((p) => p.family))];
  type Point = (typeof points)[number];
  const find = (family: string, s: Point) => points.find((p) => p.family === family && p.weightBits === s.weightBits && p.activationBits === s.activationBits);
  const at = (family: string, pick: (p: Point) => number | undefined) => settings.map((s) => { const p = find(family, s); return orNull(p && pick(p)); });
  const series: PlotSeries[] = [];
  const named = (what: string, family: string) => (families.length > 1 ? `${what} (${family})` : what);
  families.forEach((f, i) => {
    const acc = at(f, (p) => p.accuracy);
    if (acc.some((v) => v !== null)) series.push({ label: named('quantized accuracy', f), values: acc, kind: 'line', color: i, unit: '%' });
    series.push({ label: named('top-1 agreement', f), values: at(f, (p) => p.agreement), kind: 'dashed', color: i, unit: '%' });
  });
  const float = points.find((p) => p.fp32Accuracy !== undefined)?.fp32Accuracy;
  if (float !== undefined) series.push({ label: 'float accuracy', values: x.map(() => float), kind: 'dashed', color: 5, unit: '%' });
  return {
    id: 'plot-bits',
    title: 'Accuracy vs bits',
    description: `Quantized accuracy (solid) and top-1 agreement with the float model (dashed) of the kept runs at ${xNames.join(', ')}; the newest run of each setting${families.length > 1 ? ' and method' : ''}.`,
    xLabel: uniform ? 'bits (weights = activations)' : 'bit setting',
    yLabel: '%',
    x,
    xNames,
    tickAtData: true,
    series,
  };
}

/** The sensitivity ranking: Δacc of each layer quantized alone, most costly first; the logit SQNR it leaves, on the right axis. */
export function sensitivityPlot(entries: readonly SensitivityEntry[] | undefined, name: (layer: string) => string = (l) => l): PlotData | undefined {
  if (!entries?.length) return undefined;
  const sorted = [...entries].sort((a, b) => a.deltaAccuracy - b.deltaAccuracy);
  const series: PlotSeries[] = [{ label: 'Δacc (this layer alone)', values: sorted.map((e) => orNull(e.deltaAccuracy)), kind: 'bars', color: 4, unit: 'pts' }];
  const sqnr = sorted.map((e) => orNull(e.sqnrDb));
  if (sqnr.some((v) => v !== null)) series.push({ label: 'logit SQNR (this layer alone)', values: sqnr, kind: 'points', color: 0, unit: 'dB', scale: 'y2' });
  return {
    id: 'plot-sensitivity',
    title: 'Sensitivity ranking',
    description: `Accuracy change when only one layer is quantized, for each of the ${sorted.length} layers, most costly first.`,
    xLabel: 'rank',
    yLabel: 'Δacc (points)',
    y2Label: series.length > 1 ? 'logit SQNR (dB)' : undefined,
    x: sorted.map((_, i) => i + 1),
    xNames: sorted.map((e, i) => `#${i + 1} ${name(e.layer)}`),
    tickAtData: false,
    series,
  };
}

/** The readout of one x (keyboard users and screen readers): its name and each series' value with its unit. */
export function readout(plot: PlotData, idx: number): string {
  if (idx < 0 || idx >= plot.x.length) return '';
  const values = plot.series.map((s) => `${s.label} ${s.values[idx] === null ? '—' : `${s.values[idx]!.toFixed(s.unit === 'dB' ? 1 : 2)} ${s.unit}`}`);
  return `${plot.xNames[idx]}: ${values.join(' · ')}`;
}
