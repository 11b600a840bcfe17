/** The integer dataflow of one conv/linear layer, with the bit width needed at every step, from the real layer's numbers. */

export interface IntRange {
  min: number;
  max: number;
}

/** Everything the dataflow needs about one quantized layer (taken from the integer engine's plan and a run). */
export interface DataflowLayer {
  name: string;
  op: string;
  /** Terms summed per output value: (C_in / groups)·kh·kw for Conv, input features for Gemm/MatMul. */
  accumulationTerms: number;
  input: { bits: number; scale: number; zeroPoint: number; qmin: number; qmax: number };
  weight: {
    bits: number;
    qmin: number;
    qmax: number;
    /** One scale per output channel (per-channel) or a single one (per-tensor). */
    scales: number[];
    /** Weight codes laid out [C_out, K], used for the tightest accumulator bound of this very layer. */
    codes?: ArrayLike<number>;
  };
  /** int32 bias codes (scale s_in·s_w), one per output channel. */
  biasCodes?: ArrayLike<number>;
  /** Fixed-point requantization per output channel: M = s_in·s_w/s_out ≈ M0·2^(shift−31) (TFLite convention; negative shift divides). */
  requant: { multipliers: number[]; m0: number[]; shift: number[] };
  output: { bits: number; scale: number; zeroPoint: number; qmin: number; qmax: number };
  /** Activation applied as an integer clamp on the output codes. */
  activation?: { kind: string; clampMin: number; clampMax: number };
  /** Largest |accumulator| actually seen while running images (bias included), if measured. */
  maxAccumulatorSeen?: number;
}

export interface DataflowStep {
  stage: 'input' | 'product' | 'accumulate' | 'bias' | 'requantize' | 'output' | 'activation' | 'next';
  title: string;
  /** Bits needed to hold every value this stage can produce (signed two's complement unless noted). */
  bits: number;
  range: IntRange;
  /** One or two sentences with this layer's numbers. */
  explanation: string;
}

export interface LayerDataflow {
  layer: string;
  steps: DataflowStep[];
  productBits: number;
  accumulatorBitsFormula: number; // product bits + ceil(log2 K)
  accumulatorBitsThisLayer: number; // with the layer's own weights and the input range
  accumulatorBitsSeen?: number;
  headroomBits: number; // 32 − the larger of the measured and the bound-by-weights widths
  fitsInt32: boolean;
}

/** Smallest two's-complement width holding every integer in [min, max]. */
export function signedBitsFor(range: IntRange): number {
  let bits = 1;
  while (-(2 ** (bits - 1)) > range.min || 2 ** (bits - 1) - 1 < range.max) bits++;
  return bits;
}

/** Width of an unsigned code range [0, max]. */
export function unsignedBitsFor(max: number): number {
  return max <= 0 ? 1 : Math.floor(Math.log2(max)) + 1;
}

function productRange(a: IntRange, b: IntRange): IntRange {
  const corners = [a.min * b.min, a.min * b.max, a.max * b.min, a.max * b.max];
  return { min: Math.min(...corners), max: Math.max(...corners) };
}

/** Bound of Σ w_k·x_k over the layer's real weights with x_k anywhere in the input range: per channel, each term at its extreme. */
function accumulatorBoundByWeights(codes: ArrayLike<number>, k: number, x: IntRange): IntRange {
  const channels = Math.floor(codes.length / k);
  let lo = 0, hi = 0;
  for (let c = 0; c < channels; c++) {
    let cLo = 0, cHi = 0;
    for (let i = c * k; i < (c + 1) * k; i++) {
      const w = codes[i];
      const a = w * x.min, b = w * x.max;
      cLo += Math.min(a, b); cHi += Math.max(a, b);
    }
    lo = Math.min(lo, cLo); hi = Math.max(hi, cHi);
  }
  return { min: lo, max: hi };
}

function rangeOf(values: ArrayLike<number>): IntRange {
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < values.length; i++) { if (values[i] < min) min = values[i]; if (values[i] > max) max = values[i]; }
  return values.length ? { min, max } : { min: 0, max: 0 };
}

const fmt = (v: number, digits = 4) => (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : v.toFixed(digits).replace(/\.?0+$/, ''));

