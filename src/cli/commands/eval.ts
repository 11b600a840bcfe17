/** `qinspect eval MODEL --data PATH`: top-1 accuracy of the float reference engine. */
import { checkLabelsFit, evaluateAccuracy, evaluateAccuracyMapped, perClassAccuracy } from '../../data';
import type { AccuracyResult, ClassAccuracy, MapBatches } from '../../data';
import { FloatModel } from '../../engine/float-engine';
import { shapeString, type Tensor } from '../../graph/tensor';
import { WorkerPool, defaultWorkerCount } from '../../parallel/pool';
import { nonFiniteConstant } from '../../util/finite';
import { InputError } from '../../util/errors';
import type { CliContext, Command, ParsedArgs } from '../command';
import { DATA_OPTIONS, ModelData, loadModelAndData } from '../model-data';
import { displayPath, numberOption } from '../options';

export interface EvalSummary {
  accuracy: number;
  correct: number;
  images: number;
  imagesPerSecond: number;
  seconds: number;
  model: string;
  data: string;
  batch: number;
  workers: number;
  perClass: ClassAccuracy[];
}

/** Worker threads for a run: --workers, else one per core but no more than there are batches. */
export function workerCount(args: ParsedArgs, images: number, batchSize: number): number {
  const asked = numberOption(args, 'workers', { integer: true, min: 1, max: 256 });
  return asked ?? Math.max(1, Math.min(defaultWorkerCount(), Math.ceil(images / batchSize)));
}

/** Runs the float engine over the data set (in this thread, or on a pool of `workers` threads) with a progress bar on stderr. */
export async function evaluateFloat(md: ModelData, ctx: CliContext, workers = 1, label = 'eval'): Promise<AccuracyResult> {
  const engine = new FloatModel(md.model);
  const prepared = engine.getPrepared(Math.min(md.batchSize, md.dataset.count)); // unsupported operators and bad shapes fail here, before any image runs
  const classes = prepared.shapes.get(prepared.outputName)?.[1];
  if (classes !== undefined) checkLabelsFit(md.dataset, classes, md.model.path);
  const nonFinite = nonFiniteConstant(prepared);
  if (nonFinite) ctx.err(`warning: ${nonFinite}; the accuracy below is that of a damaged model`);
  const progress = ctx.progress(label, md.dataset.count);
  const onProgress = (done: number) => progress.update(done);
  let result: AccuracyResult;
  if (workers <= 1) {
    result = await evaluateAccuracy(md.dataset, md.preprocess, md.batchSize, (input) => engine.run(input), onProgress);
  } else {
    const pool = await WorkerPool.create(md.model, { workers, task: 'float' });
    try {
      const map: MapBatches = async function* (inputs) {
        for await (const { output } of pool.map(inputs)) yield output as Tensor;
      };
      result = await evaluateAccuracyMapped(md.dataset, md.preprocess, md.batchSize, map, onProgress);
    } finally {
      await pool.close();
    }
  }
  progress.done();
  return result;
}

/** Class names: the sidecar's labels, else an image folder's sub-folder names, else indices. */
export function classNames(md: ModelData): string[] {
  return md.sidecar?.labels ?? md.dataset.classNames ?? [];
}

export function summarize(md: ModelData, r: AccuracyResult, workers: number): EvalSummary {
  const classes = Math.max(md.dataset.labels.reduce((m, l) => Math.max(m, l), 0) + 1, classNames(md).length);
  return {
    accuracy: r.accuracy,
    correct: r.correct,
    images: r.images,
    imagesPerSecond: Math.round(r.imagesPerSecond * 10) / 10,
    seconds: Math.round(r.seconds * 1000) / 1000,
    model: md.model.path,
    data: displayPath(md.dataset.source),
    batch: md.batchSize,
    workers,
    perClass: perClassAccuracy(md.dataset.labels, r.predictions, classes, classNames(md)),
  };
}

export function formatEval(md: ModelData, s: EvalSummary): string[] {
  const d = md.dataset;
  return [
    `model     ${s.model}`,
    `data      ${s.data} (${d.format}, ${s.images} images ${shapeString([d.channels, d.height, d.width])})`,
    `top-1     ${s.accuracy.toFixed(2)}% (${s.correct}/${s.images})`,
    `per class ${s.perClass.filter((c) => c.images > 0).map((c) => `${c.name} ${c.accuracy.toFixed(1)}`).join(', ')}`,
    `speed     ${s.imagesPerSecond.toFixed(1)} images/s (float32 engine, batch ${s.batch}, ${s.workers} thread${s.workers > 1 ? 's' : ''}, ${s.seconds.toFixed(2)} s)`,
  ];
}

export const evalCommand: Command = {
  name: 'eval',
  summary: 'top-1 accuracy of the float32 engine on a labelled data set',
  usage: 'MODEL --data PATH [--mean a,b,c --std a,b,c] [--limit N] [--batch N] [--json]',
  positionals: ['MODEL'],
  options: { ...DATA_OPTIONS, workers: { type: 'string', valueName: 'N', description: 'worker threads (default: one per core, at most one per batch)' } },
  details: [
    'Preprocessing is y = (x * scale - mean[c]) / std[c]; values come from the command line, else from',
    'the sidecar MODEL.qinspect.json beside the model, else x/255 alone (with a warning).',
    '',
    'examples:',
    '  qinspect eval samples/resnet20_cifar10.onnx',
    '  qinspect eval model.onnx --data t10k-images-idx3-ubyte.gz --mean 0.2860 --std 0.3530 --json',
  ].join('\n'),
  async run(args, ctx) {
    const md = loadModelAndData(args.positionals[0], args, ctx);
    if (md.dataset.unlabelled) {
      throw new InputError(`${md.dataset.source}: the images have no labels, so top-1 accuracy is unavailable; \`qinspect quantize\` measures float-vs-quantized agreement and SQNR on them`);
    }
    const workers = workerCount(args, md.dataset.count, md.batchSize);
    const summary = summarize(md, await evaluateFloat(md, ctx, workers), workers);
    if (ctx.json) ctx.out(JSON.stringify(summary));
    else for (const line of formatEval(md, summary)) ctx.out(line);
  },
};
