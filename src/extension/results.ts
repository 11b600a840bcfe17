/** Quantization results as the extension keeps and shows them: validated from the job's JSON, then pure formatting. */
import { choicesLabel, hasLayerChoices, type LayerChoices } from './whatif';

export interface HistogramView {
  low: number;
  high: number;
  counts: number[];
}

export interface DataflowStepView {
  stage: string;
  title: string;
  bits: number;
  range: { min: number; max: number };
  explanation: string;
}

export interface LayerResult {
  name: string;
  op: string;
  weightBits: number;
  activationBits: number;
  weightScales: number[];
  weightZeroPoints?: number[];
  inputScale?: number;
  inputZeroPoint?: number;
  outputScale?: number;
  outputZeroPoint?: number;
  weightSqnrDb?: number;
  outputSqnrDb?: number;
  /** SQNR of this layer alone quantized (fed the float model's input), the error it adds by itself. */
  localSqnrDb?: number;
  outputMse?: number;
  outputCosine?: number;
  maxAccumulator?: number;
  weightHistogram?: HistogramView;
  activationHistogram?: HistogramView;
  dataflow?: DataflowStepView[];
  /** Accuracy change (points) when only this layer is quantized, from a sensitivity run. */
  deltaAccuracy?: number;
}

/** Per value and per node errors of a run, for the graph overlay (a few images; see src/worker/quantize-job.ts graphErrors). */
export interface GraphErrorsView {
  /** Value name → its quantizer (bits, scale, zero point) and accumulated SQNR, when known. */
  values: Record<string, { bits?: number; scale?: number; zeroPoint?: number; sqnrDb?: number }>;
  /** Node name → how the engines ran it (plan mode), why when in float, and its local SQNR when measured. */
  nodes: Record<string, { mode: string; reason?: string; into?: string; compared?: string; localSqnrDb?: number }>;
  images: number;
}

/** What a run was made with; a what-if adds per-layer choices (src/extension/whatif.ts), absent on other runs. */
export interface RunSettings extends LayerChoices {
  weightBits: number;
  activationBits: number;
  method: string;
  granularity: string;
  calibrationData: string;
  testData?: string;
  calibrationImages: number;
  testImages: number;
}

/** Top-1 class of every test image in data order, packed (see packClasses): the float model's and the integer model's. */
export interface PredictionsView {
  float: string;
  quantized: string;
}

/** How much of an earlier run's work the worker reused (a what-if that changes only some layers runs from a checkpoint). */
export interface ReuseView {
  /** The node the integer passes resumed from (the plans agreed up to there). */
  resumedAt?: { biasCorrection?: string; evaluation?: string };
  calibrationReused?: boolean;
  /** Test images whose float pass an earlier run recorded. */
  floatPassReused?: number;
  /** The job's own time in the worker's pipeline, s (the run's `seconds` is the whole job as the editor waited for it). */
  pipelineSeconds?: number;
}

export interface QuantRun {
  /** Unique among the model's kept runs (older stored runs get one when they load, see src/extension/store.ts). */
  id?: string;
  /** How the run is listed: 'W8A8 percentile per-channel'. */
  label?: string;
  modelPath: string;
  settings: RunSettings;
  fp32Accuracy?: number;
  quantizedAccuracy?: number;
  agreement?: number;
  /** Logit SQNR over the test images (before a final Softmax). */
  logitSqnrDb?: number;
  /** False when the test images have no labels (accuracy unavailable). */
  labelled?: boolean;
  /** The final Softmax the metrics leave out, when there is one. */
  softmax?: string;
  /** Nodes that ran in float where codes reached them, and why. */
  floatNodes?: { name: string; op: string; reason: string }[];
  /** Per node and per value errors for the graph overlay. */
  graph?: GraphErrorsView;
  /** Per image top-1 decisions, so that two runs on the same test images can be compared (src/extension/compare.ts). */
  predictions?: PredictionsView;
  layers: LayerResult[];
  finishedAt: string;
  seconds: number;
  /** The run a what-if was made from (its settings plus per-layer choices), as it was named then. */
  whatIfOf?: { id: string; label: string };
  reuse?: ReuseView;
}

