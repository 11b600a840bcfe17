// Runs inside the real VS Code extension host (code-server), against the embedded sample copied into the workspace.
const assert = require('assert');
const path = require('path');
const vscode = require('vscode');

const EXT_ID = 'quant-inspector.quant-inspector';
const ws = () => vscode.workspace.workspaceFolders[0].uri.fsPath;
const modelPath = () => path.join(ws(), 'resnet20_cifar10.onnx');
const codePath = () => path.join(ws(), 'resnet_cifar.py');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function api() {
  const ext = vscode.extensions.getExtension(EXT_ID);
  assert.ok(ext, `extension ${EXT_ID} is loaded`);
  return ext.activate();
}

/** CodeLens can take a moment (the model beside the file loads in the background): poll the provider. */
async function lensesUntil(uri, predicate, timeoutMs = 180000) {
  const t0 = Date.now();
  let lenses = [];
  while (Date.now() - t0 < timeoutMs) {
    lenses = (await vscode.commands.executeCommand('vscode.executeCodeLensProvider', uri)) || [];
    if (predicate(lenses)) return lenses;
    await sleep(300);
  }
  assert.fail(`CodeLens condition not met; lenses: ${JSON.stringify(lenses.map((l) => [l.range.start.line, l.command && l.command.title]))}`);
}

const lineOf = (doc, text) => doc.getText().split('\n').findIndex((l) => l.includes(text));

