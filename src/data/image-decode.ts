/** PNG/JPEG decoding (pngjs, jpeg-js) to C×H×W uint8 planes, and cheap header reads for sizes. */
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';
import { InputError, errorMessage } from '../util/errors';

export interface ImageSize {
  width: number;
  height: number;
}

/** Largest image accepted, in megapixels, so a hostile header cannot exhaust memory. */
const MAX_MEGAPIXELS = 64;

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
}

export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/** Width and height from the PNG IHDR chunk or the JPEG SOF marker, without decoding pixels. */
export function readImageSize(bytes: Uint8Array, file: string): ImageSize {
  if (isPng(bytes)) {
    if (bytes.length < 24) throw new InputError(`${file}: truncated PNG header`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { width: view.getUint32(16, false), height: view.getUint32(20, false) };
  }
  if (isJpeg(bytes)) return jpegSize(bytes, file);
  throw new InputError(`${file}: not a PNG or JPEG image`);
}

function jpegSize(bytes: Uint8Array, file: string): ImageSize {
  let at = 2;
  while (at + 9 < bytes.length) {
    if (bytes[at] !== 0xff) throw new InputError(`${file}: corrupt JPEG (bad marker at byte ${at})`);
    const marker = bytes[at + 1];
    if (marker === 0xff) { at++; continue; }
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    const isStartOfFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isStartOfFrame) return { height: (bytes[at + 5] << 8) | bytes[at + 6], width: (bytes[at + 7] << 8) | bytes[at + 8] };
    if (length < 2) throw new InputError(`${file}: corrupt JPEG (segment length ${length})`);
    at += 2 + length;
  }
  throw new InputError(`${file}: corrupt or truncated JPEG (no frame header)`);
}

/** Decodes to `channels` planes (1: grayscale by ITU-R 601 luma when the image has colour, 3: RGB); alpha is ignored. */
export function decodeImage(bytes: Uint8Array, file: string, channels: number): { size: ImageSize; planes: Uint8Array } {
  const rgba = decodeRgba(bytes, file);
  const area = rgba.width * rgba.height;
  const planes = new Uint8Array(channels * area);
  const d = rgba.data;
  for (let p = 0; p < area; p++) {
    const r = d[4 * p], g = d[4 * p + 1], b = d[4 * p + 2];
    if (channels === 3) {
      planes[p] = r;
      planes[area + p] = g;
      planes[2 * area + p] = b;
    } else {
      planes[p] = r === g && g === b ? r : Math.round(0.299 * r + 0.587 * g + 0.114 * b); // luma = .299R + .587G + .114B
    }
  }
  return { size: { width: rgba.width, height: rgba.height }, planes };
}

function decodeRgba(bytes: Uint8Array, file: string): { width: number; height: number; data: Uint8Array } {
  const { width, height } = readImageSize(bytes, file);
  if (width === 0 || height === 0 || width * height > MAX_MEGAPIXELS * 1e6) {
    throw new InputError(`${file}: image size ${width}×${height} is empty or over ${MAX_MEGAPIXELS} megapixels`);
  }
  try {
    if (isPng(bytes)) {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { width: png.width, height: png.height, data: png.data };
    }
    return jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_MEGAPIXELS, maxMemoryUsageInMB: 1024 });
  } catch (e) {
    throw new InputError(`${file}: unreadable image (${errorMessage(e)})`);
  }
}

/** Bilinear resize of C planes, pixel centres aligned: src = (dst + 0.5) * in / out - 0.5, clamped at the edges. */
export function resizeBilinear(planes: Uint8Array, channels: number, from: ImageSize, to: { height: number; width: number }): Uint8Array {
  if (from.width === to.width && from.height === to.height) return planes;
  const out = new Uint8Array(channels * to.height * to.width);
  const axis = (dst: number, inSize: number, outSize: number): [number, number, number] => {
    const src = Math.min(Math.max((dst + 0.5) * (inSize / outSize) - 0.5, 0), inSize - 1);
    const lo = Math.floor(src);
    return [lo, Math.min(lo + 1, inSize - 1), src - lo];
  };
  for (let y = 0; y < to.height; y++) {
    const [y0, y1, fy] = axis(y, from.height, to.height);
    for (let x = 0; x < to.width; x++) {
      const [x0, x1, fx] = axis(x, from.width, to.width);
      for (let c = 0; c < channels; c++) {
        const p = c * from.height * from.width;
        const top = planes[p + y0 * from.width + x0] * (1 - fx) + planes[p + y0 * from.width + x1] * fx;
        const bottom = planes[p + y1 * from.width + x0] * (1 - fx) + planes[p + y1 * from.width + x1] * fx;
        out[c * to.height * to.width + y * to.width + x] = Math.round(top * (1 - fy) + bottom * fy);
      }
    }
  }
  return out;
}
