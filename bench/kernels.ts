/** Micro-benchmark of the wasm conv kernels on resnet20's layer shapes: float vs quantized, GMAC/s (node --import tsx bench/kernels.ts). */
import { tryConv2dWasm, tryQConv2dWasm } from '../src/kernels/wasm';
import type { ConvGeometry } from '../src/kernels/wasm';
import { kernelArena } from '../src/kernels/wasm/runtime';

function geometry(n: number, c: number, hw: number, oc: number, s: number): ConvGeometry {
  const o = Math.floor((hw + 2 - 3) / s) + 1;
  return { n, c, h: hw, w: hw, oc, kh: 3, kw: 3, group: 1, sh: s, sw: s, dh: 1, dw: 1, padTop: 1, padLeft: 1, oh: o, ow: o };
}

function time(fn: () => void, minMs = 300): number {
  fn();
  let runs = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) {
    fn();
    runs++;
  }
  return (performance.now() - t0) / runs;
}

const batch = 20;
for (const p of [geometry(batch, 16, 32, 16, 1), geometry(batch, 32, 16, 32, 1), geometry(batch, 64, 8, 64, 1)]) {
  const macs = p.n * p.oc * p.oh * p.ow * p.c * 9;
  const x = Float32Array.from({ length: p.n * p.c * p.h * p.w }, () => Math.random());
  const w = Float32Array.from({ length: p.oc * p.c * 9 }, () => Math.random() - 0.5);
  const y = new Float32Array(p.n * p.oc * p.oh * p.ow);
  const tf = time(() => tryConv2dWasm(p, x, w, undefined, y));
  const xq = Uint8Array.from(x, (v) => v * 255);
  const wq = Int8Array.from(w, (v) => v * 254);
  const yq = new Uint8Array(y.length);
  const args = { x: xq, xZero: 0, w: wq, wZero: 0, multiplier: new Int32Array(p.oc).fill(1 << 30), shift: new Int32Array(p.oc).fill(-10), yZero: 0, qmin: 0, qmax: 255, y: yq };
  const tq = time(() => tryQConv2dWasm(p, args));
  // the part of a float conv call spent copying the batch into wasm memory and the result out
  const arena = kernelArena()!;
  const tc = time(() => {
    arena.copyIn(x);
    const py = arena.scratch(y.length * 4);
    y.set(arena.f32(py, y.length));
    arena.resetScratch();
  });
  console.log(`conv ${p.c}->${p.oc} ${p.h}x${p.w}: float ${(macs / tf / 1e6).toFixed(1)} GMAC/s, int8 ${(macs / tq / 1e6).toFixed(1)} GMAC/s, copy in/out ${(100 * tc / tf).toFixed(1)}% of the float call`);
}
