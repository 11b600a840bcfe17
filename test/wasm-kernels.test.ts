// The wasm SIMD kernels against the TypeScript references: integer GEMM bit-exact, float GEMM/conv within 1e-5.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { spawnSync } from 'child_process';
import {
  kernelPath, releaseKernelArena, setKernelPath, setWasmMemoryLimit, trySgemmWasm, trySgemmWasmAt, tryIgemmWasm, tryConv2dWasm, tryErrorSumsWasm, tryBatchStatsWasm, trySumBytesOverBatchWasm, wasmAvailable,
} from '../src/kernels/wasm';
import { sgemmTs } from '../src/kernels/float/gemm';
import { conv2d, Conv2dParams } from '../src/kernels/float/conv';
import { InputError } from '../src/util/errors';
import { mulberry32 as rng } from '../src/util/random';
import { batchStats, binInto } from '../src/quant/observers';
import { quantizeArray } from '../src/quant/quantizer';

const root = path.resolve(__dirname, '..');

function randomFloats(n: number, r: () => number): Float32Array {
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

/** |got − want| ≤ 1e-5 · (Σ|terms| + tiny) element-wise, where scale[i] bounds the magnitude of the sum. */
function assertClose(got: Float32Array, want: Float32Array, scale: Float64Array | number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    const s = typeof scale === 'number' ? scale : scale[i];
    const tol = 1e-5 * (s + 1e-6);
    if (!(Math.abs(got[i] - want[i]) <= tol)) assert.fail(`${what}: element ${i} is ${got[i]}, expected ${want[i]} (tolerance ${tol})`);
  }
}

function naiveIgemm(M: number, N: number, K: number, A: ArrayLike<number>, za: number, B: ArrayLike<number>, zb: number, bias?: Int32Array): Int32Array {
  const C = new Int32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = bias ? bias[m] : 0;
      for (let k = 0; k < K; k++) s += (A[m * K + k] - za) * (B[k * N + n] - zb);
      C[m * N + n] = s;
    }
  }
  return C;
}

function absGemmScale(M: number, N: number, K: number, A: Float32Array, B: Float32Array): Float64Array {
  const s = new Float64Array(M * N);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let t = 0;
    for (let k = 0; k < K; k++) t += Math.abs(A[m * K + k] * B[k * N + n]);
    s[m * N + n] = t;
  }
  return s;
}

