/** Runs jobs in a worker_threads worker: one job at a time, progress callbacks, cancel = terminate, crash = reported and replaced. */
import { Worker } from 'worker_threads';
import { CancelledError, InputError } from '../util/errors';
import { isWorkerMessage, type JobKind, type WorkerMessage } from './protocol';

export interface JobCallbacks {
  onProgress?(fraction: number, message: string): void;
}

/** A worker that ended without answering (uncaught error, out of memory, process.exit). */
export class WorkerCrashError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerCrashError';
  }
}

interface Pending {
  id: number;
  resolve(v: unknown): void;
  reject(e: Error): void;
  callbacks: JobCallbacks;
}

export interface JobClientOptions {
  /** Script the worker runs (dist/worker.js in the extension; a .ts file with execArgv ['--import','tsx'] in tests). */
  script: string;
  execArgv?: string[];
  /** `script` is JavaScript source, not a path (tests: require tsx, then the TypeScript entry). */
  eval?: boolean;
  resourceLimits?: { maxOldGenerationSizeMb?: number };
  log?(line: string): void;
}

export class JobClient {
  private worker: Worker | undefined;
  private pending: Pending | undefined;
  private nextId = 1;
  /** Workers started so far (a crashed or cancelled one is replaced by a new one on the next job). */
  startedWorkers = 0;

  constructor(private readonly options: JobClientOptions) {}

  get busy(): boolean {
    return this.pending !== undefined;
  }

  /** Thread id of the live worker, if one is running. */
  get workerThreadId(): number | undefined {
    return this.worker?.threadId;
  }

  run<T = unknown>(job: JobKind, options: Record<string, unknown>, callbacks: JobCallbacks = {}): Promise<T> {
    if (this.pending) return Promise.reject(new InputError(`a ${job} job cannot start: another job is still running`));
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending = { id, resolve: resolve as (v: unknown) => void, reject, callbacks };
      worker.postMessage({ type: 'start', id, job, options });
    });
  }

  /** Stops the running job at once by terminating its worker; resolves when the thread is gone. */
  async cancel(): Promise<void> {
    const worker = this.worker;
    const pending = this.pending;
    this.worker = undefined;
    this.pending = undefined;
    if (worker) await worker.terminate();
    pending?.reject(new CancelledError('cancelled by the user'));
  }

  async dispose(): Promise<void> {
    await this.cancel();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.options.script, {
      execArgv: this.options.execArgv,
      eval: this.options.eval,
      resourceLimits: this.options.resourceLimits,
      stdout: false,
      stderr: false,
    });
    this.startedWorkers++;
    this.options.log?.(`worker ${worker.threadId} started`);
    worker.on('message', (m: unknown) => this.onMessage(worker, m));
    worker.on('error', (e: Error) => this.onGone(worker, `the job worker crashed: ${e.message}`));
    worker.on('exit', (code: number) => this.onGone(worker, `the job worker exited unexpectedly (code ${code})`));
    this.worker = worker;
    return worker;
  }

  private onMessage(worker: Worker, raw: unknown): void {
    if (worker !== this.worker) return;
    if (!isWorkerMessage(raw)) {
      this.options.log?.(`ignored a malformed worker message: ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    const m: WorkerMessage = raw;
    const p = this.pending;
    if (m.type === 'ready' || !p || m.id !== p.id) return;
    if (m.type === 'progress') {
      p.callbacks.onProgress?.(Math.min(1, Math.max(0, m.fraction)), m.message);
      return;
    }
    this.pending = undefined;
    if (m.type === 'result') p.resolve(m.result);
    else p.reject(m.inputError ? new InputError(m.message) : new Error(m.message));
  }

  /** The worker died (crash, OOM, exit): fail the running job with a clear message; the next job gets a fresh worker. */
  private onGone(worker: Worker, message: string): void {
    if (worker !== this.worker) return;
    this.worker = undefined;
    this.options.log?.(message);
    const p = this.pending;
    this.pending = undefined;
    p?.reject(new WorkerCrashError(message));
  }
}
