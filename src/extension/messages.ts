/** Messages between the custom editor and its webview; everything from the webview is validated here before use. */
import * as fs from 'fs';
import * as path from 'path';
import { isBits, type LayerChange } from './whatif';

export const WEBVIEW_COMMANDS = ['quantize', 'sensitivity', 'export', 'report', 'selectCalibration'] as const;
export type WebviewCommand = (typeof WEBVIEW_COMMANDS)[number];

/** Messages about the model and its layers. */
export type LayerMessage =
  | { type: 'ready' }
  | { type: 'command'; command: WebviewCommand }
  | { type: 'selectLayer'; layer: string }
  | { type: 'revealLayer'; layer: string };

/** A what-if: the shown run (`baseRun`) again with these per-layer changes (src/extension/whatif.ts). */
export type WhatIfMessage = { type: 'whatIf'; baseRun: string; changes: LayerChange[] };

export type FromWebview = LayerMessage | { type: 'removeRun'; id: string } | WhatIfMessage;

const MAX_NAME = 1024;
/** Layers one what-if may change (more than any model's conv / linear layers that the editor lists). */
export const MAX_WHATIF_CHANGES = 4096;

/**
 * The changes of a what-if message, rebuilt field by field: each names a layer of the model once, with bits from
 * 2 to 16 and/or a float flag, and changes something; undefined when any is not so (the whole message is refused).
 */
export function parseLayerChanges(raw: unknown, layerNames: ReadonlySet<string>): LayerChange[] | undefined {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_WHATIF_CHANGES) return undefined;
  const seen = new Set<string>();
  const out: LayerChange[] = [];
  for (const item of raw) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return undefined;
    const c = item as Record<string, unknown>;
    const layer = Object.prototype.hasOwnProperty.call(c, 'layer') ? c.layer : undefined;
    if (typeof layer !== 'string' || layer.length > MAX_NAME || !layerNames.has(layer) || seen.has(layer)) return undefined;
    seen.add(layer);
    const field = (k: string) => (Object.prototype.hasOwnProperty.call(c, k) ? c[k] : undefined);
    const w = field('weightBits'), a = field('activationBits'), f = field('float');
    if ((w !== undefined && !isBits(w)) || (a !== undefined && !isBits(a)) || (f !== undefined && typeof f !== 'boolean')) return undefined;
    if (w === undefined && a === undefined && f === undefined) return undefined;
    const change: LayerChange = { layer };
    if (w !== undefined) change.weightBits = w as number;
    if (a !== undefined) change.activationBits = a as number;
    if (f !== undefined) change.float = f as boolean;
    out.push(change);
  }
  return out;
}

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
    case 'whatIf': {
      if (typeof m.baseRun !== 'string' || m.baseRun.length > MAX_NAME || !runIds.has(m.baseRun)) return undefined;
      const changes = parseLayerChanges(m.changes, layerNames);
      return changes ? { type: 'whatIf', baseRun: m.baseRun, changes } : undefined;
    }
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
