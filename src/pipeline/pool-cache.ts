/**
 * The quantize job's worker pool, kept for the next job on the same model (the editor's what-ifs and other bits, the
 * demo's runs) so that a run does not pay for starting threads and warming their compiled code again. One pool; its
 * idle workers never keep the process alive. A job takes it (no other job can use it meanwhile) and gives it back.
 */
import type { Model } from '../graph/ir';
import { WorkerPool } from '../parallel/pool';
import type { QuantizeTaskPayload } from '../parallel/tasks';

let kept: { key: string; pool: WorkerPool } | undefined;

/** The key of a pool: the model it holds (its modelIdentity) and its size. */
export function poolKey(modelKey: string, workers: number): string {
  return JSON.stringify([modelKey, workers]);
}

/** A 'quantize' pool for the model: the kept one under `key` (its workers' job state cleared), or a new one. */
export async function openJobPool(key: string, model: Model, workers: number): Promise<WorkerPool> {
  const reusable = kept?.key === key && kept.pool.usable ? kept.pool : undefined;
  const other = kept && kept.pool !== reusable ? kept.pool : undefined;
  kept = undefined;
  await other?.close();
  if (reusable) {
    const reset: QuantizeTaskPayload = { op: 'reset' };
    await Promise.all(Array.from({ length: reusable.size }, (_, w) => reusable.runOn(w, reset)));
    return reusable;
  }
  return WorkerPool.create(model, { workers, task: 'quantize' });
}

/** Ends a job's use of its pool: kept for the next job when `keep` (replacing any other), else closed. */
export async function releaseJobPool(key: string, pool: WorkerPool, keep: boolean): Promise<void> {
  if (!keep || !pool.usable) return pool.close();
  const other = kept?.pool;
  kept = { key, pool };
  if (other && other !== pool) await other.close();
}

/** Thread ids of the kept pool's workers (none when no pool is kept). */
export function keptPoolThreads(): number[] {
  return kept?.pool.threadIds() ?? [];
}

/** Closes the kept pool (a CLI command that ran several jobs, before it exits; tests). */
export async function closeKeptPool(): Promise<void> {
  const pool = kept?.pool;
  kept = undefined;
  await pool?.close();
}
