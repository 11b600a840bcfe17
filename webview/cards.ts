/** The page's header (title, model line, actions), the busy bar, the run's accuracy cards and the sensitivity bars. */
import { accuracyDrop, bitsLabel, formatSigned, type QuantRun } from '../src/extension/results';
import { choicesLabel, layerChoiceList, shortLayerName } from '../src/extension/whatif';
import { custom, el } from './dom';
import { basename, isLayer, moduleName, page, vscode } from './state';

/** A node the job resumed from, as the summary names it: a layer by its module path, another node by its ONNX name. */
function nodeName(node: string): string {
  return isLayer(node) ? shortLayerName(node) : node;
}

/**
 * What a what-if run reused, in words: 'what-if in 0.8 s, resumed from layer3.0.conv2 · calibration reused · float pass
 * of 200 test images reused'. Any run with per-layer choices gets the first part; the rest only when the job said so.
 */
export function whatIfSummary(run: QuantRun): string | undefined {
  const choices = layerChoiceList(run.settings);
  if (!run.whatIfOf && choices.length === 0) return undefined;
  const r = run.reuse;
  const at = r?.resumedAt;
  const resumed = at?.evaluation ?? at?.biasCorrection;
  const parts = [`${run.whatIfOf ? 'what-if' : 'run'} in ${run.seconds.toFixed(1)} s${resumed ? `, resumed from ${nodeName(resumed)}` : ', not resumed (a full run)'}`];
  if (at?.biasCorrection && at.evaluation && at.biasCorrection !== at.evaluation) parts[0] += ` (bias correction from ${nodeName(at.biasCorrection)})`;
  if (r?.calibrationReused) parts.push('calibration reused');
  if (r?.floatPassReused) parts.push(`float pass of ${r.floatPassReused} test images reused`);
  return parts.join(' · ');
}

export function header(): HTMLElement {
  const model = page.model!;
  const s = model.summary;
  const info = s
    ? `${s.inputs.map((i) => `${i.name} [${i.dims.join('×')}]`).join(', ')} → ${s.outputs.map((o) => `${o.name} [${o.dims.join('×')}]`).join(', ')} · opset ${s.opset} · ${s.nodeCount} nodes · ${s.layers.length} conv/linear layers · ${(s.parameters / 1e3).toFixed(1)} k parameters${s.producer ? ` · ${s.producer}` : ''}`
    : '';
  const button = (id: string, label: string, command: string, appearance = 'secondary') => {
    const b = custom('vscode-button', { id, appearance }, label);
    b.addEventListener('click', () => vscode.postMessage({ type: 'command', command }));
    return b;
  };
  return el(
    'header',
    {},
    el('h1', { id: 'title' }, model.fileName),
    el('p', { class: 'muted', id: 'model-info' }, info),
    el('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Model actions' },
      button('btn-quantize', 'Quantize…', 'quantize', 'primary'),
      button('btn-sensitivity', 'Sensitivity', 'sensitivity'),
      button('btn-export', 'Export QDQ model', 'export'),
      button('btn-calibration', 'Calibration data…', 'selectCalibration'),
    ),
  );
}

const whatIfCount = (run: QuantRun) => {
  const n = layerChoiceList(run.settings).length;
  return n ? ` + ${n} layer choice${n > 1 ? 's' : ''}` : '';
};

export function busyBar(): HTMLElement {
  const bar = el('div', { id: 'busy', class: 'busy', role: 'status' });
  if (page.model!.busy) bar.append(custom('vscode-progress-ring', {}), el('span', { id: 'busy-text' }, page.model!.busy));
  else bar.hidden = true;
  return bar;
}

