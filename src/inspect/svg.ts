/** Inline SVG plots for the report: no scripts, no external resources, colours from CSS classes (light and dark). */
import type { HistogramData } from './stats';

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const W = 560;
const H = 240;
const M = { left: 56, right: 16, top: 24, bottom: 40 };

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function tickLabel(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-2 ? v.toExponential(1) : String(Number(v.toPrecision(3)));
}

interface Frame {
  x: (v: number) => number;
  y: (v: number) => number;
  parts: string[];
}

function frame(title: string, xLabel: string, yLabel: string, xDomain: [number, number], yDomain: [number, number], xTicks?: number[]): Frame {
  const [x0, x1] = xDomain, [y0, y1] = yDomain;
  const pw = W - M.left - M.right, ph = H - M.top - M.bottom;
  const x = (v: number) => M.left + ((v - x0) / (x1 - x0 || 1)) * pw;
  const y = (v: number) => M.top + ph - ((v - y0) / (y1 - y0 || 1)) * ph;
  const parts: string[] = [];
  parts.push(`<text class="qi-title" x="${M.left}" y="16">${escapeXml(title)}</text>`);
  for (const t of niceTicks(y0, y1)) {
    parts.push(`<line class="qi-grid" x1="${M.left}" x2="${W - M.right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}"/>`);
    parts.push(`<text class="qi-tick" x="${M.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${tickLabel(t)}</text>`);
  }
  for (const t of xTicks ?? niceTicks(x0, x1, 6)) {
    parts.push(`<text class="qi-tick" x="${x(t).toFixed(1)}" y="${H - M.bottom + 16}" text-anchor="middle">${tickLabel(t)}</text>`);
  }
  parts.push(`<line class="qi-axis" x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}"/>`);
  parts.push(`<line class="qi-axis" x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}"/>`);
  parts.push(`<text class="qi-label" x="${(M.left + W - M.right) / 2}" y="${H - 6}" text-anchor="middle">${escapeXml(xLabel)}</text>`);
  parts.push(`<text class="qi-label" transform="translate(14 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`);
  return { x, y, parts };
}

