/** Guards against NaN and ±Infinity in weights and activations, with messages naming the value and its node. */
import type { PreparedModel } from '../engine/types';
import { describeNode } from '../graph/ir';
import { InputError } from './errors';

export interface NonFinite {
  /** Index of the first non-finite element. */
  index: number;
  value: number;
  /** How many elements are NaN or ±Infinity. */
  count: number;
}

/** The non-finite elements of an array, or undefined when every element is a finite number. */
export function findNonFinite(data: ArrayLike<number>): NonFinite | undefined {
  let first = -1;
  let count = 0;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      if (first < 0) first = i;
      count++;
    }
  }
  return first < 0 ? undefined : { index: first, value: data[first], count };
}

export function describeNonFinite(found: NonFinite, total: number): string {
  return `${found.count} of ${total} values are NaN or infinite (first: ${found.value} at index ${found.index})`;
}

/**
 * Describes the first float constant (weight, bias, folded BatchNorm) of the prepared graph that holds NaN or
 * ±Infinity and the node that reads it; undefined when all are finite.
 */
export function nonFiniteConstant(prepared: PreparedModel): string | undefined {
  const file = prepared.model.path || '<model>';
  for (const node of prepared.nodes) {
    for (const [i, name] of node.inputs.entries()) {
      if (node.opType === 'Clip' && i > 0) continue; // an infinite bound just means "no bound"
      const t = name ? prepared.constants.get(name) : undefined;
      if (!t || (t.dtype !== 'float32' && t.dtype !== 'float64')) continue;
      const found = findNonFinite(t.data as Float32Array);
      if (found) return `${file}: constant '${name}' read by ${describeNode(node)}: ${describeNonFinite(found, t.data.length)}`;
    }
  }
  return undefined;
}

/** Throws an InputError when a float constant holds NaN or ±Infinity (quantizing it would give NaN scales). */
export function checkFiniteConstants(prepared: PreparedModel): void {
  const problem = nonFiniteConstant(prepared);
  if (problem) throw new InputError(problem);
}
