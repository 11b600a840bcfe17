/** Conv (1-D and 2-D, groups incl. depthwise, strides, pads, dilations, auto_pad): im2col + sgemm, direct 1×1 and depthwise. */
import type { Node } from '../../graph/ir';
import { attrInt } from '../../graph/ir';
import type { Tensor } from '../../graph/tensor';
import { floatTensor } from '../../graph/tensor';
import { tryConv2dWasm } from '../wasm';
import type { ConvGeometry } from '../wasm';
import { sgemm } from './gemm';
import { FloatKernel, fail, required, requireFloat } from './types';
import { windowGeometry } from './window';
import { ConvTranspose } from './conv-transpose';

/** Concrete 2-D convolution parameters (1-D convs use H = 1): the geometry every conv kernel shares. */
export type Conv2dParams = ConvGeometry;

/** Derives the conv geometry of a node from its input and weight shapes. */
export function conv2dParams(node: Node, xDims: readonly number[], wDims: readonly number[]): Conv2dParams {
  const rank = xDims.length;
  if (rank !== 3 && rank !== 4) fail(node, `only 1-D and 2-D convolutions are supported (input rank ${rank})`);
  if (wDims.length !== rank) fail(node, `weight rank ${wDims.length} does not match input rank ${rank}`);
  const group = attrInt(node, 'group', 1);
  const [n, c] = xDims;
  const oc = wDims[0];
  if (group < 1 || c % group !== 0 || oc % group !== 0) fail(node, `group ${group} does not divide ${c} input / ${oc} output channels`);
  if (wDims[1] * group !== c) fail(node, `weight expects ${wDims[1] * group} input channels, the input has ${c}`);
  const spatial = xDims.slice(2);
  const kernel = wDims.slice(2);
  const ks = node.attributes.kernel_shape;
  if (Array.isArray(ks) && ks.join(',') !== kernel.join(',')) fail(node, `kernel_shape [${ks.join(',')}] does not match the weight [${kernel.join(',')}]`);
  const g = windowGeometry(node, spatial, kernel);
  if (rank === 3) {
    return {
      n, c, h: 1, w: spatial[0], oc, kh: 1, kw: kernel[0], group, sh: 1, sw: g.strides[0], dh: 1, dw: g.dilations[0],
      padTop: 0, padLeft: g.pads[0], oh: 1, ow: g.outSpatial[0],
    };
  }
  return {
    n, c, h: spatial[0], w: spatial[1], oc, kh: kernel[0], kw: kernel[1], group,
    sh: g.strides[0], sw: g.strides[1], dh: g.dilations[0], dw: g.dilations[1],
    padTop: g.pads[0], padLeft: g.pads[1], oh: g.outSpatial[0], ow: g.outSpatial[1],
  };
}

export function convOutputDims(node: Node, xDims: readonly number[], wDims: readonly number[]): number[] {
  const p = conv2dParams(node, xDims, wDims);
  return xDims.length === 3 ? [p.n, p.oc, p.ow] : [p.n, p.oc, p.oh, p.ow];
}

let scratch = new Float32Array(0);
function scratchBuffer(size: number): Float32Array {
  if (scratch.length < size) scratch = new Float32Array(size);
  return scratch;
}

/** col[(ci*kh + ky)*kw + kx][oy*ow + ox] = x[ci][oy*sh - padTop + ky*dh][ox*sw - padLeft + kx*dw] (0 outside). */
function im2col(p: Conv2dParams, x: Float32Array, xOffset: number, channels: number, col: Float32Array): void {
  const { h, w, kh, kw, sh, sw, dh, dw, padTop, padLeft, oh, ow } = p;
  const plane = oh * ow;
  let row = 0;
  for (let ci = 0; ci < channels; ci++) {
    const xc = xOffset + ci * h * w;
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++, row++) {
        const colRow = row * plane;
        const dx = kx * dw - padLeft;
        // ox range whose input column lies inside [0, w)
        let oxStart = dx >= 0 ? 0 : Math.ceil(-dx / sw);
        let oxEnd = Math.min(ow, Math.floor((w - 1 - dx) / sw) + 1);
        if (oxEnd < oxStart) oxEnd = oxStart = 0;
        for (let oy = 0; oy < oh; oy++) {
          const iy = oy * sh - padTop + ky * dh;
          const o = colRow + oy * ow;
          if (iy < 0 || iy >= h) {
            col.fill(0, o, o + ow);
            continue;
          }
          const xr = xc + iy * w + dx;
          for (let ox = 0; ox < oxStart; ox++) col[o + ox] = 0;
          if (sw === 1) {
            for (let ox = oxStart; ox < oxEnd; ox++) col[o + ox] = x[xr + ox];
          } else {
            for (let ox = oxStart; ox < oxEnd; ox++) col[o + ox] = x[xr + ox * sw];
          }
          for (let ox = oxEnd; ox < ow; ox++) col[o + ox] = 0;
        }
      }
    }
  }
}

