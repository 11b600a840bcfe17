/**
 * The quantize job's passes on its worker pool (and the evaluation's single-thread fallback): the lockstep bias
 * correction, the test batches' measurement, and handing the workers the plan. Calibration on the pool is in
 * parallel-calibration.ts; src/pipeline/quantize.ts decides which pass runs where.
 */
import type { BiasCorrectionRecord, BiasCorrectionResume, ShardBatch, ShardStep } from '../engine/bias-correction';
import { layersToCorrect, lockstepCorrections } from '../engine/bias-correction';
import type { FloatModel } from '../engine/float-engine';
import type { GraphCheckpoint, IntModel } from '../engine/int-engine';
import type { QuantPlan } from '../engine/int-plan';
import type { CalibrationStats } from '../engine/quant-calibrate';
import type { PreparedModel } from '../engine/types';
import { iterateBatches } from '../data/preprocess';
import { BatchMeasure, MeasureInput, measureBatch } from '../inspect/measure-batch';
import type { WorkerPool } from '../parallel/pool';
import { sharePlan } from '../parallel/share';
import type { QuantizeTaskPayload } from '../parallel/tasks';

/** The bias-correction pass a job runs: checkpoints to record, where it resumes, the layers it leaves as they are. */
export interface BiasPass {
  at: number[];
  resume?: BiasCorrectionResume;
  unchanged: Set<string>;
  resumedAt?: string;
  record: BiasCorrectionRecord;
}

/** A test batch with what the evaluation reuses or records for it. */
export type EvalBatch = (ReturnType<typeof iterateBatches> extends Iterable<infer B> ? B : never) & MeasureInput & { index: number };

/**
 * The bias-correction pass on the pool: each worker steps its share of the calibration batches (balanced by images)
 * from layer to layer; this thread pools their input means in batch order, corrects each bias and sends it back.
 */
export async function correctBiasesInPool(
  pool: WorkerPool, prepared: PreparedModel, plan: QuantPlan, stats: CalibrationStats, pass: BiasPass, checkCancelled?: () => void,
): Promise<void> {
  const shards: ShardBatch[][] = Array.from({ length: pool.size }, () => []);
  const images = shards.map(() => 0);
  stats.meanBatches.forEach((input, index) => {
    const w = images.indexOf(Math.min(...images));
    shards[w].push({ index, input, from: pass.resume?.from[index] });
    images[w] += input.dims[0];
  });
  const active = shards.flatMap((batches, worker) => (batches.length ? [{ batches, worker }] : []));
  const needMeans = [...layersToCorrect(stats.inputMeans, pass.unchanged)];
  const decisions = lockstepCorrections(prepared, plan, stats.inputMeans, pass.unchanged);
  let decision = decisions.next(undefined as never);
  let started = false;
  while (!decision.done) {
    checkCancelled?.();
    const update = decision.value;
    const payload = (batches: ShardBatch[]): QuantizeTaskPayload => (started ? { op: 'lockstep-advance', update } : { op: 'lockstep-start', batches, needMeans, recordAt: pass.at });
    const steps = await Promise.all(active.map(({ batches, worker }) => pool.runOn(worker, payload(batches))));
    started = true;
    decision = decisions.next(steps as (ShardStep | undefined)[]);
  }
  const recorded = await Promise.all(active.map(({ worker }) => pool.runOn(worker, { op: 'lockstep-checkpoints' } satisfies QuantizeTaskPayload)));
  active.forEach(({ batches }, k) => batches.forEach((b, j) => pass.record.checkpoints[b.index].push(...(recorded[k] as GraphCheckpoint[][])[j])));
}

/** Measures batches in this thread, yielding to the event loop between them so a worker sees cancel messages. */
export async function* measureInThread(
  floatModel: FloatModel, intModel: IntModel, compared: ReadonlySet<string>, batches: Iterable<EvalBatch>, checkCancelled?: () => void,
): AsyncGenerator<{ batch: EvalBatch; measure: BatchMeasure }> {
  for (const batch of batches) {
    checkCancelled?.();
    yield { batch, measure: measureBatch(floatModel, intModel, compared, batch, checkCancelled) };
    await new Promise((r) => setImmediate(r));
  }
}

/** Measures batches on the pool's worker threads, in batch order. */
export async function* measureInPool(pool: WorkerPool, batches: Iterable<EvalBatch>, checkCancelled?: () => void): AsyncGenerator<{ batch: EvalBatch; measure: BatchMeasure }> {
  const sent: EvalBatch[] = [];
  function* payloads(): Generator<QuantizeTaskPayload> {
    for (const batch of batches) {
      checkCancelled?.();
      sent.push(batch);
      yield { op: 'measure', input: batch.input, references: batch.references, record: batch.record, checkpointsAt: batch.checkpointsAt, from: batch.from };
    }
  }
  for await (const { output } of pool.map(payloads())) {
    checkCancelled?.();
    yield { batch: sent.shift()!, measure: output as BatchMeasure };
  }
}

/** Gives every worker of the pool the plan (weights in shared memory) and the values to compare. */
export async function configurePool(pool: WorkerPool, config: { plan: QuantPlan; compared: string[] }): Promise<void> {
  const payload: QuantizeTaskPayload = { op: 'configure', plan: sharePlan(config.plan), compared: config.compared };
  await Promise.all(Array.from({ length: pool.size }, (_, w) => pool.runOn(w, payload)));
}
