/** Quant Inspector's VS Code entry point: wires the editor, commands, code lenses, status bar and the job worker. */
import * as path from 'path';
import * as vscode from 'vscode';
import { JobClient } from '../worker/client';
import { LayerCodeLensProvider } from './codelens';
import { registerCommands } from './commands';
import { Controller } from './controller';
import { OnnxEditorProvider, VIEW_TYPE } from './editor';
import { ResultStore } from './store';

export interface QuantInspectorApi {
  controller: Controller;
}

export function activate(ctx: vscode.ExtensionContext): QuantInspectorApi {
  const output = vscode.window.createOutputChannel('Quant Inspector', { log: true });
  const script = path.join(ctx.extensionPath, 'dist', 'worker.js');
  const log = (line: string) => output.info(line);
  // a job that runs away with memory ends its worker (reported, replaced), not the extension host
  const jobs = new JobClient({ script, log, resourceLimits: { maxOldGenerationSizeMb: 4096 } });
  const loader = new JobClient({ script, log });
  const statusBar = vscode.window.createStatusBarItem('quantInspector.status', vscode.StatusBarAlignment.Right, 100);
  statusBar.name = 'Quant Inspector';
  const controller = new Controller(new ResultStore(ctx.workspaceState), jobs, loader, output, statusBar);
  const lenses = new LayerCodeLensProvider(controller);
  controller.onCodeChanged(() => lenses.refresh());

  ctx.subscriptions.push(
    output,
    statusBar,
    { dispose: () => void jobs.dispose() },
    { dispose: () => void loader.dispose() },
    vscode.window.registerCustomEditorProvider(VIEW_TYPE, new OnnxEditorProvider(controller, ctx.extensionUri), {
      supportsMultipleEditorsPerDocument: true,
    }),
    vscode.languages.registerCodeLensProvider({ language: 'python' }, lenses),
    vscode.languages.registerHoverProvider({ language: 'python' }, lenses),
    vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.document.languageId === 'python') controller.invalidateCode();
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('quantInspector')) {
        controller.invalidateCode();
        lenses.refresh();
      }
    }),
  );
  registerCommands(ctx, controller);
  log(`Quant Inspector activated (worker ${script})`);
  return { controller };
}

export function deactivate(): void {}
