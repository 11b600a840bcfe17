/**
 * A worker_threads pool that runs one task (tasks.ts) over batches of images on all cores. The model's weights
 * are moved into SharedArrayBuffers once and shared by every worker; results stream back in batch order.
 * Idle workers are unref'd (an idle pool never keeps the process alive); close() terminates them.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { Model } from '../graph/ir';
import { Tensor, allocate, elementCount } from '../graph/tensor';
import type { KernelPath } from '../kernels/wasm';
import { loadModel } from '../onnx/load';
import { CancelledError, InputError } from '../util/errors';
import type { FromWorker, SerializedError, ToWorker } from './protocol';
import { shareModel, sharePlan } from './share';
import type { QuantPlan } from '../engine/int-plan';

export interface PoolOptions {
  /** Worker threads (default: the number of cores). */
  workers?: number;
  /** Task name from tasks.ts (default 'float'). */
  task?: string;
  /**
   * Passed to the task factory in every worker (structured-cloned; typed arrays on SharedArrayBuffers are shared).
   * Tasks 'int' and 'quantize' take { plan }, whose weight codes the pool moves into SharedArrayBuffers.
   */
  config?: unknown;
  /** Kernel path for the workers (default: theirs, i.e. QINSPECT_KERNELS or wasm). */
  kernels?: KernelPath;
}

interface Pending {
  id: number;
  input: Tensor | object;
  resolve(v: unknown): void;
  reject(e: Error): void;
}

interface Slot {
  worker: Worker;
  busy?: Pending;
  /** Messages for this worker only (runOn), sent before the shared queue's. */
  own: Pending[];
}

