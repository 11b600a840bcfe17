/** `qinspect quantize`: the JSON contract of issue 6 item 7, export to a file, and one-line errors for bad options. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli, CliIO } from '../src/cli/cli';
import { loadModel } from '../src/onnx/load';

const ROOT = path.resolve(__dirname, '..');
const SHARED = path.resolve(ROOT, '../shared');
const MODEL = path.join(SHARED, 'models/fmnist_resnet20.onnx');
const CALIB = path.join(SHARED, 'data/fmnist/calib1000-images-idx3-ubyte.gz');
const TEST = path.join(SHARED, 'data/fmnist/t10k-images-idx3-ubyte.gz');

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const io: CliIO = {
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
    progressSink: { write: (t) => void (err += t), isTTY: false, now: () => 0 },
  };
  return { code: await runCli(argv, io), out, err };
}

test('quantize --json: fp32/quantized accuracy, agreement and one entry per conv/linear layer; --export writes a QDQ model', async () => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'qcli-')), 'q.onnx');
  const r = await cli('quantize', MODEL, '--calib', CALIB, '--data', TEST, '--mean', '0.2860', '--std', '0.3530',
    '--limit', '100', '--calib-limit', '64', '--wbits', '8', '--abits', '8', '--export', out, '--json');
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out.trimEnd().split('\n').pop()!);
  assert.equal(j.images, 100);
  assert.equal(j.calibrationImages, 64);
  assert.ok(j.fp32.accuracy >= 90 && j.fp32.accuracy <= 100, `fp32 ${j.fp32.accuracy}`);
  assert.ok(Math.abs(j.quantized.accuracy - j.fp32.accuracy) <= 3);
  assert.ok(j.quantized.agreement >= 96);
  assert.equal(j.layers.length, 22); // 21 conv + 1 fc
  for (const l of j.layers) {
    for (const key of ['name', 'op', 'weightBits', 'activationBits', 'weightScales', 'inputScale', 'outputScale', 'outputZeroPoint', 'weightSqnrDb', 'outputSqnrDb', 'maxAccumulator']) {
      assert.ok(key in l, `layer ${l.name} lacks ${key}`);
    }
    assert.equal(l.weightBits, 8);
    assert.ok(l.weightSqnrDb > 30 && l.outputSqnrDb > 15, `${l.name}: SQNR ${l.weightSqnrDb} / ${l.outputSqnrDb}`);
    assert.ok(l.maxAccumulator > 0 && l.maxAccumulator < 2 ** 31);
  }
  assert.equal(j.layers[0].weightScales.length, 16); // per-channel: one scale per output channel of conv1
  const exported = loadModel(out);
  assert.ok(exported.graph.nodes.some((n) => n.opType === 'DequantizeLinear'));
});

test('quantize: bad options are one error line naming the option', async () => {
  for (const [args, pattern] of [
    [['--bits', '1'], /bits/],
    [['--method', 'magic'], /--method magic: expected one of minmax, percentile, sigma3, mse, entropy/],
    [['--granularity', 'per-row'], /--granularity per-row/],
    [['--layer-bits', 'oops'], /--layer-bits 'oops': expected NAME=BITS/],
    [['--float-layers', '/nope/Conv'], /no node named '\/nope\/Conv'/],
  ] as const) {
    const r = await cli('quantize', MODEL, '--calib', CALIB, '--data', TEST, '--mean', '0.2860', '--std', '0.3530', '--limit', '4', '--calib-limit', '4', ...args);
    assert.equal(r.code, 1, `${args.join(' ')} should fail`);
    const lines = r.err.trimEnd().split('\n').filter((l) => l.startsWith('error: '));
    assert.equal(lines.length, 1, r.err);
    assert.match(lines[0], pattern);
  }
});
