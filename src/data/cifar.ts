/** CIFAR-10 binary batches: records of 1 label byte + 3072 pixel bytes (R plane, G plane, B plane, row-major 32×32). */
import { InputError } from '../util/errors';
import { readDataFile } from './bytes';
import type { Dataset, OpenOptions } from './types';

export const CIFAR_SIDE = 32;
export const CIFAR_PIXELS = 3 * CIFAR_SIDE * CIFAR_SIDE;
export const CIFAR_RECORD = 1 + CIFAR_PIXELS;

export function readCifar10(file: string, options: OpenOptions = {}): Dataset {
  return parseCifar10(readDataFile(file), file, options);
}

export function parseCifar10(bytes: Uint8Array, file: string, options: OpenOptions = {}): Dataset {
  if (bytes.length === 0) throw new InputError(`${file}: empty file, no CIFAR-10 records`);
  if (bytes.length % CIFAR_RECORD !== 0) {
    throw new InputError(
      `${file}: ${bytes.length} bytes is not a whole number of CIFAR-10 records of ${CIFAR_RECORD} bytes (1 label + 3×32×32 pixels); the file is truncated or not CIFAR-10 binary`,
    );
  }
  const count = Math.min(bytes.length / CIFAR_RECORD, options.limit ?? Infinity);
  const labels = new Int32Array(count);
  const pixels = new Uint8Array(count * CIFAR_PIXELS);
  for (let i = 0; i < count; i++) {
    const at = i * CIFAR_RECORD;
    labels[i] = bytes[at];
    pixels.set(bytes.subarray(at + 1, at + CIFAR_RECORD), i * CIFAR_PIXELS);
  }
  return {
    source: file,
    format: 'cifar10-binary',
    count,
    channels: 3,
    height: CIFAR_SIDE,
    width: CIFAR_SIDE,
    labels,
    readPixels: (start, end) => pixels.subarray(start * CIFAR_PIXELS, end * CIFAR_PIXELS),
    describeImage: (index) => `${file} record ${index}`,
  };
}