export function defaultWorkerCount(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

/** The worker script: dist/pool-worker.js beside a bundle, or the TypeScript source loaded through tsx. */
function workerEntry(): { script: string; eval: boolean } {
  const js = path.join(__dirname, 'pool-worker.js');
  if (fs.existsSync(js)) return { script: js, eval: false };
  const ts = path.join(__dirname, 'pool-worker.ts');
  if (fs.existsSync(ts)) {
    const tsx = require.resolve(['tsx', 'cjs'].join('/')); // not a literal: bundles never take this branch
    return { script: `require(${JSON.stringify(tsx)}); require(${JSON.stringify(ts)});`, eval: true };
  }
  throw new Error(`pool worker script not found (looked for pool-worker.js and pool-worker.ts in ${__dirname})`);
}

function rebuildError(e: SerializedError): Error {
  let err: Error;
  if (e.name === 'InputError') err = new InputError(e.message);
  else if (e.name === 'CancelledError') err = new CancelledError(e.message);
  else {
    err = new Error(e.message);
    err.name = e.name;
  }
  if (e.stack) err.stack = e.stack;
  return err;
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private failure: Error | undefined;
  private closed = false;

  private constructor(readonly size: number) {}

  /** Starts `workers` threads with the model (a path or a loaded Model) and waits until each has built its task. */
  static async create(model: Model | string, options: PoolOptions = {}): Promise<WorkerPool> {
    const size = options.workers ?? defaultWorkerCount();
    if (!Number.isInteger(size) || size < 1 || size > 256) throw new InputError(`workers: expected an integer 1..256, got ${size}`);
    const loaded = typeof model === 'string' ? loadModel(model) : model;
    const shared = shareModel(loaded);
    const pool = new WorkerPool(size);
    const entry = workerEntry();
    const task = options.task ?? 'float';
    const plan = (options.config as { plan?: QuantPlan } | undefined)?.plan;
    const config = plan ? { ...(options.config as object), plan: sharePlan(plan) } : options.config;
    const init: ToWorker = { type: 'init', model: shared, task, config, kernels: options.kernels };
    const ready: Promise<void>[] = [];
    for (let i = 0; i < size; i++) {
      const worker = new Worker(entry.script, { eval: entry.eval });
      const slot: Slot = { worker, own: [] };
      pool.slots.push(slot);
      ready.push(new Promise<void>((resolve, reject) => {
        const onInit = (msg: FromWorker): void => {
          if (msg.type === 'ready') resolve();
          else if (msg.type === 'init-error') reject(rebuildError(msg.error));
          else return;
          worker.off('message', onInit);
          worker.on('message', (m: FromWorker) => pool.onMessage(slot, m));
          worker.unref(); // after adding listeners: a new 'message' listener refs the port again
        };
        worker.on('message', onInit);
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`pool worker exited during start (code ${code})`)));
      }));
      worker.on('error', (e) => pool.onWorkerGone(slot, e));
      worker.on('exit', (code) => pool.onWorkerGone(slot, new Error(`pool worker exited (code ${code})`)));
      worker.postMessage(init);
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  /** Runs the task on one batch (a tensor, or the task's own payload) on the next free worker. */
  run(input: Tensor | object): Promise<unknown> {
    return this.enqueue(this.queue, input);
  }

  /**
   * Runs the task on one payload on worker `index` (0 ≤ index < size), after that worker's earlier ones: for tasks
   * that keep state between messages (the lockstep bias correction holds its batches in the worker).
   */
  runOn(index: number, input: Tensor | object): Promise<unknown> {
    const slot = this.slots[index];
    if (!slot) return Promise.reject(new Error(`worker ${index} is not in this pool of ${this.size}`));
    return this.enqueue(slot.own, input);
  }

  private enqueue(queue: Pending[], input: Tensor | object): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('worker pool is closed'));
    return new Promise((resolve, reject) => {
      queue.push({ id: this.nextId++, input, resolve, reject });
      this.dispatch();
    });
  }

  /** Splits one batch along axis 0 across the workers and concatenates their tensor results. */
  async runSplit(input: Tensor): Promise<Tensor> {
    const n = input.dims[0] ?? 0;
    const parts = Math.min(this.size, n);
    if (parts <= 1) return (await this.run(input)) as Tensor;
    const per = elementCount(input.dims.slice(1));
    const outs: Promise<unknown>[] = [];
    for (let p = 0; p < parts; p++) {
      const start = Math.floor((p * n) / parts);
      const end = Math.floor(((p + 1) * n) / parts);
      const data = input.data.slice(start * per, end * per);
      outs.push(this.run({ dtype: input.dtype, dims: [end - start, ...input.dims.slice(1)], data }));
    }
    return concatBatch((await Promise.all(outs)) as Tensor[]);
  }

  /**
   * Runs every batch, yielding results in batch order as soon as they are ready. At most 2 batches per worker
   * are in flight, so a long stream of batches is never held in memory at once.
   */
  async *map(batches: Iterable<Tensor | object> | AsyncIterable<Tensor | object>): AsyncGenerator<{ index: number; output: unknown }> {
    const window: Promise<unknown>[] = [];
    let index = 0;
    for await (const batch of batches as AsyncIterable<Tensor | object>) {
      const result = this.run(batch);
      result.catch(() => undefined); // rejections surface when awaited in order below
      window.push(result);
      if (window.length >= 2 * this.size) yield { index: index++, output: await window.shift()! };
    }
    while (window.length) yield { index: index++, output: await window.shift()! };
  }

  /** True while the pool can take work: not closed, no worker lost. */
  get usable(): boolean {
    return !this.closed && !this.failure;
  }

  /** Terminates every worker; pending and queued batches are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new Error('worker pool closed');
    for (const p of this.queue.splice(0)) p.reject(err);
    for (const s of this.slots) for (const p of s.own.splice(0)) p.reject(err);
    await Promise.all(this.slots.map(async (s) => {
      s.busy?.reject(err);
      s.busy = undefined;
      await s.worker.terminate();
    }));
  }

  /** Worker threads currently alive (0 after close). */
  threadIds(): number[] {
    return this.slots.map((s) => s.worker.threadId).filter((id) => id >= 0);
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.busy || (slot.own.length === 0 && this.queue.length === 0)) continue;
      const job = slot.own.shift() ?? this.queue.shift()!;
      slot.busy = job;
      slot.worker.ref(); // keep the process alive while a batch is in flight
      slot.worker.postMessage({ type: 'run', id: job.id, input: job.input } satisfies ToWorker);
    }
  }

  private onMessage(slot: Slot, msg: FromWorker): void {
    const job = slot.busy;
    if (!job || (msg.type !== 'result' && msg.type !== 'error') || msg.id !== job.id) return;
    slot.busy = undefined;
    slot.worker.unref();
    if (msg.type === 'result') job.resolve(msg.output);
    else job.reject(rebuildError(msg.error));
    this.dispatch();
  }

  private onWorkerGone(slot: Slot, e: Error): void {
    if (this.closed) return;
    this.failure ??= e;
    slot.busy?.reject(e);
    slot.busy = undefined;
    for (const p of this.queue.splice(0)) p.reject(e);
    for (const s of this.slots) for (const p of s.own.splice(0)) p.reject(e);
    void this.close();
  }
}

/** Concatenates tensors along axis 0. */
export function concatBatch(parts: Tensor[]): Tensor {
  const first = parts[0];
  const rows = parts.reduce((s, t) => s + t.dims[0], 0);
  const out = allocate(first.dtype, [rows, ...first.dims.slice(1)]);
  let offset = 0;
  for (const t of parts) {
    (out.data as unknown as { set(a: ArrayLike<number | bigint>, o: number): void }).set(t.data as ArrayLike<number | bigint>, offset);
    offset += t.data.length;
  }
  return out;
}

/**
 * Runs `task` over all batches on a pool of workers and calls onResult in batch order (streaming: nothing is
 * kept). The pool is closed afterwards, also on error; aborting `signal` stops the workers at once and rejects
 * with CancelledError.
 */
export async function evaluateParallel(
  model: Model | string,
  batches: Iterable<Tensor> | AsyncIterable<Tensor>,
  onResult: (output: unknown, index: number) => void,
  options: PoolOptions & { signal?: AbortSignal } = {},
): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) throw new CancelledError();
  const pool = await WorkerPool.create(model, options);
  const onAbort = (): void => void pool.close();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const { index, output } of pool.map(batches)) {
      if (signal?.aborted) throw new CancelledError();
      onResult(output, index);
    }
  } catch (e) {
    if (signal?.aborted) throw new CancelledError();
    throw e;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await pool.close();
  }
}
