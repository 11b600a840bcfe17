/** ConvTranspose (1-D and 2-D, groups, strides, pads, dilations, output_padding, output_shape, auto_pad): sgemm + col2im. */
import type { Node } from '../../graph/ir';
import { attrInt, attrInts, attrString } from '../../graph/ir';
import { floatTensor } from '../../graph/tensor';
import { sgemm, transposeMatrix } from './gemm';
import { FloatKernel, fail, required, requireFloat } from './types';

interface ConvTransposeParams {
  n: number; c: number; h: number; w: number;
  oc: number; kh: number; kw: number; group: number;
  sh: number; sw: number; dh: number; dw: number;
  padTop: number; padLeft: number;
  oh: number; ow: number;
}

/** Output size and begin pads per spatial axis, following the ONNX ConvTranspose shape rules. */
function transposeGeometry(node: Node, inSpatial: number[], kernel: number[]): { pads: number[]; out: number[]; strides: number[]; dilations: number[] } {
  const r = inSpatial.length;
  const strides = attrInts(node, 'strides') ?? new Array<number>(r).fill(1);
  const dilations = attrInts(node, 'dilations') ?? new Array<number>(r).fill(1);
  const outputPadding = attrInts(node, 'output_padding') ?? new Array<number>(r).fill(0);
  const outputShape = attrInts(node, 'output_shape');
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  let pads = attrInts(node, 'pads') ?? new Array<number>(2 * r).fill(0);
  if (strides.length !== r || dilations.length !== r || outputPadding.length !== r || pads.length !== 2 * r) {
    fail(node, `strides/dilations/output_padding/pads do not match ${r} spatial dims`);
  }
  if ([...strides, ...dilations, ...kernel].some((v) => !Number.isInteger(v) || v < 1)) fail(node, 'kernel, strides and dilations must be positive');
  const out = new Array<number>(r);
  const full = (i: number) => strides[i] * (inSpatial[i] - 1) + outputPadding[i] + (kernel[i] - 1) * dilations[i] + 1;
  if (outputShape || autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const target = outputShape ? outputShape.slice(-r) : inSpatial.map((d, i) => d * strides[i]);
    if (target.length !== r) fail(node, `output_shape [${outputShape?.join(',')}] does not have ${r} spatial dims`);
    pads = new Array<number>(2 * r).fill(0);
    for (let i = 0; i < r; i++) {
      // total may be negative: a requested output larger than the full one extends it at the end
      const total = full(i) - target[i];
      if (!Number.isInteger(target[i]) || target[i] < 1) fail(node, `output_shape [${target.join(',')}] must be positive`);
      // SAME_LOWER puts the larger half at the beginning
      const half = autoPad === 'SAME_LOWER' ? total - Math.trunc(total / 2) : Math.trunc(total / 2);
      pads[i] = half;
      pads[i + r] = total - half;
      out[i] = target[i];
    }
  } else {
    for (let i = 0; i < r; i++) {
      out[i] = full(i) - pads[i] - pads[i + r];
      if (out[i] < 1) fail(node, `pads leave an empty output on axis ${i}`);
    }
  }
  return { pads, out, strides, dilations };
}

function convTransposeParams(node: Node, xDims: readonly number[], wDims: readonly number[]): ConvTransposeParams {
  const rank = xDims.length;
  if (rank !== 3 && rank !== 4) fail(node, `only 1-D and 2-D transposed convolutions are supported (input rank ${rank})`);
  if (wDims.length !== rank) fail(node, `weight rank ${wDims.length} does not match input rank ${rank}`);
  const group = attrInt(node, 'group', 1);
  const [n, c] = xDims;
  if (group < 1 || c % group !== 0 || wDims[0] !== c) fail(node, `weight [${wDims.join(',')}] does not fit ${c} input channels in ${group} groups`);
  const oc = wDims[1] * group;
  const g = transposeGeometry(node, xDims.slice(2), wDims.slice(2));
  if (rank === 3) {
    return { n, c, h: 1, w: xDims[2], oc, kh: 1, kw: wDims[2], group, sh: 1, sw: g.strides[0], dh: 1, dw: g.dilations[0], padTop: 0, padLeft: g.pads[0], oh: 1, ow: g.out[0] };
  }
  return {
    n, c, h: xDims[2], w: xDims[3], oc, kh: wDims[2], kw: wDims[3], group, sh: g.strides[0], sw: g.strides[1],
    dh: g.dilations[0], dw: g.dilations[1], padTop: g.pads[0], padLeft: g.pads[1], oh: g.out[0], ow: g.out[1],
  };
}

