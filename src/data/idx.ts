/** IDX files (MNIST, Fashion-MNIST): `*-images-idx3-ubyte[.gz]` with its `*-labels-idx1-ubyte[.gz]` beside it. */
import * as fs from 'fs';
import * as path from 'path';
import { InputError } from '../util/errors';
import { readDataFile } from './bytes';
import type { Dataset, OpenOptions } from './types';

const UBYTE = 0x08;

interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

export function isIdxImagesPath(file: string): boolean {
  return /images[-.]idx3-ubyte(\.gz)?$/.test(path.basename(file));
}

/** The label file that belongs to an image file: same folder, `images-idx3` → `labels-idx1`, with or without .gz. */
/** The labels file beside an IDX images file, or undefined when there is none (the images are then unlabelled). */
export function findIdxLabels(imagesFile: string): string | undefined {
  const base = path.basename(imagesFile).replace(/\.gz$/, '').replace(/images([-.])idx3-ubyte$/, 'labels$1idx1-ubyte');
  const dir = path.dirname(imagesFile);
  const candidates = [base, `${base}.gz`].map((name) => path.join(dir, name));
  return base === path.basename(imagesFile).replace(/\.gz$/, '') ? undefined : candidates.find((f) => fs.existsSync(f));
}

export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) throw new InputError(`${file}: not an IDX file (bad magic number)`);
  if (bytes[2] !== UBYTE) throw new InputError(`${file}: IDX element type 0x${bytes[2].toString(16)} is not supported (only unsigned bytes, 0x08)`);
  const rank = bytes[3];
  if (rank < 1 || rank > 4 || bytes.length < 4 + 4 * rank) throw new InputError(`${file}: IDX header declares ${rank} dimensions but is truncated or invalid`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const header = 4 + 4 * rank;
  const expected = dims.reduce((a, b) => a * b, 1);
  if (bytes.length - header !== expected) {
    throw new InputError(`${file}: IDX header declares dimensions [${dims.join(',')}] (${expected} bytes) but the file holds ${bytes.length - header} bytes of data`);
  }
  return { dims, data: bytes.subarray(header) };
}

export function readIdx(imagesFile: string, options: OpenOptions = {}): Dataset {
  const labelsFile = findIdxLabels(imagesFile);
  const images = parseIdx(readDataFile(imagesFile), imagesFile);
  const labels = labelsFile ? parseIdx(readDataFile(labelsFile), labelsFile) : undefined;
  return idxDataset(images, labels, imagesFile, labelsFile ?? '', options);
}

function idxDataset(images: IdxArray, labels: IdxArray | undefined, imagesFile: string, labelsFile: string, options: OpenOptions): Dataset {
  if (images.dims.length !== 3 && images.dims.length !== 4) {
    throw new InputError(`${imagesFile}: IDX images need 3 dimensions [count,rows,cols] (or 4 with channels last), got [${images.dims.join(',')}]`);
  }
  if (labels && labels.dims.length !== 1) throw new InputError(`${labelsFile}: IDX labels need 1 dimension, got [${labels.dims.join(',')}]`);
  const [total, height, width] = images.dims;
  const channels = images.dims[3] ?? 1;
  if (labels && labels.dims[0] !== total) {
    throw new InputError(`${labelsFile}: ${labels.dims[0]} labels but ${imagesFile} has ${total} images; the counts must match`);
  }
  if (total === 0) throw new InputError(`${imagesFile}: the IDX file holds no images`);
  const count = Math.min(total, options.limit ?? Infinity);
  const size = channels * height * width;
  const pixels = channels === 1 ? images.data : interleavedToPlanes(images.data, count, channels, height * width);
  return {
    source: imagesFile,
    format: 'idx',
    count,
    channels,
    height,
    width,
    labels: labels ? Int32Array.from(labels.data.subarray(0, count)) : new Int32Array(count).fill(-1),
    ...(labels ? {} : { unlabelled: true }),
    readPixels: (start, end) => pixels.subarray(start * size, end * size),
    describeImage: (index) => `${imagesFile} image ${index}`,
  };
}

/** HWC → CHW for `count` images of `area` pixels. */
export function interleavedToPlanes(hwc: Uint8Array, count: number, channels: number, area: number): Uint8Array {
  const out = new Uint8Array(count * channels * area);
  for (let n = 0; n < count; n++) {
    const base = n * channels * area;
    for (let p = 0; p < area; p++) for (let c = 0; c < channels; c++) out[base + c * area + p] = hwc[base + p * channels + c];
  }
  return out;
}
