/**
 * One batch of the quantize job's evaluation: a float pass and an integer pass over the same images, streaming each
 * compared value's error into running sums (no activation is kept). Runs in the job's thread or in a pool worker;
 * the result is structured-clonable and merges in batch order.
 */
import type { FloatModel } from '../engine/float-engine';
import type { IntModel, QTensor } from '../engine/int-engine';
import type { Tensor } from '../graph/tensor';
import { ErrorAccumulator, ErrorSums } from './metrics';

export interface BatchMeasure {
  /** Float and integer logits [N, classes] (the integer ones dequantized). */
  floatLogits: Tensor;
  intLogits: Tensor;
  /** Per compared value: the error sums of its integer codes against the float value. */
  sums: Record<string, ErrorSums>;
  /** Per layer: the largest |int32 accumulator| of the batch. */
  maxAccumulators: Record<string, number>;
}

export function measureBatch(floatModel: FloatModel, intModel: IntModel, compared: ReadonlySet<string>, input: Tensor, checkCancelled?: () => void): BatchMeasure {
  const reference = new Map<string, Float32Array>();
  const floatOut = floatModel.run(input, {
    afterNode: (node, outs) => node.outputs.forEach((o, i) => { if (compared.has(o) && outs[i]) reference.set(o, (outs[i].data as Float32Array).slice()); }),
    checkCancelled,
  });
  const errors = new Map<string, ErrorAccumulator>();
  const maxAccumulators: Record<string, number> = {};
  const intOut = intModel.run(input, {
    onQuantized: (name: string, q: QTensor) => {
      const r = reference.get(name);
      if (!r) return;
      const e = errors.get(name) ?? errors.set(name, new ErrorAccumulator()).get(name)!;
      e.addCodes(r, q.codes, q.params.scale, q.params.zeroPoint);
    },
    onAccumulator: (name: string, m: number) => { maxAccumulators[name] = Math.max(maxAccumulators[name] ?? 0, m); },
    checkCancelled,
  });
  const sums: Record<string, ErrorSums> = {};
  for (const [name, e] of errors) sums[name] = e.state();
  return { floatLogits: floatOut, intLogits: intOut, sums, maxAccumulators };
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
