/** Deterministic mutations of a model file: byte-level damage and structural edits of the decoded protobuf. */
import { onnx } from 'onnx-proto';
import { rng } from './robust-fixtures';
import { SUPPORTED_FLOAT_OPS } from '../src/kernels/float';

export interface FuzzCase {
  strategy: string;
  description: string;
  bytes: Uint8Array;
}

type Random = () => number;

interface Base {
  bytes: Uint8Array;
  /** Byte ranges of initializer raw_data: bit flips outside them hit the model's structure. */
  rawRanges: [number, number][];
}

const bases = new Map<Uint8Array, Base>();

function baseOf(bytes: Uint8Array): Base {
  let b = bases.get(bytes);
  if (!b) {
    const proto = onnx.ModelProto.decode(bytes);
    const rawRanges = graphOf(proto).initializer
      .filter((t) => t.rawData && t.rawData.length > 0)
      .map((t): [number, number] => [t.rawData.byteOffset - bytes.byteOffset, t.rawData.byteOffset - bytes.byteOffset + t.rawData.length])
      .sort((x, y) => x[0] - y[0]);
    b = { bytes, rawRanges };
    bases.set(bytes, b);
  }
  return b;
}

const int = (r: Random, n: number) => Math.floor(r() * n);
const pick = <T>(r: Random, items: readonly T[]): T => items[int(r, items.length)];

/** A byte offset outside the weights' raw data (the model's structure), or anywhere with probability 1/4. */
function structureOffset(r: Random, base: Base): number {
  const n = base.bytes.length;
  for (let tries = 0; tries < 50; tries++) {
    const at = int(r, n);
    if (r() < 0.25 || !base.rawRanges.some(([s, e]) => at >= s && at < e)) return at;
  }
  return int(r, n);
}

const INTERESTING_INTS = [0, 1, -1, 2, 3, 7, 64, 255, 65535, 2 ** 31 - 1, -(2 ** 31), 2 ** 40, -(2 ** 40), 1e9];

function interestingInt(r: Random, around?: number): number {
  if (around !== undefined && r() < 0.4) return around + pick(r, [-2, -1, 1, 2, around]);
  return pick(r, INTERESTING_INTS);
}

type Mutator = (r: Random, base: Base) => { description: string; bytes: Uint8Array };
type ProtoMutator = (r: Random, model: onnx.ModelProto) => string;

function viaProto(mutate: ProtoMutator): Mutator {
  return (r, base) => {
    const model = onnx.ModelProto.decode(base.bytes);
    const description = mutate(r, model);
    return { description, bytes: onnx.ModelProto.encode(model).finish() };
  };
}

/** The decoded graph with its repeated fields typed as the decoder's classes (their fields are never null). */
interface DecodedGraph {
  node: onnx.NodeProto[];
  initializer: onnx.TensorProto[];
  input: onnx.ValueInfoProto[];
  output: onnx.ValueInfoProto[];
}

function graphOf(model: onnx.ModelProto): DecodedGraph {
  return model.graph as unknown as DecodedGraph;
}

function attributesOf(n: onnx.NodeProto): onnx.AttributeProto[] {
  return n.attribute as onnx.AttributeProto[];
}

function valueNames(g: DecodedGraph): string[] {
  return [
    ...g.input.map((v) => v.name),
    ...g.initializer.map((t) => t.name),
    ...g.node.flatMap((n) => n.output),
  ];
}

/** Every operator the float engine supports (so each kernel meets hostile inputs) plus some it does not. */
const OP_TYPES = [...SUPPORTED_FLOAT_OPS, 'Loop', 'If', 'Scan', 'NoSuchOp', ''];

