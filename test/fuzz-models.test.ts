// Fuzzing the fixture models: every mutated file ends in a result (load + prepare + one run) or a clean InputError,
// never another exception, a hang (> 10 s) or an out-of-memory. Each case runs in a child process under a guard;
// every 8th case that runs is also calibrated on one image, quantized and run through the integer engine.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import { MODELS } from './robust-fixtures';
import { countOutcomes, describeFailures, formatCounts, FuzzJob, runFuzz } from './fuzz-harness';
import { STRATEGY_NAMES } from './fuzz-mutations';

const FUZZ_MODELS = ['resnet20_cifar10.onnx', 'fmnist_mobilenetv2.onnx'];
const CASES = 1000;

test(`fuzzed models (${CASES} cases): results or clean errors only; crashes = 0, hangs = 0`, { timeout: 600_000 }, async () => {
  const jobs: FuzzJob[] = [];
  for (let i = 0; i < CASES; i++) {
    jobs.push({ model: path.join(MODELS, FUZZ_MODELS[i % FUZZ_MODELS.length]), strategy: STRATEGY_NAMES[i % STRATEGY_NAMES.length], seed: i });
  }
  const t0 = Date.now();
  const outcomes = await runFuzz(jobs, { workers: 2, caseTimeoutMs: 10_000, maxRssMB: 3072 });
  const counts = countOutcomes(outcomes);
  console.log(`fuzz: ${formatCounts(counts)} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const failures = describeFailures(outcomes);
  assert.equal(failures.length, 0, failures.join('\n'));
  assert.equal(counts.cases, CASES);
  assert.equal(counts.crashes, 0);
  assert.equal(counts.hangs, 0);
  assert.equal(counts.ooms, 0);
  // The mutations must reach every stage: some models still run, most are refused, at load and later.
  assert.ok(counts.results >= CASES / 10, `only ${counts.results} cases ran to a result`);
  assert.ok(counts.errors >= CASES / 2, `only ${counts.errors} clean errors`);
  const stages = new Set(outcomes.filter((o) => o.outcome === 'error').map((o) => o.stage));
  assert.ok(stages.has('load') && stages.has('prepare'), [...stages].join(','));
  const quantized = outcomes.filter((o) => o.outcome === 'result' && o.stage === 'quantize').length;
  assert.ok(quantized >= 10, `only ${quantized} mutated models went through quantization and the integer engine`);
  console.log(`fuzz: ${quantized} of the results were also quantized and run by the integer engine`);
  for (const o of outcomes.filter((x) => x.outcome === 'error')) {
    assert.ok(o.message.length > 10 && !/undefined|\[object Object\]/.test(o.message), `unclear error for ${o.description}: ${o.message}`);
  }
});

test('the fuzz guard catches a hang, a dying worker, a memory blow-up and a crash, and carries on', { timeout: 120_000 }, async () => {
  const model = path.join(MODELS, FUZZ_MODELS[0]);
  const jobs: FuzzJob[] = ['__hang', '__ok', '__exit', '__oom', '__throw', '__ok'].map((strategy, seed) => ({ model, strategy, seed }));
  const outcomes = await runFuzz(jobs, { workers: 1, caseTimeoutMs: 3_000, maxRssMB: 600 });
  assert.deepEqual(outcomes.map((o) => o.outcome), ['hang', 'result', 'crash', 'oom', 'crash', 'result']);
  const counts = countOutcomes(outcomes);
  assert.equal(formatCounts(counts), 'cases run 6, clean errors 0, results 2, crashes 2, hangs 1, out-of-memory 1');
  assert.match(describeFailures(outcomes)[0], /replay: node --import tsx scripts\/fuzz-long\.ts --model resnet20_cifar10\.onnx --strategy __hang --seed 0/);
});
