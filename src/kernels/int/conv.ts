/**
 * Integer convolution: codes × int weights → accumulators, via im2col + the integer GEMM, and a direct depthwise
 * kernel. acc[n, oc, oy, ox] = bias[oc] + Σ (x − zx)·(w − 0); padding reads the input zero point (real 0).
 */
import type { Conv2dParams } from '../float/conv';
import { tryQConv2dWasm } from '../wasm';
import { Accumulators, Codes, igemm } from './gemm';

function makeLike(x: Codes, size: number): Codes {
  return x instanceof Uint8Array ? new Uint8Array(size) : x instanceof Int8Array ? new Int8Array(size)
    : x instanceof Int16Array ? new Int16Array(size) : new Int32Array(size);
}

/** col[(ci·kh + ky)·kw + kx][oy·ow + ox] = x[ci][oy·sh − padTop + ky·dh][ox·sw − padLeft + kx·dw], zx outside. */
export function im2colCodes(p: Conv2dParams, x: Codes, xOffset: number, channels: number, zx: number, col: Codes): void {
  const { h, w, kh, kw, sh, sw, dh, dw, padTop, padLeft, oh, ow } = p;
  let r = 0;
  for (let ci = 0; ci < channels; ci++) {
    const plane = xOffset + ci * h * w;
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++, r++) {
        const base = r * oh * ow;
        for (let oy = 0; oy < oh; oy++) {
          const iy = oy * sh - padTop + ky * dh;
          const rowBase = base + oy * ow;
          if (iy < 0 || iy >= h) { col.fill(zx, rowBase, rowBase + ow); continue; }
          const src = plane + iy * w;
          for (let ox = 0; ox < ow; ox++) {
            const ix = ox * sw - padLeft + kx * dw;
            col[rowBase + ox] = ix < 0 || ix >= w ? zx : x[src + ix];
          }
        }
      }
    }
  }
}

let colScratch: Codes = new Uint8Array(0);
function colBuffer(like: Codes, size: number): Codes {
  if (colScratch.constructor !== like.constructor || colScratch.length < size) colScratch = makeLike(like, size);
  return colScratch.length === size ? colScratch : colScratch.subarray(0, size);
}

/**
 * acc = bias + conv(x − zx, w) for a batch: x codes [n, c, h, w], weights [oc, c/group·kh·kw], acc [n, oc, oh·ow].
 * Depthwise (group = c = oc) takes the direct kernel.
 */
export function convIntAccumulate(p: Conv2dParams, x: Codes, zx: number, w: Codes, bias: Int32Array, acc: Accumulators): void {
  if (acc instanceof Int32Array && tryQConv2dWasm(p, { x, xZero: zx, w, wZero: 0, bias, y: acc })) return; // wasm SIMD when exact
  if (p.group === p.c && p.oc === p.c) return depthwiseIntAccumulate(p, x, zx, w, bias, acc);
  const cg = p.c / p.group, ocg = p.oc / p.group;
  const k = cg * p.kh * p.kw, spatial = p.oh * p.ow;
  const col = colBuffer(x, k * spatial);
  const pointwise = p.kh === 1 && p.kw === 1 && p.sh === 1 && p.sw === 1 && p.padTop === 0 && p.padLeft === 0;
  for (let n = 0; n < p.n; n++) {
    for (let g = 0; g < p.group; g++) {
      const xOff = (n * p.c + g * cg) * p.h * p.w;
      const b = pointwise ? x.subarray(xOff, xOff + k * spatial) : col;
      if (!pointwise) im2colCodes(p, x, xOff, cg, zx, col);
      const out = acc.subarray((n * p.oc + g * ocg) * spatial, (n * p.oc + (g + 1) * ocg) * spatial);
      igemm(ocg, spatial, k, w.subarray(g * ocg * k, (g + 1) * ocg * k), 0, b, zx, out, bias.subarray(g * ocg, (g + 1) * ocg), true);
    }
  }
}

/** Depthwise: acc[n,c,oy,ox] = bias[c] + Σ_ky,kx (x[n,c,iy,ix] − zx)·w[c,ky,kx], padding contributes 0. */
export function depthwiseIntAccumulate(p: Conv2dParams, x: Codes, zx: number, w: Codes, bias: Int32Array, acc: Accumulators): void {
  const { h, w: width, kh, kw, sh, sw, dh, dw, padTop, padLeft, oh, ow } = p;
  const kk = kh * kw;
  for (let n = 0; n < p.n; n++) {
    for (let c = 0; c < p.c; c++) {
      const plane = (n * p.c + c) * h * width;
      const outBase = (n * p.c + c) * oh * ow;
      const wBase = c * kk;
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let s = bias[c];
          for (let ky = 0; ky < kh; ky++) {
            const iy = oy * sh - padTop + ky * dh;
            if (iy < 0 || iy >= h) continue;
            const row = plane + iy * width;
            for (let kx = 0; kx < kw; kx++) {
              const ix = ox * sw - padLeft + kx * dw;
              if (ix < 0 || ix >= width) continue;
              s += (x[row + ix] - zx) * w[wBase + ky * kw + kx];
            }
          }
          acc[outBase + oy * ow + ox] = s;
        }
      }
    }
  }
}
