/**
 * QDQ export against onnxruntime-node: the exported W8A8 model runs in onnxruntime and our integer engine runs the
 * same plan on the same images; the codes of every quantized tensor agree within 1 LSB on ≥ 99% of elements and
 * the top-1 of the logits on ≥ 99.9% of images.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadModel } from '../src/onnx/load';
import { parseModel } from '../src/onnx/load';
import { openDataset, iterateBatches } from '../src/data';
import type { Preprocess } from '../src/data';
import { buildQuantizedModel } from '../src/pipeline/quantize';
import { exportQdq } from '../src/onnx/export';
import { onnx } from 'onnx-proto';
import { InputError } from '../src/util/errors';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const ort = require('onnxruntime-node');

const SHARED = path.resolve(__dirname, '../../shared');
const CIFAR_NORM: Preprocess = { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const FMNIST_NORM: Preprocess = { scale: 1 / 255, mean: [0.286], std: [0.353] };

const CASES = [
  { model: 'resnet20_cifar10.onnx', calib: 'data/cifar10/train_first4000.bin', test: 'data/cifar10/test_batch_first1000_lossless.bin', pre: CIFAR_NORM, images: 1000 },
  { model: 'fmnist_mobilenetv2.onnx', calib: 'data/fmnist/calib1000-images-idx3-ubyte.gz', test: 'data/fmnist/t10k-images-idx3-ubyte.gz', pre: FMNIST_NORM, images: 1000 },
];

function top1(row: ArrayLike<number>, start: number, classes: number): number {
  let best = 0;
  for (let c = 1; c < classes; c++) if (row[start + c] > row[start + best]) best = c;
  return best;
}

for (const c of CASES) {
  test(`QDQ export of ${c.model} (W8A8 per-channel) matches our integer engine in onnxruntime-node`, async () => {
    const model = loadModel(path.join(SHARED, 'models', c.model));
    const calib = openDataset(path.join(SHARED, c.calib), { limit: 300 });
    const { plan, intModel, floatModel } = buildQuantizedModel(model, { dataset: calib, preprocess: c.pre }, {}, 50, 300);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qdq-'));
    const file = path.join(dir, 'model.qdq.onnx');
    exportQdq(model, floatModel.getPrepared(50), plan, file);
    const reloaded = parseModel(fs.readFileSync(file), file); // our own loader reads it back too
    assert.ok(reloaded.graph.nodes.filter((n) => n.opType === 'QuantizeLinear').length >= plan.layers.length);
    assert.ok(reloaded.graph.initializers.get(`${reloaded.graph.nodes.find((n) => n.opType === 'Conv')!.inputs[1].replace(/_dequantized$/, '')}_quantized`)?.dtype === 'int8');
    // every 8-bit tensor of the file becomes an extra output, to compare codes layer by layer
    const proto = onnx.ModelProto.decode(fs.readFileSync(file));
    const eightBit = [...plan.valueParams].filter(([, p]) => p.bits <= 8).map(([v]) => v);
    for (const v of eightBit) proto.graph!.output!.push(onnx.ValueInfoProto.create({ name: `${v}_quantized` }));
    // AVX2 without VNNI (e.g. AMD EPYC): onnxruntime's default u8s8 kernels saturate pairwise int16 sums (vpmaddubsw);
    // its high-precision mode gives the exact products on every x86 CPU, so the comparison does not depend on the machine
    const session = await ort.InferenceSession.create(Buffer.from(onnx.ModelProto.encode(proto).finish()), { logSeverityLevel: 3, extra: { session: { x64quantprecision: '1' } } });
    const test = openDataset(path.join(SHARED, c.test), { limit: c.images });
    let elements = 0, within1 = 0, exact = 0, agree = 0, images = 0, worst = 100;
    for (const batch of iterateBatches(test, 100, c.pre)) {
      const ours = new Map<string, ArrayLike<number>>();
      const logits = intModel.run(batch.input, { onQuantized: (name, q) => ours.set(name, q.codes) });
      const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', batch.input.data as Float32Array, batch.input.dims) };
      const results = await session.run(feeds);
      for (const v of eightBit) {
        const theirs = results[`${v}_quantized`].data as ArrayLike<number>;
        const mine = ours.get(v)!;
        assert.equal(theirs.length, mine.length, v);
        let ok = 0;
        for (let i = 0; i < theirs.length; i++) {
          const d = Math.abs(Number(theirs[i]) - mine[i]);
          if (d <= 1) ok++;
          if (d === 0) exact++;
        }
        elements += theirs.length; within1 += ok;
        worst = Math.min(worst, (100 * ok) / theirs.length);
      }
      const theirLogits = results[session.outputNames[0]].data as Float32Array;
      const classes = logits.dims[1];
      for (let n = 0; n < batch.labels.length; n++) {
        if (top1(theirLogits, n * classes, classes) === top1(logits.data as Float32Array, n * classes, classes)) agree++;
        images++;
      }
    }
    const within = (100 * within1) / elements, agreement = (100 * agree) / images;
    console.log(`# ${c.model}: ${eightBit.length} quantized tensors, ${within.toFixed(3)}% of codes within 1 LSB (${((100 * exact) / elements).toFixed(2)}% exact, worst tensor ${worst.toFixed(2)}%), top-1 agreement ${agreement.toFixed(2)}% over ${images} images`);
    assert.ok(within >= 99, `within 1 LSB: ${within}%`);
    assert.ok(worst >= 95, `worst tensor within 1 LSB: ${worst}%`);
    assert.ok(agreement >= 99.9, `top-1 agreement ${agreement}%`);
    fs.rmSync(dir, { recursive: true, force: true });
  });
}

test('QDQ export refuses activations wider than 8 bits and in-memory models', () => {
  const model = loadModel(path.join(SHARED, 'models', 'fmnist_resnet20.onnx'));
  const calib = openDataset(path.join(SHARED, 'data/fmnist/calib1000-images-idx3-ubyte.gz'), { limit: 20 });
  const { plan, floatModel } = buildQuantizedModel(model, { dataset: calib, preprocess: FMNIST_NORM }, { activationBits: 12, weightBits: 8 }, 20, 20);
  const file = path.join(os.tmpdir(), `never-written-${process.pid}.onnx`);
  assert.throws(() => exportQdq(model, floatModel.getPrepared(20), plan, file), (e: unknown) => e instanceof InputError && /at most 8 bits/.test((e as Error).message));
  assert.equal(fs.existsSync(file), false);
  assert.throws(() => exportQdq({ ...model, path: '' }, floatModel.getPrepared(20), plan, file), InputError);
});
