/** The custom editor's page: strict CSP with a per-load nonce, only local scripts/styles from dist/ and media/. */
import * as crypto from 'crypto';
import type * as vscode from 'vscode';

export function makeNonce(): string {
  return crypto.randomBytes(18).toString('base64').replace(/[^A-Za-z0-9]/g, '');
}

/** Content-Security-Policy: nothing remote, scripts only with the nonce, styles only from the extension (CSSOM for positions). */
export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    `font-src ${cspSource}`,
    `style-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
}

export function editorHtml(webview: vscode.Webview, extensionUri: vscode.Uri, joinPath: typeof vscode.Uri.joinPath, title: string): string {
  const nonce = makeNonce();
  const script = webview.asWebviewUri(joinPath(extensionUri, 'dist', 'webview.js'));
  const css = webview.asWebviewUri(joinPath(extensionUri, 'media', 'editor.css'));
  // uPlot's own stylesheet (legend, cursor), a copy of node_modules/uplot/dist/uPlot.min.css checked by test/webview-plots.test.ts
  const plotCss = webview.asWebviewUri(joinPath(extensionUri, 'media', 'uplot.min.css'));
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(webview.cspSource, nonce)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="${plotCss}">
<link rel="stylesheet" href="${css}">
<title>${esc(title)}</title></head>
<body><main id="app" aria-live="polite"><p class="muted">Loading ${esc(title)}…</p></main>
<div id="tooltip" role="tooltip" hidden></div>
<script nonce="${nonce}" src="${script}"></script></body></html>`;
}
