/** The page's state: the model and run the host sent, what the user chose (kept across reloads by the webview), shared helpers. */
import type { LayerResult, QuantRun, SensitivityEntry } from '../src/extension/results';
import { modulePathFromNodeName } from '../src/extension/codemap';
import type { ModelSummary } from '../src/worker/summary';
import type { SqnrMode } from './graph-model';

interface VsCodeApi {
  postMessage(m: unknown): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
export const vscode = acquireVsCodeApi();

export interface GraphViewState {
  /** Pan and zoom: screen = k · graph + (x, y). */
  x: number;
  y: number;
  k: number;
}

export interface ViewState {
  /** The selected layer or graph node (ONNX node name). */
  selected?: string;
  scrollY?: number;
  /** Blocks the user collapsed or expanded, overriding the default for the model's size. */
  blocks?: Record<string, boolean>;
  sqnrMode?: SqnrMode;
  showConstants?: boolean;
  graphView?: GraphViewState;
  /** The kept run the page shows (cards, table, graph, details); the newest when unset or gone. */
  shownRun?: string;
  /** The two runs picked in the Runs part (ids) and whether the table, graph and plots compare them. */
  compare?: { a?: string; b?: string; on?: boolean };
  /** The what-if's pending per-layer choices against the shown run (webview/whatif.ts), by ONNX layer name. */
  whatIf?: Record<string, { weightBits?: number; activationBits?: number; float?: boolean }>;
}

export interface Model {
  fileName: string;
  modelPath: string;
  summary?: ModelSummary;
  error?: string;
  /** The run the page shows: the newest kept one unless the user chose another in the Runs part. */
  run?: QuantRun;
  /** Every kept run of the model, newest first. */
  runs: QuantRun[];
  sensitivity?: SensitivityEntry[];
  /** Class names (the sidecar's labels), when the model has them. */
  classNames?: string[];
  code: { layer: string; modulePath: string; file: string; line: number }[];
  busy?: string;
}

export const page: { model?: Model; state: ViewState } = {
  model: undefined,
  state: (vscode.getState() as ViewState | undefined) ?? {},
};

export function saveState(patch: Partial<ViewState>): void {
  page.state = { ...page.state, ...patch };
  vscode.setState(page.state);
}

/** What the parts of the page ask main.ts to do (set there, so the parts need not import it). */
export const actions = {
  render: (): void => {},
  /** Select a layer or node: details shown; `from` says which part should keep the keyboard focus. */
  select: (_name: string, _opts: { scroll: boolean; from: 'table' | 'graph' }): void => {},
};

/** The runs picked as A and B: the user's picks while they are kept, else the newest as B and the one before it as A. */
export function runPair(): { a?: QuantRun; b?: QuantRun } {
  const runs = page.model?.runs ?? [];
  const picked = page.state.compare ?? {};
  const find = (id: string | undefined) => (id === undefined ? undefined : runs.find((r) => r.id === id));
  const b = find(picked.b) ?? runs[0];
  const a = find(picked.a) ?? runs.find((r) => r !== b);
  return { a, b };
}

/** The two runs compared, while comparing is on and A and B are two different kept runs. */
export function comparing(): { a: QuantRun; b: QuantRun } | undefined {
  if (!page.state.compare?.on) return undefined;
  const { a, b } = runPair();
  return a && b && a.id !== b.id ? { a, b } : undefined;
}

export function moduleName(layer: string): string {
  return page.model?.code.find((c) => c.layer === layer)?.modulePath ?? modulePathFromNodeName(layer) ?? layer;
}

export function resultOf(layer: string): LayerResult | undefined {
  return page.model?.run?.layers.find((l) => l.name === layer);
}

export function isLayer(name: string): boolean {
  return !!page.model?.summary?.layers.some((l) => l.name === name);
}

export function fmt(v: number | undefined, digits = 4): string {
  return v === undefined ? '—' : Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : v.toPrecision(digits);
}

export function basename(p: string): string {
  return p.split(/[\\/]/).pop() ?? p;
}