export interface SensitivityEntry {
  layer: string;
  deltaAccuracy: number;
  sqnrDb?: number;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const nums = (v: unknown): number[] | undefined =>
  Array.isArray(v) || ArrayBuffer.isView(v) ? Array.from(v as ArrayLike<unknown>, (x) => Number(x)).filter(Number.isFinite) : undefined;
const obj = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

function histogramOf(v: unknown): HistogramView | undefined {
  const h = obj(v);
  const counts = nums(h?.counts);
  const low = num(h?.low);
  const high = num(h?.high);
  return h && counts && low !== undefined && high !== undefined ? { low, high, counts } : undefined;
}

function dataflowOf(v: unknown): DataflowStepView[] | undefined {
  const steps = Array.isArray(v) ? v : obj(v)?.steps;
  if (!Array.isArray(steps)) return undefined;
  return steps.flatMap((s) => {
    const o = obj(s);
    const r = obj(o?.range);
    if (!o || typeof o.title !== 'string' || num(o.bits) === undefined) return [];
    return [{ stage: String(o.stage ?? ''), title: o.title, bits: num(o.bits)!, range: { min: num(r?.min) ?? 0, max: num(r?.max) ?? 0 }, explanation: String(o.explanation ?? '') }];
  });
}

/** Reads one layer of a quantize job's result; unknown or malformed fields are dropped, never guessed. */
export function layerResultFrom(raw: unknown): LayerResult | undefined {
  const o = obj(raw);
  if (!o || typeof o.name !== 'string') return undefined;
  const firstZp = (v: unknown) => num(v) ?? nums(v)?.[0];
  return {
    name: o.name,
    op: String(o.op ?? ''),
    weightBits: num(o.weightBits) ?? 0,
    activationBits: num(o.activationBits) ?? 0,
    weightScales: nums(o.weightScales) ?? (num(o.weightScale) !== undefined ? [num(o.weightScale)!] : []),
    weightZeroPoints: nums(o.weightZeroPoints),
    inputScale: num(o.inputScale),
    inputZeroPoint: firstZp(o.inputZeroPoint),
    outputScale: num(o.outputScale),
    outputZeroPoint: firstZp(o.outputZeroPoint),
    weightSqnrDb: num(o.weightSqnrDb),
    outputSqnrDb: num(o.outputSqnrDb),
    localSqnrDb: num(o.localSqnrDb),
    outputMse: num(o.outputMse) ?? num(obj(o.outputError)?.mse),
    outputCosine: num(o.outputCosine) ?? num(obj(o.outputError)?.cosine),
    maxAccumulator: num(o.maxAccumulator),
    weightHistogram: histogramOf(o.weightHistogram),
    activationHistogram: histogramOf(o.activationHistogram ?? o.outputHistogram),
    dataflow: dataflowOf(o.dataflow),
    deltaAccuracy: num(o.deltaAccuracy),
  };
}

const MAX_GRAPH_ENTRIES = 20000;

/** Reads the job's per value / per node errors; malformed entries are dropped. */
export function graphErrorsFrom(raw: unknown): GraphErrorsView | undefined {
  const o = obj(raw);
  const values = obj(o?.values);
  const nodes = obj(o?.nodes);
  if (!o || !values || !nodes) return undefined;
  const out: GraphErrorsView = { values: {}, nodes: {}, images: num(o.images) ?? 0 };
  for (const [k, v] of Object.entries(values).slice(0, MAX_GRAPH_ENTRIES)) {
    const x = obj(v);
    if (x) out.values[k] = { bits: num(x.bits), scale: num(x.scale), zeroPoint: num(x.zeroPoint), sqnrDb: num(x.sqnrDb) };
  }
  for (const [k, v] of Object.entries(nodes).slice(0, MAX_GRAPH_ENTRIES)) {
    const x = obj(v);
    if (x && typeof x.mode === 'string') {
      const str = (f: unknown) => (typeof f === 'string' ? f : undefined);
      out.nodes[k] = { mode: x.mode, reason: str(x.reason), into: str(x.into), compared: str(x.compared), localSqnrDb: num(x.localSqnrDb) };
    }
  }
  return out;
}

/**
 * Packs class indices (the top-1 of each test image) into a short string: 'u8:' or 'u16:' (or 'u32:') and the
 * base64 of their little-endian bytes, about 1.3 characters per image instead of JSON's 2–5. Works in Node and in
 * the webview (btoa / atob). Undefined for anything that is not a list of whole numbers ≥ 0.
 */
export function packClasses(classes: ArrayLike<number>): string | undefined {
  let max = 0;
  for (let i = 0; i < classes.length; i++) {
    const c = classes[i];
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c > 0xffffffff) return undefined;
    if (c > max) max = c;
  }
  const width = max < 0x100 ? 1 : max < 0x10000 ? 2 : 4;
  const bytes = new Uint8Array(classes.length * width);
  for (let i = 0; i < classes.length; i++) for (let b = 0; b < width; b++) bytes[i * width + b] = (classes[i] >>> (8 * b)) & 0xff;
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return `u${8 * width}:${btoa(binary)}`;
}

