/**
 * `npm run bench [-- --json] [--quick] [--no-scale] [--workers N] [--repeat N]`: our float/integer engines against
 * onnxruntime-node, measured in one run on this machine. Every measurement runs in its own child process so its
 * peak RSS is its own; `--repeat N` runs each engine measurement N times and keeps the best (ours and onnxruntime alike).
 * Prints a table; with --json the last line is one JSON object.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { PARTS, PartResult } from './parts';

const root = path.resolve(__dirname, '..');
const shared = path.resolve(root, '../shared/models');

interface BenchModel {
  key: string;
  file: string;
  batch: number;
  images: number;
  scale: boolean;
}

const MODELS: BenchModel[] = [
  { key: 'resnet20_cifar10', file: path.join(shared, 'resnet20_cifar10.onnx'), batch: 100, images: 3000, scale: false },
  { key: 'fmnist_mobilenetv2', file: path.join(shared, 'fmnist_mobilenetv2.onnx'), batch: 100, images: 2000, scale: false },
  { key: 'resnet18_imagenet', file: path.join(shared, 'scale/resnet18_imagenet_random.onnx'), batch: 8, images: 48, scale: true },
  { key: 'mobilenet_v2_imagenet', file: path.join(shared, 'scale/mobilenet_v2_imagenet_random.onnx'), batch: 8, images: 96, scale: true },
];

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Runs one measurement in a fresh process (this same script with --part) and parses its last JSON line. */
/** Node flag that makes V8 accept relaxed SIMD (VS Code's Electron has it on by default; Node 20 does not). */
const RELAXED = '--experimental-wasm-relaxed-simd';

function runPart(part: string, model: BenchModel, workers: number, images: number, nodeFlags: string[] = []): PartResult {
  const args = [...nodeFlags, ...process.execArgv, __filename.endsWith('.ts') ? __filename : process.argv[1], '--part', part,
    '--model', model.file, '--batch', String(model.batch), '--images', String(images), '--workers', String(workers)];
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  const lines = (r.stdout ?? '').trim().split('\n');
  const last = lines[lines.length - 1] ?? '';
  if (r.status !== 0 || !last.startsWith('{')) {
    const why = (r.stderr || r.stdout || `exit ${r.status}`).trim().split('\n').slice(-3).join(' | ');
    return { skipped: why.slice(0, 300) };
  }
  return JSON.parse(last) as PartResult;
}

/** The best of `times` runs of an engine measurement (highest images/s; a skipped run counts only if all are). */
function bestOf(times: number, run: () => PartResult): PartResult {
  let best: PartResult | undefined;
  for (let i = 0; i < times; i++) {
    const r = run();
    if (!best || (r.ips ?? -1) > (best.ips ?? -1)) best = r;
  }
  return best!;
}

function fmt(v: number | undefined, digits = 0): string {
  return v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);
}

async function childMain(part: string): Promise<void> {
  const fn = PARTS[part];
  if (!fn) throw new Error(`unknown bench part '${part}'`);
  const result = await fn({
    model: argValue('--model')!,
    batch: Number(argValue('--batch')),
    images: Number(argValue('--images')),
    workers: Number(argValue('--workers')),
  });
  result.peakRssMB = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify(result));
  process.exit(0);
}

