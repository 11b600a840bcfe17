import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { loadModel } from '../src/onnx/load';
import { openDataset } from '../src/data';
import { buildReport } from '../src/inspect/build-report';
import { granularityGain, renderHtml, renderMarkdown, scalesCsv, scalesJson, type ReportData } from '../src/inspect/report';

const root = path.resolve(__dirname, '..');
const shared = path.resolve(root, '../shared');
const CHROMIUM = '/usr/bin/chromium';
const PRE = { scale: 1 / 255, mean: [0.286], std: [0.353] };

let report: ReportData | undefined;
async function mobilenetReport(): Promise<ReportData> {
  if (report) return report;
  const model = loadModel(path.join(shared, 'models/fmnist_mobilenetv2.onnx'));
  const calib = { dataset: openDataset(path.join(shared, 'data/fmnist/calib1000-images-idx3-ubyte.gz'), { limit: 100 }), preprocess: PRE, path: 'calib1000' };
  const data = { dataset: openDataset(path.join(shared, 'data/fmnist/t10k-images-idx3-ubyte.gz'), { limit: 32 }), preprocess: PRE, path: 't10k' };
  report = await buildReport(model, calib, data, { quant: { weightBits: 8, activationBits: 8 }, batchSize: 32, calibrationLimit: 100, sweepBits: [4, 8], comparisons: true });
  return report;
}

test('report on fmnist_mobilenetv2: per-tensor weights hurt the depthwise layers most, per-channel fixes them', async () => {
  const d = await mobilenetReport();
  assert.equal(d.layers.length, 32);
  const ranked = [...d.layers].sort((a, b) => granularityGain(b).gain - granularityGain(a).gain);
  const top3 = ranked.slice(0, 3);
  assert.ok(top3.filter((l) => l.kind === 'depthwise').length >= 2, `top 3: ${top3.map((l) => `${l.name} ${l.kind}`).join(', ')}`);
  for (const l of top3.filter((x) => x.kind === 'depthwise')) {
    const g = granularityGain(l);
    assert.equal(g.measure, 'weight-only output');
    assert.ok(g.gain > 8, `${l.name}: per-channel gains ${g.gain} dB`);
    assert.ok(l.weight.channels.spread > 20, `${l.name}: channel spread ${l.weight.channels.spread}`);
  }
  const depthwise = d.layers.filter((l) => l.kind === 'depthwise');
  const pointwise = d.layers.filter((l) => l.kind === 'pointwise');
  const meanGain = (ls: typeof d.layers) => ls.reduce((s, l) => s + granularityGain(l).gain, 0) / ls.length;
  assert.ok(meanGain(depthwise) > meanGain(pointwise), `depthwise gain ${meanGain(depthwise)} dB > pointwise ${meanGain(pointwise)} dB`);
  const md = renderMarkdown(d);
  assert.match(md, new RegExp(`lose the most are ${top3[0].name.replace(/^\//, '').replace(/\/Conv$/, '').replace(/[.]/g, '\\.')} \\(depthwise`));
  assert.match(md, /Depthwise convolutions are \d of these/);
  // the scale table carries the plan's numbers
  const csv = scalesCsv(d.layers).trim().split('\n');
  assert.equal(csv.length, 33);
  const json = JSON.parse(scalesJson(d.layers));
  assert.equal(json[0].layer, '/stem/stem.0/Conv');
  assert.equal(json[0].weightScales.length, 32);
  assert.ok(d.quantized.agreement >= 90 && d.float.accuracy > 80);
  assert.ok(d.bitSweep!.find((p) => p.weightBits === 4)!.evaluation.logitSqnrDb < d.bitSweep!.find((p) => p.weightBits === 8)!.evaluation.logitSqnrDb);
});

test('real report renders in headless Chromium with every plot (screenshot in test-results/)', { skip: !fs.existsSync(CHROMIUM) && 'chromium not installed (apt-get install -y chromium)' }, async () => {
  const d = await mobilenetReport();
  const html = renderHtml(d);
  assert.ok(!/<script/i.test(html) && !/(src|href)\s*=\s*"(https?:|\/\/)/i.test(html), 'self-contained');
  const outDir = path.join(root, 'test-results');
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'report-fmnist_mobilenetv2.html'), html);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  try {
    for (const scheme of ['light', 'dark'] as const) {
      const page = await browser.newPage({ colorScheme: scheme, viewport: { width: 1250, height: 900 } });
      const external: string[] = [];
      page.on('request', (r) => { if (!r.url().startsWith('data:') && r.url() !== 'about:blank') external.push(r.url()); });
      await page.setContent(html, { waitUntil: 'load' });
      const plots = await page.$$eval('svg.qi-plot', (els) => els.map((e) => { const b = e.getBoundingClientRect(); return { w: b.width, h: b.height, marks: e.querySelectorAll('rect, path, circle').length, kind: e.getAttribute('data-plot') }; }));
      assert.ok(plots.length >= 6, `plots: ${plots.length}`);
      for (const p of plots) assert.ok(p.w > 200 && p.h > 100 && p.marks > 2, JSON.stringify(p));
      assert.deepEqual([...new Set(plots.map((p) => p.kind))].sort(), ['bars', 'histogram', 'line']);
      const sections = await page.$$eval('section h2', (hs) => hs.map((h) => h.textContent));
      for (const s of ['Per-layer error and statistics', 'Histograms', 'Per-tensor against per-channel weights', 'Weight cost functions and calibration methods', 'Quantizing before and after the activation']) assert.ok(sections.includes(s), `section ${s}`);
      assert.ok(sections.some((s) => s?.startsWith('Integer dataflow of')));
      await page.screenshot({ path: path.join(outDir, `report-fmnist_mobilenetv2-${scheme}.png`), fullPage: true });
      assert.deepEqual(external, []);
      await page.close();
    }
  } finally {
    await browser.close();
  }
});
