/** LayerNormalization, InstanceNormalization, DepthToSpace/SpaceToDepth, Resize/Upsample (nearest, linear). */
import type { Node } from '../../graph/ir';
import { attrFloat, attrInt, attrString } from '../../graph/ir';
import type { Tensor } from '../../graph/tensor';
import { allocate, elementCount, floatTensor } from '../../graph/tensor';
import { DEFAULT_LIMITS } from '../../onnx/limits';
import { FloatKernel, fail, normalizeAxis, optionalInts, required, requireFloat, stridesOf } from './types';
import { affineCopy } from './shape-ops';

/** y = (x − mean) / √(var + ε) · scale + bias over the axes from `axis` on; optional Mean and InvStdDev outputs. */
const LayerNormalization: FloatKernel = (node, inputs) => {
  const x = required(node, inputs, 0);
  const xd = requireFloat(node, x);
  const scale = requireFloat(node, required(node, inputs, 1), 'scale');
  const bias = inputs[2] ? requireFloat(node, inputs[2], 'bias') : undefined;
  const rank = x.dims.length;
  const axis = normalizeAxis(node, attrInt(node, 'axis', -1), rank);
  const eps = attrFloat(node, 'epsilon', 1e-5);
  const rows = elementCount(x.dims.slice(0, axis));
  const size = elementCount(x.dims.slice(axis));
  if ((scale.length !== size && scale.length !== 1) || (bias && bias.length !== size && bias.length !== 1)) fail(node, `scale/bias must have ${size} elements`);
  const y = floatTensor([...x.dims]);
  const yd = y.data as Float32Array;
  const statDims = x.dims.map((d, i) => (i < axis ? d : 1));
  const mean = floatTensor(statDims);
  const inv = floatTensor(statDims);
  for (let r = 0; r < rows; r++) {
    const o = r * size;
    let m = 0;
    for (let i = 0; i < size; i++) m += xd[o + i];
    m /= size;
    let v = 0;
    for (let i = 0; i < size; i++) v += (xd[o + i] - m) ** 2;
    const is = 1 / Math.sqrt(v / size + eps);
    (mean.data as Float32Array)[r] = m;
    (inv.data as Float32Array)[r] = is;
    for (let i = 0; i < size; i++) {
      yd[o + i] = (xd[o + i] - m) * is * scale[scale.length === 1 ? 0 : i] + (bias ? bias[bias.length === 1 ? 0 : i] : 0);
    }
  }
  return [y, mean, inv];
};

/** Per image and channel over the spatial axes: y = scale[c]·(x − μ)/√(σ² + ε) + B[c]. */
const InstanceNormalization: FloatKernel = (node, inputs) => {
  const x = required(node, inputs, 0);
  const xd = requireFloat(node, x);
  const scale = requireFloat(node, required(node, inputs, 1), 'scale');
  const bias = requireFloat(node, required(node, inputs, 2), 'B');
  if (x.dims.length < 3) fail(node, `input must be N×C×spatial, got [${x.dims.join(',')}]`);
  const [n, c] = x.dims;
  if (scale.length !== c || bias.length !== c) fail(node, `scale and B must have ${c} elements`);
  const eps = attrFloat(node, 'epsilon', 1e-5);
  const size = elementCount(x.dims.slice(2));
  const y = floatTensor([...x.dims]);
  const yd = y.data as Float32Array;
  for (let p = 0; p < n * c; p++) {
    const o = p * size;
    let m = 0;
    for (let i = 0; i < size; i++) m += xd[o + i];
    m /= size;
    let v = 0;
    for (let i = 0; i < size; i++) v += (xd[o + i] - m) ** 2;
    const ch = p % c;
    const k = scale[ch] / Math.sqrt(v / size + eps);
    for (let i = 0; i < size; i++) yd[o + i] = (xd[o + i] - m) * k + bias[ch];
  }
  return [y];
};

