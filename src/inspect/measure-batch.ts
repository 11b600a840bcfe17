/**
 * One batch of the quantize job's evaluation: a float pass and an integer pass over the same images, streaming each
 * compared value's error into running sums (no activation is kept). Runs in the job's thread or in a pool worker;
 * the result is structured-clonable and merges in batch order.
 */
import type { FloatModel } from '../engine/float-engine';
import type { IntModel, QTensor } from '../engine/int-engine';
import type { Tensor } from '../graph/tensor';
import { ErrorAccumulator, ErrorSums } from './metrics';

/**
 * The float model's side of a batch, kept so that later runs on the same images (other bits, a what-if) skip the
 * float pass: the logits and every compared value, on SharedArrayBuffers (pool workers read them without a copy).
 */
export interface FloatReferences {
  logits: Tensor;
  values: Record<string, Float32Array>;
}

export interface MeasureInput {
  input: Tensor;
  /** The float side recorded by an earlier run: used when it holds every compared value. */
  references?: FloatReferences;
  /** Return the float side of this batch (shared memory) for reuse. */
  record?: boolean;
}

export interface BatchMeasure {
  /** Float and integer logits [N, classes] (the integer ones dequantized). */
  floatLogits: Tensor;
  intLogits: Tensor;
  /** Per compared value: the error sums of its integer codes against the float value. */
  sums: Record<string, ErrorSums>;
  /** Per layer: the largest |int32 accumulator| of the batch. */
  maxAccumulators: Record<string, number>;
  /** The float side of the batch, when asked to record it. */
  recorded?: FloatReferences;
}

/** True when the references hold every value the run compares. */
export function coversValues(references: FloatReferences | undefined, compared: ReadonlySet<string>): references is FloatReferences {
  return !!references && [...compared].every((v) => references.values[v] !== undefined);
}

function sharedCopy(data: Float32Array): Float32Array {
  const copy = new Float32Array(new SharedArrayBuffer(data.byteLength));
  copy.set(data);
  return copy;
}

/** The float pass of a batch: its logits and a copy of each compared value. */
function floatReferences(floatModel: FloatModel, compared: ReadonlySet<string>, input: Tensor, shared: boolean, checkCancelled?: () => void): FloatReferences {
  const values: Record<string, Float32Array> = {};
  const logits = floatModel.run(input, {
    afterNode: (node, outs) => node.outputs.forEach((o, i) => {
      if (compared.has(o) && outs[i]) values[o] = shared ? sharedCopy(outs[i].data as Float32Array) : (outs[i].data as Float32Array).slice();
    }),
    checkCancelled,
  });
  return { logits: shared ? { ...logits, data: sharedCopy(logits.data as Float32Array) } : logits, values };
}

export function measureBatch(floatModel: FloatModel, intModel: IntModel, compared: ReadonlySet<string>, job: MeasureInput, checkCancelled?: () => void): BatchMeasure {
  const reused = coversValues(job.references, compared) ? job.references : undefined;
  const float = reused ?? floatReferences(floatModel, compared, job.input, !!job.record, checkCancelled);
  const errors = new Map<string, ErrorAccumulator>();
  const maxAccumulators: Record<string, number> = {};
  const intOut = intModel.run(job.input, {
    onQuantized: (name: string, q: QTensor) => {
      const r = compared.has(name) ? float.values[name] : undefined;
      if (!r) return;
      const e = errors.get(name) ?? errors.set(name, new ErrorAccumulator()).get(name)!;
      e.addCodes(r, q.codes, q.params.scale, q.params.zeroPoint);
    },
    onAccumulator: (name: string, m: number) => { maxAccumulators[name] = Math.max(maxAccumulators[name] ?? 0, m); },
    checkCancelled,
  });
  const sums: Record<string, ErrorSums> = {};
  for (const [name, e] of errors) sums[name] = e.state();
  return { floatLogits: float.logits, intLogits: intOut, sums, maxAccumulators, ...(job.record && !reused ? { recorded: float } : {}) };
}

/** Merges batch measures in order: error sums and max accumulators per name. */
export class MeasureTotals {
  readonly errors = new Map<string, ErrorAccumulator>();
  readonly maxAccumulators = new Map<string, number>();
  readonly logitError = new ErrorAccumulator();

  add(m: BatchMeasure): void {
    for (const [name, s] of Object.entries(m.sums)) {
      const e = this.errors.get(name);
      if (e) e.merge(ErrorAccumulator.fromState(s));
      else this.errors.set(name, ErrorAccumulator.fromState(s));
    }
    for (const [name, v] of Object.entries(m.maxAccumulators)) this.maxAccumulators.set(name, Math.max(this.maxAccumulators.get(name) ?? 0, v));
    this.logitError.add(m.floatLogits.data as Float32Array, m.intLogits.data as Float32Array);
  }
}
