import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { renderHtml, renderMarkdown, scalesCsv, scalesJson, type LayerReportRow, type ReportData } from '../src/inspect/report';
import { compareTensors, rmseOverScale } from '../src/inspect/metrics';
import { ClipCounter, channelRanges, histogramOf, tensorStats } from '../src/inspect/stats';
import { layerDataflow } from '../src/inspect/dataflow';

const root = path.resolve(__dirname, '..');
const CHROMIUM = '/usr/bin/chromium';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** A small report built from synthetic tensors through the real statistics and metrics functions. */
function syntheticReport(): ReportData {
  const r = lcg(3);
  const gauss = () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  const layers: LayerReportRow[] = ['/conv1/Conv', '/features/features.1/conv/conv.0/Conv', '/fc/Gemm'].map((name, k) => {
    const channels = 8;
    const w = Array.from({ length: channels * 9 }, (_, i) => gauss() * 0.1 * (k === 1 ? 2 ** -Math.floor(i / 9) : 1));
    const act = Array.from({ length: 4000 }, () => Math.max(0, gauss() * 2));
    const ws = Math.max(...w.map(Math.abs)) / 127;
    const wq = w.map((v) => Math.round(v / ws) * ws); // q = round(w / s)·s
    const as = 6 / 255;
    const aq = act.map((v) => Math.min(255, Math.round(v / as)) * as);
    const local = compareTensors(act, aq);
    return {
      name, op: name.endsWith('Gemm') ? 'Gemm' : 'Conv', kind: k === 1 ? 'depthwise' : k === 2 ? 'linear' : 'conv', weightBits: 8, activationBits: 8,
      weightScales: [ws], inputScale: 0.02, inputZeroPoint: -128, outputScale: as, outputZeroPoint: -128,
      weight: { stats: tensorStats(w), channels: channelRanges(w, channels), clipLow: -127 * ws, clipHigh: 127 * ws, clippedShare: 0, sqnrDb: compareTensors(w, wq).sqnrDb, sqnrPerTensorDb: compareTensors(w, wq).sqnrDb, sqnrPerChannelDb: compareTensors(w, wq).sqnrDb + (k === 1 ? 12 : 0.5), histogram: histogramOf(w) },
      activation: { stats: tensorStats(act), clipLow: 0, clipHigh: 6, clippedShare: new ClipCounter(0, 6).add(act).clippedShare(), histogram: histogramOf(act) },
      local: { ...local, rmseOverScale: rmseOverScale(local.rmse, as) },
      accumulated: { ...local, sqnrDb: local.sqnrDb - 3 * k, rmseOverScale: rmseOverScale(local.rmse, as) * (1 + k) },
    };
  });
  const ev = (accuracy: number, sqnr: number) => ({ accuracy, agreement: 90 + accuracy / 10, logitSqnrDb: sqnr });
  return {
    modelPath: '/models/synthetic.onnx', generatedAt: '2026-01-01T00:00:00Z',
    settings: { weightBits: 8, activationBits: 8, granularity: 'per-channel', calibration: 'percentile', weightMethod: 'mse', calibrationImages: 100, evaluationImages: 200, calibPath: 'calib.bin', dataPath: 'test.bin' },
    float: { accuracy: 91.5 }, quantized: ev(91.0, 25),
    layers,
    dataflow: layerDataflow({
      name: layers[0].name, op: 'Conv', accumulationTerms: 27,
      input: { bits: 8, scale: 0.02, zeroPoint: -128, qmin: -128, qmax: 127 },
      weight: { bits: 8, qmin: -127, qmax: 127, scales: [0.01] }, biasCodes: [12, -40],
      requant: { multipliers: [0.3], m0: [1288490189], shift: [1] },
      output: { bits: 8, scale: 0.05, zeroPoint: -128, qmin: -128, qmax: 127 }, activation: { kind: 'Relu', clampMin: -128, clampMax: 127 }, maxAccumulatorSeen: 4000,
    }),
    bitSweep: [2, 3, 4, 5, 6, 7, 8].map((b) => ({ weightBits: b, activationBits: b, evaluation: ev(Math.min(91.4, 10 + (b - 2) * 18), b * 5) })),
    weightSqnrByBits: [4, 8].map((b) => ({ bits: b, perLayer: Object.fromEntries(layers.map((l, i) => [l.name, b * 6 - i])) })),
    weightMethods: [{ method: 'minmax', evaluation: ev(90.8, 24), meanWeightSqnrDb: 40 }, { method: 'mse', evaluation: ev(91.0, 25), meanWeightSqnrDb: 41 }],
    calibrationMethods: [{ method: 'minmax', evaluation: ev(90.1, 20) }, { method: 'percentile', evaluation: ev(91.0, 25) }],
    activationPlacement: { beforeOnly: ev(91.0, 25), beforeAndAfter: ev(90.7, 24) },
    granularity: { perTensor: ev(60, 5), perChannel: ev(91, 25) },
    timings: { calibration: 1.5 },
  };
}

