/**
 * The editor's what-if (issue #12), as pure functions: per-layer choices a run was made with (a layer's weight bits,
 * activation bits, or "keep in float"), a what-if's changes merged into a base run's settings, how a run with such
 * choices is named ('W8A8 percentile per-channel + what-if: layer2.1.conv1 W4, layer3.2.conv2 float') and what bits
 * a layer has in a run. The worker's quantize job takes the maps as options layerWeightBits / layerActivationBits /
 * floatLayers (src/worker/quantize-job.ts).
 */
import { modulePathFromNodeName } from './codemap';

/** A run's per-layer choices (part of RunSettings): ONNX layer name → bits, and the layers kept in float. */
export interface LayerChoices {
  layerWeightBits?: Record<string, number>;
  layerActivationBits?: Record<string, number>;
  floatLayers?: string[];
}

/** What a what-if asks of one layer: the bits it should have, and whether it is kept in float (absolute, not relative). */
export interface LayerChange {
  layer: string;
  weightBits?: number;
  activationBits?: number;
  float?: boolean;
}

/** One layer's choice as a run holds it (for labels and lists). */
export interface LayerChoice {
  layer: string;
  weightBits?: number;
  activationBits?: number;
  float?: boolean;
}

export const MIN_BITS = 2;
export const MAX_BITS = 16;
export const isBits = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= MIN_BITS && v <= MAX_BITS;

interface BaseBits {
  weightBits: number;
  activationBits: number;
}

const own = (o: unknown): o is Record<string, unknown> => typeof o === 'object' && o !== null && !Array.isArray(o);

/** A bits map as stored (workspace storage may hold anything): only layer names with valid bits. */
function bitsMapOf(v: unknown): Map<string, number> {
  const out = new Map<string, number>();
  if (!own(v)) return out;
  for (const [k, b] of Object.entries(v)) if (isBits(b)) out.set(k, b);
  return out;
}

