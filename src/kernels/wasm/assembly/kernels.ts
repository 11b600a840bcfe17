// AssemblyScript (compiled by scripts/build-wasm.js with --enable simd): the hot loops of both engines.
// Memory is managed by the TypeScript loader (src/kernels/wasm/runtime.ts); every argument is a byte offset.
// Float GEMM:   C[M×N] = clamp(A[M×K] · B[K×N] + bias[M], lo, hi), A packed in 4-row blocks, B in 8-column panels.
// Integer GEMM: C[M×N] = Σ_k (A[m,k] − za)(B[k,n] − zb) (+ bias[m]) in int32, operands as i16 pairs for i32x4.dot_i16x8_s.

const MR: i32 = 4; // rows of A per micro-tile
const NR: i32 = 8; // columns of B per micro-tile (two 128-bit vectors)

export function heapBase(): usize {
  return __heap_base;
}

// ---------------------------------------------------------------- float32

/** Packs row-major A[M×K] (row stride lda) into blocks of 4 rows: block i, k → a[4i..4i+3][k], zero-padded. */
export function packA_f32(a: usize, lda: i32, m: i32, k: i32, dst: usize): void {
  const blocks = (m + MR - 1) / MR;
  for (let ib = 0; ib < blocks; ib++) {
    const out = dst + <usize>(ib * k * MR) * 4;
    for (let r = 0; r < MR; r++) {
      const row = ib * MR + r;
      if (row < m) {
        const src = a + <usize>(row * lda) * 4;
        for (let kk = 0; kk < k; kk++) store<f32>(out + <usize>(kk * MR + r) * 4, load<f32>(src + <usize>kk * 4));
      } else {
        for (let kk = 0; kk < k; kk++) store<f32>(out + <usize>(kk * MR + r) * 4, 0);
      }
    }
  }
}

/** Packs rows k0..k0+kc of row-major B[K×N] (stride ldb) into 8-column panels: panel j, k → b[k][8j..8j+7], zero-padded. */
export function packB_f32(b: usize, ldb: i32, n: i32, k0: i32, kc: i32, dst: usize): void {
  const panels = (n + NR - 1) / NR;
  const fullPanels = n / NR;
  for (let kk = 0; kk < kc; kk++) {
    const src = b + <usize>((k0 + kk) * ldb) * 4;
    for (let jp = 0; jp < fullPanels; jp++) {
      const out = dst + <usize>(jp * kc * NR + kk * NR) * 4;
      const s = src + <usize>(jp * NR) * 4;
      v128.store(out, v128.load(s));
      v128.store(out, v128.load(s, 16), 16);
    }
    if (fullPanels < panels) {
      const out = dst + <usize>(fullPanels * kc * NR + kk * NR) * 4;
      for (let c = 0; c < NR; c++) {
        const col = fullPanels * NR + c;
        store<f32>(out + <usize>c * 4, col < n ? load<f32>(src + <usize>col * 4) : 0);
      }
    }
  }
}

/** a·b + c, 4 lanes: one fused multiply-add where the host has relaxed SIMD (this build's twin), else mul then add. */
@inline
function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/**
 * C = A·B over packed operands for one K block. c has row stride ldc and must hold ceil(M/4)*4 rows and
 * ceil(N/8)*8 columns (padding is scratch). first: start from bias (or 0); last: apply clamp [lo, hi].
 */
export function gemm_f32_block(
  pa: usize, pb: usize, m: i32, n: i32, kc: i32, kTotal: i32, k0: i32,
  c: usize, ldc: i32, bias: usize, first: i32, last: i32, lo: f32, hi: f32,
): void {
  const blocks = (m + MR - 1) / MR;
  const panels = (n + NR - 1) / NR;
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  for (let jp = 0; jp < panels; jp++) {
    const bPanel = pb + <usize>(jp * kc * NR) * 4;
    for (let ib = 0; ib < blocks; ib++) {
      const aBlock = pa + <usize>(ib * kTotal * MR + k0 * MR) * 4;
      const c0 = c + <usize>((ib * MR) * ldc + jp * NR) * 4;
      const c1 = c0 + <usize>ldc * 4;
      const c2 = c1 + <usize>ldc * 4;
      const c3 = c2 + <usize>ldc * 4;
      let a00: v128, a01: v128, a10: v128, a11: v128, a20: v128, a21: v128, a30: v128, a31: v128;
      if (first) {
        if (bias) {
          const r = ib * MR;
          const b0 = f32x4.splat(r < m ? load<f32>(bias + <usize>r * 4) : 0);
          const b1 = f32x4.splat(r + 1 < m ? load<f32>(bias + <usize>(r + 1) * 4) : 0);
          const b2 = f32x4.splat(r + 2 < m ? load<f32>(bias + <usize>(r + 2) * 4) : 0);
          const b3 = f32x4.splat(r + 3 < m ? load<f32>(bias + <usize>(r + 3) * 4) : 0);
          a00 = b0; a01 = b0; a10 = b1; a11 = b1; a20 = b2; a21 = b2; a30 = b3; a31 = b3;
        } else {
          const z = f32x4.splat(0);
          a00 = z; a01 = z; a10 = z; a11 = z; a20 = z; a21 = z; a30 = z; a31 = z;
        }
      } else {
        a00 = v128.load(c0); a01 = v128.load(c0, 16);
        a10 = v128.load(c1); a11 = v128.load(c1, 16);
        a20 = v128.load(c2); a21 = v128.load(c2, 16);
        a30 = v128.load(c3); a31 = v128.load(c3, 16);
      }
      let pA = aBlock;
      let pB = bPanel;
      for (let kk = 0; kk < kc; kk++) {
        const b0 = v128.load(pB);
        const b1 = v128.load(pB, 16);
        let x = v128.load32_splat(pA);
        a00 = madd(x, b0, a00); a01 = madd(x, b1, a01);
        x = v128.load32_splat(pA, 4);
        a10 = madd(x, b0, a10); a11 = madd(x, b1, a11);
        x = v128.load32_splat(pA, 8);
        a20 = madd(x, b0, a20); a21 = madd(x, b1, a21);
        x = v128.load32_splat(pA, 12);
        a30 = madd(x, b0, a30); a31 = madd(x, b1, a31);
        pA += 16;
        pB += 32;
      }
      if (last) {
        a00 = f32x4.min(f32x4.max(a00, vlo), vhi); a01 = f32x4.min(f32x4.max(a01, vlo), vhi);
        a10 = f32x4.min(f32x4.max(a10, vlo), vhi); a11 = f32x4.min(f32x4.max(a11, vlo), vhi);
        a20 = f32x4.min(f32x4.max(a20, vlo), vhi); a21 = f32x4.min(f32x4.max(a21, vlo), vhi);
        a30 = f32x4.min(f32x4.max(a30, vlo), vhi); a31 = f32x4.min(f32x4.max(a31, vlo), vhi);
      }
      v128.store(c0, a00); v128.store(c0, a01, 16);
      v128.store(c1, a10); v128.store(c1, a11, 16);
      v128.store(c2, a20); v128.store(c2, a21, 16);
      v128.store(c3, a30); v128.store(c3, a31, 16);
    }
  }
}

/** Moves rows of a [rows × ldSrc] matrix to stride n in place (n ≤ ldSrc), so the first rows*n elements are dense. */
export function compactRows(c: usize, rows: i32, ldSrc: i32, n: i32, elemBytes: i32): void {
  if (ldSrc == n) return;
  for (let r = 1; r < rows; r++) {
    memory.copy(c + <usize>(r * n * elemBytes), c + <usize>(r * ldSrc * elemBytes), <usize>(n * elemBytes));
  }
}

// ---------------------------------------------------------------- int8 × int8 → int32

/** Packs int8/uint8 A[M×K] (signed: 1 = int8) minus za as i16 pairs: block i, pair p → 4 × (a[r][2p] | a[r][2p+1] << 16). */
export function packA_i8(a: usize, lda: i32, m: i32, k: i32, signed: i32, za: i32, dst: usize): void {
  const blocks = (m + MR - 1) / MR;
  const pairs = (k + 1) >> 1;
  for (let ib = 0; ib < blocks; ib++) {
    const out = dst + <usize>(ib * pairs * MR) * 4;
    for (let r = 0; r < MR; r++) {
      const row = ib * MR + r;
      for (let p = 0; p < pairs; p++) {
        let lo: i32 = 0;
        let hi: i32 = 0;
        if (row < m) {
          const src = a + <usize>(row * lda);
          lo = (signed ? <i32>load<i8>(src + <usize>(2 * p)) : <i32>load<u8>(src + <usize>(2 * p))) - za;
          if (2 * p + 1 < k) hi = (signed ? <i32>load<i8>(src + <usize>(2 * p + 1)) : <i32>load<u8>(src + <usize>(2 * p + 1))) - za;
        }
        store<i32>(out + <usize>(p * MR + r) * 4, (lo & 0xffff) | (hi << 16));
      }
    }
  }
}

