/** Caps applied before allocating anything a model file asks for, and a wire-format pre-scan that enforces them. */
import { InputError } from '../util/errors';

export interface LoadLimits {
  /** Largest model file (plus external data) in bytes. Setting: quantInspector.maxModelSizeMB. */
  maxModelBytes: number;
  /** Largest single tensor in elements. Setting: quantInspector.maxTensorElements. */
  maxTensorElements: number;
  /** Deepest nesting of protobuf messages (graphs in attributes, types in types). */
  maxNestingDepth?: number;
  /** Estimated memory the decoded protobuf objects may take (messages, int64 objects, number arrays). */
  maxDecodedBytes?: number;
}

const BUILT_IN_LIMITS: Readonly<Required<LoadLimits>> = Object.freeze({
  maxModelBytes: 1024 * 1024 * 1024,
  maxTensorElements: 256 * 1024 * 1024,
  maxNestingDepth: 64,
  maxDecodedBytes: 1024 * 1024 * 1024,
});

/** The limits in force in this process: the built-in values unless configureLimits changed them. */
export const DEFAULT_LIMITS: Required<LoadLimits> = { ...BUILT_IN_LIMITS };

export interface LimitSettings {
  /** CLI --max-model-mb, setting quantInspector.maxModelSizeMB. */
  maxModelSizeMB?: number;
  /** Setting quantInspector.maxTensorElements. */
  maxTensorElements?: number;
}

/** Limits from user settings (CLI flags, extension settings); undefined keeps the built-in value. */
export function limitsFromSettings(settings: LimitSettings): Required<LoadLimits> {
  const limits = { ...BUILT_IN_LIMITS };
  const mb = settings.maxModelSizeMB;
  if (mb !== undefined) {
    if (!Number.isFinite(mb) || mb <= 0) throw new InputError(`maxModelSizeMB must be a positive number, got ${mb}`);
    limits.maxModelBytes = Math.floor(mb * 1024 * 1024);
  }
  const elements = settings.maxTensorElements;
  if (elements !== undefined) {
    if (!Number.isSafeInteger(elements) || elements <= 0) {
      throw new InputError(`maxTensorElements must be a positive integer, got ${elements}`);
    }
    limits.maxTensorElements = elements;
  }
  return limits;
}

/** Sets the process-wide limits (DEFAULT_LIMITS) from settings; called once per CLI run or worker job. */
export function configureLimits(settings: LimitSettings): void {
  Object.assign(DEFAULT_LIMITS, limitsFromSettings(settings));
}

// ---- wire-format pre-scan -------------------------------------------------------------------
// protobufjs decodes without bounds: 2 bytes of file can become a 150-byte object, an int64 a Long
// object, and nested messages recurse on the JS stack. The scan walks the bytes with the ONNX schema
// (iteratively), checks wire types and lengths, and estimates the decoded size before decoding.

type FieldKind =
  | { msg: string }
  | 'string' | 'bytes' | 'varint' | 'float' | 'double'
  | 'repString' | 'repBytes' | 'packedVarint' | 'packedInt64' | 'packedFloat' | 'packedDouble';

