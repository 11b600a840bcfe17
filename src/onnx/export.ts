/** QDQ export of a quantized plan (being written). */
import type { Model } from '../graph/ir';
import type { PreparedModel } from '../engine/types';
import type { QuantPlan } from '../engine/int-plan';
import { InputError } from '../util/errors';

export function exportQdq(_model: Model, _prepared: PreparedModel, _plan: QuantPlan, file: string): void {
  throw new InputError(`${file}: export is not available yet`);
}