/**
 * Packs int8/uint8 B[K×N] (stride ldb) minus zb into 8-column panels of i16: panel j, pair p →
 * [b(2p,c), b(2p+1,c)] for c = 8j..8j+7 (16 lanes = two i16x8 vectors), zero-padded in K and N.
 */
export function packB_i8(b: usize, ldb: i32, n: i32, k: i32, signed: i32, zb: i32, dst: usize): void {
  const panels = (n + NR - 1) / NR;
  const fullPanels = n / NR;
  const pairs = (k + 1) >> 1;
  const vz = i16x8.splat(<i16>zb);
  for (let p = 0; p < pairs; p++) {
    const r0 = b + <usize>(2 * p * ldb);
    const hasR1 = 2 * p + 1 < k;
    const r1 = hasR1 ? r0 + <usize>ldb : r0;
    for (let jp = 0; jp < fullPanels; jp++) {
      const out = dst + <usize>(jp * pairs * NR + p * NR) * 4;
      const x0 = v128.load64_zero(r0 + <usize>(jp * NR));
      let x1 = v128.load64_zero(r1 + <usize>(jp * NR));
      let w0: v128, w1: v128;
      if (signed) {
        w0 = i16x8.sub(i16x8.extend_low_i8x16_s(x0), vz);
        w1 = i16x8.sub(i16x8.extend_low_i8x16_s(x1), vz);
      } else {
        w0 = i16x8.sub(i16x8.extend_low_i8x16_u(x0), vz);
        w1 = i16x8.sub(i16x8.extend_low_i8x16_u(x1), vz);
      }
      if (!hasR1) w1 = i16x8.splat(0);
      // interleave: [w0[0], w1[0], w0[1], w1[1], ...]
      v128.store(out, v128.shuffle<i16>(w0, w1, 0, 8, 1, 9, 2, 10, 3, 11));
      v128.store(out, v128.shuffle<i16>(w0, w1, 4, 12, 5, 13, 6, 14, 7, 15), 16);
    }
    if (fullPanels < panels) {
      const out = dst + <usize>(fullPanels * pairs * NR + p * NR) * 4;
      for (let c = 0; c < NR; c++) {
        const col = fullPanels * NR + c;
        let lo: i32 = 0;
        let hi: i32 = 0;
        if (col < n) {
          lo = (signed ? <i32>load<i8>(r0 + <usize>col) : <i32>load<u8>(r0 + <usize>col)) - zb;
          if (hasR1) hi = (signed ? <i32>load<i8>(r1 + <usize>col) : <i32>load<u8>(r1 + <usize>col)) - zb;
        }
        store<i16>(out + <usize>c * 4, <i16>lo);
        store<i16>(out + <usize>c * 4 + 2, <i16>hi);
      }
    }
  }
}

/** C[m][n] (int32, row stride ldc, padded to 4-row/8-column tiles) = Σ over packed pairs + bias[m] (int32, optional). */
export function gemm_i8(pa: usize, pb: usize, m: i32, n: i32, k: i32, c: usize, ldc: i32, bias: usize): void {
  const blocks = (m + MR - 1) / MR;
  const panels = (n + NR - 1) / NR;
  const pairs = (k + 1) >> 1;
  for (let jp = 0; jp < panels; jp++) {
    const bPanel = pb + <usize>(jp * pairs * NR) * 4;
    for (let ib = 0; ib < blocks; ib++) {
      const aBlock = pa + <usize>(ib * pairs * MR) * 4;
      let a00: v128, a01: v128, a10: v128, a11: v128, a20: v128, a21: v128, a30: v128, a31: v128;
      if (bias) {
        const r = ib * MR;
        const b0 = i32x4.splat(r < m ? load<i32>(bias + <usize>r * 4) : 0);
        const b1 = i32x4.splat(r + 1 < m ? load<i32>(bias + <usize>(r + 1) * 4) : 0);
        const b2 = i32x4.splat(r + 2 < m ? load<i32>(bias + <usize>(r + 2) * 4) : 0);
        const b3 = i32x4.splat(r + 3 < m ? load<i32>(bias + <usize>(r + 3) * 4) : 0);
        a00 = b0; a01 = b0; a10 = b1; a11 = b1; a20 = b2; a21 = b2; a30 = b3; a31 = b3;
      } else {
        const z = i32x4.splat(0);
        a00 = z; a01 = z; a10 = z; a11 = z; a20 = z; a21 = z; a30 = z; a31 = z;
      }
      let pA = aBlock;
      let pB = bPanel;
      for (let p = 0; p < pairs; p++) {
        const b0 = v128.load(pB);
        const b1 = v128.load(pB, 16);
        // one load of the 4 rows' pairs, each broadcast by a shuffle (fewer loads than 4 load32_splat)
        const rows = v128.load(pA);
        let x = i32x4.shuffle(rows, rows, 0, 0, 0, 0);
        a00 = i32x4.add(a00, i32x4.dot_i16x8_s(x, b0)); a01 = i32x4.add(a01, i32x4.dot_i16x8_s(x, b1));
        x = i32x4.shuffle(rows, rows, 1, 1, 1, 1);
        a10 = i32x4.add(a10, i32x4.dot_i16x8_s(x, b0)); a11 = i32x4.add(a11, i32x4.dot_i16x8_s(x, b1));
        x = i32x4.shuffle(rows, rows, 2, 2, 2, 2);
        a20 = i32x4.add(a20, i32x4.dot_i16x8_s(x, b0)); a21 = i32x4.add(a21, i32x4.dot_i16x8_s(x, b1));
        x = i32x4.shuffle(rows, rows, 3, 3, 3, 3);
        a30 = i32x4.add(a30, i32x4.dot_i16x8_s(x, b0)); a31 = i32x4.add(a31, i32x4.dot_i16x8_s(x, b1));
        pA += 16;
        pB += 32;
      }
      const c0 = c + <usize>((ib * MR) * ldc + jp * NR) * 4;
      const c1 = c0 + <usize>ldc * 4;
      const c2 = c1 + <usize>ldc * 4;
      const c3 = c2 + <usize>ldc * 4;
      v128.store(c0, a00); v128.store(c0, a01, 16);
      v128.store(c1, a10); v128.store(c1, a11, 16);
      v128.store(c2, a20); v128.store(c2, a21, 16);
      v128.store(c3, a30); v128.store(c3, a31, 16);
    }
  }
}

// ---------------------------------------------------------------- float32 convolution (NCHW)

/**
 * Copies one image [C][H][W] (elemBytes 2 or 4) into a zero-padded [C][hp][wp] buffer with the image at (padT, padL),
 * so im2col reads every tap without bounds checks.
 */
export function padImage(x: usize, c: i32, h: i32, w: i32, padT: i32, padL: i32, hp: i32, wp: i32, dst: usize, elemBytes: i32): void {
  memory.fill(dst, 0, <usize>(c * hp * wp * elemBytes));
  const rows = min(h, hp - padT);
  const cols = min(w, wp - padL);
  if (rows <= 0 || cols <= 0) return;
  for (let ci = 0; ci < c; ci++) {
    for (let iy = 0; iy < rows; iy++) {
      memory.copy(dst + <usize>(((ci * hp + iy + padT) * wp + padL) * elemBytes), x + <usize>((ci * h + iy) * w * elemBytes), <usize>(cols * elemBytes));
    }
  }
}

/** im2col from a padded image (padImage) of rows k0..k0+kc into 8-column panels: dst[((col>>3)*kc + kk)*8 + (col&7)]. */
export function im2colPacked_f32(
  xp: usize, hp: i32, wp: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32,
  oh: i32, ow: i32, k0: i32, kc: i32, dst: usize,
): void {
  const taps = kh * kw;
  const panelStride = <usize>(kc * NR) * 4;
  const vectorRows = sw == 1 && ow % NR == 0;
  for (let kk = 0; kk < kc; kk++) {
    const k = k0 + kk;
    const ci = k / taps;
    const r = k - ci * taps;
    const ky = r / kw;
    const kx = r - ky * kw;
    const plane = xp + <usize>(ci * hp * wp + ky * dh * wp + kx * dw) * 4;
    let out = dst + <usize>(kk * NR) * 4;
    if (vectorRows) {
      for (let oy = 0; oy < oh; oy++) {
        let src = plane + <usize>(oy * sh * wp) * 4;
        for (let ox = 0; ox < ow; ox += NR) {
          v128.store(out, v128.load(src));
          v128.store(out, v128.load(src, 16), 16);
          src += 32;
          out += panelStride;
        }
      }
      continue;
    }
    let lane = 0;
    for (let oy = 0; oy < oh; oy++) {
      const src = plane + <usize>(oy * sh * wp) * 4;
      for (let ox = 0; ox < ow; ox++) {
        store<f32>(out + <usize>lane * 4, load<f32>(src + <usize>(ox * sw) * 4));
        if (++lane == NR) {
          lane = 0;
          out += panelStride;
        }
      }
    }
  }
}

