/**
 * The model's image input made concrete before anything runs: symbolic height / width (paddle2onnx, dynamic-axes
 * exports) fixed from `--input-shape`, a sidecar, a setting or the data set's image size, and channels-last inputs
 * (Keras / tf2onnx) given an NCHW front door, so the rest of the tool sees one layout: [N, C, H, W].
 */
import type { Dim, Model, Node, ValueInfo } from './ir';
import { attrInts } from './ir';
import { shapeString } from './tensor';
import { InputError } from '../util/errors';

export type InputLayout = 'NCHW' | 'NHWC';

/** Where an image shape [C,H,W] came from, for messages ('--input-shape', 'the data set', a sidecar's path). */
export interface ImageShape { chw: number[]; source: string }

/** The one graph input of an image classifier, or an InputError naming the file. */
export function imageInput(model: Model): ValueInfo {
  const inputs = model.graph.inputs;
  if (inputs.length !== 1) {
    throw new InputError(`${model.path || '<model>'}: image classifiers need exactly one graph input, found ${inputs.length} (${inputs.map((i) => i.name).join(', ')})`);
  }
  return inputs[0];
}

const isChannelCount = (d: Dim | undefined): boolean => d === 1 || d === 3 || d === 4;

/** NHWC when the input feeds only Transposes to NCHW (perm 0,3,1,2), or its last axis looks like channels and axis 1 does not. */
export function inputLayout(model: Model): InputLayout {
  const input = imageInput(model);
  const dims = input.dims;
  if (!dims || dims.length !== 4) return 'NCHW';
  const readers = model.graph.nodes.filter((n) => n.inputs.includes(input.name));
  const toNchw = (n: Node) => n.opType === 'Transpose' && attrInts(n, 'perm')?.join(',') === '0,3,1,2';
  if (readers.length > 0 && readers.every(toNchw)) return 'NHWC';
  return isChannelCount(dims[3]) && !isChannelCount(dims[1]) && typeof dims[3] === 'number' ? 'NHWC' : 'NCHW';
}

/** The input's [C,H,W] in NCHW order as declared (symbolic entries stay strings). */
export function declaredImageShape(model: Model): Dim[] | undefined {
  const dims = imageInput(model).dims;
  if (!dims || dims.length !== 4) return undefined;
  return inputLayout(model) === 'NHWC' ? [dims[3], dims[1], dims[2]] : dims.slice(1);
}

/** Non-batch axes of the input that are symbolic, as 'name at axis i'. */
export function symbolicImageAxes(model: Model): string[] {
  const dims = imageInput(model).dims ?? [];
  return dims.flatMap((d, i) => (i > 0 && typeof d !== 'number' ? [`'${d}' at axis ${i}`] : []));
}

/** Parses 'C,H,W' (e.g. '3,224,224') into positive integers. */
export function parseImageShape(text: string, what: string): number[] {
  const parts = text.split(/[,x×]/).map((s) => s.trim());
  const dims = parts.map(Number);
  if (dims.length !== 3 || dims.some((d) => !Number.isInteger(d) || d < 1 || d > 65536)) {
    throw new InputError(`${what}: expected C,H,W as three positive whole numbers (e.g. 3,224,224), got '${text}'`);
  }
  return dims;
}

/**
 * The model with its image input fixed to `shape` ([C,H,W]) where the file leaves axes symbolic; a fixed axis that
 * disagrees is an InputError naming both. The batch axis stays as it is.
 */
export function withImageShape(model: Model, shape: ImageShape): Model {
  const input = imageInput(model);
  const dims = input.dims;
  const file = model.path || '<model>';
  if (!dims || dims.length !== 4) {
    throw new InputError(`${file}: input '${input.name}' has shape ${dims ? shapeString(dims) : '[?]'}; an image shape from ${shape.source} needs a 4-D input`);
  }
  const layout = inputLayout(model);
  const [c, h, w] = shape.chw;
  const wanted = layout === 'NHWC' ? [dims[0], h, w, c] : [dims[0], c, h, w];
  const fixed = dims.map((d, i) => {
    if (i === 0 || typeof d !== 'number') return wanted[i];
    if (d !== wanted[i]) {
      throw new InputError(`${file}: input '${input.name}' is ${shapeString(dims)} (${layout}), but ${shape.source} gives [C,H,W] = ${shapeString(shape.chw)}`);
    }
    return d;
  });
  if (fixed.every((d, i) => d === dims[i])) return model;
  return replaceInput(model, { ...input, dims: fixed });
}

/** An NCHW model: a channels-last input gets a Transpose (perm 0,2,3,1) in front, named after it. */
export function withNchwInput(model: Model): Model {
  if (inputLayout(model) !== 'NHWC') return model;
  const input = imageInput(model);
  const [n, h, w, c] = input.dims!;
  const nchwName = `${input.name}_nchw`;
  const adapter: Node = {
    name: `${input.name}/to_nhwc`, opType: 'Transpose', domain: '', inputs: [nchwName], outputs: [input.name], attributes: { perm: [0, 2, 3, 1] },
  };
  const replaced = replaceInput(model, { ...input, name: nchwName, dims: [n, c, h, w] });
  return { ...replaced, graph: { ...replaced.graph, nodes: [adapter, ...replaced.graph.nodes] } };
}

/** The model the engines run on images: `shape` (when given) fixes symbolic axes, and the input becomes NCHW. */
export function imageModel(model: Model, shape?: ImageShape): Model {
  return withNchwInput(shape ? withImageShape(model, shape) : model);
}

/** Fixes still-symbolic axes from the images' own [C,H,W] (`source` names the data set). */
export function fitImageShape(model: Model, chw: number[], source: string): Model {
  return symbolicImageAxes(model).length === 0 ? model : withImageShape(model, { chw, source: `the data set ${source}` });
}

function replaceInput(model: Model, input: ValueInfo): Model {
  return { ...model, graph: { ...model.graph, inputs: [input] } };
}

/** True for the message of unresolvedShapeError (the editor then asks for the size). */
export function isUnresolvedShapeMessage(message: string): boolean {
  return /has symbolic .*give the image size/.test(message);
}

/** The error for an input whose size nothing fixed: says which axes and the three ways to fix them. */
export function unresolvedShapeError(model: Model): InputError {
  const input = imageInput(model);
  return new InputError(
    `${model.path || '<model>'}: input '${input.name}' ${shapeString(input.dims ?? [])} has symbolic ${symbolicImageAxes(model).join(', ')}; ` +
      'give the image size with --input-shape C,H,W (or "inputShape": [C,H,W] in the model\'s .qinspect.json sidecar, or the setting quantInspector.inputShape), or pass a data set',
  );
}
