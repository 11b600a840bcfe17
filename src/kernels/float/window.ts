/** Output sizes and padding of sliding-window ops (Conv, pooling), shared by kernels and shape inference. */
import type { Node } from '../../graph/ir';
import { attrInt, attrInts, attrString } from '../../graph/ir';
import { fail } from './types';

export interface WindowGeometry {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** [begin_0, begin_1, ..., end_0, end_1, ...] as ONNX orders pads. */
  pads: number[];
  outSpatial: number[];
}

/** Resolves kernel/strides/dilations/pads/auto_pad/ceil_mode into concrete pads and output sizes. */
export function windowGeometry(node: Node, inSpatial: readonly number[], kernel: readonly number[]): WindowGeometry {
  const r = inSpatial.length;
  if (kernel.length !== r) fail(node, `kernel has ${kernel.length} spatial dims but the input has ${r}`);
  const strides = attrInts(node, 'strides') ?? new Array<number>(r).fill(1);
  const dilations = attrInts(node, 'dilations') ?? new Array<number>(r).fill(1);
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const ceilMode = attrInt(node, 'ceil_mode', 0) === 1;
  let pads = attrInts(node, 'pads') ?? new Array<number>(2 * r).fill(0);
  if (strides.length !== r || dilations.length !== r || pads.length !== 2 * r) {
    fail(node, `strides/dilations/pads do not match ${r} spatial dims`);
  }
  if ([...strides, ...dilations, ...kernel].some((v) => !Number.isInteger(v) || v < 1) || pads.some((p) => !Number.isInteger(p) || p < 0)) {
    fail(node, 'kernel, strides and dilations must be positive integers and pads non-negative');
  }
  const outSpatial = new Array<number>(r);
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    pads = new Array<number>(2 * r).fill(0);
    for (let i = 0; i < r; i++) {
      const extent = (kernel[i] - 1) * dilations[i] + 1;
      outSpatial[i] = Math.ceil(inSpatial[i] / strides[i]);
      const total = Math.max(0, (outSpatial[i] - 1) * strides[i] + extent - inSpatial[i]);
      const small = Math.floor(total / 2);
      pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      pads[i + r] = total - pads[i];
    }
  } else {
    if (autoPad === 'VALID') pads = new Array<number>(2 * r).fill(0);
    else if (autoPad !== 'NOTSET') fail(node, `unknown auto_pad '${autoPad}'`);
    for (let i = 0; i < r; i++) {
      const extent = (kernel[i] - 1) * dilations[i] + 1;
      const span = inSpatial[i] + pads[i] + pads[i + r] - extent;
      if (span < 0) fail(node, `window ${extent} is larger than the padded input ${inSpatial[i] + pads[i] + pads[i + r]}`);
      let out = (ceilMode ? Math.ceil(span / strides[i]) : Math.floor(span / strides[i])) + 1;
      // with ceil_mode the last window must start inside the input or its begin padding
      if (ceilMode && (out - 1) * strides[i] >= inSpatial[i] + pads[i]) out--;
      outSpatial[i] = out;
    }
  }
  return { kernel: [...kernel], strides, dilations, pads, outSpatial };
}
