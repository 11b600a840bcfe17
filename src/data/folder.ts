/**
 * A folder of class sub-folders of PNG/JPEG images (or of images without labels). Class index of a sub-folder: its position in the known class
 * names (a sidecar's labels) when given, else its number when every name is a number, else its sorted position.
 */
import * as fs from 'fs';
import * as path from 'path';
import { InputError, errorMessage } from '../util/errors';
import { decodeImage, readImageSize, resizeBilinear } from './image-decode';
import type { Dataset, OpenOptions } from './types';

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

interface ImageEntry {
  file: string;
  label: number;
}

/** Class index per sub-folder name, and the class names by index. */
export function classIndices(folder: string, subfolders: string[], knownNames?: readonly string[]): { indices: number[]; classNames: string[] } {
  if (knownNames && knownNames.length > 0) {
    const unknown = subfolders.filter((n) => !knownNames.includes(n));
    if (unknown.length === 0) return { indices: subfolders.map((n) => knownNames.indexOf(n)), classNames: [...knownNames] };
    if (unknown.length < subfolders.length) {
      throw new InputError(`${folder}: sub-folders ${unknown.map((n) => `'${n}'`).join(', ')} are not among the model's class names (${knownNames.join(', ')})`);
    }
  }
  if (subfolders.every((n) => /^\d{1,6}$/.test(n))) {
    const indices = subfolders.map(Number);
    const classNames = Array.from({ length: Math.max(...indices) + 1 }, (_, i) => String(i));
    return { indices, classNames };
  }
  return { indices: subfolders.map((_, i) => i), classNames: subfolders };
}

const isImageFile = (e: fs.Dirent) => e.isFile() && !e.name.startsWith('.') && IMAGE_EXTENSIONS.has(path.extname(e.name).toLowerCase());

/** Images in class sub-folders (labelled), or directly in the folder (no labels: label -1). */
export function listImageFolder(folder: string, knownNames?: readonly string[]): { classNames: string[]; entries: ImageEntry[]; unlabelled?: boolean } {
  const listing = readDir(folder);
  const subfolders = listing
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  if (subfolders.length === 0) {
    const files = listing.filter(isImageFile).map((e) => e.name).sort();
    if (files.length === 0) {
      throw new InputError(`${folder}: no images found; an image folder data set holds .png/.jpg/.jpeg images, in one sub-folder per class for accuracy or directly in the folder without labels`);
    }
    return { classNames: [...(knownNames ?? [])], entries: files.map((f) => ({ file: path.join(folder, f), label: -1 })), unlabelled: true };
  }
  const { indices, classNames } = classIndices(folder, subfolders, knownNames);
  const entries: ImageEntry[] = [];
  subfolders.forEach((name, i) => {
    const label = indices[i];
    const dir = path.join(folder, name);
    const files = readDir(dir)
      .filter(isImageFile)
      .map((e) => e.name)
      .sort();
    for (const f of files) entries.push({ file: path.join(dir, f), label });
  });
  if (entries.length === 0) {
    throw new InputError(`${folder}: the class sub-folders (${subfolders.join(', ')}) hold no .png/.jpg/.jpeg images`);
  }
  return { classNames, entries };
}

function readDir(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    throw new InputError(`${dir}: cannot read folder (${errorMessage(e)})`);
  }
}

function readBytes(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new InputError(`${file}: cannot read image (${errorMessage(e)})`);
  }
}

/**
 * Lists the images and checks every header up front (format, equal sizes); pixels are decoded per batch.
 * No resizing: every image must have the size of the first one (and, later, of the model input).
 */
export function readImageFolder(folder: string, options: OpenOptions = {}): Dataset {
  const { classNames, entries: all, unlabelled } = listImageFolder(folder, options.classNames);
  const entries = all.slice(0, options.limit ?? all.length);
  const channels = options.channels ?? 3;
  if (channels !== 1 && channels !== 3) throw new InputError(`${folder}: image folders can be read as 1 or 3 channels, not ${channels}`);
  const first = options.resize ?? readImageSize(readBytes(entries[0].file), entries[0].file);
  if (!options.resize) for (const e of entries) {
    const size = readImageSize(readBytes(e.file), e.file);
    if (size.width !== first.width || size.height !== first.height) {
      throw new InputError(
        `${e.file}: image is ${size.width}×${size.height} but ${entries[0].file} is ${first.width}×${first.height}; all images must have the same size (no resizing is done)`,
      );
    }
  }
  const size = channels * first.height * first.width;
  const readPixels = (start: number, end: number): Uint8Array => {
    const out = new Uint8Array((end - start) * size);
    for (let i = start; i < end; i++) {
      const decoded = decodeImage(readBytes(entries[i].file), entries[i].file, channels);
      const planes = options.resize ? resizeBilinear(decoded.planes, channels, decoded.size, options.resize) : decoded.planes;
      if (planes.length !== size) throw new InputError(`${entries[i].file}: decoded size differs from its header (${planes.length} values, expected ${size})`);
      out.set(planes, (i - start) * size);
    }
    return out;
  };
  return {
    source: folder,
    format: 'image-folder',
    count: entries.length,
    channels,
    height: first.height,
    width: first.width,
    labels: Int32Array.from(entries.map((e) => e.label)),
    ...(unlabelled ? { unlabelled } : {}),
    classNames,
    readPixels,
    describeImage: (index) => entries[index].file,
  };
}
