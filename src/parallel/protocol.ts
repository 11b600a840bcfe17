/** Messages between the pool (main thread) and its workers. */
import type { Model } from '../graph/ir';
import type { Tensor } from '../graph/tensor';
import type { KernelPath } from '../kernels/wasm';

export interface InitMessage {
  type: 'init';
  model: Model;
  task: string;
  config: unknown;
  kernels?: KernelPath;
}

export interface RunMessage {
  type: 'run';
  id: number;
  /** A batch tensor, or a task's own structured-clonable payload (e.g. task 'quantize': { op: 'measure', input, references }). */
  input: Tensor | object;
}

export type ToWorker = InitMessage | RunMessage;

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

export type FromWorker =
  | { type: 'ready' }
  | { type: 'init-error'; error: SerializedError }
  | { type: 'result'; id: number; output: unknown }
  | { type: 'error'; id: number; error: SerializedError };

export function serializeError(e: unknown): SerializedError {
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack };
  return { name: 'Error', message: String(e) };
}
