/** Messages between the custom editor and its webview; everything from the webview is validated here before use. */
import * as fs from 'fs';
import * as path from 'path';

export const WEBVIEW_COMMANDS = ['quantize', 'sensitivity', 'export', 'report', 'selectCalibration'] as const;
export type WebviewCommand = (typeof WEBVIEW_COMMANDS)[number];

/** Messages about the model and its layers. */
export type LayerMessage =
  | { type: 'ready' }
  | { type: 'command'; command: WebviewCommand }
  | { type: 'selectLayer'; layer: string }
  | { type: 'revealLayer'; layer: string };

export type FromWebview = LayerMessage | { type: 'removeRun'; id: string };

const MAX_NAME = 1024;

/**
 * Returns the message if it is one we know with valid fields, naming only layers and kept runs of this model;
 * otherwise undefined. Without `runIds` no message about a run gets through.
 */
export function parseWebviewMessage(raw: unknown, layerNames: ReadonlySet<string>): LayerMessage | undefined;
export function parseWebviewMessage(raw: unknown, layerNames: ReadonlySet<string>, runIds: ReadonlySet<string>): FromWebview | undefined;
export function parseWebviewMessage(raw: unknown, layerNames: ReadonlySet<string>, runIds: ReadonlySet<string> = new Set()): FromWebview | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const m = raw as Record<string, unknown>;
  switch (m.type) {
    case 'ready':
      return { type: 'ready' };
    case 'command':
      return WEBVIEW_COMMANDS.includes(m.command as WebviewCommand) ? { type: 'command', command: m.command as WebviewCommand } : undefined;
    case 'selectLayer':
    case 'revealLayer':
      return typeof m.layer === 'string' && m.layer.length <= MAX_NAME && layerNames.has(m.layer) ? { type: m.type, layer: m.layer } : undefined;
    case 'removeRun':
      return typeof m.id === 'string' && m.id.length <= MAX_NAME && runIds.has(m.id) ? { type: 'removeRun', id: m.id } : undefined;
    default:
      return undefined;
  }
}

/** The real path when it exists (symbolic links followed), else the resolved path. */
function realOrResolved(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

/**
 * True when `file` (absolute) lies inside one of the folders (no `..` escape, no sibling-prefix trick, no symbolic
 * link inside a folder that leads out of it).
 */
export function isInsideFolders(file: string, folders: readonly string[]): boolean {
  const resolved = realOrResolved(file);
  return folders.some((f) => {
    const rel = path.relative(realOrResolved(f), resolved);
    return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  });
}
