import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bitSweep, layerSensitivity, mixedPrecision, parseBitOverrides, recoveredShare, type PrecisionPlan } from '../src/inspect/sensitivity';
import { InputError } from '../src/util/errors';

// A model whose accuracy loss is additive: each layer costs a known amount at 4 bits, nothing at 8 bits.
const COST4: Record<string, number> = { a: 0.5, b: 6, c: 1, d: 3, e: 0.2 };
const layers = Object.keys(COST4);
const FLOAT = 90;
const calls: PrecisionPlan[] = [];
async function evaluate(plans: PrecisionPlan[]) {
  return plans.map((plan) => {
    calls.push(plan);
    let loss = 0;
    for (const [l, b] of Object.entries(plan)) loss += b.weightBits <= 4 ? COST4[l] : b.weightBits < 8 ? COST4[l] / 4 : 0;
    return { accuracy: FLOAT - loss, agreement: 100 - loss, logitSqnrDb: 40 - loss };
  });
}

test('sensitivity: one-at-a-time and all-but-one rank the costliest layers first', async () => {
  const ranking = await layerSensitivity(layers, { weightBits: 4, activationBits: 4 }, FLOAT, evaluate, { allButOne: true });
  assert.deepEqual(ranking.map((e) => e.layer), ['b', 'd', 'c', 'a', 'e']);
  assert.deepEqual(ranking.map((e) => e.rank), [1, 2, 3, 4, 5]);
  assert.equal(ranking[0].aloneCost, 6);
  assert.equal(ranking[0].allButGain, 6);
  assert.deepEqual(Object.keys(ranking[0].allBut ? calls.find((p) => Object.keys(p).length === 4 && !('b' in p))! : {}).sort(), ['a', 'c', 'd', 'e']);
});

test('sensitivity: bit sweep and mixed precision recover the measured share', async () => {
  const sweep = await bitSweep(layers, [2, 4, 6, 8], evaluate);
  assert.deepEqual(sweep.map((p) => p.evaluation.accuracy), [FLOAT - 10.7, FLOAT - 10.7, FLOAT - 10.7 / 4, FLOAT]);
  const ranking = await layerSensitivity(layers, { weightBits: 4, activationBits: 4 }, FLOAT, evaluate);
  const m = await mixedPrecision(layers, ranking, 3, { weightBits: 8, activationBits: 8 }, { weightBits: 4, activationBits: 4 }, FLOAT, evaluate);
  assert.deepEqual(m.highBitLayers, ['b', 'd', 'c']);
  assert.equal(m.plan.b.weightBits, 8);
  assert.equal(m.plan.a.weightBits, 4);
  assert.ok(Math.abs(m.mixed.accuracy - (FLOAT - 0.7)) < 1e-9);
  assert.ok(Math.abs(m.recoveredShare - 10 / 10.7) < 1e-9);
  assert.equal(recoveredShare(90, 90, 90), 0);
});

test('sensitivity: bit overrides parse and reject bad input with InputError', () => {
  const names = ['/layer1/conv1/Conv', '/layer1/conv2/Conv', '/fc/Gemm'];
  assert.deepEqual(parseBitOverrides('conv1=8, fc=6/8', names, 4), { '/layer1/conv1/Conv': { weightBits: 8, activationBits: 4 }, '/fc/Gemm': { weightBits: 6, activationBits: 8 } });
  assert.throws(() => parseBitOverrides('conv=8', names, 8), (e) => e instanceof InputError && /matches 2 layers/.test(e.message));
  assert.throws(() => parseBitOverrides('nope=8', names, 8), (e) => e instanceof InputError && /no layer named 'nope'/.test(e.message));
  assert.throws(() => parseBitOverrides('fc=1', names, 8), (e) => e instanceof InputError && /2\.\.16/.test(e.message));
  assert.throws(() => parseBitOverrides('fc', names, 8), InputError);
});
