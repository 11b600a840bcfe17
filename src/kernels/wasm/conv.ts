/** Float NCHW convolution in wasm: the whole batch in one call, im2col and packing inside wasm, weights resident. */
import type { KernelArena } from './runtime';

/** Concrete 2-D convolution geometry (kernels/float/conv.ts derives it from a Conv node as Conv2dParams). */
export interface ConvGeometry {
  n: number; c: number; h: number; w: number;
  oc: number; kh: number; kw: number; group: number;
  sh: number; sw: number; dh: number; dw: number;
  padTop: number; padLeft: number;
  oh: number; ow: number;
}

const MR = 4;
const NR = 8;
const KC = 256;

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/** Elements of one zero-padded depthwise plane, as the kernels' depthwiseRowWidth lays it out (16 columns of slack). */
export function depthwisePlaneElements(p: ConvGeometry): number {
  const hp = (p.oh - 1) * p.sh + (p.kh - 1) * p.dh + 1;
  const wp = (p.ow - 1) * p.sw + (p.kw - 1) * p.dw + 1 + 16;
  return hp * wp;
}

/** Elements of one zero-padded image group as the kernels' padImage lays it out. */
export function paddedImageElements(p: ConvGeometry): number {
  const hp = Math.max(p.h + p.padTop, (p.oh - 1) * p.sh + (p.kh - 1) * p.dh + 1);
  const wp = Math.max(p.w + p.padLeft, (p.ow - 1) * p.sw + (p.kw - 1) * p.dw + 1);
  return (p.c / p.group) * hp * wp;
}

function packedConvWeights(arena: KernelArena, p: ConvGeometry, wt: Float32Array): number {
  const ocg = p.oc / p.group;
  const k = (p.c / p.group) * p.kh * p.kw;
  const groupFloats = roundUp(ocg, MR) * k;
  return arena.residentFor(wt, `conv:${p.oc}x${k}:${p.group}`, groupFloats * 4 * p.group, (dst) => {
    const src = arena.copyIn(wt.subarray(0, p.oc * k));
    for (let g = 0; g < p.group; g++) {
      arena.exports.packA_f32(src + g * ocg * k * 4, k, ocg, k, dst + g * groupFloats * 4);
    }
    arena.resetScratch();
  });
}

/** y = clamp(conv(x, W) + bias, lo, hi); x, y NCHW float32, W [OC, C/group, kh, kw]. */
export function conv2dWasm(
  arena: KernelArena, p: ConvGeometry, x: Float32Array, wt: Float32Array, bias: Float32Array | undefined,
  y: Float32Array, lo = -Infinity, hi = Infinity,
): void {
  const ex = arena.exports;
  try {
    const depthwise = p.group === p.c && p.oc === p.c;
    const inFloats = p.n * p.c * p.h * p.w;
    const outFloats = p.n * p.oc * p.oh * p.ow;
    if (depthwise) {
      const pw = arena.copyIn(wt.subarray(0, p.c * p.kh * p.kw));
      const pbias = bias ? arena.copyIn(bias.subarray(0, p.c)) : 0;
      const px = arena.copyIn(x.subarray(0, inFloats));
      const pad = arena.scratch(depthwisePlaneElements(p) * 4);
      const py = arena.scratch((outFloats + 4) * 4);
      ex.depthwise_f32(px, p.n, p.c, p.h, p.w, p.kh, p.kw, p.sh, p.sw, p.dh, p.dw, p.padTop, p.padLeft, p.oh, p.ow,
        pw, pbias, pad, py, lo, hi);
      y.set(arena.f32(py, outFloats));
      return;
    }
    const pa = packedConvWeights(arena, p, wt);
    const pbias = bias ? arena.copyIn(bias.subarray(0, p.oc)) : 0;
    const px = arena.copyIn(x.subarray(0, inFloats));
    const k = (p.c / p.group) * p.kh * p.kw;
    const plane = p.oh * p.ow;
    const ldc = roundUp(plane, NR);
    const pb = arena.scratch(ldc * Math.min(k, KC) * 4);
    const pc = arena.scratch(roundUp(p.oc / p.group, MR) * ldc * 4);
    const py = arena.scratch(outFloats * 4);
    const xp = arena.scratch(paddedImageElements(p) * 4);
    ex.conv2d_f32(px, p.n, p.c, p.h, p.w, p.oc, p.group, p.kh, p.kw, p.sh, p.sw, p.dh, p.dw, p.padTop, p.padLeft,
      p.oh, p.ow, pa, pbias, pb, pc, py, KC, lo, hi, xp);
    y.set(arena.f32(py, outFloats));
  } finally {
    arena.resetScratch();
  }
}
