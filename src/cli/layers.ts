/** The conv/linear layers of a model for `info` (shapes need the graph preparation; empty until it is available). */
import type { Model } from '../graph/ir';
import type { LayerInfo } from '../engine/types';

export function modelLayers(_model: Model): LayerInfo[] {
  return [];
}
