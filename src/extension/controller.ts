/** The extension's state and actions: models, editors, jobs, stored results, code mapping, status bar. */
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { findSidecar } from '../data/sidecar';
import { CancelledError, errorMessage, InputError } from '../util/errors';
import { JobClient } from '../worker/client';
import type { JobKind } from '../worker/protocol';
import type { ModelSummary } from '../worker/summary';
import { forwardLocationFromMetadata, mapLayersToCode, parsePythonClasses, type LayerLocation, type SourceFile } from './codemap';
import { isInsideFolders } from './messages';
import { accuracyDrop, bitsLabel, formatSigned, quantizeJobOptions, quantRunFrom, type LayerResult, type QuantRun, type RunSettings, type SensitivityEntry } from './results';
import { inputShapeFor, preprocessingFor, readSettings } from './settings';
import { isUnresolvedShapeMessage, parseImageShape } from '../graph/input-shape';
import type { ResultStore } from './store';
import { applyLayerChanges, choicesLabel, hasLayerChoices, sameLayerChoices, type LayerChange } from './whatif';

export interface View {
  modelPath: string;
  panel: vscode.WebviewPanel;
}

export interface CodeLine {
  line: number;
  column: number;
  attribute: string;
  modelPath: string;
  layers: { name: string; modulePath: string; result?: LayerResult }[];
}

const MAX_SOURCE_BYTES = 2 * 2 ** 20;

export class Controller {
  private readonly views = new Set<View>();
  private readonly summaries = new Map<string, ModelSummary>();
  private readonly codeCache = new Map<string, { key: string; lines: CodeLine[] }>();
  private activeModel: string | undefined;
  private codeChanged: () => void = () => {};
  /** Last job outcome, for tests and the status line. */
  lastJob: { job: JobKind; outcome: 'done' | 'cancelled' | 'failed'; message?: string } | undefined;

  constructor(
    readonly store: ResultStore,
    readonly jobs: JobClient,
    private readonly loader: JobClient,
    private readonly output: vscode.LogOutputChannel,
    private readonly statusBar: vscode.StatusBarItem,
  ) {}

  onCodeChanged(fn: () => void): void {
    this.codeChanged = fn;
  }

  log(line: string): void {
    this.output.info(line);
  }

  // ---------- editors ----------

  attachView(modelPath: string, panel: vscode.WebviewPanel): View {
    const view = { modelPath, panel };
    this.views.add(view);
    return view;
  }

  detachView(view: View): void {
    this.views.delete(view);
  }

  openViews(): View[] {
    return [...this.views];
  }

  setActiveModel(modelPath: string): void {
    this.activeModel = modelPath;
    this.updateStatusBar();
  }

  get activeModelPath(): string | undefined {
    return this.activeModel;
  }

  private post(modelPath: string, message: unknown): void {
    for (const v of this.views) if (v.modelPath === modelPath) void v.panel.webview.postMessage(message);
  }

  async sendInit(view: View): Promise<void> {
    const runs = this.store.runs(view.modelPath);
    const run = runs[0];
    let summary: ModelSummary | undefined;
    let error: string | undefined;
    try {
      summary = await this.summary(view.modelPath);
    } catch (e) {
      error = errorMessage(e);
      this.output.error(`${view.modelPath}: ${error}`);
    }
    void view.panel.webview.postMessage({
      type: 'init',
      modelPath: view.modelPath,
      fileName: path.basename(view.modelPath),
      summary,
      error,
      run,
      runs,
      classNames: this.classNames(view.modelPath),
      sensitivity: this.store.sensitivity(view.modelPath),
      code: summary ? this.codeLocations(view.modelPath).map((l) => ({ layer: l.layer, modulePath: l.modulePath, file: path.basename(l.file), line: l.line + 1 })) : [],
      busy: this.jobs.busy ? this.busyMessage : undefined,
    });
  }

  /** Class names from the model's sidecar (`labels`), for the flipped decisions of a comparison; none when it has none. */
  private classNames(modelPath: string): string[] | undefined {
    try {
      return findSidecar(modelPath)?.labels?.slice(0, 100000);
    } catch {
      return undefined; // a broken sidecar is reported where the jobs read it
    }
  }

  private busyMessage = '';
  private loaderQueue: Promise<unknown> = Promise.resolve();
  private readonly loading = new Map<string, Promise<ModelSummary>>();

