/** Entry of a pool worker thread (bundled as dist/pool-worker.js): runs one task on the batches it is sent. */
import { parentPort } from 'worker_threads';
import { setKernelPath } from '../kernels/wasm';
import type { FromWorker, ToWorker } from './protocol';
import { serializeError } from './protocol';
import { BatchFunction, TASKS } from './tasks';

function post(msg: FromWorker): void {
  parentPort!.postMessage(msg);
}

let run: BatchFunction | undefined;

parentPort?.on('message', (msg: ToWorker) => {
  if (msg.type === 'init') {
    try {
      if (msg.kernels) setKernelPath(msg.kernels);
      const factory = TASKS[msg.task];
      if (!factory) throw new Error(`unknown pool task '${msg.task}'`);
      run = factory(msg.model, msg.config);
      post({ type: 'ready' });
    } catch (e) {
      post({ type: 'init-error', error: serializeError(e) });
    }
    return;
  }
  try {
    if (!run) throw new Error('pool worker used before init');
    post({ type: 'result', id: msg.id, output: run(msg.input) });
  } catch (e) {
    post({ type: 'error', id: msg.id, error: serializeError(e) });
  }
});
