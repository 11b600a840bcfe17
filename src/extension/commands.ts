/** The "Quant Inspector" palette commands. */
import * as path from 'path';
import * as vscode from 'vscode';
import type { Controller } from './controller';
import { VIEW_TYPE } from './editor';
import { reportJobOptions } from './results';
import { METHODS, readSettings } from './settings';

const METHOD_INFO: Record<string, string> = {
  minmax: 'min/max of the calibration activations',
  percentile: 'clip at the 99.999th percentile (default)',
  sigma3: 'mean ± 3 standard deviations',
  mse: 'range minimising the quantization MSE',
  entropy: 'KL-divergence (TensorRT-style) calibration',
};

async function resolveModel(controller: Controller, arg: unknown): Promise<string | undefined> {
  if (arg instanceof vscode.Uri) return arg.fsPath;
  if (typeof arg === 'string' && arg.endsWith('.onnx')) return arg;
  if (controller.activeModelPath) return controller.activeModelPath;
  const found = await vscode.workspace.findFiles('**/*.onnx', '**/node_modules/**', 50);
  if (found.length === 1) return found[0].fsPath;
  const pick = await vscode.window.showQuickPick(
    found.map((u) => ({ label: path.basename(u.fsPath), description: vscode.workspace.asRelativePath(u), uri: u })),
    { title: 'Quant Inspector: which model?' },
  );
  return pick?.uri.fsPath;
}

async function pickBits(title: string, last: number): Promise<number | undefined> {
  const order = [last, ...[8, 7, 6, 5, 4, 3, 2].filter((b) => b !== last)];
  const pick = await vscode.window.showQuickPick(
    order.map((b) => ({ label: String(b), description: b === last ? 'last used' : b === 8 ? 'int8' : `int${b}` })),
    { title, placeHolder: 'bits (type a number, Enter to accept)', ignoreFocusOut: true },
  );
  return pick ? Number(pick.label) : undefined;
}

async function browseData(): Promise<string | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title: 'Calibration data: CIFAR-10 .bin, IDX images file, or a folder of class folders',
    canSelectFiles: true,
    canSelectFolders: true,
    canSelectMany: false,
  });
  return picked?.[0]?.fsPath;
}

async function pickCalibration(controller: Controller, modelPath: string, last?: string): Promise<string | undefined> {
  const defaults = controller.dataDefaults(modelPath);
  const candidates = [...new Set([last, defaults.calibration].filter((p): p is string => !!p))];
  const items: (vscode.QuickPickItem & { value?: string })[] = candidates.map((p, i) => ({
    label: path.basename(p),
    description: p === last ? 'last used' : i === 0 ? 'default' : '',
    detail: p,
    value: p,
  }));
  items.push({ label: 'Browse…', description: 'choose a file or folder' });
  const pick = await vscode.window.showQuickPick(items, { title: 'Quantize (3/4): calibration data', matchOnDetail: true, ignoreFocusOut: true });
  if (!pick) return undefined;
  return pick.value ?? (await browseData());
}

