/**
 * Regenerates the quantization tables of README.md `## Results`: accuracy vs bit width, weight cost functions and
 * activation calibration methods at W8A8 / W6A6 / W4A8, per-tensor vs per-channel on fmnist_mobilenetv2.
 * Each model is calibrated once (statistics are shared by every configuration) and its float predictions computed
 * once; each configuration then builds its integer plan and runs the integer engine.
 *
 *   node --import tsx bench/quant-tables.ts [--images N] [--sweep-images N] [--calib N] [--tables headline,bits,methods,granularity] [--json]
 */
import * as path from 'path';
import { iterateBatches, openDataset } from '../src/data';
import { argmaxRows } from '../src/data/accuracy';
import type { Dataset, Preprocess } from '../src/data/types';
import { FloatModel } from '../src/engine/float-engine';
import { biasCorrectionImages, buildIntModel } from '../src/engine/bias-correction';
import { DEFAULT_QUANT_OPTIONS, QuantOptions, quantizableLayers } from '../src/engine/int-plan';
import { Calibrator } from '../src/engine/quant-calibrate';
import type { Tensor } from '../src/graph/tensor';
import { loadModel } from '../src/onnx/load';

const SHARED = path.resolve(__dirname, '../../shared');
const CIFAR: Preprocess = { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const FMNIST: Preprocess = { scale: 1 / 255, mean: [0.286], std: [0.353] };

export interface ModelCase { name: string; calib: string; test: string; pre: Preprocess }
export const MODELS: Record<string, ModelCase> = {
  resnet20_cifar10: { name: 'resnet20_cifar10', calib: 'data/cifar10/train_first4000.bin', test: 'data/cifar10/test_batch_jpeg10k.bin.gz', pre: CIFAR },
  fmnist_resnet20: { name: 'fmnist_resnet20', calib: 'data/fmnist/calib1000-images-idx3-ubyte.gz', test: 'data/fmnist/t10k-images-idx3-ubyte.gz', pre: FMNIST },
  fmnist_mobilenetv2: { name: 'fmnist_mobilenetv2', calib: 'data/fmnist/calib1000-images-idx3-ubyte.gz', test: 'data/fmnist/t10k-images-idx3-ubyte.gz', pre: FMNIST },
};

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

/** A model calibrated once, with float predictions on its test images. */
export class PreparedCase {
  readonly floatModel: FloatModel;
  readonly stats: ReturnType<Calibrator['finish']>;
  readonly test: Dataset;
  readonly floatPredictions: Int32Array;
  readonly batches: { start: number; input: Tensor; labels: Int32Array }[] = [];

  constructor(readonly c: ModelCase, calibImages: number, testImages: number, readonly batchSize = 50) {
    const model = loadModel(path.join(SHARED, 'models', `${c.name}.onnx`));
    this.floatModel = new FloatModel(model);
    const prepared = this.floatModel.getPrepared(batchSize);
    const calib = openDataset(path.join(SHARED, c.calib), { limit: calibImages });
    const calibrator = new Calibrator(prepared.constants, {
      sampledLayers: new Set(quantizableLayers(prepared, DEFAULT_QUANT_OPTIONS).map((n) => n.name)), keepSamples: true, keepMeans: true,
      meanImages: biasCorrectionImages(prepared, calibImages, 8),
    });
    const hooks = calibrator.hooks();
    for (const b of iterateBatches(calib, batchSize, c.pre)) {
      calibrator.observeInput(prepared.inputName, b.input);
      this.floatModel.run(b.input, hooks);
    }
    this.stats = calibrator.finish();
    this.test = openDataset(path.join(SHARED, c.test), { limit: testImages });
    this.floatPredictions = new Int32Array(this.test.count);
    for (const b of iterateBatches(this.test, batchSize, c.pre)) {
      this.floatPredictions.set(argmaxRows(this.floatModel.run(b.input), b.labels.length), b.start);
    }
  }

  accuracyOf(pred: Int32Array, count = pred.length): number {
    let ok = 0;
    for (let i = 0; i < count; i++) if (pred[i] === this.test.labels[i]) ok++;
    return (100 * ok) / count;
  }

  /** Integer accuracy and agreement on the first `images` test images. */
  evaluate(quant: Partial<QuantOptions>, images = this.test.count): { fp32: number; int: number; drop: number; agreement: number } {
    const options = { ...DEFAULT_QUANT_OPTIONS, ...quant };
    const prepared = this.floatModel.getPrepared(this.batchSize);
    const intModel = buildIntModel(prepared, this.stats, options);
    const subset = { ...this.test, count: Math.min(images, this.test.count) };
    const pred = new Int32Array(subset.count);
    for (const b of iterateBatches(subset, this.batchSize, this.c.pre)) pred.set(argmaxRows(intModel.run(b.input), b.labels.length), b.start);
    let agree = 0;
    for (let i = 0; i < subset.count; i++) if (pred[i] === this.floatPredictions[i]) agree++;
    const fp32 = this.accuracyOf(this.floatPredictions, subset.count);
    const int = this.accuracyOf(pred, subset.count);
    return { fp32, int, drop: fp32 - int, agreement: (100 * agree) / subset.count };
  }
}

const f2 = (v: number) => v.toFixed(2);

function main(): void {
  const images = Number(arg('images', '10000'));
  const sweepImages = Number(arg('sweep-images', '2000'));
  const calibImages = Number(arg('calib', '1000'));
  const tables = new Set(arg('tables', 'headline,bits,methods,granularity').split(','));
  const models = arg('models', Object.keys(MODELS).join(',')).split(',');
  const out: string[] = [];
  const cases = new Map<string, PreparedCase>();
  const get = (name: string) => {
    let c = cases.get(name);
    if (!c) { c = new PreparedCase(MODELS[name], calibImages, images); cases.set(name, c); }
    return c;
  };
  const say = (line: string) => { out.push(line); console.log(line); };
  if (tables.has('headline')) {
    say(`### W8A8, per-channel weights, default calibration (${calibImages} calibration images, ${images} test images)\n`);
    say('| model | fp32 top-1 | int8 top-1 | drop (points) | top-1 agreement with fp32 | PyTorch FX PTQ agreement |');
    say('|---|---|---|---|---|---|');
    const torch: Record<string, string> = { resnet20_cifar10: '98.25%', fmnist_resnet20: '99.65%', fmnist_mobilenetv2: '99.43%' };
    for (const m of models) {
      const r = get(m).evaluate({});
      say(`| ${m} | ${f2(r.fp32)}% | ${f2(r.int)}% | ${f2(r.drop)} | **${f2(r.agreement)}%** | ${torch[m]} |`);
    }
    say('');
  }
  const rn = models.includes('resnet20_cifar10') ? 'resnet20_cifar10' : models[0];
  if (tables.has('bits')) {
    const c = get(rn);
    say(`### Accuracy against bit width on ${rn} (first ${sweepImages} test images; per-channel, MSE weights, bias correction)\n`);
    say('| scheme | ' + [2, 3, 4, 5, 6, 7, 8].map((b) => `${b} bits`).join(' | ') + ' |');
    say('|---|' + '---|'.repeat(7));
    for (const [label, mk] of [
      ['W*b* A8', (b: number) => ({ weightBits: b, activationBits: 8 })],
      ['W*b* A*b*', (b: number) => ({ weightBits: b, activationBits: b })],
      ['W8 A*b*', (b: number) => ({ weightBits: 8, activationBits: b })],
    ] as const) {
      const cells = [2, 3, 4, 5, 6, 7, 8].map((b) => {
        const r = c.evaluate({ ...mk(b), weightMethod: 'mse', biasCorrection: true, method: b <= 5 ? 'mse' : DEFAULT_QUANT_OPTIONS.method }, sweepImages);
        return `${f2(r.int)}% (${f2(r.agreement)})`;
      });
      say(`| ${label} | ${cells.join(' | ')} |`);
    }
    say(`\ncells: integer top-1 (agreement with fp32 %); fp32 top-1 on these images: ${f2(c.accuracyOf(c.floatPredictions, sweepImages))}%\n`);
  }
  if (tables.has('methods')) {
    for (const m of models) {
      const c = get(m);
      say(`### Weight cost functions and activation calibration on ${m} (first ${sweepImages} test images; per-channel, bias correction unless said; drop in points / agreement %)\n`);
      const schemes = [{ weightBits: 8, activationBits: 8 }, { weightBits: 6, activationBits: 6 }, { weightBits: 4, activationBits: 8 }];
      say('| weights \\ scheme | ' + schemes.map((s) => `W${s.weightBits}A${s.activationBits}`).join(' | ') + ' |');
      say('|---|---|---|---|');
      for (const [label, q] of [
        ['min-max', { weightMethod: 'minmax' }], ['3-sigma', { weightMethod: 'sigma3' }], ['MSE', { weightMethod: 'mse' }],
        ['output error ‖WX − ŴX‖²', { weightMethod: 'output' }], ['cosine', { weightMethod: 'cosine' }], ['MSE, bias correction off', { weightMethod: 'mse', biasCorrection: false }],
      ] as const) {
        say(`| ${label} | ` + schemes.map((s) => { const r = c.evaluate({ ...s, ...q }, sweepImages); return `${f2(r.drop)} / ${f2(r.agreement)}`; }).join(' | ') + ' |');
      }
      say('');
      say('| activations \\ scheme | ' + schemes.map((s) => `W${s.weightBits}A${s.activationBits}`).join(' | ') + ' |');
      say('|---|---|---|---|');
      for (const method of ['minmax', 'percentile', 'sigma3', 'mse', 'entropy'] as const) {
        say(`| ${method} | ` + schemes.map((s) => { const r = c.evaluate({ ...s, method, weightMethod: 'mse' }, sweepImages); return `${f2(r.drop)} / ${f2(r.agreement)}`; }).join(' | ') + ' |');
      }
      say('');
    }
  }
  if (tables.has('granularity') && models.includes('fmnist_mobilenetv2')) {
    const c = get('fmnist_mobilenetv2');
    say(`### Per-tensor vs per-channel weights on fmnist_mobilenetv2 (first ${sweepImages} test images; top-1 / agreement %)\n`);
    say('| weights | W8A8 | W6A8 | W4A8 (MSE + bias corr.) |');
    say('|---|---|---|---|');
    for (const perChannel of [false, true]) {
      const cells = [{ weightBits: 8 }, { weightBits: 6 }, { weightBits: 4, weightMethod: 'mse' as const, biasCorrection: true }].map((q) => {
        const r = c.evaluate({ ...q, perChannel }, sweepImages);
        return `${f2(r.int)}% / ${f2(r.agreement)}`;
      });
      say(`| ${perChannel ? 'per-channel' : 'per-tensor'} | ${cells.join(' | ')} |`);
    }
    say('');
  }
  if (process.argv.includes('--json')) console.log(JSON.stringify(out));
}

if (require.main === module) main();