test('the generated wasm module is up to date with the AssemblyScript sources', () => {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts/build-wasm.js'), '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('wasm SIMD is available here and selected by default', () => {
  assert.equal(wasmAvailable(), true);
  setKernelPath(undefined);
  if (!process.env.QINSPECT_KERNELS) assert.equal(kernelPath(), 'wasm');
});

test('integer GEMM: wasm equals the scalar reference bit for bit (odd shapes, K not a multiple of 16, zero points)', () => {
  setKernelPath('wasm');
  const r = rng(1);
  const shapes: [number, number, number][] = [[1, 1, 1], [5, 7, 3], [4, 8, 16], [17, 33, 301], [3, 9, 15], [64, 64, 577], [13, 1, 31], [2, 100, 2]];
  for (const [M, N, K] of shapes) {
    for (const signedA of [true, false]) {
      for (const signedB of [true, false]) {
        const A = signedA ? Int8Array.from({ length: M * K }, () => Math.floor(r() * 256) - 128) : Uint8Array.from({ length: M * K }, () => Math.floor(r() * 256));
        const B = signedB ? Int8Array.from({ length: K * N }, () => Math.floor(r() * 256) - 128) : Uint8Array.from({ length: K * N }, () => Math.floor(r() * 256));
        const za = signedA ? 0 : 3;
        const zb = signedB ? -5 : 128;
        const bias = Int32Array.from({ length: M }, () => Math.floor(r() * 20000) - 10000);
        const C = new Int32Array(M * N).fill(12345);
        assert.equal(tryIgemmWasm(M, N, K, A, za, B, zb, C, { bias, constantA: true }), true);
        assert.deepEqual(C, naiveIgemm(M, N, K, A, za, B, zb, bias), `igemm ${M}x${N}x${K} signed ${signedA}/${signedB}`);
        const C2 = new Int32Array(M * N);
        tryIgemmWasm(M, N, K, A, za, B, zb, C2); // resident copy reused
        assert.deepEqual(C2, naiveIgemm(M, N, K, A, za, B, zb), `igemm ${M}x${N}x${K} without bias`);
      }
    }
  }
  // extreme codes: every product at its maximum magnitude, K large
  const M = 3, N = 9, K = 4099;
  const A = new Int8Array(M * K).fill(-128);
  const B = new Uint8Array(K * N).fill(255);
  const C = new Int32Array(M * N);
  tryIgemmWasm(M, N, K, A, 0, B, 0, C);
  assert.deepEqual(C, new Int32Array(M * N).fill(-128 * 255 * K));
  setKernelPath(undefined);
});

test('float GEMM: wasm within 1e-5 of the TypeScript reference, with bias, clamp, accumulate and offsets', () => {
  setKernelPath('wasm');
  const r = rng(2);
  const shapes: [number, number, number][] = [[1, 1, 1], [5, 7, 3], [16, 1024, 27], [17, 33, 301], [64, 49, 600], [3, 9, 15], [10, 2, 513]];
  for (const [M, N, K] of shapes) {
    const A = randomFloats(M * K, r), B = randomFloats(K * N, r);
    const scale = absGemmScale(M, N, K, A, B);
    const want = new Float32Array(M * N);
    sgemmTs(M, N, K, A, 0, B, 0, want, 0, false);
    const got = new Float32Array(M * N);
    assert.equal(trySgemmWasm(M, N, K, A, B, got, { constantA: true }), true);
    assertClose(got, want, scale, `sgemm ${M}x${N}x${K}`);
    // bias + ReLU6 clamp
    const bias = randomFloats(M, r);
    const clamped = new Float32Array(M * N);
    trySgemmWasm(M, N, K, A, B, clamped, { bias, clampMin: 0, clampMax: 0.5, constantA: true });
    const wantClamped = want.map((v, i) => Math.min(Math.max(v + bias[Math.floor(i / N)], 0), 0.5));
    assertClose(clamped, wantClamped, scale, `sgemm+bias+clamp ${M}x${N}x${K}`);
    // the float kernels' contract: offsets and accumulate
    const pad = 7;
    const Ao = new Float32Array(pad + M * K); Ao.set(A, pad);
    const Bo = new Float32Array(pad + K * N); Bo.set(B, pad);
    const start = randomFloats(pad + M * N, r);
    const wantAcc = start.slice();
    sgemmTs(M, N, K, Ao, pad, Bo, pad, wantAcc, pad, true);
    const gotAcc = start.slice();
    assert.equal(trySgemmWasmAt(M, N, K, Ao, pad, Bo, pad, gotAcc, pad, true), true);
    assertClose(gotAcc, wantAcc, Float64Array.from({ length: pad + M * N }, (_, i) => (i < pad ? 0 : scale[i - pad] + 1)), `sgemm accumulate ${M}x${N}x${K}`);
  }
  setKernelPath(undefined);
});

function convCase(r: () => number, p: Conv2dParams): void {
  const cg = p.c / p.group;
  const x = randomFloats(p.n * p.c * p.h * p.w, r);
  const wt = randomFloats(p.oc * cg * p.kh * p.kw, r);
  const bias = randomFloats(p.oc, r);
  const want = new Float32Array(p.n * p.oc * p.oh * p.ow);
  setKernelPath('ts');
  conv2d(p, x, wt, bias, want);
  setKernelPath('wasm');
  const got = new Float32Array(want.length);
  assert.equal(tryConv2dWasm(p, x, wt, bias, got), true);
  const what = `conv ${JSON.stringify(p)}`;
  assertClose(got, want, cg * p.kh * p.kw + 1, what);
  // the same weight array changed in place must not reuse the stale resident copy
  for (let i = 0; i < wt.length; i++) wt[i] = -wt[i] * 0.5;
  setKernelPath('ts');
  conv2d(p, x, wt, bias, want);
  setKernelPath('wasm');
  conv2d(p, x, wt, bias, got);
  assertClose(got, want, cg * p.kh * p.kw + 1, `${what} after changing the weights`);
}

function geometry(n: number, c: number, h: number, w: number, oc: number, kh: number, kw: number, group: number,
  s: number, d: number, pad: number): Conv2dParams {
  const oh = Math.floor((h + 2 * pad - d * (kh - 1) - 1) / s) + 1;
  const ow = Math.floor((w + 2 * pad - d * (kw - 1) - 1) / s) + 1;
  return { n, c, h, w, oc, kh, kw, group, sh: s, sw: s, dh: d, dw: d, padTop: pad, padLeft: pad, oh, ow };
}

test('float conv: wasm (im2col, pointwise, grouped, depthwise) within 1e-5 of the TypeScript kernels', () => {
  const r = rng(3);
  const cases = [
    geometry(2, 3, 32, 32, 16, 3, 3, 1, 1, 1, 1), // resnet20 stem
    geometry(1, 16, 17, 15, 32, 3, 3, 1, 2, 1, 1), // stride 2, odd sizes
    geometry(2, 24, 7, 7, 13, 1, 1, 1, 1, 1, 0), // pointwise, plane 49
    geometry(1, 8, 9, 11, 8, 3, 3, 2, 1, 2, 2), // grouped, dilated
    geometry(3, 12, 14, 14, 12, 3, 3, 12, 1, 1, 1), // depthwise stride 1
    geometry(1, 10, 15, 13, 10, 3, 3, 10, 2, 1, 1), // depthwise stride 2
    geometry(1, 4, 9, 9, 4, 5, 5, 4, 1, 2, 4), // depthwise 5x5 dilated
    geometry(2, 6, 2, 2, 6, 3, 3, 6, 1, 1, 1), // depthwise on 2×2 planes: one row's vector covers the next rows
    geometry(1, 6, 3, 5, 6, 3, 3, 6, 2, 1, 1), // depthwise stride 2 on 3 outputs per row
    geometry(1, 5, 9, 9, 5, 3, 3, 5, 3, 1, 1), // depthwise stride 3 (scalar)
    geometry(1, 300, 6, 6, 5, 3, 3, 1, 1, 1, 1), // K = 2700 > one K block
    { ...geometry(1, 3, 1, 20, 6, 1, 4, 1, 2, 1, 0), kh: 1, h: 1, oh: 1, ow: 9 }, // 1-D
  ];
  for (const p of cases) convCase(r, p);
  setKernelPath(undefined);
});

test('QINSPECT_KERNELS=ts selects the TypeScript path, and a bad value is an InputError', () => {
  setKernelPath('ts');
  assert.equal(kernelPath(), 'ts');
  assert.equal(trySgemmWasm(1, 1, 1, new Float32Array(1), new Float32Array(1), new Float32Array(1)), false);
  setKernelPath(undefined);
  const script = `const k = require(${JSON.stringify(path.join(root, 'src/kernels/wasm'))}); console.log(k.kernelPath());`;
  const ts = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', env: { ...process.env, QINSPECT_KERNELS: 'ts' }, cwd: root });
  assert.equal(ts.stdout.trim(), 'ts', ts.stderr);
  const bad = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', env: { ...process.env, QINSPECT_KERNELS: 'gpu' }, cwd: root });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /InputError: QINSPECT_KERNELS='gpu'/);
  const saved = process.env.QINSPECT_KERNELS;
  try {
    process.env.QINSPECT_KERNELS = 'fast';
    setKernelPath(undefined);
    assert.throws(() => kernelPath(), InputError);
  } finally {
    if (saved === undefined) delete process.env.QINSPECT_KERNELS;
    else process.env.QINSPECT_KERNELS = saved;
    setKernelPath(undefined);
  }
});

test('when wasm memory cannot grow, the kernels report false and the TypeScript path gives the result', () => {
  const r = rng(9);
  const p = geometry(8, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1);
  const x = randomFloats(p.n * p.c * p.h * p.w, r);
  const wt = randomFloats(p.oc * p.c * 9, r);
  const want = new Float32Array(p.n * p.oc * p.oh * p.ow);
  setKernelPath('ts');
  conv2d(p, x, wt, undefined, want);
  setKernelPath('wasm');
  releaseKernelArena();
  setWasmMemoryLimit(1 << 20); // 1 MiB: the batch alone is 2 MiB
  try {
    const got = new Float32Array(want.length);
    assert.equal(tryConv2dWasm(p, x, wt, undefined, got), false);
    assert.equal(got.every((v) => v === 0), true, 'nothing written by the failed wasm call');
    conv2d(p, x, wt, undefined, got); // falls back (per-image GEMMs may still fit)
    assertClose(got, want, p.c * 9 + 1, 'fallback conv');
  } finally {
    setWasmMemoryLimit(undefined);
    releaseKernelArena();
    setKernelPath(undefined);
  }
  const again = new Float32Array(want.length);
  assert.equal(tryConv2dWasm(p, x, wt, undefined, again), true);
  assertClose(again, want, p.c * 9 + 1, 'wasm conv after the limit is lifted');
});

test('wasm error sums of codes equal the TypeScript loop (uint8, int8, int32 codes; odd lengths)', { skip: !wasmAvailable() }, () => {
  const r = rng(77);
  const cases: [string, (n: number) => Uint8Array | Int8Array | Int32Array, number, number][] = [
    ['uint8', (n) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256)), 0.0473, 17],
    ['int8', (n) => Int8Array.from({ length: n }, () => Math.floor(r() * 255) - 127), 0.0091, 0],
    ['int32', (n) => Int32Array.from({ length: n }, () => Math.floor(r() * 65536) - 30000), 1.3e-4, -5],
  ];
  for (const [what, make, scale, zero] of cases) {
    for (const n of [1024, 4099]) {
      const codes = make(n);
      const ref = Float32Array.from(codes, (q) => scale * (q - zero) + (r() - 0.5) * scale * 1.3);
      const sums = new Float64Array([0, 0, 0, 0, 0.25 * scale]);
      setKernelPath('wasm');
      try {
        assert.equal(tryErrorSumsWasm(ref, codes, scale, zero, sums), true, `${what}: wasm ran`);
      } finally {
        setKernelPath(undefined);
      }
      let r2 = 0, t2 = 0, rt = 0, e2 = 0, mx = 0.25 * scale;
      for (let i = 0; i < n; i++) {
        const t = Math.fround(scale * (codes[i] - zero)), e = ref[i] - t;
        r2 += ref[i] * ref[i]; t2 += t * t; rt += ref[i] * t; e2 += e * e; mx = Math.max(mx, Math.abs(e));
      }
      [r2, t2, rt, e2].forEach((want, k) => assert.ok(Math.abs(sums[k] - want) <= 1e-12 * Math.abs(want), `${what} n=${n} sum ${k}: ${sums[k]} vs ${want}`));
      assert.equal(sums[4], mx, `${what} n=${n}: max |e| is exact`);
      assert.ok(mx > 0.25 * scale, `${what}: the max came from the data`);
    }
  }
});