/**
 * y = clamp(conv(x, W) + bias, lo, hi) for a batch of NCHW images; W packed per group by packA_f32 (rows of
 * ceil(ocg/4)*4, K = cg*kh*kw each). pb: scratch of ceil(oh*ow/8)*8*min(K,kcMax) floats; pc: ceil(ocg/4)*4 rows of it.
 */
export function conv2d_f32(
  x: usize, n: i32, c: i32, h: i32, w: i32, oc: i32, group: i32, kh: i32, kw: i32, sh: i32, sw: i32,
  dh: i32, dw: i32, padT: i32, padL: i32, oh: i32, ow: i32,
  pa: usize, bias: usize, pb: usize, pc: usize, y: usize, kcMax: i32, lo: f32, hi: f32, xp: usize,
): void {
  const cg = c / group;
  const hp = max(h + padT, (oh - 1) * sh + (kh - 1) * dh + 1);
  const wp = max(w + padL, (ow - 1) * sw + (kw - 1) * dw + 1);
  const ocg = oc / group;
  const k = cg * kh * kw;
  const plane = oh * ow;
  const ldc = (plane + NR - 1) / NR * NR;
  const groupA = <usize>((ocg + MR - 1) / MR * MR * k) * 4;
  const pointwise = kh == 1 && kw == 1 && sh == 1 && sw == 1 && padT == 0 && padL == 0 && oh == h && ow == w;
  for (let b = 0; b < n; b++) {
    for (let g = 0; g < group; g++) {
      const xg = x + <usize>((b * c + g * cg) * h * w) * 4;
      const yg = y + <usize>((b * oc + g * ocg) * plane) * 4;
      const ag = pa + <usize>g * groupA;
      const bg = bias ? bias + <usize>(g * ocg) * 4 : 0;
      if (!pointwise) padImage(xg, cg, h, w, padT, padL, hp, wp, xp, 4);
      for (let k0 = 0; k0 < k; k0 += kcMax) {
        const kc = min(kcMax, k - k0);
        if (pointwise) packB_f32(xg, plane, plane, k0, kc, pb);
        else im2colPacked_f32(xp, hp, wp, kh, kw, sh, sw, dh, dw, oh, ow, k0, kc, pb);
        gemm_f32_block(ag, pb, ocg, plane, kc, k, k0, pc, ldc, bg, k0 == 0 ? 1 : 0, k0 + kc >= k ? 1 : 0, lo, hi);
      }
      if (ldc == plane) memory.copy(yg, pc, <usize>(ocg * plane) * 4);
      else for (let r = 0; r < ocg; r++) memory.copy(yg + <usize>(r * plane) * 4, pc + <usize>(r * ldc) * 4, <usize>plane * 4);
    }
  }
}

/** Columns of slack after a padded depthwise row: the vector loops read up to 16 i16 / 4 f32 past the last tap. */
const DEPTHWISE_SLACK: i32 = 16;

/** Width of one zero-padded depthwise input row (src/kernels/wasm/conv.ts depthwisePlaneElements mirrors it). */
@inline
function depthwiseRowWidth(ow: i32, sw: i32, kw: i32, dw: i32): i32 {
  return (ow - 1) * sw + (kw - 1) * dw + 1 + DEPTHWISE_SLACK;
}

/**
 * Depthwise conv (one filter per channel): y[ch] = clamp(Σ w[ch][ky][kx]·x[ch][oy·sh+ky·dh−padT][ox·sw+kx·dw−padL] + bias, lo, hi).
 * pad: scratch for one zero-padded plane of ((oh−1)·sh+(kh−1)·dh+1) × depthwiseRowWidth floats; y needs 4 floats
 * of slack: rows run 4 outputs at a time to their end, the overhang lands in outputs computed later.
 */
export function depthwise_f32(
  x: usize, n: i32, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32,
  padT: i32, padL: i32, oh: i32, ow: i32, wts: usize, bias: usize, pad: usize, y: usize, lo: f32, hi: f32,
): void {
  const hp = (oh - 1) * sh + (kh - 1) * dh + 1;
  const wp = depthwiseRowWidth(ow, sw, kw, dw);
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const xc = x + <usize>((b * c + ch) * h * w) * 4;
      const yc = y + <usize>((b * c + ch) * oh * ow) * 4;
      const wc = wts + <usize>(ch * kh * kw) * 4;
      const bv: f32 = bias ? load<f32>(bias + <usize>ch * 4) : 0;
      memory.fill(pad, 0, <usize>(hp * wp) * 4);
      for (let py = 0; py < hp; py++) {
        const iy = py - padT;
        if (iy < 0 || iy >= h) continue;
        const x0 = max(0, padL);
        const x1 = min(wp, w + padL);
        if (x1 > x0) memory.copy(pad + <usize>(py * wp + x0) * 4, xc + <usize>(iy * w + x0 - padL) * 4, <usize>(x1 - x0) * 4);
      }
      const three = kh == 3 && kw == 3 && dh == 1 && dw == 1 && (sw == 1 || sw == 2);
      const w0 = v128.load32_splat(wc), w1 = v128.load32_splat(wc, 4), w2 = v128.load32_splat(wc, 8);
      const w3 = v128.load32_splat(wc, 12), w4 = v128.load32_splat(wc, 16), w5 = v128.load32_splat(wc, 20);
      const w6 = v128.load32_splat(wc, 24), w7 = v128.load32_splat(wc, 28), w8 = v128.load32_splat(wc, 32);
      const vb = f32x4.splat(bv);
      for (let oy = 0; oy < oh; oy++) {
        const yr = yc + <usize>(oy * ow) * 4;
        let ox = 0;
        if (three) {
          // 3×3 taps held in registers; same summation order as the generic loop (bias, then row by row)
          const r0 = pad + <usize>((oy * sh) * wp) * 4;
          const r1 = r0 + <usize>wp * 4;
          const r2 = r1 + <usize>wp * 4;
          for (; ox < ow; ox += 4) {
            const o = <usize>(ox * sw) * 4;
            let acc = vb;
            if (sw == 1) {
              acc = madd(w0, v128.load(r0 + o), acc); acc = madd(w1, v128.load(r0 + o, 4), acc);
              acc = madd(w2, v128.load(r0 + o, 8), acc);
              acc = madd(w3, v128.load(r1 + o), acc); acc = madd(w4, v128.load(r1 + o, 4), acc);
              acc = madd(w5, v128.load(r1 + o, 8), acc);
              acc = madd(w6, v128.load(r2 + o), acc); acc = madd(w7, v128.load(r2 + o, 4), acc);
              acc = madd(w8, v128.load(r2 + o, 8), acc);
            } else {
              // stride 2: inputs 2·ox + kx; even lanes of [x0..x7] and of [x1..x8]
              let a = v128.load(r0 + o), b = v128.load(r0 + o, 16), c = v128.load(r0 + o, 32);
              acc = madd(w0, v128.shuffle<f32>(a, b, 0, 2, 4, 6), acc);
              acc = madd(w1, v128.shuffle<f32>(a, b, 1, 3, 5, 7), acc);
              acc = madd(w2, v128.shuffle<f32>(v128.shuffle<f32>(a, b, 2, 4, 6, 6), c, 0, 1, 2, 4), acc);
              a = v128.load(r1 + o); b = v128.load(r1 + o, 16); c = v128.load(r1 + o, 32);
              acc = madd(w3, v128.shuffle<f32>(a, b, 0, 2, 4, 6), acc);
              acc = madd(w4, v128.shuffle<f32>(a, b, 1, 3, 5, 7), acc);
              acc = madd(w5, v128.shuffle<f32>(v128.shuffle<f32>(a, b, 2, 4, 6, 6), c, 0, 1, 2, 4), acc);
              a = v128.load(r2 + o); b = v128.load(r2 + o, 16); c = v128.load(r2 + o, 32);
              acc = madd(w6, v128.shuffle<f32>(a, b, 0, 2, 4, 6), acc);
              acc = madd(w7, v128.shuffle<f32>(a, b, 1, 3, 5, 7), acc);
              acc = madd(w8, v128.shuffle<f32>(v128.shuffle<f32>(a, b, 2, 4, 6, 6), c, 0, 1, 2, 4), acc);
            }
            v128.store(yr + <usize>ox * 4, f32x4.min(f32x4.max(acc, vlo), vhi));
          }
        } else if (sw == 1) {
          for (; ox < ow; ox += 4) {
            let acc = f32x4.splat(bv);
            for (let ky = 0; ky < kh; ky++) {
              const pr = pad + <usize>((oy * sh + ky * dh) * wp + ox) * 4;
              for (let kx = 0; kx < kw; kx++) {
                const wv = v128.load32_splat(wc + <usize>(ky * kw + kx) * 4);
                acc = madd(wv, v128.load(pr + <usize>(kx * dw) * 4), acc);
              }
            }
            v128.store(yr + <usize>ox * 4, f32x4.min(f32x4.max(acc, vlo), vhi));
          }
        }
        for (; ox < ow; ox++) {
          let acc: f32 = bv;
          for (let ky = 0; ky < kh; ky++) {
            const pr = pad + <usize>((oy * sh + ky * dh) * wp + ox * sw) * 4;
            for (let kx = 0; kx < kw; kx++) acc += load<f32>(wc + <usize>(ky * kw + kx) * 4) * load<f32>(pr + <usize>(kx * dw) * 4);
          }
          store<f32>(yr + <usize>ox * 4, min(max(acc, lo), hi));
        }
      }
    }
  }
}

