/** Entry of the extension's job worker (bundled to dist/worker.js): runs one job per start message. */
import { parentPort } from 'worker_threads';
import { errorMessage, InputError } from '../util/errors';
import { runJob } from './jobs';
import { isStartMessage, type WorkerMessage } from './protocol';

const port = parentPort;
if (!port) throw new Error('worker-main must run inside a worker thread');

function send(m: WorkerMessage): void {
  port!.postMessage(m);
}

port.on('message', async (raw: unknown) => {
  if (!isStartMessage(raw)) return;
  const { id, job, options } = raw;
  let lastSent = 0;
  try {
    const result = await runJob(job, options, {
      onProgress(fraction, message) {
        const now = Date.now();
        if (fraction < 1 && now - lastSent < 100) return; // at most ~10 progress messages a second
        lastSent = now;
        send({ type: 'progress', id, fraction, message });
      },
      checkCancelled() {
        /* cancel terminates this worker */
      },
    });
    send({ type: 'result', id, result });
  } catch (e) {
    send({ type: 'error', id, message: errorMessage(e), inputError: e instanceof InputError });
  }
});
send({ type: 'ready' });