/** DepthToSpace (DCR or CRD) and SpaceToDepth as one 6-D transpose each. */
function blockRearrange(toSpace: boolean): FloatKernel {
  return (node, inputs) => {
    const x = required(node, inputs, 0);
    if (x.dims.length !== 4) fail(node, `input must be 4-D, got [${x.dims.join(',')}]`);
    const b = attrInt(node, 'blocksize', 0);
    if (b < 1) fail(node, 'blocksize must be positive');
    const [n, c, h, w] = x.dims;
    let view: number[];
    let perm: number[];
    let outDims: number[];
    if (toSpace) {
      if (c % (b * b) !== 0) fail(node, `channels ${c} are not divisible by blocksize² ${b * b}`);
      const crd = attrString(node, 'mode', 'DCR') === 'CRD';
      view = crd ? [n, c / (b * b), b, b, h, w] : [n, b, b, c / (b * b), h, w];
      perm = crd ? [0, 1, 4, 2, 5, 3] : [0, 3, 4, 1, 5, 2];
      outDims = [n, c / (b * b), h * b, w * b];
    } else {
      if (h % b !== 0 || w % b !== 0) fail(node, `spatial size ${h}×${w} is not divisible by blocksize ${b}`);
      view = [n, c, h / b, b, w / b, b];
      perm = [0, 3, 5, 1, 2, 4];
      outDims = [n, c * b * b, h / b, w / b];
    }
    const s = stridesOf(view);
    const out = allocate(x.dtype, outDims);
    affineCopy(x.data, out.data, perm.map((p) => view[p]), 0, perm.map((p) => s[p]));
    return [out];
  };
}

/** Source coordinate of output index i on an axis (ONNX coordinate_transformation_mode). */
function sourceCoordinate(mode: string, i: number, scale: number, inSize: number, outSize: number): number {
  switch (mode) {
    case 'asymmetric': return i / scale;
    // the resized length is in·scale before rounding (the ONNX reference), = out when sizes are given
    case 'align_corners': return inSize * scale === 1 ? 0 : (i * (inSize - 1)) / (inSize * scale - 1);
    case 'pytorch_half_pixel': return outSize > 1 ? (i + 0.5) / scale - 0.5 : 0;
    case 'tf_half_pixel_for_nn': return (i + 0.5) / scale;
    case 'half_pixel': return (i + 0.5) / scale - 0.5;
    default: throw new Error(`unsupported coordinate_transformation_mode '${mode}'`);
  }
}

function nearestIndex(mode: string, x: number): number {
  switch (mode) {
    case 'floor': return Math.floor(x);
    case 'ceil': return Math.ceil(x);
    case 'round_prefer_ceil': return Math.round(x);
    default: return x % 1 === 0.5 || x % 1 === -0.5 ? Math.floor(x) : Math.round(x); // round_prefer_floor
  }
}

/** Resize one axis of a float tensor (others unchanged): nearest picks, linear blends two neighbours. */
function resizeAxis(x: Float32Array, dims: number[], axis: number, outSize: number, scale: number, node: Node, mode: string, coord: string): { data: Float32Array; dims: number[] } {
  const inSize = dims[axis];
  const outer = elementCount(dims.slice(0, axis));
  const inner = elementCount(dims.slice(axis + 1));
  const out = new Float32Array(outer * outSize * inner);
  // Upsample and opset-10 Resize pick the floor neighbour
  const legacy = node.opType === 'Upsample' || coord === 'asymmetric' && node.attributes.nearest_mode === undefined && node.attributes.coordinate_transformation_mode === undefined;
  const nearestMode = legacy ? 'floor' : attrString(node, 'nearest_mode', 'round_prefer_floor');
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float64Array(outSize);
  for (let i = 0; i < outSize; i++) {
    const src = sourceCoordinate(coord, i, scale, inSize, outSize);
    if (mode === 'nearest') {
      const k = Math.min(Math.max(nearestIndex(nearestMode, src), 0), inSize - 1);
      lo[i] = hi[i] = k;
    } else {
      const c = Math.min(Math.max(src, 0), inSize - 1);
      lo[i] = Math.floor(c);
      hi[i] = Math.min(lo[i] + 1, inSize - 1);
      frac[i] = c - lo[i];
    }
  }
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < outSize; i++) {
      const a = (o * inSize + lo[i]) * inner;
      const b = (o * inSize + hi[i]) * inner;
      const d = (o * outSize + i) * inner;
      const f = frac[i];
      for (let k = 0; k < inner; k++) out[d + k] = x[a + k] * (1 - f) + x[b + k] * f;
    }
  }
  const newDims = [...dims];
  newDims[axis] = outSize;
  return { data: out, dims: newDims };
}