// ---------------------------------------------------------------- quantized convolution (NCHW codes)

/** dst[i] = code[i] − zero as i16; elemBytes 1 (int8 if signed, else uint8), 2 (int16) or 4 (int32). */
export function codesToI16(src: usize, count: i32, elemBytes: i32, signed: i32, zero: i32, dst: usize): void {
  let i = 0;
  const vz = i16x8.splat(<i16>zero);
  if (elemBytes == 1) {
    for (; i + 8 <= count; i += 8) {
      const v = signed ? v128.load8x8_s(src + <usize>i) : v128.load8x8_u(src + <usize>i);
      v128.store(dst + <usize>i * 2, i16x8.sub(v, vz));
    }
  } else if (elemBytes == 2) {
    for (; i + 8 <= count; i += 8) v128.store(dst + <usize>i * 2, i16x8.sub(v128.load(src + <usize>i * 2), vz));
  }
  for (; i < count; i++) {
    let v: i32;
    if (elemBytes == 1) v = signed ? <i32>load<i8>(src + <usize>i) : <i32>load<u8>(src + <usize>i);
    else if (elemBytes == 2) v = signed ? <i32>load<i16>(src + <usize>i * 2) : <i32>load<u16>(src + <usize>i * 2);
    else v = load<i32>(src + <usize>i * 4);
    store<i16>(dst + <usize>i * 2, <i16>(v - zero));
  }
}

/** im2col from a padded i16 image into gemm_i8's B panels (pairs of K rows interleaved, 8 columns per panel). */
export function im2colPacked_i16(
  xp: usize, hp: i32, wp: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32,
  oh: i32, ow: i32, k: i32, dst: usize, tmp: usize,
): void {
  const taps = kh * kw;
  const n = oh * ow;
  const panels = (n + NR - 1) / NR;
  const pairs = (k + 1) >> 1;
  const panelStride = <usize>(pairs * NR) * 4;
  const vectorRows = sw == 1 && ow % 8 == 0;
  for (let p = 0; p < pairs; p++) {
    const k0 = 2 * p;
    const ci0 = k0 / taps;
    const r0 = k0 - ci0 * taps;
    const ky0 = r0 / kw;
    const kx0 = r0 - ky0 * kw;
    const plane0 = xp + <usize>(ci0 * hp * wp + ky0 * dh * wp + kx0 * dw) * 2;
    const has1 = k0 + 1 < k;
    let plane1 = plane0;
    if (has1) {
      const ci1 = (k0 + 1) / taps;
      const r1 = k0 + 1 - ci1 * taps;
      const ky1 = r1 / kw;
      const kx1 = r1 - ky1 * kw;
      plane1 = xp + <usize>(ci1 * hp * wp + ky1 * dh * wp + kx1 * dw) * 2;
    }
    let out = dst + <usize>(p * NR) * 4;
    if (vectorRows) {
      for (let oy = 0; oy < oh; oy++) {
        const rowOff = <usize>(oy * sh * wp) * 2;
        for (let ox = 0; ox < ow; ox += NR) {
          const a = v128.load(plane0 + rowOff + <usize>ox * 2);
          const b = has1 ? v128.load(plane1 + rowOff + <usize>ox * 2) : i16x8.splat(0);
          v128.store(out, v128.shuffle<i16>(a, b, 0, 8, 1, 9, 2, 10, 3, 11));
          v128.store(out, v128.shuffle<i16>(a, b, 4, 12, 5, 13, 6, 14, 7, 15), 16);
          out += panelStride;
        }
      }
      continue;
    }
    let oy = 0;
    let ox = 0;
    for (let jp = 0; jp < panels; jp++) {
      for (let c = 0; c < NR; c++) {
        let lo: i16 = 0;
        let hi: i16 = 0;
        if (oy < oh) {
          const off = <usize>(oy * sh * wp + ox * sw) * 2;
          lo = load<i16>(plane0 + off);
          if (has1) hi = load<i16>(plane1 + off);
          if (++ox == ow) {
            ox = 0;
            oy++;
          }
        }
        store<i16>(out + <usize>c * 4, lo);
        store<i16>(out + <usize>c * 4 + 2, hi);
      }
      out += panelStride;
    }
  }
}

/** gemmlowp SaturatingRoundingDoublingHighMul: round(a·b / 2^31), ties away from zero, C++ truncating division. */
@inline
function srdhm(a: i32, b: i32): i32 {
  if (a == i32.MIN_VALUE && b == i32.MIN_VALUE) return i32.MAX_VALUE;
  const ab = <i64>a * <i64>b;
  const nudge: i64 = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  const v = ab + nudge;
  // v / 2^31 truncated toward zero, without a 64-bit division
  return <i32>((v >= 0 ? v : v + ((<i64>1 << 31) - 1)) >> 31);
}

/** gemmlowp RoundingDivideByPOT: x / 2^e rounded to nearest, ties away from zero. */
@inline
function rdbpot(x: i32, e: i32): i32 {
  if (e == 0) return x;
  const mask = (1 << e) - 1;
  const remainder = x & mask;
  const threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> e) + (remainder > threshold ? 1 : 0);
}

/** clamp(x + z, lo, hi) without int32 overflow: x is clamped to [lo − z, hi − z] first (bounds from offsetLo/Hi). */
@inline
function offsetLo(lo: i32, z: i32): i32 {
  return <i32>max<i64>(<i64>lo - <i64>z, <i64>i32.MIN_VALUE);
}

@inline
function offsetHi(hi: i32, z: i32): i32 {
  return <i32>min<i64>(<i64>hi - <i64>z, <i64>i32.MAX_VALUE);
}

@inline
function clampThenOffset(x: i32, loX: i32, hiX: i32, z: i32): i32 {
  return (x < loX ? loX : x > hiX ? hiX : x) + z;
}

/** q = clamp(zOut + acc·M0·2^(shift−31), lo, hi) (TFLite MultiplyByQuantizedMultiplier), bit-exact. */
@inline
export function requantizeOne(acc: i32, m0: i32, shift: i32, zOut: i32, lo: i32, hi: i32): i32 {
  let x = acc;
  if (shift > 0) {
    const wide = <i64>x << shift;
    x = wide > <i64>i32.MAX_VALUE ? i32.MAX_VALUE : wide < <i64>i32.MIN_VALUE ? i32.MIN_VALUE : <i32>wide;
  }
  return clampThenOffset(rdbpot(srdhm(x, m0), shift > 0 ? 0 : -shift), offsetLo(lo, zOut), offsetHi(hi, zOut), zOut);
}

/**
 * srdhm for 4 lanes with a positive multiplier m0 (< 2^31). gemmlowp's nudge-then-truncate equals
 * floor((x·m0 + 2^30) / 2^31) for either sign, and the low 32 bits of that floor are bits 31..62 of the i64 sum,
 * which a logical shift delivers as well as an arithmetic one (x86 has no 64-bit arithmetic shift).
 */
@inline
function srdhm4(x: v128, vm: v128): v128 {
  const nudge = i64x2.splat(<i64>1 << 30);
  const lo = i64x2.shr_u(i64x2.add(i64x2.extmul_low_i32x4_s(x, vm), nudge), 31);
  const hi = i64x2.shr_u(i64x2.add(i64x2.extmul_high_i32x4_s(x, vm), nudge), 31);
  return v128.shuffle<i32>(lo, hi, 0, 2, 4, 6);
}

