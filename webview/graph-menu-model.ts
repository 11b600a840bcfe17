/**
 * The graph's context menu without the DOM: which entries a node gets (what-if entries only for a conv / linear layer
 * of a run, "Reveal source line" only where the layer maps to model code, the block entry only inside or on a
 * block), how the keyboard moves through it, and what a what-if entry asks of the pending list.
 * Pure, so that node:test covers it (test/webview-graph-menu.test.ts); graph-menu.ts draws it.
 */
import type { PendingChoice } from './whatif';

export type BitsField = 'weightBits' | 'activationBits';

export type MenuAction =
  | { kind: 'float'; layer: string; on: boolean }
  | { kind: 'bits'; layer: string; field: BitsField; bits: number }
  | { kind: 'details'; node: string }
  | { kind: 'reveal'; layer: string }
  | { kind: 'block'; block: string; collapse: boolean };

export interface MenuEntry {
  id: string;
  label: string;
  /** One of a set of choices (a bit width: menuitemradio) or an on/off toggle (menuitemcheckbox); else a plain item. */
  choice?: 'radio' | 'toggle';
  /** Marked as the current choice (✓, aria-checked). */
  checked?: boolean;
  action?: MenuAction;
  submenu?: MenuEntry[];
}

/** A layer's choice as the what-if would run it now, and the base run's global bits. */
export interface WhatIfChoice {
  weightBits: number;
  activationBits: number;
  float: boolean;
  defaults: { weightBits: number; activationBits: number };
}

export interface MenuTarget {
  /** A drawn graph node (not a collapsed block); `layer` when it is a conv / linear layer. */
  node?: { name: string; layer: boolean };
  /** The block the node is drawn in (collapse), or the collapsed block itself (expand). */
  block?: { key: string; label: string; collapsed: boolean };
  /** Present when the node can be what-if'd: a layer, and a run to base the what-if on. */
  whatIf?: WhatIfChoice;
  /** The layer maps to a line of model code. */
  revealable?: boolean;
}

/** The bit widths the menu offers; a run default outside them is offered as the default entry. */
export const MENU_BITS = [2, 3, 4, 5, 6, 7, 8];

const FIELD_TEXT: Record<BitsField, { title: string; id: string }> = {
  weightBits: { title: 'Weights', id: 'w' },
  activationBits: { title: 'Activations', id: 'a' },
};

function bitsEntry(layer: string, field: BitsField, c: WhatIfChoice): MenuEntry {
  const { title, id } = FIELD_TEXT[field];
  const now = c[field], fallback = c.defaults[field];
  const entry = (key: string, label: string, bits: number, checked: boolean): MenuEntry => ({ id: `${id}-${key}`, label, choice: 'radio', checked, action: { kind: 'bits', layer, field, bits } });
  const submenu = [
    entry('default', `Run default (${fallback} bits)`, fallback, !c.float && now === fallback),
    ...MENU_BITS.map((b) => entry(String(b), `${b} bits`, b, !c.float && now === b && b !== fallback)),
  ];
  return { id, label: c.float ? `${title}: float` : `${title}: ${now} bits`, submenu };
}

/** The entries for a node, in menu order; empty when nothing applies (a graph input or output). */
export function menuEntries(t: MenuTarget): MenuEntry[] {
  const out: MenuEntry[] = [];
  const layer = t.node?.layer ? t.node.name : undefined;
  if (layer && t.whatIf) {
    out.push({ id: 'float', label: 'Keep in float', choice: 'toggle', checked: t.whatIf.float, action: { kind: 'float', layer, on: !t.whatIf.float } });
    out.push(bitsEntry(layer, 'weightBits', t.whatIf), bitsEntry(layer, 'activationBits', t.whatIf));
  }
  if (t.node) out.push({ id: 'details', label: 'Show details', action: { kind: 'details', node: t.node.name } });
  if (layer && t.revealable) out.push({ id: 'reveal', label: 'Reveal source line', action: { kind: 'reveal', layer } });
  if (t.block) {
    const collapse = !t.block.collapsed;
    out.push({ id: 'block', label: `${collapse ? 'Collapse' : 'Expand'} block ${t.block.label}`, action: { kind: 'block', block: t.block.key, collapse } });
  }
  return out;
}

/** Where the keyboard is: the index in the menu, then the index in the open submenu. */
export type MenuPath = [number] | [number, number];

export interface MenuKeyResult {
  path: MenuPath;
  /** The entry chosen (the menu closes). */
  choose?: MenuAction;
  /** The menu closes without a choice (focus back on the node). */
  close?: boolean;
  /** The key was the menu's (its default is prevented). */
  handled: boolean;
}

/** The entries at the path's level (the submenu when one is open). */
export function levelOf(entries: readonly MenuEntry[], path: MenuPath): readonly MenuEntry[] {
  return path.length === 2 ? entries[path[0]].submenu ?? [] : entries;
}

/** Opens an entry's submenu on its checked item (else its first). */
function openSubmenu(entries: readonly MenuEntry[], i: number): MenuPath {
  const sub = entries[i].submenu ?? [];
  return [i, Math.max(0, sub.findIndex((e) => e.checked))];
}

function moved(path: MenuPath, index: number): MenuPath {
  return path.length === 2 ? [path[0], index] : [index];
}

/**
 * One key in the menu: ↑ / ↓ move (wrapping), Home / End jump, → or Enter on an entry with a submenu opens it,
 * ← or Escape in a submenu goes back to its entry, Enter or Space chooses, Escape (top level) and Tab close.
 */
export function menuKey(entries: readonly MenuEntry[], path: MenuPath, key: string): MenuKeyResult {
  const level = levelOf(entries, path);
  const at = path[path.length - 1];
  const n = level.length;
  const entry = level[at];
  switch (key) {
    case 'ArrowDown': return { path: moved(path, (at + 1) % n), handled: true };
    case 'ArrowUp': return { path: moved(path, (at - 1 + n) % n), handled: true };
    case 'Home': return { path: moved(path, 0), handled: true };
    case 'End': return { path: moved(path, n - 1), handled: true };
    case 'ArrowRight': return path.length === 1 && entry?.submenu ? { path: openSubmenu(entries, at), handled: true } : { path, handled: true };
    case 'ArrowLeft': return { path: [path[0]], handled: true };
    case 'Enter':
    case ' ':
      if (path.length === 1 && entry?.submenu) return { path: openSubmenu(entries, at), handled: true };
      return entry?.action ? { path, choose: entry.action, handled: true } : { path, handled: true };
    case 'Escape': return path.length === 2 ? { path: [path[0]], handled: true } : { path, close: true, handled: true };
    case 'Tab': return { path, close: true, handled: false }; // Tab goes on from the node
    default: return { path, handled: false };
  }
}

/**
 * What a what-if entry asks of the pending list: the layer and the part of its choice. Bits take the layer out of
 * float (a float layer has no bits); undefined for the entries that are not what-if choices.
 */
export function pendingPatchOf(a: MenuAction): { layer: string; patch: PendingChoice } | undefined {
  if (a.kind === 'float') return { layer: a.layer, patch: { float: a.on } };
  if (a.kind === 'bits') return { layer: a.layer, patch: { [a.field]: a.bits, float: false } };
  return undefined;
}