test('wasm batch statistics and histogram bins equal the TypeScript loops (calibration observers)', { skip: !wasmAvailable() }, () => {
  const r = rng(5);
  const n = 5003;
  const values = Float32Array.from({ length: n }, (_, i) => (i % 7 === 0 ? 0 : (r() - 0.3) * 6.5));
  values[17] = -4.75; values[4001] = 9.5; // the extremes, away from the vector tails
  const loopStats = () => {
    setKernelPath('ts');
    try { return batchStats(values); } finally { setKernelPath(undefined); }
  };
  const want = loopStats();
  setKernelPath('wasm');
  let got: ReturnType<typeof batchStats>;
  const hist = new Float64Array(64), wantHist = new Float64Array(64);
  try {
    got = batchStats(values);
    assert.deepEqual(tryBatchStatsWasm(values)?.slice(0, 2), Float64Array.of(-4.75, 9.5));
    binInto(values, -2, 6, hist); // values outside [-2, 6) land in the end bins
  } finally {
    setKernelPath(undefined);
  }
  setKernelPath('ts');
  try { binInto(values, -2, 6, wantHist); } finally { setKernelPath(undefined); }
  assert.equal(got.min, want.min);
  assert.equal(got.max, want.max);
  assert.equal(got.zeros, want.zeros);
  assert.equal(got.count, n);
  assert.ok(Math.abs(got.sum - want.sum) <= 1e-12 * Math.abs(want.sumSquares), `sum ${got.sum} vs ${want.sum}`);
  assert.ok(Math.abs(got.sumSquares - want.sumSquares) <= 1e-12 * want.sumSquares);
  assert.deepEqual(hist, wantHist);
  assert.equal(hist.reduce((a, b) => a + b, 0), n);
  assert.ok(hist[0] > 0 && hist[63] > 0, 'both end bins took the values outside the range');
  const nan = values.slice(); nan[2500] = NaN;
  setKernelPath('wasm');
  try {
    assert.throws(() => batchStats(nan), /NaN or infinite/);
  } finally {
    setKernelPath(undefined);
  }
});