/** The class indices packClasses packed; undefined for a malformed string. */
export function unpackClasses(packed: unknown): number[] | undefined {
  if (typeof packed !== 'string') return undefined;
  const m = /^u(8|16|32):([A-Za-z0-9+/]*={0,2})$/.exec(packed);
  if (!m) return undefined;
  const width = Number(m[1]) / 8;
  let binary: string;
  try {
    binary = atob(m[2]);
  } catch {
    return undefined;
  }
  if (binary.length % width !== 0) return undefined;
  const out = new Array<number>(binary.length / width);
  for (let i = 0; i < out.length; i++) {
    let v = 0;
    for (let b = width - 1; b >= 0; b--) v = v * 256 + binary.charCodeAt(i * width + b);
    out[i] = v;
  }
  return out;
}

/** The job's `predictions: { float: number[]; quantized: number[] }`, packed; undefined when missing or of unequal lengths. */
export function predictionsFrom(raw: unknown): PredictionsView | undefined {
  const o = obj(raw);
  if (!o) return undefined;
  const isList = (v: unknown) => Array.isArray(v) || ArrayBuffer.isView(v);
  if (!isList(o.float) || !isList(o.quantized)) return undefined;
  const f = o.float as ArrayLike<number>, q = o.quantized as ArrayLike<number>;
  if (f.length !== q.length) return undefined;
  const float = packClasses(f), quantized = packClasses(q);
  return float !== undefined && quantized !== undefined ? { float, quantized } : undefined;
}

/**
 * How a run is listed and named in comparisons: 'W8A8 percentile per-channel', and with per-layer choices
 * 'W8A8 percentile per-channel + what-if: layer2.1.conv1 W4, layer3.2.conv2 float' (layers in `order`, the model's).
 */
export function runLabel(settings: Pick<RunSettings, 'weightBits' | 'activationBits' | 'method' | 'granularity' | keyof LayerChoices>, order?: readonly string[]): string {
  const base = [bitsLabel(settings.weightBits, settings.activationBits), settings.method, settings.granularity].filter(Boolean).join(' ');
  return hasLayerChoices(settings) ? `${base} + what-if: ${choicesLabel(settings, order)}` : base;
}

/** The job's account of what it reused from the run before it; undefined when it says nothing. */
export function reuseFrom(raw: unknown): ReuseView | undefined {
  const o = obj(raw);
  if (!o) return undefined;
  const at = obj(o.resumedAt);
  const name = (v: unknown) => (typeof v === 'string' && v.length > 0 && v.length <= 1024 ? v : undefined);
  const resumedAt = at && (name(at.biasCorrection) || name(at.evaluation)) ? { biasCorrection: name(at.biasCorrection), evaluation: name(at.evaluation) } : undefined;
  const out: ReuseView = {};
  if (resumedAt) out.resumedAt = resumedAt;
  if (typeof o.calibrationReused === 'boolean') out.calibrationReused = o.calibrationReused;
  const fp = num(o.floatPassReused);
  if (fp !== undefined && fp >= 0) out.floatPassReused = fp;
  const sec = num(o.seconds);
  if (sec !== undefined && sec >= 0) out.pipelineSeconds = sec;
  return Object.keys(out).length ? out : undefined;
}

/**
 * The quantize job's options for a run's settings (src/worker/quantize-job.ts reads them): the settings as they are —
 * a what-if's layerWeightBits / layerActivationBits / floatLayers included — and the preprocessing and limits.
 */
export function quantizeJobOptions(modelPath: string, settings: RunSettings, extra: { mean?: number[]; std?: number[]; maxModelSizeMB?: number; maxTensorElements?: number }): Record<string, unknown> {
  return { modelPath, ...settings, ...extra };
}

/**
 * The report job's options for a run's settings (src/worker/report-job.ts reads them): like the quantize job's, so a
 * what-if's per-layer choices reach the report as they reach the export.
 */
export function reportJobOptions(modelPath: string, settings: RunSettings, extra: { maxModelSizeMB?: number; maxTensorElements?: number }): Record<string, unknown> {
  return { modelPath, ...settings, ...extra };
}

/** A fresh run id: time and a random part (two runs in the same millisecond still differ). */
export function newRunId(now = Date.now()): string {
  return `${now.toString(36)}-${Math.floor(Math.random() * 36 ** 6).toString(36).padStart(6, '0')}`;
}