/** Stores 4 clamped codes as elemBytes-wide integers. */
@inline
function storeCodes4(out: usize, q: v128, elemBytes: i32, unsigned: bool): void {
  if (elemBytes == 4) {
    v128.store(out, q);
  } else if (elemBytes == 2) {
    const h = unsigned ? i16x8.narrow_i32x4_u(q, q) : i16x8.narrow_i32x4_s(q, q);
    v128.store64_lane(out, h, 0);
  } else {
    const h = i16x8.narrow_i32x4_s(q, q);
    const b = unsigned ? i8x16.narrow_i16x8_u(h, h) : i8x16.narrow_i16x8_s(h, h);
    v128.store32_lane(out, b, 0);
  }
}

/** Single-rounding MultiplyByQuantizedMultiplier (as onnxruntime): floor((x·M0 + 2^(t−1)) / 2^t), t = 31 − shift, saturated. */
@inline
function mulSingle(x: i32, m0: i32, shift: i32): i32 {
  if (m0 == 0) return 0;
  const t = 31 - shift;
  const v = (<i64>x * <i64>m0 + (<i64>1 << (t - 1))) >> t;
  return v > <i64>i32.MAX_VALUE ? i32.MAX_VALUE : v < <i64>i32.MIN_VALUE ? i32.MIN_VALUE : <i32>v;
}

/** 4 lanes of mulSingle for m0 > 0 (t = 31 − shift ≥ 1). */
@inline
function mulSingle4(x: v128, vm: v128, t: i32): v128 {
  const half = i64x2.splat(<i64>1 << (t - 1));
  const vmax = i64x2.splat(<i64>i32.MAX_VALUE);
  const vmin = i64x2.splat(<i64>i32.MIN_VALUE);
  let lo = i64x2.shr_s(i64x2.add(i64x2.extmul_low_i32x4_s(x, vm), half), t);
  let hi = i64x2.shr_s(i64x2.add(i64x2.extmul_high_i32x4_s(x, vm), half), t);
  lo = v128.bitselect(vmax, lo, i64x2.gt_s(lo, vmax));
  lo = v128.bitselect(vmin, lo, i64x2.lt_s(lo, vmin));
  hi = v128.bitselect(vmax, hi, i64x2.gt_s(hi, vmax));
  hi = v128.bitselect(vmin, hi, i64x2.lt_s(hi, vmin));
  return v128.shuffle<i32>(lo, hi, 0, 2, 4, 6);
}

/**
 * mulSingle4 for t = 31 − shift ≥ 31 (M < 1), where |x·M0 / 2^t| < 2^31 needs no saturation. Adding 2^62 makes the
 * i64 sum non-negative (|x·M0| < 2^62), so a logical shift floors it; the 2^(62−t) it adds is taken off in i32.
 */
@inline
function mulSingleSmall4(x: v128, vm: v128, t: i32): v128 {
  const bias = i64x2.splat((<i64>1 << (t - 1)) + (<i64>1 << 62));
  const lo = i64x2.shr_u(i64x2.add(i64x2.extmul_low_i32x4_s(x, vm), bias), t);
  const hi = i64x2.shr_u(i64x2.add(i64x2.extmul_high_i32x4_s(x, vm), bias), t);
  return i32x4.sub(v128.shuffle<i32>(lo, hi, 0, 2, 4, 6), i32x4.splat(<i32>(<i64>1 << (62 - t))));
}

/** Largest |acc| seen by requantizeRows since the last takeMaxAbsAccumulator (as unsigned: |i32.MIN| fits). */
let maxAbsAccumulator: u32 = 0;

/** Returns the largest |accumulator| the quantized convs produced since the last call, and resets it. */
export function takeMaxAbsAccumulator(): u32 {
  const m = maxAbsAccumulator;
  maxAbsAccumulator = 0;
  return m;
}

/** maxAbsAccumulator = max(maxAbsAccumulator, |acc[r·ldc + j]|) over rows × n. */
function trackMaxAbs(acc: usize, rows: i32, n: i32, ldc: i32): void {
  let vmax = i32x4.splat(0);
  let m: u32 = maxAbsAccumulator;
  for (let r = 0; r < rows; r++) {
    const src = acc + <usize>(r * ldc) * 4;
    let j = 0;
    for (; j + 4 <= n; j += 4) vmax = i32x4.max_u(vmax, i32x4.abs(v128.load(src + <usize>j * 4)));
    for (; j < n; j++) {
      const a = load<i32>(src + <usize>j * 4);
      const u = <u32>(a < 0 ? -a : a);
      if (u > m) m = u;
    }
  }
  for (let l = 0; l < 4; l++) {
    const u = <u32>i32x4.extract_lane(vmax, 0);
    if (u > m) m = u;
    vmax = v128.shuffle<i32>(vmax, vmax, 1, 2, 3, 0);
  }
  maxAbsAccumulator = m;
}

/** Requantizes rows of int32 accumulators (row stride ldc) into codes of elemBytes (1, 2 or 4) at dst (row stride n). */
export function requantizeRows(
  acc: usize, rows: i32, n: i32, ldc: i32, m0: usize, shift: usize, zOut: i32, lo: i32, hi: i32, dst: usize, elemBytes: i32,
  single: i32,
): void {
  const vz = i32x4.splat(zOut);
  const loX = offsetLo(lo, zOut);
  const hiX = offsetHi(hi, zOut);
  const vlo = i32x4.splat(loX);
  const vhi = i32x4.splat(hiX);
  const zero = i32x4.splat(0);
  const unsigned = lo >= 0;
  trackMaxAbs(acc, rows, n, ldc);
  for (let r = 0; r < rows; r++) {
    const mr = load<i32>(m0 + <usize>r * 4);
    const sr = load<i32>(shift + <usize>r * 4);
    const src = acc + <usize>(r * ldc) * 4;
    const out = dst + <usize>(r * n * elemBytes);
    let j = 0;
    if (single && mr > 0) {
      const vm = i32x4.splat(mr);
      const t = 31 - sr;
      const small = sr <= 0; // M < 1: no saturation, logical shifts only
      for (; j + 4 <= n; j += 4) {
        const a = v128.load(src + <usize>j * 4);
        const x = small ? mulSingleSmall4(a, vm, t) : mulSingle4(a, vm, t);
        const q = i32x4.add(i32x4.min_s(i32x4.max_s(x, vlo), vhi), vz);
        storeCodes4(out + <usize>(j * elemBytes), q, elemBytes, unsigned);
      }
    } else if (!single && sr <= 0 && mr >= 0) {
      const e = -sr;
      const vm = i32x4.splat(mr);
      const mask = e == 0 ? 0 : (1 << e) - 1;
      const vmask = i32x4.splat(mask);
      const vhalf = i32x4.splat(mask >> 1);
      for (; j + 4 <= n; j += 4) {
        let x = srdhm4(v128.load(src + <usize>j * 4), vm);
        if (e) {
          // rounding divide by 2^e, ties away from zero
          const rem = v128.and(x, vmask);
          const thr = i32x4.sub(vhalf, i32x4.lt_s(x, zero));
          x = i32x4.sub(i32x4.shr_s(x, e), i32x4.gt_s(rem, thr));
        }
        const q = i32x4.add(i32x4.min_s(i32x4.max_s(x, vlo), vhi), vz);
        storeCodes4(out + <usize>(j * elemBytes), q, elemBytes, unsigned);
      }
    }
    for (; j < n; j++) {
      const a = load<i32>(src + <usize>j * 4);
      const q = single ? clampThenOffset(mulSingle(a, mr, sr), loX, hiX, zOut) : requantizeOne(a, mr, sr, zOut, lo, hi);
      if (elemBytes == 1) store<i8>(out + <usize>j, <i8>q);
      else if (elemBytes == 2) store<i16>(out + <usize>j * 2, <i16>q);
      else store<i32>(out + <usize>j * 4, q);
    }
  }
}

/**
 * Quantized conv over a batch: x is the i16 image batch (codes − zx), W packed per group by packA_i8 (zw subtracted),
 * bias int32 per output channel, per-channel fixed-point multipliers; output codes of elemBytes at y.
 * pb: gemm_i8 B panels for one image and group; pc: int32 tile rows; tmp: 16 bytes.
 */
