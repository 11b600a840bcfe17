/** Reads .onnx files (protobuf, via onnx-proto) into the plain IR of src/graph/ir.ts. */
import * as fs from 'fs';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import type { AttributeValue, Graph, Model, Node, ValueInfo, Dim } from '../graph/ir';
import { DType, Tensor, TensorData, elementCount } from '../graph/tensor';
import { InputError, errorMessage } from '../util/errors';
import { DEFAULT_LIMITS, LoadLimits, scanModelWire } from './limits';
import { hoistConstants } from '../graph/hoist';

const TensorDataType = onnx.TensorProto.DataType;
const AttrType = onnx.AttributeProto.AttributeType;

const DTYPE_OF: Record<number, DType> = {
  [TensorDataType.FLOAT]: 'float32',
  [TensorDataType.DOUBLE]: 'float64',
  [TensorDataType.INT8]: 'int8',
  [TensorDataType.UINT8]: 'uint8',
  [TensorDataType.INT16]: 'int16',
  [TensorDataType.UINT16]: 'uint16',
  [TensorDataType.INT32]: 'int32',
  [TensorDataType.INT64]: 'int64',
  [TensorDataType.BOOL]: 'bool',
};

export const ONNX_DATA_TYPE: Record<DType, number> = {
  float32: TensorDataType.FLOAT,
  float64: TensorDataType.DOUBLE,
  int8: TensorDataType.INT8,
  uint8: TensorDataType.UINT8,
  int16: TensorDataType.INT16,
  uint16: TensorDataType.UINT16,
  int32: TensorDataType.INT32,
  int64: TensorDataType.INT64,
  bool: TensorDataType.BOOL,
};

const BYTES_PER_ELEMENT: Record<DType, number> = {
  float32: 4, float64: 8, int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, int64: 8, bool: 1,
};

export function dtypeName(code: number): string {
  return TensorDataType[code] ?? `data type ${code}`;
}

interface LoadContext {
  file: string;
  dir: string;
  limits: LoadLimits;
  /** Bytes read so far: the model file plus external data, capped by limits.maxModelBytes. */
  externalBytes: number;
}

/** Reads and validates a model file. Throws InputError naming the file and what is wrong. */
export function loadModel(file: string, limits: LoadLimits = DEFAULT_LIMITS): Model {
  return parseModel(readModelFile(file, limits), file, limits);
}

/** The bytes of a model file: a regular file (not a FIFO or device) within the size cap; InputError otherwise. */
export function readModelFile(file: string, limits: LoadLimits = DEFAULT_LIMITS): Buffer {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new InputError(`${file}: no such file`);
  }
  if (!stat.isFile()) throw new InputError(`${file}: not a file`);
  if (stat.size > limits.maxModelBytes) {
    throw new InputError(
      `${file}: model is ${formatSize(stat.size)}, over the limit of ${formatSize(limits.maxModelBytes)} (setting quantInspector.maxModelSizeMB, CLI --max-model-mb)`,
    );
  }
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new InputError(`${file}: cannot read (${errorMessage(e)})`);
  }
}

/** A size for messages: '0.5 MB', '1.07 MB', '46.7 MB', '1024 MB'; below 0.01 MB in bytes. */
function formatSize(bytes: number): string {
  const mb = bytes / 2 ** 20;
  if (mb < 0.01) return `${bytes} bytes`;
  return `${mb >= 100 ? Math.round(mb) : Number(mb.toFixed(mb >= 10 ? 1 : 2))} MB`;
}

/** Parses model bytes; `file` is used for messages and to resolve external data. */
export function parseModel(bytes: Uint8Array, file = '<memory>', limits: LoadLimits = DEFAULT_LIMITS): Model {
  if (bytes.length === 0) throw new InputError(`${file}: empty file, not an ONNX model`);
  scanModelWire(bytes, file, limits); // bounds nesting and decoded size before protobufjs allocates
  let proto: onnx.ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new InputError(`${file}: not a valid ONNX model (protobuf decoding failed: ${why}); the file may be truncated or corrupt`);
  }
  if (!proto.graph) throw new InputError(`${file}: not an ONNX model (no graph found)`);
  const ctx: LoadContext = { file, dir: path.dirname(path.resolve(file)), limits, externalBytes: bytes.length };
  const graph = convertGraph(proto.graph, ctx);
  hoistConstants(graph);
  if (graph.nodes.length === 0) throw new InputError(`${file}: the model graph has no nodes`);
  const metadata: Record<string, string> = {};
  for (const p of proto.metadataProps ?? []) if (p.key) metadata[p.key] = p.value ?? '';
  return {
    path: file,
    irVersion: Number(proto.irVersion ?? 0),
    producerName: proto.producerName ?? '',
    producerVersion: proto.producerVersion ?? '',
    opsetImports: (proto.opsetImport ?? []).map((o) => ({ domain: o.domain ?? '', version: Number(o.version ?? 0) })),
    metadata,
    graph,
  };
}