function main(): void {
  const json = process.argv.includes('--json');
  const quick = process.argv.includes('--quick');
  const noScale = process.argv.includes('--no-scale');
  const workers = Number(argValue('--workers') ?? Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
  const repeat = Math.max(1, Number(argValue('--repeat') ?? 1));
  const summary: Record<string, unknown> = {
    machine: `${os.cpus()[0]?.model ?? 'cpu'} ×${os.cpus().length}, node ${process.versions.node}`,
    workers,
    repeat,
    models: {} as Record<string, unknown>,
  };
  const rows: string[] = [];
  const log = (s: string): void => { if (!json) console.log(s); else process.stderr.write(s + '\n'); };
  log(`Quant Inspector benchmark — ${summary.machine}, ${workers} workers / onnxruntime threads`);
  log('model                   | ours float | ours int | ort float | ort quant | float/ort | int/ort | peak RSS MB (ours float / int / ort)');
  for (const m of MODELS) {
    if (m.scale && noScale) continue;
    if (!fs.existsSync(m.file)) {
      log(`${m.key}: model missing (${m.file})`);
      continue;
    }
    const images = quick ? Math.max(m.batch * 2, Math.round(m.images / 4)) : m.images;
    // each engine measured `repeat` times, the best kept (the same for ours and onnxruntime): a shared VM's steal time
    const engine = (part: string, w = workers, n = images, flags: string[] = []) => bestOf(repeat, () => runPart(part, m, w, n, flags));
    const float = engine('ours-float');
    const int = engine('ours-int');
    const ort = engine('ort-float');
    const ortQ = engine('ort-quant');
    const float1 = m.scale ? undefined : engine('ours-float', 1, Math.round(images / 3));
    const relaxedFloat = m.scale ? undefined : engine('ours-float', workers, images, [RELAXED]);
    const relaxedInt = m.scale ? undefined : engine('ours-int', workers, images, [RELAXED]);
    const entry = {
      oursFloatIps: float.ips, oursFloatIps1Thread: float1?.ips, oursIntIps: int.ips, ortFloatIps: ort.ips, ortQuantIps: ortQ.ips,
      floatRatio: float.ips && ort.ips ? float.ips / ort.ips : undefined,
      intRatio: int.ips && ort.ips ? int.ips / ort.ips : undefined,
      peakRssMB: { oursFloat: float.peakRssMB, oursInt: int.peakRssMB, ortFloat: ort.peakRssMB },
      skipped: Object.fromEntries(Object.entries({ oursFloat: float, oursInt: int, ortFloat: ort, ortQuant: ortQ })
        .filter(([, r]) => r.skipped).map(([k, r]) => [k, r.skipped])),
      extra: { ...float.extra, ...int.extra, ortQuantVsOrtFloat: ortQ.ips && ort.ips ? ortQ.ips / ort.ips : undefined },
      relaxed: relaxedFloat && relaxedInt ? {
        oursFloatIps: relaxedFloat.ips, oursIntIps: relaxedInt.ips,
        floatRatio: relaxedFloat.ips && ort.ips ? relaxedFloat.ips / ort.ips : undefined,
        intRatio: relaxedInt.ips && ort.ips ? relaxedInt.ips / ort.ips : undefined,
      } : undefined,
    };
    (summary.models as Record<string, unknown>)[m.key] = entry;
    const row = `${m.key.padEnd(23)} | ${fmt(float.ips).padStart(10)} | ${fmt(int.ips).padStart(8)} | ${fmt(ort.ips).padStart(9)} | ${fmt(ortQ.ips).padStart(9)} | ${fmt(entry.floatRatio, 3).padStart(9)} | ${fmt(entry.intRatio, 3).padStart(7)} | ${fmt(float.peakRssMB)} / ${fmt(int.peakRssMB)} / ${fmt(ort.peakRssMB)}`;
    rows.push(row);
    log(row);
    for (const [k, why] of Object.entries(entry.skipped)) log(`  ${k}: skipped (${why})`);
    if (entry.relaxed) log(`  with relaxed SIMD (${RELAXED}): float ${fmt(entry.relaxed.oursFloatIps)} images/s (${fmt(entry.relaxed.floatRatio, 3)}× ort), int ${fmt(entry.relaxed.oursIntIps)} (${fmt(entry.relaxed.intRatio, 3)}× ort)`);
  }
  for (const [k, m] of Object.entries(summary.models as Record<string, { extra?: Record<string, number>; peakRssMB?: Record<string, number> }>)) {
    const e = m.extra ?? {};
    if (e.calibrationSeconds !== undefined) {
      log(`${k}: calibration on ${e.calibrationImages} images ${fmt(e.calibrationSeconds, 1)} s; peak RSS calibrate+run int ${fmt(m.peakRssMB?.oursInt)} MB, float ${fmt(m.peakRssMB?.oursFloat)} MB`);
    }
  }
  if (!quick) {
    const calib = runPart('calibrate-4000', MODELS[0], workers, 0);
    summary.calibrate4000 = calib;
    log(calib.skipped ? `calibration of 4,000 images: skipped (${calib.skipped})`
      : `calibration of 4,000 CIFAR-10 images (resnet20): ${fmt(calib.seconds, 1)} s, peak RSS ${fmt(calib.peakRssMB)} MB (goal < 1024)`);
    const quantize = runPart('quantize', MODELS[0], workers, 0);
    summary.quantize = quantize;
    log(quantize.skipped ? `quantize (calibrate 1,000 + evaluate 10,000): skipped (${quantize.skipped})`
      : `full quantize resnet20 (calibrate 1,000 + evaluate 10,000 images): ${fmt(quantize.seconds, 1)} s, peak RSS ${fmt(quantize.peakRssMB)} MB`);
  }
  const job = runPart('job-throughput', MODELS[0], workers, 600); // 600 images: their float side fits the kept-references budget
  const engine20 = (summary.models as Record<string, { oursIntIps?: number; oursFloatIps?: number }>).resnet20_cifar10 ?? {};
  const bothPasses = engine20.oursIntIps && engine20.oursFloatIps ? 1 / (1 / engine20.oursIntIps + 1 / engine20.oursFloatIps) : undefined;
  summary.job = { ...job, jobVsIntEngine: job.ips && engine20.oursIntIps ? job.ips / engine20.oursIntIps : undefined, floatPlusIntEngineIps: bothPasses };
  log(job.skipped ? `quantize job throughput: skipped (${job.skipped})`
    : `quantize job (resnet20, bias correction + float and integer pass + per-layer errors): ${fmt(job.ips)} images/s = ${fmt(job.ips! / (engine20.oursIntIps ?? NaN), 2)}× the integer engine alone (${fmt(engine20.oursIntIps)}), ${fmt(job.ips! / (bothPasses ?? NaN), 2)}× one float + one integer engine pass (${fmt(bothPasses)}); at other bits on the same images (float side reused) ${fmt(job.extra?.otherBitsIps as number)} images/s = ${fmt((job.extra?.otherBitsIps as number) / (engine20.oursIntIps ?? NaN), 2)}× the integer engine`);
  (summary.job as Record<string, unknown>).otherBitsVsIntEngine = job.extra?.otherBitsIps && engine20.oursIntIps ? (job.extra.otherBitsIps as number) / engine20.oursIntIps : undefined;
  const sample = runPart('sample-job', MODELS[0], workers, 0);
  summary.sampleJob = sample;
  log(sample.skipped ? `"Quantize to N bits" on the sample: skipped (${sample.skipped})`
    : `"Quantize to N bits" on the sample (256 calibration, 500 test images, with the editor's histograms and graph errors): ${fmt(sample.seconds, 2)} s first, ${fmt(sample.extra?.warmSeconds as number, 2)} s at other bits (calibration reused)`);
  const whatIf = runPart('what-if', MODELS[0], workers, 0);
  summary.whatIf = whatIf;
  log(whatIf.skipped ? `what-if on the sample: skipped (${whatIf.skipped})`
    : `what-if on the sample (one layer's bits or float changed, 500 test images): ${(whatIf.extra?.each as number[]).map((x) => fmt(x, 2)).join(' / ')} s (early → late layer, + a float layer; goal ≤ 1 s)`);
  const demo = timeDemo();
  summary.demoSeconds = demo;
  log(demo === undefined ? 'demo: skipped (dist/cli.js not built: npm run build)' : `npm run demo (qinspect demo, info + eval + W8A8 + W4A4): ${fmt(demo, 1)} s wall`);
  if (!noScale && fs.existsSync(MODELS[2].file)) {
    const large = runPart('large-job', { ...MODELS[2], batch: 16 }, workers, 64);
    summary.largeJob = large;
    log(large.skipped ? `ResNet-18 job: skipped (${large.skipped})`
      : `ResNet-18 (224×224) calibrate + quantize + inspect on 64 images: ${fmt(large.seconds, 1)} s, peak RSS ${fmt(large.peakRssMB)} MB (goals ≤ 60 s, < 2048 MB)`);
  }
  const main20 = (summary.models as Record<string, Record<string, unknown>>).resnet20_cifar10 ?? {};
  const result = {
    oursFloatIps: main20.oursFloatIps ?? null,
    oursIntIps: main20.oursIntIps ?? null,
    ortFloatIps: main20.ortFloatIps ?? null,
    ortQuantIps: main20.ortQuantIps ?? null,
    floatRatio: main20.floatRatio ?? null,
    intRatio: main20.intRatio ?? null,
    ...summary,
  };
  if (json) console.log(JSON.stringify(result));
}

/** Wall time of `node bin/qinspect demo` in a child process (the bundle must be built). */
function timeDemo(): number | undefined {
  if (!fs.existsSync(path.join(root, 'dist/cli.js'))) return undefined;
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [path.join(root, 'bin/qinspect'), 'demo'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  return r.status === 0 ? (performance.now() - t0) / 1000 : undefined;
}

const part = argValue('--part');
if (part) {
  childMain(part).catch((e) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  });
} else {
  main();
}
