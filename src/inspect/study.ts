/** Sensitivity study end to end: calibrate, rank layers, sweep bit widths, try mixed precision; times every part. */
import type { Dataset, Preprocess } from '../data';
import type { FloatModel } from '../engine/float-engine';
import type { LayerInfo } from '../engine/types';
import { mixedPrecision, sensitivityFromResults, sensitivityPlans, sweepSettings, uniformPlan, type Evaluation, type Evaluator, type LayerBits, type LayerSensitivity, type MixedPrecisionResult, type PrecisionPlan, type SweepPoint } from './sensitivity';
import { observeLayers, QuantSimulator, type SimulationSettings } from './simulate';

export interface DataSource {
  dataset: Dataset;
  preprocess: Preprocess;
  batchSize: number;
}

export interface StudyOptions {
  bits: LayerBits;
  /** How many of the costliest layers the mixed-precision plan keeps at highBits. */
  keep: number;
  highBits: LayerBits;
  sweepBits: number[];
  allButOne: boolean;
  settings: SimulationSettings;
}

export interface StudyResult {
  float: Evaluation;
  ranking: LayerSensitivity[];
  sweep: SweepPoint[];
  mixed?: MixedPrecisionResult;
  calibrationImages: number;
  evaluationImages: number;
  /** Seconds: calibration, float (shared float runs), sensitivity, sweep, mixed, total. */
  timings: Record<string, number>;
}

export type StudyProgress = (stage: string, done: number, total: number) => void;

/** A batched evaluator over the simulator that remembers the float result and the time spent per plan. */
export function simulatorEvaluator(sim: QuantSimulator, data: DataSource, onFloat: (e: Evaluation) => void, progress?: (done: number) => void): Evaluator {
  return async (plans: PrecisionPlan[]) => {
    // identical plans (e.g. "all layers at 4 bits" from the sensitivity and from the sweep) run once
    const keys = plans.map((p) => JSON.stringify(Object.entries(p).sort(([a], [b]) => a.localeCompare(b))));
    const unique = [...new Set(keys)];
    const r = sim.evaluatePlans(data.dataset, data.preprocess, data.batchSize, unique.map((k) => plans[keys.indexOf(k)]), progress);
    onFloat(r.float);
    return keys.map((k) => r.plans[unique.indexOf(k)]);
  };
}

const sumSeconds = (es: readonly Evaluation[]) => es.reduce((s, e) => s + (e.seconds ?? 0), 0);

export async function sensitivityStudy(model: FloatModel, layers: readonly LayerInfo[], calib: DataSource, data: DataSource, opts: StudyOptions, progress?: StudyProgress): Promise<StudyResult> {
  const t0 = performance.now();
  const observers = observeLayers(model, layers, calib.dataset, calib.preprocess, calib.batchSize, (d) => progress?.('calibration', d, calib.dataset.count));
  const calibSeconds = (performance.now() - t0) / 1000;
  const sim = new QuantSimulator(model, layers, observers, opts.settings);
  let float: Evaluation | undefined;
  let floatSeconds = 0;
  let pass = 0;
  const evaluate = simulatorEvaluator(sim, data, (f) => { float = f; floatSeconds += f.seconds ?? 0; }, (d) => progress?.(`evaluation pass ${pass}`, d, data.dataset.count));
  const names = layers.map((l) => l.name);
  // one pass over the data serves the sensitivity plans and the sweep together (one float run per batch for all)
  const sensPlans = sensitivityPlans(names, opts.bits, opts.allButOne);
  const sweepBits = sweepSettings(opts.sweepBits);
  pass = 1;
  const results = await evaluate([...sensPlans, ...sweepBits.map((b) => uniformPlan(names, b))]);
  const floatEval = float!;
  const ranking = sensitivityFromResults(names, floatEval.accuracy, results.slice(0, sensPlans.length), opts.allButOne);
  const sweep: SweepPoint[] = sweepBits.map((b, i) => ({ ...b, evaluation: results[sensPlans.length + i] }));
  let mixed: MixedPrecisionResult | undefined;
  if (opts.keep > 0) {
    pass = 2;
    mixed = await mixedPrecision(names, ranking, opts.keep, opts.highBits, opts.bits, floatEval.accuracy, evaluate, sweepAt(sweep, opts.bits));
  }
  const sensitivitySeconds = sumSeconds(ranking.map((e) => e.alone)) + sumSeconds(ranking.flatMap((e) => (e.allBut ? [e.allBut] : [])));
  return {
    float: floatEval, ranking, sweep, mixed,
    calibrationImages: calib.dataset.count, evaluationImages: data.dataset.count,
    timings: {
      calibration: calibSeconds,
      'float runs (shared)': floatSeconds,
      sensitivity: sensitivitySeconds,
      'bit sweep': sumSeconds(sweep.map((p) => p.evaluation)),
      'mixed precision': mixed ? mixed.mixed.seconds ?? 0 : 0,
      total: (performance.now() - t0) / 1000,
    },
  };
}

function sweepAt(sweep: readonly SweepPoint[], bits: LayerBits): Evaluation | undefined {
  return sweep.find((p) => p.weightBits === bits.weightBits && p.activationBits === bits.activationBits)?.evaluation;
}
