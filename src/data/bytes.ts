/** Reading data files that may be gzip-compressed, with errors that name the file. */
import * as fs from 'fs';
import * as zlib from 'zlib';
import { InputError, errorMessage } from '../util/errors';

/** Refuse data files beyond this many bytes (after decompression) instead of exhausting memory. */
export const MAX_DATA_BYTES = 1024 * 2 ** 20;

export function readDataFile(file: string): Buffer {
  let raw: Buffer;
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) throw new InputError(`${file}: not a file`);
    if (stat.size > MAX_DATA_BYTES) throw new InputError(`${file}: ${stat.size} bytes, over the data limit of ${MAX_DATA_BYTES} bytes`);
    raw = fs.readFileSync(file);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${file}: cannot read (${errorMessage(e)})`);
  }
  if (!isGzip(raw)) {
    if (file.endsWith('.gz')) throw new InputError(`${file}: named .gz but not gzip data`);
    return raw;
  }
  try {
    return zlib.gunzipSync(raw, { maxOutputLength: MAX_DATA_BYTES });
  } catch (e) {
    throw new InputError(`${file}: corrupt or truncated gzip data (${errorMessage(e)})`);
  }
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}
