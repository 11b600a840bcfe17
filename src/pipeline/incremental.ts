/**
 * What the last run on a model left for the next one (another bit width for some layers, a layer kept in float):
 * checkpoints of its integer passes, per calibration and per test batch, and the measured segments of each test
 * batch. The next run resumes both passes at the last checkpoint before the first node its plan changes.
 */
import type { GraphCheckpoint } from '../engine/int-engine';
import type { QuantPlan } from '../engine/int-plan';
import { firstChangedNode } from '../engine/plan-diff';
import type { CalibrationStats } from '../engine/quant-calibrate';
import type { PreparedModel } from '../engine/types';
import { elementCount } from '../graph/tensor';
import type { Segment } from '../inspect/measure-batch';

/** Checkpoints per pass: more resume closer to the change, each costs the codes live there. */
const MAX_CHECKPOINTS = 8;

/** Node indices where passes record checkpoints: up to 8 conv / linear layers spread evenly (the first excluded). */
export function checkpointNodes(prepared: PreparedModel): number[] {
  const layers = prepared.nodes.flatMap((n, i) => ((n.opType === 'Conv' || n.opType === 'Gemm') && prepared.constants.has(n.inputs[1]) ? [i] : []));
  if (layers.length < 2) return [];
  const picks = new Set<number>();
  const count = Math.min(MAX_CHECKPOINTS, layers.length - 1);
  for (let k = 1; k <= count; k++) picks.add(layers[Math.round((k * (layers.length - 1)) / count)]);
  return [...picks].sort((a, b) => a - b);
}

/**
 * Bytes one image's checkpoints hold (an upper bound: a value live at two checkpoints is counted twice): at each
 * checkpoint, the values produced before it and read at or after it, as codes (1 byte up to 8 bits, else 4) or floats.
 */
export function checkpointBytesPerImage(prepared: PreparedModel, plan: QuantPlan, at: readonly number[]): number {
  const lastRead = new Map<string, number>();
  prepared.nodes.forEach((n, i) => n.inputs.forEach((v) => { if (v) lastRead.set(v, i); }));
  lastRead.set(prepared.outputName, prepared.nodes.length);
  const produced = new Map<string, number>([[prepared.inputName, -1]]);
  prepared.nodes.forEach((n, i) => n.outputs.forEach((v) => { if (v) produced.set(v, i); }));
  let bytes = 0;
  for (const c of at) {
    for (const [v, p] of produced) {
      if (p >= c || (lastRead.get(v) ?? -1) < c || prepared.constants.has(v)) continue;
      const dims = prepared.shapes.get(v);
      if (!dims || dims.length === 0) continue;
      const params = plan.valueParams.get(v);
      bytes += (elementCount(dims) / Math.max(1, dims[0])) * (params ? (params.bits <= 8 ? 1 : 4) : 4);
    }
  }
  return bytes;
}

/** The latest checkpoint at or before node `firstChanged` (undefined: start from the beginning). */
export function resumeCheckpoint(at: readonly number[], firstChanged: number): number | undefined {
  let best: number | undefined;
  for (const c of at) if (c <= firstChanged) best = c;
  return best;
}

export interface CalibrationTrace {
  stats: CalibrationStats;
  plan: QuantPlan;
  /** Per calibration batch of the bias correction pass: its checkpoints in node order. */
  checkpoints: GraphCheckpoint[][];
}

export interface EvaluationTrace {
  /** The test images (as the reference cache keys them) and the calibration the plan came from. */
  key: string;
  stats: CalibrationStats;
  plan: QuantPlan;
  batches: { checkpoints: GraphCheckpoint[]; segments: Segment[] }[];
}

let lastCalibration: CalibrationTrace | undefined;
let lastEvaluation: EvaluationTrace | undefined;

/** Where a new plan on these statistics can resume the bias correction pass: the earlier plan, the change, the checkpoints. */
export function calibrationResume(prepared: PreparedModel, stats: CalibrationStats, plan: QuantPlan, at: readonly number[]) {
  const t = lastCalibration;
  if (!t || t.stats !== stats) return undefined;
  const firstChanged = firstChangedNode(prepared, t.plan, plan);
  const c = resumeCheckpoint(at, firstChanged);
  if (c === undefined || t.checkpoints.some((cs) => !cs.some((x) => x.at === c))) return undefined;
  return { previous: t.plan, firstChanged, from: t.checkpoints.map((cs) => cs.find((x) => x.at === c)!), kept: t.checkpoints.map((cs) => cs.filter((x) => x.at <= c)) };
}

export function keepCalibrationTrace(t: CalibrationTrace): void {
  lastCalibration = t;
}

/** The earlier evaluation a new plan can resume from (same test images and calibration), and the checkpoint index. */
export function evaluationResume(key: string, prepared: PreparedModel, stats: CalibrationStats, plan: QuantPlan, at: readonly number[]) {
  const t = lastEvaluation;
  if (!t || t.key !== key || t.stats !== stats) return undefined;
  const c = resumeCheckpoint(at, firstChangedNode(prepared, t.plan, plan));
  return c === undefined ? undefined : { trace: t, at: c };
}

export function keepEvaluationTrace(t: EvaluationTrace): void {
  lastEvaluation = t;
}

export function clearIncrementalState(): void {
  lastCalibration = undefined;
  lastEvaluation = undefined;
}