function floatsOf(v: unknown): Set<string> {
  return new Set(Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
}

/** The per-layer choices of settings, read defensively (a malformed stored value counts as none). */
export function layerChoicesOf(s: LayerChoices): { weight: Map<string, number>; activation: Map<string, number>; float: Set<string> } {
  return { weight: bitsMapOf(s.layerWeightBits), activation: bitsMapOf(s.layerActivationBits), float: floatsOf(s.floatLayers) };
}

/** True when the settings hold any per-layer choice. */
export function hasLayerChoices(s: LayerChoices): boolean {
  const c = layerChoicesOf(s);
  return c.weight.size + c.activation.size + c.float.size > 0;
}

/** What a layer has in a run with these settings: its weight and activation bits, and whether it was kept in float. */
export function layerBitsIn(s: BaseBits & LayerChoices, layer: string): { weightBits: number; activationBits: number; float: boolean } {
  const c = layerChoicesOf(s);
  return { weightBits: c.weight.get(layer) ?? s.weightBits, activationBits: c.activation.get(layer) ?? s.activationBits, float: c.float.has(layer) };
}

/** Sorts layer names in model order (names not in `order` after those, alphabetically). */
function inOrder(names: Iterable<string>, order?: readonly string[]): string[] {
  const index = new Map((order ?? []).map((n, i) => [n, i]));
  return [...new Set(names)].sort((a, b) => (index.get(a) ?? Infinity) - (index.get(b) ?? Infinity) || (a < b ? -1 : a > b ? 1 : 0));
}

/** A run's per-layer choices, one entry per layer, in model order. */
export function layerChoiceList(s: LayerChoices, order?: readonly string[]): LayerChoice[] {
  const c = layerChoicesOf(s);
  return inOrder([...c.weight.keys(), ...c.activation.keys(), ...c.float], order).map((layer) => {
    const choice: LayerChoice = { layer };
    if (c.float.has(layer)) choice.float = true;
    else {
      if (c.weight.has(layer)) choice.weightBits = c.weight.get(layer);
      if (c.activation.has(layer)) choice.activationBits = c.activation.get(layer);
    }
    return choice;
  });
}

/**
 * The settings of a what-if: the base run's settings (its global bits, method, data and any per-layer choices it
 * already has) with the changes applied. A change back to the base's global bits or out of float drops that choice;
 * a layer kept in float drops its bits choices. Maps are written in model order and left out when empty, so a run
 * without choices has settings exactly like before.
 */
export function applyLayerChanges<S extends BaseBits & LayerChoices>(base: S, changes: readonly LayerChange[], order?: readonly string[]): S {
  const c = layerChoicesOf(base);
  for (const ch of changes) {
    if (ch.float === true) c.float.add(ch.layer);
    else if (ch.float === false) c.float.delete(ch.layer);
    if (ch.weightBits !== undefined) {
      if (ch.weightBits === base.weightBits) c.weight.delete(ch.layer);
      else c.weight.set(ch.layer, ch.weightBits);
    }
    if (ch.activationBits !== undefined) {
      if (ch.activationBits === base.activationBits) c.activation.delete(ch.layer);
      else c.activation.set(ch.layer, ch.activationBits);
    }
  }
  for (const f of c.float) { c.weight.delete(f); c.activation.delete(f); }
  const map = (m: Map<string, number>) => (m.size ? Object.fromEntries(inOrder(m.keys(), order).map((k) => [k, m.get(k)!])) : undefined);
  const out: S = { ...base };
  delete out.layerWeightBits;
  delete out.layerActivationBits;
  delete out.floatLayers;
  const w = map(c.weight), a = map(c.activation);
  if (w) out.layerWeightBits = w;
  if (a) out.layerActivationBits = a;
  if (c.float.size) out.floatLayers = inOrder(c.float, order);
  return out;
}

/** True when two settings hold the same per-layer choices (a what-if that changes nothing is not run). */
export function sameLayerChoices(a: LayerChoices, b: LayerChoices): boolean {
  const key = (s: LayerChoices) => JSON.stringify(layerChoiceList(s));
  return key(a) === key(b);
}

/** A layer's short name in labels: its module path ('/layer2/layer2.1/conv1/Conv' → 'layer2.1.conv1'), else the ONNX name. */
export function shortLayerName(layer: string): string {
  return modulePathFromNodeName(layer) ?? layer;
}

/** One choice as text: 'W4', 'A6', 'W4 A6', 'float'. */
export function choiceText(c: Omit<LayerChoice, 'layer'>): string {
  if (c.float) return 'float';
  return [c.weightBits !== undefined ? `W${c.weightBits}` : '', c.activationBits !== undefined ? `A${c.activationBits}` : ''].filter(Boolean).join(' ');
}

/** Layers named in a label before '… and N more'. */
export const LABEL_LAYERS = 4;

/** The what-if part of a label: 'layer2.1.conv1 W4, layer3.2.conv2 float' (at most LABEL_LAYERS layers named). */
export function choicesLabel(s: LayerChoices, order?: readonly string[], name: (layer: string) => string = shortLayerName): string {
  const list = layerChoiceList(s, order);
  const named = list.slice(0, LABEL_LAYERS).map((c) => `${name(c.layer)} ${choiceText(c)}`);
  if (list.length > LABEL_LAYERS) named.push(`and ${list.length - LABEL_LAYERS} more`);
  return named.join(', ');
}

/**
 * A what-if's changes as the editor lists them before Apply, against the base run: only those that change
 * something, in model order, each with its text ('W4', 'float', 'back in integers').
 */
export function pendingList(base: BaseBits & LayerChoices, changes: readonly LayerChange[], order?: readonly string[]): { layer: string; text: string }[] {
  const out: { layer: string; text: string }[] = [];
  for (const layer of inOrder(changes.map((c) => c.layer), order)) {
    const ch = changes.find((c) => c.layer === layer)!;
    const now = layerBitsIn(base, layer);
    const float = ch.float ?? now.float;
    if (float) {
      if (!now.float) out.push({ layer, text: 'float' });
      continue;
    }
    const w = ch.weightBits ?? now.weightBits, a = ch.activationBits ?? now.activationBits;
    const parts = [w !== now.weightBits || now.float ? `W${w}` : '', a !== now.activationBits || now.float ? `A${a}` : ''].filter(Boolean);
    if (now.float) out.push({ layer, text: `back in integers (${parts.join(' ') || `W${w} A${a}`})` });
    else if (parts.length) out.push({ layer, text: parts.join(' ') });
  }
  return out;
}
