/**
 * The graph overlay while two runs are compared, without the DOM: each node's SQNR in run A and run B (accumulated
 * or local, as graph-model.ts's nodeError reads them) and its change B − A, and the colour class of that change.
 * Pure, so that node:test covers it (test/webview-compare.test.ts).
 */
import { deltaQuality } from '../src/extension/compare';
import type { QuantRun } from '../src/extension/results';
import { nodeError, type GNode, type NodeError, type QualityClass, type SqnrMode } from './graph-model';

export interface NodeDelta {
  a?: NodeError;
  b?: NodeError;
  /** B − A, dB; undefined unless both runs measured the node. */
  db?: number;
  /** The node ran in float in either run (its change says nothing about its codes). */
  float?: boolean;
  note?: string;
}

/** One node in A and in B, and the change of its SQNR. */
export function nodeDelta(node: GNode, a: QuantRun, b: QuantRun, mode: SqnrMode, byName?: ReadonlyMap<string, GNode>): NodeDelta {
  const ea = nodeError(node, a, mode, byName);
  const eb = nodeError(node, b, mode, byName);
  const float = !!(ea?.float || eb?.float);
  const db = ea?.db !== undefined && eb?.db !== undefined ? eb.db - ea.db : undefined;
  let note: string | undefined;
  if (float) note = `ran in float in ${ea?.float && eb?.float ? 'both runs' : ea?.float ? 'run A' : 'run B'}`;
  else if (db === undefined) note = ea?.db === undefined && eb?.db === undefined ? (eb?.note ?? ea?.note ?? 'not measured') : `not measured in run ${ea?.db === undefined ? 'A' : 'B'}`;
  return { a: ea, b: eb, db, float, note };
}

/** Every node's change, by node name. */
export function nodeDeltas(nodes: readonly GNode[], a: QuantRun, b: QuantRun, mode: SqnrMode): Map<string, NodeDelta> {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  return new Map(nodes.map((n) => [n.name, nodeDelta(n, a, b, mode, byName)]));
}

/** Colour class of a change: kept or gained (within 1 dB or better) green, up to 6 dB lost amber, more red; grey without data or in float. */
export function deltaClass(db: number | undefined, ranInFloat = false): QualityClass {
  if (ranInFloat) return 'q-none';
  const q = deltaQuality(db);
  return q === 'unknown' ? 'q-none' : q === 'better' || q === 'same' ? 'q-good' : q === 'fair' ? 'q-fair' : 'q-poor';
}

/** The worst (most negative) change over a block's members, ignoring nodes in float. */
export function worstDelta(members: readonly string[], deltas: ReadonlyMap<string, NodeDelta>): number | undefined {
  let worst: number | undefined;
  for (const m of members) {
    const d = deltas.get(m);
    if (d?.db !== undefined && !d.float) worst = worst === undefined ? d.db : Math.min(worst, d.db);
  }
  return worst;
}
