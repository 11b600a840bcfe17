/** Child process of the fuzz harness: runs one mutated model at a time (load → prepare → one run) and reports the outcome. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseModel } from '../src/onnx/load';
import { prepareModel } from '../src/graph/prepare';
import { runFloat } from '../src/engine/float-engine';
import { elementCount, floatTensor, Tensor } from '../src/graph/tensor';
import type { Model } from '../src/graph/ir';
import type { Dataset } from '../src/data/types';
import { buildQuantizedModel } from '../src/pipeline/quantize';
import { InputError } from '../src/util/errors';
import { generateCase } from './fuzz-mutations';
import { generateDataCase } from './fuzz-data-mutations';
import { openDataset } from '../src/data/open';
import { checkPreprocess, iterateBatches } from '../src/data/preprocess';
import type { FuzzJob, WorkerReply } from './fuzz-harness';

/** "One small run": the fixtures need < 1M activation elements per image; 32× that is still a quick run. */
const MAX_RUN_ELEMENTS = 32_000_000;
const baseBytes = new Map<string, Uint8Array>();
/** An empty folder standing for the model's folder, so external data references resolve to nothing real. */
const caseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'qi-fuzz-'));
process.on('exit', () => fs.rmSync(caseDir, { recursive: true, force: true }));

function runCase(job: FuzzJob): Omit<WorkerReply, 'id'> {
  if (job.strategy.startsWith('__')) return selfTest(job.strategy);
  if (job.kind === 'data') return runDataCase(job);
  let bytes = baseBytes.get(job.model);
  if (!bytes) {
    bytes = new Uint8Array(fs.readFileSync(job.model));
    baseBytes.set(job.model, bytes);
  }
  const c = generateCase(bytes, job.strategy, job.seed);
  let stage: WorkerReply['stage'] = 'load';
  try {
    const model = parseModel(c.bytes, path.join(caseDir, `${path.basename(job.model)}#${job.strategy}-${job.seed}`));
    stage = 'prepare';
    const prepared = prepareModel(model, 1);
    stage = 'run';
    let work = 0;
    for (const d of prepared.shapes.values()) work += elementCount(d);
    if (work > MAX_RUN_ELEMENTS) { // a valid model of a much larger input (e.g. 65535×32 images): legitimately slow, not run
      return { outcome: 'result', stage: 'prepare', description: c.description, message: `prepared; not run (${work} activation elements)` };
    }
    const dims = prepared.shapes.get(prepared.inputName) ?? [];
    const input = new Float32Array(elementCount(dims));
    for (let i = 0; i < input.length; i++) input[i] = Math.sin(i) * 2;
    const out = runFloat(prepared, floatTensor(dims, input));
    if (job.seed % 8 !== 0 || dims.length !== 4) {
      return { outcome: 'result', stage, description: c.description, message: `output ${out.dtype} [${out.dims.join(',')}]` };
    }
    stage = 'quantize'; // every 8th case that runs is also calibrated, quantized and run through the integer engine
    const q = quantizeAndRun(model, dims);
    return { outcome: 'result', stage, description: c.description, message: `output ${out.dtype} [${out.dims.join(',')}], integer [${q.dims.join(',')}]` };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (e instanceof InputError) return { outcome: 'error', stage, description: c.description, message };
    const name = e instanceof Error ? e.name : typeof e;
    const stack = e instanceof Error ? (e.stack ?? '').split('\n').slice(1, 6).join('\n') : '';
    return { outcome: 'crash', stage, description: c.description, message: `${name}: ${message}\n${stack}` };
  }
}

/** One random calibration image through the whole quantization pipeline, then one integer run. */
function quantizeAndRun(model: Model, dims: number[]): Tensor {
  const [, channels, height, width] = dims;
  const pixels = new Uint8Array(channels * height * width);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37) % 256;
  const dataset: Dataset = {
    source: 'fuzz image', format: 'cifar10-binary', count: 1, channels, height, width, labels: new Int32Array(1),
    readPixels: () => pixels, describeImage: () => 'fuzz image 0',
  };
  const preprocess = checkPreprocess({ scale: 1 / 255, mean: [0.5], std: [0.25] }, channels);
  const { intModel } = buildQuantizedModel(model, { dataset, preprocess }, {}, 1, 1);
  const input = new Float32Array(pixels.length);
  for (let i = 0; i < input.length; i++) input[i] = (pixels[i] / 255 - 0.5) / 0.25;
  return intModel.run(floatTensor(dims, input));
}

/** A damaged data set: open it and stream every image through preprocessing, as eval and calibration do. */
function runDataCase(job: FuzzJob): Omit<WorkerReply, 'id'> {
  const dir = fs.mkdtempSync(path.join(caseDir, 'data-'));
  let description = '';
  let stage: WorkerReply['stage'] = 'load';
  try {
    const c = generateDataCase(job.strategy, job.seed, dir);
    description = c.description;
    const dataset = openDataset(c.dataPath);
    stage = 'run';
    const pre = checkPreprocess({ scale: 1 / 255, mean: [0.5], std: [0.25] }, dataset.channels);
    let images = 0;
    for (const batch of iterateBatches(dataset, 4, pre)) {
      images += batch.labels.length;
      if (batch.input.data.length !== batch.labels.length * dataset.channels * dataset.height * dataset.width) {
        return { outcome: 'crash', stage, description, message: `batch of ${batch.labels.length} images has ${batch.input.data.length} values` };
      }
    }
    if (images !== dataset.count) return { outcome: 'crash', stage, description, message: `streamed ${images} of ${dataset.count} images` };
    return { outcome: 'result', stage, description, message: `${images} images ${dataset.channels}×${dataset.height}×${dataset.width}` };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (e instanceof InputError) return { outcome: 'error', stage, description, message };
    const stack = e instanceof Error ? (e.stack ?? '').split('\n').slice(1, 6).join('\n') : '';
    return { outcome: 'crash', stage, description, message: `${e instanceof Error ? e.name : typeof e}: ${message}\n${stack}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Misbehaving cases that prove the harness catches hangs, crashes and memory blow-ups. */
function selfTest(strategy: string): Omit<WorkerReply, 'id'> {
  if (strategy === '__hang') for (;;) { /* never returns */ }
  if (strategy === '__exit') process.exit(3);
  if (strategy === '__oom') {
    const hog: Float64Array[] = [];
    for (;;) hog.push(new Float64Array(32 * 1024 * 1024).fill(1));
  }
  if (strategy === '__throw') return { outcome: 'crash', stage: 'run', description: 'self test', message: 'TypeError: thrown on purpose' };
  return { outcome: 'result', stage: 'run', description: 'self test', message: 'ok' };
}

process.on('message', (job: FuzzJob & { id: number }) => {
  const reply: WorkerReply = { id: job.id, ...runCase(job) };
  process.send!(reply);
});
process.send!({ ready: true });
