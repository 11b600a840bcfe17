/** `qinspect demo`: the main job on the embedded sample, no arguments needed. Extend it by adding a step to DEMO_STEPS. */
import { closeKeptPool } from '../../pipeline/pool-cache';
import * as fs from 'fs';
import * as path from 'path';
import { InputError } from '../../util/errors';
import { displayPath } from '../options';
import type { CliContext, Command, ParsedArgs } from '../command';
import { infoCommand } from './info';
import { evalCommand } from './eval';
import { quantizeCommand } from './quantize';

export const SAMPLE_MODEL = 'resnet20_cifar10.onnx';

/** The repository's samples/ folder, found from this file (src/cli/commands) or the bundle (dist/). */
export function samplesDir(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'samples');
    if (fs.existsSync(path.join(candidate, SAMPLE_MODEL))) return candidate;
    if (path.dirname(dir) === dir) throw new InputError(`the embedded sample samples/${SAMPLE_MODEL} was not found above ${__dirname}`);
  }
}

export interface DemoStep {
  title: string;
  run(sampleModel: string, ctx: CliContext): Promise<void> | void;
}

const args = (positionals: string[], values: ParsedArgs['values'] = {}): ParsedArgs => ({ positionals, values });

/** Steps run in order on samples/resnet20_cifar10.onnx (its sidecar names the test and calibration images). */
export const DEMO_STEPS: DemoStep[] = [
  { title: 'model', run: (model, ctx) => infoCommand.run(args([model]), ctx) as void },
  { title: 'float32 accuracy on the 500 sample test images', run: async (model, ctx) => void (await evalCommand.run(args([model]), ctx)) },
  {
    title: 'W8A8 integer engine: calibrated on the 500 sample training images, scored on the 500 test images',
    run: async (model, ctx) => void (await quantizeCommand.run(args([model], { bits: '8' }), ctx)),
  },
  {
    title: 'W4A4: where the error comes from once the bits run short',
    run: async (model, ctx) => void (await quantizeCommand.run(args([model], { bits: '4' }), ctx)),
  },
];

export async function runDemo(ctx: CliContext, steps: readonly DemoStep[] = DEMO_STEPS): Promise<void> {
  const model = displayPath(path.join(samplesDir(), SAMPLE_MODEL));
  const session = { ...ctx, moreRunsFollow: true }; // W4A4 reuses what W8A8 computed on the same images
  try {
    for (const step of steps) {
      if (!ctx.json) ctx.out(`\n== ${step.title} ==`);
      await step.run(model, session);
    }
  } finally {
    await closeKeptPool(); // the runs shared one worker pool
  }
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the main job on the embedded sample (ResNet-20, CIFAR-10) with no arguments',
  usage: '[--json]',
  positionals: [],
  options: {},
  details: `uses samples/${SAMPLE_MODEL} and its sidecar samples/resnet20_cifar10.qinspect.json`,
  async run(_args, ctx) {
    await runDemo(ctx);
  },
};