function convertGraph(g: onnx.IGraphProto, ctx: LoadContext): Graph {
  const initializers = new Map<string, Tensor>();
  for (const t of g.initializer ?? []) {
    const name = t.name ?? '';
    if (initializers.has(name)) throw new InputError(`${ctx.file}: duplicate initializer '${name}'`);
    initializers.set(name, convertTensor(t, ctx, `initializer '${name}'`));
  }
  const valueInfo = new Map<string, ValueInfo>();
  for (const v of g.valueInfo ?? []) valueInfo.set(v.name ?? '', convertValueInfo(v));
  const nodes = (g.node ?? []).map((n, i) => convertNode(n, i, ctx));
  return {
    name: g.name ?? '',
    nodes,
    inputs: (g.input ?? []).filter((v) => !initializers.has(v.name ?? '')).map(convertValueInfo),
    outputs: (g.output ?? []).map(convertValueInfo),
    initializers,
    valueInfo,
  };
}

function convertValueInfo(v: onnx.IValueInfoProto): ValueInfo {
  const tt = v.type?.tensorType;
  const dims: Dim[] | undefined = tt?.shape?.dim?.map((d) =>
    d.dimValue != null && Number(d.dimValue) > 0 ? Number(d.dimValue) : d.dimParam || '?',
  );
  const dtype = tt?.elemType != null ? DTYPE_OF[tt.elemType] ?? 'unknown' : 'unknown';
  return { name: v.name ?? '', dtype, dims: tt?.shape ? dims : undefined };
}

function convertNode(n: onnx.INodeProto, index: number, ctx: LoadContext): Node {
  const name = n.name || `${n.opType ?? 'node'}_${index}`;
  const attributes: Record<string, AttributeValue> = {};
  for (const a of n.attribute ?? []) {
    attributes[a.name ?? ''] = convertAttribute(a, ctx, `attribute '${a.name}' of node '${name}'`);
  }
  return {
    name,
    opType: n.opType ?? '',
    domain: n.domain ?? '',
    inputs: [...(n.input ?? [])],
    outputs: [...(n.output ?? [])],
    attributes,
    docString: n.docString || undefined,
  };
}

function convertAttribute(a: onnx.IAttributeProto, ctx: LoadContext, what: string): AttributeValue {
  switch (a.type) {
    case AttrType.FLOAT: return a.f ?? 0;
    case AttrType.INT: return Number(a.i ?? 0);
    case AttrType.STRING: return Buffer.from(a.s ?? new Uint8Array()).toString('utf8');
    case AttrType.FLOATS: return [...(a.floats ?? [])];
    case AttrType.INTS: return (a.ints ?? []).map(Number);
    case AttrType.STRINGS: return (a.strings ?? []).map((s) => Buffer.from(s).toString('utf8'));
    case AttrType.TENSOR: return convertTensor(a.t ?? {}, ctx, what);
    case AttrType.TENSORS: return (a.tensors ?? []).map((t) => convertTensor(t, ctx, what));
    case AttrType.GRAPH: return convertGraph(a.g ?? {}, ctx);
    case AttrType.GRAPHS: return (a.graphs ?? []).map((g) => convertGraph(g, ctx));
    default:
      throw new InputError(`${ctx.file}: ${what} has unsupported attribute type ${a.type}`);
  }
}

export function convertTensor(t: onnx.ITensorProto, ctx: LoadContext | string, what: string): Tensor {
  const c: LoadContext = typeof ctx === 'string'
    ? { file: ctx, dir: path.dirname(path.resolve(ctx)), limits: DEFAULT_LIMITS, externalBytes: 0 }
    : ctx;
  const dims = (t.dims ?? []).map(Number);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new InputError(`${c.file}: ${what} has invalid dimensions [${dims.join(',')}]`);
  }
  const count = elementCount(dims);
  if (count > c.limits.maxTensorElements) {
    throw new InputError(
      `${c.file}: ${what} declares ${count} elements, over the limit of ${c.limits.maxTensorElements} (setting quantInspector.maxTensorElements)`,
    );
  }
  const dtype = DTYPE_OF[t.dataType ?? 0];
  if (!dtype) throw new InputError(`${c.file}: ${what} has unsupported data type ${dtypeName(t.dataType ?? 0)}`);
  const data = tensorData(t, dtype, count, c, what);
  return { dtype, dims, data };
}