/** Field number → kind, per message, as onnx-proto (ONNX 1.10 schema) decodes them. */
const SCHEMA: Record<string, Record<number, FieldKind>> = {
  ModelProto: { 1: 'varint', 8: { msg: 'OperatorSetIdProto' }, 2: 'string', 3: 'string', 4: 'string', 5: 'varint', 6: 'string', 7: { msg: 'GraphProto' }, 14: { msg: 'StringStringEntryProto' }, 20: { msg: 'TrainingInfoProto' }, 25: { msg: 'FunctionProto' } },
  AttributeProto: { 1: 'string', 21: 'string', 13: 'string', 20: 'varint', 2: 'float', 3: 'varint', 4: 'bytes', 5: { msg: 'TensorProto' }, 6: { msg: 'GraphProto' }, 22: { msg: 'SparseTensorProto' }, 14: { msg: 'TypeProto' }, 7: 'packedFloat', 8: 'packedInt64', 9: 'repBytes', 10: { msg: 'TensorProto' }, 11: { msg: 'GraphProto' }, 23: { msg: 'SparseTensorProto' }, 15: { msg: 'TypeProto' } },
  ValueInfoProto: { 1: 'string', 2: { msg: 'TypeProto' }, 3: 'string' },
  NodeProto: { 1: 'repString', 2: 'repString', 3: 'string', 4: 'string', 7: 'string', 5: { msg: 'AttributeProto' }, 6: 'string' },
  TrainingInfoProto: { 1: { msg: 'GraphProto' }, 2: { msg: 'GraphProto' }, 3: { msg: 'StringStringEntryProto' }, 4: { msg: 'StringStringEntryProto' } },
  StringStringEntryProto: { 1: 'string', 2: 'string' },
  TensorAnnotation: { 1: 'string', 2: { msg: 'StringStringEntryProto' } },
  GraphProto: { 1: { msg: 'NodeProto' }, 2: 'string', 5: { msg: 'TensorProto' }, 15: { msg: 'SparseTensorProto' }, 10: 'string', 11: { msg: 'ValueInfoProto' }, 12: { msg: 'ValueInfoProto' }, 13: { msg: 'ValueInfoProto' }, 14: { msg: 'TensorAnnotation' } },
  TensorProto: { 1: 'packedInt64', 2: 'varint', 3: { msg: 'Segment' }, 4: 'packedFloat', 5: 'packedVarint', 6: 'repBytes', 7: 'packedInt64', 8: 'string', 12: 'string', 9: 'bytes', 13: { msg: 'StringStringEntryProto' }, 14: 'varint', 10: 'packedDouble', 11: 'packedInt64' },
  Segment: { 1: 'varint', 2: 'varint' },
  SparseTensorProto: { 1: { msg: 'TensorProto' }, 2: { msg: 'TensorProto' }, 3: 'packedInt64' },
  TensorShapeProto: { 1: { msg: 'Dimension' } },
  Dimension: { 1: 'varint', 2: 'string', 3: 'string' },
  TypeProto: { 1: { msg: 'TypeTensor' }, 4: { msg: 'TypeSequence' }, 5: { msg: 'TypeMap' }, 9: { msg: 'TypeOptional' }, 8: { msg: 'TypeTensor' }, 6: 'string' },
  TypeTensor: { 1: 'varint', 2: { msg: 'TensorShapeProto' } },
  TypeSequence: { 1: { msg: 'TypeProto' } },
  TypeMap: { 1: 'varint', 2: { msg: 'TypeProto' } },
  TypeOptional: { 1: { msg: 'TypeProto' } },
  OperatorSetIdProto: { 1: 'string', 2: 'varint' },
  FunctionProto: { 1: 'string', 4: 'repString', 5: 'repString', 6: 'repString', 7: { msg: 'NodeProto' }, 8: 'string', 9: { msg: 'OperatorSetIdProto' }, 10: 'string' },
};

/** Rough bytes each decoded thing costs in V8 (measured: an empty NodeProto ≈ 150 B, a Long ≈ 60 B). */
const COST = { message: 160, long: 64, number: 16, string: 40, bytes: 96 };

const WIRE_VARINT = 0, WIRE_64BIT = 1, WIRE_LEN = 2, WIRE_32BIT = 5;

export interface WireScan {
  messages: number;
  int64Values: number;
  maxDepth: number;
  estimatedDecodedBytes: number;
}

const MESSAGE_NAMES = Object.keys(SCHEMA);
/** The schema as arrays for the hot loop: message index → field number → kind. */
const FIELDS: (FieldKind | undefined)[][] = MESSAGE_NAMES.map((name) => {
  const fields: (FieldKind | undefined)[] = [];
  for (const [num, kind] of Object.entries(SCHEMA[name])) fields[Number(num)] = kind;
  return fields;
});
const CHILD_INDEX: (number | undefined)[][] = FIELDS.map((fields) =>
  fields.map((k) => (k !== undefined && typeof k === 'object' ? MESSAGE_NAMES.indexOf(k.msg) : undefined)),
);

/** Wire types a kind may arrive with, as a bit mask (packed repeated fields also arrive one by one). */
function allowedWires(kind: FieldKind): number {
  if (typeof kind === 'object') return 1 << WIRE_LEN;
  switch (kind) {
    case 'varint': return 1 << WIRE_VARINT;
    case 'float': return 1 << WIRE_32BIT;
    case 'double': return 1 << WIRE_64BIT;
    case 'packedFloat': return (1 << WIRE_LEN) | (1 << WIRE_32BIT);
    case 'packedDouble': return (1 << WIRE_LEN) | (1 << WIRE_64BIT);
    case 'packedVarint': case 'packedInt64': return (1 << WIRE_LEN) | (1 << WIRE_VARINT);
    default: return 1 << WIRE_LEN;
  }
}