test('report: HTML is self-contained, prose carries the measured numbers, CSV/JSON scale table', () => {
  const d = syntheticReport();
  const html = renderHtml(d);
  assert.ok(!/(src|href)\s*=\s*"(https?:|\/\/)/i.test(html), 'no external resources');
  assert.ok(!/<script/i.test(html), 'no scripts');
  assert.equal((html.match(/<svg class="qi-plot"/g) ?? []).length >= 6, true);
  assert.match(html, /depthwise/);
  assert.match(html, /K = 27/);
  assert.match(html, /91\.50%/); // float accuracy from the data
  assert.match(html, /recovers|drop of 0\.50 points/);
  const md = renderMarkdown(d);
  assert.match(md, /^# Quantization report: synthetic\.onnx/);
  assert.match(md, /\| layer \| kind \|/);
  const csv = scalesCsv(d.layers).trim().split('\n');
  assert.equal(csv.length, 1 + d.layers.length);
  assert.equal(csv[1].split(',')[0], '/conv1/Conv');
  assert.equal(Number(csv[1].split(',')[4]), 0.02);
  const json = JSON.parse(scalesJson(d.layers));
  assert.equal(json[2].layer, '/fc/Gemm');
  assert.equal(json[0].outputZeroPoint, -128);
});

test('report: renders in headless Chromium with every plot drawn (light and dark)', { skip: !fs.existsSync(CHROMIUM) && 'chromium not installed (apt-get install -y chromium)' }, async () => {
  const html = renderHtml(syntheticReport());
  const outDir = path.join(root, 'test-results');
  fs.mkdirSync(outDir, { recursive: true });
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  try {
    for (const scheme of ['light', 'dark'] as const) {
      const page = await browser.newPage({ colorScheme: scheme, viewport: { width: 1150, height: 900 } });
      const requests: string[] = [];
      page.on('request', (r) => { if (!r.url().startsWith('data:') && r.url() !== 'about:blank') requests.push(r.url()); });
      await page.setContent(html, { waitUntil: 'load' });
      const plots = await page.$$eval('svg.qi-plot', (els) => els.map((e) => { const b = e.getBoundingClientRect(); return { w: b.width, h: b.height, marks: e.querySelectorAll('rect, path, circle').length, kind: e.getAttribute('data-plot') }; }));
      assert.ok(plots.length >= 6, `plots: ${plots.length}`);
      for (const p of plots) assert.ok(p.w > 200 && p.h > 100 && p.marks > 0, JSON.stringify(p));
      assert.deepEqual([...new Set(plots.map((p) => p.kind))].sort(), ['bars', 'histogram', 'line']);
      const colors = await page.evaluate(() => [getComputedStyle(document.body).backgroundColor, getComputedStyle(document.body).color]);
      assert.notEqual(colors[0], colors[1]);
      if (scheme === 'dark') assert.equal(colors[0], 'rgb(13, 17, 23)');
      await page.screenshot({ path: path.join(outDir, `report-synthetic-${scheme}.png`), fullPage: true });
      assert.deepEqual(requests, []);
      await page.close();
    }
  } finally {
    await browser.close();
  }
});
