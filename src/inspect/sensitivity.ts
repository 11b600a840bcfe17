/** Sensitivity analysis over an evaluator: one layer quantized at a time, all but one, bit-width sweeps, mixed precision. */
import { InputError } from '../util/errors';

/** Bits of one layer; layers missing from a plan stay in float. */
export interface LayerBits {
  weightBits: number;
  activationBits: number;
}

export type PrecisionPlan = Record<string, LayerBits>;

export interface Evaluation {
  /** Top-1 accuracy in % on the evaluation images. */
  accuracy: number;
  /** % of images whose top-1 equals the float model's. */
  agreement: number;
  /** SQNR (dB) of the logits against the float logits. */
  logitSqnrDb: number;
  seconds?: number;
}

/** Runs the model quantized as each plan says on the evaluation images; plans come together so one float run per batch serves them all. */
export type Evaluator = (plans: PrecisionPlan[]) => Promise<Evaluation[]>;

export interface LayerSensitivity {
  layer: string;
  /** Only this layer quantized. */
  alone: Evaluation;
  /** Accuracy points lost against float when only this layer is quantized. */
  aloneCost: number;
  /** Every layer but this one quantized. */
  allBut?: Evaluation;
  /** Accuracy points gained against the fully quantized model by keeping this layer in float. */
  allButGain?: number;
  /** Rank 1 = the costliest layer. */
  rank: number;
}

export interface SweepPoint {
  weightBits: number;
  activationBits: number;
  evaluation: Evaluation;
}

export interface MixedPrecisionResult {
  plan: PrecisionPlan;
  highBitLayers: string[];
  highBits: LayerBits;
  lowBits: LayerBits;
  low: Evaluation;
  mixed: Evaluation;
  /** (mixed − low) / (float − low): the share of the accuracy lost at low bits that the plan recovers. */
  recoveredShare: number;
}

export function uniformPlan(layers: readonly string[], bits: LayerBits): PrecisionPlan {
  return Object.fromEntries(layers.map((l) => [l, { ...bits }]));
}

/** The plans a sensitivity analysis evaluates: each layer alone, then (optionally) all but each layer, then all. */
export function sensitivityPlans(layers: readonly string[], bits: LayerBits, allButOne: boolean): PrecisionPlan[] {
  const alone = layers.map((l) => ({ [l]: { ...bits } }));
  if (!allButOne) return alone;
  const allBut = layers.map((l) => { const p = uniformPlan(layers, bits); delete p[l]; return p; });
  return [...alone, ...allBut, uniformPlan(layers, bits)];
}

/** Rank layers from the evaluations of sensitivityPlans (same order). */
export function sensitivityFromResults(layers: readonly string[], floatAccuracy: number, results: readonly Evaluation[], allButOne: boolean): LayerSensitivity[] {
  const all = results[results.length - 1];
  return rankLayers(layers.map((layer, i) => {
    const alone = results[i];
    const e: LayerSensitivity = { layer, alone, aloneCost: floatAccuracy - alone.accuracy, rank: 0 };
    if (allButOne) {
      e.allBut = results[layers.length + i];
      e.allButGain = e.allBut.accuracy - all.accuracy;
    }
    return e;
  }));
}

/** Quantize one layer at a time (others float); optionally also all but one. Returns layers ranked costliest first. */
export async function layerSensitivity(layers: readonly string[], bits: LayerBits, floatAccuracy: number, evaluate: Evaluator, options: { allButOne?: boolean } = {}): Promise<LayerSensitivity[]> {
  const allButOne = options.allButOne ?? false;
  return sensitivityFromResults(layers, floatAccuracy, await evaluate(sensitivityPlans(layers, bits, allButOne)), allButOne);
}

/** Order: accuracy cost alone (+ gain when left float, if measured), ties broken by the lower logit SQNR. */
export function rankLayers(entries: LayerSensitivity[]): LayerSensitivity[] {
  const score = (e: LayerSensitivity) => e.aloneCost + (e.allButGain ?? 0);
  const sorted = [...entries].sort((a, b) => score(b) - score(a) || a.alone.logitSqnrDb - b.alone.logitSqnrDb);
  sorted.forEach((e, i) => (e.rank = i + 1));
  return sorted;
}

export function sweepSettings(bitWidths: readonly number[], activationBits?: number): LayerBits[] {
  return bitWidths.map((b) => ({ weightBits: b, activationBits: activationBits ?? b }));
}

/** Whole model at each bit width (weights and activations alike unless activationBits is fixed). */
export async function bitSweep(layers: readonly string[], bitWidths: readonly number[], evaluate: Evaluator, options: { activationBits?: number } = {}): Promise<SweepPoint[]> {
  const settings = sweepSettings(bitWidths, options.activationBits);
  const results = await evaluate(settings.map((bits) => uniformPlan(layers, bits)));
  return settings.map((bits, i) => ({ ...bits, evaluation: results[i] }));
}

/** The plan that keeps the `keep` costliest layers at highBits and the rest at lowBits. */
export function mixedPlan(layers: readonly string[], ranking: readonly LayerSensitivity[], keep: number, highBits: LayerBits, lowBits: LayerBits): { plan: PrecisionPlan; highBitLayers: string[] } {
  const highBitLayers = ranking.slice(0, keep).map((e) => e.layer);
  const plan = uniformPlan(layers, lowBits);
  for (const l of highBitLayers) plan[l] = { ...highBits };
  return { plan, highBitLayers };
}

/** Keep the `keep` costliest layers at highBits and the rest at lowBits; measure what share of the lost accuracy returns. */
export async function mixedPrecision(
  layers: readonly string[],
  ranking: readonly LayerSensitivity[],
  keep: number,
  highBits: LayerBits,
  lowBits: LayerBits,
  floatAccuracy: number,
  evaluate: Evaluator,
  low?: Evaluation,
): Promise<MixedPrecisionResult> {
  const { plan, highBitLayers } = mixedPlan(layers, ranking, keep, highBits, lowBits);
  const results = await evaluate(low ? [plan] : [plan, uniformPlan(layers, lowBits)]);
  const lowEval = low ?? results[1];
  const mixed = results[0];
  return { plan, highBitLayers, highBits, lowBits, low: lowEval, mixed, recoveredShare: recoveredShare(floatAccuracy, lowEval.accuracy, mixed.accuracy) };
}

export function recoveredShare(floatAccuracy: number, lowAccuracy: number, mixedAccuracy: number): number {
  const lost = floatAccuracy - lowAccuracy;
  return lost > 0 ? (mixedAccuracy - lowAccuracy) / lost : 0;
}

/** Parse per-layer overrides such as "conv1=8,fc=8/8" (w or w/a bits); unknown layer names are an error. */
export function parseBitOverrides(text: string, layers: readonly string[], fallbackActivationBits: number): PrecisionPlan {
  const plan: PrecisionPlan = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(.+)=(\d+)(?:\/(\d+))?$/.exec(part);
    if (!m) throw new InputError(`bit override '${part}' is not LAYER=W or LAYER=W/A`);
    const matches = layers.filter((l) => l === m[1] || l.includes(m[1]));
    if (matches.length !== 1) throw new InputError(`bit override '${part}': ${matches.length ? `'${m[1]}' matches ${matches.length} layers` : `no layer named '${m[1]}'`}`);
    const bits = { weightBits: Number(m[2]), activationBits: Number(m[3] ?? fallbackActivationBits) };
    if (![bits.weightBits, bits.activationBits].every((b) => b >= 2 && b <= 16)) throw new InputError(`bit override '${part}': bit widths must be 2..16`);
    plan[matches[0]] = bits;
  }
  return plan;
}
