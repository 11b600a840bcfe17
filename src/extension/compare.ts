/**
 * Two kept runs of one model side by side, as pure functions (the editor's Runs and comparison parts use them):
 * whether they were scored on the same test images, which top-1 decisions flipped, how many each got right, and
 * per layer the change in SQNR (accumulated and local) and in scales. "Δ" is always run B minus run A (B − A for
 * dB, B / A for scales), so comparing W8A8 (A) with W4A4 (B) shows what the 4 bits cost.
 */
import { unpackClasses, type LayerResult, type QuantRun } from './results';
import { hasLayerChoices } from './whatif';

/** The test images a run was scored on: the data set and how many images (from its predictions when it has them). */
export function testImagesOf(run: QuantRun): { data?: string; images: number } {
  const n = unpackClasses(run.predictions?.quantized)?.length;
  return { data: run.settings.testData, images: n ?? run.settings.testImages };
}

export type Comparability = { ok: true; images: number } | { ok: false; reason: string };

/** Runs compare decision by decision only when both were scored on the same test data and the same number of images. */
export function comparability(a: QuantRun, b: QuantRun): Comparability {
  const ta = testImagesOf(a), tb = testImagesOf(b);
  if ((ta.data ?? '') !== (tb.data ?? '')) return { ok: false, reason: `the runs used different test data (${ta.data ?? 'none'} vs ${tb.data ?? 'none'})` };
  if (ta.images !== tb.images) return { ok: false, reason: `the runs used different numbers of test images (${ta.images} vs ${tb.images})` };
  if (!a.predictions || !b.predictions) return { ok: false, reason: `${!a.predictions ? 'run A' : 'run B'} kept no per-image decisions (it was made by an older version: quantize again)` };
  return { ok: true, images: ta.images };
}

/** Correct and wrong top-1 decisions of a run, from its accuracy over its test images; undefined without labels. */
export function rightWrong(run: QuantRun, images = testImagesOf(run).images): { right: number; wrong: number } | undefined {
  if (run.labelled === false || run.quantizedAccuracy === undefined || images <= 0) return undefined;
  const right = Math.round((run.quantizedAccuracy * images) / 100);
  return { right, wrong: images - right };
}

export interface Flip {
  /** Image index in data order (0-based). */
  image: number;
  a: number;
  b: number;
  /** The float model's top-1 for this image (A's, which equals B's when the data match). */
  float?: number;
}

export interface DecisionComparison {
  images: number;
  /** Images whose quantized top-1 differs between A and B, in data order. */
  flipped: Flip[];
  /** Of the flipped images, how many keep the float model's top-1 in A and in B. */
  flippedAgreeFloat: { a: number; b: number };
  /** Images where the two runs' float top-1 differ: not 0 means the inputs were not the same (preprocessing, data). */
  floatDiffers: number;
}

/** Which top-1 decisions flipped between two runs scored on the same images; undefined when they cannot be compared. */
export function compareDecisions(a: QuantRun, b: QuantRun): DecisionComparison | undefined {
  if (!comparability(a, b).ok) return undefined;
  const qa = unpackClasses(a.predictions!.quantized), qb = unpackClasses(b.predictions!.quantized);
  const fa = unpackClasses(a.predictions!.float), fb = unpackClasses(b.predictions!.float);
  if (!qa || !qb || qa.length !== qb.length) return undefined;
  const flipped: Flip[] = [];
  const agree = { a: 0, b: 0 };
  let floatDiffers = 0;
  for (let i = 0; i < qa.length; i++) {
    if (fa && fb && fa[i] !== fb[i]) floatDiffers++;
    if (qa[i] === qb[i]) continue;
    const float = fa?.[i];
    flipped.push({ image: i, a: qa[i], b: qb[i], float });
    if (float !== undefined && qa[i] === float) agree.a++;
    if (float !== undefined && qb[i] === float) agree.b++;
  }
  return { images: qa.length, flipped, flippedAgreeFloat: agree, floatDiffers };
}

/** Ratio B / A of two scales; undefined unless both are positive numbers. */
export function scaleRatio(a: number | undefined, b: number | undefined): number | undefined {
  return a !== undefined && b !== undefined && a > 0 && b > 0 ? b / a : undefined;
}

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export interface WeightScaleChange {
  /** Median scale of A and of B (one value when per tensor). */
  a?: number;
  b?: number;
  /** Median, smallest and largest of the per-channel ratios B / A (channel by channel when both have the same channels). */
  median?: number;
  min?: number;
  max?: number;
  /** 'channels' when compared channel by channel, 'medians' when the runs differ in granularity. */
  by?: 'channels' | 'medians';
}

/** How the weight scales moved from A to B: channel by channel when both have the same number, else median to median. */
export function weightScaleChange(a: readonly number[] | undefined, b: readonly number[] | undefined): WeightScaleChange {
  const ma = median((a ?? []).filter((s) => s > 0)), mb = median((b ?? []).filter((s) => s > 0));
  const out: WeightScaleChange = { a: ma, b: mb };
  if (a && b && a.length > 0 && a.length === b.length) {
    const ratios = a.flatMap((s, i) => (s > 0 && b[i] > 0 ? [b[i] / s] : []));
    if (ratios.length) return { ...out, median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), by: 'channels' };
  }
  const r = scaleRatio(ma, mb);
  return r === undefined ? out : { ...out, median: r, min: r, max: r, by: 'medians' };
}

const diff = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? b - a : undefined);

