// The editor asks for [C,H,W] when a job fails because nothing fixed a model's symbolic image size.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isUnresolvedShapeMessage, unresolvedShapeError } from '../../src/graph/input-shape';
import type { Model } from '../../src/graph/ir';

test("the unresolved-shape error is recognised (and nothing else is), so the editor asks for the size", () => {
  const model = {
    path: '/m/textdir.onnx', irVersion: 8, opsetImports: [{ domain: '', version: 9 }], producerName: '', producerVersion: '', metadata: {},
    graph: { name: 'g', nodes: [], initializers: new Map(), inputs: [{ name: 'x', dtype: 'float32', dims: ['N', 3, 'H', 'W'] }], outputs: [{ name: 'y', dtype: 'float32', dims: ['N', 2] }] },
  } as unknown as Model;
  const message = unresolvedShapeError(model).message;
  assert.match(message, /symbolic H at axis 2, W at axis 3|symbolic/);
  assert.ok(isUnresolvedShapeMessage(message), message);
  assert.equal(isUnresolvedShapeMessage("/m/a.onnx: input 'x' has a fixed batch size of 1; cannot run with batch 50"), false);
});