export function convTransposeOutputDims(node: Node, xDims: readonly number[], wDims: readonly number[]): number[] {
  const p = convTransposeParams(node, xDims, wDims);
  return xDims.length === 3 ? [p.n, p.oc, p.ow] : [p.n, p.oc, p.oh, p.ow];
}

/** y[oc][iy·sh − padTop + ky·dh][ix·sw − padLeft + kx·dw] += col[(oc·kh + ky)·kw + kx][iy·w + ix] */
function col2im(p: ConvTransposeParams, col: Float32Array, channels: number, y: Float32Array, yOffset: number): void {
  const { h, w, kh, kw, sh, sw, dh, dw, padTop, padLeft, oh, ow } = p;
  const plane = h * w;
  let row = 0;
  for (let ch = 0; ch < channels; ch++) {
    const yc = yOffset + ch * oh * ow;
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++, row++) {
        const base = row * plane;
        for (let iy = 0; iy < h; iy++) {
          const oy = iy * sh - padTop + ky * dh;
          if (oy < 0 || oy >= oh) continue;
          for (let ix = 0; ix < w; ix++) {
            const ox = ix * sw - padLeft + kx * dw;
            if (ox >= 0 && ox < ow) y[yc + oy * ow + ox] += col[base + iy * w + ix];
          }
        }
      }
    }
  }
}

export const ConvTranspose: FloatKernel = (node, inputs) => {
  const x = required(node, inputs, 0);
  const wt = required(node, inputs, 1);
  const bias = inputs[2];
  const p = convTransposeParams(node, x.dims, wt.dims);
  if (bias && (bias.dims.length !== 1 || bias.dims[0] !== p.oc)) fail(node, `bias shape [${bias.dims.join(',')}] must be [${p.oc}]`);
  const xd = requireFloat(node, x);
  const wd = requireFloat(node, wt, 'weight');
  const bd = bias ? requireFloat(node, bias, 'bias') : undefined;
  const cg = p.c / p.group;
  const ocg = p.oc / p.group;
  const k = ocg * p.kh * p.kw; // rows of the column matrix per group
  const plane = p.h * p.w;
  const out = floatTensor(x.dims.length === 3 ? [p.n, p.oc, p.ow] : [p.n, p.oc, p.oh, p.ow]);
  const y = out.data as Float32Array;
  const oplane = p.oh * p.ow;
  const wT = new Float32Array(k * cg);
  const col = new Float32Array(k * plane);
  for (let g = 0; g < p.group; g++) {
    transposeMatrix(wd, g * cg * k, cg, k, wT); // W_g [cg × k] → [k × cg]
    for (let b = 0; b < p.n; b++) {
      // col = W_gᵀ · X_g: [k × cg]·[cg × plane]
      sgemm(k, plane, cg, wT, 0, xd, (b * p.c + g * cg) * plane, col, 0, false);
      col2im(p, col, ocg, y, (b * p.oc + g * ocg) * oplane);
    }
  }
  if (bd) {
    for (let b = 0; b < p.n; b++) {
      for (let c = 0; c < p.oc; c++) {
        const o = (b * p.oc + c) * oplane;
        for (let i = 0; i < oplane; i++) y[o + i] += bd[c];
      }
    }
  }
  return [out];
};
