/** Numerical hazards of a quantized layer, as short flags for reports: zero channels, saturated biases, empty ranges. */
import type { QuantLayer } from '../engine/int-plan';
import { MIN_SCALE } from '../quant/quantizer';

const INT32_MAX = 2147483647;
const INT32_MIN = -2147483648;

/** Output channels whose weight codes are all 0 (all-zero weights, or weights far below the scale). */
export function zeroWeightChannels(layer: Pick<QuantLayer, 'weights' | 'outChannels'>): number {
  const codes = layer.weights.codes;
  const k = codes.length / layer.outChannels;
  let zero = 0;
  for (let c = 0; c < layer.outChannels; c++) {
    let any = false;
    for (let i = c * k; i < (c + 1) * k && !any; i++) any = codes[i] !== 0;
    if (!any) zero++;
  }
  return zero;
}

/** True when a quantizer's range collapsed to (almost) nothing: constant activations during calibration. */
function emptyRange(scale: number): boolean {
  return scale <= MIN_SCALE * 1.5;
}

/** Flags for one layer; an empty list when nothing is suspicious. */
export function layerHazards(layer: Pick<QuantLayer, 'weights' | 'outChannels' | 'bias' | 'inputParams' | 'outputParams' | 'accumulatorBound'>): string[] {
  const flags: string[] = [];
  const zero = zeroWeightChannels(layer);
  if (zero > 0) flags.push(`${zero} of ${layer.outChannels} output channels have all-zero weight codes`);
  let saturated = 0;
  for (const b of layer.bias) if (b === INT32_MAX || b === INT32_MIN) saturated++;
  if (saturated > 0) flags.push(`${saturated} bias values saturate int32 (bias / (input scale × weight scale) is too large)`);
  if (emptyRange(layer.inputParams.scale)) flags.push('input range is empty: the layer saw constant activations during calibration');
  if (emptyRange(layer.outputParams.scale)) flags.push('output range is empty: the layer produced constant activations during calibration');
  if (layer.accumulatorBound > INT32_MAX) flags.push(`accumulators may reach ${layer.accumulatorBound.toExponential(2)}, beyond int32`);
  return flags;
}
