/** Builders for hostile and hand-made ONNX models used by the robustness, security and fuzz tests. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { InputError } from '../src/util/errors';

export const SHARED = path.resolve(__dirname, '../../shared');
export const MODELS = path.join(SHARED, 'models');

export function encodeModel(model: onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.fromObject(model as Record<string, unknown>)).finish();
}

export function decodeFixture(name: string): onnx.ModelProto {
  return onnx.ModelProto.decode(fs.readFileSync(path.join(MODELS, name)));
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `qi-${prefix}-`));
}

/** y = Relu(x · W + B) with x [1,2], W [2,2], B [2]: small enough to check values by hand. */
export function tinyModel(weight: onnx.ITensorProto = floatInit('W', [2, 2], [1, -2, 3, 4])): onnx.IModelProto {
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'robust-test',
    graph: {
      name: 'tiny',
      node: [
        { name: 'mm', opType: 'MatMul', input: ['x', 'W'], output: ['h'] },
        { name: 'add', opType: 'Add', input: ['h', 'B'], output: ['z'] },
        { name: 'relu', opType: 'Relu', input: ['z'], output: ['y'] },
      ],
      initializer: [weight, floatInit('B', [2], [0.5, -0.5])],
      input: [valueInfo('x', [1, 2])],
      output: [valueInfo('y', [1, 2])],
    },
  };
}

export function floatInit(name: string, dims: number[], values: number[]): onnx.ITensorProto {
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(new Float32Array(values).buffer) };
}

export function valueInfo(name: string, dims: (number | string)[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** Runs fn and returns the InputError it throws; fails the test on success or on any other error. */
export function expectInputError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (e) {
    if (e instanceof InputError) return e;
    throw new Error(`expected an InputError, got ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
  }
  throw new Error('expected an InputError, but the call succeeded');
}

export function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n % 128) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** A protobuf length-delimited field: tag (field, wire type 2), length, payload. */
export function lengthField(field: number, payload: Uint8Array | number[]): Uint8Array {
  const body = payload instanceof Uint8Array ? payload : Uint8Array.from(payload);
  return Buffer.concat([Uint8Array.from([...varint(field * 8 + 2), ...varint(body.length)]), body]);
}

/** Deterministic PRNG so every fuzz case can be replayed from its seed. */
export { mulberry32 as rng } from '../src/util/random';