function fillBias(y: Float32Array, offset: number, channels: number, plane: number, bias: Float32Array | undefined, biasOffset: number): void {
  if (!bias) {
    y.fill(0, offset, offset + channels * plane);
    return;
  }
  for (let c = 0; c < channels; c++) y.fill(bias[biasOffset + c], offset + c * plane, offset + (c + 1) * plane);
}

/** Depthwise conv (group = C, one output per channel): direct sliding window per channel. */
function depthwise(p: Conv2dParams, x: Float32Array, wt: Float32Array, bias: Float32Array | undefined, y: Float32Array): void {
  const { n, c, h, w, kh, kw, sh, sw, dh, dw, padTop, padLeft, oh, ow } = p;
  const taps = kh * kw;
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const xc = (b * c + ch) * h * w;
      const yc = (b * c + ch) * oh * ow;
      const wc = ch * taps;
      const bv = bias ? bias[ch] : 0;
      for (let oy = 0; oy < oh; oy++) {
        const iy0 = oy * sh - padTop;
        for (let ox = 0; ox < ow; ox++) {
          const ix0 = ox * sw - padLeft;
          let acc = bv;
          for (let ky = 0; ky < kh; ky++) {
            const iy = iy0 + ky * dh;
            if (iy < 0 || iy >= h) continue;
            const xr = xc + iy * w;
            const wr = wc + ky * kw;
            for (let kx = 0; kx < kw; kx++) {
              const ix = ix0 + kx * dw;
              if (ix >= 0 && ix < w) acc += x[xr + ix] * wt[wr + kx];
            }
          }
          y[yc + oy * ow + ox] = acc;
        }
      }
    }
  }
}

/** y = clamp(conv(x, W) + bias, lo, hi), with x NC(H)W and W [OC, C/group, (kh,) kw]; ±∞ bounds: no clamp. */
export function conv2d(p: Conv2dParams, x: Float32Array, wt: Float32Array, bias: Float32Array | undefined, y: Float32Array, lo = -Infinity, hi = Infinity): void {
  if (tryConv2dWasm(p, x, wt, bias, y, lo, hi)) return; // wasm SIMD unless QINSPECT_KERNELS=ts
  conv2dTs(p, x, wt, bias, y);
  if (lo !== -Infinity || hi !== Infinity) {
    for (let i = 0; i < y.length; i++) {
      const v = y[i];
      if (v < lo) y[i] = lo;
      else if (v > hi) y[i] = hi;
    }
  }
}

function conv2dTs(p: Conv2dParams, x: Float32Array, wt: Float32Array, bias: Float32Array | undefined, y: Float32Array): void {
  const { n, c, h, w, oc, kh, kw, group, sh, sw, padTop, padLeft, oh, ow } = p;
  const cg = c / group;
  const ocg = oc / group;
  if (group === c && oc === c) return depthwise(p, x, wt, bias, y);
  const plane = oh * ow;
  const k = cg * kh * kw;
  const pointwise = kh === 1 && kw === 1 && sh === 1 && sw === 1 && padTop === 0 && padLeft === 0 && oh === h && ow === w;
  const col = pointwise ? x : scratchBuffer(k * plane);
  for (let b = 0; b < n; b++) {
    for (let g = 0; g < group; g++) {
      const xOffset = (b * c + g * cg) * h * w;
      const yOffset = (b * oc + g * ocg) * plane;
      fillBias(y, yOffset, ocg, plane, bias, g * ocg);
      if (!pointwise) im2col(p, x, xOffset, cg, col);
      sgemm(ocg, plane, k, wt, g * ocg * k, col, pointwise ? xOffset : 0, y, yOffset, true);
    }
  }
}

export const Conv: FloatKernel = (node, inputs) => [convClamped(node, inputs, -Infinity, Infinity)];

/** Conv followed by clamp(y, lo, hi): the engine fuses Relu (0, ∞) and ReLU6 (0, 6) into the conv when nobody watches. */
export function convClamped(node: Node, inputs: (Tensor | undefined)[], lo: number, hi: number): Tensor {
  const x = required(node, inputs, 0);
  const wt = required(node, inputs, 1);
  const bias = inputs[2];
  const p = conv2dParams(node, x.dims, wt.dims);
  if (bias && (bias.dims.length !== 1 || bias.dims[0] !== p.oc)) fail(node, `bias shape [${bias.dims.join(',')}] must be [${p.oc}]`);
  const dims = x.dims.length === 3 ? [p.n, p.oc, p.ow] : [p.n, p.oc, p.oh, p.ow];
  const y = floatTensor(dims);
  conv2d(p, requireFloat(node, x), requireFloat(node, wt, 'weight'), bias ? requireFloat(node, bias, 'bias') : undefined, y.data as Float32Array, lo, hi);
  return y;
}

export const CONV_KERNELS: Record<string, FloatKernel> = { Conv, ConvTranspose };