export function accuracyCards(): HTMLElement {
  const run = page.model!.run;
  const section = el('section', { id: 'accuracy', 'aria-label': 'Accuracy' });
  if (!run) {
    section.append(el('p', { class: 'muted', id: 'no-run' }, 'Not quantized yet. Run “Quantize…” (or the command “Quant Inspector: Quantize to N bits”) to see per-layer scales, errors and accuracy.'));
    return section;
  }
  const drop = accuracyDrop(run);
  const card = (label: string, value: string, id: string, cls = '') => el('div', { class: `card ${cls}` }, el('div', { class: 'card-label' }, label), el('div', { class: 'card-value', id }, value));
  section.append(
    el('div', { class: 'cards' },
      card('Setting', `${bitsLabel(run.settings.weightBits, run.settings.activationBits)} · ${run.settings.granularity} · ${run.settings.method}${whatIfCount(run)}`, 'run-setting'),
      card('Float accuracy', run.labelled === false ? 'no labels' : run.fp32Accuracy === undefined ? '—' : `${run.fp32Accuracy.toFixed(2)} %`, 'acc-float'),
      card('Quantized accuracy', run.quantizedAccuracy === undefined ? '—' : `${run.quantizedAccuracy.toFixed(2)} %`, 'acc-quant'),
      card('Δ accuracy', `${formatSigned(drop)} pts`, 'acc-delta', drop === undefined ? '' : drop < -1 ? 'poor' : drop < -0.3 ? 'fair' : 'good'),
      card('Top-1 agreement', run.agreement === undefined ? '—' : `${run.agreement.toFixed(2)} %`, 'acc-agree'),
      card(run.softmax ? 'Logit SQNR (before Softmax)' : 'Logit SQNR', run.logitSqnrDb === undefined ? '—' : `${run.logitSqnrDb.toFixed(1)} dB`, 'acc-sqnr'),
    ),
    el('p', { class: 'muted' }, `Calibrated on ${run.settings.calibrationImages} images of ${basename(run.settings.calibrationData)}; evaluated on ${run.settings.testImages} images${run.settings.testData ? ` of ${basename(run.settings.testData)}` : ''}; ${run.seconds.toFixed(1)} s; ${new Date(run.finishedAt).toLocaleString()}.`),
  );
  const summary = whatIfSummary(run);
  if (summary) {
    const base = run.whatIfOf && page.model!.runs.find((r) => r.id === run.whatIfOf!.id);
    section.append(el('p', { id: 'whatif-summary', class: 'whatif-summary' },
      el('strong', {}, 'What-if: '),
      layerChoiceList(run.settings).length ? choicesLabel(run.settings, page.model!.summary?.layers.map((l) => l.name)) : 'no per-layer choices',
      run.whatIfOf ? ` · of ${run.whatIfOf.label}${base ? '' : ' (no longer kept)'}` : '',
      el('br'),
      el('span', { id: 'whatif-timing' }, summary)));
  }
  if (run.floatNodes && run.floatNodes.length > 0) {
    const list = el('ul', { id: 'float-nodes' });
    for (const f of run.floatNodes) list.append(el('li', {}, el('code', {}, f.name), ` ${f.op}: ${f.reason}`));
    section.append(el('details', { class: 'float-nodes' }, el('summary', {}, `${run.floatNodes.length} node${run.floatNodes.length > 1 ? 's' : ''} ran in float (dequantized at their input)`), list));
  }
  return section;
}

export function sensitivitySection(): HTMLElement {
  const entries = page.model!.sensitivity;
  const section = el('section', { id: 'sensitivity' });
  if (!entries?.length) return section;
  const worst = Math.min(...entries.map((e) => e.deltaAccuracy), -0.01);
  section.append(el('h2', {}, 'Sensitivity (one layer quantized at a time)'));
  const list = el('ol', { class: 'bars' });
  for (const e of [...entries].sort((a, b) => a.deltaAccuracy - b.deltaAccuracy)) {
    const bar = el('span', { class: 'bar' });
    bar.style.width = `${Math.max(1, (e.deltaAccuracy / worst) * 100)}%`;
    list.append(el('li', {}, el('span', { class: 'bar-label' }, moduleName(e.layer)), bar, el('span', { class: 'num' }, `${formatSigned(e.deltaAccuracy)} pts`)));
  }
  section.append(list);
  return section;
}