suite('Quant Inspector in the VS Code extension host', () => {
  test('activates and registers its commands', async () => {
    const { controller } = await api();
    assert.ok(controller, 'activate() returns the controller');
    const all = await vscode.commands.getCommands(true);
    for (const c of ['quantize', 'showLayerReport', 'runSensitivity', 'exportQuantized', 'selectCalibrationData']) {
      assert.ok(all.includes(`quantInspector.${c}`), `command quantInspector.${c}`);
    }
  });

  test('opens *.onnx in the custom editor by default and loads the model summary in the worker', async () => {
    const { controller } = await api();
    await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(modelPath()));
    const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
    assert.ok(tab.input instanceof vscode.TabInputCustom, 'custom editor tab');
    assert.strictEqual(tab.input.viewType, 'quantInspector.onnxEditor');
    const summary = await controller.summary(modelPath());
    assert.strictEqual(summary.layers.length, 20, '19 conv + 1 fc');
    assert.strictEqual(summary.layers[0].name, '/conv1/Conv');
    assert.deepStrictEqual(summary.layers[0].weightDims, [16, 3, 3, 3]);
    assert.strictEqual(summary.layers[19].name, '/linear/Gemm');
    assert.deepStrictEqual(summary.inputs[0].dims, ['batch', 3, 32, 32]);
  });

  test('a broken model file is refused with a message naming it; the editor shows the error', async () => {
    const { controller } = await api();
    const bad = path.join(ws(), 'broken.onnx');
    await vscode.workspace.fs.writeFile(vscode.Uri.file(bad), Buffer.from('this is not an ONNX model at all'));
    await assert.rejects(controller.summary(bad), (e) => e.name === 'InputError' && e.message.includes('broken.onnx'));
    await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(bad));
    assert.strictEqual(vscode.window.tabGroups.activeTabGroup.activeTab.input.viewType, 'quantInspector.onnxEditor');
    assert.strictEqual((await controller.summary(modelPath())).layers.length, 20, 'the loader worker still works');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('CodeLens on the model definition maps ONNX layers to their lines before any run', async () => {
    const doc = await vscode.workspace.openTextDocument(codePath());
    await vscode.window.showTextDocument(doc);
    const rootConv1 = lineOf(doc, 'self.conv1 = nn.Conv2d(3, 16');
    const blockConv1 = lineOf(doc, 'self.conv1 = nn.Conv2d(in_planes');
    const linear = lineOf(doc, 'self.linear = nn.Linear');
    const lenses = await lensesUntil(doc.uri, (ls) => ls.some((l) => l.range.start.line === linear));
    const title = (line) => lenses.filter((l) => l.range.start.line === line).map((l) => l.command.title).join(' | ');
    assert.strictEqual(title(rootConv1), 'conv1 · not quantized yet');
    assert.strictEqual(title(blockConv1), 'conv1 ×9 · not quantized yet', 'BasicBlock.conv1 is 9 layers (3 stages × 3 blocks)');
    assert.strictEqual(title(linear), 'linear · not quantized yet');
    assert.strictEqual(title(lineOf(doc, 'self.bn1 = nn.BatchNorm2d(16)')), '', 'BatchNorm was folded: no layer');
  });

  test('W8A8 run: results stored, CodeLens and hover show the layer error', async function () {
    this.timeout(300000);
    const { controller } = await api();
    const run = await vscode.commands.executeCommand('quantInspector.quantizeWith', vscode.Uri.file(modelPath()), { weightBits: 8, activationBits: 8, calibrationImages: 64, testImages: 100 });
    assert.ok(run, `quantize returned a run (last job: ${JSON.stringify(controller.lastJob)})`);
    assert.strictEqual(run.layers.length, 20);
    assert.ok(run.fp32Accuracy > 85, `float accuracy on 100 sample images ${run.fp32Accuracy}`);
    assert.ok(Math.abs(run.quantizedAccuracy - run.fp32Accuracy) <= 3, `W8A8 close to float: ${run.quantizedAccuracy} vs ${run.fp32Accuracy}`);
    const conv1 = run.layers.find((l) => l.name === '/conv1/Conv');
    assert.strictEqual(conv1.weightBits, 8);
    assert.ok(conv1.outputSqnrDb > 20 && conv1.outputSqnrDb < 70, `conv1 output SQNR ${conv1.outputSqnrDb}`);
    assert.strictEqual(conv1.weightHistogram.counts.reduce((a, b) => a + b, 0), 16 * 3 * 3 * 3, 'weight histogram holds every weight');
    assert.strictEqual(conv1.activationHistogram.counts.reduce((a, b) => a + b, 0), 32 * 16 * 32 * 32, 'activation histogram: 32 images × 16×32×32');
    assert.deepStrictEqual(conv1.dataflow.slice(0, 3).map((s) => s.bits), [8, 16, 19], 'int8 codes, 16-bit products, 19-bit accumulator (K = 27)');
    assert.deepStrictEqual(controller.store.run(modelPath()).settings.weightBits, 8, 'persisted in workspace storage');

    const doc = await vscode.workspace.openTextDocument(codePath());
    const rootConv1 = lineOf(doc, 'self.conv1 = nn.Conv2d(3, 16');
    const expected = `conv1 · W8A8 · SQNR ${conv1.outputSqnrDb.toFixed(1)} dB`;
    await lensesUntil(doc.uri, (ls) => ls.some((l) => l.range.start.line === rootConv1 && l.command.title === expected));
    const hovers = await vscode.commands.executeCommand('vscode.executeHoverProvider', doc.uri, new vscode.Position(rootConv1, 14));
    const text = hovers.flatMap((h) => h.contents.map((c) => c.value || String(c))).join('\n');
    assert.match(text, /Quant Inspector/);
    assert.ok(text.includes(`${conv1.outputSqnrDb.toFixed(1)} dB`), text);
    assert.match(text, /command:quantInspector\.openLayer/);
  });

  test('sensitivity: each layer quantized alone gives a Δacc per layer, shown in CodeLens', async function () {
    this.timeout(300000);
    const { controller } = await api();
    await vscode.workspace.getConfiguration('quantInspector').update('calibrationImages', 32, vscode.ConfigurationTarget.Workspace);
    await vscode.workspace.getConfiguration('quantInspector').update('testImages', 50, vscode.ConfigurationTarget.Workspace);
    await controller.store.setChoice(modelPath(), { weightBits: 4, activationBits: 4 });
    const entries = await vscode.commands.executeCommand('quantInspector.runSensitivity', vscode.Uri.file(modelPath()));
    assert.ok(entries, `sensitivity returned entries (last job: ${JSON.stringify(controller.lastJob)})`);
    assert.strictEqual(entries.length, 20);
    for (const e of entries) assert.ok(Number.isFinite(e.deltaAccuracy) && e.deltaAccuracy <= 100 && e.deltaAccuracy >= -100, JSON.stringify(e));
    assert.ok(entries.some((e) => e.deltaAccuracy < 0), 'some layer costs accuracy at W4A4');
    const stored = controller.store.run(modelPath());
    const conv1 = stored.layers.find((l) => l.name === '/conv1/Conv');
    assert.strictEqual(conv1.deltaAccuracy, entries.find((e) => e.layer === '/conv1/Conv').deltaAccuracy, 'Δacc merged into the stored run');
    const doc = await vscode.workspace.openTextDocument(codePath());
    const rootConv1 = lineOf(doc, 'self.conv1 = nn.Conv2d(3, 16');
    await lensesUntil(doc.uri, (ls) => ls.some((l) => l.range.start.line === rootConv1 && /· Δacc [+−]\d+\.\d\d pts$/.test(l.command.title)));
  });

  test('Show Layer Report builds the HTML layer report at the run\'s settings', async function () {
    this.timeout(300000);
    const { controller } = await api();
    const report = await vscode.commands.executeCommand('quantInspector.showLayerReport', vscode.Uri.file(modelPath()));
    assert.ok(report, JSON.stringify(controller.lastJob));
    assert.match(report.html, /<h1>Quantization report: resnet20_cifar10\.onnx<\/h1>/);
    assert.doesNotMatch(report.html, /<script/i, 'no scripts in the report panel');
    assert.match(report.markdown, /layer1\.0\.conv1|\/layer1\/layer1\.0\/conv1\/Conv/);
    const labels = () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).map((t) => t.label);
    for (let i = 0; i < 1200 && !labels().includes('Report: resnet20_cifar10.onnx'); i++) await sleep(100); // up to 2 minutes on a busy machine
    assert.ok(labels().includes('Report: resnet20_cifar10.onnx'), `report panel open; tabs: ${JSON.stringify(labels())}`);
  });

  test('export writes a QDQ ONNX model for the last run', async function () {
    this.timeout(300000);
    const { controller } = await api();
    const run = controller.store.run(modelPath());
    const target = path.join(ws(), 'exported.qdq.onnx');
    const out = await controller.runJob(modelPath(), 'export', 'export test', { modelPath: modelPath(), outputPath: target, ...run.settings, calibrationImages: 32 });
    assert.ok(out && out.exported === target, JSON.stringify(controller.lastJob));
    const bytes = await vscode.workspace.fs.readFile(vscode.Uri.file(target));
    assert.ok(bytes.byteLength > 100000, `exported ${bytes.byteLength} bytes`);
    assert.ok(Buffer.from(bytes).includes('QuantizeLinear'), 'has QuantizeLinear nodes');
  });

  test('cancelling a run mid-calibration terminates the worker and leaves the editor usable', async function () {
    this.timeout(300000);
    const { controller } = await api();
    const before = controller.store.run(modelPath());
    const pending = vscode.commands.executeCommand('quantInspector.quantizeWith', vscode.Uri.file(modelPath()), { weightBits: 6, activationBits: 6, calibrationImages: 500, testImages: 500 });
    const t0 = Date.now();
    while (!(controller.jobs.busy && controller.jobs.workerThreadId !== undefined) && Date.now() - t0 < 180000) await sleep(20);
    assert.ok(controller.jobs.busy, 'job started');
    await sleep(300); // inside calibration
    await vscode.commands.executeCommand('quantInspector.cancelJob');
    const result = await pending;
    assert.strictEqual(result, undefined, 'cancelled run returns nothing');
    assert.strictEqual(controller.lastJob.outcome, 'cancelled');
    assert.strictEqual(controller.jobs.workerThreadId, undefined, 'no worker left');
    assert.strictEqual(controller.jobs.busy, false);
    assert.deepStrictEqual(controller.store.run(modelPath()), before, 'stored results unchanged');
    // usable afterwards: a fresh worker runs the next job
    const started = controller.jobs.startedWorkers;
    const run = await vscode.commands.executeCommand('quantInspector.quantizeWith', vscode.Uri.file(modelPath()), { weightBits: 8, activationBits: 8, calibrationImages: 32, testImages: 50 });
    assert.ok(run && run.layers.length === 20, 'next run works');
    assert.strictEqual(controller.jobs.startedWorkers, started + 1, 'a new worker replaced the terminated one');
  });
});
