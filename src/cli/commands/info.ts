/** `qinspect info MODEL`: inputs, outputs, opset, producer, operator counts, conv/linear layers with shapes, parameters and MACs. */
import type { Model, ValueInfo } from '../../graph/ir';
import { defaultOpset } from '../../graph/ir';
import { shapeString } from '../../graph/tensor';
import { fileNodeCount, operatorCounts, parameterCount } from '../../graph/counts';
import type { LayerInfo } from '../../engine/types';
import { loadModel } from '../../onnx/load';
import { InputError } from '../../util/errors';
import type { Command } from '../command';
import { modelLayers } from '../layers';
import { INPUT_SHAPE_OPTION, modelForImages } from '../model-data';
import { findSidecar } from '../../data';

export interface ModelInfo {
  path: string;
  producer: string;
  irVersion: number;
  opset: number;
  opsets: { domain: string; version: number }[];
  inputs: { name: string; dtype: string; dims: (number | string)[] | null }[];
  outputs: { name: string; dtype: string; dims: (number | string)[] | null }[];
  nodes: number;
  operators: Record<string, number>;
  parameters: number;
  layers: LayerInfo[];
  /** Why layers could not be listed (the graph could not be prepared), when so. */
  layersError?: string;
  metadata: Record<string, string>;
}

function valueJson(v: ValueInfo) {
  return { name: v.name, dtype: v.dtype, dims: v.dims ?? null };
}

export function describeModel(model: Model, layers: LayerInfo[], layersError?: string): ModelInfo {
  return {
    path: model.path,
    producer: `${model.producerName} ${model.producerVersion}`.trim(),
    irVersion: model.irVersion,
    opset: defaultOpset(model),
    opsets: model.opsetImports,
    inputs: model.graph.inputs.map(valueJson),
    outputs: model.graph.outputs.map(valueJson),
    nodes: fileNodeCount(model),
    operators: operatorCounts(model),
    parameters: parameterCount(model),
    layers,
    ...(layersError ? { layersError } : {}),
    metadata: model.metadata,
  };
}

const dimsText = (dims: (number | string)[] | null) => (dims ? shapeString(dims) : '[?]');

export function formatInfo(info: ModelInfo): string[] {
  const lines = [
    `model       ${info.path}`,
    `producer    ${info.producer || '(unknown)'}, IR version ${info.irVersion}, opset ${info.opsets.map((o) => `${o.domain || 'ai.onnx'} ${o.version}`).join(', ')}`,
    ...info.inputs.map((v) => `input       ${v.name} ${v.dtype} ${dimsText(v.dims)}`),
    ...info.outputs.map((v) => `output      ${v.name} ${v.dtype} ${dimsText(v.dims)}`),
    `parameters  ${info.parameters.toLocaleString('en-US')}`,
    `nodes       ${info.nodes}: ${Object.entries(info.operators).map(([op, n]) => `${op} ${n}`).join(', ')}`,
  ];
  if (info.layersError) lines.push(`layers      not listed: ${info.layersError}`);
  if (info.layers.length > 0) {
    const totalMacs = info.layers.reduce((s, l) => s + l.macsPerImage, 0);
    lines.push(`layers      ${info.layers.length} conv/linear, ${(totalMacs / 1e6).toFixed(2)} M MACs per image`);
    const rows = info.layers.map((l) => [
      l.name, l.op + (l.groups > 1 ? ` g=${l.groups}` : ''), shapeString(l.weightDims), `${shapeString(l.inputShape)} → ${shapeString(l.outputShape)}`,
      String(l.parameters), String(l.macsPerImage), l.activation ?? '',
    ]);
    const header = ['layer', 'op', 'weight', 'input → output', 'params', 'MACs', 'act'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    for (const r of [header, ...rows]) lines.push(`  ${r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()}`);
  }
  return lines;
}

export const infoCommand: Command = {
  name: 'info',
  summary: 'show a model: inputs, outputs, opset, operator counts, conv/linear layers with shapes, parameters and MACs',
  usage: 'MODEL [--input-shape C,H,W] [--json]',
  positionals: ['MODEL'],
  options: { ...INPUT_SHAPE_OPTION },
  details: 'examples:\n  qinspect info samples/resnet20_cifar10.onnx\n  qinspect info paddle_cls.onnx --input-shape 3,48,192',
  run(args, ctx) {
    const model = loadModel(args.positionals[0]);
    const shaped = modelForImages(model, args, findSidecar(model.path)); // a bad --input-shape is an error, not a note
    let layers: LayerInfo[] = [];
    let layersError: string | undefined;
    try {
      layers = modelLayers(shaped);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      layersError = e.message; // an unsupported operator still leaves the rest worth showing
    }
    const info = describeModel(model, layers, layersError);
    if (ctx.json) ctx.out(JSON.stringify(info));
    else for (const line of formatInfo(info)) ctx.out(line);
  },
};