export function registerCommands(ctx: vscode.ExtensionContext, controller: Controller): void {
  const reg = (id: string, fn: (...args: unknown[]) => unknown) => ctx.subscriptions.push(vscode.commands.registerCommand(id, fn));

  reg('quantInspector.quantize', async (arg) => {
    const modelPath = await resolveModel(controller, arg);
    if (!modelPath) return undefined;
    const s = readSettings(vscode.Uri.file(modelPath));
    const last = controller.store.choice(modelPath);
    const weightBits = await pickBits('Quantize (1/4): weight bits', last.weightBits ?? s.weightBits);
    if (weightBits === undefined) return undefined;
    const activationBits = await pickBits('Quantize (2/4): activation bits', last.activationBits ?? s.activationBits);
    if (activationBits === undefined) return undefined;
    const calibrationData = await pickCalibration(controller, modelPath, last.calibrationData);
    if (!calibrationData) return undefined;
    const lastMethod = last.method ?? s.method;
    const methodPick = await vscode.window.showQuickPick(
      [lastMethod, ...METHODS.filter((m) => m !== lastMethod)].map((m) => ({ label: m, description: METHOD_INFO[m] ?? '' })),
      { title: 'Quantize (4/4): activation calibration method', ignoreFocusOut: true },
    );
    if (!methodPick) return undefined;
    await controller.store.setChoice(modelPath, { weightBits, activationBits, calibrationData, method: methodPick.label });
    return runQuantize(controller, modelPath, { weightBits, activationBits, calibrationData, method: methodPick.label });
  });

  /** Same job without the questions (tests, scripts): quantInspector.quantizeWith(uri, {weightBits, activationBits, ...}). */
  reg('quantInspector.quantizeWith', async (arg, opts) => {
    const modelPath = await resolveModel(controller, arg);
    if (!modelPath) return undefined;
    const o = (typeof opts === 'object' && opts !== null ? opts : {}) as Record<string, unknown>;
    const s = readSettings(vscode.Uri.file(modelPath));
    const bits = (v: unknown, d: number) => (typeof v === 'number' && Number.isInteger(v) && v >= 2 && v <= 16 ? v : d);
    return runQuantize(controller, modelPath, {
      weightBits: bits(o.weightBits, s.weightBits),
      activationBits: bits(o.activationBits, s.activationBits),
      calibrationData: typeof o.calibrationData === 'string' ? o.calibrationData : controller.dataDefaults(modelPath).calibration ?? '',
      method: typeof o.method === 'string' && (METHODS as readonly string[]).includes(o.method) ? o.method : s.method,
      calibrationImages: typeof o.calibrationImages === 'number' ? o.calibrationImages : undefined,
      testImages: typeof o.testImages === 'number' ? o.testImages : undefined,
    });
  });

  reg('quantInspector.showLayerReport', async (arg) => {
    const modelPath = await resolveModel(controller, arg);
    if (!modelPath) return;
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(modelPath), VIEW_TYPE);
    controller.showReport(modelPath);
    const run = controller.store.run(modelPath);
    if (!run) {
      void vscode.window.showInformationMessage('No quantization run for this model yet: run "Quant Inspector: Quantize to N bits".');
      return undefined;
    }
    const s = readSettings(vscode.Uri.file(modelPath));
    const report = await controller.runJob<{ html: string; markdown: string }>(modelPath, 'report', `Layer report of ${path.basename(modelPath)}`,
      reportJobOptions(modelPath, run.settings, { maxModelSizeMB: s.maxModelSizeMB, maxTensorElements: s.maxTensorElements }));
    if (!report || typeof report.html !== 'string') return undefined;
    controller.showReportPanel(modelPath, report.html);
    return report;
  });

  reg('quantInspector.runSensitivity', async (arg) => {
    const modelPath = await resolveModel(controller, arg);
    if (!modelPath) return undefined;
    const s = readSettings(vscode.Uri.file(modelPath));
    const last = controller.store.choice(modelPath);
    const defaults = controller.dataDefaults(modelPath);
    return controller.sensitivity(modelPath, {
      weightBits: last.weightBits ?? s.weightBits,
      activationBits: last.activationBits ?? s.activationBits,
      method: last.method ?? s.method,
      granularity: s.granularity,
      calibrationData: last.calibrationData ?? defaults.calibration,
      testData: defaults.test,
      calibrationImages: s.calibrationImages,
      testImages: Math.min(s.testImages, 200),
      maxModelSizeMB: s.maxModelSizeMB,
      maxTensorElements: s.maxTensorElements,
    });
  });

  reg('quantInspector.exportQuantized', async (arg) => {
    const modelPath = await resolveModel(controller, arg);
    if (!modelPath) return undefined;
    const run = controller.store.run(modelPath);
    if (!run) {
      void vscode.window.showWarningMessage('Quantize the model first ("Quant Inspector: Quantize to N bits"); the export uses that run\'s settings.');
      return undefined;
    }
    const target = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.file(modelPath.replace(/\.onnx$/i, `.${'w' + run.settings.weightBits + 'a' + run.settings.activationBits}.qdq.onnx`)),
      filters: { ONNX: ['onnx'] },
    });
    if (!target) return undefined;
    const s = readSettings(vscode.Uri.file(modelPath));
    const out = await controller.runJob(modelPath, 'export', `Export ${path.basename(target.fsPath)}`, {
      modelPath,
      outputPath: target.fsPath,
      ...run.settings,
      maxModelSizeMB: s.maxModelSizeMB,
      maxTensorElements: s.maxTensorElements,
    });
    if (out !== undefined) void vscode.window.showInformationMessage(`Quantized model written to ${target.fsPath}`);
    return out;
  });

  reg('quantInspector.selectCalibrationData', async (arg) => {
    const modelPath = await resolveModel(controller, arg);
    if (!modelPath) return undefined;
    const chosen = await pickCalibration(controller, modelPath, controller.store.choice(modelPath).calibrationData);
    if (chosen) {
      await controller.store.setChoice(modelPath, { calibrationData: chosen });
      controller.log(`calibration data for ${modelPath}: ${chosen}`);
    }
    return chosen;
  });

  reg('quantInspector.openLayer', async (modelPath, layer) => {
    if (typeof modelPath !== 'string' || typeof layer !== 'string') return;
    await controller.openLayer(modelPath, layer);
  });

  reg('quantInspector.cancelJob', async () => {
    await controller.jobs.cancel();
  });
}

async function runQuantize(
  controller: Controller,
  modelPath: string,
  choice: { weightBits: number; activationBits: number; calibrationData: string; method: string; calibrationImages?: number; testImages?: number },
) {
  const s = readSettings(vscode.Uri.file(modelPath));
  if (!choice.calibrationData) {
    void vscode.window.showErrorMessage('Quant Inspector: no calibration data chosen (setting quantInspector.calibrationData, a sidecar, or "Select Calibration Data").');
    return undefined;
  }
  return controller.quantize(modelPath, {
    weightBits: choice.weightBits,
    activationBits: choice.activationBits,
    method: choice.method,
    granularity: s.granularity,
    calibrationData: choice.calibrationData,
    testData: controller.dataDefaults(modelPath).test,
    calibrationImages: choice.calibrationImages ?? s.calibrationImages,
    testImages: choice.testImages ?? s.testImages,
  });
}
