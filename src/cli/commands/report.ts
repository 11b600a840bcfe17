/** `qinspect report MODEL --calib PATH --data PATH [--bits N] [--out FILE]`: HTML + Markdown report and the scale table as CSV/JSON. */
import * as path from 'path';
import { buildReport } from '../../inspect/build-report';
import { renderHtml, renderMarkdown, scalesCsv, scalesJson } from '../../inspect/report';
import { InputError } from '../../util/errors';
import { writeFileAtomic } from '../../util/atomic-write';
import type { Command } from '../command';
import { displayPath, flagOption, numberOption, stringOption } from '../options';
import { QUANT_STUDY_OPTIONS, readStudyInputs } from './sensitivity';

/** The four files a report writes, from the --out name (.html added when missing). */
export function reportPaths(out: string): { html: string; markdown: string; csv: string; json: string } {
  const base = out.replace(/\.(html?|md)$/i, '');
  return { html: `${base}.html`, markdown: `${base}.md`, csv: `${base}-scales.csv`, json: `${base}-scales.json` };
}

function parseBitList(text: string | undefined, fallback: number[], flag: string): number[] {
  if (text === undefined) return fallback;
  if (text.trim() === '' || text === 'none') return [];
  const bits = text.split(',').map((s) => Number(s.trim()));
  if (bits.some((b) => !Number.isInteger(b) || b < 2 || b > 16)) throw new InputError(`--${flag} must be comma-separated bit widths from 2 to 16, got '${text}'`);
  return bits;
}

export const reportCommand: Command = {
  name: 'report',
  summary: 'write a self-contained HTML (and Markdown) report of per-layer quantization error, dataflow, histograms and comparisons',
  usage: 'MODEL --calib PATH --data PATH [--bits N] [--out FILE] [--sensitivity] [--json]',
  positionals: ['MODEL'],
  options: {
    ...QUANT_STUDY_OPTIONS,
    out: { type: 'string', valueName: 'FILE', description: 'report file (default MODEL-report.html); .md, -scales.csv and -scales.json are written beside it' },
    sweep: { type: 'string', valueName: 'b,b,...', description: "bit widths of the accuracy-vs-bits sweep (default 2,3,4,5,6,7,8; 'none' skips it)" },
    'no-compare': { type: 'boolean', description: 'skip the weight-cost, calibration, granularity and activation-placement comparisons' },
    sensitivity: { type: 'boolean', description: 'also rank layers one at a time (simulated, at --sensitivity-bits) and try mixed precision' },
    'sensitivity-bits': { type: 'string', valueName: 'N', description: 'bits of the sensitivity study (default 4)' },
    'dataflow-layer': { type: 'string', valueName: 'NAME', description: 'layer whose integer dataflow is explained (default: the conv with the longest accumulation)' },
    'bias-correction': { type: 'boolean', description: 'bias correction on calibration data (per-channel weight gain, sequential mean correction; off by default here)' },
  },
  details: [
    'Defaults: W8A8, per-channel weights, MSE weight clipping, percentile activation calibration, 300 evaluation',
    'images (--limit), 500 calibration images (--calib-limit). Every comparison is one more pass of the integer',
    'engine over the evaluation images.',
    '',
    'example:',
    '  qinspect report fmnist_mobilenetv2.onnx --calib calib1000-images-idx3-ubyte.gz --data t10k-images-idx3-ubyte.gz --out mbv2.html',
  ].join('\n'),
  async run(args, ctx) {
    const inputs = readStudyInputs(args, ctx, { bits: 8, evalLimit: 300 });
    const modelPath = args.positionals[0];
    const out = stringOption(args, 'out') ?? `${path.basename(modelPath).replace(/\.onnx$/i, '')}-report.html`;
    const files = reportPaths(out);
    const sensBits = numberOption(args, 'sensitivity-bits', { integer: true, min: 2, max: 16 }) ?? 4;
    const bar = ctx.progress('report', 100);
    const data = await buildReport(inputs.loaded.model,
      { ...inputs.calib, path: displayPath(inputs.calib.dataset.source) },
      { ...inputs.data, path: displayPath(inputs.data.dataset.source) },
      {
        quant: {
          weightBits: inputs.bits.weightBits, activationBits: inputs.bits.activationBits, perChannel: inputs.settings.perChannel,
          method: inputs.settings.calibration, weightMethod: inputs.settings.weightMethod, biasCorrection: flagOption(args, 'bias-correction'),
        },
        batchSize: inputs.data.batchSize,
        calibrationLimit: inputs.calib.dataset.count,
        sweepBits: parseBitList(stringOption(args, 'sweep'), [2, 3, 4, 5, 6, 7, 8], 'sweep'),
        comparisons: !flagOption(args, 'no-compare'),
        sensitivity: flagOption(args, 'sensitivity')
          ? { bits: { weightBits: sensBits, activationBits: sensBits }, keep: 3, highBits: { weightBits: 8, activationBits: 8 }, sweepBits: [], allButOne: false }
          : undefined,
        dataflowLayer: stringOption(args, 'dataflow-layer'),
      },
      (_stage, fraction) => bar.update(Math.round(fraction * 100)));
    bar.done();
    writeFileAtomic(files.html, renderHtml(data));
    writeFileAtomic(files.markdown, renderMarkdown(data));
    writeFileAtomic(files.csv, scalesCsv(data.layers));
    writeFileAtomic(files.json, scalesJson(data.layers));
    const summary = {
      html: files.html, markdown: files.markdown, csv: files.csv, json: files.json,
      fp32: { accuracy: data.float.accuracy }, quantized: { accuracy: data.quantized.accuracy, agreement: data.quantized.agreement },
      layers: data.layers.length, timings: data.timings,
    };
    if (ctx.json) ctx.out(JSON.stringify(summary));
    else {
      ctx.out(`W${data.settings.weightBits}A${data.settings.activationBits}: top-1 ${data.quantized.accuracy.toFixed(2)}% (float ${data.float.accuracy.toFixed(2)}%, agreement ${data.quantized.agreement.toFixed(2)}%) on ${data.settings.evaluationImages} images`);
      for (const f of [files.html, files.markdown, files.csv, files.json]) ctx.out(`wrote ${f}`);
    }
  },
};