/** Walks the protobuf bytes of a ModelProto; throws InputError if malformed or too costly to decode. */
export function scanModelWire(bytes: Uint8Array, file: string, limits: LoadLimits = DEFAULT_LIMITS): WireScan {
  const maxDepth = limits.maxNestingDepth ?? DEFAULT_LIMITS.maxNestingDepth;
  const maxDecoded = limits.maxDecodedBytes ?? DEFAULT_LIMITS.maxDecodedBytes;
  const fail = (at: number, why: string) =>
    new InputError(`${file}: not a valid ONNX model (${why} at byte ${at}); the file may be truncated or corrupt`);
  let pos = 0;
  const readVarint = (): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= bytes.length) throw fail(pos, 'unexpected end of data');
      const b = bytes[pos++];
      if (i < 8) value += (b & 0x7f) * scale; // beyond 2^56 only the last bytes matter for skipping
      scale *= 128;
      if ((b & 0x80) === 0) return value;
    }
    throw fail(pos, 'varint longer than 10 bytes');
  };
  const scan: WireScan = { messages: 1, int64Values: 0, maxDepth: 1, estimatedDecodedBytes: COST.message };
  const stackType = new Int32Array(maxDepth + 1);
  const stackEnd = new Float64Array(maxDepth + 1);
  let depth = 1;
  stackType[0] = MESSAGE_NAMES.indexOf('ModelProto');
  stackEnd[0] = bytes.length;
  while (depth > 0) {
    const type = stackType[depth - 1];
    const end = stackEnd[depth - 1];
    if (pos === end) { depth--; continue; }
    const tagPos = pos;
    const tag = readVarint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 0) throw fail(tagPos, 'field number 0');
    const kind = field < FIELDS[type].length ? FIELDS[type][field] : undefined;
    let length = 0;
    if (wire === WIRE_LEN) {
      length = readVarint();
      if (length > end - pos) {
        throw fail(tagPos, `field ${field} of ${MESSAGE_NAMES[type]} declares ${length} bytes but only ${end - pos} remain`);
      }
    } else if (wire !== WIRE_VARINT && wire !== WIRE_64BIT && wire !== WIRE_32BIT) {
      throw fail(tagPos, `unsupported wire type ${wire}`);
    }
    if (kind !== undefined && (allowedWires(kind) & (1 << wire)) === 0) {
      throw fail(tagPos, `field ${field} of ${MESSAGE_NAMES[type]} has wire type ${wire}`);
    }
    const child = kind === undefined ? undefined : CHILD_INDEX[type][field];
    if (child !== undefined) {
      if (depth >= maxDepth) {
        throw new InputError(`${file}: protobuf messages nested deeper than ${maxDepth} levels (at byte ${tagPos}); the file is corrupt or hostile`);
      }
      scan.messages++;
      scan.estimatedDecodedBytes += COST.message;
      stackType[depth] = child;
      stackEnd[depth] = pos + length;
      depth++;
      if (depth > scan.maxDepth) scan.maxDepth = depth;
    } else {
      if (kind !== undefined) {
        const bad = packedLengthProblem(kind, wire, length, bytes, pos);
        if (bad) throw fail(tagPos, `field ${field} of ${MESSAGE_NAMES[type]}: ${bad}`);
        scan.estimatedDecodedBytes += scalarCost(kind as Exclude<FieldKind, { msg: string }>, wire, length, bytes, pos, scan);
      }
      if (wire === WIRE_VARINT) readVarint();
      else if (wire === WIRE_64BIT) pos += 8;
      else if (wire === WIRE_32BIT) pos += 4;
      else pos += length;
      if (pos > end) throw fail(tagPos, `field ${field} of ${MESSAGE_NAMES[type]} runs past the end of its message`);
    }
    if (scan.estimatedDecodedBytes > maxDecoded) {
      throw new InputError(
        `${file}: decoding the model structure would take over ${(maxDecoded / 2 ** 20).toFixed(0)} MB ` +
        `(${scan.messages} protobuf messages, ${scan.int64Values} int64 values by byte ${pos}); the file is corrupt or hostile`,
      );
    }
  }
  return scan;
}

function scalarCost(
  kind: Exclude<FieldKind, { msg: string }>, wire: number, length: number, bytes: Uint8Array, pos: number, scan: WireScan,
): number {
  switch (kind) {
    case 'string': case 'repString': return COST.string + length;
    case 'bytes': case 'repBytes': return COST.bytes;
    case 'varint': case 'float': case 'double': return 0;
    case 'packedFloat': return wire === WIRE_LEN ? (length / 4) * COST.number : COST.number;
    case 'packedDouble': return wire === WIRE_LEN ? (length / 8) * COST.number : COST.number;
    case 'packedVarint': return countVarints(wire, length, bytes, pos) * COST.number;
    case 'packedInt64': {
      const n = countVarints(wire, length, bytes, pos);
      scan.int64Values += n;
      return n * COST.long;
    }
  }
}

/** Packed arrays must hold whole elements, or the decoder reads past them into the next field. */
function packedLengthProblem(kind: FieldKind, wire: number, length: number, bytes: Uint8Array, pos: number): string | undefined {
  if (wire !== WIRE_LEN || length === 0) return undefined;
  if (kind === 'packedFloat' && length % 4 !== 0) return `packed float array of ${length} bytes`;
  if (kind === 'packedDouble' && length % 8 !== 0) return `packed double array of ${length} bytes`;
  if ((kind === 'packedVarint' || kind === 'packedInt64') && (bytes[pos + length - 1] & 0x80) !== 0) {
    return 'packed integer array ends inside a value';
  }
  return undefined;
}

function countVarints(wire: number, length: number, bytes: Uint8Array, pos: number): number {
  if (wire !== WIRE_LEN) return 1;
  let n = 0;
  for (let i = pos; i < pos + length; i++) if ((bytes[i] & 0x80) === 0) n++;
  return n;
}
