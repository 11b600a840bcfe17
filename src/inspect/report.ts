/** The inspection report: one data object rendered as self-contained HTML (inline SVG), Markdown, and a scale table as CSV/JSON. */
import type { ErrorMetrics } from './metrics';
import { UNIFORM_ROUNDING_RMSE_OVER_SCALE, describeRmseOverScale } from './metrics';
import type { ChannelRanges, HistogramData, TensorStats } from './stats';
import type { LayerDataflow } from './dataflow';
import type { Evaluation, LayerSensitivity, MixedPrecisionResult, SweepPoint } from './sensitivity';
import { PLOT_CSS, barChartSvg, escapeXml, histogramSvg, linePlotSvg } from './svg';

export interface LayerErrors extends ErrorMetrics {
  /** rmse in output quantization steps (≈ 0.289 = healthy rounding noise). */
  rmseOverScale: number;
}

export interface LayerReportRow {
  name: string;
  op: string;
  kind: 'conv' | 'depthwise' | 'pointwise' | 'linear';
  weightBits: number;
  activationBits: number;
  weightScales: number[];
  inputScale: number;
  inputZeroPoint: number;
  outputScale: number;
  outputZeroPoint: number;
  weight: {
    stats: TensorStats;
    channels: ChannelRanges;
    clipLow: number;
    clipHigh: number;
    clippedShare: number;
    /** Weight SQNR with the report's granularity, and with the other one for comparison. */
    sqnrDb: number;
    sqnrPerTensorDb: number;
    sqnrPerChannelDb: number;
    /** Mean over channels of each channel's own weight SQNR, per granularity. */
    channelMeanSqnrPerTensorDb?: number;
    channelMeanSqnrPerChannelDb?: number;
    /** Local output SQNR (layer alone in integers) with per-tensor and with per-channel weight scales, when both were run. */
    localPerTensorDb?: number;
    localPerChannelDb?: number;
    /** Layer output SQNR with float activations and quantized weights only, per granularity. */
    weightOnlyPerTensorDb?: number;
    weightOnlyPerChannelDb?: number;
    /** Weight error of the analysed quantization (same bits and cost function; may differ from the plan's when the plan used the output criterion). */
    error?: ErrorMetrics;
    rmseOverScale?: number;
    histogram: HistogramData;
  };
  activation: {
    stats: TensorStats;
    clipLow: number;
    clipHigh: number;
    clippedShare: number;
    histogram: HistogramData;
  };
  /** This layer quantized alone, its inputs float. */
  local: LayerErrors;
  /** The whole model quantized, compared with the float model at this layer's output. */
  accumulated: LayerErrors;
  maxAccumulator?: number;
}

export interface MethodComparison {
  method: string;
  evaluation: Evaluation;
  /** Mean weight SQNR over layers for weight cost functions. */
  meanWeightSqnrDb?: number;
}

export interface ReportData {
  modelPath: string;
  generatedAt: string;
  settings: {
    weightBits: number;
    activationBits: number;
    granularity: 'per-channel' | 'per-tensor';
    calibration: string;
    weightMethod: string;
    calibrationImages: number;
    evaluationImages: number;
    calibPath: string;
    dataPath: string;
    /** Layers given their own bits or kept in float ('conv1 W4 A6', 'fc kept in float'), named under the title. */
    layerChoices?: string[];
  };
  float: { accuracy: number };
  quantized: Evaluation;
  layers: LayerReportRow[];
  dataflow?: LayerDataflow;
  bitSweep?: SweepPoint[];
  /** Weights alone at low bits (activations 8) and activations alone at low bits (weights 8). */
  splitBits?: { low: number; weightsLow: SweepPoint; activationsLow: SweepPoint };
  weightMethods?: MethodComparison[];
  calibrationMethods?: MethodComparison[];
  /** Quantized only before the activation (the integer-engine default) against quantized before and after it. */
  activationPlacement?: { beforeOnly: Evaluation; beforeAndAfter: Evaluation };
  granularity?: { perTensor: Evaluation; perChannel: Evaluation };
  /** Weight SQNR per layer at each bit width (cheap: weights only), for the low-bit analysis. */
  weightSqnrByBits?: { bits: number; perLayer: Record<string, number> }[];
  sensitivity?: { bits: { weightBits: number; activationBits: number }; ranking: LayerSensitivity[] };
  mixed?: MixedPrecisionResult;
  timings: Record<string, number>;
}

