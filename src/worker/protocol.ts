/** Messages between the extension host and its job worker (worker_threads). Plain JSON-serialisable data only. */

export type JobKind = 'summary' | 'quantize' | 'sensitivity' | 'export' | 'report';
export const JOB_KINDS: readonly JobKind[] = ['summary', 'quantize', 'sensitivity', 'export', 'report'];

/** Host → worker: start one job. Cancelling is done by terminating the worker (prompt even inside a long kernel). */
export interface StartMessage {
  type: 'start';
  id: number;
  job: JobKind;
  options: Record<string, unknown>;
}

/** Worker → host. */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'progress'; id: number; fraction: number; message: string }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; message: string; inputError: boolean };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isStartMessage(v: unknown): v is StartMessage {
  return isObject(v) && v.type === 'start' && Number.isSafeInteger(v.id) && JOB_KINDS.includes(v.job as JobKind) && isObject(v.options);
}

export function isWorkerMessage(v: unknown): v is WorkerMessage {
  if (!isObject(v)) return false;
  switch (v.type) {
    case 'ready':
      return true;
    case 'progress':
      return Number.isSafeInteger(v.id) && typeof v.fraction === 'number' && typeof v.message === 'string';
    case 'result':
      return Number.isSafeInteger(v.id) && 'result' in v;
    case 'error':
      return Number.isSafeInteger(v.id) && typeof v.message === 'string' && typeof v.inputError === 'boolean';
    default:
      return false;
  }
}