export interface LayerDelta {
  name: string;
  a?: LayerResult;
  b?: LayerResult;
  /** B − A of the accumulated (output) SQNR, dB. */
  outputSqnrDb?: number;
  /** B − A of the local SQNR (the layer alone quantized), dB. */
  localSqnrDb?: number;
  weightSqnrDb?: number;
  inputScale?: number;
  outputScale?: number;
  weightScale: WeightScaleChange;
}

/** One layer of A against the same layer of B. */
export function layerDelta(name: string, a: LayerResult | undefined, b: LayerResult | undefined): LayerDelta {
  return {
    name,
    a,
    b,
    outputSqnrDb: diff(a?.outputSqnrDb, b?.outputSqnrDb),
    localSqnrDb: diff(a?.localSqnrDb, b?.localSqnrDb),
    weightSqnrDb: diff(a?.weightSqnrDb, b?.weightSqnrDb),
    inputScale: scaleRatio(a?.inputScale, b?.inputScale),
    outputScale: scaleRatio(a?.outputScale, b?.outputScale),
    weightScale: weightScaleChange(a?.weightScales, b?.weightScales),
  };
}

/** Every layer (in the order given, e.g. the model's), A against B. */
export function layerDeltas(names: readonly string[], a: QuantRun, b: QuantRun): LayerDelta[] {
  const byName = (r: QuantRun) => new Map(r.layers.map((l) => [l.name, l]));
  const la = byName(a), lb = byName(b);
  return names.map((n) => layerDelta(n, la.get(n), lb.get(n)));
}

export interface RunComparison {
  a: QuantRun;
  b: QuantRun;
  comparable: Comparability;
  decisions?: DecisionComparison;
  rightWrong: { a?: { right: number; wrong: number }; b?: { right: number; wrong: number } };
  /** B − A of accuracy (points), agreement (points) and logit SQNR (dB). */
  accuracy?: number;
  agreement?: number;
  logitSqnrDb?: number;
  layers: LayerDelta[];
  /** The layers that lost the most accumulated SQNR, worst first (at most 5). */
  worstLayers: LayerDelta[];
}

/** Everything the comparison part shows for runs A and B. */
export function compareRuns(a: QuantRun, b: QuantRun, layerNames: readonly string[] = a.layers.map((l) => l.name)): RunComparison {
  const comparable = comparability(a, b);
  const layers = layerDeltas(layerNames, a, b);
  return {
    a,
    b,
    comparable,
    decisions: compareDecisions(a, b),
    rightWrong: { a: rightWrong(a), b: rightWrong(b) },
    accuracy: diff(a.quantizedAccuracy, b.quantizedAccuracy),
    agreement: diff(a.agreement, b.agreement),
    logitSqnrDb: diff(a.logitSqnrDb, b.logitSqnrDb),
    layers,
    worstLayers: layers.filter((l) => l.outputSqnrDb !== undefined).sort((x, y) => x.outputSqnrDb! - y.outputSqnrDb!).slice(0, 5),
  };
}

/** A signed dB change: '+1.2 dB', '−23.1 dB', '—'. */
export function formatDeltaDb(db: number | undefined): string {
  if (db === undefined) return '—';
  return `${db >= 0 ? '+' : '−'}${Math.abs(db).toFixed(1)} dB`;
}

/** A scale ratio: '×16.9', '×0.52', '×1.00', '—'. */
export function formatRatio(r: number | undefined): string {
  if (r === undefined) return '—';
  return `×${r >= 10 ? r.toFixed(1) : r.toFixed(2)}`;
}

/** Colour band of a ΔSQNR (B − A): within 1 dB 'same', up to 6 dB (about one bit) lost 'fair', more 'poor'; gains 'better'. */
export function deltaQuality(db: number | undefined): 'better' | 'same' | 'fair' | 'poor' | 'unknown' {
  if (db === undefined) return 'unknown';
  return db > 1 ? 'better' : db >= -1 ? 'same' : db >= -6 ? 'fair' : 'poor';
}

/** Kept runs by bit setting for the accuracy-vs-bits plot: one point per (weight, activation) bits and method family. */
export interface BitsPoint {
  weightBits: number;
  activationBits: number;
  /** 'percentile per-channel': runs of one family share a line. */
  family: string;
  accuracy?: number;
  agreement?: number;
  fp32Accuracy?: number;
  /** The run the point shows (the newest of its bits and family) and how many kept runs had that setting. */
  run: QuantRun;
  runs: number;
}

/**
 * One point per bit setting and family, the newest run of each, sorted by bits (fewest first). What-if runs (with
 * per-layer choices) have no one bit setting and are left out.
 */
export function accuracyByBits(runs: readonly QuantRun[]): BitsPoint[] {
  const points = new Map<string, BitsPoint>();
  const newestFirst = runs.filter((r) => !hasLayerChoices(r.settings)).sort((x, y) => (y.finishedAt ?? '').localeCompare(x.finishedAt ?? ''));
  for (const r of newestFirst) {
    const family = `${r.settings.method} ${r.settings.granularity}`;
    const key = `${r.settings.weightBits}/${r.settings.activationBits}/${family}`;
    const p = points.get(key);
    if (p) { p.runs++; continue; }
    points.set(key, {
      weightBits: r.settings.weightBits, activationBits: r.settings.activationBits, family,
      accuracy: r.labelled === false ? undefined : r.quantizedAccuracy, agreement: r.agreement, fp32Accuracy: r.labelled === false ? undefined : r.fp32Accuracy, run: r, runs: 1,
    });
  }
  return [...points.values()].sort((x, y) => x.weightBits - y.weightBits || x.activationBits - y.activationBits || x.family.localeCompare(y.family));
}
