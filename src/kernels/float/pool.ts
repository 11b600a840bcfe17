/** MaxPool, AveragePool (count_include_pad, ceil_mode, dilations), GlobalAveragePool, GlobalMaxPool. */
import type { Node } from '../../graph/ir';
import { attrInt, attrInts } from '../../graph/ir';
import { allocate, floatTensor } from '../../graph/tensor';
import { FloatKernel, fail, required, requireFloat } from './types';
import { windowGeometry } from './window';

interface Pool2d {
  n: number; c: number; h: number; w: number;
  kh: number; kw: number; sh: number; sw: number; dh: number; dw: number;
  padTop: number; padLeft: number; padBottom: number; padRight: number;
  oh: number; ow: number;
}

/** Pool geometry; 1-D pools use H = 1. */
export function pool2dParams(node: Node, dims: readonly number[]): Pool2d {
  const rank = dims.length;
  if (rank !== 3 && rank !== 4) fail(node, `only 1-D and 2-D pooling is supported (input rank ${rank})`);
  const kernel = attrInts(node, 'kernel_shape');
  if (!kernel) fail(node, 'kernel_shape attribute is missing');
  const g = windowGeometry(node, dims.slice(2), kernel);
  const [n, c] = dims;
  if (rank === 3) {
    return {
      n, c, h: 1, w: dims[2], kh: 1, kw: kernel[0], sh: 1, sw: g.strides[0], dh: 1, dw: g.dilations[0],
      padTop: 0, padLeft: g.pads[0], padBottom: 0, padRight: g.pads[1], oh: 1, ow: g.outSpatial[0],
    };
  }
  return {
    n, c, h: dims[2], w: dims[3], kh: kernel[0], kw: kernel[1], sh: g.strides[0], sw: g.strides[1],
    dh: g.dilations[0], dw: g.dilations[1], padTop: g.pads[0], padLeft: g.pads[1], padBottom: g.pads[2], padRight: g.pads[3],
    oh: g.outSpatial[0], ow: g.outSpatial[1],
  };
}

export function poolOutputDims(node: Node, dims: readonly number[]): number[] {
  const p = pool2dParams(node, dims);
  return dims.length === 3 ? [p.n, p.c, p.ow] : [p.n, p.c, p.oh, p.ow];
}

function pool(x: Float32Array, y: Float32Array, p: Pool2d, mode: 'max' | 'avg', countIncludePad: boolean): void {
  const { n, c, h, w, kh, kw, sh, sw, dh, dw, padTop, padLeft, padBottom, padRight, oh, ow } = p;
  for (let plane = 0; plane < n * c; plane++) {
    const xo = plane * h * w;
    const yo = plane * oh * ow;
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - padTop;
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * sw - padLeft;
        let acc = mode === 'max' ? -Infinity : 0;
        let count = 0;
        for (let ky = 0; ky < kh; ky++) {
          const iy = y0 + ky * dh;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = x0 + kx * dw;
            if (ix < 0 || ix >= w) continue;
            const v = x[xo + iy * w + ix];
            if (mode === 'max') { if (v > acc || v !== v) acc = v; } else acc += v;
            count++;
          }
        }
        if (mode === 'avg') {
          if (countIncludePad) {
            // the window clipped to the padded input counts, padding included
            const yEnd = Math.min(y0 + (kh - 1) * dh + 1, h + padBottom);
            const xEnd = Math.min(x0 + (kw - 1) * dw + 1, w + padRight);
            const rows = Math.ceil((yEnd - y0) / dh);
            const cols = Math.ceil((xEnd - x0) / dw);
            count = rows * cols;
          }
          acc = count > 0 ? acc / count : 0;
        }
        y[yo + oy * ow + ox] = acc;
      }
    }
  }
}

function pooling(mode: 'max' | 'avg'): FloatKernel {
  return (node, inputs) => {
    if (mode === 'max' && node.outputs.length > 1 && node.outputs[1] !== '') fail(node, 'the Indices output of MaxPool is not supported');
    if (mode === 'max' && attrInt(node, 'storage_order', 0) !== 0) fail(node, 'storage_order=1 is not supported');
    const x = required(node, inputs, 0);
    const p = pool2dParams(node, x.dims);
    // MaxPool also takes integer tensors (8-bit images); AveragePool is float only
    if (mode === 'avg' || x.dtype === 'int64' || x.dtype === 'bool') requireFloat(node, x);
    const y = allocate(x.dtype, x.dims.length === 3 ? [p.n, p.c, p.ow] : [p.n, p.c, p.oh, p.ow]);
    pool(x.data as Float32Array, y.data as Float32Array, p, mode, attrInt(node, 'count_include_pad', 0) === 1);
    return [y];
  };
}

function globalPool(mode: 'max' | 'avg'): FloatKernel {
  return (node, inputs) => {
    const x = required(node, inputs, 0);
    if (x.dims.length < 3) fail(node, `input must be N×C×spatial, got [${x.dims.join(',')}]`);
    const xd = requireFloat(node, x);
    const [n, c] = x.dims;
    const size = xd.length / Math.max(1, n * c);
    const y = floatTensor([n, c, ...x.dims.slice(2).map(() => 1)]);
    const yd = y.data as Float32Array;
    for (let plane = 0; plane < n * c; plane++) {
      const o = plane * size;
      let acc = mode === 'max' ? -Infinity : 0;
      if (mode === 'max') for (let i = 0; i < size; i++) acc = Math.max(acc, xd[o + i]);
      else {
        for (let i = 0; i < size; i++) acc += xd[o + i];
        acc /= size;
      }
      yd[plane] = acc;
    }
    return [y];
  };
}

export const POOL_KERNELS: Record<string, FloatKernel> = {
  MaxPool: pooling('max'),
  AveragePool: pooling('avg'),
  GlobalAveragePool: globalPool('avg'),
  GlobalMaxPool: globalPool('max'),
};
