/** CodeLens and hover on the Python model definition: each `self.x = nn.Conv2d(...)` line shows its layers' quantization. */
import * as vscode from 'vscode';
import type { Controller } from './controller';
import { bitsLabel, formatDb, formatSigned, lensTitle, type LayerResult } from './results';

export class LayerCodeLensProvider implements vscode.CodeLensProvider, vscode.HoverProvider {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;

  constructor(private readonly controller: Controller) {}

  refresh(): void {
    this.changed.fire();
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    return this.controller.linesIn(doc).map(({ line, column, attribute, modelPath, layers }) => {
      const results = layers.map((l) => l.result).filter((r): r is LayerResult => !!r);
      const title = lensTitle(attribute, layers.length, results);
      const first = layers[0];
      return new vscode.CodeLens(new vscode.Range(line, column, line, column), {
        title,
        command: 'quantInspector.openLayer',
        arguments: [modelPath, first.name],
        tooltip: `Open ${first.modulePath} in the Quant Inspector editor`,
      });
    });
  }

  provideHover(doc: vscode.TextDocument, pos: vscode.Position): vscode.Hover | undefined {
    const hit = this.controller.linesIn(doc).find((l) => l.line === pos.line);
    if (!hit) return undefined;
    const md = new vscode.MarkdownString(undefined, true);
    md.isTrusted = { enabledCommands: ['quantInspector.openLayer'] };
    md.appendMarkdown(`**Quant Inspector** · \`${hit.attribute}\` → ${hit.layers.length} layer${hit.layers.length > 1 ? 's' : ''} of \`${hit.modelPath.split(/[\\/]/).pop()}\`\n\n`);
    md.appendMarkdown('| module | bits | weight SQNR | output SQNR | out scale / zp | Δacc |\n|---|---|---|---|---|---|\n');
    for (const l of hit.layers) {
      const r = l.result;
      const link = `command:quantInspector.openLayer?${encodeURIComponent(JSON.stringify([hit.modelPath, l.name]))}`;
      const cells = r
        ? [bitsLabel(r.weightBits, r.activationBits), formatDb(r.weightSqnrDb), formatDb(r.outputSqnrDb), r.outputScale !== undefined ? `${r.outputScale.toPrecision(3)} / ${r.outputZeroPoint ?? 0}` : '—', formatSigned(r.deltaAccuracy)]
        : ['not quantized', '—', '—', '—', '—'];
      md.appendMarkdown(`| [${l.modulePath}](${link} "Open in Quant Inspector") | ${cells.join(' | ')} |\n`);
    }
    if (!hit.layers.some((l) => l.result)) md.appendMarkdown('\nRun **Quant Inspector: Quantize to N bits** to see errors here.');
    return new vscode.Hover(md, new vscode.Range(hit.line, 0, hit.line, doc.lineAt(hit.line).text.length));
  }
}
