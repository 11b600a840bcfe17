// Fuzzing the data readers: damaged CIFAR-10 batches, IDX files (headers, gzip), image folders (corrupt, mixed,
// huge-header PNG/JPEG). Each set is opened and streamed through preprocessing in a guarded child process:
// a result or a clean InputError naming the file, never a crash, hang or memory blow-up.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { countOutcomes, describeFailures, formatCounts, FuzzJob, runFuzz } from './fuzz-harness';
import { DATA_STRATEGY_NAMES } from './fuzz-data-mutations';

const CASES = 240;

test(`fuzzed data sets (${CASES} cases): results or clean errors only; crashes = 0, hangs = 0`, { timeout: 600_000 }, async () => {
  const jobs: FuzzJob[] = Array.from({ length: CASES }, (_, i) => ({
    kind: 'data', model: 'data', strategy: DATA_STRATEGY_NAMES[i % DATA_STRATEGY_NAMES.length], seed: i,
  }));
  const t0 = Date.now();
  const outcomes = await runFuzz(jobs, { workers: 2, caseTimeoutMs: 10_000, maxRssMB: 3072 });
  const counts = countOutcomes(outcomes);
  console.log(`data fuzz: ${formatCounts(counts)} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const failures = describeFailures(outcomes);
  assert.equal(failures.length, 0, failures.join('\n'));
  assert.equal(counts.cases, CASES);
  assert.equal(counts.crashes + counts.hangs + counts.ooms, 0);
  assert.ok(counts.results >= CASES / 20 && counts.errors >= CASES / 2, formatCounts(counts));
  for (const o of outcomes.filter((x) => x.outcome === 'error')) {
    // every message names the file or folder it is about
    assert.match(o.message, /^\/.*qi-fuzz-[^:]*: \S/, `${o.description}: ${o.message}`);
    assert.ok(!/undefined|NaN|\[object/.test(o.message), `${o.description}: ${o.message}`);
  }
});