test('wasm quantization of floats equals the TypeScript loop: ties to even, clamping, ±Inf, NaN → 0, every code type', { skip: !wasmAvailable() }, () => {
  const r = rng(11);
  const scale = 0.25;
  const x = Float32Array.from({ length: 2051 }, (_, i) => (i % 9 === 0 ? (Math.floor(r() * 40) - 20 + 0.5) * scale : (r() - 0.5) * 90 * scale));
  x[3] = NaN; x[2050] = NaN; x[10] = Infinity; x[11] = -Infinity; x[2049] = 1e30;
  const kinds: [string, () => Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array, number, number, number][] = [
    ['uint8', () => new Uint8Array(x.length), 0, 255, 128],
    ['int8', () => new Int8Array(x.length), -127, 127, 0],
    ['int16', () => new Int16Array(x.length), -32767, 32767, 3],
    ['uint16', () => new Uint16Array(x.length), 0, 65535, 30000],
    ['int32', () => new Int32Array(x.length), -(2 ** 20), 2 ** 20, -7],
  ];
  for (const [what, make, qmin, qmax, zeroPoint] of kinds) {
    const p = { scale, zeroPoint, qmin, qmax, bits: 8, signed: qmin < 0 } as unknown as Parameters<typeof quantizeArray>[1];
    const viaWasm = make(), viaTs = make();
    setKernelPath('wasm');
    try { quantizeArray(x, p, viaWasm); } finally { setKernelPath(undefined); }
    setKernelPath('ts');
    try { quantizeArray(x, p, viaTs); } finally { setKernelPath(undefined); }
    assert.deepEqual(viaWasm, viaTs, what);
    assert.equal(viaWasm[3], 0, `${what}: NaN → 0`);
    assert.equal(viaWasm[10], qmax, `${what}: +Inf → qmax`);
    assert.equal(viaWasm[11], qmin, `${what}: −Inf → qmin`);
  }
  assert.equal(quantizeArray(Float32Array.of(0.625, 0.375, -0.625), { scale, zeroPoint: 0, qmin: -8, qmax: 7 } as never)[0], 2, '2.5 → 2 (short arrays: the TypeScript loop)');
});

