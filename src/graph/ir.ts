/** The model as the engines and the UI see it: plain data, no protobuf types. */
import type { DType, Tensor } from './tensor';

export type AttributeValue = number | string | number[] | string[] | Tensor | Graph | Graph[] | Tensor[];

export interface Node {
  name: string;
  opType: string;
  domain: string;
  inputs: string[]; // '' marks an omitted optional input
  outputs: string[];
  attributes: Record<string, AttributeValue>;
  docString?: string;
  metadata?: Record<string, string>;
}

/** A symbolic or fixed dimension: a number, or a parameter name such as 'batch'. */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  dtype: DType | 'unknown';
  dims?: Dim[];
}

export interface Graph {
  name: string;
  nodes: Node[];
  inputs: ValueInfo[]; // graph inputs that are not initializers
  outputs: ValueInfo[];
  initializers: Map<string, Tensor>;
  valueInfo: Map<string, ValueInfo>;
  /** Nodes that held only a weight (Constant, Identity of an initializer) and became initializers at load, by op type. */
  hoisted?: Record<string, number>;
}

export interface OpsetImport {
  domain: string;
  version: number;
}

export interface Model {
  /** Where the model was read from, for error messages; '' for in-memory models. */
  path: string;
  irVersion: number;
  producerName: string;
  producerVersion: string;
  opsetImports: OpsetImport[];
  metadata: Record<string, string>;
  graph: Graph;
}

export function defaultOpset(model: Model): number {
  return model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
}

export function attrInt(node: Node, name: string, fallback: number): number {
  const v = node.attributes[name];
  return typeof v === 'number' ? v : fallback;
}

export function attrFloat(node: Node, name: string, fallback: number): number {
  const v = node.attributes[name];
  return typeof v === 'number' ? v : fallback;
}

export function attrInts(node: Node, name: string): number[] | undefined {
  const v = node.attributes[name];
  return Array.isArray(v) && (v.length === 0 || typeof v[0] === 'number') ? (v as number[]) : undefined;
}

export function attrString(node: Node, name: string, fallback: string): string {
  const v = node.attributes[name];
  return typeof v === 'string' ? v : fallback;
}

export function describeNode(node: Node): string {
  return `${node.opType} node '${node.name || node.outputs[0]}'`;
}