export const STRATEGIES: Record<string, Mutator> = {
  bitFlips(r, base) {
    const bytes = base.bytes.slice();
    const flips = 1 + int(r, 8);
    const where: number[] = [];
    for (let i = 0; i < flips; i++) {
      const at = structureOffset(r, base);
      bytes[at] ^= 1 << int(r, 8);
      where.push(at);
    }
    return { description: `flipped bits at bytes ${where.join(',')}`, bytes };
  },
  byteSplice(r, base) {
    const at = structureOffset(r, base);
    const removed = int(r, 16);
    const inserted = Uint8Array.from({ length: int(r, 16) }, () => pick(r, [0, 0x7f, 0x80, 0xff, int(r, 256)]));
    const src = base.bytes;
    const bytes = new Uint8Array(src.length - Math.min(removed, src.length - at) + inserted.length);
    bytes.set(src.subarray(0, at));
    bytes.set(inserted, at);
    bytes.set(src.subarray(Math.min(src.length, at + removed)), at + inserted.length);
    return { description: `replaced ${removed} bytes at ${at} by ${inserted.length} others`, bytes };
  },
  truncate(r, base) {
    const cut = int(r, base.bytes.length);
    return { description: `truncated to ${cut} bytes`, bytes: base.bytes.slice(0, cut) };
  },
  randomBytes(r) {
    const bytes = Uint8Array.from({ length: 1 + int(r, 2048) }, () => int(r, 256));
    return { description: `${bytes.length} random bytes`, bytes };
  },
  initializerDims: viaProto((r, m) => {
    const t = pick(r, graphOf(m).initializer);
    const dims = t.dims.map(Number);
    const kind = int(r, 3);
    if (kind === 0 && dims.length > 0) dims[int(r, dims.length)] = interestingInt(r, dims[0]);
    else if (kind === 1) dims.push(interestingInt(r));
    else dims.pop();
    t.dims = dims as unknown as typeof t.dims;
    return `initializer '${t.name}' dims → [${dims.join(',')}]`;
  }),
  initializerData: viaProto((r, m) => {
    const t = pick(r, graphOf(m).initializer);
    const kind = int(r, 4);
    if (kind === 0 && t.rawData.length > 0) {
      t.rawData = t.rawData.slice(0, int(r, t.rawData.length));
      return `initializer '${t.name}' raw data cut to ${t.rawData.length} bytes`;
    }
    if (kind === 1) {
      t.dataType = pick(r, [0, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 99]);
      return `initializer '${t.name}' data type → ${t.dataType}`;
    }
    if (kind === 2 && t.dataType === onnx.TensorProto.DataType.FLOAT && t.rawData.length >= 4) {
      const copy = new Uint8Array(t.rawData);
      const values = new Float32Array(copy.buffer, 0, copy.length >> 2);
      const bad = pick(r, [NaN, Infinity, -Infinity, 3e38, -3e38, 1e-45]);
      for (let i = 0; i < 1 + int(r, 4); i++) values[int(r, values.length)] = bad;
      t.rawData = copy;
      return `initializer '${t.name}' gets ${bad} values`;
    }
    t.externalData = [{ key: 'location', value: pick(r, ['../../../etc/passwd', '/etc/hostname', 'missing.bin', 'a/../../x', '']) }];
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    return `initializer '${t.name}' moved to external data '${t.externalData[0].value}'`;
  }),
  danglingInput: viaProto((r, m) => {
    const n = pick(r, graphOf(m).node);
    const i = int(r, n.input.length || 1);
    n.input[i] = `missing_${int(r, 1000)}`;
    return `node '${n.name}' input ${i} → '${n.input[i]}'`;
  }),
  cycle: viaProto((r, m) => {
    const nodes = graphOf(m).node;
    const from = int(r, nodes.length);
    const to = from + int(r, nodes.length - from);
    const n = nodes[from];
    if (n.input.length === 0) n.input.push('');
    n.input[0] = nodes[to].output[0];
    return `node '${n.name}' reads '${n.input[0]}' of a node at or after it`;
  }),
  duplicateName: viaProto((r, m) => {
    const g = graphOf(m);
    const kind = int(r, 3);
    if (kind === 0) {
      const a = pick(r, g.node);
      const b = pick(r, g.node);
      a.output[0] = b.output[0];
      return `node '${a.name}' output renamed to '${b.output[0]}'`;
    }
    if (kind === 1) {
      const t = pick(r, g.initializer);
      t.name = pick(r, valueNames(g));
      return `an initializer renamed to '${t.name}'`;
    }
    const n = pick(r, g.node);
    g.node.splice(int(r, g.node.length), 0, onnx.NodeProto.fromObject(n.toJSON()));
    return `node '${n.name}' duplicated`;
  }),
  opType: viaProto((r, m) => {
    const n = pick(r, graphOf(m).node);
    const before = n.opType;
    n.opType = pick(r, OP_TYPES);
    if (r() < 0.1) n.domain = pick(r, ['com.microsoft', 'ai.onnx.ml', 'x']);
    return `node '${n.name}' ${before} → ${n.domain ? n.domain + '.' : ''}${n.opType}`;
  }),
  attribute: viaProto((r, m) => {
    const withAttrs = graphOf(m).node.filter((n) => attributesOf(n).length > 0);
    const n = pick(r, withAttrs.length > 0 ? withAttrs : graphOf(m).node);
    const T = onnx.AttributeProto.AttributeType;
    if (attributesOf(n).length === 0 || r() < 0.15) {
      const name = pick(r, ['group', 'strides', 'pads', 'kernel_shape', 'dilations', 'axis', 'perm', 'min', 'max', 'alpha', 'transB', 'value']);
      attributesOf(n).push(onnx.AttributeProto.fromObject({ name, type: T.INTS, ints: [interestingInt(r), interestingInt(r)] }));
      return `node '${n.name}' gains attribute ${name}`;
    }
    const a = pick(r, attributesOf(n));
    const kind = int(r, 5);
    if (kind === 0) {
      attributesOf(n).splice(attributesOf(n).indexOf(a), 1);
      return `node '${n.name}' loses attribute ${a.name}`;
    }
    if (kind === 1) {
      a.type = pick(r, [T.FLOAT, T.INT, T.STRING, T.INTS, T.FLOATS, T.TENSOR, T.GRAPH, 0, 99]) as onnx.AttributeProto.AttributeType;
      return `node '${n.name}' attribute ${a.name} type → ${a.type}`;
    }
    if (a.type === T.INTS) {
      const ints = a.ints.map(Number);
      if (kind === 2 && ints.length > 0) ints[int(r, ints.length)] = interestingInt(r, ints[0]);
      else if (kind === 3) ints.splice(int(r, ints.length + 1), 0, interestingInt(r));
      else ints.length = int(r, ints.length);
      a.ints = ints as unknown as typeof a.ints;
      return `node '${n.name}' attribute ${a.name} → [${ints.join(',')}]`;
    }
    if (a.type === T.INT) {
      a.i = interestingInt(r, Number(a.i)) as unknown as typeof a.i;
      return `node '${n.name}' attribute ${a.name} → ${a.i}`;
    }
    if (a.type === T.FLOAT) {
      a.f = pick(r, [NaN, Infinity, -1, 0, 1e30, -1e30]);
      return `node '${n.name}' attribute ${a.name} → ${a.f}`;
    }
    if (a.type === T.TENSOR && a.t) {
      const raw = a.t.rawData ?? new Uint8Array();
      const values = raw.length > 0 ? raw.slice() : new Uint8Array();
      for (let i = 0; i < Math.min(4, values.length); i++) values[int(r, values.length)] = int(r, 256);
      a.t.rawData = values;
      if (r() < 0.3) a.t.dims = [interestingInt(r)] as unknown as typeof a.t.dims;
      return `node '${n.name}' tensor attribute ${a.name} altered`;
    }
    a.s = new Uint8Array([int(r, 256), int(r, 256)]);
    return `node '${n.name}' attribute ${a.name} string altered`;
  }),
  shapeConstant: viaProto((r, m) => {
    // The shape subgraphs (Reshape/Slice/Pad/Gather inputs) are small int64 initializers or Constant nodes.
    const g = graphOf(m);
    const small = g.initializer.filter((t) => t.dataType === onnx.TensorProto.DataType.INT64 && t.rawData.length <= 64);
    const constants = g.node.filter((n) => n.opType === 'Constant');
    const tensors = [...small, ...constants.flatMap((n) => attributesOf(n).filter((a) => a.t?.dataType === onnx.TensorProto.DataType.INT64).map((a) => a.t as onnx.TensorProto))];
    if (tensors.length === 0) return alterClipBounds(r, m);
    const t = pick(r, tensors);
    const values = new BigInt64Array(Math.max(1, t.rawData.length >> 3));
    if (t.rawData.length >= 8) new Uint8Array(values.buffer).set(t.rawData.subarray(0, values.length * 8));
    values[int(r, values.length)] = BigInt(interestingInt(r));
    t.rawData = new Uint8Array(values.buffer);
    t.dims = t.dims.length > 0 ? [values.length] as unknown as typeof t.dims : t.dims;
    return `int64 constant '${t.name}' → [${values.join(',')}]`;
  }),
  graphIO: viaProto((r, m) => {
    const g = graphOf(m);
    const kind = int(r, 5);
    const v = kind < 3 ? g.input[0] : g.output[0];
    const dims = v?.type?.tensorType?.shape?.dim;
    if (kind === 0 && dims && dims.length > 0) {
      const d = dims[int(r, dims.length)];
      d.dimValue = interestingInt(r, Number(d.dimValue ?? 1)) as unknown as typeof d.dimValue;
      d.dimParam = r() < 0.3 ? 'n' : '';
      return `input '${v.name}' dim → ${d.dimValue} ${d.dimParam}`;
    }
    if (kind === 1 && v?.type?.tensorType) {
      v.type.tensorType.elemType = pick(r, [0, 2, 6, 7, 10, 11]);
      return `input '${v.name}' element type → ${v.type.tensorType.elemType}`;
    }
    if (kind === 2) {
      g.input.push(onnx.ValueInfoProto.fromObject({ name: `extra_${int(r, 9)}`, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } } }));
      return 'a second graph input';
    }
    if (kind === 3) {
      g.output = r() < 0.5 ? [] : [onnx.ValueInfoProto.fromObject({ name: pick(r, valueNames(g)) })];
      return `graph outputs → [${g.output.map((o) => o.name).join(',')}]`;
    }
    g.input = [];
    return 'no graph input';
  }),
  nodes: viaProto((r, m) => {
    const g = graphOf(m);
    const i = int(r, g.node.length);
    const n = g.node[i];
    const kind = int(r, 3);
    if (kind === 0) {
      g.node.splice(i, 1);
      return `node '${n.name}' removed`;
    }
    if (kind === 1 && n.input.length > 0) {
      n.input.splice(int(r, n.input.length), 1);
      return `node '${n.name}' loses an input`;
    }
    n.input.push(pick(r, [...valueNames(g), '']));
    return `node '${n.name}' gains input '${n.input[n.input.length - 1]}'`;
  }),
  opset: viaProto((r, m) => {
    const version = pick(r, [0, 1, 6, 7, 9, 11, 12, 14, 17, 21, 99, -1]);
    m.opsetImport = r() < 0.2 ? [] : [onnx.OperatorSetIdProto.fromObject({ domain: '', version })];
    return `opset → ${m.opsetImport.length ? version : 'none'}`;
  }),
};

