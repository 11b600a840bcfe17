/** Opens a data set by looking at its path: a folder, an IDX images file, or a CIFAR-10 binary batch. */
import * as fs from 'fs';
import * as path from 'path';
import { InputError } from '../util/errors';
import { readCifar10 } from './cifar';
import { readImageFolder } from './folder';
import { resizeBilinear } from './image-decode';
import { isIdxImagesPath, readIdx } from './idx';
import type { Dataset, OpenOptions } from './types';

export const SUPPORTED_DATA =
  'a CIFAR-10 binary batch (.bin, .bin.gz), an IDX images file (*-images-idx3-ubyte[.gz]) with its labels beside it, or a folder of class sub-folders of PNG/JPEG images';

export function openDataset(dataPath: string, options: OpenOptions = {}): Dataset {
  if (options.limit !== undefined && (!Number.isSafeInteger(options.limit) || options.limit < 1)) {
    throw new InputError(`--limit must be a positive whole number, got ${options.limit}`);
  }
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dataPath);
  } catch {
    throw new InputError(`${dataPath}: no such file or folder`);
  }
  if (stat.isDirectory()) return readImageFolder(dataPath, options);
  const name = path.basename(dataPath);
  if (isIdxImagesPath(dataPath)) return resized(readIdx(dataPath, options), options.resize);
  if (/labels[-.]idx1-ubyte(\.gz)?$/.test(name)) {
    throw new InputError(`${dataPath}: this is an IDX label file; pass the images file (*-images-idx3-ubyte[.gz]) and its labels are found beside it`);
  }
  if (/\.bin(\.gz)?$/.test(name)) return resized(readCifar10(dataPath, options), options.resize);
  throw new InputError(`${dataPath}: unknown data format; expected ${SUPPORTED_DATA}`);
}

/** A file data set whose images are resized (bilinear, as image folders are) as they are read; itself at that size. */
function resized(dataset: Dataset, to: OpenOptions['resize']): Dataset {
  if (!to || (to.height === dataset.height && to.width === dataset.width)) return dataset;
  const from = { height: dataset.height, width: dataset.width };
  const inPer = dataset.channels * from.height * from.width;
  const outPer = dataset.channels * to.height * to.width;
  return {
    ...dataset,
    height: to.height,
    width: to.width,
    readPixels(start: number, end: number): Uint8Array {
      const src = dataset.readPixels(start, end);
      const out = new Uint8Array((end - start) * outPer);
      for (let i = 0; i < end - start; i++) out.set(resizeBilinear(src.subarray(i * inPer, (i + 1) * inPer), dataset.channels, from, to), i * outPer);
      return out;
    },
  };
}