function tensorData(t: onnx.ITensorProto, dtype: DType, count: number, ctx: LoadContext, what: string): TensorData {
  const bpe = BYTES_PER_ELEMENT[dtype];
  let raw: Uint8Array | undefined;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) raw = readExternal(t, ctx, what, dtype, count * bpe);
  else if (t.rawData && t.rawData.length > 0) raw = t.rawData;
  if (raw) {
    if (raw.length !== count * bpe) {
      throw new InputError(`${ctx.file}: ${what} has ${raw.length} bytes of data, but its shape [${(t.dims ?? []).join(',')}] of ${dtype} needs ${count * bpe}`);
    }
    const copy = new ArrayBuffer(raw.length); // aligned copy, little-endian as ONNX stores it
    new Uint8Array(copy).set(raw);
    return typedView(dtype, copy);
  }
  const out = typedView(dtype, new ArrayBuffer(count * bpe));
  const fields: ArrayLike<number | Long>[] = [];
  if (dtype === 'float32') fields.push(t.floatData ?? []);
  else if (dtype === 'float64') fields.push(t.doubleData ?? []);
  else if (dtype === 'int64') fields.push(t.int64Data ?? []);
  else fields.push(t.int32Data ?? []);
  const src = fields[0];
  if (src.length !== count) {
    throw new InputError(`${ctx.file}: ${what} has ${src.length} values, but its shape [${(t.dims ?? []).join(',')}] needs ${count}`);
  }
  if (out instanceof BigInt64Array) for (let i = 0; i < count; i++) out[i] = BigInt(String(src[i]));
  else for (let i = 0; i < count; i++) (out as Float32Array)[i] = Number(src[i]);
  return out;
}

type Long = { toString(): string };

function typedView(dtype: DType, buf: ArrayBuffer): TensorData {
  switch (dtype) {
    case 'float32': return new Float32Array(buf);
    case 'float64': return new Float64Array(buf);
    case 'int8': return new Int8Array(buf);
    case 'uint8': case 'bool': return new Uint8Array(buf);
    case 'int16': return new Int16Array(buf);
    case 'uint16': return new Uint16Array(buf);
    case 'int32': return new Int32Array(buf);
    case 'int64': return new BigInt64Array(buf);
  }
}

/** External data is read only from inside the model's own folder (no absolute paths, '..' or escaping symlinks). */
function readExternal(t: onnx.ITensorProto, ctx: LoadContext, what: string, dtype: DType, neededBytes: number): Uint8Array {
  const entries: Record<string, string> = {};
  for (const e of t.externalData ?? []) if (e.key) entries[e.key] = e.value ?? '';
  const location = entries.location;
  if (!location) throw new InputError(`${ctx.file}: ${what} uses external data but names no location`);
  const resolved = resolveInsideFolder(ctx.dir, location, ctx.file, what);
  // O_NOFOLLOW | O_NONBLOCK: the checked path cannot be swapped for a link (or a FIFO that blocks) before it is opened
  const flags = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0);
  let fd: number;
  try {
    fd = fs.openSync(resolved, flags);
  } catch (e) {
    throw new InputError(`${ctx.file}: ${what} cannot open external data file '${location}' (${errorMessage(e)})`);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new InputError(`${ctx.file}: ${what} has external data file '${location}' which is not a regular file`);
    const offset = Number(entries.offset ?? 0);
    const length = entries.length != null ? Number(entries.length) : stat.size - offset;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > stat.size) {
      throw new InputError(`${ctx.file}: ${what} reads bytes ${offset}..${offset + length} of '${location}', which has ${stat.size}`);
    }
    if (length !== neededBytes) { // checked before allocating
      throw new InputError(`${ctx.file}: ${what} has ${length} bytes of data, but its shape [${(t.dims ?? []).join(',')}] of ${dtype} needs ${neededBytes}`);
    }
    ctx.externalBytes += length;
    if (ctx.externalBytes > ctx.limits.maxModelBytes) {
      throw new InputError(`${ctx.file}: the model and its external data exceed the limit of ${formatSize(ctx.limits.maxModelBytes)} (setting quantInspector.maxModelSizeMB, CLI --max-model-mb)`);
    }
    const buf = Buffer.alloc(length);
    for (let done = 0; done < length;) {
      const n = fs.readSync(fd, buf, done, length - done, offset + done);
      if (n === 0) throw new InputError(`${ctx.file}: ${what}: external data file '${location}' ended early (it changed while being read)`);
      done += n;
    }
    return buf;
  } finally {
    fs.closeSync(fd);
  }
}

export function resolveInsideFolder(dir: string, location: string, file: string, what: string): string {
  const refuse = (why: string) =>
    new InputError(`${file}: ${what} has external data location '${location}' ${why}; external data must stay inside the model's folder`);
  if (path.isAbsolute(location) || /^[a-zA-Z]:/.test(location)) throw refuse('which is an absolute path');
  if (location.split(/[\\/]/).includes('..')) throw refuse("which contains '..'");
  const candidate = path.resolve(dir, location);
  let real: string;
  let realDir: string;
  try {
    real = fs.realpathSync(candidate);
    realDir = fs.realpathSync(dir);
  } catch {
    throw new InputError(`${file}: ${what} has external data file '${location}' which does not exist next to the model`);
  }
  const rel = path.relative(realDir, real);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw refuse('which leads outside through a symbolic link');
  if (!fs.statSync(real).isFile()) throw refuse('which is not a regular file');
  return real;
}