  async summary(modelPath: string): Promise<ModelSummary> {
    const cached = this.summaries.get(modelPath);
    if (cached) return cached;
    const inFlight = this.loading.get(modelPath);
    if (inFlight) return inFlight;
    const s = readSettings(vscode.Uri.file(modelPath));
    // one loader worker, one job at a time: queue behind whatever it is loading
    const job = this.loaderQueue.then(() => this.loader.run<ModelSummary>('summary', { modelPath, maxModelSizeMB: s.maxModelSizeMB, maxTensorElements: s.maxTensorElements }));
    this.loaderQueue = job.catch(() => undefined);
    this.loading.set(modelPath, job);
    let summary: ModelSummary;
    try {
      summary = await job;
    } finally {
      this.loading.delete(modelPath);
    }
    this.summaries.set(modelPath, summary);
    this.log(`loaded ${modelPath}: ${summary.layers.length} layers, ${summary.nodeCount} nodes`);
    this.codeCache.clear(); // its layers may map to lines of open Python files
    this.codeChanged();
    return summary;
  }

  layerNameSet(modelPath: string): Set<string> {
    const names = new Set<string>();
    for (const l of this.summaries.get(modelPath)?.layers ?? []) names.add(l.name);
    for (const l of this.store.run(modelPath)?.layers ?? []) names.add(l.name);
    return names;
  }

  // ---------- status bar ----------

  updateStatusBar(): void {
    const run = this.activeModel ? this.store.run(this.activeModel) : undefined;
    if (!this.activeModel) {
      this.statusBar.hide();
      return;
    }
    if (!run) {
      this.statusBar.text = '$(circuit-board) not quantized';
      this.statusBar.tooltip = `${path.basename(this.activeModel)}: run Quantize to N bits`;
    } else {
      const drop = accuracyDrop(run);
      this.statusBar.text = `$(circuit-board) ${bitsLabel(run.settings.weightBits, run.settings.activationBits)}${hasLayerChoices(run.settings) ? '+' : ''} · Δacc ${formatSigned(drop)} pts`;
      this.statusBar.tooltip = `${path.basename(run.modelPath)}: float ${run.fp32Accuracy?.toFixed(2) ?? '—'}% → quantized ${run.quantizedAccuracy?.toFixed(2) ?? '—'}% (${run.settings.method}, ${run.settings.granularity})`;
    }
    this.statusBar.command = 'quantInspector.quantize';
    this.statusBar.show();
  }

  // ---------- jobs ----------

