/** Dense tensors: the one value type that flows between loader, graph, kernels and UI. */

export type DType = 'float32' | 'float64' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'int64' | 'bool';

export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | BigInt64Array;

export interface Tensor {
  dtype: DType;
  dims: number[];
  data: TensorData;
}

const CONSTRUCTORS = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  bool: Uint8Array,
} as const;

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function allocate(dtype: DType, dims: number[]): Tensor {
  return { dtype, dims, data: new CONSTRUCTORS[dtype](elementCount(dims)) };
}

export function floatTensor(dims: number[], data?: Float32Array): Tensor {
  return { dtype: 'float32', dims, data: data ?? new Float32Array(elementCount(dims)) };
}

export function int64Tensor(values: readonly number[], dims: number[] = [values.length]): Tensor {
  return { dtype: 'int64', dims, data: BigInt64Array.from(values.map((v) => BigInt(v))) };
}

/** Read any tensor's elements as JS numbers (int64 converted; fine for shapes and indices). */
export function toNumbers(t: Tensor): number[] {
  const out = new Array<number>(t.data.length);
  for (let i = 0; i < t.data.length; i++) out[i] = Number(t.data[i]);
  return out;
}

/** Build a tensor of `dtype` from JS numbers. */
export function fromNumbers(dtype: DType, dims: number[], values: ArrayLike<number>): Tensor {
  const t = allocate(dtype, dims);
  if (dtype === 'int64') {
    const d = t.data as BigInt64Array;
    for (let i = 0; i < values.length; i++) d[i] = BigInt(Math.trunc(values[i]));
  } else {
    (t.data as Exclude<TensorData, BigInt64Array>).set(values as ArrayLike<number>);
  }
  return t;
}

export function asFloat32(t: Tensor): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`expected a float32 tensor, got ${t.dtype}`);
  return t.data as Float32Array;
}

export function shapeString(dims: readonly (number | string)[]): string {
  return `[${dims.join(',')}]`;
}

/** The same elements on a SharedArrayBuffer (the array itself when it already is on one): threads then share, not copy, it. */
export function sharedCopy<T extends TensorData>(data: T): T {
  if (data.buffer instanceof SharedArrayBuffer) return data;
  const copy = new (data.constructor as new (buffer: SharedArrayBuffer) => T)(new SharedArrayBuffer(data.byteLength));
  (copy as unknown as { set(a: T): void }).set(data);
  return copy;
}
