/** Contracts between the graph preparation, the engines and their consumers (CLI, worker, inspection). */
import type { Model, Node } from '../graph/ir';
import type { Tensor } from '../graph/tensor';

/** A model made ready to run at one batch size: sorted, constants folded, BatchNorm folded, shapes known. */
export interface PreparedModel {
  model: Model;
  batchSize: number;
  /** Nodes left to execute, in topological order (constant subgraphs folded away). */
  nodes: Node[];
  /** Initializers plus every folded value, by value name. */
  constants: Map<string, Tensor>;
  /** Shape of every value (inputs, intermediates, outputs) at this batch size. */
  shapes: Map<string, number[]>;
  inputName: string;
  outputName: string;
}

/** Hooks that let calibration, inspection and simulated quantization watch or replace node execution. */
export interface RunHooks {
  /** Called after each node runs, with its outputs. Must not keep references it does not own. */
  afterNode?(node: Node, outputs: Tensor[]): void;
  /** Return outputs to replace the node's float execution, or undefined to run it normally. */
  replaceNode?(node: Node, inputs: (Tensor | undefined)[]): Tensor[] | undefined;
  /** Checked between nodes; throw CancelledError to stop. */
  checkCancelled?(): void;
}

/** A conv or linear layer, as the UI and reports list them. */
export interface LayerInfo {
  name: string; // ONNX node name, e.g. /layer1/layer1.0/conv1/Conv
  op: 'Conv' | 'Gemm' | 'MatMul';
  weightName: string;
  weightDims: number[];
  inputShape: number[];
  outputShape: number[];
  parameters: number;
  macsPerImage: number;
  groups: number;
  /** The activation that follows (Relu, Clip as ReLU6), when there is one. */
  activation?: string;
}