/** Build the step-by-step dataflow of one layer. */
export function layerDataflow(l: DataflowLayer): LayerDataflow {
  const K = l.accumulationTerms;
  const xOffset: IntRange = { min: l.input.qmin - l.input.zeroPoint, max: l.input.qmax - l.input.zeroPoint };
  const wRange: IntRange = l.weight.codes ? rangeOf(l.weight.codes) : { min: l.weight.qmin, max: l.weight.qmax };
  const wGrid: IntRange = { min: l.weight.qmin, max: l.weight.qmax };
  const prodGrid = productRange(xOffset, wGrid);
  const productBits = signedBitsFor(prodGrid);
  const log2K = Math.ceil(Math.log2(Math.max(K, 1)));
  const accumulatorBitsFormula = productBits + log2K;
  const accWorst: IntRange = { min: prodGrid.min * K, max: prodGrid.max * K };
  const accLayer = l.weight.codes ? accumulatorBoundByWeights(l.weight.codes, K, xOffset) : accWorst;
  const accumulatorBitsThisLayer = signedBitsFor(accLayer);
  const bias = l.biasCodes && l.biasCodes.length ? rangeOf(l.biasCodes) : { min: 0, max: 0 };
  const withBias: IntRange = { min: accLayer.min + Math.min(0, bias.min), max: accLayer.max + Math.max(0, bias.max) };
  const seen = l.maxAccumulatorSeen;
  const accumulatorBitsSeen = seen !== undefined ? signedBitsFor({ min: -seen, max: seen }) : undefined;
  const widest = Math.max(signedBitsFor(withBias), accumulatorBitsSeen ?? 0);
  const headroomBits = 32 - widest;
  const mRange = rangeOf(l.requant.multipliers);
  const m0Range = rangeOf(l.requant.m0);
  const shiftRange = rangeOf(l.requant.shift);
  const perChannel = l.weight.scales.length > 1;
  const sRange = rangeOf(l.weight.scales);
  const out = l.output;
  const act = l.activation;
  const steps: DataflowStep[] = [
    {
      stage: 'input', title: 'input codes', bits: l.input.bits, range: { min: l.input.qmin, max: l.input.qmax },
      explanation: `Activations arrive as ${l.input.bits}-bit codes q_x in [${l.input.qmin}, ${l.input.qmax}] with scale ${fmt(l.input.scale, 6)} and zero point ${l.input.zeroPoint} (x = ${fmt(l.input.scale, 6)}·(q_x − ${l.input.zeroPoint})); after subtracting the zero point they span [${xOffset.min}, ${xOffset.max}].`,
    },
    {
      stage: 'product', title: 'products', bits: productBits, range: prodGrid,
      explanation: `Each (q_x − z_x)·q_w multiplies a ${signedBitsFor(xOffset)}-bit value by a ${l.weight.bits}-bit weight code in [${l.weight.qmin}, ${l.weight.qmax}] (this layer's codes use [${wRange.min}, ${wRange.max}]); a product lies in [${prodGrid.min}, ${prodGrid.max}] and needs ${productBits} bits.`,
    },
    {
      stage: 'accumulate', title: `int32 accumulation over K = ${K} terms`, bits: accumulatorBitsThisLayer, range: accLayer,
      explanation: `Summing K = ${K} products needs at most ${productBits} + ceil(log2 ${K}) = ${accumulatorBitsFormula} bits in the worst case; with this layer's actual weights the sum is bounded by [${accLayer.min}, ${accLayer.max}] (${accumulatorBitsThisLayer} bits)` +
        (seen !== undefined ? `, and the largest |accumulator| seen on real images, bias included, was ${seen} (${accumulatorBitsSeen} bits).` : '.') +
        ` Headroom left in int32: ${headroomBits} bits.`,
    },
    {
      stage: 'bias', title: '+ int32 bias', bits: signedBitsFor(withBias), range: withBias,
      explanation: l.biasCodes && l.biasCodes.length
        ? `The bias is stored as int32 codes with scale s_x·s_w (so it adds directly to the accumulator), in [${bias.min}, ${bias.max}] (${signedBitsFor(bias)} bits).`
        : 'This layer has no bias.',
    },
    {
      stage: 'requantize', title: 'fixed-point requantization', bits: 32, range: m0Range,
      explanation: `The int32 sum is rescaled to the output scale by M = s_x·s_w/s_y ${perChannel ? `(one per channel, s_w in [${fmt(sRange.min, 6)}, ${fmt(sRange.max, 6)}])` : ''} = ${mRange.min === mRange.max ? fmt(mRange.min, 6) : `[${fmt(mRange.min, 6)}, ${fmt(mRange.max, 6)}]`}, applied as M0·2^(shift−31): a rounding doubling high multiply by the 32-bit integer M0 ${m0Range.min === m0Range.max ? `= ${m0Range.min}` : `in [${m0Range.min}, ${m0Range.max}]`}, then a rounding right shift by ${shiftRange.min === shiftRange.max ? -shiftRange.min : `${-shiftRange.max}..${-shiftRange.min}`} bits (shift ${shiftRange.min === shiftRange.max ? shiftRange.min : `${shiftRange.min}..${shiftRange.max}`}); no floating point is involved.`,
    },
    {
      stage: 'output', title: 'output codes (before the activation)', bits: out.bits, range: { min: out.qmin, max: out.qmax },
      explanation: `Adding the output zero point ${out.zeroPoint} and clamping gives ${out.bits}-bit codes in [${out.qmin}, ${out.qmax}] with scale ${fmt(out.scale, 6)}: the output is quantized before the activation.`,
    },
  ];
  if (act) {
    steps.push({
      stage: 'activation', title: `${act.kind} as an integer clamp`, bits: unsignedBitsFor(act.clampMax - act.clampMin), range: { min: act.clampMin, max: act.clampMax },
      explanation: `${act.kind} needs no arithmetic: it clamps the codes to [${act.clampMin}, ${act.clampMax}]` +
        (act.clampMin === out.zeroPoint ? ` (the code of 0.0 is the zero point ${out.zeroPoint})` : '') +
        (act.clampMax < out.qmax ? `, the code of 6.0 being ${act.clampMax}` : '') +
        `; ${act.clampMax - act.clampMin + 1} of the ${out.qmax - out.qmin + 1} codes stay usable.`,
    });
  }
  steps.push({
    stage: 'next', title: 'to the next layer', bits: out.bits, range: act ? { min: act.clampMin, max: act.clampMax } : { min: out.qmin, max: out.qmax },
    explanation: `The next layer reads these codes directly as its input codes (same scale ${fmt(out.scale, 6)}, zero point ${out.zeroPoint}).`,
  });
  return {
    layer: l.name, steps, productBits, accumulatorBitsFormula, accumulatorBitsThisLayer, accumulatorBitsSeen,
    headroomBits, fitsInt32: headroomBits >= 0,
  };
}