export function qconv2d(
  x: usize, n: i32, c: i32, h: i32, w: i32, oc: i32, group: i32, kh: i32, kw: i32, sh: i32, sw: i32,
  dh: i32, dw: i32, padT: i32, padL: i32, oh: i32, ow: i32,
  pa: usize, bias: usize, m0: usize, shift: usize, zOut: i32, lo: i32, hi: i32,
  pb: usize, pc: usize, tmp: usize, y: usize, elemBytes: i32, xp: usize, single: i32,
): void {
  const cg = c / group;
  const hp = max(h + padT, (oh - 1) * sh + (kh - 1) * dh + 1);
  const wp = max(w + padL, (ow - 1) * sw + (kw - 1) * dw + 1);
  const ocg = oc / group;
  const k = cg * kh * kw;
  const plane = oh * ow;
  const ldc = (plane + NR - 1) / NR * NR;
  const groupA = <usize>((ocg + MR - 1) / MR * MR * ((k + 1) >> 1)) * 4;
  for (let b = 0; b < n; b++) {
    for (let g = 0; g < group; g++) {
      const xg = x + <usize>((b * c + g * cg) * h * w) * 2;
      padImage(xg, cg, h, w, padT, padL, hp, wp, xp, 2);
      im2colPacked_i16(xp, hp, wp, kh, kw, sh, sw, dh, dw, oh, ow, k, pb, tmp);
      gemm_i8(pa + <usize>g * groupA, pb, ocg, plane, k, pc, ldc, bias ? bias + <usize>(g * ocg) * 4 : 0);
      const o = <usize>(g * ocg);
      const yg = y + <usize>((b * oc + g * ocg) * plane * elemBytes);
      if (m0 == 0) { // raw int32 accumulators (elemBytes 4)
        trackMaxAbs(pc, ocg, plane, ldc);
        for (let r = 0; r < ocg; r++) memory.copy(yg + <usize>(r * plane) * 4, pc + <usize>(r * ldc) * 4, <usize>plane * 4);
      } else {
        requantizeRows(pc, ocg, plane, ldc, m0 + o * 4, shift + o * 4, zOut, lo, hi, yg, elemBytes, single);
      }
    }
  }
}

/** 8 i16 tap inputs for outputs ox..ox+7 of a padded row: contiguous for stride 1, the even lanes of 16 for stride 2. */
@inline
function tapInputs8(p: usize, sw: i32): v128 {
  if (sw == 1) return v128.load(p);
  return v128.shuffle<i16>(v128.load(p), v128.load(p, 16), 0, 2, 4, 6, 8, 10, 12, 14);
}

/**
 * Quantized depthwise conv: x i16 (codes − zx), w i16 per channel taps (codes − zw), int32 accumulation,
 * then the same requantization. pad: scratch for one zero-padded i16 plane with 16 columns of slack;
 * accRow: oh·ow+8 int32; taps: ceil(kh·kw/2)·24 bytes. For strides 1 and 2 the taps go in pairs through
 * i32x4.dot_i16x8_s, 8 outputs at a time (the slack absorbs the overhang; later rows overwrite it).
 */
export function qdepthwise(
  x: usize, n: i32, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32,
  padT: i32, padL: i32, oh: i32, ow: i32, wts: usize, bias: usize, m0: usize, shift: usize,
  zOut: i32, lo: i32, hi: i32, pad: usize, accRow: usize, y: usize, elemBytes: i32, single: i32, taps: usize,
): void {
  const hp = (oh - 1) * sh + (kh - 1) * dh + 1;
  const wp = depthwiseRowWidth(ow, sw, kw, dw);
  const tapCount = kh * kw;
  const pairs = (tapCount + 1) >> 1;
  const pairWeights = taps;
  const pairOffsets = taps + <usize>pairs * 16;
  // byte offsets of each tap within the padded plane, relative to the window's top-left input
  for (let t = 0; t < pairs * 2; t++) {
    const tt = t < tapCount ? t : t - 1; // an odd last tap pairs with itself under a zero weight
    const ky = tt / kw;
    const kx = tt - ky * kw;
    store<i32>(pairOffsets + <usize>t * 4, (ky * dh * wp + kx * dw) * 2);
  }
  const vectorStride = sw == 1 || sw == 2;
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const xc = x + <usize>((b * c + ch) * h * w) * 2;
      const wc = wts + <usize>(ch * tapCount) * 2;
      const bv: i32 = bias ? load<i32>(bias + <usize>ch * 4) : 0;
      for (let j = 0; j < pairs; j++) {
        const w0 = <i32>load<i16>(wc + <usize>(2 * j) * 2);
        const w1 = 2 * j + 1 < tapCount ? <i32>load<i16>(wc + <usize>(2 * j + 1) * 2) : 0;
        v128.store(pairWeights + <usize>j * 16, i32x4.splat((w0 & 0xffff) | (w1 << 16)));
      }
      memory.fill(pad, 0, <usize>(hp * wp) * 2);
      for (let py = 0; py < hp; py++) {
        const iy = py - padT;
        if (iy < 0 || iy >= h) continue;
        const x0 = max(0, padL);
        const x1 = min(wp, w + padL);
        if (x1 > x0) memory.copy(pad + <usize>(py * wp + x0) * 2, xc + <usize>(iy * w + x0 - padL) * 2, <usize>(x1 - x0) * 2);
      }
      const yc = y + <usize>((b * c + ch) * oh * ow * elemBytes);
      const vb = i32x4.splat(bv);
      for (let oy = 0; oy < oh; oy++) {
        const accOut = accRow + <usize>(oy * ow) * 4;
        const rowBase = pad + <usize>(oy * sh * wp) * 2;
        if (vectorStride) {
          for (let ox = 0; ox < ow; ox += 8) {
            const base = rowBase + <usize>(ox * sw) * 2;
            let acc0 = vb;
            let acc1 = vb;
            for (let j = 0; j < pairs; j++) {
              const a = tapInputs8(base + <usize>load<i32>(pairOffsets + <usize>(2 * j) * 4), sw);
              const t = tapInputs8(base + <usize>load<i32>(pairOffsets + <usize>(2 * j + 1) * 4), sw);
              const wv = v128.load(pairWeights + <usize>j * 16);
              acc0 = i32x4.add(acc0, i32x4.dot_i16x8_s(v128.shuffle<i16>(a, t, 0, 8, 1, 9, 2, 10, 3, 11), wv));
              acc1 = i32x4.add(acc1, i32x4.dot_i16x8_s(v128.shuffle<i16>(a, t, 4, 12, 5, 13, 6, 14, 7, 15), wv));
            }
            v128.store(accOut + <usize>ox * 4, acc0);
            v128.store(accOut + <usize>ox * 4, acc1, 16);
          }
          continue;
        }
        for (let ox = 0; ox < ow; ox++) {
          let acc: i32 = bv;
          for (let ky = 0; ky < kh; ky++) {
            const pr = pad + <usize>((oy * sh + ky * dh) * wp + ox * sw) * 2;
            for (let kx = 0; kx < kw; kx++) acc += <i32>load<i16>(wc + <usize>(ky * kw + kx) * 2) * <i32>load<i16>(pr + <usize>(kx * dw) * 2);
          }
          store<i32>(accOut + <usize>ox * 4, acc);
        }
      }
      // the whole channel plane at once, so requantization runs 4 lanes wide even for narrow rows
      if (m0 == 0) { // raw int32 accumulators (elemBytes 4)
        trackMaxAbs(accRow, 1, oh * ow, oh * ow);
        memory.copy(yc, accRow, <usize>(oh * ow) * 4);
      }
      else requantizeRows(accRow, 1, oh * ow, oh * ow, m0 + <usize>ch * 4, shift + <usize>ch * 4, zOut, lo, hi, yc, elemBytes, single);
    }
  }
}

/** packA_i8 for i16 values already minus their zero point: block i, pair p → 4 × (a[r][2p] | a[r][2p+1] << 16). */
export function packA_i16(a: usize, lda: i32, m: i32, k: i32, dst: usize): void {
  const blocks = (m + MR - 1) / MR;
  const pairs = (k + 1) >> 1;
  for (let ib = 0; ib < blocks; ib++) {
    const out = dst + <usize>(ib * pairs * MR) * 4;
    for (let r = 0; r < MR; r++) {
      const row = ib * MR + r;
      const src = a + <usize>(row * lda) * 2;
      for (let p = 0; p < pairs; p++) {
        let lo: i32 = 0;
        let hi: i32 = 0;
        if (row < m) {
          lo = <i32>load<i16>(src + <usize>(2 * p) * 2);
          if (2 * p + 1 < k) hi = <i32>load<i16>(src + <usize>(2 * p + 1) * 2);
        }
        store<i32>(out + <usize>(p * MR + r) * 4, (lo & 0xffff) | (hi << 16));
      }
    }
  }
}

// ---------------------------------------------------------------- integer residual Add (TFLite scheme)

/** TFLite MultiplyByQuantizedMultiplier (no zero point, no clamp). */
@inline
function mbqm(acc: i32, m0: i32, shift: i32): i32 {
  let x = acc;
  if (shift > 0) {
    const wide = <i64>x << shift;
    x = wide > <i64>i32.MAX_VALUE ? i32.MAX_VALUE : wide < <i64>i32.MIN_VALUE ? i32.MIN_VALUE : <i32>wide;
  }
  return rdbpot(srdhm(x, m0), shift > 0 ? 0 : -shift);
}