/** Models without shape subgraphs: the Clip (ReLU6) bounds become NaN, huge or crossed. */
function alterClipBounds(r: Random, m: onnx.ModelProto): string {
  const floats = graphOf(m).node
    .filter((n) => n.opType === 'Constant')
    .flatMap((n) => attributesOf(n).filter((a) => a.t?.dataType === onnx.TensorProto.DataType.FLOAT).map((a) => ({ n, t: a.t as onnx.TensorProto })));
  if (floats.length === 0) return 'no constant to alter';
  const { n, t } = pick(r, floats);
  const value = pick(r, [NaN, Infinity, -Infinity, -6, 1e30, 0]);
  t.rawData = new Uint8Array(new Float32Array([value]).buffer);
  t.floatData = [];
  return `float constant of '${n.name}' → ${value}`;
}

export const STRATEGY_NAMES = Object.keys(STRATEGIES);

/** The case `seed` of strategy `strategy` on a model's bytes: same inputs, same bytes. */
export function generateCase(baseBytes: Uint8Array, strategy: string, seed: number): FuzzCase {
  const mutate = STRATEGIES[strategy];
  if (!mutate) throw new Error(`unknown fuzz strategy ${strategy}`);
  const r = rng(seed * 7919 + STRATEGY_NAMES.indexOf(strategy));
  const { description, bytes } = mutate(r, baseOf(baseBytes));
  return { strategy, description, bytes };
}