/** Builds the stored run from the quantize job's `{fp32:{accuracy}, quantized:{accuracy, agreement}, layers:[...]}`. */
export function quantRunFrom(raw: unknown, modelPath: string, settings: RunSettings, seconds: number, order?: readonly string[]): QuantRun {
  const o = obj(raw) ?? {};
  const layers = Array.isArray(o.layers) ? o.layers.flatMap((l) => layerResultFrom(l) ?? []) : [];
  const reuse = reuseFrom(o);
  return {
    id: newRunId(),
    label: runLabel(settings, order),
    modelPath,
    settings,
    fp32Accuracy: num(obj(o.fp32)?.accuracy),
    quantizedAccuracy: num(obj(o.quantized)?.accuracy),
    agreement: num(obj(o.quantized)?.agreement),
    logitSqnrDb: num(o.logitSqnrDb),
    labelled: o.labelled !== false,
    softmax: typeof o.softmax === 'string' ? o.softmax : undefined,
    floatNodes: Array.isArray(o.floatNodes)
      ? o.floatNodes.flatMap((f) => { const x = obj(f); return x && typeof x.name === 'string' ? [{ name: x.name, op: String(x.op ?? ''), reason: String(x.reason ?? '') }] : []; })
      : [],
    graph: graphErrorsFrom(o.graph),
    predictions: predictionsFrom(o.predictions),
    layers,
    finishedAt: new Date().toISOString(),
    seconds,
    ...(reuse ? { reuse } : {}),
  };
}

/** Checks a stored run (workspace storage may hold data from an older version). */
export function isQuantRun(v: unknown): v is QuantRun {
  const o = obj(v);
  return !!o && typeof o.modelPath === 'string' && Array.isArray(o.layers) && !!obj(o.settings);
}

export function accuracyDrop(run: QuantRun): number | undefined {
  return run.fp32Accuracy !== undefined && run.quantizedAccuracy !== undefined ? run.quantizedAccuracy - run.fp32Accuracy : undefined;
}

export type Quality = 'good' | 'fair' | 'poor' | 'unknown';

/** SQNR bands: ≥ 30 dB good, 20–30 dB fair, < 20 dB poor (≈ 6 dB per bit). */
export function sqnrQuality(db: number | undefined): Quality {
  if (db === undefined) return 'unknown';
  return db >= 30 ? 'good' : db >= 20 ? 'fair' : 'poor';
}

export function bitsLabel(w: number, a: number): string {
  return `W${w}A${a}`;
}

export function formatDb(db: number | undefined): string {
  return db === undefined ? '—' : `${db.toFixed(1)} dB`;
}

export function formatSigned(points: number | undefined, digits = 2): string {
  if (points === undefined) return '—';
  return `${points >= 0 ? '+' : '−'}${Math.abs(points).toFixed(digits)}`;
}

/** CodeLens title for one code line that creates one or more layers. */
export function lensTitle(attribute: string, layerCount: number, layers: readonly LayerResult[]): string {
  const name = layerCount > 1 ? `${attribute} ×${layerCount}` : attribute;
  if (layers.length === 0) return `${name} · not quantized yet`;
  const bits = [...new Set(layers.map((l) => bitsLabel(l.weightBits, l.activationBits)))].join('/');
  const sqnr = layers.map((l) => l.outputSqnrDb).filter((d): d is number => d !== undefined);
  const deltas = layers.map((l) => l.deltaAccuracy).filter((d): d is number => d !== undefined);
  const parts = [name, bits];
  if (sqnr.length) parts.push(layers.length > 1 ? `SQNR ${Math.min(...sqnr).toFixed(1)}–${Math.max(...sqnr).toFixed(1)} dB` : `SQNR ${sqnr[0].toFixed(1)} dB`);
  if (deltas.length) parts.push(`Δacc ${formatSigned(Math.min(...deltas))} pts`);
  return parts.join(' · ');
}

/** One-line error summary of a layer, as the editor's tooltip and the hover show it. */
export function layerErrorLine(l: LayerResult): string {
  const parts = [`${bitsLabel(l.weightBits, l.activationBits)}`, `output SQNR ${formatDb(l.outputSqnrDb)}`, `weight SQNR ${formatDb(l.weightSqnrDb)}`];
  if (l.deltaAccuracy !== undefined) parts.push(`Δacc ${formatSigned(l.deltaAccuracy)} pts`);
  return parts.join(' · ');
}