test('wasm sums of byte codes over a batch equal the integer loop (uint8 and int8, rows not a multiple of 16)', { skip: !wasmAvailable() }, () => {
  const r = rng(21);
  const batch = 7, per = 16 * 40 + 5;
  for (const codes of [Uint8Array.from({ length: batch * per }, () => Math.floor(r() * 256)), Int8Array.from({ length: batch * per }, () => Math.floor(r() * 256) - 128)]) {
    const want = new Int32Array(per);
    for (let n = 0; n < batch; n++) for (let i = 0; i < per; i++) want[i] += codes[n * per + i];
    setKernelPath('wasm');
    try {
      assert.deepEqual(trySumBytesOverBatchWasm(codes, batch, per), want, codes.constructor.name);
    } finally {
      setKernelPath(undefined);
    }
  }
});

test('inspection histograms (StreamingHistogram) bin the same with the wasm loops as without, range growth and NaN included', { skip: !wasmAvailable() }, async () => {
  const { StreamingHistogram } = await import('../src/inspect/stats');
  const r = rng(31);
  const batches = [randomFloats(3000, r), Float32Array.from(randomFloats(2000, r), (v) => v * 7 + 3), Float32Array.from(randomFloats(1500, r), (v) => v * 40 - 25)];
  const withNaN = randomFloats(1200, r);
  withNaN[17] = NaN;
  const histogram = () => {
    const h = new StreamingHistogram(64);
    for (const b of [...batches, withNaN]) h.add(b);
    return h.result();
  };
  setKernelPath('ts');
  const ts = histogram();
  setKernelPath('wasm');
  assert.ok(tryBatchStatsWasm(batches[0]), 'the wasm path is taken');
  const wasm = histogram();
  setKernelPath(undefined);
  assert.deepEqual(wasm, ts);
  assert.equal(ts.total, 3000 + 2000 + 1500 + 1200);
  assert.equal(ts.counts.reduce((a, b) => a + b, 0), ts.total - 1, 'the NaN lands in no bin');
  assert.ok(ts.low < -60 && ts.high > 9, `range grew to [${ts.low}, ${ts.high})`);
});