const f1 = (v: number) => (Number.isNaN(v) ? '–' : Number.isFinite(v) ? v.toFixed(1) : v > 0 ? '∞' : '−∞');
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : v > 0 ? '∞' : '−∞');
const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '∞');
const pct = (v: number) => `${v.toFixed(2)}%`;
const sci = (v: number) => (v === 0 ? '0' : Math.abs(v) < 1e-3 || Math.abs(v) >= 1e4 ? v.toExponential(3) : v.toPrecision(4));
const shortName = (name: string) => name.replace(/^\//, '').replace(/\/(Conv|Gemm|MatMul)$/, '');

function worstBy<T>(items: readonly T[], key: (t: T) => number, count: number): T[] {
  return [...items].sort((a, b) => key(a) - key(b)).slice(0, count);
}

/** A document section: a heading, prose paragraphs, and blocks (HTML) with their Markdown twins. */
interface Section {
  id: string;
  title: string;
  paragraphs: string[];
  blocks: { html: string; markdown: string }[];
}

function table(headers: string[], rows: string[][]): { html: string; markdown: string } {
  const html = `<div class="qi-table"><table><thead><tr>${headers.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${escapeXml(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table></div>`;
  const md = [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`)].join('\n');
  return { html, markdown: md };
}

function plot(svg: string, caption: string): { html: string; markdown: string } {
  return { html: `<figure>${svg}<figcaption>${escapeXml(caption)}</figcaption></figure>`, markdown: `*(plot in the HTML report: ${caption})*` };
}

// ---------- prose from the measured numbers ----------

export function summaryProse(d: ReportData): string[] {
  const drop = d.float.accuracy - d.quantized.accuracy;
  const worstAcc = worstBy(d.layers, (l) => l.accumulated.sqnrDb, 1)[0];
  const worstLocal = worstBy(d.layers, (l) => l.local.sqnrDb, 1)[0];
  const s = d.settings;
  const out = [
    `At W${s.weightBits}A${s.activationBits} (${s.granularity} weights, ${s.weightMethod} weight clipping, ${s.calibration} activation calibration on ${s.calibrationImages} images) the model reaches ${pct(d.quantized.accuracy)} top-1 on ${s.evaluationImages} images against ${pct(d.float.accuracy)} in float: ${drop >= 0 ? `a drop of ${drop.toFixed(2)} points` : `a gain of ${(-drop).toFixed(2)} points`}, with ${pct(d.quantized.agreement)} of the images keeping the float model's top-1 and a logit SQNR of ${f1(d.quantized.logitSqnrDb)} dB.`,
  ];
  if (worstLocal && worstAcc) {
    out.push(
      `Quantized alone, the layer that loses the most is ${shortName(worstLocal.name)} (local SQNR ${f1(worstLocal.local.sqnrDb)} dB); in the fully quantized model the error is largest at ${shortName(worstAcc.name)} (accumulated SQNR ${f1(worstAcc.accumulated.sqnrDb)} dB, cosine ${f3(worstAcc.accumulated.cosine)}).`,
    );
  }
  return out;
}

/** dB that per-channel scales gain over per-tensor at a layer: local output SQNR when both were run, else weight SQNR. */
export function granularityGain(l: LayerReportRow): { gain: number; measure: 'weight-only output' | 'local output' | 'weight'; perTensor: number; perChannel: number } {
  const w = l.weight;
  if (w.weightOnlyPerTensorDb !== undefined && w.weightOnlyPerChannelDb !== undefined) return { gain: w.weightOnlyPerChannelDb - w.weightOnlyPerTensorDb, measure: 'weight-only output', perTensor: w.weightOnlyPerTensorDb, perChannel: w.weightOnlyPerChannelDb };
  if (w.localPerTensorDb !== undefined && w.localPerChannelDb !== undefined) return { gain: w.localPerChannelDb - w.localPerTensorDb, measure: 'local output', perTensor: w.localPerTensorDb, perChannel: w.localPerChannelDb };
  return { gain: w.sqnrPerChannelDb - w.sqnrPerTensorDb, measure: 'weight', perTensor: w.sqnrPerTensorDb, perChannel: w.sqnrPerChannelDb };
}

export function granularityProse(d: ReportData): string[] {
  const gaps = d.layers.map((l) => ({ l, ...granularityGain(l) }));
  const worst = worstBy(gaps, (g) => -g.gain, 5).filter((g) => g.gain > 1);
  if (worst.length === 0) return ['Per-tensor and per-channel weight scales give nearly the same SQNR on every layer (under 1 dB apart): the channels of each layer have similar ranges.'];
  const depthwise = worst.filter((g) => g.l.kind === 'depthwise');
  const allDepthwise = gaps.filter((g) => g.l.kind === 'depthwise');
  const lines = [
    `With one weight scale per tensor, the layers that lose the most are ${worst
      .map((g) => `${shortName(g.l.name)} (${g.l.kind}: ${g.measure} SQNR ${f1(g.perTensor)} dB per-tensor against ${f1(g.perChannel)} dB per-channel, +${f1(g.gain)} dB; channel ranges spread ${f1(g.l.weight.channels.spread)}×)`)
      .join('; ')}.`,
    `The reason is the spread of the channel ranges: one scale is set by the widest channel, so a channel whose largest weight is ${f1(worst[0].l.weight.channels.spread)}× smaller uses a fraction of the codes and loses up to ${f1(worst[0].l.weight.channels.worstBitsLost)} bits of resolution` +
      (worst[0].l.weight.channelMeanSqnrPerTensorDb !== undefined ? ` (the mean SQNR of ${shortName(worst[0].l.name)}'s channels is ${f1(worst[0].l.weight.channelMeanSqnrPerTensorDb)} dB per-tensor, ${f1(worst[0].l.weight.channelMeanSqnrPerChannelDb ?? NaN)} dB per-channel).` : '.') +
      (depthwise.length
        ? ` Depthwise convolutions are ${depthwise.length} of these ${worst.length}: each output channel is one input channel's own k×k filter, nothing averages the ranges out, and an output channel whose filter rounds to a few codes is simply wrong. Per-channel scales fix them${allDepthwise.length ? `: over all ${allDepthwise.length} depthwise layers the ${worst[0].measure} SQNR rises by ${f1(allDepthwise.reduce((a, g) => a + g.gain, 0) / allDepthwise.length)} dB on average` : ''}.`
        : ' Per-channel scales give every channel its own step and recover this resolution.'),
  ];
  if (d.granularity) {
    lines.push(`End to end: per-tensor reaches ${pct(d.granularity.perTensor.accuracy)} (agreement with float ${pct(d.granularity.perTensor.agreement)}, logit SQNR ${f1(d.granularity.perTensor.logitSqnrDb)} dB), per-channel ${pct(d.granularity.perChannel.accuracy)} (agreement ${pct(d.granularity.perChannel.agreement)}, ${f1(d.granularity.perChannel.logitSqnrDb)} dB), against ${pct(d.float.accuracy)} in float.`);
  }
  return lines;
}

export function lowBitProse(d: ReportData): string[] {
  const out: string[] = [];
  const sweep = d.bitSweep ?? [];
  if (sweep.length) {
    const at = (b: number) => sweep.find((p) => p.weightBits === b);
    const byBits = [...sweep].sort((a, b) => b.weightBits - a.weightBits);
    const knee = byBits.find((p) => d.float.accuracy - p.evaluation.accuracy > 1);
    out.push(
      `Accuracy against bit width: ${byBits.map((p) => `${p.weightBits} bits ${pct(p.evaluation.accuracy)}`).join(', ')} (float ${pct(d.float.accuracy)}).` +
        (knee ? ` The first setting that loses more than one point is ${knee.weightBits} bits (${(d.float.accuracy - knee.evaluation.accuracy).toFixed(2)} points).` : ' No setting in the sweep loses more than one point.'),
    );
    const p8 = at(8), p6 = at(6), p4 = at(4);
    if (p8 && p6 && p4) {
      const perBit = (p8.evaluation.logitSqnrDb - p4.evaluation.logitSqnrDb) / 4;
      out.push(`The logit SQNR falls from ${f1(p8.evaluation.logitSqnrDb)} dB at 8 bits to ${f1(p6.evaluation.logitSqnrDb)} dB at 6 and ${f1(p4.evaluation.logitSqnrDb)} dB at 4: ${f1(perBit)} dB per bit removed on average. Each bit removed doubles every quantization step at once (an ideal quantizer of a full-scale uniform signal loses 6.02 dB per bit)${perBit > 6.5 ? ', and more is lost here because the errors of successive layers compound and clipped values add to the rounding noise' : perBit < 5.5 ? ', less is lost here at the top because at 8 bits the error is already dominated by clipping and by the few layers that stay coarse' : ''}.`);
    }
  }
  const sp = d.splitBits;
  if (sp) {
    const wl = d.float.accuracy - sp.weightsLow.evaluation.accuracy, al = d.float.accuracy - sp.activationsLow.evaluation.accuracy;
    out.push(`Which half breaks first: with ${sp.low}-bit weights and 8-bit activations the model loses ${wl.toFixed(2)} points (logit SQNR ${f1(sp.weightsLow.evaluation.logitSqnrDb)} dB); with 8-bit weights and ${sp.low}-bit activations it loses ${al.toFixed(2)} points (${f1(sp.activationsLow.evaluation.logitSqnrDb)} dB). ` +
      (al > wl + 0.5 || (Math.abs(al - wl) <= 0.5 && sp.activationsLow.evaluation.logitSqnrDb < sp.weightsLow.evaluation.logitSqnrDb - 1) ? `The activations are the bottleneck: a weight tensor is fixed and its clipping range can be fitted to it exactly, while an activation range is fixed once on calibration images and must cover every later image, and ${2 ** sp.low} levels spread over that range leave a step too coarse for the many small values.`
        : wl > al + 0.5 || (Math.abs(al - wl) <= 0.5 && sp.weightsLow.evaluation.logitSqnrDb < sp.activationsLow.evaluation.logitSqnrDb - 1) ? `The weights are the bottleneck: ${2 ** sp.low - 1} symmetric levels leave most weights within a step or two of zero, and rounding moves each output by a sum of many such errors.`
          : 'Both halves contribute about equally.'));
  }
  const w = d.weightSqnrByBits ?? [];
  const w8 = w.find((x) => x.bits === 8), w4 = w.find((x) => x.bits === 4);
  if (w8 && w4) {
    const names = Object.keys(w4.perLayer);
    const worst = worstBy(names, (n) => w4.perLayer[n], 3);
    out.push(
      `Below 6 bits the noise no longer hides under the signal: at 4 bits the weights of ${worst.map((n) => `${shortName(n)} (${f1(w4.perLayer[n])} dB, ${f1(w8.perLayer[n])} dB at 8 bits)`).join(', ')} keep the least signal. ` +
        `With only ${2 ** 4} levels, a clipping range wide enough for the outliers leaves most weights within a step or two of zero, and a narrower one clips the outliers: the cost functions (MSE, 3-sigma) that trade the two matter much more than at 8 bits.`,
    );
  }
  if (d.mixed) {
    out.push(mixedProse(d)[0]);
  }
  return out;
}

export function mixedProse(d: ReportData): string[] {
  const m = d.mixed;
  if (!m) return [];
  return [
    `Mixed precision: keeping ${m.highBitLayers.map(shortName).join(', ')} at W${m.highBits.weightBits}A${m.highBits.activationBits} while the rest run at W${m.lowBits.weightBits}A${m.lowBits.activationBits} gives ${pct(m.mixed.accuracy)} against ${pct(m.low.accuracy)} all at W${m.lowBits.weightBits}A${m.lowBits.activationBits} and ${pct(d.float.accuracy)} in float: it recovers ${(m.recoveredShare * 100).toFixed(0)}% of the lost accuracy.`,
  ];
}

export function sensitivityProse(d: ReportData): string[] {
  const s = d.sensitivity;
  if (!s || s.ranking.length === 0) return [];
  const top = s.ranking.slice(0, 3);
  const out = [
    `Quantizing one layer at a time to W${s.bits.weightBits}A${s.bits.activationBits} (all others float), the costliest layers are ${top
      .map((e) => `${shortName(e.layer)} (${e.aloneCost >= 0 ? '−' : '+'}${Math.abs(e.aloneCost).toFixed(2)} points alone, logit SQNR ${f1(e.alone.logitSqnrDb)} dB${e.allButGain !== undefined ? `; keeping only it in float gains ${e.allButGain.toFixed(2)} points` : ''})`)
      .join(', ')}.`,
  ];
  const cheapest = s.ranking[s.ranking.length - 1];
  out.push(`The cheapest is ${shortName(cheapest.layer)} (${cheapest.aloneCost.toFixed(2)} points, ${f1(cheapest.alone.logitSqnrDb)} dB).`);
  return out;
}

export function placementProse(d: ReportData): string[] {
  const p = d.activationPlacement;
  if (!p) return [];
  const diff = p.beforeAndAfter.accuracy - p.beforeOnly.accuracy;
  const dB = p.beforeOnly.logitSqnrDb - p.beforeAndAfter.logitSqnrDb;
  const fused = d.layers.filter((l) => l.activation.clipLow === 0 && l.outputZeroPoint === 0).length;
  return [
    `Quantized once, before the activation: each conv output is requantized straight to the codes of the activation's output range (zero point 0 for ${fused} of ${d.layers.length} layers), so ReLU is the clamp at the zero point and ReLU6 the clamp at the code of 6.0 — one rounding, and no code is spent on the negative values the ReLU discards. ` +
      `Quantized before and after: the conv output gets its own range, negatives included, and is requantized again after the clamp — two roundings, and the first one's step is coarser because half its codes cover negative values. ` +
      `Measured: ${pct(p.beforeOnly.accuracy)} with one quantization (logit SQNR ${f1(p.beforeOnly.logitSqnrDb)} dB) against ${pct(p.beforeAndAfter.accuracy)} with two (${f1(p.beforeAndAfter.logitSqnrDb)} dB): ` +
      `${Math.abs(dB) < 0.3 ? 'no measurable difference in SQNR' : dB > 0 ? `the second quantization costs ${f1(dB)} dB` : `the second quantization gains ${f1(-dB)} dB here`}${Math.abs(diff) < 0.05 ? ' and no accuracy.' : `, ${diff > 0 ? '+' : ''}${diff.toFixed(2)} accuracy points.`}`,
  ];
}

export function methodsProse(d: ReportData): string[] {
  const out: string[] = [];
  const best = (ms: MethodComparison[]) => [...ms].sort((a, b) => b.evaluation.agreement - a.evaluation.agreement || b.evaluation.logitSqnrDb - a.evaluation.logitSqnrDb)[0];
  if (d.weightMethods?.length) {
    const b = best(d.weightMethods);
    out.push(`Weight cost functions at W${d.settings.weightBits}A${d.settings.activationBits}: ${d.weightMethods.map((m) => `${m.method} ${pct(m.evaluation.accuracy)}${m.meanWeightSqnrDb !== undefined ? ` (mean weight SQNR ${f1(m.meanWeightSqnrDb)} dB)` : ''}`).join(', ')}; the best agreement with float is ${b.method} (${pct(b.evaluation.agreement)}).`);
  }
  if (d.calibrationMethods?.length) {
    const b = best(d.calibrationMethods);
    out.push(`Activation calibration methods: ${d.calibrationMethods.map((m) => `${m.method} ${pct(m.evaluation.accuracy)} (logit SQNR ${f1(m.evaluation.logitSqnrDb)} dB)`).join(', ')}; ${b.method} keeps the float top-1 most often (${pct(b.evaluation.agreement)}).`);
  }
  return out;
}

function dataflowProse(df: LayerDataflow): string[] {
  return df.steps.map((s, i) => `${i + 1}. **${s.title}** (${s.bits} bits, [${s.range.min}, ${s.range.max}]): ${s.explanation}`);
}

// ---------- sections ----------

function layerTable(d: ReportData): { html: string; markdown: string } {
  return table(
    ['layer', 'kind', 'W/A bits', 'weight SQNR dB', 'local SQNR dB', 'accum. SQNR dB', 'accum. cosine', 'accum. MSE', 'max |err|', 'rmse/scale', 'act. range', 'clip range', 'clipped', '3σ/range', 'ch. spread'],
    d.layers.map((l) => [
      shortName(l.name), l.kind, `${l.weightBits}/${l.activationBits}`, f1(l.weight.sqnrDb), f1(l.local.sqnrDb), f1(l.accumulated.sqnrDb), f3(l.accumulated.cosine),
      sci(l.accumulated.mse), sci(l.accumulated.maxAbsError), f3(l.accumulated.rmseOverScale),
      `[${sci(l.activation.stats.min)}, ${sci(l.activation.stats.max)}]`, `[${sci(l.activation.clipLow)}, ${sci(l.activation.clipHigh)}]`,
      `${(l.activation.clippedShare * 100).toFixed(3)}%`, f2(l.activation.stats.sigma3ShareOfRange), `${f1(l.weight.channels.spread)}×`,
    ]),
  );
}

function weightErrorTable(d: ReportData): { html: string; markdown: string } {
  return table(['layer (weights)', 'SQNR dB', 'MSE', 'cosine', 'max |err|', 'rmse/scale', 'min', 'max', 'mean', 'std', '3σ/range', 'clipped'],
    d.layers.map((l) => {
      const w = l.weight;
      return [shortName(l.name), f1(w.sqnrDb), w.error ? sci(w.error.mse) : '', w.error ? f3(w.error.cosine) : '', w.error ? sci(w.error.maxAbsError) : '', w.rmseOverScale !== undefined ? f3(w.rmseOverScale) : '',
        sci(w.stats.min), sci(w.stats.max), sci(w.stats.mean), sci(w.stats.std), f2(w.stats.sigma3ShareOfRange), `${(w.clippedShare * 100).toFixed(3)}%`];
    }));
}

function rmseNote(d: ReportData): string {
  const healthy = d.layers.filter((l) => Math.abs(l.local.rmseOverScale - UNIFORM_ROUNDING_RMSE_OVER_SCALE) < 0.08).length;
  const worst = worstBy(d.layers, (l) => -l.accumulated.rmseOverScale, 1)[0];
  return `rmse/scale is the rms error in output quantization steps: 0.289 (1/√12) is what rounding alone produces, uniform noise of half a step either way. ${healthy} of ${d.layers.length} layers are within 0.08 of it when quantized alone (local)` +
    (worst ? `; in the fully quantized model the largest is ${shortName(worst.name)} at ${f3(worst.accumulated.rmseOverScale)} — ${describeRmseOverScale(worst.accumulated.rmseOverScale)}.` : '.');
}

export function buildSections(d: ReportData): Section[] {
  const sections: Section[] = [];
  sections.push({ id: 'summary', title: 'Summary', paragraphs: summaryProse(d), blocks: [] });
  sections.push({
    id: 'layers', title: 'Per-layer error and statistics',
    paragraphs: [
      'Local: this layer quantized alone with float inputs. Accumulated: the whole model quantized, compared with the float model at this layer\'s output. Clipped: share of activations outside the calibrated range on the evaluation images. 3σ/range: width of mean ± 3σ over the full min..max range (small = long tails). Channel spread: widest over narrowest weight channel range.',
      rmseNote(d),
      'The second table is the weights\' own error and statistics: for weights rmse/scale near 0.289 is again pure rounding, above it the clipping range cut real weights (clipped > 0).',
    ],
    blocks: [
      layerTable(d),
      weightErrorTable(d),
      plot(barChartSvg('Accumulated SQNR per layer (dB)', 'SQNR (dB), lower is worse', d.layers.map((l) => ({ label: shortName(l.name), value: l.accumulated.sqnrDb, highlight: l.kind === 'depthwise' }))), 'accumulated SQNR of each layer, depthwise layers highlighted'),
    ],
  });
  if (d.dataflow) {
    sections.push({ id: 'dataflow', title: `Integer dataflow of ${shortName(d.dataflow.layer)}`, paragraphs: dataflowProse(d.dataflow), blocks: [dataflowBlock(d.dataflow)] });
  }
  const histLayers = pickHistogramLayers(d);
  if (histLayers.length) {
    sections.push({
      id: 'histograms', title: 'Histograms',
      paragraphs: [`Weights and activations of ${histLayers.map((l) => shortName(l.name)).join(', ')}; dashed lines mark the clipping range the quantizer maps onto its codes. Counts are on a log scale so the tails that set the range stay visible.`],
      blocks: histLayers.flatMap((l) => [
        plot(histogramSvg(`${shortName(l.name)} weights`, l.weight.histogram, { low: l.weight.clipLow, high: l.weight.clipHigh }), `${l.name}: weights, σ = ${sci(l.weight.stats.std)}, range [${sci(l.weight.stats.min)}, ${sci(l.weight.stats.max)}]`),
        plot(histogramSvg(`${shortName(l.name)} output activations`, l.activation.histogram, { low: l.activation.clipLow, high: l.activation.clipHigh }), `${l.name}: activations, ${(l.activation.clippedShare * 100).toFixed(3)}% clipped`),
      ]),
    });
  }
  sections.push({ id: 'granularity', title: 'Per-tensor against per-channel weights', paragraphs: granularityProse(d), blocks: [granularityTable(d)] });
  if (d.bitSweep?.length || d.weightSqnrByBits?.length) {
    const blocks = [];
    if (d.bitSweep?.length) {
      const pts = [...d.bitSweep].sort((a, b) => a.weightBits - b.weightBits);
      blocks.push(plot(linePlotSvg('Accuracy against bit width', 'bits (weights and activations)', 'top-1 accuracy (%)', [
        { name: 'quantized', points: pts.map((p) => ({ x: p.weightBits, y: p.evaluation.accuracy })) },
        { name: 'float', points: pts.map((p) => ({ x: p.weightBits, y: d.float.accuracy })) },
      ], [0, 100]), 'top-1 accuracy of the whole model quantized to each bit width'));
      const extra = d.splitBits ? [d.splitBits.weightsLow, d.splitBits.activationsLow] : [];
      blocks.push(table(['bits', 'accuracy', 'agreement with float', 'logit SQNR dB'], [...pts, ...extra].map((p) => [`W${p.weightBits}A${p.activationBits}`, pct(p.evaluation.accuracy), pct(p.evaluation.agreement), f1(p.evaluation.logitSqnrDb)])));
    }
    sections.push({ id: 'low-bits', title: 'Accuracy against bits, and what goes wrong below 6 bits', paragraphs: lowBitProse(d), blocks });
  }
  if (d.weightMethods?.length || d.calibrationMethods?.length) {
    const rows = [...(d.weightMethods ?? []).map((m) => ['weight cost', m]), ...(d.calibrationMethods ?? []).map((m) => ['activation calibration', m])] as [string, MethodComparison][];
    sections.push({
      id: 'methods', title: 'Weight cost functions and calibration methods', paragraphs: methodsProse(d),
      blocks: [table(['kind', 'method', 'accuracy', 'agreement', 'logit SQNR dB', 'mean weight SQNR dB'], rows.map(([k, m]) => [k, m.method, pct(m.evaluation.accuracy), pct(m.evaluation.agreement), f1(m.evaluation.logitSqnrDb), m.meanWeightSqnrDb !== undefined ? f1(m.meanWeightSqnrDb) : '']))],
    });
  }
  if (d.activationPlacement) {
    const p = d.activationPlacement;
    sections.push({
      id: 'placement', title: 'Quantizing before and after the activation', paragraphs: placementProse(d),
      blocks: [table(['scheme', 'accuracy', 'agreement', 'logit SQNR dB'], [['before the activation only', pct(p.beforeOnly.accuracy), pct(p.beforeOnly.agreement), f1(p.beforeOnly.logitSqnrDb)], ['before and after', pct(p.beforeAndAfter.accuracy), pct(p.beforeAndAfter.agreement), f1(p.beforeAndAfter.logitSqnrDb)]])],
    });
  }
  if (d.sensitivity) {
    const r = d.sensitivity.ranking;
    sections.push({
      id: 'sensitivity', title: 'Sensitivity: one layer at a time', paragraphs: [...sensitivityProse(d), ...mixedProse(d)],
      blocks: [
        plot(barChartSvg(`Accuracy cost of quantizing one layer to W${d.sensitivity.bits.weightBits}A${d.sensitivity.bits.activationBits}`, 'accuracy points lost (others float)', r.map((e) => ({ label: shortName(e.layer), value: e.aloneCost, highlight: e.rank <= 3 }))), 'layers ranked by the accuracy they cost alone; the top 3 highlighted'),
        table(['rank', 'layer', 'accuracy alone', 'cost (points)', 'logit SQNR dB', 'all but this one', 'gain kept float'], r.map((e) => [String(e.rank), shortName(e.layer), pct(e.alone.accuracy), e.aloneCost.toFixed(2), f1(e.alone.logitSqnrDb), e.allBut ? pct(e.allBut.accuracy) : '', e.allButGain !== undefined ? e.allButGain.toFixed(2) : ''])),
      ],
    });
  }
  sections.push({ id: 'scales', title: 'Scales and zero points', paragraphs: ['The same table is written next to this report as CSV and JSON.'], blocks: [table(SCALE_HEADERS, scaleRows(d.layers))] });
  const t = Object.entries(d.timings);
  if (t.length) sections.push({ id: 'timings', title: 'Timings', paragraphs: [t.map(([k, v]) => `${k}: ${v.toFixed(1)} s`).join('; ') + '.'], blocks: [] });
  return sections;
}

function pickHistogramLayers(d: ReportData): LayerReportRow[] {
  if (d.layers.length === 0) return [];
  const picks = new Set<LayerReportRow>([d.layers[0]]);
  const worstGran = worstBy(d.layers, (l) => l.weight.sqnrDb, 1)[0];
  const mostClipped = worstBy(d.layers, (l) => -l.activation.clippedShare, 1)[0];
  [worstGran, mostClipped].forEach((l) => l && picks.add(l));
  return [...picks].slice(0, 3);
}

function granularityTable(d: ReportData): { html: string; markdown: string } {
  const rows = worstBy(d.layers, (l) => -granularityGain(l).gain, 12);
  const hasLocal = d.layers.some((l) => l.weight.localPerTensorDb !== undefined);
  const hasWeightOnly = d.layers.some((l) => l.weight.weightOnlyPerTensorDb !== undefined);
  return table(['layer', 'kind', ...(hasWeightOnly ? ['weight-only output SQNR per-tensor dB', 'per-channel dB'] : []), ...(hasLocal ? ['local SQNR per-tensor dB', 'local SQNR per-channel dB'] : []), 'weight SQNR per-tensor dB', 'weight SQNR per-channel dB', 'gain dB', 'channel spread', 'worst channel bits lost'],
    rows.map((l) => [shortName(l.name), l.kind, ...(hasWeightOnly ? [f1(l.weight.weightOnlyPerTensorDb ?? NaN), f1(l.weight.weightOnlyPerChannelDb ?? NaN)] : []), ...(hasLocal ? [f1(l.weight.localPerTensorDb ?? NaN), f1(l.weight.localPerChannelDb ?? NaN)] : []), f1(l.weight.sqnrPerTensorDb), f1(l.weight.sqnrPerChannelDb), f1(granularityGain(l).gain), `${f1(l.weight.channels.spread)}×`, f1(l.weight.channels.worstBitsLost)]));
}

function dataflowBlock(df: LayerDataflow): { html: string; markdown: string } {
  const html = `<ol class="qi-flow">${df.steps.map((s) => `<li><span class="qi-step">${escapeXml(s.title)}</span><span class="qi-bits">${s.bits} bits</span><span class="qi-range">[${s.range.min}, ${s.range.max}]</span></li>`).join('')}</ol>`;
  return { html, markdown: '' };
}

export const SCALE_HEADERS = ['layer', 'op', 'weight_bits', 'activation_bits', 'input_scale', 'input_zero_point', 'output_scale', 'output_zero_point', 'weight_scale_min', 'weight_scale_max', 'weight_scales'];

function scaleRows(layers: readonly LayerReportRow[]): string[][] {
  return layers.map((l) => [l.name, l.op, String(l.weightBits), String(l.activationBits), sci(l.inputScale), String(l.inputZeroPoint), sci(l.outputScale), String(l.outputZeroPoint),
    sci(Math.min(...l.weightScales)), sci(Math.max(...l.weightScales)), l.weightScales.length === 1 ? sci(l.weightScales[0]) : `${l.weightScales.length} per-channel`]);
}

/** Scale/zero-point table as CSV (full precision, per-channel weight scales separated by spaces). */
export function scalesCsv(layers: readonly LayerReportRow[]): string {
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = [SCALE_HEADERS.join(',')];
  for (const l of layers) {
    lines.push([l.name, l.op, l.weightBits, l.activationBits, l.inputScale, l.inputZeroPoint, l.outputScale, l.outputZeroPoint, Math.min(...l.weightScales), Math.max(...l.weightScales), l.weightScales.join(' ')]
      .map((v) => q(String(v))).join(','));
  }
  return lines.join('\n') + '\n';
}

export function scalesJson(layers: readonly LayerReportRow[]): string {
  return JSON.stringify(layers.map((l) => ({ layer: l.name, op: l.op, weightBits: l.weightBits, activationBits: l.activationBits, inputScale: l.inputScale, inputZeroPoint: l.inputZeroPoint, outputScale: l.outputScale, outputZeroPoint: l.outputZeroPoint, weightScales: l.weightScales })), null, 2) + '\n';
}

const PAGE_CSS = `
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1f2328; --muted: #57606a; --grid: #d8dee4; --accent: #0969da; --warn: #cf222e; --ok: #1a7f37; --panel: #f6f8fa; }
@media (prefers-color-scheme: dark) { :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --grid: #30363d; --accent: #4493f8; --warn: #f85149; --ok: #3fb950; --panel: #161b22; } }
body { background: var(--bg); color: var(--fg); font: 14px/1.5 system-ui, sans-serif; max-width: 1200px; margin: 0 auto; padding: 16px 24px; }
h1 { font-size: 22px; } h2 { font-size: 18px; border-bottom: 1px solid var(--grid); padding-bottom: 4px; margin-top: 28px; }
.qi-meta { color: var(--muted); }
.qi-table { overflow-x: auto; } table { border-collapse: collapse; font-size: 12px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--grid); padding: 3px 6px; text-align: right; white-space: nowrap; } th { background: var(--panel); } td:first-child, th:first-child { text-align: left; }
figure { margin: 12px 0; display: inline-block; vertical-align: top; } figcaption { color: var(--muted); font-size: 12px; max-width: 560px; }
.qi-flow { background: var(--panel); padding: 8px 8px 8px 32px; border-radius: 6px; } .qi-flow li { margin: 2px 0; }
.qi-step { display: inline-block; min-width: 320px; } .qi-bits { display: inline-block; min-width: 70px; font-weight: 600; color: var(--accent); } .qi-range { color: var(--muted); font-family: ui-monospace, monospace; }
nav a { color: var(--accent); margin-right: 10px; }
${PLOT_CSS}`;

function inlineMarkdownToHtml(text: string): string {
  return escapeXml(text).replace(/\*\*(.+?)\*\*/g, '<strong>$1</strong>');
}

/** The whole report as one HTML document with no external resources. */
/** The sentence naming the per-layer choices, or undefined when the run has none. */
function layerChoicesSentence(d: ReportData): string | undefined {
  const lines = d.settings.layerChoices ?? [];
  if (lines.length === 0) return undefined;
  return `Per-layer choices (${lines.length} layer${lines.length > 1 ? 's' : ''}; the others at W${d.settings.weightBits}A${d.settings.activationBits}): ${lines.join('; ')}.`;
}

export function renderHtml(d: ReportData): string {
  const sections = buildSections(d);
  const title = `Quantization report: ${d.modelPath.split(/[\\/]/).pop()}`;
  const body = sections.map((s) => {
    const paragraphs = s.paragraphs.map((p) => `<p>${inlineMarkdownToHtml(p.replace(/^\d+\. /, ''))}</p>`);
    const list = s.id === 'dataflow' ? `<ol>${s.paragraphs.map((p) => `<li>${inlineMarkdownToHtml(p.replace(/^\d+\. /, ''))}</li>`).join('')}</ol>` : paragraphs.join('');
    return `<section id="${s.id}"><h2>${escapeXml(s.title)}</h2>${list}${s.blocks.map((b) => b.html).join('')}</section>`;
  }).join('\n');
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeXml(title)}</title><style>${PAGE_CSS}</style></head><body>
<h1>${escapeXml(title)}</h1>
<p class="qi-meta">${escapeXml(d.modelPath)} · calibration ${escapeXml(d.settings.calibPath)} (${d.settings.calibrationImages} images) · evaluation ${escapeXml(d.settings.dataPath)} (${d.settings.evaluationImages} images) · ${escapeXml(d.generatedAt)}</p>
${layerChoicesSentence(d) ? `<p class="qi-meta" id="layer-choices">${escapeXml(layerChoicesSentence(d)!)}</p>\n` : ''}<nav>${sections.map((s) => `<a href="#${s.id}">${escapeXml(s.title)}</a>`).join('')}</nav>
${body}
</body></html>
`;
}

export function renderMarkdown(d: ReportData): string {
  const sections = buildSections(d);
  const lines = [`# Quantization report: ${d.modelPath.split(/[\\/]/).pop()}`, '', `${d.modelPath} · calibration ${d.settings.calibPath} (${d.settings.calibrationImages} images) · evaluation ${d.settings.dataPath} (${d.settings.evaluationImages} images) · ${d.generatedAt}`, ''];
  const choices = layerChoicesSentence(d);
  if (choices) lines.push(choices, '');
  for (const s of sections) {
    lines.push(`## ${s.title}`, '');
    for (const p of s.paragraphs) lines.push(p, s.id === 'dataflow' ? '' : '');
    for (const b of s.blocks) if (b.markdown) lines.push(b.markdown, '');
  }
  return lines.join('\n');
}
