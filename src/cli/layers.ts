/** The conv/linear layers of a model for `info`, from the graph prepared at batch size 1. */
import type { Model } from '../graph/ir';
import type { LayerInfo } from '../engine/types';
import { listLayers } from '../graph/layers';
import { prepareModel } from '../graph/prepare';

export function modelLayers(model: Model): LayerInfo[] {
  return listLayers(prepareModel(model, 1));
}