function resizeWith(node: Node, x: Tensor, scales: number[] | undefined, sizes: number[] | undefined, mode: string, coord: string): Tensor {
  const rank = x.dims.length;
  if (mode !== 'nearest' && mode !== 'linear') fail(node, `resize mode '${mode}' is not supported (nearest and linear are)`);
  if (attrInt(node, 'antialias', 0) === 1 || attrString(node, 'keep_aspect_ratio_policy', 'stretch') !== 'stretch') fail(node, 'antialias and keep_aspect_ratio_policy are not supported');
  if (node.attributes.axes !== undefined) fail(node, 'the axes attribute is not supported');
  let outSizes: number[];
  let axisScales: number[];
  if (sizes && sizes.length > 0) {
    if (sizes.length !== rank) fail(node, `sizes has ${sizes.length} values for rank ${rank}`);
    outSizes = sizes;
    axisScales = sizes.map((s, i) => s / x.dims[i]);
  } else if (scales && scales.length > 0) {
    if (scales.length !== rank || scales.some((s) => !(s > 0))) fail(node, `scales [${scales.join(',')}] must be ${rank} positive numbers`);
    axisScales = scales;
    outSizes = scales.map((s, i) => Math.floor(x.dims[i] * s));
  } else return fail(node, 'needs scales or sizes');
  if (elementCount(outSizes) > DEFAULT_LIMITS.maxTensorElements) fail(node, `output [${outSizes.join(',')}] is over the tensor size limit`);
  let data = requireFloat(node, x);
  let dims = [...x.dims];
  for (let ax = 0; ax < rank; ax++) {
    if (outSizes[ax] === dims[ax] && axisScales[ax] === 1) continue;
    try {
      ({ data, dims } = resizeAxis(data, dims, ax, outSizes[ax], axisScales[ax], node, mode, coord));
    } catch (e) {
      fail(node, e instanceof Error ? e.message : String(e));
    }
  }
  return floatTensor(dims, data === x.data ? Float32Array.from(data) : data);
}

export function resizeInputs(node: Node, inputs: (Tensor | undefined)[], opset: number): { scales?: number[]; sizes?: number[] } {
  if (node.opType === 'Upsample') return { scales: opset >= 9 ? optionalInts(inputs, 1) : (node.attributes.scales as number[] | undefined) };
  if (opset < 11) return { scales: optionalInts(inputs, 1) };
  return { scales: optionalInts(inputs, 2), sizes: optionalInts(inputs, 3) };
}

const Resize: FloatKernel = (node, inputs, opset) => {
  const x = required(node, inputs, 0);
  const { scales, sizes } = resizeInputs(node, inputs, opset);
  const coord = opset < 11 ? 'asymmetric' : attrString(node, 'coordinate_transformation_mode', 'half_pixel');
  if (coord === 'tf_crop_and_resize') fail(node, "coordinate_transformation_mode 'tf_crop_and_resize' is not supported");
  return [resizeWith(node, x, scales, sizes, attrString(node, 'mode', 'nearest'), coord)];
};

const Upsample: FloatKernel = (node, inputs, opset) => {
  const x = required(node, inputs, 0);
  return [resizeWith(node, x, resizeInputs(node, inputs, opset).scales, undefined, attrString(node, 'mode', 'nearest'), 'asymmetric')];
};

/** Output dims of Resize/Upsample for shape inference. */
export function resizeDims(node: Node, dims: readonly number[], inputs: (Tensor | undefined)[], opset: number): number[] {
  const { scales, sizes } = resizeInputs(node, inputs, opset);
  if (sizes && sizes.length > 0) return [...sizes];
  if (scales && scales.length === dims.length) return dims.map((d, i) => Math.floor(d * scales[i]));
  return fail(node, 'scales or sizes must be constants');
}

export const SPATIAL_KERNELS: Record<string, FloatKernel> = {
  LayerNormalization,
  InstanceNormalization,
  DepthToSpace: blockRearrange(true),
  SpaceToDepth: blockRearrange(false),
  Resize,
  Upsample,
};

