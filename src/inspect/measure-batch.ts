/**
 * One batch of the quantize job's evaluation: a float pass and an integer pass over the same images, streaming each
 * compared value's error into running sums (no activation is kept). Runs in the job's thread or in a pool worker;
 * the result is structured-clonable and merges in batch order.
 */
import type { FloatModel } from '../engine/float-engine';
import type { GraphCheckpoint, IntModel, QTensor, Value } from '../engine/int-engine';
import { sharedCopy, type Tensor } from '../graph/tensor';
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
  /** Node indices where the integer pass records checkpoints (and starts a new segment of sums), ascending. */
  checkpointsAt?: number[];
  /** Resume the integer pass here (one of checkpointsAt): only the segments from there on are measured. */
  from?: GraphCheckpoint;
}

/** What the integer pass emitted between two checkpoints: error sums per compared value, max |acc| per layer. */
export interface Segment {
  sums: Record<string, ErrorSums>;
  maxAccumulators: Record<string, number>;
}

export interface BatchMeasure {
  /** Float and integer logits [N, classes] (the integer ones dequantized). */
  floatLogits: Tensor;
  intLogits: Tensor;
  /** Segment j covers nodes [c_j, c_j+1) with c_0 = 0 and c_j = checkpointsAt[j − 1]; from a resume, the first is skipped. */
  segments: Segment[];
  /** Index of the first segment measured (0, or the resume checkpoint's position + 1). */
  firstSegment: number;
  /** The checkpoints recorded after the start (codes in shared memory). */
  checkpoints: GraphCheckpoint[];
  /** The float side of the batch, when asked to record it. */
  recorded?: FloatReferences;
}

/** True when the references hold every value the run compares. */
export function coversValues(references: FloatReferences | undefined, compared: ReadonlySet<string>): references is FloatReferences {
  return !!references && [...compared].every((v) => references.values[v] !== undefined);
}

/** The float pass of a batch (fused and in place where nothing compared is lost): its logits and each compared value. */
function floatReferences(floatModel: FloatModel, compared: ReadonlySet<string>, input: Tensor, shared: boolean, checkCancelled?: () => void): FloatReferences {
  const run = floatModel.runKeeping(input, compared, checkCancelled);
  const values: Record<string, Float32Array> = {};
  // a kept value is never overwritten in place: no copy unless shared
  for (const name of compared) {
    const data = run.values.get(name)?.data;
    if (data instanceof Float32Array) values[name] = shared ? sharedCopy(data) : data;
  }
  const logits = run.output;
  return { logits: shared ? { ...logits, data: sharedCopy(logits.data as Float32Array) } : logits, values };
}

/** A checkpoint whose arrays live in SharedArrayBuffers (sent between threads without a copy). */
export function shareCheckpoint(c: GraphCheckpoint): GraphCheckpoint {
  const values = new Map<string, Value>();
  for (const [name, v] of c.values) values.set(name, 'codes' in v ? { ...v, codes: sharedCopy(v.codes) } : { ...v, data: sharedCopy(v.data) });
  return { at: c.at, values };
}

export function measureBatch(floatModel: FloatModel, intModel: IntModel, compared: ReadonlySet<string>, job: MeasureInput, checkCancelled?: () => void): BatchMeasure {
  const reused = coversValues(job.references, compared) ? job.references : undefined;
  const float = reused ?? floatReferences(floatModel, compared, job.input, !!job.record, checkCancelled);
  const at = job.checkpointsAt ?? [];
  const firstSegment = job.from ? at.indexOf(job.from.at) + 1 : 0;
  if (job.from && firstSegment === 0) throw new Error(`resume checkpoint at node ${job.from.at} is not among the checkpoints ${at.join(', ')}`);
  const segments: { errors: Map<string, ErrorAccumulator>; maxAccumulators: Record<string, number> }[] = [];
  const open = () => segments.push({ errors: new Map(), maxAccumulators: {} });
  open();
  const checkpoints: GraphCheckpoint[] = [];
  const intOut = intModel.run(job.input, {
    onQuantized: (name: string, q: QTensor) => {
      const r = compared.has(name) ? float.values[name] : undefined;
      if (!r) return;
      const { errors } = segments[segments.length - 1];
      const e = errors.get(name) ?? errors.set(name, new ErrorAccumulator()).get(name)!;
      e.addCodes(r, q.codes, q.params.scale, q.params.zeroPoint);
    },
    onAccumulator: (name: string, m: number) => {
      const { maxAccumulators } = segments[segments.length - 1];
      maxAccumulators[name] = Math.max(maxAccumulators[name] ?? 0, m);
    },
    checkpoints: new Set(at),
    onCheckpoint: (c) => { checkpoints.push(shareCheckpoint(c)); open(); },
    checkCancelled,
  }, job.from);
  return {
    floatLogits: float.logits, intLogits: intOut, firstSegment, checkpoints,
    segments: segments.map((g) => ({ sums: Object.fromEntries([...g.errors].map(([k, e]) => [k, e.state()])), maxAccumulators: g.maxAccumulators })),
    ...(job.record && !reused ? { recorded: float } : {}),
  };
}

/** Merges batch measures in order: error sums and max accumulators per name. */
export class MeasureTotals {
  readonly errors = new Map<string, ErrorAccumulator>();
  readonly maxAccumulators = new Map<string, number>();
  readonly logitError = new ErrorAccumulator();

  /** Adds a batch's segments (all of them: a resumed batch's earlier segments come from the run that recorded them). */
  add(segments: readonly Segment[], floatLogits: Tensor, intLogits: Tensor): void {
    const batch = new Map<string, ErrorAccumulator>();
    for (const segment of segments) {
      for (const [name, s] of Object.entries(segment.sums)) {
        const e = batch.get(name);
        if (e) e.merge(ErrorAccumulator.fromState(s));
        else batch.set(name, ErrorAccumulator.fromState(s));
      }
      for (const [name, v] of Object.entries(segment.maxAccumulators)) this.maxAccumulators.set(name, Math.max(this.maxAccumulators.get(name) ?? 0, v));
    }
    for (const [name, e] of batch) {
      const total = this.errors.get(name);
      if (total) total.merge(e);
      else this.errors.set(name, e);
    }
    this.logitError.add(floatLogits.data as Float32Array, intLogits.data as Float32Array);
  }
}
