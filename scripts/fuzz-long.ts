// Longer fuzz run over the fixture models: node --import tsx scripts/fuzz-long.ts [--cases N] [--model NAME] [--strategy S] [--seed N] [--workers N]
// or over damaged data sets: ... scripts/fuzz-long.ts --data [--cases N] [--strategy S] [--seed N]
// Every case must end in a result or an InputError; crashes, hangs (> 10 s) and out-of-memory are listed with a replay command.
import * as path from 'path';
import { countOutcomes, describeFailures, formatCounts, FuzzJob, runFuzz } from '../test/fuzz-harness';
import { STRATEGY_NAMES } from '../test/fuzz-mutations';
import { DATA_STRATEGY_NAMES } from '../test/fuzz-data-mutations';

const MODELS = path.resolve(__dirname, '../../shared/models');

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const cases = Number(option('cases') ?? 3000);
  const data = process.argv.includes('--data'); // damaged data sets instead of models
  const models = data ? ['data'] : (option('model') ?? 'resnet20_cifar10.onnx,fmnist_mobilenetv2.onnx,fmnist_resnet20.onnx').split(',');
  const strategies = option('strategy') ? [option('strategy')!] : data ? DATA_STRATEGY_NAMES : STRATEGY_NAMES;
  const kind = data ? 'data' as const : 'model' as const;
  const seed = option('seed');
  const jobs: FuzzJob[] = [];
  if (seed !== undefined) {
    for (const m of models) for (const s of strategies) jobs.push({ kind, model: path.join(MODELS, m), strategy: s, seed: Number(seed) });
  } else {
    const start = Number(option('from') ?? 100_000); // the in-suite test uses seeds from 0
    for (let i = 0; i < cases; i++) {
      const model = models[Math.floor(i / strategies.length) % models.length]; // every strategy meets every model
      jobs.push({ kind, model: path.join(MODELS, model), strategy: strategies[i % strategies.length], seed: start + i });
    }
  }
  const t0 = Date.now();
  let done = 0;
  const outcomes = await runFuzz(jobs, {
    workers: Number(option('workers') ?? 2),
    onOutcome: (o) => {
      done++;
      if (seed !== undefined) console.log(`${o.outcome} at ${o.stage}: ${o.description}\n  ${o.message}`);
      else if (done % 250 === 0) console.log(`${done}/${jobs.length} ${formatCounts(countOutcomes([o]))}`.replace(/cases run 1.*/, ''));
    },
  });
  for (const line of describeFailures(outcomes)) console.log(line);
  const byStrategy = new Map<string, number[]>();
  for (const o of outcomes) {
    const row = byStrategy.get(o.job.strategy) ?? [0, 0, 0];
    row[o.outcome === 'result' ? 0 : o.outcome === 'error' ? 1 : 2]++;
    byStrategy.set(o.job.strategy, row);
  }
  for (const [s, [r, e, bad]] of byStrategy) console.log(`${s.padEnd(16)} results ${r}, clean errors ${e}, bad ${bad}`);
  const counts = countOutcomes(outcomes);
  console.log(`fuzz: ${formatCounts(counts)} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  process.exit(counts.crashes + counts.hangs + counts.ooms === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