function svg(kind: string, title: string, parts: string[]): string {
  return `<svg class="qi-plot" data-plot="${escapeXml(kind)}" role="img" aria-label="${escapeXml(title)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
}

/** Histogram bars (log-scaled counts so tails stay visible), with the clipping range as dashed lines. */
export function histogramSvg(title: string, h: HistogramData, clip?: { low: number; high: number }): string {
  // the streaming histogram's range grows by doubling: show only the occupied bins (and the clipping range)
  const bw0 = (h.high - h.low) / h.counts.length;
  const first = Math.max(0, h.counts.findIndex((c) => c > 0));
  const last = h.counts.length - 1 - Math.max(0, [...h.counts].reverse().findIndex((c) => c > 0));
  const dataLo = h.low + first * bw0, dataHi = h.low + (last + 1) * bw0;
  const lo = Math.min(dataLo, clip?.low ?? dataLo), hi = Math.max(dataHi, clip?.high ?? dataHi);
  const logCounts = h.counts.map((c) => (c > 0 ? Math.log10(c) + 1 : 0));
  const top = Math.max(1, ...logCounts);
  const f = frame(title, 'value', 'log10(count) + 1', [lo, hi], [0, top]);
  const bw = (h.high - h.low) / h.counts.length;
  h.counts.forEach((_, i) => {
    const v = logCounts[i];
    if (v <= 0 || i < first || i > last) return;
    const x0 = f.x(h.low + i * bw), x1 = f.x(h.low + (i + 1) * bw);
    f.parts.push(`<rect class="qi-bar" x="${x0.toFixed(1)}" y="${f.y(v).toFixed(1)}" width="${Math.max(0.8, x1 - x0 - 0.5).toFixed(1)}" height="${(f.y(0) - f.y(v)).toFixed(1)}"/>`);
  });
  if (clip) {
    for (const v of [clip.low, clip.high]) {
      f.parts.push(`<line class="qi-clip" x1="${f.x(v).toFixed(1)}" x2="${f.x(v).toFixed(1)}" y1="${M.top}" y2="${H - M.bottom}"/>`);
    }
    f.parts.push(`<text class="qi-tick qi-clip-label" x="${(f.x(clip.high) - 4).toFixed(1)}" y="${M.top + 10}" text-anchor="end">clip</text>`);
  }
  return svg('histogram', title, f.parts);
}

export interface Series {
  name: string;
  points: { x: number; y: number }[];
}

/** Line plot with markers and a legend, e.g. accuracy against bit width. */
export function linePlotSvg(title: string, xLabel: string, yLabel: string, series: Series[], yDomain?: [number, number]): string {
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const ys = series.flatMap((s) => s.points.map((p) => p.y)).filter(Number.isFinite);
  const xDomain: [number, number] = [Math.min(...xs), Math.max(...xs)];
  const yd: [number, number] = yDomain ?? [Math.min(0, ...ys), Math.max(...ys) * 1.05 || 1];
  const f = frame(title, xLabel, yLabel, xDomain, yd, [...new Set(xs)].sort((a, b) => a - b));
  series.forEach((s, k) => {
    const pts = s.points.filter((p) => Number.isFinite(p.y));
    const d = pts.map((p, i) => `${i ? 'L' : 'M'}${f.x(p.x).toFixed(1)},${f.y(p.y).toFixed(1)}`).join('');
    f.parts.push(`<path class="qi-line qi-c${k % 4}" d="${d}"/>`);
    for (const p of pts) f.parts.push(`<circle class="qi-dot qi-c${k % 4}" cx="${f.x(p.x).toFixed(1)}" cy="${f.y(p.y).toFixed(1)}" r="3"><title>${escapeXml(`${s.name}: ${p.x} → ${p.y.toFixed(2)}`)}</title></circle>`);
    f.parts.push(`<text class="qi-legend qi-c${k % 4}" x="${W - M.right - 8}" y="${H - M.bottom - 10 - 14 * (series.length - 1 - k)}" text-anchor="end">${escapeXml(s.name)}</text>`);
  });
  return svg('line', title, f.parts);
}

/** Horizontal bars, one per label (layer rankings, per-layer SQNR). */
export function barChartSvg(title: string, valueLabel: string, bars: { label: string; value: number; highlight?: boolean }[]): string {
  const rowH = 16, left = 230, right = 60;
  const height = M.top + bars.length * rowH + 30;
  const max = Math.max(1e-9, ...bars.map((b) => Math.abs(b.value)).filter(Number.isFinite));
  const parts = [`<text class="qi-title" x="8" y="16">${escapeXml(title)}</text>`];
  bars.forEach((b, i) => {
    const y = M.top + i * rowH;
    const v = Number.isFinite(b.value) ? b.value : 0;
    const w = (Math.abs(v) / max) * (W - left - right);
    const label = b.label.length > 36 ? '…' + b.label.slice(-35) : b.label;
    parts.push(`<text class="qi-tick" x="${left - 6}" y="${y + 11}" text-anchor="end">${escapeXml(label)}</text>`);
    parts.push(`<rect class="qi-bar${b.highlight ? ' qi-hi' : ''}" x="${left}" y="${y + 2}" width="${Math.max(0.5, w).toFixed(1)}" height="${rowH - 4}"/>`);
    parts.push(`<text class="qi-tick" x="${(left + w + 4).toFixed(1)}" y="${y + 11}">${Number.isFinite(b.value) ? tickLabel(b.value) : '∞'}</text>`);
  });
  parts.push(`<text class="qi-label" x="${left}" y="${height - 8}">${escapeXml(valueLabel)}</text>`);
  return `<svg class="qi-plot" data-plot="bars" role="img" aria-label="${escapeXml(title)}" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
}

/** The stylesheet the plots rely on: follows the reader's light or dark preference. */
export const PLOT_CSS = `
.qi-plot { max-width: 100%; height: auto; font: 11px system-ui, sans-serif; }
.qi-plot .qi-title { font-weight: 600; font-size: 12px; fill: var(--fg); }
.qi-plot .qi-tick, .qi-plot .qi-label { fill: var(--muted); }
.qi-plot .qi-grid { stroke: var(--grid); stroke-width: 1; }
.qi-plot .qi-axis { stroke: var(--muted); stroke-width: 1; }
.qi-plot .qi-bar { fill: var(--accent); }
.qi-plot .qi-bar.qi-hi { fill: var(--warn); }
.qi-plot .qi-clip { stroke: var(--warn); stroke-dasharray: 4 3; stroke-width: 1.5; }
.qi-plot .qi-clip-label { fill: var(--warn); }
.qi-plot .qi-line { fill: none; stroke-width: 2; }
.qi-plot .qi-c0 { stroke: var(--accent); fill: var(--accent); }
.qi-plot .qi-c1 { stroke: var(--warn); fill: var(--warn); }
.qi-plot .qi-c2 { stroke: var(--ok); fill: var(--ok); }
.qi-plot .qi-c3 { stroke: var(--muted); fill: var(--muted); }
.qi-plot path.qi-line { fill: none; }
.qi-plot .qi-legend { stroke: none; font-weight: 600; }
`;