/** 4 lanes of mbqm for shift ≤ 0 and m0 ≥ 0. */
@inline
function mbqm4(x: v128, vm: v128, e: i32): v128 {
  let r = srdhm4(x, vm);
  if (e) {
    const mask = (1 << e) - 1;
    const rem = v128.and(r, i32x4.splat(mask));
    const thr = i32x4.sub(i32x4.splat(mask >> 1), i32x4.lt_s(r, i32x4.splat(0)));
    r = i32x4.sub(i32x4.shr_s(r, e), i32x4.gt_s(rem, thr));
  }
  return r;
}

@inline
function loadCode(p: usize, i: i32, bytes: i32, signed: i32): i32 {
  if (bytes == 1) return signed ? <i32>load<i8>(p + <usize>i) : <i32>load<u8>(p + <usize>i);
  if (bytes == 2) return signed ? <i32>load<i16>(p + <usize>i * 2) : <i32>load<u16>(p + <usize>i * 2);
  return load<i32>(p + <usize>i * 4);
}

@inline
function loadCodes4(p: usize, i: i32, bytes: i32, signed: i32): v128 {
  if (bytes == 4) return v128.load(p + <usize>i * 4);
  const v = v128.load32_zero(p + <usize>i);
  return signed ? i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v)) : i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v));
}

/** Byte code c (int8 if signed) → mbqm((c − z)·2^L, m0, shift) for all 256 c: the rescaled input of a byte-coded Add. */
function tabulateRescale(table: usize, signed: i32, z: i32, leftShift: i32, m0: i32, shift: i32): void {
  for (let c = 0; c < 256; c++) {
    const code = signed ? <i32><i8>c : c;
    store<i32>(table + <usize>c * 4, mbqm((code - z) << leftShift, m0, shift));
  }
}

/** table_a[a[i]] + table_b[b[i]] for byte codes a[i], b[i] (tables by tabulateRescale, b's 1 KiB after a's). */
@inline
function tabledSum(a: usize, b: usize, i: i32, tables: usize): i32 {
  return load<i32>(tables + (<usize>load<u8>(a + <usize>i) << 2)) + load<i32>(tables + 1024 + (<usize>load<u8>(b + <usize>i) << 2));
}

/** tabledSum of codes i..i+3, as 4 lanes. */
@inline
function tabledSums4(a: usize, b: usize, i: i32, tables: usize): v128 {
  let v = i32x4.splat(tabledSum(a, b, i, tables));
  v = i32x4.replace_lane(v, 1, tabledSum(a, b, i + 1, tables));
  v = i32x4.replace_lane(v, 2, tabledSum(a, b, i + 2, tables));
  return i32x4.replace_lane(v, 3, tabledSum(a, b, i + 3, tables));
}

/**
 * out = clamp(zOut + M_out·(M_a·((a − za)·2^L) + M_b·((b − zb)·2^L)), lo, hi) elementwise (kernels/int/add.ts);
 * returns the largest |sum|. Vector path for 1- or 4-byte codes and non-positive shifts; with byte codes on both
 * sides and tables (2 KiB of scratch) the two input rescales are looked up, any shift.
 */
export function addCodes(
  a: usize, aBytes: i32, aSigned: i32, za: i32, b: usize, bBytes: i32, bSigned: i32, zb: i32, count: i32, leftShift: i32,
  ma: i32, sa: i32, mb: i32, sb: i32, mo: i32, so: i32, zOut: i32, lo: i32, hi: i32, out: usize, outBytes: i32,
  finalSingle: i32, tables: usize,
): i32 {
  let i = 0;
  let maxAcc: i32 = 0;
  const tabled = tables != 0 && aBytes == 1 && bBytes == 1;
  if (tabled) {
    tabulateRescale(tables, aSigned, za, leftShift, ma, sa);
    tabulateRescale(tables + 1024, bSigned, zb, leftShift, mb, sb);
  }
  const inputsOk = tabled || (aBytes != 2 && bBytes != 2 && sa <= 0 && sb <= 0 && ma >= 0 && mb >= 0);
  const vectorOk = inputsOk && (finalSingle ? mo > 0 : so <= 0 && mo >= 0);
  if (vectorOk) {
    const vza = i32x4.splat(za);
    const vzb = i32x4.splat(zb);
    const vma = i32x4.splat(ma);
    const vmb = i32x4.splat(mb);
    const vmo = i32x4.splat(mo);
    const vz = i32x4.splat(zOut);
    const vlo = i32x4.splat(offsetLo(lo, zOut));
    const vhi = i32x4.splat(offsetHi(hi, zOut));
    let vmax = i32x4.splat(0);
    const unsigned = lo >= 0;
    for (; i + 4 <= count; i += 4) {
      let sum: v128;
      if (tabled) {
        sum = tabledSums4(a, b, i, tables);
      } else {
        const xa = i32x4.shl(i32x4.sub(loadCodes4(a, i, aBytes, aSigned), vza), leftShift);
        const xb = i32x4.shl(i32x4.sub(loadCodes4(b, i, bBytes, bSigned), vzb), leftShift);
        sum = i32x4.add(mbqm4(xa, vma, -sa), mbqm4(xb, vmb, -sb));
      }
      vmax = i32x4.max_s(vmax, i32x4.abs(sum));
      const scaled = finalSingle ? (so <= 0 ? mulSingleSmall4(sum, vmo, 31 - so) : mulSingle4(sum, vmo, 31 - so)) : mbqm4(sum, vmo, -so);
      const q = i32x4.add(i32x4.min_s(i32x4.max_s(scaled, vlo), vhi), vz);
      storeCodes4(out + <usize>(i * outBytes), q, outBytes, unsigned);
    }
    maxAcc = max(max(i32x4.extract_lane(vmax, 0), i32x4.extract_lane(vmax, 1)), max(i32x4.extract_lane(vmax, 2), i32x4.extract_lane(vmax, 3)));
  }
  for (; i < count; i++) {
    const xa = (loadCode(a, i, aBytes, aSigned) - za) << leftShift;
    const xb = (loadCode(b, i, bBytes, bSigned) - zb) << leftShift;
    const sum = mbqm(xa, ma, sa) + mbqm(xb, mb, sb);
    const m = sum < 0 ? -sum : sum;
    if (m > maxAcc) maxAcc = m;
    const q = clampThenOffset(finalSingle ? mulSingle(sum, mo, so) : mbqm(sum, mo, so), offsetLo(lo, zOut), offsetHi(hi, zOut), zOut);
    if (outBytes == 1) store<i8>(out + <usize>i, <i8>q);
    else if (outBytes == 2) store<i16>(out + <usize>i * 2, <i16>q);
    else store<i32>(out + <usize>i * 4, q);
  }
  return maxAcc;
}

/**
 * Error sums of a float reference against codes (inspect/metrics.ts): t = fround(s·(q − z)), e = ref − t;
 * out[0..4] (f64) += Σref², Σt², Σref·t, Σe², and out[4] = max(out[4], max |e|). In f64, as the TypeScript loop.
 */
