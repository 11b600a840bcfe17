/** The custom read-only editor for *.onnx: summary, layer graph/table, results of the last run, layer details. */
import * as vscode from 'vscode';
import type { Controller } from './controller';
import { editorHtml } from './html';
import { parseWebviewMessage } from './messages';

export const VIEW_TYPE = 'quantInspector.onnxEditor';

class ModelDocument implements vscode.CustomDocument {
  constructor(readonly uri: vscode.Uri) {}
  dispose(): void {}
}

export class OnnxEditorProvider implements vscode.CustomReadonlyEditorProvider<ModelDocument> {
  constructor(private readonly controller: Controller, private readonly extensionUri: vscode.Uri) {}

  openCustomDocument(uri: vscode.Uri): ModelDocument {
    return new ModelDocument(uri);
  }

  resolveCustomEditor(doc: ModelDocument, panel: vscode.WebviewPanel): void {
    const modelPath = doc.uri.fsPath;
    panel.webview.options = {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'dist'), vscode.Uri.joinPath(this.extensionUri, 'media')],
    };
    panel.webview.html = editorHtml(panel.webview, this.extensionUri, vscode.Uri.joinPath, doc.uri.path.split('/').pop() ?? 'model');
    const view = this.controller.attachView(modelPath, panel);
    panel.webview.onDidReceiveMessage(async (raw: unknown) => {
      const msg = parseWebviewMessage(raw, this.controller.layerNameSet(modelPath), this.controller.runIdSet(modelPath));
      if (!msg) {
        this.controller.log(`ignored an invalid message from the editor of ${modelPath}: ${JSON.stringify(raw)?.slice(0, 200)}`);
        return;
      }
      switch (msg.type) {
        case 'ready':
          await this.controller.sendInit(view);
          break;
        case 'command':
          await vscode.commands.executeCommand(COMMAND_OF[msg.command], doc.uri);
          break;
        case 'selectLayer':
          break;
        case 'revealLayer':
          await this.controller.revealLayerInCode(modelPath, msg.layer);
          break;
        case 'removeRun':
          await this.controller.removeRun(modelPath, msg.id);
          break;
        case 'whatIf':
          await this.controller.whatIf(modelPath, msg.baseRun, msg.changes);
          break;
      }
    });
    panel.onDidChangeViewState(() => {
      if (panel.active) this.controller.setActiveModel(modelPath);
    });
    panel.onDidDispose(() => this.controller.detachView(view));
    this.controller.setActiveModel(modelPath);
  }
}

const COMMAND_OF = {
  quantize: 'quantInspector.quantize',
  sensitivity: 'quantInspector.runSensitivity',
  export: 'quantInspector.exportQuantized',
  report: 'quantInspector.showLayerReport',
  selectCalibration: 'quantInspector.selectCalibrationData',
} as const;