  /** Runs a job with a cancellable progress notification; the editors show the same progress. */
  async runJob<T>(modelPath: string, job: JobKind, title: string, options: Record<string, unknown>): Promise<T | undefined> {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('Quant Inspector runs jobs on workspace data only in trusted workspaces.');
      return undefined;
    }
    if (this.jobs.busy) {
      void vscode.window.showWarningMessage(`Quant Inspector is still running ${this.busyMessage}; cancel it first.`);
      return undefined;
    }
    const started = Date.now();
    const settings = readSettings(vscode.Uri.file(modelPath));
    options = { inputShape: inputShapeFor(settings, modelPath), resizeImages: settings.resizeImages, ...options };
    this.log(`${job} started: ${JSON.stringify(options)}`);
    this.busyMessage = title;
    this.post(modelPath, { type: 'busy', busy: true, message: title, fraction: 0 });
    try {
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Quant Inspector: ${title}`, cancellable: true },
        (progress, token) => {
          let reported = 0;
          token.onCancellationRequested(() => {
            this.log(`${job} cancelled by the user; terminating worker`);
            void this.jobs.cancel();
          });
          return this.jobs.run<T>(job, options, {
            onProgress: (fraction, message) => {
              const pct = Math.round(fraction * 100);
              progress.report({ increment: Math.max(0, pct - reported), message: `${message} (${pct}%)` });
              reported = Math.max(reported, pct);
              this.post(modelPath, { type: 'busy', busy: true, message: `${title}: ${message}`, fraction });
            },
          });
        },
      );
      this.log(`${job} finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      this.lastJob = { job, outcome: 'done' };
      return result;
    } catch (e) {
      const cancelled = e instanceof CancelledError;
      this.lastJob = { job, outcome: cancelled ? 'cancelled' : 'failed', message: errorMessage(e) };
      if (cancelled) {
        this.log(`${job} cancelled; worker terminated`);
        void vscode.window.showInformationMessage(`Quant Inspector: ${title} cancelled.`);
      } else if (e instanceof InputError && isUnresolvedShapeMessage(errorMessage(e)) && options.inputShape === undefined) {
        // nothing fixed the model's symbolic image size: ask for it, keep it in the setting, run again once
        const chw = await this.askInputShape(modelPath);
        if (chw) {
          this.busyMessage = '';
          this.post(modelPath, { type: 'busy', busy: false });
          return this.runJob<T>(modelPath, job, title, { ...options, inputShape: chw });
        }
        this.post(modelPath, { type: 'error', message: errorMessage(e) });
      } else {
        this.output.error(`${job} failed: ${errorMessage(e)}${e instanceof InputError ? '' : `\n${(e as Error).stack ?? ''}`}`);
        void vscode.window.showErrorMessage(`Quant Inspector: ${errorMessage(e)}`);
        this.post(modelPath, { type: 'error', message: errorMessage(e) });
      }
      return undefined;
    } finally {
      this.busyMessage = '';
      this.post(modelPath, { type: 'busy', busy: false });
    }
  }

  /** Asks for the image size [C,H,W] of a model whose input leaves it symbolic; keeps it in quantInspector.inputShape. */
  async askInputShape(modelPath: string): Promise<number[] | undefined> {
    const file = path.basename(modelPath);
    const text = await vscode.window.showInputBox({
      title: `Quant Inspector: image size of ${file}`,
      prompt: `${file} leaves its input's height / width symbolic and nothing fixed them: give channels, height, width`,
      placeHolder: '3,224,224',
      validateInput: (v) => (imageShapeOf(v) ? undefined : 'three positive whole numbers C,H,W, e.g. 3,224,224'),
    });
    const chw = text === undefined ? undefined : imageShapeOf(text);
    if (!chw) return undefined;
    const config = vscode.workspace.getConfiguration('quantInspector', vscode.Uri.file(modelPath));
    const target = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
    await config.update('inputShape', { ...config.get<Record<string, number[]>>('inputShape', {}), [file]: chw }, target);
    this.log(`input shape of ${file} set to [${chw.join(', ')}] (setting quantInspector.inputShape)`);
    return chw;
  }

  /** The model's conv / linear layer names in model order (labels and per-layer maps list them so). */
  layerOrder(modelPath: string): string[] {
    return (this.summaries.get(modelPath)?.layers ?? this.store.run(modelPath)?.layers ?? []).map((l) => l.name);
  }

  /**
   * A what-if from the editor: the kept run `baseId` again with the per-layer changes (its settings, data and
   * image counts, plus per-layer weight / activation bits and layers kept in float). The result is kept as a run
   * like any other, with `whatIfOf` naming its base; the editor shows it at once, compared with the base.
   */
  async whatIf(modelPath: string, baseId: string, changes: readonly LayerChange[]): Promise<QuantRun | undefined> {
    const base = this.store.runs(modelPath).find((r) => r.id === baseId);
    if (!base) {
      void vscode.window.showWarningMessage('Quant Inspector: the run this what-if starts from is no longer kept.');
      return undefined;
    }
    const order = this.layerOrder(modelPath);
    const settings = applyLayerChanges(base.settings, changes, order);
    if (sameLayerChoices(settings, base.settings)) {
      void vscode.window.showInformationMessage('Quant Inspector: the what-if changes nothing of the shown run.');
      return undefined;
    }
    const what = hasLayerChoices(settings) ? choicesLabel(settings, order) : 'no per-layer choices';
    this.log(`what-if of run ${base.id} (${base.label}): ${what}`);
    return this.quantize(modelPath, settings, { title: `What-if on ${path.basename(modelPath)}: ${bitsLabel(settings.weightBits, settings.activationBits)} + ${what}`, whatIfOf: base });
  }

  async quantize(modelPath: string, settings: RunSettings, opts: { title?: string; whatIfOf?: QuantRun } = {}): Promise<QuantRun | undefined> {
    const s = readSettings(vscode.Uri.file(modelPath));
    const pre = preprocessingFor(s, modelPath);
    const started = Date.now();
    const raw = await this.runJob<unknown>(modelPath, 'quantize', opts.title ?? `Quantize ${path.basename(modelPath)} to ${bitsLabel(settings.weightBits, settings.activationBits)}`, quantizeJobOptions(modelPath, settings, {
      mean: pre.mean,
      std: pre.std,
      maxModelSizeMB: s.maxModelSizeMB,
      maxTensorElements: s.maxTensorElements,
    }));
    if (raw === undefined) return undefined;
    const run = quantRunFrom(raw, modelPath, settings, (Date.now() - started) / 1000, this.layerOrder(modelPath));
    if (opts.whatIfOf) run.whatIfOf = { id: opts.whatIfOf.id!, label: opts.whatIfOf.label ?? '' };
    const sens = this.store.sensitivity(modelPath);
    if (sens) for (const l of run.layers) l.deltaAccuracy = sens.find((e) => e.layer === l.name)?.deltaAccuracy;
    const stored = await this.store.addRun(modelPath, run);
    const reuse = stored.reuse;
    const resumed = reuse?.resumedAt?.evaluation ?? reuse?.resumedAt?.biasCorrection;
    this.log(`kept run ${stored.id} (${stored.label}) in ${stored.seconds.toFixed(1)} s${resumed ? `, resumed from ${resumed}` : ''}${reuse?.calibrationReused ? ', calibration reused' : ''}; ${this.store.runs(modelPath).length} runs kept for ${path.basename(modelPath)}`);
    this.afterResults(modelPath);
    return stored;
  }

  async sensitivity(modelPath: string, options: Record<string, unknown>): Promise<SensitivityEntry[] | undefined> {
    const raw = await this.runJob<unknown>(modelPath, 'sensitivity', `Sensitivity of ${path.basename(modelPath)}`, { modelPath, ...options });
    if (!Array.isArray(raw)) return undefined;
    const entries = raw.flatMap((e: Record<string, unknown>) =>
      typeof e?.layer === 'string' && typeof e.deltaAccuracy === 'number' ? [{ layer: e.layer, deltaAccuracy: e.deltaAccuracy, sqnrDb: typeof e.sqnrDb === 'number' ? e.sqnrDb : undefined }] : [],
    );
    await this.store.setSensitivity(modelPath, entries);
    const run = this.store.run(modelPath);
    if (run) {
      for (const l of run.layers) l.deltaAccuracy = entries.find((e) => e.layer === l.name)?.deltaAccuracy;
      await this.store.setRun(modelPath, run);
    }
    this.afterResults(modelPath);
    return entries;
  }

  /** Forgets one kept run of the model (the editor's Runs part); the editors show what is left. */
  async removeRun(modelPath: string, id: string): Promise<boolean> {
    const removed = await this.store.removeRun(modelPath, id);
    if (removed) {
      this.log(`removed run ${id} of ${path.basename(modelPath)}`);
      this.afterResults(modelPath);
    }
    return removed;
  }

  /** Ids of the model's kept runs (the editor may name only these). */
  runIdSet(modelPath: string): Set<string> {
    return new Set(this.store.runs(modelPath).map((r) => r.id!));
  }

  private afterResults(modelPath: string): void {
    this.codeCache.clear();
    for (const v of this.views) if (v.modelPath === modelPath) void this.sendInit(v);
    this.updateStatusBar();
    this.codeChanged();
  }

  /** Default calibration/test data: settings, then the sidecar beside the model. */
  dataDefaults(modelPath: string): { calibration?: string; test?: string } {
    const s = readSettings(vscode.Uri.file(modelPath));
    let sidecar: ReturnType<typeof findSidecar>;
    try {
      sidecar = findSidecar(modelPath);
    } catch (e) {
      this.output.warn(errorMessage(e));
    }
    const resolve = (p: string) => (p && !path.isAbsolute(p) ? path.resolve(this.workspaceFolders()[0] ?? path.dirname(modelPath), p) : p);
    return { calibration: resolve(s.calibrationData) || sidecar?.calibration, test: resolve(s.testData) || sidecar?.test };
  }

  // ---------- code mapping ----------

  workspaceFolders(): string[] {
    return (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
  }

  /** Python files that define the model: configured ones, then the .py files beside the model. */
  sourceFiles(modelPath: string): string[] {
    const s = readSettings(vscode.Uri.file(modelPath));
    const configured = s.modelSourceFiles.map((f) => (path.isAbsolute(f) ? f : path.resolve(this.workspaceFolders()[0] ?? path.dirname(modelPath), f)));
    let beside: string[] = [];
    try {
      beside = fs.readdirSync(path.dirname(modelPath)).filter((f) => f.endsWith('.py')).map((f) => path.join(path.dirname(modelPath), f));
    } catch {
      /* folder gone */
    }
    const folders = this.workspaceFolders();
    return [...new Set([...configured, ...beside])].filter((f) => folders.length === 0 || isInsideFolders(f, folders)).slice(0, 50);
  }

  private readSource(file: string): SourceFile | undefined {
    const open = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === file);
    try {
      const stat = open ? undefined : fs.statSync(file); // only regular files: reading a FIFO would block the extension host
      const text = open ? open.getText() : stat!.isFile() && stat!.size <= MAX_SOURCE_BYTES ? fs.readFileSync(file, 'utf8') : '';
      return { file, classes: parsePythonClasses(text) };
    } catch {
      return undefined;
    }
  }

  codeLocations(modelPath: string): LayerLocation[] {
    const layers = this.summaries.get(modelPath)?.layers ?? this.store.run(modelPath)?.layers ?? [];
    const meta = this.summaries.get(modelPath)?.layerMetadata ?? {};
    const files = this.sourceFiles(modelPath).flatMap((f) => this.readSource(f) ?? []);
    return mapLayersToCode(layers.map((l) => ({ name: l.name, metadata: meta[l.name] })), files);
  }

  /** Models whose code lines are in this document, with their layers and latest results. */
  linesIn(doc: vscode.TextDocument): CodeLine[] {
    const file = doc.uri.fsPath;
    const key = `${doc.version}`;
    const cached = this.codeCache.get(file);
    if (cached && cached.key === key) return cached.lines;
    this.loadModelsBeside(file);
    const models = new Set([...this.summaries.keys(), ...this.store.modelsWithRuns()]);
    const byLine = new Map<string, CodeLine>();
    for (const modelPath of models) {
      if (!this.sourceFiles(modelPath).includes(file)) continue;
      const run = this.store.run(modelPath);
      for (const loc of this.codeLocations(modelPath)) {
        if (loc.file !== file) continue;
        const k = `${modelPath}\n${loc.line}`;
        const entry = byLine.get(k) ?? { line: loc.line, column: loc.column, attribute: loc.attribute, modelPath, layers: [] };
        entry.layers.push({ name: loc.layer, modulePath: loc.modulePath, result: run?.layers.find((l) => l.name === loc.layer) });
        byLine.set(k, entry);
      }
    }
    const lines = [...byLine.values()].sort((a, b) => a.line - b.line);
    this.codeCache.set(file, { key, lines });
    return lines;
  }

  private readonly besideTried = new Set<string>();

  /** Models next to a Python file are loaded in the background so its CodeLens can name their layers. */
  private loadModelsBeside(file: string): void {
    const dir = path.dirname(file);
    if (this.besideTried.has(dir)) return;
    this.besideTried.add(dir);
    let models: string[] = [];
    try {
      models = fs.readdirSync(dir).filter((f) => f.toLowerCase().endsWith('.onnx')).map((f) => path.join(dir, f)).slice(0, 10);
    } catch {
      return;
    }
    void (async () => {
      for (const m of models) {
        if (this.summaries.has(m)) continue;
        try {
          await this.summary(m);
        } catch (e) {
          this.output.warn(`${m}: ${errorMessage(e)}`);
        }
      }
      this.codeCache.clear();
      this.codeChanged();
    })();
  }

  invalidateCode(): void {
    this.codeCache.clear();
  }

  async revealLayerInCode(modelPath: string, layer: string): Promise<boolean> {
    const loc = this.codeLocations(modelPath).find((l) => l.layer === layer) ?? this.forwardLocation(modelPath, layer);
    if (!loc) return false;
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(loc.file));
    const pos = new vscode.Position(loc.line, loc.column);
    await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true, selection: new vscode.Range(pos, pos) });
    return true;
  }

  /** Fallback: the forward() line the exporter recorded (pkg.torch.onnx.stack_trace), when it lies in the workspace. */
  private forwardLocation(modelPath: string, layer: string): { file: string; line: number; column: number } | undefined {
    const loc = forwardLocationFromMetadata(this.summaries.get(modelPath)?.layerMetadata[layer]);
    if (!loc || !isInsideFolders(loc.file, this.workspaceFolders()) || !fs.existsSync(loc.file)) return undefined;
    return { file: loc.file, line: loc.line, column: 0 };
  }

  /** Opens the model's editor and selects a layer (from CodeLens / hover links). */
  async openLayer(modelPath: string, layer: string): Promise<void> {
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(modelPath), 'quantInspector.onnxEditor', vscode.ViewColumn.One);
    this.post(modelPath, { type: 'selectLayer', layer });
    setTimeout(() => this.post(modelPath, { type: 'selectLayer', layer }), 800); // a freshly opened page may not listen yet
  }

  /** The HTML layer report (self-contained, no scripts) in a panel beside the editor. */
  showReportPanel(modelPath: string, html: string): vscode.WebviewPanel {
    const panel = vscode.window.createWebviewPanel('quantInspector.report', `Report: ${path.basename(modelPath)}`, vscode.ViewColumn.Beside, {
      enableScripts: false,
      localResourceRoots: [],
    });
    panel.webview.html = html;
    return panel;
  }

  showReport(modelPath: string): void {
    this.post(modelPath, { type: 'showSection', section: 'layers' });
  }
}

/** [C,H,W] typed by the user, or undefined while it is not three positive whole numbers. */
function imageShapeOf(text: string): number[] | undefined {
  try {
    return parseImageShape(text, 'image size');
  } catch {
    return undefined;
  }
}
