/**
 * What a pool worker can compute on one batch. A task factory runs once per worker with the shared model and the
 * pool's config; the function it returns runs per batch and returns a structured-clonable result.
 * Tasks are listed here statically so that they exist inside the bundled worker (dist/pool-worker.js).
 */
import type { Model } from '../graph/ir';
import type { Tensor } from '../graph/tensor';
import { FloatModel } from '../engine/float-engine';
import { IntModel } from '../engine/int-engine';
import type { QuantPlan } from '../engine/int-plan';
import { MeasureInput, measureBatch, shareCheckpoint } from '../inspect/measure-batch';
import { BiasUpdate, LockstepShard, ShardBatch } from '../engine/bias-correction';
import { CalibrationShard } from '../engine/quant-calibrate';
import { InputError } from '../util/errors';

export type BatchFunction = (input: Tensor | object) => unknown;
export type TaskFactory = (model: Model, config: unknown) => BatchFunction;

/** Float logits of the batch. */
const floatLogits: TaskFactory = (model) => {
  const fm = new FloatModel(model);
  return (input) => fm.run(input as Tensor);
};

/** Integer-engine logits (dequantized) of the batch; config: { plan } (share it with sharePlan). */
const intLogits: TaskFactory = (model, config) => {
  const plan = (config as { plan?: QuantPlan } | undefined)?.plan;
  if (!plan) throw new Error("pool task 'int' needs config.plan");
  const im = new IntModel(model, plan);
  return (input) => im.run(input as Tensor);
};

/**
 * The quantize job's work in a worker, on its copy of the plan; config or { op: 'configure' }: { plan, compared }.
 * Payloads: { op: 'calibrate-observe' } / { op: 'calibrate-histograms' } (this worker's share of a parallel
 * calibration, engine/quant-calibrate.ts), { op: 'lockstep-start', batches, needMeans, recordAt } and { op: 'lockstep-advance', update } (this
 * worker's share of the bias correction pass, kept between messages), { op: 'lockstep-checkpoints' } (what it
 * recorded), { op: 'measure', ...MeasureInput } (one test batch, src/inspect/measure-batch.ts), and { op: 'reset' }
 * (a kept pool's next job).
 */
const quantizeJobTask: TaskFactory = (model, config) => {
  const fm = new FloatModel(model);
  let im: IntModel | undefined;
  let wanted = new Set<string>();
  const configure = (c: { plan?: QuantPlan; compared?: string[] } | undefined) => {
    if (!c?.plan) return;
    im = new IntModel(model, c.plan);
    wanted = new Set(c.compared ?? []);
  };
  configure(config as { plan?: QuantPlan; compared?: string[] } | undefined);
  const planned = (): IntModel => {
    if (!im) throw new Error("pool task 'quantize': no plan yet (op 'configure')");
    return im;
  };
  let shard: LockstepShard | undefined;
  let calibration: CalibrationShard | undefined;
  return (payload) => {
    const p = payload as QuantizeTaskPayload;
    switch (p.op) {
      case 'configure':
        configure(p);
        return true;
      case 'reset': // a kept pool starts its next job: nothing of the last one's passes is left
        calibration = undefined;
        shard = undefined;
        im = undefined;
        return true;
      case 'calibrate-observe':
        calibration ??= new CalibrationShard(fm, fm.getPrepared(p.input.dims[0]).constants, new Set(p.sampledLayers));
        return calibration.observe(p.index, p.inputName, p.input, p.meanImages);
      case 'calibrate-histograms':
        if (!calibration) throw new Error('calibrate-histograms before calibrate-observe');
        return calibration.histograms(p.index, p.ranges, p.bins);
      case 'lockstep-start':
        shard = new LockstepShard(planned(), p.batches, new Set(p.needMeans), new Set(p.recordAt));
        return shard.advance();
      case 'lockstep-advance':
        if (!shard) throw new Error('lockstep-advance before lockstep-start');
        return shard.advance(p.update);
      case 'lockstep-checkpoints': {
        const recorded = shard?.checkpoints.map((cs) => cs.map(shareCheckpoint)) ?? [];
        shard = undefined;
        return recorded;
      }
      case 'measure':
        return measureBatch(fm, planned(), wanted, p);
      default:
        throw new Error(`pool task 'quantize': unknown op ${JSON.stringify((p as { op?: unknown }).op)}`);
    }
  };
};

export type QuantizeTaskPayload =
  | { op: 'configure'; plan: QuantPlan; compared: string[] }
  | { op: 'reset' }
  | { op: 'calibrate-observe'; index: number; inputName: string; input: Tensor; meanImages: number; sampledLayers: string[] }
  | { op: 'calibrate-histograms'; index: number; ranges: [string, number, number][]; bins: number }
  | { op: 'lockstep-start'; batches: ShardBatch[]; needMeans: string[]; recordAt: number[] }
  | { op: 'lockstep-advance'; update?: BiasUpdate }
  | { op: 'lockstep-checkpoints' }
  | ({ op: 'measure' } & MeasureInput);

/** Built-in tasks; test-only tasks exercise failures. */
export const TASKS: Record<string, TaskFactory> = {
  float: floatLogits,
  int: intLogits,
  quantize: quantizeJobTask,
  'test-fail': () => (input) => {
    throw new InputError(`test-fail: batch of ${(input as Tensor).dims[0]} rejected`);
  },
  'test-crash': () => () => process.exit(3),
  'test-buffer-kind': (model) => () => [...model.graph.initializers.values()].every((t) => t.data.buffer instanceof SharedArrayBuffer),
};