export function errorSumsCodes(ref: usize, codes: usize, bytes: i32, signed: i32, n: i32, scale: f64, zero: i32, out: usize): void {
  const vs = f64x2.splat(scale);
  const vz = i32x4.splat(zero);
  // lanes 0-1 and 2-3 of each group of four keep their own sums (shorter add chains)
  let r2 = f64x2.splat(0), t2 = f64x2.splat(0), rt = f64x2.splat(0), e2 = f64x2.splat(0), mx = f64x2.splat(0);
  let r2h = f64x2.splat(0), t2h = f64x2.splat(0), rth = f64x2.splat(0), e2h = f64x2.splat(0), mxh = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const d = i32x4.sub(loadCodes4(codes, i, bytes, signed), vz);
    const rf = v128.load(ref + <usize>i * 4);
    const dHigh = i8x16.shuffle(d, d, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
    const rHigh = i8x16.shuffle(rf, rf, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
    const t = f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(f64x2.mul(vs, f64x2.convert_low_i32x4_s(d))));
    const th = f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(f64x2.mul(vs, f64x2.convert_low_i32x4_s(dHigh))));
    const r = f64x2.promote_low_f32x4(rf);
    const rh = f64x2.promote_low_f32x4(rHigh);
    const e = f64x2.sub(r, t);
    const eh = f64x2.sub(rh, th);
    r2 = f64x2.add(r2, f64x2.mul(r, r)); r2h = f64x2.add(r2h, f64x2.mul(rh, rh));
    t2 = f64x2.add(t2, f64x2.mul(t, t)); t2h = f64x2.add(t2h, f64x2.mul(th, th));
    rt = f64x2.add(rt, f64x2.mul(r, t)); rth = f64x2.add(rth, f64x2.mul(rh, th));
    e2 = f64x2.add(e2, f64x2.mul(e, e)); e2h = f64x2.add(e2h, f64x2.mul(eh, eh));
    mx = f64x2.pmax(mx, f64x2.abs(e)); mxh = f64x2.pmax(mxh, f64x2.abs(eh)); // a NaN error is skipped, as in the TypeScript loop
  }
  r2 = f64x2.add(r2, r2h); t2 = f64x2.add(t2, t2h); rt = f64x2.add(rt, rth); e2 = f64x2.add(e2, e2h); mx = f64x2.pmax(mx, mxh);
  let sr2 = f64x2.extract_lane(r2, 0) + f64x2.extract_lane(r2, 1);
  let st2 = f64x2.extract_lane(t2, 0) + f64x2.extract_lane(t2, 1);
  let srt = f64x2.extract_lane(rt, 0) + f64x2.extract_lane(rt, 1);
  let se2 = f64x2.extract_lane(e2, 0) + f64x2.extract_lane(e2, 1);
  let smx = max(f64x2.extract_lane(mx, 0), f64x2.extract_lane(mx, 1));
  for (; i < n; i++) {
    const r = <f64>load<f32>(ref + <usize>i * 4);
    const t = <f64><f32>(scale * <f64>(loadCode(codes, i, bytes, signed) - zero));
    const e = r - t;
    sr2 += r * r; st2 += t * t; srt += r * t; se2 += e * e;
    if (abs(e) > smx) smx = abs(e);
  }
  store<f64>(out, load<f64>(out) + sr2);
  store<f64>(out + 8, load<f64>(out + 8) + st2);
  store<f64>(out + 16, load<f64>(out + 16) + srt);
  store<f64>(out + 24, load<f64>(out + 24) + se2);
  if (smx > load<f64>(out + 32)) store<f64>(out + 32, smx);
}

/**
 * Batch statistics of float32 values (quant/observers.ts batchStats): out (f64) = [min, max, Σx, Σx², zeros];
 * min/max skip NaN (as the TypeScript comparisons do), the sums carry it.
 */
export function batchStatsF32(x: usize, n: i32, out: usize): void {
  let vmin = f32x4.splat(Infinity), vmax = f32x4.splat(-Infinity);
  let s = f64x2.splat(0), sh = f64x2.splat(0), s2 = f64x2.splat(0), s2h = f64x2.splat(0);
  let zeros = i32x4.splat(0);
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + <usize>i * 4);
    vmin = f32x4.pmin(vmin, v); // v < min ? v : min
    vmax = f32x4.pmax(vmax, v); // max < v ? v : max
    zeros = i32x4.sub(zeros, f32x4.eq(v, zero));
    const lo = f64x2.promote_low_f32x4(v);
    const hi = f64x2.promote_low_f32x4(i8x16.shuffle(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
    s = f64x2.add(s, lo); sh = f64x2.add(sh, hi);
    s2 = f64x2.add(s2, f64x2.mul(lo, lo)); s2h = f64x2.add(s2h, f64x2.mul(hi, hi));
  }
  let mn = <f64>Infinity, mx = <f64>-Infinity;
  for (let k = 0; k < 4; k++) {
    const a = <f64>f32x4.extract_lane(vmin, 0), b = <f64>f32x4.extract_lane(vmax, 0);
    if (a < mn) mn = a;
    if (b > mx) mx = b;
    vmin = i8x16.shuffle(vmin, vmin, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3);
    vmax = i8x16.shuffle(vmax, vmax, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3);
  }
  s = f64x2.add(s, sh); s2 = f64x2.add(s2, s2h);
  let sum = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  let sumSq = f64x2.extract_lane(s2, 0) + f64x2.extract_lane(s2, 1);
  let z = i32x4.extract_lane(zeros, 0) + i32x4.extract_lane(zeros, 1) + i32x4.extract_lane(zeros, 2) + i32x4.extract_lane(zeros, 3);
  for (; i < n; i++) {
    const v = <f64>load<f32>(x + <usize>i * 4);
    if (v == 0) z++;
    if (v < mn) mn = v;
    if (v > mx) mx = v;
    sum += v; sumSq += v * v;
  }
  store<f64>(out, mn);
  store<f64>(out + 8, mx);
  store<f64>(out + 16, sum);
  store<f64>(out + 24, sumSq);
  store<f64>(out + 32, <f64>z);
}

/** counts[b] += 1 for b = clamp(floor((x − lo)·inv), 0, bins − 1) per float32 value (quant/observers.ts binInto). */
export function binIntoF32(x: usize, n: i32, lo: f64, inv: f64, bins: i32, counts: usize): void {
  const last = bins - 1;
  for (let i = 0; i < n; i++) {
    const t = Math.floor((<f64>load<f32>(x + <usize>i * 4) - lo) * inv);
    const b = t > <f64>last ? last : t < 0 ? 0 : <i32>t; // NaN: bin 0 (batchStats rejects NaN before)
    const p = counts + (<usize>b << 2);
    store<i32>(p, load<i32>(p) + 1);
  }
}

/**
 * q = clamp(round_half_even(x·inv) + z, qmin, qmax) per float32 value (quant/quantizer.ts quantizeArray), into
 * codes of outBytes (1, 2 or 4); NaN gives 0, as a typed-array store of NaN does.
 */
export function quantizeF32(x: usize, n: i32, inv: f64, z: i32, qmin: i32, qmax: i32, out: usize, outBytes: i32, unsigned: i32): void {
  const vinv = f64x2.splat(inv), vz = f64x2.splat(<f64>z), lo = f64x2.splat(<f64>qmin), hi = f64x2.splat(<f64>qmax);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + <usize>i * 4);
    const a = f64x2.promote_low_f32x4(v);
    const b = f64x2.promote_low_f32x4(i8x16.shuffle(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
    // pmin/pmax let NaN through to trunc_sat, which gives 0
    const qa = f64x2.pmax(f64x2.pmin(f64x2.add(f64x2.nearest(f64x2.mul(a, vinv)), vz), hi), lo);
    const qb = f64x2.pmax(f64x2.pmin(f64x2.add(f64x2.nearest(f64x2.mul(b, vinv)), vz), hi), lo);
    const ia = i32x4.trunc_sat_f64x2_s_zero(qa), ib = i32x4.trunc_sat_f64x2_s_zero(qb);
    storeCodes4(out + <usize>(i * outBytes), i8x16.shuffle(ia, ib, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23), outBytes, unsigned != 0);
  }
  for (; i < n; i++) {
    let q = nearest(<f64>load<f32>(x + <usize>i * 4) * inv) + <f64>z;
    if (q > <f64>qmax) q = <f64>qmax;
    if (q < <f64>qmin) q = <f64>qmin;
    const c = q != q ? 0 : <i32>q;
    if (outBytes == 1) store<i8>(out + <usize>i, <i8>c);
    else if (outBytes == 2) store<i16>(out + <usize>i * 2, <i16>c);
    else store<i32>(out + <usize>i * 4, c);
  }
}

/** sums (i32)[i] += Σ_n codes[n·per + i] over `batch` images of 1-byte codes (engine/quant-calibrate.ts column means). */
export function sumBytesOverBatch(codes: usize, batch: i32, per: i32, signed: i32, sums: usize): void {
  for (let n = 0; n < batch; n++) {
    const row = codes + <usize>n * <usize>per;
    let i = 0;
    for (; i + 16 <= per; i += 16) {
      const v = v128.load(row + <usize>i);
      const lo = signed ? i16x8.extend_low_i8x16_s(v) : i16x8.extend_low_i8x16_u(v);
      const hi = signed ? i16x8.extend_high_i8x16_s(v) : i16x8.extend_high_i8x16_u(v);
      const p = sums + <usize>i * 4;
      v128.store(p, i32x4.add(v128.load(p), i32x4.extend_low_i16x8_s(lo)));
      v128.store(p + 16, i32x4.add(v128.load(p + 16), i32x4.extend_high_i16x8_s(lo)));
      v128.store(p + 32, i32x4.add(v128.load(p + 32), i32x4.extend_low_i16x8_s(hi)));
      v128.store(p + 48, i32x4.add(v128.load(p + 48), i32x4.extend_high_i16x8_s(hi)));
    }
    for (; i < per; i++) {
      const p = sums + <usize>i * 4;
      store<i32>(p, load<i32>(p) + (signed ? <i32>load<i8>(row + <usize>i) : <i32>load<u8>(row + <usize>i)));
    }
  }
}
